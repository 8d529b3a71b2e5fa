"""Benchmark: the covariate Cox models of 02_retention on one row per customer, at scale.

For each size it runs, each in a fresh subprocess (its own peak resident memory from
``getrusage(RUSAGE_SELF)`` at its end, DuckDB's threads included, and its wall and CPU time):

* ``fetch``: the reference — the customer frame the models need, built by the engine and fetched
  (``cxlib.analyses.hazards._customer_frame``, with churn causes): what reading the data costs;
* ``cxlib``: what 02_retention runs — ``fit_covariate_models`` (model ``covariates``, its
  proportional-hazards check, the stratified refit) and ``fit_covariate_cause_models`` (one model
  per churn cause), on :mod:`cxlib.stats.partial_likelihood`;
* ``lifelines``: the same four models with lifelines' ``CoxPHFitter`` (Efron), which the package
  used before issue 14's session 6, on the fetched frame — the fits only (no concordance, no
  proportional-hazards check) — and the largest coefficient difference from ``cxlib``'s. Skipped
  above ``--lifelines-max`` customers: at 10M the retention kernel held 11 GB 100 s into them.

The input is the demo data sets of ``benchmarks/data`` (see ``bench_touchpoints.ensure_data``) read
as engine tables; covariates and causes are the demo params'.

Usage::

    .venv/bin/python benchmarks/bench_cox.py [--sizes 1000000 10000000] [--lifelines-max 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_touchpoints import data_dir, ensure_data

AS_OF = dt.date(2026, 9, 30)
COVARIATES = ["segment", "plan", "region", "monthly_revenue"]
CAUSES = {"voluntary": ["price", "competitor", "service"], "involuntary": ["non_payment", "moved", "deceased"]}


def _inputs(customers: int):
    import ibis

    from cxlib.analyses.hazards import covariate_table
    from cxlib.features.customers import covariates_from_frame

    con = ibis.duckdb.connect()
    table = con.read_parquet(str(data_dir(customers) / "customers.parquet"))
    return table, covariates_from_frame(covariate_table(table, COVARIATES, 4))


def step(name: str, customers: int) -> dict:
    """Run one step in this process and return its figures."""
    from cxlib.analyses import causes, hazards
    from cxlib.stats.competing import cause_lookup

    table, covariates = _inputs(customers)
    start, cpu = time.perf_counter(), time.process_time()
    out: dict = {"step": name, "customers": customers}
    if name == "fetch":
        frame, _ = hazards._customer_frame(table, AS_OF, covariates, causes=cause_lookup(CAUSES))
        out["rows"] = len(frame)
    elif name == "cxlib":
        models = hazards.fit_covariate_models(table, covariates, as_of=AS_OF, ph_sample=5000, seed=20240101)
        by_cause = causes.fit_covariate_cause_models(table, covariates, as_of=AS_OF, churn_causes=CAUSES,
                                                     min_events=10)
        out["coef"] = dict(zip(models.cox.summary["term"], models.cox.summary["coef"]))
        out["stratified_on"] = list(models.ph.violated)
        out["cause_models"] = sorted(by_cause.models)
    else:
        import warnings

        from lifelines import CoxPHFitter

        from cxlib.stats.design import design_matrix

        frame, _ = hazards._customer_frame(table, AS_OF, covariates, causes=cause_lookup(CAUSES))
        X = design_matrix(frame, covariates)
        data = X.assign(duration=frame["duration_days"].clip(lower=0.5), churned=frame["churned"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(data, "duration", "churned")
            for cause in CAUSES:
                CoxPHFitter().fit(data.assign(churned=(frame["cause"] == cause).astype(int)), "duration", "churned")
        out["coef"] = dict(fit.params_)
    out["wall_s"] = round(time.perf_counter() - start, 2)
    out["cpu_s"] = round(time.process_time() - cpu, 2)
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--lifelines-max", type=int, default=1_000_000)
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.customers)))
        return
    rows = []
    for n in args.sizes:
        ensure_data(n)
        for name in ("fetch", "cxlib", "lifelines"):
            if name == "lifelines" and n > args.lifelines_max:
                continue
            done = subprocess.run([sys.executable, __file__, "--step", name, "--customers", str(n)],
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "coef"}), flush=True)
        by = {r["step"]: r for r in rows if r["customers"] == n}
        ratio = by["cxlib"]["wall_s"] / by["fetch"]["wall_s"]
        line = f"{n:,} customers: models {by['cxlib']['wall_s']} s = {ratio:.1f}x the fetch ({by['fetch']['wall_s']} s)"
        if "lifelines" in by:
            diff = max(abs(by["cxlib"]["coef"][k] - v) for k, v in by["lifelines"]["coef"].items())
            line += (f"; lifelines {by['lifelines']['wall_s']} s, {by['lifelines']['peak_rss_gib']} GiB "
                     f"(cxlib {by['cxlib']['peak_rss_gib']} GiB); largest coefficient difference {diff:.1e}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
