"""The point of intent: scoring, routing and handoffs (DESIGN §5); new modules go here."""
