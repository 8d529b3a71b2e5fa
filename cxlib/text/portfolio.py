"""Sentences and display tables of the touchpoint portfolio (section 01).

Plain text built from the published tables (``metrics.csv``, ``metric_changes.csv``,
``metric_targets.csv``); the notebook shows them through :func:`cxlib.text.display.sentence`, which
escapes them. Names from the data go through :func:`cxlib.text.names.display_name`. Metric names come from :mod:`cxlib.text.vocabulary`, numbers from
:func:`cxlib.text.format.format_value` and :func:`~cxlib.text.format.format_difference`.

Examples
--------
>>> describe_coverage(("2026Q2", "2026Q3"), "quarter", 1204, 10, 31, 12)[:60]
'The portfolio covers 2 quarters, from 2026Q2 to 2026Q3, in 1'
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cxlib.results import ALL
from cxlib.text.format import format_difference, format_value
from cxlib.text.names import display_name as _n
from cxlib.text.vocabulary import SPECS, metric_title

NO_RATINGS = ("No interaction has a CSAT rating that can be shown (csat is empty in every row, or every rated "
              "cell is suppressed), so the CSAT heatmap and trends are left out; volumes and the other metrics "
              "are shown. Check that the export carries the csat column's values.")


def has_ratings(metrics: pd.DataFrame) -> bool:
    """True when some shown cell has a CSAT value: the CSAT map, trends and their sentences have something
    to show (valid data may have none, when no interaction is rated; the section then says so, :data:`NO_RATINGS`).

    Examples
    --------
    >>> has_ratings(_metrics_example()), has_ratings(_metrics_example().assign(value=None))
    (True, False)
    """
    return bool((metrics["metric"].isin(["csat_mean", "csat_top2"]) & metrics["value"].notna()).any())


CHANGE_VIEW_COLUMNS = ["touchpoint", "channel", "segment", "metric", "before", "now", "change", "interval",
                       "test", "q_value"]


def _top(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Shown rows of ``metric`` at channel and segment ``all``, period by period."""
    return metrics[(metrics["metric"] == metric) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & (metrics["period"] != ALL) & ~metrics["suppressed"].astype(bool)]


def _metrics_example() -> pd.DataFrame:
    """Two quarters of two touchpoints and NPS, for the examples."""
    rows = [("2026Q2", "app", "csat_top2", 0.70), ("2026Q3", "app", "csat_top2", 0.74),
            ("2026Q2", "billing", "csat_top2", 0.66), ("2026Q3", "billing", "csat_top2", 0.58),
            ("2026Q3", "all", "nps", 18.0), ("2026Q3", "all", "nps_promoters", 0.41),
            ("2026Q3", "all", "nps_detractors", 0.23)]
    m = pd.DataFrame(rows, columns=["period", "touchpoint", "metric", "value"])
    return m.assign(channel=ALL, segment=ALL, n=400, ci_lower=m["value"] - 3, ci_upper=m["value"] + 3,
                    suppressed=False)


def describe_coverage(periods: Sequence[str], period: str, rows: int, min_cell_size: int,
                      suppressed_primary: int, suppressed_secondary: int, protection_width: int | None = None) -> str:
    """What the portfolio covers: its periods, its rows and how many rows suppression hides.

    Examples
    --------
    >>> describe_coverage(("2026Q3",), "quarter", 40, 10, 2, 1)
    'The portfolio covers 1 quarter, 2026Q3, in 40 rows of metrics.csv. 2 rows with fewer than 10 observations or customers are suppressed, and 1 more (secondary suppression) so that no suppressed count can be narrowed down to a range narrower than 10 from the published tables, this run or the previous one (checked by linear programming in every run).'
    """
    span = (f"1 {period}, {periods[0]}" if len(periods) == 1
            else f"{len(periods)} {period}s, from {periods[0]} to {periods[-1]}")
    width = min_cell_size if protection_width is None else protection_width
    return (f"The portfolio covers {span}, in {rows:,} rows of metrics.csv. {suppressed_primary:,} rows with fewer "
            f"than {min_cell_size} observations or customers are suppressed, and {suppressed_secondary:,} more "
            f"(secondary suppression) so that no suppressed count can be narrowed down to a range narrower than "
            f"{width} from the published tables, this run or the previous one (checked by linear programming in "
            "every run).")


