"""The same pipeline on PySpark gives the same results as on DuckDB.

Two complete ``cx run`` of every section on one demo data set (2,000 customers, Parquet), the only
difference in the params being ``engine: {backend: pyspark}``. Every result file must have the same
rows; numbers agree to floating-point tolerance (sums in another order, the same model fits on the
same aggregated cells). The Spark run also passes the engine guard of tests/test_engine_guard.py.

Spark runs in local mode inside one Spark Connect server on 127.0.0.1 (``python -m cxlib.ingest.spark``),
which every kernel of the run reaches through ``SPARK_REMOTE``: one JVM for the run instead of one
per kernel, as the docs advise for several runs on one machine. Needs the optional extra ``spark``
(PySpark with its Connect client, and Java 17); the README's test command installs it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed: the optional extra 'spark' "
                    "(pip install -e \".[spark]\") runs the DuckDB/PySpark parity test")

from conftest import demo_params_dict, write_params  # noqa: E402
from cxlib.ingest.spark import MASTER_ENV, REMOTE_ENV, TOKEN_ENV  # noqa: E402
from test_engine_guard import (  # noqa: E402
    Run,
    assert_engine_aggregates,
    cx_run,
    data_sizes,
    duckdb_run,  # noqa: F401 (a fixture: the DuckDB side of the comparison)
    guard_data,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.slow
RTOL = 1e-6
ATOL = 1e-9
SERVER_START_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory) -> dict[str, str]:
    """A local Spark Connect server for the session; yields the client environment."""
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path_factory.mktemp("spark_server") / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "cxlib.ingest.spark", "--port", str(port), "--threads", "2"],
                                  env={**os.environ, TOKEN_ENV: token}, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while "server ready" not in log.read_text(errors="replace"):
            assert server.poll() is None, f"Spark Connect server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"Spark Connect server not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield {REMOTE_ENV: f"sc://localhost:{port}", TOKEN_ENV: token}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its JVM: their own process group
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="session")
def spark_run(tmp_path_factory, guard_data, spark_connect) -> Run:
    return cx_run(guard_data, tmp_path_factory.mktemp("spark_run"), "spark", env=spark_connect,
                  engine={"backend": "pyspark"})


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order: by the text columns (the keys), then by every other column."""
    keys = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]
    rest = [c for c in df.columns if c not in keys]
    return df.sort_values(keys + rest, kind="stable", na_position="last", ignore_index=True)


def assert_same_table(duck: pd.DataFrame, spark: pd.DataFrame, name: str) -> None:
    assert list(spark.columns) == list(duck.columns), name
    assert len(spark) == len(duck), f"{name}: {len(duck)} rows on DuckDB, {len(spark)} on PySpark"
    a, b = _sorted(duck), _sorted(spark)
    for col in a.columns:
        if pd.api.types.is_numeric_dtype(a[col]) and not pd.api.types.is_bool_dtype(a[col]):
            x, y = a[col].to_numpy(float), b[col].to_numpy(float)
            bad = ~np.isclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True)
            assert not bad.any(), f"{name}.{col}: {bad.sum()} values differ, e.g. {x[bad][:3]} vs {y[bad][:3]}"
        else:
            pd.testing.assert_series_equal(a[col].astype(str), b[col].astype(str), obj=f"{name}.{col}")


def test_spark_run_used_spark(spark_run):
    manifest = json.loads((spark_run.folder / "manifest.json").read_text())
    assert manifest["params"]["engine"]["backend"] == "pyspark"
    assert manifest["status"] == "complete"
    # no traceback from ibis' finalizers dropping cached tables on the closed session at exit
    assert "Traceback" not in spark_run.stderr, spark_run.stderr[-3000:]


def test_every_result_table_is_the_same(duckdb_run, spark_run):
    duck = sorted(p.name for p in (duckdb_run.folder / "results").glob("*.csv"))
    spark = sorted(p.name for p in (spark_run.folder / "results").glob("*.csv"))
    assert spark == duck
    assert {"metrics.csv", "retention.csv", "hazard_ratios.csv", "drivers.csv", "impact.csv",
            "metric_validity.csv"} <= set(duck)
    for name in duck:
        a = pd.read_csv(duckdb_run.folder / "results" / name)
        b = pd.read_csv(spark_run.folder / "results" / name)
        assert len(a), name
        assert_same_table(a, b, name)


def test_same_rows_read_and_same_warnings(duckdb_run, spark_run):
    duck = json.loads((duckdb_run.folder / "manifest.json").read_text())
    spark = json.loads((spark_run.folder / "manifest.json").read_text())
    for table, entry in duck["inputs"].items():
        assert spark["inputs"][table]["share_kept"] == entry["share_kept"], table
    assert [s["warnings"] for s in spark["sections"]] == [s["warnings"] for s in duck["sections"]]


def test_spark_run_keeps_the_data_in_the_engine(spark_run, guard_data):
    assert_engine_aggregates(spark_run, guard_data)


def test_local_mode_without_a_server(tmp_path, guard_data):
    """``engine: pyspark`` and nothing else: Spark in local mode inside the process (here ``cx validate``)."""
    params = write_params(tmp_path / "local.yaml",
                          demo_params_dict(guard_data, run_id="local", engine={"backend": "pyspark"}))
    env = {k: v for k, v in os.environ.items() if k not in (REMOTE_ENV, TOKEN_ENV, MASTER_ENV)}
    env["JAVA_TOOL_OPTIONS"] = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # a short-lived JVM starts faster
    done = subprocess.run([str(Path(sys.executable).with_name("cx")), "validate", str(params)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sizes = data_sizes(guard_data)
    assert (f"(customers: {sizes['customers']:,} rows, interactions: {sizes['interactions']:,} rows, "
            f"surveys: {sizes['surveys']:,} rows)") in done.stdout


def test_a_session_keeps_its_cache_when_another_releases_the_same_table(spark_connect):
    """Spark's cache is the server's, shared by sessions: caching the same plan in two kernels gives one
    entry, and the first kernel's release dropped it for both (CI: a section's ``assert t.is_cached``
    in ibis failed when the kernel next to it finished its section). ``session_cache`` keeps them apart."""
    import ibis
    from pyspark.sql import SparkSession

    from cxlib.ingest.spark import session_cache

    url = f"{spark_connect[REMOTE_ENV]}/;token={spark_connect[TOKEN_ENV]}"
    sessions = [SparkSession.builder.remote(url).create() for _ in range(2)]
    try:
        first, second = (ibis.pyspark.connect(s) for s in sessions)
        query = "SELECT id, id * 2 AS y FROM range(1000)"
        mine, theirs = session_cache(first.sql(query)), session_cache(second.sql(query))
        mine.release()
        assert second._cached_dataframes[theirs.op().name].is_cached
        assert int(theirs.y.sum().execute()) == 999_000
        theirs.release()
    finally:
        for s in sessions:
            s.stop()
