"""Engine-side features of the retention models: customers as of ``as_of``, exposure intervals, cells.

Everything here is an Ibis expression; only aggregated tables (one row per group and day, or per
model cell) are executed into pandas, so the work runs in DuckDB (or Spark) whatever the number of
customers and interactions.

Time convention
---------------
Tenure is counted in whole days since ``signup_date``: tenure day ``j`` is the calendar day
``signup_date + j``. Two clocks use it:

* ``duration_days`` (Kaplan–Meier, the Cox model on covariates, ``retention.csv``): for a churned
  customer ``churn_date − signup_date``, otherwise ``as_of − signup_date`` (censored at ``as_of``;
  a ``churn_date`` after ``as_of`` is censored too). A churn on the signup day has duration 0.
* The **day grid** of the exposure intervals (the piecewise-exponential model and the time-varying
  Cox cross-check): tenure day ``j`` is the interval ``(j, j + 1]``. A customer is at risk on days
  ``0 … d`` when they churned on day ``d`` (the event closes the churn day: ``risk_end = d + 1``) and
  on days ``0 … D − 1`` when censored at ``D = as_of − signup_date`` (``risk_end = D``, observed until
  the start of ``as_of``). An interaction on tenure day ``k`` that matches an exposure rule opens
  the interval ``(k, k + window]``: exposure ``poor_<T>`` is 1 on day ``j`` iff a poor experience
  happened on a day in ``(j − window, j]``, the DESIGN definition on the day grid. A poor experience
  on the churn day therefore counts as preceding the churn (interactions after a churn do not
  exist), and a churn on the signup day is one full day at risk: no zero-length tenure remains.
  Events and changes of exposure that share a day are handled the same way by every model, so the
  piecewise-exponential and Cox estimates agree; against continuous time the grid moves each event
  and each window edge by less than a day, which biases a hazard ratio by about ``0.5 / window``
  (0.6 % for 90 days).

Exposure intervals without a range join
---------------------------------------
Per customer, every matching interaction emits ``+1`` at its tenure day ``k`` and ``−1`` at
``k + window`` (one column per exposure rule); the tenure-piece boundaries, 0 and ``risk_end`` are
points with no change. Summing the changes per ``(customer, t)`` and taking a running sum over ``t``
gives each rule's number of open windows; the rule is on while that count reaches ``min_count``.
Consecutive points are the intervals, and a churned customer's last interval carries the event.

Covariates
----------
A covariate named in params is *numeric* when every non-empty value parses as a number (CSV columns
arrive as text and are cast with ``try_cast``), else *categorical*. In the Cox model a numeric
covariate enters as its value (term = its name) and a categorical one as indicator terms
``<column>[<level>]`` against its most frequent level. In the cell model a numeric covariate with
more than ``covariate_bins`` distinct values enters as quantile bins ``q1 … qB`` (cut points computed
in the engine; terms ``<column>[q2]`` … against the lowest bin ``q1``); one with few distinct values
(a 0/1 flag) enters as its value, as in Cox.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.params import ExposureRule

__all__ = [
    "Covariate",
    "RESERVED_COLUMNS",
    "covariate_frame",
    "customers_as_of",
    "describe_covariates",
    "exposure_intervals",
    "survival_counts",
    "touchpoint_cells",
]

# Column names the features use themselves: a covariate or exposure with one of these names is refused.
RESERVED_COLUMNS = frozenset({
    "customer_id", "signup_date", "cohort", "duration_days", "churned", "risk_end",
    "start", "stop", "event", "piece", "events", "person_days", "group", "days", "censored", "t",
})


@dataclass(frozen=True)
class Covariate:
    """How one customer covariate enters the models.

    Attributes
    ----------
    name : str
        The customers column.
    kind : {"numeric", "categorical", "binned"}
        ``binned`` is numeric in the Cox model and quantile bins in the cell model.
    levels : tuple of str
        Categorical levels, most frequent (the reference) first; for ``binned`` the bin labels
        ``q1 …`` (reference ``q1``).
    edges : tuple of float
        ``binned`` only: the inner cut points; bin ``q(j+1)`` is ``(edges[j-1], edges[j]]``.
    sizes : tuple of int
        ``categorical`` only: customers per level (for suppressing small levels).
    """

    name: str
    kind: Literal["numeric", "categorical", "binned"]
    levels: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    sizes: tuple[int, ...] = ()

    @property
    def reference(self) -> str | None:
        return self.levels[0] if self.levels else None

    def terms(self, cells: bool = False) -> list[str]:
        """Model terms: the name for a number, ``name[level]`` per non-reference level otherwise."""
        if self.kind == "categorical" or (cells and self.kind == "binned"):
            return [f"{self.name}[{lvl}]" for lvl in self.levels[1:]]
        return [self.name]

    def value(self, t: ir.Table) -> ir.Value:
        """The covariate as the Cox model uses it: float64, or the level as text."""
        if self.kind == "categorical":
            return _text(t[self.name])
        return _number(t[self.name])

    def cell_value(self, t: ir.Table) -> ir.Value:
        """The covariate as the cell model uses it: the value, the level, or the quantile bin."""
        if self.kind != "binned":
            return self.value(t)
        x = _number(t[self.name])
        branches = [(x <= edge, self.levels[j]) for j, edge in enumerate(self.edges)]
        return ibis.cases(*branches, else_=self.levels[-1]).name(self.name)

    def bin_ranges(self) -> pd.DataFrame:
        """``binned`` only: each bin's label and value range (for the methods text)."""
        bounds = [float("-inf"), *self.edges, float("inf")]
        return pd.DataFrame({"covariate": self.name, "bin": list(self.levels),
                             "above": bounds[:-1], "up_to": bounds[1:]})


