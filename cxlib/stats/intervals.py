"""Confidence intervals of the portfolio's metrics, from sufficient statistics (counts and sums).

Every function takes scalars or arrays (one value per cell of the metric cube) and returns arrays,
so a whole table of cells is estimated at once. Where ``n`` is 0 the result is missing.

=============  =========================================  ==========================================
kind           estimate                                   interval
=============  =========================================  ==========================================
proportion     ``x / n``                                  Wilson score (:func:`wilson_interval`)
mean           ``sum / n``                                Student t with n − 1 degrees of freedom
NPS            ``100 (promoters − detractors) / n``       normal, Var(NPS/100) = (p + d − (p − d)²) / n
=============  =========================================  ==========================================

Examples
--------
>>> lo, hi = wilson_interval([8, 0], [10, 10])
>>> lo.round(3).tolist(), hi.round(3).tolist()
([0.49, 0.0], [0.943, 0.278])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def normal_quantile(level: float) -> float:
    """The two-sided normal quantile of a confidence ``level`` (1.96 for 95 %).

    Examples
    --------
    >>> round(normal_quantile(0.95), 4)
    1.96
    """
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_interval(x: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``x / n``.

    Parameters
    ----------
    x, n : int or array
        Successes and trials.
    level : float
        Confidence level.

    Returns
    -------
    lower, upper : ndarray
        Clipped to [0, 1]; missing where ``n`` is 0.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    z = normal_quantile(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def mean_sd(n: Any, total: Any, total_sq: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation from the count, sum and sum of squares.

    The standard deviation is missing when ``n < 2``.

    Examples
    --------
    >>> m, sd = mean_sd(5, 15, 55)                    # the values 1, 2, 3, 4, 5
    >>> float(m), round(float(sd), 4)
    (3.0, 1.5811)
    """
    n, total, total_sq = (np.asarray(a, dtype=float) for a in (n, total, total_sq))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        # sum of squared deviations; rounding can push an all-equal cell a hair below 0
        ss = np.clip(total_sq - total * mean, 0, None)
        var = np.where(n > 1, ss / np.maximum(n - 1, 1), np.nan)
    return mean, np.sqrt(var)


def mean_interval(n: Any, total: Any, total_sq: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t interval from the count, sum and sum of squares.

    Returns ``(mean, lower, upper)``; the interval is missing when ``n < 2``.

    Examples
    --------
    >>> m, lo, hi = mean_interval(5, 15, 55)          # the values 1, 2, 3, 4, 5
    >>> float(m), round(float(lo), 4), round(float(hi), 4)
    (3.0, 1.0368, 4.9632)
    """
    n = np.asarray(n, dtype=float)
    mean, sd = mean_sd(n, total, total_sq)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
    return mean, mean - half, mean + half


def nps_variance(promoters: Any, detractors: Any, n: Any) -> np.ndarray:
    """Sampling variance of NPS on the −100..100 scale: 100² (p + d − (p − d)²) / n.

    ``p`` and ``d`` are the promoter and detractor shares of the ``n`` responses.

    Examples
    --------
    >>> round(float(nps_variance(20, 10, 50)), 6)      # p = 0.4, d = 0.2: 1e4 * 0.56 / 50
    112.0
    """
    p, d, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        ps, ds = p / n, d / n
        return 1e4 * (ps + ds - (ps - ds) ** 2) / n


def nps_interval(promoters: Any, detractors: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS (−100..100) and its normal interval, clipped to [−100, 100].

    Examples
    --------
    >>> v, lo, hi = nps_interval(20, 10, 50)          # 20 promoters, 20 passives, 10 detractors
    >>> round(float(v), 4), round(float(lo), 3), round(float(hi), 3)
    (20.0, -0.742, 40.742)
    """
    p, d, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100 * (p - d) / n
    half = normal_quantile(level) * np.sqrt(nps_variance(p, d, n))
    return value, np.clip(value - half, -100, 100), np.clip(value + half, -100, 100)
