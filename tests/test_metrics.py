"""Touchpoint portfolio: intervals and tests against hand-worked cases and scipy/statsmodels, the
engine cube against an independent pandas computation on the raw demo rows, suppression on tables
built to need it, targets, journey order and figures."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import demo_params_dict
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from cxlib import periods as P
from cxlib.analyses import portfolio as M
from cxlib.features import cube as C
from cxlib.ingest.read import clean_view, connect, load_tables
from cxlib.params import RunParams
from cxlib.plots import metrics as PM
from cxlib.results import ALL, RESULT_COLUMNS, Result
from cxlib.stats import changes as CH
from cxlib.stats import intervals as IV
from cxlib.stats.disclosure import protection_intervals, secondary_suppression
from cxlib.text import portfolio as T
from cxlib.text import vocabulary as V

matplotlib.use("Agg")

AS_OF = dt.date(2026, 9, 30)
DIMS = ["period", "touchpoint", "channel", "segment"]
Z = stats.norm.ppf(0.975)


# ---- intervals: hand-worked cases ----------------------------------------------------------------


def test_wilson_interval_hand_worked():
    # 8/10: centre (0.8 + z²/20) / (1 + z²/10) = 0.71674, half-width 1.41600 * 0.16001 = 0.22658
    lo, hi = IV.wilson_interval(8, 10)
    assert lo == pytest.approx(0.490162, abs=1e-6)
    assert hi == pytest.approx(0.943318, abs=1e-6)
    # 0/10: the upper bound is z² / (n + z²)
    lo, hi = IV.wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(Z**2 / (10 + Z**2), rel=1e-12)


def test_t_interval_hand_worked():
    # 1..5: mean 3, s² = (55 - 15²/5) / 4 = 2.5, se = sqrt(0.5), t(0.975, 4) = 2.776445
    mean, lo, hi = IV.mean_interval(5, 15, 55)
    assert mean == 3.0
    assert lo == pytest.approx(3 - 2.776445 * np.sqrt(0.5), abs=1e-6)
    assert hi == pytest.approx(3 + 1.963243, abs=1e-6)
    assert np.isnan(IV.mean_interval(1, 4, 16)[1])  # one rating: no spread, no interval


def test_nps_interval_hand_worked():
    # 20 promoters, 20 passives, 10 detractors of 50: NPS 20, Var = (0.6 - 0.2²) / 50 = 0.0112
    value, lo, hi = IV.nps_interval(20, 10, 50)
    assert value == pytest.approx(20.0)
    assert lo == pytest.approx(20 - 100 * Z * np.sqrt(0.0112), abs=1e-9)
    assert hi == pytest.approx(40.742, abs=1e-3)
    # all promoters: no variance; the interval stays inside [-100, 100]
    assert [float(v) for v in IV.nps_interval(10, 0, 10)] == [100.0, 100.0, 100.0]
    assert float(IV.nps_interval(1, 0, 2)[2]) == 100.0


# ---- tests of change ---------------------------------------------------------------------------------


def test_proportion_test_matches_statsmodels_and_hand_worked():
    # pooled p = 0.475, se0 = sqrt(0.475 * 0.525 * 0.02) = 0.070622, z = 0.15 / se0 = 2.12398
    r = CH.proportion_difference_test(40, 100, 55, 100)
    assert r["difference"] == pytest.approx(0.15)
    assert r["statistic"] == pytest.approx(0.15 / np.sqrt(0.475 * 0.525 * 0.02), rel=1e-12)
    z, p = proportions_ztest([55, 40], [100, 100])
    assert r["statistic"] == pytest.approx(z, rel=1e-10) and r["p_value"] == pytest.approx(p, rel=1e-10)
    se = np.sqrt(0.4 * 0.6 / 100 + 0.55 * 0.45 / 100)
    assert r["ci_lower"] == pytest.approx(0.15 - Z * se) and r["ci_upper"] == pytest.approx(0.15 + Z * se)
    same = CH.proportion_difference_test(10, 10, 20, 20)  # 100 % both times: no evidence of change
    assert same["p_value"] == 1.0


def test_welch_from_sums_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.integers(1, 6, 40).astype(float), rng.integers(2, 6, 55).astype(float)
    r = CH.welch_test(a.size, a.sum(), (a**2).sum(), b.size, b.sum(), (b**2).sum())
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert r["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert r["df"] == pytest.approx(ref.df, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_nps_difference_hand_worked():
    # period 1: p .4, d .2, n 50 -> Var 112; period 2: p .5, d 1/6, n 60 -> Var 1e4 (2/3 - 1/9) / 60
    r = CH.nps_difference_test(20, 10, 50, 30, 10, 60)
    se = np.sqrt(112 + 1e4 * (2 / 3 - 1 / 9) / 60)
    assert r["difference"] == pytest.approx(100 / 3 - 20)
    assert r["statistic"] == pytest.approx((100 / 3 - 20) / se)
    assert r["p_value"] == pytest.approx(2 * stats.norm.sf((100 / 3 - 20) / se))


# ---- suppression on tables built to need it -------------------------------------------------------


def _cube(values: dict[tuple[str, str], int]) -> pd.DataFrame:
    """A touchpoint x channel table of counts with every `all` roll-up."""
    rows = pd.DataFrame([(tp, ch, n) for (tp, ch), n in values.items()], columns=["tp", "ch", "n"])
    parts = [rows]
    for dims in (["tp"], ["ch"], []):
        g = rows.groupby(dims, as_index=False)["n"].sum() if dims else pd.DataFrame({"n": [rows["n"].sum()]})
        parts.append(g.assign(**{d: ALL for d in ("tp", "ch") if d not in dims}))
    return pd.concat(parts, ignore_index=True)[["tp", "ch", "n"]]


def _relations(cells: pd.DataFrame, dims: list[str]):
    """Every roll-up relation as (parent row, child rows), found by brute force."""
    for dim in dims:
        others = [d for d in dims if d != dim]
        for _, g in cells.groupby(others) if others else [(None, cells)]:
            parent = g.index[g[dim] == ALL]
            children = g.index[g[dim] != ALL]
            if len(parent) == 1 and len(children):
                yield parent[0], list(children)


def _exposed_cells(cells: pd.DataFrame, dims: list[str], hidden: pd.Series) -> list:
    """Hidden cells that one relation gives away (exactly one hidden cell among parent and children)."""
    out: set = set()
    for dim in dims:
        others = [d for d in dims if d != dim]
        key = cells[others].astype(str).agg("|".join, axis=1) if others else pd.Series("", index=cells.index)
        rel = pd.DataFrame({"key": key, "hidden": hidden.astype(int), "parent": cells[dim] == ALL})
        per = rel.groupby("key").agg(hidden=("hidden", "sum"), parents=("parent", "sum"), size=("parent", "size"))
        exposed = per.index[(per["hidden"] == 1) & (per["parents"] == 1) & (per["size"] > 1)]
        out |= set(cells.index[key.isin(exposed) & hidden])
    return sorted(out)


def _determined(cells: pd.DataFrame, dims: list[str], hidden: pd.Series) -> list:
    """Hidden cells whose value follows from all relations together (linear algebra)."""
    unknown = list(hidden.index[hidden])
    col = {r: j for j, r in enumerate(unknown)}
    rows = []
    for parent, children in _relations(cells, dims):
        a = np.zeros(len(unknown))
        for r, sign in [(parent, 1.0), *[(c, -1.0) for c in children]]:
            if r in col:
                a[col[r]] += sign
        if a.any():
            rows.append(a)
    if not rows:
        return unknown
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    return [r for r, j in col.items() if np.linalg.matrix_rank(np.vstack([a, np.eye(len(unknown))[j]])) == rank]


def _secondary(cells, dims):
    return secondary_suppression(cells, dims, "n", (cells["n"] < 10).to_numpy(), 10, lower=1).reasons


def test_primary_and_secondary_suppression_hand_worked():
    cells = _cube({("billing", "web"): 5, ("billing", "phone"): 40, ("billing", "store"): 50,
                   ("support", "web"): 30, ("support", "phone"): 60, ("support", "store"): 70,
                   ("app", "web"): 35, ("app", "phone"): 80, ("app", "store"): 90})
    reasons = _secondary(cells, ["tp", "ch"])
    got = {(r.tp, r.ch): why for r, why in zip(cells.itertuples(), reasons) if why}
    # billing/web is small; the cheapest rectangle through it: support/web (30), billing/phone (40),
    # support/phone (60) — billing/web then ranges over [1, 34]
    assert got == {("billing", "web"): "primary", ("support", "web"): "secondary",
                   ("billing", "phone"): "secondary", ("support", "phone"): "secondary"}
    hidden = reasons != ""
    assert _exposed_cells(cells, ["tp", "ch"], hidden) == []
    assert _determined(cells, ["tp", "ch"], hidden) == []
    assert protection_intervals(cells, ["tp", "ch"], "n", hidden.to_numpy(), lower=1)["width"].min() >= 10
    # with only the small cell hidden it is the row total minus its siblings
    primary_only = reasons == "primary"
    assert set(_exposed_cells(cells, ["tp", "ch"], primary_only)) == {cells.index[(cells.tp == "billing") & (cells.ch == "web")][0]}


def test_lone_child_hides_its_parent():
    # billing has one channel, so billing/all equals billing/web and must be hidden with it
    cells = _cube({("billing", "web"): 30, ("support", "web"): 5, ("support", "phone"): 60})
    reasons = _secondary(cells, ["tp", "ch"])
    assert _exposed_cells(cells, ["tp", "ch"], reasons != "") == []
    assert protection_intervals(cells, ["tp", "ch"], "n", (reasons != "").to_numpy(), lower=1)["width"].min() >= 10


def test_suppression_on_random_three_way_cube():
    rng = np.random.default_rng(11)
    base = pd.DataFrame([(p, t, c, int(rng.choice([0, 3, 8, 15, 40, 120])))
                         for p, t, c in itertools.product(["q1", "q2", "q3"], ["a", "b", "c", "d"], ["x", "y", "z"])],
                        columns=["p", "t", "c", "n"])
    base = base[base["n"] > 0]
    parts = []
    for keep in itertools.chain.from_iterable(itertools.combinations(["p", "t", "c"], k) for k in range(4)):
        g = base.groupby(list(keep), as_index=False)["n"].sum() if keep else pd.DataFrame({"n": [base["n"].sum()]})
        parts.append(g.assign(**{d: ALL for d in "ptc" if d not in keep}))
    cells = pd.concat(parts, ignore_index=True)[["p", "t", "c", "n"]]
    reasons = _secondary(cells, ["p", "t", "c"])
    assert ((reasons == "primary") == (cells["n"] < 10)).all()
    assert (reasons == "secondary").sum() > 0
    assert _exposed_cells(cells, ["p", "t", "c"], reasons != "") == []
    assert protection_intervals(cells, ["p", "t", "c"], "n", (reasons != "").to_numpy(), lower=1)["width"].min() >= 10
    with pytest.raises(ValueError, match="once"):
        _secondary(pd.concat([cells, cells.head(1)], ignore_index=True), ["p", "t", "c"])


# ---- the engine cube against pandas on the raw rows ----------------------------------------------------


@pytest.fixture(scope="module")
def raw(demo_small):
    return {t: pd.read_parquet(demo_small / f"{t}.parquet") for t in ("customers", "interactions", "surveys")}


@pytest.fixture(scope="module")
def tables(demo_small):
    params = RunParams.model_validate(demo_params_dict(demo_small))
    loaded = load_tables(params)
    return {t: clean_view(loaded[t]) for t in ("customers", "interactions", "surveys")}


TARGETS = {"csat_top2": {"all": 0.5, "billing": 0.7}, "nps": {"all": 20}, "volume": {"app": 100}}


@pytest.fixture(scope="module")
def portfolio(tables):
    return M.touchpoint_portfolio(tables["interactions"], tables["customers"], tables["surveys"], as_of=AS_OF,
                                  min_cell_size=10, targets=TARGETS)


def _rolled(df: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Every row once per subset of dims replaced by 'all' (the cube, by brute force)."""
    copies = []
    for mask in itertools.product([False, True], repeat=len(dims)):
        copies.append(df.assign(**{d: ALL for d, roll in zip(dims, mask) if roll}))
    return pd.concat(copies, ignore_index=True)


