"""Words for what changed since the last run (the rows of ``results/changes_since_last_run.csv``).

The rows are computed by :mod:`cxlib.run.compare` from two runs' result tables; this module only
phrases them: counted sentences per kind of change (for the index page and the sections) and
display strings for the index's table. Plain text, no HTML: the pages escape it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cxlib.results import ALL
from cxlib.text.format import fmt_interval, fmt_number, fmt_pct, format_value
from cxlib.text.names import display_name
from cxlib.text.vocabulary import SPECS

KINDS = ("metric", "hazard_ratio", "target", "attributable_churn")
KIND_LABELS = {"metric": "metric change", "hazard_ratio": "hazard ratio", "target": "target",
               "attributable_churn": "attributable churn"}
MAX_LISTED = 6  # items named in one sentence; more end in "…"


def _name(tp: object) -> str:
    if not isinstance(tp, str) or not tp:
        return ""
    return "all touchpoints" if tp == ALL else display_name(tp)


def _list(names: list[str]) -> str:
    shown = names[:MAX_LISTED]
    text = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return text + ("…" if len(names) > MAX_LISTED else "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _label(metric: object) -> str:
    return SPECS[metric].label if metric in SPECS else display_name(metric)


# the sentence of a kind of change when there is none
_NO_CHANGE = {
    "metric": "No touchpoint metric changed beyond chance (Benjamini–Hochberg).",
    "hazard_ratio": "No hazard ratio moved so far that the two runs’ 95% intervals stop overlapping.",
    "target": "No target was newly met or missed.",
    "attributable_churn": "Attributable churn did not move by a percentage point or more beyond the two runs’ "
                          "intervals at any touchpoint.",
}


def change_sentences(changes: pd.DataFrame | None, kinds: Sequence[str] = KINDS) -> list[str]:
    """Plain sentences that count the changes of each of ``kinds``, with their directions.

    A kind without any change gets a sentence that says so, so a reader can tell "nothing moved"
    from "not compared".

    Parameters
    ----------
    changes : DataFrame
        ``changes_since_last_run.csv`` (columns ``kind``, ``touchpoint``, ``metric_or_term``,
        ``direction``, and ``previous`` and ``current`` for attributable churn).
    kinds : sequence of str
        The kinds to speak of (a section speaks of its own).

    Examples
    --------
    >>> ch = pd.DataFrame([{"kind": "metric", "touchpoint": "billing", "metric_or_term": "csat_top2",
    ...     "direction": "down"}, {"kind": "target", "touchpoint": "all", "metric_or_term": "nps", "direction": "met"}])
    >>> change_sentences(ch)  # doctest: +NORMALIZE_WHITESPACE
    ['1 metric changed beyond chance (Benjamini–Hochberg): 0 up, 1 down (billing top-2-box CSAT down).',
     'No hazard ratio moved so far that the two runs’ 95% intervals stop overlapping.',
     '1 target newly met (all touchpoints NPS).',
     'Attributable churn did not move by a percentage point or more beyond the two runs’ intervals at any touchpoint.']
    >>> change_sentences(ch.iloc[:0], kinds=["metric", "target"])  # doctest: +NORMALIZE_WHITESPACE
    ['No touchpoint metric changed beyond chance (Benjamini–Hochberg).', 'No target was newly met or missed.']
    """
    ch = changes if changes is not None and len(changes) else pd.DataFrame(
        columns=["kind", "touchpoint", "metric_or_term", "direction", "previous", "current"])
    out = []
    for kind in kinds:
        rows = ch[ch["kind"] == kind]
        if rows.empty:
            if kind in _NO_CHANGE:
                out.append(_NO_CHANGE[kind])
            continue
        if kind == "metric":
            up, down = int((rows["direction"] == "up").sum()), int((rows["direction"] == "down").sum())
            items = [f"{_name(t)} {_label(k)} {d}" for t, k, d in
                     zip(rows["touchpoint"], rows["metric_or_term"], rows["direction"])]
            out.append(f"{_count(len(rows), 'metric', 'metrics')} changed beyond chance (Benjamini–Hochberg): "
                       f"{up} up, {down} down ({_list(items)}).")
        elif kind == "hazard_ratio":
            items = [f"{_name(t) or display_name(term)} {d}"
                     for t, term, d in zip(rows["touchpoint"], rows["metric_or_term"], rows["direction"])]
            out.append(f"{_count(len(rows), 'hazard ratio', 'hazard ratios')} moved so far that the two runs’ 95% "
                       f"intervals no longer overlap: {_list(items)}.")
        elif kind == "target":
            for status in ("met", "missed"):
                s = rows[rows["direction"] == status]
                if len(s):
                    items = [f"{_name(tp)} {_label(k)}" for tp, k in zip(s["touchpoint"], s["metric_or_term"])]
                    out.append(f"{_count(len(s), 'target', 'targets')} newly {status} ({_list(items)}).")
        elif kind == "attributable_churn":
            items = [f"{_name(tp)} {d} ({fmt_pct(p)} → {fmt_pct(c)})" for tp, d, p, c in
                     zip(rows["touchpoint"], rows["direction"], rows["previous"], rows["current"])]
            out.append(f"Attributable churn moved by a percentage point or more, beyond the two runs’ intervals, for "
                       f"{_count(len(rows), 'touchpoint', 'touchpoints')}: {_list(items)}.")
    return out


def since_sentence(run_id: str, as_of: str) -> str:
    """The lead of a "since the last run" paragraph.

    Examples
    --------
    >>> since_sentence("demo-2026Q2", "2026-06-30")
    'Since the last run (demo-2026Q2, data as of 2026-06-30), from the two runs’ result tables:'
    """
    return f"Since the last run ({display_name(run_id, 100)}, data as of {as_of}), from the two runs’ result tables:"


def first_run_sentence() -> str:
    """What the index says when there is no earlier run to compare with.

    Examples
    --------
    >>> first_run_sentence()[:38]
    'This is the first report of its series'
    """
    return ("This is the first report of its series published here, so there is no earlier report to compare it "
            "with; the next one will say what changed since this one.")


def change_rows(changes: pd.DataFrame | None) -> list[dict[str, str]]:
    """The changes as display strings for the index page's table (kind, touchpoint, item, previous, current, …).

    Examples
    --------
    >>> ch = pd.DataFrame([{"kind": "hazard_ratio", "touchpoint": "billing", "metric_or_term": "poor_billing",
    ...     "previous": 1.5, "previous_ci_lower": 1.3, "previous_ci_upper": 1.7, "current": 2.0,
    ...     "current_ci_lower": 1.8, "current_ci_upper": 2.2, "direction": "up", "note": "apart"}])
    >>> change_rows(ch)[0]["previous"], change_rows(ch)[0]["current"]
    ('1.50 (1.30 to 1.70)', '2.00 (1.80 to 2.20)')
    """
    rows = []
    for _, r in (changes if changes is not None else pd.DataFrame()).iterrows():
        item = str(r["metric_or_term"])
        if r["kind"] in ("metric", "target") and item in SPECS:
            fmt, label = (lambda v, m=item: format_value(m, v)), SPECS[item].label
        elif r["kind"] == "attributable_churn":
            fmt, label = fmt_pct, "attributable churn share"
        else:
            fmt, label = fmt_number, display_name(item)

        def show(v, lo, hi, fmt=fmt):
            if v is None or pd.isna(v):
                return "—"
            text = fmt(v)
            return text if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) else f"{text} ({fmt_interval(lo, hi, fmt)})"

        rows.append({"kind": KIND_LABELS.get(r["kind"], str(r["kind"])), "touchpoint": _name(r["touchpoint"]),
                     "item": label,
                     "previous": show(r.get("previous"), r.get("previous_ci_lower"), r.get("previous_ci_upper")),
                     "current": show(r.get("current"), r.get("current_ci_lower"), r.get("current_ci_upper")),
                     "direction": str(r["direction"]), "note": "" if pd.isna(r.get("note")) else str(r["note"])})
    return rows


def section_note(n: int) -> str:
    """The index's note on a section that discusses ``n`` changes.

    Examples
    --------
    >>> section_note(1), section_note(3)
    ('1 change since the last run', '3 changes since the last run')
    """
    return f"{_count(n, 'change', 'changes')} since the last run"
