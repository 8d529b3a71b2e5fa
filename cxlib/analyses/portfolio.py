"""Touchpoint metric portfolio: every touchpoint on its own metrics, with intervals, targets and change.

The engine (Ibis) reduces the interactions and survey responses to sufficient statistics per
period x touchpoint x channel x segment, with an ``all`` roll-up on every dimension (a union of
group-bys over a cached base aggregate, so it runs the same on DuckDB and PySpark). Only that small
cube reaches pandas, where the estimates, intervals, tests, targets and suppression are computed.

Metrics (the ``metric`` column of ``metrics.csv``) and what ``n`` counts for each
------------------------------------------------------------------------------------
=================  =====================================================  ==========================  ===================
metric             value                                                  n                           95 % interval
=================  =====================================================  ==========================  ===================
volume             number of interactions                                 interactions                none (a census)
rated_share        share of interactions with a CSAT rating               interactions                Wilson
csat_mean          mean CSAT (1–5)                                        rated interactions          Student t
csat_top2          top-2-box share: CSAT of 4 or 5                        rated interactions          Wilson
ces_mean           mean customer-effort score (1–7, higher = easier)      interactions with a CES     Student t
resolution_rate    share resolved among interactions with ``resolved``    interactions with resolved  Wilson
nps                relationship NPS, 100 x (promoters − detractors) / n   survey responses            normal, see below
nps_promoters      share of responses 9–10                                survey responses            Wilson
nps_passives       share of responses 7–8                                 survey responses            Wilson
nps_detractors     share of responses 0–6                                 survey responses            Wilson
=================  =====================================================  ==========================  ===================

NPS rows have ``touchpoint`` and ``channel`` = ``all`` (a relationship survey is not about one
touchpoint). The NPS interval is normal with Var(NPS/100) = (p + d − (p − d)²) / n, p and d the
promoter and detractor shares, clipped to [−100, 100]. Periods are calendar quarters (``2026Q3``) or
months (``2026-09``) from the first one in the data up to the one containing ``as_of``; ``all`` rows
pool every period. The segment is the customer's ``segment`` column (``unspecified`` where empty; only
``all`` when the customers table has no such column). A metric whose ``n`` is 0 in a cell has no row.
A touchpoint, channel or segment whose value in the data is ``all`` is shown as ``all (in data)``.

Period-over-period change compares each cell with the same cell one period earlier: a two-sample z
test of proportions (pooled under the null; the interval of the difference is unpooled Wald), Welch's
t test for means (computed from the sums), and a z test for the NPS difference with the variance
above. Volume is a census count with no sampling error, so it is not tested. The p-values of the whole
change table are adjusted together with Benjamini–Hochberg (false discovery rate ``fdr``); only changes
that survive are flagged.

Small cells: any cell with ``n < min_cell_size``, or with fewer than ``min_cell_size`` distinct
customers behind its ``n`` (three customers with 60 interactions are still three customers), is
suppressed (``n``, value and interval empty, ``suppressed`` true), plus complementary suppression
(:mod:`cxlib.stats.suppression`) so that no suppressed cell can be recovered from its roll-up. Suppression is decided per denominator, so metrics that share
``n`` (volume and rated_share; csat_mean and csat_top2; the four NPS rows) are suppressed together.
Change tests use shown cells only.

Examples
--------
>>> p = touchpoint_portfolio(wb.interactions, wb.customers, wb.surveys, as_of=wb.params.as_of)  # doctest: +SKIP
>>> p.to_frame().columns.tolist()                                                               # doctest: +SKIP
['period', 'touchpoint', 'channel', 'segment', 'metric', 'n', 'value', 'ci_lower', 'ci_upper', 'suppressed']
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cxlib.results import ALL, RESULT_COLUMNS
from cxlib.stats.suppression import suppression_reasons

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
STATUS = ("met", "missed", "can't tell")

Kind = Literal["count", "proportion", "mean", "nps"]


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is estimated from the sums of its cube: ``n``, numerator ``x``, and ``xx``
    (sum of squares for a mean, detractors for NPS)."""

    name: str
    kind: Kind
    n: str
    x: str
    xx: str | None = None
    label: str = ""


METRIC_SPECS = (
    MetricSpec("volume", "count", "n", "n", label="interactions"),
    MetricSpec("rated_share", "proportion", "n", "rated", label="rated share"),
    MetricSpec("csat_mean", "mean", "rated", "csat_sum", "csat_sumsq", label="mean CSAT"),
    MetricSpec("csat_top2", "proportion", "rated", "top2", label="top-2-box CSAT"),
    MetricSpec("ces_mean", "mean", "ces_n", "ces_sum", "ces_sumsq", label="mean CES"),
    MetricSpec("resolution_rate", "proportion", "resolved_n", "resolved", label="resolution rate"),
    MetricSpec("nps", "nps", "responses", "promoters", "detractors", label="NPS"),
    MetricSpec("nps_promoters", "proportion", "responses", "promoters", label="promoters"),
    MetricSpec("nps_passives", "proportion", "responses", "passives", label="passives"),
    MetricSpec("nps_detractors", "proportion", "responses", "detractors", label="detractors"),
)
SPECS = {s.name: s for s in METRIC_SPECS}
METRICS = tuple(SPECS)


# ---- periods ---------------------------------------------------------------------------------


def _freq(period: str) -> str:
    return "Q" if period == "quarter" else "M"


def period_label(day: dt.date, period: str = "quarter") -> str:
    """The label of the period containing ``day``: ``2026Q3`` or ``2026-09``.

    Examples
    --------
    >>> period_label(dt.date(2026, 9, 30)), period_label(dt.date(2026, 9, 30), "month")
    ('2026Q3', '2026-09')
    """
    return str(pd.Period(day, freq=_freq(period)))


