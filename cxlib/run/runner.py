"""Run every notebook with papermill, render HTML without code, and publish the run atomically.

A run is built in a hidden staging folder next to its final place (same file system, so the
final ``rename`` is atomic) and moved into ``<output>/<run_id>/`` only when every notebook ran
and rendered. A failure or an interruption (SIGINT, SIGTERM) removes the staging folder and
leaves earlier runs as they were. A runner killed outright (SIGKILL, out of memory) cannot clean
up; the next run removes such leftovers (their staging folder names the dead runner's pid).

The executed notebooks are published for audit, scrubbed like the HTML: no error output and no
stderr stream (warnings and tracebacks can echo code or data values).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat
import yaml

from cxlib import __version__
from cxlib.ingest.read import fingerprint
from cxlib.errors import DataError, RunError, RunExistsError
from cxlib.params import PROJECT_ROOT, RunParams
from cxlib.workbook import VALIDATION_FILE, WARNINGS_FILE, write_clean_tables

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
KERNEL_NAME = "cx-workbook"
PACKAGES = ("cxlib", "pandas", "numpy", "scipy", "statsmodels", "lifelines", "ibis-framework", "duckdb",
            "pyarrow", "pydantic", "papermill", "nbconvert", "matplotlib", "seaborn", "sqlglot")
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


class Interrupted(BaseException):
    """Raised in the main thread when SIGTERM (or SIGINT) arrives during a run."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# .tmp-<run_id>-<pid>-<mkdtemp suffix> (staging) and .old-<run_id>-<pid> (a run being replaced)
_STAGING = re.compile(r"^\.tmp-(?P<run>.+)-(?P<pid>\d+)-[a-z0-9_]{8}$|^\.old-(?P<old>.+)-(?P<oldpid>\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove staging folders left by runners that no longer exist; put back a run that a killed
    ``--force`` publish had moved aside. Returns the folders removed or restored."""
    done = []
    if not output_dir.is_dir():
        return done
    for entry in output_dir.iterdir():
        m = _STAGING.match(entry.name)
        if not m or not entry.is_dir() or _pid_alive(int(m["pid"] or m["oldpid"])):
            continue
        if m["old"]:
            run = output_dir / m["old"]
            if not run.exists():
                entry.rename(run)
                done.append(run)
                continue
        shutil.rmtree(entry, ignore_errors=True)
        done.append(entry)
    return done


@contextmanager
def _signals_raise() -> Iterator[None]:
    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def section_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The report's sections: ``NN_<topic>.ipynb`` in name order (templates start with '_')."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def ensure_kernel() -> str:
    """Install (once) a kernelspec named ``cx-workbook`` that runs this very Python."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(KERNEL_NAME)
        if Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="CX Workbook (Python)", prefix=sys.prefix)
    return KERNEL_NAME


def _kernel_manager_class(log_path: Path) -> type:
    """A kernel manager whose kernel writes its own stdout/stderr to ``log_path``.

    The kernel process's streams would otherwise go to ``cx``'s stderr: ZMQ's warning about TCP
    transport on every start, and tracebacks of a kernel torn down mid-cell on an interruption.
    Cell outputs are unaffected (they travel over the kernel protocol).
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with open(log_path, "ab") as log:  # the kernel keeps its own copy of the descriptor
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await self._async_start_kernel(**kw)

    return LoggedKernelManager


def _log_tail(log_path: Path, lines: int = 3) -> str:
    if not log_path.exists():
        return ""
    keep = [ln.strip() for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if ln.strip() and "without encryption" not in ln]
    return " | ".join(ln[:200] for ln in keep[-lines:])


def git_state() -> dict[str, Any]:
    """The project's git commit and whether the work tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD") or None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# ---- rendering ---------------------------------------------------------------------------------


def html_exporter() -> Any:
    """nbconvert's lab template without code, prompts or any script fetched from a CDN."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    exporter.jquery_url = ""
    return exporter


def _strip_scripts(html: str) -> str:
    """Remove every <script> and external <link>: the report is static HTML and images, and
    nbconvert's template would otherwise import MathJax/Mermaid from a CDN when it sees a formula."""
    html = re.sub(r"<script\b[^>]*>.*?</script\s*>", "", html, flags=re.I | re.S)
    return re.sub(r"<link[^>]*\bhref\s*=\s*[\"'](?:https?:)?//[^>]*>", "", html, flags=re.I)


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop error outputs and stderr streams (they can echo code or data values), in place."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"
                               and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


