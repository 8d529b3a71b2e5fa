"""Which experience metric adds most to predicting churn: concordance gains with a paired bootstrap.

For each candidate metric ``M`` a Cox model of time to churn from the landmark on the *base*
covariates plus ``M`` is compared with the base model alone (the base must contain tenure at the
landmark, e.g. its logarithm, and any other covariates every model shares)::

    gain_M = C(base + M) − C(base)

with ``C`` Harrell's concordance of the model's linear predictor (:func:`harrell_c`: the value of
``lifelines.utils.concordance_index``, counted exactly in vectorized O(N log² N) work; tied
predictions count one half). All models are fitted and scored on one **common sample** — the
customers with every metric and covariate observed — so that gains are comparable. The cost is
``draws × (len(metrics) + 1)`` Cox fits and concordances of the sample's size, so callers with
large samples compare on a seeded random subsample of it (see
:func:`cxlib.analyses.validity.compare_metrics`).

Uncertainty: a seeded, paired, nonparametric bootstrap (Harrell 2015, *Regression Modeling
Strategies*, §5.3): each resample of customers refits every model and recomputes every gain, so
the gains of different metrics (and their ranks, 1 = largest gain) come from the same resample.
Intervals are percentiles over the resamples. A metric is named ``best`` only when its rank
interval is [1, 1] — it ranks first in at least ``1 − (1 − level)/2`` of the resamples — otherwise
``best`` is None and the metrics cannot be told apart on these data. The gains are in-sample
(apparent) concordance gains; they are optimistic by roughly one parameter's worth of overfitting,
the same for every single-metric model, so comparisons between metrics are fair.

The Cox fits use the package's solver (:mod:`cxlib.stats.partial_likelihood`) with Breslow's tie
handling (only the ranking of the linear predictor enters ``C``; Efron and Breslow give practically
the same ordering, and Breslow's is cheaper).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> d = pd.DataFrame({"log_tenure": rng.normal(size=n), "csat": rng.normal(size=n), "noise": rng.normal(size=n)})
>>> t = rng.exponential(1 / np.exp(0.5 * d.log_tenure + 1.0 * d.csat))
>>> d["duration"], d["event"] = np.minimum(t, 1.0), (t < 1.0).astype(int)
>>> res = concordance_gains(d, "duration", "event", ["log_tenure"], ["csat", "noise"], draws=50, seed=1)
>>> res.best, res.summary.metric.tolist()
('csat', ['csat', 'noise'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import ClassVar

import numpy as np
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.results import Result, result
from cxlib.stats.partial_likelihood import NotConverged, fit_partial_likelihood

GAIN_COLUMNS = ["metric", "concordance", "gain", "gain_ci_lower", "gain_ci_upper", "rank", "rank_ci_lower",
                "rank_ci_upper", "share_ranked_first"]


def cox_linear_predictor(X: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Coefficients of a Cox model with Breslow ties (:func:`fit_partial_likelihood`), for the bootstrap.

    Parameters
    ----------
    X : ndarray, shape (n, p)
    time, event : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (p,)
        Coefficients on the scale of ``X``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1))
    >>> t = rng.exponential(1 / np.exp(0.7 * x[:, 0]))
    >>> round(float(cox_linear_predictor(x, t, np.ones(2000))[0]), 1)
    0.7
    """
    X = np.asarray(X, dtype=float)
    coef = np.zeros(X.shape[1])
    # a term constant in this (re)sample ranks nobody: it keeps 0, and the rest is fitted without it
    varies = np.ptp(X, axis=0) > 0 if len(X) else np.zeros(X.shape[1], bool)
    if varies.any():
        coef[varies] = fit_partial_likelihood(X[:, varies], time, event, ties="breslow").coef
    return coef


