"""Django's SQLite backend, with the database file created private (see ``base``)."""
