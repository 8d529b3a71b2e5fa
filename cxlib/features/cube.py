"""The metric cube: sufficient statistics of the portfolio's metrics, computed in the engine.

The engine (Ibis) reduces the interactions and survey responses to sums per period x touchpoint x
channel x segment, with an ``all`` roll-up on every dimension (a union of group-bys over a cached
base aggregate, so it runs the same on DuckDB and PySpark). Only that small cube reaches pandas,
where :mod:`cxlib.analyses.portfolio` computes estimates, intervals, tests and suppression.

Distinct customers do not add up over a roll-up. Each roll-up first gets bounds (the largest count
among its base cells and their sum); with ``min_cell_size`` the few roll-ups whose bounds leave it
open are counted exactly by one targeted query (:func:`_exact_counts`), which is all suppression
needs.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"customer_id": ["a", "a", "b"], "nps": [10, 3, 9],
...                    "timestamp": pd.to_datetime(["2026-07-01", "2026-08-01", "2026-05-01"])})
>>> s = survey_sums(t, None, dt.date(2026, 9, 30)).sort_values("period")
>>> print(s[["period", "responses", "promoters", "detractors"]].to_string(index=False))
period  responses  promoters  detractors
2026Q2          1          1           0
2026Q3          2          1           1
   all          3          2           1
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.results import ALL

DIMENSIONS = ("period", "touchpoint", "channel", "segment")
UNSPECIFIED_SEGMENT = "unspecified"
ALL_IN_DATA = "all (in data)"  # a touchpoint, channel or segment literally named "all"
OTHER_TOUCHPOINTS = "(other touchpoints)"
TOP2_MIN = 4  # CSAT 4 and 5 are the top two boxes of a 1–5 scale
PROMOTER_MIN, DETRACTOR_MAX = 9, 6
INTERACTION_SUMS = ("n", "rated", "csat_sum", "csat_sumsq", "top2", "ces_n", "ces_sum", "ces_sumsq",
                    "resolved_n", "resolved")
SURVEY_SUMS = ("responses", "promoters", "passives", "detractors")
# denominator -> distinct customers behind it: a cell of few customers is small however many rows it has
CUSTOMER_COUNTS = {"n": "customers", "rated": "raters", "ces_n": "ces_customers",
                   "resolved_n": "resolved_customers", "responses": "respondents"}


# ---- periods in the engine (labels as cxlib.periods.period_label) ------------------------------


def _period_key(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    # calendar fields, not month/quarter deltas, so DuckDB and PySpark agree
    if period == "quarter":
        return ts.year() * 4 + ts.quarter() - 1
    return ts.year() * 12 + ts.month() - 1


def _period_text(key: ir.IntegerValue, period: str) -> ir.StringValue:
    if period == "quarter":
        return (key // 4).cast("string") + "Q" + (key % 4 + 1).cast("string")
    return (key // 12).cast("string") + "-" + (key % 12 + 1).cast("string").lpad(2, "0")


def _end_of(as_of: dt.date) -> ir.TimestampScalar:
    return ibis.timestamp(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))


# ---- the cube -------------------------------------------------------------------------------------


def _with_segment(t: ir.Table, customers: ir.Table | None) -> tuple[ir.Table, bool]:
    """Attach the customer's segment; False when the customers table has none."""
    if customers is None or "segment" not in customers.columns:
        return t.mutate(segment=ibis.literal(ALL)), False
    seg = customers.select(_cid=customers.customer_id,
                           _segment=customers.segment.cast("string").strip().nullif(""))
    j = t.left_join(seg, t.customer_id == seg._cid)
    return j.mutate(segment=j._segment.fill_null(UNSPECIFIED_SEGMENT)).drop("_cid", "_segment"), True


def _relabel_all(base: ir.Table, dims: Sequence[str]) -> ir.Table:
    """A data value spelled like the roll-up marker would merge with the roll-up: rename it."""
    return base.mutate(**{d: ibis.ifelse(base[d] == ALL, ALL_IN_DATA, base[d]) for d in dims if d != "period"})


def _cube(base: ir.Table, dims: Sequence[str], constant: Sequence[str], sums: Sequence[str],
          counts: Sequence[str] = ()) -> ir.Table:
    """Union of group-bys over every subset of ``dims`` (a portable GROUPING SETS / CUBE).

    ``sums`` add up; a distinct count in ``counts`` does not, so a roll-up gets its bounds: the
    largest count among its base cells (column ``c``) and their sum (``c_hi``)."""
    parts = []
    for k in range(len(dims) + 1):
        for kept in itertools.combinations(dims, k):
            totals = {s: base[s].sum() for s in sums}
            totals |= {c: base[c].max() for c in counts} | {f"{c}_hi": base[c].sum() for c in counts}
            g = base.group_by(list(kept)).aggregate(**totals) if kept else base.aggregate(**totals)
            rolled = {d: ibis.literal(ALL) for d in (*dims, *constant) if d not in kept}
            parts.append(g.mutate(**rolled).select(*DIMENSIONS, *totals))
    return ibis.union(*parts)


