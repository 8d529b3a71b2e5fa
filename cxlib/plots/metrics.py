"""Figures of the touchpoint portfolio (section 01). Input: the published ``metrics.csv`` table
(or a view of it); suppressed cells carry no value and are never drawn.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> fig = top2_heatmap(_example(), ["2026Q2", "2026Q3"])
>>> fig.axes[0].get_title()
'Top-2-box CSAT by touchpoint and period'
>>> plt.close(fig)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import PercentFormatter

from cxlib.plots import MARKERS, NPS_COLOURS, PALETTE, SEQUENTIAL, STATUS_COLOURS, STATUS_SYMBOLS
from cxlib.results import ALL
from cxlib.text.format import display_order, format_value
from cxlib.text.names import display_name
from cxlib.text.vocabulary import SPECS, metric_title

MAX_ANNOTATED_PERIODS = 20
MAX_WIDTH = 12.0
MAX_TICKS = 24


def _overall(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Shown rows of ``metric`` at channel and segment ``all``, period by period."""
    m = metrics[(metrics["metric"] == metric) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                & (metrics["period"] != ALL)]
    return m[~m["suppressed"].astype(bool) & m["value"].notna()]


def _width(inches: float) -> float:
    """Figures grow with the number of periods, within what a report page shows legibly."""
    return min(max(inches, 6.0), MAX_WIDTH)


