"""Data-derived names (touchpoints, segments, channels, levels) made safe to show.

A name comes from the customer's export and can hold anything the contract allows: 200
characters, right-to-left overrides that reorder the text around it, ``$…$`` that matplotlib
would otherwise typeset as math. Every sentence (:mod:`cxlib.text`), table
(:func:`cxlib.text.display.table`, its :data:`NAME_COLUMNS`) and figure (:mod:`cxlib.plots`) shows a
name through :func:`display_name`: bidirectional and other control characters are removed and the
name is cut to :data:`MAX_NAME_CHARS` characters, the one display length of a name. Figures show
every text literally: :func:`cxlib.plots.set_theme` turns matplotlib's math parsing off
(``text.parse_math``), so a ``$`` is a dollar sign and needs no escaping. Generated sentences are
cleaned of bidi controls as a whole (:func:`plain_text`). The result CSVs keep the full name.
"""

from __future__ import annotations

import re
from typing import Any

MAX_NAME_CHARS = 40  # the one display length of a name in sentences, tables and figures
# Unicode bidirectional formatting characters (UAX #9): embeddings, overrides, isolates and marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Table columns whose cells are names from the data (or built from them, such as ``segment=<level>``).
NAME_COLUMNS = frozenset({"touchpoint", "channel", "segment", "group", "term", "level", "driver", "covariate",
                          "exposure", "stage", "cohort"})


def plain_text(value: Any) -> str:
    """Text without bidi controls or control characters (newlines and tabs kept), not cut.

    Examples
    --------
    >>> plain_text("churn \\u202erose\\u202c in smb")
    'churn rose in smb'
    """
    return _CONTROL.sub(" ", _BIDI.sub("", str(value)))


def display_name(value: Any, limit: int = MAX_NAME_CHARS) -> str:
    """A name as every page and figure shows it: bidi controls and control characters removed, cut to ``limit``.

    Parameters
    ----------
    value : object
        The name (anything; shown as ``str(value)``).
    limit : int
        Longest shown name, in characters; longer names end in ``…``.

    Examples
    --------
    >>> display_name("billing")
    'billing'
    >>> display_name("abc\\u202edef")
    'abcdef'
    >>> display_name("x" * 50)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    >>> len(display_name("x" * 50))
    40
    >>> display_name("$a$ & $b$")   # shown literally: figures turn math parsing off
    '$a$ & $b$'
    """
    text = plain_text(value).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
