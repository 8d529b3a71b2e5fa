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
* **Models**, per metric, on its sample: a Cox proportional-hazards model (lifelines, Efron ties)
  of time to churn on the ``covariates`` alone, and the same model plus the metric standardized to
  mean 0 and SD 1 over the sample. Reported: the metric's **hazard ratio per SD** with its Wald 95%
  interval, and the **gain in concordance** (Harrell's C, in sample) of the second model over the
  first. Metrics are ranked by that gain: it measures what a metric adds to what is already known
  about a customer. A metric whose hazard ratio interval includes 1 has no demonstrated link with
  churn at this sample size.

The per-customer values come from one engine query per table (grouped by customer: one row per
customer, columns per metric and touchpoint); only those rows reach pandas, as the Cox models need
one row per customer.

Examples
--------
>>> res = metric_validity(wb)            # doctest: +SKIP
>>> res.to_frame().head()                # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import warnings as _warnings
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats

from cxlib.features.exposures import Covariate
from cxlib.results import ALL, RESULT_COLUMNS
from cxlib.analyses.survival import model_covariates

CANDIDATE_METRICS = ("csat_mean", "csat_top2", "ces_mean", "resolution_rate")
MIN_EVENTS = 10  # churn events a metric's sample needs before its hazard ratio is estimated


@dataclass(frozen=True)
class MetricValidityResult:
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
        The model terms every model adjusts for.
    """

    summary: pd.DataFrame
    landmark: dt.date
    window_start: dt.date
    follow_up_end: dt.date
    n_at_risk: int
    covariates: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """The ``metric_validity.csv`` contract table (estimated metrics only)."""
        est = self.summary[self.summary["hazard_ratio_per_sd"].notna()]
        return est[RESULT_COLUMNS["metric_validity"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"landmark": str(self.landmark), "window_start": str(self.window_start),
                "follow_up_end": str(self.follow_up_end), "n_at_risk": self.n_at_risk,
                "covariates": list(self.covariates), "metrics": self.summary.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        head = (f"<p>Landmark {self.landmark} (metrics from {self.window_start}, churn to {self.follow_up_end}); "
                f"{self.n_at_risk:,} customers at risk.</p>")
        return head + self.summary.to_html(index=False, float_format=lambda x: f"{x:.3f}", escape=True)


# ---- engine side ----------------------------------------------------------------------------


def landmark_people(customers: ir.Table, landmark: dt.date, follow_up_end: dt.date,
                    covariates: list[Covariate]) -> ir.Table:
    """Customers at risk at ``landmark``: follow-up ``time`` (days after it), ``event`` and covariates.

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"],
    ...                    "signup_date": [dt.date(2024, 1, 1)] * 3,
    ...                    "churn_date": [dt.date(2024, 6, 1), dt.date(2025, 3, 1), None]})
    >>> landmark_people(t, dt.date(2025, 1, 1), dt.date(2026, 1, 1), []).execute()
      customer_id  time  event
    0           b    59      1
    1           c   365      0
    """
    c = customers
    at_risk = c.filter((c.signup_date < landmark) & (c.churn_date.isnull() | (c.churn_date > landmark)))
    event = at_risk.churn_date.notnull() & (at_risk.churn_date <= follow_up_end)
    stop = ibis.ifelse(event, at_risk.churn_date, ibis.literal(follow_up_end, "date"))
    return at_risk.select(
        customer_id=at_risk.customer_id,
        time=stop.delta(ibis.literal(landmark, "date"), unit="day").cast("int64"),
        event=event.cast("int64"),
        **{cov.name: cov.value(at_risk) for cov in covariates},
    ).order_by("customer_id")


def interaction_metrics(interactions: ir.Table, people: ir.Table, touchpoints: list[str],
                        start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per customer, each candidate metric per touchpoint (and over all) from interactions in ``[start, end)``.

    Returns
    -------
    DataFrame
        ``customer_id``, ``metric``, ``touchpoint``, ``value`` (long format; customers without a
        value for a metric have no row for it). A metric recorded at a single touchpoint has no
        separate ``all`` rows (they would repeat that touchpoint's).
    """
    x = interactions.semi_join(people.select("customer_id"), "customer_id")
    day = x.timestamp.date()
    x = x.filter((day >= ibis.literal(start, "date")) & (day < ibis.literal(end, "date")))
    scopes = [(ALL, ibis.literal(True))] + [(tp, x.touchpoint == tp) for tp in touchpoints]
    values = {
        "csat_mean": x.csat,
        "csat_top2": (x.csat >= 4).cast("float64"),
        "ces_mean": x.ces,
        "resolution_rate": x.resolved.cast("float64"),
    }
    aggs, names = {}, {}
    for i, (tp, where) in enumerate(scopes):
        for metric, value in values.items():
            key = f"m{i}_{metric}"
            aggs[key] = value.mean(where=where)
            names[key] = (metric, tp)
    wide = x.group_by("customer_id").aggregate(**aggs).execute()
    long = _long(wide, names)
    # A metric recorded at one touchpoint only (often resolution) would repeat as "all": keep one.
    per_metric = long[long["touchpoint"] != ALL].groupby("metric")["touchpoint"].nunique()
    single = per_metric.index[per_metric == 1]
    return long[~(long["metric"].isin(single) & (long["touchpoint"] == ALL))].reset_index(drop=True)


