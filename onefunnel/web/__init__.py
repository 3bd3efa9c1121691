"""The dashboard: views, templates and static assets (thin; reports come from analytics)."""
