"""Competing risks (issue 15): Aalen–Johansen cumulative incidence from counts, and churn causes.

Reference: lifelines' ``AalenJohansenFitter`` (0.30). Two of its conventions matter for a
comparison "at every event time":

* it jitters event times at random (±1e-4) whenever two *different* causes share a time; the
  jittered churns can land after that time's censorings, so its estimate then depends on the seed.
  We compare (a) on data whose churn days never mix causes — same-cause ties and censorings on
  churn days included, lifelines does not jitter then — and (b) on data with mixed-cause ties
  broken by hand, churns just before the day's censorings in a random order, which is the
  convention of :func:`cumulative_incidence` (and of Kaplan–Meier); a hand-worked example shows
  both orders.
* its first event-table row is forced to 0 and the increment there is lost (its lagged survival
  is NaN), so a churn at the smallest duration is dropped when the smallest duration is 0: we
  compare on durations ≥ 1 and check day-0 churns by hand.
* its interval columns are labelled the wrong way round (the column named "upper" holds the lower
  limit); we compare the sorted pair.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter

from cxlib.errors import NotEstimable, ParamsError
from cxlib.stats.competing import (
    CUMULATIVE_INCIDENCE_COLUMNS,
    assign_causes,
    cause_counts,
    cause_lookup,
    cause_order,
    cumulative_incidence,
)

CAUSES = ("voluntary", "involuntary", "other")
TOL = 1e-9


def _customers(n: int, seed: int, untied: bool, start: int = 1) -> pd.DataFrame:
    """Integer durations (≥ start) with three competing causes and uniform censoring."""
    rng = np.random.default_rng(seed)
    rates = np.array([0.004, 0.002, 0.001])
    t = rng.exponential(1 / rates, size=(n, 3))
    first, which = t.min(axis=1), t.argmin(axis=1)
    cens = rng.uniform(0, 700, size=n)
    days = np.ceil(np.minimum(first, cens)).astype(int) + start - 1
    cause = np.where(first <= cens, np.array(CAUSES, dtype=object)[which], None)
    if untied:  # a churn day carries one cause only: the cause of that day's first churner
        churn = pd.notna(cause)
        day_cause = pd.Series(cause[churn], index=days[churn]).groupby(level=0).first()
        cause = np.where(churn, day_cause.reindex(days).to_numpy(), None)
    return pd.DataFrame({"days": days, "cause": cause, "segment": rng.choice(["smb", "enterprise"], size=n)})


def _lifelines(durations, cause, k: str, **fit) -> AalenJohansenFitter:
    codes = {c: i + 1 for i, c in enumerate(CAUSES)}
    e = np.array([0 if c is None else codes[c] for c in cause])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a jitter warning here would void the comparison
        return AalenJohansenFitter(calculate_variance=True).fit(np.asarray(durations, float), e, codes[k], **fit)


def _compare(ours: pd.DataFrame, aj: AalenJohansenFitter) -> dict[str, float]:
    """Max abs differences at each of our days (every day with a churn or a censoring)."""
    lf = aj.cumulative_density_.iloc[:, 0]
    at = lf.reindex(ours["days"].astype(float)).to_numpy()
    assert not np.isnan(at).any(), "lifelines has a row at every day with a churn or a censoring"
    out = {"cif": float(np.abs(at - ours["cumulative_incidence"].to_numpy()).max())}
    var = aj.variance_.reindex(ours["days"].astype(float)).to_numpy()
    bounds = np.sort(aj.confidence_interval_.reindex(ours["days"].astype(float)).to_numpy(), axis=1)
    pos = ours["cumulative_incidence"].to_numpy() > 0  # lifelines' interval is NaN where F = 0
    # lifelines' variance is NaN (0·∞) on a day where every customer at risk churns; ours takes the
    # limit 0 for that term — allowed only there
    undefined = ~np.isfinite(var)
    assert (ours["at_risk"].to_numpy()[undefined] == ours["all_events"].to_numpy()[undefined]).all()
    pos &= ~undefined
    out["variance"] = float(np.abs(var[pos] - ours["variance"].to_numpy()[pos]).max())
    out["ci"] = float(np.abs(bounds[pos] - ours[["ci_lower", "ci_upper"]].to_numpy()[pos]).max())
    return out


# =================================================================================================
# Against lifelines
# =================================================================================================


@pytest.mark.parametrize("seed", [1, 2])
def test_equals_lifelines_at_every_time_without_mixed_ties(seed):
    df = _customers(3000, seed, untied=True)
    assert df["days"].duplicated().any() and (df["cause"].isna() & df["days"].isin(df.loc[df["cause"].notna(), "days"])).any()
    res = cumulative_incidence(cause_counts(df["days"], df["cause"]), causes=CAUSES)
    for k in CAUSES:
        diff = _compare(res.curves[res.curves["cause"] == k], _lifelines(df["days"], df["cause"], k))
        assert diff["cif"] < TOL, diff
        assert diff["variance"] < TOL, diff
        assert diff["ci"] < TOL, diff


def test_equals_lifelines_by_segment():
    df = _customers(4000, 3, untied=True)
    res = cumulative_incidence(cause_counts(df["days"], df["cause"], "segment=" + df["segment"]), causes=CAUSES)
    assert list(res.summary["group"].unique()) == ["segment=enterprise", "segment=smb"]
    for seg, part in df.groupby("segment"):
        for k in CAUSES:
            ours = res.curves[(res.curves["group"] == f"segment={seg}") & (res.curves["cause"] == k)]
            diff = _compare(ours, _lifelines(part["days"], part["cause"], k))
            assert max(diff.values()) < TOL, (seg, k, diff)


@pytest.mark.parametrize("order_seed", [0, 1, 2])
def test_mixed_cause_ties_equal_lifelines_on_hand_untied_times(order_seed):
    """Churns of different causes on one day = the same churns untied just before that day's censorings.

    (Estimate within 1e-9 absolute; the variance within 1e-9 relative — observed ~1e-15 and ~2e-13.)

    Each churn on day t is moved to t − r·1e-6 (r a random rank within the day), censorings stay
    at t; lifelines then sees no tie (no jitter) and its estimate at t equals ours on the day grid,
    whatever the order of the causes within the day.
    """
    df = _customers(3000, 7, untied=False)
    churn_days = df.loc[df["cause"].notna(), ["days", "cause"]]
    assert (churn_days.groupby("days")["cause"].nunique() > 1).sum() > 50  # many mixed-cause days
    res = cumulative_incidence(cause_counts(df["days"], df["cause"]), causes=CAUSES)
    rng = np.random.default_rng(order_seed)
    rank = pd.Series(rng.permutation(len(df)), index=df.index).where(df["cause"].notna())
    rank = rank.groupby(df["days"]).rank().fillna(0).to_numpy()
    untied = df["days"].to_numpy(float) - 1e-6 * rank
    for k in CAUSES:
        aj = _lifelines(untied, df["cause"], k)
        ours = res.curves[res.curves["cause"] == k]
        lf = aj.cumulative_density_.iloc[:, 0]
        at = lf.reindex(lf.index.union(ours["days"].astype(float))).ffill().reindex(ours["days"].astype(float))
        assert np.abs(at.to_numpy() - ours["cumulative_incidence"].to_numpy()).max() < TOL
        # the delta-method variance does not change either when the day's churns are untied
        v = aj.variance_
        v = v.reindex(v.index.union(ours["days"].astype(float))).ffill().reindex(ours["days"].astype(float)).to_numpy()
        ok = np.isfinite(v) & (ours["variance"].to_numpy() > 0)
        assert np.abs(v[ok] / ours["variance"].to_numpy()[ok] - 1).max() < TOL


def test_hand_worked_ties_of_different_causes():
    """n = 5. Day 1: one churn 'a', one churn 'b', one censoring. Day 2: one churn 'a'. Day 3: censored.

    Day grid (churns before censorings): F_a(1) = F_b(1) = 1·1/5 = 0.2; S(1) = 3/5;
    F_a(2) = 0.2 + (3/5)(1/2) = 0.5; S(2) = 0.3; F_a + F_b = 0.7 = 1 − S.
    Untying the day-1 churns in either order gives the same (each adds S·1/5), as lifelines shows
    on hand-untied times; but if the 'b' churn came after the censoring (what a random jitter can
    do) it would add (4/5)·1/3 = 4/15 instead of 1/5.
    """
    counts = pd.DataFrame({"group": "all", "days": [1, 1, 1, 2, 3], "cause": ["a", "b", None, "a", None],
                           "events": [1, 1, 0, 1, 0], "censored": [0, 0, 1, 0, 1]})
    res = cumulative_incidence(counts)
    wide = res.curves.pivot(index="days", columns="cause", values="cumulative_incidence")
    assert np.allclose(wide["a"], [0.2, 0.5, 0.5], atol=1e-15, rtol=0)
    assert np.allclose(wide["b"], [0.2, 0.2, 0.2], atol=1e-15, rtol=0)
    # delta-method variance at day 1, by hand: S_lag = 1, n = 5, d = 2, d_a = 1, F(t) − F(t_1) = 0
    # → Var = 1·1·4/125 = 0.032 for each cause
    assert res.curves.loc[res.curves["days"] == 1, "variance"].tolist() == pytest.approx([0.032, 0.032], abs=1e-15)

    def lifelines_b(times):
        e = np.array([1, 2, 0, 1, 0])
        aj = AalenJohansenFitter().fit(np.array(times, float), e, event_of_interest=2)
        return float(aj.cumulative_density_.iloc[:, 0].loc[:1.5].iloc[-1])

    assert lifelines_b([0.999998, 0.999999, 1, 2, 3]) == pytest.approx(0.2, abs=1e-15)  # a then b, then censoring
    assert lifelines_b([0.999999, 0.999998, 1, 2, 3]) == pytest.approx(0.2, abs=1e-15)  # b then a
    assert lifelines_b([0.999999, 1.000001, 1, 2, 3]) == pytest.approx(4 / 15, abs=1e-15)  # b after the censoring


def test_churn_on_day_zero():
    """A churn at duration 0 (signup day) counts: F(0) = d_0 / n. lifelines drops an event at its first
    time, so it is compared on the same data shifted by one day."""
    df = _customers(500, 11, untied=True, start=0)
    assert (df["days"] == 0).any() and df.loc[df["days"] == 0, "cause"].notna().any()
    res = cumulative_incidence(cause_counts(df["days"], df["cause"]), causes=CAUSES)
    day0 = df[df["days"] == 0]
    for k in CAUSES:
        ours = res.curves[res.curves["cause"] == k]
        assert ours["cumulative_incidence"].iloc[0] == pytest.approx((day0["cause"] == k).sum() / len(df), abs=1e-15)
        shifted = ours.assign(days=ours["days"] + 1)
        diff = _compare(shifted, _lifelines(df["days"] + 1, df["cause"], k))
        assert max(diff.values()) < TOL, diff


# =================================================================================================
# Independent checks
# =================================================================================================


def test_causes_add_up_to_one_minus_kaplan_meier():
    df = _customers(5000, 5, untied=False)
    res = cumulative_incidence(cause_counts(df["days"], df["cause"]), causes=CAUSES)
    total = res.curves.groupby("days")["cumulative_incidence"].sum()
    km = KaplanMeierFitter().fit(df["days"], df["cause"].notna()).survival_function_.iloc[:, 0]
    assert np.abs(total.to_numpy() - (1 - km.reindex(total.index.astype(float)).to_numpy())).max() < 1e-12
    assert np.allclose(res.curves.groupby("days")["survival"].first(), 1 - total, atol=1e-12, rtol=0)
    # without a cause column the one cause 'all' is 1 − KM
    km_counts = cause_counts(df["days"], df["cause"]).drop(columns="cause")
    one = cumulative_incidence(km_counts)
    assert one.causes == ("all",)
    assert np.abs(one.curves["cumulative_incidence"].to_numpy() - (1 - km.reindex(one.curves["days"].astype(float))).to_numpy()).max() < 1e-12


def test_interval_coverage_by_simulation():
    """1,000 samples of 300 customers, exponential cause-specific hazards, uniform censoring; the truth is
    F_k(t) = λ_k / λ · (1 − e^{−λt}). The 95 % intervals at 180 and 365 days cover it 93–97 % of the
    time and the mean delta-method variance is within 15 % of the variance across samples."""
    rng = np.random.default_rng(2024)
    reps, n = 1000, 300
    lam = np.array([0.003, 0.0015])
    t = rng.exponential(1 / lam, size=(reps * n, 2))
    first, which = t.min(axis=1), t.argmin(axis=1)
    cens = rng.uniform(0, 1200, size=reps * n)
    days = np.ceil(np.minimum(first, cens)).astype(int)
    cause = np.where(first <= cens, np.array(["a", "b"], dtype=object)[which], None)
    group = np.repeat([f"r{i:04d}" for i in range(reps)], n)
    res = cumulative_incidence(cause_counts(days, cause, group), causes=("a", "b"))
    at = res.at([180, 365]).merge(
        res.curves.groupby(["group", "cause", "days"], as_index=False)["variance"].first(), how="left")
    for (k, h), g in at.groupby(["cause", "days"]):
        lam_k = lam[0 if k == "a" else 1]
        truth = lam_k / lam.sum() * (1 - np.exp(-lam.sum() * h))
        cover = ((g["ci_lower"] <= truth) & (truth <= g["ci_upper"])).mean()
        assert 0.93 <= cover <= 0.97, (k, h, cover)
    # variance: read each replicate's variance at the horizon from its step function
    for k in ("a", "b"):
        c = res.curves[res.curves["cause"] == k]
        v = c[c["days"] <= 365].groupby("group")[["cumulative_incidence", "variance"]].last()
        ratio = v["variance"].mean() / v["cumulative_incidence"].var()
        assert 0.85 <= ratio <= 1.15, (k, ratio)


# =================================================================================================
# Result contract
# =================================================================================================


def test_result_frame_horizons_and_suppression():
    df = _customers(2000, 9, untied=False)
    groups = np.where(np.arange(len(df)) < 5, "segment=tiny", "segment=" + df["segment"])
    counts = pd.concat([cause_counts(df["days"], df["cause"]), cause_counts(df["days"], df["cause"], groups)])
    res = cumulative_incidence(counts, causes=CAUSES, min_n=10, horizons=[30, 90, 365, 10_000])
    assert res.suppressed == ("segment=tiny",)
    out = res.to_frame()
    assert list(out.columns) == CUMULATIVE_INCIDENCE_COLUMNS
    assert list(out["group"].unique()) == ["all", "segment=enterprise", "segment=smb"]  # order of the counts
    assert list(out["cause"].unique()) == list(CAUSES)
    assert not out.duplicated(["group", "cause", "days"]).any()
    assert 10_000 not in set(out["days"])  # beyond follow-up: undefined, no row
    for h in (30, 90, 365):
        row = out[(out["group"] == "all") & (out["days"] == h)]
        assert len(row) == 3 and (row["at_risk"] == (df["days"] >= h).sum()).all()
    assert ((out["ci_lower"] <= out["cumulative_incidence"]) & (out["cumulative_incidence"] <= out["ci_upper"])).all()
    assert out[["ci_lower", "ci_upper"]].stack().between(0, 1).all()
    # causes stack to 1 − S on every row of the file
    stacked = out.groupby(["group", "days"])["cumulative_incidence"].sum()
    surv = res.curves.groupby(["group", "days"])["survival"].first()
    common = stacked.index.intersection(surv.index)
    assert np.allclose(stacked[common], 1 - surv[common], atol=1e-12)
    # before any churn the incidence is 0
    first = int(df.loc[df["cause"].notna(), "days"].min())
    early = res.at([first - 1])
    assert (early.loc[early["group"] == "all", "cumulative_incidence"] == 0).all()
    json.dumps(res.to_dict())
    assert "Aalen–Johansen" in repr(res) and "<table" in res._repr_html_()


def test_a_listed_cause_without_churns_is_zero_and_errors():
    counts = cause_counts([1, 2, 3, 4], ["a", None, "a", None])
    res = cumulative_incidence(counts, causes=("a", "b"))
    assert (res.curves.loc[res.curves["cause"] == "b", "cumulative_incidence"] == 0).all()
    with pytest.raises(ValueError, match="not among causes"):
        cumulative_incidence(counts, causes=("b",))
    with pytest.raises(ValueError, match="have no cause"):
        cumulative_incidence(counts.assign(cause=None))
    with pytest.raises(NotEstimable):
        cumulative_incidence(counts, min_n=10)


def test_everyone_at_risk_churns_on_the_last_day():
    """n_j = d_j on the last day: the Greenwood term there is 0·∞, taken as 0 (its limit)."""
    res = cumulative_incidence(cause_counts([1, 2, 3, 3], ["a", None, "a", "b"]))
    last = res.curves[res.curves["days"] == 3]
    assert last["cumulative_incidence"].sum() == pytest.approx(1.0, abs=1e-15)
    assert np.isfinite(last["variance"]).all() and np.isfinite(last[["ci_lower", "ci_upper"]]).all().all()


# =================================================================================================
# Churn reasons → causes
# =================================================================================================

MAPPING = {"voluntary": ["price", "competitor", "service"], "involuntary": ["non_payment", "moved", "deceased"]}


def test_assign_causes():
    reasons = pd.Series([" Price", "moved", "fraud", "", None, "COMPETITOR", "fraud", "price", np.nan],
                        index=list("abcdefghi"))
    churned = pd.Series([True, True, True, True, True, True, True, False, False], index=reasons.index)
    a = assign_causes(reasons, churned, MAPPING)
    assert a.cause.index.equals(reasons.index)
    assert a.cause.tolist() == ["voluntary", "involuntary", "other", "other", "other", "voluntary", "other", None, None]
    assert a.causes == ("voluntary", "involuntary", "other")
    assert (a.n_churners, a.n_unmapped, a.n_missing, a.n_reason_not_churned) == (7, 2, 2, 1)
    assert a.unmapped_reasons == ["fraud"]
    s = a.summary.set_index(["cause", "reason"])
    assert s.loc[("other", "fraud"), "churners"] == 2 and s.loc[("other", "fraud"), "status"] == "unmapped"
    assert s.loc[("other", ""), "churners"] == 2 and s.loc[("other", ""), "status"] == "missing"
    assert s.loc[("voluntary", "price"), "churners"] == 1
    assert a.summary["churners"].sum() == a.n_churners
    assert "2 churners have no churn reason" in repr(a)
    json.dumps(a.to_dict())


def test_assign_causes_without_column_or_mapping_is_one_cause():
    churned = [True, False, True]
    for a in (assign_causes(None, churned, MAPPING), assign_causes(pd.Series(["price", None, "x"]), churned, None)):
        assert a.cause.tolist() == ["all", None, "all"] and a.causes == ("all",)
        assert a.n_unmapped == a.n_missing == 0


def test_cause_mapping_rules():
    assert cause_order(MAPPING) == ("voluntary", "involuntary", "other")
    assert cause_order({"other": ["x"], "voluntary": ["price"]}) == ("voluntary", "other")
    assert cause_lookup({"other": ["x"]}) == {"x": "other"}
    with pytest.raises(ParamsError, match="both"):
        cause_lookup({"voluntary": ["price"], "involuntary": ["Price "]})
    with pytest.raises(ParamsError, match="cannot name a cause"):
        cause_lookup({"all": ["price"]})
    with pytest.raises(ParamsError, match="empty reason"):
        cause_lookup({"voluntary": [""]})
    with pytest.raises(ParamsError, match="not one of"):
        assign_causes(pd.Series(["price"]), [True], MAPPING, missing_cause="unknown")
    # a missing reason may go to a named cause instead of 'other'
    a = assign_causes(pd.Series([None, "price"]), [True, True], {**MAPPING, "unknown": ["n/a"]}, missing_cause="unknown")
    assert a.cause.tolist() == ["unknown", "voluntary"] and a.n_missing == 1


def test_counts_from_assignment_feed_the_estimator():
    df = _customers(1000, 4, untied=False)
    reasons = df["cause"].map({"voluntary": "price", "involuntary": "moved", "other": "fraud"})
    a = assign_causes(reasons, df["cause"].notna(), MAPPING)
    res = cumulative_incidence(cause_counts(df["days"], a.cause), causes=a.causes)
    direct = cumulative_incidence(cause_counts(df["days"], df["cause"]), causes=CAUSES)
    pd.testing.assert_frame_equal(res.to_frame(), direct.to_frame())


# ---- wiring: the engine's counts, the retention section, the data-quality counts -----------------


def _engine_customers(n: int = 2_000, seed: int = 3) -> pd.DataFrame:
    """Customers with churn reasons (some unmapped, some missing, one on an active customer)."""
    import datetime as dt

    rng = np.random.default_rng(seed)
    signup = [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 500, n)]
    tenure = rng.exponential(400, n).astype(int)
    churn = [s + dt.timedelta(days=int(t)) if t < 600 else None for s, t in zip(signup, tenure)]
    reasons = rng.choice(["Price", "competitor ", "moved", "fraud", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05])
    reason = [r if c is not None else None for r, c in zip(reasons, churn)]
    reason[next(i for i, c in enumerate(churn) if c is None)] = "price"  # a reason on an active customer
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "signup_date": signup, "churn_date": churn,
                         "segment": rng.choice(["a", "b"], n), "churn_reason": reason})


CHURN_CAUSES = {"voluntary": ["price", "competitor"], "involuntary": ["moved"]}


def test_engine_counts_equal_pandas_counts_and_feed_both_estimators():
    import datetime as dt

    import ibis

    from cxlib.analyses import retention as R
    from cxlib.analyses.quality import churn_reasons

    as_of = dt.date(2025, 9, 30)
    frame = _engine_customers()
    customers = ibis.memtable(frame)
    counts = R.retention_counts(customers, as_of, cause_lookup(CHURN_CAUSES))
    # pandas reference: the same durations and causes customer by customer
    end = pd.to_datetime(frame["churn_date"]).where(pd.to_datetime(frame["churn_date"]) <= pd.Timestamp(as_of))
    churned = end.notna()
    duration = (end.fillna(pd.Timestamp(as_of)) - pd.to_datetime(frame["signup_date"])).dt.days
    a = assign_causes(frame["churn_reason"], churned, CHURN_CAUSES)
    ref = cause_counts(duration, a.cause)
    got = counts[counts["group"] == "all"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[ref.columns], ref, check_dtype=False)
    # one query serves Kaplan–Meier: summed over causes, the counts are those without causes
    plain = R.retention_counts(customers, as_of)
    pd.testing.assert_frame_equal(R.km_counts(counts).sort_values(["group", "days"]).reset_index(drop=True),
                                  plain.sort_values(["group", "days"]).reset_index(drop=True), check_dtype=False)
    km = R.retention(customers, as_of, min_cell_size=10, counts=counts)
    ci = R.cause_incidence(counts, cause_order(CHURN_CAUSES), min_cell_size=10, horizons=[90, 365])
    assert set(ci.summary["group"]) == {"all", "segment=a", "segment=b"}  # no cohorts
    steps = ci.curves.groupby(["group", "days"])["cumulative_incidence"].sum()
    surv = km.curves.set_index(["group", "days"])["survival"]
    both = pd.concat([steps, surv], axis=1, join="inner").dropna()
    assert len(both) > 100 and np.allclose(both["cumulative_incidence"], 1 - both["survival"], atol=1e-12)
    assert list(ci.to_frame().columns) == CUMULATIVE_INCIDENCE_COLUMNS
    # the data-quality counts in the engine equal the customer-by-customer assignment
    q = churn_reasons(customers, as_of, CHURN_CAUSES)
    assert (q.n_churners, q.n_unmapped, q.n_missing, q.n_reason_not_churned) == (
        a.n_churners, a.n_unmapped, a.n_missing, a.n_reason_not_churned)
    assert q.n_reason_not_churned >= 1 and q.unmapped_reasons == ["fraud"]
    pd.testing.assert_frame_equal(q.summary.sort_values(["cause", "reason"]).reset_index(drop=True),
                                  a.summary.sort_values(["cause", "reason"]).reset_index(drop=True))


def test_without_causes_one_cause_all_is_one_minus_kaplan_meier():
    import datetime as dt

    import ibis

    from cxlib.analyses import retention as R

    customers = ibis.memtable(_engine_customers().drop(columns="churn_reason"))
    counts = R.retention_counts(customers, dt.date(2025, 9, 30))
    assert "cause" not in counts.columns
    ci = R.cause_incidence(counts, ("all",), min_cell_size=10)
    km = R.retention(customers, dt.date(2025, 9, 30), min_cell_size=10)
    f = ci.curves[ci.curves["group"] == "all"].set_index("days")["cumulative_incidence"]
    s = km.curves[km.curves["group"] == "all"].set_index("days")["survival"]
    assert set(ci.causes) == {"all"} and np.allclose(f, 1 - s.reindex(f.index), atol=1e-12)
