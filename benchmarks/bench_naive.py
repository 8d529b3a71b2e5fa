"""Benchmark: 200k customers from CSV end to end against the naive single model fit (issue 14).

Issue 14 compares the whole quarterly report with what an analyst without the workbook would do
on the same export: read the CSV files with pandas, build the time-varying intervals and fit one
lifelines ``CoxTimeVaryingFitter``. Goal: the report (``cx run``, every section) takes at most
0.25 × that single fit. This script, for one demo size (``--customers``, default 200,000, about 45
interactions each),

1. generates the demo data (Parquet, :func:`cxlib.demo.synthetic.write_demo_data` through
   ``run_benchmarks.ensure_data``) into ``benchmarks/data/demo_<size>/`` unless a complete set is
   there, and exports the three tables as CSV with DuckDB ``COPY ... TO (FORMAT csv, HEADER)`` into
   ``benchmarks/data/demo_<size>_csv/`` (gitignored; written under a temporary name and renamed);
2. runs ``cx run`` on the CSV files in a subprocess (the demo params, every analysis key at the demo's
   value, ``engine: {backend: duckdb}`` with the default ``memory_limit``), timing its wall clock,
   sampling the resident memory of its whole process tree every 0.2 s with psutil (``cx``, the
   kernels, any helper) and reading the stage times from the run's ``manifest.json``;
3. runs **the naive fit** in another subprocess (this script with ``--naive-child``) on the same CSV
   files, timing the whole process (start-up, read, build, fit) and its tree's peak memory the same
   way, stopped after ``--naive-timeout`` seconds (reported as "> timeout"); the CPU time of each
   process tree (``getrusage`` of the waited-for descendants) is given too, as the machine is shared;

and writes a section into ``benchmarks/RESULTS.md`` (``--output``; a section of the same title is
replaced) with both times, the ratio, both peaks, and the machine's cores, memory and load average
before and after each run. The two runs follow each other in one invocation, so the ratio is taken
under one load.

The naive model
---------------
What a competent analyst writes with pandas and lifelines, vectorized (no Python loop over
customers):

* **read**: ``pandas.read_csv`` (C parser) of the customers and of the interaction columns the model
  uses (``customer_id``, ``timestamp``, ``touchpoint``, ``csat``), dates parsed with their format.
  The surveys are not in the model (the workbook's retention model does not use them either).
* **intervals**: a customer-month panel. Time is tenure in days since ``signup_date``; a customer is
  at risk from the signup day until ``churn_date + 1 day`` (the churn day counts at risk, as on the
  workbook's day grid) or until ``as_of`` (2026-09-30) when active. Each calendar month the customer
  is at risk starts a new interval ``(start, stop]`` (the first at 0, the last ending at the end of
  risk); the churn event sits in the last interval of a churned customer.
* **time-varying covariates**, per touchpoint (onboarding, billing, support, delivery, app), known at
  the interval's start (interactions of earlier calendar months): the number of contacts so far and
  the running mean CSAT of the rated ones (the touchpoint's overall mean CSAT before the first
  rating). Monthly aggregates (``groupby`` of customer, month, touchpoint), cumulated per customer
  and shifted by one month.
* **fixed covariates**: ``segment``, ``plan``, ``region`` (dummies, first level dropped) and
  ``monthly_revenue``, as in the workbook's ``covariates``.
* **fit**: ``CoxTimeVaryingFitter().fit(intervals, id_col, event_col, start_col, stop_col)``
  (Efron ties, lifelines' defaults), 18 columns.

The workbook's own model differs (poor-CSAT exposures over a 90-day window on a day grid, fitted as a
piecewise-exponential model on engine-side cells, with the lifelines fit only as a cross-check); the
naive fit stands for the cost of the obvious single model on the same data, as the issue defines it.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_naive.py [--customers 200000]
        [--naive-timeout 2400] [--cell-timeout SECONDS] [--skip-cx] [--output benchmarks/RESULTS.md]

Target (issue 14, on 2 cores): ``cx run`` wall ≤ 0.25 × the naive fit's wall. Exit status 0 when
met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
DATA = HERE / "data"
OUT = HERE / "out"
TABLES = ("customers", "interactions", "surveys")
AS_OF = "2026-09-30"
GOAL_RATIO = 0.25
DEFAULT_TIMEOUT = 2400
GiB = 1024**3
TOUCHPOINTS = ("onboarding", "billing", "support", "delivery", "app")
FIXED = ("segment", "plan", "region")


def _shared():
    """``run_benchmarks`` (demo sets, tree memory sampler, machine stamp): imported from this folder."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import run_benchmarks

    return run_benchmarks


