"""Key drivers of relationship NPS: OLS with HC3 errors and general-dominance importance.

The outcome is the 0–10 likelihood-to-recommend answer of a relationship survey; the drivers are
the 1–5 attribute ratings named in ``survey_drivers``. Two questions are answered per driver:

* **Effect** — the OLS coefficient (NPS points per rating point, the other drivers held fixed) with a
  heteroscedasticity-robust HC3 interval. NPS is bounded and its residual spread changes with the
  ratings, so classical OLS errors would be too narrow.
* **Importance** — general dominance (Budescu 1993), the Shapley decomposition of R²: each driver's
  increment to R² averaged over all 2^(k−1) subsets of the other drivers (weighted by subset size).
  The weights sum to the model's R² exactly. Correlated drivers share credit instead of one of them
  taking all of it, which is why this is preferred to ranking standardized coefficients.

Intervals for importance and rank come from a seeded nonparametric bootstrap over survey responses.
Every R² needed — the 2^k subsets, in every bootstrap replicate — is computed from the (weighted)
covariance matrix of (NPS, drivers): a resample is a vector of multinomial counts, its covariance is
two matrix products, and a subset's R² is ``c_yS' C_SS^{-1} c_yS / var_y``. Nothing is refitted.

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

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from cxlib.results import RESULT_COLUMNS

EXACT_MAX_DRIVERS = 12  # 2^12 = 4,096 subsets per replicate; beyond that, sampled orderings
SAMPLED_ORDERINGS = 1000
VIF_WARN = 5.0
_BOOT_CHUNK = 64  # bootstrap replicates per block at most
_BOOT_BLOCK_FLOATS = 8_000_000  # and at most this many floats of weights or subset matrices per block


# ---- data ------------------------------------------------------------------------------------


def survey_ratings(surveys: ir.Table, drivers: list[str], as_of: dt.date,
                   since: dt.date | None = None, outcome: str = "nps") -> pd.DataFrame:
    """Survey responses up to ``as_of`` (from ``since`` when given): the outcome and driver ratings.

    This is the one place the workbook pulls individual rows of a table into pandas: OLS on
    individual responses needs them. It is bounded by the number of survey responses (about one
    per customer and year, not one per interaction) times ``1 + len(drivers)`` numeric columns.
    Missing ratings stay missing (NaN); :func:`key_drivers` decides what to do with them.

    Parameters
    ----------
    surveys : ibis Table
        The clean surveys table (``Workbook.surveys``).
    drivers : list of str
        Driver columns (``params.survey_drivers``); columns the table lacks are returned all-NaN so
        that the analysis can say so instead of dropping them silently.
    as_of, since : datetime.date
        Responses dated on or before ``as_of`` and, when ``since`` is given, on or after it.

    Examples
    --------
    >>> df = survey_ratings(wb.surveys, ["sat_billing"], dt.date(2026, 9, 30))   # doctest: +SKIP
    """
    t = surveys
    day = t.timestamp.date()
    t = t.filter(day <= ibis.literal(as_of))
    if since is not None:
        t = t.filter(day >= ibis.literal(since))
    # a fixed row order: the seeded bootstrap must not depend on the order an engine returns rows in
    t = t.order_by("customer_id", "timestamp", outcome, *[d for d in drivers if d in t.columns])
    cols = {outcome: t[outcome].cast("float64")}
    cols.update({d: t[d].cast("float64") for d in drivers if d in t.columns})
    df = t.select(**cols).execute()
    for d in drivers:
        if d not in df.columns:
            df[d] = np.nan
    return df[[outcome, *drivers]].astype("float64")


# ---- R² of every subset, and its Shapley decomposition -------------------------------------


def _subsets(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    masks = np.arange(1 << k)
    members = ((masks[:, None] >> np.arange(k)) & 1).astype(bool)
    return masks, members, members.sum(axis=1)


def subset_r_squared(cov: np.ndarray) -> np.ndarray:
    """R² of the regression of the outcome on every subset of the drivers.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance (or cross-product of centred data) of ``[outcome, driver_1, ..., driver_k]``;
        leading dimensions are batches (e.g. bootstrap replicates).

    Returns
    -------
    ndarray, shape (..., 2**k)
        Entry ``m`` is the R² of the drivers whose bits are set in ``m`` (bit j = driver j);
        entry 0 (no drivers) is 0.

    Examples
    --------
    >>> c = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> subset_r_squared(c)
    array([0. , 0.5])
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[-1] - 1
    var_y = cov[..., 0, 0]
    masks, members, sizes = _subsets(k)
    out = np.zeros(cov.shape[:-2] + (1 << k,))
    for s in range(1, k + 1):
        sel = masks[sizes == s]
        idx = np.nonzero(members[sel])[1].reshape(len(sel), s) + 1
        cxx = cov[..., idx[:, :, None], idx[:, None, :]]
        cxy = cov[..., idx, 0]
        beta = _solve(cxx, cxy)
        out[..., sel] = (cxy * beta).sum(axis=-1) / var_y[..., None]
    return out


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        # A bootstrap resample can make a driver constant; the pseudo-inverse gives that subset
        # the R² of its estimable part instead of failing the whole block.
        return (np.linalg.pinv(a) @ b[..., None])[..., 0]