def survey_nps(surveys: ir.Table, people: ir.Table, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per customer, relationship NPS (+100 promoter, 0 passive, −100 detractor, averaged) in ``[start, end)``."""
    s = surveys.semi_join(people.select("customer_id"), "customer_id")
    day = s.timestamp.date()
    s = s.filter((day >= ibis.literal(start, "date")) & (day < ibis.literal(end, "date")))
    score = ibis.cases((s.nps >= 9, 100.0), (s.nps <= 6, -100.0), else_=0.0)
    wide = s.group_by("customer_id").aggregate(v=score.mean()).execute()
    return _long(wide, {"v": ("nps", ALL)})


def _long(wide: pd.DataFrame, names: dict[str, tuple[str, str]]) -> pd.DataFrame:
    long = wide.melt(id_vars="customer_id", var_name="key", value_name="value").dropna(subset=["value"])
    long["metric"] = long["key"].map(lambda k: names[k][0])
    long["touchpoint"] = long["key"].map(lambda k: names[k][1])
    return long[["customer_id", "metric", "touchpoint", "value"]].reset_index(drop=True)


# ---- models ---------------------------------------------------------------------------------


def covariate_design(people: pd.DataFrame, covariates: list[Covariate]) -> pd.DataFrame:
    """Cox design columns: a numeric covariate as its value, a categorical one as ``name[level]``
    indicators against its most frequent level (NaN where the covariate is missing)."""
    cols: dict[str, pd.Series] = {}
    for cov in covariates:
        v = people[cov.name]
        if cov.kind == "categorical":
            for level in cov.levels[1:]:
                cols[f"{cov.name}[{level}]"] = (v == level).astype(float).where(v.notna())
        else:
            cols[cov.name] = pd.to_numeric(v, errors="coerce").astype(float)
    return pd.DataFrame(cols, index=people.index)


def _fit_cox(df: pd.DataFrame) -> CoxPHFitter:
    with _warnings.catch_warnings():
        _warnings.simplefilter("error", ConvergenceWarning)
        return CoxPHFitter().fit(df, duration_col="time", event_col="event")


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
    >>> score_metrics(people, design, values)   # doctest: +SKIP
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
            full = _fit_cox(data)
            key = hash((tuple(sample["customer_id"]), tuple(data.columns)))
            if key not in covariates_only:
                has_covariates = len(data.columns) > 3
                covariates_only[key] = _fit_cox(data.drop(columns="metric_z")).concordance_index_ if has_covariates else 0.5
            c_cov = covariates_only[key]
        except (ConvergenceError, ConvergenceWarning, np.linalg.LinAlgError) as exc:
            row["note"] = f"the Cox model did not converge ({type(exc).__name__})"
            continue
        b, se = full.params_["metric_z"], full.standard_errors_["metric_z"]
        row.update(hazard_ratio_per_sd=float(np.exp(b)), ci_lower=float(np.exp(b - z * se)),
                   ci_upper=float(np.exp(b + z * se)), p_value=float(full.summary.loc["metric_z", "p"]),
                   concordance_covariates=float(c_cov), concordance_with_metric=float(full.concordance_index_),
                   concordance_gain=float(full.concordance_index_ - c_cov))
    cols = ["metric", "touchpoint", "n", "events", "hazard_ratio_per_sd", "ci_lower", "ci_upper", "p_value",
            "concordance_covariates", "concordance_with_metric", "concordance_gain", "metric_mean", "metric_sd", "note"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    return out.sort_values(["concordance_gain", "metric", "touchpoint"], ascending=[False, True, True],
                           na_position="last", ignore_index=True)


def metric_validity(wb: Any, horizon_days: int | None = None, baseline_days: int | None = None) -> MetricValidityResult:
    """Metrics that matter for a workbook: landmark Cox models of churn on each candidate metric.

    Parameters
    ----------
    wb : Workbook
        Needs customers and interactions and/or surveys.
    horizon_days : int, optional
        Follow-up after the landmark; default ``max(params.horizons_days)``.
    baseline_days : int, optional
        Length of the window before the landmark that the metrics are computed over; default the horizon.

    Raises
    ------
    ValueError
        When the landmark falls before the first signup (not enough history).

    Examples
    --------
    >>> res = metric_validity(wb)        # doctest: +SKIP
    >>> wb.write_result("metric_validity", res.to_frame())   # doctest: +SKIP
    """
    p = wb.params
    horizon = horizon_days or max(p.horizons_days)
    baseline = baseline_days or horizon
    landmark = p.as_of - dt.timedelta(days=horizon)
    start = landmark - dt.timedelta(days=baseline)
    covariates = model_covariates(wb)  # coded as in the retention models
    people_t = landmark_people(wb.customers, landmark, p.as_of, covariates)
    people = people_t.execute()
    if people.empty:
        raise ValueError(f"No customer was active on the landmark date {landmark} ({horizon} days before as_of): "
                         "the data do not reach back far enough to measure metrics before a full follow-up.")
    design = covariate_design(people, covariates)
    parts = []
    if wb.interactions is not None:
        parts.append(interaction_metrics(wb.interactions, people_t, wb.touchpoints(), start, landmark))
    if wb.surveys is not None:
        parts.append(survey_nps(wb.surveys, people_t, start, landmark))
    values = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["customer_id", "metric", "touchpoint", "value"])
    summary = score_metrics(people, design, values, min_n=max(p.min_cell_size, 30))
    n_at_risk = int(design.notna().all(axis=1).sum())
    return MetricValidityResult(summary=summary, landmark=landmark, window_start=start, follow_up_end=p.as_of,
                                n_at_risk=n_at_risk, covariates=tuple(design.columns))