# --------------------------------------------------------------------------------------------------
# Data: the demo set as CSV
# --------------------------------------------------------------------------------------------------
def ensure_csv(customers: int) -> Path:
    """The demo set of this size as three CSV files, exported from its Parquet files by DuckDB."""
    rb = _shared()
    folder = DATA / f"demo_{rb.label(customers)}_csv"
    if all((folder / f"{t}.csv").is_file() for t in TABLES):
        return folder  # written under a temporary name and renamed: present means complete
    parquet = rb.ensure_data(customers)
    import duckdb

    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    print(f"exporting {parquet.name} as CSV into {folder} ...", flush=True)
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for t in TABLES:
        con.execute(f"COPY (SELECT * FROM read_parquet('{parquet / t}.parquet')) "
                    f"TO '{tmp / t}.csv' (FORMAT csv, HEADER)")
    con.close()
    rb.put_in_place(tmp, folder, lambda f: all((f / f"{t}.csv").is_file() for t in TABLES))
    print(f"exported in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def describe(folder: Path) -> dict:
    """Rows and bytes of each CSV file (rows counted by DuckDB)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    out = {}
    for t in TABLES:
        f = folder / f"{t}.csv"
        out[t] = {"rows": con.execute(f"SELECT count(*) FROM read_csv('{f}')").fetchone()[0], "bytes": f.stat().st_size}
    con.close()
    return out


# --------------------------------------------------------------------------------------------------
# Measuring a subprocess: wall clock and the peak resident memory of its tree
# --------------------------------------------------------------------------------------------------
def measure(cmd: list[str], *, stage: str, timeout: float | None = None, on_line=None) -> dict:
    """Run ``cmd`` (its output echoed), sampling its process tree; stop it after ``timeout`` seconds."""
    rb = _shared()
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    memory = rb.TreeMemory([psutil.Process(proc.pid)], stage=stage)
    sampler = threading.Thread(target=memory.sample, daemon=True)
    sampler.start()
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: it and its descendants
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, stop) if timeout else None
    if timer:
        timer.start()
    log = []
    for line in proc.stdout:
        log.append(line)
        print("   ", line.rstrip(), flush=True)
        if on_line:
            memory.stage = on_line(line) or memory.stage
    proc.wait()
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every descendant that was waited for
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if timer:
        timer.cancel()
    memory.stop()
    sampler.join()
    return {"wall_s": wall, "cpu_s": cpu, "returncode": proc.returncode, "timed_out": timed_out.is_set(), "log": log,
            "peak_bytes": memory.peak, "peak_stage": memory.peak_stage, "peak_by_stage": memory.by_stage,
            "load_before": load_before, "load_after": os.getloadavg()}


def write_cx_params(folder: Path, customers: int, cell_timeout: int | None = None) -> tuple[Path, str]:
    """The demo params pointed at the CSV files; DuckDB with its default memory limit."""
    rb = _shared()
    raw = yaml.safe_load((PROJECT / "params" / "demo.yaml").read_text())
    raw.pop("demo", None)
    run_id = f"bench_naive_{rb.label(customers)}_csv"
    raw["run_id"] = run_id
    raw["data"] = {t: str(folder / f"{t}.csv") for t in TABLES}
    raw["engine"] = {"backend": "duckdb"}
    if cell_timeout:
        raw["cell_timeout_seconds"] = cell_timeout
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"params_{run_id}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, run_id


_FINISHED = (("validate", re.compile(r"\] validated: .*\((?P<s>[\d.]+) s\)$")),
             ("clean tables", re.compile(r"\] clean tables written in (?P<s>[\d.]+) s")),
             ("notebook:", re.compile(r"\] \[\d+/\d+\] (?P<name>\S+) done in (?P<s>[\d.]+) s")))


def _finished_stages(log: list[str]) -> dict[str, float]:
    """The stages a run's progress lines report as finished, with their seconds.

    Examples
    --------
    >>> _finished_stages(["[  61.8 s] validated: customers 2 rows (2 kept) (61.7 s)",
    ...                   "[ 154.7 s] [2/5] 01_touchpoint_portfolio done in 83.0 s"])
    {'validate': 61.7, 'notebook:01_touchpoint_portfolio': 83.0}
    """
    out = {}
    for line in log:
        for name, pattern in _FINISHED:
            if m := pattern.search(line.rstrip()):
                out[name + m.groupdict().get("name", "") if name == "notebook:" else name] = float(m["s"])
    return out


def run_cx(folder: Path, customers: int, cell_timeout: int | None = None) -> dict:
    """``cx run`` end to end on the CSV files: wall, tree peak, and the stage times of its manifest.

    A failed run is recorded (its wall until the failure, the stages its progress lines finished and
    its last lines), not raised, so that the naive fit is still measured.
    """
    rb = _shared()
    params, run_id = write_cx_params(folder, customers, cell_timeout)
    cmd = [str(Path(sys.executable).with_name("cx")), "run", str(params), "--output-dir", str(OUT), "--force"]
    print(f"cx run: {customers:,} customers from CSV ...", flush=True)
    r = measure(cmd, stage="validate", on_line=rb._stage_of)
    r["failed"] = r["returncode"] != 0
    if r["failed"]:
        r["stages"] = _finished_stages(r["log"])
        r["error"] = [line.rstrip() for line in r["log"][-3:]]
        del r["log"]
        return r
    manifest = json.loads((OUT / run_id / "manifest.json").read_text())
    stages: dict[str, float] = {}
    for s in manifest["stages"]:
        name = "render" if s["stage"].startswith("render:") else s["stage"]
        stages[name] = stages.get(name, 0.0) + s["seconds"]
    r["stages"] = stages
    del r["log"]
    return r


def run_naive(folder: Path, timeout: float) -> dict:
    """The naive fit in its own process (this script with ``--naive-child``), stopped after ``timeout`` s."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--naive-child", str(folder)]
    print(f"naive fit (pandas intervals + lifelines CoxTimeVaryingFitter), timeout {timeout:.0f} s ...", flush=True)
    r = measure(cmd, stage="naive", timeout=timeout,
                on_line=lambda line: m["phase"] if (m := re.match(r"^phase (?P<phase>\w+)", line)) else None)
    result = next((json.loads(line) for line in reversed(r["log"]) if line.startswith("{")), None)
    if r["returncode"] != 0 and not r["timed_out"]:
        raise RuntimeError("naive fit failed:\n" + "".join(r["log"][-40:]))
    r["child"] = result
    del r["log"]
    return r