def _prose_as_output(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Markdown cells as displayed Markdown: the lab template puts markdown cells in an input area,
    so a page without any input area is one without code (the tests check exactly that)."""
    nb = nbformat.from_dict(nb)
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output("display_data", data={"text/markdown": c.source})])
                if c.cell_type == "markdown" and not c.get("attachments") else c for c in nb.cells]
    return nb


def render_html(executed: Path, target: Path, title: str) -> None:
    """Scrub an executed notebook in place and render it to a self-contained HTML page without code."""
    nb = scrub(nbformat.read(executed, as_version=4))
    nbformat.write(nb, executed)
    nb = _prose_as_output(nb)
    nb.metadata["title"] = title
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _strip_scripts(body)
    if _EXTERNAL.search(body):
        raise RunError(f"{target.name}: rendered HTML still references another host; refusing to publish it.")
    target.write_text(body, encoding="utf-8")


# ---- the run -------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """What happened in a run: written as ``manifest.json``."""

    params: RunParams
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    stages: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        start = time.perf_counter()
        entry: dict[str, Any] = {"stage": name, "status": "running"}
        self.stages.append(entry)
        try:
            yield entry
            entry["status"] = "ok"
        except BaseException:
            entry["status"] = "failed"
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - start, 3)


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _notebook_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return path.stem.split("_", 1)[-1].replace("_", " ").title()


def _execution_error(exc: Exception, notebook: Path, kernel_log: Path | None = None) -> RunError:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc).splitlines()[0] if str(exc) else "")
    cell = getattr(exc, "exec_count", None) or getattr(exc, "cell_index", None)
    where = f"cell {cell}" if cell is not None else "a cell"
    if "DeadKernel" in type(exc).__name__ or "dead" in str(exc).lower() and "kernel" in str(exc).lower():
        tail = _log_tail(kernel_log) if kernel_log else ""
        return RunError(f"Notebook {notebook.name}: the kernel died while running (killed by a signal, out of "
                        "memory, or a crash in compiled code). The run was abandoned; nothing was published and "
                        "earlier reports are untouched. Check memory use (engine.memory_limit, the machine's "
                        "limits), then rerun." + (f" Kernel output: {tail}" if tail else ""))
    if "Timeout" in type(exc).__name__ or "timed out" in str(exc).lower():
        return RunError(f"Notebook {notebook.name}: {where} exceeded cell_timeout_seconds. "
                        "Raise cell_timeout_seconds in the params file or reduce the data.")
    return RunError(f"Notebook {notebook.name} failed in {where}: {ename}: {str(evalue).rstrip('.')}. "
                    "The run was abandoned; earlier reports are untouched. Open the notebook in JupyterLab "
                    "with the same params file to investigate.")


def execute_sections(params: RunParams, params_file: Path, staging: Path, record: RunRecord,
                     notebooks: list[Path]) -> None:
    """Execute each section notebook with papermill into ``staging/notebooks/``."""
    import papermill as pm

    kernel = ensure_kernel()
    (staging / "notebooks").mkdir(exist_ok=True)
    (staging / "work").mkdir(exist_ok=True)
    kernel_log = staging / "work" / "kernel.log"
    if not notebooks:
        raise RunError("No section notebook to run (notebooks/NN_<topic>.ipynb): nothing was published.")
    warnings_path = staging / WARNINGS_FILE
    for i, nb in enumerate(notebooks, 1):
        out = staging / "notebooks" / nb.name
        _progress(f"[{i}/{len(notebooks)}] {nb.stem} ...")
        seen = _count_lines(warnings_path)
        with record.stage(f"notebook:{nb.stem}") as entry:
            try:
                pm.execute_notebook(
                    str(nb), str(out),
                    parameters={"params_file": str(params_file), "run_dir": str(staging)},
                    kernel_name=kernel, language="python", cwd=str(staging), progress_bar=False,
                    execution_timeout=params.cell_timeout_seconds, log_output=False,
                    request_save_on_cell_execute=False, kernel_manager_class=_kernel_manager_class(kernel_log),
                )
            except Exception as exc:  # noqa: BLE001 - papermill raises several kinds
                raise _execution_error(exc, nb, kernel_log) from None
        warnings = _read_lines(warnings_path)[seen:]
        record.sections.append({
            "notebook": nb.name, "title": _notebook_title(nb), "html": f"{nb.stem}.html",
            "seconds": entry["seconds"], "status": "ok", "warnings": warnings,
        })
        _progress(f"[{i}/{len(notebooks)}] {nb.stem} done in {entry['seconds']:.1f} s"
                  + (f" ({len(warnings)} warning(s))" if warnings else ""))


def _count_lines(path: Path) -> int:
    return len(_read_lines(path))


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["message"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def render_sections(staging: Path, record: RunRecord) -> None:
    for section in record.sections:
        with record.stage(f"render:{Path(section['notebook']).stem}"):
            render_html(staging / "notebooks" / section["notebook"], staging / section["html"], section["title"])


def write_manifest(staging: Path, record: RunRecord, tables_files: dict[str, list[Path]],
                   validation: dict[str, Any]) -> dict[str, Any]:
    ended = dt.datetime.now(dt.timezone.utc)
    inputs = {}
    for table, files in tables_files.items():
        inputs[table] = {
            "source": record.params.path(table),
            "files": fingerprint(files),  # none for a table: source (the engine's table, not a file)
            "rows_read": validation["rows_read"].get(table),
            "rows_kept": validation["rows_kept"].get(table),
        }
    manifest = {
        "run_id": record.params.run_id,
        "title": record.params.title,
        "as_of": str(record.params.as_of),
        "status": record.status,
        "started": record.started.isoformat(timespec="seconds"),
        "ended": ended.isoformat(timespec="seconds"),
        "seconds": round((ended - record.started).total_seconds(), 3),
        "params_file": str(record.params.source),
        "params": record.params.to_yaml_dict(),
        "inputs": inputs,
        "validation": {k: validation[k] for k in ("mode", "violations")},
        "sections": record.sections,
        "stages": record.stages,
        "packages": package_versions(),
        "git": git_state(),
        "cxlib_version": __version__,
        "host": {"cores": os.cpu_count(), "platform": platform.platform()},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return manifest


def publish(staging: Path, final: Path, force: bool) -> None:
    """Move the complete staging folder into place; with ``force`` replace the old run last."""
    if final.exists():
        if not force:
            raise RunExistsError(f"{final} already exists; rerun with --force to replace it.")
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
        try:
            staging.rename(final)
        except BaseException:
            old.rename(final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)


def notebook_params(params: RunParams) -> dict[str, Any]:
    """The params as the notebooks must see them: every override applied, data paths absolute
    (the notebooks read this file from the staging folder, not the original params file)."""
    raw = params.to_yaml_dict()
    raw["data"] = {**raw["data"], **{t: params.path(t) for t in ("customers", "interactions", "surveys") if params.path(t)}}
    return raw


def run_report(params: RunParams, output_dir: Path, force: bool = False,
               notebooks: list[Path] | None = None,
               on_validated: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Validate, execute every section, render, write manifest and index, and publish.

    Returns the published run folder. Raises a :class:`~cxlib.errors.CxError` subclass
    with a user-facing message on any failure; nothing is left in ``output_dir`` then.
    SIGINT and SIGTERM stop the run the same way (:class:`~cxlib.errors.RunError`).

    Examples
    --------
    >>> run_report(load_params("params/demo.yaml"), Path("reports"), force=True)   # doctest: +SKIP
    PosixPath('.../reports/demo')
    """
    output_dir = Path(output_dir).resolve()
    final = output_dir / params.run_id
    if final.exists() and not force:
        raise RunExistsError(f"Run folder {final} already exists; rerun with --force to replace it "
                             "(the existing report is left as it is).")
    try:
        with _signals_raise():
            return _run(params, output_dir, final, force, notebooks, on_validated)
    except Interrupted as exc:
        raise RunError(f"Run {params.run_id!r} interrupted by {exc}: nothing was published, "
                       "earlier reports are untouched. Rerun the same command to try again.") from None


def _run(params: RunParams, output_dir: Path, final: Path, force: bool, notebooks: list[Path] | None,
         on_validated: Callable[[dict[str, Any]], None] | None) -> Path:
    from cxlib.run.index import update_reports_index, write_run_index
    from cxlib.ingest.read import load_tables
    from cxlib.ingest.contract import Validator

    record = RunRecord(params=params)
    notebooks = section_notebooks() if notebooks is None else notebooks
    with record.stage("validate"):
        tables = load_tables(params)
        validator = Validator(tables)
        report = validator.report()
        _progress(f"validated: {', '.join(f'{t} {n:,} rows' for t, n in report.rows_read.items())}"
                  + (f"; {report.n_violations:,} violating row(s) excluded" if report.n_violations else ""))
    try:
        if not report.ok:
            raise DataError(report.message())
        validation = report.to_dict()
        if on_validated:
            on_validated(validation)
        output_dir.mkdir(parents=True, exist_ok=True)
        for leftover in remove_stale_staging(output_dir):
            _progress(f"cleaned up {leftover.name}, left by an earlier run that was killed")
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{params.run_id}-{os.getpid()}-", dir=output_dir))
    except BaseException:
        tables.con.disconnect()
        raise
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the published run from a web server
    try:
        try:
            with record.stage("clean tables"):
                write_clean_tables(validator, params, staging)
        finally:
            # Each kernel opens the engine itself: a DuckDB database file admits one process at a time.
            tables.con.disconnect()
        (staging / VALIDATION_FILE).write_text(json.dumps(validation, indent=2, default=str), encoding="utf-8")
        params_file = staging / "params.yaml"
        params_file.write_text(yaml.safe_dump(notebook_params(params), sort_keys=False), encoding="utf-8")
        execute_sections(params, params_file, staging, record, notebooks)
        render_sections(staging, record)
        record.status = "complete"
        manifest = write_manifest(staging, record, tables.files, validation)
        write_run_index(staging, manifest)
        shutil.rmtree(staging / "work", ignore_errors=True)
        publish(staging, final, force)
        update_reports_index(output_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final
