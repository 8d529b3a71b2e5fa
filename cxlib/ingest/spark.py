"""PySpark as the engine: the same Ibis expressions, run by Spark instead of the embedded DuckDB.

Selected in params with ``engine: {backend: pyspark}`` (or ``engine: pyspark``);
:func:`cxlib.ingest.read.connect` calls :func:`connect_spark`. PySpark is the optional extra ``spark``
(``pip install -e ".[spark]"``) and needs Java 17 or later.

Where Spark runs:

* an active ``SparkSession`` in the process (a Databricks notebook, ``spark-submit``) is used as it is;
* ``SPARK_REMOTE`` set (Spark Connect, e.g. ``sc://spark-host:15002``): each notebook's kernel is a
  thin client of that server; ``SPARK_CONNECT_AUTHENTICATE_TOKEN`` holds its token, if any;
* ``CX_SPARK_MASTER`` set (``yarn``, ``spark://host:7077``, ``k8s://...``): a driver in this
  process submits to that cluster;
* otherwise local mode, ``local[threads]``, with ``memory_limit`` as the driver's heap: the
  driver binds to 127.0.0.1 and runs without its web UI, so nothing listens beyond the machine.

In local mode every kernel of a ``cx run`` starts its own JVM (10–20 s of CPU each before the first
query). ``python -m cxlib.ingest.spark`` instead starts one local Spark Connect server for many runs
(:func:`serve`); point ``SPARK_REMOTE`` at it.

Every session runs in UTC (like the DuckDB session) and with ANSI SQL mode off, which Spark 4
turns on by default: Ibis expressions are written for the lenient semantics that DuckDB and
Spark 3 share (a division by zero gives NULL, not an error).
"""

from __future__ import annotations

import argparse
import atexit
import os
import secrets
import signal
import sys
import tempfile
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir

from cxlib.errors import DataError
from cxlib.params import EngineSpec, size_bytes

MASTER_ENV = "CX_SPARK_MASTER"
REMOTE_ENV = "SPARK_REMOTE"
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"
DEFAULT_CONNECT_PORT = 15002
# Local Spark's driver heap when params set no memory_limit (the JVM does not spill like DuckDB).
SPARK_DEFAULT_MEMORY = "4GB"
# Spark settings every session gets, whatever runs it.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_MISSING = ("engine backend 'pyspark' needs PySpark: install the optional extra with "
            "`pip install -e \".[spark]\"` (and Java 17 or later).")


def jvm_memory(limit: str) -> str:
    """A memory size as DuckDB writes it ("4GB", "512 MiB") as a JVM size in mebibytes.

    Examples
    --------
    >>> jvm_memory("4GB"), jvm_memory("512 MiB"), jvm_memory("2g")
    ('3814m', '512m', '2048m')
    """
    try:
        return f"{size_bytes(limit) >> 20}m"
    except ValueError as exc:
        raise DataError(f"engine.memory_limit: {exc}.") from None


def local_conf(engine: EngineSpec) -> dict[str, str]:
    """Spark settings of a local-mode session for ``engine``.

    Shuffle partitions are few (two per core): the tables that leave a shuffle here are
    aggregates, and Spark's default of 200 partitions costs seconds of task overhead per query
    on a small data set.

    Examples
    --------
    >>> conf = local_conf(EngineSpec(backend="pyspark", threads=2, memory_limit="3GB"))
    >>> conf["spark.master"], conf["spark.driver.memory"], conf["spark.sql.shuffle.partitions"]
    ('local[2]', '2861m', '4')
    >>> conf["spark.sql.warehouse.dir"].startswith(tempfile.gettempdir())   # never ./spark-warehouse
    True
    """
    cores = engine.threads or os.cpu_count() or 1
    return {
        "spark.master": f"local[{cores}]",
        "spark.driver.memory": jvm_memory(engine.memory_limit or SPARK_DEFAULT_MEMORY),
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(2 * cores),
        "spark.default.parallelism": str(2 * cores),
        # Spark would otherwise create spark-warehouse/ in the working directory
        "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "cx-spark-warehouse"),
        **SESSION_CONF,
    }


