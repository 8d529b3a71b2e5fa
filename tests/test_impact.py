"""Business impact (attributable churn, revenue at risk, what-if retention) and metric validity."""

from __future__ import annotations

import datetime as dt
import warnings
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from cxlib.analyses import hazards, impact, validity
from cxlib.errors import NotEstimable
from cxlib.features.churners import churner_exposures
from cxlib.features.customers import Covariate, covariates_from_frame
from cxlib.features.landmark import interaction_metrics, landmark_people
from cxlib.params import ExposureRule, RunParams
from cxlib.periods import ReportingPeriod, reporting_period
from cxlib.results import ALL, RESULT_COLUMNS
from cxlib.stats.attribution import what_if_retention
from cxlib.stats.paf import coefficient_draws
from cxlib.text.impact import evidence_notes

# ---- metrics that matter ---------------------------------------------------------------------


def test_landmark_people_follow_up_and_events():
    customers = ibis.memtable({
        "customer_id": ["early_churn", "on_landmark", "later", "active", "after_end", "new"],
        "signup_date": [dt.date(2024, 1, 1)] * 5 + [dt.date(2025, 1, 1)],
        "churn_date": [dt.date(2024, 6, 1), dt.date(2025, 1, 1), dt.date(2025, 3, 1), None, dt.date(2026, 2, 1), None],
    })
    got = landmark_people(customers, dt.date(2025, 1, 1), dt.date(2026, 1, 1), []).execute()
    # churned before or on the landmark, or signed up on it: not at risk
    assert got.to_dict("list") == {"customer_id": ["active", "after_end", "later"],
                                   "time": [365, 365, 59], "event": [0, 0, 1],
                                   "tenure_days": [366, 366, 366]}  # 2024-01-01 to the landmark 2025-01-01


def test_interaction_metrics_per_customer():
    ts = lambda d: dt.datetime.fromisoformat(d)  # noqa: E731
    interactions = ibis.memtable(pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
        "timestamp": [ts("2025-01-05 10:00"), ts("2025-02-01 09:00"), ts("2025-03-01 08:00"), ts("2024-12-31 23:00"),
                      ts("2025-01-10 12:00"), ts("2025-01-11 12:00"), ts("2025-01-10 12:00")],
        "touchpoint": ["billing", "billing", "support", "billing", "support", "support", "support"],
        "csat": [5.0, 2.0, 4.0, 1.0, None, 3.0, 5.0],
        "ces": [None, None, 6.0, None, 2.0, 4.0, None],
        "resolved": [None, None, True, None, False, True, None],
    }))
    people = ibis.memtable({"customer_id": ["a", "b"]})
    got = interaction_metrics(interactions, people, ["billing", "support"],
                                       dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    got = got.set_index(["customer_id", "metric", "touchpoint"])["value"].to_dict()
    # a: billing 5 and 2 in the window (the 31 Dec and 1 Mar ones are outside); b: support only.
    expected = {
        ("a", "csat_mean", ALL): 3.5, ("a", "csat_mean", "billing"): 3.5,
        ("a", "csat_top2", ALL): 0.5, ("a", "csat_top2", "billing"): 0.5,
        ("b", "csat_mean", ALL): 3.0, ("b", "csat_mean", "support"): 3.0,
        ("b", "csat_top2", ALL): 0.0, ("b", "csat_top2", "support"): 0.0,
        ("b", "ces_mean", "support"): 3.0, ("b", "resolution_rate", "support"): 0.5,
    }
    assert got == pytest.approx(expected)  # ces and resolution only at support: no duplicate "all" rows


def _simulated_cohort(n: int = 2500, seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame, list[Covariate]]:
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.35, "b", "a")
    m = rng.normal(3.0, 1.0, n)
    rate = 0.0015 * np.exp(0.4 * (g == "b") + np.log(0.7) * (m - 3.0))
    t = rng.exponential(1 / rate)
    people = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "time": np.minimum(np.ceil(t), 365).astype(int),
                           "event": (t < 365).astype(int), "g": g})
    values = pd.concat([
        pd.DataFrame({"customer_id": people["customer_id"], "metric": "csat_mean", "touchpoint": "x", "value": m}),
        pd.DataFrame({"customer_id": people["customer_id"], "metric": "ces_mean", "touchpoint": "x",
                      "value": rng.normal(4, 1, n)}),
        pd.DataFrame({"customer_id": people["customer_id"][:20], "metric": "nps", "touchpoint": ALL, "value": 1.0}),
    ])
    return people, values, [Covariate("g", "categorical", levels=("a", "b"))]


