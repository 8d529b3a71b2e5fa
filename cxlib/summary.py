"""Headline numbers and the executive summary of a run, generated from its result files.

Every number shown on the index page is read from ``results/*.csv`` (or the manifest), never
typed by hand, so a test can trace each one back to a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .display import fmt_pct
from .results import ALL, read_result


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


def executive_summary(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Findings (escaped HTML sentences, ranked) and a methods note; empty until analyses exist."""
    findings: list[str] = []
    return {"findings": findings, "methods": ""}

