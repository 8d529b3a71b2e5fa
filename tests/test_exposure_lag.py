"""The reverse-causation guard: the exposure lag, the lag-sensitivity table and its warning; PH of model touchpoints."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlib.analyses import hazards
from cxlib.params import ExposureRule
from cxlib.text import survival as T

AS_OF = dt.date(2025, 12, 31)
RULES = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2),
         ExposureRule(name="poor_support", touchpoint="support", csat_max=2)]


def churn_day_complaints(n: int = 6000, share: float = 0.15, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Churn independent of every experience, except that ``share`` of the churners rate a support
    contact poorly on their churn day (the cancellation call): support has no effect on churn.

    Customers sign up over the two years before ``AS_OF`` and churn at a constant hazard of 0.0015 a
    day; billing and support contacts arrive at random (one every ~40 days each) and one in five is
    rated 1 or 2.
    """
    rng = np.random.default_rng(seed)
    signup_offset = rng.integers(1, 730, n)
    signup = pd.Timestamp(AS_OF) - pd.to_timedelta(signup_offset, unit="D")
    t = np.floor(rng.exponential(1 / 0.0015, n)).astype(int)
    churned = t < signup_offset  # churn day before as_of
    churn = pd.Series(signup + pd.to_timedelta(t, unit="D")).where(churned)
    observed = np.where(churned, t + 1, signup_offset)  # days at risk: the churn day closes the tenure
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "signup_date": signup.date,
                              "churn_date": churn.dt.date})
    rows = []
    for tp in ("billing", "support"):
        k = rng.poisson(observed / 40)
        cust = np.repeat(np.arange(n), k)
        day = np.floor(rng.random(cust.size) * observed[cust]).astype(int)
        csat = np.where(rng.random(cust.size) < 0.2, rng.integers(1, 3, cust.size), rng.integers(3, 6, cust.size))
        rows.append(pd.DataFrame({"cust": cust, "day": day, "touchpoint": tp, "csat": csat}))
    leaving = np.flatnonzero(churned & (rng.random(n) < share))
    rows.append(pd.DataFrame({"cust": leaving, "day": t[leaving], "touchpoint": "support", "csat": 1}))
    x = pd.concat(rows, ignore_index=True)
    hour = pd.to_timedelta(rng.integers(8, 20, len(x)), unit="h")
    x["timestamp"] = pd.to_datetime(signup[x["cust"]]).to_numpy() + pd.to_timedelta(x["day"], unit="D") + hour
    x["customer_id"] = customers["customer_id"].to_numpy()[x["cust"]]
    return customers, x[["customer_id", "timestamp", "touchpoint", "csat"]]


@pytest.fixture(scope="module")
def lags() -> hazards.LagSensitivity:
    customers, interactions = (ibis.memtable(t) for t in churn_day_complaints())

    def cells_at(lag: int) -> pd.DataFrame:
        return hazards.touchpoint_model_cells(customers, interactions, [], RULES, as_of=AS_OF, window_days=90,
                                              pieces=[0, 90, 365], lag_days=lag)

    return hazards.lag_sensitivity(cells_at, [], RULES, [0, 1, 7, 30])


def test_churn_day_complaints_inflate_only_the_lag_0_hazard_ratio(lags):
    s = lags.summary.set_index(["exposure", "lag_days"])
    at_0, at_1 = s.loc[("poor_support", 0)], s.loc[("poor_support", 1)]
    # counted on their own day, the cancellation calls make a null touchpoint look harmful ...
    assert at_0["ci_lower"] > 1.3
    # ... from the next day on (the default lag) they explain nothing: the interval covers the true 1
    assert at_1["ci_lower"] < 1 < at_1["ci_upper"]
    for lag in (1, 7, 30):
        b = s.loc[("poor_billing", lag)]
        assert b["ci_lower"] < 1 < b["ci_upper"]


def test_the_sensitivity_table_flags_and_names_the_touchpoint(lags):
    assert lags.flagged == ["poor_support"]
    flag = lags.flags.set_index("exposure").loc["poor_support"]
    assert flag["excess_retained"] < 2 / 3 and (flag["shortest_lag"], flag["longest_lag"]) == (0, 30)
    warning = T.lag_warning(lags.flags, {"poor_billing": "billing", "poor_support": "support"})
    assert warning.startswith("Possible reverse causation at support:") and "billing" not in warning
    view = T.lag_view(lags.summary, {"poor_billing": "billing", "poor_support": "support"}, used=1)
    assert list(view.columns) == ["exposure", "lag 0 days", "lag 1 day (this report)", "lag 7 days", "lag 30 days"]
    assert view["exposure"].tolist() == ["billing", "support"]


