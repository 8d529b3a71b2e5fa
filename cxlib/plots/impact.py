"""Figures of the impact section: attributable churn, what-if retention, and the metrics that matter.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = attributable_churn(_example())
>>> fig.axes[0].get_title()
'Churn attributable to poor experiences'
>>> plt.close(fig)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cxlib.plots import NEUTRAL, PALETTE
from cxlib.text.format import fmt_money
from cxlib.text.names import display_name


def _example() -> pd.DataFrame:
    """A tiny impact summary for the examples."""
    return pd.DataFrame({
        "touchpoint": ["billing", "support", "app"], "attributable_churn_share": [0.12, 0.05, 0.01],
        "attributable_churn_share_ci_lower": [0.09, 0.02, -0.01],
        "attributable_churn_share_ci_upper": [0.15, 0.08, 0.03],
        "churners_attributable": [60.0, 25.0, 5.0], "revenue_at_risk": [36000.0, 15000.0, 3000.0],
        "retention_gain": [0.02, 0.008, 0.001], "gain_ci_lower": [0.015, 0.004, -0.002],
        "gain_ci_upper": [0.025, 0.012, 0.004], "suppressed": [False, False, True],
    })


def _shown(summary: pd.DataFrame, value: str) -> pd.DataFrame:
    keep = summary[value].notna()
    if "suppressed" in summary:
        keep &= ~summary["suppressed"].astype(bool)
    return summary[keep]


def _hbar(ax: plt.Axes, labels: list[str], value: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour: str) -> None:
    y = np.arange(len(labels))
    ax.barh(y, value, color=colour, alpha=0.85)
    ax.errorbar(value, y, xerr=np.vstack([value - lo, hi - value]), fmt="none", ecolor="#333", capsize=3, lw=1)
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()


def attributable_churn(summary: pd.DataFrame, period_label: str = "the period", currency: str | None = None) -> Figure:
    """Attributable churn share per touchpoint with its interval, annotated with churners and revenue.

    Parameters
    ----------
    summary : DataFrame
        ``ImpactResult.summary`` (touchpoint, attributable_churn_share and its ``_ci_lower`` /
        ``_ci_upper``, churners_attributable, revenue_at_risk, suppressed); drawn in its order (by
        value at stake).
    period_label : str
        The reporting period, for the axis label.
    currency : str, optional
        ISO code of the revenue.

    Examples
    --------
    >>> fig = attributable_churn(_example())  # the suppressed row is not drawn
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['billing', 'support']
    >>> plt.close(fig)
    """
    d = _shown(summary, "attributable_churn_share")
    lo, hi = d["attributable_churn_share_ci_lower"].to_numpy(), d["attributable_churn_share_ci_upper"].to_numpy()
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(d) + 1.6))
    _hbar(ax, [display_name(t) for t in d["touchpoint"]], 100 * d["attributable_churn_share"].to_numpy(),
          100 * lo, 100 * hi, PALETTE[1])
    right = float(np.nanmax(np.r_[100 * hi, 0.1]))
    for y, (_, r) in enumerate(d.iterrows()):
        note = f"{r['churners_attributable']:,.0f} churners"
        if pd.notna(r["revenue_at_risk"]):
            note += f", {fmt_money(r['revenue_at_risk'], currency)} a year"
        ax.text(right * 1.05, y, note, va="center", fontsize=8, color="#444")
    ax.set_xlim(right=right * 1.6)
    ax.set_xlabel(f"Share of the churn of {period_label} attributable (%), 95% interval")
    ax.set_title("Churn attributable to poor experiences")
    return fig


def what_if_gain(summary: pd.DataFrame, reduction: float, days: int) -> Figure:
    """Gain in standardized retention at ``days`` if poor experiences fell by ``reduction``, with intervals.

    Examples
    --------
    >>> fig = what_if_gain(_example(), 0.5, 365)
    >>> fig.axes[0].get_title()
    'What if poor experiences fell by 50%'
    >>> plt.close(fig)
    """
    d = _shown(summary, "retention_gain").sort_values("retention_gain", ascending=False)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(d) + 1.6))
    _hbar(ax, [display_name(t) for t in d["touchpoint"]], 100 * d["retention_gain"].to_numpy(),
          100 * d["gain_ci_lower"].to_numpy(), 100 * d["gain_ci_upper"].to_numpy(), PALETTE[3])
    ax.set_xlabel(f"Retention at {days} days: gain in percentage points, 95% interval")
    ax.set_title(f"What if poor experiences fell by {reduction:.0%}")
    return fig


def metric_validity(summary: pd.DataFrame, labels: dict[str, str] | None = None) -> Figure:
    """Hazard ratio per SD of each candidate metric with intervals, ranked by concordance gain.

    Metrics whose interval excludes 1 are drawn in colour, the others in grey.

    Parameters
    ----------
    summary : DataFrame
        ``MetricValidityResult.summary``; rows without an estimate are not drawn.
    labels : dict, optional
        Readable metric names.

    Examples
    --------
    >>> s = pd.DataFrame({"metric": ["csat_mean", "ces_mean"], "touchpoint": ["all", "app"],
    ...                   "hazard_ratio_per_sd": [0.8, 1.02], "ci_lower": [0.7, 0.95], "ci_upper": [0.9, 1.1],
    ...                   "concordance_gain": [0.012, 0.0004]})
    >>> fig = metric_validity(s, {"csat_mean": "mean CSAT"})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['mean CSAT · all', 'ces_mean · app']
    >>> plt.close(fig)
    """
    d = _shown(summary, "hazard_ratio_per_sd")
    names = [f"{(labels or {}).get(m, m)} · {display_name(tp)}" for m, tp in zip(d["metric"], d["touchpoint"])]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(d) + 1.8))
    y = np.arange(len(d))
    hr = d["hazard_ratio_per_sd"].to_numpy()
    clear = (d["ci_upper"] < 1) | (d["ci_lower"] > 1)
    colours = np.where(clear, PALETTE[0], NEUTRAL)
    ax.errorbar(hr, y, xerr=np.vstack([hr - d["ci_lower"], d["ci_upper"] - hr]), fmt="none", ecolor=colours, lw=1.2)
    # filled where the interval excludes 1, hollow where it does not: readable without colour
    ax.scatter(hr[clear.to_numpy()], y[clear.to_numpy()], color=PALETTE[0], zorder=3, s=22)
    ax.scatter(hr[~clear.to_numpy()], y[~clear.to_numpy()], facecolors="white", edgecolors=NEUTRAL, zorder=3, s=22)
    ax.axvline(1, color="#555", lw=0.8, ls="--")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    for yi, gain in zip(y, d["concordance_gain"]):
        ax.annotate(f"+{gain:.3f}" if gain >= 0 else f"{gain:.3f}", (1, yi), xycoords=("axes fraction", "data"),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=7, color="#444")
    ax.set_xlabel("Hazard ratio of churn per standard deviation, 95% CI; right: concordance gain")
    ax.set_title("Which metrics predict churn")
    return fig
