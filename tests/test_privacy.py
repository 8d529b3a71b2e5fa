"""Privacy and safety of published output: no customer id, no raw row, no free text, every data
string escaped, small cells suppressed — in every HTML page, executed notebook and result file.

One full ``cx run`` on hostile data (names that are HTML, a segment of three customers, free-text
and e-mail columns, a 10 MB comment) is made once per session and checked by several tests; the
shared demo run (``published_run``) is scanned as well.
"""

from __future__ import annotations

import fcntl
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cxlib.cli import main


XSS_TOUCHPOINT = "<img src=x onerror=alert(1)>"
XSS_CHANNEL = "<img src=x onerror=alert(2)>"
XSS_SEGMENT = "<img src=x onerror=alert(3)>"
TINY = "tinyseg"
SECRET = "SECRETNOTE"
TEXT_SUFFIXES = (".html", ".ipynb", ".csv", ".json", ".yaml", ".jsonl")


class _ImgTags(HTMLParser):
    """Every ``<img>`` whose parsed attributes carry an event handler or a source that is not ``data:``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and (any(a.startswith("on") for a in attrs) or not (attrs.get("src") or "").startswith("data:")):
            shown = " ".join(f"{k}={str(v)[:30]!r}" for k, v in attrs.items())
            self.found.append(f"<img {shown}>")


def data_tags(html_text: str) -> list[str]:
    """HTML tags built from data: an ``<img>`` with an event handler or a non-``data:`` source. Parsed, not
    matched with a pattern: an escaped name inside an attribute (a figure's alt text) is text, not a tag."""
    parser = _ImgTags()
    parser.feed(html_text)
    return parser.found


def published_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]


def leaked_ids(run: Path, ids: set[str]) -> dict[str, list[str]]:
    out = {}
    for path in published_files(run):
        tokens = set(re.findall(r"[A-Za-z0-9_-]+", path.read_text(encoding="utf-8", errors="replace")))
        if tokens & ids:
            out[str(path.relative_to(run))] = sorted(tokens & ids)[:3]
    return out


def unscrubbed_outputs(run: Path) -> list[str]:
    found = []
    for path in (run / "notebooks").glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for o in cell.get("outputs", []):
                if o["output_type"] == "error" or (o["output_type"] == "stream" and o["name"] == "stderr"):
                    found.append(f"{path.name}: {o['output_type']} {o.get('name', '')}")
    return found


def html_outputs(path: Path) -> list[str]:
    """The text/html outputs of an executed notebook (what Jupyter would render)."""
    return [o["data"]["text/html"] for cell in nbformat.read(path, as_version=4).cells
            for o in cell.get("outputs", []) if "text/html" in o.get("data", {})]


def test_no_customer_id_in_any_published_file(published_run: Path, demo_small: Path):
    ids = set(pd.read_parquet(demo_small / "customers.parquet", columns=["customer_id"])["customer_id"])
    assert not leaked_ids(published_run, ids)


def test_published_notebooks_are_scrubbed(published_run: Path):
    assert list((published_run / "notebooks").glob("*.ipynb"))
    assert not unscrubbed_outputs(published_run)


# ---- hostile data -----------------------------------------------------------------------------


def hostile_frames(n: int = 400, seed: int = 13) -> dict[str, pd.DataFrame]:
    from cxlib.demo.synthetic import generate

    f = generate(n, seed=seed)
    c, i, s = f["customers"], f["interactions"], f["surveys"]
    c["segment"] = c["segment"].replace({"smb": XSS_SEGMENT})
    c.loc[c.index[:3], "segment"] = TINY
    c["email"] = [f"{cid.lower()}.{SECRET}@example.org" for cid in c["customer_id"]]
    i["touchpoint"] = i["touchpoint"].replace({"billing": XSS_TOUCHPOINT})
    i["channel"] = i["channel"].replace({"chat": XSS_CHANNEL})
    i["comment"] = [f"{SECRET} customer {cid} said: <script>alert('x')</script>" for cid in i["customer_id"]]
    i.loc[i.index[0], "comment"] = SECRET + "y" * (10 * 1024 * 1024)
    s["verbatim"] = [f"{SECRET} {cid} would not recommend" for cid in s["customer_id"]]
    return f


def _rename(d: dict, old: str, new: str) -> dict:
    return {new if k == old else k: v for k, v in d.items()}


