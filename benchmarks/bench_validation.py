"""Benchmark: validation + clean tables against a plain DuckDB scan of the same files (issue 14).

For one demo data set (``--customers``, about 45 interactions each) in Parquet and in CSV, each
measured in the same process one after the other so that the ratio is taken under one load:

* **scan**: what reading the data costs: per table one DuckDB query that reads every column of the
  file and groups it by customer (``read_csv`` with DuckDB's own type detection for CSV);
* **validate + clean**: ``load_tables`` → ``Validator.report()`` → ``write_clean_tables``, as
  ``cx run`` does, with the code on ``PYTHONPATH`` (run it once with this worktree and once with
  another checkout for a before/after figure: ``--code /path/to/checkout``).

Usage::

    python benchmarks/bench_validation.py [--customers 100000] [--code DIR ...] [--repeat 1]

Prints one JSON line per (code, format) with the seconds and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = ("customers", "interactions", "surveys")

_CHILD = r'''
import json, sys, time, tempfile
from pathlib import Path
import duckdb
folder, fmt = Path(sys.argv[1]), sys.argv[2]
files = {t: str(folder / f"{t}.{fmt}") for t in ("customers", "interactions", "surveys")}
reader = "read_parquet" if fmt == "parquet" else "read_csv"
con = duckdb.connect()
t0 = time.perf_counter()
for t, f in files.items():
    cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {reader}('{f}')").fetchall()]
    aggs = ", ".join(f'count("{c}")' for c in cols if c != "customer_id")
    con.sql(f"SELECT customer_id, count(*), {aggs} FROM {reader}('{f}') GROUP BY 1").fetchall()
scan = time.perf_counter() - t0
con.close()
from cxlib.params import RunParams
from cxlib.ingest.read import load_tables
from cxlib.ingest.contract import Validator
from cxlib.ingest.clean import write_clean_tables
params = RunParams.model_validate({"run_id": "b", "as_of": "2026-09-30", "on_invalid": "exclude",
    "covariates": ["segment", "plan", "region", "monthly_revenue"],
    "survey_drivers": ["sat_onboarding", "sat_billing", "sat_support", "sat_delivery", "sat_app"],
    "data": files, "engine": {"memory_limit": "4GB"}})
import inspect
target = Path(tempfile.mkdtemp())
# as cx run does: a validator that can write the checked tables into the clean folder gets it
folder = {"folder": target} if "folder" in inspect.signature(Validator).parameters else {}
t0 = time.perf_counter()
v = Validator(load_tables(params), **folder)
report = v.report()
t1 = time.perf_counter()
write_clean_tables(v, params, target)
t2 = time.perf_counter()
import cxlib
print(json.dumps({"scan_s": scan, "validate_s": t1 - t0, "clean_s": t2 - t1, "rows": report.rows_read,
                  "cxlib": str(Path(cxlib.__file__).parent)}))
'''


def ensure(customers: int) -> Path:
    sys.path.insert(0, str(HERE))
    from run_benchmarks import ensure_data  # the shared demo sets under benchmarks/data

    folder = ensure_data(customers)
    for t in TABLES:
        if not (folder / f"{t}.csv").exists():
            import duckdb

            duckdb.sql(f"COPY (SELECT * FROM read_parquet('{folder / t}.parquet')) TO '{folder / t}.csv' (HEADER)")
    return folder


def measure(code: Path, folder: Path, fmt: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    # Run in the checkout: with ``-c`` the working directory comes first on sys.path, before PYTHONPATH.
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), fmt], env=env, capture_output=True, text=True,
                         check=True, cwd=code)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row.update(code=str(code), cxlib=row.pop("cxlib"), format=fmt, ratio=(row["validate_s"] + row["clean_s"]) / row["scan_s"])
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--code", type=Path, nargs="+", default=[HERE.parent])
    ap.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    args = ap.parse_args(argv)
    folder = ensure(args.customers)
    print(json.dumps({"cores": os.cpu_count(), "load": os.getloadavg(), "customers": args.customers}), flush=True)
    for fmt in args.formats:
        for code in args.code:
            print(json.dumps(measure(code.resolve(), folder, fmt)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
