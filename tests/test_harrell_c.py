"""Issue 14: the vectorized Harrell's C equals lifelines' concordance index exactly, and the
in-sample C of the validity and covariate models (fitted by :mod:`cxlib.stats.partial_likelihood`)
equals lifelines' ``CoxPHFitter.concordance_index_`` of the same model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index
from statsmodels.duration.hazard_regression import PHReg

from cxlib.analyses import validity as V
from cxlib.errors import NotEstimable
from cxlib.stats.concordance import concordance, harrell_c


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times with many or few ties, integer or float; censoring from none to all; scores with ties."""
    kind = rng.integers(4)
    if kind == 0:  # integer days (an integer array), heavy ties
        t = rng.integers(0, rng.integers(1, max(2, n // 4) + 1), n)
    elif kind == 1:  # continuous
        t = rng.exponential(size=n)
    elif kind == 2:  # continuous, rounded to a coarse grid
        t = np.round(rng.exponential(size=n), 1)
    else:  # one time for all but a few
        t = np.where(rng.random(n) < 0.9, 5.0, rng.integers(0, 10, n))
    share = rng.choice([0.0, 1.0, *rng.random(3)])  # share of events
    e = (rng.random(n) < share).astype(int)
    kind = rng.integers(3)
    if kind == 0:
        s = rng.integers(0, rng.integers(1, 6), n).astype(float)
    elif kind == 1:
        s = rng.normal(size=n)
    else:  # continuous with blocks of exactly tied scores
        s = np.where(rng.random(n) < 0.3, 0.25, rng.normal(size=n))
    return t, e, s


def _pairwise(t, e, s) -> float:
    """Harrell's C by looking at every ordered pair (i earlier, j later)."""
    ti, tj = t[:, None], t[None, :]
    ei, ej = e[:, None].astype(bool), e[None, :].astype(bool)
    comparable = ei & ((ti < tj) | ((ti == tj) & ~ej))
    si, sj = s[:, None], s[None, :]
    pairs, concordant, tied = int(comparable.sum()), int((comparable & (sj > si)).sum()), int((comparable & (sj == si)).sum())
    return (concordant + tied / 2) / pairs


@pytest.mark.parametrize("seed", range(8))
def test_equals_lifelines_exactly(seed):
    rng = np.random.default_rng(seed)
    compared = 0
    for _ in range(40):
        n = int(np.exp(rng.uniform(0, np.log(3000))))  # 1 to 3000, most of them small
        t, e, s = _data(rng, n)
        try:
            expected = concordance_index(t, s, e)
        except ZeroDivisionError:
            with pytest.raises(NotEstimable):
                harrell_c(t, e, s)
            continue
        assert harrell_c(t, e, s) == expected, (n, t, e, s)
        compared += 1
    assert compared >= 20  # the rest: no comparable pair (all censored, n = 1), checked to raise


def test_equals_a_pairwise_count():
    rng = np.random.default_rng(100)
    for _ in range(200):
        t, e, s = _data(rng, int(rng.integers(2, 200)))
        if not (e != 0).any():
            continue
        try:
            expected = _pairwise(t, e, s)
        except ZeroDivisionError:
            continue
        assert harrell_c(t, e, s) == expected


def test_conventions():
    # a higher score for a later time is concordant; the same times with the score negated give 1 − C
    t, e, s = np.arange(6.0), np.ones(6), np.arange(6.0)
    assert harrell_c(t, e, s) == 1.0 and harrell_c(t, e, -s) == 0.0
    assert harrell_c(t, e, np.zeros(6)) == 0.5
    # tied times: an event and a censoring are comparable (the event earlier), two events are not
    assert harrell_c([1, 1], [1, 0], [0.0, 1.0]) == 1.0
    with pytest.raises(NotEstimable):
        harrell_c([1, 1], [1, 1], [0.0, 1.0])
    with pytest.raises(NotEstimable):
        harrell_c([1.0, 2.0], [0, 0], [0.0, 1.0])
    with pytest.raises(NotEstimable):
        harrell_c([], [], [])


def test_rejects_nan_and_mismatched_shapes():
    with pytest.raises(ValueError):
        harrell_c([1.0, np.nan], [1, 1], [0.0, 1.0])
    with pytest.raises(ValueError):
        harrell_c([1.0, 2.0], [1, 1], [0.0])


def test_large_sample_with_day_ties():
    rng = np.random.default_rng(7)
    n = 20_000
    t = rng.integers(1, 366, n).astype(float)
    e = (rng.random(n) < 0.3).astype(int)
    s = np.round(rng.normal(size=n), 2)
    assert harrell_c(t, e, s) == concordance_index(t, s, e)


@pytest.mark.parametrize("seed", range(3))
def test_in_sample_c_equals_lifelines_fit(seed):
    rng = np.random.default_rng(seed)
    n = 500
    df = pd.DataFrame({"x": rng.normal(size=n), "plan": rng.integers(0, 2, n).astype(float),
                       "level": rng.integers(1, 6, n).astype(float)})
    t = rng.exponential(300 * np.exp(-0.5 * df["x"] - 0.3 * df["plan"]))
    df["time"], df["event"] = np.minimum(t, 365).round(), (t < 365).astype(int)
    for cols in (["x", "plan", "level"], ["plan"], ["level"]):  # the last two with heavily tied predictions
        fit, c = V._fit_cox(df[[*cols, "time", "event"]])
        # statsmodels' PHReg for the estimates: lifelines stops Newton once its step is below 1e-7,
        # up to ~1e-5 short of the maximum; its concordance is the same all the same
        ref = PHReg(df["time"].to_numpy(), df[cols].to_numpy(), status=df["event"].to_numpy(), ties="efron").fit()
        np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-7, atol=1e-9)
        assert c == CoxPHFitter().fit(df[[*cols, "time", "event"]], "time", "event").concordance_index_


@pytest.mark.parametrize("seed", range(3))
def test_stratified_fit_counts_pairs_within_strata_as_lifelines(seed):
    """The covariate models' stratified Cox fits (``fit_stratified``): pairs are counted within each stratum."""
    rng = np.random.default_rng(seed)
    n = 800
    df = pd.DataFrame({"x": rng.normal(size=n), "region": rng.integers(0, 4, n), "level": rng.integers(1, 4, n).astype(float)})
    t = rng.exponential(200 * np.exp(-0.4 * df["x"] - 0.2 * df["region"]))
    df["time"], df["event"] = np.minimum(t, 365).round(), (t < 365).astype(int)
    df.loc[df.index[:1], "region"] = 9  # a stratum of one customer: no pair, skipped as lifelines does
    for strata in (["region"], ["region", "level"]):
        fit = CoxPHFitter().fit(df, "time", "event", strata=strata)
        score = df[fit.params_.index].to_numpy() @ fit.params_.to_numpy()
        stratum = df[strata].astype(str).agg("|".join, axis=1)
        assert concordance(df["time"], df["event"], score, stratum) == fit.concordance_index_