def test_score_metrics_matches_statsmodels_and_recovers_the_truth():
    people, values, covs = _simulated_cohort()
    design = validity.covariate_design(people, covs)
    assert list(design.columns) == ["g[b]"]
    got = validity.score_metrics(people, design, values).set_index("metric")
    m = values[values["metric"] == "csat_mean"]["value"].to_numpy()
    z = (m - m.mean()) / m.std(ddof=1)
    ref = sm.PHReg(people["time"], np.column_stack([design["g[b]"], z]), status=people["event"], ties="efron").fit()
    assert np.log(got.loc["csat_mean", "hazard_ratio_per_sd"]) == pytest.approx(ref.params[1], abs=1e-4)
    lo, hi = np.exp(ref.conf_int()[1])
    assert got.loc["csat_mean", "ci_lower"] == pytest.approx(lo, rel=1e-3)
    assert got.loc["csat_mean", "ci_upper"] == pytest.approx(hi, rel=1e-3)
    assert got.loc["csat_mean", "ci_lower"] < 0.7 < got.loc["csat_mean", "ci_upper"]
    assert got.loc["ces_mean", "ci_lower"] < 1 < got.loc["ces_mean", "ci_upper"]
    # ranked: the informative metric adds concordance, the noise metric next to none
    assert got.index[0] == "csat_mean"
    assert got.loc["csat_mean", "concordance_gain"] > 0.03 > got.loc["ces_mean", "concordance_gain"]
    assert np.isnan(got.loc["nps", "hazard_ratio_per_sd"]) and "too few" in got.loc["nps", "note"]


def test_metric_validity_on_demo(small_workbook):
    p = small_workbook.params
    wb = small_workbook
    covariates = covariates_from_frame(hazards.covariate_table(wb.customers, p.covariates, p.covariate_bins))
    res = validity.metric_validity(wb.customers, wb.interactions, wb.surveys, covariates, wb.touchpoints(), p.as_of,
                                   horizon_days=max(p.horizons_days), min_cell_size=p.min_cell_size)
    assert res.landmark == p.as_of - dt.timedelta(days=max(p.horizons_days))
    assert res.window_start == res.landmark - dt.timedelta(days=max(p.horizons_days))
    out = res.to_frame()
    assert list(out.columns) == RESULT_COLUMNS["metric_validity"] and len(out) >= 10
    ranked = out[out["rank"].notna()]
    assert len(ranked) >= 2 and ranked["rank"].is_monotonic_increasing and ranked["common_n"].nunique() == 1
    assert (ranked["gain_ci_lower"] <= ranked["gain_common"]).all() and (ranked["gain_common"] <= ranked["gain_ci_upper"]).all()
    assert ((out["ci_lower"] < out["hazard_ratio_per_sd"]) & (out["hazard_ratio_per_sd"] < out["ci_upper"])).all()
    assert {"csat_mean", "csat_top2", "ces_mean", "resolution_rate", "nps"} <= set(out["metric"])
    assert set(res.covariates) >= {"segment[smb]", "plan[premium]", "monthly_revenue", "log_tenure"}


# ---- the period's churners by exposure pattern at churn (engine query, hand-worked) -------------


