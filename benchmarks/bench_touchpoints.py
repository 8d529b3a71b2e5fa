"""Benchmark: model ``touchpoints`` (exposure intervals → cells → piecewise-exponential GLM) at scale.

For 100k and 1M demo customers (~45 interactions each) it times, in a fresh subprocess per size:

1. deciding how the covariates enter (:func:`cxlib.features.customers.describe_covariates`: a few aggregates),
2. building the cells in the engine (:func:`cxlib.features.exposures.touchpoint_cells`: exposure intervals
   without a range join, one GROUP BY; only the cells come back to pandas),
3. fitting the Poisson GLM on the cells (:func:`cxlib.stats.pem.fit_piecewise_exponential`),

and reads the subprocess's own peak resident memory (``getrusage(RUSAGE_SELF)`` at its end, DuckDB's
threads included), so the figure is the step's own, and its CPU time (user + system, all threads): on a shared machine wall time
depends on the neighbours, CPU time much less, so the growth from 100k to 1M is judged on CPU time.
DuckDB runs with ``engine.memory_limit`` of the params (default 4GB) on all cores. Model: the demo
params' covariates and the five ``poor_<touchpoint>`` exposures. Two input modes:

* ``native``: the Parquet files as engine tables, columns used as they are — the model step itself;
* ``workbook``: the clean tables a notebook receives (contract typing and the validation filters,
  evaluated lazily inside the same query); the difference is the cost of the input layer.

Targets (issue 4): 1M customers in under 5 minutes and 8 GB, and time growing no faster than
linearly from 100k to 1M.

The data sets are generated once into ``benchmarks/data/demo_100k`` and ``demo_1m`` (gitignored;
shared with other benchmarks) under a temporary name and renamed into place, so two benchmarks
started together never read a half-written set.

Usage::

    .venv/bin/python benchmarks/bench_touchpoints.py [--sizes 100000 1000000] [--mode native|workbook|both]
                                                     [--memory-limit 4GB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
SEED = 42
TABLES = ("customers", "interactions", "surveys")
TARGET_SECONDS = 300
TARGET_BYTES = 8 * 1024**3


def data_dir(customers: int) -> Path:
    label = f"{customers // 1_000_000}m" if customers % 1_000_000 == 0 else f"{customers // 1000}k"
    return DATA / f"demo_{label}"


def ensure_data(customers: int, seed: int = SEED) -> Path:
    """The demo Parquet files of this size, generated unless all three exist already."""
    folder = data_dir(customers)
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    from cxlib.demo.synthetic import write_demo_data

    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    print(f"generating {customers:,} demo customers into {folder} ...", flush=True)
    start = time.perf_counter()
    write_demo_data(tmp, n_customers=customers, seed=seed)
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first (or left an incomplete folder): keep a complete one
        if all((folder / f"{t}.parquet").exists() for t in TABLES):
            shutil.rmtree(tmp)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
    print(f"generated in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(folder: Path, mode: str, memory_limit: str) -> None:
    """The measured step, in its own process so that its peak memory is its own."""
    from cxlib.features.customers import customers_as_of, describe_covariates
    from cxlib.features.exposures import touchpoint_cells
    from cxlib.ingest.contract import Validator
    from cxlib.ingest.read import connect, load_tables
    from cxlib.params import DEFAULT_PARAMS, RunParams, load_params
    from cxlib.stats.pem import fit_piecewise_exponential

    demo = load_params(DEFAULT_PARAMS)
    params = RunParams.model_validate({
        **demo.to_yaml_dict(), "run_id": "bench", "demo": None,
        "data": {t: str(folder / f"{t}.parquet") for t in TABLES},
        "engine": {"backend": "duckdb", "memory_limit": memory_limit},
    })
    if mode == "native":
        con = connect(params.engine)
        tables = {t: con.read_parquet(str(folder / f"{t}.parquet"), table_name=f"bench_{t}") for t in TABLES[:2]}
    else:
        tables = Validator(load_tables(params)).clean_tables()
    rules = params.exposure_rules(list(params.touchpoints))
    timings = {}
    cpu = _cpu_seconds()
    start = time.perf_counter()
    covariates = describe_covariates(tables["customers"], params.covariates, params.covariate_bins)
    timings["covariates_s"] = time.perf_counter() - start
    start = time.perf_counter()
    people = customers_as_of(tables["customers"], params.as_of, covariates)
    cells = touchpoint_cells(people, tables["interactions"], rules, params.exposure_window_days,
                             params.tenure_pieces_days, covariates)
    timings["cells_s"] = time.perf_counter() - start
    start = time.perf_counter()
    res = fit_piecewise_exponential(cells, covariates, [r.name for r in rules])
    timings["fit_s"] = time.perf_counter() - start
    timings["cpu_s"] = _cpu_seconds() - cpu
    hr = res.summary.set_index("term")["hazard_ratio"]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1024**3  # Linux: kilobytes
    print(json.dumps({**timings, "peak_gb": peak_gb, "cells": len(cells), "events": res.n_events,
                      "hazard_ratios": {r.name: round(float(hr[r.name]), 4) for r in rules if r.name in hr}}))


def measure(customers: int, mode: str, memory_limit: str) -> dict:
    folder = ensure_data(customers)
    interactions = pq.ParquetFile(folder / "interactions.parquet").metadata.num_rows
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", str(folder), "--mode", mode, "--memory-limit", memory_limit],
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed for {customers:,} customers:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"mode": mode, "customers": customers, "interactions": interactions, "wall_s": wall, **result}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--mode", choices=["native", "workbook", "both"], default="both")
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.mode, args.memory_limit)
        return 0
    modes = ["native", "workbook"] if args.mode == "both" else [args.mode]
    rows = [measure(n, mode, args.memory_limit) for mode in modes for n in sorted(args.sizes)]
    print(f"\nModel touchpoints, DuckDB memory_limit {args.memory_limit}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| input | customers | interactions | cells | covariates (s) | build cells (s) | fit GLM (s) "
          "| step wall (s) | step CPU (s) | CPU s per 100k customers | peak RSS (GB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for r in rows:
        r["step_s"] = r["covariates_s"] + r["cells_s"] + r["fit_s"]
        print(f"| {r['mode']} | {r['customers']:,} | {r['interactions']:,} | {r['cells']:,} | {r['covariates_s']:.1f} | "
              f"{r['cells_s']:.1f} | {r['fit_s']:.1f} | {r['step_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['cpu_s'] / r['customers'] * 1e5:.1f} | {r['peak_gb']:.2f} |")
        if r["customers"] >= 1_000_000:
            ok &= r["step_s"] < TARGET_SECONDS and not (r["peak_gb"] * 1024**3 > TARGET_BYTES)
    print()
    for mode in modes:
        sized = [r for r in rows if r["mode"] == mode]
        for r in sized:
            print(f"{mode}, {r['customers']:,} customers: hazard ratios {r['hazard_ratios']}")
        if len(sized) > 1:
            a, b = sized[0], sized[-1]
            growth = (b["cpu_s"] / a["cpu_s"]) / (b["customers"] / a["customers"])
            print(f"{mode}: CPU time grows {b['cpu_s'] / a['cpu_s']:.1f}× for {b['customers'] / a['customers']:.0f}× "
                  f"the customers (ratio to linear {growth:.2f}; ≤ 1 is linear or better)")
            ok &= growth <= 1.1
    print(f"targets (1M < {TARGET_SECONDS // 60} min and < {TARGET_BYTES // 1024**3} GB, linear growth): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
