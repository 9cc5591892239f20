"""Where everything lives in the lake: every key, prefix and folder is built here.

The same layout on local disk and S3; keys are '/'-separated and relative to LAKE_ROOT.
dbt's copy is the var `lake_layout` in dbt_project.yml, turned into paths only by the macros
in `dbt_project/macros/lake.sql`; `tests/foundation/test_layout.py` checks the two agree.
Nothing else in the Python code spells a lake path.

    bronze/source=stripe/entity=<entity>/dt=<run date>/run_id=<run id>/part-NNNNN.jsonl[.gz]
    bronze/source=stripe/entity=webhook_events/dt=<event created date>/<event id>.json
    silver/source=stripe/entity=<entity>/dt=<object created date>/*.parquet
    gold/model=<model>/dt=<business date>/*.parquet
    _state/watermarks/<entity>.json, _state/children/<entity>.json,
    _state/rereads/<entity>.json, _state/manifests/run_<run id>.json, _state/lock.json,
    _state/transforms/folded_bronze.json, _state/warehouse.duckdb, _state/reports/,
    _state/quarantine/webhook_events.json
"""

from __future__ import annotations

from extractor.lake.ids import validate_entity, validate_run_id

SOURCE = "stripe"
BRONZE = f"bronze/source={SOURCE}/"
SILVER = f"silver/source={SOURCE}/"
GOLD = "gold/"
STATE = "_state/"

# Webhook captures are Bronze too, one file per event, but no stream writes them.
WEBHOOK_ENTITY = "webhook_events"

# Every capture file, as the dbt macro bronze_glob matches them.
CAPTURE_GLOB = f"{BRONZE}entity={WEBHOOK_ENTITY}/dt=*/*.json"

LOCK_KEY = f"{STATE}lock.json"
WATERMARKS = f"{STATE}watermarks/"
# A child stream's state: the parents whose children are listed (extract/children.py).
CHILD_STATE = f"{STATE}children/"
# The object versions the next run's safety window reads again (extract/rereads.py).
REREADS = f"{STATE}rereads/"
MANIFESTS = f"{STATE}manifests/"
FOLD_STATE_KEY = f"{STATE}transforms/folded_bronze.json"
WAREHOUSE_KEY = f"{STATE}warehouse.duckdb"
REPORTS = f"{STATE}reports/"
# Captures the last build left out because DuckDB cannot read them (transform/quarantine.py).
QUARANTINE_KEY = f"{STATE}quarantine/{WEBHOOK_ENTITY}.json"
# Folders DuckDB's partitioned COPY writes into but cannot create the parents of.
EXTERNAL_ROOTS = (SILVER, GOLD, STATE)
# The partition DuckDB writes rows with a null `dt` to (dbt-duckdb writes one such row for an
# empty model); see extractor.transform.dbt.remove_null_partitions.
NULL_PARTITION = "/dt=__HIVE_DEFAULT_PARTITION__/"


# The folders as a person reads them, for the demo's summary and messages.
BRONZE_RUN_PATTERN = f"{BRONZE}entity=<entity>/dt=<date>/run_id=<run>/"
SILVER_PATTERN = f"{SILVER}entity=<entity>/dt=<created date>/"
GOLD_PATTERN = f"{GOLD}model=<model>/dt=<date>/"


def bronze_entity(entity: str) -> str:
    """The prefix of every Bronze object of one entity."""
    return f"{BRONZE}entity={entity}/"


def bronze_run(entity: str, run_date: str, run_id: str) -> str:
    """The folder of one run's parts for one entity (validated: both end up in a path)."""
    folder = bronze_entity(validate_entity(entity))
    return f"{folder}dt={run_date}/run_id={validate_run_id(run_id)}/"


def part_name(number: int, compressed: bool) -> str:
    return f"part-{number:05d}.jsonl" + (".gz" if compressed else "")


def webhook_event_key(created_date: str, event_id: str) -> str:
    """One captured webhook event; `event_id` must already be a safe file name."""
    return f"{bronze_entity(WEBHOOK_ENTITY)}dt={created_date}/{event_id}.json"


def entity_of(key: str) -> str | None:
    """`bronze/source=stripe/entity=charges/...` -> `charges`."""
    return _folder_value(key, "entity=")


def run_id_of(key: str) -> str | None:
    """The run id of a Bronze part key, None for anything else (a webhook capture)."""
    return _folder_value(key, "run_id=")


def is_part(key: str) -> bool:
    """A batch Bronze part (not a webhook capture, not a hidden temp file)."""
    return key.startswith(BRONZE) and "/part-" in key and run_id_of(key) is not None


def gold_model_of(key: str) -> str | None:
    """The model of a Gold key (`gold/model=<model>/...`), None for anything else."""
    return _folder_value(key, "model=") if key.startswith(GOLD) else None


def silver_entity(entity: str) -> str:
    return f"{SILVER}entity={entity}/"


def gold_model(model: str) -> str:
    return f"{GOLD}model={model}/"


def watermark_key(entity: str) -> str:
    return f"{WATERMARKS}{validate_entity(entity)}.json"


def child_state_key(entity: str) -> str:
    return f"{CHILD_STATE}{validate_entity(entity)}.json"


def reread_state_key(entity: str) -> str:
    return f"{REREADS}{validate_entity(entity)}.json"


def manifest_key(run_id: str) -> str:
    return f"{MANIFESTS}run_{validate_run_id(run_id)}.json"


def run_id_of_manifest(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    if key.startswith(MANIFESTS) and name.startswith("run_") and name.endswith(".json"):
        return name[len("run_") : -len(".json")]
    return None


def report_key(run_id: str) -> str:
    return f"{REPORTS}run_{validate_run_id(run_id)}.html"


def _folder_value(key: str, marker: str) -> str | None:
    return next((p[len(marker) :] for p in key.split("/") if p.startswith(marker)), None)
