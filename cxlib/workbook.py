"""What a report notebook needs, in one object: params, clean tables, result files, warnings.

Every notebook starts with::

    params_file = "../params/demo.yaml"   # papermill parameters cell
    run_dir = None
    wb = open_workbook(params_file, run_dir)

``run_dir`` is set by ``cx run`` (the run's staging folder); interactively it is None and
results stay in memory.

The analysis tables carry only the columns an analysis uses (the contract columns, ``segment``,
the ``covariates`` and the ``survey_drivers``): free-text or identifying columns of the input
files (comments, names, e-mail addresses) never reach a notebook, so no section can show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.text import display
from cxlib.ingest.read import CONTRACT, Tables, connect, load_tables
from cxlib.errors import DataError
from cxlib.params import RunParams, load_params, resolve_params_file
from cxlib.results import write_result
from cxlib.ingest.contract import ValidationReport, Validator

VALIDATION_FILE = "validation.json"
WARNINGS_FILE = "work/warnings.jsonl"  # under work/: read into the manifest, not published
CLEAN_DIR = "work/clean"  # the validated analysis tables, written once per DuckDB run
CLEAN_INDEX = "tables.json"  # in CLEAN_DIR: the input files and unused columns behind them
# Without declared touchpoints, the busiest this many are analysed (one model term each).
MAX_TOUCHPOINTS = 25


@dataclass
class Workbook:
    """Params, engine connection and the validated input tables of one run.

    Attributes
    ----------
    params : RunParams
    validation : ValidationReport
        Rows read and kept per table, and what was excluded and why.
    run_dir : Path or None
        Staging folder of a ``cx run``; None interactively.
    """

    params: RunParams
    con: Any
    validation: ValidationReport
    run_dir: Path | None
    files: dict[str, list[Path]]
    _tables: dict[str, ir.Table] = field(repr=False)
    unused: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _touchpoints: list[str] | None = field(default=None, init=False, repr=False)
    results: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    # ---- tables ---------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table | None:
        """A clean input table (Ibis expression), or None when it is not configured."""
        return self._tables.get(name)

    @property
    def customers(self) -> ir.Table:
        return self._tables["customers"]

    @property
    def interactions(self) -> ir.Table | None:
        return self._tables.get("interactions")

    @property
    def surveys(self) -> ir.Table | None:
        return self._tables.get("surveys")

    def require(self, *names: str) -> bool:
        """True when every named table is present; otherwise show a note saying what is missing."""
        missing = [n for n in names if n not in self._tables]
        if missing:
            display.callout(
                "This section needs the {tables} table(s), which this run does not have "
                "(set data.{first} in the params file to include it).",
                kind="info",
                tables=", ".join(missing),
                first=missing[0],
            )
        return not missing

    def touchpoints(self) -> list[str]:
        """Touchpoints to analyse: those declared in params, else the busiest in the data — at most
        ``MAX_TOUCHPOINTS``, each with at least ``min_cell_size`` interactions (a rarer one could
        only be suppressed, and would break the models as a near-constant exposure).

        The data-quality section warns when the data hold touchpoints that are not analysed.
        """
        if self.params.touchpoints:
            return list(self.params.touchpoints)
        if self.interactions is None:
            return []
        if self._touchpoints is None:  # one query per workbook: every section asks more than once
            t = self.interactions
            counts = (t.group_by("touchpoint").aggregate(n=t.count())
                      .filter(ibis._.n >= self.params.min_cell_size)
                      .order_by([ibis.desc("n"), "touchpoint"]).limit(MAX_TOUCHPOINTS))
            self._touchpoints = counts.execute()["touchpoint"].tolist()
        return list(self._touchpoints)

    # ---- outputs --------------------------------------------------------------------------
    def write_result(self, name: str, df: pd.DataFrame) -> None:
        """Keep a result table, and write ``results/<name>.csv`` when running under ``cx run``."""
        self.results[name] = df
        if self.run_dir is not None:
            write_result(self.run_dir / "results", name, df)

    def warn(self, text: str, **values: Any) -> None:
        """Show a warning in the section and record it for the report's index page."""
        display.callout(text, kind="warning", **values)
        if self.run_dir is not None:
            message = text.format(**{k: str(v) for k, v in values.items()}) if values else text
            path = self.run_dir / WARNINGS_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"message": message}) + "\n")

    def cached(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """Compute a small table once per run and share it between notebooks (Parquet in the run folder)."""
        if self.run_dir is None:
            if name not in self.results:
                self.results[name] = compute()
            return self.results[name]
        path = self.run_dir / "work" / f"{name}.parquet"
        if path.exists():
            return pd.read_parquet(path)
        df = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False)
        return df

    @property
    def period_label(self) -> str:
        return f"data up to {self.params.as_of:%d %B %Y}"


def analysis_columns(name: str, columns: list[str], params: RunParams) -> list[str]:
    """The columns of input table ``name`` that analyses use, in file order.

    Examples
    --------
    >>> from cxlib.params import load_params, DEFAULT_PARAMS
    >>> analysis_columns("surveys", ["customer_id", "timestamp", "nps", "comment", "sat_app"], load_params(DEFAULT_PARAMS))
    ['customer_id', 'timestamp', 'nps', 'sat_app']
    """
    keep = set(CONTRACT[name])
    if name == "customers":
        keep |= {"segment", *params.covariates}
    elif name == "surveys":
        keep |= set(params.survey_drivers)
    return [c for c in columns if c in keep]