def describe_heatmap(metrics: pd.DataFrame, period: str, metric: str = "csat_top2") -> str:
    """Which touchpoint scores lowest and highest in ``period``, and the lowest cell of the whole map.

    Examples
    --------
    >>> describe_heatmap(_metrics_example(), "2026Q3")
    'In 2026Q3, top-2-box CSAT is lowest for billing (58.0%) and highest for app (74.0%); the lowest cell of the map is billing in 2026Q3 (58.0%).'
    """
    rows = _top(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL]
    now = rows[rows["period"] == period].sort_values("value")
    if now.empty:
        return f"No touchpoint has enough rated interactions in {period} to show its {SPECS[metric].label}."
    low, high = now.iloc[0], now.iloc[-1]
    worst = rows.sort_values("value").iloc[0]
    return (f"In {period}, {SPECS[metric].label} is lowest for {_n(low['touchpoint'])} "
            f"({format_value(metric, low['value'])}) and highest for {_n(high['touchpoint'])} "
            f"({format_value(metric, high['value'])}); the lowest cell of the map is {_n(worst['touchpoint'])} "
            f"in {worst['period']} ({format_value(metric, worst['value'])}).")


def describe_trend(metrics: pd.DataFrame, metric: str = "csat_top2", level: float = 0.95) -> str:
    """The touchpoint whose metric moved most between its first and last shown period.

    Examples
    --------
    >>> describe_trend(_metrics_example())
    'Top-2-box CSAT moved most for billing: from 66.0% in 2026Q2 to 58.0% in 2026Q3 (−8.0 pts); shaded bands are 95% intervals.'
    """
    rows = _top(metrics, metric)
    rows = rows[rows["touchpoint"] != ALL].sort_values("period")
    ends = rows.groupby("touchpoint").agg(first=("period", "first"), last=("period", "last"),
                                          start=("value", "first"), end=("value", "last"))
    ends = ends[ends["first"] != ends["last"]]
    if ends.empty:
        return f"No touchpoint has {SPECS[metric].label} in more than one period yet."
    ends["move"] = ends["end"] - ends["start"]
    tp = ends["move"].abs().idxmax()
    r = ends.loc[tp]
    return (f"{metric_title(metric)} moved most for {_n(tp)}: from {format_value(metric, r['start'])} "
            f"in {r['first']} to {format_value(metric, r['end'])} in {r['last']} "
            f"({format_difference(metric, r['move'])}); shaded bands are {level:.0%} intervals.")


def describe_nps(metrics: pd.DataFrame, changes: pd.DataFrame, period: str, level: float = 0.95) -> str:
    """NPS of ``period`` with its interval and composition, and whether it changed significantly.

    Examples
    --------
    >>> describe_nps(_metrics_example(), pd.DataFrame(columns=["metric", "period", "segment"]), "2026Q3")
    'In 2026Q3, NPS is +18 (95% CI +15 to +21, n = 400): 41.0% promoters and 23.0% detractors; there is no previous period to compare with.'
    """
    rows = _top(metrics, "nps")
    rows = rows[(rows["touchpoint"] == ALL) & (rows["period"] == period)]
    if rows.empty:
        return f"There are too few survey responses in {period} to report NPS."
    r = rows.iloc[0]
    share = {m: _top(metrics, m).loc[lambda d: d["period"] == period, "value"] for m in ("nps_promoters", "nps_detractors")}
    ch = changes[(changes["metric"] == "nps") & (changes["period"] == period) & (changes["segment"] == ALL)]
    if ch.empty:
        change = "there is no previous period to compare with"
    else:
        c = ch.iloc[0]
        verdict = "a change that survives" if c["significant"] else "not a significant change after"
        change = (f"against {c['previous_period']} that is {format_difference('nps', c['difference'])}, "
                  f"{verdict} Benjamini–Hochberg")
    return (f"In {period}, NPS is {format_value('nps', r['value'])} ({level:.0%} CI {format_value('nps', r['ci_lower'])} to "
            f"{format_value('nps', r['ci_upper'])}, n = {int(r['n']):,}): {format_value('nps_promoters', share['nps_promoters'].iloc[0])} "
            f"promoters and {format_value('nps_detractors', share['nps_detractors'].iloc[0])} detractors; {change}.")


