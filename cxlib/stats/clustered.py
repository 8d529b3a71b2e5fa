"""Customer-clustered variance of interaction-level metrics, from per-customer sums.

Every interaction-level metric is a ratio ``R = Σ_i y_i / Σ_i n_i`` over the customers ``i`` of
a cell (period × touchpoint × channel × segment):

==================  ===========================================  =========================================
metric              ``y_i`` (per customer)                       ``n_i`` (per customer)
==================  ===========================================  =========================================
rated share         interactions with a CSAT rating              interactions
CSAT mean           sum of CSAT ratings                          CSAT ratings
CSAT top-2-box      ratings of 4 or 5                            CSAT ratings
CES mean            sum of CES answers                           CES answers
resolution          interactions resolved                        interactions with ``resolved`` known
==================  ===========================================  =========================================

A customer's interactions are not independent, so the variance is the linearisation (sandwich)
variance of a ratio estimator with customers as clusters (Cochran 1977, *Sampling Techniques*,
3rd ed., ch. 6, ratio estimators, and ch. 9, clusters of unequal size; Cameron & Miller 2015,
J Human Resources 50:317, the CR1 cluster-robust variance)::

    u_i = y_i − R n_i                                  (the customer's residual sum)
    Var(R) = m/(m − 1) · Σ_i u_i² / (Σ_i n_i)²
           = m/(m − 1) · (Σy² − 2R Σyn + R² Σn²) / (Σn)²

with ``m`` the number of customers in the cell. Its six inputs ``m, Σy, Σn, Σy², Σn², Σyn`` come
from one engine query: a per-customer pre-aggregation (``y_i``, ``n_i``) and a GROUP BY of the cell
(:data:`SUM_COLUMNS`; :func:`cluster_sums` is the pandas reference implementation). For a mean this
equals the cluster-robust (CR1) variance of an OLS regression of the ratings on a constant,
``statsmodels`` ``cov_type="cluster"`` — the tests check it to 1e-9.

Intervals
    Means: ``R ± t_{m−1} · se``, clipped to the scale (1–5, 1–7). Shares: Wilson's score interval
    with the effective sample size ``n_eff = R(1 − R)/Var(R)`` (Kish's design effect
    ``deff = Var(R)/(R(1−R)/Σn)``, ``n_eff = Σn/deff``; Korn & Graubard 1998, Survey Methodology
    24:193). ``deff`` is floored at 1 (``n_eff ≤ Σn``, never narrower than the unclustered Wilson
    interval); at ``R = 0`` or ``1`` the sandwich is 0 and ``n_eff = m`` (customers as the
    independent units), so the interval stays honest and within [0, 1].
Changes between periods (:func:`ratio_difference_test`)
    The same customers appear in both periods, so ``Var(R₂ − R₁) = V₁ + V₂ − 2 C`` with the
    covariance from per-customer cross sums over customers present in both periods
    (:data:`CROSS_COLUMNS`)::

        C = Σ_i u_i1 u_i2 / (Σn₁ Σn₂),  Σ_i u_i1 u_i2 = Σy₁y₂ − R₂ Σy₁n₂ − R₁ Σn₁y₂ + R₁R₂ Σn₁n₂

    and the whole bracket multiplied by ``G/(G − 1)``, ``G = m₁ + m₂ − m_both``: the CR1 sandwich of
    the stacked regression of both periods' ratings on two period indicators, clustered by
    customer. Without cross sums the periods are taken as independent (``V₁ + V₂``, each with its
    own factor) — conservative when customers' ratings correlate positively over time.
    Test statistic ``t = (R₂ − R₁)/se`` with ``G − 1`` degrees of freedom.

Examples
--------
>>> rows = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "c"], "csat": [5, 4, 2, 3, 3, 4]})
>>> s = cluster_sums(rows, "customer_id", "csat")
>>> r, v = ratio_variance(**s.iloc[0][SUM_COLUMNS])
>>> round(float(r), 4), round(float(v), 5)
(3.5, 0.27083)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

SUM_COLUMNS = ["m", "sum_y", "sum_n", "sum_yy", "sum_nn", "sum_yn"]
CROSS_COLUMNS = ["m_both", "sum_y1y2", "sum_y1n2", "sum_n1y2", "sum_n1n2"]


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def cluster_sums(rows: pd.DataFrame, cluster: str, value: str, by: Sequence[str] = (),
                 count: str | None = None) -> pd.DataFrame:
    """The six per-cell sums from raw rows (pandas reference of the engine query).

    Parameters
    ----------
    rows : DataFrame
        One row per interaction.
    cluster : str
        Customer column.
    value : str
        The row's contribution to ``y`` (a rating, or a 0/1 indicator); rows where it is missing
        count in neither ``y`` nor ``n`` (unless ``count`` is given).
    by : sequence of str
        Cell keys.
    count : str, optional
        A 0/1 column giving the row's contribution to ``n`` instead (e.g. for the rated share,
        ``value`` = rated indicator and every row counts).

    Returns
    -------
    DataFrame
        ``by`` columns and :data:`SUM_COLUMNS`.

    Examples
    --------
    >>> rows = pd.DataFrame({"c": ["a", "a", "b"], "top2": [1, 0, 1]})
    >>> cluster_sums(rows, "c", "top2")[SUM_COLUMNS].iloc[0].tolist()
    [2.0, 2.0, 3.0, 2.0, 5.0, 3.0]
    """
    by = list(by)
    d = rows[[*by, cluster, value] + ([count] if count else [])].copy()
    if count:
        d["_n"] = d[count].astype(float)
        d["_y"] = d[value].fillna(0).astype(float)
    else:
        d = d[d[value].notna()]
        d["_n"] = 1.0
        d["_y"] = d[value].astype(float)
    per = d.groupby([*by, cluster], dropna=False)[["_y", "_n"]].sum().reset_index()
    per = per[per["_n"] > 0]
    per = per.assign(_yy=per["_y"] ** 2, _nn=per["_n"] ** 2, _yn=per["_y"] * per["_n"], _m=1.0)
    cols = {"_m": "m", "_y": "sum_y", "_n": "sum_n", "_yy": "sum_yy", "_nn": "sum_nn", "_yn": "sum_yn"}
    if by:
        out = per.groupby(by, dropna=False)[list(cols)].sum().reset_index()
    else:
        out = per[list(cols)].sum().to_frame().T
    return out.rename(columns=cols)


def ratio_variance(m: Any, sum_y: Any, sum_n: Any, sum_yy: Any, sum_nn: Any, sum_yn: Any,
                   small_sample: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ratio ``R = Σy/Σn`` and its customer-clustered (CR1 sandwich) variance.

    Parameters
    ----------
    m, sum_y, sum_n, sum_yy, sum_nn, sum_yn : scalar or array
        Per cell: customers, and the sums over customers of ``y_i``, ``n_i``, ``y_i²``, ``n_i²``,
        ``y_i n_i``.
    small_sample : bool
        Multiply by ``m/(m − 1)`` (CR1). False gives the plain sandwich (CR0).

    Returns
    -------
    ratio, variance : ndarray
        Missing where ``Σn = 0``; the variance is missing where ``m < 2``.

    Examples
    --------
    Three customers with one rating each (5, 3, 4): the ordinary variance of a mean, s²/n.

    >>> r, v = ratio_variance(3, 12, 3, 50, 3, 12)
    >>> float(r), round(float(v), 6)
    (4.0, 0.333333)
    """
    m, sy, sn, syy, snn, syn = map(_arr, (m, sum_y, sum_n, sum_yy, sum_nn, sum_yn))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(sn > 0, sy / np.where(sn > 0, sn, 1), np.nan)
        resid = np.maximum(syy - 2 * r * syn + r * r * snn, 0.0)
        factor = np.where(m > 1, m / np.where(m > 1, m - 1, 1), np.nan) if small_sample else np.where(m > 1, 1.0, np.nan)
        var = factor * resid / (sn * sn)
    return r, np.where(sn > 0, var, np.nan)


