"""Small-cell suppression with complementary suppression for tables with ``all`` roll-ups.

A published table of counts (or of statistics whose sufficient statistics are counts and sums, such
as a mean = sum / n) is a cube: every dimension has its values plus an ``all`` roll-up, so each
roll-up cell is the sum of its children along any one dimension. Hiding only the small cells is
not enough: if a roll-up relation (parent = sum of children along one dimension, the other
dimensions fixed) hides exactly one of its cells, that cell is the parent minus its visible
siblings.

The rule applied here:

1. **Primary** — every cell with ``n < min_cell_size`` is suppressed.
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

from .results import ALL

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def _exposed(cells: pd.DataFrame, hidden: np.ndarray, dim: str, others: list[str]) -> pd.DataFrame:
    """Relations along ``dim`` that hide exactly one of their cells (with at least one child)."""
    rel = cells[others].assign(_parent=(cells[dim] == ALL).to_numpy(), _hidden=hidden)
    stats = rel.groupby(others, sort=False, dropna=False).agg(
        hidden=("_hidden", "sum"), parents=("_parent", "sum"), size=("_parent", "size")
    )
    return stats[(stats["hidden"] == 1) & (stats["parents"] == 1) & (stats["size"] > 1)]


def _next_hidden(cells: pd.DataFrame, hidden: np.ndarray, dim: str, others: list[str],
                 exposed: pd.DataFrame, n: str) -> np.ndarray:
    """Positions to hide so that each exposed relation hides two cells."""
    key = pd.MultiIndex.from_frame(cells[others]) if len(others) > 1 else pd.Index(cells[others[0]])
    in_exposed = key.isin(exposed.index)
    is_parent = (cells[dim] == ALL).to_numpy()
    pos = np.arange(len(cells))
    child = pd.DataFrame({"pos": pos, "n": cells[n].to_numpy()}).join(cells[others + [dim]].reset_index(drop=True))
    child = child[in_exposed & ~is_parent & ~hidden]
    chosen = child.sort_values(["n", *others, dim], kind="mergesort").drop_duplicates(subset=others)
    covered = pd.MultiIndex.from_frame(chosen[others]) if len(others) > 1 else pd.Index(chosen[others[0]])
    # a relation whose only visible cell is its parent: the parent equals the hidden child
    parent_pick = in_exposed & is_parent & ~hidden & ~key.isin(covered)
    return np.concatenate([chosen["pos"].to_numpy(), pos[parent_pick]])


def suppression_reasons(cells: pd.DataFrame, dims: Sequence[str], n: str, min_cell_size: int) -> pd.Series:
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
    hidden = primary.copy()
    if len(dims) > 0:
        changed = True
        while changed:
            changed = False
            for dim in dims:
                others = [d for d in dims if d != dim] or ["_one"]
                frame = cells if others != ["_one"] else cells.assign(_one=ALL)
                exposed = _exposed(frame, hidden, dim, others)
                if len(exposed):
                    hidden[_next_hidden(frame, hidden, dim, others, exposed, n)] = True
                    changed = True
    reasons = np.where(primary, PRIMARY, np.where(hidden, COMPLEMENTARY, ""))
    return pd.Series(reasons, index=index, name="suppression")