def test_reporting_period():
    assert reporting_period(dt.date(2026, 9, 30)) == ReportingPeriod(dt.date(2026, 7, 1), dt.date(2026, 9, 30), "2026Q3")
    assert reporting_period(dt.date(2026, 1, 15)).start == dt.date(2026, 1, 1)
    month = reporting_period(dt.date(2026, 2, 14), "month")
    assert (month.start, month.end, month.label) == (dt.date(2026, 2, 1), dt.date(2026, 2, 14), "2026-02")


def _churners_example():
    d = dt.date
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
        "signup_date": [d(2026, 1, 1)] * 7,
        "churn_date": [d(2026, 7, 10), d(2026, 8, 1), d(2026, 9, 30), d(2026, 6, 30), d(2026, 10, 1), None, d(2026, 9, 1)],
        "monthly_revenue": [10.0, 20.0, 40.0, 99.0, 99.0, 99.0, None],
    })
    ts = lambda day, h=12: dt.datetime(day.year, day.month, day.day, h)  # noqa: E731
    interactions = pd.DataFrame([
        ("a", ts(d(2026, 7, 10)), "billing", 1),   # on the churn day: counts with lag 0 only
        ("a", ts(d(2026, 4, 12)), "support", 2),   # 89 days before churn: inside 1 + 90 − 1 = 90 days
        ("b", ts(d(2026, 7, 31)), "billing", 2),   # the day before churn: counts with lag 1
        ("b", ts(d(2026, 7, 31), 13), "billing", 5),  # not poor
        ("c", ts(d(2026, 6, 1)), "support", 1),    # 121 days: outside the window
        ("d", ts(d(2026, 6, 29)), "billing", 1),   # churned before the period
        ("g", ts(d(2026, 8, 20)), "support", 1),   # 12 days before churn; revenue unknown
    ], columns=["customer_id", "timestamp", "touchpoint", "csat"])
    rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2),
             ExposureRule(name="poor_support", touchpoint="support", csat_max=2)]
    return ibis.memtable(customers), ibis.memtable(interactions), rules


def test_churner_exposures_hand_worked():
    customers, interactions, rules = _churners_example()
    q3 = reporting_period(dt.date(2026, 9, 30))
    got = churner_exposures(customers, interactions, rules, q3, as_of=dt.date(2026, 9, 30), window_days=90)
    # lag 1: a support only (its billing is on the churn day); b billing; c none; g support (revenue unknown: 0)
    assert got.to_dict("list") == {"poor_billing": [0, 0, 1], "poor_support": [0, 1, 0], "churners": [1, 2, 1],
                                   "revenue": [40.0, 10.0, 20.0]}
    lag0 = churner_exposures(customers, interactions, rules, q3, as_of=dt.date(2026, 9, 30), window_days=90,
                             lag_days=0)
    # lag 0: a's churn-day rating counts too; its support rating, 89 days back, is on the window's last day
    assert lag0.to_dict("list") == {"poor_billing": [0, 0, 1, 1], "poor_support": [0, 1, 0, 1],
                                    "churners": [1, 1, 1, 1], "revenue": [40.0, 0.0, 20.0, 10.0]}
    two = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2, min_count=2)]
    assert churner_exposures(customers, interactions, two, q3, as_of=dt.date(2026, 9, 30),
                             window_days=90)["poor_billing"].tolist() == [0]
    # a period before the churns, and a table without revenue
    q1 = reporting_period(dt.date(2026, 3, 31))
    assert churner_exposures(customers, interactions, rules, q1, as_of=dt.date(2026, 3, 31), window_days=90).empty
    no_rev = customers.drop("monthly_revenue")
    assert churner_exposures(no_rev, interactions, rules, q3, as_of=dt.date(2026, 9, 30), window_days=90)[
        "revenue"].isna().all()


