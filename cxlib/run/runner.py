"""``cx run``: validate, write the clean tables, execute every section with papermill, render, publish.

A run is built in a staging folder and published atomically (:mod:`cxlib.run.publish`); the
folder's layout is :mod:`cxlib.run.layout`, the pages are rendered by :mod:`cxlib.run.render` and
the manifest written by :mod:`cxlib.run.manifest`. Any failure raises a
:class:`~cxlib.errors.CxError` with a user-facing message; a failed section is a
:class:`~cxlib.errors.RunError` naming the notebook, the cell and the error.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cxlib.errors import DataError, RunError
from cxlib.ingest.memory import MEMORY_SHARE_ENV
from cxlib.ingest.read import TEMP_DIRECTORY_ENV
from cxlib.params import PROJECT_ROOT, RunParams
from cxlib.run.compare import PreviousRun
from cxlib.run.kernel import (
    ensure_kernel,
    kill_kernels,
    log_tail,
    logged_kernel_manager,
    next_section,
)
from cxlib.run.layout import SECTION_ENV, RunFolder
from cxlib.run.manifest import RunRecord, write_manifest
from cxlib.run.progress import Progress
from cxlib.run.publish import (
    Interrupted,
    check_output_dir,
    make_staging,
    publish,
    remove_stale_staging,
    signals_raise,
)
from cxlib.run.render import notebook_title, render_html

if TYPE_CHECKING:  # imported where used: the engine's modules load only for a run
    from cxlib.ingest.contract import Validator

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
PARALLEL_ENV = "CX_PARALLEL_SECTIONS"
# the thread counts of the math libraries (OpenBLAS, MKL, OpenMP) numpy and scipy use in a kernel
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def section_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The report's sections: ``NN_<topic>.ipynb`` in name order (templates start with '_').

    Examples
    --------
    >>> [p.name for p in section_notebooks()][:2]
    ['00_data_quality.ipynb', '01_touchpoint_portfolio.ipynb']
    """
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def execution_error(exc: Exception, notebook: Path, kernel_log: Path | None = None) -> RunError:
    """The :class:`~cxlib.errors.RunError` for an exception papermill raised while running ``notebook``.

    papermill's ``PapermillExecutionError`` (a cell raised) names the cell and the error;
    nbclient's ``DeadKernelError`` (the kernel was killed or crashed) quotes the kernel's last log
    lines; its ``CellTimeoutError`` points at ``cell_timeout_seconds``.

    Examples
    --------
    >>> from papermill.exceptions import PapermillExecutionError
    >>> exc = PapermillExecutionError(cell_index=3, exec_count=2, source="fit()", ename="ValueError",
    ...                               evalue="boom in the model", traceback=[])
    >>> err = execution_error(exc, Path("02_retention.ipynb"))
    >>> err.notebook, err.cell, err.ename, err.evalue
    ('02_retention.ipynb', 2, 'ValueError', 'boom in the model')
    >>> print(err)                      # doctest: +ELLIPSIS
    Notebook 02_retention.ipynb failed in cell 2: ValueError: boom in the model. The run was abandoned; ...
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    name = notebook.name
    if isinstance(exc, DeadKernelError):
        tail = log_tail(kernel_log) if kernel_log else ""
        return RunError(f"Notebook {name}: the kernel died while running (killed by a signal, out of "
                        "memory, or a crash in compiled code). The run was abandoned; nothing was published and "
                        "earlier reports are untouched. Check memory use (engine.memory_limit, the machine's "
                        "limits), then rerun." + (f" Kernel output: {tail}" if tail else ""),
                        notebook=name, ename=type(exc).__name__)
    if isinstance(exc, CellTimeoutError):
        return RunError(f"Notebook {name}: a cell exceeded cell_timeout_seconds. "
                        "Raise cell_timeout_seconds in the params file or reduce the data.",
                        notebook=name, ename=type(exc).__name__)
    if isinstance(exc, PapermillExecutionError):
        cell = exc.exec_count if exc.exec_count is not None else exc.cell_index
        ename, evalue = exc.ename, str(exc.evalue)
        if not evalue.strip():  # a bare ``assert``: where it was raised is all there is to say
            evalue = raised_at(exc.traceback or [])
    else:  # the kernel could not start, a broken notebook file, ...
        cell, ename = None, type(exc).__name__
        evalue = str(exc).splitlines()[0] if str(exc) else ""
    where = f"cell {cell}" if cell is not None else "a cell"
    return RunError(f"Notebook {name} failed in {where}: {ename}: {evalue.rstrip('.')}. "
                    "The run was abandoned; earlier reports are untouched. Open the notebook in JupyterLab "
                    "with the same params file to investigate.",
                    notebook=name, cell=cell, ename=ename, evalue=evalue)


def raised_at(traceback: list[str]) -> str:
    r"""Where the innermost frame of a kernel's traceback (IPython's coloured frames) was, or ''.

    Examples
    --------
    >>> raised_at(["\x1b[31mAssertionError\x1b[39m  Traceback (most recent call last)",
    ...            "Cell In[4], line 2\n----> 2 fit()",
    ...            "File \x1b[32m/ibis/backends/pyspark/__init__.py:788\x1b[39m, in "
    ...            "\x1b[36mBackend._create_cached_table\x1b[39m(self, name, expr)\n----> 788 assert t.is_cached",
    ...            "\x1b[31mAssertionError\x1b[39m: "])
    'raised at /ibis/backends/pyspark/__init__.py:788, in Backend._create_cached_table(self, name, expr)'
    """
    frames = [re.sub(r"\x1b\[[0-9;]*m", "", f).strip().splitlines() for f in traceback]
    heads = [f[0] for f in frames if f and f[0].startswith(("File ", "Cell "))]
    return f"raised at {heads[-1].removeprefix('File ')}" if heads else ""


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of a failed write: the OS's, and DuckDB's own (it reports a full disk as IOException)."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a core dependency
        return (OSError,)
    return (OSError, duckdb.IOException)


def write_error(exc: BaseException, output_dir: Path) -> RunError:
    """The :class:`~cxlib.errors.RunError` for a write that failed outside a notebook (a full disk while
    rendering, writing the manifest or publishing): one paragraph naming the file, no traceback.

    Examples
    --------
    >>> err = write_error(OSError(errno.ENOSPC, "No space left on device", "/r/.tmp-q3/01.html"), Path("/r"))
    >>> print(err)                      # doctest: +ELLIPSIS
    No space left on device while writing /r/.tmp-q3/01.html: the run was abandoned and nothing was published; earlier reports are untouched. Free space on the disk that holds /r (a run needs ...), then rerun the same command.
    >>> err.ename, err.exit_code
    ('OSError', 4)
    """
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        where = f" while writing {exc.filename}" if exc.filename else f" while writing in {output_dir}"
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    else:
        what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        where, full = "", "space left" in str(exc).lower()
    advice = (f"Free space on the disk that holds {output_dir} (a run needs about twice the size of its clean "
              "tables while it is built), then rerun the same command." if full else
              "Check the output folder's disk and permissions, then rerun the same command.")
    return RunError(f"{what.rstrip('.')}{where}: the run was abandoned and nothing was published; earlier reports are "
                    f"untouched. {advice}", ename=type(exc).__name__, evalue=what)


def section_workers(params: RunParams, sections: int) -> int:
    """How many sections run at once: ``parallel_sections`` from params, else ``$CX_PARALLEL_SECTIONS``,
    else the machine's cores; never more than there are sections.

    Examples
    --------
    >>> from cxlib.params import DEFAULT_PARAMS, load_params
    >>> section_workers(load_params(DEFAULT_PARAMS, {"parallel_sections": 3}), 5), section_workers(load_params(DEFAULT_PARAMS), 1)
    (3, 1)
    """
    cap = params.parallel_sections
    if cap is None:
        env = os.environ.get(PARALLEL_ENV, "")
        cap = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return max(1, min(cap, sections))


def kernel_threads_env(workers: int) -> dict[str, str]:
    """Math-library threads of each kernel: the machine's cores divided among the ``workers`` sections.

    OpenBLAS's threads spin while they wait for work: two kernels with one thread per core each,
    beside their DuckDB queries, made one Poisson GLM of the demo eight times slower (2.25 s
    against 0.28 s with one thread, measured beside a running report). A variable already set in
    the environment is left as it is.

    Examples
    --------
    >>> env = kernel_threads_env(os.cpu_count() or 1)
    >>> all(env[v] == "1" for v in env), set(env) <= set(BLAS_THREAD_VARS)
    (True, True)
    """
    per_kernel = max(1, (os.cpu_count() or 1) // max(1, workers))
    return {v: str(per_kernel) for v in BLAS_THREAD_VARS if v not in os.environ}


def recorded_seconds(*folders: Path | None) -> dict[str, float]:
    """Each section's seconds in the manifest of the first of ``folders`` that has a complete one.

    Examples
    --------
    >>> recorded_seconds(None, Path("no-such-run"))
    {}
    """
    for folder in folders:
        manifest = RunFolder(folder).read_manifest() if folder is not None else None
        if manifest and manifest.get("status") == "complete":
            return {s["notebook"]: float(s["seconds"]) for s in manifest.get("sections", [])
                    if isinstance(s.get("seconds"), (int, float))}
    return {}


def longest_first(notebooks: list[Path], seconds: dict[str, float]) -> list[Path]:
    """The order to start the sections in: as long as each took in an earlier run, longest first.

    With several sections at once, starting the longest first keeps one long section from starting
    last while the other workers idle (longest-processing-time-first scheduling). A section with
    no recorded time goes first (its cost is unknown); with no record at all the order is the
    notebooks' own.

    Examples
    --------
    >>> nbs = [Path("00_a.ipynb"), Path("01_b.ipynb"), Path("02_c.ipynb"), Path("03_d.ipynb")]
    >>> [p.stem for p in longest_first(nbs, {"00_a.ipynb": 3.0, "01_b.ipynb": 30.0, "02_c.ipynb": 40.0})]
    ['03_d', '02_c', '01_b', '00_a']
    """
    return sorted(notebooks, key=lambda nb: -seconds.get(nb.name, float("inf")))


def _execute_one(params: RunParams, run: RunFolder, nb: Path, kernel: str, env: dict[str, str],
                 started: list[Any], kept: threading.local) -> dict[str, Any]:
    """Run one section and render its page; the section's entry for ``record.sections``.

    Each worker thread keeps its kernel (``kept.km``) for its next section: the kernel starts
    and imports the libraries once, and is reset between sections (:func:`next_section`)."""
    import papermill as pm

    t0 = time.perf_counter()
    km = getattr(kept, "km", None)
    try:
        if km is None:  # started by papermill with the first section's environment
            km = kept.km = logged_kernel_manager(run.kernel_log, {**env, SECTION_ENV: nb.stem}, started,
                                                 cwd=run.root)(kernel_name=kernel)
        else:
            next_section(km, SECTION_ENV, nb.stem, timeout=params.cell_timeout_seconds)
        pm.execute_notebook(
            str(nb), str(run.notebooks / nb.name),
            parameters={"params_file": str(run.params), "run_dir": str(run.root)},
            kernel_name=kernel, language="python", progress_bar=False,
            execution_timeout=params.cell_timeout_seconds, log_output=False,
            request_save_on_cell_execute=False, km=km,
        )
    except Exception as exc:  # noqa: BLE001 - execution_error tells the kinds apart by type
        raise execution_error(exc, nb, run.kernel_log) from None
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    title = notebook_title(nb)
    render_html(run.notebooks / nb.name, run.root / run.section_html(nb), title)
    return {"notebook": nb.name, "title": title, "html": run.section_html(nb), "seconds": round(seconds, 3),
            "render_seconds": round(time.perf_counter() - t1, 3), "status": "ok",
            "warnings": run.read_warnings(nb.stem)}


def execute_sections(params: RunParams, run: RunFolder, record: RunRecord, notebooks: list[Path],
                     progress: Progress | None = None, seconds: dict[str, float] | None = None) -> None:
    """Execute the section notebooks with papermill, several at once, and render each page.

    The sections are independent once the clean tables exist, so up to :func:`section_workers`
    kernels run at the same time (one thread each, driving its kernel); a kernel runs one section
    after the other, importing the libraries once (reset in between). They start longest first by
    ``seconds``, each section's time in an earlier run (:func:`longest_first`). The first section that
    fails stops the others (their kernels are killed) and its :class:`~cxlib.errors.RunError`
    is raised, naming the notebook, cell and error. Each section's entry in ``record.sections``
    (notebook order) carries its title, page, seconds and warnings; its stages are
    ``notebook:<stem>`` and ``render:<stem>``.

    Examples
    --------
    >>> execute_sections(params, RunFolder(staging), record, section_notebooks())   # doctest: +SKIP
    """
    if not notebooks:
        raise RunError("No section notebook to run (notebooks/NN_<topic>.ipynb): nothing was published.")
    progress = progress or Progress()
    kernel = ensure_kernel()
    run.notebooks.mkdir(exist_ok=True)
    run.work.mkdir(exist_ok=True)
    workers = section_workers(params, len(notebooks))
    env = {TEMP_DIRECTORY_ENV: str(run.spill), MEMORY_SHARE_ENV: str(workers), **kernel_threads_env(workers)}
    started: list[Any] = []
    kept = threading.local()  # each worker thread's kernel, kept for its next section
    n = len(notebooks)
    done: dict[str, dict[str, Any]] = {}
    failure: list[BaseException] = []

    def work(i: int, nb: Path) -> None:
        if failure:
            return
        progress.line(f"[{i}/{n}] {nb.stem} ...")
        try:
            entry = _execute_one(params, run, nb, kernel, env, started, kept)
        except BaseException as exc:  # noqa: BLE001 - the first failure is re-raised in the main thread
            if not failure:
                failure.append(exc)
                kill_kernels(started)  # the other sections cannot be published either
            return
        done[nb.name] = entry
        warnings = entry["warnings"]
        progress.advance()
        progress.line(f"[{i}/{n}] {nb.stem} done in {entry['seconds']:.1f} s"
                      + (f" ({len(warnings)} warning(s))" if warnings else ""))

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cx-section")
    number = {nb: i for i, nb in enumerate(notebooks, 1)}  # progress lines keep the notebooks' numbers
    futures = [pool.submit(work, number[nb], nb) for nb in longest_first(notebooks, seconds or {})]
    try:
        while not all(f.done() for f in futures):  # short waits: SIGINT/SIGTERM land in this thread
            wait(futures, timeout=0.2)
    except BaseException:
        failure.append(RunError("interrupted"))
        raise
    finally:
        for f in futures:
            f.cancel()
        while not all(f.done() for f in futures):  # a kernel may start while the others are killed
            kill_kernels(started)
            wait(futures, timeout=0.2)
        pool.shutdown(wait=True)
        kill_kernels(started)
    if failure:
        raise failure[0]
    for nb in notebooks:
        entry = done[nb.name]
        record.stages.append({"stage": f"notebook:{nb.stem}", "status": "ok", "seconds": entry["seconds"]})
        record.stages.append({"stage": f"render:{nb.stem}", "status": "ok", "seconds": entry.pop("render_seconds")})
        record.sections.append(entry)
    record.records = run.read_records()


def render_sections(run: RunFolder, record: RunRecord) -> None:
    """Render every executed section to its HTML page (scrubbing the notebook in place).

    :func:`execute_sections` renders each page as soon as its section is done; this renders
    them again, one after the other (for a record built some other way).

    Examples
    --------
    >>> render_sections(RunFolder(staging), record)   # doctest: +SKIP
    """
    for section in record.sections:
        with record.stage(f"render:{Path(section['notebook']).stem}"):
            render_html(run.notebooks / section["notebook"], run.root / section["html"], section["title"])


def notebook_params(params: RunParams) -> dict[str, Any]:
    """The params as the notebooks must see them: every override applied, data paths absolute
    (the notebooks read this file from the staging folder, not the original params file).

    Examples
    --------
    >>> from cxlib.params import DEFAULT_PARAMS, load_params
    >>> raw = notebook_params(load_params(DEFAULT_PARAMS))
    >>> raw["run_id"], Path(raw["data"]["customers"]).is_absolute()
    ('demo', True)
    """
    raw = params.to_yaml_dict()
    raw["data"] = {**raw["data"], **{t: params.path(t) for t in ("customers", "interactions", "surveys") if params.path(t)}}
    return raw


def run_report(params: RunParams, output_dir: Path, force: bool = False,
               notebooks: list[Path] | None = None,
               on_validated: Callable[[dict[str, Any]], None] | None = None, pdf: bool = False) -> Path:
    """Validate, execute every section, render, write manifest, index (and PDF), and publish.

    Parameters
    ----------
    params : RunParams
    output_dir : Path
        Where runs are published; the run goes to ``<output_dir>/<run_id>/``.
    force : bool
        Replace a published run with the same ``run_id``.
    notebooks : list of Path, optional
        The sections to run (default: :func:`section_notebooks`).
    on_validated : callable, optional
        Called with the validation's dict once the data passed.
    pdf : bool
        Also print the index and every section into ``<run_id>.pdf`` (headless Chromium), before
        publishing; without Chromium the run stops before any notebook runs.

    Returns
    -------
    Path
        The published run folder.

    Raises
    ------
    CxError
        A subclass with a user-facing message on any failure; nothing is left in ``output_dir``
        then. SIGINT and SIGTERM stop the run the same way (:class:`~cxlib.errors.RunError`).

    Examples
    --------
    >>> run_report(load_params("params/demo.yaml"), Path("reports"), force=True)   # doctest: +SKIP
    PosixPath('.../reports/demo')
    """
    from cxlib.run.compare import previous_run
    from cxlib.run.pdf import find_chromium

    output_dir = Path(output_dir).resolve()
    final = output_dir / params.run_id
    check_output_dir(output_dir, final, force)  # before validation: a run that cannot be published is not started
    if pdf:
        find_chromium()  # fails now, not after the notebooks ran
    # Looked up once, before the sections: a wrong compare_with fails here, and the sections and the
    # index compare with the same run.
    previous = previous_run(output_dir, params.run_id, params.compare_with, as_of=params.as_of)
    if previous is not None:
        _progress(f"comparing with the previous run {previous.run_id} (data as of {previous.as_of})")
    try:
        with signals_raise():
            return _run(params, output_dir, final, force, notebooks, on_validated, previous, pdf)
    except Interrupted as exc:
        raise RunError(f"Run {params.run_id!r} interrupted by {exc}: nothing was published, "
                       "earlier reports are untouched. Rerun the same command to try again.") from None


def _run(params: RunParams, output_dir: Path, final: Path, force: bool, notebooks: list[Path] | None,
         on_validated: Callable[[dict[str, Any]], None] | None, previous: PreviousRun | None, pdf: bool) -> Path:
    from cxlib.run.index import update_reports_index

    record = RunRecord(params=params)
    notebooks = section_notebooks() if notebooks is None else notebooks
    progress = Progress(total=len(notebooks))
    # The staging folder comes first: DuckDB spills into it from the start (reading a large CSV,
    # validating). When the run stops, it goes; so does an output folder this run created, unless
    # the data passed (then the folder stays, as it would after any later failure).
    created = not output_dir.exists()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        for done in remove_stale_staging(output_dir):
            progress.line(f"cleaned up {done.name}, left by an earlier run that was killed" if done.name.startswith(".")
                          else f"put back run {done.name}, moved aside by an earlier --force run that was killed")
        run = RunFolder(make_staging(output_dir, params.run_id))
        run.work.mkdir(exist_ok=True)
    except _write_errors() as exc:
        progress.close()
        raise write_error(exc, output_dir) from None
    try:
        _stages(params, output_dir, final, force, notebooks, on_validated, previous, pdf, record, run, progress)
    except _write_errors() as exc:
        raise write_error(exc, output_dir) from None
    finally:
        progress.close()
        if run.root.exists():
            shutil.rmtree(run.root, ignore_errors=True)
        passed = any(s["stage"] == "clean tables" for s in record.stages)
        if created and not passed and output_dir.exists() and not any(output_dir.iterdir()):
            output_dir.rmdir()
    try:
        update_reports_index(output_dir)
    except _write_errors() as exc:  # the run is complete and in place: exit 0 stands, the list is a convenience
        _progress(f"warning: the run is published, but the list of runs {output_dir / 'index.html'} could not be "
                  f"rewritten ({getattr(exc, 'strerror', None) or exc}); the next run rewrites it.")
    return final


def _stages(params: RunParams, output_dir: Path, final: Path, force: bool, notebooks: list[Path],
            on_validated: Callable[[dict[str, Any]], None] | None, previous: PreviousRun | None, pdf: bool,
            record: RunRecord, run: RunFolder, progress: Progress) -> None:
    """Validate, write the clean tables, run the sections, write manifest and index, publish into
    ``final``; any failure raises (the caller removes the staging folder)."""
    from cxlib.ingest.clean import write_clean_tables
    from cxlib.ingest.contract import Validator
    from cxlib.ingest.read import connect, load_tables
    from cxlib.run.compare import record_previous
    from cxlib.run.index import write_run_index
    from cxlib.run.pdf import print_pdf

    progress.line("validate ...")
    with record.stage("validate") as entry:
        tables = load_tables(params, connect(params.engine, temp_directory=run.spill / "cx"))
        validator = None
        try:
            validator = Validator(tables, folder=run.clean)
            report = validator.report()
        except BaseException:
            _close(validator, tables.con)
            raise
    # exact counts for the operator only: the published files carry shares (docs/privacy.md)
    counts = (f"{t} {n:,} rows ({report.rows_kept.get(t, 0):,} kept)" for t, n in report.rows_read.items())
    progress.line(f"validated: {', '.join(counts)}"
                  + _violations_note(report.n_violations, report.ok, report.mode) + f" ({entry['seconds']:.1f} s)")
    try:
        if not report.ok:
            raise DataError(report.message())
        validation = report.to_dict()
        if on_validated:
            on_validated(validation)
        with record.stage("clean tables") as entry:
            write_clean_tables(validator, params, run.clean, report)
    finally:
        # Each kernel opens the engine itself: a DuckDB database file admits one process at a time.
        _close(validator, tables.con)
    progress.line(f"clean tables written in {entry['seconds']:.1f} s")
    run.validation.parent.mkdir(parents=True, exist_ok=True)  # work/: not published
    run.validation.write_text(json.dumps(validation, indent=2, default=str), encoding="utf-8")
    run.params.write_text(yaml.safe_dump(notebook_params(params), sort_keys=False), encoding="utf-8")
    record_previous(run, previous)
    # the report this run replaces, else the series' previous run, tells how long each section takes
    seconds = recorded_seconds(final, previous.path if previous else None)
    with record.stage("sections") as entry:
        execute_sections(params, run, record, notebooks, progress, seconds)
    progress.line(f"{len(notebooks)} section(s) run and rendered in {entry['seconds']:.1f} s "
                  f"({section_workers(params, len(notebooks))} at a time)")
    record.status = "complete"
    manifest = write_manifest(run.manifest, record, tables.files, validation)
    pdf_file = run.pdf(params.run_id) if pdf else None
    write_run_index(run.root, manifest, previous=previous, pdf=pdf_file.name if pdf_file else None)
    if pdf_file is not None:
        printed = print_pdf(run.root, pdf_file)
        progress.line(f"printed {pdf_file.name}: {printed.pages} pages")
    shutil.rmtree(run.work, ignore_errors=True)
    publish(run.root, final, force)


def _close(validator: Validator | None, con: Any) -> None:
    """Drop what ``validator`` (if it was made) cached on the engine, then close the connection."""
    if validator is not None:
        validator.release()
    con.disconnect()


def _violations_note(n_violations: int, ok: bool, mode: str) -> str:
    """The end of the ``validated:`` progress line: what happens to violating rows.

    Examples
    --------
    >>> _violations_note(12, True, "exclude"), _violations_note(0, True, "fail")
    ('; 12 violating row(s) excluded', '')
    >>> _violations_note(44240, False, "fail")
    '; 44,240 violating row(s), none excluded (on_invalid: fail)'
    """
    if not n_violations:
        return ""
    if ok:
        return f"; {n_violations:,} violating row(s) excluded"
    return f"; {n_violations:,} violating row(s), none excluded (on_invalid: {mode})"
