"""Disclosure control audited by linear programming: additive tables, attacker intervals, secondary suppression.

A published table of one additive count quantity (interactions, rated interactions, top-2-box
answers, survey responses ...) over several dimensions, each with an ``all`` total, is a set of
linear equations: along every dimension, for every combination of the other dimensions, the total
equals the sum of its children. An outsider who holds the published cells can solve all of them
together. For a suppressed cell the best he can do is the interval

    [min x_i, max x_i]  subject to  A x = 0,  published cells fixed,  lower <= x <= upper,

which :func:`protection_intervals` computes with scipy's HiGHS (``linprog(method="highs")``); for an
integer quantity the limits are rounded inwards (every integer solution lies inside the LP interval).
A cell is *protected* when ``upper − lower >= protection_width``.

Method choice for secondary suppression: hypercubes checked by the LP audit, not a MILP.
The exact optimal-pattern MILP (Fischetti & Salazar) needs, per sensitive cell, two copies of the
whole table's flow variables, or a cutting-plane loop over LP duals: hundreds of thousands of
variables on a 17 × 6 × 5 × 4 cube and no useful time bound with scipy's HiGHS. The heuristic is
the hypercube method (:mod:`cxlib.stats.disclosure_cubes`, as in τ-ARGUS): for each sensitive
cell, the cheapest set of corners whose joint movement already gives it a wide enough interval.
What matters for the guarantee is that the pattern is *verified*: it is only accepted when the
audit of every hidden cell passes, so its safety does not depend on the heuristic. It may hide
somewhat more than the optimum; that costs information, never protection. The loop:

1. hide the primary cells;
2. for each hidden cell not yet proven wide enough, hide the cheapest hypercube through it whose
   range reaches ``protection_width`` (its corners become secondary cells, each with the same
   proven range);
3. audit every hidden cell; a cell that fails (or that the audit could not settle within its
   budget of LPs) is handled again in step 2, and when no hypercube reaches it, the cheapest
   published cell of its equation with the fewest hidden cells is hidden (a value reaching
   ``protection_width`` preferred). Hiding a cell only relaxes the attacker's system, so intervals
   only widen and the loop ends (at worst with whole equations hidden).

The audit (:func:`audit`) needs no LP for most cells. First the hypercube certificates: each is
checked against every equation (it must leave them at zero and move hidden cells only), and its
range is a proven part of every corner's interval. For the rest, the null space of the hidden
cells' equations says at once which cells are determined (a zero row: interval of width 0), and
a feasible direction in that null space, followed from the true values until a bound is hit,
proves a lower bound on the width. Only cells that none of these proofs settles are solved by LP,
per connected component, at most ``max_lp`` times per audit; a cell still unsettled then counts as
failing.

Examples
--------
A 2 × 2 table with totals (rows r1, r2; columns c1, c2):

>>> import pandas as pd
>>> cells = pd.DataFrame({"r": ["r1", "r1", "r1", "r2", "r2", "r2", "all", "all", "all"],
...                       "c": ["c1", "c2", "all"] * 3,
...                       "n": [3, 20, 23, 30, 40, 70, 33, 60, 93]})
>>> hidden = cells["n"] < 10                                # only r1 × c1: recovered as 23 − 20
>>> protection_intervals(cells, ["r", "c"], "n", hidden)[["lower", "upper"]].values.tolist()
[[3.0, 3.0]]
>>> s = secondary_suppression(cells, ["r", "c"], "n", primary=hidden, protection_width=10)
>>> cells.loc[s.hidden, ["r", "c", "n"]].values.tolist()
[['r1', 'c1', 3], ['r1', 'c2', 20], ['r2', 'c1', 30], ['r2', 'c2', 40]]
>>> float(s.audit["width"].min()), s.passed            # r1 × c1 in [0, 23]: 3 + t, t from −3 to 20
(23.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import qr
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from cxlib.results import ALL
from cxlib.stats.disclosure_cubes import Certificate, CubeGrid, direction_range

PRIMARY, SECONDARY = "primary", "secondary"
_TOL = 1e-7


def additive_equations(cells: pd.DataFrame, dims: Sequence[str]) -> sparse.csr_matrix:
    """Every roll-up equation of a table, as rows of ``A`` with ``A @ x = 0``.

    Along each dimension, for every combination of the other dimensions' values, the cell whose
    value is ``all`` (the parent) minus its children is zero. A group needs its parent and at least
    one child. Absent cells are zeros that everybody knows, so they simply do not appear.

    Parameters
    ----------
    cells : DataFrame
        One row per published or suppressed cell, the dimension columns holding values or
        :data:`cxlib.results.ALL`; each combination appears once.
    dims : sequence of str
        The dimensions with totals.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (equations, cells), entries +1 (parent) and −1 (children), columns in row order.

    Examples
    --------
    >>> cells = pd.DataFrame({"tp": ["a", "b", "all"], "n": [3, 4, 7]})
    >>> additive_equations(cells, ["tp"]).toarray().tolist()
    [[-1.0, -1.0, 1.0]]
    """
    dims = list(dims)
    if cells.duplicated(subset=dims).any():
        raise ValueError("each combination of dimension values must appear once")
    rows, cols, vals, k = [], [], [], 0
    pos = np.arange(len(cells))
    for dim in dims:
        others = [d for d in dims if d != dim]
        rel = (cells.groupby(others, sort=False).ngroup().to_numpy() if others
               else np.zeros(len(cells), dtype=np.int64))
        parent = (cells[dim] == ALL).to_numpy()
        m = int(rel.max()) + 1 if len(cells) else 0
        n_par = np.bincount(rel, weights=parent, minlength=m)
        size = np.bincount(rel, minlength=m)
        ok = (n_par == 1) & (size > 1)
        new_id = np.cumsum(ok) - 1 + k
        use = ok[rel]
        rows.append(new_id[rel[use]])
        cols.append(pos[use])
        vals.append(np.where(parent[use], 1.0, -1.0))
        k += int(ok.sum())
    if not rows:
        return sparse.csr_matrix((0, len(cells)))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(k, len(cells)))


def _bounds(n: int, lower, upper) -> tuple[np.ndarray, np.ndarray]:
    lo = np.broadcast_to(np.asarray(0.0 if lower is None else lower, dtype=float), (n,)).copy()
    hi = np.broadcast_to(np.asarray(np.inf if upper is None else upper, dtype=float), (n,)).copy()
    return lo, np.where(np.isnan(hi), np.inf, hi)


@dataclass
class _System:
    """The attacker's system restricted to the hidden cells, split into connected components."""

    A: sparse.csr_matrix      # equations touching a hidden cell × hidden cells
    b: np.ndarray             # right-hand sides (published cells moved over)
    labels: np.ndarray        # component of each hidden cell; −1 = in no equation
    n_comp: int


