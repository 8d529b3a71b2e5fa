"""Since the last run: find the previous run of a series and say what changed, from result tables only.

A *series* is the runs of one base params file, one per quarter. ``cx run params/acme.yaml --quarter
2026Q3`` publishes ``acme-2026Q3``; the run before it in the series is the published run with the same
*base run_id* and the latest earlier ``as_of``:

* the base run_id is the run_id with a trailing quarter tag removed: a tag is ``YYYYQn`` (or
  ``YYYY-Qn``, any case) at the end of the run_id, either the whole run_id or after one of ``-``, ``_``
  or ``.``. So ``acme-2026Q3`` and ``acme_2026q2`` are in series ``acme``, ``2026Q3`` in the series
  of bare quarters (base ``""``), and a run_id without a tag (``demo``) is a series of its own;
* runs are ordered by their manifest's ``as_of`` (then ``ended``), never by name;
* params ``compare_with: <run_id>`` names the previous run explicitly, series or not.

:func:`changes_since_last_run` reads the two runs' ``results/*.csv`` and returns the table published as
``results/changes_since_last_run.csv`` (:data:`CHANGE_COLUMNS`), one row per change that counts:

``metric``
    a touchpoint metric (channel and segment ``all``) whose period-over-period change in a period the
    previous run had not seen survives Benjamini–Hochberg (``significant`` in the current run's
    ``metric_changes.csv``);
``hazard_ratio``
    a term of the ``touchpoints`` model whose 95% intervals in the two runs no longer overlap;
``target``
    a target newly ``met`` or newly ``missed`` (``metric_targets.csv`` status);
``attributable_churn``
    a touchpoint whose attributable churn share (``impact.csv``) moved by at least one percentage
    point, beyond the two runs' 95% intervals where both carry them (the note gives the churners).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxlib.errors import ParamsError
from cxlib.results import ALL, RESULT_COLUMNS, read_result
from cxlib.run.layout import MANIFEST, RunFolder, published_runs
from cxlib.text.changes import KINDS, section_note
from cxlib.text.format import fmt_number, format_difference, format_value
from cxlib.text.vocabulary import SPECS

CHANGES = "changes_since_last_run"  # results/<CHANGES>.csv
CHANGE_COLUMNS = RESULT_COLUMNS[CHANGES]  # results/changes_since_last_run.csv
# the section notebook (stem) that discusses each kind of change
SECTION_OF_KIND = {"metric": "01_touchpoint_portfolio", "target": "01_touchpoint_portfolio",
                   "hazard_ratio": "02_retention", "attributable_churn": "04_impact"}
EXPOSURE_PREFIX = "poor_"
SHARE_THRESHOLD = 0.01  # attributable churn share: a move of at least one percentage point is reported
_TAG = re.compile(r"(?:^|[-_.])(?P<year>\d{4})-?[Qq](?P<q>[1-4])$")


def series_of(run_id: str) -> tuple[str, str | None]:
    """A run_id's base run_id and its quarter tag (``None`` without one).

    Examples
    --------
    >>> series_of("acme-2026Q3"), series_of("acme_2026q2"), series_of("2026-Q1"), series_of("demo")
    (('acme', '2026Q3'), ('acme', '2026Q2'), ('', '2026Q1'), ('demo', None))
    >>> series_of("demo-v2026Q3")  # no separator before the year: not a tag
    ('demo-v2026Q3', None)
    """
    m = _TAG.search(run_id)
    if not m:
        return run_id, None
    return run_id[: m.start()], f"{m['year']}Q{m['q']}"


@dataclass(frozen=True)
class PreviousRun:
    """The run a run is compared with.

    Attributes
    ----------
    run_id : str
    path : Path
        Its published folder.
    as_of : str
        Its data date (ISO), from its manifest.
    reason : str
        ``"compare_with"`` (named in params) or ``"series"`` (same base run_id, earlier as_of).
    """

    run_id: str
    path: Path
    as_of: str
    reason: str

    @property
    def results(self) -> Path:
        """Its ``results/`` folder."""
        return RunFolder(self.path).results


def previous_run(output_dir: Path, run_id: str, compare_with: str | None = None,
                 as_of: dt.date | str | None = None) -> PreviousRun | None:
    """The previous run of ``run_id``'s series published in ``output_dir``, or the run ``compare_with`` names.

    Parameters
    ----------
    output_dir : Path
        Where runs are published (``reports/``).
    run_id : str
        The current run (it may be published already: it is never its own previous run).
    compare_with : str, optional
        ``params.compare_with``: this run_id, whatever its series.
    as_of : date or str, optional
        The current run's data date; by default its published manifest's, else its quarter tag's last day.

    Returns
    -------
    PreviousRun or None
        None when the series has no earlier published run (a run with status other than ``complete`` is
        skipped).

    Raises
    ------
    ParamsError
        ``compare_with`` names a run that is not published in ``output_dir``, or this run itself.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for rid, day in [("acme-2026Q1", "2026-03-31"), ("acme-2026Q2", "2026-06-30"), ("beta-2026Q2", "2026-06-30")]:
    ...     (out / rid).mkdir()
    ...     _ = (out / rid / MANIFEST).write_text(json.dumps({"run_id": rid, "as_of": day, "status": "complete"}))
    >>> previous_run(out, "acme-2026Q3").run_id
    'acme-2026Q2'
    >>> previous_run(out, "acme-2026Q2").run_id, previous_run(out, "acme-2026Q1")
    ('acme-2026Q1', None)
    >>> previous_run(out, "acme-2026Q3", compare_with="beta-2026Q2").reason
    'compare_with'
    """
    output_dir = Path(output_dir)
    if compare_with and compare_with == run_id:
        raise ParamsError(f"compare_with: {compare_with!r} is this run's own run_id; name an earlier run, or remove "
                          "compare_with to compare with the previous run of the same series.")
    if compare_with:
        folder = output_dir / compare_with
        manifest = RunFolder(folder).read_manifest()
        if manifest is None or compare_with.startswith("."):
            raise ParamsError(f"compare_with: {compare_with!r} is not a published run in {output_dir} (no "
                              f"{compare_with}/{MANIFEST}). Name a run_id listed in {output_dir}/index.html, or remove "
                              "compare_with to compare with the previous run of the same series.")
        return PreviousRun(compare_with, folder, str(manifest.get("as_of", "")), "compare_with")
    base, tag = series_of(run_id)
    if as_of is None:
        own = RunFolder(output_dir / run_id).read_manifest()
        if own and own.get("as_of"):
            as_of = own["as_of"]
        elif tag:
            year, q = int(tag[:4]), int(tag[-1])
            as_of = dt.date(year + q // 4, q % 4 * 3 + 1, 1) - dt.timedelta(days=1)
        else:
            return None
    current = str(as_of)
    best = None
    for folder in published_runs(output_dir):
        manifest = RunFolder(folder).read_manifest()
        if not manifest or folder.name == run_id or manifest.get("status", "complete") != "complete":
            continue
        other = str(manifest.get("run_id", folder.name))
        day = str(manifest.get("as_of", ""))
        if other == run_id or series_of(other)[0] != base or not day or day >= current:
            continue
        key = (day, str(manifest.get("ended", "")))
        if best is None or key > best[0]:
            best = (key, PreviousRun(other, folder, day, "series"))
    return None if best is None else best[1]


# ---- the changes -------------------------------------------------------------------------------------


def _latest_period(metrics: pd.DataFrame | None) -> str | None:
    if metrics is None or metrics.empty:
        return None
    periods = metrics["period"].astype(str)
    periods = periods[periods != ALL]
    return None if periods.empty else periods.max()


def _truthy(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v is True or str(v).strip().lower() in ("true", "1")).astype(bool)


def _row(kind: str, **values) -> dict:
    return {c: values.get(c, np.nan) for c in CHANGE_COLUMNS} | {"kind": kind}


def metric_changes(changes: pd.DataFrame | None, metrics: pd.DataFrame | None = None,
                   after: str | None = None) -> list[dict]:
    """Rows for the touchpoint metrics whose change survives BH, in the periods after ``after``.

    Parameters
    ----------
    changes : DataFrame
        The current run's ``metric_changes.csv``.
    metrics : DataFrame, optional
        The current run's ``metrics.csv``, for each value's own interval.
    after : str, optional
        The previous run's latest period: only periods after it count (default: the latest period only).

    Examples
    --------
    >>> ch = pd.DataFrame({"period": ["2026Q3", "2026Q3", "2026Q2"], "previous_period": ["2026Q2", "2026Q2", "2026Q1"],
    ...     "touchpoint": ["billing", "app", "billing"], "channel": "all", "segment": "all",
    ...     "metric": "csat_top2", "value_previous": [0.41, 0.72, 0.45], "value": [0.34, 0.71, 0.41],
    ...     "difference": [-0.07, -0.01, -0.04], "q_value": [1e-9, 0.6, 1e-3], "significant": [True, False, True]})
    >>> [(r["touchpoint"], r["direction"]) for r in metric_changes(ch, after="2026Q2")]
    [('billing', 'down')]
    """
    if changes is None or changes.empty:
        return []
    c = changes.assign(period=changes["period"].astype(str))
    latest = c["period"].max()
    keep = (c["period"] > after) if after else (c["period"] == latest)
    sel = c[keep & (c["channel"] == ALL) & (c["segment"] == ALL) & _truthy(c["significant"])]
    ci = {}
    if metrics is not None and not metrics.empty:
        m = metrics[(metrics["channel"] == ALL) & (metrics["segment"] == ALL)]
        ci = {(str(p), t, k): (lo, hi) for p, t, k, lo, hi in
              zip(m["period"], m["touchpoint"], m["metric"], m["ci_lower"], m["ci_upper"])}
    rows = []
    for _, r in sel.sort_values(["period", "touchpoint", "metric"]).iterrows():
        metric = str(r["metric"])
        plo, phi = ci.get((str(r["previous_period"]), r["touchpoint"], metric), (np.nan, np.nan))
        clo, chi = ci.get((r["period"], r["touchpoint"], metric), (np.nan, np.nan))
        diff = float(r["difference"])
        words = format_difference(metric, diff) if metric in SPECS else fmt_number(diff)
        rows.append(_row("metric", touchpoint=r["touchpoint"], metric_or_term=metric,
                         previous_period=str(r["previous_period"]), period=r["period"],
                         previous=r["value_previous"], previous_ci_lower=plo, previous_ci_upper=phi,
                         current=r["value"], current_ci_lower=clo, current_ci_upper=chi,
                         difference=diff, q_value=r.get("q_value", np.nan), direction="up" if diff > 0 else "down",
                         note=f"{words} since {r['previous_period']}, significant after Benjamini–Hochberg"))
    return rows


def hazard_ratio_changes(previous: pd.DataFrame | None, current: pd.DataFrame | None,
                         models: tuple[str, ...] = ("touchpoints",)) -> list[dict]:
    """Rows for the model terms whose 95% intervals in the two runs do not overlap.

    Examples
    --------
    >>> prev = pd.DataFrame({"model": "touchpoints", "term": ["poor_billing", "poor_app"],
    ...     "hazard_ratio": [1.5, 1.0], "ci_lower": [1.3, 0.9], "ci_upper": [1.7, 1.1]})
    >>> cur = prev.assign(hazard_ratio=[2.1, 1.05], ci_lower=[1.9, 0.95], ci_upper=[2.3, 1.15])
    >>> [(r["touchpoint"], r["direction"]) for r in hazard_ratio_changes(prev, cur)]
    [('billing', 'up')]
    """
    if previous is None or current is None:
        return []
    keys = ["model", "term"]
    both = current[current["model"].isin(models)].merge(previous[previous["model"].isin(models)], on=keys,
                                                        suffixes=("", "_previous"))
    apart = both[(both["ci_lower"] > both["ci_upper_previous"]) | (both["ci_upper"] < both["ci_lower_previous"])]
    rows = []
    for _, r in apart.iterrows():
        term = str(r["term"])
        tp = term.removeprefix(EXPOSURE_PREFIX) if term.startswith(EXPOSURE_PREFIX) else ""
        up = r["hazard_ratio"] > r["hazard_ratio_previous"]
        rows.append(_row("hazard_ratio", touchpoint=tp, metric_or_term=term, previous=r["hazard_ratio_previous"],
                         previous_ci_lower=r["ci_lower_previous"], previous_ci_upper=r["ci_upper_previous"],
                         current=r["hazard_ratio"], current_ci_lower=r["ci_lower"], current_ci_upper=r["ci_upper"],
                         difference=r["hazard_ratio"] - r["hazard_ratio_previous"], direction="up" if up else "down",
                         note=f"{r['model']} model: the 95% intervals no longer overlap"))
    return rows


def target_changes(previous: pd.DataFrame | None, current: pd.DataFrame | None) -> list[dict]:
    """Rows for the targets newly ``met`` or newly ``missed`` (a target absent before counts as new).

    Examples
    --------
    >>> prev = pd.DataFrame({"metric": "csat_top2", "touchpoint": ["all", "billing", "app"], "period": "2026Q2",
    ...     "target": 0.7, "value": [0.69, 0.41, 0.72], "status": ["can't tell", "missed", "met"]})
    >>> cur = prev.assign(period="2026Q3", value=[0.72, 0.34, 0.69], status=["met", "missed", "missed"])
    >>> [(r["touchpoint"], r["direction"]) for r in target_changes(prev, cur)]
    [('all', 'met'), ('app', 'missed')]
    """
    if current is None or current.empty:
        return []
    prev = previous if previous is not None else pd.DataFrame(columns=["metric", "touchpoint", "period", "value",
                                                                       "status", "ci_lower", "ci_upper"])
    both = current.merge(prev, on=["metric", "touchpoint"], how="left", suffixes=("", "_previous"))
    rows = []
    for _, r in both.iterrows():
        was = r["status_previous"] if isinstance(r["status_previous"], str) else None
        if r["status"] not in ("met", "missed") or r["status"] == was:
            continue
        metric = str(r["metric"])
        fmt = (lambda v, m=metric: format_value(m, v)) if metric in SPECS else fmt_number
        before = f"was {was}" if was else "no such target in the previous run"
        rows.append(_row("target", touchpoint=r["touchpoint"], metric_or_term=metric,
                         previous_period=r.get("period_previous", np.nan), period=r["period"],
                         previous=r.get("value_previous", np.nan), current=r["value"],
                         previous_ci_lower=r.get("ci_lower_previous", np.nan),
                         previous_ci_upper=r.get("ci_upper_previous", np.nan),
                         current_ci_lower=r.get("ci_lower", np.nan), current_ci_upper=r.get("ci_upper", np.nan),
                         difference=r["value"] - r.get("value_previous", np.nan), direction=r["status"],
                         note=f"newly {r['status']} (target {fmt(r['target'])}; {before})"))
    return rows


def churn_changes(previous: pd.DataFrame | None, current: pd.DataFrame | None,
                  threshold: float = SHARE_THRESHOLD, periods: tuple[str | None, str | None] = (None, None)) -> list[dict]:
    """Rows for the touchpoints whose attributable churn share moved.

    A move counts when it is at least ``threshold`` (one percentage point) and, where both runs'
    ``impact.csv`` carry 95% intervals of the share, those intervals no longer overlap: a move the
    size of the draws' noise is not reported.

    Examples
    --------
    >>> prev = pd.DataFrame({"touchpoint": ["billing", "app"], "attributable_churn_share": [0.15, 0.01],
    ...                      "churners_attributable": [50.0, 3.0]})
    >>> cur = prev.assign(attributable_churn_share=[0.19, 0.012], churners_attributable=[67.0, 3.5])
    >>> [(r["touchpoint"], r["direction"], r["note"]) for r in churn_changes(prev, cur)]
    [('billing', 'up', 'attributable churn share +4.0 pts; churners attributable 50 → 67')]
    >>> ci = {"attributable_churn_share_ci_lower": [0.12, 0.0], "attributable_churn_share_ci_upper": [0.18, 0.02]}
    >>> churn_changes(prev.assign(**ci), cur.assign(**ci))  # +4 pts, but within overlapping intervals
    []
    """
    if previous is None or current is None:
        return []
    key = "exposure" if "exposure" in current.columns and "exposure" in previous.columns else "touchpoint"
    both = current.merge(previous, on=key, suffixes=("", "_previous"))
    lo, hi = "attributable_churn_share_ci_lower", "attributable_churn_share_ci_upper"
    intervals = all(c in both.columns for c in (lo, hi, f"{lo}_previous", f"{hi}_previous"))
    rows = []
    for _, r in both.iterrows():
        diff = r["attributable_churn_share"] - r["attributable_churn_share_previous"]
        if not abs(diff) >= threshold:
            continue
        ends = (r[lo], r[hi], r[f"{lo}_previous"], r[f"{hi}_previous"]) if intervals else (np.nan,) * 4
        if not any(pd.isna(e) for e in ends) and not (ends[0] > ends[3] or ends[1] < ends[2]):
            continue  # the intervals still overlap
        rows.append(_row("attributable_churn", touchpoint=r["touchpoint"], metric_or_term="attributable_churn_share",
                         previous_period=periods[0], period=periods[1],
                         previous=r["attributable_churn_share_previous"], current=r["attributable_churn_share"],
                         previous_ci_lower=ends[2], previous_ci_upper=ends[3], current_ci_lower=ends[0],
                         current_ci_upper=ends[1], difference=diff, direction="up" if diff > 0 else "down",
                         note=(f"attributable churn share {format_difference('csat_top2', diff)}; churners attributable "
                               f"{fmt_number(r['churners_attributable_previous'], 0)} → "
                               f"{fmt_number(r['churners_attributable'], 0)}")))
    return rows


def changes_since_last_run(prev_results_dir: Path, cur_results_dir: Path, *,
                           share_threshold: float = SHARE_THRESHOLD,
                           models: tuple[str, ...] = ("touchpoints",),
                           kinds: tuple[str, ...] = KINDS) -> pd.DataFrame:
    """What changed between two runs, from their ``results/*.csv`` only (:data:`CHANGE_COLUMNS`).

    Missing result files contribute no rows. Rows are ordered by :data:`KINDS`, then touchpoint.
    ``kinds`` limits the comparison to some kinds of change (a section compares what it has written).

    Examples
    --------
    >>> import tempfile
    >>> from cxlib.results import write_result
    >>> prev, cur = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> hr = pd.DataFrame({"model": ["touchpoints"], "term": ["poor_billing"], "hazard_ratio": [1.5],
    ...                    "ci_lower": [1.3], "ci_upper": [1.7], "p_value": [0.001]})
    >>> _ = write_result(prev, "hazard_ratios", hr)
    >>> _ = write_result(cur, "hazard_ratios", hr.assign(hazard_ratio=2.0, ci_lower=1.8, ci_upper=2.2))
    >>> changes_since_last_run(prev, cur)[["kind", "touchpoint", "direction"]].values.tolist()
    [['hazard_ratio', 'billing', 'up']]
    """
    prev = {n: read_result(Path(prev_results_dir), n) for n in ("metrics", "hazard_ratios", "metric_targets", "impact")}
    cur = {n: read_result(Path(cur_results_dir), n)
           for n in ("metrics", "metric_changes", "hazard_ratios", "metric_targets", "impact")}
    periods = (_latest_period(prev["metrics"]), _latest_period(cur["metrics"]))
    found = {"metric": lambda: metric_changes(cur["metric_changes"], cur["metrics"], after=periods[0]),
             "hazard_ratio": lambda: hazard_ratio_changes(prev["hazard_ratios"], cur["hazard_ratios"], models),
             "target": lambda: target_changes(prev["metric_targets"], cur["metric_targets"]),
             "attributable_churn": lambda: churn_changes(prev["impact"], cur["impact"], share_threshold, periods)}
    rows = [row for kind in KINDS if kind in kinds for row in found[kind]()]
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    if out.empty:
        return out
    out["_k"] = out["kind"].map({k: i for i, k in enumerate(KINDS)})
    return out.sort_values(["_k", "touchpoint", "metric_or_term"], kind="stable").drop(columns="_k").reset_index(drop=True)


# ---- per section ------------------------------------------------------------------------------------


def section_notes(changes: pd.DataFrame | None) -> dict[str, str]:
    """Per section notebook stem, a short note on the changes it discusses (for the index's section list).

    Examples
    --------
    >>> section_notes(pd.DataFrame({"kind": ["metric", "target", "hazard_ratio"]}))
    {'01_touchpoint_portfolio': '2 changes since the last run', '02_retention': '1 change since the last run'}
    """
    if changes is None or changes.empty:
        return {}
    counts = changes["kind"].map(SECTION_OF_KIND).value_counts()
    return {s: section_note(int(n)) for s, n in sorted(counts.items())}


def record_previous(run: RunFolder, previous: PreviousRun | None) -> None:
    """Tell the sections of a run being built which run it is compared with (``work/previous_run.json``).

    The runner looks the previous run up once, before the sections start, so that a wrong
    ``compare_with`` fails before any notebook runs and every section and the index compare with
    the same run.

    Examples
    --------
    >>> import tempfile
    >>> run = RunFolder(Path(tempfile.mkdtemp()))
    >>> record_previous(run, PreviousRun("acme-2026Q2", Path("/reports/acme-2026Q2"), "2026-06-30", "series"))
    >>> recorded_previous(run).run_id
    'acme-2026Q2'
    >>> record_previous(run, None); recorded_previous(run) is None
    True
    """
    run.previous.parent.mkdir(parents=True, exist_ok=True)
    data = None if previous is None else {"run_id": previous.run_id, "path": str(previous.path),
                                          "as_of": previous.as_of, "reason": previous.reason}
    run.previous.write_text(json.dumps(data), encoding="utf-8")


def recorded_previous(run: RunFolder) -> PreviousRun | None:
    """The previous run recorded by :func:`record_previous`; None when there is none (or nothing was recorded).

    Examples
    --------
    >>> import tempfile
    >>> recorded_previous(RunFolder(Path(tempfile.mkdtemp()))) is None  # a run folder the runner did not prepare
    True
    """
    try:
        data = json.loads(run.previous.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not data:
        return None
    return PreviousRun(data["run_id"], Path(data["path"]), data["as_of"], data["reason"])
