"""DuckDB connections to the lake that work offline, for dbt and for `query`.

httpfs is never downloaded at run time (docs/architecture.md#stack-and-pins): it ships in
the pip package
`duckdb-extension-httpfs`, and we copy it into a repo-local extension repository that
dbt-duckdb installs from. The S3 secret is built from the same environment as profiles.yml.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from extractor.exits import PipelineError
from extractor.lake.storage import Storage
from extractor.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    import duckdb


class DuckDBSetupError(PipelineError):
    """The offline httpfs extension could not be found or installed."""


# Generated, git-ignored: the offline extension repository (`repo/`) and DuckDB's extension
# directory (`extensions/`) of this checkout; profiles.yml reads it as DUCKDB_EXTENSIONS_HOME.
EXTENSIONS_HOME = REPO_ROOT / "target" / "duckdb"


def extension_repo() -> Path:
    """The repository folder holding `v<version>/<platform>/httpfs.duckdb_extension`,
    filled from the pip package if needed."""
    import duckdb  # imported where used: extraction alone never loads it (~40 MiB)

    version = duckdb.__version__
    platform = duckdb.sql("pragma platform").fetchone()[0]
    repo = EXTENSIONS_HOME / "repo"
    target = repo / f"v{version}" / platform / "httpfs.duckdb_extension"
    if not target.exists():
        try:
            import duckdb_extension_httpfs
        except ImportError as exc:
            raise DuckDBSetupError(
                "httpfs is needed for an s3:// LAKE_ROOT: pip install duckdb-extension-httpfs"
                f"=={version} (make setup does)"
            ) from exc
        source = (
            Path(duckdb_extension_httpfs.__file__).parent
            / "extensions"
            / f"v{version}"
            / "httpfs.duckdb_extension"
        )
        if not source.exists():
            raise DuckDBSetupError(f"httpfs for duckdb {version} is not in {source.parent}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return repo


def s3_secret_sql(settings: Settings, env: dict[str, str]) -> str:
    """CREATE SECRET for the lake's bucket, mirroring the `s3` target of profiles.yml, with
    the credentials of `env` or else of boto3's chain (duckdb_credentials)."""
    endpoint = settings.aws_endpoint_url or "https://s3.amazonaws.com"
    host = endpoint.split("://")[-1].rstrip("/")
    use_ssl = "false" if endpoint.startswith("http://") else "true"
    from extractor.lake.storage.s3 import duckdb_credentials  # boto3: S3 lakes only

    env = {**env, **duckdb_credentials(env)}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return (
        "create or replace temporary secret lake_s3 (type s3, "
        f"key_id {quoted(env.get('AWS_ACCESS_KEY_ID', ''))}, "
        f"secret {quoted(env.get('AWS_SECRET_ACCESS_KEY', ''))}, "
        f"session_token {quoted(env.get('AWS_SESSION_TOKEN', ''))}, "
        f"region {quoted(region)}, endpoint {quoted(host)}, use_ssl {use_ssl}, "
        f"url_style {quoted(env.get('S3_URL_STYLE', 'path'))})"
    )


S3_ENV_SETTINGS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")


# The lake folder a dbt view reads: `read_parquet('<lake>/silver/...` or `<lake>/gold/...`.
_VIEW_LAKE = re.compile(r"'([^']*?)/(?:silver|gold)/")


def _foreign_view_lake(con: duckdb.DuckDBPyConnection, storage: Storage) -> str | None:
    """The lake a dbt view of the warehouse reads when it is not this one, else None."""
    for (sql,) in con.sql("select sql from duckdb_views() where not internal").fetchall():
        found = _VIEW_LAKE.search(sql or "")
        if found and found.group(1) != storage.root:
            return found.group(1)
    return None


def _refuse_views_of_another_lake(
    con: duckdb.DuckDBPyConnection, path: Path, storage: Storage
) -> None:
    """dbt writes each view with the lake's absolute path; after the lake is moved or copied
    they would read the old files (or none). Say so instead of answering from them."""
    if (other := _foreign_view_lake(con, storage)) is not None:
        con.close()
        raise DuckDBSetupError(
            f"the warehouse {path} holds views over the lake at {other}, not "
            f"{storage.root} (the lake was moved or copied): run `payments-pipeline "
            "run-transforms` to rebuild them; Silver and Gold are not touched"
        )


def views_read_this_lake(path: Path, storage: Storage) -> bool:
    """Whether the warehouse file exists and every dbt view in it reads this lake's root as
    spelled now. A build that keeps some models (ADR 0054, 0056) keeps their views, so it
    needs this; else every model is rebuilt, which rewrites every view."""
    import duckdb

    if not path.exists():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        return _foreign_view_lake(con, storage) is None
    finally:
        con.close()


def connect(
    path: Path,
    storage: Storage,
    settings: Settings,
    read_only: bool = True,
    config: dict[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file at `path`; for a lake that is not on local disk also load
    httpfs and the bucket's secret. `config`: DuckDB settings fixed at connect (a read-only
    connection cannot change them later)."""
    import duckdb

    if storage.local_path is not None:
        con = duckdb.connect(str(path), read_only=read_only, config=config or {})
        # No extension can be loaded behind our back (httpfs would read AWS_* into settings).
        con.execute("set autoload_known_extensions = false")
        _refuse_views_of_another_lake(con, path, storage)
    else:
        con = connect_with_httpfs(str(path), read_only=read_only, config=config)
        con.execute(s3_secret_sql(settings, dict(os.environ)))
        # httpfs also copies AWS_* from the environment into its legacy s3_* settings, which
        # duckdb_settings() shows in clear text; the secret above is what reads the lake.
        for name in S3_ENV_SETTINGS:
            con.execute(f"set {name} = ''")
    if read_only:
        # A reader cannot loosen what it may see or do (unredacted secrets, extensions).
        con.execute("set lock_configuration = true")
    return con


def connect_lake(storage: Storage, settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory connection that can read the lake's files (httpfs and the secret for S3)."""
    import duckdb

    if storage.local_path is not None:
        con = duckdb.connect(":memory:")
        con.execute("set autoload_known_extensions = false")
        return con
    con = connect_with_httpfs(":memory:")
    con.execute(s3_secret_sql(settings, dict(os.environ)))
    return con


def connect_with_httpfs(
    database: str = ":memory:", read_only: bool = False, config: dict[str, str] | None = None
):
    """A connection with httpfs loaded from the pip package, installed into this checkout's
    `target/duckdb/extensions` (as profiles.yml does), never into ~/.duckdb: an install there
    records its origin, and a second checkout would be refused."""
    repo = extension_repo()
    config = {**(config or {}), "extension_directory": str(EXTENSIONS_HOME / "extensions")}
    import duckdb

    con = duckdb.connect(database, read_only=read_only, config=config)
    con.execute("set autoinstall_known_extensions = false")
    con.execute(f"install httpfs from '{repo}'")
    con.execute("load httpfs")
    return con
