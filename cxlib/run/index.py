"""The run's ``index.html`` (title, as-of, headline numbers, findings, sections) and ``reports/index.html``."""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

from cxlib.run.layout import INDEX, RunFolder, published_runs
from cxlib.run.summary import executive_summary, headline_numbers

_CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{margin-bottom:0.1em} .sub{color:#666;margin-top:0}
.tiles{display:flex;flex-wrap:wrap;gap:0.8em;margin:1.2em 0}
.tile{flex:1 1 170px;border:1px solid #ddd;border-radius:6px;padding:0.7em 0.9em;background:#fafbfc}
.tile .v{font-size:1.5em;font-weight:600;color:#1f5a96} .tile .l{font-size:0.85em;color:#555}
.tile .n{font-size:0.75em;color:#777}
ol.findings li{margin-bottom:0.5em} .warn{background:#fff4e5;border-left:4px solid #b26a00;padding:0.5em 1em;margin:0.5em 0}
table{border-collapse:collapse} td,th{padding:0.3em 0.8em;border-bottom:1px solid #eee;text-align:left}
.methods{font-size:0.9em;color:#444;border-top:1px solid #ddd;margin-top:2em;padding-top:0.5em}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_run_index(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``<run>/index.html`` from the run's manifest and result files.

    Examples
    --------
    >>> write_run_index(Path("reports/demo"), json.loads(Path("reports/demo/manifest.json").read_text()))  # doctest: +SKIP
    PosixPath('reports/demo/index.html')
    """
    tiles = "".join(
        f'<div class="tile"><div class="v">{escape(h["value"])}</div><div class="l">{escape(h["label"])}</div>'
        f'<div class="n">{escape(h.get("note", ""))}</div></div>'
        for h in headline_numbers(run_dir, manifest)
    )
    summary = executive_summary(run_dir, manifest)
    findings = "".join(f"<li>{f}</li>" for f in summary["findings"])  # already escaped by summary
    sections = "".join(
        f'<li><a href="{escape(s["html"])}">{escape(s["title"])}</a>'
        + (f' — {len(s["warnings"])} warning(s)' if s["warnings"] else "") + "</li>"
        for s in manifest["sections"]
    )
    warnings = "".join(
        f'<div class="warn"><strong>{escape(s["title"])}:</strong> {escape(w)}</div>'
        for s in manifest["sections"] for w in s["warnings"]
    )
    excluded = manifest["validation"]["violations"]
    excl_html = ""
    if excluded:
        rows = "".join(f"<tr><td>{escape(v['table'])}</td><td>{escape(v['column'])}</td><td>{escape(v['rule'])}</td>"
                       f"<td>{v['rows']:,}</td></tr>" for v in excluded)
        verb = "excluded" if manifest["validation"]["mode"] == "exclude" else "found"
        excl_html = (f"<h2>Rows {verb} by validation</h2><table><tr><th>Table</th><th>Column</th><th>Rule</th>"
                     f"<th>Rows</th></tr>{rows}</table>")
    body = (
        f"<h1>{escape(manifest['title'])}</h1>"
        f"<p class=\"sub\">Run <strong>{escape(manifest['run_id'])}</strong> · data as of "
        f"<strong>{escape(manifest['as_of'])}</strong> · generated {escape(manifest['ended'])}</p>"
        f'<div class="tiles">{tiles}</div>'
        + (f"<h2>Executive summary</h2><ol class=\"findings\">{findings}</ol>" if findings else "")
        + (f'<div class="warn">{summary["methods"]}</div>' if summary.get("methods") else "")
        + f"<h2>Sections</h2><ul>{sections}</ul>"
        + (f"<h2>Warnings</h2>{warnings}" if warnings else "")
        + excl_html
        + '<p class="methods">Result tables are in <code>results/</code>; the run\'s params, input fingerprints, '
          "package versions and git commit are in <code>manifest.json</code>. Methods are described in each "
          "section and in the project's <code>docs/methods.md</code>.</p>"
    )
    path = RunFolder(run_dir).index
    _atomic_write(path, _page(manifest["title"], body))
    return path


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
    runs.sort(key=lambda r: r.get("ended", ""), reverse=True)
    rows = "".join(
        f'<tr><td><a href="{escape(r["run_id"])}/index.html">{escape(r["run_id"])}</a></td>'
        f"<td>{escape(r.get('title', ''))}</td><td>{escape(r.get('as_of', ''))}</td>"
        f"<td>{escape(r.get('ended', ''))}</td><td>{escape(r.get('status', ''))}</td></tr>"
        for r in runs
    )
    body = ("<h1>CX Workbook reports</h1><table><tr><th>Run</th><th>Title</th><th>As of</th>"
            f"<th>Generated</th><th>Status</th></tr>{rows}</table>")
    path = output_dir / INDEX
    _atomic_write(path, _page("CX Workbook reports", body))
    return path
