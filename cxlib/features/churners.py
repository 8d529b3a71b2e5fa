"""The churners of a reporting period grouped by their exposure pattern at churn: one engine query.

The case-based attributable churn (:mod:`cxlib.stats.paf`) needs, for the reporting period's
churners, which exposures were open on the day each one churned — with the same day grid, window
and lag as the touchpoint model's exposure intervals (:mod:`cxlib.features.exposures`): an
experience on tenure day ``k`` counts on days ``k + lag … k + lag + window − 1``, so a customer
who churned on tenure day ``D`` is exposed to a rule when at least ``min_count`` matching
interactions fall on days ``D − lag − window + 1 … D − lag``. One query joins the period's
churners with their interactions, counts those per rule and customer, and groups the churners by
the resulting 0/1 pattern with their number and summed ``monthly_revenue``: a few rows reach
pandas, whatever the number of customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.features.customers import churn_cause
from cxlib.features.exposures import _rule_condition
from cxlib.params import ExposureRule
from cxlib.periods import ReportingPeriod

__all__ = ["churner_exposures", "churners_by_cause"]


def churner_exposures(customers: ir.Table, interactions: ir.Table | None, rules: Sequence[ExposureRule],
                      period: ReportingPeriod, *, as_of: dt.date, window_days: int, lag_days: int = 1,
                      causes: Mapping[str, str] | None = None, cause: str = "all") -> pd.DataFrame:
    """The period's churners per exposure pattern at churn: their number and summed monthly revenue.

    Parameters
    ----------
    customers : ibis Table
        ``customer_id``, ``signup_date``, ``churn_date`` and, optionally, ``monthly_revenue``.
    interactions : ibis Table or None
        The clean interactions (None: every churner is unexposed).
    rules : sequence of ExposureRule
        The touchpoint model's exposures (``params.exposure_rules(touchpoints)``).
    period : ReportingPeriod
        Churn dates from ``period.start`` to ``min(period.end, as_of)`` count.
    as_of : datetime.date
    window_days : int
        ``exposure_window_days`` (for rules without their own window).
    lag_days : int
        ``exposure_lag_days``.
    causes : mapping of str to str, optional
        Reason → cause (:func:`cxlib.stats.competing.cause_lookup` of params ``churn_causes``); with
        ``cause``, only that cause's churners count (``customers`` then has ``churn_reason``).
    cause : str
        The cause counted (params ``impact_cause``); ``all``: every churner.

    Returns
    -------
    DataFrame
        One row per exposure pattern present (the pattern without exposures included): one int8
        column per rule, ``churners`` (int) and ``revenue`` (the sum of their ``monthly_revenue``;
        a missing revenue counts 0; all missing when the customers table has no such column).
        Empty when nobody churned in the period.

    Examples
    --------
    Customer ``a`` churns on 21 January, 16 days after a poor billing experience; ``b`` rates
    billing poorly on the day they churn, which with the default lag of one day does not count:

    >>> from cxlib.periods import reporting_period
    >>> customers = ibis.memtable({"customer_id": ["a", "b", "c"], "signup_date": [dt.date(2025, 1, 1)] * 3,
    ...     "churn_date": [dt.date(2025, 1, 21), dt.date(2025, 1, 9), None], "monthly_revenue": [30.0, 20.0, 99.0]})
    >>> interactions = ibis.memtable({"customer_id": ["a", "b"], "touchpoint": ["billing", "billing"],
    ...     "timestamp": [dt.datetime(2025, 1, 5, 9), dt.datetime(2025, 1, 9, 16)], "csat": [1, 1]})
    >>> rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]
    >>> q1 = reporting_period(dt.date(2025, 3, 31))
    >>> churner_exposures(customers, interactions, rules, q1, as_of=dt.date(2025, 3, 31), window_days=90)
       poor_billing  churners  revenue
    0             0         1     20.0
    1             1         1     30.0
    >>> churner_exposures(customers, interactions, rules, q1, as_of=dt.date(2025, 3, 31), window_days=90,
    ...                   lag_days=0)["churners"].tolist()
    [2]
    """
    names = [r.name for r in rules]
    c = customers
    end = min(period.end, as_of)
    in_period = c.churn_date.notnull() & (c.churn_date >= period.start) & (c.churn_date <= end)
    if causes is not None and cause != "all":
        in_period = in_period & (churn_cause(c, in_period, causes) == cause).fill_null(False)
    revenue = c.monthly_revenue.cast("float64") if "monthly_revenue" in c.columns else ibis.null("float64")
    churners = c.filter(in_period).select(
        "customer_id", "signup_date", churn_day=c.churn_date.delta(c.signup_date, unit="day").cast("int64"),
        revenue=revenue)
    if interactions is not None and names:
        x = interactions.join(churners.select("customer_id", "signup_date", "churn_day"), "customer_id")
        # days from the experience to the churn day; the exposure is open on the churn day when
        # lag ≤ before ≤ lag + window − 1 (the day grid of cxlib.features.exposures)
        before = x.churn_day - x.timestamp.date().delta(x.signup_date, unit="day").cast("int64")
        counts = {}
        for r in rules:
            window = r.window_days or window_days
            inside = _rule_condition(x, r) & (before >= lag_days) & (before <= lag_days + window - 1)
            counts[r.name] = inside.cast("int64").sum()
        per_customer = x.group_by("customer_id").aggregate(**{f"_n_{n}": v for n, v in counts.items()})
        j = churners.left_join(per_customer, churners.customer_id == per_customer.customer_id)
        flags = {r.name: (j[f"_n_{r.name}"].fill_null(0) >= r.min_count).cast("int8") for r in rules}
        rows = j.select(revenue=j.revenue, **flags)
    else:
        rows = churners.select(revenue=churners.revenue, **{n: ibis.literal(0, "int8") for n in names})
    grouped = rows.group_by(names) if names else rows
    out = (grouped.aggregate(churners=rows.count(), revenue=rows.revenue.sum()) if names else
           rows.aggregate(churners=rows.count(), revenue=rows.revenue.sum())).execute()
    if "monthly_revenue" in c.columns:
        out["revenue"] = out["revenue"].astype(float).fillna(0.0)
    else:
        out["revenue"] = float("nan")
    out = out[out["churners"] > 0]
    out = out.astype({"churners": "int64", **{n: "int8" for n in names}})
    return out.sort_values(names, ignore_index=True)[[*names, "churners", "revenue"]] if names else \
        out.reset_index(drop=True)[["churners", "revenue"]]


def churners_by_cause(customers: ir.Table, period: ReportingPeriod, causes: Mapping[str, str] | None,
                      as_of: dt.date | None = None) -> pd.DataFrame:
    """Churners of the period per cause and their mean monthly revenue (one GROUP BY in the engine).

    Churn dates from ``period.start`` to ``min(period.end, as_of)`` count.

    Returns
    -------
    pandas.DataFrame
        ``cause``, ``churners``, ``mean_monthly_revenue`` (NaN when not recorded); ``all`` only
        without causes. Causes without churners in the period have no row.

    Examples
    --------
    >>> from cxlib.periods import reporting_period
    >>> t = ibis.memtable({"churn_date": [dt.date(2026, 8, 1), dt.date(2026, 9, 2), None],
    ...                    "churn_reason": ["price", "moved", None], "monthly_revenue": [10.0, 30.0, 5.0]})
    >>> churners_by_cause(t, reporting_period(dt.date(2026, 9, 30)), {"price": "voluntary", "moved": "involuntary"})
             cause  churners  mean_monthly_revenue
    0  involuntary         1                  30.0
    1    voluntary         1                  10.0
    """
    c = customers
    end = period.end if as_of is None else min(period.end, as_of)
    in_period = c.churn_date.notnull() & (c.churn_date >= period.start) & (c.churn_date <= end)
    revenue = c.monthly_revenue.cast("float64") if "monthly_revenue" in c.columns else ibis.null("float64")
    t = c.filter(in_period).select(cause=churn_cause(c, in_period, causes), revenue=revenue)
    out = t.group_by("cause").aggregate(churners=t.count(), mean_monthly_revenue=t.revenue.mean()).execute()
    out = out.astype({"churners": "int64", "mean_monthly_revenue": "float64"})
    return out.sort_values("cause", ignore_index=True)
