"""Executive summary: every number it shows is traced to the result rows it cites."""

from __future__ import annotations

import html
import json
import numbers
import re
from pathlib import Path

import pandas as pd
import pytest

from cxlib.results import read_result, write_result
from cxlib.run.summary import executive_summary


_NUMBER = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?%?")


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _numbers(sentence: str) -> list[tuple[float, float, bool]]:
    """(value, half a unit of the last digit shown, is a percentage) for every number in the sentence."""
    text = _plain(sentence).replace("95% CI", "CI")
    text = re.sub(r"R²", "R", text)
    text = re.sub(r"\b\d+–\d+ recommend scale", "recommend scale", text)  # the scale's name, not a number
    out = []
    for m in _NUMBER.finditer(text):
        token = m.group().replace(",", "").replace("−", "-")
        pct = token.endswith("%")
        token = token.rstrip("%")
        decimals = len(token.split(".")[1]) if "." in token else 0
        out.append((float(token), 0.5 * 10 ** -decimals, pct))
    return out


def assert_traced(run_dir: Path, summary: dict) -> None:
    """Each number of each finding equals (at its shown precision) a cell of one of the rows it cites."""
    results = run_dir / "results"
    assert len(summary["findings"]) == len(summary["sources"])
    for sentence, sources in zip(summary["findings"], summary["sources"]):
        cells = []
        for src in sources:
            row = read_result(results, src["file"]).loc[src["row"]]
            cells += [float(v) for v in row.to_numpy() if isinstance(v, numbers.Real) and not isinstance(v, bool) and pd.notna(v)]
        shown = _numbers(sentence)
        assert shown, sentence
        for value, tol, pct in shown:
            candidates = [100 * c for c in cells] if pct else cells
            assert any(abs(c - value) <= tol + 1e-9 for c in candidates), f"{value} in {_plain(sentence)!r} not in {sources}"


def _write(run_dir: Path, name: str, rows: list[dict]) -> None:
    write_result(run_dir / "results", name, pd.DataFrame(rows))


