"""Figures: one function per idea, one theme (seaborn), tidy long-format input.

Each topic has its own module (``plots.metrics``, ``plots.survival``, ``plots.drivers``,
``plots.impact``). Every function takes a tidy DataFrame, returns the matplotlib ``Figure`` (a
section shows it with :func:`cxlib.text.display.show`), and never shows suppressed cells. This
package holds what they share: the colour-blind-safe palette (Okabe–Ito) and colour maps, and the theme.

Every name from the data is drawn through :func:`cxlib.text.names.display_name` (bidi controls
removed, cut to one display length), and the theme turns matplotlib's math parsing off, so a
name such as ``$a$ & $b$`` is drawn as written and ``$\\badcmd{x}$`` cannot fail a figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

# Okabe & Ito (2008), "Color Universal Design": eight colours told apart with every common colour-vision
# deficiency. Every figure draws from these; a second cue (marker shape, line style, label) never relies on
# colour alone.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7"}
# categorical order: the main colour first, the accent second; yellow is left out (too light on white)
PALETTE = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "orange", "sky_blue", "reddish_purple", "black")]
NEUTRAL = "#999999"  # "can't tell", not significant
STATUS_COLOURS = {"met": OKABE_ITO["bluish_green"], "missed": OKABE_ITO["vermillion"], "can't tell": NEUTRAL}
STATUS_SYMBOLS = {"met": "✓", "missed": "✗", "can't tell": "?"}  # the status without its colour
NPS_COLOURS = {"nps_detractors": OKABE_ITO["vermillion"], "nps_passives": "#CCCCCC",
               "nps_promoters": OKABE_ITO["bluish_green"]}
MARKERS = ["o", "s", "D", "^", "v", "P", "X"]  # with PALETTE: line k has PALETTE[k] and MARKERS[k]
LINESTYLES = ["-", "--", "-.", ":"]
HATCHES = ["", "//", "..", "xx", "\\\\", "++"]  # stacked areas: pattern k with PALETTE[k]
SEQUENTIAL = "cividis"  # perceptually uniform and readable with red-green colour blindness (Nuñez et al. 2018)


def set_theme() -> None:
    """Apply the workbook's one figure theme (seaborn style, palette, sizes) to matplotlib.

    Called once by :func:`cxlib.workbook.open_workbook`; every later figure of the session uses it.
    Math parsing is off for all text (``text.parse_math``): names from the data are drawn literally.

    Examples
    --------
    >>> with plt.rc_context():  # restores matplotlib's settings afterwards
    ...     set_theme()
    ...     plt.rcParams["axes.titleweight"], plt.rcParams["figure.figsize"], plt.rcParams["text.parse_math"]
    ('bold', [8.0, 4.2], False)
    """
    import seaborn as sns  # here, not at the top: the palette alone (cx run's landing page) needs no seaborn

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (8, 4.2),
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "figure.autolayout": False,
        "figure.constrained_layout.use": True,
        "text.parse_math": False,  # "$a$ & $b$" is a segment's name, not math (matplotlib >= 3.5)
    })