def _long(agg: pd.DataFrame, metric: str, n: pd.Series, value: pd.Series, interval, customers: pd.Series) -> pd.DataFrame:
    keep = n > 0
    lo, hi = interval(keep)
    return agg.loc[keep, []].reset_index().assign(metric=metric, n=n[keep].to_numpy(), value=value[keep].to_numpy(),
                                                  ci_lower=np.asarray(lo), ci_upper=np.asarray(hi),
                                                  customers=customers[keep].to_numpy())


def _customers_with(df: pd.DataFrame, column: str | None = None) -> pd.Series:
    """Distinct customers per cell (among rows where ``column`` is present)."""
    rows = df if column is None else df[df[column].notna()]
    return rows.groupby(DIMS)["customer_id"].nunique()


def _wilson_for(x: pd.Series, n: pd.Series):
    return lambda keep: proportion_confint(x[keep].to_numpy(), n[keep].to_numpy(), alpha=0.05, method="wilson")


def _t_for(mean: pd.Series, sd: pd.Series, n: pd.Series):
    def interval(keep):
        with np.errstate(invalid="ignore", divide="ignore"):  # one rating: no interval
            return stats.t.interval(0.95, n[keep] - 1, loc=mean[keep], scale=sd[keep] / np.sqrt(n[keep]))
    return interval


