"""Figures: one function per idea, one theme (seaborn), tidy long-format input.

Each topic has its own module (``plots.metrics``, ``plots.survival``, ``plots.drivers``,
``plots.impact``). Every function takes a tidy DataFrame, returns the matplotlib ``Figure`` (a
section shows it with :func:`cxlib.text.display.show`), and never shows suppressed cells. This
package holds what they share: the palette and colour maps, and the theme.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

PALETTE = ["#1f5a96", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#6c757d"]
STATUS_COLOURS = {"met": "#2e7d32", "missed": "#c62828", "can't tell": "#9e9e9e"}
SEQUENTIAL = "crest"


def set_theme() -> None:
    """Apply the workbook's one figure theme (seaborn style, palette, sizes) to matplotlib.

    Called once by :func:`cxlib.workbook.open_workbook`; every later figure of the session uses it.

    Examples
    --------
    >>> with plt.rc_context():  # restores matplotlib's settings afterwards
    ...     set_theme()
    ...     plt.rcParams["axes.titleweight"], plt.rcParams["figure.figsize"]
    ('bold', [8.0, 4.2])
    """
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (8, 4.2),
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "figure.autolayout": False,
        "figure.constrained_layout.use": True,
    })
