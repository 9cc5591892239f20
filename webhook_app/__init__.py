"""Stripe webhook receiver: signature verification and durable, de-duplicated Bronze capture."""