@pytest.fixture()
def hand_run(tmp_path: Path) -> tuple[Path, dict]:
    _write(tmp_path, "impact", [
        {"touchpoint": "support", "exposure_share": 0.05, "hazard_ratio": 1.6, "attributable_churn_share": 0.0291,
         "churners_attributable": 14.6, "revenue_at_risk": 95_000.4, "exposure": "poor_support",
         "attributable_churn_share_ci_lower": 0.021, "attributable_churn_share_ci_upper": 0.036,
         "churners_attributable_ci_lower": 10.5, "churners_attributable_ci_upper": 18.1,
         "revenue_at_risk_ci_lower": 68_000.0, "revenue_at_risk_ci_upper": 118_000.0},
        {"touchpoint": "<b>billing</b>", "exposure_share": 0.12, "hazard_ratio": 2.05, "attributable_churn_share": 0.1119,
         "churners_attributable": 56.0, "revenue_at_risk": 388_123.0, "exposure": "poor_b_billing_b",
         "attributable_churn_share_ci_lower": 0.1, "attributable_churn_share_ci_upper": 0.123,
         "churners_attributable_ci_lower": 50.1, "churners_attributable_ci_upper": 61.4,
         "revenue_at_risk_ci_lower": 347_000.0, "revenue_at_risk_ci_upper": 425_600.0},
        {"touchpoint": "app", "exposure_share": 0.3, "hazard_ratio": 1.02, "attributable_churn_share": 0.006,
         "churners_attributable": 3.0, "revenue_at_risk": 20_000.0, "exposure": "poor_app",
         "attributable_churn_share_ci_lower": -0.03, "attributable_churn_share_ci_upper": 0.04,
         "churners_attributable_ci_lower": -15.0, "churners_attributable_ci_upper": 20.0,
         "revenue_at_risk_ci_lower": -100_000.0, "revenue_at_risk_ci_upper": 130_000.0},
    ])
    _write(tmp_path, "hazard_ratios", [
        {"model": "covariates", "term": "segment[smb]", "hazard_ratio": 0.8, "ci_lower": 0.7, "ci_upper": 0.9, "p_value": 0.001},
        {"model": "touchpoints", "term": "poor_support", "hazard_ratio": 1.6, "ci_lower": 1.31, "ci_upper": 1.95, "p_value": 1e-5},
        {"model": "touchpoints", "term": "poor_b_billing_b", "hazard_ratio": 2.05, "ci_lower": 1.8, "ci_upper": 2.33, "p_value": 1e-9},
        {"model": "touchpoints", "term": "poor_app", "hazard_ratio": 1.02, "ci_lower": 0.9, "ci_upper": 1.15, "p_value": 0.7},
    ])
    _write(tmp_path, "drivers", [
        {"driver": "sat_support", "coefficient": 1.2, "ci_lower": 1.17, "ci_upper": 1.23, "p_value": 0.0, "importance": 0.302,
         "importance_ci_lower": 0.289, "importance_ci_upper": 0.314, "performance": 2.99, "quadrant": "priority"},
        {"driver": "sat_billing", "coefficient": 0.9, "ci_lower": 0.88, "ci_upper": 0.93, "p_value": 0.0, "importance": 0.188,
         "importance_ci_lower": 0.178, "importance_ci_upper": 0.198, "performance": 3.02, "quadrant": "priority"},
        {"driver": "sat_app", "coefficient": 0.4, "ci_lower": 0.37, "ci_upper": 0.42, "p_value": 0.0, "importance": 0.066,
         "importance_ci_lower": 0.061, "importance_ci_upper": 0.073, "performance": 3.29,
         "quadrant": "possible overkill"},
        {"driver": "sat_delivery", "coefficient": 0.18, "ci_lower": 0.15, "ci_upper": 0.2, "p_value": 0.0, "importance": 0.031,
         "importance_ci_lower": 0.027, "importance_ci_upper": 0.035, "performance": 3.23,
         "quadrant": "possible overkill"},
    ])
    _write(tmp_path, "metric_validity", [
        {"metric": "csat_mean", "touchpoint": "all", "hazard_ratio_per_sd": 0.883, "ci_lower": 0.827, "ci_upper": 0.943,
         "concordance_gain": 0.0095, "n": 4000, "common_n": 3000, "gain_common": 0.011, "gain_ci_lower": 0.006,
         "gain_ci_upper": 0.016, "rank": 1, "rank_ci_lower": 1, "rank_ci_upper": 1, "share_ranked_first": 0.99},
        {"metric": "csat_top2", "touchpoint": "delivery", "hazard_ratio_per_sd": 0.94, "ci_lower": 0.87, "ci_upper": 1.01,
         "concordance_gain": 0.012, "n": 3200, "common_n": 3000, "gain_common": 0.002, "gain_ci_lower": 0.0,
         "gain_ci_upper": 0.005, "rank": 2, "rank_ci_lower": 2, "rank_ci_upper": 2, "share_ranked_first": 0.01},
    ])
    _write(tmp_path, "retention", [
        {"group": "all", "days": 365, "survival": 0.783, "ci_lower": 0.771, "ci_upper": 0.794, "at_risk": 5000},
    ])
    manifest = {"as_of": "2026-09-30", "params": {"covariates": ["segment", "plan"], "period": "quarter",
                                                  "currency": "EUR"}}
    return tmp_path, manifest


def test_findings_are_ranked_traced_and_escaped(hand_run):
    run_dir, manifest = hand_run
    s = executive_summary(run_dir, manifest)
    assert 3 <= len(s["findings"]) <= 5
    assert_traced(run_dir, s)
    # revenue order: billing (388k) before support (95k); app's hazard-ratio interval includes 1: no finding
    assert "billing" in _plain(s["findings"][0]) and "support" in _plain(s["findings"][1])
    assert not any("app" in _plain(f).split() for f in s["findings"][:2])
    assert "&lt;b&gt;billing&lt;/b&gt;" in s["findings"][0] and "<b>billing" not in s["findings"][0]
    assert "EUR 388,123 (95% CI EUR 347,000 to EUR 425,600), a year of revenue of the attributable churners" in s["findings"][0]
    assert "95% CI 1.80 to 2.33" in s["findings"][0] and "are associated with 2.05 times" in s["findings"][0]
    assert "annual revenue" not in " ".join(s["findings"]) and "account" not in " ".join(s["findings"])
    # drivers: the top driver (a priority, named from the vocabulary), then the metric whose interval excludes 1
    assert _plain(s["findings"][2]).startswith("Support satisfaction is the strongest driver")
    assert "1.20 points on the 0–10 recommend scale" in s["findings"][2] and "NPS points" not in s["findings"][2]
    assert "below the median" in s["findings"][2]
    assert "mean CSAT across all touchpoints" in s["findings"][3]
    assert _plain(s["findings"][4]).startswith("Billing satisfaction is also a priority")
    assert len(s["findings"]) == 5
    methods = html.unescape(s["methods"])
    assert "associations" in methods and "segment, plan" in methods
    assert "30 September 2026" in methods and "2026Q3 (1 July 2026 to 30 September 2026)" in methods
    assert "Miettinen" in methods and "Levin" not in methods and "(in EUR)" in methods
    assert "never explains that churn" in methods