def _expected(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every metrics.csv value from the raw rows with pandas group-bys and scipy/statsmodels intervals."""
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    segment = raw["customers"].set_index("customer_id")["segment"]
    i = raw["interactions"]
    i = i[i["timestamp"] < end].assign(
        segment=lambda d: d["customer_id"].map(segment).fillna("unspecified"),
        period=lambda d: d["timestamp"].dt.to_period("Q").astype(str),
        csat=lambda d: d["csat"].astype(float), ces=lambda d: d["ces"].astype(float),
        resolved=lambda d: d["resolved"].astype(float),
        top2=lambda d: (d["csat"] >= 4).astype(float).where(d["csat"].notna()),
    )
    a = _rolled(i, DIMS).groupby(DIMS).agg(
        volume=("touchpoint", "size"), rated=("csat", "count"), csat_mean=("csat", "mean"), csat_sd=("csat", "std"),
        top2=("top2", "sum"), ces_n=("ces", "count"), ces_mean=("ces", "mean"), ces_sd=("ces", "std"),
        res_n=("resolved", "count"), res_mean=("resolved", "mean"), res_x=("resolved", "sum"))
    none = lambda keep: (np.full(keep.sum(), np.nan), np.full(keep.sum(), np.nan))
    rolled = _rolled(i, DIMS)
    who = {c: _customers_with(rolled, c).reindex(a.index, fill_value=0) for c in (None, "csat", "ces", "resolved")}
    parts = [
        _long(a, "volume", a["volume"], a["volume"].astype(float), none, who[None]),
        _long(a, "rated_share", a["volume"], a["rated"] / a["volume"], _wilson_for(a["rated"], a["volume"]), who[None]),
        _long(a, "csat_mean", a["rated"], a["csat_mean"], _t_for(a["csat_mean"], a["csat_sd"], a["rated"]), who["csat"]),
        _long(a, "csat_top2", a["rated"], a["top2"] / a["rated"], _wilson_for(a["top2"], a["rated"]), who["csat"]),
        _long(a, "ces_mean", a["ces_n"], a["ces_mean"], _t_for(a["ces_mean"], a["ces_sd"], a["ces_n"]), who["ces"]),
        _long(a, "resolution_rate", a["res_n"], a["res_mean"], _wilson_for(a["res_x"], a["res_n"]), who["resolved"]),
    ]
    s = raw["surveys"]
    s = s[s["timestamp"] < end].assign(
        segment=lambda d: d["customer_id"].map(segment).fillna("unspecified"),
        period=lambda d: d["timestamp"].dt.to_period("Q").astype(str),
        # NPS is 100 x the mean of this score, and Var(score) = p + d - (p - d)² (population variance)
        score=lambda d: np.select([d["nps"] >= 9, d["nps"] <= 6], [1.0, -1.0], 0.0),
        promoter=lambda d: (d["score"] == 1).astype(float), passive=lambda d: (d["score"] == 0).astype(float),
        detractor=lambda d: (d["score"] == -1).astype(float),
    )
    b = _rolled(s, ["period", "segment"]).assign(touchpoint=ALL, channel=ALL).groupby(DIMS).agg(
        n=("score", "size"), mean=("score", "mean"), var=("score", lambda x: x.var(ddof=0)),
        promoters=("promoter", "sum"), passives=("passive", "sum"), detractors=("detractor", "sum"),
        respondents=("customer_id", "nunique"))
    half = Z * 100 * np.sqrt(b["var"] / b["n"])
    nps = 100 * b["mean"]
    parts.append(_long(b, "nps", b["n"], nps, lambda keep: ((nps - half).clip(-100)[keep], (nps + half).clip(upper=100)[keep]),
                       b["respondents"]))
    for metric, col in (("nps_promoters", "promoters"), ("nps_passives", "passives"), ("nps_detractors", "detractors")):
        parts.append(_long(b, metric, b["n"], b[col] / b["n"], _wilson_for(b[col], b["n"]), b["respondents"]))
    return pd.concat(parts, ignore_index=True)


def test_every_metric_value_equals_pandas_on_raw_rows(portfolio, raw):
    got = portfolio.metrics
    assert list(got.columns) == RESULT_COLUMNS["metrics"]
    assert set(got["metric"]) == set(V.METRICS)
    expected = _expected(raw)
    expected = expected[expected["period"] != ALL]        # no cumulative rows (docs/privacy.md)
    both = got.merge(expected, on=[*DIMS, "metric"], how="outer", suffixes=("", "_pandas"), indicator=True)
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", [*DIMS, "metric", "_merge"]].head()
    shown = both[~both["suppressed"]]
    assert len(shown) > 5000
    assert (shown["n"].astype(int) == shown["n_pandas"]).all()
    np.testing.assert_allclose(shown["value"].astype(float), shown["value_pandas"], rtol=1e-9, atol=1e-12)
    # per-row intervals where rows are independent: volume, and NPS where every respondent answered
    # once; the customer-clustered ones (every other row) are checked in tests/test_clustered_cube.py
    independent = shown[(shown["metric"] == "volume")
                        | (shown["metric"].str.startswith("nps") & (shown["customers"] == shown["n_pandas"]))]
    assert len(independent) > 100
    for c in ("ci_lower", "ci_upper"):
        np.testing.assert_allclose(independent[c].astype(float), independent[f"{c}_pandas"], rtol=1e-9, atol=1e-12, err_msg=c)
    hidden = both[both["suppressed"]]
    assert hidden[["n", "value", "ci_lower", "ci_upper"]].isna().all().all()
    # every small cell (few rows or few customers) is hidden; the other hidden cells protect them
    small = (both["n_pandas"] < 10) | (both["customers"] < 10)
    assert both.loc[small, "suppressed"].all()
    assert (both["customers"] < 10).sum() > (both["n_pandas"] < 10).sum()  # the customer rule bites here
    # primary rows: small ones, and rows revealing a small count of their cell (the rated share of few ratings)
    assert len(hidden) == portfolio.suppressed_primary + portfolio.suppressed_secondary
    assert small.sum() <= portfolio.suppressed_primary and portfolio.suppressed_secondary > 0


def test_distinct_customers_exact_in_every_cell(tables, raw):
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    segment = raw["customers"].set_index("customer_id")["segment"]
    i = raw["interactions"]
    i = i[i["timestamp"] < end].assign(segment=lambda d: d["customer_id"].map(segment).fillna("unspecified"),
                                       period=lambda d: d["timestamp"].dt.to_period("Q").astype(str))
    rolled = _rolled(i, DIMS)
    rolled = rolled[rolled["period"] != ALL]  # the cube has no cumulative rows
    truth = pd.DataFrame({"customers": _customers_with(rolled), "raters": _customers_with(rolled, "csat"),
                          "resolved_customers": _customers_with(rolled, "resolved")}).fillna(0)
    exact = C.interaction_sums(tables["interactions"], tables["customers"], AS_OF).set_index(DIMS)
    cols = list(truth.columns)
    pd.testing.assert_frame_equal(exact.loc[truth.index, cols], truth.astype("int64"), check_names=False)


def test_touchpoints_outside_the_analysed_set_are_pooled(tables, portfolio):
    pooled = M.touchpoint_portfolio(tables["interactions"], tables["customers"], as_of=AS_OF, min_cell_size=10,
                                    touchpoints=["billing", "not in the data"]).metrics
    assert set(pooled["touchpoint"]) == {"billing", C.OTHER_TOUCHPOINTS, ALL}
    # billing and the roll-ups (which still count every interaction) are measured as before
    both = pooled.merge(portfolio.metrics, on=[*DIMS, "metric"], suffixes=("", "_every"))
    shown = both[~both["suppressed"].astype(bool) & ~both["suppressed_every"].astype(bool)]
    assert len(shown) > 100 and (shown["touchpoint"] == ALL).any()
    np.testing.assert_allclose(shown["value"].astype(float), shown["value_every"].astype(float), rtol=1e-12)


def test_published_table_hides_no_recoverable_cell(portfolio):
    m = portfolio.metrics
    for metric, dims in (("volume", DIMS), ("csat_mean", DIMS), ("resolution_rate", DIMS), ("nps", ["period", "segment"])):
        cells = m[m["metric"] == metric].reset_index(drop=True)
        assert _exposed_cells(cells, dims, cells["suppressed"].astype(bool)) == [], metric
    # metrics sharing a denominator are hidden together
    key = [*DIMS]
    vol = m[m["metric"] == "volume"].set_index(key)["suppressed"]
    share = m[m["metric"] == "rated_share"].set_index(key)["suppressed"]
    csat = m[m["metric"] == "csat_mean"].set_index(key)["suppressed"]
    # the rated share reveals both counts: hidden wherever either of them is
    assert (share >= vol.reindex(share.index)).all()
    assert (share[csat.index.intersection(share.index)] >= csat[csat.index.intersection(share.index)]).all()


def test_periods_and_labels(portfolio, raw):
    first = raw["interactions"]["timestamp"].min().to_period("Q")
    assert portfolio.latest == "2026Q3"
    assert portfolio.periods[0] == str(min(first, raw["surveys"]["timestamp"].min().to_period("Q")))
    assert portfolio.periods[-1] == "2026Q3"
    assert set(portfolio.metrics["period"]) <= set(portfolio.periods)
    nps = portfolio.metrics[portfolio.metrics["metric"].str.startswith("nps")]
    assert set(nps["touchpoint"]) == {ALL} and set(nps["channel"]) == {ALL}


def _stacked_cluster_change(before: pd.DataFrame, now: pd.DataFrame, value: str) -> tuple[float, float]:
    """Difference and its variance from the CR1 cluster-robust OLS of both periods' rows on two period
    indicators, clustered by customer; statsmodels' extra (N − 1)/(N − 2) factor taken out."""
    import statsmodels.api as sm

    rows = pd.concat([before.assign(_p=0.0), now.assign(_p=1.0)], ignore_index=True)
    X = np.column_stack([1 - rows["_p"], rows["_p"]])
    fit = sm.OLS(rows[value].astype(float).to_numpy(), X).fit(
        cov_type="cluster", cov_kwds={"groups": rows["customer_id"].to_numpy()})
    c = fit.cov_params()
    n = len(rows)
    return fit.params[1] - fit.params[0], (c[0, 0] + c[1, 1] - 2 * c[0, 1]) * (n - 2) / (n - 1)


def test_changes_match_clustered_regression_on_raw_rows(portfolio, raw):
    ch = portfolio.changes
    i = raw["interactions"].assign(period=lambda d: d["timestamp"].dt.to_period("Q").astype(str))
    billing = i[(i["touchpoint"] == "billing") & i["csat"].notna()].assign(top2=lambda d: (d["csat"] >= 4).astype(float))
    now, before = billing[billing["period"] == "2026Q3"], billing[billing["period"] == "2026Q2"]
    sel = (ch["period"] == "2026Q3") & (ch["touchpoint"] == "billing") & (ch["channel"] == ALL) & (ch["segment"] == ALL)
    for metric, value in (("csat_mean", "csat"), ("csat_top2", "top2")):
        row = ch[sel & (ch["metric"] == metric)].iloc[0]
        diff, var = _stacked_cluster_change(before, now, value)
        assert row["test"] == "customer-clustered t"
        assert row["difference"] == pytest.approx(diff, rel=1e-12)
        assert row["statistic"] == pytest.approx(diff / np.sqrt(var), rel=1e-9)
        g = pd.concat([before, now])["customer_id"].nunique()
        assert row["df"] == g - 1
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(diff / np.sqrt(var)), g - 1), rel=1e-8)
    # the demo's billing CSAT drops in the as-of quarter: that change must survive BH
    mean = ch[sel & (ch["metric"] == "csat_mean")].iloc[0]
    assert bool(mean["significant"]) and mean["difference"] < 0
    # BH runs over the whole table at once
    assert np.isfinite(ch["p_value"]).all()
    _, q, _, _ = multipletests(ch["p_value"], method="fdr_bh")
    np.testing.assert_allclose(ch["q_value"], q)
    assert (ch["significant"] == (q <= 0.05)).all()
    assert "volume" not in set(ch["metric"])
    hidden = portfolio.metrics.loc[portfolio.metrics["suppressed"], [*DIMS, "metric"]]
    assert ch.merge(hidden, on=[*DIMS, "metric"]).empty


