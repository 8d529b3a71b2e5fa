"""What-if retention from a fitted piecewise-exponential model, and the impact table's ranking: pure arithmetic.

Attributable churn is the case-based (Miettinen) fraction of :mod:`cxlib.stats.paf`; this module
holds the rest of the impact arithmetic.

What-if retention
    Standardized retention at ``days`` (365) after signup, ``S = exp(−Σ_k Δ_k h_k)``, where ``h_k``
    is the average hazard in tenure piece ``k`` over the person-time observed in it (every cell's
    fitted rate weighted by its person-days: the observed mix of covariates and exposures), and
    ``Δ_k`` the part of the piece before ``days``. With the model's baseline pieces this reproduces
    the observed piecewise life table. The what-if moves a share of the person-time exposed to an
    exposure to the same cell unexposed (rate divided by its HR), leaving the covariates and other
    exposures as observed. Intervals: percentiles over parametric draws of the GLM coefficients from
    their estimated normal distribution (:func:`cxlib.stats.paf.coefficient_draws` with the same
    seed gives the same draws, which the attributable-churn intervals use). The mix is held fixed:
    fewer poor experiences would also leave more customers at risk later, which this first-order
    what-if ignores.

Examples
--------
>>> s = pd.DataFrame({"touchpoint": ["a", "b"], "revenue_at_risk": [10.0, 30.0], "churners_attributable": [1.0, 3.0]})
>>> rank_by_value(s)["touchpoint"].tolist()
['b', 'a']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WHAT_IF_DAYS = 365
WHAT_IF_DRAWS = 2000
WHAT_IF_COLUMNS = ["exposure", "retention", "retention_ci_lower", "retention_ci_upper",
                   "what_if_retention", "retention_gain", "gain_ci_lower", "gain_ci_upper"]


def rank_by_value(summary: pd.DataFrame) -> pd.DataFrame:
    """Sort by revenue at risk, or by churners attributable when no revenue is recorded (largest first).

    Examples
    --------
    >>> s = pd.DataFrame({"touchpoint": ["a", "b"], "revenue_at_risk": [None, None], "churners_attributable": [1.0, 3.0]})
    >>> rank_by_value(s)["touchpoint"].tolist()
    ['b', 'a']
    """
    key = "revenue_at_risk" if summary["revenue_at_risk"].notna().any() else "churners_attributable"
    return summary.sort_values([key, "touchpoint"], ascending=[False, True], na_position="last", ignore_index=True)


def _piece_overlap(pieces: list[int], days: int) -> dict[int, float]:
    bounds = sorted(pieces)
    uppers = bounds[1:] + [np.inf]
    return {lo: float(max(0.0, min(hi, days) - lo)) for lo, hi in zip(bounds, uppers)}


def what_if_retention(cells: pd.DataFrame, design: np.ndarray, coef: pd.Series, cov: np.ndarray,
                      exposures: list[str], pieces: list[int], reduction: float, days: int = WHAT_IF_DAYS,
                      draws: int = WHAT_IF_DRAWS, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Standardized retention at ``days`` now and if each exposure's person-time fell by ``reduction``.

    Parameters
    ----------
    cells : DataFrame
        The PEM's cells: ``piece`` (lower bound, days), one 0/1 column per exposure, ``person_days``;
        rows aligned with ``design``.
    design : ndarray, shape (n_cells, n_coef)
        The GLM's design matrix of those cells (without the offset).
    coef : Series
        The GLM's coefficients, indexed by term; the exposures' terms carry their names.
    cov : ndarray
        Covariance matrix of ``coef``.
    exposures : list of str
        Exposure columns to evaluate.
    pieces : list of int
        Lower bounds of the baseline pieces (``tenure_pieces_days``).
    reduction : float
        Share of exposed person-time removed (``what_if_reduction``).
    days : int
        Tenure at which retention is read.
    draws, seed, level
        Parametric draws of the coefficients ~ N(coef, cov), their seed, and the interval level.

    Returns
    -------
    DataFrame
        One row per exposure: ``exposure``, ``retention``, ``retention_ci_lower``, ``retention_ci_upper``,
        ``what_if_retention``, ``retention_gain``, ``gain_ci_lower``, ``gain_ci_upper`` (gain in
        retention, as a share: 0.01 = one percentage point).

    Examples
    --------
    One tenure piece, hazard 0.001 a day unexposed and 0.002 exposed (log HR 0.693 ± 0.1):

    >>> cells = pd.DataFrame({"piece": [0, 0], "poor_x": [0, 1], "person_days": [9000.0, 1000.0]})
    >>> design = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> coef = pd.Series([np.log(0.001), np.log(2.0)], index=["piece[0]", "poor_x"])
    >>> out = what_if_retention(cells, design, coef, np.diag([0.01, 0.01]), ["poor_x"], [0], 0.5, draws=200)
    >>> out[["retention", "what_if_retention"]].round(4).to_dict("records")
    [{'retention': 0.6693, 'what_if_retention': 0.6816}]
    """
    coef = pd.Series(coef)
    cov = np.asarray(cov, dtype=float)
    rng = np.random.default_rng(seed)
    betas = np.vstack([coef.to_numpy(), rng.multivariate_normal(coef.to_numpy(), cov, size=draws, method="eigh")])
    rates = np.exp(np.asarray(design, dtype=float) @ betas.T) * cells["person_days"].to_numpy(float)[:, None]
    overlap = _piece_overlap(pieces, days)
    piece = cells["piece"].to_numpy()
    person_days = pd.Series(cells["person_days"].to_numpy(float)).groupby(piece).sum()
    weights = np.array([overlap.get(k, 0.0) / person_days[k] if person_days[k] > 0 else 0.0 for k in piece])

    def survival(expected: np.ndarray) -> np.ndarray:
        # expected events per cell; weights turn them into sum_k overlap_k * (events_k / person_days_k)
        return np.exp(-(weights[:, None] * expected).sum(axis=0))

    base = survival(rates)
    alpha = (1 - level) / 2
    rows = []
    for name in exposures:
        hr = np.exp(betas[:, coef.index.get_loc(name)])
        exposed = cells[name].to_numpy(float)[:, None]
        moved = rates * exposed * reduction * (1.0 - 1.0 / hr)[None, :]
        what_if = survival(rates - moved)
        gain = what_if - base
        rows.append({
            "exposure": name, "retention": base[0],
            "retention_ci_lower": np.quantile(base[1:], alpha), "retention_ci_upper": np.quantile(base[1:], 1 - alpha),
            "what_if_retention": what_if[0], "retention_gain": gain[0],
            "gain_ci_lower": np.quantile(gain[1:], alpha), "gain_ci_upper": np.quantile(gain[1:], 1 - alpha),
        })
    return pd.DataFrame(rows, columns=WHAT_IF_COLUMNS)
