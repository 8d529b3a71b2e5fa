"""``cx pdf``: the index and every section printed by headless Chromium into one PDF (issue 16).

Skipped, with the reason, where Chromium is not installed; the missing-Chromium message is checked everywhere.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from cxlib.errors import CxError
from cxlib.run.pdf import ENV_CHROMIUM, ChromiumNotFound, find_chromium, pages, print_pdf


def chromium_or_skip() -> str:
    try:
        return find_chromium()
    except ChromiumNotFound as e:
        pytest.skip(f"no Chromium on this machine: {e}")


def _pdf_pages(path: Path) -> list[tuple[int, int]]:
    """Per page of a PDF: characters of text and images drawn."""
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the printed PDF back")
    reader = pypdf.PdfReader(str(path))
    return [(len((p.extract_text() or "").strip()), len(p.images)) for p in reader.pages]


def _png(width: int = 900, height: int = 700) -> str:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        FigureCanvasAgg(fig)
        fig.add_subplot().plot([0, 1, 2], [2, 0, 1])
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _fake_run(root: Path) -> Path:
    """A run folder with an index and two sections: the second long enough to span pages, with figures."""
    import json

    run = root / "acme-2026Q3"
    run.mkdir()
    sections = [("00_quality.html", "Data quality", 3), ("01_portfolio.html", "Touchpoint portfolio", 60)]
    img = _png()
    for name, title, paragraphs in sections:
        body = "".join(f"<p>Paragraph {i} of {title}: the figures below are drawn from the result tables.</p>"
                       + (f'<img src="{img}" alt="figure {i}">' if i % 20 == 5 else "") for i in range(paragraphs))
        (run / name).write_text(f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
                                f"{body}</body></html>")
    (run / "index.html").write_text("<!DOCTYPE html><html><head><title>Index</title></head><body>"
                                    "<h1>Customer experience report</h1><p>Sections follow.</p></body></html>")
    (run / "manifest.json").write_text(json.dumps({"run_id": run.name, "sections": [
        {"html": n, "title": t} for n, t, _ in sections]}))
    return run


def test_missing_chromium_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_CHROMIUM, str(tmp_path / "no-chromium-here"))
    with pytest.raises(ChromiumNotFound) as err:
        print_pdf(_fake_run(tmp_path))
    assert isinstance(err.value, CxError)
    assert "apt-get install chromium" in str(err.value) and "Debian package chromium" in str(err.value)
    monkeypatch.delenv(ENV_CHROMIUM)
    with pytest.raises(ChromiumNotFound, match="apt-get install chromium"):
        find_chromium(names=("surely-not-a-browser",))


def test_pages_follow_the_manifest(tmp_path):
    assert [p.name for p in pages(_fake_run(tmp_path))] == ["index.html", "00_quality.html", "01_portfolio.html"]


@pytest.mark.parametrize("engine", ["cli", "playwright"])
def test_one_pdf_one_page_or_more_per_section_no_blank_page(tmp_path, engine):
    chromium_or_skip()
    if engine == "playwright":
        pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    run = _fake_run(tmp_path)
    printed = print_pdf(run, tmp_path / "out.pdf", engine=engine)
    per_page = _pdf_pages(printed.path)
    assert len(per_page) == printed.pages
    assert [name for name, _, _ in printed.parts] == ["index.html", "00_quality.html", "01_portfolio.html"]
    assert all(n >= 1 for _, _, n in printed.parts)
    assert printed.parts[-1][2] >= 2, "the long section should span pages"
    blank = [i + 1 for i, (chars, images) in enumerate(per_page) if chars == 0 and images == 0]
    assert not blank, f"blank pages {blank}"
    # each section starts on its own page: its first page opens with its title
    import pypdf

    reader = pypdf.PdfReader(str(printed.path))
    for name, first, _ in printed.parts[1:]:
        title = {"00_quality.html": "Data quality", "01_portfolio.html": "Touchpoint portfolio"}[name]
        assert reader.pages[first - 1].extract_text().lstrip().startswith(title), name
    # three figures, none cut: every image is drawn whole on one page
    assert sum(images for _, images in per_page) == 3


def test_cx_run_pdf_fails_before_any_notebook_without_chromium(monkeypatch, tmp_path, small_params_file, capsys):
    from cxlib.cli import main

    monkeypatch.setenv(ENV_CHROMIUM, str(tmp_path / "no-chromium-here"))
    code = main(["run", str(small_params_file), "--output-dir", str(tmp_path / "reports"), "--pdf"])
    err = capsys.readouterr().err
    assert code == ChromiumNotFound.exit_code == 6
    assert err.startswith("cx run: ") and "apt-get install chromium" in err and "[1/" not in err
    assert not (tmp_path / "reports").exists(), "nothing may be written when the PDF cannot be printed"


def test_cx_pdf_says_why_without_chromium(monkeypatch, tmp_path, capsys):
    from cxlib.cli import main

    run = _fake_run(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.delenv(ENV_CHROMIUM, raising=False)
    monkeypatch.setenv("PATH", str(empty))  # no chromium, chrome or anything else on PATH
    assert main(["pdf", str(run)]) == 6
    err = capsys.readouterr().err
    assert err.startswith("cx pdf: cx pdf needs headless Chromium") and "Debian package chromium" in err
    assert not list(run.glob("*.pdf"))
    assert main(["pdf", str(tmp_path / "no-such-run")]) == 7


@pytest.mark.slow
def test_cx_run_pdf_and_cx_pdf_of_a_published_run(two_quarters, tmp_path, capsys):
    """``cx run --pdf`` printed the second run before publishing it; ``cx pdf`` prints it again elsewhere."""
    from cxlib.cli import main

    chromium_or_skip()
    run = two_quarters / "small-2026Q3"
    printed = run / "small-2026Q3.pdf"
    assert printed.is_file(), "cx run --pdf publishes <run_id>.pdf with the run"
    assert 'href="small-2026Q3.pdf"' in (run / "index.html").read_text(encoding="utf-8")
    assert main(["pdf", str(run), "--output", str(tmp_path / "again.pdf")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'again.pdf'}") and "index.html 1" in out
    for pdf in (printed, tmp_path / "again.pdf"):
        per_page = _pdf_pages(pdf)
        assert len(per_page) >= len(pages(run)) >= 6  # the index and five sections, each one page or more
        assert not [i + 1 for i, (chars, images) in enumerate(per_page) if chars == 0 and images == 0], pdf
    import pypdf

    reader = pypdf.PdfReader(str(tmp_path / "again.pdf"))
    text = [p.extract_text() for p in reader.pages]
    assert text[0].lstrip().startswith("Customer experience report")
    # every section starts on a page of its own, with its title first
    starts = [i for i, t in enumerate(text) for title in ("Data quality", "Touchpoint metric portfolio",
                                                           "Retention and what drives churn", "Key drivers of NPS",
                                                           "Business impact") if t.lstrip().startswith(title)]
    assert len(starts) == 5 and starts == sorted(starts), starts
