"""The run's ``index.html`` (scorecard, forest plot, findings, what changed, sections) and ``reports/index.html``.

Both pages are the Jinja2 templates of :mod:`cxlib.run.landing` (autoescaped); this module reads the
run folder, compares it with the previous run of its series (:mod:`cxlib.run.compare`), writes
``results/changes_since_last_run.csv`` and the pages. The runner calls :func:`write_run_index` on the
staging folder, so the comparison and the page are part of the atomic publish.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cxlib.results import write_result
from cxlib.run.compare import CHANGES, PreviousRun, changes_since_last_run, previous_run
from cxlib.run.landing import render_reports_index, render_run_index, run_index_context
from cxlib.run.layout import INDEX, RunFolder, published_runs
from cxlib.text.changes import first_run_sentence

LOOK_UP = "look up"  # write_run_index's default: find the previous run in the output folder


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_run_index(run_dir: Path, manifest: Mapping[str, Any], *, output_dir: Path | None = None,
                    previous: PreviousRun | None | str = LOOK_UP, pdf: str | None = None) -> Path:
    """Write ``<run>/index.html`` (and, with a previous run, ``results/changes_since_last_run.csv``).

    Parameters
    ----------
    run_dir : Path
        The run folder (the staging folder while a run is built).
    manifest : mapping
        The run's manifest (``run_id``, ``as_of``, ``params``, ``sections`` …).
    output_dir : Path, optional
        Where the runs of the series are published (default: ``run_dir``'s parent).
    previous : PreviousRun or None, optional
        The run to compare with; by default looked up with :func:`cxlib.run.compare.previous_run`
        (params ``compare_with``, else the same base run_id with the latest earlier ``as_of``).
        None: no comparison.
    pdf : str, optional
        The file name of the run's PDF, linked from the page when the run prints one.

    Returns
    -------
    Path
        The page written.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> manifest = {"run_id": "acme-2026Q3", "title": "ACME <CX>", "as_of": "2026-09-30", "ended": "2026-10-01",
    ...             "params": {}, "sections": [], "validation": {"violations": []}}
    >>> (out / "acme-2026Q3").mkdir()
    >>> page = write_run_index(out / "acme-2026Q3", manifest)
    >>> "<title>ACME &lt;CX&gt;</title>" in page.read_text(), (out / "acme-2026Q3/results").exists()
    (True, False)
    """
    run = RunFolder(Path(run_dir))
    if isinstance(previous, str):
        params = manifest.get("params") or {}
        previous = previous_run(Path(output_dir) if output_dir else run.root.parent, str(manifest["run_id"]),
                                params.get("compare_with"), as_of=manifest.get("as_of"))
    changes = None
    if previous is not None:
        changes = changes_since_last_run(previous.results, run.results)
        write_result(run.results, CHANGES, changes)
    context = run_index_context(run.root, manifest, changes=changes, previous=previous)
    context["pdf"] = pdf
    context["first_run"] = first_run_sentence() if previous is None else ""
    _atomic_write(run.index, render_run_index(context))
    return run.index


def update_reports_index(output_dir: Path) -> Path:
    """Rewrite ``<output>/index.html``: every published run, newest first.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "2026Q3").mkdir()
    >>> _ = RunFolder(out / "2026Q3").manifest.write_text(json.dumps({"run_id": "2026Q3", "ended": "2026-10-05"}))
    >>> '<a href="2026Q3/index.html">' in update_reports_index(out).read_text()
    True
    """
    runs = []
    for run in published_runs(output_dir):
        try:
            runs.append(json.loads(RunFolder(run).manifest.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    runs.sort(key=lambda r: str(r.get("ended", "")), reverse=True)
    path = Path(output_dir) / INDEX
    _atomic_write(path, render_reports_index(runs))
    return path
