"""The package map of ADR 0050 holds: lower layers never import upper ones.

Read from the source with `ast` (nothing is imported), so a new import that breaks the map
fails here with the module and the import named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Each layer may import its own and every lower layer, never a higher one.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "extractor.exits",
            "extractor.processes",
            "extractor.settings",
            "extractor.logs",
            "extractor.failpoints",
            "extractor.streams",
            "extractor.versions",
        ),
    ),
    ("api", ("extractor.api",)),
    ("lake", ("extractor.lake",)),
    ("extract", ("extractor.extract",)),
    ("transform", ("extractor.transform",)),
    ("webhook_app", ("webhook_app",)),
    (
        "commands",
        (
            "extractor.context",
            "extractor.pipeline",
            "extractor.report",
            "extractor.commands",
            "extractor.cli",
            "extractor.demo",
            "extractor.__main__",
        ),
    ),
]
# Side by side, not stacked: neither may import the other.
SIBLINGS = {frozenset({"api", "lake"}), frozenset({"extract", "transform"})}


def layer_of(module: str) -> str | None:
    if module == "extractor":  # the package's own __init__: a docstring
        return "base"
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


SOURCES = sorted([*REPO.glob("extractor/**/*.py"), *REPO.glob("webhook_app/**/*.py")])


def test_every_module_has_a_layer() -> None:
    assert [module_name(p) for p in SOURCES if layer_of(module_name(p)) is None] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_no_import_reaches_up_or_sideways(path: Path) -> None:
    order = [name for name, _ in LAYERS]
    own = layer_of(module_name(path))
    wrong = []
    for target in imports(path):
        other = layer_of(target)
        if other is None or other == own:
            continue
        if order.index(other) > order.index(own) or frozenset({own, other}) in SIBLINGS:
            wrong.append(f"{target} ({other})")
    assert wrong == [], f"{module_name(path)} ({own}) imports {wrong}"


def test_the_cli_loads_no_heavy_library_until_a_command_needs_it() -> None:
    """Extraction's memory stays flat and small: duckdb (~40 MiB), Flask and botocore are
    imported by the commands that use them, not by `payments-pipeline` itself."""
    import subprocess
    import sys

    probe = (
        "import sys, extractor.cli; "
        "print(sorted(m for m in ('duckdb', 'flask', 'waitress', 'botocore', 'boto3') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
