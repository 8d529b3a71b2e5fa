"""The published report in a real browser: headless Chromium (Debian's ``chromium``) opens the
reports index, the run's index and every section with the network blocked, and checks that every
figure rendered, no console error occurred and no request left the file. Screenshots are kept in
``test-artifacts/browser/``.

Chromium is driven through its DevTools protocol over a local websocket (``websocket-client``).
``make test`` installs Debian's chromium when it is missing; the test installs it too when it
runs as root with apt, and is skipped (with the reason) only where neither is possible.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT / "test-artifacts" / "browser"
ALLOWED_SCHEMES = ("file:", "data:", "about:")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_or_skip() -> str:
    """Chromium's path; installs Debian's package when missing (root with apt), else skips."""
    path = chromium_path()
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be (needs root and apt-get): "
                    "install Debian's 'chromium' package to run the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode:
            pytest.skip(f"could not install chromium ({' '.join(cmd)}): {done.stderr.strip()[-300:]}")
    path = chromium_path()
    if not path:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return path


@dataclass
class PageResult:
    """What happened while a page loaded."""

    url: str
    images: list[dict[str, Any]]
    requests: list[str]
    errors: list[str]
    dialogs: list[str]
    data_tags: int
    title: str
    text_length: int
    screenshot: bytes = field(repr=False, default=b"")

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(ALLOWED_SCHEMES)]


class Chromium:
    """A headless Chromium with the network blocked, driven over the DevTools protocol.

    Examples
    --------
    >>> with Chromium(chromium_or_skip()) as browser:       # doctest: +SKIP
    ...     result = browser.open(Path("reports/demo/index.html"))
    """

    def __init__(self, binary: str, width: int = 1200, height: int = 900):
        self.binary, self.width, self.height = binary, width, height
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> "Chromium":
        import websocket

        self._profile = tempfile.mkdtemp(prefix="cx-chromium-")
        args = [
            self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self._profile}",
            # No name resolves and every connection goes to a closed local port: nothing can leave.
            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            f"--window-size={self.width},{self.height}", "about:blank",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        for domain in ("Page", "Network", "Runtime", "Log"):
            self._call(f"{domain}.enable")
        self._call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*", "ftp://*"])
        self._call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                   deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._ws.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    # ---- protocol ---------------------------------------------------------------------------
    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        my_id = self._next_id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._on_event(msg)

    def _on_event(self, msg: dict[str, Any]) -> None:
        self._events.append(msg)
        if msg.get("method") == "Page.javascriptDialogOpening":  # an alert() would block the page
            self._ws.send(json.dumps({"id": 10**9 + len(self._events), "method": "Page.handleJavaScriptDialog",
                                      "params": {"accept": False}}))

    def _wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self._on_event(json.loads(self._ws.recv()))

    def _eval(self, expression: str) -> Any:
        res = self._call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluation failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    # ---- pages ------------------------------------------------------------------------------
    def open(self, path: Path) -> PageResult:
        """Load a file, wait for it and its images, and report what happened."""
        self._events = []
        url = path.resolve().as_uri()
        self._call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        self._eval("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
        images = self._eval("Array.from(document.images).map(i => ({src: i.src.slice(0, 40), "
                            "width: i.naturalWidth, height: i.naturalHeight, complete: i.complete}))")
        data_tags = self._eval("document.querySelectorAll('img[src=\"x\"], img[onerror], [onmouseover], "
                               "script, iframe, object, embed').length")
        title = self._eval("document.title")
        text_length = self._eval("document.body ? document.body.innerText.length : 0")
        height = self._eval("Math.min(document.documentElement.scrollHeight, 12000)")
        shot = self._call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": self.width, "height": max(height, 100), "scale": 1})
        self._call("Runtime.evaluate", expression="1")  # drain events that arrived with the screenshot
        requests = [e["params"]["request"]["url"][:100] for e in self._events
                    if e.get("method") == "Network.requestWillBeSent"]
        errors = [e["params"]["entry"]["text"] for e in self._events
                  if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
        errors += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                   for e in self._events if e.get("method") == "Runtime.consoleAPICalled"
                   and e["params"]["type"] in ("error", "assert")]
        errors += [e["params"]["exceptionDetails"].get("text", "exception") for e in self._events
                   if e.get("method") == "Runtime.exceptionThrown"]
        errors += [f"failed to load: {e['params'].get('errorText') or e['params'].get('blockedReason')}"
                   for e in self._events if e.get("method") == "Network.loadingFailed"]
        dialogs = [e["params"]["message"] for e in self._events if e.get("method") == "Page.javascriptDialogOpening"]
        return PageResult(url, images, requests, errors, dialogs, data_tags, title, text_length,
                          base64.b64decode(shot["data"]))


def _pages(run: Path) -> list[Path]:
    sections = sorted(run.glob("[0-9][0-9]_*.html"))
    return [run.parent / "index.html", run / "index.html", *sections]


def test_report_renders_offline_in_chromium(published_run: Path):
    pages = _pages(published_run)
    assert len(pages) >= 3, "expected the reports index, the run index and at least one section"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figures = 0
    with Chromium(chromium_or_skip()) as browser:
        for page in pages:
            result = browser.open(page)
            name = "reports-index" if page.parent == published_run.parent else page.stem
            (ARTIFACTS / f"{published_run.name}-{name}.png").write_bytes(result.screenshot)
            assert result.requests and result.requests[0].startswith("file:"), result.requests
            assert not result.external_requests, f"{page.name} requested {result.external_requests}"
            assert not result.errors, f"{page.name}: console errors {result.errors}"
            assert not result.dialogs and result.data_tags == 0, page.name
            assert result.title and result.text_length > 100, f"{page.name} looks empty"
            blank = [img for img in result.images if not img["complete"] or img["width"] == 0]
            assert not blank, f"{page.name}: figures that did not render: {blank}"
            assert all(img["src"].startswith("data:image/") for img in result.images), page.name
            figures += len(result.images)
    assert figures > 0, "no figure in the whole report"
    assert (ARTIFACTS / f"{published_run.name}-index.png").stat().st_size > 10_000


def test_blocked_network_is_detected(tmp_path: Path):
    """The check is real: a page that fetches from another host is caught, and the fetch fails."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><title>leaky</title></head><body><p>hello</p>'
                    '<img src="https://example.invalid/pixel.png" alt="pixel"></body></html>')
    with Chromium(chromium_or_skip()) as browser:
        result = browser.open(page)
    assert result.external_requests == ["https://example.invalid/pixel.png"]
    assert result.images[0]["width"] == 0 and result.errors
