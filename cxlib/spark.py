"""PySpark as the engine: the same Ibis expressions, run by Spark instead of the embedded DuckDB.

Selected in params with ``engine: {backend: pyspark}`` (or ``engine: pyspark``);
:func:`cxlib.data.connect` calls :func:`connect_spark`. PySpark is an optional extra
(``pip install -e ".[spark]"``) and needs Java 17 or later.

Where Spark runs:

* an active ``SparkSession`` in the process (a Databricks notebook, ``spark-submit``) is used as it is;
* ``SPARK_REMOTE`` set (Spark Connect, e.g. ``sc://spark-host:15002``): PySpark connects to that
  server (needs ``pyspark[connect]``);
* ``CX_SPARK_MASTER`` set (``yarn``, ``spark://host:7077``, ``k8s://...``): a driver in this
  process submits to that cluster;
* otherwise local mode, ``local[threads]``, with ``memory_limit`` as the driver's heap: the
  driver binds to 127.0.0.1 and runs without its web UI, so nothing listens beyond the machine.

Every session runs in UTC (like the DuckDB session) and with ANSI SQL mode off, which Spark 4
turns on by default: Ibis expressions are written for the lenient semantics that DuckDB and
Spark 3 share (a division by zero gives NULL, not an error).
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from .errors import DataError
from .params import EngineSpec

MASTER_ENV = "CX_SPARK_MASTER"
# Spark settings every session gets, whatever runs it.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_UNITS = {"": "b", "b": "b", "k": "k", "kb": "k", "kib": "k", "m": "m", "mb": "m", "mib": "m",
          "g": "g", "gb": "g", "gib": "g", "t": "t", "tb": "t", "tib": "t"}


def jvm_memory(limit: str) -> str:
    """A DuckDB-style memory limit ("4GB", "512 MiB") as a JVM size ("4g", "512m").

    Examples
    --------
    >>> jvm_memory("4GB"), jvm_memory("512 MiB"), jvm_memory("2g")
    ('4g', '512m', '2g')
    """
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", limit)
    unit = _UNITS.get(m.group(2).lower()) if m else None
    if unit is None:
        raise DataError(f"engine.memory_limit {limit!r} is not a size such as '4GB' or '512MB'.")
    return f"{m.group(1)}{unit}"


def local_conf(engine: EngineSpec) -> dict[str, str]:
    """Spark settings of a local-mode session for ``engine``.

    Shuffle partitions are few (two per core): the tables that leave a shuffle here are
    aggregates, and Spark's default of 200 partitions costs seconds of task overhead per query
    on a small data set.

    Examples
    --------
    >>> conf = local_conf(EngineSpec(backend="pyspark", threads=2, memory_limit="3GB"))
    >>> conf["spark.master"], conf["spark.driver.memory"], conf["spark.sql.shuffle.partitions"]
    ('local[2]', '3g', '4')
    """
    cores = engine.threads or os.cpu_count() or 1
    return {
        "spark.master": f"local[{cores}]",
        "spark.driver.memory": jvm_memory(engine.memory_limit),
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
        raise DataError("engine backend 'pyspark' needs PySpark: install the optional extra with "
                        "`pip install -e \".[spark]\"` (and Java 17 or later).") from None
    session = SparkSession.getActiveSession()
    if session is None:
        builder = SparkSession.builder.appName("cx-workbook")
        if os.environ.get("SPARK_REMOTE"):
            conf = dict(SESSION_CONF)
        elif os.environ.get(MASTER_ENV):
            conf = {**SESSION_CONF, "spark.master": os.environ[MASTER_ENV]}
        else:
            conf = local_conf(engine)
            # Without it Spark resolves the host name and may bind to a public interface.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        for key, value in conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        if not os.environ.get("SPARK_REMOTE"):
            session.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return ibis.pyspark.connect(session)
