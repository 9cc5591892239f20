"""A deterministic, stateful, Stripe-compatible mock API (see docs/adr/0001)."""
