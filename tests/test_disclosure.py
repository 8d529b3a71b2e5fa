"""Disclosure control: LP intervals on hand-worked tables, the greedy pattern, linked metrics, the
release rule, and the attacks of tests/disclosure_attacks.py on today's published output."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxlib.demo.synthetic import write_demo_data
from cxlib.stats.disclosure import (
    additive_equations,
    audit,
    protection_intervals,
    secondary_suppression,
)
from cxlib.stats.disclosure_links import keep_release_pattern, metric_pattern, revealed

sys.path.insert(0, str(Path(__file__).parent))
import disclosure_attacks as attacks
from conftest import demo_params_dict, write_params


def table_2x2(values):
    """Rows r1, r2 and columns c1, c2 with totals; ``values`` = the four inner cells."""
    (a, b), (c, d) = values
    cells = [("r1", "c1", a), ("r1", "c2", b), ("r1", "all", a + b), ("r2", "c1", c), ("r2", "c2", d),
             ("r2", "all", c + d), ("all", "c1", a + c), ("all", "c2", b + d), ("all", "all", a + b + c + d)]
    return pd.DataFrame(cells, columns=["r", "c", "n"])


def mask(cells, keys):
    return np.array([(r, c) in keys for r, c in zip(cells["r"], cells["c"])])


def test_equations_of_a_2x2_table():
    A = additive_equations(table_2x2([[3, 20], [30, 40]]), ["r", "c"])
    assert A.shape == (6, 9)                     # 3 row equations + 3 column equations
    x = table_2x2([[3, 20], [30, 40]])["n"].to_numpy()
    assert np.allclose(A @ x, 0)


def test_one_hidden_cell_is_recovered_exactly():
    cells = table_2x2([[3, 20], [30, 40]])
    out = protection_intervals(cells, ["r", "c"], "n", mask(cells, {("r1", "c1")}))
    assert out[["lower", "upper"]].values.tolist() == [[3, 3]]


def test_hidden_rectangle_by_hand():
    # hiding the four inner cells: r1c1 = 3 + t, r1c2 = 20 − t, r2c1 = 30 − t, r2c2 = 40 + t,
    # every cell ≥ 0 bounds t to [−3, 20] (cells ≥ 1: [−2, 19]); totals stay published
    cells = table_2x2([[3, 20], [30, 40]])
    inner = mask(cells, {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")})
    out = protection_intervals(cells, ["r", "c"], "n", inner)
    assert out[["lower", "upper"]].values.tolist() == [[0, 23], [0, 23], [10, 33], [37, 60]]
    out1 = protection_intervals(cells, ["r", "c"], "n", inner, lower=1)
    assert out1[["lower", "upper"]].values.tolist() == [[1, 22], [1, 22], [11, 32], [38, 59]]


def test_known_upper_bound_narrows_the_interval():
    cells = table_2x2([[3, 20], [30, 40]])
    inner = mask(cells, {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")})
    upper = np.where(mask(cells, {("r1", "c1")}), 5, np.inf)      # e.g. a published denominator
    out = protection_intervals(cells, ["r", "c"], "n", inner, upper=upper)
    # r1c1 ≤ 5 caps t at 2: r1c1 in [0, 5] and every other inner cell moves by the same 5
    assert out[["lower", "upper"]].values.tolist() == [[0, 5], [18, 23], [28, 33], [37, 42]]


def test_two_hidden_in_a_row_of_a_one_way_table():
    cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 5, 30, 38]})
    out = audit(cells, ["tp"], "n", [True, True, False, False], 10, lower=1)
    assert out[["lower", "upper"]].values.tolist() == [[1, 7], [1, 7]]
    assert not out["protected"].any()


def test_secondary_suppression_protects_and_audits():
    cells = table_2x2([[3, 20], [30, 40]])
    s = secondary_suppression(cells, ["r", "c"], "n", mask(cells, {("r1", "c1")}), protection_width=10)
    assert s.passed and s.audit["width"].min() >= 10
    assert s.figures()["primary"] == 1 and s.figures()["secondary"] == 3


def test_secondary_suppression_needs_more_than_one_relation_at_a_time():
    # three-way table where every relation hides two cells but the joint system still pins a cell:
    # the one-relation-at-a-time rule stops; the LP audit does not
    rng = np.random.default_rng(1)
    import itertools
    dims = ["a", "b", "c"]
    base = pd.DataFrame(list(itertools.product(["a1", "a2", "a3"], ["b1", "b2", "b3"], ["c1", "c2"])), columns=dims)
    base["n"] = rng.integers(1, 40, len(base))
    parts = []
    for k in range(4):
        for kept in itertools.combinations(dims, k):
            g = base.groupby(list(kept), as_index=False)["n"].sum() if kept else pd.DataFrame({"n": [base["n"].sum()]})
            for d in dims:
                if d not in kept:
                    g[d] = "all"
            parts.append(g[[*dims, "n"]])
    cells = pd.concat(parts, ignore_index=True)
    primary = (cells["n"] < 10).to_numpy()
    s = secondary_suppression(cells, dims, "n", primary, 10, lower=1)
    assert s.passed
    check = protection_intervals(cells, dims, "n", s.hidden, lower=1)      # exact LP, no shortcuts
    assert check["width"].min() >= 10


def test_frozen_cells_are_never_secondary():
    cells = pd.DataFrame({"tp": ["a", "b", "c", "all"], "n": [3, 12, 30, 45]})
    cost = np.array([3, np.inf, 30, 45], dtype=float)           # b was published before
    s = secondary_suppression(cells, ["tp"], "n", cells["n"] < 10, 10, lower=1, cost=cost)
    assert s.reasons.tolist() == ["primary", "", "secondary", ""] and s.passed


def test_linked_metrics_hide_every_metric_revealing_a_hidden_quantity():
    hidden = pd.DataFrame({"n": [False, False], "rated": [True, False], "responses": [False, True]})
    m = metric_pattern(hidden)
    assert m.loc[0, ["volume", "rated_share", "csat_mean", "csat_top2"]].tolist() == [False, True, True, True]
    assert m.loc[1, ["nps", "nps_promoters", "nps_passives", "nps_detractors"]].all()
    shown = revealed(m)
    assert not shown.loc[0, "rated"] and shown.loc[0, "n"] and not shown.loc[1, "promoters"]


def test_release_rule_keeps_the_first_pattern():
    now = pd.DataFrame({"period": ["q1", "q1", "q2", "all"], "tp": ["a", "a", "a", "a"], "ch": ["x", "y", "x", "x"]})
    before = pd.DataFrame({"period": ["q1", "q1", "all"], "tp": ["a", "a", "a"], "ch": ["x", "y", "x"],
                           "hidden": [True, False, False]})
    must, frozen = keep_release_pattern(now, ["period", "tp", "ch"], before, closed=["q1"])
    assert must.tolist() == [True, False, False, False] and frozen.tolist() == [False, True, False, False]


# ---- the attacks on the published output ------------------------------------------------------
# Evidence that each attack works: the same attacks on the output of the code before this change
# (main as it was when this work began; the same 2,000-customer data and two runs), measured for the
# issue-13 report: derived_products recovered 122 hidden rated counts exactly, joint_lp 143 hidden
# counts exactly (in 6 quantities; 1,565 narrower than 10 with width=10), run_difference 120 hidden
# counts of the new quarter exactly (all "cumulative"), and retention_subtraction the customers at risk
# of the one hidden cohort at day 90. The tests below check that none of them recovers anything from
# today's output.

WIDTH = 10


def _publish(data: Path, out: Path, as_of: str, run_id: str, min_cell_size: int = WIDTH,
             previous: Path | None = None) -> Path:
    """metrics.csv and retention.csv exactly as the portfolio and retention notebooks write them."""
    from cxlib.analyses import portfolio
    from cxlib.analyses.retention import retention
    from cxlib.results import read_result
    from cxlib.workbook import open_workbook

    params = write_params(out / f"{run_id}.yaml", demo_params_dict(data, run_id=run_id, as_of=as_of,
                                                                   on_invalid="exclude", min_cell_size=min_cell_size))
    wb = open_workbook(params)
    p = wb.params
    prev = read_result(previous, "metrics") if previous is not None else None
    prev_as_of = pd.Timestamp("2026-06-30").date() if previous is not None else None
    pf = portfolio.touchpoint_portfolio(wb.interactions, wb.customers, wb.surveys, as_of=p.as_of, period=p.period,
                                        min_cell_size=p.min_cell_size, targets=p.targets, touchpoints=wb.touchpoints(),
                                        protection_width=p.protection, previous=prev, previous_as_of=prev_as_of)
    res = out / run_id / "results"
    res.mkdir(parents=True)
    pf.to_frame().to_csv(res / "metrics.csv", index=False)
    km = retention(wb.customers, p.as_of, min_cell_size=p.min_cell_size, horizons=p.horizons_days,
                   protection_width=p.protection)
    km.to_frame().to_csv(res / "retention.csv", index=False)
    (res / "audit.json").write_text(pd.Series({"metrics": pf.disclosure, "retention": km.disclosure}).to_json())
    return res


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory):
    """A 2,000-customer company's runs as of 30 June and 30 September, and the levels of its partitions."""
    root = tmp_path_factory.mktemp("disclosure")
    data = root / "data"
    write_demo_data(data, n_customers=2000, seed=3)         # as `cx demo-data DIR --customers 2000 --seed 3`
    q2 = _publish(data, root, "2026-06-30", "q2")
    q3 = _publish(data, root, "2026-09-30", "q3", previous=q2)
    customers = pd.read_parquet(data / "customers.parquet")
    signup = pd.to_datetime(customers["signup_date"])
    levels = {"segment": sorted(customers["segment"].dropna().unique()),
              "cohort": sorted(signup[signup <= "2026-09-30"].dt.to_period("Q").astype(str).unique())}
    return q2, q3, levels


