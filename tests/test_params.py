"""Params: YAML validated before any notebook runs, with messages that name the problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cxlib.errors import ParamsError
from cxlib.params import DEFAULT_PARAMS, load_params, resolve_params_file, safe_name


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return p


BASE = "run_id: r1\nas_of: 2025-06-30\ndata:\n  customers: c.csv\n"


def test_demo_params_are_valid():
    p = load_params(DEFAULT_PARAMS)
    assert p.run_id == "demo"
    assert p.as_of == dt.date(2026, 9, 30)
    assert p.path("customers").endswith("data/demo/customers.parquet")
    assert Path(p.path("customers")).is_absolute()


def test_defaults_follow_design(tmp_path):
    p = load_params(_write(tmp_path, BASE))
    assert (p.poor_csat_max, p.exposure_window_days, p.min_cell_size) == (2, 90, 10)
    assert p.on_invalid == "fail" and p.period == "quarter" and p.horizons_days == [90, 180, 365]
    assert p.path("interactions") is None
    assert p.path("customers") == str((tmp_path / "c.csv").resolve())


def test_unknown_key_names_it_and_the_closest_valid_key(tmp_path):
    with pytest.raises(ParamsError) as e:
        load_params(_write(tmp_path, BASE + "covariate: [segment]\n"))
    msg = str(e.value)
    assert "unknown key 'covariate'" in msg and "Did you mean 'covariates'" in msg


def test_unknown_nested_key_suggests_nested_name(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'data.interaction'.*'interactions'"):
        load_params(_write(tmp_path, BASE + "  interaction: i.csv\n"))


@pytest.mark.parametrize(
    "extra, key, got",
    [
        ("min_cell_size: ten\n", "min_cell_size", "'ten' (str)"),
        ("as_of2: 1\n", "as_of2", None),
        ("period: week\n", "period", "'week' (str)"),
        ("poor_csat_max: 9\n", "poor_csat_max", "9 (int)"),
        ("on_invalid: drop\n", "on_invalid", "'drop' (str)"),
    ],
)
def test_wrong_value_names_key_expected_and_got(tmp_path, extra, key, got):
    with pytest.raises(ParamsError) as e:
        load_params(_write(tmp_path, BASE + extra))
    msg = str(e.value)
    assert repr(key) in msg
    if got:
        assert f"got {got}" in msg and "expected" in msg


def test_wrong_date(tmp_path):
    with pytest.raises(ParamsError, match=r"key 'as_of': expected .*date.*got 'tomorrow'"):
        load_params(_write(tmp_path, BASE.replace("2025-06-30", "tomorrow")))


def test_keys_must_be_identifiers(tmp_path):
    with pytest.raises(ParamsError, match="not a valid name: keys must be Python identifiers"):
        load_params(_write(tmp_path, BASE + "min-cell-size: 5\n"))


def test_missing_required_key(tmp_path):
    with pytest.raises(ParamsError, match="required key 'as_of' is missing"):
        load_params(_write(tmp_path, "run_id: r\ndata:\n  customers: c.csv\n"))


def test_yaml_12_booleans_keep_no_as_text(tmp_path):
    p = load_params(_write(tmp_path, BASE + "touchpoints: [no, on, support]\n"))
    assert p.touchpoints == ["no", "on", "support"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(_write(tmp_path, "run_id: [unclosed\n"))
    with pytest.raises(ParamsError, match="mapping"):
        load_params(_write(tmp_path, "- a\n- b\n"))


def test_run_id_is_a_safe_folder_name(tmp_path):
    with pytest.raises(ParamsError, match="run_id"):
        load_params(_write(tmp_path, BASE.replace("r1", "../escape")))


def test_default_exposures_are_poor_touchpoint(tmp_path):
    p = load_params(_write(tmp_path, BASE))
    rules = p.exposure_rules(["billing", "Live Chat"])
    assert [r.name for r in rules] == ["poor_billing", "poor_live_chat"]
    assert all(r.csat_max == 2 for r in rules)


def test_safe_name():
    assert safe_name("<img src=x>") == "img_src_x"
    assert safe_name("2fa") == "_2fa"


def test_overrides_replace_file_values(tmp_path):
    p = load_params(_write(tmp_path, BASE), overrides={"as_of": "2025-03-31", "run_id": "2025Q1"})
    assert p.as_of == dt.date(2025, 3, 31) and p.run_id == "2025Q1"


def test_resolve_params_file_from_notebooks_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert resolve_params_file("../params/demo.yaml") == DEFAULT_PARAMS.resolve()
    assert resolve_params_file(None) == DEFAULT_PARAMS


def test_churn_causes_and_impact_cause(tmp_path):
    p = load_params(_write(tmp_path, BASE))
    assert p.causes == ("all",) and p.cause_of_impact == "all" and p.churn_causes is None
    causes = "churn_causes:\n  voluntary: [price, competitor]\n  involuntary: [moved]\n"
    p = load_params(_write(tmp_path, BASE + causes))
    assert p.causes == ("voluntary", "involuntary", "other") and p.cause_of_impact == "voluntary"
    p = load_params(_write(tmp_path, BASE + causes + "impact_cause: involuntary\n"))
    assert p.cause_of_impact == "involuntary"
    bad = {
        causes + "impact_cause: fraud\n": "impact_cause 'fraud' is not a cause",
        "churn_causes:\n  leavers: [price]\n": "no cause 'voluntary'",
        "churn_causes:\n  voluntary: [price]\n  involuntary: [' Price']\n": "listed under both",
        "churn_causes:\n  all: [price]\n": "cannot name a cause 'all'",
        "churn_causes:\n  voluntary: ['']\n": "empty reason",
        "impact_cause: voluntary\n": "needs churn_causes",
    }
    for extra, message in bad.items():
        with pytest.raises(ParamsError, match=message):
            load_params(_write(tmp_path, BASE + extra))


def test_churn_causes_need_the_churn_reason_column(tmp_path):
    import pandas as pd

    from cxlib.errors import DataError
    from cxlib.ingest.clean import clean_tables

    pd.DataFrame({"customer_id": ["a"], "signup_date": ["2025-01-01"], "churn_date": [""]}).to_csv(
        tmp_path / "c.csv", index=False)
    params = load_params(_write(tmp_path, BASE + "churn_causes:\n  voluntary: [price]\n"))
    with pytest.raises(DataError, match="no churn_reason column"):
        clean_tables(params)
    # with the column it is read (and only then: without churn_causes it is an unused column)
    pd.DataFrame({"customer_id": ["a"], "signup_date": ["2025-01-01"], "churn_date": [""],
                  "churn_reason": ["price"]}).to_csv(tmp_path / "c.csv", index=False)
    clean, _ = clean_tables(params)
    assert "churn_reason" in clean.tables["customers"].columns
    clean, _ = clean_tables(load_params(_write(tmp_path, BASE)))
    assert "churn_reason" not in clean.tables["customers"].columns and clean.unused["customers"] == ["churn_reason"]
