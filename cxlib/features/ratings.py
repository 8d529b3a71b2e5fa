"""Survey responses for the key-driver regression: the outcome and the attribute ratings per response."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd


def survey_ratings(surveys: ir.Table, drivers: list[str], as_of: dt.date,
                   since: dt.date | None = None, outcome: str = "nps") -> pd.DataFrame:
    """Survey responses up to ``as_of`` (from ``since`` when given): the outcome and driver ratings.

    This is the one place the workbook pulls individual rows of a table into pandas: OLS on
    individual responses needs them. It is bounded by the number of survey responses (about one
    per customer and year, not one per interaction) times ``1 + len(drivers)`` numeric columns.
    Missing ratings stay missing (NaN); :func:`cxlib.analyses.drivers.key_drivers` decides what to
    do with them. Rows come in a fixed order (customer, timestamp, values), so that a seeded
    bootstrap does not depend on the order an engine returns rows in.

    Parameters
    ----------
    surveys : ibis Table
        The clean surveys table: ``customer_id``, ``timestamp``, the outcome and the ratings.
    drivers : list of str
        Driver columns (``params.survey_drivers``); columns the table lacks are returned all-NaN so
        that the analysis can say so instead of dropping them silently.
    as_of, since : datetime.date
        Responses dated on or before ``as_of`` and, when ``since`` is given, on or after it.
    outcome : str
        The outcome column.

    Returns
    -------
    DataFrame
        ``[outcome, *drivers]``, all float.

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"],
    ...                    "timestamp": pd.to_datetime(["2026-01-05", "2026-03-01", "2026-10-01"]),
    ...                    "nps": [9, 3, 10], "sat_app": [5, None, 4]})
    >>> survey_ratings(t, ["sat_app", "sat_billing"], dt.date(2026, 9, 30))
       nps  sat_app  sat_billing
    0  9.0      5.0          NaN
    1  3.0      NaN          NaN
    """
    t = surveys
    day = t.timestamp.date()
    t = t.filter(day <= ibis.literal(as_of))
    if since is not None:
        t = t.filter(day >= ibis.literal(since))
    t = t.order_by("customer_id", "timestamp", outcome, *[d for d in drivers if d in t.columns])
    cols = {outcome: t[outcome].cast("float64")}
    cols.update({d: t[d].cast("float64") for d in drivers if d in t.columns})
    df = t.select(**cols).execute()
    for d in drivers:
        if d not in df.columns:
            df[d] = np.nan
    return df[[outcome, *drivers]].astype("float64")