def test_nps_change_clustered_where_customers_answer_twice(portfolio, raw):
    """Some customers answer the survey twice in a quarter: NPS is then a customer-clustered ratio."""
    ch = portfolio.changes
    row = ch[(ch["metric"] == "nps") & (ch["segment"] == ALL) & (ch["period"] == "2026Q3")].iloc[0]
    s = raw["surveys"].dropna(subset=["nps"]).assign(period=lambda d: d["timestamp"].dt.to_period("Q").astype(str))
    s = s.assign(score=np.select([s["nps"] >= 9, s["nps"] <= 6], [100.0, -100.0], 0.0))
    now, before = s[s["period"] == "2026Q3"], s[s["period"] == "2026Q2"]
    assert now.groupby("customer_id").size().max() > 1
    diff, var = _stacked_cluster_change(before, now, "score")
    assert row["test"] == "customer-clustered t"
    assert row["difference"] == pytest.approx(diff, rel=1e-12)
    assert row["statistic"] == pytest.approx(diff / np.sqrt(var), rel=1e-9)


# ---- engine on a hand-made table: months, no segment column, as_of cut-off ----------------------------


def test_engine_cube_hand_worked_months_without_segment():
    con = connect()
    interactions = pd.DataFrame({
        "customer_id": ["C1", "C1", "C2", "C2", "C3"],
        "timestamp": pd.to_datetime(["2026-08-03 10:00", "2026-09-10 11:00", "2026-09-11 12:00",
                                     "2026-09-30 23:00", "2026-10-01 00:00"]),
        "touchpoint": ["billing", "billing", "support", "support", "billing"],
        "channel": ["web", "phone", "phone", "phone", "web"],
        "csat": [5.0, 2.0, 4.0, None, 1.0],
        "ces": [6.0, None, 3.0, None, 1.0],
        "resolved": pd.array([None, None, True, False, None], dtype="boolean"),
    })
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"]})
    surveys = pd.DataFrame({"customer_id": ["C1"] * 5,
                            "timestamp": pd.to_datetime(["2026-09-01"] * 5),
                            "nps": [10.0, 9.0, 7.0, 3.0, 0.0]})
    t = {name: con.create_table(f"hand_{name}", df, temp=True)
         for name, df in (("i", interactions), ("c", customers), ("s", surveys))}
    cube = C.interaction_sums(t["i"], t["c"], AS_OF, "month").set_index(DIMS)
    assert set(cube.index.get_level_values("segment")) == {ALL}
    assert set(cube.index.get_level_values("period")) == {"2026-08", "2026-09"}
    # the 1 October interaction is after as_of
    total = cube.loc[[("2026-08", ALL, ALL, ALL), ("2026-09", ALL, ALL, ALL)]].sum()
    assert total[list(C.INTERACTION_SUMS)].tolist() == [4, 3, 11, 45, 2, 2, 9, 45, 2, 1]
    support = cube.loc[("2026-09", "support", "phone", ALL)]
    assert support[["n", "rated", "resolved_n", "resolved"]].tolist() == [2, 1, 2, 1]
    # only cells with data: 3 (p, t, c) + 3 (p, t) + 2 (p, c) + 2 (p)
    assert len(cube) == 10
    p = M.touchpoint_portfolio(t["i"], t["c"], t["s"], as_of=AS_OF, period="month", min_cell_size=1)
    m = p.metrics.set_index([*DIMS, "metric"])
    assert m.loc[("2026-09", ALL, ALL, ALL, "nps"), "value"] == pytest.approx(0.0)
    assert m.loc[("2026-09", ALL, ALL, ALL, "nps_passives"), "value"] == pytest.approx(0.2)
    assert m.loc[("2026-09", ALL, ALL, ALL, "csat_top2"), "value"] == pytest.approx(1 / 2)
    assert ALL not in set(p.metrics["period"])                  # no cumulative rows
    assert p.periods == ("2026-08", "2026-09") and p.latest == "2026-09"


