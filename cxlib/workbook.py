"""What a report notebook needs, in one object: params, clean tables, result files, warnings.

Every notebook starts with::

    params_file = "../params/demo.yaml"   # papermill parameters cell
    run_dir = None
    wb = open_workbook(params_file, run_dir)

``run_dir`` is set by ``cx run`` (the run's staging folder); interactively it is None and
results stay in memory. The tables come from :mod:`cxlib.ingest.clean` (only the columns an
analysis reads); the run folder's layout is :mod:`cxlib.run.layout`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.ingest.clean import (
    CleanTables,
    clean_tables,
    has_clean_tables,
    read_clean_tables,
)
from cxlib.ingest.contract import ValidationReport
from cxlib.params import RunParams, load_params, resolve_params_file
from cxlib.results import read_result, write_result
from cxlib.run.compare import PreviousRun, changes_since_last_run, recorded_previous
from cxlib.run.layout import RunFolder
from cxlib.text import display
from cxlib.text.changes import change_rows, change_sentences, since_sentence
from cxlib.text.format import MAX_VALUE_CHARS, short
from cxlib.text.names import plain_text

# Without declared touchpoints, the busiest this many are analysed (one model term each).
MAX_TOUCHPOINTS = 25


@dataclass
class Workbook:
    """Params, engine connection and the clean input tables of one run.

    Attributes
    ----------
    params : RunParams
    con : ibis backend
    validation : ValidationReport
        Rows read and kept per table, and what was excluded and why.
    run_dir : Path or None
        Staging folder of a ``cx run``; None interactively.
    files : dict of str to list of Path
        The input files behind each table.
    tables : dict of str to ibis Table
        The clean analysis tables of the configured inputs.
    unused : dict of str to list of str
        Per table, the input columns no analysis reads (never shown).
    duplicates : dict of str to int
        Exact duplicate rows per table checked (``interactions``), counted before any is dropped.
    results : dict of str to DataFrame
        The result tables written so far, and (interactively) the cached ones.

    Examples
    --------
    >>> import ibis
    >>> from cxlib.params import DEFAULT_PARAMS, load_params
    >>> customers = ibis.memtable({"customer_id": ["a", "b"]})
    >>> wb = Workbook(params=load_params(DEFAULT_PARAMS), con=None, validation=None, run_dir=None, files={},
    ...               tables={"customers": customers})
    >>> wb.customers.count().execute(), wb.surveys is None
    (2, True)
    >>> wb.write_result("counts", pd.DataFrame({"n": [2]}))
    >>> wb.results["counts"]["n"].tolist()
    [2]
    """

    params: RunParams
    con: Any
    validation: ValidationReport
    run_dir: Path | None
    files: dict[str, list[Path]]
    tables: dict[str, ir.Table] = field(repr=False)
    unused: dict[str, list[str]] = field(default_factory=dict, repr=False)
    duplicates: dict[str, int] = field(default_factory=dict, repr=False)
    _touchpoints: list[str] | None = field(default=None, init=False, repr=False)
    results: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    records: dict[str, dict] = field(default_factory=dict, repr=False)

    # ---- tables ---------------------------------------------------------------------------
    @property
    def run(self) -> RunFolder | None:
        """The run folder being built (None interactively)."""
        return RunFolder(self.run_dir) if self.run_dir is not None else None

    def table(self, name: str) -> ir.Table | None:
        """A clean input table (Ibis expression), or None when it is not configured."""
        return self.tables.get(name)

    @property
    def customers(self) -> ir.Table:
        """The clean customers table."""
        return self.tables["customers"]

    @property
    def interactions(self) -> ir.Table | None:
        """The clean interactions table, None when the run has none."""
        return self.tables.get("interactions")

    @property
    def surveys(self) -> ir.Table | None:
        """The clean surveys table, None when the run has none."""
        return self.tables.get("surveys")

    def require(self, *names: str) -> bool:
        """True when every named table is present; otherwise show a note saying what is missing."""
        missing = [n for n in names if n not in self.tables]
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
        if self.run is not None:
            write_result(self.run.results, name, df)

    def warn(self, text: str, **values: Any) -> None:
        """Show a warning in the section and record it for the report's index page."""
        display.callout(text, kind="warning", **values)
        if self.run is not None:  # recorded as shown: values cut, bidi controls removed (the index page lists it)
            shown = {k: short(plain_text(v), MAX_VALUE_CHARS) for k, v in values.items()}
            self.run.add_warning(plain_text(text.format(**shown) if values else text))

    def record(self, name: str, data: dict) -> None:
        """Hand figures to the run's manifest (``name``: ``<key>`` or ``<key>.<part>``); kept in
        :attr:`records` interactively.

        Examples
        --------
        >>> from cxlib.params import DEFAULT_PARAMS, load_params
        >>> wb = Workbook(params=load_params(DEFAULT_PARAMS), con=None, validation=None, run_dir=None, files={}, tables={})
        >>> wb.record("disclosure.metrics", {"passed": True}); wb.records
        {'disclosure.metrics': {'passed': True}}
        """
        self.records[name] = data
        if self.run is not None:
            self.run.write_record(name, data)

    def previous_run(self) -> PreviousRun | None:
        """The run this run is compared with (:func:`cxlib.run.compare.previous_run`), None interactively.

        Examples
        --------
        >>> from cxlib.params import DEFAULT_PARAMS, load_params
        >>> Workbook(params=load_params(DEFAULT_PARAMS), con=None, validation=None, run_dir=None, files={},
        ...          tables={}).previous_run() is None
        True
        """
        return recorded_previous(self.run) if self.run is not None else None

    def previous_metrics(self) -> tuple[pd.DataFrame | None, dt.date | None]:
        """The previous run of the series' ``metrics.csv`` and ``as_of`` (:mod:`cxlib.run.compare`).

        ``(None, None)`` without a previous run, and interactively (there is no output folder).
        The disclosure release rule reads it (``docs/privacy.md``).
        """
        previous = self.previous_run()
        if previous is None:
            return None, None
        return read_result(previous.results, "metrics"), dt.date.fromisoformat(previous.as_of)

    def cached(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """``compute()`` once per run, shared between the sections (Parquet in the run's ``work/``).

        Interactively the table is kept in :attr:`results` for the session.

        Examples
        --------
        >>> from cxlib.params import DEFAULT_PARAMS, load_params
        >>> wb = Workbook(params=load_params(DEFAULT_PARAMS), con=None, validation=None, run_dir=None, files={}, tables={})
        >>> calls = []
        >>> compute = lambda: calls.append(1) or pd.DataFrame({"x": [1]})
        >>> _ = wb.cached("covariates", compute); _ = wb.cached("covariates", compute)
        >>> len(calls)
        1
        """
        if self.run is None:
            if name not in self.results:
                self.results[name] = compute()
            return self.results[name]
        path = self.run.cache(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sections run concurrently: the first to ask computes while the others wait on the lock,
        # then read its file (written under another name and renamed, so never seen half-written).
        with _file_lock(path.with_name(path.name + ".lock")):
            if path.exists():
                return pd.read_parquet(path)
            df = compute()
            partial = path.with_name(path.name + ".partial")
            df.to_parquet(partial, index=False)
            partial.replace(path)
        return df

    def since_last_run(self, *kinds: str) -> pd.DataFrame | None:
        """Say what changed since the previous run of the series, for the kinds of change this section wrote.

        Compares the result tables this run has written so far with the previous run's
        (:func:`cxlib.run.compare.changes_since_last_run`, the same rows the index page and
        ``results/changes_since_last_run.csv`` show). Shows nothing and returns None when the run has
        no previous run (or interactively, where there is no output folder).

        Parameters
        ----------
        *kinds : str
            ``metric``, ``target``, ``hazard_ratio``, ``attributable_churn``.

        Examples
        --------
        >>> from cxlib.params import DEFAULT_PARAMS, load_params
        >>> wb = Workbook(params=load_params(DEFAULT_PARAMS), con=None, validation=None, run_dir=None, files={}, tables={})
        >>> wb.since_last_run("metric", "target") is None  # interactively there is no previous run
        True
        """
        previous = recorded_previous(self.run) if self.run is not None else None
        if previous is None:
            return None
        changes = changes_since_last_run(previous.results, self.run.results, kinds=kinds)
        display.heading("Since the last run")
        display.sentence(" ".join([since_sentence(previous.run_id, previous.as_of), *change_sentences(changes, kinds)]))
        if len(changes):
            rows = pd.DataFrame(change_rows(changes)).drop(columns="kind").rename(columns={"item": "metric or term"})
            display.table(rows,
                          caption=f"What changed since run {previous.run_id} (previous and current value with 95% "
                                  "interval; also in results/changes_since_last_run.csv).")
        return changes

    @property
    def period_label(self) -> str:
        """``data up to <as_of>`` in words."""
        return f"data up to {self.params.as_of:%d %B %Y}"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes (``flock``; none where it does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: sections of one run may then compute twice
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def open_workbook(params_file: str | Path | None = None, run_dir: str | Path | None = None,
                  params: RunParams | None = None) -> Workbook:
    """Load params, connect the engine, validate (or reuse the run's validation) and open the tables.

    Under ``cx run`` the sections read the clean tables and validation the run wrote; otherwise
    the inputs are read and validated in this session.

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
    >>> import tempfile, ibis
    >>> db = Path(tempfile.mkdtemp()) / "crm.duckdb"
    >>> con = ibis.duckdb.connect(db)
    >>> _ = con.create_table("customers", pd.DataFrame({"customer_id": ["a", "b"],
    ...     "signup_date": ["2025-01-01", "2025-02-01"], "churn_date": ["", "2025-06-01"]}))
    >>> con.disconnect()
    >>> params = RunParams.model_validate({"run_id": "tiny", "as_of": "2025-09-30",
    ...     "data": {"customers": "table:customers"}, "engine": {"database": str(db)}})
    >>> wb = open_workbook(params=params)
    >>> wb.customers.count().execute(), wb.validation.rows_kept
    (2, {'customers': 2})
    """
    if params is None:
        params = load_params(resolve_params_file(params_file))
    run = RunFolder(Path(run_dir)) if run_dir else None
    from cxlib.plots import set_theme

    set_theme()
    saved = None
    if run is not None and run.validation.exists():
        saved = ValidationReport.from_dict(json.loads(run.validation.read_text(encoding="utf-8")))
    if run is not None and saved is not None and has_clean_tables(run.clean):
        clean: CleanTables = read_clean_tables(params, run.clean)
    else:
        clean, saved = clean_tables(params, saved)
    return Workbook(params=params, con=clean.con, validation=saved, run_dir=run.root if run else None,
                    files=clean.files, tables=clean.tables, unused=clean.unused, duplicates=clean.duplicates)
