"""Headline numbers and the executive summary of a run, generated from its result files.

Every number shown on the index page is read from ``results/*.csv`` (or the manifest), never
typed by hand, so a test can trace each one back to a row. Each finding of the executive summary
records the result rows it quotes (``sources``), and quotes them at a stated precision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from cxlib.text.format import fmt_pct
from cxlib.analyses.drivers import quadrants
from cxlib.analyses.impact import reporting_period
from cxlib.params import safe_name
from cxlib.results import ALL, read_result


def headline_numbers(run_dir: Path, manifest: dict[str, Any]) -> list[dict[str, str]]:
    """Tiles for the index page: volumes from the manifest, then retention and NPS when computed."""
    out = []
    for table in ("customers", "interactions", "surveys"):
        info = manifest["inputs"].get(table)
        if info and info.get("rows_kept") is not None:
            out.append({"label": table.capitalize() + " analysed", "value": f"{info['rows_kept']:,}",
                        "note": f"of {info['rows_read']:,} rows read"})
    results = Path(run_dir) / "results"
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


METRIC_WORDS = {
    "csat_mean": "mean CSAT",
    "csat_top2": "top-two-box CSAT",
    "ces_mean": "mean CES",
    "resolution_rate": "resolution rate",
    "nps": "relationship NPS",
}
MAX_FINDINGS = 5
MAX_IMPACT_FINDINGS = 3


@dataclass
class Finding:
    """One sentence of the executive summary (escaped HTML) and the result rows it quotes."""

    html: str
    sources: list[dict[str, Any]] = field(default_factory=list)


def _day(d: dt.date) -> str:
    return f"{d.day} {d:%B %Y}"


def _n(x: float, digits: int = 2) -> str:
    return f"{float(x):,.{digits}f}"


def _interval(lo: float, hi: float, fmt: Any = _n) -> str:
    return f"95% CI {fmt(lo)} to {fmt(hi)}"


def _exposure_term(touchpoint: str, terms: pd.Series) -> str | None:
    """The hazard-ratio term of an impact row: ``poor_<touchpoint>``, or a custom exposure's own name."""
    for term in (f"poor_{safe_name(touchpoint)}", touchpoint):
        if (terms == term).any():
            return term
    return None


def _impact_findings(impact: pd.DataFrame | None, hazard_ratios: pd.DataFrame | None, period: str) -> list[Finding]:
    """Touchpoints with a hazard ratio above 1 (interval too), ranked by revenue at risk (else churners)."""
    if impact is None or hazard_ratios is None or impact.empty:
        return []
    hr = hazard_ratios[hazard_ratios["model"] == "touchpoints"]
    key = "revenue_at_risk" if impact["revenue_at_risk"].notna().any() else "churners_attributable"
    out = []
    for i, row in impact.sort_values(key, ascending=False, na_position="last").iterrows():
        term = _exposure_term(str(row["touchpoint"]), hr["term"])
        if term is None or not row["attributable_churn_share"] > 0:
            continue
        j = hr.index[hr["term"] == term][0]
        h = hr.loc[j]
        if not h["ci_lower"] > 1:
            continue
        custom = term == row["touchpoint"]
        subject, goes, it = ((f"Exposure <strong>{escape(term)}</strong>", "goes", "it accounts") if custom else
                             (f"Poor <strong>{escape(str(row['touchpoint']))}</strong> experiences", "go", "they account"))
        text = (f"{subject} {goes} with {_n(h['hazard_ratio'])} times the churn hazard of comparable customers "
                f"({_interval(h['ci_lower'], h['ci_upper'])}). With {fmt_pct(row['exposure_share'])} of customer "
                f"time exposed, {it} for an estimated {fmt_pct(row['attributable_churn_share'])} of churn: "
                f"about {_n(row['churners_attributable'], 0)} of this {period}'s churners")
        if pd.notna(row["revenue_at_risk"]):
            text += f" and {_n(row['revenue_at_risk'], 0)} of annual revenue at risk"
        out.append(Finding(text + ".", [{"file": "impact", "row": int(i)}, {"file": "hazard_ratios", "row": int(j)}]))
        if len(out) == MAX_IMPACT_FINDINGS:
            break
    return out


