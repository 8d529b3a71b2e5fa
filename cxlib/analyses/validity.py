"""Metrics that matter: how well each CX metric, measured per customer, predicts churn.

Design (a landmark analysis)
----------------------------
* **Landmark** ``L = as_of − horizon`` with ``horizon = max(horizons_days)``: the customers at risk
  at ``L`` (signed up before it, not churned on or before it) are followed for ``horizon`` days.
  Their churn after ``L`` is observed completely up to ``as_of``, so no one is censored early.
* **Baseline window** ``[L − baseline_days, L)`` (default: as long as the horizon): each customer's
  value of a metric is computed from their own interactions (surveys, for NPS) in the window —
  CSAT mean, CSAT top-2-box share, CES mean and resolution rate per touchpoint and over all
  touchpoints; relationship NPS as the mean of +100 / 0 / −100 (promoter / passive / detractor), so
  that its average over customers is the NPS the business tracks. Customers without a value for a
  metric are not in that metric's sample.
* **Models**, per metric, on its sample: a Cox proportional-hazards model (Efron ties)
  of time to churn on the ``covariates`` and the **log of tenure at the landmark** (``log_tenure``,
  days since signup: new customers churn more and interact differently, so every model adjusts for
  it), and the same model plus the metric standardized to mean 0 and SD 1 over the sample.
  Reported: the metric's **hazard ratio per SD** with its Wald 95% interval, and the **gain in
  concordance** (Harrell's C, in sample) of the second model over the first, with the sample's
  size ``n`` — what a metric adds to what is already known about a customer. A metric whose hazard
  ratio interval includes 1 has no demonstrated link with churn at this sample size.
* **Comparison on a common sample**: the metrics with an estimated hazard ratio are compared on the
  customers who have all of them (:func:`comparison_set`: metrics join in order of their sample size
  while the common sample keeps at least half the largest one), with
  :func:`cxlib.stats.concordance.concordance_gains` — a seeded paired bootstrap (``draws`` resamples,
  params ``bootstrap`` capped at :data:`MAX_DRAWS` for cost) of every gain, with percentile intervals
  of the gain and of the rank. A metric is named **best** only when its rank interval is [1, 1];
  otherwise the candidates cannot be told apart at this sample size. Metrics outside the common
  sample keep their own-sample gain and their own ``n``, with no rank. A common sample larger than
  :data:`MAX_COMPARISON_N` is compared on a simple random sample of that many of its customers,
  drawn with the seed before the bootstrap (``common_n`` is then the cap): the estimand, the
  population gain, is the same, and the cost (``draws × metrics`` Cox fits and concordances of
  ``common_n`` customers) stops growing with the customer base.
* **Above** :data:`MAX_VALIDITY_CUSTOMERS` customers at risk at the landmark, all of the above runs
  on one seeded systematic sample of them (``sampled_from`` of the result; ``docs/methods.md``).

The per-customer values come from one engine query per table (:mod:`cxlib.features.landmark`);
only one row per customer reaches pandas, as the Cox models need it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from cxlib.errors import NotEstimable
from cxlib.features.customers import Covariate, systematic_sample
from cxlib.features.landmark import (
    VALUE_COLUMNS,
    interaction_metrics,
    landmark_people,
    survey_nps,
)
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.concordance import concordance, concordance_gains
from cxlib.stats.partial_likelihood import (
    NotConverged,
    PartialLikelihoodFit,
    fit_partial_likelihood,
)

MIN_EVENTS = 10  # churn events a metric's sample needs before its hazard ratio is estimated
MIN_SAMPLE = 30  # customers a metric's sample needs at least (or min_cell_size when larger)
MAX_DRAWS = 100  # bootstrap resamples of the comparison (each refits every compared metric's Cox model)
MAX_COMPARISON_N = 20_000  # the comparison runs on a seeded random sample of this many customers above it (cost)
# Above this many customers at risk the per-metric models run on a seeded systematic sample of them: the
# metric values are one row per customer × metric × touchpoint in pandas (about 140 s at 1M customers)
MAX_VALIDITY_CUSTOMERS = 200_000
COMMON_SHARE = 0.5  # the common sample keeps at least this share of the largest metric's sample
TENURE = "log_tenure"
COMPARISON_COLUMNS = ["common_n", "gain_common", "gain_ci_lower", "gain_ci_upper", "rank", "rank_ci_lower",
                      "rank_ci_upper", "share_ranked_first"]


@result
class MetricValidityResult(Result):
    """Hazard ratio per SD and concordance gain of each candidate metric.

    Attributes
    ----------
    summary : DataFrame
        ``metric, touchpoint, n, events, hazard_ratio_per_sd, ci_lower, ci_upper, p_value,
        concordance_covariates, concordance_with_metric, concordance_gain, metric_mean, metric_sd,
        note``; estimated metrics first, ranked by concordance gain.
    landmark, window_start, follow_up_end : datetime.date
        The landmark date, the start of the baseline window and the end of follow-up.
    n_at_risk : int
        Customers at risk at the landmark with complete covariates.
    covariates : tuple of str
        The model terms every model adjusts for (with ``log_tenure``).
    best : tuple of (str, str) or None
        ``(metric, touchpoint)`` whose rank interval on the common sample is [1, 1]; None when the
        compared metrics cannot be told apart (or fewer than two were compared).
    draws : int
        Bootstrap resamples of the comparison.
    sampled_from : int or None
        Customers at risk at the landmark when the models ran on a systematic sample of them
        (``n_at_risk`` is then the sample's); None when they ran on all.

    Examples
    --------
    >>> s = pd.DataFrame({c: [0.9] for c in RESULT_COLUMNS["metric_validity"]}).assign(metric="nps", touchpoint="all")
    >>> res = MetricValidityResult(s, dt.date(2025, 9, 30), dt.date(2024, 9, 30), dt.date(2026, 9, 30), 5000, ())
    >>> len(res.to_frame()), res.printer().lines[0]
    (1, 'Landmark 2025-09-30 (metrics from 2024-09-30, churn to 2026-09-30); 5,000 customers at risk.')
    """

    title: ClassVar[str] = "Metrics that matter"
    summary: pd.DataFrame
    landmark: dt.date
    window_start: dt.date
    follow_up_end: dt.date
    n_at_risk: int
    covariates: tuple[str, ...]
    best: tuple[str, str] | None = None
    draws: int = 0
    sampled_from: int | None = None

    def to_frame(self) -> pd.DataFrame:
        """The ``metric_validity.csv`` contract table (estimated metrics only)."""
        est = self.summary[self.summary["hazard_ratio_per_sd"].notna()]
        return est[RESULT_COLUMNS["metric_validity"]].reset_index(drop=True)

    def _lines(self) -> list[str]:
        sample = (f" (a systematic sample of the {self.sampled_from:,} at risk)" if self.sampled_from is not None
                  else "")
        return [(f"Landmark {self.landmark} (metrics from {self.window_start}, churn to {self.follow_up_end}); "
                 f"{self.n_at_risk:,} customers at risk{sample}.")]


def comparison_set(summary: pd.DataFrame, values: pd.DataFrame, people: pd.DataFrame,
                   min_n: int) -> list[tuple[str, str]]:
    """The estimated metrics compared on one common sample, largest sample first.

    A metric joins while the customers having every metric so far stay at least
    :data:`COMMON_SHARE` of the largest metric's sample and at least ``min_n``.

    Examples
    --------
    >>> s = pd.DataFrame({"metric": ["a", "b", "c"], "touchpoint": "all", "n": [100, 90, 10],
    ...                   "hazard_ratio_per_sd": [0.8, 0.9, 0.7]})
    >>> v = pd.DataFrame({"customer_id": list(range(100)) + list(range(90)) + list(range(10)),
    ...                   "metric": ["a"] * 100 + ["b"] * 90 + ["c"] * 10, "touchpoint": "all", "value": 1.0})
    >>> comparison_set(s, v, pd.DataFrame({"customer_id": range(100)}), min_n=30)
    [('a', 'all'), ('b', 'all')]
    """
    est = summary[summary["hazard_ratio_per_sd"].notna()].sort_values(["n", "metric", "touchpoint"],
                                                                      ascending=[False, True, True])
    if est.empty:
        return []
    floor = max(min_n, COMMON_SHARE * float(est["n"].iloc[0]))
    who = {k: set(g["customer_id"]) for k, g in values.groupby(["metric", "touchpoint"])}
    common, chosen = set(people["customer_id"]), []
    for key in zip(est["metric"], est["touchpoint"]):
        narrower = common & who.get(key, set())
        if len(narrower) >= floor:
            common, chosen = narrower, [*chosen, key]
    return chosen


def compare_metrics(people: pd.DataFrame, design: pd.DataFrame, values: pd.DataFrame, summary: pd.DataFrame,
                    min_n: int, draws: int, seed: int, level: float = 0.95) -> tuple[pd.DataFrame, tuple[str, str] | None, int]:
    """The summary with :data:`COMPARISON_COLUMNS` (paired bootstrap on the common sample) and the best metric.

    A common sample above :data:`MAX_COMPARISON_N` customers is replaced by a simple random sample
    of that size drawn from ``numpy.random.default_rng(seed)``, whose next draws are the bootstrap's.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 600
    >>> strong, weak = rng.normal(size=n), rng.normal(size=n)
    >>> t = rng.exponential(300 * np.exp(0.8 * strong))
    >>> people = pd.DataFrame({"customer_id": range(n), "time": np.minimum(t, 365).round(), "event": (t < 365).astype(int)})
    >>> values = pd.concat([pd.DataFrame({"customer_id": range(n), "metric": m, "touchpoint": "all", "value": v})
    ...                     for m, v in (("csat_mean", strong), ("ces_mean", weak))])
    >>> design = pd.DataFrame(index=people.index)
    >>> s = score_metrics(people, design, values)
    >>> out, best, draws = compare_metrics(people, design, values, s, min_n=30, draws=30, seed=1)
    >>> best, out[["metric", "rank", "rank_ci_lower", "rank_ci_upper"]].values.tolist()
    (('csat_mean', 'all'), [['csat_mean', 1, 1, 1], ['ces_mean', 2, 2, 2]])
    """
    out = summary.reindex(columns=[*summary.columns, *COMPARISON_COLUMNS])
    chosen = comparison_set(summary, values, people, min_n)
    if len(chosen) < 2 or draws < 1:
        return out.astype({c: "Int64" for c in ("common_n", "rank", "rank_ci_lower", "rank_ci_upper")}), None, 0
    names = [f"m{i}" for i in range(len(chosen))]
    frame = pd.concat([people[["customer_id", "time", "event"]], design], axis=1)
    for name, (metric, tp) in zip(names, chosen):
        v = values[(values["metric"] == metric) & (values["touchpoint"] == tp)].set_index("customer_id")["value"]
        frame[name] = frame["customer_id"].map(v)
    frame = frame.dropna()
    rng = np.random.default_rng(seed)
    if len(frame) > MAX_COMPARISON_N:  # drawn before the bootstrap, from the same generator: reproducible
        frame = frame.iloc[np.sort(rng.choice(len(frame), MAX_COMPARISON_N, replace=False))].copy()
    base = [c for c in design.columns if frame[c].nunique() > 1]
    for name in names:  # standardized on the compared sample, as in the per-metric models
        frame[name] = (frame[name] - frame[name].mean()) / frame[name].std(ddof=1)
    try:
        g = concordance_gains(frame, "time", "event", base, names, draws=draws, seed=rng, level=level)
    except NotEstimable:
        return out, None, 0
    res = g.summary.assign(key=g.summary["metric"].map(dict(zip(names, chosen))))
    at = {k: i for i, k in enumerate(zip(out["metric"], out["touchpoint"]))}
    for _, r in res.iterrows():
        i = out.index[at[r["key"]]]
        out.loc[i, COMPARISON_COLUMNS] = [g.n, r["gain"], r["gain_ci_lower"], r["gain_ci_upper"], r["rank"],
                                          r["rank_ci_lower"], r["rank_ci_upper"], r["share_ranked_first"]]
    out = out.astype({c: "Int64" for c in ("common_n", "rank", "rank_ci_lower", "rank_ci_upper")})
    best = dict(zip(names, chosen))[g.best] if g.best else None
    out = out.sort_values(["rank", "concordance_gain", "metric", "touchpoint"], ascending=[True, False, True, True],
                          na_position="last", ignore_index=True)
    return out, best, g.draws


def covariate_design(people: pd.DataFrame, covariates: Sequence[Covariate]) -> pd.DataFrame:
    """Cox design columns: a numeric covariate as its value, a categorical one as ``name[level]``
    indicators against its most frequent level (NaN where the covariate is missing).

    Examples
    --------
    >>> plan = Covariate("plan", "categorical", levels=("basic", "premium"))
    >>> covariate_design(pd.DataFrame({"plan": ["basic", "premium", None]}), [plan])
       plan[premium]
    0            0.0
    1            1.0
    2            NaN
    """
    cols: dict[str, pd.Series] = {}
    for cov in covariates:
        v = people[cov.name]
        if cov.kind == "categorical":
            for level in cov.levels[1:]:
                cols[f"{cov.name}[{level}]"] = (v == level).astype(float).where(v.notna())
        else:
            cols[cov.name] = pd.to_numeric(v, errors="coerce").astype(float)
    return pd.DataFrame(cols, index=people.index)


def _fit_cox(df: pd.DataFrame) -> tuple[PartialLikelihoodFit, float]:
    """Cox (Efron ties) of ``time``, ``event`` on the other columns, and its in-sample concordance."""
    X = df.drop(columns=["time", "event"]).to_numpy(float)
    fit = fit_partial_likelihood(X, df["time"], df["event"])
    return fit, concordance(df["time"], df["event"], X @ fit.coef)


def score_metrics(people: pd.DataFrame, design: pd.DataFrame, values: pd.DataFrame,
                  min_n: int = 10, level: float = 0.95) -> pd.DataFrame:
    """Fit, per metric, Cox on the covariates with and without the standardized metric.

    Parameters
    ----------
    people : DataFrame
        One row per customer: ``customer_id``, ``time`` (days of follow-up), ``event`` (0/1).
    design : DataFrame
        Covariate design columns, aligned with ``people`` (see :func:`covariate_design`).
    values : DataFrame
        ``customer_id, metric, touchpoint, value``.
    min_n : int
        Smallest sample (customers with a value) to estimate; smaller ones get a note only.

    Returns
    -------
    DataFrame
        One row per (metric, touchpoint), ranked by concordance gain; see :class:`MetricValidityResult`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = rng.normal(0, 1, 400)
    >>> t = rng.exponential(300 * np.exp(0.5 * m))
    >>> people = pd.DataFrame({"customer_id": range(400), "time": np.minimum(t, 365).round(), "event": (t < 365).astype(int)})
    >>> values = pd.DataFrame({"customer_id": range(400), "metric": "csat_mean", "touchpoint": "all", "value": m})
    >>> out = score_metrics(people, pd.DataFrame(index=people.index), values)
    >>> out.loc[0, "metric"], int(out.loc[0, "n"]), bool(out.loc[0, "hazard_ratio_per_sd"] < 1)
    ('csat_mean', 400, True)
    """
    base = pd.concat([people[["customer_id", "time", "event"]], design], axis=1).dropna()
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    covariates_only: dict[int, float] = {}  # samples shared by several metrics need one covariate fit
    for (metric, tp), g in values.groupby(["metric", "touchpoint"], sort=True):
        sample = base.merge(g[["customer_id", "value"]], on="customer_id")
        row: dict[str, Any] = {"metric": metric, "touchpoint": tp, "n": len(sample),
                               "events": int(sample["event"].sum()), "metric_mean": sample["value"].mean(),
                               "metric_sd": sample["value"].std(ddof=1), "note": ""}
        rows.append(row)
        if row["n"] < min_n or row["events"] < MIN_EVENTS:
            row["note"] = f"too few customers or churn events ({row['n']:,} customers, {row['events']:,} events)"
            continue
        if not row["metric_sd"] > 0:
            row["note"] = "every customer in the sample has the same value"
            continue
        data = sample.drop(columns="customer_id").assign(metric_z=(sample["value"] - row["metric_mean"]) / row["metric_sd"])
        data = data.drop(columns="value")
        constant = [c for c in design.columns if data[c].nunique() < 2]
        data = data.drop(columns=constant)
        try:
            full, c_full = _fit_cox(data)
            key = hash((tuple(sample["customer_id"]), tuple(data.columns)))
            if key not in covariates_only:
                has_covariates = len(data.columns) > 3
                covariates_only[key] = _fit_cox(data.drop(columns="metric_z"))[1] if has_covariates else 0.5
            c_cov = covariates_only[key]
        except NotConverged as exc:
            row["note"] = f"the Cox model did not converge ({exc.reason})"
            continue
        b, se = full.coef[-1], full.se[-1]  # metric_z is the last column
        row.update(hazard_ratio_per_sd=float(np.exp(b)), ci_lower=float(np.exp(b - z * se)),
                   ci_upper=float(np.exp(b + z * se)), p_value=float(2 * stats.norm.sf(abs(b / se))),
                   concordance_covariates=float(c_cov), concordance_with_metric=c_full,
                   concordance_gain=float(c_full - c_cov))
    cols = ["metric", "touchpoint", "n", "events", "hazard_ratio_per_sd", "ci_lower", "ci_upper", "p_value",
            "concordance_covariates", "concordance_with_metric", "concordance_gain", "metric_mean", "metric_sd", "note"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    return out.sort_values(["concordance_gain", "metric", "touchpoint"], ascending=[False, True, True],
                           na_position="last", ignore_index=True)


def metric_validity(customers: ir.Table, interactions: ir.Table | None, surveys: ir.Table | None,
                    covariates: Sequence[Covariate], touchpoints: Sequence[str], as_of: dt.date,
                    horizon_days: int, baseline_days: int | None = None, min_cell_size: int = 10,
                    bootstrap: int = MAX_DRAWS, seed: int = 0,
                    max_customers: int = MAX_VALIDITY_CUSTOMERS) -> MetricValidityResult:
    """Metrics that matter: landmark Cox models of churn on each candidate metric.

    Above ``max_customers`` customers at risk at the landmark, everything below runs on one seeded
    systematic sample of at most that many of them
    (:func:`cxlib.features.customers.systematic_sample`; the result's ``sampled_from`` says so).

    Parameters
    ----------
    customers : ibis Table
        ``customer_id``, ``signup_date``, ``churn_date`` and the covariates' columns.
    interactions, surveys : ibis Table or None
        The sources of the candidate metrics (interaction metrics, relationship NPS); at least one.
    covariates : sequence of Covariate
        How the covariates enter the models (coded as in the retention models).
    touchpoints : sequence of str
        Touchpoints with their own metric values (besides ``all``).
    as_of : datetime.date
        End of follow-up.
    horizon_days : int
        Follow-up after the landmark (``max(horizons_days)``): the landmark is ``as_of − horizon``.
    baseline_days : int, optional
        Length of the window before the landmark that the metrics are computed over; default the horizon.
    min_cell_size : int
        A metric's sample needs at least this many customers (and at least 30) to be estimated.
    bootstrap : int
        Resamples of the comparison (params ``bootstrap``), capped at :data:`MAX_DRAWS`.
    seed : int
        Seed of the bootstrap and of the sample (params ``seed``).
    max_customers : int
        Customers at risk above which the models run on a sample (:data:`MAX_VALIDITY_CUSTOMERS`).

    Raises
    ------
    NotEstimable
        When no customer is at risk on the landmark date (not enough history).

    Examples
    --------
    >>> import ibis
    >>> rng = np.random.default_rng(1)
    >>> n = 300
    >>> csat = rng.integers(1, 6, n)
    >>> days = np.minimum(rng.exponential(500 * np.exp(0.4 * (csat - 3))), 800).astype(int)
    >>> customers = ibis.memtable({"customer_id": [f"c{i}" for i in range(n)], "signup_date": [dt.date(2024, 1, 1)] * n,
    ...     "churn_date": [dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) if d < 800 else None for d in days]})
    >>> interactions = ibis.memtable({"customer_id": [f"c{i}" for i in range(n)], "touchpoint": "app",
    ...     "timestamp": pd.Timestamp("2024-12-01"), "csat": csat.astype(float), "ces": np.nan, "resolved": None})
    >>> res = metric_validity(customers, interactions, None, [], ["app"], dt.date(2026, 1, 1), horizon_days=365)
    >>> res.landmark, res.n_at_risk, res.to_frame()["metric"].tolist()
    (datetime.date(2025, 1, 1), 300, ['csat_mean', 'csat_top2'])
    """
    baseline = baseline_days or horizon_days
    landmark = as_of - dt.timedelta(days=horizon_days)
    start = landmark - dt.timedelta(days=baseline)
    people_t = landmark_people(customers, landmark, as_of, covariates)
    n = int(people_t.count().execute())
    if n == 0:
        raise NotEstimable(f"No customer was active on the landmark date {landmark} ({horizon_days} days before as_of): "
                           "the data do not reach back far enough to measure metrics before a full follow-up.",
                           model="metric_validity")
    args = (interactions, surveys, covariates, touchpoints, landmark, start, as_of, min_cell_size, bootstrap, seed)
    if n <= max_customers:
        return _validity(people_t, *args)
    sample, _ = systematic_sample(people_t, n, max_customers, seed)
    with sample:
        return dataclasses.replace(_validity(sample, *args), sampled_from=n)


def _validity(people_t: ir.Table, interactions: ir.Table | None, surveys: ir.Table | None,
              covariates: Sequence[Covariate], touchpoints: Sequence[str], landmark: dt.date, start: dt.date,
              as_of: dt.date, min_cell_size: int, bootstrap: int, seed: int) -> MetricValidityResult:
    """:func:`metric_validity` on the customers of ``people_t`` (all at risk, or a sample of them)."""
    people = people_t.execute()
    design = covariate_design(people, covariates)
    # tenure at the landmark (signup before it, so at least one day): every model adjusts for it
    design[TENURE] = np.log(people["tenure_days"].astype(float).clip(lower=1))
    parts = []
    if interactions is not None:
        parts.append(interaction_metrics(interactions, people_t, touchpoints, start, landmark))
    if surveys is not None:
        parts.append(survey_nps(surveys, people_t, start, landmark))
    values = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=VALUE_COLUMNS)
    min_n = max(min_cell_size, MIN_SAMPLE)
    summary = score_metrics(people, design, values, min_n=min_n)
    summary, best, draws = compare_metrics(people, design, values, summary, min_n, min(bootstrap, MAX_DRAWS), seed)
    n_at_risk = int(design.notna().all(axis=1).sum())
    return MetricValidityResult(summary=summary, landmark=landmark, window_start=start, follow_up_end=as_of,
                                n_at_risk=n_at_risk, covariates=tuple(design.columns), best=best, draws=draws)
