"""A landmark cohort and each member's own CX metrics before the landmark: engine queries, small frames out.

The customers at risk on a landmark date are followed for churn after it (:func:`landmark_people`);
each customer's value of every candidate metric is computed from their own interactions
(:func:`interaction_metrics`) or survey answers (:func:`survey_nps`) in a window before it. One
engine query per table, grouped by customer: only one row per customer reaches pandas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.features.customers import Covariate
from cxlib.results import ALL

CANDIDATE_METRICS = ("csat_mean", "csat_top2", "ces_mean", "resolution_rate")
VALUE_COLUMNS = ["customer_id", "metric", "touchpoint", "value"]


def landmark_people(customers: ir.Table, landmark: dt.date, follow_up_end: dt.date,
                    covariates: Sequence[Covariate]) -> ir.Table:
    """Customers at risk at ``landmark``: follow-up ``time`` (days after it), ``event``, ``tenure_days``
    (days from signup to the landmark) and covariates.

    At risk: signed up before the landmark and not churned on or before it. Churn after
    ``follow_up_end`` is not an event (the customer is followed to ``follow_up_end``).

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"],
    ...                    "signup_date": [dt.date(2024, 1, 1)] * 3,
    ...                    "churn_date": [dt.date(2024, 6, 1), dt.date(2025, 3, 1), None]})
    >>> landmark_people(t, dt.date(2025, 1, 1), dt.date(2026, 1, 1), []).execute()
      customer_id  time  event  tenure_days
    0           b    59      1          366
    1           c   365      0          366
    """
    c = customers
    at_risk = c.filter((c.signup_date < landmark) & (c.churn_date.isnull() | (c.churn_date > landmark)))
    event = at_risk.churn_date.notnull() & (at_risk.churn_date <= follow_up_end)
    stop = ibis.ifelse(event, at_risk.churn_date, ibis.literal(follow_up_end, "date"))
    return at_risk.select(
        customer_id=at_risk.customer_id,
        time=stop.delta(ibis.literal(landmark, "date"), unit="day").cast("int64"),
        event=event.cast("int64"),
        tenure_days=ibis.literal(landmark, "date").delta(at_risk.signup_date.cast("date"), unit="day").cast("int64"),
        **{cov.name: cov.value(at_risk) for cov in covariates},
    ).order_by("customer_id")


def interaction_metrics(interactions: ir.Table, people: ir.Table, touchpoints: Sequence[str],
                        start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per customer, each candidate metric per touchpoint (and over all) from interactions in ``[start, end)``.

    Returns
    -------
    DataFrame
        ``customer_id``, ``metric``, ``touchpoint``, ``value`` (long format; customers without a
        value for a metric have no row for it). A metric recorded at a single touchpoint has no
        separate ``all`` rows (they would repeat that touchpoint's).

    Examples
    --------
    >>> x = ibis.memtable({"customer_id": ["a", "a", "b"], "timestamp": pd.to_datetime(["2025-01-05"] * 3),
    ...                    "touchpoint": ["app", "web", "app"], "csat": [5.0, 2.0, 4.0], "ces": [None, None, 3.0],
    ...                    "resolved": [None, None, True]})
    >>> people = ibis.memtable({"customer_id": ["a", "b"]})
    >>> v = interaction_metrics(x, people, ["app", "web"], dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    >>> print(v[v.metric == "csat_mean"].sort_values(["customer_id", "touchpoint"]).to_string(index=False))
    customer_id    metric touchpoint  value
              a csat_mean        all    3.5
              a csat_mean        app    5.0
              a csat_mean        web    2.0
              b csat_mean        all    4.0
              b csat_mean        app    4.0
    >>> sorted(v.loc[v.metric == "ces_mean", "touchpoint"])  # recorded at one touchpoint: no "all" rows
    ['app']
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
    """Per customer, relationship NPS (+100 promoter, 0 passive, −100 detractor, averaged) in ``[start, end)``.

    Examples
    --------
    >>> s = ibis.memtable({"customer_id": ["a", "a", "b"], "timestamp": pd.to_datetime(["2025-01-05"] * 3),
    ...                    "nps": [10, 8, 3]})
    >>> v = survey_nps(s, ibis.memtable({"customer_id": ["a", "b"]}), dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    >>> print(v.sort_values("customer_id").to_string(index=False))
    customer_id metric touchpoint  value
              a    nps        all   50.0
              b    nps        all -100.0
    """
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
    return long[VALUE_COLUMNS].reset_index(drop=True)