def test_exposure_labels_default_and_custom():
    base = dict(run_id="x", as_of="2026-09-30", data={"customers": "c.csv"})
    default = RunParams(**base)
    assert impact.exposure_labels(default.exposure_rules(["billing", "Web Chat"]), custom=bool(default.exposures)) == {
        "poor_billing": "billing", "poor_web_chat": "Web Chat"}
    custom = RunParams(**base, exposures=[ExposureRule(name="unresolved_support", touchpoint="support", resolved=False)])
    assert impact.exposure_labels(custom.exposure_rules(["billing"]), custom=bool(custom.exposures)) == {
        "unresolved_support": "unresolved_support"}


# ---- what-if retention -------------------------------------------------------------------------


def _pem(cells: pd.DataFrame, exposures: list[str]):
    """A piecewise-exponential Poisson GLM fitted on the cells (independent of cxlib.stats.pem)."""
    design = pd.get_dummies(cells["piece"].astype(str), prefix="piece", dtype=float)
    for col in [c for c in cells.columns if c not in ("piece", "events", "person_days", *exposures)]:
        design = design.join(pd.get_dummies(cells[col].astype(str), prefix=col, drop_first=True, dtype=float))
    design = design.join(cells[exposures].astype(float))
    with warnings.catch_warnings():
        # a saturated hand-worked model fits its cells exactly, which statsmodels flags
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.GLM(cells["events"], design, family=sm.families.Poisson(),
                     offset=np.log(cells["person_days"])).fit()
    return design.to_numpy(), fit.params, fit.cov_params().to_numpy(), fit


def test_what_if_retention_hand_worked():
    # One piece; 9,000 unexposed person-days with 9 churns, 1,000 exposed with 2: rates 0.001 and 0.002.
    cells = pd.DataFrame({"piece": [0, 0], "poor_x": [0, 1], "events": [9, 2], "person_days": [9000, 1000]})
    X, b, V, _ = _pem(cells, ["poor_x"])
    got = what_if_retention(cells, X, b, V, ["poor_x"], [0], reduction=0.5, days=365, draws=400, seed=1).iloc[0]
    # average hazard now (9 + 2) / 10,000; halving exposed time removes 500 days * (0.002 - 0.001)
    assert got["retention"] == pytest.approx(np.exp(-365 * 0.0011), rel=1e-9)
    assert got["what_if_retention"] == pytest.approx(np.exp(-365 * 0.00105), rel=1e-9)
    assert got["retention_gain"] == pytest.approx(np.exp(-365 * 0.00105) - np.exp(-365 * 0.0011), rel=1e-9)
    assert got["gain_ci_lower"] < got["retention_gain"] < got["gain_ci_upper"]
    assert got["retention_ci_lower"] < got["retention"] < got["retention_ci_upper"]


def test_what_if_retention_pieces_and_covariates():
    # Pieces [0, 100), [100, 300), [300, inf); retention read at 365 days covers 100 + 200 + 65 days.
    rng = np.random.default_rng(2)
    rows = []
    for piece, base in ((0, 0.002), (100, 0.001), (300, 0.0005)):
        for seg, seg_hr in (("a", 1.0), ("b", 0.6)):
            for e in (0, 1):
                days = int(rng.integers(20_000, 60_000)) // (4 if e else 1)
                rows.append({"piece": piece, "segment": seg, "poor_x": e, "person_days": days,
                             "events": int(rng.poisson(days * base * seg_hr * (1.8 if e else 1.0)))})
    cells = pd.DataFrame(rows)
    X, b, V, _ = _pem(cells, ["poor_x"])
    got = what_if_retention(cells, X, b, V, ["poor_x"], [0, 100, 300], reduction=1.0, days=365, draws=300).iloc[0]
    fitted = np.exp(X @ b.to_numpy()) * cells["person_days"]
    hazard = (fitted.groupby(cells["piece"]).sum() / cells.groupby("piece")["person_days"].sum()).to_numpy()
    removed = (fitted * cells["poor_x"] * (1 - 1 / np.exp(b["poor_x"]))).groupby(cells["piece"]).sum().to_numpy()
    removed = removed / cells.groupby("piece")["person_days"].sum().to_numpy()
    lengths = np.array([100, 200, 65])
    assert got["retention"] == pytest.approx(np.exp(-lengths @ hazard), rel=1e-9)
    assert got["what_if_retention"] == pytest.approx(np.exp(-lengths @ (hazard - removed)), rel=1e-9)
    # the Poisson GLM with piece terms reproduces the observed life table
    observed = (cells.groupby("piece")["events"].sum() / cells.groupby("piece")["person_days"].sum()).to_numpy()
    assert got["retention"] == pytest.approx(np.exp(-lengths @ observed), rel=1e-8)
    assert got["retention_gain"] > 0


