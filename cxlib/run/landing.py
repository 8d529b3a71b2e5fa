"""The landing page of a run, read at a glance: scorecard, forest plot, findings, changes since the last run.

Pure functions from result tables (``results/*.csv`` read into pandas) to what the Jinja2 templates in
``cxlib/run/templates/`` need, and the two renderers. The templates autoescape every value; the only
markup passed through is :class:`markupsafe.Markup` built here from escaped parts (the executive
summary's findings, escaped by :mod:`cxlib.run.summary`). Figures are embedded as data URIs so a page
opens offline, drawn with the Okabe–Ito palette (colour-blind safe) and marker shapes as a second cue,
and every image carries alt text generated from the sentence that reads it.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import matplotlib
import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from cxlib.plots import OKABE_ITO  # the figures' colour-blind-safe palette (Okabe–Ito)
from cxlib.results import ALL
from cxlib.run.layout import INDEX, RunFolder
from cxlib.text.format import fmt_interval, fmt_number, format_difference, format_value
from cxlib.text.names import display_name
from cxlib.text.vocabulary import SPECS

TEMPLATES = Path(__file__).with_name("templates")
KEY_METRICS = ("volume", "csat_top2", "csat_mean", "ces_mean", "resolution_rate", "nps")
EXPOSURE_PREFIX = "poor_"
_STATUS_CLASS = {"met": "met", "missed": "missed", "can't tell": "cant"}
CSS_DPI = 96  # CSS pixels per inch: an embedded figure's width and height attributes


# ---- scorecard -------------------------------------------------------------------------------------


@dataclass
class ScoreCell:
    """One metric of one touchpoint, as the scorecard shows it (all strings; empty when absent)."""

    metric: str
    value: str = ""
    interval: str = ""
    suppressed: bool = False
    status: str = ""
    status_class: str = ""
    target: str = ""
    change: str = ""
    change_direction: str = ""
    change_title: str = ""


@dataclass
class ScoreRow:
    """A touchpoint's row: ``touchpoint`` as in the data, ``label`` as shown."""

    touchpoint: str
    label: str
    cells: list[ScoreCell] = field(default_factory=list)


@dataclass
class Scorecard:
    """The one-glance table: a row per touchpoint (``all`` first), a column per key metric."""

    period: str
    columns: list[dict[str, str]]
    rows: list[ScoreRow]
    caption: str = ""
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        """Long form (touchpoint, metric, value, interval, suppressed, status, change) for tests and checks."""
        return pd.DataFrame([{"touchpoint": r.touchpoint, "metric": c.metric, "value": c.value,
                              "interval": c.interval, "suppressed": c.suppressed, "status": c.status,
                              "change": c.change} for r in self.rows for c in r.cells])


def _flag(v: Any) -> bool:
    return v is True or str(v).strip().lower() in ("true", "1")


def _latest(periods: pd.Series) -> str | None:
    p = periods.astype(str)
    p = p[p != ALL]
    return None if p.empty else p.max()