def _shared_dir(tmp_path_factory, worker_id: str) -> Path:
    """A folder shared by all pytest-xdist workers of this session (the session's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory, worker_id) -> tuple[Path, dict[str, pd.DataFrame]]:
    """One ``cx run`` on hostile data per session, whichever xdist worker asks first (a file lock
    makes the others wait and reuse it)."""
    from conftest import demo_params_dict, write_params

    d = _shared_dir(tmp_path_factory, worker_id) / "hostile-run"
    d.mkdir(exist_ok=True)
    frames = hostile_frames()
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (d / "done").exists():
            for name, df in frames.items():
                df.to_parquet(d / f"{name}.parquet", index=False)
            raw = demo_params_dict(d, run_id="hostile", bootstrap=20)
            raw["touchpoints"] = [XSS_TOUCHPOINT if t == "billing" else t for t in raw["touchpoints"]]
            raw["targets"] = {m: _rename(t, "billing", XSS_TOUCHPOINT) for m, t in raw["targets"].items()}
            raw["journey"] = {stage: [XSS_TOUCHPOINT if t == "billing" else t for t in tps]
                              for stage, tps in raw["journey"].items()}
            params = write_params(d / "params.yaml", raw)
            assert main(["run", str(params), "--output-dir", str(d / "reports"), "--force"]) == 0
            (d / "done").touch()
    return d / "reports" / "hostile", frames


def _rows_mentioning(page: str, name: str) -> list[str]:
    """Table rows and sentences of a page that mention ``name``, as plain text."""
    blocks = re.findall(r"<tr\b.*?</tr>|<p\b.*?</p>|<li\b.*?</li>|<div class=\"cx-[a-z]+\".*?</div>", page, re.S | re.I)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", b)) for b in blocks]
    return [t for t in texts if name in t]


def _numbers_besides_labels(text: str, name: str) -> list[str]:
    """Numbers left in a row once the group name, periods, dates and the suppression note are removed."""
    text = text.replace(name, " ")
    text = re.sub(r"\b\d{4}(?:-?Q[1-4]|-\d{2}(?:-\d{2})?)\b", " ", text)  # periods and dates
    text = re.sub(r"[nN]\s*(?:<|&lt;)\s*\d+|min_cell_size\s*\(?\d+\)?|fewer than \d+", " ", text)  # "n < 10"
    return re.findall(r"\d+(?:[.,]\d+)?", text)


def test_hostile_run_shows_no_id_free_text_or_raw_row(hostile_run):
    run, frames = hostile_run
    ids = set(frames["customers"]["customer_id"])
    assert not leaked_ids(run, ids)
    for path in published_files(run):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert SECRET not in text and "@example.org" not in text, f"free text or e-mail shown in {path.relative_to(run)}"
        assert path.stat().st_size < 5_000_000, f"{path.relative_to(run)} is {path.stat().st_size:,} bytes"
    assert not unscrubbed_outputs(run)
    manifest = json.loads((run / "manifest.json").read_text())
    # the report used these data, kept every customer row (no exact count is published: docs/privacy.md)
    assert manifest["inputs"]["customers"]["share_kept"] == 1.0 and "rows_kept" not in manifest["inputs"]["customers"]


def test_hostile_names_appear_as_text_never_as_tags(hostile_run):
    run, _ = hostile_run
    pages = sorted(run.glob("*.html"))
    for page in pages:
        found = data_tags(page.read_text(encoding="utf-8"))
        assert not found, f"{page.name}: data rendered as a tag: {found[:3]}"
    for nb in sorted((run / "notebooks").glob("*.ipynb")):
        assert not any(data_tags(h) for h in html_outputs(nb)), f"{nb.name}: an HTML output renders data as a tag"
    quality = (run / "00_data_quality.html").read_text(encoding="utf-8")
    for name in (XSS_TOUCHPOINT, XSS_CHANNEL):
        assert html.escape(name, quote=False) in quality, f"{name} is not shown as text in the touchpoint inventory"


def test_hostile_pages_in_chromium(hostile_run):
    """Opened in Chromium, no page builds an element from data, runs a script or fetches anything."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    from test_browser import Browser, chromium_or_skip

    run, _ = hostile_run
    with Browser(chromium_or_skip()) as browser:
        for page in [run / "index.html", *sorted(run.glob("[0-9][0-9]_*.html"))]:
            result = browser.open(page)
            assert not result.dialogs, f"{page.name} ran a script: {result.dialogs}"
            assert result.data_tags == 0, f"{page.name}: an element was built from a data value"
            assert not result.errors and not result.external_requests, (page.name, result.errors)


def test_small_segment_shows_no_number_on_any_page(hostile_run):
    run, _ = hostile_run
    for page in sorted(run.glob("*.html")):
        for row in _rows_mentioning(page.read_text(encoding="utf-8"), TINY):
            assert not _numbers_besides_labels(row, TINY), f"{page.name}: a statistic of a 3-customer segment: {row[:200]!r}"


@pytest.mark.parametrize("name,label,value", [
    ("metrics", "segment", "value"),
    ("retention", "group", "survival"),
    ("hazard_ratios", "term", "hazard_ratio"),
])
def test_small_segment_suppressed_in_result_files(hostile_run, name, label, value):
    run, _ = hostile_run
    path = run / "results" / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"this run wrote no results/{name}.csv")
    df = pd.read_csv(path)
    shown = df[df[label].astype(str).str.contains(TINY) & df[value].notna()]
    assert shown.empty, f"{name}.csv shows statistics of the 3-customer segment:\n{shown.head().to_string()}"


def test_display_escapes_and_cuts_long_values():
    from cxlib.text import display
    from cxlib.text.format import MAX_CELL_CHARS, MAX_VALUE_CHARS
    from cxlib.text.names import MAX_NAME_CHARS

    df = pd.DataFrame({"touchpoint": [XSS_TOUCHPOINT, "x" * 10_000, None], "n": [1.5, None, 3.0],
                       "note": ["z" * 10_000, "", ""]})
    shown = display.table(df).data
    assert XSS_TOUCHPOINT not in shown and html.escape(XSS_TOUCHPOINT) in shown
    # a name column is cut to the one display length of names, any other text at MAX_CELL_CHARS
    assert "x" * MAX_NAME_CHARS not in shown and "x" * (MAX_NAME_CHARS - 1) + "…" in shown
    assert "z" * MAX_CELL_CHARS not in shown and "z" * (MAX_CELL_CHARS - 1) + "…" in shown
    assert "None" not in shown and shown.count("—") == 2
    sentence = display.say("{tp} is busy; {long}", tp=XSS_TOUCHPOINT, long="y" * 10_000).data
    assert "<img" not in sentence and len(sentence) < MAX_VALUE_CHARS + 200
    note = display.callout("{tp} cannot be fitted", tp=XSS_SEGMENT).data
    assert "<img" not in note and "&lt;img src=x onerror=alert(3)&gt;" in note