def test_touchpoint_impact_from_a_fitted_model():
    rng = np.random.default_rng(8)
    rows = []
    for piece, base in ((0, 0.0012), (30, 0.0009), (90, 0.0007), (180, 0.0006), (365, 0.0004), (730, 0.0003)):
        for seg, seg_hr in (("consumer", 1.0), ("smb", 0.8)):
            for billing in (0, 1):
                for app in (0, 1):
                    days = 40_000 // (5 if billing else 1) // (200 if app else 1)
                    rate = base * seg_hr * (2.0 if billing else 1.0)
                    rows.append({"piece": piece, "segment": seg, "poor_billing": billing, "poor_app": app,
                                 "person_days": days, "events": int(rng.poisson(days * rate))})
    cells = pd.DataFrame(rows)
    X, b, V, fit = _pem(cells, ["poor_billing", "poor_app"])
    se = np.sqrt(np.diag(V))
    names = list(b.index)
    summary = pd.DataFrame({"term": names, "coef": b.to_numpy(), "se": se, "hazard_ratio": np.exp(b.to_numpy()),
                            "ci_lower": np.exp(b.to_numpy() - 1.959964 * se), "ci_upper": np.exp(b.to_numpy() + 1.959964 * se)})
    exposed = {e: cells.loc[cells[e] == 1, "person_days"].sum() / cells["person_days"].sum() for e in ("poor_billing", "poor_app")}
    pem = SimpleNamespace(summary=summary, cells=cells, glm=fit, exposure_share=exposed)
    # the period's churners by exposure pattern at churn: 15 billing-exposed (3 also app), 15 not
    patterns = pd.DataFrame({"poor_billing": [0, 0, 1, 1], "poor_app": [0, 1, 0, 1], "churners": [10, 5, 12, 3],
                             "revenue": [500.0, 250.0, 900.0, 300.0]})
    params = RunParams(run_id="x", as_of="2026-09-30", data={"customers": "c.csv"}, min_cell_size=10, seed=3)
    res = impact.touchpoint_impact(pem, patterns, reporting_period(params.as_of, params.period),
                                   {"poor_billing": "billing", "poor_app": "app"}, tenure_pieces=params.tenure_pieces_days,
                                   reduction=params.what_if_reduction, min_cell_size=params.min_cell_size,
                                   seed=params.seed, draws=300)
    out = res.to_frame()
    assert list(out.columns) == RESULT_COLUMNS["impact"] and out["touchpoint"].tolist() == ["billing", "app"]
    # impact.csv names each row's model term, so that nothing downstream guesses it from the touchpoint
    assert out["exposure"].tolist() == ["poor_billing", "poor_app"]
    billing = res.summary.set_index("exposure").loc["poor_billing"]
    # Miettinen: each of the 15 exposed churners contributes 1 − 1/HR; revenue: their own, a year of it
    weight = 1 - 1 / np.exp(b["poor_billing"])
    assert billing["churners_attributable"] == pytest.approx(15 * weight, rel=1e-12)
    assert billing["attributable_churn_share"] == pytest.approx(15 * weight / 30, rel=1e-12)
    assert billing["revenue_at_risk"] == pytest.approx(12 * 1200.0 * weight, rel=1e-12)
    assert billing["churners_exposed"] == 15 and billing["churners"] == 30
    # intervals: percentiles over the what-if's own parametric draws (same construction, same seed)
    draws = coefficient_draws(b, V, 300, np.random.default_rng(3))["poor_billing"].to_numpy()
    assert billing["churners_attributable_ci_lower"] == pytest.approx(np.quantile(15 * (1 - np.exp(-draws)), 0.025))
    assert billing["revenue_at_risk_ci_upper"] == pytest.approx(np.quantile(14_400 * (1 - np.exp(-draws)), 0.975))
    rng = np.random.default_rng(3)
    assert np.array_equal(rng.multivariate_normal(b.to_numpy(), V, size=300, method="eigh")[:, list(b.index).index(
        "poor_billing")], draws)
    # the whole-history share: the same fraction over every churn event of the cells
    exposed_events = cells.loc[cells["poor_billing"] == 1, "events"].sum()
    assert billing["history_share"] == pytest.approx(exposed_events * weight / cells["events"].sum(), rel=1e-12)
    expected = what_if_retention(cells, X, b, V, ["poor_billing"], list(params.tenure_pieces_days), 0.5,
                                 draws=300, seed=3).iloc[0]
    assert billing["retention_gain"] == pytest.approx(expected["retention_gain"])
    assert billing["gain_ci_lower"] == pytest.approx(expected["gain_ci_lower"])
    # all exposures together: each churner's whole excess, never the sum of the per-exposure figures
    hr_app = np.exp(b["poor_app"])
    assert res.joint["churners_attributable"].iloc[0] == pytest.approx(
        12 * weight + 5 * (1 - 1 / hr_app) + 3 * (1 - 1 / (np.exp(b["poor_billing"]) * hr_app)), rel=1e-12)
    # poor app experiences: too few churn events while exposed, so suppressed (row kept, numbers emptied)
    app = res.summary.set_index("exposure").loc["poor_app"]
    assert app["suppressed"] and app["exposed_events"] < 10 and np.isnan(app["hazard_ratio"])
    assert res.period.label == "2026Q3" and res.churners == 30 and res.revenue_recorded
    # fewer than min_cell_size of the period's churners exposed: the period's figures go, the model's stay
    few = impact.touchpoint_impact(pem, patterns.assign(churners=[10, 5, 6, 3]), reporting_period(params.as_of),
                                   {"poor_billing": "billing", "poor_app": "app"}, tenure_pieces=params.tenure_pieces_days,
                                   reduction=0.5, min_cell_size=10, seed=3, draws=50).summary.set_index("exposure")
    assert few.loc["poor_billing", "period_suppressed"] and np.isnan(few.loc["poor_billing", "revenue_at_risk"])
    assert few.loc["poor_billing", "hazard_ratio"] == pytest.approx(np.exp(b["poor_billing"]))
    # nobody churned in the period: no period figures, the what-if still stands
    none = impact.touchpoint_impact(pem, patterns.iloc[:0], reporting_period(params.as_of),
                                    {"poor_billing": "billing", "poor_app": "app"}, tenure_pieces=params.tenure_pieces_days,
                                    reduction=0.5, min_cell_size=10, seed=3, draws=50).summary.set_index("exposure")
    assert np.isnan(none.loc["poor_billing", "churners_attributable"]) and none.loc["poor_billing", "retention_gain"] > 0


