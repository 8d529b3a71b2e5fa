"""The run's landing page (issue 16): scorecard, forest plot, Jinja2 templates with autoescaping, alt text."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
from markupsafe import Markup

from cxlib.run.landing import (OKABE_ITO, forest_plot_png, forest_sentence, render_reports_index, render_run_index,
                               scorecard)

HOSTILE = "<img src=x onerror=alert(1)>"


def _metrics() -> pd.DataFrame:
    rows = []
    for tp, top2, mean, n, supp in [("all", 0.57, 3.55, 900, False), ("billing", 0.34, 2.89, 400, False),
                                    ("app", 0.71, 3.95, 300, False), ("delivery", np.nan, np.nan, 4, True)]:
        for metric, v, lo, hi in [("csat_top2", top2, top2 - 0.02, top2 + 0.02), ("csat_mean", mean, mean - 0.1, mean + 0.1)]:
            rows.append({"period": "2026Q3", "touchpoint": tp, "channel": "all", "segment": "all", "metric": metric,
                         "n": n, "value": v, "ci_lower": lo, "ci_upper": hi, "suppressed": supp})
    rows.append({"period": "2026Q3", "touchpoint": "all", "channel": "all", "segment": "all", "metric": "nps",
                 "n": 500, "value": 6.9, "ci_lower": 3.1, "ci_upper": 10.7, "suppressed": False})
    rows.append({"period": "2026Q2", "touchpoint": "billing", "channel": "all", "segment": "all", "metric": "csat_top2",
                 "n": 380, "value": 0.41, "ci_lower": 0.39, "ci_upper": 0.43, "suppressed": False})
    rows.append({"period": "2026Q3", "touchpoint": "billing", "channel": "web", "segment": "all", "metric": "csat_top2",
                 "n": 100, "value": 0.2, "ci_lower": 0.1, "ci_upper": 0.3, "suppressed": False})
    return pd.DataFrame(rows)


def _changes() -> pd.DataFrame:
    base = {"period": "2026Q3", "previous_period": "2026Q2", "channel": "all", "segment": "all"}
    return pd.DataFrame([
        {**base, "touchpoint": "billing", "metric": "csat_top2", "difference": -0.07, "ci_lower": -0.09,
         "ci_upper": -0.05, "q_value": 1e-9, "significant": True},
        {**base, "touchpoint": "app", "metric": "csat_mean", "difference": 0.08, "ci_lower": 0.01,
         "ci_upper": 0.15, "q_value": 0.2, "significant": False},  # p < 0.05 maybe, but not after BH: no marker
        {**base, "touchpoint": "all", "metric": "nps", "difference": 9.1, "ci_lower": 3.0, "ci_upper": 15.0,
         "q_value": 0.01, "significant": True},
        {**base, "channel": "web", "touchpoint": "billing", "metric": "csat_mean", "difference": -0.5,
         "ci_lower": -0.9, "ci_upper": -0.1, "q_value": 0.01, "significant": True},  # a breakdown: not on the card
    ])


def _targets() -> pd.DataFrame:
    return pd.DataFrame({"metric": ["csat_top2", "csat_top2", "nps"], "touchpoint": ["billing", "app", "all"],
                         "period": "2026Q3", "target": [0.7, 0.7, 20.0], "status": ["missed", "met", "can't tell"]})


def _hazard_ratios(name: str = "billing") -> pd.DataFrame:
    return pd.DataFrame({"model": ["touchpoints"] * 4 + ["covariates"],
                         "term": [f"poor_{name}", "poor_support", "poor_app", "plan[plus]", "plan[plus]"],
                         "hazard_ratio": [2.07, 0.7, 1.03, 0.8, 0.8], "ci_lower": [1.93, 0.6, 0.94, 0.73, 0.73],
                         "ci_upper": [2.23, 0.82, 1.13, 0.87, 0.87], "p_value": [1e-9, 1e-4, 0.5, 1e-6, 1e-6]})


def test_scorecard_latest_period_values_intervals_targets_and_bh_markers():
    card = scorecard(_metrics(), _changes(), _targets(), touchpoints=["billing", "app"])
    assert card.period == "2026Q3"
    assert [c["metric"] for c in card.columns] == ["csat_top2", "csat_mean", "nps"]
    assert [r.touchpoint for r in card.rows] == ["all", "billing", "app", "delivery"]
    f = card.to_frame().set_index(["touchpoint", "metric"])
    assert f.loc[("billing", "csat_top2"), "value"] == "34.0%"
    assert f.loc[("billing", "csat_top2"), "interval"] == "32.0% to 36.0%"
    assert f.loc[("billing", "csat_top2"), "status"] == "missed"
    assert f.loc[("app", "csat_top2"), "status"] == "met"
    # a change marker only where the change survives Benjamini–Hochberg
    assert f.loc[("billing", "csat_top2"), "change"] == "▼ −7.0 pts"
    assert f.loc[("all", "nps"), "change"] == "▲ +9.1 points"
    assert f.loc[("app", "csat_mean"), "change"] == ""
    assert f.loc[("billing", "csat_mean"), "change"] == ""  # its significant change was in a channel breakdown
    # suppressed cells say so and show nothing else
    assert f.loc[("delivery", "csat_top2"), "suppressed"] and f.loc[("delivery", "csat_top2"), "value"] == ""
    # NPS exists only for all touchpoints
    assert f.loc[("billing", "nps"), "value"] == "" and not f.loc[("billing", "nps"), "suppressed"]
    html = render_run_index({"title": "t", "run_id": "r", "as_of": "2026-09-30", "scorecard": card})
    assert html.count(">suppressed<") == 2
    assert "▼ −7.0 pts" in html and "missed (target 70.0%)" in html


def test_scorecard_of_an_earlier_period_uses_its_own_changes():
    card = scorecard(_metrics(), _changes(), _targets(), period="2026Q2")
    assert [r.touchpoint for r in card.rows] == ["billing"]
    assert card.to_frame()["change"].tolist() == [""] and card.to_frame()["status"].tolist() == [""]


def test_forest_plot_png_embeds_a_png_with_alt_text_from_its_sentence():
    img = forest_plot_png(_hazard_ratios())
    assert img.src.startswith("data:image/png;base64,")
    png = base64.b64decode(img.src.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    sentence = forest_sentence(_hazard_ratios())
    assert sentence and sentence in img.alt
    assert "billing 2.07 (95% CI 1.93 to 2.23)" in sentence
    assert "Above 1 beyond chance: billing." in sentence and "Below 1 beyond chance: support." in sentence
    assert "plan" not in sentence  # covariates are not touchpoints
    assert img.width > 100 and img.height > 50


def test_forest_plot_uses_okabe_ito_and_literal_text():
    import matplotlib

    before = matplotlib.rcParams["text.parse_math"]
    img = forest_plot_png(_hazard_ratios(name="$x^2$ {billing}"))
    assert img is not None and "$x^2$ {billing}" in img.alt
    assert matplotlib.rcParams["text.parse_math"] == before  # the figure's settings do not leak
    from PIL import Image  # matplotlib depends on Pillow

    rgb = np.asarray(Image.open(io_bytes(img.src)).convert("RGB")).reshape(-1, 3)
    pixels = set(map(tuple, rgb.tolist()))
    vermillion, blue = (0xD5, 0x5E, 0x00), (0x00, 0x72, 0xB2)
    assert vermillion in pixels and blue in pixels
    assert OKABE_ITO["vermillion"] == "#D55E00"


def io_bytes(src: str):
    import io

    return io.BytesIO(base64.b64decode(src.split(",", 1)[1]))


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def test_templates_autoescape_hostile_names_everywhere():
    metrics = _metrics().replace({"touchpoint": {"billing": HOSTILE}})
    card = scorecard(metrics, None, None)
    hr = _hazard_ratios(name=HOSTILE)
    since = {"previous_run_id": HOSTILE, "previous_href": f"../{HOSTILE}/index.html", "previous_as_of": "2026-06-30",
             "sentences": [f"{HOSTILE} went down"], "rows": [{"kind": "metric change", "touchpoint": HOSTILE,
                                                               "item": "x", "previous": "1", "current": "2",
                                                               "direction": "down", "note": HOSTILE}]}
    html = render_run_index({
        "title": HOSTILE, "run_id": HOSTILE, "as_of": "2026-09-30", "generated": HOSTILE,
        "headlines": [{"label": HOSTILE, "value": "1", "note": HOSTILE}], "scorecard": card,
        "forest": forest_plot_png(hr), "findings": [Markup("Poor <strong>{}</strong> hurts.").format(HOSTILE)],
        "since": since, "sections": [{"html": "javascript:alert(1)", "title": HOSTILE, "warnings": [HOSTILE]}],
        "warnings": [{"title": HOSTILE, "text": HOSTILE}],
    })
    assert "onerror=alert(1)>" not in html.replace("&gt;", "")
    assert not [t for t in _tags(html) if t[0] == "img" and t[1].get("src") == "x"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>&lt;img" in html  # the finding's own markup kept, its value escaped
    hrefs = [a.get("href", "") for t, a in _tags(html) if t == "a"]
    assert hrefs and not [h for h in hrefs if h.startswith("javascript:") or "<" in h]
    index = render_reports_index([{"run_id": "acme-2026Q3", "title": HOSTILE, "as_of": "2026-09-30"}])
    assert "&lt;img src=x" in index and not [t for t in _tags(index) if t[0] == "img"]


def test_every_image_has_alt_text_and_every_table_a_caption():
    from cxlib.text.changes import change_rows, change_sentences

    changes = pd.DataFrame([{"kind": "metric", "touchpoint": "billing", "metric_or_term": "csat_top2", "previous": 0.41,
                             "current": 0.34, "direction": "down", "note": "−7.5 pts"}])
    html = render_run_index({
        "title": "Report", "run_id": "acme-2026Q3", "as_of": "2026-09-30",
        "scorecard": scorecard(_metrics(), _changes(), _targets()), "forest": forest_plot_png(_hazard_ratios()),
        "since": {"previous_run_id": "acme-2026Q2", "previous_href": "../acme-2026Q2/index.html",
                  "sentences": change_sentences(changes), "rows": change_rows(changes)},
        "excluded": {"verb": "excluded", "rows": [{"table": "customers", "column": "c", "rule": "r", "rows": 3}]},
    })
    tags = _tags(html)
    images = [a for t, a in tags if t == "img"]
    assert images and all(a.get("alt", "").strip() for a in images)
    assert html.count("<table") == html.count("<caption") == 3
    assert re.search(r'<meta name="viewport" content="width=device-width, initial-scale=1">', html)
    assert "@media print" in html and "@media (max-width:760px)" in html
    assert "Since the last run" in html and "1 metric changed beyond chance (Benjamini–Hochberg): 0 up, 1 down" in html


def test_since_block_is_left_out_without_a_previous_run():
    html = render_run_index({"title": "Report", "run_id": "demo", "as_of": "2026-09-30", "since": None})
    assert "Since the last run" not in html


def test_run_index_context_from_a_run_folder(tmp_path):
    from cxlib.results import write_result
    from cxlib.run.landing import run_index_context

    results = tmp_path / "results"
    write_result(results, "metrics", _metrics())
    write_result(results, "hazard_ratios", _hazard_ratios())
    manifest = {"title": "Report", "run_id": "acme-2026Q3", "as_of": "2026-09-30", "ended": "2026-10-01",
                "inputs": {}, "params": {}, "validation": {"violations": [], "mode": "fail"},
                "sections": [{"notebook": "01_touchpoint_portfolio.ipynb", "html": "01_touchpoint_portfolio.html",
                              "title": "Portfolio", "warnings": []}]}
    changes = pd.DataFrame({"kind": ["metric"], "touchpoint": ["billing"], "metric_or_term": ["csat_top2"],
                            "previous": [0.41], "current": [0.34], "direction": ["down"], "note": [""]})
    ctx = run_index_context(tmp_path, manifest, changes=changes,
                            previous=SimpleNamespace(run_id="acme-2026Q2", as_of="2026-06-30"))
    assert ctx["scorecard"].period == "2026Q3" and ctx["forest"].alt
    assert ctx["sections"][0]["changes"] == "1 change since the last run"
    html = render_run_index(ctx)
    assert 'href="../acme-2026Q2/index.html"' in html and "Touchpoint scorecard, 2026Q3" in html


def _calls(source: str, name: str) -> list:
    import ast

    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == name and isinstance(n.func.value, ast.Name) and n.func.value.id == "display"]


def test_every_notebook_figure_has_alt_text_and_every_table_a_caption():
    """Accessibility of the sections: ``display.show(fig, alt=<the sentence that reads it>)`` and
    ``display.table(df, caption=...)`` in every notebook, the template included."""
    from pathlib import Path

    import nbformat

    shows = tables = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for call in _calls(source, "show"):
            shows += 1
            assert len(call.args) + len(call.keywords) == 2 and (len(call.args) == 2 or call.keywords[0].arg == "alt"), \
                f"{path.name} line {call.lineno}: display.show without alt="
        for call in _calls(source, "table"):
            tables += 1
            assert len(call.args) >= 2 or any(k.arg == "caption" for k in call.keywords), \
                f"{path.name} line {call.lineno}: display.table without caption="
    assert shows >= 10 and tables >= 10


def test_figures_use_the_colour_blind_safe_palette():
    from cxlib.plots import NPS_COLOURS, OKABE_ITO, PALETTE, STATUS_COLOURS

    assert set(PALETTE) <= set(OKABE_ITO.values())
    assert STATUS_COLOURS == {"met": "#009E73", "missed": "#D55E00", "can't tell": "#999999"}
    assert NPS_COLOURS["nps_detractors"] == OKABE_ITO["vermillion"] and NPS_COLOURS["nps_promoters"] == OKABE_ITO["bluish_green"]
    # no plot module draws with a colour of its own (greys for axes and text aside)
    import re
    from pathlib import Path

    for module in (Path(__file__).resolve().parents[1] / "cxlib" / "plots").glob("*.py"):
        colours = {c.upper() for c in re.findall(r"#[0-9A-Fa-f]{6}\b", module.read_text())}
        greys = {c for c in colours if c[1:3] == c[3:5] == c[5:7]}
        assert colours - greys <= {c.upper() for c in OKABE_ITO.values()}, module.name
