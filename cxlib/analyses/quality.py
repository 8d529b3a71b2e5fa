"""Data quality: what the report rests on (rows kept, date coverage, missing values,
exclusions) and the touchpoint inventory. Aggregation runs in the engine.

No table here carries an exact count of rows over all periods (rows read or kept, a touchpoint's
interactions, missing values): such a total minus the periods ``metrics.csv`` shows gives a hidden
cell back (``docs/privacy.md``). Shares are rounded; rows excluded per rule are counts of faulty
records and are given exactly.

Every function takes explicit inputs: Ibis tables, the validation's counts and violations, dates.
The sentences that read these tables are in :mod:`cxlib.text.quality`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.periods import period_label
from cxlib.stats.competing import CauseAssignment, assign_causes
from cxlib.stats.suppression import kept_share

DATE_COLUMNS = {"customers": "signup_date", "interactions": "timestamp", "surveys": "timestamp"}


def table_overview(tables: dict[str, ir.Table], rows_read: dict[str, int], rows_kept: dict[str, int],
                   protection_width: float = 10) -> pd.DataFrame:
    """One row per input table: the share of rows kept, and the date range covered.

    The exact rows read and kept are not given (all-period totals, ``docs/privacy.md``): the share
    kept is rounded by :func:`cxlib.stats.suppression.kept_share` (to 0.1 % unless that would pin
    the rows read down to fewer than ``protection_width``); the rows excluded are in the exclusions
    table, per rule.

    Parameters
    ----------
    tables : dict of str to ibis Table
        The clean tables (``customers``, ``interactions``, ``surveys``).
    rows_read, rows_kept : dict of str to int
        Per table, the validation's counts.
    protection_width : float
        params ``protection_width``.

    Examples
    --------
    >>> customers = ibis.memtable({"signup_date": [dt.date(2025, 1, 5), dt.date(2025, 3, 1)]})
    >>> table_overview({"customers": customers}, {"customers": 3000}, {"customers": 2990}).to_dict("records")[0]
    {'table': 'customers', 'share_kept': 0.997, 'first_date': datetime.date(2025, 1, 5), 'last_date': datetime.date(2025, 3, 1)}
    """
    rows = []
    for name, t in tables.items():
        col = DATE_COLUMNS[name]
        span = t.aggregate(first=t[col].min(), last=t[col].max()).execute().iloc[0]
        rows.append({
            "table": name,
            "share_kept": kept_share(rows_read.get(name), rows_kept.get(name), protection_width),
            "first_date": _day(span["first"]),
            "last_date": _day(span["last"]),
        })
    return pd.DataFrame(rows, columns=["table", "share_kept", "first_date", "last_date"])


def churn_counts(customers: ir.Table, as_of: dt.date) -> dict[str, int]:
    """Customers, and those who churned on or before ``as_of`` (one aggregate query).

    Examples
    --------
    >>> customers = ibis.memtable({"churn_date": [dt.date(2025, 5, 1), dt.date(2025, 12, 1), None]})
    >>> churn_counts(customers, dt.date(2025, 9, 30))
    {'customers': 3, 'churned': 1}
    """
    churned = (customers.churn_date.notnull() & (customers.churn_date <= as_of)).cast("int64")
    row = customers.aggregate(customers=customers.count(), churned=churned.sum()).execute().iloc[0]
    return {"customers": int(row["customers"]), "churned": 0 if pd.isna(row["churned"]) else int(row["churned"])}


def churn_reasons(customers: ir.Table, as_of: dt.date,
                  churn_causes: Mapping[str, Sequence[str]] | None) -> CauseAssignment:
    """The churners' reasons and their causes: mapped, not mapped (cause ``other``), missing.

    One GROUP BY in the engine (distinct reason × churned, a few rows), then
    :func:`cxlib.stats.competing.assign_causes` on those counts. Without ``churn_causes`` (or
    without the ``churn_reason`` column) every churner has the one cause ``all``.

    Examples
    --------
    >>> customers = ibis.memtable({"churn_date": [dt.date(2025, 5, 1)] * 3 + [None],
    ...                            "churn_reason": ["Price", "fraud", None, "price"]})
    >>> a = churn_reasons(customers, dt.date(2025, 9, 30), {"voluntary": ["price"]})
    >>> a.summary
           cause reason  churners    status
    0  voluntary  price         1    mapped
    1      other                1   missing
    2      other  fraud         1  unmapped
    >>> a.n_unmapped, a.n_missing, a.n_reason_not_churned
    (1, 1, 1)
    """
    churned = customers.churn_date.notnull() & (customers.churn_date <= as_of)
    has_reasons = bool(churn_causes) and "churn_reason" in customers.columns
    reason = (customers.churn_reason.cast("string").strip().lower().fill_null("") if has_reasons
              else ibis.literal("", "string"))
    t = customers.select(reason=reason, churned=churned)
    counts = t.group_by(["reason", "churned"]).aggregate(n=t.count()).execute()
    counts = counts.sort_values(["churned", "reason"], ignore_index=True)
    return assign_causes(counts["reason"] if has_reasons else None, counts["churned"].astype(bool).to_numpy(),
                         churn_causes if has_reasons else None, weights=counts["n"].to_numpy())


def stale_tables(overview: pd.DataFrame, as_of: dt.date, max_gap_days: int = 31) -> pd.DataFrame:
    """Event tables whose last row is more than ``max_gap_days`` before ``as_of`` (a stale export?).

    Examples
    --------
    >>> ov = pd.DataFrame({"table": ["interactions"], "last_date": [dt.date(2026, 6, 1)]})
    >>> stale_tables(ov, dt.date(2026, 9, 30))["gap_days"].tolist()
    [121]
    """
    events = overview[overview["table"] != "customers"].copy()
    last = pd.to_datetime(events["last_date"])
    events["gap_days"] = (pd.Timestamp(as_of) - last).dt.days
    return events.loc[last.isna() | (events["gap_days"] > max_gap_days), ["table", "last_date", "gap_days"]]


def touchpoint_coverage(interactions: ir.Table, inventory: pd.DataFrame, analysed: list[str]) -> dict[str, float | int]:
    """How many touchpoints there are and what share of interactions the analysed touchpoints cover.

    ``found``: the touchpoints of the inventory that have interactions or are declared;
    ``interaction_share`` is exact here, and shown rounded to 0.1 %.

    Examples
    --------
    >>> t = ibis.memtable({"touchpoint": ["a"] * 6 + ["b"] * 3 + ["c"]})
    >>> inv = pd.DataFrame({"touchpoint": ["a", "b", "c"]})
    >>> touchpoint_coverage(t, inv, ["a", "b"])
    {'found': 3, 'analysed': 2, 'interaction_share': 0.9}
    """
    t = interactions
    row = t.aggregate(total=t.count(), covered=t.touchpoint.isin(list(analysed)).cast("int64").sum()).execute().iloc[0]
    total = int(row["total"])
    covered = 0 if pd.isna(row["covered"]) else int(row["covered"])
    return {"found": len(inventory), "analysed": len(analysed),
            "interaction_share": covered / total if total else 0.0}


def _day(x: object) -> dt.date | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date()


def missing_values(tables: dict[str, ir.Table]) -> pd.DataFrame:
    """The share of missing (NULL) values per column of every table, rounded to 0.1 %, one aggregate
    query per table.

    Not the count: missing CSAT over all periods is interactions minus rated interactions, an
    all-period total that gives hidden cells of ``metrics.csv`` back (``docs/privacy.md``); and an
    unrounded share is a fraction whose denominator is the table's rows. ``any_missing`` tells a
    column with a few missing values from one with none (both may round to 0.0 %).

    Examples
    --------
    >>> t = ibis.memtable({"csat": [5.0, None, None, 4.0], "ces": [1.0, 2.0, 3.0, 4.0]})
    >>> missing_values({"interactions": t}).to_dict("records")[0]
    {'table': 'interactions', 'column': 'csat', 'any_missing': True, 'missing_share': 0.5}
    """
    rows = []
    for name, t in tables.items():
        agg = t.aggregate(
            n=t.count(), **{f"m{i}": t[c].isnull().cast("int64").sum() for i, c in enumerate(t.columns)}
        ).execute().iloc[0]
        n = int(agg["n"])
        for i, c in enumerate(t.columns):
            missing = int(agg[f"m{i}"] or 0)
            rows.append({"table": name, "column": c, "any_missing": missing > 0,
                         "missing_share": round(missing / n, 3) if n else None})
    return pd.DataFrame(rows, columns=["table", "column", "any_missing", "missing_share"])


def exclusions(violations: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Violations found by validation, with what happened to the rows.

    Parameters
    ----------
    violations : DataFrame
        The validation's violations (table, column, rule, rows, ...).
    mode : str
        ``on_invalid`` of the run: ``exclude`` or ``fail``.

    Examples
    --------
    >>> v = pd.DataFrame({"table": ["surveys"], "column": ["nps"], "rule": ["an integer 0–10"], "rows": [4]})
    >>> exclusions(v, "exclude")["action"].tolist()
    ['excluded from the analysis']
    """
    v = violations
    if v.empty:
        return pd.DataFrame(columns=["table", "column", "rule", "rows", "action"])
    action = "excluded from the analysis" if mode == "exclude" else "run stopped"
    return v.assign(action=action)[["table", "column", "rule", "rows", "action"]]