def test_no_attack_recovers_a_suppressed_count(two_releases):
    q2, q3, levels = two_releases
    metrics = attacks.read_metrics(q3)
    assert metrics["suppressed"].sum() > 50                      # there is something to protect
    assert "all" not in set(metrics["period"])                   # no cumulative rows (release rule)
    found = attacks.attack_all(q3, earlier_run=q2, levels=levels)
    assert found["derived_products"].empty
    assert found["joint_lp"].empty
    assert found["run_difference"].empty                         # neither cumulative nor republished
    r = found["retention_subtraction"]
    assert (r["hidden_groups"] >= 2).all()                       # a gap is never one group's count
    # the same attacks on the earlier run alone
    earlier = attacks.attack_all(q2, levels=levels)
    assert earlier["derived_products"].empty and earlier["joint_lp"].empty


@pytest.mark.slow
def test_no_suppressed_count_is_narrower_than_the_protection_width(two_releases):
    """The attacker's LP over every published equation of every count quantity, published cells
    fixed: each hidden count's interval is at least ``protection_width`` wide."""
    _q2, q3, _levels = two_releases
    metrics = attacks.read_metrics(q3)
    narrow = attacks.joint_lp(metrics, width=WIDTH)
    assert narrow.empty, narrow.head()


def test_the_audit_figures_match_the_published_tables(two_releases):
    q2, q3, _levels = two_releases
    audit = pd.read_json(q3 / "audit.json", typ="series")
    m = audit["metrics"]
    assert m["passed"] and m["narrowest_interval"] >= WIDTH and m["release_rule"]
    assert m["primary"] > 0 and m["secondary"] > 0
    assert audit["retention"]["passed"]
    # closed quarters keep the first run's pattern
    a, b = attacks.read_metrics(q2), attacks.read_metrics(q3)
    both = a.merge(b, on=[*attacks.DIMS, "metric"], suffixes=("_a", "_b"))
    both = both[both["period"] <= "2026Q2"]
    assert len(both) > 1000 and (both["suppressed_a"] == both["suppressed_b"]).all()


