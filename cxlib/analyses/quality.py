"""Data quality: what the report rests on (row counts, date coverage, missing values,
exclusions) and the touchpoint inventory. Aggregation runs in the engine."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.ingest.contract import ValidationReport

DATE_COLUMNS = {"customers": "signup_date", "interactions": "timestamp", "surveys": "timestamp"}


def table_overview(tables: dict[str, ir.Table], validation: ValidationReport) -> pd.DataFrame:
    """One row per input table: rows read, kept and excluded, and the date range covered.

    Examples
    --------
    >>> table_overview(wb._tables, wb.validation)    # doctest: +SKIP
    """
    rows = []
    for name, t in tables.items():
        col = DATE_COLUMNS[name]
        span = t.aggregate(first=t[col].min(), last=t[col].max()).execute().iloc[0]
        read = validation.rows_read.get(name)
        kept = validation.rows_kept.get(name)
        rows.append({
            "table": name,
            "rows_read": read,
            "rows_kept": kept,
            "rows_excluded": None if read is None or kept is None else read - kept,
            "first_date": _day(span["first"]),
            "last_date": _day(span["last"]),
        })
    return pd.DataFrame(rows)


def churn_counts(customers: ir.Table, as_of: dt.date) -> dict[str, int]:
    """Customers, and those who churned on or before ``as_of`` (one aggregate query).

    Examples
    --------
    >>> churn_counts(wb.customers, wb.params.as_of)   # doctest: +SKIP
    {'customers': 10000, 'churned': 3120}
    """
    churned = (customers.churn_date.notnull() & (customers.churn_date <= as_of)).cast("int64")
    row = customers.aggregate(customers=customers.count(), churned=churned.sum()).execute().iloc[0]
    return {"customers": int(row["customers"]), "churned": 0 if pd.isna(row["churned"]) else int(row["churned"])}


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


def touchpoint_coverage(inventory: pd.DataFrame, analysed: list[str]) -> dict[str, float | int]:
    """How many touchpoints and what share of interactions the analysed touchpoints cover.

    Examples
    --------
    >>> inv = pd.DataFrame({"touchpoint": ["a", "b", "c"], "volume": [6, 3, 1]})
    >>> touchpoint_coverage(inv, ["a", "b"])
    {'found': 3, 'analysed': 2, 'interaction_share': 0.9}
    """
    total = inventory["volume"].sum()
    covered = inventory.loc[inventory["touchpoint"].isin(analysed), "volume"].sum()
    return {"found": int((inventory["volume"] > 0).sum()), "analysed": len(analysed),
            "interaction_share": float(covered / total) if total else 0.0}


def _day(x: object) -> dt.date | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date()


def missing_values(tables: dict[str, ir.Table]) -> pd.DataFrame:
    """Missing (NULL) values per column of every table, one aggregate query per table."""
    rows = []
    for name, t in tables.items():
        agg = t.aggregate(
            n=t.count(), **{f"m{i}": t[c].isnull().cast("int64").sum() for i, c in enumerate(t.columns)}
        ).execute().iloc[0]
        n = int(agg["n"])
        for i, c in enumerate(t.columns):
            missing = int(agg[f"m{i}"] or 0)
            rows.append({"table": name, "column": c, "missing": missing, "missing_share": missing / n if n else None})
    return pd.DataFrame(rows, columns=["table", "column", "missing", "missing_share"])


def exclusions(validation: ValidationReport) -> pd.DataFrame:
    """Violations found by validation, in plain language, with what happened to the rows."""
    v = validation.violations
    if v.empty:
        return pd.DataFrame(columns=["table", "column", "rule", "rows", "action"])
    action = "excluded from the analysis" if validation.mode == "exclude" else "run stopped"
    return v.assign(action=action)[["table", "column", "rule", "rows", "action"]]


def touchpoint_inventory(interactions: ir.Table, declared: list[str] | None, as_of: dt.date,
                         silent_days: int = 90) -> pd.DataFrame:
    """Every touchpoint found in the data against those declared in params.

    Columns: touchpoint, declared, volume, rated_share, channels, first_seen, last_seen, status.
    ``status`` is ``ok``, ``undeclared`` (in the data, not in params), or ``silent`` (declared but
    no interaction in the ``silent_days`` before ``as_of``).
    """
    t = interactions
    by_tp = t.group_by("touchpoint").aggregate(
        volume=t.count(),
        rated=t.csat.notnull().cast("int64").sum(),
        first_seen=t.timestamp.min(),
        last_seen=t.timestamp.max(),
    )
    channels = (
        t.select("touchpoint", "channel").distinct()
        .group_by("touchpoint").aggregate(channels=ibis._.channel.collect().sort().join(", "))  # collect(order_by=) fails on PySpark
    )
    found = by_tp.left_join(channels, "touchpoint").drop("touchpoint_right").execute()
    declared = list(declared or [])
    missing = [d for d in declared if d not in set(found["touchpoint"])]
    if missing:
        found = pd.concat([found, pd.DataFrame({"touchpoint": missing, "volume": 0, "rated": 0})], ignore_index=True)
    found["declared"] = found["touchpoint"].isin(declared) if declared else True
    found["rated_share"] = found["rated"] / found["volume"].where(found["volume"] > 0)
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=silent_days)
    last = pd.to_datetime(found["last_seen"])
    found["status"] = "ok"
    found.loc[found["declared"] & (last.isna() | (last <= cutoff)), "status"] = "silent"
    found.loc[~found["declared"], "status"] = "undeclared"
    found["first_seen"] = pd.to_datetime(found["first_seen"]).dt.date
    found["last_seen"] = last.dt.date
    order = {"silent": 0, "undeclared": 1, "ok": 2}
    if declared:  # problems first
        found = found.sort_values(["status", "volume"], key=lambda s: s.map(order) if s.name == "status" else -s)
    else:  # nothing declared to compare with: the busiest first
        found = found.sort_values(["volume", "touchpoint"], ascending=[False, True])
    return found[["touchpoint", "declared", "volume", "rated_share", "channels", "first_seen", "last_seen", "status"]].reset_index(drop=True)


def describe_inventory(inv: pd.DataFrame) -> str:
    """One sentence reading the inventory (plain text; escape before showing as HTML)."""
    n = len(inv)
    undeclared = inv.loc[inv["status"] == "undeclared", "touchpoint"].tolist()
    silent = inv.loc[inv["status"] == "silent", "touchpoint"].tolist()
    top = inv.sort_values("volume", ascending=False).iloc[0] if n else None
    parts = [f"{n:,} touchpoint(s) in the data or in params"]
    if top is not None and top["volume"] > 0:
        parts.append(f"the busiest is {top['touchpoint']} with {int(top['volume']):,} interactions "
                     f"({top['rated_share']:.0%} rated)")
    parts.append(f"{len(undeclared)} undeclared" + (f" ({short_list(undeclared)})" if undeclared else ""))
    parts.append(f"{len(silent)} silent" + (f" ({short_list(silent)})" if silent else ""))
    return "; ".join(parts) + "."


def short_list(items: list[str], k: int = 5) -> str:
    """The first ``k`` items joined by commas, and how many more.

    Examples
    --------
    >>> short_list(list("abcdefg"), 3)
    'a, b, c and 4 more'
    """
    shown = ", ".join(map(str, items[:k]))
    return shown + (f" and {len(items) - k:,} more" if len(items) > k else "")