def touchpoint_inventory(interactions: ir.Table, declared: list[str] | None, as_of: dt.date,
                         silent_days: int = 90, period: str = "quarter") -> pd.DataFrame:
    """Every touchpoint found in the data against those declared in params.

    Columns: touchpoint, declared, channels, first_period, last_period, status. ``status`` is
    ``ok``, ``undeclared`` (in the data, not in params), or ``silent`` (declared but no interaction
    in the ``silent_days`` before ``as_of``).

    No volume or rated share: a touchpoint's interactions over all periods minus the periods
    ``metrics.csv`` shows give its hidden cells back, and the portfolio (``metrics.csv``) publishes
    each touchpoint's volume period by period, with its suppression. No exact dates either: the
    first and last ``period`` with an interaction say only that a period's cell is not empty, which
    a suppressed row of ``metrics.csv`` says too (``docs/privacy.md``). Touchpoints are listed
    problems first, then by name (an order by volume would tell one touchpoint's total from
    another's).

    Examples
    --------
    >>> t = ibis.memtable({"touchpoint": ["app", "app", "shop"], "channel": ["web", "web", "store"],
    ...                    "timestamp": pd.to_datetime(["2025-09-01", "2025-09-02", "2025-01-02"])})
    >>> inv = touchpoint_inventory(t, ["app", "shop", "call"], dt.date(2025, 9, 30))
    >>> inv[["touchpoint", "first_period", "last_period", "status"]].values.tolist()
    [['call', None, None, 'silent'], ['shop', '2025Q1', '2025Q1', 'silent'], ['app', '2025Q3', '2025Q3', 'ok']]
    >>> list(touchpoint_inventory(t, None, dt.date(2025, 9, 30))["touchpoint"])
    ['app', 'shop']
    """
    t = interactions
    by_tp = t.group_by("touchpoint").aggregate(first_seen=t.timestamp.min(), last_seen=t.timestamp.max())
    channels = (
        t.select("touchpoint", "channel").distinct()
        .group_by("touchpoint").aggregate(channels=ibis._.channel.collect().sort().join(", "))  # collect(order_by=) fails on PySpark
    )
    found = by_tp.left_join(channels, "touchpoint").drop("touchpoint_right").execute()
    declared = list(declared or [])
    missing = [d for d in declared if d not in set(found["touchpoint"])]
    if missing:
        found = pd.concat([found, pd.DataFrame({"touchpoint": missing})], ignore_index=True)
    found["declared"] = found["touchpoint"].isin(declared) if declared else True
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=silent_days)
    first, last = pd.to_datetime(found["first_seen"]), pd.to_datetime(found["last_seen"])
    found["status"] = "ok"
    found.loc[found["declared"] & (last.isna() | (last <= cutoff)), "status"] = "silent"
    found.loc[~found["declared"], "status"] = "undeclared"
    found["first_period"] = [None if pd.isna(d) else period_label(d.date(), period) for d in first]
    found["last_period"] = [None if pd.isna(d) else period_label(d.date(), period) for d in last]
    order = {"silent": 0, "undeclared": 1, "ok": 2}
    if declared:  # problems first
        found = found.sort_values(["status", "touchpoint"], key=lambda s: s.map(order) if s.name == "status" else s)
    else:
        found = found.sort_values("touchpoint")
    return found[["touchpoint", "declared", "channels", "first_period", "last_period", "status"]].reset_index(drop=True)
