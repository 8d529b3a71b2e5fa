"""Figures of the key-driver section: importance with intervals, and importance against performance.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = importance_bars(_example())
>>> fig.axes[0].get_title()
'How much each driver explains of NPS'
>>> plt.close(fig)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cxlib.plots import PALETTE
from cxlib.text.names import display_name
from cxlib.text.vocabulary import driver_label


def _example() -> pd.DataFrame:
    """A tiny key-driver summary for the examples."""
    return pd.DataFrame({
        "driver": ["sat_support", "sat_billing", "sat_app"], "importance": [0.30, 0.19, np.nan],
        "importance_ci_lower": [0.28, 0.17, np.nan], "importance_ci_upper": [0.32, 0.21, np.nan],
        "rank": [1.0, 2.0, np.nan], "rank_ci_lower": [1.0, 2.0, np.nan], "rank_ci_upper": [1.0, 2.0, np.nan],
        "performance": [2.9, 3.4, 3.1], "performance_ci_lower": [2.85, 3.35, 3.0],
        "performance_ci_upper": [2.95, 3.45, 3.2], "priority": [True, False, False],
    })


def _estimated(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["importance"].notna()].sort_values("importance", ascending=False)


def importance_bars(summary: pd.DataFrame) -> Figure:
    """Each driver's share of explained NPS variance (general dominance) with its bootstrap interval.

    Parameters
    ----------
    summary : DataFrame
        ``KeyDriverResult.summary``: driver, importance, importance_ci_lower/upper, rank,
        rank_ci_lower/upper. Drivers that were not estimated are not drawn.

    Examples
    --------
    >>> fig = importance_bars(_example())  # sat_app was not estimated: not drawn
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['support satisfaction', 'billing satisfaction']
    >>> plt.close(fig)
    """
    d = _estimated(summary)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(d) + 1.6))
    y = np.arange(len(d))
    err = np.vstack([d["importance"] - d["importance_ci_lower"], d["importance_ci_upper"] - d["importance"]])
    ax.barh(y, d["importance"], color=PALETTE[0], alpha=0.85)
    if np.isfinite(err).all():
        ax.errorbar(d["importance"], y, xerr=err, fmt="none", ecolor="#333", capsize=3, lw=1)
    ax.set_yticks(y, [display_name(driver_label(x)) for x in d["driver"]])
    ax.invert_yaxis()
    right = float(np.nanmax(d[["importance", "importance_ci_upper"]].to_numpy()))
    for yi, (_, r) in zip(y, d.iterrows()):
        rank = f"rank {int(r['rank'])}"
        if pd.notna(r.get("rank_ci_lower")) and r["rank_ci_lower"] != r["rank_ci_upper"]:
            rank += f" (95%: {int(r['rank_ci_lower'])}–{int(r['rank_ci_upper'])})"
        ax.text(right * 1.04, yi, rank, va="center", fontsize=8, color="#444")
    ax.set_xlim(0, right * 1.45)
    ax.set_xlabel("Share of NPS variance explained (general dominance, R² units)")
    ax.set_title("How much each driver explains of NPS")
    return fig


def importance_performance(summary: pd.DataFrame) -> Figure:
    """Importance against performance (mean rating), interval bars on both; priorities highlighted.

    Dashed lines mark the medians over the estimated drivers; priorities (upper left: above-median
    importance, below-median performance) are drawn in the accent colour.

    Parameters
    ----------
    summary : DataFrame
        ``KeyDriverResult.summary`` (needs performance and its interval, importance and its interval,
        priority). Drivers that were not estimated are not drawn.

    Examples
    --------
    >>> fig = importance_performance(_example())
    >>> sorted(t.get_text() for t in fig.axes[0].texts)
    ['billing satisfaction', 'priority: important, rated low', 'support satisfaction']
    >>> plt.close(fig)
    """
    d = _estimated(summary)
    fig, ax = plt.subplots(figsize=(8, 5))
    colours = np.where(d["priority"], PALETTE[1], PALETTE[0])
    xerr = np.vstack([d["performance"] - d["performance_ci_lower"], d["performance_ci_upper"] - d["performance"]])
    yerr = np.vstack([d["importance"] - d["importance_ci_lower"], d["importance_ci_upper"] - d["importance"]])
    for i, (_, r) in enumerate(d.iterrows()):
        ax.errorbar(r["performance"], r["importance"],
                    xerr=xerr[:, [i]] if np.isfinite(xerr[:, i]).all() else None,
                    yerr=yerr[:, [i]] if np.isfinite(yerr[:, i]).all() else None,
                    fmt="D" if r["priority"] else "o", color=colours[i], ecolor=colours[i], capsize=3, ms=7, lw=1)
        ax.annotate(display_name(driver_label(r["driver"])), (r["performance"], r["importance"]), xytext=(6, 6),
                    textcoords="offset points", fontsize=9, color=colours[i])
    ax.axvline(d["performance"].median(), ls="--", lw=0.8, color="#888")
    ax.axhline(d["importance"].median(), ls="--", lw=0.8, color="#888")
    ax.text(0.01, 0.98, "priority: important, rated low", transform=ax.transAxes, va="top",
            fontsize=8, color=PALETTE[1])
    ax.margins(x=0.25, y=0.2)
    ax.set_xlabel("Performance: mean rating (1–5)")
    ax.set_ylabel("Importance (share of R²)")
    ax.set_title("Importance against performance")
    return fig