def harrell_c(time: np.ndarray, event: np.ndarray, score: np.ndarray) -> float:
    """Harrell's concordance index, exactly ``lifelines.utils.concordance_index(time, score, event)``.

    A pair of subjects is comparable when the earlier time is an event; at tied times, when exactly
    one of the two is an event (it counts as the earlier). The pair is concordant when the later
    subject has the higher score (higher = longer survival: pass minus a risk) and counts one half
    when the scores tie: ``C = (concordant + tied / 2) / comparable`` (:func:`concordance_counts`).

    Parameters
    ----------
    time, event, score : array_like, shape (n,)
        ``event`` nonzero where the event was observed.

    Returns
    -------
    float

    Raises
    ------
    NotEstimable
        When no pair is comparable (where lifelines divides by zero).
    ValueError
        On NaN or arrays of different shapes.

    Examples
    --------
    >>> harrell_c([1, 2, 2, 4], [1, 1, 0, 1], [1.0, 3.0, 2.0, 3.0])  # 3 concordant, 1 tied, 5 pairs
    0.7
    """
    less, tied, pairs = concordance_counts(time, event, score)
    if pairs == 0:
        raise NotEstimable("no pair of customers is comparable: no churn before another customer's end of follow-up",
                           model="concordance")
    return _ratio(less, tied, pairs)


def _ratio(less: int, tied: int, pairs: int) -> float:
    # lifelines' own arithmetic, so that the float is the same
    return float((np.int64(less) + np.int64(tied) / 2) / np.int64(pairs))


def concordance(time: np.ndarray, event: np.ndarray, score: np.ndarray, strata: np.ndarray | None = None) -> float:
    """Harrell's C of a fitted model's risk score (a higher score, an earlier churn), with the pairs
    counted within each stratum when there are strata; NaN when no pair is comparable.

    It is lifelines' ``CoxPHFitter.concordance_index_`` of the same fit: lifelines scores the
    predicted partial hazard ``exp(score)``, which orders the customers as ``score`` does.

    Examples
    --------
    >>> from lifelines import CoxPHFitter
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> cph = CoxPHFitter().fit(rossi, "week", "arrest", strata=["wexp"])
    >>> score = rossi[cph.params_.index].to_numpy() @ cph.params_.to_numpy()
    >>> bool(concordance(rossi["week"], rossi["arrest"], score, rossi["wexp"]) == cph.concordance_index_)
    True
    """
    t, e, s = (np.asarray(a, dtype=float) for a in (time, event, score))
    if strata is None:
        groups = [slice(None)]
    else:
        codes = np.unique(np.asarray(strata), return_inverse=True)[1]
        groups = [codes == k for k in range(int(codes.max()) + 1)] if len(codes) else []
    counts = np.array([concordance_counts(t[g], e[g], -s[g]) for g in groups if len(t[g]) > 1]).reshape(-1, 3)
    less, tied, pairs = (int(c) for c in counts.sum(axis=0))
    return _ratio(less, tied, pairs) if pairs else float("nan")


