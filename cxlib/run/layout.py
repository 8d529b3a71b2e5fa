"""The run folder, known in this one place.

A published run ``<output>/<run_id>/`` holds::

    index.html            the run's landing page (cxlib.run.index)
    <NN_topic>.html       one page per section
    results/*.csv         the result tables (cxlib.results)
    notebooks/*.ipynb     the executed, scrubbed section notebooks
    manifest.json         what happened: stages, sections, inputs (fingerprints, share of rows kept),
                          rows excluded per rule, packages, git state
    <run_id>.pdf          the index and every section in one PDF (cx run --pdf, cx pdf)
    params.yaml           the params the notebooks read (overrides applied, data paths absolute)

While it is built, the run lives in a hidden staging folder next to its final place
(``.tmp-<run_id>-<pid>-<8 characters>``) that also holds ``work/`` (clean tables, cached small
tables, the validation with its exact rows read and kept, the sections' warnings, the kernel log,
which run it is compared with), removed before publishing: the exact counts are all-period totals
that would give hidden cells of ``metrics.csv`` back (``docs/privacy.md``); ``cx run`` prints them
for the operator. A ``--force`` publish moves the run it replaces aside as ``.old-<run_id>-<pid>`` for
the moment of the swap.
The output folder's own ``index.html`` lists every published run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

INDEX = "index.html"
RESULTS = "results"
NOTEBOOKS = "notebooks"
MANIFEST = "manifest.json"
VALIDATION = "work/validation.json"  # exact rows read and kept: never published (docs/privacy.md)
PARAMS = "params.yaml"
WORK = "work"  # removed before publishing
CLEAN = f"{WORK}/clean"  # the validated analysis tables, written once per DuckDB run
WARNINGS = f"{WORK}/warnings.jsonl"  # the sections' warnings, read into the manifest
RECORDS = f"{WORK}/records"  # figures the sections hand to the manifest (e.g. the disclosure audit)
SECTION_ENV = "CX_SECTION"  # set by cx run in each section's kernel
KERNEL_LOG = f"{WORK}/kernel.log"  # the kernels' own stdout and stderr
PREVIOUS = f"{WORK}/previous_run.json"  # the run this one is compared with (cxlib.run.compare)
STAGING_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
# .tmp-<run_id>-<pid>-<mkdtemp suffix> (staging) and .old-<run_id>-<pid> (a run being replaced)
_LEFTOVER = re.compile(r"^\.tmp-(?P<run>.+)-(?P<pid>\d+)-[a-z0-9_]{8}$|^\.old-(?P<old>.+)-(?P<oldpid>\d+)$")


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (published, or the staging folder it is built in).

    Parameters
    ----------
    root : Path
        The run folder itself.

    Examples
    --------
    >>> run = RunFolder(Path("reports/demo"))
    >>> run.results.as_posix(), run.clean.as_posix(), run.cache("covariates").name
    ('reports/demo/results', 'reports/demo/work/clean', 'covariates.parquet')
    >>> run.section_html(Path("notebooks/02_retention.ipynb"))
    '02_retention.html'
    """

    root: Path

    @property
    def index(self) -> Path:
        """The run's landing page."""
        return self.root / INDEX

    @property
    def results(self) -> Path:
        """The folder of the result tables (``results/*.csv``)."""
        return self.root / RESULTS

    @property
    def notebooks(self) -> Path:
        """The folder of the executed section notebooks."""
        return self.root / NOTEBOOKS

    @property
    def manifest(self) -> Path:
        """``manifest.json``."""
        return self.root / MANIFEST

    def read_manifest(self) -> dict | None:
        """The run's ``manifest.json``, parsed; None when it is missing or unreadable.

        Examples
        --------
        >>> RunFolder(Path("no-such-run")).read_manifest() is None
        True
        """
        try:
            return json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    @property
    def validation(self) -> Path:
        """``work/validation.json``: the sections' validation, removed before publishing."""
        return self.root / VALIDATION

    @property
    def params(self) -> Path:
        """The params file the notebooks read."""
        return self.root / PARAMS

    @property
    def work(self) -> Path:
        """Scratch space of a run being built; never published."""
        return self.root / WORK

    @property
    def clean(self) -> Path:
        """The clean analysis tables (Parquet) the sections read."""
        return self.root / CLEAN

    @property
    def warnings(self) -> Path:
        """The sections' warnings, one JSON line each."""
        return self.root / WARNINGS

    @property
    def kernel_log(self) -> Path:
        """The kernels' own process output."""
        return self.root / KERNEL_LOG

    @property
    def previous(self) -> Path:
        """Which run this run is compared with, recorded for the sections while the run is built."""
        return self.root / PREVIOUS

    def pdf(self, run_id: str) -> Path:
        """The run printed as one PDF (``cx pdf``, ``cx run --pdf``): ``<run_id>.pdf``."""
        return self.root / f"{run_id}.pdf"

    def cache(self, name: str) -> Path:
        """Where a small table shared between sections is kept (``work/<name>.parquet``)."""
        return self.work / f"{name}.parquet"

    def add_warning(self, message: str) -> None:
        """Record a section's warning (for the manifest and the index page).

        Examples
        --------
        >>> import tempfile
        >>> run = RunFolder(Path(tempfile.mkdtemp()))
        >>> run.add_warning("No customer churned by 2026-09-30.")
        >>> run.read_warnings()
        ['No customer churned by 2026-09-30.']
        """
        self.warnings.parent.mkdir(parents=True, exist_ok=True)
        # Sections run concurrently: each line names its section (cx run sets CX_SECTION per kernel).
        entry = {"message": message, "section": os.environ.get(SECTION_ENV)}
        with open(self.warnings, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def read_warnings(self, section: str | None = None) -> list[str]:
        """The warnings recorded so far, oldest first: all, or those of one ``section`` (notebook stem)."""
        if not self.warnings.exists():
            return []
        entries = [json.loads(line) for line in self.warnings.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [e["message"] for e in entries if section is None or e.get("section") == section]

    @property
    def spill(self) -> Path:
        """Where DuckDB spills beyond its memory_limit (``work/spill``; one folder per process)."""
        return self.work / "spill"

    def write_record(self, name: str, data: dict) -> None:
        """Keep figures a section hands to the manifest: ``name`` is ``<key>`` or ``<key>.<part>``.

        Examples
        --------
        >>> import tempfile
        >>> run = RunFolder(Path(tempfile.mkdtemp()))
        >>> run.write_record("disclosure.metrics", {"passed": True})
        >>> run.write_record("disclosure.retention", {"passed": True})
        >>> run.read_records()
        {'disclosure': {'metrics': {'passed': True}, 'retention': {'passed': True}}}
        """
        folder = self.root / RECORDS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(data, default=str), encoding="utf-8")

    def read_records(self) -> dict:
        """Every record written so far, ``<key>.<part>`` nested as ``{key: {part: ...}}``."""
        out: dict = {}
        folder = self.root / RECORDS
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            key, _, part = path.stem.partition(".")
            data = json.loads(path.read_text(encoding="utf-8"))
            if part:
                out.setdefault(key, {})[part] = data
            else:
                out[key] = data
        return out

    @staticmethod
    def section_html(notebook: Path) -> str:
        """The file name of a section's page: ``<notebook stem>.html``."""
        return f"{Path(notebook).stem}.html"


def staging_prefix(run_id: str, pid: int) -> str:
    """The name prefix of a staging folder (``tempfile.mkdtemp`` adds 8 characters).

    Examples
    --------
    >>> staging_prefix("2026Q3", 4242)
    '.tmp-2026Q3-4242-'
    """
    return f"{STAGING_PREFIX}{run_id}-{pid}-"


def old_name(run_id: str, pid: int) -> str:
    """The name a run gets while a ``--force`` publish replaces it.

    Examples
    --------
    >>> old_name("2026Q3", 4242)
    '.old-2026Q3-4242'
    """
    return f"{OLD_PREFIX}{run_id}-{pid}"


def leftover(name: str) -> tuple[str, int, bool] | None:
    """A staging or moved-aside folder's run id, runner pid and whether it is a moved-aside run.

    None for any other name (a published run, ``index.html``).

    Examples
    --------
    >>> leftover(".tmp-2026Q3-4242-abcd_123"), leftover(".old-2026Q3-4242"), leftover("2026Q3")
    (('2026Q3', 4242, False), ('2026Q3', 4242, True), None)
    """
    m = _LEFTOVER.match(name)
    if not m:
        return None
    if m["old"]:
        return m["old"], int(m["oldpid"]), True
    return m["run"], int(m["pid"]), False


def published_runs(output_dir: Path) -> list[Path]:
    """The run folders published in ``output_dir`` (those with a manifest), in name order.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for name in ("2026Q2", "2026Q3", ".tmp-2026Q4-1-abcdefgh"):
    ...     (out / name).mkdir()
    ...     _ = (out / name / MANIFEST).write_text("{}")
    >>> [p.name for p in published_runs(out)]
    ['2026Q2', '2026Q3']
    """
    return sorted(m.parent for m in Path(output_dir).glob(f"*/{MANIFEST}") if not m.parent.name.startswith("."))
