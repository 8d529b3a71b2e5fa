"""Shared fixtures: demo data sets written once per session, params files pointing at them,
and one end-to-end ``cx run`` whose artifacts several tests inspect."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cxlib.demo.synthetic import write_demo_data
from cxlib.params import DEFAULT_PARAMS

PROJECT = Path(__file__).resolve().parents[1]
# Started by tests through PYTHONPATH (the engine guard's hook), never collected as tests.
collect_ignore = ["engine_hook"]


def demo_params_dict(data_dir: Path, run_id: str = "test", **overrides) -> dict:
    """The demo params with data paths pointing at ``data_dir`` (no ``demo`` block)."""
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    raw.pop("demo", None)
    raw["run_id"] = run_id
    raw["data"] = {t: str(data_dir / f"{t}.parquet") for t in ("customers", "interactions", "surveys")}
    raw.update(overrides)
    return raw


def write_params(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder that ``build`` fills once per test session, shared by the pytest-xdist workers.

    A session fixture runs once per worker; the expensive ones (a whole ``cx run``) are built by
    whichever worker needs them first, under a lock, and the other worker reuses the folder.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders sit in this session's folder
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory) -> Path:
    """3,000 demo customers (Parquet): fast enough for end-to-end tests."""
    return built_once(tmp_path_factory, "shared-demo3k", lambda d: write_demo_data(d, n_customers=3000, seed=7))


@pytest.fixture(scope="session")
def demo_10k(tmp_path_factory) -> Path:
    """The default demo size (10,000 customers): enough power to recover the true effects."""
    d = tmp_path_factory.mktemp("demo10k")
    write_demo_data(d, n_customers=10_000, seed=42)
    return d


@pytest.fixture(scope="session")
def small_params_file(tmp_path_factory, demo_small) -> Path:
    params = demo_params_dict(demo_small, run_id="small", bootstrap=50)
    return built_once(tmp_path_factory, "shared-params-small", lambda d: write_params(d / "small.yaml", params)) / "small.yaml"


@pytest.fixture(scope="session")
def params_10k_file(tmp_path_factory, demo_10k) -> Path:
    d = tmp_path_factory.mktemp("params_10k")
    return write_params(d / "demo10k.yaml", demo_params_dict(demo_10k, run_id="demo10k"))


@pytest.fixture(scope="session")
def small_workbook(small_params_file):
    from cxlib.workbook import open_workbook

    return open_workbook(small_params_file)


@pytest.fixture(scope="session")
def workbook_10k(params_10k_file):
    from cxlib.workbook import open_workbook

    return open_workbook(params_10k_file)


@pytest.fixture(scope="session")
def published_run(tmp_path_factory, small_params_file) -> Path:
    """One complete ``cx run`` of every section on the small demo set; returns the run folder."""
    from cxlib.cli import main

    def run(out: Path) -> None:
        assert main(["run", str(small_params_file), "--output-dir", str(out)]) == 0

    return built_once(tmp_path_factory, "shared-reports", run) / "small"


@pytest.fixture(scope="session")
def two_quarters(tmp_path_factory, demo_small) -> Path:
    """Two consecutive runs of one series into one output folder: ``cx run --quarter 2026Q2``, then
    ``--quarter 2026Q3 --pdf`` (compared with the first, and printed when Chromium is installed).

    Returns the output folder (``small-2026Q2/``, ``small-2026Q3/``, ``index.html``).
    """
    from cxlib.cli import main
    from cxlib.run.pdf import ChromiumNotFound, find_chromium

    def build(out: Path) -> None:
        # the demo data run to 30 September 2026: the 2026Q2 run drops the later rows (on_invalid: exclude)
        params = write_params(out / "small.yaml", demo_params_dict(demo_small, run_id="small", on_invalid="exclude",
                                                                   bootstrap=50))
        try:
            find_chromium()
            pdf = ["--pdf"]
        except ChromiumNotFound:
            pdf = []
        for quarter, extra in (("2026Q2", []), ("2026Q3", pdf)):
            assert main(["run", str(params), "--output-dir", str(out / "reports"), "--quarter", quarter, *extra]) == 0

    return built_once(tmp_path_factory, "shared-two-quarters", build) / "reports"
