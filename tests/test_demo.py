"""Tests of the synthetic demo data: contract, determinism and recovery of the true effects."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from cxlib.demo import synthetic as demo
from cxlib.demo import truth

N_CUSTOMERS = 20_000
SEED = 42
AS_OF = pd.Timestamp(truth.DEMO_AS_OF)
POOR = [f"poor_{t}" for t in truth.TOUCHPOINTS]
COVARIATES = {"segment": "consumer", "plan": "basic", "region": "north"}  # column -> reference level


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return demo.generate(N_CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def customers(tables) -> pd.DataFrame:
    """Customers with the day-grid clock of cxlib.features.exposures: ``risk_end`` = days at risk.

    A churned customer is at risk on days 0 .. churn_date - signup_date (the event closes the churn
    day), an active one on days 0 .. as_of - signup_date - 1.
    """
    c = tables["customers"].copy()
    c["signup"] = pd.to_datetime(c["signup_date"])
    c["churn"] = pd.to_datetime(c["churn_date"])
    c["event"] = c["churn"].notna()
    c["duration"] = (c["churn"].fillna(AS_OF) - c["signup"]).dt.days
    c["risk_end"] = (c["duration"] + c["event"]).astype(float)
    for cause, reasons in truth.CHURN_CAUSES.items():
        c[cause] = c["churn_reason"].isin(reasons)
    return c


@pytest.fixture(scope="module")
def intervals(tables, customers) -> pd.DataFrame:
    return _exposure_intervals(customers, tables["interactions"])


def _exposure_intervals(c: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    """Start/stop rows per customer on which every ``poor_<T>`` and the tenure piece are constant.

    The recipe of DESIGN.md on the day grid: +1 at each poor experience's tenure day ``k``, -1 at
    ``k + 90``, plus the piece bounds, 0 and ``risk_end``; a running sum per touchpoint gives the
    open windows, and a churned customer's last interval carries the event.
    """
    m = len(c)
    duration = c["risk_end"].to_numpy()
    row = pd.Series(np.arange(m), index=c["customer_id"].to_numpy())
    poor = interactions[interactions["csat"].fillna(99) <= truth.POOR_CSAT_MAX]
    pc = row[poor["customer_id"]].to_numpy()
    s = ((poor["timestamp"].to_numpy() - c["signup"].to_numpy()[pc]) // np.timedelta64(1, "D")).astype(float)
    tp = pd.Categorical(poor["touchpoint"], categories=truth.TOUCHPOINTS).codes
    bounds = np.asarray(truth.TENURE_PIECES, dtype=float)
    t = np.concatenate([s, s + truth.EXPOSURE_WINDOW_DAYS, np.tile(bounds, m), duration])
    cid = np.concatenate([pc, pc, np.repeat(np.arange(m), bounds.size), np.arange(m)])
    delta = np.zeros((t.size, len(truth.TOUCHPOINTS)), dtype=np.int32)
    delta[np.arange(s.size), tp] = 1
    delta[s.size + np.arange(s.size), tp] = -1
    order = np.lexsort((t, cid))
    t, cid, delta = t[order], cid[order], delta[order]
    exposed = (np.cumsum(delta, axis=0) > 0).astype(np.int8)
    same_next = np.append(cid[1:] == cid[:-1], False)
    stop = np.minimum(np.where(same_next, np.append(t[1:], np.inf), np.inf), duration[cid])
    keep = (t < duration[cid]) & (stop > t)
    iv = pd.DataFrame(exposed[keep], columns=POOR)
    iv["cid"], iv["start"], iv["stop"] = cid[keep], t[keep], stop[keep]
    last = ~iv["cid"].duplicated(keep="last").to_numpy()
    iv["event"] = (last & c["event"].to_numpy()[iv["cid"]]).astype(int)
    for cause in truth.CHURN_CAUSES:  # the churns of one cause; the others' are censorings
        iv[cause] = (iv["event"].to_numpy() == 1) & c[cause].to_numpy()[iv["cid"]]
    iv["piece"] = np.searchsorted(bounds, iv["start"].to_numpy(), side="right") - 1
    for col in COVARIATES:
        iv[col] = c[col].to_numpy()[iv["cid"]]
    return iv


def _dummies(df: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for col, ref in COVARIATES.items():
        levels = [lv for lv in sorted(df[col].unique()) if lv != ref]
        columns = {f"{col}[{lv}]": (df[col] == lv).astype(float) for lv in levels}
        parts.append(pd.DataFrame(columns, index=df.index))
    return pd.concat(parts, axis=1)


def _missed(estimates: pd.DataFrame, true_values: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """The terms whose true value lies outside the CI, with (lower, estimate, upper); empty if none."""
    missed = {}
    for term, value in true_values.items():
        lo, est, hi = estimates.loc[term, ["lower", "estimate", "upper"]]
        if not lo <= value <= hi:
            missed[term] = (round(lo, 3), round(est, 3), round(hi, 3))
    return missed


# ---------------------------------------------------------------------------------------------------
# Determinism and files
# ---------------------------------------------------------------------------------------------------
def test_generate_is_deterministic():
    a, b = demo.generate(3_000, seed=7), demo.generate(3_000, seed=7)
    for name in ("customers", "interactions", "surveys"):
        pd.testing.assert_frame_equal(a[name], b[name])
    other = demo.generate(3_000, seed=8)
    assert not a["interactions"]["timestamp"].equals(other["interactions"]["timestamp"])


def test_blocks_are_prefix_stable(monkeypatch):
    # Whole blocks do not depend on n_customers: the first block of a larger run is the same.
    monkeypatch.setattr(demo, "BLOCK_CUSTOMERS", 1_000)
    small, large = demo.generate(1_000, seed=3), demo.generate(2_500, seed=3)
    pd.testing.assert_frame_equal(small["customers"], large["customers"].iloc[:1_000])
    head = large["interactions"]["customer_id"] <= "C0001000"
    pd.testing.assert_frame_equal(small["interactions"], large["interactions"][head])


def test_files_do_not_depend_on_chunking_and_match_generate(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BLOCK_CUSTOMERS", 1_000)
    monkeypatch.setattr(demo, "ROW_GROUP_ROWS", 20_000)  # forces row groups to straddle chunks
    a = demo.write_demo_data(tmp_path / "a", n_customers=3_500, seed=5, chunk_customers=1)
    b = demo.write_demo_data(tmp_path / "b", n_customers=3_500, seed=5, chunk_customers=10_000)

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert {k: digest(p) for k, p in a.items()} == {k: digest(p) for k, p in b.items()}
    assert pq.ParquetFile(a["interactions"]).metadata.num_row_groups > 1
    schema = pq.read_schema(a["interactions"])
    assert str(schema.field("timestamp").type) == "timestamp[us]"
    assert str(pq.read_schema(a["customers"]).field("signup_date").type) == "date32[day]"
    generated = demo.generate(3_500, seed=5)
    for name, path in a.items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), generated[name])
    assert not list(tmp_path.glob("*/*.partial"))


def test_csv_output(tmp_path):
    paths = demo.write_demo_data(tmp_path, n_customers=300, seed=1, fmt="csv")
    assert sorted(p.name for p in paths.values()) == ["customers.csv", "interactions.csv", "surveys.csv"]
    generated = demo.generate(300, seed=1)
    c = pd.read_csv(paths["customers"], keep_default_na=False)
    assert c["customer_id"].tolist() == generated["customers"]["customer_id"].tolist()
    expected_churn = generated["customers"]["churn_date"].map(lambda d: "" if d is None else d.isoformat())
    assert c["churn_date"].tolist() == expected_churn.tolist()
    i = pd.read_csv(paths["interactions"], dtype={"csat": "Int64", "ces": "Int64"})
    assert len(i) == len(generated["interactions"])
    assert (pd.to_datetime(i["timestamp"]) == generated["interactions"]["timestamp"]).all()
    assert i["csat"].equals(generated["interactions"]["csat"])
    with pytest.raises(ValueError, match="fmt"):
        demo.write_demo_data(tmp_path, n_customers=10, fmt="xlsx")


# ---------------------------------------------------------------------------------------------------
# Contract
# ---------------------------------------------------------------------------------------------------
def test_customers_contract(customers):
    c = customers
    assert list(c.columns[:8]) == [
        "customer_id", "signup_date", "churn_date", "segment", "region", "plan", "monthly_revenue", "churn_reason"
    ]
    assert c["customer_id"].is_unique and c["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert c["customer_id"].iloc[0] == "C0000001"
    assert (c["signup"] < AS_OF).all()
    assert (c["signup"].min() <= AS_OF - pd.DateOffset(years=3)), "signups must span at least 3 years"
    churned = c[c["event"]]
    assert (churned["churn"] >= churned["signup"]).all() and (churned["churn"] < AS_OF).all()
    assert 0.25 <= c["event"].mean() <= 0.40
    assert (churned["churn"] == churned["signup"]).mean() < 0.01
    assert set(c["segment"]) == set(truth.SEGMENTS) and c["segment"].mode()[0] == "consumer"
    assert set(c["region"]) == set(truth.REGIONS) and c["region"].mode()[0] == "north"
    assert set(c["plan"]) == set(truth.PLANS) and c["plan"].mode()[0] == "basic"
    assert (c["monthly_revenue"] >= 0).all()
    med = c.groupby("segment")["monthly_revenue"].median()
    assert med["consumer"] < med["smb"] < med["enterprise"]
    # growth: more signups in the last year than in the first
    years = (AS_OF - c["signup"]).dt.days // 365
    assert (years == 0).sum() > 1.3 * (years == 3).sum()


def test_interactions_contract(tables, customers):
    i = tables["interactions"]
    c = customers.set_index("customer_id")
    assert list(i.columns) == ["customer_id", "timestamp", "touchpoint", "channel", "csat", "ces", "resolved"]
    assert str(i["csat"].dtype) == "Int64" and str(i["ces"].dtype) == "Int64"
    assert str(i["resolved"].dtype) == "boolean" and str(i["timestamp"].dtype) == "datetime64[us]"
    assert i["customer_id"].isin(c.index).all()
    signup = c["signup"].reindex(i["customer_id"]).to_numpy()
    end = (c["churn"] + pd.Timedelta(days=1)).fillna(AS_OF).reindex(i["customer_id"]).to_numpy()
    ts = i["timestamp"].to_numpy()
    assert (ts >= signup).all() and (ts < end).all() and (ts < AS_OF.to_datetime64()).all()
    assert set(i["touchpoint"]) == set(truth.TOUCHPOINTS) and set(i["channel"]) <= set(truth.CHANNELS)
    assert i["csat"].dropna().between(1, 5).all() and i["ces"].dropna().between(1, 7).all()
    assert 0.5 <= i["csat"].notna().mean() <= 0.8
    assert 0.2 <= i["ces"].notna().mean() < i["csat"].notna().mean()
    assert i.loc[i["touchpoint"] != "support", "resolved"].isna().all()
    assert i.loc[i["touchpoint"] == "support", "resolved"].notna().all()
    tenure = (ts - signup) / np.timedelta64(1, "D")
    assert tenure[(i["touchpoint"] == "onboarding").to_numpy()].max() < 60
    per_customer = len(i) / len(c)
    assert 45 * 0.7 <= per_customer <= 45 * 1.3
    # sorted by customer, then time
    assert i["customer_id"].is_monotonic_increasing
    assert (i.groupby("customer_id", sort=False)["timestamp"].diff().dropna() >= pd.Timedelta(0)).all()


def test_interaction_patterns(tables):
    i = tables["interactions"]
    csat = i.groupby("touchpoint")["csat"].mean()
    assert csat["billing"] < csat["onboarding"] < csat["app"]
    by_channel = i.groupby("channel")["csat"].mean()
    assert by_channel["store"] > by_channel["phone"]
    mix = pd.crosstab(i["touchpoint"], i["channel"], normalize="index")
    assert mix.loc["app", "web"] > 0.7
    assert mix.loc["delivery", ["store", "web"]].sum() > 0.7
    quarter = i["timestamp"].dt.to_period("Q")
    q = i.assign(q=quarter).pivot_table(index="q", columns="touchpoint", values="csat", aggfunc="mean")
    last = pd.Period(AS_OF, "Q")
    # billing drops in the last two quarters, support improves
    assert q.loc[last - 1, "billing"] < q.loc[last - 2, "billing"] - 0.1
    assert q.loc[last, "billing"] < q.loc[last - 1, "billing"] - 0.1
    assert q.loc[last, "support"] > q.loc[last - 8, "support"] + 0.1
    rated = i.dropna(subset=["csat", "ces"])
    assert np.corrcoef(rated["csat"].astype(float), rated["ces"].astype(float))[0, 1] > 0.5


def test_surveys_contract(tables, customers):
    s = tables["surveys"]
    c = customers.set_index("customer_id")
    assert list(s.columns) == ["customer_id", "timestamp", "nps", *truth.SURVEY_DRIVERS]
    assert set(truth.TRUE_NPS_WEIGHTS) == set(truth.SURVEY_DRIVERS)
    signup = c["signup"].reindex(s["customer_id"]).to_numpy()
    end = (c["churn"] + pd.Timedelta(days=1)).fillna(AS_OF).reindex(s["customer_id"]).to_numpy()
    ts = s["timestamp"].to_numpy()
    assert (ts >= signup).all() and (ts < end).all()
    assert s["nps"].between(0, 10).all()
    for col in truth.SURVEY_DRIVERS:
        assert str(s[col].dtype) == "Int64"
        assert s[col].dropna().between(1, 5).all()
        assert 0.01 <= s[col].isna().mean() <= 0.10
    years = customers["risk_end"].sum() / 365.25
    assert 0.5 <= len(s) / years <= 1.5, "about one response per customer-year"


# ---------------------------------------------------------------------------------------------------
# True effects
# ---------------------------------------------------------------------------------------------------
def test_segments_differ_in_churn(customers):
    rate = customers.groupby("segment")["event"].sum() / customers.groupby("segment")["risk_end"].sum()
    assert rate["consumer"] > rate["smb"] > rate["enterprise"]


def _piecewise_exponential(iv: pd.DataFrame, alpha: float = 0.05, event: str = "event") -> pd.DataFrame:
    """Poisson GLM on (piece x covariates x exposures) cells with a log person-time offset."""
    iv = iv.assign(days=iv["stop"] - iv["start"], events=iv[event].astype(int))
    cells = iv.groupby(["piece", *COVARIATES, *POOR], as_index=False).agg(
        events=("events", "sum"), days=("days", "sum")
    )
    pieces = pd.get_dummies(cells["piece"], prefix="piece").astype(float)
    X = pd.concat([pieces, _dummies(cells), cells[POOR].astype(float)], axis=1)
    fit = sm.GLM(cells["events"], X, family=sm.families.Poisson(), offset=np.log(cells["days"])).fit()
    ci = fit.conf_int(alpha=alpha)
    return pd.DataFrame({"estimate": np.exp(fit.params), "lower": np.exp(ci[0]), "upper": np.exp(ci[1])})


# the share of each cause's churners whose reason the generator blanks or replaces (cause 'other')
KEPT = 1 - truth.P_REASON_MISSING - truth.P_REASON_UNMAPPED


def test_piecewise_exponential_recovers_true_hazard_ratios(intervals):
    # the true effects are those of voluntary churn: the other causes' churns are censorings
    est = _piecewise_exponential(intervals, event="voluntary")
    assert not _missed(est, truth.TRUE_TOUCHPOINT_HR), _missed(est, truth.TRUE_TOUCHPOINT_HR)
    for term in ("poor_delivery", "poor_app"):
        assert est.loc[term, "lower"] <= 1.0 <= est.loc[term, "upper"]
    for term in ("poor_onboarding", "poor_billing", "poor_support"):
        assert est.loc[term, "lower"] > 1.2
    # Ten more terms: at 95 % one of them misses in about every other data set (a 60-seed study found
    # no bias), so they are held to the 99 % interval.
    est99 = _piecewise_exponential(intervals, alpha=0.01, event="voluntary")
    baseline = {f"piece_{k}": KEPT * h for k, h in enumerate(truth.BASELINE_HAZARD_PER_DAY)}
    others = {**truth.TRUE_COVARIATE_HR, **baseline}
    assert not _missed(est99, others), _missed(est99, others)


@pytest.mark.slow
def test_time_varying_cox_recovers_true_hazard_ratios(intervals):
    from lifelines import CoxTimeVaryingFitter

    iv = intervals[intervals["cid"] < 10_000]  # ~100k rows keep lifelines under ~15 s
    data = pd.concat([iv[["cid", "start", "stop", *POOR]], iv["voluntary"].astype(int).rename("event"), _dummies(iv)],
                     axis=1)
    ctv = CoxTimeVaryingFitter().fit(
        data, id_col="cid", start_col="start", stop_col="stop", event_col="event"
    )
    summary = ctv.summary
    est = pd.DataFrame(
        {
            "estimate": summary["exp(coef)"],
            "lower": summary["exp(coef) lower 95%"],
            "upper": summary["exp(coef) upper 95%"],
        }
    )
    assert not _missed(est, truth.TRUE_TOUCHPOINT_HR), _missed(est, truth.TRUE_TOUCHPOINT_HR)


def test_involuntary_churn_has_no_effect(intervals):
    # ~900 involuntary churns and 15 terms whose truth is 1: at 95 % poor_onboarding misses on this data set
    # (0.70, 0.51-0.95), by chance: two 60,000-customer data sets (seeds 5, 6) give 0.996 (0.85-1.16) and
    # 0.976 (0.84-1.14). So every term is held to its 99 % interval.
    est99 = _piecewise_exponential(intervals, alpha=0.01, event="involuntary")
    truths = {**truth.TRUE_INVOLUNTARY_HR,
              **{f"piece_{k}": KEPT * h for k, h in enumerate(truth.INVOLUNTARY_HAZARD_PER_DAY)}}
    assert not _missed(est99, truths), _missed(est99, truths)


def test_churn_reasons(customers):
    c = customers
    reasons = {r for rs in truth.CHURN_CAUSES.values() for r in rs}
    assert c.loc[~c["event"], "churn_reason"].isna().all()
    churners = c.loc[c["event"], "churn_reason"]
    assert set(churners.dropna()) == reasons | {truth.UNMAPPED_REASON}
    assert churners.isna().mean() == pytest.approx(truth.P_REASON_MISSING, abs=0.01)
    assert (churners == truth.UNMAPPED_REASON).mean() == pytest.approx(truth.P_REASON_UNMAPPED, abs=0.005)
    assert 0.08 < c.loc[c["event"], "involuntary"].mean() < 0.20  # involuntary is the smaller cause


def _nps_score(ratings: pd.DataFrame) -> np.ndarray:
    """The documented linear score of the ratings (NaN where a rating is missing)."""
    w = np.array([truth.TRUE_NPS_WEIGHTS[c] for c in ratings.columns])
    return truth.NPS_INTERCEPT + (ratings.to_numpy(dtype=float) - 3) @ w


def _nps(answers: pd.Series) -> float:
    return 100 * ((answers >= 9).mean() - (answers <= 6).mean())


def test_nps_regression_recovers_true_weights(tables):
    s = tables["surveys"].dropna()
    ratings = s[list(truth.SURVEY_DRIVERS)].astype(float)
    X = sm.add_constant(ratings)
    # HC3: the answer noise narrows near 0 and 10, so the classical standard errors do not hold
    fit = sm.OLS(s["nps"].astype(float), X).fit(cov_type="HC3")
    ci = fit.conf_int()
    est = pd.DataFrame({"estimate": fit.params, "lower": ci[0], "upper": ci[1]})
    assert not _missed(est, truth.TRUE_NPS_WEIGHTS), _missed(est, truth.TRUE_NPS_WEIGHTS)
    ranking = fit.params.drop("const").sort_values(ascending=False).index.tolist()
    assert ranking == sorted(truth.TRUE_NPS_WEIGHTS, key=truth.TRUE_NPS_WEIGHTS.get, reverse=True)
    # The only bias is the clip of scores below 0 (none exceed 10). OLS is linear in the outcome, so
    # regressing E[nps | ratings] = clip(score, 0, 10) on the ratings gives the estimate's exact
    # expectation given these ratings: the clipped share and the bias it causes are both tiny.
    score = _nps_score(ratings)
    assert score.max() <= 10 + 1e-9
    assert (score < 0).mean() < 5e-4
    expected = sm.OLS(np.clip(score, 0, 10), X).fit().params
    for term, w in truth.TRUE_NPS_WEIGHTS.items():
        assert expected[term] == pytest.approx(w, rel=2e-3)
    corr = ratings.corr().to_numpy()
    vif = np.diag(np.linalg.inv(corr))
    assert vif.max() < 5
    assert (corr[np.triu_indices(5, 1)] > 0.02).all(), "ratings share a customer-level factor"


def test_nps_answers_have_the_score_as_their_mean():
    # Scores on a fine grid, including both ends and outside the scale (clipped), 20k answers each.
    grid = np.linspace(-1.0, 11.0, 97)
    score = np.repeat(grid, 20_000)
    answers = demo._nps_answers(np.random.default_rng(0), score).reshape(grid.size, -1)
    assert answers.min() >= 0 and answers.max() <= 10
    mean, sd = answers.mean(axis=1), answers.std(axis=1)
    clipped = np.clip(grid, 0, 10)
    # within 4.5 standard errors at every grid point (a 97-point family); exact at and beyond the ends
    assert (np.abs(mean - clipped) <= 4.5 * sd / np.sqrt(answers.shape[1]) + 1e-12).all()
    assert (answers[grid <= 0] == 0).all() and (answers[grid >= 10] == 10).all()
    # away from the ends the spread is the triangular noise plus the rounding's Bernoulli part
    middle = np.abs(grid - 5) <= 3
    assert np.all(sd[middle] > truth.NPS_NOISE_SD) and np.all(sd[middle] < truth.NPS_NOISE_SD + 0.25)


def test_demo_nps_is_realistic(tables):
    s = tables["surveys"]
    nps = s["nps"].astype(float)
    # a typical company: NPS +10..+40, 35-50 % promoters, 10-25 % detractors
    assert 15 <= _nps(nps) <= 30
    assert 0.35 <= (nps >= 9).mean() <= 0.50 and 0.10 <= (nps <= 6).mean() <= 0.25
    ratings = s[list(truth.SURVEY_DRIVERS)]
    all_fives = (ratings.fillna(0) == 5).all(axis=1)
    assert all_fives.mean() > 0.03 and (nps[all_fives] == 10).all(), "rating everything 5 means answering 10"
    for col in truth.SURVEY_DRIVERS:
        assert ratings[col].mode()[0] >= 4, "satisfaction ratings lean to the top of the scale"
    # the billing drop of the last two quarters pulls NPS down (about 20 points on ~3k answers each)
    by_quarter = nps.groupby(s["timestamp"].dt.to_period("Q")).apply(_nps)
    last = pd.Period(AS_OF, "Q")
    assert by_quarter[last] < by_quarter[last - 4] - 10


def test_constants_are_consistent():
    assert set(truth.TRUE_TOUCHPOINT_HR) == set(POOR)
    assert truth.TRUE_TOUCHPOINT_HR["poor_delivery"] == truth.TRUE_TOUCHPOINT_HR["poor_app"] == 1.0
    assert len(set(truth.TRUE_NPS_WEIGHTS.values())) == len(truth.TRUE_NPS_WEIGHTS)
    assert truth.NPS_INTERCEPT + 2 * sum(truth.TRUE_NPS_WEIGHTS.values()) == pytest.approx(10.0)
    assert truth.DEMO_AS_OF == dt.date(2026, 9, 30)
    with pytest.raises(ValueError):
        demo.generate(0)
