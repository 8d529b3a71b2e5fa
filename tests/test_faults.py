"""Faults during a run: a notebook that raises, a kernel that dies, SIGINT and SIGTERM, a runner
killed outright. Each must leave earlier reports as they were, no half-written run folder, no
temporary folder, no kernel process, and a message saying what happened (no traceback).

The real ``cx run`` command runs in a subprocess on tiny data, with probe notebooks instead of
the report's sections (the hidden ``--notebooks-dir`` option).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

RUN_ID = "faults"


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _probe(folder: Path, name: str, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('params_file = "../params/demo.yaml"\nrun_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Probe {name}"), params, nbformat.v4.new_code_cell(code)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


STARTED = "import pathlib\npathlib.Path(run_dir, 'started').write_text('yes')\n"


@pytest.fixture(scope="module")
def tiny_params(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faults-data")
    pd.DataFrame({"customer_id": [f"k{i}" for i in range(30)], "signup_date": "2024-01-01",
                  "churn_date": ""}).to_csv(d / "customers.csv", index=False)
    p = d / "params.yaml"
    p.write_text(yaml.safe_dump({"run_id": RUN_ID, "as_of": "2025-06-30", "data": {"customers": "customers.csv"}}))
    return p


@pytest.fixture(scope="module")
def earlier_reports(tmp_path_factory, tiny_params) -> Path:
    """An output folder holding a published run of a probe notebook (copied by each test)."""
    nbs = _probe(tmp_path_factory.mktemp("ok-nbs"), "00_ok", "print('fine')")
    out = tmp_path_factory.mktemp("earlier") / "reports"
    proc = _cx(["run", str(tiny_params), "--output-dir", str(out), "--notebooks-dir", str(nbs)], "earlier")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def reports(tmp_path, earlier_reports) -> Path:
    out = tmp_path / "reports"
    shutil.copytree(earlier_reports, out)
    return out


def _cx(args: list[str], token: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CX_TEST_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "cxlib.cli", *args], capture_output=True, text=True, timeout=300, env=env)


def _processes_with(token: str) -> list[int]:
    """Live processes (kernels included: they inherit the environment) started for this test."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"CX_TEST_TOKEN={token}".encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def _no_processes_left(token: str, wait: float = 15.0) -> None:
    deadline = time.monotonic() + wait
    while _processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_with(token), "a kernel (or the runner) is still alive"


def _assert_nothing_published(reports: Path, before: dict[str, str]) -> None:
    assert _tree_digest(reports / RUN_ID) == before, "the earlier report changed"
    assert sorted(p.name for p in reports.iterdir()) == ["faults", "index.html"], "a temporary folder was left"


