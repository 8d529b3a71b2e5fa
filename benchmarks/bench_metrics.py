"""Benchmark: the touchpoint portfolio step at scale (1M customers, ~45M interactions).

Generates the demo data set once into ``benchmarks/data/demo_1m/`` (gitignored; shared with other
benchmarks, regenerated only when a file is missing), then times
:func:`cxlib.analyses.portfolio.touchpoint_portfolio` — the engine cube of sufficient statistics
(:mod:`cxlib.features.cube`) plus every statistic in pandas (intervals, suppression,
period-over-period tests, targets) — in a fresh subprocess, and reads that subprocess's peak
resident memory (``getrusage(RUSAGE_CHILDREN)``).
DuckDB runs with the params default ``engine.memory_limit`` (4GB). Target (issue 3): under 60 s and
under 4 GB.

Two input modes:

* ``native`` (default): the Parquet files as engine tables, columns used as they are. This is the
  portfolio step itself.
* ``workbook``: the clean tables a notebook receives (contract typing and validation filters,
  evaluated lazily by every query). The difference between the two is the cost of the input
  layer, not of the portfolio.

Usage::

    .venv/bin/python benchmarks/bench_metrics.py [--mode native|workbook|both] [--period quarter|month]
        [--code CHECKOUT ...]

``--code`` measures several checkouts one after the other in one run (for example a worktree of the
commit before a change, then this one), each with its own copy of this script as the child, and
prints each time's ratio to the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "demo_1m"
CUSTOMERS = 1_000_000
SEED = 42
TABLES = ("customers", "interactions", "surveys")
TARGET_SECONDS = 60
TARGET_BYTES = 4 * 1024**3


def ensure_data(folder: Path = DATA, customers: int = CUSTOMERS, seed: int = SEED) -> Path:
    """Write the demo Parquet files unless all three are there already."""
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    from cxlib.demo.synthetic import write_demo_data

    print(f"generating {customers:,} demo customers into {folder} ...", flush=True)
    start = time.perf_counter()
    write_demo_data(folder, n_customers=customers, seed=seed)
    print(f"generated in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def _child(mode: str, folder: Path, period: str) -> None:
    """The measured step, in its own process so that its peak memory is its own."""
    from cxlib.analyses.portfolio import touchpoint_portfolio
    from cxlib.ingest.contract import Validator
    from cxlib.ingest.read import connect, load_tables
    from cxlib.params import RunParams

    params = RunParams.model_validate({
        "run_id": "bench", "as_of": "2026-09-30", "period": period,
        "data": {t: str(folder / f"{t}.parquet") for t in TABLES},
        "targets": {"csat_top2": {"all": 0.7, "billing": 0.7}, "nps": {"all": 20}},
    })
    if mode == "native":
        con = connect(params.engine)
        tables = {t: con.read_parquet(str(folder / f"{t}.parquet"), table_name=f"bench_{t}") for t in TABLES}
    else:
        tables = Validator(load_tables(params)).clean_tables()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = touchpoint_portfolio(
        tables["interactions"], tables["customers"], tables["surveys"], as_of=params.as_of, period=period,
        min_cell_size=params.min_cell_size, targets=params.targets,
    )
    seconds = time.perf_counter() - start
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": len(result.metrics), "changes": len(result.changes),
                      "suppressed": result.suppressed_primary + result.suppressed_secondary,
                      "disclosure": result.disclosure,
                      "memory_limit": params.engine.memory_limit}))


def measure(mode: str, folder: Path, period: str, code: Path) -> dict:
    """Run one measurement in a subprocess with ``code`` on ``PYTHONPATH``: its wall time and peak RSS.

    The child is ``code``'s own copy of this script, so that a checkout from before a change (whose
    module names may differ) is measured by its own ``--child``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.Popen([sys.executable, str(code / "benchmarks" / Path(__file__).name), "--child", mode,
                             "--data", str(folder), "--period", period], stdout=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the {mode} measurement with {code} failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_bytes"] = usage.ru_maxrss * 1024  # KiB on Linux, this child only
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["native", "workbook", "both"], default="native")
    ap.add_argument("--period", choices=["quarter", "month"], default="quarter")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--code", type=Path, nargs="+", default=[HERE.parent],
                    help="checkouts to measure one after the other (ratios against the first)")
    ap.add_argument("--child", choices=["native", "workbook"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.data, args.period)
        return 0
    folder = ensure_data(args.data)
    n_customers = pq.ParquetFile(folder / "customers.parquet").metadata.num_rows
    n_interactions = pq.ParquetFile(folder / "interactions.parquet").metadata.num_rows
    modes = ["native", "workbook"] if args.mode == "both" else [args.mode]
    ok = True
    print("| step | code | input | customers | interactions | period | metrics rows | time | ratio to first | "
          "CPU time | peak RSS | target (< 60 s, < 4 GB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        first = None
        for code in args.code:
            r = measure(mode, folder, args.period, code.resolve())
            first = first or r["seconds"]
            met = r["seconds"] < TARGET_SECONDS and r["peak_bytes"] < TARGET_BYTES
            ok &= met or mode != "native"
            print(f"| touchpoint_portfolio | {code} | {mode} | {n_customers:,} | {n_interactions:,} | {args.period} | "
                  f"{r['rows']:,} | {r['seconds']:.1f} s | {r['seconds'] / first:.2f} | {r['cpu_seconds']:.1f} s | "
                  f"{r['peak_bytes'] / 1024**3:.2f} GB | {'met' if met else 'missed'} |", flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{dt.date.today()}: {os.cpu_count()} CPUs, load average {load} at the end; DuckDB memory_limit "
          f"{r.get('memory_limit', 'params default')} (params default); python {sys.version.split()[0]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
