"""Retention and churn models against published results, lifelines and the demo generator's truths."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from conftest import write_params
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from cxlib.analyses import hazards as H
from cxlib.analyses import retention as R
from cxlib.demo.truth import CHURN_CAUSES, TRUE_INVOLUNTARY_HR, TRUE_TOUCHPOINT_HR
from cxlib.errors import NotEstimable
from cxlib.features.customers import Covariate, describe_covariates
from cxlib.params import ExposureRule, load_params
from cxlib.stats.cox import compare_models, fit_time_varying_cox
from cxlib.stats.km import kaplan_meier, logrank_test
from cxlib.stats.pem import fit_piecewise_exponential
from cxlib.text import survival as T
from cxlib.workbook import open_workbook

R_COXPH_ROSSI = {"fin": -0.37942, "age": -0.05744, "race": 0.31390, "wexp": -0.14980,
                 "mar": -0.43370, "paro": -0.08487, "prio": 0.09150}


def _csv_workbook(folder: Path, customers: pd.DataFrame, interactions: pd.DataFrame | None = None, **params):
    """A workbook on CSV inputs (every column arrives as text, as with a real export)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers.to_csv(folder / "customers.csv", index=False)
    data = {"customers": str(folder / "customers.csv")}
    if interactions is not None:
        interactions.to_csv(folder / "interactions.csv", index=False)
        data["interactions"] = str(folder / "interactions.csv")
    raw = {"run_id": "t", "as_of": "2025-12-31", "data": data, **params}
    return open_workbook(write_params(folder / "params.yaml", raw))


def _covariates(wb):
    return describe_covariates(wb.customers, wb.params.covariates, wb.params.covariate_bins)


def _covariate_models(wb):
    p = wb.params
    return H.fit_covariate_models(wb.customers, _covariates(wb), as_of=p.as_of, ph_sample=p.ph_check_sample, seed=p.seed)


def _touchpoint_model(wb, cause: str = "all"):
    p, covariates = wb.params, _covariates(wb)
    rules = p.exposure_rules(wb.touchpoints())
    cells = H.touchpoint_model_cells(wb.customers, wb.interactions, covariates, rules, as_of=p.as_of,
                                     window_days=p.exposure_window_days, pieces=p.tenure_pieces_days,
                                     churn_causes=p.churn_causes)
    return H.fit_touchpoint_model(cells, covariates, rules, cause=cause)


def _retention(wb, horizons=()):
    return R.retention(wb.customers, wb.params.as_of, min_cell_size=wb.params.min_cell_size, horizons=horizons)


# ---- Kaplan–Meier and log-rank ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_durations(demo_small) -> pd.DataFrame:
    """Durations computed with pandas alone, for the reference implementations."""
    c = pd.read_parquet(demo_small / "customers.parquet")
    as_of = pd.Timestamp("2026-09-30")
    churn = pd.to_datetime(c["churn_date"])
    churned = churn.notna() & (churn <= as_of)
    return c.assign(T=(churn.where(churned, as_of) - pd.to_datetime(c["signup_date"])).dt.days, E=churned.astype(int))


