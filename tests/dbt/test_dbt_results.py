"""Unit tests: dbt artifacts folded into manifest sections and the gate's verdict."""

from __future__ import annotations

import pytest

from extractor.transform.dbt import display_name, summarise
from extractor.transform.gate import (
    build_test_results,
    describe_failures,
    quality_section,
    report_gate,
)

RUN_RESULTS = {
    "results": [
        {
            "unique_id": "model.payments_pipeline.fct_payments",
            "status": "success",
            "execution_time": 0.5,
            "message": "OK",
        },
        {
            "unique_id": "seed.payments_pipeline.currency_exponents",
            "status": "success",
            "execution_time": 0.1,
            "message": "INSERT 155",
        },
        {
            "unique_id": "test.payments_pipeline.column_checks_stg_stripe__charges.8f1d2c4e6a",
            "status": "fail",
            "failures": 1,
            "message": "Got 1 result, configured to fail if != 0",
        },
        {
            "unique_id": "test.payments_pipeline.relationships_fct_payments_customer_id.abc",
            "status": "warn",
            "failures": 12,
            "message": "Got 12 results",
        },
        {
            "unique_id": "unit_test.payments_pipeline.agg_daily_revenue.uses_exponents",
            "status": "pass",
        },
        {"unique_id": "model.payments_pipeline.agg_daily_revenue", "status": "skipped"},
    ]
}

SOURCES = {
    "results": [
        {
            "unique_id": "source.payments_pipeline.stripe.charges",
            "status": "error",
            "max_loaded_at": "2026-11-25T00:00:00",
            "max_loaded_at_time_ago_in_s": 60 * 3600,
        },
        {
            "unique_id": "source.payments_pipeline.stripe.events",
            "status": "pass",
            "max_loaded_at_time_ago_in_s": 60,
        },
    ]
}


@pytest.mark.parametrize(
    ("unique_id", "name"),
    [
        (
            "test.payments_pipeline.column_checks_stg_stripe__charges.8f1d2c4e6a",
            "column_checks_stg_stripe__charges",
        ),
        (
            "test.payments_pipeline.assert_ids_reconcile_bronze_silver_gold",
            "assert_ids_reconcile_bronze_silver_gold",
        ),
        ("source.payments_pipeline.stripe.charges", "stripe.charges"),
        ("model.payments_pipeline.fct_payments", "fct_payments"),
        ("unit_test.payments_pipeline.agg_daily_revenue.uses_exponents", "uses_exponents"),
    ],
)
def test_display_name(unique_id: str, name: str) -> None:
    assert display_name(unique_id) == name


def test_build_results_split_into_failures_warnings_and_models() -> None:
    outcome = summarise("build", 1, 3.2, RUN_RESULTS)
    assert not outcome.ok
    assert outcome.counts == {"success": 2, "fail": 1, "warn": 1, "pass": 1, "skipped": 1}
    assert outcome.kind_counts["test"] == {"fail": 1, "warn": 1}
    assert [f["name"] for f in outcome.failures] == ["column_checks_stg_stripe__charges"]
    assert outcome.failures[0]["failures"] == 1
    assert [w["name"] for w in outcome.warnings] == ["relationships_fct_payments_customer_id"]
    assert [(m["name"], m["status"]) for m in outcome.models] == [
        ("fct_payments", "success"),
        ("currency_exponents", "success"),
        ("agg_daily_revenue", "skipped"),
    ]
    tests = build_test_results(outcome)
    assert tests.counts == {"fail": 1, "warn": 1, "pass": 1}
    assert not tests.ok


def test_stale_source_fails_the_gate_with_its_age(capsys) -> None:
    fresh = summarise("source freshness", 1, 0.4, SOURCES)
    tests = summarise("test", 0, 1.0, {"results": RUN_RESULTS["results"][4:5]})
    section = quality_section(tests, fresh, "2026-11-29T00:00:00Z")
    assert section["status"] == "failed"
    assert [f["name"] for f in section["failures"]] == ["stripe.charges"]
    assert "60.0 h ago" in section["failures"][0]["message"]
    assert report_gate("r1", section) == 1
    err = capsys.readouterr().err
    assert "quality gate failed (1 failing)" in err and "stripe.charges" in err


def test_passing_gate_reports_warnings(capsys) -> None:
    tests = summarise("test", 0, 1.0, {"results": RUN_RESULTS["results"][3:5]})
    section = quality_section(tests, None, "2026-11-29T00:00:00Z")
    assert section["status"] == "succeeded"
    assert report_gate("r1", section) == 0
    assert "quality gate passed with 1 warnings" in capsys.readouterr().out


def test_an_out_of_memory_failure_says_which_settings_to_change(capsys) -> None:
    oom = {
        "unique_id": "model.payments_pipeline.stg_stripe__charges",
        "status": "error",
        "execution_time": 146.9,
        "message": "Runtime Error in model stg_stripe__charges: Out of Memory Error: could "
        "not allocate block of size 256.0 KiB (572.1 MiB/572.2 MiB used)",
    }
    # As run-transforms and run-pipeline list a build's failed models; the settings named are
    # the ones dbt ran with (profiles.yml's defaults when its environment had neither).
    build = summarise("build", 1, 150.0, {"results": [oom, oom]}, {"PATH": "/bin"})
    err = describe_failures(build.failures)
    assert "stg_stripe__charges" in err and "572.1 MiB" in err
    assert err.count("DUCKDB_MEMORY_LIMIT=600MB, shared by DBT_THREADS=2 dbt nodes") == 1
    assert "Run again with DBT_THREADS=1 (one node at a time" in err
    assert build.as_dict()["failures"][0]["hint"].strip().startswith("DuckDB ran out")

    # Already one node at a time (a large lake's settings): only more memory can help.
    large = {"DBT_THREADS": "1", "DUCKDB_MEMORY_LIMIT": "700MB"}
    err = describe_failures(summarise("build", 1, 150.0, {"results": [oom]}, large).failures)
    assert (
        "(DUCKDB_MEMORY_LIMIT=700MB, one dbt node at a time). Raise DUCKDB_MEMORY_LIMIT and "
        "keep DBT_THREADS=1" in err
    )
    assert "Run again with DBT_THREADS=1" not in err

    # Any other failure gets no such advice.
    tests = summarise("test", 0, 1.0, {"results": RUN_RESULTS["results"][2:3]})
    assert report_gate("r1", quality_section(tests, None, "2026-12-01T00:00:00Z")) == 1
    assert "DBT_THREADS" not in capsys.readouterr().err