def describe_targets(targets: pd.DataFrame, level: float = 0.95) -> str:
    """How many targets are met, missed or undecided, and the largest shortfall.

    Examples
    --------
    >>> t = pd.DataFrame({"metric": ["nps", "csat_top2"], "touchpoint": ["all", "billing"], "target": [20.0, 0.7],
    ...                   "value": [18.0, 0.58], "gap": [-2.0, -0.12], "gap_lower": [-5.0, -0.16],
    ...                   "gap_upper": [1.0, -0.08], "status": ["can't tell", "missed"]})
    >>> describe_targets(t)
    "Of 2 target(s), 0 met, 1 missed and 1 can't tell yet (the 95% interval straddles the target or there is no value); the largest shortfall is top-2-box CSAT for billing: 58.0% against a target of 70.0% (gap −12.0 pts, 95% CI −16.0 pts to −8.0 pts)."
    """
    if targets.empty:
        return "No targets are set in the params file (key `targets`)."
    counts = targets["status"].value_counts()
    undecided = counts.get("can't tell", 0)
    text = (f"Of {len(targets)} target(s), {counts.get('met', 0)} met, {counts.get('missed', 0)} missed and "
            f"{undecided} can't tell yet (the {level:.0%} interval straddles the target or there is no value)")
    missed = targets[targets["status"] == "missed"]
    if missed.empty:
        return text + "."
    w = missed.assign(rel=missed["gap"] / missed["target"].abs().where(missed["target"] != 0, 1)).sort_values("rel").iloc[0]
    where = "overall" if w["touchpoint"] == ALL else f"for {_n(w['touchpoint'])}"
    return (text + f"; the largest shortfall is {SPECS[w['metric']].label} {where}: "
            f"{format_value(w['metric'], w['value'])} against a target of {format_value(w['metric'], w['target'])} "
            f"(gap {format_difference(w['metric'], w['gap'])}, {level:.0%} CI {format_difference(w['metric'], w['gap_lower'])} "
            f"to {format_difference(w['metric'], w['gap_upper'])}).")


def _changes_example() -> pd.DataFrame:
    """One significant change of billing's top-2-box CSAT into 2026Q3, for the examples."""
    return pd.DataFrame({
        "period": ["2026Q3"], "previous_period": ["2026Q2"], "touchpoint": ["billing"], "channel": [ALL],
        "segment": [ALL], "metric": ["csat_top2"], "test": ["two-proportion z"], "value_previous": [0.66],
        "value": [0.58], "difference": [-0.08], "ci_lower": [-0.12], "ci_upper": [-0.04], "q_value": [0.0004],
        "significant": [True]})


