"""Scheduling: ``cx run BASE --quarter YYYYQn|previous`` derives as_of and run_id, the notebooks see
the derived values, and the documented crontab line and CI workflow run exactly that command."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import nbformat
import pytest
import yaml

from cxlib.cli import build_parser, main, quarter_overrides
from cxlib.errors import ParamsError
from cxlib.periods import parse_quarter, quarter_end

PROJECT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("year,quarter,last", [
    (2026, 1, dt.date(2026, 3, 31)), (2026, 2, dt.date(2026, 6, 30)),
    (2026, 3, dt.date(2026, 9, 30)), (2026, 4, dt.date(2026, 12, 31)), (2024, 1, dt.date(2024, 3, 31)),
])
def test_quarter_end(year, quarter, last):
    assert quarter_end(year, quarter) == last


@pytest.mark.parametrize("spec,label", [("2026Q3", "2026Q3"), ("2026q4", "2026Q4"), ("2025-Q1", "2025Q1"), (" 2026Q2 ", "2026Q2")])
def test_explicit_quarter(spec, label):
    assert parse_quarter(spec)[0] == label


@pytest.mark.parametrize("today,label,as_of", [
    (dt.date(2026, 1, 1), "2025Q4", dt.date(2025, 12, 31)),    # first day of a year
    (dt.date(2026, 3, 31), "2025Q4", dt.date(2025, 12, 31)),   # last day of Q1: Q1 has not ended
    (dt.date(2026, 4, 1), "2026Q1", dt.date(2026, 3, 31)),
    (dt.date(2026, 10, 5), "2026Q3", dt.date(2026, 9, 30)),    # a cron job a few days into the quarter
    (dt.date(2026, 12, 31), "2026Q3", dt.date(2026, 9, 30)),
])
def test_previous_is_the_last_quarter_that_has_ended(today, label, as_of):
    assert parse_quarter("previous", today=today) == (label, as_of)
    assert as_of < today


@pytest.mark.parametrize("spec", ["2026Q5", "2026Q0", "Q3", "2026", "last", "26Q1"])
def test_bad_quarter_is_a_params_error(spec):
    with pytest.raises(ParamsError, match="expected a quarter such as 2026Q3, or 'previous'"):
        parse_quarter(spec)


def _base(tmp_path: Path, **extra) -> Path:
    pd_rows = "customer_id,signup_date,churn_date\n" + "".join(f"k{i},2024-01-01,\n" for i in range(20))
    (tmp_path / "customers.csv").write_text(pd_rows)
    raw = {"run_id": "quarterly", "data": {"customers": "customers.csv"}, **extra}
    p = tmp_path / "quarterly.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_base_params_need_no_as_of(tmp_path):
    assert quarter_overrides(str(_base(tmp_path)), "2026Q2") == {"as_of": dt.date(2026, 6, 30), "run_id": "quarterly-2026Q2"}


def test_quarter_replaces_an_as_of_in_the_file(tmp_path, capsys):
    base = _base(tmp_path, as_of="2020-01-01")
    assert main(["validate", str(base), "--quarter", "2025Q4"]) == 0
    assert "OK" in capsys.readouterr().out


def test_without_quarter_the_base_file_must_have_as_of(tmp_path, capsys):
    assert main(["validate", str(_base(tmp_path))]) == 2
    assert "required key 'as_of' is missing" in capsys.readouterr().err


def test_notebooks_see_the_derived_params(tmp_path):
    """The notebooks read the run's resolved params (overrides applied, data paths absolute)."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('params_file = "../params/demo.yaml"\nrun_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Probe"), params, nbformat.v4.new_code_cell(
        "from cxlib.text import display\nfrom cxlib.workbook import open_workbook\n"
        "wb = open_workbook(params_file, run_dir)\n"
        "display.say('run {r} as of {a} with {n} customers', r=wb.params.run_id, a=wb.params.as_of, "
        "n=wb.customers.count().execute())")]
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nbformat.write(nb, nbs / "00_probe.ipynb")
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "reports"
    code = main(["run", str(_base(data)), "--quarter", "2026Q1", "--output-dir", str(out), "--notebooks-dir", str(nbs)])
    assert code == 0
    page = (out / "quarterly-2026Q1" / "00_probe.html").read_text()
    assert "run quarterly-2026Q1 as of 2026-03-31 with 20 customers" in page
    published = yaml.safe_load((out / "quarterly-2026Q1" / "params.yaml").read_text())
    assert published["as_of"] == "2026-03-31" and Path(published["data"]["customers"]).is_absolute()


def _operations() -> str:
    return (PROJECT / "docs" / "operations.md").read_text(encoding="utf-8")


def test_documented_crontab_line_is_a_valid_command():
    lines = [ln for ln in _operations().splitlines() if re.match(r"^\s*[0-9*]+ [0-9*]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*]+ ", ln)]
    assert lines, "docs/operations.md has no crontab line"
    for line in lines:
        command = line.split(None, 5)[5]
        cx = shlex.split(command.split("&&")[-1].split(">>")[0])
        assert cx[0].endswith("cx") and cx[1] == "run" and "--quarter" in cx
        build_parser().parse_args(cx[1:])  # exits (fails the test) on an unknown option


def test_ci_workflow_runs_the_quarterly_command():
    workflow = yaml.safe_load((PROJECT / ".github" / "workflows" / "quarterly.yml").read_text())
    jobs = workflow["jobs"]
    steps = [s for job in jobs.values() for s in job["steps"]]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "cx run" in runs and "--quarter" in runs
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key 'on' as True
    assert "schedule" in triggers and triggers["schedule"][0]["cron"]


def test_exit_codes_are_documented_consistently():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    ops = _operations()
    for code in ("0", "2", "3", "4", "5"):
        assert re.search(rf"^\|\s*{code}\s*\|", readme, re.M), f"README lacks exit code {code}"
        assert re.search(rf"^\|\s*{code}\s*\|", ops, re.M), f"docs/operations.md lacks exit code {code}"
