"""Safe notebook output: every data-derived string is HTML-escaped before it is shown.

Report sections use these helpers instead of printing, so that a touchpoint named
``<img src=x onerror=alert(1)>`` appears as text in the published HTML.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML, display


def escape(value: Any) -> str:
    """HTML-escape any value (quotes too)."""
    return html.escape(str(value), quote=True)


def fmt_number(x: Any, digits: int = 2) -> str:
    """A number for prose: thousands separators, fixed digits, '—' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return "—"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return f"{float(x):,.{digits}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage."""
    return "—" if x is None or pd.isna(x) else f"{100 * float(x):.{digits}f}%"


def say(template: str, **values: Any) -> HTML:
    """Display a sentence: ``template`` is trusted code, ``values`` are escaped.

    Examples
    --------
    >>> say("{tp} has {n} interactions.", tp="<b>billing</b>", n="1,204")  # doctest: +SKIP
    """
    text = template.format(**{k: escape(v) for k, v in values.items()})
    out = HTML(f'<p class="cx-sentence">{text}</p>')
    display(out)
    return out


def callout(text: str, kind: str = "warning", **values: Any) -> HTML:
    """A boxed note (``warning``, ``info`` or ``error``) with escaped values."""
    colours = {"warning": ("#fff4e5", "#b26a00"), "info": ("#eef4fb", "#1f5a96"), "error": ("#fdecea", "#a61b1b")}
    bg, fg = colours.get(kind, colours["info"])
    body = text.format(**{k: escape(v) for k, v in values.items()}) if values else escape(text)
    out = HTML(
        f'<div class="cx-{kind}" style="background:{bg};border-left:4px solid {fg};'
        f'padding:0.6em 1em;margin:0.8em 0;color:#222"><strong style="color:{fg}">'
        f"{escape(kind.capitalize())}:</strong> {body}</div>"
    )
    display(out)
    return out


def table(df: pd.DataFrame, caption: str | None = None, digits: int = 3) -> HTML:
    """Display a DataFrame as an escaped HTML table (no index)."""
    shown = df.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: fmt_number(v, digits))
    body = shown.to_html(index=False, escape=True, na_rep="—", border=0, classes="cx-table")
    cap = f"<p class=\"cx-caption\"><em>{escape(caption)}</em></p>" if caption else ""
    out = HTML(cap + body)
    display(out)
    return out