def unused_columns(files_columns: dict[str, list[str]], params: RunParams) -> dict[str, list[str]]:
    """Per table, the input columns that no analysis reads (and no section shows)."""
    return {name: [c for c in cols if c not in analysis_columns(name, cols, params)]
            for name, cols in files_columns.items()}


def _narrowed(cleaned: dict[str, ir.Table], params: RunParams) -> dict[str, ir.Table]:
    """The clean tables narrowed to the columns an analysis reads."""
    return {name: t.select(*analysis_columns(name, list(t.columns), params)) for name, t in cleaned.items()}


def write_clean_tables(validator: Validator, params: RunParams, run_dir: Path) -> dict[str, int]:
    """Write the analysis tables once, as Parquet under ``run_dir/work/clean``; bytes per table.

    On DuckDB every section then scans these files instead of reading the inputs again and
    re-applying the validation (its joins and windows) in each of its queries. Other engines keep
    their own cache: a cluster cannot read the run's local folder.
    """
    tables = validator.tables
    if tables.con.name != "duckdb":
        return {}
    target = run_dir / CLEAN_DIR
    target.mkdir(parents=True, exist_ok=True)
    cleaned = validator.clean_tables()
    sizes = {}
    for name, t in _narrowed(cleaned, params).items():
        path = target / f"{name}.parquet"
        tables.con.to_parquet(t, path)  # snappy: a scratch copy, fast to write and scan
        sizes[name] = path.stat().st_size
    index = {"files": {name: [str(f) for f in files] for name, files in tables.files.items()},
             "unused": unused_columns({name: list(t.columns) for name, t in cleaned.items()}, params)}
    (target / CLEAN_INDEX).write_text(json.dumps(index), encoding="utf-8")  # last: marks the set complete
    return sizes


def _open_clean_tables(params: RunParams, run_path: Path) -> Workbook:
    """The workbook of a ``cx run`` section on the clean tables the run wrote (no input is read)."""
    index = json.loads((run_path / CLEAN_DIR / CLEAN_INDEX).read_text(encoding="utf-8"))
    report = ValidationReport.from_dict(json.loads((run_path / VALIDATION_FILE).read_text()))
    con = connect(params.engine)
    clean = {name: con.read_parquet(run_path / CLEAN_DIR / f"{name}.parquet", table_name=f"clean_{name}")
             for name in index["files"]}
    files = {name: [Path(f) for f in paths] for name, paths in index["files"].items()}
    return Workbook(params=params, con=con, validation=report, run_dir=run_path, files=files,
                    _tables=clean, unused=index["unused"])


def _materialize(con: Any, tables: dict[str, ir.Table], files: dict[str, list[Path]]) -> dict[str, ir.Table]:
    """CSV inputs are parsed once into engine tables; Parquet stays a lazy scan on DuckDB.

    Spark caches every clean table (memory, spilling to disk) on first use: it would otherwise
    re-run the validation joins and windows in every query, ten times slower per query."""
    out = {}
    for name, t in tables.items():
        if con.name != "duckdb":
            out[name] = t.cache()
        elif all(f.suffix.lower() in (".parquet", ".pq") for f in files[name]):
            out[name] = t
        else:
            out[name] = con.create_table(f"clean_{name}", t, temp=True, overwrite=True)
    return out


def open_workbook(params_file: str | Path | None = None, run_dir: str | Path | None = None,
                  params: RunParams | None = None) -> Workbook:
    """Load params, connect the engine, validate (or reuse the run's validation) and open the tables.

    Parameters
    ----------
    params_file : str or Path, optional
        The run's params YAML; defaults to ``params/demo.yaml``. Relative paths are tried
        against the working directory, then the project's ``notebooks/`` folder.
    run_dir : str or Path, optional
        The staging folder of a ``cx run`` (set by papermill).
    params : RunParams, optional
        Already-loaded params (skips reading ``params_file``).

    Examples
    --------
    >>> wb = open_workbook("params/demo.yaml")      # doctest: +SKIP
    >>> wb.customers.count().execute()              # doctest: +SKIP
    10000
    """
    if params is None:
        params = load_params(resolve_params_file(params_file))
    run_path = Path(run_dir) if run_dir else None
    from cxlib.plots import set_theme

    set_theme()
    if run_path is not None and (run_path / CLEAN_DIR / CLEAN_INDEX).exists():
        return _open_clean_tables(params, run_path)
    tables: Tables = load_tables(params)
    validator = Validator(tables)
    saved = run_path / VALIDATION_FILE if run_path else None
    if saved is not None and saved.exists():
        report = ValidationReport.from_dict(json.loads(saved.read_text()))
    else:
        report = validator.report()
        if not report.ok:
            raise DataError(report.message())
    cleaned = validator.clean_tables()
    clean = _materialize(tables.con, _narrowed(cleaned, params), tables.files)
    unused = unused_columns({name: list(t.columns) for name, t in cleaned.items()}, params)
    return Workbook(params=params, con=tables.con, validation=report, run_dir=run_path, files=tables.files,
                    _tables=clean, unused=unused)