def scorecard(metrics: pd.DataFrame, changes: pd.DataFrame | None = None, targets: pd.DataFrame | None = None, *,
              period: str | None = None, touchpoints: Sequence[str] | None = None,
              columns: Sequence[str] = KEY_METRICS, fdr: float = 0.05) -> Scorecard:
    """Each touchpoint's key metrics in the latest period: value with interval, target status, BH change marker.

    Parameters
    ----------
    metrics : DataFrame
        ``metrics.csv``; rows at channel and segment ``all`` are used.
    changes : DataFrame, optional
        ``metric_changes.csv``; a change marker (▲/▼ with the difference) appears only where ``significant``
        is true, i.e. the change since the previous period survives Benjamini–Hochberg.
    targets : DataFrame, optional
        ``metric_targets.csv`` (status ``met``, ``missed`` or ``can't tell``).
    period : str, optional
        Default: the latest period in ``metrics``.
    touchpoints : sequence of str, optional
        Row order after ``all`` (default: the data's, sorted).
    columns : sequence of str
        Metrics to show, those present in the period (NPS exists only for ``all``).
    fdr : float
        The false discovery rate the changes were tested at (for the caption).

    Returns
    -------
    Scorecard
        Suppressed cells say ``suppressed`` and show no value, interval or change.

    Examples
    --------
    >>> m = pd.DataFrame({"period": "2026Q3", "touchpoint": ["all", "billing", "app"], "channel": "all",
    ...     "segment": "all", "metric": "csat_top2", "n": [900, 400, 5], "value": [0.6, 0.34, np.nan],
    ...     "ci_lower": [0.57, 0.3, np.nan], "ci_upper": [0.63, 0.39, np.nan], "suppressed": [False, False, True]})
    >>> ch = pd.DataFrame({"period": "2026Q3", "previous_period": "2026Q2", "touchpoint": ["billing", "all"],
    ...     "channel": "all", "segment": "all", "metric": "csat_top2", "difference": [-0.075, 0.01],
    ...     "ci_lower": [-0.09, -0.01], "ci_upper": [-0.06, 0.03], "q_value": [1e-9, 0.4], "significant": [True, False]})
    >>> t = pd.DataFrame({"metric": ["csat_top2"], "touchpoint": ["billing"], "period": ["2026Q3"],
    ...     "target": [0.7], "status": ["missed"]})
    >>> sc = scorecard(m, ch, t)
    >>> sc.to_frame().values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['all', 'csat_top2', '60.0%', '57.0% to 63.0%', False, '', ''],
     ['app', 'csat_top2', '', '', True, '', ''],
     ['billing', 'csat_top2', '34.0%', '30.0% to 39.0%', False, 'missed', '▼ −7.5 pts']]
    """
    period = period or _latest(metrics["period"]) or ""
    rows = metrics[(metrics["period"].astype(str) == period) & (metrics["channel"] == ALL)
                   & (metrics["segment"] == ALL)]
    present = [m for m in columns if m in set(rows["metric"])]
    found = [t for t in rows["touchpoint"].unique() if t != ALL]
    order = [t for t in (touchpoints or []) if t in found] + sorted(t for t in found if t not in (touchpoints or []))
    if ALL in set(rows["touchpoint"]):
        order = [ALL, *order]
    cells = {(r.touchpoint, r.metric): r for r in rows.itertuples(index=False)}
    goals = {}
    if targets is not None and len(targets):
        t = targets[targets["period"].astype(str) == period] if "period" in targets.columns else targets
        goals = {(r.touchpoint, r.metric): r for r in t.itertuples(index=False)}
    moved = {}
    if changes is not None and len(changes):
        c = changes[(changes["period"].astype(str) == period) & (changes["channel"] == ALL)
                    & (changes["segment"] == ALL) & changes["significant"].map(_flag)]
        moved = {(r.touchpoint, r.metric): r for r in c.itertuples(index=False)}
    out = []
    for tp in order:
        row = ScoreRow(tp, "All touchpoints" if tp == ALL else display_name(tp))
        for metric in present:
            cell = ScoreCell(metric)
            r = cells.get((tp, metric))
            fmt = (lambda v, m=metric: format_value(m, v)) if metric in SPECS else fmt_number
            if r is not None and _flag(r.suppressed):
                cell.suppressed = True
            elif r is not None and pd.notna(r.value):
                cell.value = fmt(r.value)
                if pd.notna(r.ci_lower) and pd.notna(r.ci_upper):
                    cell.interval = fmt_interval(r.ci_lower, r.ci_upper, fmt)
                ch = moved.get((tp, metric))
                if ch is not None:
                    diff = float(ch.difference)
                    words = format_difference(metric, diff) if metric in SPECS else fmt_number(diff)
                    cell.change = ("▲ " if diff > 0 else "▼ ") + words
                    cell.change_direction = "up" if diff > 0 else "down"
                    cell.change_title = (f"change since {ch.previous_period}: {words} (95% CI "
                                         f"{fmt_interval(ch.ci_lower, ch.ci_upper, fmt_number)}), q = {ch.q_value:.2g}; "
                                         "survives Benjamini–Hochberg")
            g = goals.get((tp, metric))
            if g is not None and isinstance(g.status, str):
                cell.status, cell.status_class = g.status, _STATUS_CLASS.get(g.status, "cant")
                cell.target = fmt(g.target)
            row.cells.append(cell)
        out.append(row)
    labels = [{"metric": m, "label": SPECS[m].label if m in SPECS else m} for m in present]
    caption = f"Key metrics per touchpoint, {period}: value, 95% interval, target status and significant change"
    note = (f"▲/▼ marks a change since the previous period that survives Benjamini–Hochberg at a {fdr:.0%} false "
            "discovery rate; no marker means no change beyond chance. Cells with too few responses are suppressed.")
    return Scorecard(period, labels, out, caption, note)