def describe_changes(changes: pd.DataFrame, period: str, fdr: float = 0.05) -> str:
    """How many changes were tested and survive Benjamini–Hochberg, and the strongest in ``period``.

    Examples
    --------
    >>> describe_changes(_changes_example(), "2026Q3")
    'Of 1 period-over-period comparisons in the table, 1 survive Benjamini–Hochberg at a false discovery rate of 5%; 1 of them are in 2026Q3. The strongest is top-2-box CSAT (touchpoint billing): 66.0% in 2026Q2 → 58.0% (−8.0 pts, q = 0.0004).'
    """
    if changes.empty:
        return "There is no earlier period to compare with, so no change is tested."
    now = changes[changes["period"] == period]
    sig = now[now["significant"]]
    text = (f"Of {len(changes):,} period-over-period comparisons in the table, {int(changes['significant'].sum()):,} "
            f"survive Benjamini–Hochberg at a false discovery rate of {fdr:.0%}; {len(sig):,} of them are in {period}")
    if sig.empty:
        return text + "."
    s = sig.sort_values("q_value").iloc[0]
    where = ", ".join(f"{d} {_n(s[d])}" for d in ("touchpoint", "channel", "segment") if s[d] != ALL) or "overall"
    return (text + f". The strongest is {SPECS[s['metric']].label} ({where}): "
            f"{format_value(s['metric'], s['value_previous'])} in {s['previous_period']} → "
            f"{format_value(s['metric'], s['value'])} ({format_difference(s['metric'], s['difference'])}, "
            f"q = {s['q_value']:.2g}).")


def describe_journey(view: pd.DataFrame, metric: str = "csat_top2") -> str:
    """The weakest step of the journey on ``metric`` and how many touchpoints changed significantly.

    ``view`` is a :func:`cxlib.analyses.portfolio.journey_view` table.

    Examples
    --------
    >>> view = pd.DataFrame({"stage": ["pay", "other"], "touchpoint": ["billing", "app"],
    ...                      "csat_top2": [0.58, 0.74], "changed": ["top-2-box CSAT −8.0 pts", ""]})
    >>> describe_journey(view)
    'Along the journey, the weakest step on top-2-box CSAT is billing (stage pay, 58.0%); 1 of 2 touchpoint(s) changed significantly since the previous period.'
    """
    shown = view.dropna(subset=[metric]) if metric in view else view.iloc[0:0]
    if shown.empty:
        return f"No touchpoint has enough rated interactions to show its {SPECS[metric].label} along the journey."
    w = shown.sort_values(metric).iloc[0]
    changed = int((view["changed"] != "").sum())
    return (f"Along the journey, the weakest step on {SPECS[metric].label} is {_n(w['touchpoint'])} "
            f"(stage {_n(w['stage'])}, {format_value(metric, w[metric])}); {changed} of {len(view)} touchpoint(s) "
            f"changed significantly since the previous period.")


def describe_breakdown(table: pd.DataFrame, metric: str, by: str = "channel") -> str:
    """The lowest and highest shown touchpoint x ``by`` cell of a breakdown table.

    ``table`` is a :func:`cxlib.analyses.portfolio.breakdown` table.

    Examples
    --------
    >>> t = pd.DataFrame({"touchpoint": ["app", "billing", "all"], "chat": [0.8, None, 0.7],
    ...                   "phone": [0.6, 0.5, 0.55], "all": [0.7, 0.5, 0.6]})
    >>> describe_breakdown(t, "csat_top2")
    'By channel, top-2-box CSAT ranges from 50.0% (billing, phone) to 80.0% (app, chat); a dash marks a cell that is suppressed or has no rated interactions.'
    """
    cells = table[table["touchpoint"] != ALL].drop(columns=[ALL]).melt(id_vars="touchpoint", var_name=by).dropna()
    if cells.empty:
        return f"No touchpoint x {by} cell is large enough to show."
    lo, hi = cells.sort_values("value").iloc[0], cells.sort_values("value").iloc[-1]
    return (f"By {by}, {SPECS[metric].label} ranges from {format_value(metric, lo['value'])} "
            f"({_n(lo['touchpoint'])}, {_n(lo[by])}) to {format_value(metric, hi['value'])} ({_n(hi['touchpoint'])}, "
            f"{_n(hi[by])}); a dash marks a cell that is suppressed or has no rated interactions.")