def test_without_revenue_churners_rank_the_touchpoints(hand_run):
    run_dir, manifest = hand_run
    impact = read_result(run_dir / "results", "impact")
    impact["revenue_at_risk"] = float("nan")
    impact.loc[0, "churners_attributable"] = 80.0  # support now has more attributable churners than billing
    write_result(run_dir / "results", "impact", impact)
    s = executive_summary(run_dir, manifest)
    assert_traced(run_dir, s)
    assert "support" in _plain(s["findings"][0]) and "revenue" not in _plain(s["findings"][0])


def test_custom_exposures_are_named_as_such(hand_run):
    run_dir, manifest = hand_run
    impact = read_result(run_dir / "results", "impact")
    impact.loc[0, ["touchpoint", "exposure"]] = "unresolved_support"
    write_result(run_dir / "results", "impact", impact)
    hr = read_result(run_dir / "results", "hazard_ratios")
    hr.loc[1, "term"] = "unresolved_support"
    write_result(run_dir / "results", "hazard_ratios", hr)
    s = executive_summary(run_dir, manifest)
    assert_traced(run_dir, s)
    assert _plain(s["findings"][1]).startswith("Exposure unresolved_support is associated with 1.60 times")


def test_the_summary_reads_exposure_and_quadrant_from_the_result_files(hand_run):
    run_dir, manifest = hand_run
    results = run_dir / "results"
    impact, hr, drivers = (read_result(results, name) for name in ("impact", "hazard_ratios", "drivers"))
    impact.loc[1, "exposure"] = hr.loc[2, "term"] = "bad_bills"  # not poor_<touchpoint>: nothing to guess from
    drivers["quadrant"] = ["maintain", "low priority", "possible overkill", "possible overkill"]
    for name, df in (("impact", impact), ("hazard_ratios", hr), ("drivers", drivers)):
        write_result(results, name, df)
    s = executive_summary(run_dir, manifest)
    assert_traced(run_dir, s)
    assert _plain(s["findings"][0]).startswith("Poor <b>billing</b> experiences are associated with 2.05 times")
    top = next(f for f in s["findings"] if "strongest driver" in f)
    assert "below the median" not in top and not any("also a priority" in f for f in s["findings"])


def test_retention_fills_a_thin_summary_and_nothing_without_results(tmp_path):
    manifest = {"as_of": "2026-09-30", "params": {"covariates": [], "period": "month"}}
    assert executive_summary(tmp_path, manifest) == {"findings": [], "methods": "", "sources": []}
    _write(tmp_path, "retention", [
        {"group": "all", "days": 365, "survival": 0.783, "ci_lower": 0.771, "ci_upper": 0.794, "at_risk": 5000},
    ])
    s = executive_summary(tmp_path, manifest)
    assert _plain(s["findings"][0]) == "Retention 365 days after signup is 78.3% (95% CI 77.1% to 79.4%, Kaplan–Meier)."
    assert_traced(tmp_path, s)
    assert "no customer attributes" in s["methods"] and "2026-09" in s["methods"]


def test_published_summary_is_traced_to_the_result_files(published_run: Path):
    manifest = json.loads((published_run / "manifest.json").read_text())
    s = executive_summary(published_run, manifest)
    assert 3 <= len(s["findings"]) <= 5
    assert_traced(published_run, s)
    index = (published_run / "index.html").read_text(encoding="utf-8")
    for sentence in s["findings"]:
        assert sentence in index
    assert s["methods"] in index