def shapley_from_subsets(r2: np.ndarray) -> np.ndarray:
    """General dominance weights from the R² of all subsets (exact Shapley values).

    ``w_j = sum over S not containing j of |S|! (k - |S| - 1)! / k! * (R²(S + j) - R²(S))``;
    the weights sum to ``R²(all) - R²(none)``.

    Parameters
    ----------
    r2 : ndarray, shape (..., 2**k)
        As returned by :func:`subset_r_squared`.

    Returns
    -------
    ndarray, shape (..., k)

    Examples
    --------
    >>> shapley_from_subsets(np.array([0.0, 0.3, 0.2, 0.4]))
    array([0.25, 0.15])
    """
    r2 = np.asarray(r2, dtype=float)
    k = int(round(math.log2(r2.shape[-1])))
    masks, members, sizes = _subsets(k)
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) if s < k else 0.0
                       for s in range(k + 1)])
    out = np.empty(r2.shape[:-1] + (k,))
    for j in range(k):
        without = masks[~members[:, j]]
        out[..., j] = (r2[..., without | (1 << j)] - r2[..., without]) @ weight[sizes[without]]
    return out


def sampled_shapley(cov: np.ndarray, orderings: np.ndarray) -> np.ndarray:
    """Shapley decomposition of R² averaged over the given driver orderings (an approximation).

    For one ordering, the Cholesky factor of the covariance with the drivers in that order and the
    outcome last holds, in its last row, each driver's increment to R² when it enters after the
    drivers before it (squared entries over ``var_y``). The increments of one ordering sum to R²
    exactly, so the approximation still sums to R²; only the split between drivers is sampled.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance of ``[outcome, drivers...]``.
    orderings : ndarray of int, shape (P, k)
        Permutations of ``0..k-1``.

    Examples
    --------
    >>> c = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> sampled_shapley(c, np.array([[0]]))
    array([0.5])
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[-1] - 1
    order = np.concatenate([orderings + 1, np.zeros((len(orderings), 1), dtype=int)], axis=1)
    chol = np.linalg.cholesky(cov[..., order[:, :, None], order[:, None, :]])
    gains = chol[..., k, :k] ** 2 / cov[..., 0, 0][..., None, None]
    position = np.broadcast_to(np.argsort(orderings, axis=1), gains.shape)
    return np.take_along_axis(gains, position, axis=-1).mean(axis=-2)


def dominance_weights(cov: np.ndarray, orderings: np.ndarray | None = None) -> np.ndarray:
    """General dominance weights of the drivers: exact over all subsets, or averaged over ``orderings``.

    Parameters
    ----------
    cov : ndarray, shape (..., k + 1, k + 1)
        Covariance of ``[outcome, drivers...]`` (batched over leading dimensions).
    orderings : ndarray of int, shape (P, k), optional
        Driver orderings for the sampled approximation (:func:`sampled_shapley`); None for exact.

    Examples
    --------
    >>> c = np.array([[2.0, 1.0, 0.5], [1.0, 1.0, 0.0], [0.5, 0.0, 1.0]])
    >>> dominance_weights(c)
    array([0.5  , 0.125])
    """
    if orderings is None:
        return shapley_from_subsets(subset_r_squared(cov))
    return sampled_shapley(cov, orderings)


# ---- bootstrap moments -------------------------------------------------------------------------


def _weighted_covariances(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Covariance matrices of the columns of ``z`` under each row of frequency ``weights``."""
    n_w = weights.sum(axis=1)
    iu, ju = np.triu_indices(z.shape[1])
    s1 = weights @ z / n_w[:, None]
    s2 = weights @ (z[:, iu] * z[:, ju]) / n_w[:, None]
    cov = np.empty((len(weights), z.shape[1], z.shape[1]))
    cov[:, iu, ju] = s2 - s1[:, iu] * s1[:, ju]
    cov[:, ju, iu] = cov[:, iu, ju]
    return cov


