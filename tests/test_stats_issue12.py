"""Issue 12, the pure statistical core: case-based attribution, clustered variances, PEM checks,
concordance gains (cxlib.stats.paf / clustered / pem_checks / concordance)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlib.errors import NotEstimable
from cxlib.stats.clustered import (
    CROSS_COLUMNS,
    SUM_COLUMNS,
    cluster_sums,
    cross_sums,
    mean_interval,
    ratio_difference_test,
    ratio_variance,
    share_interval,
)
from cxlib.stats.concordance import concordance_gains, cox_linear_predictor
from cxlib.stats.paf import (
    attributable_churn,
    coefficient_draws,
    joint_attributable_churn,
)
from cxlib.stats.pem_checks import lag_sensitivity_flags, proportional_hazards_test

# =================================================================================================
# Attribution
# =================================================================================================


def test_attribution_hand_worked():
    # churner 1: billing only, revenue 50; churner 2: billing + support, 30; churner 3: none, 20;
    # churner 4: support only, 100. HR billing 2 (weight 1/2), support 5 (weight 4/5).
    patterns = pd.DataFrame({"poor_billing": [1, 1, 0, 0], "poor_support": [0, 1, 0, 1],
                             "churners": [1, 1, 1, 1], "revenue": [50.0, 30.0, 20.0, 100.0]})
    log_hr = pd.Series({"poor_billing": np.log(2.0), "poor_support": np.log(5.0)})
    out = attributable_churn(patterns, log_hr).set_index("exposure")
    assert out.loc["poor_billing", "churners_exposed"] == 2
    assert out.loc["poor_billing", "churners_attributable"] == pytest.approx(0.5 + 0.5, abs=1e-12)
    assert out.loc["poor_support", "churners_attributable"] == pytest.approx(0.8 + 0.8, abs=1e-12)
    assert out.loc["poor_billing", "attributable_churn_share"] == pytest.approx(1.0 / 4, abs=1e-12)
    assert out.loc["poor_support", "attributable_churn_share"] == pytest.approx(1.6 / 4, abs=1e-12)
    assert out.loc["poor_billing", "revenue_at_risk"] == pytest.approx(12 * (50 * 0.5 + 30 * 0.5), abs=1e-9)
    assert out.loc["poor_support", "revenue_at_risk"] == pytest.approx(12 * (30 * 0.8 + 100 * 0.8), abs=1e-9)
    assert np.isnan(out.loc["poor_billing", "churners_attributable_ci_lower"])      # no draws, no interval
    joint = joint_attributable_churn(patterns, log_hr).iloc[0]
    # 1/2 + (1 − 1/10) + 0 + 4/5
    assert joint.churners_attributable == pytest.approx(0.5 + 0.9 + 0.8, abs=1e-12)
    assert joint.revenue_at_risk == pytest.approx(12 * (50 * 0.5 + 30 * 0.9 + 100 * 0.8), abs=1e-9)
    assert joint.churners_exposed == 3
    # per-exposure figures overlap: their sum exceeds the joint figure
    assert out.churners_attributable.sum() > joint.churners_attributable


def test_attribution_intervals_from_draws_and_protective_exposure():
    patterns = pd.DataFrame({"a": [1, 0], "b": [1, 1], "churners": [10, 30], "revenue": [100.0, 300.0]})
    draws = pd.DataFrame({"b": np.log([0.5, 1.0, 2.0, 4.0, 8.0]), "a": np.log([2.0] * 5), "other": 0.0})
    out = attributable_churn(patterns, {"a": np.log(2.0), "b": np.log(0.5)}, draws=draws, level=0.5).set_index("exposure")
    # b is protective: weight 1 − 2 = −1, kept negative
    assert out.loc["b", "churners_attributable"] == pytest.approx(-40.0)
    w = 1 - 1 / np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    assert out.loc["b", "churners_attributable_ci_lower"] == pytest.approx(np.quantile(40 * w, 0.25))
    assert out.loc["b", "churners_attributable_ci_upper"] == pytest.approx(np.quantile(40 * w, 0.75))
    assert out.loc["b", "revenue_at_risk_ci_upper"] == pytest.approx(12 * 400 * np.quantile(w, 0.75))
    assert out.loc["a", "churners_attributable_ci_lower"] == pytest.approx(5.0)
    with pytest.raises(NotEstimable):
        attributable_churn(patterns.assign(churners=0), {"a": 0.1, "b": 0.1})


def test_attribution_equals_brute_force_per_churner():
    rng = np.random.default_rng(12)
    exposures = ["poor_app", "poor_billing", "poor_support", "poor_store"]
    n = 5000
    churners = pd.DataFrame(rng.random((n, 4)) < [0.3, 0.2, 0.1, 0.05], columns=exposures).astype(int)
    churners["monthly_revenue"] = rng.gamma(2.0, 30.0, n)
    coef = pd.Series(rng.normal(0.3, 0.4, 4), index=exposures)
    cov = np.diag(rng.uniform(0.01, 0.05, 4))
    draws = coefficient_draws(coef, cov, 400, np.random.default_rng(5))
    # the engine's GROUP BY
    patterns = (churners.groupby(exposures).agg(churners=("monthly_revenue", "size"), revenue=("monthly_revenue", "sum"))
                .reset_index())
    assert len(patterns) <= 16
    out = attributable_churn(patterns, coef, draws=draws).set_index("exposure")
    joint = joint_attributable_churn(patterns, coef, draws=draws).iloc[0]

    def brute(beta: pd.Series) -> tuple[dict, dict, float, float]:
        a, rev = dict.fromkeys(exposures, 0.0), dict.fromkeys(exposures, 0.0)
        ja = jr = 0.0
        for row in churners.itertuples(index=False):
            log_prod = 0.0
            for t in exposures:
                if getattr(row, t) == 1:
                    w = 1 - 1 / np.exp(beta[t])
                    a[t] += w
                    rev[t] += w * row.monthly_revenue * 12
                    log_prod += beta[t]
            wj = 1 - 1 / np.exp(log_prod)
            ja += wj
            jr += wj * row.monthly_revenue * 12
        return a, rev, ja, jr

    a, rev, ja, jr = brute(coef)
    for t in exposures:
        assert abs(out.loc[t, "churners_attributable"] - a[t]) < 1e-9
        assert abs(out.loc[t, "attributable_churn_share"] - a[t] / n) < 1e-9
        assert abs(out.loc[t, "revenue_at_risk"] - rev[t]) < 1e-9 * max(1.0, rev[t])
    assert abs(joint.churners_attributable - ja) < 1e-9
    assert abs(joint.revenue_at_risk - jr) < 1e-9 * jr
    # intervals: the brute force on every draw, then the same percentiles
    per_draw = [brute(draws.iloc[d]) for d in range(40)]
    sub = attributable_churn(patterns, coef, draws=draws.iloc[:40]).set_index("exposure")
    sub_joint = joint_attributable_churn(patterns, coef, draws=draws.iloc[:40]).iloc[0]
    for t in exposures:
        vals = np.array([p[0][t] for p in per_draw])
        assert abs(sub.loc[t, "churners_attributable_ci_lower"] - np.quantile(vals, 0.025)) < 1e-9
        assert abs(sub.loc[t, "churners_attributable_ci_upper"] - np.quantile(vals, 0.975)) < 1e-9
        revs = np.array([p[1][t] for p in per_draw])
        assert abs(sub.loc[t, "revenue_at_risk_ci_upper"] - np.quantile(revs, 0.975)) < 1e-9 * revs.max()
    jvals = np.array([p[2] for p in per_draw])
    assert abs(sub_joint.churners_attributable_ci_lower - np.quantile(jvals, 0.025)) < 1e-9


def test_coefficient_draws_match_what_if_construction():
    coef = pd.Series({"piece[0]": -6.0, "poor_app": 0.4})
    cov = np.array([[0.01, 0.001], [0.001, 0.02]])
    mine = coefficient_draws(coef, cov, 100, np.random.default_rng(7))
    theirs = np.random.default_rng(7).multivariate_normal(coef.to_numpy(), cov, size=100, method="eigh")
    np.testing.assert_array_equal(mine.to_numpy(), theirs)


# =================================================================================================
# Clustered variances
# =================================================================================================


def _rated_rows(seed: int = 0, customers: int = 300) -> pd.DataFrame:
    """Interactions with strong customer effects and varying numbers of ratings per customer."""
    rng = np.random.default_rng(seed)
    k = rng.poisson(3, customers) + 1
    cust = np.repeat(np.arange(customers), k)
    level = rng.normal(0, 1.2, customers)[cust]
    csat = np.clip(np.round(3.4 + level + rng.normal(0, 0.7, len(cust))), 1, 5)
    rows = pd.DataFrame({"customer_id": [f"c{c}" for c in cust], "csat": csat,
                         "segment": np.where(rng.random(customers) < 0.5, "A", "B")[cust]})
    rows.loc[rng.random(len(rows)) < 0.2, "csat"] = np.nan
    rows["top2"] = np.where(rows.csat.notna(), (rows.csat >= 4).astype(float), np.nan)
    rows["rated"] = rows.csat.notna().astype(float)
    rows["one"] = 1.0
    return rows


def _statsmodels_cluster_var(values: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    fit = sm.OLS(values, np.ones((len(values), 1))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.params[0]), float(fit.cov_params()[0, 0])


def _direct_sandwich(values: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> float:
    """Σ_g (Σ_rows in g (v − R w))² / (Σ w)² · G/(G − 1), straight from the rows."""
    r = values.sum() / weights.sum()
    u = pd.Series(values - r * weights).groupby(groups).sum().to_numpy()
    g = len(u)
    return g / (g - 1) * (u ** 2).sum() / weights.sum() ** 2


@pytest.mark.parametrize("value", ["csat", "top2"])
def test_clustered_variance_equals_statsmodels_cluster_robust(value):
    rows = _rated_rows()
    s = cluster_sums(rows, "customer_id", value).iloc[0]
    r, v = ratio_variance(*[s[c] for c in SUM_COLUMNS])
    obs = rows[rows[value].notna()]
    est, var = _statsmodels_cluster_var(obs[value].to_numpy(), obs.customer_id.to_numpy())
    assert abs(float(r) - est) < 1e-12
    # k = 1 regressor: statsmodels' (N − 1)/(N − k) factor is 1, so CR1 matches exactly
    assert abs(float(v) - var) < 1e-9 * var
    assert abs(float(v) - _direct_sandwich(obs[value].to_numpy(), np.ones(len(obs)), obs.customer_id.to_numpy())) < 1e-9 * var
    naive = obs[value].var(ddof=1) / len(obs)
    assert float(v) / naive > 1.5          # customers' ratings are strongly correlated here


def test_clustered_variance_per_cell_and_rated_share():
    rows = _rated_rows(1)
    cells = cluster_sums(rows, "customer_id", "rated", by=["segment"], count="one")
    for _, cell in cells.iterrows():
        sub = rows[rows.segment == cell.segment]
        r, v = ratio_variance(*[cell[c] for c in SUM_COLUMNS])
        assert abs(float(r) - sub.rated.mean()) < 1e-12
        direct = _direct_sandwich(sub.rated.to_numpy(), sub.one.to_numpy(), sub.customer_id.to_numpy())
        _, sm_var = _statsmodels_cluster_var(sub.rated.to_numpy(), sub.customer_id.to_numpy())
        assert abs(float(v) - direct) < 1e-9 * direct
        assert abs(float(v) - sm_var) < 1e-9 * sm_var


def test_clustered_intervals():
    rows = _rated_rows(2)
    s = cluster_sums(rows, "customer_id", "csat").iloc[0]
    args = [s[c] for c in SUM_COLUMNS]
    mi = mean_interval(*args, lower=1, upper=5)
    _, v = ratio_variance(*args)
    assert float(mi["se"]) == pytest.approx(np.sqrt(float(v)))
    assert 1 <= float(mi["ci_lower"]) < float(mi["estimate"]) < float(mi["ci_upper"]) <= 5
    s2 = cluster_sums(rows, "customer_id", "top2").iloc[0]
    si = share_interval(*[s2[c] for c in SUM_COLUMNS])
    r, v2 = ratio_variance(*[s2[c] for c in SUM_COLUMNS])
    assert float(si["n_effective"]) == pytest.approx(float(r * (1 - r) / v2))
    assert float(si["n_effective"]) < s2.sum_n
    assert 0 <= float(si["ci_lower"]) < float(r) < float(si["ci_upper"]) <= 1
    # all ratings top-2: the interval stays inside [0, 1] with customers as the effective n
    edge = share_interval(5, 12, 12, 40, 40, 40)
    assert float(edge["n_effective"]) == 5 and float(edge["ci_upper"]) == 1 and float(edge["ci_lower"]) < 1


def test_clustered_difference_test_equals_stacked_cluster_regression():
    rng = np.random.default_rng(4)
    rows = _rated_rows(3, customers=400)
    rows["period"] = np.where(rng.random(len(rows)) < 0.5, 1, 2)
    rows = rows[rows.csat.notna()].reset_index(drop=True)
    p1, p2 = rows[rows.period == 1], rows[rows.period == 2]
    s1 = cluster_sums(p1, "customer_id", "csat").iloc[0]
    s2 = cluster_sums(p2, "customer_id", "csat").iloc[0]
    cross = cross_sums(p1, p2, "customer_id", "csat").iloc[0]
    assert cross.m_both > 100
    res = ratio_difference_test(s1, s2, cross)
    X = np.column_stack([(rows.period == 1).astype(float), (rows.period == 2).astype(float)])
    fit = sm.OLS(rows.csat.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": rows.customer_id.to_numpy()})
    c = fit.cov_params()
    sm_var = c[0, 0] + c[1, 1] - 2 * c[0, 1]
    n = len(rows)
    assert abs(float(res["difference"]) - (fit.params[1] - fit.params[0])) < 1e-12
    # statsmodels also multiplies by (N − 1)/(N − k) with k = 2 regressors
    assert abs(float(res["se"]) ** 2 * (n - 1) / (n - 2) - sm_var) < 1e-9 * sm_var
    assert int(res["df"]) == rows.customer_id.nunique() - 1
    # without cross sums: independent periods, V1 + V2
    ind = ratio_difference_test(s1, s2)
    v1, v2 = ratio_variance(*[s1[k] for k in SUM_COLUMNS])[1], ratio_variance(*[s2[k] for k in SUM_COLUMNS])[1]
    assert float(ind["se"]) ** 2 == pytest.approx(float(v1 + v2), rel=1e-12)
    # positive within-customer correlation across periods: the covariance narrows the test
    assert float(res["se"]) < float(ind["se"])
    assert set(CROSS_COLUMNS) <= set(cross.index)


# =================================================================================================
# PEM checks
# =================================================================================================


def _cells(seed: int, hr_by_piece: dict[int, float]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = {0: 0.002, 30: 0.0015, 90: 0.001, 180: 0.0008, 365: 0.0006}
    rows = []
    for piece, h in base.items():
        for seg, seg_hr in (("A", 1.0), ("B", 1.4)):
            for x in (0, 1):
                for z in (0, 1):
                    pd_ = int(rng.integers(60_000, 120_000) * (0.5 if x else 1.0))
                    mu = pd_ * h * seg_hr * (hr_by_piece[piece] if x else 1.0) * (1.3 if z else 1.0)
                    rows.append((piece, seg, x, z, rng.poisson(mu), pd_))
    return pd.DataFrame(rows, columns=["piece", "segment", "poor_x", "poor_z", "events", "person_days"])


def test_ph_test_rejects_time_varying_effect():
    cells = _cells(0, {0: 3.0, 30: 2.5, 90: 1.5, 180: 1.0, 365: 1.0})
    res = proportional_hazards_test(cells, ["poor_x", "poor_z"], covariates=["segment"])
    row = res.summary.set_index("exposure").loc["poor_x"]
    assert row.verdict == "changes_with_tenure" and row.p_value < 1e-6 and row.df == 2
    assert row.verdict_text.startswith("the association changes with tenure (p < 0.001,")
    assert row.n_events == cells.events.sum()
    hrs = res.by_band[res.by_band.exposure == "poor_x"].hazard_ratio.to_numpy()
    assert hrs[0] > 2.3 and hrs[-1] < 1.4
    assert res.summary.set_index("exposure").loc["poor_z", "verdict"] in {"proportional", "changes_with_tenure"}


def test_ph_test_constant_effect_rarely_rejects():
    ps = []
    for seed in range(20):
        cells = _cells(100 + seed, dict.fromkeys([0, 30, 90, 180, 365], 2.0))
        res = proportional_hazards_test(cells, ["poor_x", "poor_z"], covariates=["segment"], bands=[0, 90, 365])
        ps.append(res.summary.set_index("exposure").loc["poor_x", "p_value"])
    ps = np.array(ps)
    assert (ps < 0.05).sum() <= 4 and ps.mean() > 0.3
    text = res.summary.set_index("exposure").loc["poor_x", "verdict_text"]
    assert text.startswith("no evidence of departure from proportional hazards (p = ") or "changes" in text
    assert f"{int(cells.events.sum()):,} events)" in text


def test_ph_test_design_frame_and_untestable():
    cells = _cells(1, dict.fromkeys([0, 30, 90, 180, 365], 2.0))
    design = pd.DataFrame({"segment[B]": (cells.segment == "B").astype(float)}, index=cells.index)
    a = proportional_hazards_test(cells, ["poor_x"], covariates=design, bands=[0, 90]).summary
    b = proportional_hazards_test(cells, ["poor_x"], covariates=["segment"], bands=[0, 90]).summary
    assert a.p_value.iloc[0] == pytest.approx(b.p_value.iloc[0], rel=1e-8)
    one = proportional_hazards_test(cells, ["poor_x"], bands=[0]).summary.iloc[0]
    assert one.verdict == "not_testable" and one.df == 0


def test_lag_flags_rule():
    table = pd.DataFrame({
        "exposure": ["a"] * 3 + ["b"] * 2 + ["c"] * 2 + ["d"] * 2,
        "lag_days": [30, 0, 7, 0, 30, 0, 30, 0, 30],
        "hazard_ratio": [1.3, 2.0, 1.8, 1.3, 1.2, 1.5, 1.1, 0.5, 0.9],
        "ci_lower": [1.0, 1.5, 1.4, 0.9, 0.9, 1.2, 0.8, 0.3, 0.6],
        "ci_upper": [1.7, 2.6, 2.3, 1.8, 1.6, 1.9, 1.5, 0.8, 1.3]})
    out = lag_sensitivity_flags(table).set_index("exposure")
    assert out.loc["a", "shortest_lag"] == 0 and out.loc["a", "longest_lag"] == 30
    assert out.loc["a", "excess_retained"] == pytest.approx(0.3)
    assert out.loc["a", "flag"]                    # 2.0 → 1.3: excess 1.0 → 0.3
    assert not out.loc["b", "flag"]                # shortest-lag interval includes 1
    assert out.loc["c", "flag"]                    # 0.5 → 0.1
    assert not out.loc["d", "flag"]                # protective, never flagged
    # exactly two thirds retained is not "more than a third lost"
    edge = pd.DataFrame({"exposure": ["e", "e"], "lag_days": [0, 30], "hazard_ratio": [1.3, 1.2],
                         "ci_lower": [1.1, 1.0], "ci_upper": [1.5, 1.4]})
    assert not lag_sensitivity_flags(edge, retained_below=2 / 3 - 1e-12).flag.iloc[0]


def _simulate_days(seed: int = 0, n: int = 6000, horizon: int = 365, window: int = 90):
    """Daily churn with a real touchpoint (app: HR 2 for days d+1 … d+90 after a poor rating on day d)
    and a null one (store) whose poor ratings are random plus, for 60 % of churners, one logged on
    the churn day itself (reverse causation)."""
    rng = np.random.default_rng(seed)
    app = rng.random((n, horizon)) < 0.004
    store = rng.random((n, horizon)) < 0.004
    csum = np.cumsum(app, axis=1)
    shifted = np.zeros_like(csum)
    shifted[:, 1:] = csum[:, :-1]                              # ratings up to day t − 1
    back = np.zeros_like(csum)
    back[:, window + 1:] = csum[:, :-window - 1]               # ratings up to day t − window − 1
    exposed_true = (shifted - back) > 0
    hazard = 0.0015 * np.where(exposed_true, 2.0, 1.0)
    churn_today = rng.random((n, horizon)) < hazard
    churned = churn_today.any(axis=1)
    churn_day = np.where(churned, churn_today.argmax(axis=1), horizon - 1)
    confess = churned & (rng.random(n) < 0.6)
    store[np.where(confess)[0], churn_day[confess]] = True
    return app, store, churned, churn_day


def _lag_cells(app, store, churned, churn_day, lag, window=90, pieces=(0, 90, 180, 270)):
    n, horizon = app.shape

    def exposed(r):
        c = np.cumsum(r, axis=1)
        hi = np.zeros_like(c)
        if lag == 0:
            hi = c
        else:
            hi[:, lag:] = c[:, :-lag]                           # ratings up to day t − lag
        lo = np.zeros_like(c)
        k = lag + window
        lo[:, k:] = c[:, :-k]                                   # ratings up to day t − lag − window
        return (hi - lo) > 0

    days = np.arange(horizon)
    at_risk = days[None, :] <= churn_day[:, None]
    event = churned[:, None] & (days[None, :] == churn_day[:, None])
    piece = np.asarray(pieces)[np.searchsorted(pieces, days, side="right") - 1]
    frame = pd.DataFrame({"piece": np.broadcast_to(piece, (n, horizon))[at_risk],
                          "poor_app": exposed(app)[at_risk].astype(int), "poor_store": exposed(store)[at_risk].astype(int),
                          "events": event[at_risk].astype(int)})
    return (frame.groupby(["piece", "poor_app", "poor_store"]).agg(events=("events", "sum"), person_days=("events", "size"))
            .reset_index())


def _pem_hr(cells: pd.DataFrame, exposures: list[str]) -> pd.DataFrame:
    X = pd.concat([pd.get_dummies(cells.piece, prefix="piece").astype(float), cells[exposures].astype(float)], axis=1)
    fit = sm.GLM(cells.events, X, family=sm.families.Poisson(), offset=np.log(cells.person_days)).fit()
    ci = fit.conf_int()
    return pd.DataFrame({"exposure": exposures, "hazard_ratio": np.exp(fit.params[exposures]).to_numpy(),
                         "ci_lower": np.exp(ci.loc[exposures, 0]).to_numpy(), "ci_upper": np.exp(ci.loc[exposures, 1]).to_numpy()})


def test_churn_day_ratings_at_null_touchpoint_trigger_lag_warning():
    sim = _simulate_days()
    tables = []
    for lag in (0, 1, 7, 30):
        hr = _pem_hr(_lag_cells(*sim, lag=lag), ["poor_app", "poor_store"])
        tables.append(hr.assign(lag_days=lag))
    table = pd.concat(tables, ignore_index=True)
    at = table.set_index(["exposure", "lag_days"])
    assert at.loc[("poor_store", 0), "hazard_ratio"] > 5                    # reverse causation at lag 0
    assert at.loc[("poor_store", 1), "ci_lower"] <= 1 <= at.loc[("poor_store", 1), "ci_upper"]   # default lag: null
    assert at.loc[("poor_app", 1), "ci_lower"] <= 2 <= at.loc[("poor_app", 1), "ci_upper"]       # true effect recovered
    flags = lag_sensitivity_flags(table).set_index("exposure")
    assert flags.loc["poor_store", "flag"]
    assert not flags.loc["poor_app", "flag"]                               # a real effect survives the lags


# =================================================================================================
# Concordance gains
# =================================================================================================


def _landmark(seed: int = 0, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"log_tenure": rng.normal(size=n), "csat": rng.normal(size=n), "ces": rng.normal(size=n),
                      "nps": rng.normal(size=n)})
    t = rng.exponential(1 / np.exp(0.8 * d.log_tenure + 0.8 * d.csat + 0.15 * d.ces))
    d["duration"], d["event"] = np.minimum(t, 1.5), (t < 1.5).astype(int)
    d.loc[rng.random(n) < 0.1, "nps"] = np.nan
    return d


def test_cox_solver_matches_statsmodels_breslow():
    from statsmodels.duration.hazard_regression import PHReg

    d = _landmark(1)
    X = d[["log_tenure", "csat"]].to_numpy()
    t = np.round(d.duration.to_numpy() * 20)                 # heavy ties
    ref = PHReg(t, X, status=d.event.to_numpy(), ties="breslow").fit().params
    np.testing.assert_allclose(cox_linear_predictor(X, t, d.event.to_numpy()), ref, rtol=1e-6)


def test_cox_solver_gives_a_term_constant_in_a_resample_no_weight():
    d = _landmark(2)
    X = np.column_stack([d[["log_tenure", "csat"]].to_numpy(), np.ones(len(d))])  # e.g. a level absent from a resample
    t, e = d.duration.to_numpy(), d.event.to_numpy()
    coef = cox_linear_predictor(X, t, e)
    assert coef[2] == 0
    np.testing.assert_array_equal(coef[:2], cox_linear_predictor(X[:, :2], t, e))


def test_concordance_gains_deterministic_common_sample_and_best():
    d = _landmark()
    args = (d, "duration", "event", ["log_tenure"], ["csat", "ces", "nps"])
    a = concordance_gains(*args, draws=40, seed=3)
    b = concordance_gains(*args, draws=40, seed=3)
    c = concordance_gains(*args, draws=40, seed=4)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    np.testing.assert_array_equal(a.gains, b.gains)
    assert not np.array_equal(a.gains, c.gains)
    assert a.n == int(d.nps.notna().sum())                    # common sample: rows with nps missing left out
    assert a.best == "csat" and a.summary.metric.iloc[0] == "csat"
    row = a.summary.set_index("metric").loc["csat"]
    assert row.rank_ci_lower == row.rank_ci_upper == 1 and row.share_ranked_first >= 0.975
    assert row.gain_ci_lower > 0


def test_concordance_no_best_when_metrics_are_indistinguishable():
    rng = np.random.default_rng(9)
    n = 400
    z = rng.normal(size=n)
    d = pd.DataFrame({"log_tenure": rng.normal(size=n), "m1": z + rng.normal(0, 0.3, n), "m2": z + rng.normal(0, 0.3, n)})
    t = rng.exponential(1 / np.exp(0.5 * d.log_tenure + 0.7 * z))
    d["duration"], d["event"] = np.minimum(t, 1.0), (t < 1.0).astype(int)
    res = concordance_gains(d, "duration", "event", ["log_tenure"], ["m1", "m2"], draws=60, seed=0)
    assert res.best is None
    assert (res.summary.rank_ci_lower == 1).all() and (res.summary.rank_ci_upper == 2).all()
    with pytest.raises(NotEstimable):
        concordance_gains(d.assign(event=0), "duration", "event", ["log_tenure"], ["m1"], draws=5)