def _exact_counts(rows: ir.Table, cube: pd.DataFrame, dims: list[str], row_sums: Mapping[str, Any],
                  counts: Mapping[str, str], min_cell_size: int | None) -> pd.DataFrame:
    """Replace the bounds of roll-up cells that could be small by their exact distinct counts.

    A roll-up whose largest base cell already has ``min_cell_size`` customers is not small; one whose
    bounds agree is exact. The rest (few, in practice) are counted in the engine: one query, a
    semi-join of the rows on those cells' keys per grouping set."""
    lo = cube[list(counts)].to_numpy()
    hi = cube[[f"{c}_hi" for c in counts]].to_numpy()
    open_ = (lo < hi) & ((lo < min_cell_size) if min_cell_size is not None else True)
    todo = cube[open_.any(axis=1)]
    if todo.empty:
        return cube.drop(columns=[f"{c}_hi" for c in counts]).astype({c: "int64" for c in counts})
    parts = []
    for kept, cells in todo.groupby(todo[dims].eq(ALL).apply(tuple, axis=1), sort=False):
        kept = [d for d, rolled in zip(dims, kept) if not rolled]
        sub = rows.semi_join(ibis.memtable(cells[kept].drop_duplicates()), kept) if kept else rows
        exact = {c: sub.customer_id.nunique(where=row_sums[d](sub) > 0) for c, d in counts.items()}
        g = sub.group_by(kept).aggregate(**exact) if kept else sub.aggregate(**exact)
        parts.append(g.mutate(**{d: ibis.literal(ALL) for d in dims if d not in kept}).select(*dims, *counts))
    exact = ibis.union(*parts).execute().set_index(dims)
    out = cube.drop(columns=[f"{c}_hi" for c in counts]).set_index(dims)
    out.update(exact)
    return out.reset_index().astype({c: "int64" for c in counts})


def _sums_cube(rows: ir.Table, dims: list[str], constant: list[str], row_sums: Mapping[str, Any],
               counts: Mapping[str, str], min_cell_size: int | None) -> pd.DataFrame:
    """The cube of ``row_sums`` (per-row values, summed) plus distinct customers per denominator.

    ``row_sums`` maps a sum's name to a function of the rows table giving each row's value;
    ``counts`` maps a distinct-count column to the denominator sum a customer must contribute to."""
    rows = _relabel_all(rows, dims)
    per_customer = rows.group_by([*dims, "customer_id"]).aggregate(**{s: f(rows).sum() for s, f in row_sums.items()})
    base = per_customer.group_by(dims).aggregate(
        **{s: per_customer[s].sum() for s in row_sums},
        **{c: (per_customer[d] > 0).cast("int64").sum() for c, d in counts.items()},
    )
    # the base aggregate is small; caching it lets the roll-ups read it instead of the raw rows
    with base.cache() as cached:
        df = _cube(cached, dims, constant, list(row_sums), list(counts)).execute()
    # a sum over no values is NULL (for example ces_sum where nobody answered CES)
    df[list(row_sums)] = df[list(row_sums)].apply(pd.to_numeric).fillna(0)
    return _exact_counts(rows, df, dims, row_sums, counts, min_cell_size)


