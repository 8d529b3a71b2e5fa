"""Issue 14: the package's Cox solver (:mod:`cxlib.stats.partial_likelihood`) against R's published
``coxph`` output and statsmodels' independent ``PHReg``, with Efron and Breslow ties and strata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from statsmodels.duration.hazard_regression import PHReg

from cxlib.stats.partial_likelihood import NotConverged, fit_partial_likelihood

ROSSI_TERMS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)
# (Fox & Weisberg 2011, appendix "Cox Proportional-Hazards Regression for Survival Data in R")
R_COEF = [-0.37942, -0.05744, 0.31390, -0.14980, -0.43370, -0.08487, 0.09150]
R_SE = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]
R_LR = 33.27  # likelihood-ratio test, 7 df


def test_rossi_equals_r_coxph():
    rossi = load_rossi()
    fit = fit_partial_likelihood(rossi[ROSSI_TERMS], rossi["week"], rossi["arrest"])
    np.testing.assert_allclose(fit.coef, R_COEF, atol=5e-6)
    np.testing.assert_allclose(fit.se, R_SE, atol=5e-6)
    assert round(2 * (fit.loglik - fit.loglik_null), 2) == R_LR
    assert (fit.n, fit.n_events) == (432, 114)


def _data(rng: np.random.Generator, n: int):
    """Mixed covariates, integer days with heavy ties or continuous times, some censoring, strata."""
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.integers(0, 4, n) == 2,
                         rng.gamma(2.0, 50.0, n)])
    risk = np.exp(X @ [0.4, -0.5, 0.3, 0.004])
    t = rng.exponential(200 / risk)
    if rng.random() < 0.5:
        t = np.ceil(t)  # whole days: many events share a day
    horizon = np.quantile(t, rng.uniform(0.4, 0.95))
    return X, np.minimum(t, horizon), (t < horizon).astype(int), rng.integers(0, 3, n)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("seed", range(4))
def test_equals_statsmodels_phreg(seed, ties):
    rng = np.random.default_rng(seed)
    X, t, e, s = _data(rng, 3000)
    stratified = seed % 2 == 1
    ref = PHReg(t, X, status=e, ties=ties, strata=s if stratified else None).fit()
    fit = fit_partial_likelihood(X, t, e, strata=s if stratified else None, ties=ties)
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.se, ref.bse, rtol=1e-8)
    assert fit.loglik == pytest.approx(ref.llf, rel=1e-12)


def test_row_order_and_strata_labels_do_not_matter():
    rng = np.random.default_rng(11)
    X, t, e, s = _data(rng, 2000)
    labels = np.array(["north", "south", "west"])[s]
    a = fit_partial_likelihood(X, t, e, strata=labels)
    perm = rng.permutation(len(t))
    b = fit_partial_likelihood(X[perm], t[perm], e[perm], strata=s[perm])
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-8)


def test_a_stratum_without_events_adds_nothing():
    rng = np.random.default_rng(3)
    X, t, e, s = _data(rng, 1500)
    e = np.where(s == 2, 0, e)
    with_empty = fit_partial_likelihood(X, t, e, strata=s)
    keep = s != 2
    without = fit_partial_likelihood(X[keep], t[keep], e[keep], strata=s[keep])
    np.testing.assert_allclose(with_empty.coef, without.coef, rtol=1e-12)
    assert with_empty.loglik == pytest.approx(without.loglik, rel=1e-14)


def test_recovers_a_simulated_hazard_ratio():
    rng = np.random.default_rng(5)
    n = 40_000
    x = rng.integers(0, 2, n)
    t = np.ceil(rng.exponential(300 / np.exp(np.log(1.8) * x)))  # daily ties, true HR 1.8
    fit = fit_partial_likelihood(x[:, None], np.minimum(t, 365), (t < 365).astype(int))
    lo, hi = np.exp(fit.coef[0] + np.array([-1.96, 1.96]) * fit.se[0])
    assert lo < 1.8 < hi and hi - lo < 0.1


def test_singular_design_and_bad_arguments_are_stated():
    rng = np.random.default_rng(2)
    x = rng.normal(size=200)
    t, e = rng.exponential(size=200), np.ones(200)
    with pytest.raises(NotConverged, match="singular") as info:
        fit_partial_likelihood(np.column_stack([x, 2 * x]), t, e)
    assert info.value.iterations == 0
    with pytest.raises(ValueError, match="ties must be one of efron, breslow"):
        fit_partial_likelihood(x[:, None], t, e, ties="exact")
    with pytest.raises(ValueError, match="one length"):
        fit_partial_likelihood(x[:, None], t[:-1], e)


def test_fit_cox_stratified_equals_phreg_on_customers():
    """The covariate models: :func:`cxlib.stats.cox.fit_cox` codes, stratifies and fits as PHReg does."""
    from types import SimpleNamespace

    from cxlib.stats.cox import fit_cox

    rng = np.random.default_rng(8)
    n = 4000
    frame = pd.DataFrame({"plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
                          "region": rng.choice(["n", "s"], n), "revenue": rng.gamma(2.0, 30.0, n)})
    risk = np.exp(0.5 * (frame["plan"] == "plus") - 0.4 * (frame["plan"] == "pro") + 0.005 * frame["revenue"])
    t = np.ceil(rng.exponential(400 / risk))
    frame["duration_days"], frame["churned"] = np.minimum(t, 365), (t < 365).astype(int)
    plan = SimpleNamespace(name="plan", kind="categorical", levels=("basic", "plus", "pro"),
                           terms=lambda cells=False: ["plan[plus]", "plan[pro]"])
    region = SimpleNamespace(name="region", kind="categorical", levels=("n", "s"),
                             terms=lambda cells=False: ["region[s]"])
    revenue = SimpleNamespace(name="revenue", kind="numeric", levels=(), terms=lambda cells=False: ["revenue"])
    res = fit_cox(frame, [plan, region, revenue], strata=["region"])
    X = np.column_stack([frame["plan"] == "plus", frame["plan"] == "pro", frame["revenue"]]).astype(float)
    ref = PHReg(frame["duration_days"].to_numpy(float), X, status=frame["churned"].to_numpy(),
                ties="efron", strata=frame["region"].to_numpy()).fit()
    assert list(res.summary["term"]) == ["plan[plus]", "plan[pro]", "revenue"]
    np.testing.assert_allclose(res.summary["coef"], ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.summary["se"], ref.bse, rtol=1e-8)