def mean_interval(m: Any, sum_y: Any, sum_n: Any, sum_yy: Any, sum_nn: Any, sum_yn: Any, level: float = 0.95,
                  lower: float | None = None, upper: float | None = None) -> dict[str, np.ndarray]:
    """Clustered interval of a mean of ratings: ``R ± t_{m−1} se``, clipped to ``[lower, upper]``.

    Returns
    -------
    dict of ndarray
        ``estimate``, ``se``, ``ci_lower``, ``ci_upper``, ``df`` (= m − 1).

    Examples
    --------
    >>> out = mean_interval(3, 12, 3, 50, 3, 12, lower=1, upper=5)
    >>> round(float(out["ci_lower"]), 3), round(float(out["ci_upper"]), 3)
    (1.516, 5.0)
    """
    r, v = ratio_variance(m, sum_y, sum_n, sum_yy, sum_nn, sum_yn)
    se = np.sqrt(v)
    df = _arr(m) - 1
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, np.nan))
    lo, hi = r - q * se, r + q * se
    if lower is not None:
        lo, hi = np.maximum(lo, lower), np.maximum(hi, lower)
    if upper is not None:
        lo, hi = np.minimum(lo, upper), np.minimum(hi, upper)
    return {"estimate": r, "se": se, "ci_lower": lo, "ci_upper": hi, "df": df}


