"""Benchmark: key-driver analysis with bootstrap intervals at survey scale.

Times :func:`cxlib.analyses.drivers.key_drivers` (OLS HC3 + exact general dominance and its bootstrap,
:mod:`cxlib.stats.dominance`) on simulated survey responses and reports wall time and the process's peak resident memory. The target of
issue 5 is 6 drivers x 50,000 responses x 500 replicates within 60 s.

Usage::

    .venv/bin/python benchmarks/bench_drivers.py [--responses 50000] [--drivers 6] [--bootstrap 500]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from cxlib.analyses.drivers import key_drivers


def simulate(n: int, k: int, seed: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """Correlated 1–5 ratings (a shared factor), NPS a noisy linear function of them, ~3 % missing.

    Examples
    --------
    >>> df, names = simulate(100, 3)
    >>> names, df.shape
    (['sat_0', 'sat_1', 'sat_2'], (100, 4))
    """
    rng = np.random.default_rng(seed)
    latent = 0.5 * rng.standard_normal((n, 1)) + rng.standard_normal((n, k))
    ratings = np.digitize(latent, [-1.5, -0.5, 0.5, 1.5]) + 1.0
    weights = np.linspace(1.2, 0.2, k)
    nps = np.clip(np.round(5.5 + (ratings - 3) @ weights + rng.normal(0, 0.8, n)), 0, 10)
    ratings[rng.random((n, k)) < 0.03] = np.nan
    names = [f"sat_{j}" for j in range(k)]
    return pd.DataFrame(ratings, columns=names).assign(nps=nps), names


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit code 1 when it takes longer than 60 s.

    Examples
    --------
    >>> main(["--responses", "2000", "--drivers", "3", "--bootstrap", "20"])  # doctest: +ELLIPSIS
    key_drivers: 3 drivers x 2,000 responses (1,822 complete), 20 bootstrap replicates...
    0
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=50_000)
    ap.add_argument("--drivers", type=int, default=6)
    ap.add_argument("--bootstrap", type=int, default=500)
    args = ap.parse_args(argv)
    df, names = simulate(args.responses, args.drivers)
    start = time.perf_counter()
    res = key_drivers(df, names, bootstrap=args.bootstrap, seed=20240101)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"key_drivers: {args.drivers} drivers x {args.responses:,} responses ({res.n_used:,} complete), "
          f"{args.bootstrap} bootstrap replicates, importance {res.method}: {seconds:.2f} s, "
          f"peak RSS {peak_mb:.0f} MB")
    print(res.summary[["driver", "coefficient", "importance", "importance_ci_lower", "importance_ci_upper",
                       "rank_ci_lower", "rank_ci_upper"]].to_string(index=False))
    return 0 if seconds <= 60 else 1


if __name__ == "__main__":
    sys.exit(main())