def _text(col: ir.Value) -> ir.Value:
    return col.cast("string").strip().nullif("")


def _number(col: ir.Value) -> ir.Value:
    typ = col.type()
    if typ.is_boolean():
        return col.cast("int8").cast("float64")
    if typ.is_numeric():
        return col.cast("float64")
    return _text(col).try_cast("float64")


def describe_covariates(customers: ir.Table, names: Sequence[str], bins: int = 4) -> list[Covariate]:
    """Decide how each covariate enters the models, from the data (a few small engine queries).

    Parameters
    ----------
    customers : ibis Table
        The clean customers table.
    names : sequence of str
        The covariates named in params.
    bins : int
        ``covariate_bins``: quantile bins of a numeric covariate with more distinct values.

    Returns
    -------
    list of Covariate

    Examples
    --------
    >>> t = ibis.memtable({"plan": ["a", "b", "b"], "age": ["30", "41", " 52"]})
    >>> [(c.name, c.kind, c.levels) for c in describe_covariates(t, ["plan", "age"], bins=4)]
    [('plan', 'categorical', ('b', 'a')), ('age', 'numeric', ())]
    """
    if not names:
        return []
    # three queries at most, whatever the number of covariates: each one re-reads the (lazily
    # validated) customers table
    aggs: dict[str, ir.Scalar] = {}
    for c in names:
        aggs[f"{c}__filled"] = _text(customers[c]).count()
        aggs[f"{c}__numeric"] = _number(customers[c]).count()
        aggs[f"{c}__distinct"] = _number(customers[c]).nunique()
    row = customers.aggregate(**aggs).execute().iloc[0]
    numeric = {c: int(row[f"{c}__distinct"]) for c in names
               if int(row[f"{c}__filled"]) and int(row[f"{c}__numeric"]) == int(row[f"{c}__filled"])}
    binned = [c for c, distinct in numeric.items() if distinct > bins]
    edges = _quantile_edges(customers, binned, bins) if binned else {}
    levels = _level_counts(customers, [c for c in names if c not in numeric])
    out = []
    for c in names:
        if c not in numeric:
            counts = levels[levels["covariate"] == c].sort_values(["n", "level"], ascending=[False, True])
            out.append(Covariate(c, "categorical", levels=tuple(counts["level"].astype(str)),
                                 sizes=tuple(int(n) for n in counts["n"])))
        elif edges.get(c):
            out.append(Covariate(c, "binned", levels=tuple(f"q{j}" for j in range(1, len(edges[c]) + 2)),
                                 edges=edges[c]))
        else:
            out.append(Covariate(c, "numeric"))
    return out