def test_data_value_named_all_stays_apart_from_the_roll_up():
    con = connect()
    interactions = pd.DataFrame({
        "customer_id": ["C1", "C1", "C2"], "timestamp": pd.to_datetime(["2026-09-01", "2026-09-02", "2026-09-03"]),
        "touchpoint": ["billing"] * 3, "channel": ["all", "web", "web"], "csat": [5.0, 4.0, 1.0],
        "ces": [1.0, 2.0, 3.0], "resolved": pd.array([True, False, True], dtype="boolean"),
    })
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "segment": ["all", "smb"]})
    cube = C.interaction_sums(con.create_table("odd_i", interactions, temp=True),
                              con.create_table("odd_c", customers, temp=True), AS_OF).set_index(DIMS)
    assert cube.loc[("2026Q3", "billing", C.ALL_IN_DATA, C.ALL_IN_DATA), "n"] == 1
    assert cube.loc[("2026Q3", "billing", ALL, ALL), "n"] == 3
    assert not cube.index.duplicated().any()


# ---- targets, journey, views ---------------------------------------------------------------------------


def _row(tp, metric, value, lo, hi, n=400, suppressed=False, period="2026Q3"):
    return {"period": period, "touchpoint": tp, "channel": ALL, "segment": ALL, "metric": metric,
            "n": None if suppressed else n, "value": None if suppressed else value,
            "ci_lower": None if suppressed else lo, "ci_upper": None if suppressed else hi, "suppressed": suppressed}


