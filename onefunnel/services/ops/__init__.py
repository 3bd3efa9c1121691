"""Operating an installation: backups and restores."""
