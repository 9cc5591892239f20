"""payments-pipeline: Stripe-style objects -> Bronze JSONL -> dbt Silver/Gold Parquet."""