def test_target_status_met_missed_cant_tell():
    m = pd.DataFrame([
        _row("billing", "csat_top2", 0.62, 0.57, 0.67),
        _row("app", "csat_top2", 0.75, 0.71, 0.79),
        _row("support", "csat_top2", 0.69, 0.65, 0.73),
        _row(ALL, "nps", None, None, None, suppressed=True),
        _row("billing", "volume", 500, None, None),
    ])
    targets = {"csat_top2": {"billing": 0.7, "app": 0.7, "support": 0.7, "delivery": 0.7},
               "nps": {ALL: 20}, "volume": {"billing": 400}}
    t = M.target_status(m, targets, "2026Q3").set_index(["metric", "touchpoint"])
    assert t["status"].to_dict() == {
        ("csat_top2", "billing"): "missed", ("csat_top2", "app"): "met", ("csat_top2", "support"): "can't tell",
        ("csat_top2", "delivery"): "can't tell", ("nps", ALL): "can't tell", ("volume", "billing"): "met"}
    billing = t.loc[("csat_top2", "billing")]
    assert (billing["gap"], billing["gap_lower"], billing["gap_upper"]) == pytest.approx((-0.08, -0.13, -0.03))
    assert t.loc[("nps", ALL), "note"] == "suppressed" and t.loc[("csat_top2", "delivery"), "note"] == "no data"
    assert T.describe_targets(t.reset_index()).startswith("Of 6 target(s), 2 met, 1 missed and 3 can't tell")


