"""The ``cx`` command: ``run``, ``pdf``, ``validate``, ``demo-data``, ``example``, ``lab``.

User errors (bad params, bad data, an existing run) print one paragraph and exit non-zero,
without a Python traceback. Exit codes are listed in README.md and docs/operations.md.

Scheduled runs take a base params file and a quarter: ``cx run params/quarterly.yaml --quarter
previous`` sets ``as_of`` to the last day of the quarter that ended most recently and ``run_id``
to ``<base run_id>-<YYYYQn>``, so no file is edited by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from cxlib.errors import CxError
from cxlib.params import PROJECT_ROOT, RunParams, load_params
from cxlib.periods import parse_quarter
from cxlib.run.kernel import KERNEL_NAME

EXIT_OK = 0
EXIT_INTERRUPTED = 130  # Ctrl-C outside a run (a run itself stops with exit code 4)


def quarter_overrides(params_file: str, spec: str, today: dt.date | None = None) -> dict[str, object]:
    """``as_of`` and ``run_id`` for a quarterly run of a base params file.

    Examples
    --------
    >>> from cxlib.params import DEFAULT_PARAMS
    >>> quarter_overrides(str(DEFAULT_PARAMS), "2026Q3")
    {'as_of': datetime.date(2026, 9, 30), 'run_id': 'demo-2026Q3'}
    """
    label, as_of = parse_quarter(spec, today)
    base = load_params(params_file, overrides={"as_of": as_of})  # the base file may leave as_of out
    return {"as_of": as_of, "run_id": f"{base.run_id}-{label}"}


def _load(params_file: str, quarter: str | None = None, demo_data: bool = True) -> RunParams:
    overrides = quarter_overrides(params_file, quarter) if quarter else None
    params = load_params(params_file, overrides=overrides)
    if quarter and params.as_of >= dt.date.today():
        print(f"note: quarter {quarter} has not ended yet; the report covers data up to {params.as_of}.",
              file=sys.stderr)
    if demo_data:
        _ensure_demo_data(params)
    return params


def _ensure_demo_data(params: RunParams) -> None:
    """A params file with a ``demo:`` block generates its data on first use, and again whenever
    the requested size, seed or the generator's code differ from what made the files."""
    if params.demo is None:
        return
    import hashlib
    import json

    from cxlib.demo import causes, synthetic, truth

    paths = [Path(p) for t in ("customers", "interactions", "surveys") if (p := params.path(t))]
    target = paths[0].parent
    generator = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (truth, causes, synthetic)))
    spec = {"customers": params.demo.customers, "seed": params.demo.seed, "generator": generator.hexdigest()[:16]}
    stamp = target / ".demo-spec.json"
    if all(p.exists() for p in paths) and stamp.exists() and json.loads(stamp.read_text()) == spec:
        return
    print(f"generating demo data ({params.demo.customers:,} customers, seed {params.demo.seed}) in {target} ...",
          file=sys.stderr)
    synthetic.write_demo_data(target, n_customers=params.demo.customers, seed=params.demo.seed)
    stamp.write_text(json.dumps(spec))


