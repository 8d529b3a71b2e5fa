"""The engine aggregates, Python fits: no table proportional to the interactions leaves the engine.

One complete ``cx run`` (every section, in its own kernel, as in production) on 2,000 demo customers
(about 87,000 interactions) with the test-only hook :func:`engine_hook.result_log.log_results`
installed (``tests/engine_hook`` on ``PYTHONPATH``, whose ``sitecustomize`` installs it when
``CX_RESULT_LOG`` is set): it logs the size and calling line of every result that leaves the engine,
in the ``cx`` process and in every kernel. Each result must stay within a bound that does not grow with the interactions:

* one row per customer at most (per-customer tables for the Cox model and the landmark checks,
  Kaplan–Meier counts per group and day, scalars, small group-bys), unless its caller is one of
* ``ALLOWED``, each with its own bound: the metric cube (period × touchpoint × channel × segment
  with roll-ups), the cells of the piecewise-exponential model (tenure piece × covariate pattern ×
  exposure pattern), one row per survey response for the key-driver regression, and the exposure
  intervals of the time-varying Cox cross-check, capped by ``cox_time_varying_max_rows``.

The same run's tables are the DuckDB side of the PySpark parity test (tests/test_spark_parity.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import built_once, demo_params_dict, write_params
from engine_hook.result_log import environment
from cxlib.demo.synthetic import write_demo_data

CUSTOMERS = 2_000
SEED = 7
# Small enough that the cross-check's intervals stay far below the interactions, large enough that it runs.
TV_COX_MAX_ROWS = 25_000
PARAMS = {"bootstrap": 50, "cox_time_varying_max_rows": TV_COX_MAX_ROWS}
# allowed pulls that only some data sets need (a roll-up whose distinct customers the bounds leave open)
RUNS_ON_SOME_DATA: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Run:
    """A finished ``cx run``: its published folder and the log of results that left the engine."""

    folder: Path
    log: pd.DataFrame  # rows, columns, caller, file, function
    stderr: str = ""  # what ``cx run`` printed (progress lines), when the test ran it


def cx_run(data_dir: Path, workdir: Path, run_id: str, env: dict[str, str] | None = None, **overrides) -> Run:
    """``cx run`` in a subprocess (its kernels inherit the environment) with the result log on."""
    workdir.mkdir(parents=True, exist_ok=True)
    params = write_params(workdir / f"{run_id}.yaml", demo_params_dict(data_dir, run_id=run_id, **PARAMS, **overrides))
    env = {**os.environ, **(env or {}), **environment(workdir / f"{run_id}-results.jsonl")}
    cx = Path(sys.executable).with_name("cx")
    done = subprocess.run([str(cx), "run", str(params), "--output-dir", str(workdir / "reports")],
                          env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, failure(done.stderr)
    return finished_run(workdir, run_id, done.stderr)


def failure(stderr: str) -> str:
    """What a failed ``cx run`` said: its one-paragraph error first (a traceback printed at the
    interpreter's exit can push it out of a tail), then the end of its stderr."""
    said = [line for line in stderr.splitlines() if line.startswith("cx run:")]
    return "\n".join([*said, "--- end of stderr ---", stderr[-3000:]])


def finished_run(workdir: Path, run_id: str, stderr: str = "") -> Run:
    """The published folder and result log of a ``cx_run`` in ``workdir``."""
    log = workdir / f"{run_id}-results.jsonl"
    frame = pd.DataFrame([json.loads(line) for line in log.read_text().splitlines()])
    where = frame["caller"].str.extract(r"^(?P<file>.*):\d+ (?P<function>\S+)$")
    return Run(workdir / "reports" / run_id, pd.concat([frame, where], axis=1), stderr)


@pytest.fixture(scope="session")
def guard_data(tmp_path_factory) -> Path:
    """The demo data of this module and the Spark parity test, written once per session."""
    return built_once(tmp_path_factory, "shared-guard-data", lambda d: write_demo_data(d, n_customers=CUSTOMERS, seed=SEED))


@pytest.fixture(scope="session")
def duckdb_run(tmp_path_factory, guard_data) -> Run:
    """The full pipeline on DuckDB (the default engine) with every result logged, once per session."""
    folder = built_once(tmp_path_factory, "shared-duckdb-run", lambda d: cx_run(guard_data, d, "duck"))
    return finished_run(folder, "duck")


def data_sizes(data_dir: Path) -> dict[str, int]:
    return {t: pq.ParquetFile(data_dir / f"{t}.parquet").metadata.num_rows
            for t in ("customers", "interactions", "surveys")}


def allowed_bounds(data_dir: Path) -> dict[tuple[str, str], int]:
    """(file, function) of the results allowed to exceed one row per customer, and their bounds.

    The bounds are computed here from the input files and params, independently of cxlib.
    """
    cust = pd.read_parquet(data_dir / "customers.parquet")
    inter = pd.read_parquet(data_dir / "interactions.parquet", columns=["timestamp", "touchpoint", "channel"])
    params = demo_params_dict(data_dir, **PARAMS)
    surveys = pd.read_parquet(data_dir / "surveys.parquet", columns=["timestamp", "nps", *params["survey_drivers"]])
    periods = pd.concat([inter["timestamp"], surveys["timestamp"]]).dt.to_period("Q").nunique()
    # every dimension takes its values plus the roll-up 'all'
    cube = ((periods + 1) * (inter["touchpoint"].nunique() + 1) * (inter["channel"].nunique(dropna=False) + 1)
            * (cust["segment"].nunique(dropna=False) + 1))
    patterns = 1
    for c in params["covariates"]:
        numeric = pd.api.types.is_numeric_dtype(cust[c])
        patterns *= params.get("covariate_bins", 4) if numeric else cust[c].nunique()
    cells = len(params.get("tenure_pieces_days", [0, 30, 90, 180, 365, 730])) * patterns * 2 ** len(params["touchpoints"])
    return {
        ("cxlib/features/cube.py", "_chunk_cells"): cube,  # one grouping set of one customer chunk per pull
        ("cxlib/features/exposures.py", "touchpoint_cells"): cells,
        # distinct answers, not responses
        ("cxlib/features/ratings.py", "survey_ratings"): len(surveys.drop(columns="timestamp").drop_duplicates()),
        ("cxlib/analyses/hazards.py", "cross_check_intervals"): TV_COX_MAX_ROWS + 1,
    }


def assert_engine_aggregates(run: Run, data_dir: Path) -> None:
    """Every result that left the engine in ``run`` is within its bound, and far below the interactions."""
    sizes = data_sizes(data_dir)
    bounds = allowed_bounds(data_dir)
    log = run.log
    assert (log["rows"] >= 0).all(), f"results streamed in batches: {log.loc[log['rows'] < 0, 'caller'].tolist()}"
    limit = [bounds.get((f, fn), sizes["customers"]) for f, fn in zip(log["file"], log["function"])]
    over = log[log["rows"] > pd.Series(limit, index=log.index)]
    assert over.empty, f"results larger than allowed:\n{over[['rows', 'caller']].to_string()}"
    # the headline: nothing close to one row per interaction
    assert log["rows"].max() < sizes["interactions"] / 3, log.loc[log["rows"].idxmax(), "caller"]
    assert max(bounds.values()) < sizes["interactions"] / 3


@pytest.mark.slow
def test_nothing_proportional_to_interactions_leaves_the_engine(duckdb_run, guard_data):
    assert_engine_aggregates(duckdb_run, guard_data)


@pytest.mark.slow
def test_the_log_saw_the_whole_pipeline(duckdb_run, guard_data):
    """The hook was active in the ``cx`` process and in every kernel (else the guard proves nothing)."""
    log = duckdb_run.log
    files = set(log["file"].dropna())
    assert {"cxlib/ingest/contract.py", "cxlib/analyses/quality.py", "cxlib/features/cube.py", "cxlib/features/exposures.py",
            "cxlib/analyses/hazards.py", "cxlib/features/ratings.py"} <= files, sorted(files)
    # each allowed exception names a call that exists (a renamed function must be renamed here too)
    ran = set(zip(log["file"], log["function"]))
    assert set(allowed_bounds(guard_data)) - RUNS_ON_SOME_DATA <= ran
    manifest = json.loads((duckdb_run.folder / "manifest.json").read_text())
    assert [s["notebook"] for s in manifest["sections"]] == sorted(p.name for p in (Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_result_log_catches_a_pull_of_the_interactions(tmp_path, guard_data):
    """The hook itself: an interaction-sized pull is logged with its size and calling line."""
    log = tmp_path / "log.jsonl"
    code = (
        "from cxlib.ingest.read import connect\n"
        "con = connect()\n"
        f"t = con.read_parquet({str(guard_data / 'interactions.parquet')!r})\n"
        "t.execute(); t.count().execute(); t.touchpoint.to_pyarrow()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **environment(log)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line)["rows"] for line in log.read_text().splitlines()]
    n = data_sizes(guard_data)["interactions"]
    assert rows == [n, 1, n]
    assert json.loads(log.read_text().splitlines()[0])["caller"] == "<string>:4 <module>"
