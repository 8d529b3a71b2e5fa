"""Small-cell suppression with complementary suppression for tables with ``all`` roll-ups.

A published table of counts (or of statistics whose sufficient statistics are counts and sums, such
as a mean = sum / n) is a cube: every dimension has its values plus an ``all`` roll-up, so each
roll-up cell is the sum of its children along any one dimension. Hiding only the small cells is
not enough: if a roll-up relation (parent = sum of children along one dimension, the other
dimensions fixed) hides exactly one of its cells, that cell is the parent minus its visible
siblings.

The rule applied here:

1. **Primary** — every cell with ``n < min_cell_size`` is suppressed, and every cell with fewer than
   ``min_cell_size`` units (distinct customers) behind its ``n``, when their count is given.
2. **Complementary** — in every relation, count the hidden cells among the parent and its
   children. While some relation hides exactly one, hide one more cell of it: the visible child
   with the smallest ``n`` (ties broken by the dimension values, so the result is deterministic),
   or the parent when no child is visible. Repeat over all dimensions until no relation changes.

The rule guards against recovery by subtraction within one relation, which is how such tables are
attacked in practice; it is not a full linear-programming audit of every combination of relations.
Cells with ``n = 0`` are not cells: they are absent from the table and their zero is public.

Examples
--------
>>> import pandas as pd
>>> cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 40, 50, 93]})
>>> suppression_reasons(cells, ["tp"], "n", min_cell_size=10).tolist()
['primary', 'complementary', '', '']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cxlib.results import ALL

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


class _Relations:
    """The roll-up relations along one dimension: a relation id per cell and which cell is its parent."""

    def __init__(self, cells: pd.DataFrame, dim: str, dims: list[str]):
        others = [d for d in dims if d != dim]
        self.rel = (cells.groupby(others, sort=False).ngroup().to_numpy() if others
                    else np.zeros(len(cells), dtype=np.int64))
        self.is_parent = (cells[dim] == ALL).to_numpy()
        k = int(self.rel.max()) + 1 if len(cells) else 0
        parents = np.bincount(self.rel, weights=self.is_parent, minlength=k)
        size = np.bincount(self.rel, minlength=k)
        # an equation needs its parent and at least one child
        self.valid = (parents == 1) & (size > 1)
        self.parent_row = np.full(k, -1)
        self.parent_row[self.rel[self.is_parent]] = np.flatnonzero(self.is_parent)

    def next_hidden(self, hidden: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """Rows to hide so that no relation hides exactly one cell (empty when none does)."""
        k = self.valid.size
        exposed = self.valid & (np.bincount(self.rel, weights=hidden, minlength=k) == 1)
        if not exposed.any():
            return np.empty(0, dtype=np.int64)
        cand = np.flatnonzero(exposed[self.rel] & ~self.is_parent & ~hidden)
        best = np.full(k, np.iinfo(np.int64).max)
        np.minimum.at(best, self.rel[cand], rank[cand])
        children = cand[rank[cand] == best[self.rel[cand]]]
        # a relation whose only visible cell is its parent: the parent equals the hidden child
        lone = exposed & (best == np.iinfo(np.int64).max)
        return np.concatenate([children, self.parent_row[lone]])


def suppression_reasons(cells: pd.DataFrame, dims: Sequence[str], n: str, min_cell_size: int,
                        units: str | None = None) -> pd.Series:
    """Why each cell of a cube is suppressed: ``"primary"``, ``"complementary"`` or ``""`` (shown).

    Parameters
    ----------
    cells : DataFrame
        One row per cell with ``n > 0``: the dimension columns (values plus :data:`cxlib.results.ALL`
        roll-ups) and the cell size ``n``. Each combination of dimension values appears once.
    dims : sequence of str
        The dimensions that have roll-ups. A dimension that is ``all`` everywhere may be left out.
    n : str
        Column holding the cell size; it must be additive (parent = sum of children).
    min_cell_size : int
        Cells with ``n`` below this are suppressed.
    units : str, optional
        Column holding the number of distinct units (customers) behind ``n``; cells with fewer
        than ``min_cell_size`` of them are suppressed too. It need not be additive.

    Returns
    -------
    Series of str
        Aligned with ``cells``.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"seg": ["x", "y", "z", "all"], "n": [12, 5, 30, 47]})
    >>> suppression_reasons(cells, ["seg"], "n", min_cell_size=10).tolist()
    ['complementary', 'primary', '', '']
    """
    dims = list(dims)
    if cells.duplicated(subset=dims).any():
        raise ValueError("each combination of dimension values must appear once")
    index = cells.index
    cells = cells.reset_index(drop=True)
    primary = (cells[n] < min_cell_size).to_numpy()
    if units is not None:
        primary |= (cells[units] < min_cell_size).to_numpy()
    hidden = primary.copy()
    # smallest n first, ties broken by the dimension values so the choice is deterministic
    order = cells.sort_values([n, *dims], kind="mergesort").index.to_numpy()
    rank = np.empty(len(cells), dtype=np.int64)
    rank[order] = np.arange(len(cells))
    relations = [_Relations(cells, dim, dims) for dim in dims]
    changed = True
    while changed:
        changed = False
        for relation in relations:
            more = relation.next_hidden(hidden, rank)
            if more.size:
                hidden[more] = True
                changed = True
    reasons = np.where(primary, PRIMARY, np.where(hidden, COMPLEMENTARY, ""))
    return pd.Series(reasons, index=index, name="suppression")