def _quantile_edges(customers: ir.Table, names: Sequence[str], bins: int) -> dict[str, tuple[float, ...]]:
    probs = [j / bins for j in range(1, bins)]
    row = customers.aggregate(**{c: _number(customers[c]).quantile(probs) for c in names}).execute().iloc[0]
    return {c: tuple(sorted({float(v) for v in row[c]})) for c in names}


def _level_counts(customers: ir.Table, names: Sequence[str]) -> pd.DataFrame:
    if not names:
        return pd.DataFrame(columns=["covariate", "level", "n"])
    parts = [customers.select(covariate=ibis.literal(c), level=_text(customers[c])) for c in names]
    levels = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    levels = levels.filter(levels.level.notnull())
    return levels.group_by(["covariate", "level"]).aggregate(n=levels.count()).execute()


def covariate_frame(covariates: Sequence[Covariate]) -> pd.DataFrame:
    """The covariate descriptions as a small table (to cache between notebooks), one row per level or cut."""
    rows = []
    for cov in covariates:
        if cov.kind == "numeric":
            rows.append({"covariate": cov.name, "kind": cov.kind, "position": 0, "level": None, "edge": None, "size": None})
        for j, level in enumerate(cov.levels):
            edge = cov.edges[j] if j < len(cov.edges) else None
            size = cov.sizes[j] if cov.sizes else None
            rows.append({"covariate": cov.name, "kind": cov.kind, "position": j, "level": level, "edge": edge, "size": size})
    return pd.DataFrame(rows, columns=["covariate", "kind", "position", "level", "edge", "size"])


def covariates_from_frame(frame: pd.DataFrame) -> list[Covariate]:
    """Inverse of :func:`covariate_frame` (order of covariates kept)."""
    out = []
    for name, rows in frame.groupby("covariate", sort=False):
        rows = rows.sort_values("position")
        kind = rows["kind"].iloc[0]
        if kind == "numeric":
            out.append(Covariate(name, "numeric"))
            continue
        edges = tuple(float(e) for e in rows["edge"] if pd.notna(e)) if kind == "binned" else ()
        sizes = tuple(int(n) for n in rows["size"]) if kind == "categorical" else ()
        out.append(Covariate(name, kind, levels=tuple(rows["level"].astype(str)), edges=edges, sizes=sizes))
    return out


def customers_as_of(customers: ir.Table, as_of: dt.date, covariates: Sequence[Covariate] = (),
                    extra: Sequence[str] = ()) -> ir.Table:
    """One row per customer as of ``as_of``: duration in days, churned or censored, covariates.

    Columns: ``customer_id``, ``signup_date``, ``cohort`` (signup quarter, e.g. ``2025Q1``),
    ``duration_days`` (int), ``churned`` (0/1), ``risk_end`` (the day-grid end of the time at risk,
    ``duration_days + churned``; see the module notes), each covariate as the Cox model uses it
    (float64 or text, NULL when missing) and the ``extra`` columns as text.

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b"], "signup_date": [dt.date(2025, 1, 1)] * 2,
    ...                    "churn_date": [dt.date(2025, 1, 11), dt.date(2025, 3, 1)]})
    >>> customers_as_of(t, dt.date(2025, 2, 1)).execute()[["duration_days", "churned", "risk_end"]]
       duration_days  churned  risk_end
    0             10        1        11
    1             31        0        31
    """
    c = customers
    churned = c.churn_date.notnull() & (c.churn_date <= as_of)
    end = ibis.ifelse(churned, c.churn_date, ibis.literal(as_of, "date"))
    duration = end.delta(c.signup_date, unit="day").cast("int64")
    flag = churned.cast("int64")
    return c.select(
        customer_id=c.customer_id,
        signup_date=c.signup_date,
        cohort=c.signup_date.year().cast("string") + "Q" + c.signup_date.quarter().cast("string"),
        duration_days=duration,
        churned=flag,
        risk_end=duration + flag,
        **{cov.name: cov.value(c) for cov in covariates},
        **{name: _text(c[name]) for name in extra if name not in {cov.name for cov in covariates}},
    )