def share_interval(m: Any, sum_y: Any, sum_n: Any, sum_yy: Any, sum_nn: Any, sum_yn: Any,
                   level: float = 0.95) -> dict[str, np.ndarray]:
    """Clustered interval of a share: Wilson's interval at the effective sample size.

    ``n_eff = R(1 − R)/Var(R)`` capped at ``Σn`` (design effect floored at 1); ``n_eff = m`` when
    ``R`` is 0 or 1 (the sandwich is then 0 and says nothing about the clustering).

    Returns
    -------
    dict of ndarray
        ``estimate``, ``se`` (clustered), ``n_effective``, ``ci_lower``, ``ci_upper``.

    Examples
    --------
    Four customers with 10 ratings each, two all top-2 and two none: 40 ratings are worth three
    independent ones (four customers, less the CR1 factor 4/3).

    >>> out = share_interval(4, 20, 40, 200, 400, 200)
    >>> round(float(out["n_effective"]), 6), round(float(out["ci_lower"]), 3), round(float(out["ci_upper"]), 3)
    (3.0, 0.125, 0.875)
    """
    r, v = ratio_variance(m, sum_y, sum_n, sum_yy, sum_nn, sum_yn)
    sn, mm = _arr(sum_n), _arr(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        interior = (r > 0) & (r < 1) & (v > 0)
        n_eff = np.where(interior, np.minimum(r * (1 - r) / np.where(v > 0, v, 1), sn), np.minimum(mm, sn))
        n_eff = np.where(sn > 0, n_eff, np.nan)
        z = stats.norm.ppf(0.5 + level / 2)
        centre = (r + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
        half = z / (1 + z * z / n_eff) * np.sqrt(r * (1 - r) / n_eff + z * z / (4 * n_eff * n_eff))
    return {"estimate": r, "se": np.sqrt(v), "n_effective": n_eff,
            "ci_lower": np.clip(centre - half, 0, 1), "ci_upper": np.clip(centre + half, 0, 1)}


def _get(frame: Mapping[str, Any] | pd.DataFrame, cols: Sequence[str]) -> list[np.ndarray]:
    return [_arr(frame[c]) for c in cols]


def ratio_difference_test(first: Mapping[str, Any] | pd.DataFrame, second: Mapping[str, Any] | pd.DataFrame,
                          cross: Mapping[str, Any] | pd.DataFrame | None = None,
                          level: float = 0.95) -> dict[str, np.ndarray]:
    """Clustered test of a change ``R₂ − R₁`` between two periods (1 = earlier).

    Parameters
    ----------
    first, second : mapping or DataFrame
        :data:`SUM_COLUMNS` per cell for each period (rows aligned).
    cross : mapping or DataFrame, optional
        :data:`CROSS_COLUMNS` per cell: customers in both periods and the sums over them of
        ``y_i1 y_i2``, ``y_i1 n_i2``, ``n_i1 y_i2``, ``n_i1 n_i2``. None: periods independent.
    level : float

    Returns
    -------
    dict of ndarray
        ``difference``, ``se``, ``ci_lower``, ``ci_upper``, ``statistic``, ``df``, ``p_value``
        (two-sided, Student t with ``G − 1`` df; ``G`` customers in either period).

    Examples
    --------
    >>> a = dict(m=3, sum_y=12, sum_n=3, sum_yy=50, sum_nn=3, sum_yn=12)
    >>> b = dict(m=3, sum_y=9, sum_n=3, sum_yy=29, sum_nn=3, sum_yn=9)
    >>> round(float(ratio_difference_test(a, b)["difference"]), 3)
    -1.0
    """
    m1, y1, n1, yy1, nn1, yn1 = _get(first, SUM_COLUMNS)
    m2, y2, n2, yy2, nn2, yn2 = _get(second, SUM_COLUMNS)
    r1, v1 = ratio_variance(m1, y1, n1, yy1, nn1, yn1)
    r2, v2 = ratio_variance(m2, y2, n2, yy2, nn2, yn2)
    diff = r2 - r1
    with np.errstate(invalid="ignore", divide="ignore"):
        if cross is None:
            var = v1 + v2
            g = m1 + m2
        else:
            mb, y1y2, y1n2, n1y2, n1n2 = _get(cross, CROSS_COLUMNS)
            g = m1 + m2 - mb
            s1 = np.maximum(yy1 - 2 * r1 * yn1 + r1 * r1 * nn1, 0.0)
            s2 = np.maximum(yy2 - 2 * r2 * yn2 + r2 * r2 * nn2, 0.0)
            c12 = y1y2 - r2 * y1n2 - r1 * n1y2 + r1 * r2 * n1n2
            var = g / (g - 1) * (s1 / (n1 * n1) + s2 / (n2 * n2) - 2 * c12 / (n1 * n2))
            var = np.maximum(var, 0.0)
        se = np.sqrt(var)
        df = g - 1
        tstat = diff / se
        q = stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, np.nan))
        p = 2 * stats.t.sf(np.abs(tstat), np.where(df > 0, df, np.nan))
    p = np.where(se > 0, p, np.where(diff == 0, 1.0, 0.0))
    p = np.where(np.isnan(diff), np.nan, p)
    return {"difference": diff, "se": se, "ci_lower": diff - q * se, "ci_upper": diff + q * se,
            "statistic": tstat, "df": df, "p_value": p}