def _driver_findings(drivers: pd.DataFrame | None) -> list[Finding]:
    """The most important NPS driver, and the most important priority when that is another driver."""
    if drivers is None or drivers["importance"].notna().sum() == 0:
        return []
    d = quadrants(drivers).sort_values("importance", ascending=False)  # the drivers section's median rule
    top_i = d.index[0]
    top = d.loc[top_i]
    text = (f"<strong>{escape(str(top['driver']))}</strong> is the strongest driver of NPS: importance "
            f"{_n(top['importance'], 3)} in R² units ({_interval(top['importance_ci_lower'], top['importance_ci_upper'], lambda v: _n(v, 3))}); "
            f"one rating point more goes with {_n(top['coefficient'])} NPS points "
            f"({_interval(top['ci_lower'], top['ci_upper'])})")
    if top["priority"]:
        text += f", and its mean rating of {_n(top['performance'])} is below the median of the drivers"
    out = [Finding(text + ".", [{"file": "drivers", "row": int(top_i)}])]
    others = d[d["priority"] & (d.index != top_i)]
    if len(others):
        j = others.index[0]
        r = others.loc[j]
        out.append(Finding(
            f"<strong>{escape(str(r['driver']))}</strong> is also a priority: important (importance "
            f"{_n(r['importance'], 3)}, {_interval(r['importance_ci_lower'], r['importance_ci_upper'], lambda v: _n(v, 3))}) "
            f"but rated below the median (mean rating {_n(r['performance'])}).",
            [{"file": "drivers", "row": int(j)}]))
    return out


def _validity_finding(validity: pd.DataFrame | None) -> list[Finding]:
    """The candidate metric that adds most to predicting churn, when its hazard ratio excludes 1."""
    if validity is None or validity.empty:
        return []
    clear = validity[(validity["ci_upper"] < 1) | (validity["ci_lower"] > 1)]
    if clear.empty:
        return []
    i = clear["concordance_gain"].idxmax()
    r = clear.loc[i]
    where = "across all touchpoints" if r["touchpoint"] == ALL else f"at <strong>{escape(str(r['touchpoint']))}</strong>"
    metric = escape(METRIC_WORDS.get(str(r["metric"]), str(r["metric"])))
    return [Finding(
        f"Of the candidate metrics, {metric} {where} predicts churn best: a customer scoring one standard deviation higher "
        f"has {_n(r['hazard_ratio_per_sd'])} times the churn hazard ({_interval(r['ci_lower'], r['ci_upper'])}), "
        f"and the metric adds {_n(r['concordance_gain'], 3)} to the concordance of a model on customer attributes alone.",
        [{"file": "metric_validity", "row": int(i)}])]


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
        f"({_interval(r['ci_lower'], r['ci_upper'], fmt_pct)}, Kaplan–Meier).",
        [{"file": "retention", "row": int(i)}])]


def _methods(manifest: dict[str, Any], metrics: pd.DataFrame | None) -> str:
    params = manifest.get("params", {})
    as_of = dt.date.fromisoformat(str(manifest["as_of"]))
    covariates = params.get("covariates") or []
    adjust = (f"adjust for the customer attributes {', '.join(covariates)}" if covariates
              else "adjust for no customer attributes (none are named in the params file)")
    period = reporting_period(as_of, params.get("period", "quarter"))
    span = ""
    if metrics is not None:
        periods = sorted(p for p in metrics["period"].astype(str).unique() if p != ALL)
        if periods:
            span = f" Touchpoint metrics cover the periods {periods[0]} to {periods[-1]}."
    text = (f"These findings are associations in observational data, not proof that changing an experience would "
            f"change churn or NPS. The churn models (Cox and piecewise-exponential) {adjust}, and the "
            f"touchpoint model adjusts each poor experience for the others; the NPS key-driver regression adjusts "
            f"each rating for the others. Attributable churn uses Levin's formula with the adjusted hazard ratio and "
            f"the share of customer time exposed; churners are counted in {period.label} ({_day(period.start)} "
            f"to {_day(period.end)}) and revenue at risk is a year of their mean monthly revenue. "
            f"Data up to {_day(as_of)}.{span}")
    return escape(text)


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
    >>> executive_summary(Path("reports/demo"), manifest)["findings"][0]   # doctest: +SKIP
    """
    results = Path(run_dir) / "results"
    tables = {name: read_result(results, name) for name in
              ("impact", "hazard_ratios", "drivers", "metric_validity", "retention", "metrics")}
    period = manifest.get("params", {}).get("period", "quarter")
    drivers = _driver_findings(tables["drivers"])
    findings = (_impact_findings(tables["impact"], tables["hazard_ratios"], period)
                + drivers[:1] + _validity_finding(tables["metric_validity"]) + drivers[1:])
    if len(findings) < 3:
        findings += _retention_finding(tables["retention"])
    findings = findings[:MAX_FINDINGS]
    if not findings:
        return {"findings": [], "methods": "", "sources": []}
    return {"findings": [f.html for f in findings], "methods": _methods(manifest, tables["metrics"]),
            "sources": [f.sources for f in findings]}