def test_every_run_records_its_audit_in_the_manifest(published_run):
    import json

    manifest = json.loads((published_run / "manifest.json").read_text())
    d = manifest["disclosure"]
    assert set(d) >= {"metrics", "retention"}
    m = d["metrics"]
    assert m["passed"] and m["narrowest_interval"] >= m["protection_width"] == 10
    assert m["primary"] > 0 and m["secondary"] > 0
    assert "Disclosure control" in (published_run / "index.html").read_text()
    metrics = attacks.read_metrics(published_run / "results")
    assert "all" not in set(metrics["period"])


# --- all-period totals outside metrics.csv (data-quality page, manifest, index page) -------------------------
# A count over all periods minus the periods metrics.csv shows is the hidden periods' count: none is
# published, only rounded shares and counts of rows breaking a rule (docs/privacy.md).

def _interactions():
    import ibis

    return ibis.memtable({"touchpoint": ["app"] * 12 + ["biling"] * 3, "channel": "web",
                          "csat": [4.0] * 7 + [None] * 8,
                          "timestamp": pd.date_range("2025-12-20", periods=15, freq="D")})


def test_touchpoint_inventory_has_no_count_and_no_day():
    """Status and the first / last period with an interaction, no volume, rated share or date, not
    ordered by volume; a small touchpoint's row looks like any other."""
    import datetime as dt

    from cxlib.analyses.quality import touchpoint_coverage, touchpoint_inventory

    inv = touchpoint_inventory(_interactions(), ["app", "call"], dt.date(2026, 3, 1))
    assert list(inv.columns) == ["touchpoint", "declared", "channels", "first_period", "last_period", "status"]
    assert list(inv["touchpoint"]) == ["call", "biling", "app"]      # problems first, then by name
    row = inv.set_index("touchpoint").loc["biling"]
    assert row["status"] == "undeclared" and (row["first_period"], row["last_period"]) == ("2026Q1", "2026Q1")
    assert inv.set_index("touchpoint").loc["app", "first_period"] == "2025Q4"
    coverage = touchpoint_coverage(_interactions(), inv, ["app"])
    assert coverage["found"] == 3 and coverage["interaction_share"] == 12 / 15