# ---- forest plot -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageData:
    """An embedded image: ``src`` (a ``data:image/png;base64,…`` URI), ``alt``, ``caption``, size in pixels."""

    src: str
    alt: str
    caption: str
    width: int
    height: int


def _touchpoint_terms(hazard_ratios: pd.DataFrame, model: str) -> pd.DataFrame:
    hr = hazard_ratios[(hazard_ratios["model"] == model) & hazard_ratios["term"].astype(str).str.startswith(EXPOSURE_PREFIX)]
    hr = hr.dropna(subset=["hazard_ratio", "ci_lower", "ci_upper"])
    hr = hr.assign(touchpoint=hr["term"].astype(str).str.removeprefix(EXPOSURE_PREFIX).map(display_name))
    return hr.sort_values("hazard_ratio", ascending=False).reset_index(drop=True)


def forest_sentence(hazard_ratios: pd.DataFrame, model: str = "touchpoints") -> str:
    """The sentence that reads the forest plot: each touchpoint's hazard ratio with its interval, highest first.

    Examples
    --------
    >>> hr = pd.DataFrame({"model": "touchpoints", "term": ["poor_billing", "poor_app", "plan[plus]"],
    ...     "hazard_ratio": [2.07, 1.03, 0.8], "ci_lower": [1.93, 0.94, 0.7], "ci_upper": [2.23, 1.13, 0.9]})
    >>> forest_sentence(hr)
    'Churn hazard ratio after a poor experience, highest first: billing 2.07 (95% CI 1.93 to 2.23), app 1.03 (0.94 to 1.13). Above 1 beyond chance: billing. Interval includes 1: app.'
    """
    hr = _touchpoint_terms(hazard_ratios, model)
    if hr.empty:
        return ""
    parts = [f"{r.touchpoint} {fmt_number(r.hazard_ratio)} ({'95% CI ' if i == 0 else ''}"
             f"{fmt_interval(r.ci_lower, r.ci_upper)})" for i, r in enumerate(hr.itertuples())]
    text = "Churn hazard ratio after a poor experience, highest first: " + ", ".join(parts) + "."
    groups = [("Above 1 beyond chance", hr["ci_lower"] > 1), ("Below 1 beyond chance", hr["ci_upper"] < 1),
              ("Interval includes 1", (hr["ci_lower"] <= 1) & (hr["ci_upper"] >= 1))]
    for words, mask in groups:
        if mask.any():
            text += f" {words}: {', '.join(hr.loc[mask, 'touchpoint'])}."
    return text