def _local_session(conf: dict[str, str]) -> Any:
    from pyspark.sql import SparkSession

    # Without it Spark resolves the host name and may bind to a public interface.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName("cx-workbook")
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect_spark(engine: EngineSpec) -> Any:
    """An Ibis PySpark backend for ``engine`` (see the module docstring for where Spark runs).

    Examples
    --------
    >>> con = connect_spark(EngineSpec(backend="pyspark"))   # doctest: +SKIP
    >>> con.name                                             # doctest: +SKIP
    'pyspark'
    """
    try:
        import ibis
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError(_MISSING) from None
    session = SparkSession.getActiveSession()
    if session is None and os.environ.get(REMOTE_ENV):
        try:
            session = SparkSession.builder.getOrCreate()
        except ImportError as exc:  # the Connect client's own dependencies (grpcio, ...)
            raise DataError(f"{REMOTE_ENV} is set, but the Spark Connect client cannot load ({exc}): "
                            "install `pyspark[connect]`.") from None
        # closed before the interpreter tears down its thread pools (else each open result stream
        # prints a traceback at exit); also ends the server-side session and its temporary views
        atexit.register(session.stop)
    elif session is None:
        master = os.environ.get(MASTER_ENV)
        session = _local_session({**SESSION_CONF, "spark.master": master} if master else local_conf(engine))
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return ibis.pyspark.connect(session)


def session_cache(t: ir.Table) -> ir.CachedTable:
    """``t.cache()``, under a plan that no other Spark session caches.

    Spark's cache is shared by every session of one server (a Spark Connect server serves every
    kernel of a run, and several runs): sessions that cache the same plan share one entry, and
    one session's ``unpersist`` drops it for all of them, as well as re-caching every cached plan built
    on it. Two sections that cache the same clean tables would then lose each other's caches
    mid-query, and ibis's check that a fresh cache holds fails. A filter on a literal that is
    unique to this call (always true) makes the plan this session's own. Other engines cache as they are.

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> with session_cache(con.create_table("t", {"a": [1, 2]})) as t:
    ...     int(t.a.sum().execute())
    3
    """
    if t.get_backend().name == "pyspark":
        t = t.filter(ibis.literal(uuid.uuid4().hex) != "")
    return t.cache()


def serve(engine: EngineSpec, port: int = DEFAULT_CONNECT_PORT, ready: Any = None) -> None:
    """Run a local Spark Connect server on 127.0.0.1 until SIGTERM or Ctrl-C.

    One JVM for every kernel of every run that sets ``SPARK_REMOTE=sc://localhost:<port>``
    instead of one per kernel. Clients must present the token in ``SPARK_CONNECT_AUTHENTICATE_TOKEN``
    (taken from the environment, or generated and printed). Needs ``pyspark[connect]``.

    Parameters
    ----------
    engine : EngineSpec
        ``threads`` and ``memory_limit`` size the local Spark (see :func:`local_conf`).
    port : int
        The gRPC port (Spark Connect's default is 15002).
    ready : callable, optional
        Called with the ``SPARK_REMOTE`` URL once the server accepts connections.

    Examples
    --------
    Shell::

        $ export SPARK_CONNECT_AUTHENTICATE_TOKEN=$(python -c "import secrets; print(secrets.token_hex())")
        $ python -m cxlib.ingest.spark --port 15002 &
        $ SPARK_REMOTE=sc://localhost:15002 cx run params/2026Q3.yaml
    """
    import time

    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise DataError(_MISSING) from None
    token = os.environ.setdefault(TOKEN_ENV, secrets.token_hex(16))
    session = _local_session({
        **local_conf(engine),
        "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.authenticate.token": token,
    })
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        (ready or print)(f"sc://localhost:{port}")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        session.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m cxlib.ingest.spark``: a local Spark Connect server for ``SPARK_REMOTE``.

    Examples
    --------
    >>> main(["--port", "15002", "--threads", "2"])   # doctest: +SKIP
    Spark Connect server ready: export SPARK_REMOTE=sc://localhost:15002
    """
    ap = argparse.ArgumentParser(prog="python -m cxlib.ingest.spark", description=serve.__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=DEFAULT_CONNECT_PORT)
    ap.add_argument("--memory-limit", default=SPARK_DEFAULT_MEMORY, help="driver heap, e.g. 8GB")
    ap.add_argument("--threads", type=int, default=None, help="local cores (default: all)")
    args = ap.parse_args(argv)
    show_token = TOKEN_ENV not in os.environ

    def ready(url: str) -> None:
        print(f"Spark Connect server ready: export {REMOTE_ENV}={url}", flush=True)
        if show_token:
            print(f"and export {TOKEN_ENV}={os.environ[TOKEN_ENV]}", flush=True)

    serve(EngineSpec(backend="pyspark", memory_limit=args.memory_limit, threads=args.threads), args.port, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
