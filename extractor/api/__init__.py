"""Talking to Stripe: the HTTP client, its error classes, rate limit, raw JSON slicing, and the
stream declarations."""