def test_portfolio_targets_read_the_latest_period(portfolio):
    t = portfolio.targets.set_index(["metric", "touchpoint"])
    row = portfolio.metrics.set_index([*DIMS, "metric"]).loc[("2026Q3", "billing", ALL, ALL, "csat_top2")]
    assert t.loc[("csat_top2", "billing"), "value"] == row["value"]
    assert t.loc[("csat_top2", "billing"), "status"] == "missed"  # the demo's billing slump
    assert set(t["status"]) <= set(M.STATUS)


def test_journey_view_orders_stages(portfolio):
    journey = {"onboarding": ["onboarding"], "usage": ["app", "delivery"], "pay": ["billing"]}
    view = M.journey_view(portfolio.metrics, portfolio.changes, journey, portfolio.latest)
    assert view[["stage", "touchpoint"]].values.tolist() == [
        ["onboarding", "onboarding"], ["usage", "app"], ["usage", "delivery"], ["pay", "billing"], ["other", "support"]]
    assert "mean CSAT −" in view.set_index("touchpoint").loc["billing", "changed"]
    assert "journey" in T.describe_journey(view)


def test_views_and_sentences_read_the_numbers(portfolio):
    latest = portfolio.latest
    top2 = portfolio.metrics[(portfolio.metrics["metric"] == "csat_top2") & (portfolio.metrics["period"] == latest)
                             & (portfolio.metrics["channel"] == ALL) & (portfolio.metrics["segment"] == ALL)
                             & (portfolio.metrics["touchpoint"] != ALL)].sort_values("value")
    text = T.describe_heatmap(portfolio.metrics, latest)
    assert f"lowest for {top2.iloc[0]['touchpoint']} ({100 * top2.iloc[0]['value']:.1f}%)" in text
    by_channel = M.breakdown(portfolio.metrics, "csat_top2", latest, "channel")
    assert by_channel.set_index("touchpoint").loc["billing", ALL] == top2.set_index("touchpoint").loc["billing", "value"]
    nps = portfolio.metrics.set_index([*DIMS, "metric"]).loc[(latest, ALL, ALL, ALL, "nps")]
    assert f"n = {int(nps['n']):,}" in T.describe_nps(portfolio.metrics, portfolio.changes, latest)
    changes = T.change_view(portfolio.changes, latest)
    assert len(changes) == int((portfolio.changes["significant"] & (portfolio.changes["period"] == latest)).sum())
    assert str(len(portfolio.changes)) in T.describe_changes(portfolio.changes, latest).replace(",", "")