def format_columns(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Values as display text: columns named after a metric (or every numeric column, as ``metric``).

    With ``metric`` the other numeric columns are a breakdown's levels (channels, segments): names
    from the data, so their headers are shown through :func:`~cxlib.text.names.display_name`.

    Examples
    --------
    >>> format_columns(pd.DataFrame({"touchpoint": ["app"], "csat_top2": [0.71]}))["csat_top2"].tolist()
    ['71.0%']
    >>> format_columns(pd.DataFrame({"touchpoint": ["app"], "chat": [0.8]}), "csat_top2")["chat"].tolist()
    ['80.0%']
    >>> list(format_columns(pd.DataFrame({"touchpoint": ["app"], "x\u202e" * 30: [0.8]}), "csat_top2").columns)[1]
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
    """
    out = df.copy()
    names = {}
    for c in out.columns:
        m = c if c in SPECS else metric if metric and pd.api.types.is_numeric_dtype(out[c]) else None
        if m is not None:
            out[c] = out[c].map(lambda v, m=m: format_value(m, v))
        if m is not None and c not in SPECS:
            names[c] = _n(c)
    return out.rename(columns=names)


def change_view(changes: pd.DataFrame, period: str) -> pd.DataFrame:
    """The changes into ``period`` that survive Benjamini–Hochberg, as display text, strongest first.

    Examples
    --------
    >>> change_view(_changes_example(), "2026Q3").iloc[0][["metric", "before", "now", "change", "q_value"]].tolist()
    ['top-2-box CSAT', '66.0%', '58.0%', '−8.0 pts', '<0.001']
    """
    sig = changes[(changes["period"] == period) & changes["significant"].astype(bool)].sort_values("q_value")
    rows = [{
        "touchpoint": r.touchpoint, "channel": r.channel, "segment": r.segment, "metric": SPECS[r.metric].label,
        "before": format_value(r.metric, r.value_previous), "now": format_value(r.metric, r.value),
        "change": format_difference(r.metric, r.difference),
        "interval": f"{format_difference(r.metric, r.ci_lower)} to {format_difference(r.metric, r.ci_upper)}",
        "test": r.test, "q_value": "<0.001" if r.q_value < 0.001 else f"{r.q_value:.3f}",
    } for r in sig.itertuples()]
    return pd.DataFrame(rows, columns=CHANGE_VIEW_COLUMNS)


# the denominators of metrics.csv in words (the families of the disclosure audit)
DENOMINATOR_WORDS = {"n": "interactions", "rated": "rated interactions (CSAT)", "ces_n": "CES answers",
                     "resolved_n": "interactions with a resolution flag", "responses": "survey responses (NPS)"}


def format_audit(disclosure: dict) -> pd.DataFrame:
    """The disclosure audit as a table: one row per denominator, cells hidden as small and to protect them.

    Examples
    --------
    >>> format_audit({"families": {"n": {"primary": 2, "secondary": 5}}})
          denominator  small cells  protecting cells
    0  interactions            2                 5
    """
    fams = disclosure.get("families", {})
    return pd.DataFrame([{"denominator": DENOMINATOR_WORDS.get(f, f), "small cells": v["primary"],
                          "protecting cells": v["secondary"]} for f, v in fams.items()],
                        columns=["denominator", "small cells", "protecting cells"])


def describe_audit(disclosure: dict) -> str:
    """The audit's outcome in one sentence.

    Examples
    --------
    >>> describe_audit({"primary": 2, "secondary": 5, "narrowest_interval": 12.0, "passed": True,
    ...                 "protection_width": 10, "release_rule": True})
    'The audit passed: for every suppressed count, the narrowest range an outsider can derive from the published tables spans 12 (upper minus lower limit; at least 10 required); the periods the previous run had closed keep the suppression they were published with.'
    """
    if not disclosure.get("primary") and not disclosure.get("secondary"):
        return "No cell is small enough to be suppressed, so there is nothing to protect."
    narrow = disclosure.get("narrowest_interval")
    out = (f"The audit {'passed' if disclosure.get('passed') else 'failed'}: for every suppressed count, the narrowest "
           f"range an outsider can derive from the published tables spans {narrow:g} (upper minus lower limit; at "
           f"least {disclosure.get('protection_width')} required)")
    if disclosure.get("release_rule"):
        out += "; the periods the previous run had closed keep the suppression they were published with"
    return out + "."
