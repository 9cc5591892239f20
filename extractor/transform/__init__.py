"""Transforms: running dbt, the incremental fold, the quality gate, and the DuckDB warehouse."""
