"""Customer-clustered estimates and change tests of the portfolio, from the cube's per-customer sums.

The glue between the metric cube (:mod:`cxlib.features.cube`, which names the sums) and the
clustered ratio estimator (:mod:`cxlib.stats.clustered`, which does the statistics); used by
:mod:`cxlib.analyses.portfolio`.

Examples
--------
>>> from cxlib.text.vocabulary import SPECS
>>> cube = pd.DataFrame({"raters": [3], "rated": [3], "csat_sum": [12.0], "csat_mean_yy": [50.0],
...                      "csat_mean_nn": [3.0], "csat_mean_yn": [12.0], **{f"csat_mean_{c}": [0.0]
...                      for c in ("m_both", "y1y2", "y1n2", "n1y2", "n1n2")}})
>>> s = clustered_sums(cube, "csat_mean")
>>> [round(float(v[0]), 4) for v in clustered_estimate(SPECS["csat_mean"], s, 0.95)]
[4.0, 1.5159, 5.0]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cxlib.features.cube import CUSTOMER_COUNTS, INTERACTION_RATIOS, SURVEY_RATIOS
from cxlib.stats import clustered
from cxlib.stats.clustered import CROSS_COLUMNS, SUM_COLUMNS
from cxlib.stats.intervals import normal_quantile
from cxlib.text.vocabulary import MetricSpec

RATIOS = {**INTERACTION_RATIOS, **SURVEY_RATIOS}  # metric -> (numerator, denominator) sums of the cube
SCALES = {"csat_mean": (1.0, 5.0), "ces_mean": (1.0, 7.0)}  # a mean's interval stays on its answer scale


def clustered_sums(cube: pd.DataFrame, metric: str) -> dict[str, np.ndarray] | None:
    """:data:`SUM_COLUMNS` and :data:`CROSS_COLUMNS` of ``metric`` per cube row (None: not in the cube).

    Examples
    --------
    >>> clustered_sums(pd.DataFrame({"n": [3]}), "rated_share") is None
    True
    """
    y, n = RATIOS[metric]
    if f"{metric}_yy" not in cube.columns:
        return None
    out = {"m": cube[CUSTOMER_COUNTS[n]], "sum_y": cube[y], "sum_n": cube[n], "sum_yy": cube[f"{metric}_yy"],
           "sum_nn": cube[f"{metric}_nn"], "sum_yn": cube[f"{metric}_yn"]}
    out |= {c: cube[f"{metric}_{c.removeprefix('sum_')}"] for c in CROSS_COLUMNS}
    return {c: v.to_numpy(dtype=float) for c, v in out.items()}


def clustered_estimate(spec: MetricSpec, sums: Mapping[str, np.ndarray],
                       level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate and clustered interval: a share by Wilson at ``n_eff``, a mean by ``t_{m−1}`` on its
    scale, NPS (points) by the normal interval of ``100 R``.

    Examples
    --------
    >>> from cxlib.text.vocabulary import SPECS
    >>> s = dict(m=[4], sum_y=[20], sum_n=[40], sum_yy=[200], sum_nn=[400], sum_yn=[200])
    >>> [round(float(v[0]), 3) for v in clustered_estimate(SPECS["csat_top2"], s, 0.95)]
    [0.5, 0.125, 0.875]
    """
    args = [sums[c] for c in SUM_COLUMNS]
    if spec.kind == "proportion":
        r = clustered.share_interval(*args, level=level)
        return r["estimate"], r["ci_lower"], r["ci_upper"]
    if spec.kind == "mean":
        lower, upper = SCALES.get(spec.name, (None, None))
        r = clustered.mean_interval(*args, level=level, lower=lower, upper=upper)
        return r["estimate"], r["ci_lower"], r["ci_upper"]
    ratio, var = clustered.ratio_variance(*args)  # NPS / 100 = (promoters − detractors) / responses
    half = normal_quantile(level) * 100 * np.sqrt(var)
    return 100 * ratio, np.clip(100 * ratio - half, -100, 100), np.clip(100 * ratio + half, -100, 100)


def clustered_change(pairs: pd.DataFrame, level: float) -> dict[str, np.ndarray]:
    """:func:`cxlib.stats.clustered.ratio_difference_test` with the cross-period covariance; NPS in points.

    ``pairs`` has :data:`SUM_COLUMNS` of the later period, the same with suffix ``_previous`` and
    :data:`CROSS_COLUMNS`, and ``metric``.

    Examples
    --------
    >>> row = {"metric": ["csat_mean"], "m": [3], "sum_y": [9], "sum_n": [3], "sum_yy": [29], "sum_nn": [3],
    ...        "sum_yn": [9], "m_previous": [3], "sum_y_previous": [12], "sum_n_previous": [3],
    ...        "sum_yy_previous": [50], "sum_nn_previous": [3], "sum_yn_previous": [12],
    ...        **{c: [0] for c in CROSS_COLUMNS}}
    >>> round(float(clustered_change(pd.DataFrame(row), 0.95)["difference"][0]), 3)
    -1.0
    """
    first = {c: pairs[f"{c}_previous"].to_numpy(dtype=float) for c in SUM_COLUMNS}
    second = {c: pairs[c].to_numpy(dtype=float) for c in SUM_COLUMNS}
    cross = {c: pairs[c].to_numpy(dtype=float) for c in CROSS_COLUMNS}
    r = clustered.ratio_difference_test(first, second, cross, level)
    scale = np.where(pairs["metric"].to_numpy() == "nps", 100.0, 1.0)
    return {"difference": r["difference"] * scale, "ci_lower": r["ci_lower"] * scale, "ci_upper": r["ci_upper"] * scale,
            "statistic": r["statistic"], "df": r["df"], "p_value": r["p_value"]}


def with_clustered(cube: pd.DataFrame, spec: MetricSpec, lo: np.ndarray, hi: np.ndarray,
                   level: float) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """The interval of ``spec`` per cube row, clustered where it should be, and the columns to carry.

    Interaction ratios are always clustered; NPS and its shares where a customer answered more than
    once (``responses_max > 1``). Other metrics, and cubes without the per-customer sums, keep
    ``lo, hi``. Returns ``lo, hi`` and the columns ``clustered``, :data:`SUM_COLUMNS`,
    :data:`CROSS_COLUMNS` (missing where not available).

    Examples
    --------
    >>> from cxlib.text.vocabulary import SPECS
    >>> lo, hi, cols = with_clustered(pd.DataFrame({"n": [3]}), SPECS["volume"], [1.0], [2.0], 0.95)
    >>> lo, bool(cols["clustered"][0])
    ([1.0], False)
    """
    sums = clustered_sums(cube, spec.name) if spec.name in RATIOS else None
    on = np.zeros(len(cube), dtype=bool)
    if sums is not None:
        on = np.full(len(cube), True) if spec.name in INTERACTION_RATIOS else cube["responses_max"].to_numpy() > 1
        _, c_lo, c_hi = clustered_estimate(spec, sums, level)
        lo, hi = np.where(on, c_lo, lo), np.where(on, c_hi, hi)
    return lo, hi, {"clustered": on, **{c: np.nan if sums is None else sums[c] for c in (*SUM_COLUMNS, *CROSS_COLUMNS)}}
