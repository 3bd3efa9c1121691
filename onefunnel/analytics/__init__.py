"""Report queries: one implementation per report, run set-based on the configured database."""
