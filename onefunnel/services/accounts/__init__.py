"""Account management after the sale: contracts, renewals, health and expansion (DESIGN §5)."""