def _system(A: sparse.csr_matrix, x: np.ndarray, hidden: np.ndarray) -> _System:
    Ah, Ap = A[:, hidden], A[:, ~hidden]
    b = -(Ap @ x[~hidden])
    touch = np.diff(Ah.indptr) > 0
    Ah, b = Ah[touch], b[touch]
    k = Ah.shape[1]
    in_eq = np.bincount(Ah.indices, minlength=k) > 0
    labels = np.full(k, -1)
    n_comp = 0
    if Ah.shape[0]:
        g = (Ah.T @ Ah).tocsr()
        n_comp, lab = connected_components(g, directed=False)
        labels = np.where(in_eq, lab, -1)
    return _System(Ah.tocsr(), b, labels, n_comp)


def _lp_interval(A, b, lo, hi, i: int) -> tuple[float, float]:
    c = np.zeros(A.shape[1])
    out = []
    for sign in (1.0, -1.0):
        c[i] = sign
        r = linprog(c, A_eq=A, b_eq=b, bounds=np.column_stack([lo, hi]), method="highs")
        if r.status == 3:      # unbounded
            out.append(-sign * np.inf)
        elif r.status != 0:
            raise RuntimeError(f"disclosure audit LP failed: {r.message}")
        else:
            out.append(sign * r.fun)
    return out[0], out[1]


