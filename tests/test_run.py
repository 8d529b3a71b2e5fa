"""End to end: ``cx run`` publishes a complete, self-contained report, or nothing at all."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from cxlib.cli import main
from cxlib.errors import RunError
from cxlib.params import load_params
from cxlib.run.runner import run_report, section_notebooks
from cxlib.results import RESULT_COLUMNS


_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|import\(\s*["']https?:""", re.I)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_artifact_is_published(published_run: Path):
    out = published_run.parent
    assert (out / "index.html").exists() and "small/index.html" in (out / "index.html").read_text()
    manifest = json.loads((published_run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    for key in ("params", "inputs", "packages", "git", "sections", "stages", "started", "ended", "seconds"):
        assert key in manifest
    assert manifest["git"]["commit"] is None or len(manifest["git"]["commit"]) == 40
    for table in ("customers", "interactions", "surveys"):
        files = manifest["inputs"][table]["files"]
        assert files and all(len(f["sha256"]) == 64 for f in files)
        assert 0 < manifest["inputs"][table]["share_kept"] <= 1 and "rows_read" not in manifest["inputs"][table]
    assert not (published_run / "validation.json").exists()  # exact rows read and kept: the operator's only
    assert {s["notebook"] for s in manifest["sections"]} == {p.name for p in section_notebooks()}
    assert [s["stage"] for s in manifest["stages"]][:2] == ["validate", "clean tables"]
    index = (published_run / "index.html").read_text()
    for s in manifest["sections"]:
        assert (published_run / s["html"]).exists()
        assert (published_run / "notebooks" / s["notebook"]).exists()
        assert f'href="{s["html"]}"' in index
    assert "2026-09-30" in index
    assert not list(out.glob(".tmp-*")) and not (published_run / "work").exists()


def test_result_files_have_contract_columns(published_run: Path):
    results = published_run / "results"
    for name, columns in RESULT_COLUMNS.items():
        path = results / f"{name}.csv"
        if name == "changes_since_last_run":
            continue  # written only when an earlier run of the series is published (tests/test_compare.py)
        assert path.exists(), f"results/{name}.csv missing"
        assert list(pd.read_csv(path, nrows=0).columns) == columns


def _published_text(run: Path) -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in run.rglob("*") if p.suffix in (".html", ".ipynb")]


def test_html_has_no_code_and_no_external_requests(published_run: Path):
    for path, text in _published_text(published_run):
        if path.suffix != ".html":
            continue
        # markdown cells also sit in a jp-InputArea; code shows up as a highlighted editor block
        assert "open_workbook(" not in text, path.name
        assert not re.search(r'class="[^"]*(?:jp-InputArea-editor|hl-ipython3)', text), path.name
        assert not _EXTERNAL.search(text), f"{path.name} references another host"
        assert "<script" not in text.lower(), path.name


def test_no_customer_id_in_published_output(published_run: Path, demo_small: Path):
    ids = set(pd.read_parquet(demo_small / "customers.parquet", columns=["customer_id"])["customer_id"])
    for path, text in _published_text(published_run):
        tokens = set(re.findall(r"[A-Za-z0-9_-]+", text))
        leaked = tokens & ids
        assert not leaked, f"{path.name} shows customer ids, e.g. {sorted(leaked)[:3]}"


def test_second_run_without_force_leaves_report(published_run: Path, small_params_file: Path, capsys):
    before = _tree_digest(published_run)
    code = main(["run", str(small_params_file), "--output-dir", str(published_run.parent)])
    assert code != 0
    assert "already exists" in capsys.readouterr().err and "--force" in capsys.readouterr().err + "--force"
    assert _tree_digest(published_run) == before


def test_broken_params_write_nothing(tmp_path: Path, small_params_file: Path, capsys):
    raw = yaml.safe_load(small_params_file.read_text())
    raw["min_cell_sise"] = 5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    out = tmp_path / "reports"
    assert main(["run", str(bad), "--output-dir", str(out)]) == 2
    assert "unknown key 'min_cell_sise'" in capsys.readouterr().err
    assert not out.exists()


def test_broken_data_write_nothing(tmp_path: Path, small_params_file: Path, demo_small: Path, capsys):
    customers = pd.read_parquet(demo_small / "customers.parquet")
    customers.loc[:4, "churn_date"] = pd.Timestamp("2000-01-01").date()
    customers.to_parquet(tmp_path / "customers.parquet")
    raw = yaml.safe_load(small_params_file.read_text())
    raw["data"]["customers"] = str(tmp_path / "customers.parquet")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    out = tmp_path / "reports"
    assert main(["run", str(bad), "--output-dir", str(out)]) == 3
    err = capsys.readouterr().err
    assert "churn_date" in err and "5 row(s)" in err
    assert not out.exists()


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('params_file = "../params/demo.yaml"\nrun_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Probe"), params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_failing_notebook_keeps_earlier_run(tmp_path: Path, small_params_file: Path):
    ok = _notebook(tmp_path / "00_ok.ipynb", "print('fine')")
    bad = _notebook(tmp_path / "01_bad.ipynb", "raise ValueError('boom in the model')")
    params = load_params(small_params_file)
    out = tmp_path / "reports"
    run_report(params, out, notebooks=[ok])
    before = _tree_digest(out / "small")
    with pytest.raises(RunError) as e:
        run_report(params, out, force=True, notebooks=[ok, bad])
    err = e.value
    assert (err.notebook, err.cell, err.ename, err.evalue) == ("01_bad.ipynb", 3, "ValueError", "boom in the model")
    assert "earlier reports are untouched" in str(err)
    assert _tree_digest(out / "small") == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_sections_read_the_clean_tables_written_once(small_params_file: Path, tmp_path: Path):
    from cxlib.ingest.read import load_tables
    from cxlib.ingest.contract import Validator
    from cxlib.ingest.clean import write_clean_tables
    from cxlib.run.layout import RunFolder
    from cxlib.workbook import open_workbook

    params = load_params(small_params_file)
    tables = load_tables(params)
    run = RunFolder(tmp_path)
    sizes = write_clean_tables(Validator(tables), params, run.clean)
    tables.con.disconnect()
    assert set(sizes) == {"customers", "interactions", "surveys"} and all(sizes.values())
    lazy = open_workbook(small_params_file)
    run.validation.write_text(json.dumps(lazy.validation.to_dict()))
    snap = open_workbook(small_params_file, run_dir=tmp_path)
    for name in sizes:
        view = snap.con.raw_sql(f"SELECT sql FROM duckdb_views() WHERE view_name = 'clean_{name}'").fetchall()[0]
        assert str(run.clean / f"{name}.parquet") in view[0]
        a, b = (getattr(wb, name).execute() for wb in (lazy, snap))
        a, b = (df.sort_values(list(df.columns), ignore_index=True) for df in (a, b))
        pd.testing.assert_frame_equal(a, b)


def test_tables_of_a_database_through_an_engine_url(published_run: Path, demo_small: Path, tmp_path: Path, monkeypatch):
    """``engine.url`` (any Ibis backend) with ``table:`` sources gives the same portfolio as the files."""
    import duckdb

    from conftest import demo_params_dict, write_params
    from cxlib.analyses.portfolio import touchpoint_portfolio
    from cxlib.workbook import open_workbook

    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA crm")
        for t in ("customers", "interactions", "surveys"):
            con.execute(f"CREATE TABLE crm.{t} AS SELECT * FROM read_parquet('{demo_small / f'{t}.parquet'}')")
    raw = demo_params_dict(demo_small, run_id="small", bootstrap=50, engine={"url": "duckdb://${CX_TEST_DB}"})
    raw["data"] = {t: f"table:crm.{t}" for t in ("customers", "interactions", "surveys")}
    params = load_params(write_params(tmp_path / "warehouse.yaml", raw))
    monkeypatch.setenv("CX_TEST_DB", str(db))  # the kernels inherit it
    notebooks = [nb for nb in section_notebooks() if nb.stem.startswith("00_")]
    run = run_report(params, tmp_path / "reports", notebooks=notebooks)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["interactions"]["source"] == "table:crm.interactions"
    assert manifest["params"]["engine"]["url"] == "duckdb://${CX_TEST_DB}"  # the secret-free form is stamped
    pd.testing.assert_frame_equal(pd.read_csv(run / "results" / "touchpoint_inventory.csv"),
                                  pd.read_csv(published_run / "results" / "touchpoint_inventory.csv"))
    wb = open_workbook(params=params)
    p = touchpoint_portfolio(wb.interactions, wb.customers, wb.surveys, as_of=params.as_of, period=params.period,
                             min_cell_size=params.min_cell_size, targets=params.targets, touchpoints=wb.touchpoints())
    wb.con.disconnect()
    expected = pd.read_csv(published_run / "results" / "metrics.csv")
    pd.testing.assert_frame_equal(p.to_frame().astype(expected.dtypes.to_dict()), expected)


def test_engine_url_and_table_source_errors_are_clear(demo_small: Path, tmp_path: Path, capsys):
    from conftest import demo_params_dict, write_params

    raw = demo_params_dict(demo_small, engine={"url": "duckdb://" + str(tmp_path / "empty.duckdb")})
    raw["data"]["customers"] = "table:crm.customers"
    assert main(["validate", str(write_params(tmp_path / "p.yaml", raw))]) == 3
    err = capsys.readouterr().err
    assert "customers: cannot read 'table:crm.customers' from the engine" in err and "Traceback" not in err
    raw["engine"] = {"url": "duckdb:///x.duckdb", "backend": "pyspark"}
    assert main(["validate", str(write_params(tmp_path / "q.yaml", raw))]) == 2
    assert "leave out engine.backend" in capsys.readouterr().err


def test_kernels_share_the_cores_with_their_math_libraries(tmp_path: Path, small_params_file: Path, monkeypatch):
    """Sections at once divide the cores: each kernel starts with its share of math-library threads."""
    from cxlib.run.runner import BLAS_THREAD_VARS, kernel_threads_env

    for var in BLAS_THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    expected = kernel_threads_env(2)
    assert set(expected) == set(BLAS_THREAD_VARS)
    probe = f"import os\nassert {{v: os.environ.get(v) for v in {list(expected)!r}}} == {expected!r}"
    notebooks = [_notebook(tmp_path / f"0{i}_probe.ipynb", probe) for i in range(2)]
    params = load_params(small_params_file, {"parallel_sections": 2})
    run_report(params, tmp_path / "reports", notebooks=notebooks)
    assert (tmp_path / "reports" / "small" / "index.html").exists()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what a user set is kept
    assert "OMP_NUM_THREADS" not in kernel_threads_env(2)


def test_the_manifest_stamps_the_code_as_it_was_when_the_run_started(tmp_path: Path, monkeypatch):
    """A commit made while a long run is under way is not the run's code."""
    from cxlib.params import DEFAULT_PARAMS
    from cxlib.run import manifest as mf

    record = mf.RunRecord(params=load_params(DEFAULT_PARAMS), status="complete")
    at_start = record.git
    monkeypatch.setattr(mf, "git_state", lambda: {"commit": "f" * 40, "dirty": False})
    monkeypatch.setattr(mf, "package_versions", lambda: {"python": "0"})
    validation = {"mode": "fail", "violations": [], "rows_read": {}, "rows_kept": {}}
    written = mf.write_manifest(tmp_path / "manifest.json", record, {}, validation)
    assert written["git"] == at_start != {"commit": "f" * 40, "dirty": False}
    assert written["packages"]["python"] != "0"


def test_sections_start_longest_first_by_the_time_they_took_in_the_report_they_replace(tmp_path: Path,
                                                                                      small_params_file: Path):
    log = tmp_path / "order.txt"
    probe = "import time\nopen({log!r}, 'a').write({name!r} + '\\n')\ntime.sleep({pause})"
    quick = _notebook(tmp_path / "00_quick.ipynb", probe.format(log=str(log), name="00_quick", pause=0))
    slow = _notebook(tmp_path / "01_slow.ipynb", probe.format(log=str(log), name="01_slow", pause=2))
    params = load_params(small_params_file, {"parallel_sections": 1})
    out = tmp_path / "reports"
    run_report(params, out, notebooks=[quick, slow])  # no earlier report: the notebooks' order
    run_report(params, out, force=True, notebooks=[quick, slow])
    assert log.read_text().split() == ["00_quick", "01_slow", "01_slow", "00_quick"]
    manifest = json.loads((out / "small" / "manifest.json").read_text())
    assert [s["notebook"] for s in manifest["sections"]] == ["00_quick.ipynb", "01_slow.ipynb"]
