"""Safe notebook output: every data-derived string is HTML-escaped before it is shown.

Report sections use these helpers instead of printing, so that a touchpoint named
``<img src=x onerror=alert(1)>`` appears as text in the published HTML. Long values are cut
(``MAX_CELL_CHARS`` in tables, ``MAX_VALUE_CHARS`` in sentences) so that a broken export cannot
blow up a page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import HTML, display

from cxlib.text.format import MAX_VALUE_CHARS, escape, fmt_number, fmt_pct, short  # noqa: F401  (fmt_pct: notebooks until they use text.format)



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


def show(fig: Any) -> None:
    """Show a figure in the notebook and close it: the one way every section shows a figure.

    Closing it keeps pyplot from showing it a second time at the end of the cell, and re-running
    the cell in JupyterLab shows it once.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> show(fig)
    Figure(640x480)
    >>> plt.fignum_exists(fig.number)
    False
    """
    display(fig)
    plt.close(fig)