# --------------------------------------------------------------------------------------------------
# The naive fit (runs in the child process)
# --------------------------------------------------------------------------------------------------
def naive_intervals(folder: Path, as_of: str = AS_OF):
    """Read the CSV files with pandas and build the customer-month intervals (see the module docstring).

    Returns the interval table (``customer_id`` as an integer code, ``start``, ``stop``, ``event`` and
    the covariate columns) and the seconds spent reading.
    """
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    cust = pd.read_csv(folder / "customers.csv",
                       usecols=["customer_id", "signup_date", "churn_date", *FIXED, "monthly_revenue"],
                       dtype={c: "category" for c in FIXED})
    for c in ("signup_date", "churn_date"):
        cust[c] = pd.to_datetime(cust[c], format="%Y-%m-%d")
    inter = pd.read_csv(folder / "interactions.csv", usecols=["customer_id", "timestamp", "touchpoint", "csat"],
                        dtype={"touchpoint": "category", "csat": "float32"})
    inter["timestamp"] = pd.to_datetime(inter["timestamp"], format="ISO8601")
    read_s = time.perf_counter() - t0
    print("phase build", flush=True)

    # one row per customer and calendar month at risk
    signup = cust["signup_date"].to_numpy("datetime64[D]")
    churned = cust["churn_date"].notna().to_numpy()
    end = np.where(churned, cust["churn_date"].to_numpy("datetime64[D]") + np.timedelta64(1, "D"),
                   np.datetime64(as_of, "D"))  # exclusive: the churn day is at risk
    first_month = signup.astype("datetime64[M]")
    n_months = ((end - np.timedelta64(1, "D")).astype("datetime64[M]") - first_month).astype(int) + 1
    row = np.repeat(np.arange(len(cust)), n_months)
    k = np.arange(len(row)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    month = first_month[row] + k.astype("timedelta64[M]")
    start = np.maximum(month.astype("datetime64[D]"), signup[row])
    stop = np.minimum((month + np.timedelta64(1, "M")).astype("datetime64[D]"), end[row])
    panel = pd.DataFrame({"customer_id": row, "month": month,
                          "start": (start - signup[row]).astype(int), "stop": (stop - signup[row]).astype(int),
                          "event": (churned[row] & (k == n_months[row] - 1)).astype(int)})

    # monthly contacts and CSAT per touchpoint, cumulated up to the month before each interval
    inter["customer_id"] = pd.Categorical(inter["customer_id"], categories=cust["customer_id"]).codes
    inter["month"] = inter["timestamp"].to_numpy("datetime64[M]")
    inter["rated"] = inter["csat"].notna().astype("int32")
    monthly = (inter.groupby(["customer_id", "month", "touchpoint"], observed=True)
               .agg(contacts=("rated", "size"), csat_sum=("csat", "sum"), rated=("rated", "sum"))
               .unstack("touchpoint", fill_value=0))
    monthly.columns = [f"{stat}_{tp}" for stat, tp in monthly.columns]
    panel = panel.merge(monthly, left_on=["customer_id", "month"], right_index=True, how="left")
    counts = [f"{stat}_{tp}" for stat in ("contacts", "csat_sum", "rated") for tp in TOUCHPOINTS]
    panel[counts] = panel[counts].fillna(0)
    before = panel.groupby("customer_id", sort=False)[counts].cumsum() - panel[counts]  # earlier months only
    overall = inter.groupby("touchpoint", observed=True)["csat"].mean()
    for tp in TOUCHPOINTS:
        panel[f"contacts_{tp}"] = before[f"contacts_{tp}"]
        mean = before[f"csat_sum_{tp}"] / before[f"rated_{tp}"].where(before[f"rated_{tp}"] > 0)
        panel[f"csat_mean_{tp}"] = mean.fillna(overall[tp])
    fixed = pd.get_dummies(cust[list(FIXED)], drop_first=True, dtype=float)
    fixed["monthly_revenue"] = cust["monthly_revenue"]
    panel = panel.drop(columns=["month", *[c for c in counts if not c.startswith("contacts_")]])
    panel = panel.join(fixed, on="customer_id")
    return panel, read_s


def naive_child(folder: Path) -> int:
    """Read, build and fit, printing the phases and one JSON line with the figures."""
    t0 = time.perf_counter()
    import warnings

    from lifelines import CoxTimeVaryingFitter

    print("phase read", flush=True)
    imports_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    panel, read_s = naive_intervals(folder)
    build_s = time.perf_counter() - t1 - read_s
    print(f"phase fit: {len(panel):,} intervals, {panel['customer_id'].nunique():,} customers, "
          f"{int(panel['event'].sum()):,} events, {panel.shape[1] - 4} covariates", flush=True)
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctv = CoxTimeVaryingFitter().fit(panel, id_col="customer_id", event_col="event", start_col="start",
                                         stop_col="stop")
    fit_s = time.perf_counter() - t2
    s = ctv.summary
    print(json.dumps({
        "imports_s": imports_s, "read_s": read_s, "build_s": build_s, "fit_s": fit_s,
        "rows": len(panel), "customers": int(panel["customer_id"].nunique()), "events": int(panel["event"].sum()),
        "covariates": list(s.index), "hazard_ratios": {k: round(float(v), 4) for k, v in s["exp(coef)"].items()},
        "unique_event_times": int(panel.loc[panel["event"] == 1, "stop"].nunique()),
        "log_likelihood": float(ctv.log_likelihood_)}), flush=True)
    return 0


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def _load(x) -> str:
    return f"{x[0]:.2f} / {x[1]:.2f} / {x[2]:.2f}"


def markdown(customers: int, files: dict, info: dict, cx: dict | None, naive: dict, timeout: float) -> tuple[str, bool]:
    """The RESULTS.md section and whether the goal is met."""
    rb = _shared()
    child = naive.get("child") or {}
    naive_wall = None if naive["timed_out"] else naive["wall_s"]
    complete = bool(cx) and not cx["failed"]
    ratio = cx["wall_s"] / naive_wall if complete and naive_wall else None
    met = ratio is not None and ratio <= GOAL_RATIO
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    mb = sum(f["bytes"] for f in files.values()) / 1e6
    lines = [
        f"## {rb.label(customers)} customers from CSV against the naive fit (issue 14, measured {dt.date.today():%Y-%m-%d})",
        "",
        (f"`benchmarks/bench_naive.py --customers {customers}`: {files['customers']['rows']:,} demo customers "
         f"(seed 42), {files['interactions']['rows']:,} interactions and {files['surveys']['rows']:,} survey "
         f"responses exported by DuckDB as CSV ({mb:,.0f} MB). Machine: {info['cores']} cores ({info['cpu']}), "
         f"{info['memory_gib']:.1f} GiB, Python {info['python']}, {versions}; shared with other sessions, so "
         "the load average (1 / 5 / 15 min) is given before and after each run. The two runs follow each "
         "other in one invocation; times are wall clock of the whole subprocess, peaks the largest sum of "
         "resident memory over its process tree (sampled every 0.2 s), CPU time the user + system seconds of "
         "the process and every descendant (`getrusage`)."),
        "",
        "| run | wall (s) | CPU time, process tree (s) | peak RSS, process tree | load before | load after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    if cx:
        wall = f"> {cx['wall_s']:,.1f} (failed)" if cx["failed"] else f"{cx['wall_s']:,.1f}"
        lines.append(f"| `cx run` end to end (every section, DuckDB, default `memory_limit`) | {wall} | {cx['cpu_s']:,.1f} | "
                     f"{cx['peak_bytes'] / GiB:.2f} GiB ({cx['peak_stage'].removeprefix('notebook:')}) | "
                     f"{_load(cx['load_before'])} | {_load(cx['load_after'])} |")
    naive_cell = f"> {timeout:,.0f} (stopped)" if naive["timed_out"] else f"{naive['wall_s']:,.1f}"
    lines.append(f"| naive fit (pandas read + intervals, lifelines `CoxTimeVaryingFitter`) | {naive_cell} | {naive['cpu_s']:,.1f} | "
                 f"{naive['peak_bytes'] / GiB:.2f} GiB ({naive['peak_stage']}) | {_load(naive['load_before'])} | {_load(naive['load_after'])} |")
    lines.append("")
    if ratio is not None:
        lines.append(f"**Ratio `cx run` ÷ naive fit: {ratio:.2f}** (goal ≤ {GOAL_RATIO}: {'met' if met else 'NOT met'}); "
                     f"in CPU time {cx['cpu_s'] / naive['cpu_s']:.2f}.")
    elif cx and cx["failed"]:
        bound = f"> {cx['wall_s'] / naive_wall:.2f}" if naive_wall else "not measured"
        lines.append(f"**`cx run` did not finish**: it failed after {cx['wall_s']:,.0f} s with "
                     f"`{' '.join(cx['error'])}`. Ratio `cx run` ÷ naive fit: **{bound}** (goal ≤ {GOAL_RATIO}: NOT met).")
    elif cx and naive["timed_out"]:
        bound = cx["wall_s"] / timeout
        met = bound <= GOAL_RATIO
        lines.append(f"**Ratio `cx run` ÷ naive fit: < {bound:.2f}** (the naive fit was stopped after {timeout:,.0f} s; "
                     f"goal ≤ {GOAL_RATIO}: {'met' if met else 'not decided'}).")
    lines.append("")
    if cx and cx["stages"]:
        order = ["validate", "clean tables", *sorted(s for s in cx["stages"] if s.startswith("notebook:")), "render"]
        order += [s for s in cx["stages"] if s not in order]
        source = "its progress lines, the stages that finished" if cx["failed"] else "manifest"
        lines.append(f"`cx run` stages ({source}; sections run concurrently, so they add up to more than the wall): "
                     + ", ".join(f"{s.removeprefix('notebook:')} {cx['stages'][s]:,.1f} s" for s in order if s in cx["stages"])
                     + ".")
        lines.append("")
    if child:
        lines.append(
            f"Naive fit phases: imports {child['imports_s']:.1f} s, `read_csv` {child['read_s']:.1f} s, intervals "
            f"{child['build_s']:.1f} s, `CoxTimeVaryingFitter.fit` {child['fit_s']:.1f} s (Python start-up and exit "
            f"make up the rest of the wall). Interval table: {child['rows']:,} customer-month rows for "
            f"{child['customers']:,} customers, {child['events']:,} churn events at {child['unique_event_times']:,} "
            f"distinct tenure days, {len(child['covariates'])} covariates (per touchpoint: contacts so far and "
            "running mean CSAT at the interval start; segment, plan, region dummies; monthly revenue).")
        hr = child["hazard_ratios"]
        lines.append("Hazard ratios: " + ", ".join(f"{k} {v:.3g}" for k, v in hr.items()) + ".")
    elif naive["timed_out"]:
        lines.append("The naive fit did not finish; its phases until then are in the benchmark's log.")
    lines.append("")
    return "\n".join(lines), met


def write_section(path: Path, section: str) -> None:
    """Append ``section`` to ``path``, replacing a section whose title matches up to the date."""
    title = section.splitlines()[0].split(" (issue 14")[0]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    parts = re.split(r"(?m)^(?=## )", text)
    kept = [p for p in parts if not p.startswith(title + " ")]
    text = "".join(kept).rstrip("\n")
    path.write_text((text + "\n\n" if text else "") + section.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--naive-timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds after which the naive fit is stopped and reported as '> timeout'")
    ap.add_argument("--skip-cx", action="store_true", help="only the naive fit (no ratio)")
    ap.add_argument("--cell-timeout", type=int, default=None,
                    help="cell_timeout_seconds of the cx run (default: the params default, 1800)")
    ap.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="markdown file the section is written into")
    ap.add_argument("--naive-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.naive_child:
        return naive_child(args.naive_child)
    rb = _shared()
    folder = ensure_csv(args.customers)
    files = describe(folder)
    info = rb.machine()
    print(json.dumps({"cores": info["cores"], "load": info["load"], "files": files}), flush=True)
    cx = None if args.skip_cx else run_cx(folder, args.customers, args.cell_timeout)
    naive = run_naive(folder, args.naive_timeout)
    section, met = markdown(args.customers, files, info, cx, naive, args.naive_timeout)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"naive_{rb.label(args.customers)}.json").write_text(
        json.dumps({"machine": info, "files": files, "cx": cx, "naive": naive}, indent=2, default=str))
    write_section(args.output, section)
    print(section)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