def _tick_step(periods: Sequence[str]) -> int:
    return max(1, -(-len(periods) // MAX_TICKS))


def _example() -> pd.DataFrame:
    """A small published metrics table (two quarters, two touchpoints, NPS), for the examples."""
    rows = [(q, tp, "csat_top2", v) for q, tp, v in (("2026Q2", "app", 0.70), ("2026Q3", "app", 0.74),
                                                      ("2026Q2", "billing", 0.66), ("2026Q3", "billing", 0.58))]
    rows += [(q, ALL, m, v) for q in ("2026Q2", "2026Q3") for m, v in
             (("nps", 18.0), ("nps_promoters", 0.41), ("nps_passives", 0.36), ("nps_detractors", 0.23))]
    m = pd.DataFrame(rows, columns=["period", "touchpoint", "metric", "value"])
    return m.assign(channel=ALL, segment=ALL, n=400, ci_lower=m["value"] * 0.95, ci_upper=m["value"] * 1.05,
                    suppressed=False)


def top2_heatmap(metrics: pd.DataFrame, periods: Sequence[str], touchpoints: Sequence[str] | None = None,
                 metric: str = "csat_top2") -> Figure:
    """Touchpoint x period heatmap of a share (top-2-box CSAT by default); blank where suppressed.

    Parameters
    ----------
    metrics : DataFrame
        The published metrics table.
    periods : sequence of str
        Columns, in order (``Portfolio.periods``).
    touchpoints : sequence of str, optional
        Row order; touchpoints not listed follow alphabetically.
    metric : str
        A share metric.

    Examples
    --------
    >>> fig = top2_heatmap(_example(), ["2026Q2", "2026Q3"], ["billing"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['billing', 'app']
    >>> plt.close(fig)
    >>> fig = top2_heatmap(_example().assign(value=None), ["2026Q2", "2026Q3"])  # nothing rated: says so
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['No touchpoint has a top-2-box CSAT value to show']
    >>> plt.close(fig)
    """
    rows = _overall(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL]
    grid = rows.pivot(index="touchpoint", columns="period", values="value")
    grid = grid.reindex(index=display_order(list(grid.index), touchpoints), columns=list(periods))
    fig, ax = plt.subplots(figsize=(_width(0.55 * len(periods) + 2.5), 0.5 * max(len(grid), 1) + 1.8))
    if not grid.notna().to_numpy().any():  # nothing rated (or all suppressed): seaborn cannot scale colours
        ax.axis("off")
        ax.text(0.5, 0.5, f"No touchpoint has a {SPECS[metric].label} value to show", ha="center", va="center")
        ax.set_title(f"{metric_title(metric)} by touchpoint and period")
        return fig
    annotate = len(periods) <= MAX_ANNOTATED_PERIODS
    sns.heatmap(grid * 100, ax=ax, cmap=SEQUENTIAL, mask=grid.isna(), annot=annotate, fmt=".0f",
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": f"{SPECS[metric].label} (%)", "shrink": 0.8})
    ax.set_yticks(np.arange(len(grid)) + 0.5, [display_name(t) for t in grid.index], rotation=0)
    step = _tick_step(periods)
    ax.set_xticks(np.arange(0, len(periods), step) + 0.5, [display_name(p) for p in periods][::step], rotation=90)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(f"{metric_title(metric)} by touchpoint and period")
    return fig


def trend_lines(metrics: pd.DataFrame, periods: Sequence[str], metric: str = "csat_top2",
                touchpoints: Sequence[str] | None = None, level: float = 0.95) -> Figure:
    """One line per touchpoint over the periods, with its interval as a shaded band.

    A suppressed period breaks the line instead of being bridged.

    Examples
    --------
    >>> fig = trend_lines(_example(), ["2026Q2", "2026Q3"])
    >>> fig.axes[0].get_title(), len(fig.axes[0].get_lines())
    ('Top-2-box CSAT over time, 95% intervals', 2)
    >>> plt.close(fig)
    """
    rows = _overall(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL]
    pos = {p: i for i, p in enumerate(periods)}
    fig, ax = plt.subplots(figsize=(_width(0.35 * len(periods) + 4.5), 4.2))
    for k, tp in enumerate(display_order(rows["touchpoint"].unique().tolist(), touchpoints)):
        r = rows[rows["touchpoint"] == tp].set_index("period").reindex(list(periods))
        x = np.array([pos[p] for p in r.index], dtype=float)
        colour, marker = PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]
        ax.plot(x, r["value"], marker=marker, markersize=4, color=colour, label=display_name(tp))
        ax.fill_between(x, r["ci_lower"], r["ci_upper"], color=colour, alpha=0.15, linewidth=0)
    step = _tick_step(periods)
    ax.set_xticks(range(0, len(periods), step), [display_name(p) for p in periods][::step], rotation=45, ha="right")
    if SPECS[metric].kind == "proportion":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(SPECS[metric].label)
    ax.set_title(f"{metric_title(metric)} over time, {level:.0%} intervals")
    ax.legend(title="touchpoint", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def nps_composition(metrics: pd.DataFrame, periods: Sequence[str], segment: str = ALL) -> Figure:
    """Stacked shares of detractors, passives and promoters per period, NPS written above each bar.

    Examples
    --------
    >>> fig = nps_composition(_example(), ["2026Q2", "2026Q3"])
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['+18', '+18']
    >>> plt.close(fig)
    """
    parts = metrics[(metrics["segment"] == segment) & (metrics["period"] != ALL)
                    & metrics["metric"].isin([*NPS_COLOURS, "nps"]) & ~metrics["suppressed"].astype(bool)]
    wide = parts.pivot(index="period", columns="metric", values="value").reindex(list(periods))
    fig, ax = plt.subplots(figsize=(_width(0.4 * len(periods) + 3.0), 4.2))
    x = np.arange(len(periods))
    bottom = np.zeros(len(periods))
    for metric, colour in NPS_COLOURS.items():
        share = wide[metric].to_numpy(dtype=float) if metric in wide else np.full(len(periods), np.nan)
        ax.bar(x, np.nan_to_num(share), bottom=bottom, color=colour, width=0.8, label=SPECS[metric].label)
        bottom += np.nan_to_num(share)
    if "nps" in wide and len(periods) <= MAX_ANNOTATED_PERIODS:
        for xi, v in zip(x, wide["nps"]):
            if pd.notna(v):
                ax.text(xi, 1.01, format_value("nps", v), ha="center", va="bottom", fontsize=7)
    step = _tick_step(periods)
    ax.set_xticks(x[::step], [display_name(p) for p in periods][::step], rotation=45, ha="right")
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("share of responses")
    ax.set_title("NPS composition by period" + (" (NPS above each bar)" if len(periods) <= MAX_ANNOTATED_PERIODS else ""))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def portfolio_table(grid: pd.DataFrame, level: float = 0.95) -> Figure:
    """The portfolio as a table: a row per touchpoint, a column per metric, cells coloured by target status.

    Parameters
    ----------
    grid : DataFrame
        :func:`cxlib.analyses.portfolio.portfolio_grid`: ``touchpoint, metric, value, ci_lower, ci_upper,
        suppressed, target, status`` in row and column order. Cells without a target stay white;
        suppressed cells show a dash.
    level : float
        Confidence level of the intervals, for the title.

    Examples
    --------
    >>> grid = pd.DataFrame({"touchpoint": ["all", "billing"], "metric": "csat_top2", "value": [0.62, 0.58],
    ...                      "ci_lower": [0.6, 0.52], "ci_upper": [0.64, 0.64], "suppressed": False,
    ...                      "target": [0.7, None], "status": ["missed", None]})
    >>> fig = portfolio_table(grid)
    >>> [t.get_text() for t in fig.axes[0].texts][:5]
    ['top-2-box CSAT', 'all', '✗', '62.0%', '60.0% – 64.0%']
    >>> plt.close(fig)
    """
    rows = list(dict.fromkeys(grid["touchpoint"]))
    cols = list(dict.fromkeys(grid["metric"]))
    cell = grid.set_index(["touchpoint", "metric"])
    width = 1.6 + 1.25 * len(cols)
    fig, ax = plt.subplots(figsize=(width, 0.55 * (len(rows) + 1) + 0.9))
    ax.set_xlim(0, 1.3 + len(cols))
    ax.set_ylim(len(rows) + 1, 0)
    ax.axis("off")
    for j, metric in enumerate(cols):
        ax.text(1.3 + j + 0.5, 0.5, SPECS[metric].label, ha="center", va="center", fontsize=8, fontweight="bold", wrap=True)
    for i, tp in enumerate(rows, start=1):
        ax.text(0.05, i + 0.5, display_name(tp), ha="left", va="center", fontsize=9,
                fontweight="bold" if tp == ALL else "normal")
        for j, metric in enumerate(cols):
            c = cell.loc[(tp, metric)] if (tp, metric) in cell.index else None
            status = None if c is None else c["status"]
            face = STATUS_COLOURS[status] if isinstance(status, str) else "white"
            ax.add_patch(Rectangle((1.3 + j + 0.03, i + 0.05), 0.94, 0.9, facecolor=face,
                                   alpha=0.3 if isinstance(status, str) else 1.0, edgecolor="#dddddd"))
            if status in STATUS_SYMBOLS:  # the status without relying on colour
                ax.text(1.3 + j + 0.92, i + 0.12, STATUS_SYMBOLS[status], ha="right", va="top", fontsize=7,
                        color="#333333")
            if c is None or (not bool(c["suppressed"]) and pd.isna(c["value"])):
                continue
            if bool(c["suppressed"]):
                ax.text(1.3 + j + 0.5, i + 0.5, "—", ha="center", va="center", fontsize=9, color="#777777")
                continue
            ax.text(1.3 + j + 0.5, i + 0.4, format_value(metric, c["value"]), ha="center", va="center", fontsize=9)
            if pd.notna(c["ci_lower"]):
                ci = f"{format_value(metric, c['ci_lower'])} – {format_value(metric, c['ci_upper'])}"
                ax.text(1.3 + j + 0.5, i + 0.75, ci, ha="center", va="center", fontsize=6, color="#555555")
    handles = [Patch(facecolor=colour, alpha=0.3, label=f"{STATUS_SYMBOLS[status]} {status}")
               for status, colour in STATUS_COLOURS.items()]
    handles.append(Patch(facecolor="white", edgecolor="#dddddd", label="no target"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), frameon=False, fontsize=8)
    ax.set_title(f"Portfolio against targets (value, {level:.0%} interval)")
    return fig
