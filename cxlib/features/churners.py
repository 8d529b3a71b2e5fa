"""The churners of a reporting period and their revenue: one aggregate query in the engine."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.periods import ReportingPeriod


def period_churners(customers: ir.Table, period: ReportingPeriod) -> tuple[int, float | None]:
    """Customers who churned in the period, and their mean monthly revenue (None when not recorded).

    Parameters
    ----------
    customers : ibis Table
        ``churn_date`` and, optionally, ``monthly_revenue``.
    period : ReportingPeriod
        Churn dates from ``period.start`` to ``period.end`` inclusive count.

    Examples
    --------
    >>> import datetime as dt
    >>> from cxlib.periods import reporting_period
    >>> t = ibis.memtable({"churn_date": [dt.date(2026, 8, 1), dt.date(2026, 9, 2), dt.date(2026, 1, 5), None],
    ...                    "monthly_revenue": [10.0, 30.0, 99.0, 5.0]})
    >>> period_churners(t, reporting_period(dt.date(2026, 9, 30)))
    (2, 20.0)
    """
    c = customers
    in_period = c.churn_date.notnull() & (c.churn_date >= period.start) & (c.churn_date <= period.end)
    churned = c.filter(in_period)
    revenue = churned.monthly_revenue if "monthly_revenue" in c.columns else ibis.null("float64")
    row = churned.aggregate(n=churned.count(), revenue=revenue.cast("float64").mean()).execute().iloc[0]
    mean = row["revenue"]
    return int(row["n"]), (None if mean is None or pd.isna(mean) else float(mean))