def test_the_lag_shifts_every_experience_by_whole_days():
    customers = ibis.memtable({"customer_id": ["a"], "signup_date": [dt.date(2025, 1, 1)],
                               "churn_date": [dt.date(2025, 1, 11)]})
    interactions = ibis.memtable({"customer_id": ["a", "a"], "touchpoint": ["billing"] * 2,
                                  "timestamp": [dt.datetime(2025, 1, 3, 9), dt.datetime(2025, 1, 11, 17)], "csat": [1, 1]})
    rule = RULES[:1]
    for lag, exposed_days, event_exposed in ((0, 5 + 1, 1), (1, 5, 0), (3, 5, 0), (9, 0, 0)):
        cells = hazards.touchpoint_model_cells(customers, interactions, [], rule, as_of=AS_OF, window_days=5,
                                               pieces=[0], lag_days=lag)
        exposed = cells[cells["poor_billing"] == 1]
        # day 2's experience covers days 2+lag … 6+lag of the 11 days at risk; the churn-day one only day 10 at lag 0
        assert int(exposed["person_days"].sum()) == exposed_days, lag
        assert int(exposed["events"].sum()) == event_exposed, lag
        assert int(cells["person_days"].sum()) == 11


def test_touchpoint_ph_check_says_no_evidence_of_departure_never_holds(lags):
    customers, interactions = (ibis.memtable(t) for t in churn_day_complaints(n=3000, share=0.0, seed=9))
    cells = hazards.touchpoint_model_cells(customers, interactions, [], RULES, as_of=AS_OF, window_days=90,
                                           pieces=[0, 90, 180, 365, 545])
    check = hazards.touchpoint_ph_check(hazards.fit_touchpoint_model(cells, [], RULES))
    assert set(check.summary["exposure"]) == {"poor_billing", "poor_support"}
    sentence = T.touchpoint_ph_sentence(check, {"poor_billing": "a poor billing experience",
                                                "poor_support": "a poor support experience"})
    assert "holds" not in sentence
    if (check.summary["verdict"] == "proportional").all():
        assert sentence.count("no evidence of departure (p = ") == 2 and "churn events)" in sentence


def test_above_the_cap_every_lag_is_refitted_on_one_systematic_sample():
    """The sampled refits equal an independent computation on the customers picked by position in
    pandas, and still separate the churn-day complaints from the null touchpoint."""
    customers, interactions = churn_day_complaints(n=12_000, seed=11)
    kw = {"as_of": AS_OF, "window_days": 90, "pieces": [0, 90, 365]}
    cust, inter = ibis.memtable(customers), ibis.memtable(interactions)
    own = hazards.touchpoint_model_cells(cust, inter, [], RULES, lag_days=1, **kw)
    res = hazards.touchpoint_lag_sensitivity(cust, inter, [], RULES, own, lag_days=1, lags=[0, 1, 30], seed=3,
                                             max_customers=5_000, **kw)
    k = 3  # ceil(12,000 / 5,000)
    start = int(np.random.default_rng(3).integers(k))
    picked = customers.sort_values("customer_id").iloc[start::k]
    assert (res.customers, res.of_customers) == (len(picked), 12_000) and len(picked) <= 5_000
    expected = hazards.lag_sensitivity(
        lambda lag: hazards.touchpoint_model_cells(ibis.memtable(picked), inter, [], RULES, lag_days=lag, **kw),
        [], RULES, [0, 1, 30])
    pd.testing.assert_frame_equal(res.summary, expected.summary)
    assert res.flagged == ["poor_support"]
    assert "systematic sample of" in res.printer().lines[0]
    # at the cap or below, the run's own cells are used as they are and nothing is sampled
    full = hazards.touchpoint_lag_sensitivity(cust, inter, [], RULES, own, lag_days=1, lags=[1], seed=3,
                                              max_customers=12_000, **kw)
    assert full.customers is None
    assert full.summary["n_events"].iloc[0] == own["events"].sum()
    assert T.lag_caption(res.customers, res.of_customers).count(f"{res.customers:,} of the 12,000") == 1