def period_range(first: str, last: str, period: str = "quarter") -> list[str]:
    """Every period label from ``first`` to ``last`` inclusive.

    Examples
    --------
    >>> period_range("2025Q4", "2026Q2")
    ['2025Q4', '2026Q1', '2026Q2']
    """
    freq = _freq(period)
    return [str(p) for p in pd.period_range(pd.Period(first, freq), pd.Period(last, freq), freq=freq)]


def previous_period(labels: pd.Series, period: str = "quarter") -> pd.Series:
    """The label one period earlier (``all`` stays missing)."""
    lookup = {s: None if s == ALL else str(pd.Period(s, _freq(period)) - 1) for s in labels.unique()}
    return labels.map(lookup).astype(object)


# ---- engine: sufficient statistics ------------------------------------------------------------


def _period_key(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    # calendar fields, not month/quarter deltas, so DuckDB and PySpark agree
    if period == "quarter":
        return ts.year() * 4 + ts.quarter() - 1
    return ts.year() * 12 + ts.month() - 1


def _period_text(key: ir.IntegerValue, period: str) -> ir.StringValue:
    if period == "quarter":
        return (key // 4).cast("string") + "Q" + (key % 4 + 1).cast("string")
    return (key // 12).cast("string") + "-" + (key % 12 + 1).cast("string").lpad(2, "0")


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


def _end_of(as_of: dt.date) -> ir.TimestampScalar:
    return ibis.timestamp(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))


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

    Examples
    --------
    >>> sums = interaction_sums(wb.interactions, wb.customers, wb.params.as_of)   # doctest: +SKIP
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
    :func:`interaction_sums`).

    Examples
    --------
    >>> sums = survey_sums(wb.surveys, wb.customers, wb.params.as_of)   # doctest: +SKIP
    """
    t = surveys.filter(surveys.timestamp < _end_of(as_of), surveys.nps.notnull())
    t, has_segment = _with_segment(t, customers)
    t = t.mutate(period=_period_text(_period_key(t.timestamp, period), period))
    dims = ["period"] + (["segment"] if has_segment else [])
    constant = ["touchpoint", "channel"] + ([] if has_segment else ["segment"])
    df = _sums_cube(t, dims, constant, SURVEY_ROW_SUMS, {"respondents": "responses"}, min_cell_size)
    df.insert(df.columns.get_loc("detractors"), "passives", df["responses"] - df["promoters"] - df["detractors"])
    return df


# ---- intervals --------------------------------------------------------------------------------


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_interval(x: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``x / n``.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    z = _z(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _mean_sd(n: np.ndarray, total: np.ndarray, total_sq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        # sum of squared deviations; rounding can push an all-equal cell a hair below 0
        ss = np.clip(total_sq - total * mean, 0, None)
        var = np.where(n > 1, ss / np.maximum(n - 1, 1), np.nan)
    return mean, np.sqrt(var)


def mean_interval(n: Any, total: Any, total_sq: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t interval from the count, sum and sum of squares.

    Returns ``(mean, lower, upper)``; the interval is missing when ``n < 2``.

    Examples
    --------
    >>> m, lo, hi = mean_interval(5, 15, 55)          # the values 1, 2, 3, 4, 5
    >>> float(m), round(float(lo), 4), round(float(hi), 4)
    (3.0, 1.0368, 4.9632)
    """
    n, total, total_sq = (np.asarray(a, dtype=float) for a in (n, total, total_sq))
    mean, sd = _mean_sd(n, total, total_sq)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
    return mean, mean - half, mean + half


def nps_variance(promoters: Any, detractors: Any, n: Any) -> np.ndarray:
    """Sampling variance of NPS on the −100..100 scale: 100² (p + d − (p − d)²) / n."""
    p, d, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        ps, ds = p / n, d / n
        return 1e4 * (ps + ds - (ps - ds) ** 2) / n


def nps_interval(promoters: Any, detractors: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS (−100..100) and its normal interval, clipped to [−100, 100].

    Examples
    --------
    >>> v, lo, hi = nps_interval(20, 10, 50)          # 20 promoters, 20 passives, 10 detractors
    >>> round(float(v), 4), round(float(lo), 3), round(float(hi), 3)
    (20.0, -0.742, 40.742)
    """
    p, d, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100 * (p - d) / n
    half = _z(level) * np.sqrt(nps_variance(p, d, n))
    return value, np.clip(value - half, -100, 100), np.clip(value + half, -100, 100)


# ---- tests of change ---------------------------------------------------------------------------


def _p_from_z(diff: np.ndarray, se: np.ndarray, z: np.ndarray, sf: Any) -> np.ndarray:
    """Two-sided p-value; a zero standard error means no doubt: p = 1 with no change, else 0."""
    with np.errstate(invalid="ignore"):
        p = 2 * sf(np.abs(z))
    return np.where(se > 0, p, np.where(diff == 0, 1.0, 0.0))


def proportion_difference_test(x1: Any, n1: Any, x2: Any, n2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Two-sample z test of proportions, ``x2/n2 − x1/n1``.

    The statistic uses the pooled proportion (the null hypothesis of no change); the interval of the
    difference uses the unpooled (Wald) standard error.

    Returns
    -------
    dict with ``difference, ci_lower, ci_upper, statistic, p_value`` (arrays)

    Examples
    --------
    >>> r = proportion_difference_test(40, 100, 55, 100)
    >>> round(float(r["statistic"]), 4), round(float(r["p_value"]), 4)
    (2.124, 0.0337)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / se0
    half = _z(level) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": z,
            "df": np.full(diff.shape, np.nan), "p_value": _p_from_z(diff, se0, z, stats.norm.sf)}


def welch_test(n1: Any, s1: Any, ss1: Any, n2: Any, s2: Any, ss2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Welch's t test of ``mean2 − mean1`` from counts, sums and sums of squares.

    Returns
    -------
    dict with ``difference, ci_lower, ci_upper, statistic, df, p_value`` (arrays)

    Examples
    --------
    >>> r = welch_test(5, 15, 55, 4, 14, 54)            # 1..5 against 2, 3, 4, 5
    >>> round(float(r["difference"]), 3), round(float(r["df"]), 3)
    (0.5, 6.981)
    """
    n1, s1, ss1, n2, s2, ss2 = (np.asarray(a, dtype=float) for a in (n1, s1, ss1, n2, s2, ss2))
    m1, sd1 = _mean_sd(n1, s1, ss1)
    m2, sd2 = _mean_sd(n2, s2, ss2)
    v1, v2 = sd1 ** 2 / n1, sd2 ** 2 / n2
    se = np.sqrt(v1 + v2)
    diff = m2 - m1
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
        t = diff / se
        half = stats.t.ppf(0.5 + level / 2, df) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": t, "df": df,
            "p_value": _p_from_z(diff, se, t, lambda a: stats.t.sf(a, df))}


def nps_difference_test(p1: Any, d1: Any, n1: Any, p2: Any, d2: Any, n2: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """z test of ``NPS2 − NPS1`` (points) with Var(NPS) = 100² (p + d − (p − d)²) / n per period.

    Examples
    --------
    >>> r = nps_difference_test(20, 10, 50, 30, 10, 60)   # NPS +20 then +33.3
    >>> round(float(r["difference"]), 3), round(float(r["statistic"]), 4)
    (13.333, 0.9322)
    """
    v1 = nps_interval(p1, d1, n1)[0]
    v2 = nps_interval(p2, d2, n2)[0]
    se = np.sqrt(nps_variance(p1, d1, n1) + nps_variance(p2, d2, n2))
    diff = v2 - v1
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / se
    half = _z(level) * se
    return {"difference": diff, "ci_lower": diff - half, "ci_upper": diff + half, "statistic": z,
            "df": np.full(np.shape(diff), np.nan), "p_value": _p_from_z(diff, se, z, stats.norm.sf)}


# ---- estimates ----------------------------------------------------------------------------------


def _estimate(spec: MetricSpec, n: np.ndarray, x: np.ndarray, xx: np.ndarray | None,
              level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if spec.kind == "count":
        return x.astype(float), np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    if spec.kind == "proportion":
        lo, hi = wilson_interval(x, n, level)
        return x / n, lo, hi
    if spec.kind == "mean":
        return mean_interval(n, x, xx, level)
    return nps_interval(x, xx, n, level)


def estimates(interaction_cube: pd.DataFrame | None, survey_cube: pd.DataFrame | None,
              level: float = 0.95) -> pd.DataFrame:
    """Every metric of every non-empty cell, unsuppressed, in long format.

    Columns: the dimensions, ``metric``, ``n``, the sums behind the estimate (``x``, ``xx``),
    ``value``, ``ci_lower``, ``ci_upper``. Internal: never publish this table as it is.
    """
    parts = []
    for spec in METRIC_SPECS:
        cube = survey_cube if spec.n in SURVEY_SUMS else interaction_cube
        if cube is None or cube.empty:
            continue
        cube = cube[cube[spec.n] > 0]
        n = cube[spec.n].to_numpy(dtype=float)
        x = cube[spec.x].to_numpy(dtype=float)
        xx = cube[spec.xx].to_numpy(dtype=float) if spec.xx else None
        value, lo, hi = _estimate(spec, n, x, xx, level)
        parts.append(cube[list(DIMENSIONS)].assign(
            metric=spec.name, n=n.astype("int64"), x=x, xx=np.nan if xx is None else xx,
            value=value, ci_lower=lo, ci_upper=hi,
        ))
    if not parts:
        return pd.DataFrame(columns=[*DIMENSIONS, "metric", "n", "x", "xx", "value", "ci_lower", "ci_upper"])
    return pd.concat(parts, ignore_index=True)


def _suppression(cube: pd.DataFrame, n: str, min_cell_size: int) -> pd.DataFrame:
    units = CUSTOMER_COUNTS[n]
    cells = cube.loc[cube[n] > 0, [*DIMENSIONS, n, units]]
    dims = [d for d in DIMENSIONS if cells[d].nunique() > 1]
    reasons = suppression_reasons(cells, dims, n, min_cell_size, units=units)
    return cells[list(DIMENSIONS)].assign(_n=n, suppression=reasons)


def suppress(est: pd.DataFrame, interaction_cube: pd.DataFrame | None, survey_cube: pd.DataFrame | None,
             min_cell_size: int) -> pd.DataFrame:
    """Add ``suppressed`` and ``suppression`` (``primary`` / ``complementary`` / empty) to estimates.

    Suppression is decided once per denominator (see :mod:`cxlib.stats.suppression`) and applied to every
    metric sharing it.
    """
    decisions = []
    for n_col in dict.fromkeys(s.n for s in METRIC_SPECS):
        cube = survey_cube if n_col in SURVEY_SUMS else interaction_cube
        if cube is not None and not cube.empty and (cube[n_col] > 0).any():
            decisions.append(_suppression(cube, n_col, min_cell_size))
    out = est.assign(_n=est["metric"].map(lambda m: SPECS[m].n))
    if decisions:
        out = out.merge(pd.concat(decisions, ignore_index=True), on=[*DIMENSIONS, "_n"], how="left")
    else:
        out = out.assign(suppression="")
    out["suppression"] = out["suppression"].fillna("")
    out["suppressed"] = out["suppression"] != ""
    return out.drop(columns="_n")


def _period_order(periods: pd.Series) -> pd.Series:
    # chronological labels sort as text; "all" goes last
    return periods.where(periods != ALL, "~")


def publishable(est: pd.DataFrame) -> pd.DataFrame:
    """The ``metrics.csv`` contract table: suppressed rows keep their keys, lose n, value and interval."""
    out = est.copy()
    hidden = out["suppressed"].to_numpy(dtype=bool)
    out["n"] = out["n"].astype("Int64").mask(hidden)
    for c in ("value", "ci_lower", "ci_upper"):
        out[c] = out[c].astype(float).mask(hidden)
    order = {m: i for i, m in enumerate(METRICS)}
    out = out.assign(_p=_period_order(out["period"]), _m=out["metric"].map(order))
    out = out.sort_values(["_p", "touchpoint", "channel", "segment", "_m"], kind="mergesort")
    return out[RESULT_COLUMNS["metrics"]].reset_index(drop=True)


# ---- period-over-period change ------------------------------------------------------------------

CHANGE_COLUMNS = ["period", "previous_period", "touchpoint", "channel", "segment", "metric", "test",
                  "n_previous", "n", "value_previous", "value", "difference", "ci_lower", "ci_upper",
                  "statistic", "df", "p_value", "q_value", "significant"]
_TEST_NAMES = {"proportion": "two-proportion z", "mean": "Welch t", "nps": "NPS difference z"}


def period_changes(est: pd.DataFrame, period: str = "quarter", level: float = 0.95, fdr: float = 0.05) -> pd.DataFrame:
    """Each shown cell against the same cell one period earlier, Benjamini–Hochberg over the table.

    Parameters
    ----------
    est : DataFrame
        Estimates with suppression (:func:`estimates` then :func:`suppress`); suppressed cells and
        ``volume`` are not tested.
    period : {"quarter", "month"}
    level : float
        Confidence level of the interval of each difference.
    fdr : float
        False discovery rate of the Benjamini–Hochberg procedure (``multipletests(method="fdr_bh")``).

    Returns
    -------
    DataFrame
        :data:`CHANGE_COLUMNS`; ``q_value`` is the BH-adjusted p-value and ``significant`` says whether
        the change survives at ``fdr``.

    Examples
    --------
    >>> changes = period_changes(suppress(estimates(icube, scube), icube, scube, 10))   # doctest: +SKIP
    """
    shown = est[(est["period"] != ALL) & ~est["suppressed"] & (est["metric"] != "volume")]
    keys = ["touchpoint", "channel", "segment", "metric"]
    cur = shown.assign(previous_period=previous_period(shown["period"], period))
    pairs = cur.merge(shown[[*keys, "period", "n", "x", "xx", "value"]].rename(columns={"period": "previous_period"}),
                      on=[*keys, "previous_period"], suffixes=("", "_previous"))
    if pairs.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    parts = []
    for kind, group in pairs.groupby(pairs["metric"].map(lambda m: SPECS[m].kind)):
        a = {c: group[c].to_numpy(dtype=float) for c in ("n", "x", "xx", "n_previous", "x_previous", "xx_previous")}
        if kind == "proportion":
            r = proportion_difference_test(a["x_previous"], a["n_previous"], a["x"], a["n"], level)
        elif kind == "mean":
            r = welch_test(a["n_previous"], a["x_previous"], a["xx_previous"], a["n"], a["x"], a["xx"], level)
        else:
            r = nps_difference_test(a["x_previous"], a["xx_previous"], a["n_previous"], a["x"], a["xx"], a["n"], level)
        parts.append(group.assign(test=_TEST_NAMES[kind], **r))
    out = pd.concat(parts, ignore_index=True)
    tested = np.isfinite(out["p_value"].to_numpy(dtype=float))
    out["q_value"] = np.nan
    out["significant"] = False
    if tested.any():
        reject, q, _, _ = multipletests(out.loc[tested, "p_value"], alpha=fdr, method="fdr_bh")
        out.loc[tested, "q_value"] = q
        out.loc[tested, "significant"] = reject
    order = {m: i for i, m in enumerate(METRICS)}
    out = out.assign(_m=out["metric"].map(order)).sort_values(["period", "touchpoint", "channel", "segment", "_m"])
    return out[CHANGE_COLUMNS].reset_index(drop=True)


# ---- targets -------------------------------------------------------------------------------------

TARGET_COLUMNS = ["metric", "touchpoint", "period", "target", "n", "value", "ci_lower", "ci_upper",
                  "gap", "gap_lower", "gap_upper", "status", "note"]


def target_status(metrics: pd.DataFrame, targets: Mapping[str, Mapping[str, float]], period: str) -> pd.DataFrame:
    """Gap to each target in ``period`` (channel and segment ``all``), with its interval and status.

    Every metric is better when higher. ``met``: the interval lies at or above the target; ``missed``:
    it lies below; ``can't tell``: it straddles the target, or there is no value (``note`` says
    ``suppressed`` or ``no data``). Volume has no interval, so its point value decides.

    Parameters
    ----------
    metrics : DataFrame
        The published metrics table (:func:`publishable`).
    targets : mapping
        ``{metric: {touchpoint or "all": target}}`` as in params (NPS on the −100..100 scale, shares
        as fractions).
    period : str
        Period label, usually the latest.

    Examples
    --------
    >>> m = pd.DataFrame({"period": ["2026Q3"], "touchpoint": ["billing"], "channel": ["all"],
    ...                   "segment": ["all"], "metric": ["csat_top2"], "n": [400], "value": [0.62],
    ...                   "ci_lower": [0.57], "ci_upper": [0.67], "suppressed": [False]})
    >>> target_status(m, {"csat_top2": {"billing": 0.70}}, "2026Q3")[["gap", "status"]].round(2).values.tolist()
    [[-0.08, 'missed']]
    """
    top = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)]
    top = top.set_index(["metric", "touchpoint"])
    rows = []
    for metric, by_tp in targets.items():
        for tp, target in by_tp.items():
            row = top.loc[(metric, tp)] if (metric, tp) in top.index else None
            value = np.nan if row is None else float(row["value"])
            lo, hi = (value, value) if SPECS[metric].kind == "count" or row is None else (row["ci_lower"], row["ci_upper"])
            if row is None:
                status, note = "can't tell", "no data"
            elif bool(row["suppressed"]):
                status, note = "can't tell", "suppressed"
            elif lo >= target:
                status, note = "met", ""
            elif hi < target:
                status, note = "missed", ""
            else:
                status, note = "can't tell", "interval straddles the target"
            rows.append({"metric": metric, "touchpoint": tp, "period": period, "target": float(target),
                         "n": None if row is None else row["n"], "value": value,
                         "ci_lower": np.nan if row is None else row["ci_lower"],
                         "ci_upper": np.nan if row is None else row["ci_upper"],
                         "gap": value - target, "gap_lower": lo - target, "gap_upper": hi - target,
                         "status": status, "note": note})
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


# ---- views for the report -------------------------------------------------------------------------


def latest_view(metrics: pd.DataFrame, period: str, touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """One period at channel and segment ``all``: a row per touchpoint (``all`` first), a column per metric."""
    rows = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & metrics["metric"].isin([s.name for s in METRIC_SPECS if s.n not in SURVEY_SUMS])]
    wide = rows.pivot(index="touchpoint", columns="metric", values="value")
    order = [ALL, *(touchpoints or sorted(t for t in wide.index if t != ALL))]
    order += sorted(t for t in wide.index if t not in order)
    cols = [m for m in METRICS if m in wide.columns]
    return wide.reindex(index=order, columns=cols).rename_axis(index="touchpoint", columns=None).reset_index()


def journey_order(journey: Mapping[str, Sequence[str]] | None, touchpoints: Sequence[str]) -> list[tuple[str, str]]:
    """``(stage, touchpoint)`` pairs along the journey, then the other touchpoints under ``other``.

    Examples
    --------
    >>> journey_order({"start": ["onboarding"], "pay": ["billing"]}, ["app", "billing", "onboarding"])
    [('start', 'onboarding'), ('pay', 'billing'), ('other', 'app')]
    """
    pairs = [(stage, tp) for stage, tps in (journey or {}).items() for tp in tps if tp in touchpoints]
    placed = {tp for _, tp in pairs}
    return pairs + [("other", tp) for tp in touchpoints if tp not in placed]


def journey_view(metrics: pd.DataFrame, changes: pd.DataFrame, journey: Mapping[str, Sequence[str]] | None,
                 period: str, touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """One period along the customer journey: stage, touchpoint, interaction metrics, significant changes.

    Touchpoints of the data not named in ``journey`` come last under the stage ``other``. The
    ``changed`` column lists the metrics whose change since the previous period (channel and segment
    ``all``) survives Benjamini–Hochberg, with the difference. Suppressed values are missing.

    Examples
    --------
    >>> view = journey_view(p.metrics, p.changes, {"start": ["onboarding"]}, "2026Q3")   # doctest: +SKIP
    """
    wide = latest_view(metrics, period, touchpoints).set_index("touchpoint").drop(index=ALL, errors="ignore")
    pairs = journey_order(journey, list(wide.index))
    view = wide.loc[[tp for _, tp in pairs]].reset_index()
    view.insert(0, "stage", [stage for stage, _ in pairs])
    sig = changes[(changes["period"] == period) & changes["significant"].astype(bool)
                  & (changes["channel"] == ALL) & (changes["segment"] == ALL)]
    notes = {tp: "; ".join(f"{SPECS[m].label} {format_difference(m, d)}" for m, d in zip(g["metric"], g["difference"]))
             for tp, g in sig.groupby("touchpoint")}
    view["changed"] = view["touchpoint"].map(notes).fillna("")
    return view


def breakdown(metrics: pd.DataFrame, metric: str, period: str, by: str = "channel",
              touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """``metric`` in ``period`` as touchpoint x ``by`` (``channel`` or ``segment``), the other dimension ``all``.

    Suppressed cells and cells without data are missing. Rows: touchpoints (``all`` last); columns:
    the values of ``by`` (``all`` last).

    Examples
    --------
    >>> breakdown(p.metrics, "csat_top2", "2026Q3", by="channel")     # doctest: +SKIP
    """
    other = "segment" if by == "channel" else "channel"
    rows = metrics[(metrics["metric"] == metric) & (metrics["period"] == period) & (metrics[other] == ALL)]
    wide = rows.pivot(index="touchpoint", columns=by, values="value")
    found = [t for t in wide.index if t != ALL]
    order = [t for t in (touchpoints or []) if t in found] + sorted(t for t in found if t not in (touchpoints or []))
    cols = sorted(c for c in wide.columns if c != ALL) + [ALL]
    return wide.reindex(index=[*order, ALL], columns=cols).rename_axis(index="touchpoint", columns=None).reset_index()


def format_columns(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Values as display text: columns named after a metric (or every numeric column, as ``metric``).

    Examples
    --------
    >>> format_columns(pd.DataFrame({"touchpoint": ["app"], "csat_top2": [0.71]}))["csat_top2"].tolist()
    ['71.0%']
    """
    out = df.copy()
    for c in out.columns:
        m = c if c in SPECS else metric if metric and pd.api.types.is_numeric_dtype(out[c]) else None
        if m is not None:
            out[c] = out[c].map(lambda v, m=m: format_value(m, v))
    return out


def change_view(changes: pd.DataFrame, period: str) -> pd.DataFrame:
    """The changes into ``period`` that survive Benjamini–Hochberg, as display text, strongest first.

    Examples
    --------
    >>> change_view(p.changes, p.latest)        # doctest: +SKIP
    """
    sig = changes[(changes["period"] == period) & changes["significant"].astype(bool)].sort_values("q_value")
    rows = [{
        "touchpoint": r.touchpoint, "channel": r.channel, "segment": r.segment, "metric": SPECS[r.metric].label,
        "before": format_value(r.metric, r.value_previous), "now": format_value(r.metric, r.value),
        "change": format_difference(r.metric, r.difference),
        "interval": f"{format_difference(r.metric, r.ci_lower)} to {format_difference(r.metric, r.ci_upper)}",
        "test": r.test, "q_value": "<0.001" if r.q_value < 0.001 else f"{r.q_value:.3f}",
    } for r in sig.itertuples()]
    return pd.DataFrame(rows, columns=["touchpoint", "channel", "segment", "metric", "before", "now", "change",
                                       "interval", "test", "q_value"])


GRID_METRICS = ("volume", "rated_share", "csat_mean", "csat_top2", "ces_mean", "resolution_rate", "nps")


def portfolio_grid(metrics: pd.DataFrame, targets: pd.DataFrame, period: str,
                   touchpoints: Sequence[str] | None = None, columns: Sequence[str] = GRID_METRICS) -> pd.DataFrame:
    """Long table behind the portfolio figure: ``all`` then each touchpoint, ``columns`` in order.

    Columns: ``touchpoint, metric, value, ci_lower, ci_upper, suppressed, target, status`` (status
    missing where no target is set). NPS exists only in the ``all`` row.

    Examples
    --------
    >>> grid = portfolio_grid(p.metrics, p.targets, p.latest)      # doctest: +SKIP
    """
    rows = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & metrics["metric"].isin(list(columns))]
    found = [t for t in rows["touchpoint"].unique() if t != ALL]
    order = [ALL, *[t for t in (touchpoints or []) if t in found], *sorted(t for t in found if t not in (touchpoints or []))]
    goals = targets[["metric", "touchpoint", "target", "status"]] if len(targets) else pd.DataFrame(
        columns=["metric", "touchpoint", "target", "status"])
    grid = rows.merge(goals, on=["metric", "touchpoint"], how="left")
    grid = grid.assign(_r=grid["touchpoint"].map({t: i for i, t in enumerate(order)}),
                       _c=grid["metric"].map({m: i for i, m in enumerate(columns)}))
    grid = grid.sort_values(["_r", "_c"])
    return grid[["touchpoint", "metric", "value", "ci_lower", "ci_upper", "suppressed", "target", "status"]].reset_index(drop=True)


def format_value(metric: str, value: float) -> str:
    """A metric value for tables and prose (share as %, NPS signed, means with two decimals).

    Examples
    --------
    >>> format_value("csat_top2", 0.7234), format_value("nps", -12.4), format_value("volume", 1234.0)
    ('72.3%', '−12', '1,234')
    """
    if value is None or pd.isna(value):
        return "—"
    kind = SPECS[metric].kind
    if kind == "count":
        return f"{int(round(value)):,}"
    if kind == "proportion":
        return f"{100 * value:.1f}%"
    if kind == "nps":
        return f"{value:+.0f}".replace("-", "−")
    return f"{value:.2f}".replace("-", "−")


def format_difference(metric: str, diff: float) -> str:
    """A change for prose: percentage points for shares, points for NPS, units for means.

    Examples
    --------
    >>> format_difference("csat_top2", -0.061), format_difference("nps", 4.2), format_difference("csat_mean", 0.13)
    ('−6.1 pts', '+4.2 points', '+0.13')
    """
    kind = SPECS[metric].kind
    text = {"proportion": f"{100 * diff:+.1f} pts", "nps": f"{diff:+.1f} points"}.get(kind, f"{diff:+.2f}")
    return text.replace("-", "−")


# ---- the analysis ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Portfolio:
    """The touchpoint metric portfolio of one run.

    Attributes
    ----------
    metrics : DataFrame
        The ``metrics.csv`` contract table, suppression applied.
    changes : DataFrame
        Period-over-period tests (:data:`CHANGE_COLUMNS`), shown cells only.
    targets : DataFrame
        Gap to each target in the latest period (:data:`TARGET_COLUMNS`).
    periods : tuple of str
        Every period from the first in the data to the one containing ``as_of``.
    period : str
        ``quarter`` or ``month``.
    latest : str
        The period containing ``as_of``.
    min_cell_size : int
    level, fdr : float
        Confidence level of the intervals and false discovery rate of the change flags.
    suppressed_primary, suppressed_complementary : int
        Rows of ``metrics`` hidden because they are small, and to protect small ones.
    """

    metrics: pd.DataFrame
    changes: pd.DataFrame
    targets: pd.DataFrame
    periods: tuple[str, ...]
    period: str
    latest: str
    min_cell_size: int
    level: float = 0.95
    fdr: float = 0.05
    suppressed_primary: int = 0
    suppressed_complementary: int = 0

    @property
    def summary(self) -> pd.DataFrame:
        """The latest period, channel and segment ``all``: one row per touchpoint, one column per metric."""
        return latest_view(self.metrics, self.latest)

    def to_frame(self) -> pd.DataFrame:
        """The ``metrics.csv`` contract table."""
        return self.metrics[RESULT_COLUMNS["metrics"]]

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "latest": self.latest, "periods": list(self.periods),
                "min_cell_size": self.min_cell_size, "level": self.level, "fdr": self.fdr,
                "rows": len(self.metrics), "suppressed_primary": self.suppressed_primary,
                "suppressed_complementary": self.suppressed_complementary,
                "changes_tested": len(self.changes), "changes_significant": int(self.changes["significant"].sum()),
                "targets": self.targets.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        head = (f"<p>Touchpoint portfolio, {len(self.periods)} {self.period}s up to {self.latest}: "
                f"{len(self.metrics):,} rows ({self.suppressed_primary:,} small cells and "
                f"{self.suppressed_complementary:,} complementary cells suppressed); "
                f"{int(self.changes['significant'].sum()):,} of {len(self.changes):,} changes survive "
                f"Benjamini–Hochberg at FDR {self.fdr:g}.</p>")
        return head + self.summary.to_html(index=False, float_format=lambda x: f"{x:.3f}", escape=True, na_rep="—")


def touchpoint_portfolio(interactions: ir.Table | None, customers: ir.Table | None, surveys: ir.Table | None = None, *,
                         as_of: dt.date, period: str = "quarter", min_cell_size: int = 10,
                         targets: Mapping[str, Mapping[str, float]] | None = None,
                         level: float = 0.95, fdr: float = 0.05,
                         touchpoints: Sequence[str] | None = None) -> Portfolio:
    """Measure every touchpoint: metrics with intervals, change since last period, targets, suppression.

    Parameters
    ----------
    interactions, customers, surveys : ibis Table or None
        The clean input tables (``Workbook.interactions`` ...). Without interactions only NPS rows
        are produced; without surveys no NPS rows; customers give the segment.
    as_of : datetime.date
        Rows up to the end of this day count; the last period is the one containing it.
    period : {"quarter", "month"}
    min_cell_size : int
        Cells with fewer observations (the metric's ``n``) or fewer distinct customers behind them
        are suppressed, with complementary cells.
    targets : mapping, optional
        ``params.targets``: ``{metric: {touchpoint or "all": target}}``.
    level : float
        Confidence level of every interval.
    fdr : float
        Benjamini–Hochberg false discovery rate for flagging changes.
    touchpoints : sequence of str, optional
        The touchpoints measured on their own (``Workbook.touchpoints()``); interactions at any other
        are pooled as one touchpoint, :data:`OTHER_TOUCHPOINTS`, so the ``all`` roll-ups still count
        every interaction while a long tail of rare names cannot blow up the table. Default: all.

    Returns
    -------
    Portfolio

    Examples
    --------
    >>> p = touchpoint_portfolio(wb.interactions, wb.customers, wb.surveys, as_of=wb.params.as_of,
    ...                          targets={"nps": {"all": 20}})                # doctest: +SKIP
    >>> p.targets[["metric", "touchpoint", "status"]]                         # doctest: +SKIP
    """
    if interactions is not None and touchpoints is not None:
        kept = interactions.touchpoint.isin(list(touchpoints))
        interactions = interactions.mutate(touchpoint=ibis.ifelse(kept, interactions.touchpoint, OTHER_TOUCHPOINTS))
    icube = interaction_sums(interactions, customers, as_of, period, min_cell_size) if interactions is not None else None
    scube = survey_sums(surveys, customers, as_of, period, min_cell_size) if surveys is not None else None
    est = suppress(estimates(icube, scube, level), icube, scube, min_cell_size)
    metrics = publishable(est)
    changes = period_changes(est, period, level, fdr)
    latest = period_label(as_of, period)
    seen = [p for cube in (icube, scube) if cube is not None for p in cube["period"] if p != ALL]
    periods = tuple(period_range(min(seen), latest, period)) if seen else (latest,)
    return Portfolio(
        metrics=metrics, changes=changes, targets=target_status(metrics, targets or {}, latest),
        periods=periods, period=period, latest=latest, min_cell_size=min_cell_size, level=level, fdr=fdr,
        suppressed_primary=int((est["suppression"] == "primary").sum()),
        suppressed_complementary=int((est["suppression"] == "complementary").sum()),
    )


# ---- sentences -----------------------------------------------------------------------------------
# Plain text built from the data; the notebook shows them through display.say, which escapes them.


def _top(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    return metrics[(metrics["metric"] == metric) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & (metrics["period"] != ALL) & ~metrics["suppressed"].astype(bool)]


def describe_heatmap(metrics: pd.DataFrame, period: str, metric: str = "csat_top2") -> str:
    """Which touchpoint scores lowest and highest in ``period``, and the lowest cell of the whole map."""
    rows = _top(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL]
    now = rows[rows["period"] == period].sort_values("value")
    if now.empty:
        return f"No touchpoint has enough rated interactions in {period} to show its {SPECS[metric].label}."
    low, high = now.iloc[0], now.iloc[-1]
    worst = rows.sort_values("value").iloc[0]
    return (f"In {period}, {SPECS[metric].label} is lowest for {low['touchpoint']} "
            f"({format_value(metric, low['value'])}) and highest for {high['touchpoint']} "
            f"({format_value(metric, high['value'])}); the lowest cell of the map is {worst['touchpoint']} "
            f"in {worst['period']} ({format_value(metric, worst['value'])}).")


def describe_trend(metrics: pd.DataFrame, metric: str = "csat_top2", level: float = 0.95) -> str:
    """The touchpoint whose metric moved most between its first and last shown period."""
    rows = _top(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL].sort_values("period")
    ends = rows.groupby("touchpoint").agg(first=("period", "first"), last=("period", "last"),
                                          start=("value", "first"), end=("value", "last"))
    ends = ends[ends["first"] != ends["last"]]
    if ends.empty:
        return f"No touchpoint has {SPECS[metric].label} in more than one period yet."
    ends["move"] = ends["end"] - ends["start"]
    tp = ends["move"].abs().idxmax()
    r = ends.loc[tp]
    label = SPECS[metric].label
    return (f"{label[0].upper() + label[1:]} moved most for {tp}: from {format_value(metric, r['start'])} "
            f"in {r['first']} to {format_value(metric, r['end'])} in {r['last']} "
            f"({format_difference(metric, r['move'])}); shaded bands are {level:.0%} intervals.")


def describe_nps(metrics: pd.DataFrame, changes: pd.DataFrame, period: str, level: float = 0.95) -> str:
    """NPS of ``period`` with its interval and composition, and whether it changed significantly."""
    rows = _top(metrics, "nps")
    rows = rows[(rows["touchpoint"] == ALL) & (rows["period"] == period)]
    if rows.empty:
        return f"There are too few survey responses in {period} to report NPS."
    r = rows.iloc[0]
    share = {m: _top(metrics, m).loc[lambda d: d["period"] == period, "value"] for m in ("nps_promoters", "nps_detractors")}
    ch = changes[(changes["metric"] == "nps") & (changes["period"] == period) & (changes["segment"] == ALL)]
    if ch.empty:
        change = "there is no previous period to compare with"
    else:
        c = ch.iloc[0]
        verdict = "a change that survives" if c["significant"] else "not a significant change after"
        change = (f"against {c['previous_period']} that is {format_difference('nps', c['difference'])}, "
                  f"{verdict} Benjamini–Hochberg")
    return (f"In {period}, NPS is {format_value('nps', r['value'])} ({level:.0%} CI {format_value('nps', r['ci_lower'])} to "
            f"{format_value('nps', r['ci_upper'])}, n = {int(r['n']):,}): {format_value('nps_promoters', share['nps_promoters'].iloc[0])} "
            f"promoters and {format_value('nps_detractors', share['nps_detractors'].iloc[0])} detractors; {change}.")


def describe_targets(targets: pd.DataFrame, level: float = 0.95) -> str:
    """How many targets are met, missed or undecided, and the largest shortfall."""
    if targets.empty:
        return "No targets are set in the params file (key `targets`)."
    counts = targets["status"].value_counts()
    undecided = counts.get("can't tell", 0)
    text = (f"Of {len(targets)} target(s), {counts.get('met', 0)} met, {counts.get('missed', 0)} missed and "
            f"{undecided} can't tell yet (the {level:.0%} interval straddles the target or there is no value)")
    missed = targets[targets["status"] == "missed"]
    if missed.empty:
        return text + "."
    w = missed.assign(rel=missed["gap"] / missed["target"].abs().where(missed["target"] != 0, 1)).sort_values("rel").iloc[0]
    where = "overall" if w["touchpoint"] == ALL else f"for {w['touchpoint']}"
    return (text + f"; the largest shortfall is {SPECS[w['metric']].label} {where}: "
            f"{format_value(w['metric'], w['value'])} against a target of {format_value(w['metric'], w['target'])} "
            f"(gap {format_difference(w['metric'], w['gap'])}, {level:.0%} CI {format_difference(w['metric'], w['gap_lower'])} "
            f"to {format_difference(w['metric'], w['gap_upper'])}).")


def describe_changes(changes: pd.DataFrame, period: str, fdr: float = 0.05) -> str:
    """How many changes were tested and survive Benjamini–Hochberg, and the strongest in ``period``."""
    if changes.empty:
        return "There is no earlier period to compare with, so no change is tested."
    now = changes[changes["period"] == period]
    sig = now[now["significant"]]
    text = (f"Of {len(changes):,} period-over-period comparisons in the table, {int(changes['significant'].sum()):,} "
            f"survive Benjamini–Hochberg at a false discovery rate of {fdr:.0%}; {len(sig):,} of them are in {period}")
    if sig.empty:
        return text + "."
    s = sig.sort_values("q_value").iloc[0]
    where = ", ".join(f"{d} {s[d]}" for d in ("touchpoint", "channel", "segment") if s[d] != ALL) or "overall"
    return (text + f". The strongest is {SPECS[s['metric']].label} ({where}): "
            f"{format_value(s['metric'], s['value_previous'])} in {s['previous_period']} → "
            f"{format_value(s['metric'], s['value'])} ({format_difference(s['metric'], s['difference'])}, "
            f"q = {s['q_value']:.2g}).")


def describe_journey(view: pd.DataFrame, metric: str = "csat_top2") -> str:
    """The weakest step of the journey on ``metric`` and how many touchpoints changed significantly."""
    shown = view.dropna(subset=[metric]) if metric in view else view.iloc[0:0]
    if shown.empty:
        return f"No touchpoint has enough rated interactions to show its {SPECS[metric].label} along the journey."
    w = shown.sort_values(metric).iloc[0]
    changed = int((view["changed"] != "").sum())
    return (f"Along the journey, the weakest step on {SPECS[metric].label} is {w['touchpoint']} "
            f"(stage {w['stage']}, {format_value(metric, w[metric])}); {changed} of {len(view)} touchpoint(s) "
            f"changed significantly since the previous period.")


def describe_breakdown(table: pd.DataFrame, metric: str, by: str = "channel") -> str:
    """The lowest and highest shown touchpoint x ``by`` cell of a :func:`breakdown` table."""
    cells = table[table["touchpoint"] != ALL].drop(columns=[ALL]).melt(id_vars="touchpoint", var_name=by).dropna()
    if cells.empty:
        return f"No touchpoint x {by} cell is large enough to show."
    lo, hi = cells.sort_values("value").iloc[0], cells.sort_values("value").iloc[-1]
    return (f"By {by}, {SPECS[metric].label} ranges from {format_value(metric, lo['value'])} "
            f"({lo['touchpoint']}, {lo[by]}) to {format_value(metric, hi['value'])} ({hi['touchpoint']}, "
            f"{hi[by]}); a dash marks a cell that is suppressed or has no rated interactions.")
