"""Validation reads each input once: one aggregate query per table, whatever the number of rules.

DuckDB's own query log (``CALL enable_logging('QueryLog')``) records every statement the
validation and the clean copy send to the engine of a generated data set, in Parquet and in CSV;
no library code is patched. Each input table must be scanned by exactly one query of the report
(the customers table once more, for the per-customer reference the event tables join) and by
exactly one ``COPY`` when the clean tables are written, with one survey driver or five.
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
    validator = Validator(tables)
    report = validator.report()
    assert report.rows_kept["customers"] == report.rows_read["customers"] - 3
    queries = _queries(con)
    assert {t: _scans(queries, prefix + t) for t in TABLES} == {"customers": 2, "interactions": 1, "surveys": 1}, queries
    # every query of the report: the reference (create + insert) and one aggregate per table
    assert sum(q.lstrip().upper().startswith(("SELECT COUNT", "INSERT")) for q in queries) == 4

    write_clean_tables(validator, params, tmp_path / "clean")
    queries = _queries(con)
    copies = [q for q in queries if q.lstrip().upper().startswith("COPY")]
    assert len(copies) == 3
    assert {t: _scans(queries, prefix + t) for t in TABLES} == {"customers": 1, "interactions": 1, "surveys": 1}
    assert not [q for q in queries if q.lstrip().upper().startswith("SELECT") and "CURRENT_" not in q]