def test_portfolio_follows_the_result_protocol(portfolio):
    assert isinstance(portfolio, Result)
    assert portfolio.to_frame().equals(portfolio.metrics[RESULT_COLUMNS["metrics"]])
    text = repr(portfolio).splitlines()
    assert text[0] == "Touchpoint metric portfolio"
    assert text[1].startswith(f"The portfolio covers {len(portfolio.periods)} quarters, from {portfolio.periods[0]}")
    assert f"{portfolio.suppressed_primary:,} rows with fewer than 10" in text[1]
    assert "<h4>Touchpoint metric portfolio</h4>" in portfolio._repr_html_()
    d = portfolio.to_dict()
    assert "metrics" not in d and "changes" not in d  # the large tables are the CSV files
    assert d["latest"] == "2026Q3" and d["periods"] == list(portfolio.periods) and len(d["targets"]) == len(portfolio.targets)
    assert portfolio.summary["touchpoint"].iloc[0] == ALL and list(portfolio.summary.columns)[1] == "volume"


def test_benjamini_hochberg_matches_statsmodels_and_leaves_missing_out():
    p = np.array([0.001, 0.2, np.nan, 0.03, 0.04, 0.9])
    q, sig = CH.benjamini_hochberg(p, fdr=0.05)
    reject, expected, _, _ = multipletests(p[~np.isnan(p)], alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(q[~np.isnan(p)], expected)
    assert np.isnan(q[2]) and not sig[2] and sig[~np.isnan(p)].tolist() == reject.tolist()
    q, sig = CH.benjamini_hochberg([np.nan])
    assert np.isnan(q).all() and not sig.any()


def test_periods_in_one_place():
    assert P.period_range("2025-11", "2026-02", "month") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert P.previous_period(pd.Series(["2026-01", ALL]), "month").tolist() == ["2025-12", None]
    assert P.period_label(dt.date(2026, 1, 1)) == "2026Q1"
    with pytest.raises(ValueError, match="quarter' or 'month'"):
        P.period_label(AS_OF, "week")


def test_one_spelling_of_each_metric():
    """The vocabulary is the one place metric words come from: no second spelling in the package."""
    root = Path(C.__file__).parents[1]
    assert not [p for p in root.rglob("*.py") if "top-two-box" in p.read_text(encoding="utf-8")]
    assert V.METRIC_WORDS["csat_top2"] == V.SPECS["csat_top2"].label == "top-2-box CSAT"
    assert V.driver_label("sat_billing") == "billing satisfaction"


# ---- figures ------------------------------------------------------------------------------------------


def _toy_metrics() -> pd.DataFrame:
    rows = []
    for period, tp, value in [("2026Q1", "app", 0.7), ("2026Q2", "app", 0.72), ("2026Q3", "app", 0.71),
                              ("2026Q1", "billing", 0.5), ("2026Q2", "billing", None), ("2026Q3", "billing", 0.4)]:
        rows.append(_row(tp, "csat_top2", value, None if value is None else value - 0.03,
                         None if value is None else value + 0.03, suppressed=value is None, period=period))
    for period in ("2026Q1", "2026Q2"):
        for metric, value in (("nps", -10.0), ("nps_promoters", 0.3), ("nps_passives", 0.3), ("nps_detractors", 0.4)):
            rows.append(_row(ALL, metric, value, value, value, period=period))
    rows += [_row(ALL, m, None, None, None, suppressed=True, period="2026Q3")
             for m in ("nps", "nps_promoters", "nps_passives", "nps_detractors")]
    return pd.DataFrame(rows)


def test_figures_leave_suppressed_cells_out():
    m = _toy_metrics()
    periods = ["2026Q1", "2026Q2", "2026Q3"]
    heat = PM.top2_heatmap(m, periods, ["billing", "app"])
    labels = [t.get_text() for t in heat.axes[0].texts]
    assert sorted(labels) == sorted(["70", "72", "71", "50", "40"])  # billing 2026Q2 is suppressed
    trend = PM.trend_lines(m, periods, "csat_top2", ["billing", "app"])
    billing = trend.axes[0].get_lines()[0].get_ydata()
    assert np.isnan(billing[1]) and billing[0] == pytest.approx(0.5)
    bars = PM.nps_composition(m, periods)
    heights = [p.get_height() for p in bars.axes[0].patches]
    assert heights.count(0.0) == 3  # the suppressed 2026Q3 bar has no segment drawn
    grid = M.portfolio_grid(m, M.target_status(m, {"csat_top2": {"app": 0.6}}, "2026Q3"), "2026Q3")
    table = PM.portfolio_table(grid)
    texts = [t.get_text() for t in table.axes[0].texts]
    assert "71.0%" in texts and "40.0%" in texts
    for fig in (heat, trend, bars, table):
        matplotlib.pyplot.close(fig)
