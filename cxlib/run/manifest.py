"""What a run records about itself in ``manifest.json``: stages, sections, inputs, versions, git state."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cxlib import __version__
from cxlib.ingest.read import fingerprint
from cxlib.params import PROJECT_ROOT, RunParams
from cxlib.stats.suppression import kept_share

PACKAGES = ("cxlib", "pandas", "numpy", "scipy", "statsmodels", "lifelines", "ibis-framework", "duckdb",
            "pyarrow", "pydantic", "papermill", "nbconvert", "matplotlib", "seaborn", "sqlglot")


def git_state() -> dict[str, Any]:
    """The project's git commit and whether the work tree has uncommitted changes.

    Both are None outside a git work tree (an installed package, no ``git``).

    Examples
    --------
    >>> sorted(git_state())
    ['commit', 'dirty']
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20, check=False).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD") or None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str | None]:
    """Python's version and each of :data:`PACKAGES`' (None when not installed).

    Examples
    --------
    >>> versions = package_versions()
    >>> versions["python"] == platform.python_version(), "duckdb" in versions
    (True, True)
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class RunRecord:
    """What happened in a run, as it happens: written as ``manifest.json`` at the end.

    Examples
    --------
    >>> from cxlib.params import DEFAULT_PARAMS, load_params
    >>> record = RunRecord(params=load_params(DEFAULT_PARAMS))
    >>> with record.stage("validate") as entry:
    ...     pass
    >>> record.stages[0]["stage"], record.stages[0]["status"]
    ('validate', 'ok')
    """

    params: RunParams
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    stages: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)  # figures the sections handed over (disclosure audit)
    status: str = "running"
    # the code that runs, taken when the run starts: a commit made during a long run is not its code
    git: dict[str, Any] = field(default_factory=git_state)
    packages: dict[str, str | None] = field(default_factory=package_versions)

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a stage; its entry says ``ok`` or ``failed`` and how many seconds it took."""
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


def write_manifest(path: Path, record: RunRecord, tables_files: dict[str, list[Path]],
                   validation: dict[str, Any]) -> dict[str, Any]:
    """Write the run's manifest to ``path`` and return it.

    Parameters
    ----------
    path : Path
        Where it goes (the run folder's ``manifest.json``).
    record : RunRecord
    tables_files : dict
        Per input table, the files read (fingerprinted with sha256; none for a ``table:`` source).
    validation : dict
        :meth:`cxlib.ingest.contract.ValidationReport.to_dict` of the run. Its exact rows read and
        kept are not stamped (all-period totals that give hidden cells of ``metrics.csv`` back,
        ``docs/privacy.md``): per table the share kept (:func:`~cxlib.stats.suppression.kept_share`),
        and the rows excluded per rule (``validation.violations``).

    Examples
    --------
    >>> import tempfile
    >>> from cxlib.params import DEFAULT_PARAMS, load_params
    >>> record = RunRecord(params=load_params(DEFAULT_PARAMS), status="complete")
    >>> validation = {"mode": "fail", "violations": [], "rows_read": {}, "rows_kept": {}}
    >>> m = write_manifest(Path(tempfile.mkdtemp()) / "manifest.json", record, {}, validation)
    >>> m["run_id"], m["status"], m["cxlib_version"] == __version__
    ('demo', 'complete', True)
    >>> validation = {"mode": "exclude", "violations": [], "rows_read": {"customers": 500}, "rows_kept": {"customers": 490}}
    >>> write_manifest(Path(tempfile.mkdtemp()) / "manifest.json", record, {"customers": []}, validation)["inputs"]["customers"]["share_kept"]
    0.98
    """
    ended = dt.datetime.now(dt.UTC)
    inputs = {}
    for table, files in tables_files.items():
        inputs[table] = {
            "source": record.params.path(table),
            "files": fingerprint(files),  # none for a table: source (the engine's table, not a file)
            "share_kept": kept_share(validation["rows_read"].get(table), validation["rows_kept"].get(table),
                                     record.params.protection),
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
        "disclosure": record.records.get("disclosure", {}),
        "stages": record.stages,
        "packages": record.packages,
        "git": record.git,
        "cxlib_version": __version__,
        "host": {"cores": os.cpu_count(), "platform": platform.platform()},
    }
    path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return manifest