def forest_plot_png(hazard_ratios: pd.DataFrame, model: str = "touchpoints", *, window_days: int = 90,
                    dpi: int = 2 * 96) -> ImageData | None:
    """A compact forest plot of the touchpoint hazard ratios as an embedded PNG, with alt text.

    Drawn on a private Agg figure (no pyplot state) with math parsing off, so a touchpoint named
    ``$x$`` is shown literally. Okabe–Ito colours and marker shapes tell the three cases apart:
    interval above 1 (vermillion square), below 1 (blue diamond), including 1 (black circle).

    Parameters
    ----------
    hazard_ratios : DataFrame
        ``hazard_ratios.csv``; the ``poor_<touchpoint>`` terms of ``model`` are drawn.
    model : str
    window_days : int
        The exposure window (params ``exposure_window_days``), for the caption.
    dpi : int
        Rendering resolution; the page shows the figure at its size in CSS pixels (:data:`CSS_DPI`).

    Returns
    -------
    ImageData or None
        None when the model has no ``poor_<touchpoint>`` term.

    Examples
    --------
    >>> hr = pd.DataFrame({"model": "touchpoints", "term": ["poor_billing", "poor_app"],
    ...     "hazard_ratio": [2.07, 1.03], "ci_lower": [1.93, 0.94], "ci_upper": [2.23, 1.13]})
    >>> img = forest_plot_png(hr)
    >>> img.src.startswith("data:image/png;base64,"), img.alt.startswith("Forest plot"), img.width > 0
    (True, True, True)
    >>> forest_plot_png(hr.assign(model="covariates")) is None
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hr = _touchpoint_terms(hazard_ratios, model)
    if hr.empty:
        return None
    n = len(hr)
    # drawn at its display size (inches at CSS_DPI) and rendered at twice that for sharp text on
    # high-density screens and in print
    size = (4.4, 0.4 * n + 1.2)
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 9, "svg.fonttype": "none"}):
        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        y = np.arange(n)[::-1]
        styles = [("above 1", hr["ci_lower"] > 1, OKABE_ITO["vermillion"], "s"),
                  ("below 1", hr["ci_upper"] < 1, OKABE_ITO["blue"], "D"),
                  ("includes 1", (hr["ci_lower"] <= 1) & (hr["ci_upper"] >= 1), OKABE_ITO["black"], "o")]
        for label, mask, colour, marker in styles:
            m = mask.to_numpy()
            if not m.any():
                continue
            ax.hlines(y[m], hr["ci_lower"][m], hr["ci_upper"][m], color=colour, linewidth=2)
            ax.plot(hr["hazard_ratio"][m], y[m], linestyle="none", marker=marker, color=colour, markersize=6,
                    label=f"interval {label}")
        ax.axvline(1, color="#555555", linewidth=1, linestyle="--")
        ax.set_xscale("log")
        lo, hi = float(hr["ci_lower"].min()), float(hr["ci_upper"].max())
        ax.set_xlim(min(lo, 0.9) / 1.1, max(hi, 1.1) * 1.1)
        ticks = [t for t in (0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8) if min(lo, 0.9) / 1.1 <= t <= max(hi, 1.1) * 1.1]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks(y, list(hr["touchpoint"]))
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel("Churn hazard ratio after a poor experience\n(log scale, 95% interval)")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.legend(loc="outside lower center", ncol=3, fontsize=7, frameon=False)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    sentence = forest_sentence(hazard_ratios, model)
    src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    alt = "Forest plot of churn hazard ratios by touchpoint with 95% intervals on a log scale. " + sentence
    caption = (f"Hazard ratio of churn in the {window_days} days after a poor experience at each touchpoint, adjusted "
               f"for the other touchpoints and the customer attributes ({model} model); right of the dashed line "
               "means more churn.")
    return ImageData(src, alt, caption, round(size[0] * CSS_DPI), round(size[1] * CSS_DPI))


# ---- templates -------------------------------------------------------------------------------------


def when(timestamp: Any) -> str:
    """An ISO timestamp as a reader reads it (``29 November 2026, 07:47 UTC``); anything else as given.

    Examples
    --------
    >>> when("2026-11-29T07:47:15+00:00"), when("2026-11-29T08:47:15+01:00"), when("yesterday")
    ('29 November 2026, 07:47 UTC', '29 November 2026, 07:47 UTC', 'yesterday')
    """
    try:
        t = dt.datetime.fromisoformat(str(timestamp))
    except ValueError:
        return str(timestamp)
    if t.tzinfo is None:
        return f"{t:%d %B %Y, %H:%M}".lstrip("0")
    return f"{t.astimezone(dt.timezone.utc):%d %B %Y, %H:%M} UTC".lstrip("0")


def href(value: Any) -> str:
    """A relative link target made safe: every character but letters, digits and ``/._-~`` percent-encoded.

    A ``javascript:`` or ``//host`` value can then only ever be a relative path.

    Examples
    --------
    >>> href("02_retention.html"), href("javascript:alert(1)")
    ('02_retention.html', 'javascript%3Aalert%281%29')
    """
    text = quote(str(value), safe="/._-~")
    return text.lstrip("/") if text.startswith("//") else text


@cache
def environment() -> Environment:
    """The Jinja2 environment of the index pages: the templates folder, autoescaping on (HTML and ``.j2``).

    Examples
    --------
    >>> environment().from_string("{{ x }}").render(x="<b>")
    '&lt;b&gt;'
    """
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
        enabled_extensions=("html", "j2"), default_for_string=True, default=True), trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["href"] = href
    return env


def render_run_index(context: Mapping[str, Any]) -> str:
    """The run's ``index.html`` from a context (see :func:`run_index_context` for the keys).

    Examples
    --------
    >>> html = render_run_index({"title": "<img src=x onerror=alert(1)>", "run_id": "q3", "as_of": "2026-09-30",
    ...                          "sections": [{"html": "01_touchpoint_portfolio.html", "title": "Portfolio"}]})
    >>> "<img src=x" in html, "&lt;img src=x onerror=alert(1)&gt;" in html
    (False, True)
    """
    ctx = {"page_title": context.get("title", "CX report"), "headlines": [], "findings": [], "sections": [],
           "warnings": [], **context}
    return environment().get_template("run_index.html.j2").render(**ctx)


def render_reports_index(runs: Sequence[Mapping[str, Any]], title: str = "CX Workbook reports") -> str:
    """The output folder's ``index.html``: one row per run (``run_id``, ``title``, ``as_of``, ``ended``, ``status``).

    Examples
    --------
    >>> html = render_reports_index([{"run_id": "acme-2026Q3", "title": "<b>ACME</b>", "as_of": "2026-09-30"}])
    >>> '<a href="acme-2026Q3/index.html">' in html, "&lt;b&gt;ACME&lt;/b&gt;" in html, "<caption>" in html
    (True, True, True)
    """
    return environment().get_template("reports_index.html.j2").render(page_title=title, title=title, runs=list(runs))


def since_context(changes: pd.DataFrame | None, previous: Any = None) -> dict[str, Any] | None:
    """The "since the last run" block: sentences and table rows from ``changes_since_last_run.csv``.

    ``previous`` is a :class:`cxlib.run.compare.PreviousRun` (or anything with ``run_id`` and ``as_of``);
    None when there is no previous run (the block is then left out).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> s = since_context(pd.DataFrame(columns=["kind"]), SimpleNamespace(run_id="acme-2026Q2", as_of="2026-06-30"))
    >>> s["previous_href"], s["sentences"][0], s["rows"]
    ('../acme-2026Q2/index.html', 'No touchpoint metric changed beyond chance (Benjamini–Hochberg).', [])
    """
    from cxlib.text.changes import change_rows, change_sentences

    if previous is None:
        return None
    return {"previous_run_id": previous.run_id, "previous_as_of": str(previous.as_of),
            "previous_href": f"../{previous.run_id}/{INDEX}",
            "sentences": change_sentences(changes), "rows": change_rows(changes)}


def disclosure_lines(disclosure: Mapping[str, Any]) -> list[str]:
    """The disclosure audit's figures from ``manifest.json``, one line per published table that has them.

    Examples
    --------
    >>> disclosure_lines({"metrics": {"primary": 3, "secondary": 9, "narrowest_interval": 10.0, "passed": True,
    ...                                "protection_width": 10}})
    ['metrics.csv: 3 cells suppressed as small, 9 more to protect them; the narrowest interval an outsider can derive for a suppressed count spans 10 (at least 10 required); audit passed.']
    """
    lines = []
    for table, d in disclosure.items():
        if not isinstance(d, Mapping):
            continue
        narrow = d.get("narrowest_interval")
        primary = d.get("primary", 0)
        lines.append(f"{d.get('table', f'{table}.csv')}: {primary:,} {'cell' if primary == 1 else 'cells'} suppressed as small, "
                     f"{d.get('secondary', 0):,} more "
                     "to protect them; the narrowest interval an outsider can derive for a suppressed count spans "
                     f"{'—' if narrow is None else format(narrow, 'g')} (at least {d.get('protection_width')} required); "
                     f"audit {'passed' if d.get('passed') else 'FAILED'}.")
    return lines


def run_index_context(run_dir: Path, manifest: Mapping[str, Any], *, changes: pd.DataFrame | None = None,
                      previous: Any = None) -> dict[str, Any]:
    """Everything the run index shows, read from the run's manifest and ``results/*.csv``.

    Keys: ``title``, ``run_id``, ``as_of``, ``generated``, ``headlines``, ``scorecard``, ``forest``,
    ``findings`` (Markup: sentences escaped by :func:`cxlib.run.summary.executive_summary`), ``methods``,
    ``since``, ``sections`` (``html``, ``title``, ``warnings``, ``changes``), ``warnings``, ``excluded``,
    ``disclosure`` (:func:`disclosure_lines`).

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> ctx = run_index_context(run, {"title": "T", "run_id": "r", "as_of": "2026-09-30", "ended": "now",
    ...     "inputs": {}, "sections": [], "validation": {"violations": [], "mode": "fail"}})
    >>> ctx["scorecard"], ctx["forest"], ctx["since"]
    (None, None, None)
    """
    from cxlib.results import read_result
    from cxlib.run.compare import section_notes
    from cxlib.run.summary import executive_summary, headline_numbers

    results = RunFolder(Path(run_dir)).results
    metrics = read_result(results, "metrics")
    hr = read_result(results, "hazard_ratios")
    params = manifest.get("params", {}) or {}
    card = None
    if metrics is not None and len(metrics):
        card = scorecard(metrics, read_result(results, "metric_changes"), read_result(results, "metric_targets"),
                         touchpoints=params.get("touchpoints"))
    summary = executive_summary(Path(run_dir), dict(manifest)) if manifest.get("as_of") else {}
    notes = section_notes(changes) if previous is not None else {}
    sections = [{"html": s["html"], "title": s["title"], "warnings": s.get("warnings", []),
                 "changes": notes.get(Path(s.get("notebook", s["html"])).stem, "")}
                for s in manifest.get("sections", [])]
    validation = manifest.get("validation", {}) or {}
    excluded = None
    if validation.get("violations"):
        excluded = {"verb": "excluded" if validation.get("mode") == "exclude" else "found",
                    "rows": validation["violations"]}
    return {
        "title": manifest.get("title", manifest.get("run_id", "")), "run_id": manifest.get("run_id", ""),
        "as_of": manifest.get("as_of", ""), "generated": when(manifest.get("ended", "")),
        "headlines": headline_numbers(Path(run_dir), dict(manifest)) if manifest.get("inputs") is not None else [],
        "scorecard": card,
        "forest": forest_plot_png(hr, window_days=params.get("exposure_window_days", 90)) if hr is not None else None,
        "findings": [Markup(f) for f in summary.get("findings", [])],
        "methods": Markup(summary["methods"]) if summary.get("methods") else "",
        "since": since_context(changes, previous), "sections": sections,
        "warnings": [{"title": s["title"], "text": w} for s in manifest.get("sections", []) for w in s.get("warnings", [])],
        "excluded": excluded, "disclosure": disclosure_lines(manifest.get("disclosure") or {}),
    }
