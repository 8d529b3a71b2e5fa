"""Linked quantities of one cell, and the release rule across the runs of a series.

Linked metrics. The metrics of a cell are estimated from a handful of count quantities; a metric
row publishes every quantity it is computed from (its ``n`` and its numerator, ``value × n``). A
quantity hidden in a cell must therefore hide every metric that reveals it, or it comes back by
multiplication (``rated = rated_share × volume``). And quantities that share a denominator form a
*family* hidden as one (the numerators of a hidden denominator, and the NPS shares, whose three
parts add up to the responses, would otherwise give each other away).

Release rule (series of runs). A closed period (one before the period of ``as_of``) keeps the
suppression pattern it was first published with, united with whatever the new run decides: a cell
hidden once stays hidden, and a cell published once is public for good (hiding it later protects
nothing, so it may not serve as a secondary cell). This rule alone does not close the
cumulative difference: the earlier run's ``all``-period row is an equation the attacker holds
(earlier total = sum of the closed periods), so ``later all − earlier all = new period``. Either
the series publishes no cumulative ``all``-period rows, or the audit must include those earlier
equations; :func:`cxlib.stats.disclosure.additive_equations` builds only ``all`` totals today, so
the second option still needs a second parent on the period dimension (not implemented yet).

Examples
--------
>>> hidden = pd.DataFrame({"n": [False, False], "rated": [True, False]})
>>> metric_pattern(hidden)[["volume", "rated_share", "csat_mean"]].values.tolist()
[[False, True, True], [False, False, False]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# quantities that share a denominator: hidden together
FAMILIES: dict[str, tuple[str, ...]] = {
    "n": ("n",),
    "rated": ("rated", "csat_sum", "csat_sumsq", "top2"),
    "ces_n": ("ces_n", "ces_sum", "ces_sumsq"),
    "resolved_n": ("resolved_n", "resolved"),
    "responses": ("responses", "promoters", "passives", "detractors"),
}
# metric -> every quantity its published row (n, value, interval) reveals
REVEALS: dict[str, tuple[str, ...]] = {
    "volume": ("n",), "rated_share": ("n", "rated"),
    "csat_mean": ("rated", "csat_sum", "csat_sumsq"), "csat_top2": ("rated", "top2"),
    "ces_mean": ("ces_n", "ces_sum", "ces_sumsq"), "resolution_rate": ("resolved_n", "resolved"),
    "nps": ("responses", "promoters", "detractors"), "nps_promoters": ("responses", "promoters"),
    "nps_passives": ("responses", "passives"), "nps_detractors": ("responses", "detractors"),
}


def family_pattern(hidden: pd.DataFrame, families: Mapping[str, Sequence[str]] = FAMILIES) -> pd.DataFrame:
    """Hide a whole family in a cell when any of its quantities is hidden there.

    Parameters
    ----------
    hidden : DataFrame of bool
        One row per cell, one column per quantity (columns of absent quantities may be missing).

    Examples
    --------
    >>> family_pattern(pd.DataFrame({"rated": [True, False], "top2": [False, False]})).values.tolist()
    [[True, True], [False, False]]
    """
    out = hidden.astype(bool).copy()
    for members in families.values():
        cols = [q for q in members if q in out]
        if cols:
            any_ = out[cols].any(axis=1)
            for q in cols:
                out[q] = any_
    return out


def metric_pattern(hidden: pd.DataFrame, reveals: Mapping[str, Sequence[str]] = REVEALS) -> pd.DataFrame:
    """Which metric rows to hide per cell: every metric revealing a hidden quantity.

    Returns a DataFrame of bool, one column per metric with a quantity among the columns (missing
    quantities count as shown).

    Examples
    --------
    >>> metric_pattern(pd.DataFrame({"n": [True], "rated": [False]}))[["volume", "rated_share"]].values.tolist()
    [[True, True]]
    """
    fam = family_pattern(hidden)
    cols = {m: fam[[q for q in qs if q in fam]].any(axis=1) for m, qs in reveals.items() if any(q in fam for q in qs)}
    return pd.DataFrame(cols, index=hidden.index)


def revealed(metric_hidden: pd.DataFrame, reveals: Mapping[str, Sequence[str]] = REVEALS) -> pd.DataFrame:
    """The quantities a published table still shows per cell (the audit's published cells).

    Examples
    --------
    >>> revealed(pd.DataFrame({"volume": [False], "rated_share": [True]}))[["n", "rated"]].values.tolist()
    [[True, False]]
    """
    quantities = sorted({q for m in metric_hidden for q in reveals[m]})
    out = pd.DataFrame(False, index=metric_hidden.index, columns=quantities)
    for m in metric_hidden:
        for q in reveals[m]:
            out[q] |= ~metric_hidden[m].astype(bool)
    return out


def keep_release_pattern(cells: pd.DataFrame, dims: Sequence[str], previous: pd.DataFrame,
                         closed: Sequence[str], period: str = "period") -> tuple[np.ndarray, np.ndarray]:
    """The release rule: closed-period cells keep the earlier run's pattern.

    Parameters
    ----------
    cells : DataFrame
        This run's table (dimension columns).
    previous : DataFrame
        The earlier run's cells: dimension columns and ``hidden`` (bool).
    closed : sequence of str
        Periods the earlier run already covered in full.

    Returns
    -------
    must_hide, frozen : ndarray of bool
        ``must_hide``: hidden before, so hidden now (add to the primary cells); ``frozen``: published
        before, so not eligible as a secondary cell (pass as infinite ``cost``).

    Examples
    --------
    >>> now = pd.DataFrame({"period": ["q1", "q1", "q2"], "tp": ["a", "b", "a"]})
    >>> before = pd.DataFrame({"period": ["q1", "q1"], "tp": ["a", "b"], "hidden": [True, False]})
    >>> [a.tolist() for a in keep_release_pattern(now, ["period", "tp"], before, ["q1"])]
    [[True, False, False], [False, True, False]]
    """
    dims = list(dims)
    prev = previous[previous[period].isin(list(closed))][[*dims, "hidden"]]
    j = cells[dims].merge(prev, on=dims, how="left")
    known = j["hidden"].notna().to_numpy()
    was_hidden = j["hidden"].eq(True).to_numpy()
    return known & was_hidden, known & ~was_hidden