def cmd_validate(args: argparse.Namespace) -> int:
    """``cx validate``: check params and data against the contract (exit 0 valid, 3 invalid).

    Examples
    --------
    >>> main(["validate", "params/demo.yaml"])   # doctest: +SKIP
    OK: params/demo.yaml (customers: 10,000 rows, interactions: 431,102 rows, surveys: 7,969 rows).
    0
    """
    from cxlib.ingest.contract import Validator
    from cxlib.ingest.read import load_tables

    params = _load(args.params, args.quarter)
    report = Validator(load_tables(params)).report()
    if report.n_violations or report.fatal:
        print(report.message(), file=sys.stderr)
    rows = ", ".join(f"{t}: {n:,} rows" for t, n in report.rows_read.items())
    if not report.ok:
        print(f"INVALID: {args.params} ({rows}).", file=sys.stderr)
        return 3
    verdict = "OK" if not report.n_violations else f"OK with {report.n_violations:,} row(s) to exclude"
    print(f"{verdict}: {args.params} ({rows}).")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``cx run``: validate, run every section and publish the report.

    Examples
    --------
    >>> main(["run", "params/demo.yaml", "--force"])   # doctest: +SKIP
    published .../reports/demo/index.html in 84.2 s
    0
    """
    from cxlib.run.publish import check_output_dir
    from cxlib.run.runner import run_report, section_notebooks

    params = _load(args.params, args.quarter, demo_data=False)
    output_dir = Path(args.output_dir).resolve()
    check_output_dir(output_dir, output_dir / params.run_id, args.force)  # before generating or reading any data
    _ensure_demo_data(params)
    notebooks = section_notebooks(Path(args.notebooks_dir)) if args.notebooks_dir else None
    start = time.perf_counter()
    final = run_report(params, Path(args.output_dir), force=args.force, notebooks=notebooks, pdf=args.pdf)
    print(f"published {final / 'index.html'} in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


def cmd_pdf(args: argparse.Namespace) -> int:
    """``cx pdf RUN_DIR``: print a published run's index and every section into one PDF.

    Exit 6 when no Chromium is installed (the message names the package), 7 when printing failed.

    Examples
    --------
    >>> main(["pdf", "reports/demo"])   # doctest: +SKIP
    wrote reports/demo/demo.pdf (23 pages: index.html 1-2, 00_data_quality.html 3-5, ...)
    0
    """
    from cxlib.run.pdf import PdfError, print_pdf

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise PdfError(f"{run_dir} is not a folder: give a published run folder such as reports/demo.")
    start = time.perf_counter()
    printed = print_pdf(run_dir, Path(args.output) if args.output else None)
    parts = ", ".join(f"{name} {first}" + (f"-{first + n - 1}" if n > 1 else "") for name, first, n in printed.parts)
    print(f"wrote {printed.path} ({printed.pages} pages: {parts}) in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


def cmd_demo_data(args: argparse.Namespace) -> int:
    """``cx demo-data DIR``: write the synthetic demo data set.

    Examples
    --------
    >>> main(["demo-data", "data/demo", "--customers", "2000"])   # doctest: +SKIP
    customers: data/demo/customers.parquet
    ...
    0
    """
    from cxlib.demo.synthetic import write_demo_data

    start = time.perf_counter()
    paths = write_demo_data(Path(args.dir), n_customers=args.customers, seed=args.seed, fmt=args.format)
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(f"generated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return EXIT_OK


def cmd_example(args: argparse.Namespace) -> int:
    """``cx example telco DIR``: a public data set in the input contract, with its params file.

    Examples
    --------
    >>> main(["example", "telco", "data/telco"])   # doctest: +SKIP
    wrote data/telco/telco.yaml; run it with: cx run data/telco/telco.yaml
    0
    """
    from cxlib.demo.telco import write_example

    params_file = write_example(args.name, Path(args.dir))
    print(f"wrote {params_file}; run it with: cx run {params_file}")
    return EXIT_OK


def lab_command(jupyter_args: list[str] | None = None, kernel: str = KERNEL_NAME) -> list[str]:
    """The command ``cx lab`` runs: JupyterLab on the project with the project's kernel.

    ``--allow-root`` is added when the effective user is root (containers often are): Jupyter
    otherwise exits at once with "Running as root is not recommended".

    Examples
    --------
    >>> argv = lab_command(["--no-browser"])
    >>> argv[1:3], argv[-1], ("--allow-root" in argv) == (os.geteuid() == 0)
    (['-m', 'jupyterlab'], '--no-browser', True)
    """
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={PROJECT_ROOT}",
            "--LabApp.default_url=/lab/tree/notebooks", f"--MappingKernelManager.default_kernel_name={kernel}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return [*argv, *(jupyter_args or [])]


def cmd_lab(args: argparse.Namespace) -> int:
    """``cx lab``: JupyterLab on the notebooks (replaces this process).

    Examples
    --------
    >>> main(["lab", "--no-browser", "--port", "8899"])   # doctest: +SKIP
    """
    from cxlib.params import DEFAULT_PARAMS
    from cxlib.run.kernel import ensure_kernel

    _load(str(DEFAULT_PARAMS))  # the notebooks' default params must have their data for Run All
    os.execv(sys.executable, lab_command(args.jupyter_args, ensure_kernel()))
    return EXIT_OK  # pragma: no cover - execv does not return


def build_parser() -> argparse.ArgumentParser:
    """The ``cx`` command line.

    Examples
    --------
    >>> build_parser().parse_args(["run", "params/demo.yaml", "--force"]).force
    True
    """
    parser = argparse.ArgumentParser(prog="cx", description="CX Workbook: quarterly customer-experience reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="validate, run every notebook and publish the HTML report")
    p.add_argument("params", help="params YAML file, e.g. params/demo.yaml")
    p.add_argument("--output-dir", default=str(PROJECT_ROOT / "reports"), help="where runs are published (default: reports/)")
    p.add_argument("--force", action="store_true", help="replace an existing run with the same run_id")
    p.add_argument("--quarter", metavar="YYYYQn|previous",
                   help="set as_of to the quarter's last day and run_id to <run_id>-YYYYQn")
    p.add_argument("--pdf", action="store_true",
                   help="also print the index and every section into <run_id>.pdf (needs Chromium)")
    # Tests and notebook authors point a run at other section notebooks.
    p.add_argument("--notebooks-dir", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("pdf", help="print a published run (index and every section) into one PDF")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a published run folder, e.g. reports/demo")
    p.add_argument("--output", metavar="FILE", help="where the PDF goes (default: RUN_DIR/<run_id>.pdf)")
    p.set_defaults(func=cmd_pdf)

    p = sub.add_parser("validate", help="check params and data against the contract")
    p.add_argument("params")
    p.add_argument("--quarter", metavar="YYYYQn|previous", help="as for cx run")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("example", help="convert a public data set into the input contract, with a params file")
    p.add_argument("name", choices=["telco"], help="telco: IBM's Telco customer churn sample (needs the 'examples' extra)")
    p.add_argument("dir", help="where the data files go")
    p.set_defaults(func=cmd_example)

    p = sub.add_parser("lab", help="open JupyterLab on the notebooks with the project's kernel")
    p.epilog = "Any further option (e.g. --no-browser, --port 8899) is passed on to jupyter lab."
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("demo-data", help="write the synthetic demo data set")
    p.add_argument("dir")
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.set_defaults(func=cmd_demo_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cx`` with ``argv``; return the exit code (a user error prints one paragraph, no traceback).

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = main(["run", "missing.yaml"])
    >>> code, err.getvalue().split(":")[0]
    (2, 'cx run')
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "lab":
        args.jupyter_args = [a for a in extra if a != "--"]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except CxError as exc:
        print(f"cx {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"cx {args.command}: interrupted; nothing was published.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
