"""Issue 12, item 5: customer-clustered intervals of the portfolio, from per-customer sums in the engine.

The cube's clustered sums, variances, intervals and change tests against a direct computation on the
raw rows of a demo data set (pandas in the test, statsmodels' cluster-robust OLS), for base cells and
``all`` roll-ups, where a customer sits in several base cells.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import demo_params_dict

from cxlib.analyses import clustering as CLG
from cxlib.analyses import portfolio as M
from cxlib.features import cube as C
from cxlib.ingest.read import clean_view, load_tables
from cxlib.params import RunParams
from cxlib.results import ALL
from cxlib.stats import clustered as CL

AS_OF = dt.date(2026, 9, 30)
DIMS = ["period", "touchpoint", "channel", "segment"]
# (metric, row value, row denominator): the value counts where the denominator is 1
RATIO_ROWS = {"rated_share": ("rated", "one"), "csat_mean": ("csat", "rated"), "csat_top2": ("top2", "rated"),
              "ces_mean": ("ces", "ces_n"), "resolution_rate": ("resolved", "resolved_n")}
# cells of the demo: base cells, roll-ups of one dimension (the segment roll-up is summed in pandas)
# and the all-touchpoint rows
CELLS = [("2026Q3", "billing", "phone", "consumer"), ("2026Q3", "billing", ALL, ALL), ("2026Q2", ALL, ALL, ALL),
         ("2026Q1", "billing", ALL, "smb"), ("2026Q3", ALL, "chat", "consumer"), ("2026Q2", "support", "chat", ALL)]


@pytest.fixture(scope="module")
def raw(demo_small):
    """Interaction rows with their cell keys, straight from the Parquet files with pandas."""
    customers = pd.read_parquet(demo_small / "customers.parquet")
    i = pd.read_parquet(demo_small / "interactions.parquet")
    i = i[i["timestamp"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]
    seg = customers.set_index("customer_id")["segment"]
    return i.assign(segment=i["customer_id"].map(seg).fillna("unspecified"),
                    period=i["timestamp"].dt.to_period("Q").astype(str),
                    one=1.0, rated=i["csat"].notna().astype(float), csat=i["csat"].astype(float).fillna(0),
                    top2=(i["csat"] >= 4).astype(float), ces_n=i["ces"].notna().astype(float),
                    ces=i["ces"].astype(float).fillna(0), resolved_n=i["resolved"].notna().astype(float),
                    resolved=i["resolved"].astype(float).fillna(0))


@pytest.fixture(scope="module")
def tables(demo_small):
    loaded = load_tables(RunParams.model_validate(demo_params_dict(demo_small)))
    return {t: clean_view(loaded[t]) for t in ("customers", "interactions", "surveys")}


@pytest.fixture(scope="module")
def cube(tables):
    return C.interaction_sums(tables["interactions"], tables["customers"], AS_OF).set_index(DIMS)


def _in_cell(rows: pd.DataFrame, cell: tuple[str, ...]) -> pd.DataFrame:
    keep = np.ones(len(rows), dtype=bool)
    for d, v in zip(DIMS, cell):
        if v != ALL:
            keep &= (rows[d] == v).to_numpy()
    return rows[keep]


def _sandwich(y: np.ndarray, n: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """The ratio and its CR1 variance straight from the rows: customers' residual sums, squared."""
    r = y.sum() / n.sum()
    u = pd.Series(y - r * n).groupby(groups).sum()
    u = u[pd.Series(n).groupby(groups).sum() > 0]
    g = len(u)
    return r, g / (g - 1) * float((u.to_numpy() ** 2).sum()) / n.sum() ** 2


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("metric", list(RATIO_ROWS))
def test_cube_variance_equals_direct_sandwich_on_raw_rows(cube, raw, cell, metric):
    y, n = RATIO_ROWS[metric]
    rows = _in_cell(raw, cell)
    rows = rows[rows[n] > 0]
    if rows.empty:
        pytest.skip(f"no {metric} in {cell} (the metric has no row there)")
    r_direct, v_direct = _sandwich(rows[y].to_numpy(), rows[n].to_numpy(), rows["customer_id"].to_numpy())
    sums = CLG.clustered_sums(cube.loc[[cell]].reset_index(), metric)
    assert sums["m"][0] == rows["customer_id"].nunique()
    r, v = CL.ratio_variance(*[sums[c] for c in CL.SUM_COLUMNS])
    assert abs(float(r[0]) - r_direct) < 1e-12
    assert abs(float(v[0]) - v_direct) < 1e-9 * v_direct
    if n != "one":  # a mean over the rows that have the value: statsmodels' cluster-robust OLS on a constant
        fit = sm.OLS(rows[y].to_numpy(), np.ones((len(rows), 1))).fit(
            cov_type="cluster", cov_kwds={"groups": rows["customer_id"].to_numpy()})
        assert abs(float(v[0]) - fit.cov_params()[0, 0]) < 1e-9 * v_direct


