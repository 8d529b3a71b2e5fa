"""Key-driver analysis: OLS (HC3) against statsmodels, general dominance against brute force,
bootstrap against explicit resamples, and recovery of the demo generator's true NPS weights."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cxlib.analyses import drivers as kd
from cxlib.demo.truth import TRUE_NPS_WEIGHTS
from cxlib.errors import NotEstimable
from cxlib.features.ratings import survey_ratings
from cxlib.plots.drivers import importance_bars, importance_performance
from cxlib.results import RESULT_COLUMNS
from cxlib.stats.dominance import bootstrap_dominance, shapley_from_subsets, subset_r_squared, weighted_covariances


def _simulated(n: int = 3000, k: int = 4, seed: int = 3, missing: float = 0.05) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, 1))
    x = np.digitize(0.6 * shared + rng.standard_normal((n, k)), [-1.5, -0.5, 0.5, 1.5]) + 1.0
    w = np.linspace(1.0, 0.1, k)
    y = np.clip(np.round(5 + (x - 3) @ w + rng.normal(0, 1, n)), 0, 10)
    x[rng.random((n, k)) < missing] = np.nan
    names = [f"d{j}" for j in range(k)]
    return pd.DataFrame(x, columns=names).assign(nps=y), names


def _r2_lstsq(y: np.ndarray, x: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(y)), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    return 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))


def test_coefficients_match_statsmodels_on_complete_cases():
    df, names = _simulated()
    res = kd.key_drivers(df, names, bootstrap=0)
    cc = df.dropna()
    ref = smf.ols("nps ~ " + " + ".join(names), data=cc).fit(cov_type="HC3", use_t=True)
    got = res.summary.set_index("driver").loc[names]
    np.testing.assert_allclose(got["coefficient"], ref.params[names], rtol=1e-10)
    np.testing.assert_allclose(got["se"], ref.bse[names], rtol=1e-10)
    np.testing.assert_allclose(got["p_value"], ref.pvalues[names], rtol=1e-8, atol=1e-300)
    np.testing.assert_allclose(got[["ci_lower", "ci_upper"]], ref.conf_int().loc[names], rtol=1e-10)
    assert res.n_used == len(cc) and res.n_dropped == len(df) - len(cc) > 0
    assert res.r_squared == pytest.approx(ref.rsquared, abs=1e-12)


def test_importances_are_exact_shapley_values_and_sum_to_r_squared():
    df, names = _simulated(k=4)
    res = kd.key_drivers(df, names, bootstrap=0)
    cc = df.dropna()
    y, x = cc["nps"].to_numpy(), cc[names].to_numpy()
    # Brute force: average each driver's R² increment over all 4! orderings, refitting every time.
    r2 = {(): 0.0}
    for size in range(1, 5):
        for s in itertools.combinations(range(4), size):
            r2[s] = _r2_lstsq(y, x[:, list(s)])
    shap = np.zeros(4)
    for perm in itertools.permutations(range(4)):
        for i, j in enumerate(perm):
            shap[j] += r2[tuple(sorted(perm[: i + 1]))] - r2[tuple(sorted(perm[:i]))]
    shap /= 24
    got = res.summary.set_index("driver").loc[names, "importance"].to_numpy()
    np.testing.assert_allclose(got, shap, atol=1e-12)
    assert abs(got.sum() - res.r_squared) < 1e-9


@pytest.mark.parametrize("k, exact_max", [(1, 12), (7, 12), (6, 3)])
def test_importances_sum_to_r_squared_exact_and_sampled(k, exact_max):
    df, names = _simulated(n=1500, k=k, seed=k)
    res = kd.key_drivers(df, names, bootstrap=20, seed=1, exact_max=exact_max)
    assert abs(res.summary["importance"].sum() - res.r_squared) < 1e-9
    assert res.method.startswith("exact" if k <= exact_max else "sampled")


def test_sampled_importance_approximates_exact_and_says_so():
    df, names = _simulated(n=2000, k=5)
    exact = kd.key_drivers(df, names, bootstrap=0).summary.set_index("driver")["importance"]
    sampled = kd.key_drivers(df, names, bootstrap=0, exact_max=4)
    assert any("random orderings" in w for w in sampled.warnings)
    np.testing.assert_allclose(sampled.summary.set_index("driver")["importance"].loc[exact.index], exact, atol=2e-3)


def test_weighted_covariance_equals_an_explicit_resample():
    df, names = _simulated(n=400, k=3, missing=0)
    z = df[["nps", *names]].to_numpy()
    z = z - z.mean(axis=0)
    draws = np.random.default_rng(5).integers(0, len(z), size=(3, len(z)))
    w = np.stack([np.bincount(d, minlength=len(z)) for d in draws]).astype(float)
    cov = weighted_covariances(z, w)
    for b in range(3):
        rows = np.repeat(np.arange(len(z)), w[b].astype(int))
        resample = df.iloc[rows]
        r2 = subset_r_squared(cov[b])[-1]
        assert r2 == pytest.approx(_r2_lstsq(resample["nps"].to_numpy(), resample[names].to_numpy()), abs=1e-12)


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate():
    df, names = _simulated(n=2000, k=4)
    a = kd.key_drivers(df, names, bootstrap=200, seed=11).summary
    b = kd.key_drivers(df, names, bootstrap=200, seed=11).summary
    c = kd.key_drivers(df, names, bootstrap=200, seed=12).summary
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["importance_ci_lower"], c["importance_ci_lower"])
    assert (a["importance_ci_lower"] <= a["importance"]).all() and (a["importance"] <= a["importance_ci_upper"]).all()
    assert (a["rank_ci_lower"] <= a["rank"]).all() and (a["rank"] <= a["rank_ci_upper"]).all()
    assert set(a["rank_ci_lower"]) <= {1, 2, 3, 4}


def test_unusable_drivers_are_kept_with_a_note_never_zeroed():
    df, names = _simulated(n=1000, k=3)
    df["empty"] = np.nan
    df["flat"] = 4.0
    res = kd.key_drivers(df, [*names, "empty", "flat"], bootstrap=10)
    rows = res.summary.set_index("driver")
    for d in ("empty", "flat"):
        assert rows.loc[d, ["coefficient", "importance"]].isna().all()
        assert rows.loc[d, "note"] and rows.loc[d, "quadrant"] == "not estimated"
        assert any(d in w for w in res.warnings)
    assert rows.loc["flat", "performance"] == 4.0 and np.isnan(rows.loc["empty", "performance"])
    assert len(res.to_frame()) == 5 and list(res.to_frame().columns) == RESULT_COLUMNS["drivers"]
    # drivers.csv carries the quadrant, so that nothing downstream re-derives it
    assert res.to_frame()["quadrant"].tolist() == res.summary["quadrant"].tolist()
    # the constant column did not cost complete cases beyond those of the usable drivers
    assert res.n_used == len(df.dropna(subset=["nps", *names]))


def test_collinear_drivers_fail_with_a_clear_message_and_high_vif_warns():
    df, names = _simulated(n=800, k=3, missing=0)
    df["sum"] = df["d0"] + df["d1"]
    with pytest.raises(NotEstimable, match="collinear.*d0.*d1"):
        kd.key_drivers(df, [*names, "sum"], bootstrap=0)
    rng = np.random.default_rng(0)
    df["near"] = df["d0"] + rng.normal(0, 0.2, len(df))
    res = kd.key_drivers(df, [*names, "near"], bootstrap=0)
    assert res.summary.set_index("driver").loc["near", "vif"] > 5
    assert any("variance inflation" in w and "near" in w for w in res.warnings)


def test_data_that_cannot_carry_a_regression_raise_not_estimable():
    df, names = _simulated(n=400, k=3)
    with pytest.raises(NotEstimable, match="too few to fit") as exc:
        kd.key_drivers(df.head(12), names, bootstrap=0)
    assert exc.value.model == "drivers"
    with pytest.raises(NotEstimable, match="fewer than min_cell_size"):
        kd.key_drivers(df, names, bootstrap=0, min_responses=len(df) + 1)
    with pytest.raises(NotEstimable, match="None of the survey drivers"):
        kd.key_drivers(df.assign(d0=np.nan, d1=np.nan, d2=np.nan), names, bootstrap=0)
    with pytest.raises(ValueError, match="No survey drivers are named"):
        kd.key_drivers(df, [], bootstrap=0)


def test_priorities_follow_the_median_rule():
    summary = pd.DataFrame({"driver": list("abcde"), "importance": [0.4, 0.3, 0.2, 0.1, 0.05],
                            "performance": [3.0, 4.0, 2.0, 3.5, 4.5]})
    q = kd.quadrants(summary).set_index("driver")
    assert q["quadrant"].to_dict() == {"a": "priority", "b": "maintain", "c": "low priority",
                                       "d": "possible overkill", "e": "possible overkill"}


def test_demo_ranking_matches_true_weights(workbook_10k):
    p = workbook_10k.params
    df = survey_ratings(workbook_10k.surveys, p.survey_drivers, p.as_of, p.survey_since)
    res = kd.key_drivers(df, p.survey_drivers, bootstrap=100, seed=p.seed, counts="responses")
    truth = sorted(TRUE_NPS_WEIGHTS, key=TRUE_NPS_WEIGHTS.get, reverse=True)
    assert res.summary["driver"].tolist() == truth
    rows = res.summary.set_index("driver")
    # the rank intervals are tight at this sample size: every driver's rank is pinned
    assert (rows["rank_ci_lower"] == rows["rank_ci_upper"]).all()
    for d, w in TRUE_NPS_WEIGHTS.items():
        assert rows.loc[d, "ci_lower"] < w * 1.03 and rows.loc[d, "ci_upper"] > w * 0.97
    assert "sat_billing" in res.priorities()


def test_survey_window(workbook_10k):
    p = workbook_10k.params
    all_rows = survey_ratings(workbook_10k.surveys, p.survey_drivers, p.as_of)
    since = survey_ratings(workbook_10k.surveys, p.survey_drivers, p.as_of, since=dt.date(2026, 1, 1))
    early = survey_ratings(workbook_10k.surveys, p.survey_drivers, dt.date(2025, 12, 31))
    n = {name: int(df["responses"].sum()) for name, df in [("all", all_rows), ("since", since), ("early", early)]}
    assert n["since"] + n["early"] == n["all"] and 0 < n["since"] < n["all"]
    assert list(all_rows.columns) == ["nps", *p.survey_drivers, "responses"]
    assert not all_rows.duplicated(["nps", *p.survey_drivers]).any()


def test_counted_answers_give_exactly_the_result_of_the_responses(workbook_10k):
    """The engine's counted answers and the raw responses, in any order, give the same tables."""
    p = workbook_10k.params
    counted = survey_ratings(workbook_10k.surveys, p.survey_drivers, p.as_of, p.survey_since)
    raw = workbook_10k.surveys.execute()
    day = raw["timestamp"].dt.date
    since = p.survey_since or dt.date.min
    rows = raw.loc[(day <= p.as_of) & (day >= since), ["nps", *p.survey_drivers]].astype(float)
    assert len(rows) == counted["responses"].sum() > 3 * len(counted)
    a = kd.key_drivers(counted, p.survey_drivers, bootstrap=50, seed=3, counts="responses")
    b = kd.key_drivers(rows.sample(frac=1, random_state=1), p.survey_drivers, bootstrap=50, seed=3)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    assert (a.n_used, a.n_responses, a.r_squared) == (b.n_used, b.n_responses, b.r_squared)