def multinomial_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Frequency weights of ``size`` bootstrap resamples of ``n`` rows (each row sums to ``n``).

    Examples
    --------
    >>> w = multinomial_weights(np.random.default_rng(0), 5, 2)
    >>> w.sum(axis=1)
    array([5., 5.])
    """
    draws = rng.integers(0, n, size=(size, n))
    flat = draws + (np.arange(size) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=size * n).reshape(size, n).astype(float)


# ---- the analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyDriverResult:
    """Key-driver analysis of NPS: effects, importances, intervals and diagnostics.

    Attributes
    ----------
    summary : DataFrame
        One row per driver named in the params (also those that could not be used, with a note):
        ``driver, coefficient, se, ci_lower, ci_upper, p_value, importance, importance_ci_lower,
        importance_ci_upper, importance_share, rank, rank_ci_lower, rank_ci_upper, vif, performance,
        performance_ci_lower, performance_ci_upper, n_rated, quadrant, priority, note``. Sorted by
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
    """

    summary: pd.DataFrame
    r_squared: float
    n_responses: int
    n_used: int
    n_dropped: int
    bootstrap: int
    method: str
    warnings: tuple[str, ...] = ()
    ols: Any = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The ``drivers.csv`` contract table."""
        return self.summary[RESULT_COLUMNS["drivers"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"r_squared": self.r_squared, "n_responses": self.n_responses, "n_used": self.n_used,
                "n_dropped": self.n_dropped, "bootstrap": self.bootstrap, "method": self.method,
                "warnings": list(self.warnings), "drivers": self.summary.to_dict(orient="records")}

    def priorities(self) -> list[str]:
        """Drivers with above-median importance and below-median performance, most important first."""
        return self.summary.loc[self.summary["priority"], "driver"].tolist()

    def _repr_html_(self) -> str:
        head = (f"<p>OLS (HC3) of NPS on {len(self.summary)} drivers: n = {self.n_used:,} "
                f"({self.n_dropped:,} dropped), R² = {self.r_squared:.3f}, importance {self.method}, "
                f"{self.bootstrap} bootstrap replicates.</p>")
        return head + self.summary.to_html(index=False, float_format=lambda x: f"{x:.3f}", escape=True)


def _usable(df: pd.DataFrame, drivers: list[str], outcome: str) -> tuple[list[str], dict[str, str], pd.DataFrame]:
    """Drop all-missing and constant drivers (saying why), then keep complete cases."""
    notes: dict[str, str] = {}
    use = [d for d in drivers if df[d].notna().any()]
    notes.update({d: "no ratings in the window" for d in drivers if d not in use})
    while True:
        cc = df.dropna(subset=[outcome, *use])
        constant = [d for d in use if cc[d].nunique() < 2]
        if not constant:
            return use, notes, cc
        for d in constant:
            notes[d] = "the same rating on every complete response (no variation to learn from)"
        use = [d for d in use if d not in constant]


def _check_collinearity(corr: np.ndarray, names: list[str]) -> None:
    eigval, eigvec = np.linalg.eigh(corr)
    if eigval[0] < 1e-10:
        involved = [names[i] for i in np.nonzero(np.abs(eigvec[:, 0]) > 1e-6)[0]]
        raise ValueError("The driver ratings are perfectly collinear (one is an exact linear combination of "
                         f"others: {', '.join(involved)}); remove one of them from survey_drivers.")


def _percentile_interval(x: np.ndarray, level: float, method: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    alpha = (1 - level) / 2
    return (np.quantile(x, alpha, axis=0, method=method), np.quantile(x, 1 - alpha, axis=0, method=method))


def _ranks(importance: np.ndarray) -> np.ndarray:
    return (-importance).argsort(axis=-1).argsort(axis=-1) + 1


def key_drivers(df: pd.DataFrame, drivers: list[str], outcome: str = "nps", bootstrap: int = 500,
                seed: int = 0, level: float = 0.95, exact_max: int = EXACT_MAX_DRIVERS) -> KeyDriverResult:
    """Key-driver analysis: OLS with HC3 errors, general dominance with bootstrap intervals, VIFs.

    Parameters
    ----------
    df : DataFrame
        One row per survey response with the outcome and the driver ratings (see :func:`survey_ratings`).
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

    Returns
    -------
    KeyDriverResult

    Raises
    ------
    ValueError
        When no driver is usable, too few complete responses remain, or the drivers are perfectly
        collinear.

    Notes
    -----
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
    >>> res = key_drivers(df, ["sat_billing", "sat_support"], bootstrap=200, seed=1)   # doctest: +SKIP
    >>> res.to_frame()                                                                  # doctest: +SKIP
    """
    drivers = list(drivers)
    if not drivers:
        raise ValueError("No survey drivers are named: set survey_drivers in the params file.")
    use, notes, cc = _usable(df, drivers, outcome)
    warnings = [f"Driver {d} is left out of the model: {why}." for d, why in notes.items()]
    k = len(use)
    if k == 0:
        raise ValueError("None of the survey drivers can be used: " + "; ".join(f"{d}: {w}" for d, w in notes.items()) + ".")
    n = len(cc)
    if n < k + 10:
        raise ValueError(f"Only {n:,} complete survey responses for {k} drivers: too few to fit a regression.")
    y = cc[outcome].to_numpy(float)
    x = cc[use].to_numpy(float)

    corr_x = np.corrcoef(x, rowvar=False).reshape(k, k)
    _check_collinearity(corr_x, use)
    vif = np.diag(np.linalg.inv(corr_x))
    for d, v in zip(use, vif):
        if v > VIF_WARN:
            warnings.append(f"Driver {d} has a variance inflation factor of {v:.1f} (above {VIF_WARN:g}): "
                            "it overlaps strongly with other drivers, so its coefficient is imprecise.")

    ols = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit(cov_type="HC3", use_t=True)
    ci = ols.conf_int(alpha=1 - level)

    # Centring first keeps the cross-products well conditioned; R² does not depend on location.
    z = np.column_stack([y, x])
    z = z - z.mean(axis=0)
    cov = z.T @ z / n
    rng = np.random.default_rng(seed)
    orderings = None
    if k <= exact_max:
        method = f"exact (all {2 ** k:,} subsets)"
        per_replicate = k * (k + 1) * 2 ** max(k - 2, 0)
    else:
        # Antithetic pairs (an ordering and its reverse) cancel much of the sampling noise.
        half = np.array([rng.permutation(k) for _ in range(SAMPLED_ORDERINGS // 2)])
        orderings = np.concatenate([half, half[:, ::-1]])
        method = f"sampled ({SAMPLED_ORDERINGS:,} random orderings of the {k} drivers, in antithetic pairs)"
        per_replicate = SAMPLED_ORDERINGS * (k + 1) ** 2
        warnings.append(f"With {k} drivers (more than {exact_max}) the importances are averaged over "
                        f"{SAMPLED_ORDERINGS:,} random orderings instead of all subsets: they still sum to R², "
                        "but the split between drivers carries some sampling noise.")
    importance = dominance_weights(cov, orderings)
    r_squared = float(ols.rsquared)

    boot = np.empty((bootstrap, k))
    chunk = int(max(1, min(_BOOT_CHUNK, _BOOT_BLOCK_FLOATS // max(n, per_replicate))))
    for start in range(0, bootstrap, chunk):
        size = min(chunk, bootstrap - start)
        boot[start:start + size] = dominance_weights(_weighted_covariances(z, multinomial_weights(rng, n, size)), orderings)
    if bootstrap:
        imp_lo, imp_hi = _percentile_interval(boot, level)
        rank_lo, rank_hi = _percentile_interval(_ranks(boot), level, method="inverted_cdf")
    else:
        imp_lo = imp_hi = rank_lo = rank_hi = np.full(k, np.nan)

    fitted = pd.DataFrame({
        "driver": use,
        "coefficient": ols.params[1:], "se": ols.bse[1:], "ci_lower": ci[1:, 0], "ci_upper": ci[1:, 1],
        "p_value": ols.pvalues[1:],
        "importance": importance, "importance_ci_lower": imp_lo, "importance_ci_upper": imp_hi,
        "importance_share": importance / r_squared if r_squared > 0 else np.nan,
        "rank": _ranks(importance), "rank_ci_lower": rank_lo, "rank_ci_upper": rank_hi,
        "vif": vif,
    })
    summary = pd.DataFrame({"driver": drivers}).merge(fitted, on="driver", how="left")
    summary = summary.join(_performance(df, drivers, level), on="driver")
    summary["note"] = summary["driver"].map(notes).fillna("")
    summary = quadrants(summary)
    summary = summary.sort_values(["importance", "driver"], ascending=[False, True], na_position="last")
    return KeyDriverResult(summary=summary.reset_index(drop=True), r_squared=r_squared, n_responses=len(df),
                           n_used=n, n_dropped=len(df) - n, bootstrap=bootstrap, method=method,
                           warnings=tuple(warnings), ols=ols)


def _performance(df: pd.DataFrame, drivers: list[str], level: float) -> pd.DataFrame:
    rows = {}
    for d in drivers:
        r = df[d].dropna()
        m, s, n = r.mean(), r.std(ddof=1), len(r)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * s / math.sqrt(n) if n > 1 else np.nan
        rows[d] = {"performance": m if n else np.nan, "performance_ci_lower": m - half,
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
