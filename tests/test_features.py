"""Engine-side retention features against independent pandas/numpy computations."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlib.features import customers as C
from cxlib.features import exposures as F
from cxlib.params import ExposureRule

AS_OF = dt.date(2025, 3, 31)


def _day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def test_customers_as_of_durations_and_censoring():
    t = ibis.memtable({
        "customer_id": ["churned", "later", "signup_day", "on_as_of", "new", "active"],
        "signup_date": [_day("2025-01-01"), _day("2025-01-01"), _day("2025-02-10"), _day("2025-01-01"),
                        AS_OF, _day("2024-12-31")],
        "churn_date": [_day("2025-01-11"), _day("2025-06-01"), _day("2025-02-10"), AS_OF, None, None],
    })
    out = C.customers_as_of(t, AS_OF).execute().set_index("customer_id")
    # churn after as_of is censored at as_of; churn on the signup day is duration 0, one day at risk
    expected = pd.DataFrame({
        "duration_days": [10, 89, 0, 89, 0, 90],
        "churned": [1, 0, 1, 1, 0, 0],
        "risk_end": [11, 89, 1, 90, 0, 90],
        "cohort": ["2025Q1", "2025Q1", "2025Q1", "2025Q1", "2025Q1", "2024Q4"],
    }, index=["churned", "later", "signup_day", "on_as_of", "new", "active"])
    pd.testing.assert_frame_equal(out.loc[expected.index, expected.columns], expected, check_dtype=False,
                                  check_names=False)


def test_describe_covariates_kinds_reference_and_quantile_edges():
    rng = np.random.default_rng(3)
    revenue = rng.lognormal(3, 1, 400).round(2)
    t = ibis.memtable({
        "plan": rng.choice(["basic", "plus", "premium"], 400, p=[0.2, 0.5, 0.3]),
        "revenue": [f" {v} " for v in revenue],        # CSV text, padded: still numeric
        "flag": rng.choice(["0", "1", ""], 400),         # 0/1 with blanks: numeric, few values
        "code": rng.choice(["1", "2", "x"], 400),        # one non-number: categorical
    })
    covs = {c.name: c for c in C.describe_covariates(t, ["plan", "revenue", "flag", "code"], bins=4)}
    counts = pd.Series(t.execute()["plan"]).value_counts()
    assert covs["plan"].kind == "categorical"
    assert covs["plan"].levels[0] == counts.index[0] and covs["plan"].sizes[0] == counts.iloc[0]
    assert covs["flag"].kind == "numeric" and covs["code"].kind == "categorical"
    assert covs["revenue"].kind == "binned" and covs["revenue"].levels == ("q1", "q2", "q3", "q4")
    np.testing.assert_allclose(covs["revenue"].edges, np.quantile(revenue, [0.25, 0.5, 0.75]))
    bins = t.select(b=covs["revenue"].cell_value(t)).execute()["b"]
    np.testing.assert_array_equal(bins, np.array(["q1", "q2", "q3", "q4"])[np.searchsorted(covs["revenue"].edges, revenue)])
    assert C.covariates_from_frame(C.covariate_frame(list(covs.values()))) == list(covs.values())


# ---- exposure intervals against a day-by-day brute force ------------------------------------------

RULES = [
    ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2),
    ExposureRule(name="poor_support", touchpoint="support", csat_max=2),
    ExposureRule(name="unresolved_support", touchpoint="support", resolved=False, window_days=30),
    ExposureRule(name="contacts_3plus", touchpoint="support", min_count=3, window_days=60),
    ExposureRule(name="high_effort", ces_min=6),
]
PIECES = [0, 30, 90, 180, 365, 730]
SUBSET = 800  # customers of the 3k demo set checked day by day (keeps the brute force fast)


def _rule_hits(inter: pd.DataFrame, rule: ExposureRule) -> pd.Series:
    m = pd.Series(True, index=inter.index)
    if rule.touchpoint is not None:
        m &= inter["touchpoint"] == rule.touchpoint
    if rule.csat_max is not None:
        m &= inter["csat"].astype("Float64") <= rule.csat_max
    if rule.ces_min is not None:
        m &= inter["ces"].astype("Float64") >= rule.ces_min
    if rule.resolved is not None:
        m &= inter["resolved"] == rule.resolved
    return m.fillna(False).astype(bool)


LAG = 1  # params' default exposure_lag_days


@pytest.fixture(scope="module")
def brute_force_days(demo_small):
    """One row per customer and tenure day at risk, with each rule's exposure, from pandas alone."""
    cust = pd.read_parquet(demo_small / "customers.parquet").head(SUBSET)
    inter = pd.read_parquet(demo_small / "interactions.parquet")
    as_of = pd.Timestamp("2026-09-30")
    signup = pd.to_datetime(cust["signup_date"])
    churn = pd.to_datetime(cust["churn_date"])
    churned = churn.notna() & (churn <= as_of)
    duration = (churn.where(churned, as_of) - signup).dt.days
    cust = cust.assign(churned=churned.astype(int), risk_end=duration + churned.astype(int))
    inter = inter.merge(cust[["customer_id", "signup_date"]], on="customer_id")
    inter["day"] = (inter["timestamp"].dt.normalize() - pd.to_datetime(inter["signup_date"])).dt.days
    by_customer = {r.name: inter[_rule_hits(inter, r)].groupby("customer_id")["day"].apply(np.asarray) for r in RULES}
    rows = []
    for c in cust.itertuples():
        days = np.arange(c.risk_end)
        block = {"customer_id": c.customer_id, "day": days, "segment": c.segment,
                 "event": (days == c.risk_end - 1) & bool(c.churned)}
        for r in RULES:
            hits = by_customer[r.name].get(c.customer_id, np.array([], dtype=int))
            counts = np.bincount(hits[hits < c.risk_end], minlength=c.risk_end)[: c.risk_end]
            cum = np.concatenate([[0], np.cumsum(counts)])
            w = r.window_days or 90
            # exposed on day j by hits on days (j - lag - w, j - lag]: the default exposure_lag_days
            open_windows = cum[np.maximum(days + 1 - LAG, 0)] - cum[np.maximum(days + 1 - LAG - w, 0)]
            block[r.name] = (open_windows >= r.min_count).astype(int)
        rows.append(pd.DataFrame(block))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def people(small_workbook):
    customers = small_workbook.customers
    ids = customers.select("customer_id").order_by("customer_id").limit(SUBSET)
    customers = customers.filter(customers.customer_id.isin(ids.customer_id))
    covs = C.describe_covariates(customers, ["segment"])
    return C.customers_as_of(customers, small_workbook.params.as_of, covs), covs


