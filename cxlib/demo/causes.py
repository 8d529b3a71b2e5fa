"""Churn causes of the demo data: the involuntary latent time and each churner's reason.

Used by :mod:`cxlib.demo.synthetic` (see its "How churn is simulated"); the constants and the truths
are in :mod:`cxlib.demo.truth`.
"""

from __future__ import annotations

import numpy as np

from cxlib.demo.truth import CHURN_REASONS, P_REASON_MISSING, P_REASON_UNMAPPED, TENURE_PIECES, UNMAPPED_REASON

__all__ = ["churn_reasons", "piecewise_times"]


def piecewise_times(rates: tuple[float, ...], horizon: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Tenure (days) at which a piecewise-constant hazard on ``TENURE_PIECES`` accumulates ``e``; ``inf``
    from the horizon on.

    Parameters
    ----------
    rates : tuple of float
        Hazard per day on each tenure piece (``INVOLUNTARY_HAZARD_PER_DAY``).
    horizon : numpy.ndarray
        Days each customer is observed.
    e : numpy.ndarray
        Draws of Exp(1), one per customer.

    Examples
    --------
    >>> piecewise_times((0.01, 0.02, 0.04), np.array([1000.0, 1000.0, 50.0]), np.array([0.5, 5.0, 0.9]))
    array([ 50., 295.,  inf])
    """
    bounds = np.asarray(TENURE_PIECES, dtype=float)
    rate = np.asarray(rates, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(bounds))])  # cumulative hazard at each piece's start
    k = np.searchsorted(cum, e, side="right") - 1
    tau = bounds[k] + (e - cum[k]) / rate[k]
    return np.where(tau < horizon, tau, np.inf)


def churn_reasons(rng: np.random.Generator, involuntary: np.ndarray, churned: np.ndarray) -> np.ndarray:
    """A reason per churner (None for the others): drawn within its cause, then a few blanked or unmapped.

    Two uniform draws per customer, whatever happens, so the stream's use does not depend on the data.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> out = churn_reasons(rng, np.array([True, False, False]), np.array([True, True, False]))
    >>> out[0] in ("non_payment", "moved", "deceased", "account_merged", None), out[2] is None
    (True, True)
    """
    m = involuntary.size
    u_reason, u_quality = rng.random(m), rng.random(m)
    out = np.full(m, None, dtype=object)
    for cause, mask in (("voluntary", ~involuntary), ("involuntary", involuntary)):
        names = np.array(list(CHURN_REASONS[cause]), dtype=object)
        cum = np.cumsum(list(CHURN_REASONS[cause].values()))
        pick = np.minimum(np.searchsorted(cum, u_reason, side="right"), names.size - 1)
        out[mask] = names[pick[mask]]
    out[u_quality < P_REASON_MISSING] = None
    out[(u_quality >= P_REASON_MISSING) & (u_quality < P_REASON_MISSING + P_REASON_UNMAPPED)] = UNMAPPED_REASON
    out[~churned] = None
    return out