def test_cube_sums_equal_pandas_reference_everywhere(cube, raw):
    """Every cell incl. every roll-up: the engine's six sums equal cluster_sums on the rolled rows."""
    y, n = RATIO_ROWS["csat_top2"]
    copies = [raw.assign(**{d: ALL for d, roll in zip(DIMS, mask) if roll})
              for mask in np.ndindex(*(2,) * len(DIMS)) if not mask[0]]  # no all-period rows
    rolled = pd.concat(copies, ignore_index=True)
    ref = CL.cluster_sums(rolled, "customer_id", y, by=DIMS, count=n).set_index(DIMS)
    got = pd.DataFrame(CLG.clustered_sums(cube.reset_index(), "csat_top2"), index=cube.index)
    got = got[got["sum_n"] > 0]
    assert len(got) == len(ref) > 500
    np.testing.assert_allclose(got.loc[ref.index, CL.SUM_COLUMNS].to_numpy(), ref[CL.SUM_COLUMNS].to_numpy(), rtol=1e-12)


def test_cross_period_sums_equal_pandas_reference(cube, raw):
    y, n = RATIO_ROWS["csat_mean"]
    for cell in [("2026Q3", "billing", ALL, ALL), ("2026Q3", ALL, ALL, ALL)]:
        now = _in_cell(raw, cell)
        before = _in_cell(raw.assign(period=raw["period"].where(raw["period"] != "2026Q2", "2026Q3-1")),
                          ("2026Q3-1", *cell[1:]))
        ref = CL.cross_sums(before.assign(k=1), now.assign(k=1), "customer_id", y, by=["k"], count=n).iloc[0]
        got = CLG.clustered_sums(cube.loc[[cell]].reset_index(), "csat_mean")
        assert ref["m_both"] > 100
        np.testing.assert_allclose([got[c][0] for c in CL.CROSS_COLUMNS], ref[CL.CROSS_COLUMNS].to_numpy(dtype=float),
                                   rtol=1e-12)


def test_portfolio_intervals_changes_and_targets_are_clustered(tables, raw):
    p = M.touchpoint_portfolio(tables["interactions"], tables["customers"], tables["surveys"], as_of=AS_OF,
                               min_cell_size=10, targets={"csat_top2": {"billing": 0.5}})
    m = p.metrics.set_index([*DIMS, "metric"])
    # the latest period's all-touchpoint top-2 box (metrics.csv has no all-period rows): the published
    # interval is Wilson at the effective n
    rows = raw[(raw["rated"] > 0) & (raw["period"] == p.latest)]
    r, v = _sandwich(rows["top2"].to_numpy(), np.ones(len(rows)), rows["customer_id"].to_numpy())
    n_eff = min(r * (1 - r) / v, len(rows))
    z = 1.959963984540054
    centre = (r + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z / (1 + z * z / n_eff) * np.sqrt(r * (1 - r) / n_eff + z * z / (4 * n_eff ** 2))
    row = m.loc[(p.latest, ALL, ALL, ALL, "csat_top2")]
    assert row["ci_lower"] == pytest.approx(centre - half, abs=1e-12)
    assert row["ci_upper"] == pytest.approx(centre + half, abs=1e-12)
    naive = 2 * z * np.sqrt(r * (1 - r) / len(rows))
    # customers rate several times in a quarter (1.17 here; over all periods pooled it was above 1.5)
    assert (row["ci_upper"] - row["ci_lower"]) / naive > 1.1
    # change tests of interaction metrics are the clustered test; targets read the clustered interval
    ch = p.changes[p.changes["metric"] != "nps"]
    assert set(ch.loc[ch["metric"].isin(list(RATIO_ROWS)), "test"]) == {"customer-clustered t"}
    t = p.targets.iloc[0]
    lat = m.loc[(p.latest, "billing", ALL, ALL, "csat_top2")]
    assert (t["ci_lower"], t["ci_upper"]) == (lat["ci_lower"], lat["ci_upper"])


def test_nps_clustered_only_where_a_customer_answers_twice(tables):
    s = C.survey_sums(tables["surveys"], tables["customers"], AS_OF)
    est = M.estimates(None, s)
    nps = est[est["metric"] == "nps"].merge(s[[*DIMS, "responses_max"]], on=DIMS)
    assert (nps["clustered"] == (nps["responses_max"] > 1)).all()
    assert nps["clustered"].any()
    # where nobody answered twice the interval is the per-response one
    single = nps[~nps["clustered"]]
    if len(single):
        _, lo, _ = M.nps_interval(single["x"], single["xx"], single["n"])
        np.testing.assert_allclose(single["ci_lower"], lo)


def test_customer_chunks_add_up_to_the_same_cube(tables, cube, monkeypatch):
    """Aggregated in several customer chunks, every cell of the cube is the same: a customer's rows
    are never split between chunks, so counts, clustered and cross sums add up."""
    rows = tables["interactions"].count().execute()
    monkeypatch.setattr(C, "CHUNK_ROWS", rows // 3)
    assert len(C._customer_chunks(tables["interactions"], C.CHUNK_ROWS)) == 4
    chunked = C.interaction_sums(tables["interactions"], tables["customers"], AS_OF).set_index(DIMS)
    assert chunked.index.sort_values().equals(cube.index.sort_values())
    pd.testing.assert_frame_equal(chunked.loc[cube.index], cube, check_exact=False, rtol=1e-12)
