"""Ordinary least squares with HC3 standard errors, on rows or on counted distinct rows.

Survey answers are small integers (NPS 0–10, ratings 1–5), so a million responses hold at most a
few thousand distinct answer patterns. Every quantity of OLS with HC3 errors is a sum over rows in
which identical rows contribute identical terms: ``XᵀX``, ``Xᵀy``, the residual ``eᵢ`` and the
leverage ``hᵢᵢ = xᵢᵀ(XᵀX)⁻¹xᵢ`` depend only on the row's values. So the fit on the distinct rows,
each weighted by how often it occurs, equals the fit on all rows exactly (frequency weights):

``V_HC3 = (XᵀCX)⁻¹ Xᵀ diag(cᵢ eᵢ² / (1 − hᵢᵢ)²) X (XᵀCX)⁻¹`` with ``C = diag(c)``

(MacKinnon & White 1985; Long & Ervin 2000), and the degrees of freedom are ``Σc − p``.

Examples
--------
>>> import numpy as np
>>> x = np.array([[1.0], [2.0], [2.0], [3.0], [4.0]])
>>> y = np.array([1.0, 2.0, 2.0, 2.5, 4.5])
>>> rows = fit_ols_hc3(y, x)
>>> counted = fit_ols_hc3(y[[0, 1, 3, 4]], x[[0, 1, 3, 4]], counts=np.array([1, 2, 1, 1]))
>>> bool(np.allclose(rows.coef, counted.coef) and np.allclose(rows.se, counted.se)), counted.n
(True, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["OLSFit", "fit_ols_hc3"]


@dataclass(frozen=True)
class OLSFit:
    """An OLS fit with an intercept and its HC3 covariance.

    Attributes
    ----------
    coef : numpy.ndarray, shape (p,)
        Intercept first, then one coefficient per column of ``x``.
    cov : numpy.ndarray, shape (p, p)
        HC3 covariance of ``coef``.
    rsquared : float
    n : int
        Rows (the sum of the counts).
    df_resid : int
        ``n − p``: the t distribution's degrees of freedom.
    """

    coef: np.ndarray
    cov: np.ndarray
    rsquared: float
    n: int
    df_resid: int

    @property
    def se(self) -> np.ndarray:
        """HC3 standard errors."""
        return np.sqrt(np.diag(self.cov))

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided p-values of the t statistics."""
        return 2 * stats.t.sf(np.abs(self.coef / self.se), self.df_resid)

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """``coef ± t_{df_resid} · se``, shape (p, 2)."""
        half = stats.t.ppf(0.5 + level / 2, self.df_resid) * self.se
        return np.column_stack([self.coef - half, self.coef + half])


def fit_ols_hc3(y: np.ndarray, x: np.ndarray, counts: np.ndarray | None = None) -> OLSFit:
    """OLS of ``y`` on an intercept and ``x``, with HC3 errors; rows may carry frequency ``counts``.

    Parameters
    ----------
    y : ndarray, shape (m,)
    x : ndarray, shape (m, k)
        Regressors without the intercept (it is added).
    counts : ndarray of int, shape (m,), optional
        How many observations each row stands for; None for one each.

    Returns
    -------
    OLSFit

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``x`` with the intercept is singular.

    Examples
    --------
    >>> fit = fit_ols_hc3(np.array([1.0, 3.0, 2.0, 5.0]), np.array([[0.0], [1.0], [1.0], [2.0]]))
    >>> fit.coef.round(2).tolist(), fit.df_resid
    ([0.75, 2.0], 2)
    """
    c = np.ones(len(y)) if counts is None else np.asarray(counts, dtype=float)
    design = np.column_stack([np.ones(len(y)), x])
    bread = np.linalg.inv(design.T @ (design * c[:, None]))
    coef = bread @ (design.T @ (c * y))
    resid = y - design @ coef
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    meat = design.T @ (design * (c * resid ** 2 / (1 - leverage) ** 2)[:, None])
    n = int(c.sum())
    centred = y - (c @ y) / c.sum()
    rsquared = 1 - (c @ resid ** 2) / (c @ centred ** 2)
    return OLSFit(coef=coef, cov=bread @ meat @ bread, rsquared=float(rsquared), n=n,
                  df_resid=n - design.shape[1])
