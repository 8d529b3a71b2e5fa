"""Case-based attributable churn from the touchpoint model's hazard ratios (Miettinen's fraction).

Estimand
--------
The reporting period's churners are grouped by their *exposure pattern at churn*: which
``poor_<T>`` exposures were open (with the exposure lag applied) on the day each customer churned.
One engine GROUP BY gives, per pattern ``j``, the number of churners ``c_j`` and the sum of their
``monthly_revenue`` ``r_j``; ``x_jT`` is 1 when the pattern includes exposure ``T``.

Per exposure ``T`` (the column ``churners_attributable``)::

    A_T = Σ_j c_j x_jT (1 − 1/HR_T)                     = Σ over churners exposed to T at churn of (1 − 1/HR_T)
    attributable_churn_share_T = A_T / C                 C = Σ_j c_j, every churner of the period
    revenue_at_risk_T = 12 Σ_j r_j x_jT (1 − 1/HR_T)    a year of the attributable churners' own revenue

Under the fitted proportional-hazards model a churner exposed to ``T`` had hazard
``h = h_rest · HR_T``, where ``h_rest`` is the hazard with everything else (covariates, other
exposures) as it was; the share of that hazard in excess of ``h_rest`` is ``(HR_T − 1)/HR_T =
1 − 1/HR_T``, whatever the churner's other exposures. ``A_T`` is therefore the expected number of
the period's churn events that the model attributes to ``T``'s excess hazard — "each exposure with
its own HR when a churner has several": a churner exposed to ``T`` and ``U`` contributes
``1 − 1/HR_T`` to ``T`` and ``1 − 1/HR_U`` to ``U``. This is the case-based attributable fraction
``AF = Σ_cases (1 − 1/RR_i) / cases`` (Miettinen 1974; Greenland & Drescher 1993, the model-based
estimator whose ``RR_i`` is the fitted rate ratio of case ``i``'s exposure), which stays unbiased
under confounding when ``HR_T`` is adjusted — unlike Levin's ``p (HR − 1)/(1 + p (HR − 1))``
with an adjusted HR and the exposure prevalence ``p`` of all person-time.

Joint fraction (:func:`joint_attributable_churn`)::

    A_all = Σ_j c_j (1 − 1/Π_{T: x_jT = 1} HR_T)

the churners attributable to all exposures *together* (each churner's whole excess over the
unexposed hazard). For hazard ratios above 1, ``1 − Π_T 1/HR_T ≤ Σ_T (1 − 1/HR_T)``, with
equality only when no churner has two exposures: per-exposure figures overlap and **must not be
added up**; the joint figure is the one to quote for "all poor experiences together". An
exposure with ``HR_T < 1`` gets a negative weight (a preventable rather than attributable
fraction); it is reported as computed, not clipped.

Uncertainty: percentiles of the quantities recomputed for each parametric draw of the log hazard
ratios (the same draws as the what-if retention). The churners, their patterns and revenue are
the period's observed facts and are held fixed: the interval is the model's uncertainty about how
many of *these* churners the exposures explain, conditional on who churned.

References
----------
Miettinen OS (1974). Proportion of disease caused or prevented by a given exposure, trait or
intervention. American Journal of Epidemiology 99:325–332.
Greenland S, Drescher K (1993). Maximum likelihood estimation of the attributable fraction from
logistic models. Biometrics 49:865–872.

Examples
--------
Three churners: one exposed to billing only, one to billing and support, one to nothing;
``HR_billing = 2``, ``HR_support = 4``:

>>> patterns = pd.DataFrame({"poor_billing": [1, 1, 0], "poor_support": [0, 1, 0],
...                          "churners": [1, 1, 1], "revenue": [50.0, 30.0, 20.0]})
>>> log_hr = pd.Series({"poor_billing": np.log(2), "poor_support": np.log(4)})
>>> out = attributable_churn(patterns, log_hr)
>>> out[["exposure", "churners_exposed", "churners_attributable", "revenue_at_risk"]]
       exposure  churners_exposed  churners_attributable  revenue_at_risk
0  poor_billing                 2                   1.00            480.0
1  poor_support                 1                   0.75            270.0
>>> round(float(joint_attributable_churn(patterns, log_hr)["churners_attributable"].iloc[0]), 4)
1.375
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlib.errors import NotEstimable

MONTHS_OF_REVENUE = 12

PER_EXPOSURE_COLUMNS = [
    "exposure", "hazard_ratio", "churners", "churners_exposed", "churners_attributable",
    "churners_attributable_ci_lower", "churners_attributable_ci_upper", "attributable_churn_share",
    "attributable_churn_share_ci_lower", "attributable_churn_share_ci_upper", "revenue_exposed",
    "revenue_at_risk", "revenue_at_risk_ci_lower", "revenue_at_risk_ci_upper",
]


def coefficient_draws(coef: pd.Series, cov: Any, draws: int, rng: np.random.Generator) -> pd.DataFrame:
    """Parametric draws of model coefficients, ``N(coef, cov)``, one row per draw.

    The same construction as the what-if retention (``multivariate_normal(..., method="eigh")``),
    so passing the same generator state gives the same draws.

    Parameters
    ----------
    coef : Series
        Point estimates indexed by term.
    cov : array-like, shape (k, k)
        Their covariance matrix (in the order of ``coef``).
    draws : int
        Number of draws.
    rng : numpy.random.Generator
        Seeded generator.

    Returns
    -------
    DataFrame, shape (draws, k)
        Columns = ``coef.index``.

    Examples
    --------
    >>> d = coefficient_draws(pd.Series({"a": 0.0}), [[1.0]], 4, np.random.default_rng(1))
    >>> d.shape, list(d.columns)
    ((4, 1), ['a'])
    """
    coef = pd.Series(coef, dtype=float)
    values = rng.multivariate_normal(coef.to_numpy(), np.asarray(cov, dtype=float), size=int(draws), method="eigh")
    return pd.DataFrame(values, columns=coef.index)


def _inputs(patterns: pd.DataFrame, log_hr: Mapping[str, float] | pd.Series, exposures: Sequence[str] | None,
            draws: pd.DataFrame | np.ndarray | None, revenue: str | None):
    log_hr = pd.Series(log_hr, dtype=float)
    exposures = list(log_hr.index if exposures is None else exposures)
    missing = [e for e in exposures if e not in patterns.columns or e not in log_hr.index]
    if missing:
        raise ValueError(f"exposures without a pattern column or a log hazard ratio: {missing}")
    if "churners" not in patterns.columns:
        raise ValueError("patterns needs a 'churners' column (count of churners per exposure pattern)")
    x = patterns[exposures].to_numpy(dtype=float)
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("exposure pattern columns must be 0/1")
    c = patterns["churners"].to_numpy(dtype=float)
    r = patterns[revenue].fillna(0).to_numpy(dtype=float) if revenue and revenue in patterns.columns else None
    beta = log_hr[exposures].to_numpy()
    if draws is None:
        B = np.empty((0, len(exposures)))
    elif isinstance(draws, pd.DataFrame):
        B = draws[exposures].to_numpy(dtype=float)
    else:
        B = np.asarray(draws, dtype=float)
        if B.ndim != 2 or B.shape[1] != len(exposures):
            raise ValueError("draws must be a (n_draws, n_exposures) array in the order of `exposures`")
    return exposures, x, c, r, beta, B


def _ci(values: np.ndarray, level: float) -> tuple[float, float]:
    if values.size == 0:
        return np.nan, np.nan
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def attributable_churn(patterns: pd.DataFrame, log_hr: Mapping[str, float] | pd.Series,
                       exposures: Sequence[str] | None = None, draws: pd.DataFrame | np.ndarray | None = None,
                       level: float = 0.95, revenue: str | None = "revenue",
                       months: int = MONTHS_OF_REVENUE, churners: float | None = None) -> pd.DataFrame:
    """Per exposure: churners attributable, attributable churn share and revenue at risk, with intervals.

    Parameters
    ----------
    patterns : DataFrame
        One row per exposure pattern at churn among the reporting period's churners (including
        the pattern with no exposure): one 0/1 column per exposure, ``churners`` (count) and
        ``revenue`` (sum of those churners' ``monthly_revenue``; optional). Duplicated patterns
        are fine (rows are summed over).
    log_hr : Series or mapping
        Log hazard ratio per exposure (the touchpoint model's coefficients).
    exposures : sequence of str, optional
        Exposures to report (default: ``log_hr``'s index).
    draws : DataFrame or ndarray, optional
        Parametric draws of the log hazard ratios, shape (n_draws, n_exposures); a DataFrame is
        matched by column name (it may hold all the model's coefficients). Without draws the
        interval columns are missing.
    level : float
        Interval level (percentile interval of the draws).
    revenue : str or None
        Revenue column of ``patterns``; None or absent: revenue columns are missing.
    months : int
        Months of revenue in ``revenue_at_risk`` (12: a year).
    churners : float, optional
        Denominator of the share (default: ``patterns["churners"].sum()``).

    Returns
    -------
    DataFrame
        One row per exposure, columns :data:`PER_EXPOSURE_COLUMNS`: ``hazard_ratio``,
        ``churners`` (the denominator), ``churners_exposed`` (Σ c_j x_jT), ``churners_attributable``,
        ``attributable_churn_share``, ``revenue_exposed`` (Σ r_j x_jT, monthly), ``revenue_at_risk``
        and each one's ``_ci_lower`` / ``_ci_upper``.

    Raises
    ------
    NotEstimable
        When the period has no churners.

    Notes
    -----
    Per exposure the aggregation is exact: ``A_T = n_T (1 − 1/HR_T)`` with ``n_T`` the churners
    exposed to T, so each draw costs one multiplication; see the module docstring for the estimand.

    Examples
    --------
    >>> p = pd.DataFrame({"poor_app": [1, 0], "churners": [30, 70], "revenue": [600.0, 1400.0]})
    >>> d = np.log(np.array([[1.5], [2.5], [2.0]]))
    >>> r = attributable_churn(p, {"poor_app": np.log(2.0)}, draws=d, level=0.5).iloc[0]
    >>> float(r.churners_attributable), float(r.attributable_churn_share), float(r.revenue_at_risk)
    (15.0, 0.15, 3600.0)
    >>> float(r.churners_attributable_ci_lower), float(r.churners_attributable_ci_upper)
    (12.5, 16.5)
    """
    exposures, x, c, r, beta, B = _inputs(patterns, log_hr, exposures, draws, revenue)
    total = float(c.sum()) if churners is None else float(churners)
    if total <= 0:
        raise NotEstimable("no customer churned in the reporting period, so no churn can be attributed",
                           model="touchpoints")
    n_exposed = c @ x                                     # churners exposed to each T
    rev_exposed = r @ x if r is not None else np.full(len(exposures), np.nan)
    weight = 1.0 - np.exp(-beta)                          # 1 − 1/HR_T
    weight_draws = 1.0 - np.exp(-B)                       # (n_draws, n_exposures)
    rows = []
    for k, name in enumerate(exposures):
        a_draws = n_exposed[k] * weight_draws[:, k]
        rev_draws = months * rev_exposed[k] * weight_draws[:, k]
        a_lo, a_hi = _ci(a_draws, level)
        rv_lo, rv_hi = _ci(rev_draws, level) if r is not None else (np.nan, np.nan)
        a = n_exposed[k] * weight[k]
        rows.append([name, float(np.exp(beta[k])), total, int(np.rint(n_exposed[k])), a, a_lo, a_hi,
                     a / total, a_lo / total, a_hi / total, float(rev_exposed[k]),
                     months * rev_exposed[k] * weight[k], rv_lo, rv_hi])
    return pd.DataFrame(rows, columns=PER_EXPOSURE_COLUMNS)


def joint_attributable_churn(patterns: pd.DataFrame, log_hr: Mapping[str, float] | pd.Series,
                             exposures: Sequence[str] | None = None,
                             draws: pd.DataFrame | np.ndarray | None = None, level: float = 0.95,
                             revenue: str | None = "revenue", months: int = MONTHS_OF_REVENUE,
                             churners: float | None = None) -> pd.DataFrame:
    """All exposures together: ``A_all = Σ_j c_j (1 − 1/Π_{T ∈ pattern j} HR_T)``.

    Same parameters as :func:`attributable_churn`.

    Returns
    -------
    DataFrame
        One row, ``exposure = "all"``, the columns of :data:`PER_EXPOSURE_COLUMNS`
        (``hazard_ratio`` missing; ``churners_exposed`` = churners with at least one exposure).

    Examples
    --------
    >>> p = pd.DataFrame({"a": [1, 1, 0], "b": [0, 1, 1], "churners": [1, 1, 1]})
    >>> j = joint_attributable_churn(p, {"a": np.log(2), "b": np.log(2)}, revenue=None)
    >>> float(j.churners_attributable.iloc[0])      # 1/2 + 3/4 + 1/2
    1.75
    """
    exposures, x, c, r, beta, B = _inputs(patterns, log_hr, exposures, draws, revenue)
    total = float(c.sum()) if churners is None else float(churners)
    if total <= 0:
        raise NotEstimable("no customer churned in the reporting period, so no churn can be attributed",
                           model="touchpoints")
    weight = 1.0 - np.exp(-(x @ beta))                    # per pattern
    weight_draws = 1.0 - np.exp(-(x @ B.T))               # (patterns, n_draws)
    a, a_draws = float(c @ weight), c @ weight_draws
    a_lo, a_hi = _ci(a_draws, level)
    if r is not None:
        rev, rev_draws = months * float(r @ weight), months * (r @ weight_draws)
        rv_lo, rv_hi = _ci(rev_draws, level)
        rev_exposed = float(r[x.sum(axis=1) > 0].sum())
    else:
        rev = rv_lo = rv_hi = rev_exposed = np.nan
    n_any = int(np.rint(c[x.sum(axis=1) > 0].sum()))
    row = ["all", np.nan, total, n_any, a, a_lo, a_hi, a / total, a_lo / total, a_hi / total, rev_exposed,
           rev, rv_lo, rv_hi]
    return pd.DataFrame([row], columns=PER_EXPOSURE_COLUMNS)
