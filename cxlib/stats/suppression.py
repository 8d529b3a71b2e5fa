"""Suppression of a metric cube: small cells, linked quantities, secondary cells and the audit.

A metric cube holds, per cell of period × touchpoint × channel × segment (with ``all`` totals), a
few count quantities and the sums estimated from them. Each *family* is a denominator (interactions,
rated interactions, CES answers, resolution flags, survey responses) with the numerators that
share it; a family is hidden or shown as one in a cell, because a published numerator over a
hidden denominator (or the other way round) gives the hidden one back
(:mod:`cxlib.stats.disclosure_links`). Per family:

1. **Primary**: cells whose denominator, or the distinct customers behind it, is below
   ``min_cell_size``, plus cells an earlier release hid (``must_hide``).
2. **Secondary**: hypercubes chosen and audited jointly over the whole table
   (:func:`cxlib.stats.disclosure.secondary_suppression`), the denominator bounded below by 1 (a
   published row is not empty) and above by the cell's published parent denominator (rated ≤
   interactions), and the interaction count bounded below by the sub-denominators published in its
   cell. Cells an earlier release published (``frozen``) are never chosen.
3. **Numerators** on the same pattern: every check quantity (top-2 count and its complement, the
   CSAT points above the minimum and below the maximum, resolved and unresolved, promoters,
   passives, detractors ...) is audited with the family's pattern and lower bound 0; a failing one
   adds cells to the family, and the family's quantities are audited again until all pass.

A family that cannot pass (every cell that could still be hidden is hidden) is reported as failed
in the figures; the caller decides (the portfolio refuses to publish).

Examples
--------
>>> import pandas as pd
>>> cube = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 12, 30, 45], "customers": [3, 12, 30, 45],
...                      "rated": [2, 10, 20, 32], "top2": [1, 7, 12, 20]})
>>> fams = [Family("n", "customers"), Family("rated", None, within="n", checks={"top2": {"top2": 1.0}})]
>>> s = suppress_cube(cube, ["tp"], fams, min_cell_size=10, protection_width=10)
>>> s.hidden.values.tolist()      # top-2 counts 1 and 7 leave a − b only 8 apart: rated hides c too
[[True, True], [True, True], [False, True], [False, False]]
>>> s.figures()["passed"], s.figures()["narrowest_interval"]
(True, 13.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cxlib.stats.competing import CauseAssignment
from cxlib.stats.disclosure import (
    PRIMARY,
    SECONDARY,
    Suppression,
    additive_equations,
    secondary_suppression,
)


@dataclass(frozen=True)
class Family:
    """A denominator and the quantities published over it.

    Parameters
    ----------
    denominator : str
        The cube column of the denominator (additive count).
    units : str or None
        Column of distinct customers behind it (a cell of few customers is small).
    within : str, optional
        A family whose denominator bounds this one from above in every cell (rated within n).
    checks : mapping
        Numerator quantities audited on the family's pattern: name -> {column: coefficient}.

    Examples
    --------
    >>> Family("resolved_n", "resolved_customers", within="n",
    ...        checks={"unresolved": {"resolved_n": 1, "resolved": -1}}).checks["unresolved"]
    {'resolved_n': 1, 'resolved': -1}
    """

    denominator: str
    units: str | None = None
    within: str | None = None
    checks: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class CubeSuppression:
    """The pattern of every family and the audit of every quantity.

    Attributes
    ----------
    hidden : DataFrame of bool
        One column per family (its denominator's name), index of the cube; False where the family
        has no row (denominator 0).
    reasons : DataFrame of str
        ``primary`` / ``secondary`` / ``""`` per family and cell.
    audit : DataFrame
        One row per audited quantity: ``family``, ``quantity``, ``hidden``, ``narrowest_interval``,
        ``passed``.
    """

    hidden: pd.DataFrame
    reasons: pd.DataFrame
    audit: pd.DataFrame

    @property
    def passed(self) -> bool:
        """Every quantity's audit passed."""
        return bool(self.audit["passed"].all()) if len(self.audit) else True

    def figures(self) -> dict:
        """Counts of primary and secondary cells (over families), the narrowest interval, passed.

        Examples
        --------
        >>> s = CubeSuppression(pd.DataFrame({"n": [True]}), pd.DataFrame({"n": ["primary"]}),
        ...                     pd.DataFrame({"family": ["n"], "quantity": ["n"], "hidden": [1],
        ...                                   "narrowest_interval": [12.0], "passed": [True]}))
        >>> s.figures()["primary"], s.figures()["narrowest_interval"]
        (1, 12.0)
        """
        narrow = self.audit["narrowest_interval"].dropna()
        return {"primary": int((self.reasons == PRIMARY).to_numpy().sum()),
                "secondary": int((self.reasons == SECONDARY).to_numpy().sum()),
                "narrowest_interval": float(narrow.min()) if len(narrow) else None,
                "passed": self.passed,
                "families": {f: {"primary": int((r == PRIMARY).sum()), "secondary": int((r == SECONDARY).sum())}
                             for f, r in self.reasons.items()}}


def _combo(cube: pd.DataFrame, coefs: Mapping[str, float]) -> np.ndarray:
    return sum(float(c) * cube[col].to_numpy(dtype=float) for col, c in coefs.items())


def _protect_family(cells: pd.DataFrame, dims: list[str], fam: Family, primary: np.ndarray, cost: np.ndarray,
                    width: float, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, list[tuple[str, Suppression]]]:
    """Hide the family's secondary cells until its denominator and every check quantity pass."""
    quantities = {fam.denominator: (cells[fam.denominator].to_numpy(dtype=float), lower, upper)}
    quantities |= {q: (_combo(cells, coefs), 0.0, None) for q, coefs in fam.checks.items()}
    table = cells[dims].assign(**{q: v for q, (v, _, _) in quantities.items()})
    hidden, certs = primary.copy(), ()
    A = additive_equations(table, dims)
    while True:
        results, before = [], hidden.copy()
        for q, (_, lo, hi) in quantities.items():
            s = secondary_suppression(table, dims, q, hidden, width, lower=lo, upper=hi, cost=cost,
                                      certificates=certs, equations=A)
            hidden, certs = hidden | s.hidden, s.certificates
            results.append((q, s))
        if (hidden == before).all() or not all(s.passed for _, s in results):
            return hidden, results


def suppress_cube(cube: pd.DataFrame, dims: Sequence[str], families: Sequence[Family], min_cell_size: int,
                  protection_width: float, *, must_hide: Mapping[str, np.ndarray] | None = None,
                  frozen: Mapping[str, np.ndarray] | None = None) -> CubeSuppression:
    """Decide and audit the suppression pattern of every family of a metric cube.

    Parameters
    ----------
    cube : DataFrame
        One row per cell: the ``dims`` (values and ``all`` totals) and every column the families
        name. Cells whose denominator is 0 have no row for that family.
    dims : sequence of str
    families : sequence of Family
        In order: a family with ``within`` after the family it names.
    min_cell_size : int
    protection_width : float
    must_hide, frozen : mapping of family -> array of bool, optional
        The release rule (:func:`cxlib.stats.disclosure_links.keep_release_pattern`), aligned
        with ``cube``.

    Returns
    -------
    CubeSuppression
    """
    dims = list(dims)
    hidden = pd.DataFrame(False, index=cube.index, columns=[f.denominator for f in families])
    reasons = pd.DataFrame("", index=cube.index, columns=hidden.columns)
    audits: dict[str, list] = {}
    shown_value: dict[str, np.ndarray] = {}
    linked = {f.denominator: np.zeros(len(cube), dtype=bool) for f in families}   # hidden for a sub-family

    def protect(fam: Family) -> None:
        d = fam.denominator
        rows = (cube[d] > 0).to_numpy()
        cells = cube[rows]
        x = cells[d].to_numpy(dtype=float)
        primary = x < min_cell_size
        if fam.units is not None:
            primary |= cells[fam.units].to_numpy() < min_cell_size
        if must_hide is not None and d in must_hide:
            primary |= np.asarray(must_hide[d], dtype=bool)[rows]
        cost = x.copy()
        if frozen is not None and d in frozen:
            cost[np.asarray(frozen[d], dtype=bool)[rows] & ~primary] = np.inf
        primary |= linked[d][rows]
        # a published sub-denominator is a floor for its parent (interactions ≥ rated interactions)
        subs = [shown_value[f.denominator][rows] for f in families if f.within == d and f.denominator in shown_value]
        lower = np.fmax(1.0, np.fmax.reduce(subs)) if subs else np.ones(len(cells))
        upper = np.full(len(cells), np.inf)
        if fam.within is not None:
            parent = shown_value[fam.within][rows]
            upper = np.where(np.isnan(parent), np.inf, parent)
            # a small cell under a published parent too small to leave room (8 rated of 10
            # interactions): no pattern of this family helps, so the parent is hidden there too
            tight = primary & (upper - lower < protection_width)
            linked[fam.within][np.flatnonzero(rows)[tight]] = True
            upper[tight] = np.inf
        h, results = _protect_family(cells, dims, fam, primary | hidden.loc[rows, d].to_numpy(), cost,
                                     protection_width, lower, upper)
        hidden.loc[rows, d] = h
        reasons.loc[rows, d] = np.where(primary, PRIMARY, np.where(h, SECONDARY, ""))
        shown_value[d] = np.where(hidden[d].to_numpy() | ~rows, np.nan, cube[d].to_numpy(dtype=float))
        audits[d] = [{"family": d, "quantity": q, "hidden": int(h.sum()),
                      "narrowest_interval": float(s.audit["width"].min()) if len(s.audit) else None,
                      "passed": s.passed} for q, s in results]

    for fam in families:
        protect(fam)
    # again with the floors the published sub-denominators give, and the cells they need hidden
    for fam in families:
        if any(f.within == fam.denominator for f in families):
            protect(fam)
    # the sub-families' ceilings only relaxed (more parents hidden): their audits stay valid
    rows = [r for d in hidden.columns for r in audits.get(d, [])]
    return CubeSuppression(hidden, reasons, pd.DataFrame(rows, columns=[
        "family", "quantity", "hidden", "narrowest_interval", "passed"]))


def partition_suppression(sizes: pd.Series, min_cell_size: int, protection_width: float) -> tuple[list[str], dict]:
    """Complementary suppression of the groups of one partition whose total is published.

    When the whole (``all``) and the shown groups of a partition are published, the hidden groups'
    total follows by subtraction; each hidden group (at least 1 member) then lies in
    ``[1, total − (k − 1)]`` for ``k`` hidden groups: a width of ``total − k``. Groups below
    ``min_cell_size`` are hidden, then the smallest shown groups as well, until the hidden
    groups number at least two and that width reaches ``protection_width`` (or every group is
    hidden).

    Parameters
    ----------
    sizes : Series
        Members per group (index: group names), the groups of one partition.

    Returns
    -------
    hidden : list of str
        The groups to hide.
    audit : dict
        ``primary``, ``secondary``, ``narrowest_interval`` (None without hidden groups), ``passed``.

    Examples
    --------
    >>> hidden, audit = partition_suppression(pd.Series({"a": 3, "b": 12, "c": 40, "d": 90}), 10, 10)
    >>> hidden, audit["narrowest_interval"], audit["passed"]
    (['a', 'b'], 13.0, True)
    """
    order = sizes.sort_values(kind="stable")
    primary = [g for g, n in order.items() if n < min_cell_size]
    hidden = list(primary)
    if hidden:
        for g in order.index:
            if len(hidden) >= 2 and order[hidden].sum() - len(hidden) >= protection_width:
                break
            if g not in hidden:
                hidden.append(g)
    width = float(order[hidden].sum() - len(hidden)) if hidden else None
    return hidden, {"primary": len(primary), "secondary": len(hidden) - len(primary), "narrowest_interval": width,
                    "passed": width is None or width >= protection_width}


def protect_reasons(assignment: CauseAssignment, min_cell_size: int,
                    protection_width: float | None = None) -> tuple[CauseAssignment, dict]:
    """The churn-reason table as it may be published: small reasons hidden with their complements.

    Each cause's churners are published (in the sentence, and by the cumulative incidence of each
    cause), so the reasons of a cause are a partition with a published total: a reason with fewer
    than ``min_cell_size`` churners is hidden with the smallest other reasons of its cause
    (:func:`partition_suppression`); a cause whose reasons cannot pass hides all of them. The
    counts that would give a hidden reason back are withheld (None): the unmapped count unless
    every unmapped reason is shown, the missing count unless its row is shown, and the customers
    who carry a reason without having churned when they are fewer than ``min_cell_size``.

    Returns
    -------
    assignment : CauseAssignment
        ``summary["churners"]`` missing where hidden, ``cause_churners`` and ``min_cell_size`` set.
    audit : dict
        ``primary``, ``secondary``, ``narrowest_interval``, ``passed`` (as :func:`partition_suppression`).

    Examples
    --------
    >>> from cxlib.stats.competing import assign_causes
    >>> a = assign_causes(pd.Series(["price"] * 40 + ["service"] * 25 + ["fraud"] * 4 + [None] * 19),
    ...                   [True] * 88, {"voluntary": ["price", "service"]})
    >>> p, audit = protect_reasons(a, 10)
    >>> p.summary["churners"].tolist(), p.n_unmapped, p.n_missing, p.cause_churners
    ([40, 25, <NA>, <NA>], None, None, {'voluntary': 65, 'other': 23})
    >>> audit["primary"], audit["secondary"], audit["narrowest_interval"]
    (1, 1, 21.0)
    """
    width = min_cell_size if protection_width is None else protection_width
    summary = assignment.summary.reset_index(drop=True)
    totals = {c: int(n) for c, n in summary.groupby("cause", sort=False)["churners"].sum().items()}
    hidden = pd.Series(False, index=summary.index)
    audits = []
    for _cause, rows in summary.groupby("cause", sort=False):
        h, audit = partition_suppression(rows.set_index(rows.index)["churners"], min_cell_size, width)
        if h and (len(h) < 2 or not audit["passed"]):  # one reason alone is its cause's total
            h, audit = list(rows.index), {**audit, "passed": False}
        hidden[h] = True
        audits.append(audit)
    shown = summary.assign(churners=summary["churners"].astype("Int64").mask(hidden))
    status = summary["status"]
    not_churned = assignment.n_reason_not_churned
    out = replace(
        assignment, summary=shown, cause_churners=totals, min_cell_size=min_cell_size,
        n_unmapped=None if hidden[status == "unmapped"].any() else assignment.n_unmapped,
        n_missing=None if hidden[status == "missing"].any() else assignment.n_missing,
        n_reason_not_churned=None if not_churned and not_churned < min_cell_size else not_churned)
    narrow = [a["narrowest_interval"] for a in audits if a["narrowest_interval"] is not None]
    return out, {"primary": sum(a["primary"] for a in audits),
                 "secondary": int(hidden.sum()) - sum(a["primary"] for a in audits),
                 "narrowest_interval": min(narrow) if narrow else None,
                 "passed": all(a["passed"] for a in audits), "protection_width": width,
                 "table": "churn reasons (data quality)"}


def kept_share(read: int | None, kept: int | None, protection_width: float) -> float | None:
    """The share of an input table's rows kept by validation, as published: rounded so that the
    rows read (hence kept) cannot be told from it within ``protection_width``.

    Exact rows read and kept are not published (they are all-period totals whose difference with
    ``metrics.csv`` gives hidden cells; ``docs/privacy.md``), but the rows excluded per rule are. An
    outsider who knows the rows excluded ``e = read − kept`` and the share ``s`` rounded to ``d``
    decimals knows ``read`` ∈ [e / (1 − s + h), e / (1 − s − h)] with h = 0.5·10^−d, and, knowing
    this rule, that no finer rounding was possible. The share is given to 0.1 % (3 decimals of a
    fraction) when that interval is at least ``protection_width`` wide, else to 1 %, then 10 %,
    each checked on the shares left once the finer roundings that would have been published are
    ruled out; None (not published) when even that is too narrow.

    Examples
    --------
    >>> kept_share(44240, 44190, 10)          # 50 excluded: read somewhere in 33,000–66,000
    0.999
    >>> kept_share(2000, 1003, 10)            # half excluded: 50.1 % would put read at 1,998–2,002
    0.5
    >>> kept_share(40, 20, 10) is None, kept_share(500, 500, 10), kept_share(None, 3, 10)
    (True, 1.0, None)
    """
    if read is None or kept is None or read <= 0:
        return None
    excluded = read - kept
    if excluded <= 0:
        return round(kept / read, 3)

    def first_passing(decimals: int) -> float:
        """The lowest share on the grid of ``decimals`` whose interval is wide enough (it widens
        with the share): an outsider rules out every share at or above it for a coarser rounding."""
        h = 0.5 * 10.0 ** -decimals
        v = 1 - (excluded * 2 * h / protection_width + h * h) ** 0.5
        return np.floor(round(v * 10 ** decimals, 9)) / 10 ** decimals  # one step low: whole numbers narrow it

    ceiling = float("inf")  # shares (of kept / read) ruled out by a finer rounding that would pass
    for decimals in (3, 2, 1):
        share = round(kept / read, decimals)
        h = 0.5 * 10.0 ** -decimals
        low, high = max(share - h, 0.0), min(share + h, ceiling)
        if kept / read < high:
            # the whole numbers strictly inside (boundaries are rounded either way: left out)
            lo = np.floor(excluded / (1 - low) + 1e-9) + 1
            hi = np.ceil(excluded / (1 - high) - 1e-9) - 1 if high < 1 else float("inf")
            if hi - lo >= protection_width:
                return share
        ceiling = min(ceiling, first_passing(decimals) - h)
    return None
