"""Data quality: what the report rests on (row counts, date coverage, missing values,
exclusions) and the touchpoint inventory. Aggregation runs in the engine."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from .validate import ValidationReport

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
        .group_by("touchpoint").aggregate(channels=ibis._.channel.collect(order_by=ibis._.channel).join(", "))
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
    found = found.sort_values(["status", "volume"], key=lambda s: s.map(order) if s.name == "status" else -s)
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
    parts.append(f"{len(undeclared)} undeclared" + (f" ({_short_list(undeclared)})" if undeclared else ""))
    parts.append(f"{len(silent)} silent" + (f" ({_short_list(silent)})" if silent else ""))
    return "; ".join(parts) + "."


def _short_list(items: list[str], k: int = 5) -> str:
    shown = ", ".join(map(str, items[:k]))
    return shown + (f" and {len(items) - k:,} more" if len(items) > k else "")
