"""Survey answers for the key-driver regression: each distinct (outcome, ratings) answer and its number of responses."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd


def survey_ratings(surveys: ir.Table, drivers: list[str], as_of: dt.date,
                   since: dt.date | None = None, outcome: str = "nps") -> pd.DataFrame:
    """The distinct answers (outcome and driver ratings) of the survey responses up to ``as_of``, counted.

    Answers are small integers (0–10 and 1–5, DESIGN.md), so the responses collapse in the engine
    into at most ``11 · 6^k`` distinct answers, each with its number of responses: the sufficient
    statistics of the key-driver regression and of its bootstrap
    (:func:`cxlib.analyses.drivers.key_drivers` with ``counts="responses"``). Nothing proportional to
    the responses leaves the engine. Missing ratings stay missing (NaN) and form answers of their
    own; the analysis decides what to do with them. Rows come sorted by their values, missing last,
    whatever order the engine returns them in.

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
        ``[outcome, *drivers]`` as float, and ``responses`` (int): one row per distinct answer.

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c", "d"],
    ...                    "timestamp": pd.to_datetime(["2026-01-05", "2026-03-01", "2026-10-01", "2026-04-01"]),
    ...                    "nps": [9, 3, 10, 9], "sat_app": [5, None, 4, 5]})
    >>> survey_ratings(t, ["sat_app", "sat_billing"], dt.date(2026, 9, 30))
       nps  sat_app  sat_billing  responses
    0  3.0      NaN          NaN          1
    1  9.0      5.0          NaN          2
    """
    t = surveys
    day = t.timestamp.date()
    t = t.filter(day <= ibis.literal(as_of))
    if since is not None:
        t = t.filter(day >= ibis.literal(since))
    present = [outcome, *[d for d in drivers if d in t.columns]]
    df = (t.select(**{c: t[c].cast("float64") for c in present})
          .group_by(present).aggregate(responses=ibis._.count()).execute())
    for d in drivers:
        if d not in df.columns:
            df[d] = np.nan
    columns = [outcome, *drivers]
    df = df.sort_values(columns, na_position="last", kind="stable", ignore_index=True)
    return df[columns].astype("float64").assign(responses=df["responses"].astype("int64"))