def test_attribution_equals_a_brute_force_per_churner_computation_on_the_demo(workbook_10k, demo_10k):
    """The engine query + stats.paf against every churner of 2026Q3 checked one by one in pandas (same model)."""
    wb, p = workbook_10k, workbook_10k.params
    covariates = covariates_from_frame(hazards.covariate_table(wb.customers, p.covariates, p.covariate_bins))
    rules = p.exposure_rules(wb.touchpoints())
    cells = hazards.touchpoint_model_cells(wb.customers, wb.interactions, covariates, rules, as_of=p.as_of,
                                           window_days=p.exposure_window_days, pieces=p.tenure_pieces_days,
                                           lag_days=p.exposure_lag_days)
    pem = hazards.fit_touchpoint_model(cells, covariates, rules)
    period = reporting_period(p.as_of, p.period)
    patterns = churner_exposures(wb.customers, wb.interactions, rules, period, as_of=p.as_of,
                                 window_days=p.exposure_window_days, lag_days=p.exposure_lag_days)
    res = impact.touchpoint_impact(pem, patterns, period, impact.exposure_labels(rules, custom=False),
                                   tenure_pieces=p.tenure_pieces_days, reduction=p.what_if_reduction,
                                   min_cell_size=p.min_cell_size, seed=p.seed, draws=200)
    got = res.summary.set_index("exposure")
    hr = pem.summary.set_index("term")["hazard_ratio"]

    customers = pd.read_parquet(demo_10k / "customers.parquet")
    x = pd.read_parquet(demo_10k / "interactions.parquet")
    churn = pd.to_datetime(customers["churn_date"])
    churners = customers[(churn >= pd.Timestamp(period.start)) & (churn <= pd.Timestamp(period.end))]
    poor = x[x["csat"].notna() & (x["csat"] <= p.poor_csat_max)].merge(churners, on="customer_id")
    before = (pd.to_datetime(poor["churn_date"]) - pd.to_datetime(poor["timestamp"]).dt.normalize()).dt.days
    lag, window = p.exposure_lag_days, p.exposure_window_days
    poor = poor[(before >= lag) & (before <= lag + window - 1)]
    expected = {}
    for rule in rules:
        exposed_ids = set(poor.loc[poor["touchpoint"] == rule.touchpoint, "customer_id"])
        weight = 1 - 1 / hr[rule.name]
        a = r = 0.0
        for cid, revenue in zip(churners["customer_id"], churners["monthly_revenue"]):  # one churner at a time
            if cid in exposed_ids:
                a += weight
                r += weight * 12 * revenue
        expected[rule.name] = (a, a / len(churners), r)
    assert res.churners == len(churners) > 100
    for name, (a, share, r) in expected.items():
        row = got.loc[name]
        if row["period_suppressed"]:
            continue
        assert row["churners_attributable"] == pytest.approx(a, rel=1e-9, abs=1e-9)
        assert row["attributable_churn_share"] == pytest.approx(share, rel=1e-9, abs=1e-12)
        assert row["revenue_at_risk"] == pytest.approx(r, rel=1e-9, abs=1e-6)
    billing = got.loc["poor_billing"]
    assert billing["churners_attributable_ci_lower"] < billing["churners_attributable"] < billing["churners_attributable_ci_upper"]