def concordance_counts(time: np.ndarray, event: np.ndarray, score: np.ndarray) -> tuple[int, int, int]:
    """Concordant, tied and comparable pairs of Harrell's C (see :func:`harrell_c`): exact integers,
    found in O(N log² N) vectorized work (lifelines walks the rows in Python).

    Examples
    --------
    >>> concordance_counts([1, 2, 2, 4], [1, 1, 0, 1], [1.0, 3.0, 2.0, 3.0])
    (3, 1, 5)
    >>> concordance_counts([1, 2], [0, 0], [1.0, 2.0])  # no churn: nothing comparable
    (0, 0, 0)
    """
    t, e, s = (np.asarray(a, dtype=float) for a in (time, event, score))
    if t.ndim != 1 or not t.shape == e.shape == s.shape:
        raise ValueError(f"time, event and score must be 1-dimensional of one length, not {t.shape}, {e.shape}, {s.shape}")
    if np.isnan(t).any() or np.isnan(e).any() or np.isnan(s).any():
        raise ValueError("time, event and score must not be NaN")
    ev = e != 0
    rank = np.unique(s, return_inverse=True)[1]  # tied scores share a rank
    # One query per subject and one insert per event, ordered by time and, at a tied time, event
    # queries, then event inserts, then censored queries: a query meets as inserts before it exactly
    # the events it is comparable with (earlier ones; at its own time too if it is censored).
    n = len(t)
    stage = np.concatenate([np.where(ev, 0, 2), np.ones(int(ev.sum()), int)])
    order = np.lexsort((stage, np.concatenate([t, t[ev]])))
    inserted = order >= n
    r = np.concatenate([rank, rank[ev]])[order]
    pairs = int(np.cumsum(inserted)[~inserted].sum())
    if pairs == 0:
        return 0, 0, 0
    # Each (insert, later query) pair is counted once, at the level where the two fall in the same
    # block of 2^(k+1) positions but different halves: left-half inserts against right-half queries.
    # Keys block * n_ranks + rank keep the blocks apart in one sort and one set of binary searches.
    pos = np.arange(len(r))
    pos_i, rank_i, pos_q, rank_q = pos[inserted], r[inserted], pos[~inserted], r[~inserted]
    n_ranks = int(rank.max()) + 1
    less = tied = 0
    k = 0
    while (1 << k) < len(r):
        left, right = ((pos_i >> k) & 1) == 0, ((pos_q >> k) & 1) == 1
        queries = np.sort((pos_q[right] >> (k + 1)) * n_ranks + rank_q[right])
        inserts = np.sort((pos_i[left] >> (k + 1)) * n_ranks + rank_i[left])
        lo, hi = np.searchsorted(queries, inserts, "left"), np.searchsorted(queries, inserts, "right")
        block_end = np.searchsorted(queries, (inserts // n_ranks + 1) * n_ranks)
        less += int((block_end - hi).sum())  # later queries of the block with a higher score
        tied += int((hi - lo).sum())
        k += 1
    return less, tied, pairs


@result
class ConcordanceGains(Result):
    """Result of :func:`concordance_gains` (see its examples).

    Attributes
    ----------
    summary : DataFrame
        :data:`GAIN_COLUMNS`, one row per metric, largest gain first.
    base_concordance : float
    best : str or None
        The metric whose rank interval is [1, 1]; None when none is separated.
    n, n_events, draws : int
        Common sample, its churners, bootstrap resamples.
    gains : ndarray, shape (draws, n_metrics)
        The bootstrap gains (columns in ``metrics`` order).

    Examples
    --------
    >>> ConcordanceGains.title
    'Concordance gain of each metric over the base model'
    """

    title: ClassVar[str] = "Concordance gain of each metric over the base model"
    summary: pd.DataFrame
    base_concordance: float
    best: str | None
    n: int
    n_events: int
    draws: int
    gains: np.ndarray = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.summary

    def _lines(self) -> list[str]:
        best = f"best: {self.best}" if self.best else "no metric separated from the others"
        return [f"n = {self.n:,} ({self.n_events:,} churned), base C = {self.base_concordance:.3f}, "
                f"{self.draws} bootstrap resamples; {best}"]


def _gains(X_base: np.ndarray, M: np.ndarray, t: np.ndarray, e: np.ndarray) -> tuple[float, np.ndarray]:
    if X_base.shape[1]:
        base_risk = X_base @ cox_linear_predictor(X_base, t, e)
    else:
        base_risk = np.zeros(len(t))
    c_base = harrell_c(t, e, -base_risk)
    out = np.empty(M.shape[1])
    for k in range(M.shape[1]):
        X = np.column_stack([X_base, M[:, k]])
        out[k] = harrell_c(t, e, -(X @ cox_linear_predictor(X, t, e)))
    return c_base, out - c_base


def concordance_gains(frame: pd.DataFrame, duration: str, event: str, base: Sequence[str], metrics: Sequence[str],
                      draws: int = 200, seed: int | np.random.Generator = 0, level: float = 0.95) -> ConcordanceGains:
    """Concordance gain of each metric over the base model, with paired bootstrap intervals and ranks.

    Parameters
    ----------
    frame : DataFrame
        One row per customer at the landmark: ``duration`` (days from the landmark), ``event``
        (0/1 churned), the ``base`` covariates (numeric; include tenure at the landmark, e.g. its
        logarithm) and the ``metrics`` (numeric). Rows with any of them missing are dropped, so all
        models share one sample.
    duration, event : str
    base : sequence of str
    metrics : sequence of str
    draws : int
        Bootstrap resamples (cost: ``draws × (len(metrics) + 1)`` Cox fits and concordances).
    seed : int or numpy.random.Generator
    level : float

    Returns
    -------
    ConcordanceGains

    Raises
    ------
    NotEstimable
        Without churners or without metrics in the common sample.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=300)
    >>> frame = pd.DataFrame({"days": rng.exponential(1 / np.exp(x)), "churned": 1,
    ...                       "strong": x, "noise": rng.normal(size=300)})
    >>> g = concordance_gains(frame, "days", "churned", [], ["strong", "noise"], draws=10, seed=0)
    >>> g.best, g.summary["metric"].tolist()
    ('strong', ['strong', 'noise'])
    """
    base, metrics = list(base), list(metrics)
    if not metrics:
        raise NotEstimable("there is no metric to compare", model="metric_validity")
    data = frame[[duration, event, *base, *metrics]].dropna()
    t, e = data[duration].to_numpy(float), data[event].to_numpy(float)
    if e.sum() == 0:
        raise NotEstimable("no customer in the common sample churned after the landmark", model="metric_validity")
    Xb, M = data[base].to_numpy(float), data[metrics].to_numpy(float)
    try:
        c_base, gain = _gains(Xb, M, t, e)
    except NotConverged as exc:
        raise NotEstimable(f"a Cox model of the comparison did not converge ({exc.reason})",
                           model="metric_validity") from exc
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = len(data)
    boot = np.empty((draws, len(metrics)))
    for b in range(draws):
        idx = rng.integers(0, n, n)
        if e[idx].sum() == 0:
            boot[b] = np.nan
            continue
        try:
            boot[b] = _gains(Xb[idx], M[idx], t[idx], e[idx])[1]
        except NotConverged:  # e.g. two terms that coincide in this resample: the draw is left out
            boot[b] = np.nan
    boot = boot[~np.isnan(boot).any(axis=1)]
    alpha = (1 - level) / 2
    # rank 1 = largest gain; ties share the best rank
    ranks = (boot[:, None, :] > boot[:, :, None]).sum(axis=2) + 1
    point_rank = (gain[None, :] > gain[:, None]).sum(axis=1) + 1
    summary = pd.DataFrame({
        "metric": metrics, "concordance": c_base + gain, "gain": gain,
        "gain_ci_lower": np.quantile(boot, alpha, axis=0), "gain_ci_upper": np.quantile(boot, 1 - alpha, axis=0),
        "rank": point_rank,
        "rank_ci_lower": np.quantile(ranks, alpha, axis=0, method="inverted_cdf").astype(int),
        "rank_ci_upper": np.quantile(ranks, 1 - alpha, axis=0, method="inverted_cdf").astype(int),
        "share_ranked_first": (ranks == 1).mean(axis=0),
    }, columns=GAIN_COLUMNS)
    separated = summary[(summary.rank_ci_lower == 1) & (summary.rank_ci_upper == 1)]
    best = str(separated.metric.iloc[0]) if len(metrics) > 1 and len(separated) == 1 else None
    summary = summary.sort_values(["gain", "metric"], ascending=[False, True], ignore_index=True)
    return ConcordanceGains(summary, c_base, best, n, int(e.sum()), len(boot), boot)
