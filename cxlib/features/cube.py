"""The metric cube: sufficient statistics of the portfolio's metrics, computed in the engine.

The engine (Ibis) reduces the interactions and survey responses to sums per period x touchpoint x
channel x segment, with an ``all`` roll-up on every dimension but the period (the published tables
have no cumulative all-period rows, :mod:`cxlib.analyses.portfolio`). Only that small cube reaches
pandas, where :mod:`cxlib.analyses.portfolio` computes estimates, intervals, tests and suppression.

A customer's interactions are not independent, so every ratio metric (:data:`INTERACTION_RATIOS`,
:data:`SURVEY_RATIOS`) also gets the per-customer sums of the clustered (sandwich) variance of
:mod:`cxlib.stats.clustered`: the rows are first summed per customer within each cell, then the cell
is a GROUP BY of those per-customer sums (customers ``m``, ``Σy``, ``Σn``, ``Σy²``, ``Σn²``,
``Σyn``). A customer can sit in several touchpoints and channels, so each of their roll-ups sums the
customer's cells again before squaring: the per-customer table of every in-period grouping set is a
group-by of one cached per-customer table of the finest cells, and the union of them is grouped once
by the cell (a portable GROUPING SETS, the same on DuckDB and PySpark). A customer belongs to one
segment, so the segment roll-up needs no second pass over customers: it is the sum of the segments'
cells, added in pandas on the small cube. The distinct customers behind each denominator come out of
the same query, exact in every cell. The cross sums of
:func:`cxlib.stats.clustered.ratio_difference_test` (customers present in a cell and in the same cell
one period earlier) are a join of that per-customer union with itself on the next period.

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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.ingest.spark import session_cache
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
# metric -> (numerator, denominator) of its ratio, clustered by customer (cxlib.stats.clustered)
INTERACTION_RATIOS = {"rated_share": ("rated", "n"), "csat_mean": ("csat_sum", "rated"),
                      "csat_top2": ("top2", "rated"), "ces_mean": ("ces_sum", "ces_n"),
                      "resolution_rate": ("resolved", "resolved_n")}
# NPS / 100 is the ratio of (promoter − detractor) answers to answers
SURVEY_RATIOS = {"nps": ("nps_net", "responses"), "nps_promoters": ("promoters", "responses"),
                 "nps_passives": ("passives", "responses"), "nps_detractors": ("detractors", "responses")}
# per ratio metric k: Σy², Σn², Σyn over customers (k_yy, k_nn, k_yn) and, against the previous period,
# customers in both and Σ y1y2, y1n2, n1y2, n1n2 (k_m_both ...; 1 = previous period)
CLUSTER_SUFFIXES = ("yy", "nn", "yn")
CROSS_SUFFIXES = ("m_both", "y1y2", "y1n2", "n1y2", "n1n2")
# input rows per pass of the per-customer aggregation: at most a few GB of per-customer tables; every
# pass scans the rows, so the passes are capped to keep the cost linear in the rows
CHUNK_ROWS = 10_000_000
MAX_CHUNKS = 16
# denominator -> distinct customers behind it: a cell of few customers is small however many rows it has
CUSTOMER_COUNTS = {"n": "customers", "rated": "raters", "ces_n": "ces_customers",
                   "resolved_n": "resolved_customers", "responses": "respondents"}


# ---- periods in the engine (labels as cxlib.periods.period_label) ------------------------------


def _period_key(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    # calendar fields, not month/quarter deltas, so DuckDB and PySpark agree
    if period == "quarter":
        return ts.year() * 4 + ts.quarter() - 1
    return ts.year() * 12 + ts.month() - 1


def _period_labels(keys: pd.Series, period: str) -> list[str]:
    """The labels of :func:`cxlib.periods.period_label` for integer period keys, on the small result."""
    if period == "quarter":
        return [f"{k // 4}Q{k % 4 + 1}" for k in keys.astype(int)]
    return [f"{k // 12}-{k % 12 + 1:02d}" for k in keys.astype(int)]


def _with_period(t: ir.Table, period: str) -> ir.Table:
    """The integer period key ``_pkey`` (consecutive periods differ by 1), labelled after aggregation."""
    return t.mutate(_pkey=_period_key(t.timestamp, period).cast("int64"))


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
    return base.mutate(**{d: ibis.ifelse(base[d] == ALL, ALL_IN_DATA, base[d]) for d in dims})


def _grouping_sets(dims: Sequence[str]) -> list[tuple[str, ...]]:
    """Every subset of ``dims``, finest first: the cells of a period and their roll-ups."""
    return [kept for k in range(len(dims), -1, -1) for kept in itertools.combinations(dims, k)]


def _cell_sums(g: ir.Table, keys: Sequence[str], row_sums: Sequence[str], counts: Mapping[str, str],
               ratios: Mapping[str, tuple[str, str]]) -> ir.Table:
    """The cells of one grouping set from its per-customer table ``g`` (``keys, _pkey, customer_id, sums``).

    Each customer's row is left-joined to the same customer's row of the same cell one period
    earlier, so that one aggregation gives the cell's sums, distinct customers, clustered sums and
    the cross sums over customers present in both periods (the earlier row is unique, so every
    current row counts once)."""
    cols = sorted({c for pair in ratios.values() for c in pair})
    prev = g.select(**{f"_p_{k}": g[k] for k in (*keys, "customer_id")}, _p_next=g._pkey + 1,
                    **{f"_p_{c}": g[c] for c in cols})
    j = g.left_join(prev, [*(g[k] == prev[f"_p_{k}"] for k in (*keys, "customer_id")), g._pkey == prev._p_next])
    cells = {s: j[s].sum() for s in row_sums}
    cells |= {c: (j[d] > 0).cast("int64").sum() for c, d in counts.items()}
    cells |= {f"{n}_max": j[n].max() for n in dict.fromkeys(n for _, n in ratios.values())}
    for k, (y, n) in ratios.items():
        y2, n2 = j[y], j[n]
        # no row one period earlier: the customer adds 0 to every cross sum
        y1, n1 = j[f"_p_{y}"].fill_null(0), j[f"_p_{n}"].fill_null(0)
        cells |= {f"{k}_yy": (y2 * y2).sum(), f"{k}_nn": (n2 * n2).sum(), f"{k}_yn": (y2 * n2).sum(),
                  f"{k}_m_both": ((n1 > 0) & (n2 > 0)).cast("int64").sum(), f"{k}_y1y2": (y1 * y2).sum(),
                  f"{k}_y1n2": (y1 * n2).sum(), f"{k}_n1y2": (n1 * y2).sum(), f"{k}_n1n2": (n1 * n2).sum()}
    return j.group_by([*keys, "_pkey"]).aggregate(**cells)


def _add_up(cube: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Cells with the same ``keys`` added: every column a sum, ``*_max`` a maximum.

    Exact for the distinct-customer counts and the clustered and cross sums too, as long as the rows
    added hold disjoint sets of customers (segments, or the customer chunks of :func:`_sums_cube`)."""
    how = {c: "max" if c.endswith("_max") else "sum" for c in cube.columns if c not in keys}
    return cube.groupby(list(keys), as_index=False, sort=False).agg(how)


