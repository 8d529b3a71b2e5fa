"""Retention: Kaplan–Meier curves overall, by segment and by signup cohort.

Groups (the ``group`` column of ``retention.csv``): ``all``; ``segment=<level>`` for each value of
the customers' ``segment`` column when there is one (``segment=(missing)`` for empty values);
``cohort=<year>Q<quarter>`` for each signup quarter, e.g. ``cohort=2025Q1``. The per-day counts
are computed in the engine (:func:`cxlib.features.customers.survival_counts`); the estimates come
from :mod:`cxlib.stats.km`.

Churn by cause: with params ``churn_causes`` the same counts are split by cause (one query), and
:func:`cause_incidence` gives the Aalen–Johansen cumulative incidence of each cause overall and by
segment (:mod:`cxlib.stats.competing`); summed over the causes the counts are the Kaplan–Meier ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

import ibis.expr.types as ir
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.features.customers import customers_as_of, survival_counts
from cxlib.stats.competing import CumulativeIncidenceResult, cumulative_incidence
from cxlib.stats.km import KaplanMeierResult, LogRankResult, kaplan_meier, logrank_test
from cxlib.stats.suppression import partition_suppression

__all__ = ["cause_incidence", "cohort_retention", "km_counts", "protect_groups", "retention", "retention_counts",
           "segment_test"]

COHORT_STEP_DAYS = 90


def retention_counts(customers: ir.Table, as_of: dt.date, causes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per-day churn and censoring counts of every retention group, computed in the engine.

    With ``causes`` (reason → cause, :func:`cxlib.stats.competing.cause_lookup` of params
    ``churn_causes``) the counts are split by cause too (column ``cause``, see
    :func:`cxlib.features.customers.survival_counts`): :func:`km_counts` sums them for Kaplan–Meier
    and :func:`cause_incidence` reads them as they are.

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
    people = customers_as_of(customers, as_of, extra=extra, causes=causes)
    parts = [survival_counts(people)] + [survival_counts(people, by) for by in (*extra, "cohort")]
    return pd.concat(parts, ignore_index=True)


def km_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """The Kaplan–Meier counts (``group, days, events, censored``) of counts that may be split by cause.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": "all", "days": [3, 3, 3], "cause": ["a", "b", None],
    ...                        "events": [1, 2, 0], "censored": [0, 0, 4]})
    >>> km_counts(counts)
      group  days  events  censored
    0   all     3       3         4
    """
    if "cause" not in counts.columns:
        return counts
    out = counts.groupby(["group", "days"], sort=False, as_index=False)[["events", "censored"]].sum()
    return out.astype({"events": "int64", "censored": "int64"})


def cause_incidence(counts: pd.DataFrame, causes: Sequence[str], *, min_cell_size: int,
                    horizons: Sequence[int] = (), protection_width: int | None = None) -> CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence of each cause, overall and by segment, small groups suppressed.

    Parameters
    ----------
    counts : pandas.DataFrame
        :func:`retention_counts` (with or without causes: without, the one cause is ``all``).
    causes : sequence of str
        The causes in reporting order (``RunParams.causes``).
    min_cell_size : int
        Groups with fewer customers are not estimated.
    horizons : sequence of int
        Tenures (days) that ``cumulative_incidence.csv`` reports besides the churn days.
    protection_width : int, optional
        A small segment is hidden with its complements, as in :func:`retention` (default
        ``min_cell_size``).

    Raises
    ------
    NotEstimable
        No group is large enough.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": ["all"] * 4 + ["cohort=2025Q1"] * 4, "days": [5, 5, 9, 20] * 2,
    ...                        "cause": ["a", "b", "a", None] * 2, "events": [1, 1, 1, 0] * 2,
    ...                        "censored": [0, 0, 0, 3] * 2})
    >>> ci = cause_incidence(counts, ["a", "b"], min_cell_size=2, horizons=[10])
    >>> ci.at([10])[["group", "cause", "cumulative_incidence"]].round(3)
      group cause  cumulative_incidence
    0   all     a                 0.333
    1   all     b                 0.167
    """
    shown = counts[(counts["group"] == "all") | counts["group"].str.startswith("segment=")]
    hidden, _ = protect_groups(km_counts(shown), min_cell_size, protection_width)
    return cumulative_incidence(shown[~shown["group"].isin(hidden)], causes=tuple(causes), min_n=min_cell_size,
                                horizons=horizons)


def retention(customers: ir.Table, as_of: dt.date, *, min_cell_size: int,
              horizons: Sequence[int] = (), counts: pd.DataFrame | None = None,
              protection_width: int | None = None) -> KaplanMeierResult:
    """Kaplan–Meier retention of every group (overall, segment, cohort), small groups suppressed.

    ``all`` is published, so a partition (the segments, the cohorts) that hid one small group would
    give it back as ``all`` minus the groups shown: the smallest other groups are hidden with it
    until the hidden ones are at least two and their total leaves each a range of
    ``protection_width`` customers (:func:`cxlib.stats.suppression.partition_suppression`). The
    figures of that check are in the result's ``disclosure``.

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
    counts : pandas.DataFrame, optional
        :func:`retention_counts` already computed (for instance split by cause, to share the one
        query with :func:`cause_incidence`); computed here otherwise.
    protection_width : int, optional
        Default ``min_cell_size``.

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
    counts = retention_counts(customers, as_of) if counts is None else km_counts(counts)
    hidden, disclosure = protect_groups(counts, min_cell_size, protection_width)
    km = kaplan_meier(counts[~counts["group"].isin(hidden)], min_n=min_cell_size, horizons=horizons)
    return replace(km, suppressed=tuple(sorted(hidden)), disclosure=disclosure)


def protect_groups(counts: pd.DataFrame, min_cell_size: int, protection_width: int | None = None
                   ) -> tuple[list[str], dict]:
    """The groups to hide (small ones and their complements, per partition) and the audit figures.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": ["all", "segment=a", "segment=b", "segment=c"], "days": 5,
    ...                        "events": [1, 0, 1, 0], "censored": [59, 3, 12, 44]})
    >>> hidden, audit = protect_groups(counts, 10)
    >>> hidden, audit["primary"], audit["secondary"], audit["narrowest_interval"]
    (['segment=a', 'segment=b'], 1, 1, 14.0)
    """
    width = min_cell_size if protection_width is None else protection_width
    sizes = counts.assign(_n=counts["events"] + counts["censored"]).groupby("group", sort=False)["_n"].sum()
    hidden, parts = [], []
    for prefix in sorted({g.split("=", 1)[0] for g in sizes.index if "=" in g}):
        groups = sizes[sizes.index.str.startswith(prefix + "=")]
        h, audit = partition_suppression(groups, min_cell_size, width)
        hidden += h
        parts.append(audit)
    narrow = [a["narrowest_interval"] for a in parts if a["narrowest_interval"] is not None]
    return hidden, {"primary": sum(a["primary"] for a in parts), "secondary": sum(a["secondary"] for a in parts),
                    "narrowest_interval": min(narrow) if narrow else None,
                    "passed": all(a["passed"] for a in parts), "protection_width": width}


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