def survival_counts(people: ir.Table, by: str | None = None) -> pd.DataFrame:
    """Churn events and censorings per group and day: the sufficient statistics of Kaplan–Meier.

    Parameters
    ----------
    people : ibis Table
        :func:`customers_as_of`.
    by : str, optional
        A column to split by; groups are labelled ``"<by>=<value>"`` (missing values as
        ``"<by>=(missing)"``), or ``"all"`` without ``by``.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored``; sorted by group and day.
    """
    p = people
    if by is None:
        group = ibis.literal("all")
    else:
        group = ibis.literal(f"{by}=") + p[by].cast("string").fill_null("(missing)")
    t = p.select(group=group, days=p.duration_days, churned=p.churned)
    agg = t.group_by(["group", "days"]).aggregate(
        events=t.churned.sum(), censored=(1 - t.churned).sum()
    ).execute()
    agg = agg.astype({"days": "int64", "events": "int64", "censored": "int64"})
    return agg.sort_values(["group", "days"], ignore_index=True)


def _rule_condition(x: ir.Table, rule: ExposureRule) -> ir.BooleanValue:
    cond = ibis.literal(True)
    if rule.touchpoint is not None:
        cond &= x.touchpoint == rule.touchpoint
    if rule.csat_max is not None:
        cond &= x.csat <= rule.csat_max
    if rule.ces_min is not None:
        cond &= x.ces >= rule.ces_min
    if rule.resolved is not None:
        cond &= x.resolved == rule.resolved
    return cond.fill_null(False)


def exposure_intervals(people: ir.Table, interactions: ir.Table, rules: Sequence[ExposureRule],
                       window_days: int, pieces: Sequence[int] | None = None) -> ir.Table:
    """Per customer, the intervals ``(start, stop]`` on the day grid over which no exposure changes.

    Parameters
    ----------
    people : ibis Table
        :func:`customers_as_of` (``customer_id``, ``signup_date``, ``churned``, ``risk_end``).
    interactions : ibis Table
        The clean interactions table.
    rules : sequence of ExposureRule
        ``params.exposure_rules(touchpoints)``; each becomes a 0/1 column named after the rule.
    window_days : int
        The window of rules that do not set their own (``exposure_window_days``).
    pieces : sequence of int, optional
        Tenure-piece lower bounds (``tenure_pieces_days``): intervals are also split there and get
        a ``piece`` column (the lower bound of their piece). Without it, intervals change only with
        an exposure (for the time-varying Cox model).

    Returns
    -------
    ibis Table
        ``customer_id``, ``start``, ``stop``, ``event`` (1 on a churned customer's last interval),
        one int8 column per rule, and ``piece`` when ``pieces`` is given.

    Examples
    --------
    >>> iv = exposure_intervals(people, wb.interactions, rules, 90, pieces=[0, 30, 90])  # doctest: +SKIP
    """
    names = [r.name for r in rules]
    p = people.filter(people.risk_end > 0).select("customer_id", "signup_date", "churned", "risk_end")
    x = interactions.join(p, "customer_id")
    day = x.timestamp.date().delta(x.signup_date, unit="day").cast("int64")
    match = {r.name: _rule_condition(x, r) for r in rules}
    any_match = ibis.literal(False)
    for cond in match.values():
        any_match |= cond
    hits = x.filter(any_match & (day < x.risk_end)).select(
        "customer_id", "churned", "risk_end", day=day, **{n: m.cast("int64") for n, m in match.items()}
    )
    # Each input is scanned once: a cross join with a few constant rows emits all points of a row
    # (an interaction: +1 on its day, -1 when each window closes; a customer: 0, the piece bounds
    # and risk_end), instead of one scan of the (lazily validated) tables per kind of point.
    windows = {r.name: r.window_days or window_days for r in rules}
    steps = ibis.memtable({"offset": [0, *sorted(set(windows.values()))]})
    e = hits.cross_join(steps)
    e = e.filter(e.day + e.offset < e.risk_end)
    deltas = {n: ibis.cases((e.offset == 0, e[n]), (e.offset == windows[n], -e[n]), else_=0) for n in names}
    changes = e.select("customer_id", "churned", "risk_end", t=(e.day + e.offset).cast("int64"),
                       **{n: d.cast("int64") for n, d in deltas.items()})
    end_mark = -1  # stands for the customer's risk_end
    marks = ibis.memtable({"mark": [0, *[b for b in (pieces or []) if b > 0], end_mark]})
    q = p.cross_join(marks)
    q = q.filter((q.mark <= 0) | (q.mark < q.risk_end))
    bounds = q.select("customer_id", "churned", "risk_end",
                      t=ibis.ifelse(q.mark == end_mark, q.risk_end, q.mark).cast("int64"),
                      **{n: ibis.literal(0, "int64") for n in names})
    points = ibis.union(changes, bounds, distinct=False)
    points = points.group_by(["customer_id", "t"]).aggregate(
        churned=points.churned.max(), risk_end=points.risk_end.max(), **{n: points[n].sum() for n in names}
    )
    running = ibis.cumulative_window(group_by="customer_id", order_by="t")
    min_count = {r.name: r.min_count for r in rules}
    iv = points.select(
        "customer_id", "churned", "risk_end", start=points.t,
        stop=points.t.lead().over(group_by="customer_id", order_by="t"),
        **{n: (points[n].sum().over(running) >= min_count[n]).cast("int8") for n in names},
    )
    iv = iv.filter(iv.stop.notnull())
    if pieces is None:
        # without pieces nothing but an exposure needs a split: keep each change of state (fewer rows for Cox)
        order = ibis.window(group_by="customer_id", order_by="start")
        changed = iv.start == 0
        for n in names:
            changed |= (iv[n] != iv[n].lag().over(order)).fill_null(True)
        # a column first: Ibis compiles a filter on a window function to invalid Spark SQL
        iv = iv.mutate(_changed=changed).filter(ibis._._changed).drop("_changed")
        iv = iv.mutate(stop=ibis.coalesce(iv.start.lead().over(order), iv.risk_end))
    out = {
        "customer_id": iv.customer_id, "start": iv.start, "stop": iv.stop,
        "event": ((iv.churned == 1) & (iv.stop == iv.risk_end)).cast("int64"),
        **{n: iv[n] for n in names},
    }
    if pieces is not None:
        bounds_desc = sorted(pieces, reverse=True)
        out["piece"] = ibis.cases(*[(iv.start >= b, b) for b in bounds_desc], else_=0).cast("int64")
    return iv.select(**out)


