"""The Cox partial likelihood (Efron or Breslow ties, optional strata), maximized by Newton–Raphson.

One solver serves every Cox fit of the package that does not need lifelines' extras: the
covariate models on one row per customer (:func:`cxlib.stats.cox.fit_cox`) and the concordance
bootstrap (:func:`cxlib.stats.concordance.cox_linear_predictor`).

Why not lifelines' ``CoxPHFitter``: at 10 million customers the retention section's kernel held
11 GB about 100 s into its fits and could not run beside another section
(``benchmarks/RESULTS.md``). Here the risk-set sums of Efron's likelihood are written as weighted
sums over the rows, so one Newton step costs a few passes and one weighted product over ``X``, and
the memory is a few copies of ``X``:

With ``w_i = exp(x_i'β)``, at an event time ``t`` with ``d`` tied events, risk set ``R`` and tied
set ``D``, Efron's term ``l = 0 … d−1`` has ``a_l = l/d`` (Breslow: ``a_l = 0``) and
``φ_l = Σ_R w − a_l Σ_D w``. The log partial likelihood is ``Σ_events x'β − Σ_t Σ_l log φ_l``
(Efron 1977). Its information ``Σ_t Σ_l [ (S2 − a_l D2)/φ_l − m_l m_l' ]``, with
``m_l = (S1 − a_l D1)/φ_l``, needs the risk-set sums ``S2_t = Σ_{i∈R(t)} w_i x_i x_i'`` only
through ``Σ_t c_t S2_t = Σ_i w_i x_i x_i' Σ_{t ≤ T_i} c_t``: one weighted product ``X' diag(·) X``
instead of a p × p matrix per row (Therneau & Grambsch 2000, ch. 3). The variance is the inverse
information at the maximum, R's and lifelines' default.

References
----------
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. JASA 72, 557–565.
Therneau, T. M. & Grambsch, P. M. (2000). *Modeling Survival Data: Extending the Cox Model*. Springer.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

__all__ = ["TIES", "NotConverged", "PartialLikelihoodFit", "fit_partial_likelihood"]

TIES = ("efron", "breslow")


class NotConverged(ValueError):
    """Newton–Raphson did not reach the maximum (a non-finite likelihood or too many iterations).

    Attributes
    ----------
    iterations : int
        Newton steps taken.
    reason : str
    """

    def __init__(self, reason: str, *, iterations: int):
        super().__init__(f"{reason} after {iterations} Newton step(s)")
        self.reason = reason
        self.iterations = iterations


@dataclass(frozen=True)
class PartialLikelihoodFit:
    """A maximized Cox partial likelihood.

    Attributes
    ----------
    coef : numpy.ndarray, shape (p,)
        Log hazard ratios, on the scale of ``X``.
    cov : numpy.ndarray, shape (p, p)
        Inverse information at ``coef``.
    loglik, loglik_null : float
        Log partial likelihood at ``coef`` and at 0.
    iterations : int
    ties : str
    n, n_events : int
    """

    coef: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    iterations: int
    ties: str
    n: int
    n_events: int

    @property
    def se(self) -> np.ndarray:
        """Standard errors of ``coef``."""
        return np.sqrt(np.diag(self.cov))


_CHUNK = 1 << 18  # rows per block of the weighted Gram product: bounds its temporary to _CHUNK × p


class _Stratum:
    """One stratum's rows sorted by time, and what does not depend on β: its tied-event slots."""

    def __init__(self, Z: np.ndarray, t: np.ndarray, e: np.ndarray, efron: bool):
        self.Z, self.e = Z, e
        self.first = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])      # first row of each distinct time
        self.block = np.repeat(np.arange(len(self.first)), np.diff(np.r_[self.first, len(t)]))
        d = np.add.reduceat(e, self.first) if len(t) else np.zeros(0)
        self.ev = np.flatnonzero(d > 0)                                   # times with an event
        dk = d[self.ev].astype(np.int64)
        self.slot = np.repeat(np.arange(len(self.ev)), dk)               # one slot per tied event
        self.a = ((np.arange(len(self.slot)) - np.repeat(np.cumsum(dk) - dk, dk)) / dk[self.slot] if efron
                  else np.zeros(len(self.slot)))
        self.rows = np.flatnonzero(e)                                     # event rows, and their first per time
        self.rows_first = np.flatnonzero(np.r_[True, t[self.rows][1:] != t[self.rows][:-1]])
        self.eZ = e @ Z

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information at ``beta``."""
        Z, e, ev, slot, a = self.Z, self.e, self.ev, self.slot, self.a
        if not len(self.rows):  # no event: the stratum adds no factor to the likelihood
            return 0.0, np.zeros(Z.shape[1]), np.zeros((Z.shape[1], Z.shape[1]))
        eta = Z @ beta
        shift = eta.max()
        w = np.exp(eta - shift)  # the common factor cancels in every ratio; loglik adds it back
        S0 = np.cumsum(np.add.reduceat(w, self.first)[::-1])[::-1][ev]
        S1 = np.cumsum(np.add.reduceat(w[:, None] * Z, self.first, axis=0)[::-1], axis=0)[::-1][ev]
        w_ev = w[self.rows]
        D0 = np.add.reduceat(w_ev, self.rows_first)
        D1 = np.add.reduceat(w_ev[:, None] * Z[self.rows], self.rows_first, axis=0)
        phi = S0[slot] - a * D0[slot]
        loglik = float(e @ eta - (np.log(phi) + shift).sum())
        n_t = len(ev)
        c0 = np.bincount(slot, 1 / phi, n_t)
        c1 = np.bincount(slot, a / phi, n_t)
        score = self.eZ - (c0 @ S1 - c1 @ D1)
        q0, q1, q2 = (np.bincount(slot, a ** k / phi ** 2, n_t) for k in range(3))
        C0 = np.zeros(len(self.first))
        C0[ev] = c0
        C1 = np.zeros(len(self.first))
        C1[ev] = c1
        row_weight = w * (np.cumsum(C0)[self.block] - e * C1[self.block])  # Σ_t c0 S2 − c1 D2, per row
        gram = np.zeros((Z.shape[1], Z.shape[1]))
        for lo in range(0, len(w), _CHUNK):
            part = Z[lo:lo + _CHUNK]
            gram += part.T @ (part * row_weight[lo:lo + _CHUNK, None])
        cross = S1.T @ (q1[:, None] * D1)
        info = gram - (S1.T @ (q0[:, None] * S1) - cross - cross.T + D1.T @ (q2[:, None] * D1))
        return loglik, score, info


def fit_partial_likelihood(X: np.ndarray, time: np.ndarray, event: np.ndarray, strata: np.ndarray | None = None,
                           *, ties: str = "efron", max_iter: int = 50, tol: float = 1e-10) -> PartialLikelihoodFit:
    """Maximize the Cox partial likelihood by Newton–Raphson with step halving.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Terms (full column rank: check the design first).
    time : array_like, shape (n,)
        Follow-up; only its order matters.
    event : array_like, shape (n,)
        1 for an event, 0 for censored.
    strata : array_like, shape (n,), optional
        A baseline hazard of its own per distinct value.
    ties : {'efron', 'breslow'}
    max_iter : int
    tol : float
        Stop after a full Newton step whose decrement ``score' · step`` was below
        ``tol · (1 + |loglik|)``.

    Returns
    -------
    PartialLikelihoodFit

    Raises
    ------
    ValueError
        Unknown ``ties`` or arrays of different lengths.
    NotConverged
        The likelihood became non-finite or ``max_iter`` steps did not reach the maximum.

    Examples
    --------
    Rossi's recidivism data (lifelines' copy), as R's ``coxph(Surv(week, arrest) ~ fin + age + prio)``:

    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> fit = fit_partial_likelihood(rossi[["fin", "age", "prio"]], rossi["week"], rossi["arrest"])
    >>> fit.coef.round(4), fit.se.round(4)
    (array([-0.347 , -0.0671,  0.0969]), array([0.1902, 0.0209, 0.0273]))
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, not {ties!r}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n, p), not of shape {X.shape}")
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    n, p = X.shape
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    if not len(time) == len(event) == len(strata) == n:
        raise ValueError(f"X, time, event and strata must have one length, not {n}, {len(time)}, "
                         f"{len(event)}, {len(strata)}")
    order = np.lexsort((time, strata))
    # centring changes neither the coefficients nor the information; it keeps exp(x'β) in range
    Z = X[order]
    Z -= X.mean(axis=0)
    t, e, s = time[order], event[order], strata[order]
    cuts = np.flatnonzero(np.r_[True, s[1:] != s[:-1], True])
    parts = [_Stratum(Z[lo:hi], t[lo:hi], e[lo:hi], ties == "efron") for lo, hi in pairwise(cuts)]

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
        for part in parts:
            l_s, u_s, i_s = part.evaluate(beta)
            ll, score, info = ll + l_s, score + u_s, info + i_s
        return ll, score, info

    beta = np.zeros(p)
    ll, score, info = evaluate(beta)
    ll_null = ll
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            raise NotConverged("the information matrix is singular", iterations=iteration - 1) from None
        decrement = float(score @ step)
        if not np.isfinite(decrement):
            raise NotConverged("the likelihood is not finite", iterations=iteration - 1)
        scale = 1.0
        while True:  # the information is computed with the candidate: a step is rarely halved
            candidate = beta + scale * step
            ll_new, score_new, info_new = evaluate(candidate)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1 + abs(ll)):
                break
            scale /= 2
            if scale < 1e-10:
                raise NotConverged("no step increases the likelihood", iterations=iteration)
        beta, ll, score, info = candidate, ll_new, score_new, info_new
        # near the maximum a full Newton step squares the error: the step after a small decrement
        # leaves the estimate ~1e-12 from the maximum
        if scale == 1.0 and decrement < tol * (1 + abs(ll)):
            return PartialLikelihoodFit(beta, np.linalg.inv(info), ll, ll_null, iteration, ties, n, int(e.sum()))
    raise NotConverged(f"the maximum was not reached in {max_iter} steps", iterations=max_iter)