def test_bootstrap_over_answer_counts_matches_a_bootstrap_over_responses():
    """Multinomial counts of distinct answers have the law of resampled responses: same spread."""
    df, names = _simulated(n=1500, k=3, missing=0)
    y, x = df["nps"].to_numpy(), df[names].to_numpy()
    rng = np.random.default_rng(8)
    replicates = 1000
    by_rows = np.empty((replicates, 3))
    for b in range(replicates):
        i = rng.integers(0, len(y), len(y))
        r2 = [_r2_lstsq(y[i], x[i][:, [j for j in range(3) if mask >> j & 1]]) if mask else 0.0
              for mask in range(8)]
        by_rows[b] = shapley_from_subsets(np.array(r2))
    patterns, c = kd.answer_patterns(df, ["nps", *names])
    z = patterns.to_numpy() - (c @ patterns.to_numpy()) / c.sum()
    by_counts = bootstrap_dominance(z, replicates, np.random.default_rng(9), counts=c)
    assert len(patterns) < len(df) / 3
    # the standard deviations of two independent 1,000-replicate bootstraps agree within ~3 % (1 SE)
    np.testing.assert_allclose(by_counts.std(axis=0), by_rows.std(axis=0), rtol=0.12)
    np.testing.assert_allclose(by_counts.mean(axis=0), by_rows.mean(axis=0),
                               atol=4 * by_rows.std(axis=0).max() / np.sqrt(replicates))


def test_plots_draw_only_estimated_drivers():
    df, names = _simulated(n=1000, k=3)
    df["empty"] = np.nan
    res = kd.key_drivers(df, [*names, "empty"], bootstrap=20)
    fig = importance_performance(res.summary)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert set(names) <= labels and "empty" not in labels
    fig2 = importance_bars(res.summary)
    assert [t.get_text() for t in fig2.axes[0].get_yticklabels()] == res.summary["driver"].iloc[:3].tolist()