def _indicator(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.fill_null(False).cast("int64")


def _float(col: str) -> Any:
    return lambda t: t[col].cast("float64")


INTERACTION_ROW_SUMS = {
    "n": lambda t: _indicator(t.customer_id.notnull()),  # a column, so that it can be summed
    "rated": lambda t: _indicator(t.csat.notnull()),
    "csat_sum": _float("csat"),
    "csat_sumsq": lambda t: t.csat.cast("float64") * t.csat.cast("float64"),
    "top2": lambda t: _indicator(t.csat >= TOP2_MIN),
    "ces_n": lambda t: _indicator(t.ces.notnull()),
    "ces_sum": _float("ces"),
    "ces_sumsq": lambda t: t.ces.cast("float64") * t.ces.cast("float64"),
    "resolved_n": lambda t: _indicator(t.resolved.notnull()),
    "resolved": lambda t: _indicator(t.resolved),
}
SURVEY_ROW_SUMS = {
    "responses": lambda t: _indicator(t.customer_id.notnull()),
    "promoters": lambda t: _indicator(t.nps >= PROMOTER_MIN),
    "detractors": lambda t: _indicator(t.nps <= DETRACTOR_MAX),
}


def pool_touchpoints(interactions: ir.Table, touchpoints: Sequence[str]) -> ir.Table:
    """Interactions at a touchpoint not in ``touchpoints`` relabelled :data:`OTHER_TOUCHPOINTS`.

    The named touchpoints are measured on their own; a long tail of rare names is pooled, so the
    ``all`` roll-ups still count every interaction while the cube stays small.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"touchpoint": ["app", "billing", "fax"]})
    >>> pool_touchpoints(t, ["app", "billing"]).execute()["touchpoint"].tolist()
    ['app', 'billing', '(other touchpoints)']
    """
    kept = interactions.touchpoint.isin(list(touchpoints))
    return interactions.mutate(touchpoint=ibis.ifelse(kept, interactions.touchpoint, OTHER_TOUCHPOINTS))


def interaction_sums(interactions: ir.Table, customers: ir.Table | None, as_of: dt.date,
                     period: str = "quarter", min_cell_size: int | None = None) -> pd.DataFrame:
    """Sufficient statistics of the interaction metrics per period x touchpoint x channel x segment.

    Runs in the engine; returns one row per non-empty cell including every ``all`` roll-up, with
    columns ``period, touchpoint, channel, segment``, :data:`INTERACTION_SUMS` (interactions
    ``n``, ``rated`` (CSAT present), ``csat_sum``, ``csat_sumsq``, ``top2`` (CSAT ≥ 4), ``ces_n``,
    ``ces_sum``, ``ces_sumsq``, ``resolved_n`` (resolved present) and ``resolved`` (true)) and the
    distinct customers behind each denominator (:data:`CUSTOMER_COUNTS`). Distinct counts do not
    add up over a roll-up; with ``min_cell_size`` they are exact below it and otherwise a lower
    bound that already reaches it, which is all suppression needs and saves a distinct count per
    roll-up over the raw rows.

    Parameters
    ----------
    interactions : ibis Table
        ``customer_id, timestamp, touchpoint, channel, csat, ces, resolved``.
    customers : ibis Table or None
        Gives the ``segment`` (``all`` only when missing).
    as_of : datetime.date
        Rows up to the end of this day count.
    period : {"quarter", "month"}
    min_cell_size : int, optional
        Distinct counts are exact below it.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["app", "app", "web"],
    ...                    "channel": ["chat"] * 3, "csat": [5, 2, None], "ces": [None] * 3,
    ...                    "resolved": [True, False, None],
    ...                    "timestamp": pd.to_datetime(["2026-07-01", "2026-08-01", "2026-08-02"])})
    >>> s = interaction_sums(t, None, dt.date(2026, 9, 30))
    >>> q3 = s[(s["period"] == "2026Q3") & (s["channel"] == "all")].sort_values("touchpoint")
    >>> print(q3[["touchpoint", "n", "rated", "top2", "customers"]].to_string(index=False))
    touchpoint  n  rated  top2  customers
           all  3      2     1          2
           app  2      2     1          1
           web  1      0     0          1
    """
    t = interactions.filter(interactions.timestamp < _end_of(as_of))
    t, has_segment = _with_segment(t, customers)
    t = t.mutate(period=_period_text(_period_key(t.timestamp, period), period))
    dims = ["period", "touchpoint", "channel"] + (["segment"] if has_segment else [])
    counts = {c: d for d, c in CUSTOMER_COUNTS.items() if d in INTERACTION_SUMS}
    return _sums_cube(t, dims, [] if has_segment else ["segment"], INTERACTION_ROW_SUMS, counts, min_cell_size)


def survey_sums(surveys: ir.Table, customers: ir.Table | None, as_of: dt.date,
                period: str = "quarter", min_cell_size: int | None = None) -> pd.DataFrame:
    """Promoter, passive and detractor counts per period x segment (with ``all`` roll-ups).

    Touchpoint and channel are ``all``. Columns: ``period, touchpoint, channel, segment``,
    :data:`SURVEY_SUMS` and ``respondents`` (distinct customers; exact below ``min_cell_size``, as in
    :func:`interaction_sums`). Responses without an NPS answer do not count.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"], "nps": [10, 7, None],
    ...                    "timestamp": pd.to_datetime(["2026-07-01"] * 3)})
    >>> s = survey_sums(t, None, dt.date(2026, 9, 30), "month")
    >>> s.loc[s["period"] == "2026-07", list(SURVEY_SUMS)].to_numpy().tolist()
    [[2, 1, 1, 0]]
    """
    t = surveys.filter(surveys.timestamp < _end_of(as_of), surveys.nps.notnull())
    t, has_segment = _with_segment(t, customers)
    t = t.mutate(period=_period_text(_period_key(t.timestamp, period), period))
    dims = ["period"] + (["segment"] if has_segment else [])
    constant = ["touchpoint", "channel"] + ([] if has_segment else ["segment"])
    df = _sums_cube(t, dims, constant, SURVEY_ROW_SUMS, {"respondents": "responses"}, min_cell_size)
    df.insert(df.columns.get_loc("detractors"), "passives", df["responses"] - df["promoters"] - df["detractors"])
    return df