def test_overview_and_missing_values_give_shares_not_counts():
    import datetime as dt

    import ibis

    from cxlib.analyses.quality import missing_values, table_overview

    customers = ibis.memtable({"signup_date": [dt.date(2025, 1, 5)] * 3})
    ov = table_overview({"customers": customers, "interactions": _interactions()},
                        {"customers": 3, "interactions": 4000}, {"customers": 3, "interactions": 3985}, WIDTH)
    assert list(ov.columns) == ["table", "share_kept", "first_date", "last_date"]
    assert ov["share_kept"].tolist() == [1.0, 0.996]
    # half the rows excluded: 50.0 % would pin the 2,000 rows read down to 1,998–2,002; 1 % leaves 1,980–2,020
    ov = table_overview({"customers": customers}, {"customers": 2000}, {"customers": 1003}, WIDTH)
    assert ov["share_kept"].tolist() == [0.5]
    m = missing_values({"interactions": _interactions()})
    assert list(m.columns) == ["table", "column", "any_missing", "missing_share"]
    assert m.set_index("column").loc["csat", "missing_share"] == round(8 / 15, 3)


def test_kept_share_never_pins_rows_read_within_the_protection_width():
    """The attack on the share: an outsider knows the rows excluded (published per rule) and the rule
    that rounds the share, and tries every number of rows read; those giving the published share
    span at least the protection width (or are unbounded within 20× the truth)."""
    from cxlib.stats.suppression import kept_share

    for read in (*range(12, 700, 13), 1021, 2000, 44_240):
        for kept in {read - 1, read - 3, read - 10, read * 9 // 10, read // 2, read // 5, 1, 2}:
            if not 1 <= kept < read or (s := kept_share(read, kept, WIDTH)) is None:
                continue
            e = read - kept
            consistent = [r for r in range(e + 1, 20 * read) if kept_share(r, r - e, WIDTH) == s]
            assert max(consistent) == 20 * read - 1 or max(consistent) - min(consistent) >= WIDTH, (read, kept, s)
    assert kept_share(2000, 1003, WIDTH) == 0.5 and kept_share(44_240, 44_190, WIDTH) == 0.999


def test_manifest_and_index_tiles_carry_no_row_count():
    import tempfile

    from cxlib.params import DEFAULT_PARAMS, load_params
    from cxlib.run.manifest import RunRecord, write_manifest
    from cxlib.run.summary import headline_numbers

    validation = {"mode": "exclude", "violations": [{"table": "interactions", "rule": "r", "rows": 15}],
                  "rows_read": {"customers": 2000, "interactions": 44240},
                  "rows_kept": {"customers": 2000, "interactions": 44225}}
    folder = Path(tempfile.mkdtemp())
    m = write_manifest(folder / "manifest.json", RunRecord(params=load_params(DEFAULT_PARAMS)),
                       {"customers": [], "interactions": []}, validation)
    text = (folder / "manifest.json").read_text()
    assert "44240" not in text and "44225" not in text and "rows_read" not in text and "rows_kept" not in text
    assert m["inputs"]["interactions"]["share_kept"] == 1.0 and m["validation"]["violations"][0]["rows"] == 15
    tiles = headline_numbers(folder, m)
    assert [t["value"] for t in tiles] == ["100.0%", "100.0%"]
    assert not any(ch.isdigit() for t in tiles for ch in t["note"])


def test_data_quality_sentences_carry_no_row_count():
    import datetime as dt

    from cxlib.text.quality import (
        customers_sentence,
        describe_inventory,
        duplicates_note,
    )

    ov = pd.DataFrame({"table": ["customers"], "share_kept": [0.999], "first_date": [dt.date(2024, 1, 2)],
                       "last_date": [dt.date(2026, 9, 1)]})
    assert "1,204" not in customers_sentence(ov, dt.date(2026, 9, 30)) and "99.9%" in customers_sentence(ov, dt.date(2026, 9, 30))
    text, values = duplicates_note(4424, dropped=False)
    assert "%" not in text.format(**values) and "44,240" not in text.format(**values)
    inv = pd.DataFrame({"touchpoint": ["app", "shop"], "status": ["ok", "silent"]})
    assert not any(ch.isdigit() for ch in describe_inventory(inv).replace("2 touchpoint", "").replace("0 undeclared", "")
                   .replace("1 silent", ""))
