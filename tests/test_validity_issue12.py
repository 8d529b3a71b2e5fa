"""Issue 12, item 4: metrics that matter — tenure in every model, a common sample, bootstrap ranks,
and a "best" metric named only when the bootstrap separates it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cxlib.analyses import validity as V
from cxlib.results import RESULT_COLUMNS
from cxlib.run.summary import _validity_finding
from cxlib.text.impact import best_metric_sentence


def _people(n: int, effects: dict[str, float], seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    x = {m: rng.normal(size=n) for m in effects}
    lp = sum(b * x[m] for m, b in effects.items())
    t = rng.exponential(400 * np.exp(-lp))
    people = pd.DataFrame({"customer_id": range(n), "time": np.minimum(t, 365).round(), "event": (t < 365).astype(int)})
    values = pd.concat([pd.DataFrame({"customer_id": range(n), "metric": m, "touchpoint": "all", "value": v})
                        for m, v in x.items()], ignore_index=True)
    return people, values


def _compare(effects: dict[str, float], n: int = 800, seed: int = 3):
    people, values = _people(n, effects, seed)
    design = pd.DataFrame(index=people.index)
    summary = V.score_metrics(people, design, values)
    return V.compare_metrics(people, design, values, summary, min_n=30, draws=60, seed=11)


def test_a_clearly_stronger_metric_is_named_best():
    out, best, draws = _compare({"csat_mean": 0.9, "ces_mean": 0.05, "resolution_rate": 0.0})
    assert best == ("csat_mean", "all") and draws == 60
    row = out.iloc[0]
    assert row["metric"] == "csat_mean" and (row["rank_ci_lower"], row["rank_ci_upper"]) == (1, 1)
    assert row["gain_ci_lower"] > 0 and row["common_n"] == 800
    assert best_metric_sentence(out).startswith("Of the 3 metrics compared on the same 800 customers, mean CSAT")


def test_equal_metrics_cannot_be_told_apart():
    out, best, _ = _compare({"csat_mean": 0.3, "ces_mean": 0.3})
    assert best is None
    assert (out["rank_ci_upper"] == 2).any() and (out["rank_ci_lower"] == 1).all()
    assert "cannot be told apart at this sample size" in best_metric_sentence(out)


def _csv(frame: pd.DataFrame, hr=(0.7, 0.6, 0.8)) -> pd.DataFrame:
    """A metric_validity.csv of the compared metrics (hazard ratio of the first clearly below 1)."""
    return frame.assign(hazard_ratio_per_sd=hr[0], ci_lower=hr[1], ci_upper=hr[2])[RESULT_COLUMNS["metric_validity"]]


def test_executive_summary_names_a_best_metric_only_when_separated():
    out, _, _ = _compare({"csat_mean": 0.9, "ces_mean": 0.05, "resolution_rate": 0.0})
    [f] = _validity_finding(_csv(out))
    assert "adds most to predicting churn" in f.html and "mean CSAT" in f.html
    assert f.sources == [{"file": "metric_validity", "row": 0}]
    out, _, _ = _compare({"csat_mean": 0.3, "ces_mean": 0.3})
    [f] = _validity_finding(_csv(out))
    assert "cannot be told apart at this sample size" in f.html and "best" in f.html and "adds most" not in f.html
    assert [s["row"] for s in f.sources] == [0, 1]


def test_common_sample_and_own_sample_sizes():
    people, values = _people(600, {"csat_mean": 0.5, "ces_mean": 0.2, "resolution_rate": 0.2}, seed=5)
    # CES for half the customers, resolution for a tenth: CES joins the common sample, resolution does not
    values = values[(values["metric"] == "csat_mean") | ((values["metric"] == "ces_mean") & (values["customer_id"] < 300))
                    | ((values["metric"] == "resolution_rate") & (values["customer_id"] < 60))]
    design = pd.DataFrame(index=people.index)
    summary = V.score_metrics(people, design, values)
    out, _, _ = V.compare_metrics(people, design, values, summary, min_n=30, draws=20, seed=0)
    by = out.set_index("metric")
    assert by.loc["csat_mean", "n"] == 600 and by.loc["ces_mean", "n"] == 300 and by.loc["resolution_rate", "n"] == 60
    assert by.loc["csat_mean", "common_n"] == by.loc["ces_mean", "common_n"] == 300
    assert pd.isna(by.loc["resolution_rate", "rank"])  # not comparable: its own n, no rank


def test_every_model_adjusts_for_log_tenure():
    import ibis

    rng = np.random.default_rng(2)
    n = 400
    signup = [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 700, n)]
    csat = rng.integers(1, 6, n)
    days = np.minimum(rng.exponential(500 * np.exp(0.4 * (csat - 3))), 800).astype(int)
    customers = ibis.memtable({"customer_id": [f"c{i}" for i in range(n)], "signup_date": signup,
                               "churn_date": [dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) if d < 800 else None for d in days]})
    interactions = ibis.memtable({"customer_id": [f"c{i}" for i in range(n)], "touchpoint": "app",
                                  "timestamp": pd.Timestamp("2024-12-01"), "csat": csat.astype(float), "ces": np.nan,
                                  "resolved": None})
    res = V.metric_validity(customers, interactions, None, [], ["app"], dt.date(2026, 1, 1), horizon_days=365,
                            bootstrap=20, seed=1)
    assert res.covariates == ("log_tenure",)
    assert list(res.to_frame().columns) == RESULT_COLUMNS["metric_validity"]
    assert res.draws == 20 and res.to_frame()["rank"].notna().sum() == 2


def test_comparison_above_the_cap_uses_a_seeded_sample(monkeypatch):
    monkeypatch.setattr(V, "MAX_COMPARISON_N", 300)
    people, values = _people(800, {"csat_mean": 0.9, "ces_mean": 0.0}, seed=3)
    design = pd.DataFrame(index=people.index)
    summary = V.score_metrics(people, design, values)
    out, best, draws = V.compare_metrics(people, design, values, summary, min_n=30, draws=40, seed=11)
    again, best_again, _ = V.compare_metrics(people, design, values, summary, min_n=30, draws=40, seed=11)
    other, _, _ = V.compare_metrics(people, design, values, summary, min_n=30, draws=40, seed=12)
    pd.testing.assert_frame_equal(out, again)
    assert best == best_again == ("csat_mean", "all") and draws == 40
    assert (out["common_n"] == 300).all() and (out["n"] == 800).all()  # own-sample results stay on all 800
    pd.testing.assert_frame_equal(out[summary.columns], summary)
    assert not np.array_equal(out["gain_common"], other["gain_common"])  # another seed, another sample


def test_above_the_cap_the_models_run_on_one_systematic_sample():
    """Issue 14: the models above ``max_customers`` equal the same call on exactly the customers of the
    seeded systematic sample (every k-th in customer_id order from the seeded start), picked in pandas."""
    import ibis

    rng = np.random.default_rng(4)
    n = 1200
    ids = [f"c{i:04d}" for i in rng.permutation(n)]  # the engine's row order is not the id order
    signup = [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 700, n)]
    csat = rng.integers(1, 6, n)
    days = np.minimum(rng.exponential(500 * np.exp(0.4 * (csat - 3))), 800).astype(int)
    customers = pd.DataFrame({"customer_id": ids, "signup_date": signup,
                              "churn_date": [dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) if d < 800 else None
                                             for d in days]})
    interactions = pd.DataFrame({"customer_id": ids, "touchpoint": "app", "timestamp": pd.Timestamp("2024-12-01"),
                                 "csat": csat.astype(float), "ces": np.nan, "resolved": None})

    def run(frame: pd.DataFrame, cap: int) -> V.MetricValidityResult:
        kept = interactions[interactions["customer_id"].isin(frame["customer_id"])]
        return V.metric_validity(ibis.memtable(frame), ibis.memtable(kept), None, [], ["app"], dt.date(2026, 1, 1),
                                 horizon_days=365, bootstrap=20, seed=7, max_customers=cap)

    everyone = run(customers, n)
    at_risk = everyone.n_at_risk
    sampled = run(customers, 400)
    k = -(-at_risk // 400)
    start = int(np.random.default_rng(7).integers(k))
    landmark_ids = sorted(c for c, s, d in zip(ids, signup, customers["churn_date"])
                          if s < dt.date(2025, 1, 1) and (d is None or d > dt.date(2025, 1, 1)))
    assert len(landmark_ids) == at_risk and sampled.sampled_from == at_risk and everyone.sampled_from is None
    picked = customers[customers["customer_id"].isin(landmark_ids[start::k])]
    alone = run(picked, n)
    assert sampled.n_at_risk == len(picked) <= 400
    pd.testing.assert_frame_equal(sampled.summary, alone.summary)
    assert "a systematic sample of the" in sampled.printer().lines[0]
