"""Retention figures: Kaplan–Meier curves, cohort retention heatmap, forest plot of hazard ratios,
stacked cumulative incidence of churn by cause.

Inputs are the tidy tables of :mod:`cxlib.stats.km`, :mod:`cxlib.stats.competing`,
:mod:`cxlib.analyses.retention` and :mod:`cxlib.analyses.hazards` (suppressed groups are already
absent there).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from cxlib.plots import HATCHES, LINESTYLES, MARKERS, PALETTE, SEQUENTIAL
from cxlib.text.names import display_name

__all__ = ["cause_incidence_stack", "cohort_heatmap", "forest_plot", "km_curves"]

_RATIO_TICKS = (0.05, 0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0)
_PCT = FuncFormatter(lambda v, _: f"{100 * v:.0f}%")


def km_curves(curves: pd.DataFrame, groups: Sequence[str] | None = None, labels: dict[str, str] | None = None,
              title: str = "Retention by tenure (Kaplan–Meier, 95% interval)", max_days: int | None = None) -> Figure:
    """Kaplan–Meier step curves with their pointwise intervals as bands.

    Parameters
    ----------
    curves : pandas.DataFrame
        ``group``, ``days``, ``survival``, ``ci_lower``, ``ci_upper`` (``KaplanMeierResult.curves``).
    groups : sequence of str, optional
        Groups to draw, in this order (default: all in the table).
    labels : dict, optional
        Legend text per group.
    max_days : int, optional
        Right end of the x axis.

    Examples
    --------
    >>> curves = pd.DataFrame({"group": "all", "days": [30, 90], "survival": [0.9, 0.8],
    ...                        "ci_lower": [0.85, 0.74], "ci_upper": [0.94, 0.85]})
    >>> fig = km_curves(curves)
    >>> fig.axes[0].get_ylabel()
    'Still a customer'
    >>> plt.close(fig)
    """
    groups = list(dict.fromkeys(curves["group"])) if groups is None else list(groups)
    fig, ax = plt.subplots(figsize=(8, 4.4))
    for i, group in enumerate(groups):
        g = curves[curves["group"] == group].sort_values("days")
        if g.empty:
            continue
        x = np.concatenate([[0], g["days"].to_numpy()])
        colour, style = PALETTE[i % len(PALETTE)], LINESTYLES[i % len(LINESTYLES)]  # style: a cue beyond colour
        label = display_name((labels or {}).get(group, group))
        ax.step(x, np.concatenate([[1.0], g["survival"].to_numpy()]), where="post", color=colour, lw=1.8, ls=style,
                label=label)
        ax.fill_between(x, np.concatenate([[1.0], g["ci_lower"].to_numpy()]),
                        np.concatenate([[1.0], g["ci_upper"].to_numpy()]), step="post", color=colour, alpha=0.18, lw=0)
    ax.set_xlim(0, max_days or ax.get_xlim()[1])
    ax.set_ylim(top=1.01)
    ax.yaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Tenure (days since signup)")
    ax.set_ylabel("Still a customer")
    ax.set_title(title)
    if len(groups) > 1:
        ax.legend(frameon=False, fontsize=9)
    return fig


def cause_incidence_stack(curves: pd.DataFrame, causes: Sequence[str], group: str = "all",
                          title: str = "Churn by cause over tenure (cumulative incidence, Aalen–Johansen)",
                          max_days: int | None = None) -> Figure:
    """The cumulative incidence of each cause stacked: together they are the share of customers who have churned.

    Each band's height is one cause's cumulative incidence (the share of customers who have left
    for that cause by that tenure); the top of the stack is 1 − retention (Kaplan–Meier).

    Parameters
    ----------
    curves : pandas.DataFrame
        ``group``, ``cause``, ``days``, ``cumulative_incidence`` (``CumulativeIncidenceResult.curves``).
    causes : sequence of str
        Stacking order, bottom first.
    group : str
        The group drawn.
    max_days : int, optional
        Right end of the x axis.

    Examples
    --------
    >>> curves = pd.DataFrame({"group": "all", "cause": ["a", "a", "b", "b"], "days": [30, 90, 30, 90],
    ...                        "cumulative_incidence": [0.05, 0.12, 0.02, 0.04]})
    >>> fig = cause_incidence_stack(curves, ["a", "b"])
    >>> fig.axes[0].get_ylabel(), [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ('Churned (share of customers)', ['a', 'b'])
    >>> plt.close(fig)
    """
    g = curves[curves["group"] == group]
    wide = g.pivot_table(index="days", columns="cause", values="cumulative_incidence", aggfunc="first")
    wide = wide.reindex(columns=[c for c in causes if c in wide.columns]).sort_index().ffill().fillna(0.0)
    x = np.concatenate([[0], wide.index.to_numpy(float)])
    fig, ax = plt.subplots(figsize=(8, 4.4))
    bottom = np.zeros(len(x))
    for i, cause in enumerate(wide.columns):
        top = bottom + np.concatenate([[0.0], wide[cause].to_numpy(float)])
        # the hatch pattern tells the causes apart without colour
        ax.fill_between(x, bottom, top, step="post", facecolor=PALETTE[i % len(PALETTE)], alpha=0.85, lw=0,
                        hatch=HATCHES[i % len(HATCHES)], edgecolor="white", label=display_name(cause))
        bottom = top
    ax.step(x, bottom, where="post", color="#333", lw=1.2)
    ax.set_xlim(0, max_days or (x[-1] if len(x) > 1 else 1))
    ax.set_ylim(0, max(0.05, float(bottom.max()) * 1.1))
    ax.yaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Tenure (days since signup)")
    ax.set_ylabel("Churned (share of customers)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=9, loc="upper left", title="cause", title_fontsize=9)
    return fig


def cohort_heatmap(grid: pd.DataFrame, title: str = "Retention by signup cohort (Kaplan–Meier)") -> Figure:
    """Retention of each signup cohort (rows) at tenures every few months (columns).

    Parameters
    ----------
    grid : pandas.DataFrame
        ``cohort``, ``days``, ``survival`` (:func:`cxlib.analyses.retention.cohort_retention`); a cohort's
        row stops where its follow-up ends.

    Examples
    --------
    >>> grid = pd.DataFrame({"cohort": ["2025Q1", "2025Q1", "2025Q2"], "days": [90, 180, 90],
    ...                      "survival": [0.91, 0.84, 0.88]})
    >>> fig = cohort_heatmap(grid)
    >>> fig.axes[0].get_ylabel()
    'Signup quarter'
    >>> plt.close(fig)
    """
    table = grid.pivot(index="cohort", columns="days", values="survival").sort_index()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * table.shape[1] + 2), max(2.5, 0.34 * table.shape[0] + 1.4)))
    sns.heatmap(table, ax=ax, cmap=SEQUENTIAL, vmin=float(np.nanmin(table.to_numpy())) if table.size else 0, vmax=1,
                annot=table.map(lambda v: "" if pd.isna(v) else f"{100 * v:.0f}"), fmt="", annot_kws={"size": 8},
                cbar_kws={"label": "still a customer", "format": _PCT}, linewidths=0.5, linecolor="white")
    ax.grid(False)
    ax.set_xlabel("Tenure (days since signup)")
    ax.set_ylabel("Signup quarter")
    ax.set_title(title)
    return fig


def forest_plot(hazard_ratios: pd.DataFrame, title: str = "Hazard ratios of churn (95% interval, log scale)",
                highlight: Sequence[str] = ()) -> Figure:
    """Hazard ratios with intervals, one row per term; several models are drawn side by side.

    Parameters
    ----------
    hazard_ratios : pandas.DataFrame
        ``model``, ``term``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``.
    highlight : sequence of str
        Terms drawn in bold (e.g. the exposures).

    Examples
    --------
    >>> hr = pd.DataFrame({"model": "touchpoints", "term": ["poor_billing", "plan[premium]"],
    ...                    "hazard_ratio": [2.06, 0.71], "ci_lower": [1.91, 0.6], "ci_upper": [2.21, 0.84]})
    >>> fig = forest_plot(hr, highlight=["poor_billing"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['poor_billing', 'plan[premium]']
    >>> plt.close(fig)
    """
    df = hazard_ratios.dropna(subset=["hazard_ratio"])
    terms = list(dict.fromkeys(df["term"]))
    models = list(dict.fromkeys(df["model"]))
    fig, ax = plt.subplots(figsize=(8, 0.36 * len(terms) + 1.4))
    step = 0.6 / max(len(models), 1)
    for j, model in enumerate(models):
        m = df[df["model"] == model].set_index("term").reindex(terms)
        y = np.arange(len(terms)) + (j - (len(models) - 1) / 2) * step
        colour, marker = PALETTE[j % len(PALETTE)], MARKERS[j % len(MARKERS)]
        ax.errorbar(m["hazard_ratio"], y, xerr=[m["hazard_ratio"] - m["ci_lower"], m["ci_upper"] - m["hazard_ratio"]],
                    fmt=marker, color=colour, ms=5, capsize=2.5, lw=1.4, label=display_name(model))
    ax.axvline(1.0, color="#555", lw=1, ls="--")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [t for t in _RATIO_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(np.arange(len(terms)), [display_name(t) for t in terms])
    bold = {i for i, t in enumerate(terms) if t in set(highlight)}
    for i, label in enumerate(ax.get_yticklabels()):
        if i in bold:
            label.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlabel("Hazard ratio (churn rate relative to the reference)")
    ax.set_title(title)
    if len(models) > 1:
        ax.legend(frameon=False, fontsize=9, loc="best")
    return fig
