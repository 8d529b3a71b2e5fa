"""Retention: Kaplan–Meier curves overall, by segment and by signup cohort.

Groups (the ``group`` column of ``retention.csv``): ``all``; ``segment=<level>`` for each value of
the customers' ``segment`` column when there is one (``segment=(missing)`` for empty values);
``cohort=<year>Q<quarter>`` for each signup quarter, e.g. ``cohort=2025Q1``. The per-day counts
are computed in the engine (:func:`cxlib.features.customers.survival_counts`); the estimates come
from :mod:`cxlib.stats.km`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis.expr.types as ir
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.features.customers import customers_as_of, survival_counts
from cxlib.stats.km import KaplanMeierResult, LogRankResult, kaplan_meier, logrank_test

__all__ = ["cohort_retention", "retention", "retention_counts", "segment_test"]

COHORT_STEP_DAYS = 90


def retention_counts(customers: ir.Table, as_of: dt.date) -> pd.DataFrame:
    """Per-day churn and censoring counts of every retention group, computed in the engine.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a", "b"], "signup_date": [dt.date(2025, 1, 1), dt.date(2025, 4, 1)],
    ...                    "churn_date": [dt.date(2025, 1, 11), None], "segment": ["smb", "smb"]})
    >>> retention_counts(t, dt.date(2025, 5, 1))
                group  days  events  censored
    0             all    10       1         0
    1             all    30       0         1
    2     segment=smb    10       1         0
    3     segment=smb    30       0         1
    4  cohort=2025Q1    10       1         0
    5  cohort=2025Q2    30       0         1
    """
    extra = ["segment"] if "segment" in customers.columns else []
    people = customers_as_of(customers, as_of, extra=extra)
    parts = [survival_counts(people)] + [survival_counts(people, by) for by in (*extra, "cohort")]
    return pd.concat(parts, ignore_index=True)


def retention(customers: ir.Table, as_of: dt.date, *, min_cell_size: int,
              horizons: Sequence[int] = ()) -> KaplanMeierResult:
    """Kaplan–Meier retention of every group (overall, segment, cohort), small groups suppressed.

    Parameters
    ----------
    customers : ibis Table
        The clean customers table.
    as_of : datetime.date
        Customers still active then (or churned later) are censored there.
    min_cell_size : int
        Groups with fewer customers are not estimated.
    horizons : sequence of int
        Tenures (days) that ``retention.csv`` reports besides the steps (``horizons_days``).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": list("abcd"), "signup_date": [dt.date(2025, 1, 1)] * 4,
    ...                    "churn_date": [dt.date(2025, 1, 11), dt.date(2025, 1, 31), None, None]})
    >>> km = retention(t, dt.date(2025, 3, 1), min_cell_size=2, horizons=[30])
    >>> km.to_frame()[["group", "days", "survival", "at_risk"]]
               group  days  survival  at_risk
    0            all    10      0.75        4
    1            all    30      0.50        3
    2  cohort=2025Q1    10      0.75        4
    3  cohort=2025Q1    30      0.50        3
    """
    return kaplan_meier(retention_counts(customers, as_of), min_n=min_cell_size, horizons=horizons)


def segment_test(km: KaplanMeierResult) -> LogRankResult:
    """The log-rank test of equal retention across the segments shown (groups ``segment=…``).

    Raises
    ------
    NotEstimable
        Fewer than two segments are large enough to show.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": ["segment=a", "segment=a", "segment=b", "segment=b"],
    ...                        "days": [1, 3, 2, 4], "events": [1, 1, 1, 0], "censored": [0, 0, 0, 1]})
    >>> round(segment_test(kaplan_meier(counts)).p_value, 3)
    0.433
    """
    shown = km.summary.loc[km.summary["group"].str.startswith("segment="), "group"]
    if len(shown) < 2:
        raise NotEstimable("fewer than two segments are large enough to compare", model="logrank")
    return logrank_test(km.curves[km.curves["group"].isin(shown)])


def cohort_retention(km: KaplanMeierResult, step_days: int = COHORT_STEP_DAYS) -> pd.DataFrame:
    """Retention of each signup cohort every ``step_days`` of tenure, as far as the cohort is followed.

    Returns
    -------
    pandas.DataFrame
        ``cohort`` (e.g. ``2025Q1``), ``days``, ``survival``, ``at_risk`` — for the heatmap.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": "cohort=2025Q1", "days": [50, 100, 200], "events": [1, 1, 0],
    ...                        "censored": [0, 0, 2]})
    >>> cohort_retention(kaplan_meier(counts))
       cohort  days  survival  at_risk
    0  2025Q1    90      0.75        3
    1  2025Q1   180      0.50        2
    """
    cohorts = km.summary[km.summary["group"].str.startswith("cohort=")]
    if cohorts.empty:
        return pd.DataFrame(columns=["cohort", "days", "survival", "at_risk"])
    grid = list(range(step_days, int(cohorts["max_days"].max()) + 1, step_days))
    sub = KaplanMeierResult(km.curves[km.curves["group"].isin(cohorts["group"])], cohorts)
    at = sub.at(grid).dropna(subset=["survival"])
    return pd.DataFrame({"cohort": at["group"].str.removeprefix("cohort="), "days": at["days"],
                         "survival": at["survival"], "at_risk": at["at_risk"]}).reset_index(drop=True)