def test_exposure_intervals_match_day_by_day_exposure(small_workbook, people, brute_force_days):
    frame, _ = people
    iv = F.exposure_intervals(frame, small_workbook.interactions, RULES, 90).execute()
    assert (iv["stop"] > iv["start"]).all()
    names = [r.name for r in RULES]
    # adjacent intervals differ in at least one exposure: runs were merged
    iv = iv.sort_values(["customer_id", "start"])
    same = (iv[names].diff().abs().sum(axis=1) == 0) & (iv["customer_id"] == iv["customer_id"].shift())
    assert not same.any()
    lengths = (iv["stop"] - iv["start"]).to_numpy()
    expanded = pd.DataFrame({
        "customer_id": np.repeat(iv["customer_id"].to_numpy(), lengths),
        "day": np.concatenate([np.arange(a, b) for a, b in zip(iv["start"], iv["stop"])]),
        **{n: np.repeat(iv[n].to_numpy(), lengths) for n in names},
        "event": np.repeat(iv["event"].to_numpy(), lengths) & np.concatenate(
            [np.arange(a, b) == b - 1 for a, b in zip(iv["start"], iv["stop"])]),
    })
    ref = brute_force_days.sort_values(["customer_id", "day"]).reset_index(drop=True)
    got = expanded.sort_values(["customer_id", "day"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["customer_id", "day", *names]], ref[["customer_id", "day", *names]],
                                  check_dtype=False)
    assert (got["event"].astype(bool) == ref["event"]).all()
    assert ref[names].to_numpy().sum(axis=0).min() > 0, "every rule is exposed somewhere"


def test_cells_are_the_day_level_aggregate(small_workbook, people, brute_force_days):
    frame, covs = people
    cells = F.touchpoint_cells(frame, small_workbook.interactions, RULES, 90, PIECES, covs)
    names = [r.name for r in RULES]
    ref = brute_force_days.assign(piece=np.array(PIECES)[np.searchsorted(PIECES, brute_force_days["day"], side="right") - 1])
    ref = (ref.groupby(["piece", "segment", *names]).agg(events=("event", "sum"), person_days=("day", "size"))
           .reset_index())
    keys = ["piece", "segment", *names]
    got = cells.sort_values(keys).reset_index(drop=True)
    ref = ref.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref[got.columns], check_dtype=False)


def test_survival_counts_match_pandas(small_workbook, demo_small):
    frame = C.customers_as_of(small_workbook.customers, small_workbook.params.as_of, extra=["segment"])
    counts = C.survival_counts(frame, "segment")
    cust = pd.read_parquet(demo_small / "customers.parquet")
    assert counts["group"].str.startswith("segment=").all()
    assert counts.groupby("group")[["events", "censored"]].sum().sum(axis=1).sum() == len(cust)
    churned = cust["churn_date"].notna()
    assert counts["events"].sum() == churned.sum()
