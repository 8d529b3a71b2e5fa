"""The published report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright
opens the reports index, the run's index and every section with the network blocked, at desktop (1280 px)
and phone (390 px) width, and checks that every figure rendered and has alt text, that nothing scrolls
sideways on the phone except inside a wide table, that no console error occurred and that no request
left the file. Screenshots are kept in ``test-artifacts/browser/``.

Playwright launches the system Chromium (``executable_path``, found like ``cx pdf`` finds it); no browser
is downloaded. ``make test`` installs Debian's chromium when it is missing; the test installs it too when
it runs as root with apt, and is skipped (with the reason) only where neither is possible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cxlib.run.pdf import ChromiumNotFound, find_chromium

PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT / "test-artifacts" / "browser"
ALLOWED_SCHEMES = ("file:", "data:", "about:", "blob:")
DESKTOP, PHONE = 1280, 390
MAX_SHOT_HEIGHT = 12_000  # px: a long section is cut in its screenshot, not in its checks
# Elements that may be wider than the phone: they scroll inside their own box (wide tables).
SCROLL_BOXES = ".table-scroll, .cx-table-scroll"


def chromium_or_skip() -> str:
    """Chromium's path; installs Debian's package when missing (root with apt), else skips."""
    try:
        return find_chromium()
    except ChromiumNotFound:
        pass
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be (needs root and apt-get): "
                    "install Debian's 'chromium' package to run the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode:
            pytest.skip(f"could not install chromium ({' '.join(cmd)}): {done.stderr.strip()[-300:]}")
    try:
        return find_chromium()
    except ChromiumNotFound as e:
        pytest.skip(f"apt-get installed chromium but it is not found: {e}")


@dataclass
class PageResult:
    """What happened while a page loaded at one width."""

    url: str
    width: int
    images: list[dict[str, Any]]
    requests: list[str]
    errors: list[str]
    dialogs: list[str]
    data_tags: int
    title: str
    text_length: int
    scroll_width: int
    overflowing: list[str]
    screenshot: bytes = field(repr=False, default=b"")

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(ALLOWED_SCHEMES)]


# Elements sticking out of the viewport on the right that are not inside a box that scrolls on its own.
_OVERFLOWING = """(selector) => {
  const width = document.documentElement.clientWidth;
  const inBox = el => el.closest(selector) !== null;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1 && !inBox(el)) {
      out.push(`${el.tagName.toLowerCase()}.${el.className || ''} right=${Math.round(r.right)}`);
      if (out.length >= 5) break;
    }
  }
  return out;
}"""


class Browser:
    """Headless Chromium through Playwright with every request that is not a file blocked and recorded.

    Examples
    --------
    >>> with Browser(chromium_or_skip()) as browser:       # doctest: +SKIP
    ...     result = browser.open(Path("reports/demo/index.html"), width=390)
    """

    def __init__(self, executable: str):
        self.executable = executable

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        args = ["--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                # No name resolves and every connection goes to a closed local port: nothing can leave,
                # even a request the route below would not see.
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        try:
            self._browser = self._pw.chromium.launch(executable_path=self.executable, args=args, headless=True)
        except Exception:
            self._pw.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()

    def open(self, path: Path, width: int = DESKTOP, height: int = 900) -> PageResult:
        """Load a file at a viewport width, wait for it and its images, and report what happened."""
        context = self._browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                            is_mobile=width < 600, has_touch=width < 600, offline=True,
                                            java_script_enabled=True)
        requests: list[str] = []
        errors: list[str] = []
        dialogs: list[str] = []

        def block(route):  # every request that is not the page's own file fails
            url = route.request.url
            if url.startswith(ALLOWED_SCHEMES):
                route.continue_()
            else:
                route.abort("blockedbyclient")

        context.route("**/*", block)
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url[:100]))
        page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url[:100]}: {r.failure}"))
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "assert")
                else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

        def on_dialog(d):  # an alert() would block the page
            dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        try:
            url = path.resolve().as_uri()
            page.goto(url, wait_until="load", timeout=60_000)
            page.evaluate("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
            images = page.evaluate("Array.from(document.images).map(i => ({src: i.src.slice(0, 40), "
                                   "alt: i.getAttribute('alt'), width: i.naturalWidth, height: i.naturalHeight, "
                                   "complete: i.complete}))")
            data_tags = page.evaluate("document.querySelectorAll('img[src=\"x\"], img[onerror], [onmouseover], "
                                      "script, iframe, object, embed').length")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            overflowing = page.evaluate(_OVERFLOWING, SCROLL_BOXES) if scroll_width > width else []
            height_px = page.evaluate("document.documentElement.scrollHeight")
            shot = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": width,
                                                         "height": max(100, min(height_px, MAX_SHOT_HEIGHT))})
            return PageResult(url, width, images, requests, errors, dialogs, data_tags, page.title(),
                              page.evaluate("document.body ? document.body.innerText.length : 0"), scroll_width,
                              overflowing, shot)
        finally:
            context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with Browser(chromium_or_skip()) as b:
        yield b


def _pages(run: Path) -> list[Path]:
    sections = sorted(run.glob("[0-9][0-9]_*.html"))
    return [run.parent / "index.html", run / "index.html", *sections]


@pytest.fixture(scope="module")
def compared_run(two_quarters: Path) -> Path:
    """The second run of two consecutive quarters: its pages show everything, "since the last run" included."""
    return two_quarters / "small-2026Q3"


def _name(run: Path, page: Path) -> str:
    return "reports-index" if page.parent == run.parent else f"{page.parent.name}-{page.stem}"


@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_report_renders_offline_in_chromium(compared_run: Path, browser: Browser, width: int):
    pages = [*_pages(compared_run), compared_run.parent / "small-2026Q2" / "index.html"]  # the first run, too
    assert len(pages) >= 3, "expected the reports index, the run index and at least one section"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figures = 0
    for page in pages:
        result = browser.open(page, width=width)
        shot = ARTIFACTS / f"{_name(compared_run, page)}-{width}.png"
        shot.write_bytes(result.screenshot)
        assert result.requests and result.requests[0].startswith("file:"), result.requests
        assert not result.external_requests, f"{page.name} requested {result.external_requests}"
        assert not result.errors, f"{page.name}: console errors {result.errors}"
        assert not result.dialogs and result.data_tags == 0, page.name
        assert result.title and result.text_length > 100, f"{page.name} looks empty"
        blank = [img for img in result.images if not img["complete"] or img["width"] == 0]
        assert not blank, f"{page.name}: figures that did not render: {blank}"
        assert all(img["src"].startswith("data:image/") for img in result.images), page.name
        no_alt = [img["src"] for img in result.images if not (img["alt"] or "").strip()]
        assert not no_alt, f"{page.name}: images without alt text: {no_alt}"
        assert result.scroll_width <= width, (
            f"{page.name} scrolls sideways at {width} px (page {result.scroll_width} px wide): {result.overflowing}")
        figures += len(result.images)
    assert figures > 0, "no figure in the whole report"
    assert (ARTIFACTS / f"{compared_run.name}-index-{width}.png").stat().st_size > 10_000
    assert "Since the last run" in (compared_run / "index.html").read_text(encoding="utf-8")


def test_blocked_network_is_detected(tmp_path: Path, browser: Browser):
    """The checks are real: a page that fetches from another host is caught and the fetch fails; an image
    without alt text and a page wider than the phone are seen."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><title>leaky</title><meta name="viewport" '
                    'content="width=device-width, initial-scale=1"></head><body><p>hello</p>'
                    '<img src="https://example.invalid/pixel.png" alt="pixel">'
                    '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                    '<div style="width:900px">wide</div></body></html>')
    result = browser.open(page, width=PHONE)
    assert result.external_requests == ["https://example.invalid/pixel.png"]
    assert result.images[0]["width"] == 0 and result.errors
    assert [img["alt"] for img in result.images] == ["pixel", None]
    assert result.scroll_width > PHONE and any(o.startswith("div") for o in result.overflowing)