def cross_sums(rows1: pd.DataFrame, rows2: pd.DataFrame, cluster: str, value: str, by: Sequence[str] = (),
               count: str | None = None) -> pd.DataFrame:
    """Per-cell cross sums over customers present in both periods (pandas reference).

    Returns
    -------
    DataFrame
        ``by`` columns and :data:`CROSS_COLUMNS`.

    Examples
    --------
    >>> r1 = pd.DataFrame({"c": ["a", "b"], "x": [4, 2]})
    >>> r2 = pd.DataFrame({"c": ["a", "a", "d"], "x": [5, 3, 1]})
    >>> cross_sums(r1, r2, "c", "x")[CROSS_COLUMNS].iloc[0].tolist()
    [1.0, 32.0, 8.0, 8.0, 2.0]
    """
    by = list(by)

    def per(rows: pd.DataFrame) -> pd.DataFrame:
        d = rows[[*by, cluster, value] + ([count] if count else [])].copy()
        if count:
            d["_n"], d["_y"] = d[count].astype(float), d[value].fillna(0).astype(float)
        else:
            d = d[d[value].notna()]
            d["_n"], d["_y"] = 1.0, d[value].astype(float)
        out = d.groupby([*by, cluster], dropna=False)[["_y", "_n"]].sum().reset_index()
        return out[out["_n"] > 0]

    j = per(rows1).merge(per(rows2), on=[*by, cluster], suffixes=("1", "2"))
    j = j.assign(m_both=1.0, sum_y1y2=j["_y1"] * j["_y2"], sum_y1n2=j["_y1"] * j["_n2"],
                 sum_n1y2=j["_n1"] * j["_y2"], sum_n1n2=j["_n1"] * j["_n2"])
    if by:
        return j.groupby(by, dropna=False)[CROSS_COLUMNS].sum().reset_index()
    return j[CROSS_COLUMNS].sum().to_frame().T