def test_model_rows_must_match_the_cells():
    cells = pd.DataFrame({"piece": [0, 0, 0], "poor_x": [0, 1, 0], "events": [9, 2, 0], "person_days": [9000, 1000, 0]})
    _, _, _, fit = _pem(cells.iloc[:2], ["poor_x"])
    got = impact.model_arrays(SimpleNamespace(glm=fit, cells=cells))[0]  # the empty cell is dropped
    assert got["person_days"].tolist() == [9000, 1000]
    with pytest.raises(ValueError, match="do not match"):
        impact.model_arrays(SimpleNamespace(glm=fit, cells=cells.iloc[[1, 0]]))
    with pytest.raises(NotEstimable):
        impact.model_arrays(SimpleNamespace(glm=None, cells=cells))


def test_evidence_notes_flag_what_an_attributable_share_cannot_support():
    s = pd.DataFrame({"hazard_ratio": [2.0, 1.1, 0.7, np.nan, 3.0], "hr_ci_lower": [1.5, 0.9, 0.5, np.nan, 1.2],
                      "hr_ci_upper": [2.5, 1.3, 0.9, np.nan, 6.0], "suppressed": [False, False, False, False, True]})
    notes = evidence_notes(s)
    assert notes.iloc[0] == ""
    assert notes.iloc[1].startswith("no clear association") and notes.iloc[2].startswith("less churn")
    assert notes.iloc[3].startswith("not in the model") and notes.iloc[4].startswith("suppressed")
