"""Validation reads each input once, whatever the number of rules, and the clean tables cost no further read.

DuckDB's own query log (``CALL enable_logging('QueryLog')``) records every statement the
validation and the clean copy send to the engine of a generated data set, in Parquet and in CSV;
no library code is patched. Each input table must be scanned by exactly one statement (the one
that types it and computes every rule's flag), with one survey driver or five; the report's counts
are aggregates of those flags, and writing the clean tables reads no input again: the event
tables were written in the same pass, the customers table is copied from its checked rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cxlib.demo.synthetic import write_demo_data
from cxlib.ingest.clean import write_clean_tables
from cxlib.ingest.contract import Validator
from cxlib.ingest.read import load_tables
from cxlib.params import RunParams

TABLES = ("customers", "interactions", "surveys")
DRIVERS = ["sat_onboarding", "sat_billing", "sat_support", "sat_delivery", "sat_app"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("one-pass")
    write_demo_data(d, n_customers=300, seed=3)
    for t in TABLES:
        df = pd.read_parquet(d / f"{t}.parquet")
        if t == "customers":  # a violation, so that exclusion has something to drop
            df.loc[:2, "churn_date"] = pd.Timestamp("2000-01-01").date()
            df.to_parquet(d / f"{t}.parquet", index=False)
        df.to_csv(d / f"{t}.csv", index=False)
    return d


def _queries(con) -> list[str]:
    rows = con.con.sql("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()
    con.raw_sql("CALL truncate_duckdb_logs()")
    return [m for (m,) in rows]


def _scans(queries: list[str], source: str) -> int:
    """Statements that read a source table (reading data, not describing it)."""
    pattern = re.compile(rf'"{source}"')
    return sum(1 for q in queries if pattern.search(q) and q.lstrip().upper().startswith(("SELECT", "INSERT", "COPY", "WITH")))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("drivers", [DRIVERS[:1], DRIVERS], ids=["1 driver", "5 drivers"])
def test_each_table_is_scanned_once(data, tmp_path, fmt, drivers):
    params = RunParams.model_validate({
        "run_id": "q", "as_of": "2026-09-30", "on_invalid": "exclude", "survey_drivers": drivers,
        "data": {t: str(data / f"{t}.{fmt}") for t in TABLES}})
    tables = load_tables(params)
    con = tables.con
    prefix = "csv_" if fmt == "csv" else "src_"  # a CSV is parsed once by load_tables, into csv_<table>
    con.raw_sql("CALL enable_logging('QueryLog')")
    validator = Validator(tables, folder=tmp_path / "clean")
    report = validator.report()
    assert report.rows_kept["customers"] == report.rows_read["customers"] - 3
    queries = _queries(con)
    assert {t: _scans(queries, prefix + t) for t in TABLES} == {"customers": 1, "interactions": 1, "surveys": 1}, queries
    # the checked customers and their reference (inserts), the event tables written as Parquet (copies),
    # and one aggregate per table over the flags
    assert sum(q.lstrip().upper().startswith("INSERT") for q in queries) == 2
    assert sum(q.lstrip().upper().startswith("COPY") for q in queries) == 2
    assert sum(q.lstrip().upper().startswith("SELECT COUNT") for q in queries) == 3

    write_clean_tables(validator, params, tmp_path / "clean")
    queries = _queries(con)
    assert [q for q in queries if q.lstrip().upper().startswith("COPY")] and all(
        "checked_customers" in q for q in queries if q.lstrip().upper().startswith("COPY"))
    assert {t: _scans(queries, prefix + t) for t in TABLES} == {"customers": 0, "interactions": 0, "surveys": 0}