def _failed_run(reports: Path, tiny_params: Path, nbs: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    before = _tree_digest(reports / RUN_ID)
    token = uuid.uuid4().hex
    proc = _cx(["run", str(tiny_params), "--output-dir", str(reports), "--force", "--notebooks-dir", str(nbs)], token)
    _no_processes_left(token)
    return proc, before


def test_notebook_that_raises(tmp_path, reports, tiny_params):
    nbs = _probe(tmp_path / "nbs", "00_ok", "print('fine')")
    _probe(nbs, "01_bad", "raise ValueError('boom in the model')")
    proc, before = _failed_run(reports, tiny_params, nbs)
    assert proc.returncode == 4
    assert "01_bad.ipynb failed in cell" in proc.stderr and "ValueError: boom in the model" in proc.stderr
    assert "earlier reports are untouched" in proc.stderr and "Traceback" not in proc.stderr
    _assert_nothing_published(reports, before)


def test_kernel_that_dies(tmp_path, reports, tiny_params):
    nbs = _probe(tmp_path / "nbs", "00_die", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    proc, before = _failed_run(reports, tiny_params, nbs)
    assert proc.returncode == 4
    assert "00_die.ipynb: the kernel died" in proc.stderr and "nothing was published" in proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_nothing_published(reports, before)


def _start_and_wait(reports: Path, tiny_params: Path, nbs: Path, token: str) -> subprocess.Popen:
    env = {**os.environ, "CX_TEST_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "cxlib.cli", "run", str(tiny_params), "--output-dir", str(reports),
                             "--force", "--notebooks-dir", str(nbs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list(reports.glob(".tmp-*/started")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the probe notebook never started"
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run(tmp_path, reports, tiny_params, sig):
    nbs = _probe(tmp_path / "nbs", "00_slow", STARTED + "import time\ntime.sleep(300)")
    before = _tree_digest(reports / RUN_ID)
    token = uuid.uuid4().hex
    proc = _start_and_wait(reports, tiny_params, nbs, token)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert f"interrupted by {sig.name}: nothing was published, earlier reports are untouched" in err
    assert "Traceback" not in err
    _no_processes_left(token)
    _assert_nothing_published(reports, before)


def test_runner_killed_outright_is_cleaned_up_by_the_next_run(tmp_path, reports, tiny_params):
    """SIGKILL (or the OOM killer) gives the runner no chance to clean up: its kernel exits with
    it, and the next run removes the staging folder it left."""
    nbs = _probe(tmp_path / "nbs", "00_slow", STARTED + "import time\ntime.sleep(300)")
    token = uuid.uuid4().hex
    proc = _start_and_wait(reports, tiny_params, nbs, token)
    proc.kill()
    proc.communicate(timeout=60)
    _no_processes_left(token)  # ipykernel exits when its parent is gone
    assert list(reports.glob(".tmp-*"))
    ok = _probe(tmp_path / "ok", "00_ok", "print('fine')")
    again = _cx(["run", str(tiny_params), "--output-dir", str(reports), "--force", "--notebooks-dir", str(ok)], token)
    assert again.returncode == 0, again.stderr
    assert "left by an earlier run that was killed" in again.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["faults", "index.html"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_run_moved_aside_by_a_killed_publish_is_put_back(tmp_path):
    from cxlib.run.publish import remove_stale_staging

    out = tmp_path / "reports"
    pid = _dead_pid()
    (out / f".old-2026Q3-{pid}").mkdir(parents=True)
    (out / f".old-2026Q3-{pid}" / "index.html").write_text("earlier report")
    (out / f".tmp-2026Q3-{pid}-abcd1234").mkdir()
    live = out / f".tmp-2026Q3-{os.getpid()}-live0000"  # a run still going: left alone
    live.mkdir()
    done = remove_stale_staging(out)
    assert sorted(p.name for p in done) == sorted(["2026Q3", f".tmp-2026Q3-{pid}-abcd1234"])
    assert (out / "2026Q3" / "index.html").read_text() == "earlier report"
    assert sorted(p.name for p in out.iterdir()) == sorted(["2026Q3", live.name])


def test_execution_errors_are_told_apart_by_type(tmp_path):
    """papermill's and nbclient's exception types, not their messages, decide what the user reads."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from cxlib.run.runner import execution_error

    nb = Path("03_drivers.ipynb")
    failed = execution_error(PapermillExecutionError(4, 3, "fit()", "LinAlgError", "Singular matrix", []), nb)
    assert (failed.notebook, failed.cell, failed.ename, failed.evalue) == ("03_drivers.ipynb", 3, "LinAlgError", "Singular matrix")
    log = tmp_path / "kernel.log"
    log.write_text("Fatal Python error: Segmentation fault\n")
    dead = execution_error(DeadKernelError("Kernel died"), nb, log)
    assert (dead.notebook, dead.cell, dead.ename) == ("03_drivers.ipynb", None, "DeadKernelError")
    assert "the kernel died" in str(dead) and "Segmentation fault" in str(dead)
    slow = execution_error(CellTimeoutError("A cell timed out"), nb)
    assert (slow.notebook, slow.ename) == ("03_drivers.ipynb", "CellTimeoutError") and "cell_timeout_seconds" in str(slow)
    # a message that merely mentions a dead kernel is not mistaken for one
    other = execution_error(PapermillExecutionError(1, 1, "", "RuntimeError", "the kernel is dead tired", []), nb)
    assert other.ename == "RuntimeError" and "the kernel died" not in str(other)
    # a bare assert has no message: the frame that raised it is named instead (CI's Spark failure read
    # "AssertionError: ." and nothing else)
    frames = ["\x1b[31mAssertionError\x1b[39m  Traceback (most recent call last)",
              "Cell \x1b[32mIn[4], line 3\x1b[39m\n----> 3 portfolio = analysis.touchpoint_portfolio(",
              ("File \x1b[32m/site-packages/ibis/backends/pyspark/__init__.py:788\x1b[39m, in "
               "\x1b[36mBackend._create_cached_table\x1b[39m(self, name, expr)\n--> 788 assert t.is_cached"),
              "\x1b[31mAssertionError\x1b[39m: "]
    bare = execution_error(PapermillExecutionError(4, 4, "", "AssertionError", "", frames), Path("01_touchpoint_portfolio.ipynb"))
    assert bare.evalue == ("raised at /site-packages/ibis/backends/pyspark/__init__.py:788, "
                           "in Backend._create_cached_table(self, name, expr)")
    assert "failed in cell 4: AssertionError: raised at /site-packages/ibis/" in str(bare)


def test_a_kept_kernel_killed_between_sections_is_not_waited_for(tmp_path):
    """An interruption that kills the kernels while a worker resets its kept kernel for the next
    section: the reset gives up as soon as the process is gone (it waited cell_timeout_seconds,
    30 minutes by default, and ``cx run`` with it; seen when a 10M benchmark run was stopped)."""
    from jupyter_core.utils import run_sync

    from cxlib.run.kernel import (
        ensure_kernel,
        kernel_alive,
        kill_kernels,
        logged_kernel_manager,
        next_section,
    )

    km = logged_kernel_manager(tmp_path / "kernel.log")(kernel_name=ensure_kernel())
    run_sync(km.start_kernel)()
    try:
        next_section(km, "CX_SECTION", "01_touchpoint_portfolio", timeout=120)  # a live kernel resets
        kill_kernels([km])
        assert not kernel_alive(km)
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="the kernel died before 02_retention could start"):
            next_section(km, "CX_SECTION", "02_retention", timeout=600)
        assert time.monotonic() - start < 15
    finally:
        run_sync(km.shutdown_kernel)(now=True)
