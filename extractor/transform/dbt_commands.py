"""dbt command lines the CLI runs, where more than one module needs them."""

# dbt lists every relation in the warehouse before a command's first node, for its relation
# cache: 0.15-0.2 s per command here, about 4% of a run with nothing new (issue 19). Only
# writing a model looks relations up (without the cache each lookup is one query of its
# own), so a command that writes no model skips the listing.
NO_RELATION_CACHE = "--no-populate-cache"

# Freshness reads sources by query (bronze_loaded_at) and writes nothing.
FRESHNESS = f"source freshness {NO_RELATION_CACHE}"
# Data tests read models by name and write nothing (the project keeps no test failures).
TEST = f"test {NO_RELATION_CACHE}"
