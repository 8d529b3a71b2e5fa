"""Engine-side customer features: covariates, customers as of ``as_of``, Kaplan–Meier counts.

Everything here is an Ibis expression; only small aggregates (a few rows per covariate, one row per
group and day) are executed into pandas, so the work runs in DuckDB (or Spark) whatever the number
of customers.

Durations
---------
Tenure is counted in whole days since ``signup_date``. ``duration_days`` (Kaplan–Meier, the Cox
model on covariates, ``retention.csv``) is ``churn_date − signup_date`` for a churned customer,
otherwise ``as_of − signup_date`` (censored at ``as_of``; a ``churn_date`` after ``as_of`` is
censored too). A churn on the signup day has duration 0. ``risk_end`` is the end of the time at
risk on the day grid of :mod:`cxlib.features.exposures`.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlib.ingest.spark import session_cache
from cxlib.params import ALL_CAUSES, OTHER_CAUSE

__all__ = [
    "ALL_CAUSES",
    "OTHER_CAUSE",
    "RESERVED_COLUMNS",
    "Covariate",
    "churn_cause",
    "covariate_frame",
    "covariates_from_frame",
    "customers_as_of",
    "describe_covariates",
    "survival_counts",
    "systematic_sample",
]

# Column names the features use themselves: a covariate or exposure with one of these names is refused.
RESERVED_COLUMNS = frozenset({
    "customer_id", "signup_date", "cohort", "duration_days", "churned", "risk_end",
    "start", "stop", "event", "piece", "events", "person_days", "group", "days", "censored", "t", "cause",
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

    Examples
    --------
    >>> plan = Covariate("plan", "categorical", levels=("basic", "premium"), sizes=(70, 30))
    >>> plan.reference, plan.terms()
    ('basic', ['plan[premium]'])
    >>> revenue = Covariate("revenue", "binned", levels=("q1", "q2"), edges=(40.0,))
    >>> revenue.terms(), revenue.terms(cells=True)
    (['revenue'], ['revenue[q2]'])
    >>> t = ibis.memtable({"revenue": ["25", "60"]})
    >>> t.select(revenue.cell_value(t)).execute()["revenue"].tolist()
    ['q1', 'q2']
    """

    name: str
    kind: Literal["numeric", "categorical", "binned"]
    levels: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    sizes: tuple[int, ...] = ()

    @property
    def reference(self) -> str | None:
        """The reference level (None for a numeric covariate)."""
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
    """The covariate descriptions as a small table (to cache between notebooks), one row per level or cut.

    Examples
    --------
    >>> covariate_frame([Covariate("age", "numeric"), Covariate("plan", "categorical", ("a", "b"), sizes=(7, 3))])
      covariate         kind  position level  edge  size
    0       age      numeric         0  None  None   NaN
    1      plan  categorical         0     a  None   7.0
    2      plan  categorical         1     b  None   3.0
    """
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
    """Inverse of :func:`covariate_frame` (order of covariates kept).

    Examples
    --------
    >>> covs = [Covariate("plan", "categorical", ("a", "b"), sizes=(7, 3)),
    ...         Covariate("revenue", "binned", ("q1", "q2"), edges=(40.0,))]
    >>> covariates_from_frame(covariate_frame(covs)) == covs
    True
    """
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


def churn_cause(customers: ir.Table, churned: ir.BooleanValue, lookup: Mapping[str, str] | None) -> ir.StringValue:
    """Each churner's cause, in the engine: NULL for customers who have not churned.

    Parameters
    ----------
    customers : ibis Table
        With ``churn_reason`` when ``lookup`` is given.
    churned : ibis boolean expression
        Churned as of ``as_of``.
    lookup : mapping of str to str, or None
        Reason (stripped, lower case) → cause (:func:`cxlib.stats.competing.cause_lookup`). A reason
        not listed, and a missing one, give ``other``. None: every churner has the cause ``all``.

    Examples
    --------
    >>> t = ibis.memtable({"churn_reason": [" Price", "fraud", None, "moved"], "x": [1, 1, 1, 0]})
    >>> t.select(cause=churn_cause(t, t.x == 1, {"price": "voluntary", "moved": "involuntary"})).execute()["cause"].tolist()
    ['voluntary', 'other', 'other', None]
    """
    if lookup is None:
        cause: ir.StringValue = ibis.literal(ALL_CAUSES, "string")
    elif not lookup:
        cause = ibis.literal(OTHER_CAUSE, "string")
    else:
        key = _text(customers.churn_reason).lower()
        cause = ibis.cases(*[(key == reason, c) for reason, c in lookup.items()], else_=OTHER_CAUSE)
    return ibis.ifelse(churned, cause, ibis.null("string"))


