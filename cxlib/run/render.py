"""Executed notebooks → self-contained HTML pages without code, and scrubbed notebooks for audit.

The published notebooks and pages carry no error output and no stderr stream (warnings and
tracebacks can echo code or data values), no script and nothing fetched from another host.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

# nbformat validates with jsonschema, whose optional IRI format checker (rfc3987_syntax, when
# installed) compiles a grammar on import: 1.7 s of every `cx run` for a format no notebook schema
# uses. Marked absent before nbformat loads, jsonschema skips that checker (it imports it under
# suppress(ImportError)); a process that already imported it keeps it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # after the marker above

from cxlib.errors import RunError

_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
# Added to every section page: figures fit a phone's width, a wide table's caption stays in view while the
# table scrolls in its box, and printing (cx pdf, or a browser's Print) keeps figures and table rows whole.
SECTION_CSS = """
img.cx-figure{max-width:100%;height:auto}
.cx-table-scroll caption{position:sticky;left:0;text-align:left}
@media print{
  img,svg,figure,table,tr,.jp-RenderedImage{break-inside:avoid;page-break-inside:avoid}
  h1,h2,h3,h4{break-after:avoid;page-break-after:avoid}
  .cx-table-scroll{overflow:visible!important}
}
"""


def html_exporter() -> Any:
    """nbconvert's lab template without code, prompts or any script fetched from a CDN.

    Examples
    --------
    >>> exporter = html_exporter()
    >>> exporter.exclude_input, exporter.mathjax_url
    (True, '')
    """
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
    html = re.sub(r"<script\b[^>]*>.*?</script\s*>", "", html, flags=re.IGNORECASE | re.DOTALL)
    return re.sub(r"<link[^>]*\bhref\s*=\s*[\"'](?:https?:)?//[^>]*>", "", html, flags=re.IGNORECASE)


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop error outputs and stderr streams (they can echo code or data values), in place.

    Examples
    --------
    >>> cell = nbformat.v4.new_code_cell("1/0", outputs=[
    ...     nbformat.v4.new_output("stream", name="stdout", text="kept"),
    ...     nbformat.v4.new_output("stream", name="stderr", text="warning: value 42"),
    ...     nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])])
    >>> nb = scrub(nbformat.v4.new_notebook(cells=[cell]))
    >>> [o.get("name", o.output_type) for o in nb.cells[0].outputs]
    ['stdout']
    """
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
    """Scrub an executed notebook in place and render it to a self-contained HTML page without code.

    Raises
    ------
    RunError
        When the page would still reference another host (it is then not written).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Probe"),
    ...     nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", name="stderr", text="oops")])])
    >>> nbformat.write(nb, d / "probe.ipynb")
    >>> render_html(d / "probe.ipynb", d / "probe.html", "Probe")
    >>> page = (d / "probe.html").read_text()
    >>> "<title>Probe</title>" in page, "x = 1" in page, "<script" in page, "oops" in page
    (True, False, False, False)
    """
    nb = scrub(nbformat.read(executed, as_version=4))
    nbformat.write(nb, executed)
    nb = _prose_as_output(nb)
    nb.metadata["title"] = title
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _strip_scripts(body)
    head_end = body.lower().rfind("</head>")
    if head_end >= 0:
        body = f"{body[:head_end]}<style>{SECTION_CSS}</style>{body[head_end:]}"
    if _EXTERNAL.search(body):
        raise RunError(f"{target.name}: rendered HTML still references another host; refusing to publish it.")
    target.write_text(body, encoding="utf-8")


def notebook_title(path: Path) -> str:
    """A section's title: its first Markdown heading, else its file name without the number.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Retention")]), d / "02_retention.ipynb")
    >>> nbformat.write(nbformat.v4.new_notebook(), d / "03_key_drivers.ipynb")
    >>> notebook_title(d / "02_retention.ipynb"), notebook_title(d / "03_key_drivers.ipynb")
    ('Retention', 'Key Drivers')
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if m:
                return m.group(1).strip()
    return path.stem.split("_", 1)[-1].replace("_", " ").title()
