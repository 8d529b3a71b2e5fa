"""Headline numbers and the executive summary of a run, generated from its result files.

Every number shown on the index page is read from ``results/*.csv`` (or the manifest), never
typed by hand, so a test can trace each one back to a row. Each finding of the executive summary
records the result rows it quotes (``sources``), and quotes them at a stated precision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from cxlib.params import ALL_CAUSES, DEFAULT_IMPACT_CAUSE
from cxlib.periods import reporting_period
from cxlib.results import ALL, read_result
from cxlib.run.layout import RunFolder
from cxlib.text.format import fmt_date, fmt_interval, fmt_money, fmt_number, fmt_pct
from cxlib.text.impact import metric_name, separated_best
from cxlib.text.names import display_name
from cxlib.text.vocabulary import driver_label


def headline_numbers(run_dir: Path, manifest: dict[str, Any]) -> list[dict[str, str]]:
    """Tiles for the index page: the share of each table's rows kept, then retention and NPS when computed.

    The exact rows read and kept are not shown: they are all-period totals from which a hidden
    cell of ``metrics.csv`` follows by subtraction (``docs/privacy.md``); the manifest carries the
    share kept, rounded (:func:`cxlib.stats.suppression.kept_share`).

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> manifest = {"inputs": {"customers": {"share_kept": 0.999}, "surveys": {"share_kept": None}}}
    >>> headline_numbers(run, manifest)
    [{'label': 'Customer rows kept', 'value': '99.9%', 'note': 'of the rows read; the rest broke a rule (Rows excluded)'}]
    """
    out = []
    for table in ("customers", "interactions", "surveys"):
        info = manifest["inputs"].get(table)
        if info and info.get("share_kept") is not None:
            out.append({"label": table.capitalize().removesuffix("s") + " rows kept", "value": fmt_pct(info["share_kept"]),
                        "note": "of the rows read; the rest broke a rule (Rows excluded)"})
    results = RunFolder(Path(run_dir)).results
    retention = read_result(results, "retention")
    if retention is not None:
        overall = retention[retention["group"] == ALL]
        horizon = overall[overall["days"] == 365]
        if len(horizon):
            r = horizon.iloc[-1]
            out.append({"label": "Retention at 12 months", "value": fmt_pct(r["survival"]),
                        "note": f"95% CI {fmt_pct(r['ci_lower'])}–{fmt_pct(r['ci_upper'])} (Kaplan–Meier)"})
    metrics = read_result(results, "metrics")
    if metrics is not None:
        nps = metrics[(metrics["metric"] == "nps") & (metrics["touchpoint"] == ALL) & (metrics["channel"] == ALL)
                      & (metrics["segment"] == ALL) & (metrics["period"] != ALL) & ~metrics["suppressed"].astype(bool)]
        if len(nps):
            r = nps.sort_values("period").iloc[-1]
            out.append({"label": f"NPS, {r['period']}", "value": f"{r['value']:+.0f}",
                        "note": f"95% CI {r['ci_lower']:+.0f} to {r['ci_upper']:+.0f}, n = {int(r['n']):,}"})
    return out


MAX_FINDINGS = 5
MAX_IMPACT_FINDINGS = 3


@dataclass
class Finding:
    """One sentence of the executive summary (escaped HTML) and the result rows it quotes.

    Examples
    --------
    >>> Finding("Retention is 78.3%.", [{"file": "retention", "row": 4}]).sources
    [{'file': 'retention', 'row': 4}]
    """

    html: str
    sources: list[dict[str, Any]] = field(default_factory=list)


def _ci(lo: float, hi: float, fmt: Callable[[Any], str] = fmt_number) -> str:
    return f"95% CI {fmt_interval(lo, hi, fmt)}"


def _r3(x: float) -> str:
    return fmt_number(x, 3)


def _r0(x: float) -> str:
    return fmt_number(x, 0)


def _name(value: Any) -> str:
    return escape(display_name(value))


def _with_ci(value: str, lo: Any, hi: Any, fmt: Callable[[Any], str] = fmt_number) -> str:
    """``value (95% CI lo to hi)``, or the value alone when the result file has no interval."""
    return value if pd.isna(lo) or pd.isna(hi) else f"{value} ({_ci(lo, hi, fmt)})"


def impact_cause(params: dict[str, Any]) -> str:
    """The churn cause impact.csv refers to, from a run's params (as in its manifest).

    Examples
    --------
    >>> impact_cause({}), impact_cause({"churn_causes": {"voluntary": ["price"]}})
    ('all', 'voluntary')
    >>> impact_cause({"churn_causes": {"leavers": ["price"]}, "impact_cause": "leavers"})
    'leavers'
    """
    if not params.get("churn_causes"):
        return ALL_CAUSES
    return params.get("impact_cause") or DEFAULT_IMPACT_CAUSE


def _impact_findings(impact: pd.DataFrame | None, hazard_ratios: pd.DataFrame | None, period: str,
                     currency: str | None = None, cause: str = ALL_CAUSES) -> list[Finding]:
    """Touchpoints with a hazard ratio above 1 (interval too), ranked by revenue at risk (else churners).

    Each impact row names its model term in ``exposure``; a custom exposure is labelled by its own
    name (its ``touchpoint`` equals its ``exposure``). The shares are the case-based attributable
    fraction of the reporting period's churners; the wording keeps the model's associations
    conditional ("if that association were causal"). With churn causes the hazard ratio is the
    cause's model's (``touchpoints[<cause>]``) and every number names the cause.
    """
    if impact is None or hazard_ratios is None or impact.empty:
        return []
    model = "touchpoints" if cause == ALL_CAUSES else f"touchpoints[{cause}]"
    of = "" if cause == ALL_CAUSES else f"{escape(display_name(cause))} "
    hr = hazard_ratios[hazard_ratios["model"] == model]
    key = "revenue_at_risk" if impact["revenue_at_risk"].notna().any() else "churners_attributable"
    out = []
    for i, row in impact.sort_values(key, ascending=False, na_position="last").iterrows():
        match = hr.index[hr["term"] == row["exposure"]]
        if match.empty or not row["attributable_churn_share"] > 0:
            continue
        j = match[0]
        h = hr.loc[j]
        if not h["ci_lower"] > 1:
            continue
        custom = row["exposure"] == row["touchpoint"]
        subject, verb, they = ((f"Exposure <strong>{_name(row['exposure'])}</strong>", "is", "it") if custom else
                               (f"Poor <strong>{_name(row['touchpoint'])}</strong> experiences", "are", "they"))
        text = (f"{subject} {verb} associated with {fmt_number(h['hazard_ratio'])} times the {of}churn hazard of comparable "
                f"customers ({_ci(h['ci_lower'], h['ci_upper'])}). If that association were causal, {they} would "
                f"explain an estimated "
                + _with_ci(fmt_pct(row["attributable_churn_share"]), row.get("attributable_churn_share_ci_lower"),
                           row.get("attributable_churn_share_ci_upper"), fmt_pct)
                + f" of this {period}'s {of}churn: about "
                + _with_ci(f"{_r0(row['churners_attributable'])} {of}churners", row.get("churners_attributable_ci_lower"),
                           row.get("churners_attributable_ci_upper"), _r0))
        if pd.notna(row["revenue_at_risk"]):
            def money(x: Any) -> str:
                return fmt_money(x, currency)
            text += (" and "
                     + _with_ci(money(row["revenue_at_risk"]), row.get("revenue_at_risk_ci_lower"),
                                row.get("revenue_at_risk_ci_upper"), money)
                     + ", a year of revenue of the attributable churners")
        out.append(Finding(text + ".", [{"file": "impact", "row": int(i)}, {"file": "hazard_ratios", "row": int(j)}]))
        if len(out) == MAX_IMPACT_FINDINGS:
            break
    return out


def _driver_findings(drivers: pd.DataFrame | None) -> list[Finding]:
    """The most important NPS driver, and the most important priority (``quadrant``) when that is another driver."""
    if drivers is None or drivers["importance"].notna().sum() == 0:
        return []
    d = drivers.sort_values("importance", ascending=False)
    priority = d["quadrant"] == "priority"
    top_i = d.index[0]
    top = d.loc[top_i]
    label = escape(driver_label(str(top["driver"])))
    text = (f"<strong>{label[:1].upper() + label[1:]}</strong> is the strongest driver of NPS: importance "
            f"{_r3(top['importance'])} in R² units ({_ci(top['importance_ci_lower'], top['importance_ci_upper'], _r3)}); "
            f"one rating point more is associated with {fmt_number(top['coefficient'])} points on the "
            f"0–10 recommend scale ({_ci(top['ci_lower'], top['ci_upper'])}), the other ratings held fixed")
    if priority[top_i]:
        text += f", and its mean rating of {fmt_number(top['performance'])} is below the median of the drivers"
    out = [Finding(text + ".", [{"file": "drivers", "row": int(top_i)}])]
    others = d[priority & (d.index != top_i)]
    if len(others):
        j = others.index[0]
        r = others.loc[j]
        label = escape(driver_label(str(r["driver"])))
        out.append(Finding(
            f"<strong>{label[:1].upper() + label[1:]}</strong> is also a priority: important (importance "
            f"{_r3(r['importance'])}, {_ci(r['importance_ci_lower'], r['importance_ci_upper'], _r3)}) "
            f"but rated below the median (mean rating {fmt_number(r['performance'])}).",
            [{"file": "drivers", "row": int(j)}]))
    return out


def _validity_finding(validity: pd.DataFrame | None) -> list[Finding]:
    """The candidate metric that adds most to predicting churn, named only when the bootstrap separates it
    (rank interval [1, 1] on the common sample) and its hazard ratio excludes 1; otherwise, when two or
    more metrics were compared, that they cannot be told apart at this sample size."""
    if validity is None or validity.empty or "rank" not in validity.columns:
        return []
    ranked = validity[validity["rank"].notna()].sort_values("rank")
    if len(ranked) < 2:
        return []
    n = int(ranked["common_n"].iloc[0])
    i = separated_best(ranked)
    if i is not None and (validity.loc[i, "ci_upper"] < 1 or validity.loc[i, "ci_lower"] > 1):
        r = validity.loc[i]
        where = "across all touchpoints" if r["touchpoint"] == ALL else f"at <strong>{_name(r['touchpoint'])}</strong>"
        metric = escape(metric_name(str(r["metric"])))
        return [Finding(
            f"Of the candidate metrics compared on the same {n:,} customers, {metric} {where} adds most to "
            f"predicting churn (ranked first in {fmt_pct(r['share_ranked_first'], 0)} of bootstrap resamples): a customer "
            f"scoring one standard deviation higher has {fmt_number(r['hazard_ratio_per_sd'])} times the churn hazard "
            f"({_ci(r['ci_lower'], r['ci_upper'])}), and the metric adds {_r3(r['gain_common'])} "
            f"({_ci(r['gain_ci_lower'], r['gain_ci_upper'], _r3)}) to the concordance of a model on customer attributes "
            "and tenure alone.",
            [{"file": "metric_validity", "row": int(i)}])]
    top = ranked.index[0]
    r = validity.loc[top]
    return [Finding(
        f"The candidate metrics compared on the same {n:,} customers cannot be told apart at this sample "
        f"size: the largest concordance gain, {_r3(r['gain_common'])} ({_ci(r['gain_ci_lower'], r['gain_ci_upper'], _r3)}) "
        f"for {escape(metric_name(str(r['metric'])))}, ranks first in only {fmt_pct(r['share_ranked_first'], 0)} of "
        "bootstrap resamples, so the report names no best metric.",
        [{"file": "metric_validity", "row": int(j)} for j in ranked.index])]


def _retention_finding(retention: pd.DataFrame | None) -> list[Finding]:
    if retention is None:
        return []
    overall = retention[(retention["group"] == ALL) & (retention["days"] == 365)]
    if overall.empty:
        return []
    i = overall.index[-1]
    r = overall.loc[i]
    return [Finding(
        f"Retention {int(r['days'])} days after signup is {fmt_pct(r['survival'])} "
        f"({_ci(r['ci_lower'], r['ci_upper'], fmt_pct)}, Kaplan–Meier).",
        [{"file": "retention", "row": int(i)}])]


def _methods(manifest: dict[str, Any], metrics: pd.DataFrame | None) -> str:
    params = manifest.get("params", {})
    as_of = dt.date.fromisoformat(str(manifest["as_of"]))
    covariates = params.get("covariates") or []
    adjust = (f"adjust for the customer attributes {', '.join(covariates)}" if covariates
              else "adjust for no customer attributes (none are named in the params file)")
    period = reporting_period(as_of, params.get("period", "quarter"))
    lag_days = int(params.get("exposure_lag_days", 1))
    lag = ("A poor experience counts from its own day, so a rating logged on the churn day counts as preceding that "
           "churn." if lag_days == 0 else
           f"A poor experience counts from {lag_days} day{'s' if lag_days > 1 else ''} after it, so a rating logged "
           "on the churn day never explains that churn.")
    money = f" (in {params['currency']})" if params.get("currency") else ""
    span = ""
    if metrics is not None:
        periods = sorted(p for p in metrics["period"].astype(str).unique() if p != ALL)
        if periods:
            span = f" Touchpoint metrics cover the periods {periods[0]} to {periods[-1]}."
    text = (f"These findings are associations in observational data, not proof that changing an experience would "
            f"change churn or NPS. The churn models (Cox and piecewise-exponential) {adjust}, and the "
            f"touchpoint model adjusts each poor experience for the others; the NPS key-driver regression adjusts "
            f"each rating for the others. {lag} Attributable churn is the case-based (Miettinen) fraction the "
            f"touchpoint model implies: each churner of {period.label} ({fmt_date(period.start)} to "
            f"{fmt_date(period.end)}) exposed at churn contributes 1 − 1/HR of the exposure, and revenue at risk is "
            f"a year of those churners' own monthly revenue, weighted the same way{money}; shares of different "
            f"touchpoints overlap. Data up to {fmt_date(as_of)}.{span}")
    cause = impact_cause(params)
    if cause != ALL_CAUSES:
        causes = [c for c in params["churn_causes"] if c != "other"] + ["other"]
        text += (f" Churn is split by cause ({', '.join(causes)}, from each churner's reason): attributable churn, "
                 f"churners and revenue at risk refer to {cause} churn only, from a model of that cause in which the "
                 f"other causes' churns count as censored.")
    return escape(text)


def _numbers_as_floats(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """A column of whole numbers reads back from CSV as integers: quote it at its stated digits all the same."""
    if df is None:
        return None
    return df.astype({c: float for c in df.columns if pd.api.types.is_integer_dtype(df[c])})


def executive_summary(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Three to five findings, each with its number and interval, and a methods note.

    Generated only from ``results/*.csv`` (and the manifest's params for the methods note):
    touchpoints first, ranked by revenue at risk (attributable churners when there is no revenue),
    then the strongest NPS driver, the metric that best predicts churn, the most important priority
    driver when it is not the strongest one, and retention at 365 days to fill up to three findings.

    Returns
    -------
    dict
        ``findings`` (list of HTML sentences, data values escaped), ``methods`` (escaped text) and
        ``sources`` (per finding, the ``{"file", "row"}`` result rows its numbers come from).

    Examples
    --------
    >>> import tempfile
    >>> from cxlib.results import write_result
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = write_result(run / "results", "retention", pd.DataFrame({"group": ["all"], "days": [365],
    ...     "survival": [0.783], "ci_lower": [0.771], "ci_upper": [0.794], "at_risk": [5000]}))
    >>> s = executive_summary(run, {"as_of": "2026-09-30", "params": {"covariates": ["plan"]}})
    >>> s["findings"], s["sources"]
    (['Retention 365 days after signup is 78.3% (95% CI 77.1% to 79.4%, Kaplan–Meier).'], [[{'file': 'retention', 'row': 0}]])
    """
    results = RunFolder(Path(run_dir)).results
    tables = {name: _numbers_as_floats(read_result(results, name)) for name in
              ("impact", "hazard_ratios", "drivers", "metric_validity", "retention", "metrics")}
    period = manifest.get("params", {}).get("period", "quarter")
    drivers = _driver_findings(tables["drivers"])
    currency = manifest.get("params", {}).get("currency")
    cause = impact_cause(manifest.get("params", {}))
    findings = (_impact_findings(tables["impact"], tables["hazard_ratios"], period, currency, cause)
                + drivers[:1] + _validity_finding(tables["metric_validity"]) + drivers[1:])
    if len(findings) < 3:
        findings += _retention_finding(tables["retention"])
    findings = findings[:MAX_FINDINGS]
    if not findings:
        return {"findings": [], "methods": "", "sources": []}
    return {"findings": [f.html for f in findings], "methods": _methods(manifest, tables["metrics"]),
            "sources": [f.sources for f in findings]}