def customers_as_of(customers: ir.Table, as_of: dt.date, covariates: Sequence[Covariate] = (),
                    extra: Sequence[str] = (), causes: Mapping[str, str] | None = None) -> ir.Table:
    """One row per customer as of ``as_of``: duration in days, churned or censored, covariates.

    Columns: ``customer_id``, ``signup_date``, ``cohort`` (signup quarter, e.g. ``2025Q1``),
    ``duration_days`` (int), ``churned`` (0/1), ``risk_end`` (the day-grid end of the time at risk,
    ``duration_days + churned``; see :mod:`cxlib.features.exposures`), each covariate as the Cox
    model uses it (float64 or text, NULL when missing) and the ``extra`` columns as text. With
    ``causes`` (the reason → cause lookup of params ``churn_causes``) also ``cause``: each
    churner's cause (:func:`churn_cause`), NULL for the others.

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
        **({"cause": churn_cause(c, churned, causes)} if causes is not None else {}),
    )


def survival_counts(people: ir.Table, by: str | None = None) -> pd.DataFrame:
    """Churn events and censorings per group and day (and cause): the sufficient statistics of
    Kaplan–Meier and of the Aalen–Johansen cumulative incidence.

    Parameters
    ----------
    people : ibis Table
        :func:`customers_as_of`; when it has a ``cause`` column the counts are split by cause too.
    by : str, optional
        A column to split by; groups are labelled ``"<by>=<value>"`` (missing values as
        ``"<by>=(missing)"``), or ``"all"`` without ``by``.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored``; sorted by group and day. With causes also
        ``cause`` (after ``days``): a row per cause with churns that day (its ``events``) and one
        with ``cause`` missing for the censorings. Summed over ``cause`` they are the counts
        without causes, so one query serves Kaplan–Meier and the cumulative incidence.

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": ["a", "b", "c"], "signup_date": [dt.date(2025, 1, 1)] * 3,
    ...                    "churn_date": [dt.date(2025, 1, 11), None, dt.date(2025, 1, 11)]})
    >>> survival_counts(customers_as_of(t, dt.date(2025, 2, 1)))
      group  days  events  censored
    0   all    10       2         0
    1   all    31       0         1
    >>> t = t.mutate(churn_reason=ibis.cases((t.customer_id == "a", "moved"), else_="price"))
    >>> survival_counts(customers_as_of(t, dt.date(2025, 2, 1), causes={"price": "voluntary", "moved": "involuntary"}))
      group  days        cause  events  censored
    0   all    10  involuntary       1         0
    1   all    10    voluntary       1         0
    2   all    31         None       0         1
    """
    p = people
    if by is None:
        group = ibis.literal("all")
    else:
        group = ibis.literal(f"{by}=") + p[by].cast("string").fill_null("(missing)")
    by_cause = "cause" in p.columns
    keys = ["group", "days", *(["cause"] if by_cause else [])]
    t = p.select(group=group, days=p.duration_days, churned=p.churned,
                 **({"cause": p.cause} if by_cause else {}))
    agg = t.group_by(keys).aggregate(
        events=t.churned.sum(), censored=(1 - t.churned).sum()
    ).execute()
    agg = agg.astype({"days": "int64", "events": "int64", "censored": "int64"})
    if not by_cause:
        return agg.sort_values(["group", "days"], ignore_index=True)
    agg["cause"] = agg["cause"].astype(object).where(agg["cause"].notna(), None)
    agg = agg.assign(_c=agg["cause"].isna(), _k=agg["cause"].fillna("")).sort_values(["group", "days", "_c", "_k"])
    return agg.drop(columns=["_c", "_k"]).reset_index(drop=True)[["group", "days", "cause", "events", "censored"]]


def systematic_sample(customers: ir.Table, n: int, size: int, seed: int) -> tuple[ir.CachedTable, int]:
    """Every ``k``-th of the ``n`` customers in ``customer_id`` order from a seeded start, held in the
    engine; and how many that is (at most ``size``).

    ``k = ceil(n / size)`` and the start is drawn from ``numpy.random.default_rng(seed)``: each
    customer is in the sample with probability ``1/k``, the same customers on every engine and every
    run with the same data and seed. Use it as a context manager (the engine drops it on exit).

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": [f"c{i:02d}" for i in range(10)]})
    >>> with systematic_sample(t, 10, 4, seed=1)[0] as s:
    ...     s.order_by("customer_id").execute()["customer_id"].tolist()
    ['c01', 'c04', 'c07']
    >>> systematic_sample(t, 10, 4, seed=1)[1]
    3
    """
    k = -(-n // size)
    start = int(np.random.default_rng(seed).integers(k))
    ranked = customers.mutate(_row=ibis.row_number().over(order_by=customers.customer_id))
    kept = ranked.filter(ranked._row % k == start).drop("_row")
    return session_cache(kept), len(range(start, n, k))
