"""Since the last run (issue 16): the previous run of a series, and what changed, from result tables only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxlib.errors import ParamsError
from cxlib.results import read_result, write_result
from cxlib.run.compare import (CHANGE_COLUMNS, CHANGES, changes_since_last_run, churn_changes, hazard_ratio_changes,
                               previous_run, series_of, target_changes)
from cxlib.text.changes import change_sentences

from conftest import write_params


def _publish(out: Path, run_id: str, as_of: str, status: str = "complete", ended: str = "2026-10-01") -> Path:
    (out / run_id).mkdir(parents=True)
    (out / run_id / "manifest.json").write_text(json.dumps({"run_id": run_id, "as_of": as_of, "status": status,
                                                            "ended": ended}))
    return out / run_id


@pytest.mark.parametrize("run_id, base, tag", [
    ("acme-2026Q3", "acme", "2026Q3"), ("acme_2026q3", "acme", "2026Q3"), ("acme.2026-Q3", "acme", "2026Q3"),
    ("2026Q3", "", "2026Q3"), ("demo", "demo", None), ("q3", "q3", None), ("acme2026Q3", "acme2026Q3", None),
    ("acme-2026Q3-final", "acme-2026Q3-final", None),
])
def test_series_of(run_id, base, tag):
    assert series_of(run_id) == (base, tag)


def test_previous_run_orders_by_as_of_not_by_name(tmp_path):
    _publish(tmp_path, "acme-2026Q1", "2026-03-31")
    _publish(tmp_path, "acme_2025q4", "2025-12-31")
    _publish(tmp_path, "acme-2026Q2", "2026-06-30", status="failed")  # not a complete run: skipped
    _publish(tmp_path, "other-2026Q2", "2026-06-30")  # another series
    _publish(tmp_path, "acme-2026Q3", "2026-09-30")
    prev = previous_run(tmp_path, "acme-2026Q3")
    assert (prev.run_id, prev.as_of, prev.reason) == ("acme-2026Q1", "2026-03-31", "series")
    assert previous_run(tmp_path, "acme-2026Q1").run_id == "acme_2025q4"
    assert previous_run(tmp_path, "acme_2025q4") is None
    # the current run, not yet published: its as_of from the argument, else from its quarter tag
    assert previous_run(tmp_path, "acme-2026Q4").run_id == "acme-2026Q3"
    assert previous_run(tmp_path, "acme-2026Q4", as_of="2026-02-01").run_id == "acme_2025q4"
    assert previous_run(tmp_path, "demo") is None


def test_compare_with_names_the_run(tmp_path):
    _publish(tmp_path, "other-2026Q2", "2026-06-30")
    assert previous_run(tmp_path, "acme-2026Q3", compare_with="other-2026Q2").reason == "compare_with"
    with pytest.raises(ParamsError, match="compare_with: 'nope' is not a published run"):
        previous_run(tmp_path, "acme-2026Q3", compare_with="nope")
    _publish(tmp_path, "acme-2026Q3", "2026-09-30")
    with pytest.raises(ParamsError, match="this run's own run_id"):
        previous_run(tmp_path, "acme-2026Q3", compare_with="acme-2026Q3")


def test_a_wrong_compare_with_stops_the_run_before_any_notebook(tmp_path, small_params_file, capsys):
    from cxlib.cli import main

    raw = yaml.safe_load(small_params_file.read_text())
    params = write_params(tmp_path / "p.yaml", {**raw, "compare_with": "acme-2025Q4"})
    assert main(["run", str(params), "--output-dir", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert "compare_with: 'acme-2025Q4' is not a published run" in err and "validated" not in err
    assert not (tmp_path / "reports").exists()


def test_hazard_ratios_only_when_intervals_stop_overlapping():
    prev = pd.DataFrame({"model": ["touchpoints"] * 3 + ["covariates"],
                         "term": ["poor_billing", "poor_app", "poor_support", "poor_billing"],
                         "hazard_ratio": [1.5, 1.0, 2.0, 1.5], "ci_lower": [1.3, 0.9, 1.8, 1.3],
                         "ci_upper": [1.7, 1.1, 2.2, 1.7]})
    cur = prev.assign(hazard_ratio=[2.1, 1.1, 1.5, 2.1], ci_lower=[1.9, 1.0, 1.35, 1.9], ci_upper=[2.3, 1.2, 1.7, 2.3])
    rows = hazard_ratio_changes(prev, cur)
    assert [(r["touchpoint"], r["direction"]) for r in rows] == [("billing", "up"), ("support", "down")]


def test_targets_newly_met_or_missed():
    prev = pd.DataFrame({"metric": "csat_top2", "touchpoint": ["all", "billing", "app", "support"], "period": "2026Q2",
                         "target": 0.7, "value": [0.69, 0.41, 0.72, 0.6], "status": ["can't tell", "missed", "met", "missed"]})
    cur = pd.concat([prev.assign(period="2026Q3", value=[0.72, 0.34, 0.69, 0.69],
                                 status=["met", "missed", "missed", "can't tell"]),
                     pd.DataFrame({"metric": ["nps"], "touchpoint": ["all"], "period": ["2026Q3"], "target": [20.0],
                                   "value": [6.9], "status": ["missed"]})], ignore_index=True)
    rows = target_changes(prev, cur)
    assert [(r["touchpoint"], r["metric_or_term"], r["direction"]) for r in rows] == [
        ("all", "csat_top2", "met"), ("app", "csat_top2", "missed"), ("all", "nps", "missed")]
    assert "no such target in the previous run" in rows[-1]["note"]


def test_attributable_churn_moving():
    prev = pd.DataFrame({"touchpoint": ["billing", "app", "support"], "exposure": ["poor_billing", "poor_app", "poor_support"],
                         "attributable_churn_share": [0.15, 0.01, 0.12], "churners_attributable": [50.0, 3.0, 40.0]})
    cur = prev.assign(attributable_churn_share=[0.19, 0.012, 0.10], churners_attributable=[67.0, 3.5, 33.0])
    rows = churn_changes(prev, cur, periods=("2026Q2", "2026Q3"))
    assert [(r["touchpoint"], r["direction"]) for r in rows] == [("billing", "up"), ("support", "down")]
    assert rows[0]["note"] == "attributable churn share +4.0 pts; churners attributable 50 → 67"


def test_changes_table_round_trips_through_its_csv(tmp_path):
    prev, cur = tmp_path / "prev", tmp_path / "cur"
    hr = pd.DataFrame({"model": ["touchpoints"], "term": ["poor_billing"], "hazard_ratio": [1.5], "ci_lower": [1.3],
                       "ci_upper": [1.7], "p_value": [0.001]})
    write_result(prev, "hazard_ratios", hr)
    write_result(cur, "hazard_ratios", hr.assign(hazard_ratio=2.0, ci_lower=1.8, ci_upper=2.2))
    ch = changes_since_last_run(prev, cur)
    assert list(ch.columns) == CHANGE_COLUMNS
    write_result(cur, CHANGES, ch)
    back = read_result(cur, CHANGES)
    assert back[["kind", "touchpoint", "metric_or_term", "direction"]].values.tolist() == [
        ["hazard_ratio", "billing", "poor_billing", "up"]]
    assert changes_since_last_run(tmp_path / "none", tmp_path / "none2").empty


# ---- two consecutive demo runs, as-of one quarter apart (the two_quarters fixture of conftest.py) ----------


def _expected_metric_changes(results: Path) -> pd.DataFrame:
    ch = read_result(results, "metric_changes")
    latest = ch["period"].astype(str).max()
    return ch[(ch["period"].astype(str) == latest) & (ch["channel"] == "all") & (ch["segment"] == "all")
              & ch["significant"].astype(bool)]


@pytest.mark.slow
def test_two_consecutive_demo_runs(two_quarters):
    prev = previous_run(two_quarters, "small-2026Q3")
    assert (prev.run_id, prev.as_of, prev.reason) == ("small-2026Q2", "2026-06-30", "series")
    assert previous_run(two_quarters, "small-2026Q2") is None
    cur = two_quarters / "small-2026Q3" / "results"
    ch = changes_since_last_run(prev.results, cur)
    assert list(ch.columns) == CHANGE_COLUMNS and set(ch["kind"]) <= {"metric", "hazard_ratio", "target",
                                                                       "attributable_churn"}

    # metrics: exactly the touchpoint-level changes into 2026Q3 that survive BH, with the sign of their difference
    expected = _expected_metric_changes(cur)
    got = ch[ch["kind"] == "metric"]
    assert len(expected) > 0 and len(got) == len(expected)
    assert set(zip(got["touchpoint"], got["metric_or_term"])) == set(zip(expected["touchpoint"], expected["metric"]))
    want = {(t, m): ("up" if d > 0 else "down") for t, m, d in
            zip(expected["touchpoint"], expected["metric"], expected["difference"])}
    assert {(t, m): d for t, m, d in zip(got["touchpoint"], got["metric_or_term"], got["direction"])} == want
    assert (got["period"] == "2026Q3").all() and (got["previous_period"] == "2026Q2").all()
    # the demo's billing experience worsens in 2026Q3 (simulated), beyond chance
    assert want.get(("billing", "csat_top2")) == "down"

    # hazard ratios: exactly the touchpoint-model terms whose intervals do not overlap
    hp, hc = read_result(prev.results, "hazard_ratios"), read_result(cur, "hazard_ratios")
    both = hc[hc["model"] == "touchpoints"].merge(hp[hp["model"] == "touchpoints"], on=["model", "term"],
                                                  suffixes=("", "_p"))
    apart = both[(both["ci_lower"] > both["ci_upper_p"]) | (both["ci_upper"] < both["ci_lower_p"])]
    assert sorted(ch.loc[ch["kind"] == "hazard_ratio", "metric_or_term"]) == sorted(apart["term"])

    # targets: those whose status became met or missed
    tp, tc = read_result(prev.results, "metric_targets"), read_result(cur, "metric_targets")
    t = tc.merge(tp, on=["metric", "touchpoint"], how="left", suffixes=("", "_p"))
    newly = t[t["status"].isin(["met", "missed"]) & (t["status"] != t["status_p"])]
    got_t = ch[ch["kind"] == "target"]
    assert sorted(zip(got_t["metric_or_term"], got_t["touchpoint"], got_t["direction"])) == sorted(
        zip(newly["metric"], newly["touchpoint"], newly["status"]))

    # attributable churn: moves of a percentage point or more whose intervals no longer overlap, with their direction
    ip, ic = read_result(prev.results, "impact"), read_result(cur, "impact")
    i = ic.merge(ip, on="exposure", suffixes=("", "_p"))
    lo, hi = "attributable_churn_share_ci_lower", "attributable_churn_share_ci_upper"
    moved = i[((i["attributable_churn_share"] - i["attributable_churn_share_p"]).abs() >= 0.01)
              & ((i[lo] > i[f"{hi}_p"]) | (i[hi] < i[f"{lo}_p"]))]
    got_a = ch[ch["kind"] == "attributable_churn"]
    assert sorted(zip(got_a["touchpoint"], got_a["direction"])) == sorted(
        zip(moved["touchpoint"], ["up" if d > 0 else "down" for d in
                                  moved["attributable_churn_share"] - moved["attributable_churn_share_p"]]))

    # the index sentences count the same
    sentences = change_sentences(ch)
    ups, downs = sum(v == "up" for v in want.values()), sum(v == "down" for v in want.values())
    assert sentences[0].startswith(f"{len(expected)} metric{'s' if len(expected) != 1 else ''} changed beyond "
                                   f"chance (Benjamini–Hochberg): {ups} up, {downs} down")

    # what the run published is exactly that comparison
    published = read_result(cur, CHANGES)
    assert published[["kind", "touchpoint", "metric_or_term", "direction"]].values.tolist() == \
        ch[["kind", "touchpoint", "metric_or_term", "direction"]].values.tolist()
    assert not (prev.results / f"{CHANGES}.csv").exists(), "the first run of a series has nothing to compare with"


@pytest.mark.slow
def test_index_and_sections_say_what_changed(two_quarters):
    from html import escape

    from markupsafe import escape as jinja_escape

    q2, q3 = two_quarters / "small-2026Q2", two_quarters / "small-2026Q3"
    ch = read_result(q3 / "results", CHANGES)
    index = (q3 / "index.html").read_text(encoding="utf-8")
    assert 'Since the last run (<a href="../small-2026Q2/index.html">small-2026Q2</a>, data as of 2026-06-30)' in index
    for sentence in change_sentences(ch):
        assert str(jinja_escape(sentence)) in index, sentence
    assert "This is the first report of its series" in (q2 / "index.html").read_text(encoding="utf-8")
    assert "Since the last run" not in (q2 / "01_touchpoint_portfolio.html").read_text(encoding="utf-8")
    # each section speaks of its own kinds of change, with the index's counts
    for page, kinds in [("01_touchpoint_portfolio", ("metric", "target")), ("02_retention", ("hazard_ratio",)),
                        ("04_impact", ("attributable_churn",))]:
        html = (q3 / f"{page}.html").read_text(encoding="utf-8")
        assert "Since the last run (small-2026Q2, data as of 2026-06-30)" in html, page
        for sentence in change_sentences(ch[ch["kind"].isin(kinds)], kinds):
            assert escape(sentence) in html, (page, sentence)
    # the index's section list counts them too
    for page, kinds in [("01_touchpoint_portfolio", ("metric", "target")), ("02_retention", ("hazard_ratio",)),
                        ("04_impact", ("attributable_churn",))]:
        n = int(ch["kind"].isin(kinds).sum())
        if n:
            assert f"{n} change{'s' if n != 1 else ''} since the last run" in index, page
