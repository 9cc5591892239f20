"""`make test` hands out whole files in collection order: files with a slow test go first."""

from __future__ import annotations

from types import SimpleNamespace

from tests.conftest import slow_files_first
from tests.support.servers import REPO_ROOT


def item(nodeid: str, slow: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        nodeid=nodeid, get_closest_marker=lambda name: object() if slow and name == "slow" else None
    )


def test_files_with_a_slow_test_run_first_and_keep_their_order() -> None:
    items = [
        item("tests/a.py::one"),
        item("tests/b.py::one"),
        item("tests/b.py::two", slow=True),  # one slow test makes the whole file go first
        item("tests/c.py::one"),
        item("tests/d.py::one", slow=True),
        item("tests/b.py::three"),
    ]
    ordered = [i.nodeid for i in slow_files_first(items)]
    assert ordered == [
        "tests/b.py::one",
        "tests/b.py::two",
        "tests/b.py::three",
        "tests/d.py::one",
        "tests/a.py::one",
        "tests/c.py::one",
    ]


def test_make_test_keeps_that_order() -> None:
    """Without --no-loadscope-reorder xdist hands out the files with the most tests first."""
    recipe = (REPO_ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "--dist loadfile --no-loadscope-reorder" in recipe