def _roll_up_segment(cube: pd.DataFrame) -> pd.DataFrame:
    """The cube with its ``segment`` roll-up added: the segments split the customers of a cell."""
    rolled = _add_up(cube, [d for d in DIMENSIONS if d != "segment"]).assign(segment=ALL)
    return pd.concat([cube, rolled[cube.columns]], ignore_index=True)


def _customer_chunks(rows: ir.Table, chunk_rows: int) -> list[ir.Table]:
    """``rows`` split by customer into parts of about ``chunk_rows`` rows, at most :data:`MAX_CHUNKS`.

    A customer's rows all land in one part, so the parts' cubes add up exactly (:func:`_add_up`),
    while each part's per-customer tables stay within the engine's memory instead of spilling."""
    k = min(-(-int(rows.count().execute()) // chunk_rows), MAX_CHUNKS)
    if k <= 1:
        return [rows]
    part = (rows.customer_id.hash() % k + k) % k  # the engine's hash may be signed
    return [rows.filter(part == j) for j in range(k)]


def _chunk_cells(rows: ir.Table, customers: ir.Table | None, dims: list[str], row_sums: Mapping[str, Any],
                 counts: Mapping[str, str], ratios: Mapping[str, tuple[str, str]]) -> tuple[list[pd.DataFrame], bool]:
    """The cells of every in-period grouping set of ``rows``, one frame each, and whether a segment exists.

    The rows are summed per customer in the finest cells once (the segment is attached to that
    smaller table); every roll-up is a group-by of the smallest per-customer table that holds it (a
    customer in two channels is one cluster of the channel roll-up), held while its cells are
    aggregated and pulled."""
    by_customer = ["_pkey", "customer_id"]
    finest = rows.group_by([*dims, *by_customer]).aggregate(**{s: f(rows).sum() for s, f in row_sums.items()})
    finest, has_segment = _with_segment(finest, customers)
    segment = ["segment"] if has_segment else []
    finest = _relabel_all(finest, [*dims, *segment])
    frames, held = [], {}
    with contextlib.ExitStack() as stack:
        for kept in _grouping_sets(dims):
            parent = min((k for k in held if set(kept) <= set(k)), key=len, default=None)
            if parent is None:
                table = stack.enter_context(session_cache(finest))
            else:
                p = held[parent]
                table = stack.enter_context(session_cache(p.group_by([*kept, *segment, *by_customer]).aggregate(
                    **{s: p[s].sum() for s in row_sums})))
            held[kept] = table
            cells = _cell_sums(table, [*kept, *segment], list(row_sums), counts, ratios).execute()
            frames.append(cells.assign(**{d: ALL for d in DIMENSIONS[1:] if d not in (*kept, *segment)}))
    return frames, has_segment


def _sums_cube(rows: ir.Table, customers: ir.Table | None, dims: list[str], period: str,
               row_sums: Mapping[str, Any], counts: Mapping[str, str],
               ratios: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """The cube of ``row_sums`` with distinct customers and the clustered sums of each ratio.

    ``dims`` are the row dimensions besides the period (its key ``_pkey`` is in ``rows``) and the
    customer's segment (from ``customers``); the others of :data:`DIMENSIONS` are ``all`` throughout.
    ``row_sums`` maps a sum's name to a function of the rows table giving each row's value (never
    missing); ``counts`` maps a distinct-count column to the denominator sum a customer must
    contribute to; ``ratios`` maps a metric to its (numerator, denominator) sums.

    Large inputs are aggregated in customer chunks of about :data:`CHUNK_ROWS` rows
    (:func:`_customer_chunks`) whose cubes are added up; the segment is a property of the customer,
    so it stays in every grouping set and is rolled up on the small cube (:func:`_roll_up_segment`)."""
    frames, has_segment = [], False
    for chunk in _customer_chunks(rows, CHUNK_ROWS):
        cells, has_segment = _chunk_cells(chunk, customers, dims, row_sums, counts, ratios)
        frames += cells
    df = pd.concat(frames, ignore_index=True)
    if len(frames) > len(_grouping_sets(dims)):
        df = _add_up(df, [*DIMENSIONS[1:], "_pkey"])
    df.insert(0, "period", _period_labels(df.pop("_pkey"), period))
    cross = [f"{k}_{x}" for k in ratios for x in CROSS_SUFFIXES]
    numeric = [c for c in df.columns if c not in (*DIMENSIONS, *cross)] + cross
    df = df[[*DIMENSIONS, *numeric]]
    df[numeric] = df[numeric].apply(pd.to_numeric)
    if has_segment:
        df = _roll_up_segment(df)
    return df.astype({c: "int64" for c in counts})


def _indicator(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.fill_null(False).cast("int64")


def _float(col: str) -> Any:
    # a missing answer adds 0 (its indicator is 0 too), so no per-customer sum is ever missing
    return lambda t: t[col].cast("float64").fill_null(0)


INTERACTION_ROW_SUMS = {
    "n": lambda t: _indicator(t.customer_id.notnull()),  # a column, so that it can be summed
    "rated": lambda t: _indicator(t.csat.notnull()),
    "csat_sum": _float("csat"),
    "csat_sumsq": lambda t: _float("csat")(t) * _float("csat")(t),
    "top2": lambda t: _indicator(t.csat >= TOP2_MIN),
    "ces_n": lambda t: _indicator(t.ces.notnull()),
    "ces_sum": _float("ces"),
    "ces_sumsq": lambda t: _float("ces")(t) * _float("ces")(t),
    "resolved_n": lambda t: _indicator(t.resolved.notnull()),
    "resolved": lambda t: _indicator(t.resolved),
}
SURVEY_ROW_SUMS = {
    "responses": lambda t: _indicator(t.customer_id.notnull()),
    "promoters": lambda t: _indicator(t.nps >= PROMOTER_MIN),
    "passives": lambda t: _indicator((t.nps > DETRACTOR_MAX) & (t.nps < PROMOTER_MIN)),
    "detractors": lambda t: _indicator(t.nps <= DETRACTOR_MAX),
    "nps_net": lambda t: _indicator(t.nps >= PROMOTER_MIN) - _indicator(t.nps <= DETRACTOR_MAX),
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
                     period: str = "quarter") -> pd.DataFrame:
    """Sufficient statistics of the interaction metrics per period x touchpoint x channel x segment.

    Runs in the engine; returns one row per non-empty cell of a period, including every ``all``
    roll-up of touchpoint, channel and segment, with columns ``period, touchpoint, channel, segment``, :data:`INTERACTION_SUMS` (interactions
    ``n``, ``rated`` (CSAT present), ``csat_sum``, ``csat_sumsq``, ``top2`` (CSAT ≥ 4), ``ces_n``,
    ``ces_sum``, ``ces_sumsq``, ``resolved_n`` (resolved present) and ``resolved`` (true)) and the
    distinct customers behind each denominator (:data:`CUSTOMER_COUNTS`, exact in every cell), and
    for each metric ``k`` of :data:`INTERACTION_RATIOS` the clustered sums ``k_yy``, ``k_nn``,
    ``k_yn`` (over customers of the cell, of ``y_i²``, ``n_i²``, ``y_i n_i``) and the cross sums
    against the same cell one period earlier ``k_m_both``, ``k_y1y2``, ``k_y1n2``, ``k_n1y2``,
    ``k_n1n2`` (0 in the first period), and ``<n>_max``, the most any one
    customer contributes to the denominator ``<n>``.

    Parameters
    ----------
    interactions : ibis Table
        ``customer_id, timestamp, touchpoint, channel, csat, ces, resolved``.
    customers : ibis Table or None
        Gives the ``segment`` (``all`` only when missing).
    as_of : datetime.date
        Rows up to the end of this day count.
    period : {"quarter", "month"}

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

    Customer ``a`` gave both app ratings (5 and 2): one cluster, ``y = 1`` top-2 box of ``n = 2``.

    >>> app = q3[q3["touchpoint"] == "app"].iloc[0]
    >>> [float(app[c]) for c in ("csat_top2_yy", "csat_top2_nn", "csat_top2_yn", "rated_max")]
    [1.0, 4.0, 2.0, 2.0]
    """
    t = _with_period(interactions.filter(interactions.timestamp < _end_of(as_of)), period)
    counts = {c: d for d, c in CUSTOMER_COUNTS.items() if d in INTERACTION_SUMS}
    return _sums_cube(t, customers, ["touchpoint", "channel"], period, INTERACTION_ROW_SUMS, counts,
                      INTERACTION_RATIOS)


def survey_sums(surveys: ir.Table, customers: ir.Table | None, as_of: dt.date,
                period: str = "quarter") -> pd.DataFrame:
    """Promoter, passive and detractor counts per period x segment (with the ``all`` segment roll-up).

    Touchpoint and channel are ``all``. Columns: ``period, touchpoint, channel, segment``,
    :data:`SURVEY_SUMS`, ``nps_net`` (promoters − detractors), ``respondents`` (distinct customers),
    ``responses_max`` (the most responses of one customer in the cell: NPS is clustered by customer
    where it exceeds 1) and the clustered and cross sums of :data:`SURVEY_RATIOS`, as in
    :func:`interaction_sums`. Responses without an NPS answer do not count.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"], "nps": [10, 7, None],
    ...                    "timestamp": pd.to_datetime(["2026-07-01"] * 3)})
    >>> s = survey_sums(t, None, dt.date(2026, 9, 30), "month")
    >>> s.loc[s["period"] == "2026-07", list(SURVEY_SUMS)].to_numpy().tolist()
    [[2, 1, 1, 0]]
    """
    t = _with_period(surveys.filter(surveys.timestamp < _end_of(as_of), surveys.nps.notnull()), period)
    return _sums_cube(t, customers, [], period, SURVEY_ROW_SUMS, {"respondents": "responses"}, SURVEY_RATIOS)
