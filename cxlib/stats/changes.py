"""Tests of change between two periods, from sufficient statistics, and the false discovery rate.

Each test compares a cell with the same cell one period earlier (``1`` is the earlier period, ``2``
the later one) and returns arrays of ``difference, ci_lower, ci_upper, statistic, df, p_value``, so a
whole table of cell pairs is tested at once. The p-values of a table of tests are then adjusted
together with :func:`benjamini_hochberg`.

Examples
--------
>>> r = proportion_difference_test([40, 50], [100, 100], [55, 50], [100, 100])
>>> r["difference"].round(2).tolist(), r["p_value"].round(4).tolist()
([0.15, 0.0], [0.0337, 1.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cxlib.stats.intervals import mean_sd, normal_quantile, nps_interval, nps_variance


def _p_from_z(diff: np.ndarray, se: np.ndarray, z: np.ndarray, sf: Any) -> np.ndarray:
    """Two-sided p-value; a zero standard error means no doubt: p = 1 with no change, else 0."""
    with np.errstate(invalid="ignore"):
        p = 2 * sf(np.abs(z))
    return np.where(se > 0, p, np.where(diff == 0, 1.0, 0.0))


def proportion_difference_test(x1: Any, n1: Any, x2: Any, n2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Two-sample z test of proportions, ``x2/n2 − x1/n1``.

    The statistic uses the pooled proportion (the null hypothesis of no change); the interval of the
    difference uses the unpooled (Wald) standard error.

    Returns
    -------
    dict with ``difference, ci_lower, ci_upper, statistic, df, p_value`` (arrays; ``df`` missing)

    Examples
    --------
    >>> r = proportion_difference_test(40, 100, 55, 100)
    >>> round(float(r["statistic"]), 4), round(float(r["p_value"]), 4)
    (2.124, 0.0337)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / se0
    half = normal_quantile(level) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": z,
            "df": np.full(diff.shape, np.nan), "p_value": _p_from_z(diff, se0, z, stats.norm.sf)}


def welch_test(n1: Any, s1: Any, ss1: Any, n2: Any, s2: Any, ss2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Welch's t test of ``mean2 − mean1`` from counts, sums and sums of squares.

    Returns
    -------
    dict with ``difference, ci_lower, ci_upper, statistic, df, p_value`` (arrays)

    Examples
    --------
    >>> r = welch_test(5, 15, 55, 4, 14, 54)            # 1..5 against 2, 3, 4, 5
    >>> round(float(r["difference"]), 3), round(float(r["df"]), 3)
    (0.5, 6.981)
    """
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    m1, sd1 = mean_sd(n1, s1, ss1)
    m2, sd2 = mean_sd(n2, s2, ss2)
    v1, v2 = sd1 ** 2 / n1, sd2 ** 2 / n2
    se = np.sqrt(v1 + v2)
    diff = m2 - m1
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
        t = diff / se
        half = stats.t.ppf(0.5 + level / 2, df) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": t, "df": df,
            "p_value": _p_from_z(diff, se, t, lambda a: stats.t.sf(a, df))}


def nps_difference_test(p1: Any, d1: Any, n1: Any, p2: Any, d2: Any, n2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """z test of ``NPS2 − NPS1`` (points) with Var(NPS) = 100² (p + d − (p − d)²) / n per period.

    ``p``, ``d`` and ``n`` are promoters, detractors and responses of each period.

    Returns
    -------
    dict with ``difference, ci_lower, ci_upper, statistic, df, p_value`` (arrays; ``df`` missing)

    Examples
    --------
    >>> r = nps_difference_test(20, 10, 50, 30, 10, 60)   # NPS +20 then +33.3
    >>> round(float(r["difference"]), 3), round(float(r["statistic"]), 4)
    (13.333, 0.9322)
    """
    v1 = nps_interval(p1, d1, n1)[0]
    v2 = nps_interval(p2, d2, n2)[0]
    se = np.sqrt(nps_variance(p1, d1, n1) + nps_variance(p2, d2, n2))
    diff = v2 - v1
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / se
    half = normal_quantile(level) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": z,
            "df": np.full(np.shape(diff), np.nan), "p_value": _p_from_z(diff, se, z, stats.norm.sf)}


def benjamini_hochberg(p_values: Any, fdr: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg adjusted p-values (q-values) and which tests survive at ``fdr``.

    Missing p-values (tests that could not be computed) are left out of the procedure: their
    q-value is missing and they are not flagged.

    Returns
    -------
    q_value : ndarray of float
    significant : ndarray of bool

    Examples
    --------
    >>> q, sig = benjamini_hochberg([0.01, 0.04, float("nan"), 0.03], fdr=0.05)
    >>> q.round(3).tolist(), sig.tolist()
    ([0.03, 0.04, nan, 0.04], [True, True, False, True])
    """
    p = np.asarray(p_values, dtype=float)
    tested = np.isfinite(p)
    q = np.full(p.shape, np.nan)
    significant = np.zeros(p.shape, dtype=bool)
    if tested.any():
        significant[tested], q[tested], _, _ = multipletests(p[tested], alpha=fdr, method="fdr_bh")
    return q, significant