def _null_basis(A: sparse.csr_matrix) -> np.ndarray:
    """Orthonormal basis of the null space of ``A`` (rank-revealing QR of Aᵀ)."""
    q, r, _ = qr(A.toarray().T, pivoting=True)
    d = np.abs(np.diag(r))
    rank = int((d > 1e-9 * d.max(initial=1.0)).sum())
    return q[:, rank:]


def _round(lo, hi, integer: bool):
    return (np.ceil(lo - _TOL), np.floor(hi + _TOL)) if integer else (lo, hi)


def _component_intervals(A, b, x0, lo, hi, integer: bool, width: float | None, doomed, seed_lo, seed_hi,
                         budget: list[int]):
    """Intervals of the hidden cells of one component, and which of them stayed unsettled.

    Every solution is ``x0 + N z``, ``N`` a basis of the null space of the component's equations
    (a few dozen columns however many cells), so each limit is a small LP in ``z``. A zero row of
    ``N`` means the equations alone determine the cell. Every feasible point met on the way (the
    certificates' ranges in ``seed_lo``/``seed_hi``, the direction ``N N_iᵀ`` followed to a bound,
    each LP's optimum) widens every cell's proven inner interval; with ``width`` a cell whose proven
    interval is already wide enough needs no LP. ``budget[0]`` LPs may still be solved; a cell
    left pending when it runs out is unsettled (its interval is only the proven inner one)."""
    k = A.shape[1]
    unsettled = np.zeros(k, dtype=bool)
    if k > 3000:                                         # very large component: LP in the cells themselves
        out_lo, out_hi = seed_lo.copy(), seed_hi.copy()
        for i in range(k):
            r_lo, r_hi = _round(out_lo[i], out_hi[i], integer)
            if width is not None and r_hi - r_lo >= width - _TOL:
                continue
            if budget[0] <= 0:
                unsettled[i] = True
                continue
            budget[0] -= 1
            out_lo[i], out_hi[i] = _lp_interval(A, b, lo, hi, i)
        return (*_round(out_lo, out_hi, integer), unsettled)
    out_lo, out_hi = seed_lo.copy(), seed_hi.copy()
    N = _null_basis(A)
    norm = np.einsum("ij,ij->i", N, N)
    free = np.flatnonzero(norm > 1e-9)                   # the others are determined: interval = value
    if free.size == 0:
        return x0.copy(), x0.copy(), unsettled
    Nf, xf, lf, hf = N[free], x0[free], lo[free], hi[free]
    doomed = np.zeros(free.size, dtype=bool) if doomed is None else doomed[free]
    up_ok, lo_ok = np.isfinite(hf), np.isfinite(lf)
    a_ub = np.vstack([Nf[up_ok], -Nf[lo_ok]])
    b_ub = np.concatenate([(hf - xf)[up_ok], (xf - lf)[lo_ok]])
    # column i: the direction that moves cell i by one while staying in the null space
    D = Nf @ Nf.T / norm[free][None, :]
    D[np.abs(D) < 1e-9] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        room_up, room_down = (hf - xf)[:, None], (xf - lf)[:, None]
        up = np.where(D > 0, room_up / D, np.where(D < 0, room_down / -D, np.inf)).min(axis=0)
        down = np.where(D > 0, room_down / D, np.where(D < 0, room_up / -D, np.inf)).min(axis=0)
    if integer:
        up, down = np.floor(up + _TOL), np.floor(down + _TOL)
    seen_lo = np.minimum(xf - down, seed_lo[free])
    seen_hi = np.maximum(xf + up, seed_hi[free])
    exact = np.zeros(free.size, dtype=bool)
    while True:
        r_lo, r_hi = _round(seen_lo, seen_hi, integer)
        pending = ~exact if width is None else ~exact & ~doomed & (r_hi - r_lo < width - _TOL)
        if not pending.any():
            break
        if budget[0] <= 0:
            unsettled[free[pending]] = True
            break
        budget[0] -= 1
        i = int(np.flatnonzero(pending)[0])
        limits = []
        for sign in (1.0, -1.0):
            res = linprog(sign * Nf[i], A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
            if res.status == 3:
                limits.append(-sign * np.inf)
                continue
            if res.status != 0:
                raise RuntimeError(f"disclosure audit LP failed: {res.message}")
            point = xf + Nf @ res.x                       # a feasible table: every cell may take its value
            seen_lo, seen_hi = np.minimum(seen_lo, point), np.maximum(seen_hi, point)
            limits.append(xf[i] + sign * res.fun)
        seen_lo[i], seen_hi[i] = limits
        exact[i] = True
    out_lo[free], out_hi[free] = seen_lo, seen_hi
    out_lo[norm <= 1e-9], out_hi[norm <= 1e-9] = x0[norm <= 1e-9], x0[norm <= 1e-9]
    return (*_round(out_lo, out_hi, integer), unsettled)


def certified_intervals(certificates: Sequence[Certificate], A: sparse.spmatrix, x: np.ndarray, lo: np.ndarray,
                        hi: np.ndarray, hidden: np.ndarray, integer: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """The part of each cell's attacker interval that the certificates prove, after checking them.

    A certificate counts only when its direction leaves every equation at zero and moves hidden
    cells only; then every corner can move along it over its whole range.

    Returns
    -------
    lower, upper : ndarray
        Proven limits per cell (the value itself where no certificate reaches the cell).
    rejected : int
        Certificates that failed the check (and were ignored).

    Examples
    --------
    >>> cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 12, 30, 45]})
    >>> A = additive_equations(cells, ["tp"])
    >>> x, lo, hi = cells["n"].to_numpy(float), np.ones(4), np.full(4, np.inf)
    >>> good = Certificate(np.array([0, 1]), np.array([1.0, -1.0]))
    >>> bad = Certificate(np.array([0, 3]), np.array([1.0, -1.0]))
    >>> l, u, rejected = certified_intervals([good, bad], A, x, lo, hi, np.array([True, True, False, False]))
    >>> l[:2].tolist(), u[:2].tolist(), rejected
    ([1.0, 1.0], [14.0, 14.0], 1)
    """
    out_lo, out_hi = x.astype(float).copy(), x.astype(float).copy()
    if not len(certificates):
        return out_lo, out_hi, 0
    cols = np.concatenate([c.cells for c in certificates])
    rows = np.repeat(np.arange(len(certificates)), [len(c.cells) for c in certificates])
    D = sparse.csc_matrix((np.concatenate([c.signs for c in certificates]), (cols, rows)),
                          shape=(len(x), len(certificates)))
    residual = abs(sparse.csr_matrix(A) @ D).sum(axis=0).A.ravel()
    valid = (residual < _TOL) & np.array([hidden[c.cells].all() for c in certificates])
    for c in (c for c, ok in zip(certificates, valid) if ok):
        up, down = direction_range(c, x, lo, hi, integer)
        xc = x[c.cells]
        lo_c = np.where(c.signs > 0, xc - down, xc - up)
        hi_c = np.where(c.signs > 0, xc + up, xc + down)
        out_lo[c.cells] = np.minimum(out_lo[c.cells], lo_c)
        out_hi[c.cells] = np.maximum(out_hi[c.cells], hi_c)
    return out_lo, out_hi, int((~valid).sum())


def _outer_width(A: sparse.csr_matrix, x, lo, hi, hidden) -> np.ndarray:
    """An upper bound on each hidden cell's attacker interval width from one equation at a time.

    In an equation a cell can rise only as far as the other hidden cells can make room, and fall
    as far as they can absorb; a cell narrower than ``protection_width`` by this bound fails the
    audit without an LP."""
    big = 1e15
    lo_, hi_ = np.minimum(lo, big), np.minimum(hi, big)
    h = hidden.astype(float)
    P = sparse.csr_matrix(A.multiply(A > 0)).multiply(h[None, :]).tocsr()      # hidden parents
    C = sparse.csr_matrix(-A.multiply(A < 0)).multiply(h[None, :]).tocsr()     # hidden children
    c_dn, c_up = C @ (x - lo_), C @ (hi_ - x)
    p_dn, p_up = P @ (x - lo_), P @ (hi_ - x)
    m = sparse.csr_matrix(A.multiply(h[None, :])).tocoo()                      # (equation, hidden cell, sign)
    e, j = m.row, m.col
    # a child rises by what the other children give up plus what the parent can rise, falls conversely;
    # the parent moves as far as its children can move together
    child = (c_dn[e] + p_up[e] - (x[j] - lo_[j])) + (c_up[e] + p_dn[e] - (hi_[j] - x[j]))
    width = np.where(m.data < 0, child, c_up[e] + c_dn[e])
    out = np.minimum(hi_ - lo_, big)
    np.minimum.at(out, j, width)
    return out[hidden]


def protection_intervals(cells: pd.DataFrame, dims: Sequence[str], value: str, hidden, *,
                         lower=0.0, upper=None, integer: bool = True,
                         protection_width: float | None = None,
                         equations: sparse.spmatrix | None = None,
                         certificates: Sequence[Certificate] = (),
                         max_lp: int | None = None) -> pd.DataFrame:
    """The interval an attacker derives for each suppressed cell from every published equation.

    Parameters
    ----------
    cells : DataFrame
        The table (see :func:`additive_equations`) with the true ``value`` of every cell.
    dims : sequence of str
    value : str
        Column of the additive quantity.
    hidden : array-like of bool
        Suppressed cells (aligned with ``cells``).
    lower, upper : float or array-like, optional
        Bounds the attacker knows for every cell (default 0 and none): for example 1 for a
        denominator whose row is published (a cell with a row is not empty), or the published
        denominator as the upper bound of a numerator.
    integer : bool
        Round the limits inwards (the quantity is a count).
    protection_width : float, optional
        Audit mode: a cell that a certificate or a null-space direction already proves at least
        this wide keeps that proof's (narrower) interval instead of solving its two LPs.
    equations : sparse matrix, optional
        :func:`additive_equations` of ``cells``, when already built.
    certificates : sequence of Certificate, optional
        Feasible directions to check and use as proofs (:func:`certified_intervals`).
    max_lp : int, optional
        At most this many cells solved by LP; cells left then are ``settled`` False.

    Returns
    -------
    DataFrame
        One row per hidden cell (index of ``cells``): ``value``, ``lower``, ``upper``, ``width``,
        ``component`` (−1: the cell is in no equation and only its bounds limit it) and ``settled``
        (False: the LP budget ran out before the cell was shown wide enough).

    Examples
    --------
    >>> cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 5, 30, 38]})
    >>> protection_intervals(cells, ["tp"], "n", [True, True, False, False], lower=1)[["lower", "upper"]].values.tolist()
    [[1.0, 7.0], [1.0, 7.0]]
    """
    hidden = np.asarray(hidden, dtype=bool)
    x = cells[value].to_numpy(dtype=float)
    A = additive_equations(cells, dims) if equations is None else sparse.csr_matrix(equations)
    lo_all, hi_all = _bounds(len(cells), lower, upper)
    seed_lo, seed_hi, _ = certified_intervals(certificates, A, x, lo_all, hi_all, hidden, integer)
    sys_ = _system(A, x, hidden)
    xh, lo, hi = x[hidden], lo_all[hidden], hi_all[hidden]
    seed_lo, seed_hi = seed_lo[hidden], seed_hi[hidden]
    out_lo, out_hi = lo.copy(), hi.copy()
    if integer:
        out_lo, out_hi = np.ceil(out_lo - _TOL), np.floor(out_hi + _TOL)
    settled = np.ones(len(xh), dtype=bool)
    doomed = None
    if protection_width is not None:
        doomed = _outer_width(A, x, lo_all, hi_all, hidden) < protection_width - _TOL
    budget = [np.inf if max_lp is None else max_lp]
    for comp in range(sys_.n_comp):
        idx = np.flatnonzero(sys_.labels == comp)
        if idx.size == 0:
            continue
        if protection_width is not None:
            r_lo, r_hi = _round(seed_lo[idx], seed_hi[idx], integer)
            if (r_hi - r_lo >= protection_width - _TOL).all():      # every cell proven: no algebra needed
                out_lo[idx], out_hi[idx] = r_lo, r_hi
                continue
        sub = sys_.A[:, idx]
        rows = np.diff(sub.indptr) > 0
        a, b = sub[rows], sys_.b[rows]
        out_lo[idx], out_hi[idx], unsettled = _component_intervals(
            a, b, xh[idx], lo[idx], hi[idx], integer, protection_width,
            None if doomed is None else doomed[idx], seed_lo[idx], seed_hi[idx], budget)
        settled[idx] = ~unsettled
    return pd.DataFrame({"value": xh, "lower": out_lo, "upper": out_hi, "width": out_hi - out_lo,
                         "component": sys_.labels, "settled": settled}, index=cells.index[hidden])


def audit(cells: pd.DataFrame, dims: Sequence[str], value: str, hidden, protection_width: float, **options) -> pd.DataFrame:
    """:func:`protection_intervals` in audit mode plus ``protected`` (width ≥ ``protection_width``).

    A protected cell's interval may be a proven inner interval rather than the attacker's exact
    one; a cell whose LPs did not fit in ``max_lp`` is not protected (unproven counts as failing).

    Examples
    --------
    >>> cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 5, 30, 38]})
    >>> audit(cells, ["tp"], "n", [True, True, False, False], 10, lower=1)["protected"].tolist()
    [False, False]
    """
    out = protection_intervals(cells, dims, value, hidden, protection_width=protection_width, **options)
    return out.assign(protected=(out["width"] >= protection_width - _TOL) & out["settled"])


@dataclass(frozen=True)
class Suppression:
    """A suppression pattern and its audit.

    Attributes
    ----------
    reasons : Series of str
        ``"primary"``, ``"secondary"`` or ``""`` per cell (index of the table).
    audit : DataFrame
        :func:`audit` of every hidden cell under the final pattern.
    rounds : int
        Audit rounds the search needed.
    certificates : tuple of Certificate
        The hypercubes hidden, each a proof for its corners (reusable by a linked quantity).
    """

    reasons: pd.Series
    audit: pd.DataFrame
    rounds: int
    certificates: tuple[Certificate, ...] = ()

    @property
    def hidden(self) -> np.ndarray:
        """Which cells are hidden (primary or secondary)."""
        return (self.reasons != "").to_numpy()

    @property
    def passed(self) -> bool:
        """Every hidden cell's interval is proven at least ``protection_width`` wide."""
        return bool(self.audit["protected"].all())

    def figures(self) -> dict:
        """The audit figures for manifest.json: counts and the narrowest protection interval."""
        w = self.audit["width"]
        return {"primary": int((self.reasons == PRIMARY).sum()), "secondary": int((self.reasons == SECONDARY).sum()),
                "narrowest_interval": float(w.min()) if len(w) else None, "passed": self.passed,
                "audit_rounds": self.rounds}


def _widen_by_equation(absA: sparse.csr_matrix, i: int, x: np.ndarray, hidden: np.ndarray, cost: np.ndarray,
                       protection_width: float) -> bool:
    """The fallback when no hypercube reaches cell ``i``: hide the cheapest published cell of its
    equation with the fewest hidden cells (a value reaching ``protection_width`` preferred)."""
    n_hidden = absA @ hidden.astype(float)
    eqs = absA[:, i].nonzero()[0]
    for e in eqs[np.argsort(n_hidden[eqs], kind="stable")]:
        members = absA[e].indices
        cand = members[~hidden[members] & np.isfinite(cost[members])]
        if cand.size == 0:
            continue
        big = cand[x[cand] >= protection_width]
        pick = big[np.lexsort((big, cost[big]))[0]] if big.size else cand[np.lexsort((cand, -x[cand]))[0]]
        hidden[pick] = True
        return True
    return False


def secondary_suppression(cells: pd.DataFrame, dims: Sequence[str], value: str, primary, protection_width: float, *,
                          lower=0.0, upper=None, integer: bool = True, cost=None, max_rounds: int = 30,
                          certificates: Sequence[Certificate] = (), max_lp: int = 200,
                          equations: sparse.spmatrix | None = None) -> Suppression:
    """Choose extra cells to hide so that every hidden cell's attacker interval is wide enough.

    Parameters
    ----------
    cells, dims, value, lower, upper, integer
        As in :func:`protection_intervals`.
    primary : array-like of bool
        Cells that must be hidden (small, or hidden by a linked quantity or an earlier release).
    protection_width : float
        Required width of every hidden cell's interval (params ``protection_width``).
    cost : array-like, optional
        Price of hiding each cell (default its value): among the hypercubes that add the fewest
        cells the cheapest wins; ``inf`` marks a cell that may not be hidden (published in an
        earlier release).
    max_rounds : int
        Audit rounds before giving up on economy and hiding the failing cells' whole equations.
    certificates : sequence of Certificate
        Hypercubes already hidden (for example by the quantity this one shares its pattern with).
    max_lp : int
        LP budget of each audit round (cells the proofs leave open).
    equations : sparse matrix, optional
        :func:`additive_equations` of ``cells``, when already built.

    Returns
    -------
    Suppression

    Examples
    --------
    >>> cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 12, 30, 45]})
    >>> s = secondary_suppression(cells, ["tp"], "n", cells["n"] < 10, 10, lower=1)
    >>> s.reasons.tolist(), s.audit["width"].tolist()
    (['primary', 'secondary', '', ''], [13.0, 13.0])
    """
    primary = np.asarray(primary, dtype=bool)
    x = cells[value].to_numpy(dtype=float)
    lo, hi = _bounds(len(cells), lower, upper)
    cost = x.copy() if cost is None else np.asarray(cost, dtype=float)
    A = additive_equations(cells, dims) if equations is None else sparse.csr_matrix(equations)
    absA = abs(A).tocsr()
    grid = CubeGrid(cells, dims)
    hidden = primary.copy()
    certs = list(certificates)
    todo = np.flatnonzero(primary)
    todo = todo[np.lexsort((todo, x[todo]))]               # smallest first: the hardest to protect
    rounds = 0
    while True:
        rounds += 1
        p_lo, p_hi, _ = certified_intervals(certs, A, x, lo, hi, hidden, integer)
        # first round: a cell some earlier hypercube already moves goes to the audit first (several
        # narrow directions together may well be wide enough); the cells it fails get a cube then
        moved = np.zeros(len(x), dtype=bool)
        if rounds == 1 and certs:
            moved[np.concatenate([c.cells for c in certs])] = True
        for i in todo:
            if p_hi[i] - p_lo[i] >= protection_width - _TOL:
                continue
            cert = grid.best_cube(i, x, lo, hi, hidden, cost, protection_width, integer)
            if cert is None or (moved[i] and not hidden[cert.cells].all()):   # a free cube is a proof without LP
                continue
            hidden[cert.cells] = True
            certs.append(cert)
            up, down = direction_range(cert, x, lo, hi, integer)
            p_lo[cert.cells] = np.minimum(p_lo[cert.cells], x[cert.cells] - np.where(cert.signs > 0, down, up))
            p_hi[cert.cells] = np.maximum(p_hi[cert.cells], x[cert.cells] + np.where(cert.signs > 0, up, down))
        res = audit(cells, dims, value, hidden, protection_width, lower=lower, upper=upper, integer=integer,
                    equations=A, certificates=certs, max_lp=max_lp)
        failing = cells.index.get_indexer(res.index[~res["protected"].to_numpy()])
        if failing.size == 0 or hidden.all():
            break
        if rounds >= max_rounds:                          # give up on economy: hide whole equations
            more = np.zeros_like(hidden)
            for i in failing:
                more[absA[absA[:, i].nonzero()[0]].indices] = True
            more &= ~hidden & np.isfinite(cost)
            if not more.any():
                break
            hidden |= more
            continue
        no_cube = [i for i in failing if grid.best_cube(i, x, lo, hi, hidden, cost, protection_width, integer) is None]
        for i in no_cube:
            _widen_by_equation(absA, i, x, hidden, cost, protection_width)
        todo = failing
    reasons = np.where(primary, PRIMARY, np.where(hidden, SECONDARY, ""))
    return Suppression(pd.Series(reasons, index=cells.index, name="suppression"), res, rounds, tuple(certs))
