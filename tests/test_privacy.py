"""Privacy and safety of published output: no customer id, no raw row, no free text, every data
string escaped, small cells suppressed — in every HTML page, executed notebook and result file.

One full ``cx run`` on hostile data (names that are HTML, a segment of three customers, free-text
and e-mail columns, a 10 MB comment) is checked in one test, so that the run happens once; the
shared demo run (``published_run``) is scanned as well.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from cxlib.cli import main

XSS_TOUCHPOINT = "<img src=x onerror=alert(1)>"
XSS_CHANNEL = "<img src=x onerror=alert(2)>"
XSS_SEGMENT = "<img src=x onerror=alert(3)>"
TINY = "tinyseg"
SECRET = "SECRETNOTE"
TEXT_SUFFIXES = (".html", ".ipynb", ".csv", ".json", ".yaml", ".jsonl")
# An HTML tag built from data: any <img> with an event handler or a non-data: source.
_TAG = re.compile(r"<img\b[^>]*(?:onerror|src\s*=\s*[\"']?x\b)", re.I)


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
    from cxlib.demo import generate

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


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    from conftest import demo_params_dict, write_params

    d = tmp_path_factory.mktemp("hostile")
    frames = hostile_frames()
    for name, df in frames.items():
        df.to_parquet(d / f"{name}.parquet", index=False)
    raw = demo_params_dict(d, run_id="hostile", bootstrap=20)
    raw["touchpoints"] = [XSS_TOUCHPOINT if t == "billing" else t for t in raw["touchpoints"]]
    raw["targets"] = {m: _rename(t, "billing", XSS_TOUCHPOINT) for m, t in raw["targets"].items()}
    raw["journey"] = {stage: [XSS_TOUCHPOINT if t == "billing" else t for t in tps] for stage, tps in raw["journey"].items()}
    params = write_params(d / "params.yaml", raw)
    out = d / "reports"
    assert main(["run", str(params), "--output-dir", str(out)]) == 0
    return out / "hostile", frames


def _rows_mentioning(html: str, name: str) -> list[str]:
    """Table rows and sentences of a page that mention ``name``, as plain text."""
    blocks = re.findall(r"<tr\b.*?</tr>|<p\b.*?</p>|<li\b.*?</li>|<div class=\"cx-[a-z]+\".*?</div>", html, re.S | re.I)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", b)) for b in blocks]
    return [t for t in texts if name in t]


def _numbers_besides_labels(text: str, name: str) -> list[str]:
    """Numbers left in a row once the group name, periods, dates and the suppression note are removed."""
    text = text.replace(name, " ")
    text = re.sub(r"\b\d{4}(?:-?Q[1-4]|-\d{2}(?:-\d{2})?)\b", " ", text)  # periods and dates
    text = re.sub(r"[nN]\s*(?:<|&lt;)\s*\d+|min_cell_size\s*\(?\d+\)?|fewer than \d+", " ", text)  # "n < 10"
    return re.findall(r"\d+(?:[.,]\d+)?", text)


def test_hostile_data_never_leaks(hostile_run):
    run, frames = hostile_run
    pages = sorted(run.glob("*.html"))
    notebooks = sorted((run / "notebooks").glob("*.ipynb"))
    assert len(pages) >= 2 and notebooks
    problems: list[str] = []

    # 1. no customer id, no free text, no raw row in any published file (HTML, notebooks, results)
    ids = set(frames["customers"]["customer_id"])
    problems += [f"customer ids in {f}: {v}" for f, v in leaked_ids(run, ids).items()]
    for path in published_files(run):
        text = path.read_text(encoding="utf-8", errors="replace")
        if SECRET in text or "@example.org" in text:
            problems.append(f"free text or e-mail shown in {path.relative_to(run)}")
        if path.stat().st_size > 5_000_000:
            problems.append(f"{path.relative_to(run)} is {path.stat().st_size:,} bytes")
    problems += [f"unscrubbed output: {o}" for o in unscrubbed_outputs(run)]

    # 2. every data string escaped: never a tag, in any page or notebook HTML output
    for page in pages:
        for m in _TAG.finditer(page.read_text(encoding="utf-8")):
            problems.append(f"{page.name}: data rendered as a tag: {m.group(0)[:80]}")
    for nb in notebooks:
        for html in html_outputs(nb):
            if _TAG.search(html):
                problems.append(f"{nb.name}: an HTML output renders data as a tag")
    quality = (run / "00_data_quality.html").read_text(encoding="utf-8")
    if "&lt;img src=x onerror=alert(1)&gt;" not in quality:
        problems.append("the touchpoint name is not shown as escaped text in the touchpoint inventory")

    # 3. small cells suppressed: the segment of 3 customers shows no number anywhere
    for page in [*pages, run / "index.html"]:
        for row in _rows_mentioning(page.read_text(encoding="utf-8"), TINY):
            if _numbers_besides_labels(row, TINY):
                problems.append(f"{page.name}: a statistic of the {TINY} segment (3 customers): {row[:160]!r}")
    results = run / "results"
    metrics = pd.read_csv(results / "metrics.csv") if (results / "metrics.csv").exists() else None
    if metrics is not None:
        tiny = metrics[metrics["segment"] == TINY]
        if not (tiny["suppressed"].astype(bool).all() and tiny["value"].isna().all()):
            problems.append("metrics.csv shows values of the tiny segment")
    for name in ("retention", "hazard_ratios"):
        path = results / f"{name}.csv"
        if path.exists():
            df = pd.read_csv(path)
            label = "group" if name == "retention" else "term"
            value = "survival" if name == "retention" else "hazard_ratio"
            shown = df[df[label].astype(str).str.contains(TINY) & df[value].notna()]
            if len(shown):
                problems.append(f"{name}.csv shows the tiny segment: {shown.iloc[0].to_dict()}")
    assert not problems, "\n".join(problems)

    # 4. and yet the report was written from these data
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["customers"]["rows_kept"] == len(frames["customers"])


def test_browser_shows_names_as_text(hostile_run):
    """Opened in Chromium, no page of the hostile run creates an element from data or runs a script."""
    from test_browser import Chromium, chromium_or_skip

    run, _ = hostile_run
    with Chromium(chromium_or_skip()) as browser:
        for page in [run / "index.html", *sorted(run.glob("[0-9][0-9]_*.html"))]:
            result = browser.open(page)
            assert not result.dialogs, f"{page.name} ran a script: {result.dialogs}"
            assert result.data_tags == 0, f"{page.name}: an element was built from a data value"
            assert not result.errors, f"{page.name}: {result.errors}"
