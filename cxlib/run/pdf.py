"""One PDF of a run: the index page and every section, printed by headless Chromium and merged.

``cx pdf RUN_DIR`` (and ``cx run --pdf``) call :func:`print_pdf`. Each page (``index.html``, then the
sections in the manifest's order) is printed to its own PDF, so every section starts on a new page;
the parts are merged with pypdf. Before printing, a copy of each page gets a print stylesheet
(:data:`PRINT_CSS`) that keeps figures, tables rows and outputs whole (no figure cut across pages).

Chromium is found as ``$CX_CHROMIUM``, else ``chromium``, ``chromium-browser``, ``google-chrome`` or
``google-chrome-stable`` on ``PATH``. Printing goes through Playwright (``playwright.sync_api`` with
``executable_path``, never a downloaded browser) when it is installed, else through Chromium's own
``--headless --print-to-pdf``. Without Chromium, :class:`ChromiumNotFound` says which Debian package to
install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cxlib.errors import CxError
from cxlib.run.layout import INDEX, RunFolder

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV_CHROMIUM = "CX_CHROMIUM"
INSTALL_HINT = ("install the Debian package chromium (apt-get install chromium), or set CX_CHROMIUM to the path of "
                "a Chromium or Google Chrome executable")
PRINT_CSS = """
@page { size: A4; margin: 12mm 10mm; }
html, body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
img, svg, canvas, figure, .jp-RenderedImage, .output_png, .jp-OutputArea-output img,
table, tr, blockquote, pre { break-inside: avoid; page-break-inside: avoid; }
img, svg { max-width: 100% !important; height: auto !important; }
.jp-RenderedImage, .jp-OutputArea-output { overflow: visible !important; }
h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
.table-scroll, .jp-RenderedHTMLCommon { overflow: visible !important; }
"""


class ChromiumNotFound(CxError):
    """No Chromium to print with (exit code 6); the message names the package to install.

    Examples
    --------
    >>> issubclass(ChromiumNotFound, CxError), "apt-get install chromium" in str(ChromiumNotFound())
    (True, True)
    """

    exit_code = 6

    def __init__(self, message: str | None = None):
        super().__init__(message or f"cx pdf needs headless Chromium, and none was found: {INSTALL_HINT}.")


class PdfError(CxError):
    """Chromium ran but a page could not be printed or the parts could not be merged (exit code 7)."""

    exit_code = 7


def find_chromium(names: tuple[str, ...] = CHROMIUM_NAMES) -> str:
    """The Chromium executable: ``$CX_CHROMIUM`` when set, else the first of ``names`` on ``PATH``.

    Raises
    ------
    ChromiumNotFound
        Nothing found, or ``$CX_CHROMIUM`` is not an executable file.

    Examples
    --------
    >>> import os
    >>> old = os.environ.pop(ENV_CHROMIUM, None)
    >>> try:
    ...     find_chromium(names=("no-such-browser",))
    ... except ChromiumNotFound as e:
    ...     print(str(e)[:40])
    cx pdf needs headless Chromium, and none
    >>> if old is not None: os.environ[ENV_CHROMIUM] = old
    """
    override = os.environ.get(ENV_CHROMIUM)
    if override:
        path = shutil.which(override) or override
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ChromiumNotFound(f"{ENV_CHROMIUM}={override!r} is not an executable file: {INSTALL_HINT}.")
        return path
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumNotFound()


def pages(run_dir: Path) -> list[Path]:
    """The pages of a run in print order: ``index.html``, then each section's HTML as the manifest lists them.

    Without a manifest, the ``NN_*.html`` files in name order.

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> for name in ("index.html", "01_b.html", "00_a.html"):
    ...     _ = (run / name).write_text("<p>x</p>")
    >>> [p.name for p in pages(run)]
    ['index.html', '00_a.html', '01_b.html']
    """
    run = RunFolder(Path(run_dir))
    try:
        sections = [run.root / s["html"] for s in json.loads(run.manifest.read_text(encoding="utf-8"))["sections"]]
    except (OSError, ValueError, KeyError, TypeError):
        sections = sorted(p for p in run.root.glob("[0-9][0-9]_*.html"))
    found = [p for p in [run.index, *sections] if p.is_file()]
    if not found:
        raise PdfError(f"{run.root} has no {INDEX} or section pages to print: is it a published run folder?")
    return found


def _run_id(run_dir: Path) -> str:
    try:
        return str(json.loads(RunFolder(run_dir).manifest.read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return Path(run_dir).resolve().name


def _with_print_css(page: Path, folder: Path) -> Path:
    """A copy of ``page`` in ``folder`` with :data:`PRINT_CSS` added at the end of its head."""
    html = page.read_text(encoding="utf-8")
    style = f"<style>{PRINT_CSS}</style>"
    i = html.lower().rfind("</head>")
    html = html[:i] + style + html[i:] if i >= 0 else style + html
    out = folder / page.name
    out.write_text(html, encoding="utf-8")
    return out


def _chromium_args(executable: str, profile: Path) -> list[str]:
    args = [executable, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    return args


def _print_cli(executable: str, html: Path, pdf: Path, profile: Path, timeout: float) -> None:
    cmd = [*_chromium_args(executable, profile), "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
           "--virtual-time-budget=10000", f"--print-to-pdf={pdf}", html.resolve().as_uri()]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise PdfError(f"Chromium did not print {html.name} within {timeout:.0f} s.") from e
    if not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise PdfError(f"Chromium ({executable}) did not print {html.name} (exit code {proc.returncode}): "
                       + " / ".join(tail))


def _print_playwright(executable: str, htmls: list[Path], pdfs: list[Path], timeout: float) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=args, headless=True)
        try:
            page = browser.new_page()
            for html, pdf in zip(htmls, pdfs):
                page.goto(html.resolve().as_uri(), wait_until="load", timeout=timeout * 1000)
                page.emulate_media(media="print")
                page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True,
                         display_header_footer=False)
        finally:
            browser.close()


def _playwright_usable() -> bool:
    try:
        import asyncio

        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    try:
        asyncio.get_running_loop()
        return False  # the sync API cannot run inside an event loop (a notebook kernel)
    except RuntimeError:
        return True


@dataclass(frozen=True)
class PrintedPdf:
    """What :func:`print_pdf` wrote: the file and, per printed page, its name and first page number (1-based)."""

    path: Path
    parts: tuple[tuple[str, int, int], ...]  # (page file name, first page, page count)

    @property
    def pages(self) -> int:
        """Pages of the merged PDF."""
        return sum(n for _, _, n in self.parts)


def merge_pdfs(parts: list[Path], output: Path) -> list[int]:
    """Concatenate PDFs into ``output`` (each part starts on a new page); the page count of each part.

    Raises
    ------
    PdfError
        pypdf is not installed.

    Examples
    --------
    >>> import tempfile
    >>> from pypdf import PdfWriter
    >>> d = Path(tempfile.mkdtemp())
    >>> for name, n in (("a.pdf", 1), ("b.pdf", 2)):
    ...     w = PdfWriter()
    ...     for _ in range(n):
    ...         _ = w.add_blank_page(width=200, height=200)
    ...     _ = w.write(d / name)
    >>> merge_pdfs([d / "a.pdf", d / "b.pdf"], d / "all.pdf")
    [1, 2]
    """
    try:
        from pypdf import PdfReader, PdfWriter
    except ImportError as e:
        raise PdfError("cx pdf merges the printed pages with pypdf, which is not installed: pip install pypdf "
                       "(it is listed in the project's dependencies).") from e
    writer = PdfWriter()
    counts = []
    for part in parts:
        reader = PdfReader(str(part))
        counts.append(len(reader.pages))
        for page in reader.pages:
            writer.add_page(page)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        writer.write(fh)
    tmp.replace(output)
    return counts


def print_pdf(run_dir: Path, output: Path | None = None, *, engine: str = "auto", timeout: float = 180.0) -> PrintedPdf:
    """Print a run's index and every section into one PDF, each starting on a new page.

    Parameters
    ----------
    run_dir : Path
        A run folder (published, or the staging folder before publishing).
    output : Path, optional
        Default ``<run_dir>/<run_id>.pdf`` (the run_id from the manifest, else the folder's name).
    engine : {"auto", "playwright", "cli"}
        ``auto``: Playwright when installed (and not inside an event loop), else Chromium's command line.
    timeout : float
        Seconds allowed per page.

    Raises
    ------
    ChromiumNotFound
        No Chromium: the message names the Debian package ``chromium``.
    PdfError
        A page could not be printed, or pypdf is missing.

    Examples
    --------
    >>> print_pdf(Path("reports/demo")).path  # doctest: +SKIP
    PosixPath('reports/demo/demo.pdf')
    """
    run_dir = Path(run_dir)
    executable = find_chromium()
    todo = pages(run_dir)
    output = Path(output) if output else RunFolder(run_dir).pdf(_run_id(run_dir))
    use_playwright = engine == "playwright" or (engine == "auto" and _playwright_usable())
    with tempfile.TemporaryDirectory(prefix="cx-pdf-") as tmp:
        folder = Path(tmp)
        htmls = [_with_print_css(p, folder) for p in todo]
        pdfs = [folder / f"{i:02d}-{p.stem}.pdf" for i, p in enumerate(todo)]
        if use_playwright:
            try:
                _print_playwright(executable, htmls, pdfs, timeout)
            except ImportError as e:
                raise PdfError("engine='playwright' needs the playwright package (pip install playwright).") from e
            except Exception as e:  # playwright's own errors: report them as ours
                raise PdfError(f"Chromium ({executable}) through Playwright could not print the run: {e}") from e
        else:
            for html, pdf in zip(htmls, pdfs):
                _print_cli(executable, html, pdf, folder / "profile", timeout)
        output.parent.mkdir(parents=True, exist_ok=True)
        counts = merge_pdfs(pdfs, output)
    first, parts = 1, []
    for page, n in zip(todo, counts):
        parts.append((page.name, first, n))
        first += n
    return PrintedPdf(output, tuple(parts))