def test_kaplan_meier_matches_lifelines(small_workbook, demo_durations):
    km = _retention(small_workbook, horizons=[90, 180, 365])
    for group, d in [("all", demo_durations), ("segment=smb", demo_durations[demo_durations["segment"] == "smb"])]:
        ref = KaplanMeierFitter().fit(d["T"], d["E"])
        curve = km.curves[km.curves["group"] == group].set_index("days")
        np.testing.assert_allclose(curve["survival"], ref.survival_function_.loc[curve.index].iloc[:, 0], rtol=1e-12)
        ci = ref.confidence_interval_survival_function_.loc[curve.index]
        np.testing.assert_allclose(curve["ci_lower"], ci.iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(curve["ci_upper"], ci.iloc[:, 1], rtol=1e-9)
        np.testing.assert_array_equal(curve["at_risk"], ref.event_table.loc[curve.index, "at_risk"])
        row = km.summary.set_index("group").loc[group]
        assert row["n"] == len(d) and row["events"] == d["E"].sum()
        assert (np.isnan(row["median_days"]) and np.isinf(ref.median_survival_time_)) or row["median_days"] == ref.median_survival_time_
    frame = km.to_frame()
    assert not frame.duplicated(["group", "days"]).any()
    at365 = frame[(frame["group"] == "all") & (frame["days"] == 365)].iloc[0]
    ref = KaplanMeierFitter().fit(demo_durations["T"], demo_durations["E"])
    assert at365["survival"] == pytest.approx(float(ref.predict(365)), rel=1e-12)
    assert at365["at_risk"] == (demo_durations["T"] >= 365).sum()
    steps = frame[(frame["group"] == "all") & (frame["days"] != 365)]
    assert set(steps["days"]) - {90, 180} <= set(demo_durations.loc[demo_durations["E"] == 1, "T"])


def test_logrank_matches_lifelines(small_workbook, demo_durations):
    counts = R.retention_counts(small_workbook.customers, small_workbook.params.as_of)
    seg = counts[counts["group"].str.startswith("segment=")]
    ours = logrank_test(seg)
    ref = multivariate_logrank_test(demo_durations["T"], demo_durations["segment"], demo_durations["E"])
    assert ours.df == 2
    assert ours.statistic == pytest.approx(ref.test_statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.p_value, rel=1e-6)
    # the section's test reads the same counts off the Kaplan–Meier curves of the segments shown
    shown = R.segment_test(kaplan_meier(counts))
    assert shown.statistic == pytest.approx(ours.statistic, rel=1e-12)


def test_small_groups_are_suppressed():
    counts = pd.DataFrame({"group": ["all"] * 3 + ["segment=tiny"] * 2, "days": [1, 2, 3, 1, 2],
                           "events": [1, 1, 10, 1, 0], "censored": [0, 0, 0, 0, 1]})
    km = kaplan_meier(counts, min_n=5)
    assert list(km.summary["group"]) == ["all"] and km.suppressed == ("segment=tiny",)
    assert km.at([2, 4])["survival"].iloc[1] != km.at([2, 4])["survival"].iloc[1]  # beyond follow-up: NaN
    with pytest.raises(NotEstimable, match="fewer than two segments"):
        R.segment_test(km)


# ---- Cox model on covariates: Rossi, as published by R ---------------------------------------------


@pytest.fixture(scope="module")
def rossi_params(tmp_path_factory) -> Path:
    """lifelines' Rossi data mapped into the customers contract: weeks × 7 = days, as_of = week 52."""
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    folder = tmp_path_factory.mktemp("rossi")
    signup = dt.date(2020, 1, 6)
    churn = [signup + dt.timedelta(days=7 * int(w)) if a == 1 else None for w, a in zip(rossi["week"], rossi["arrest"])]
    customers = pd.DataFrame({"customer_id": [f"R{i:04d}" for i in range(len(rossi))], "signup_date": signup,
                              "churn_date": churn, **{c: rossi[c] for c in R_COXPH_ROSSI}})
    customers.to_csv(folder / "customers.csv", index=False)
    raw = {"run_id": "rossi", "title": "Rossi recidivism", "as_of": str(signup + dt.timedelta(days=7 * 52)),
           "data": {"customers": "customers.csv"}, "covariates": list(R_COXPH_ROSSI), "min_cell_size": 10}
    return write_params(folder / "rossi.yaml", raw)


@pytest.mark.slow
def test_rossi_report_reproduces_r_coxph(rossi_params, tmp_path):
    from lifelines.datasets import load_rossi

    from cxlib.run.runner import NOTEBOOK_DIR, run_report

    run = run_report(load_params(rossi_params), tmp_path, notebooks=[NOTEBOOK_DIR / "02_retention.ipynb"])
    hr = pd.read_csv(run / "results" / "hazard_ratios.csv")
    cov = hr[hr["model"] == "covariates"].set_index("term")
    assert sorted(cov.index) == sorted(R_COXPH_ROSSI)
    for term, coef in R_COXPH_ROSSI.items():
        assert round(float(np.log(cov.loc[term, "hazard_ratio"])), 5) == pytest.approx(coef, abs=5e-5), term
    # age and wexp fail the Schoenfeld check on Rossi: the stratified refit sits beside the plain model
    strat = hr[hr["model"] == "covariates_stratified"]
    assert set(strat["term"]) == set(R_COXPH_ROSSI) - {"age", "wexp"}
    assert not hr["model"].isin(["touchpoints", "touchpoints_cox_tv"]).any()  # no interactions table
    retention = pd.read_csv(run / "results" / "retention.csv")
    last = retention[(retention["group"] == "all") & (retention["days"] == 364)].iloc[0]
    rossi = load_rossi()
    assert last["survival"] == pytest.approx(1 - rossi["arrest"].mean(), rel=1e-9)  # CSV keeps 10 digits
    assert last["at_risk"] == (rossi["week"] == 52).sum()
    html = (run / "02_retention.html").read_text()
    assert "needs the interactions table" in html


def test_cox_and_schoenfeld_on_rossi_workbook(rossi_params):
    wb = open_workbook(rossi_params)
    models = _covariate_models(wb)
    cox = models.cox
    assert cox.n_customers == 432 and cox.n_events == 114
    coefs = cox.summary.set_index("term")["coef"]
    for term, coef in R_COXPH_ROSSI.items():
        assert coefs[term] == pytest.approx(coef, abs=5e-5)
    assert cox.concordance == pytest.approx(0.640, abs=5e-4)  # lifelines' published value for this model
    assert set(models.ph.violated) == {"age", "wexp"} and "changes with tenure" in T.ph_sentence(models.ph)
    # the decision the section used to make: the stratified refit sits beside the plain model
    assert models.stratified is not None and set(models.stratified.strata) == {"age", "wexp"}
    frame = models.to_frame()
    assert list(dict.fromkeys(frame["model"])) == ["covariates", "covariates_stratified"]
    assert set(frame.loc[frame["model"] == "covariates_stratified", "term"]) == set(R_COXPH_ROSSI) - {"age", "wexp"}
    assert list(frame.columns) == ["model", "term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]


# ---- model touchpoints on the demo data ------------------------------------------------------------


@pytest.fixture(scope="module")
def touchpoints_10k(workbook_10k):
    """Model touchpoints[voluntary]: the demo's true hazard ratios are those of voluntary churn."""
    assert workbook_10k.params.churn_causes == CHURN_CAUSES
    return _touchpoint_model(workbook_10k, "voluntary")


def test_touchpoint_model_recovers_the_true_hazard_ratios(touchpoints_10k, demo_10k):
    res = touchpoints_10k
    assert not res.notes and res.model == "touchpoints[voluntary]"
    s = res.summary.set_index("term")
    for term, truth in TRUE_TOUCHPOINT_HR.items():
        assert s.loc[term, "ci_lower"] < truth < s.loc[term, "ci_upper"], (term, s.loc[term].to_dict())
        if truth == 1.0:
            assert s.loc[term, "p_value"] > 0.05
        else:
            assert s.loc[term, "p_value"] < 1e-6
    assert {"monthly_revenue[q2]", "monthly_revenue[q4]", "segment[smb]", "plan[premium]"} <= set(s.index)
    customers = pd.read_parquet(demo_10k / "customers.parquet")
    voluntary = customers["churn_reason"].isin(CHURN_CAUSES["voluntary"]).sum()
    assert res.cells["events"].sum() == res.n_events == voluntary
    assert 0 < res.exposure_share["poor_onboarding"] < res.exposure_share["poor_billing"] < 1
    assert list(res.to_frame().columns) == ["model", "term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]


def test_involuntary_model_finds_no_effect_and_all_cause_model_dilutes(workbook_10k, touchpoints_10k, demo_10k):
    """Involuntary churn is independent of experiences and covariates (every true hazard ratio 1); the
    all-cause model mixes it in, which pulls the voluntary effects towards 1."""
    inv = _touchpoint_model(workbook_10k, "involuntary")
    s = inv.summary.set_index("term")
    assert inv.model == "touchpoints[involuntary]"
    assert set(TRUE_TOUCHPOINT_HR) <= set(s.index)
    for term, truth in TRUE_INVOLUNTARY_HR.items():
        if term in s.index:
            assert s.loc[term, "ci_lower"] < truth < s.loc[term, "ci_upper"], (term, s.loc[term].to_dict())
    customers = pd.read_parquet(demo_10k / "customers.parquet")
    assert inv.n_events == customers["churn_reason"].isin(CHURN_CAUSES["involuntary"]).sum()
    everything = _touchpoint_model(workbook_10k)
    overall = everything.summary.set_index("term")["hazard_ratio"]
    voluntary = touchpoints_10k.summary.set_index("term")["hazard_ratio"]
    for term, truth in TRUE_TOUCHPOINT_HR.items():
        if truth > 1:
            assert 1 < overall[term] < voluntary[term], term
    # one cell build: the causes' events add up to the all-cause events, and the person-days are shared
    cells = everything.cells
    by_cause = cells[[f"events[{c}]" for c in workbook_10k.params.causes]].sum(axis=1)
    assert (by_cause == cells["events"]).all() and everything.n_events == customers["churn_date"].notna().sum()
    assert (cells["person_days"].to_numpy() == inv.cells["person_days"].to_numpy()).all()


@pytest.mark.slow
def test_cause_specific_model_equals_time_varying_cox_with_other_causes_censored(params_10k_file):
    """touchpoints[<cause>] (PEM on the cells' events[<cause>]) against lifelines' CoxTimeVaryingFitter on the
    individual intervals with the churns of the other causes as censorings (fine pieces, as below)."""
    pieces = [0, 30, 60, 90, 120, 150, 180, 270, 365, 545, 730]
    wb = open_workbook(params=load_params(params_10k_file, overrides={"tenure_pieces_days": pieces}))
    p, covariates = wb.params, _covariates(wb)
    intervals = H.cross_check_intervals(wb.customers, wb.interactions, covariates, p.exposure_rules(wb.touchpoints()),
                                        as_of=p.as_of, window_days=p.exposure_window_days,
                                        max_rows=p.cox_time_varying_max_rows, churn_causes=p.churn_causes)
    assert intervals is not None and "cause" in intervals.columns
    for cause in ("voluntary", "involuntary"):
        pe = _touchpoint_model(wb, cause)
        event = ((intervals["event"] == 1) & (intervals["cause"] == cause)).astype("int64")
        assert event.sum() == pe.n_events
        tv = fit_time_varying_cox(intervals.assign(event=event), covariates, pe.exposures, model=f"tv[{cause}]")
        both = compare_models(pe, tv)
        assert len(both) == len(pe.summary)
        if cause == "voluntary":
            worst = both.loc[both["relative_difference"].abs().idxmax()]
            assert abs(worst["relative_difference"]) < 0.02, (cause, worst.to_dict())
        else:
            # ~450 involuntary churns, ~20 of them while poor_onboarding is on: there the piecewise baseline and
            # Cox's free one differ by 3.5 % (0.17 standard errors); every term agrees within a quarter of its SE
            se = pe.summary.set_index("term")["se"].reindex(both["term"]).to_numpy()
            gap = np.abs(np.log1p(both["relative_difference"].to_numpy())) / se
            assert gap.max() < 0.25, (cause, both.assign(gap_in_se=gap).to_dict("records"))


@pytest.mark.slow
def test_piecewise_exponential_agrees_with_time_varying_cox(params_10k_file):
    # Finer baseline pieces over the first half-year, where the onboarding windows open and close:
    # with the default pieces [0, 30, 90, 180, 365, 730] poor_onboarding differs by 2.2 % on this
    # data set (the coarse baseline absorbs chance wiggles of the realized hazard), every other term
    # by less than 0.3 %.
    pieces = [0, 30, 60, 90, 120, 150, 180, 270, 365, 545, 730]
    wb = open_workbook(params=load_params(params_10k_file, overrides={"tenure_pieces_days": pieces}))
    pe = _touchpoint_model(wb)
    p, covariates = wb.params, _covariates(wb)
    intervals = H.cross_check_intervals(wb.customers, wb.interactions, covariates, p.exposure_rules(wb.touchpoints()),
                                        as_of=p.as_of, window_days=p.exposure_window_days,
                                        max_rows=p.cox_time_varying_max_rows)
    assert intervals is not None
    tv = fit_time_varying_cox(intervals, covariates, pe.exposures)
    both = compare_models(pe, tv)
    assert len(both) == len(pe.summary)
    worst = both.loc[both["relative_difference"].abs().idxmax()]
    assert abs(worst["relative_difference"]) < 0.02, worst.to_dict()


def test_piecewise_exponential_closed_form():
    # one piece, one binary exposure: the MLE is the ratio of the two rates, SE sqrt(1/e1 + 1/e0)
    cells = pd.DataFrame({"piece": [0, 0], "x": [0, 1], "events": [40, 30], "person_days": [20_000, 6_000]})
    res = fit_piecewise_exponential(cells, [], ["x"], model="m")
    row = res.summary.iloc[0]
    assert row["hazard_ratio"] == pytest.approx((30 / 6_000) / (40 / 20_000), rel=1e-8)
    assert row["se"] == pytest.approx(np.sqrt(1 / 30 + 1 / 40), rel=1e-6)
    assert res.baseline["hazard_per_day"].iloc[0] == pytest.approx(40 / 20_000, rel=1e-8)
    assert res.exposure_share == {"x": pytest.approx(6_000 / 26_000)}


def test_empty_tenure_piece_is_merged():
    cells = pd.DataFrame({"piece": [0, 0, 30, 30, 90, 90], "x": [0, 1] * 3, "events": [5, 9, 0, 0, 7, 8],
                          "person_days": [900, 400, 900, 400, 900, 400]})
    res = fit_piecewise_exponential(cells, [], ["x"])
    assert list(res.baseline["piece"]) == [0, 90]
    assert any("day 30" in n for n in res.notes)
    with pytest.raises(NotEstimable, match="model touchpoints cannot be fitted: there are no churn events") as err:
        fit_piecewise_exponential(cells.assign(events=0), [], ["x"])
    assert err.value.model == "touchpoints"


# ---- designs that cannot be fitted --------------------------------------------------------------


def _synthetic_customers(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    tenure = rng.exponential(300, n).astype(int)
    churn = signup + pd.to_timedelta(tenure, unit="D")
    segment = rng.choice(["consumer", "smb", "enterprise"], n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame({"customer_id": [f"S{i}" for i in range(n)], "signup_date": signup.date,
                         "churn_date": [c.date() if c <= pd.Timestamp("2025-12-31") else None for c in churn],
                         "segment": segment,
                         "age": rng.integers(18, 80, n)})


def test_singular_design_drops_the_aliased_term_and_explains(tmp_path):
    cust = _synthetic_customers()
    cust["enterprise_flag"] = np.where(cust["segment"] == "enterprise", "yes", "no")  # duplicates a level
    wb = _csv_workbook(tmp_path, cust, covariates=["segment", "enterprise_flag", "age"])
    res = _covariate_models(wb).cox
    # as R's coxph: the aliased term gets no estimate, the rest equals the fit without it
    assert "enterprise_flag[yes]" not in set(res.summary["term"])
    note = " ".join(res.notes)
    assert "enterprise_flag[yes] duplicates segment[enterprise]" in note and "left out" in note
    reference = _covariate_models(_csv_workbook(tmp_path / "ref", cust, covariates=["segment", "age"])).cox
    pd.testing.assert_series_equal(res.summary.set_index("term")["coef"], reference.summary.set_index("term")["coef"])


def test_separation_and_no_events_are_reported(tmp_path):
    cust = _synthetic_customers()
    cust.loc[cust["segment"] == "enterprise", "churn_date"] = None
    with pytest.raises(NotEstimable, match=r"no churn happened with segment\[enterprise\]") as err:
        _covariate_models(_csv_workbook(tmp_path / "sep", cust, covariates=["segment"]))
    assert err.value.model == "covariates"
    cust["churn_date"] = None
    with pytest.raises(NotEstimable, match="no churn events"):
        _covariate_models(_csv_workbook(tmp_path / "none", cust, covariates=["segment", "age"]))


def test_zero_length_tenure_and_unused_exposure(tmp_path):
    cust = _synthetic_customers(300, seed=4)
    cust.loc[:9, "churn_date"] = cust.loc[:9, "signup_date"]  # churned on the signup day
    rng = np.random.default_rng(5)
    rows = []
    for c in cust.itertuples():
        end = c.churn_date if isinstance(c.churn_date, dt.date) else dt.date(2025, 12, 31)
        for _ in range(rng.poisson(6)):
            day = c.signup_date + dt.timedelta(days=int(rng.integers(0, (end - c.signup_date).days + 1)))
            rows.append({"customer_id": c.customer_id, "timestamp": f"{day} 10:00:00",
                         "touchpoint": rng.choice(["billing", "support"]), "csat": int(rng.integers(1, 6))})
    inter = pd.DataFrame(rows)
    wb = _csv_workbook(tmp_path, cust, inter, covariates=["segment"], touchpoints=["billing", "support", "app"])
    km = _retention(wb)
    assert km.curves.loc[km.curves["group"] == "all", "days"].iloc[0] == 0
    cox = _covariate_models(wb).cox
    assert cox.data["duration"].min() == 0.5
    pe = _touchpoint_model(wb)
    assert "poor_app" not in set(pe.summary["term"])
    assert any(n.startswith("poor_app: no customer had this exposure") for n in pe.notes)
    # day grid: a churner is at risk through the churn day, an active customer until as_of
    as_of = dt.date(2025, 12, 31)
    assert pe.person_days == sum((c - s).days + 1 if c is not None else (as_of - s).days
                                 for s, c in zip(cust["signup_date"], cust["churn_date"]))


def test_reserved_names_and_missing_exposures_are_not_estimable():
    customers = ibis.memtable({"customer_id": ["a", "b"], "signup_date": [dt.date(2025, 1, 1)] * 2,
                               "churn_date": [dt.date(2025, 2, 1), None], "piece": ["x", "y"]})
    interactions = ibis.memtable({"customer_id": ["a"], "touchpoint": ["billing"],
                                  "timestamp": [dt.datetime(2025, 1, 5)], "csat": [1]})
    piece = Covariate("piece", "categorical", levels=("x", "y"), sizes=(1, 1))
    rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]
    as_of = dt.date(2025, 3, 1)
    with pytest.raises(NotEstimable, match="piece are used by the model itself") as err:
        H.touchpoint_model_cells(customers, interactions, [piece], rules, as_of=as_of, window_days=90, pieces=[0])
    assert err.value.model == "touchpoints"
    with pytest.raises(NotEstimable, match="used by the model itself"):
        H.fit_covariate_models(customers, [piece], as_of=as_of, ph_sample=100, seed=0)
    with pytest.raises(NotEstimable, match="at least one touchpoint"):
        H.touchpoint_model_cells(customers, interactions, [], [], as_of=as_of, window_days=90, pieces=[0])
    # the cross-check's size cap is the caller's choice, not an error
    assert H.cross_check_intervals(customers, interactions, [], rules, as_of=as_of, window_days=90, max_rows=0) is None


# ---- sentences -------------------------------------------------------------------------------------


def test_hazard_sentences():
    rule = ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)
    sentence = T.hazard_sentence({"hazard_ratio": 2.06, "ci_lower": 1.91, "ci_upper": 2.21}, rule, 90, 2)
    assert sentence == ("A poor billing experience in the last 90 days is associated with a churn rate "
                        "2.1× (1.9–2.2) that of comparable customers without one.")
    custom = ExposureRule(name="contacts", touchpoint="support", min_count=3, window_days=30)
    assert T.hazard_sentence({"hazard_ratio": 0.8, "ci_lower": 0.7, "ci_upper": 0.9}, custom, 90, 2).startswith(
        "3 or more support interactions in the last 30 days are associated with a churn rate 0.8×")
    assert T.exposure_label(custom, 2) == "3 or more support interactions"
    assert T.exposure_label(ExposureRule(name="u", touchpoint="support", resolved=False), 2) == "an unresolved support interaction"
    assert T.exposure_label(ExposureRule(name="e", ces_min=6), 2) == "an interaction with effort (CES) ≥ 6"