def touchpoint_cells(people: ir.Table, interactions: ir.Table, rules: Sequence[ExposureRule],
                     window_days: int, pieces: Sequence[int], covariates: Sequence[Covariate]) -> pd.DataFrame:
    """Churn events and person-days per tenure piece × covariate pattern × exposure pattern.

    These are the sufficient statistics of the piecewise-exponential model: one GROUP BY in the
    engine, a few thousand rows whatever the number of customers. Customers with a missing
    covariate are left out (the model uses complete cases).

    Returns
    -------
    pandas.DataFrame
        ``piece`` (lower bound in days), one column per covariate (its cell value: number, level
        or bin label), one 0/1 column per exposure rule, ``events``, ``person_days``.

    Examples
    --------
    >>> cells = touchpoint_cells(people, wb.interactions, rules, 90, [0, 30, 90], covs)  # doctest: +SKIP
    """
    cov_names = [c.name for c in covariates]
    complete = people
    for name in cov_names:
        complete = complete.filter(complete[name].notnull())
    iv = exposure_intervals(complete, interactions, rules, window_days, pieces)
    pattern = complete.select("customer_id", **{c.name: c.cell_value(complete) for c in covariates})
    iv = iv.join(pattern, "customer_id")
    keys = ["piece", *cov_names, *[r.name for r in rules]]
    cells = iv.group_by(keys).aggregate(events=iv.event.sum(), person_days=(iv.stop - iv.start).sum()).execute()
    cells = cells.astype({"piece": "int64", "events": "int64", "person_days": "int64",
                          **{r.name: "int8" for r in rules}})
    return cells.sort_values(keys, ignore_index=True)
