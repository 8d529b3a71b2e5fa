"""Key drivers of relationship NPS: OLS with HC3 errors and general-dominance importance.

The outcome is the 0–10 likelihood-to-recommend answer of a relationship survey; the drivers are
the 1–5 attribute ratings named in ``survey_drivers`` (one row per distinct answer with its count of
responses, :func:`cxlib.features.ratings.survey_ratings`, or one row per response: the result is
the same). Two questions are answered per driver:

* **Effect** — the OLS coefficient (points on the 0–10 recommend scale per rating point, the other drivers held fixed) with a
  heteroscedasticity-robust HC3 interval. NPS is bounded and its residual spread changes with the
  ratings, so classical OLS errors would be too narrow.
* **Importance** — general dominance (Budescu 1993), the Shapley decomposition of R²: each driver's
  increment to R² averaged over all 2^(k−1) subsets of the other drivers (weighted by subset size).
  The weights sum to the model's R² exactly. Correlated drivers share credit instead of one of them
  taking all of it, which is why this is preferred to ranking standardized coefficients.

Intervals for importance and rank come from a seeded nonparametric bootstrap over survey responses,
drawn as multinomial counts of the distinct answers and computed from weighted covariance
matrices without refitting (:mod:`cxlib.stats.dominance`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = rng.integers(1, 6, size=(2000, 3)).astype(float)
>>> df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(nps=lambda d: 5 + d.a + 0.5 * d.b + rng.normal(0, 1, 2000))
>>> res = key_drivers(df, ["a", "b", "c"], bootstrap=50, seed=1)
>>> list(res.summary["driver"])
['a', 'b', 'c']
>>> bool(abs(res.summary["importance"].sum() - res.r_squared) < 1e-9)
True
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.errors import NotEstimable
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.dominance import (
    antithetic_orderings,
    bootstrap_dominance,
    dominance_weights,
    percentile_interval,
    ranks,
)
from cxlib.stats.ols import OLSFit, fit_ols_hc3

EXACT_MAX_DRIVERS = 12  # 2^12 = 4,096 subsets per replicate; beyond that, sampled orderings
SAMPLED_ORDERINGS = 1000
VIF_WARN = 5.0
MIN_RESPONSES_PER_DRIVER = 10  # complete responses beyond the number of drivers a regression needs


@result
class KeyDriverResult(Result):
    """Key-driver analysis of NPS: effects, importances, intervals and diagnostics.

    Attributes
    ----------
    summary : DataFrame
        One row per driver named in the params (also those that could not be used, with a note):
        ``driver, coefficient, se, ci_lower, ci_upper, p_value, importance, importance_ci_lower,
        importance_ci_upper, importance_share, rank, rank_ci_lower, rank_ci_upper, vif, performance,
        performance_ci_lower, performance_ci_upper, n_rated, note, quadrant, priority``. Sorted by
        importance, largest first.
    r_squared : float
        R² of the OLS fit (equals the sum of the importances).
    n_responses, n_used, n_dropped : int
        Survey responses in the window, complete cases used, responses dropped for a missing value.
    bootstrap : int
        Bootstrap replicates behind the importance and rank intervals (0: no intervals).
    method : str
        ``"exact"`` (all subsets) or a description of the sampled approximation.
    warnings : tuple of str
        Plain-language problems the report must show (collinearity, excluded drivers, ...).
    ols : cxlib.stats.ols.OLSFit
        The fitted OLS model (not part of ``to_dict()``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame(rng.integers(1, 6, size=(300, 2)).astype(float), columns=["a", "b"])
    >>> res = key_drivers(df.assign(nps=df.a + rng.normal(0, 1, 300)), ["a", "b"], bootstrap=0)
    >>> res.to_frame().columns[-1], res.n_used
    ('quadrant', 300)
    """

    title: ClassVar[str] = "Key drivers of NPS"
    summary: pd.DataFrame
    r_squared: float
    n_responses: int
    n_used: int
    n_dropped: int
    bootstrap: int
    method: str
    warnings: tuple[str, ...] = ()
    ols: OLSFit | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The ``drivers.csv`` contract table (the fixed columns, then ``quadrant``)."""
        return self.summary[RESULT_COLUMNS["drivers"]].reset_index(drop=True)

    def priorities(self) -> list[str]:
        """Drivers with above-median importance and below-median performance, most important first.

        Examples
        --------
        >>> s = quadrants(pd.DataFrame({"driver": ["a", "b", "c"], "importance": [0.3, 0.2, 0.1],
        ...                             "performance": [2.5, 4.0, 3.0]}))
        >>> KeyDriverResult(s, 0.6, 100, 100, 0, 0, "exact").priorities()
        ['a']
        """
        return self.summary.loc[self.summary["priority"], "driver"].tolist()

    def _lines(self) -> list[str]:
        fit = (f"OLS (HC3) of NPS on {len(self.summary)} drivers: n = {self.n_used:,} ({self.n_dropped:,} dropped), "
               f"R² = {self.r_squared:.3f}, importance {self.method}, {self.bootstrap} bootstrap replicates.")
        return [fit, *self.warnings]


def answer_patterns(df: pd.DataFrame, columns: list[str], counts: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct rows of ``df[columns]`` in a fixed order, and how many responses gave each.

    Answers are small integers, so the distinct rows are few; every statistic of the analysis is
    a sum over responses in which identical answers contribute identical terms.

    Examples
    --------
    >>> df = pd.DataFrame({"nps": [9.0, 3.0, 9.0, np.nan], "a": [5.0, 2.0, 5.0, 4.0]})
    >>> patterns, c = answer_patterns(df, ["nps", "a"])
    >>> patterns.assign(responses=c)
       nps    a  responses
    0  3.0  2.0          1
    1  9.0  5.0          2
    2  NaN  4.0          1
    """
    if counts is None:
        grouped = df.groupby(columns, dropna=False, sort=False).size()
        df = grouped.index.to_frame(index=False).assign(_count=grouped.to_numpy())
        counts = "_count"
    df = df[df[counts] > 0].sort_values(columns, na_position="last", kind="stable")
    return df[columns].astype("float64").reset_index(drop=True), df[counts].to_numpy(np.int64)


def _usable(patterns: pd.DataFrame, drivers: list[str], outcome: str) -> tuple[list[str], dict[str, str], pd.Series]:
    """Drop all-missing and constant drivers (saying why); the mask of complete patterns."""
    notes: dict[str, str] = {}
    use = [d for d in drivers if patterns[d].notna().any()]
    notes.update({d: "no ratings in the window" for d in drivers if d not in use})
    while True:
        complete = patterns[[outcome, *use]].notna().all(axis=1)
        constant = [d for d in use if patterns.loc[complete, d].nunique() < 2]
        if not constant:
            return use, notes, complete
        for d in constant:
            notes[d] = "the same rating on every complete response (no variation to learn from)"
        use = [d for d in use if d not in constant]


def _check_collinearity(corr: np.ndarray, names: list[str]) -> None:
    eigval, eigvec = np.linalg.eigh(corr)
    if eigval[0] < 1e-10:
        involved = [names[i] for i in np.nonzero(np.abs(eigvec[:, 0]) > 1e-6)[0]]
        raise NotEstimable("The driver ratings are perfectly collinear (one is an exact linear combination of "
                           f"others: {', '.join(involved)}); remove one of them from survey_drivers.", model="drivers")


def key_drivers(df: pd.DataFrame, drivers: list[str], outcome: str = "nps", bootstrap: int = 500,
                seed: int = 0, level: float = 0.95, exact_max: int = EXACT_MAX_DRIVERS,
                min_responses: int = 1, counts: str | None = None) -> KeyDriverResult:
    """Key-driver analysis: OLS with HC3 errors, general dominance with bootstrap intervals, VIFs.

    Parameters
    ----------
    df : DataFrame
        The outcome and the driver ratings: one row per survey response, or one row per distinct
        answer with its number of responses in the column ``counts``
        (:func:`cxlib.features.ratings.survey_ratings`). Both give the same result.
    drivers : list of str
        The driver columns, in the params' order.
    outcome : str
        The outcome column (0–10 NPS answer).
    bootstrap : int
        Nonparametric bootstrap replicates (resampling responses) for importance and rank
        intervals; 0 skips them.
    seed : int
        Seed of the bootstrap (``numpy.random.default_rng``) and of any sampled orderings.
    level : float
        Confidence level of all intervals.
    exact_max : int
        Up to this many drivers, importance is exact over all subsets; above it, it is averaged
        over ``SAMPLED_ORDERINGS`` random orderings (stated in ``method`` and ``warnings``).
    min_responses : int
        Fewest complete responses the result may rest on (``min_cell_size``): below it nothing is
        published.
    counts : str, optional
        Column of ``df`` with the number of responses per row; None when each row is one response.

    Returns
    -------
    KeyDriverResult

    Raises
    ------
    ValueError
        When no driver is named (a params problem).
    NotEstimable
        When no driver is usable, too few complete responses remain (fewer than the drivers + 10,
        or than ``min_responses``), or the drivers are perfectly collinear.

    Notes
    -----
    Everything is computed on the distinct answers weighted by their counts
    (:func:`answer_patterns`), which equals the computation on the responses exactly
    (:mod:`cxlib.stats.ols`); the bootstrap draws each resample's counts of every distinct answer
    from their multinomial distribution (:func:`cxlib.stats.dominance.bootstrap_dominance`).

    OLS intervals and p-values use HC3 standard errors with the t distribution (n − k − 1 degrees
    of freedom). The bootstrap resamples responses: a customer who answered twice counts as two
    independent responses, which the intervals do not correct for.

    Complete cases: a response missing the outcome or any usable driver is dropped, and the count
    is reported. A driver with no ratings at all, or with one value on every complete response, is
    not estimable; it stays in the summary with empty estimates and a note (never a silent zero).
    Performance is the driver's mean rating over all responses that rated it (t interval).
    The importance interval is the bootstrap percentile interval; the rank interval the percentile
    interval of the driver's rank (1 = most important) across replicates.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame(rng.integers(1, 6, size=(500, 2)).astype(float), columns=["sat_a", "sat_b"])
    >>> df["nps"] = 2 * df["sat_a"] + df["sat_b"] + rng.normal(0, 1, 500)
    >>> res = key_drivers(df, ["sat_a", "sat_b"], bootstrap=100, seed=1)
    >>> res.to_frame()[["driver", "quadrant"]]
      driver      quadrant
    0  sat_a      maintain
    1  sat_b  low priority
    >>> key_drivers(df.head(5), ["sat_a", "sat_b"])
    Traceback (most recent call last):
    ...
    cxlib.errors.NotEstimable: Only 5 complete survey responses for 2 drivers: too few to fit a regression.
    """
    drivers = list(drivers)
    if not drivers:
        raise ValueError("No survey drivers are named: set survey_drivers in the params file.")
    patterns, c = answer_patterns(df, [outcome, *drivers], counts)
    use, notes, complete = _usable(patterns, drivers, outcome)
    warnings = [f"Driver {d} is left out of the model: {why}." for d, why in notes.items()]
    k = len(use)
    if k == 0:
        raise NotEstimable("None of the survey drivers can be used: "
                           + "; ".join(f"{d}: {w}" for d, w in notes.items()) + ".", model="drivers")
    n_responses = int(c.sum())
    cc, c_cc = patterns.loc[complete, [outcome, *use]].to_numpy(float), c[complete.to_numpy()]
    n = int(c_cc.sum())
    if n < k + MIN_RESPONSES_PER_DRIVER:
        raise NotEstimable(f"Only {n:,} complete survey responses for {k} drivers: too few to fit a regression.",
                           model="drivers")
    if n < min_responses:
        raise NotEstimable(f"Only {n:,} complete survey responses: fewer than min_cell_size, so the key drivers "
                           "are not shown.", model="drivers")

    # Centring first keeps the cross-products well conditioned; R² does not depend on location.
    z = cc - (c_cc @ cc) / n
    cov = z.T @ (z * c_cc[:, None]) / n
    sd_x = np.sqrt(np.diag(cov)[1:])
    corr_x = cov[1:, 1:] / np.outer(sd_x, sd_x)
    _check_collinearity(corr_x, use)
    vif = np.diag(np.linalg.inv(corr_x))
    for d, v in zip(use, vif):
        if v > VIF_WARN:
            warnings.append(f"Driver {d} has a variance inflation factor of {v:.1f} (above {VIF_WARN:g}): "
                            "it overlaps strongly with other drivers, so its coefficient is imprecise.")

    ols = fit_ols_hc3(cc[:, 0], cc[:, 1:], c_cc)
    ci = ols.conf_int(level)
    rng = np.random.default_rng(seed)
    orderings = None
    if k <= exact_max:
        method = f"exact (all {2 ** k:,} subsets)"
    else:
        orderings = antithetic_orderings(rng, k, SAMPLED_ORDERINGS)
        method = f"sampled ({SAMPLED_ORDERINGS:,} random orderings of the {k} drivers, in antithetic pairs)"
        warnings.append(f"With {k} drivers (more than {exact_max}) the importances are averaged over "
                        f"{SAMPLED_ORDERINGS:,} random orderings instead of all subsets: they still sum to R², "
                        "but the split between drivers carries some sampling noise.")
    importance = dominance_weights(cov, orderings)
    r_squared = ols.rsquared

    boot = bootstrap_dominance(z, bootstrap, rng, orderings, counts=c_cc)
    if bootstrap:
        imp_lo, imp_hi = percentile_interval(boot, level)
        rank_lo, rank_hi = percentile_interval(ranks(boot), level, method="inverted_cdf")
    else:
        imp_lo = imp_hi = rank_lo = rank_hi = np.full(k, np.nan)

    fitted = pd.DataFrame({
        "driver": use,
        "coefficient": ols.coef[1:], "se": ols.se[1:], "ci_lower": ci[1:, 0], "ci_upper": ci[1:, 1],
        "p_value": ols.pvalues[1:],
        "importance": importance, "importance_ci_lower": imp_lo, "importance_ci_upper": imp_hi,
        "importance_share": importance / r_squared if r_squared > 0 else np.nan,
        "rank": ranks(importance), "rank_ci_lower": rank_lo, "rank_ci_upper": rank_hi,
        "vif": vif,
    })
    summary = pd.DataFrame({"driver": drivers}).merge(fitted, on="driver", how="left")
    summary = summary.join(_performance(patterns, c, drivers, level), on="driver")
    summary["note"] = summary["driver"].map(notes).fillna("")
    summary = quadrants(summary)
    summary = summary.sort_values(["importance", "driver"], ascending=[False, True], na_position="last")
    return KeyDriverResult(summary=summary.reset_index(drop=True), r_squared=r_squared, n_responses=n_responses,
                           n_used=n, n_dropped=n_responses - n, bootstrap=bootstrap, method=method,
                           warnings=tuple(warnings), ols=ols)


def _performance(patterns: pd.DataFrame, counts: np.ndarray, drivers: list[str], level: float) -> pd.DataFrame:
    rows = {}
    for d in drivers:
        rated = patterns[d].notna().to_numpy()
        r, c = patterns[d].to_numpy()[rated], counts[rated]
        n = int(c.sum())
        m = (c @ r) / n if n else np.nan
        s = math.sqrt((c @ (r - m) ** 2) / (n - 1)) if n > 1 else np.nan
        half = stats.t.ppf(0.5 + level / 2, n - 1) * s / math.sqrt(n) if n > 1 else np.nan
        rows[d] = {"performance": m, "performance_ci_lower": m - half,
                   "performance_ci_upper": m + half, "n_rated": n}
    return pd.DataFrame.from_dict(rows, orient="index")


def quadrants(summary: pd.DataFrame) -> pd.DataFrame:
    """Importance–performance quadrants against the medians of the fitted drivers.

    ``priority`` (importance above the median, performance below it): improving these moves NPS
    most where customers are least satisfied. A driver at the median counts as neither high nor low.
    Adds ``quadrant`` (priority, maintain, low priority, possible overkill, not estimated) and
    ``priority`` (bool).

    Examples
    --------
    >>> s = pd.DataFrame({"driver": ["a", "b", "c"], "importance": [0.3, 0.2, 0.1], "performance": [2.5, 2.0, 3.5]})
    >>> quadrants(s)["quadrant"].tolist()
    ['maintain', 'low priority', 'possible overkill']
    """
    fitted = summary["importance"].notna()
    imp_med = summary.loc[fitted, "importance"].median()
    perf_med = summary.loc[fitted, "performance"].median()
    high = summary["importance"] > imp_med
    low = summary["performance"] < perf_med
    quadrant = np.select(
        [~fitted, high & low, high & ~low, ~high & low],
        ["not estimated", "priority", "maintain", "low priority"],
        default="possible overkill",
    )
    return summary.assign(quadrant=quadrant, priority=quadrant == "priority")
