"""Hypercube patterns: secondary cells chosen by what actually widens a sensitive cell.

In a table with an ``all`` total on each of its k dimensions, pick for every dimension one other
value (a sibling, or the total): the 2^k cells combining the sensitive cell's values with those
alternatives are the corners of a *hypercube*. Moving every corner by ``sign · t`` keeps every
roll-up equation true, where a corner's sign is the product, over the dimensions in which it takes
the alternative, of −1 when both values are children and +1 when one of them is the total (a child
and its parent move together; two siblings move against each other). Hiding the corners therefore
gives the attacker a feasible direction through the sensitive cell, and the range of ``t`` for
which every corner stays within its bounds is a *proven* part of his interval — for every corner
at once. This is the classic hypercube method (Repsilber; Giessing's τ-ARGUS "HITAS/hypercube"):
per sensitive cell, among the hypercubes whose range reaches ``protection_width``, hide the one
that adds the fewest new cells (then the smallest total value). Cells already hidden cost nothing,
so cubes share corners.

A hypercube is kept as a :class:`Certificate` (corners and signs); :func:`cxlib.stats.disclosure.audit`
verifies each certificate against the equations (the direction must leave every equation at zero
and touch hidden cells only) before it uses its range, so the audit does not trust this search.

Examples
--------
>>> import pandas as pd
>>> cells = pd.DataFrame({"r": ["r1", "r1", "r1", "r2", "r2", "r2", "all", "all", "all"],
...                       "c": ["c1", "c2", "all"] * 3, "n": [3, 20, 23, 30, 40, 70, 33, 60, 93]})
>>> grid = CubeGrid(cells, ["r", "c"])
>>> cert = grid.best_cube(0, cells["n"].to_numpy(float), lower=1.0, upper=float("inf"),
...                       hidden=cells["n"].lt(10).to_numpy(), cost=cells["n"].to_numpy(float), width=10)
>>> cells.loc[cert.cells, ["r", "c"]].values.tolist(), cert.signs.tolist()
([['r1', 'c1'], ['r1', 'c2'], ['r2', 'c1'], ['r2', 'c2']], [1.0, -1.0, -1.0, 1.0])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxlib.results import ALL

_TOL = 1e-7


@dataclass(frozen=True)
class Certificate:
    """A feasible direction of the attacker's system: cells (row positions) and their signs.

    Examples
    --------
    >>> Certificate(np.array([0, 1]), np.array([1.0, -1.0])).cells.tolist()
    [0, 1]
    """

    cells: np.ndarray
    signs: np.ndarray


def direction_range(cert: Certificate, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    integer: bool = True) -> tuple[float, float]:
    """How far ``t`` may rise and fall along a certificate before a corner leaves its bounds.

    Examples
    --------
    >>> c = Certificate(np.array([0, 1]), np.array([1.0, -1.0]))
    >>> direction_range(c, np.array([3.0, 20.0]), np.array([1.0, 1.0]), np.array([np.inf, np.inf]))
    (19.0, 2.0)
    """
    xc, lc, hc, s = x[cert.cells], lo[cert.cells], hi[cert.cells], cert.signs
    up = np.min(np.where(s > 0, hc - xc, xc - lc))
    down = np.min(np.where(s > 0, xc - lc, hc - xc))
    if integer:
        up, down = np.floor(up + _TOL), np.floor(down + _TOL)
    return float(up), float(down)


class CubeGrid:
    """The table as an array of row positions, for enumerating hypercubes.

    Dimensions with an ``all`` value and more than one value are the cube's axes; the others
    (a period without a total, a dimension that is ``all`` everywhere) only split the table into
    independent blocks.

    Parameters
    ----------
    cells : DataFrame
        One row per cell (absent cells are known zeros and cannot be corners).
    dims : sequence of str
    """

    def __init__(self, cells: pd.DataFrame, dims: Sequence[str]):
        dims = list(dims)
        self.axes = [d for d in dims if (cells[d] == ALL).any() and cells[d].nunique() > 1]
        fixed = [d for d in dims if d not in self.axes]
        self.block = (cells.groupby(fixed, sort=False).ngroup().to_numpy() if fixed
                      else np.zeros(len(cells), dtype=np.int64))
        self.codes, self.is_all = [], []
        for d in self.axes:
            values = pd.Index(pd.unique(cells[d]))
            self.codes.append(values.get_indexer(cells[d]))
            self.is_all.append(np.asarray(values == ALL))
        shape = (int(self.block.max()) + 1 if len(cells) else 0, *(len(a) for a in self.is_all))
        self.pos = np.full(shape, -1, dtype=np.int64)
        self.pos[(self.block, *self.codes)] = np.arange(len(cells))
        k = len(self.axes)
        self.bits = np.array(list(itertools.product((0, 1), repeat=k)), dtype=bool).reshape(2 ** k, k)

    def best_cube(self, i: int, x: np.ndarray, lower, upper, hidden: np.ndarray, cost: np.ndarray,
                  width: float, integer: bool = True) -> Certificate | None:
        """The cheapest hypercube through cell ``i`` whose range reaches ``width`` (None if none).

        Cheapest: fewest cells not yet hidden, then the smallest sum of their ``cost``; a cell of
        infinite cost may not be added. Ties go to the first in value order, so the choice is
        deterministic.
        """
        k = len(self.axes)
        if k == 0:
            return None
        lo = np.broadcast_to(np.asarray(lower, dtype=float), x.shape)
        hi = np.broadcast_to(np.asarray(upper, dtype=float), x.shape)
        a = [c[i] for c in self.codes]
        alts = [np.array([v for v in range(len(self.is_all[d])) if v != a[d]]) for d in range(k)]
        if any(len(v) == 0 for v in alts):
            return None
        combos = np.array(list(itertools.product(*alts)), dtype=np.int64).reshape(-1, k)   # (K, k)
        # corner coordinates: (K, 2^k, k)
        coords = np.where(self.bits[None, :, :], combos[:, None, :], np.array(a)[None, None, :])
        corners = self.pos[(np.full(coords.shape[:2], self.block[i]), *np.moveaxis(coords, -1, 0))]
        ok = (corners >= 0).all(axis=1)
        if not ok.any():
            return None
        combos, corners = combos[ok], corners[ok]
        # −1 along an axis where the cell and its alternative are both children
        child_pair = np.stack([~self.is_all[d][a[d]] & ~self.is_all[d][combos[:, d]] for d in range(k)], axis=1)
        flip = self.bits[None, :, :] & child_pair[:, None, :]
        signs = np.where(flip.sum(axis=2) % 2 == 1, -1.0, 1.0)                     # (K, 2^k)
        xc, lc, hc = x[corners], lo[corners], hi[corners]
        up = np.where(signs > 0, hc - xc, xc - lc).min(axis=1)
        down = np.where(signs > 0, xc - lc, hc - xc).min(axis=1)
        if integer:
            up, down = np.floor(up + _TOL), np.floor(down + _TOL)
        new = ~hidden[corners]
        price = np.where(new, cost[corners], 0.0)
        good = (up + down >= width - _TOL) & np.isfinite(price).all(axis=1)
        if not good.any():
            return None
        n_new, total = new.sum(axis=1), price.sum(axis=1)
        cand = np.flatnonzero(good)
        best = cand[np.lexsort((cand, total[cand], n_new[cand]))[0]]
        return Certificate(corners[best].copy(), signs[best].copy())
