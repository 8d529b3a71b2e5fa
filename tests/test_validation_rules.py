"""One test per data-contract rule: ``cx validate`` exits non-zero and names file, column, rule,
row count and a fix; ``on_invalid: exclude`` drops the rows instead; inputs are never modified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxlib.cli import main

AS_OF = "2025-06-30"


def base_tables() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4"],
        "signup_date": ["2024-01-10", "2024-02-01", "2024-03-15", "2025-01-05"],
        "churn_date": ["", "2025-02-01", "", ""],
        "segment": ["consumer", "smb", "consumer", "smb"],
        "monthly_revenue": ["10.5", "20", "0", "15"],
    })
    interactions = pd.DataFrame({
        "customer_id": ["c1", "c1", "c2", "c3", "c4"],
        "timestamp": ["2024-02-01 10:00:00", "2024-05-01 09:30:00", "2024-03-01 12:00:00", "2024-04-01 08:00:00", "2025-02-01 16:00:00"],
        "touchpoint": ["billing", "support", "billing", "app", "support"],
        "channel": ["phone", "chat", "web", "web", "store"],
        "csat": ["5", "", "2", "4", "1"],
        "ces": ["2", "", "6", "", "7"],
        "resolved": ["", "true", "", "", "false"],
    })
    surveys = pd.DataFrame({
        "customer_id": ["c1", "c3"],
        "timestamp": ["2024-06-01 10:00:00", "2024-07-01 10:00:00"],
        "nps": ["9", "3"],
        "sat_billing": ["5", "2"],
    })
    return {"customers": customers, "interactions": interactions, "surveys": surveys}


def write_case(tmp_path: Path, tables: dict[str, pd.DataFrame], **params) -> Path:
    for name, df in tables.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    raw = {"run_id": "rules", "as_of": AS_OF,
           "data": {n: f"{n}.csv" for n in tables}, "covariates": ["segment"], "survey_drivers": ["sat_billing"], **params}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def set_cell(tables, table, row, column, value):
    tables[table].loc[row, column] = value
    return tables


# (table, row, column, bad value, expected rule text, expected rows)
CASES = [
    ("customers", 1, "customer_id", "", "not null", 1),
    ("customers", 1, "customer_id", "c1", "unique", 2),
    ("customers", 0, "signup_date", "", "not null", 1),
    ("customers", 0, "signup_date", "10/01/2024", "is a date (YYYY-MM-DD)", 1),
    ("customers", 3, "signup_date", "2025-07-01", "on or before as_of (2025-06-30)", 1),
    ("customers", 1, "churn_date", "soon", "is a date (YYYY-MM-DD) or empty", 1),
    ("customers", 1, "churn_date", "2023-12-31", "on or after signup_date", 1),
    ("customers", 0, "monthly_revenue", "-3", "a finite number ≥ 0 or empty", 1),
    ("customers", 0, "monthly_revenue", "inf", "a finite number ≥ 0 or empty", 1),
    ("customers", 0, "monthly_revenue", "NaN", "a finite number ≥ 0 or empty", 1),
    ("interactions", 0, "customer_id", "", "not null", 1),
    ("interactions", 0, "customer_id", "c99", "exists in customers", 1),
    ("interactions", 0, "timestamp", "", "not null", 1),
    ("interactions", 0, "timestamp", "yesterday", "is a date-time (ISO 8601)", 1),
    ("interactions", 0, "timestamp", "2025-07-02 10:00:00", "on or before as_of (2025-06-30)", 1),
    ("interactions", 0, "timestamp", "2023-01-01 10:00:00", "on or after the customer's signup_date", 1),
    ("interactions", 2, "timestamp", "2025-03-01 10:00:00", "on or before the customer's churn_date", 1),
    ("interactions", 0, "touchpoint", "", "not null", 1),
    ("interactions", 0, "csat", "0", "an integer 1–5 or empty", 1),
    ("interactions", 0, "csat", "6", "an integer 1–5 or empty", 1),
    ("interactions", 0, "csat", "4.5", "an integer 1–5 or empty", 1),
    ("interactions", 0, "csat", "good", "an integer 1–5 or empty", 1),
    ("interactions", 0, "ces", "8", "an integer 1–7 or empty", 1),
    ("interactions", 1, "resolved", "maybe", "true/false or empty", 1),
    ("surveys", 0, "customer_id", "c42", "exists in customers", 1),
    ("surveys", 0, "timestamp", "2025-08-01 10:00:00", "on or before as_of (2025-06-30)", 1),
    ("surveys", 0, "nps", "11", "an integer 0–10", 1),
    ("surveys", 0, "nps", "", "an integer 0–10", 1),
    ("surveys", 0, "sat_billing", "7", "an integer 1–5 or empty", 1),
]


def test_valid_base_passes(tmp_path, capsys):
    assert main(["validate", str(write_case(tmp_path, base_tables()))]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("table,row,column,value,rule,rows", CASES,
                         ids=[f"{c[0]}.{c[2]}={c[3]!r}" for c in CASES])
def test_rule_violation_fails_with_message(tmp_path, capsys, table, row, column, value, rule, rows):
    params = write_case(tmp_path, set_cell(base_tables(), table, row, column, value))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert main(["validate", str(params)]) == 3
    err = capsys.readouterr().err
    line = next((ln for ln in err.splitlines() if f"column '{column}', rule \"{rule}\"" in ln), None)
    assert line is not None, err
    assert f"{table}.csv" in line and f": {rows} row(s) break it." in line
    assert "on_invalid: exclude" in err  # how to go on
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert before == after  # inputs never modified


@pytest.mark.parametrize("table,row,column,value,rule,rows", CASES[:3] + CASES[11:12] + CASES[19:20])
def test_exclude_mode_drops_rows_and_says_so(tmp_path, capsys, table, row, column, value, rule, rows):
    params = write_case(tmp_path, set_cell(base_tables(), table, row, column, value), on_invalid="exclude")
    assert main(["validate", str(params)]) == 0
    assert "row(s) to exclude" in capsys.readouterr().out


def test_excluded_customers_take_their_interactions(tmp_path):
    from cxlib.ingest.read import load_tables
    from cxlib.params import load_params
    from cxlib.ingest.contract import Validator

    tables = set_cell(base_tables(), "customers", 1, "churn_date", "2023-12-31")  # c2 churns before signup
    params = load_params(write_case(tmp_path, tables, on_invalid="exclude"))
    v = Validator(load_tables(params))
    report = v.report()
    assert report.rows_kept == {"customers": 3, "interactions": 4, "surveys": 2}
    clean = v.clean_tables()
    assert "c2" not in set(clean["interactions"].execute()["customer_id"])
    assert not any(c.startswith("raw__") for c in clean["customers"].columns)


def test_missing_covariate_column_is_fatal_even_when_excluding(tmp_path, capsys):
    params = write_case(tmp_path, base_tables(), on_invalid="exclude", covariates=["tier"])
    assert main(["validate", str(params)]) == 3
    assert "covariate 'tier'" in capsys.readouterr().err


def test_missing_required_column_names_it(tmp_path, capsys):
    tables = base_tables()
    tables["customers"] = tables["customers"].drop(columns="signup_date")
    assert main(["validate", str(write_case(tmp_path, tables))]) == 3
    assert "required column(s) signup_date missing" in capsys.readouterr().err


def test_column_mapping(tmp_path, capsys):
    tables = base_tables()
    tables["customers"] = tables["customers"].rename(columns={"customer_id": "CustNo"})
    params = write_case(tmp_path, tables, data={"customers": "customers.csv", "interactions": "interactions.csv",
                                                "columns": {"customers": {"customer_id": "CustNo"}}})
    assert main(["validate", str(params)]) == 0


def test_missing_file_and_empty_file(tmp_path, capsys):
    params = write_case(tmp_path, base_tables())
    (tmp_path / "surveys.csv").unlink()
    assert main(["validate", str(params)]) == 3
    assert "surveys: no file matches" in capsys.readouterr().err
    (tmp_path / "surveys.csv").write_text("")
    assert main(["validate", str(params)]) == 3
    assert "is empty" in capsys.readouterr().err


def test_globs_read_several_files(tmp_path):
    from cxlib.ingest.read import load_tables
    from cxlib.params import load_params

    tables = base_tables()
    params = write_case(tmp_path, tables)
    inter = tables["interactions"]
    (tmp_path / "interactions.csv").unlink()
    inter.iloc[:2].to_csv(tmp_path / "interactions-1.csv", index=False)
    inter.iloc[2:].to_csv(tmp_path / "interactions-2.csv", index=False)
    raw = yaml.safe_load(params.read_text())
    raw["data"]["interactions"] = "interactions-*.csv"
    params.write_text(yaml.safe_dump(raw))
    t = load_tables(load_params(params))
    assert t["interactions"].count().execute() == 5 and len(t.files["interactions"]) == 2
