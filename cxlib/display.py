"""Safe notebook output: every data-derived string is HTML-escaped before it is shown.

Report sections use these helpers instead of printing, so that a touchpoint named
``<img src=x onerror=alert(1)>`` appears as text in the published HTML. Long values are cut
(``MAX_CELL_CHARS`` in tables, ``MAX_VALUE_CHARS`` in sentences) so that a broken export cannot
blow up a page.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import HTML, display

MAX_CELL_CHARS = 80
MAX_VALUE_CHARS = 300


def short(value: Any, limit: int = MAX_CELL_CHARS) -> Any:
    """A string longer than ``limit`` characters cut to ``limit`` with an ellipsis; other values as given.

    Examples
    --------
    >>> short("x" * 100, 10)
    'xxxxxxxxx…'
    >>> short(3)
    3
    """
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


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
    text = template.format(**{k: escape(short(v, MAX_VALUE_CHARS)) for k, v in values.items()})
    out = HTML(f'<p class="cx-sentence">{text}</p>')
    display(out)
    return out


def callout(text: str, kind: str = "warning", **values: Any) -> HTML:
    """A boxed note (``warning``, ``info`` or ``error``) with escaped values."""
    colours = {"warning": ("#fff4e5", "#b26a00"), "info": ("#eef4fb", "#1f5a96"), "error": ("#fdecea", "#a61b1b")}
    bg, fg = colours.get(kind, colours["info"])
    body = (text.format(**{k: escape(short(v, MAX_VALUE_CHARS)) for k, v in values.items()}) if values
            else escape(short(text, MAX_VALUE_CHARS)))
    out = HTML(
        f'<div class="cx-{kind}" style="background:{bg};border-left:4px solid {fg};'
        f'padding:0.6em 1em;margin:0.8em 0;color:#222"><strong style="color:{fg}">'
        f"{escape(kind.capitalize())}:</strong> {body}</div>"
    )
    display(out)
    return out


def table(df: pd.DataFrame, caption: str | None = None, digits: int = 3) -> HTML:
    """Display a DataFrame as an escaped HTML table (no index)."""
    columns = []
    for _, col in df.items():
        if pd.api.types.is_float_dtype(col):
            col = col.map(lambda v: fmt_number(v, digits))
        elif col.dtype == object:
            col = col.map(lambda v: "—" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else short(v))
        columns.append(col.reset_index(drop=True))
    shown = pd.concat(columns, axis=1, ignore_index=True) if columns else pd.DataFrame(index=range(len(df)))
    shown.columns = [short(str(c)) for c in df.columns]
    body = shown.to_html(index=False, escape=True, na_rep="—", border=0, classes="cx-table")
    cap = f"<p class=\"cx-caption\"><em>{escape(caption)}</em></p>" if caption else ""
    out = HTML(cap + body)
    display(out)
    return out
