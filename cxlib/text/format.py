"""Number, share and text formatting for sentences, tables and figures: one place, one style.

Every number the report shows passes through these functions, so that a share reads "12.3%",
a count "1,204" and a missing value "—" everywhere.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import pandas as pd

from cxlib.text.vocabulary import SPECS

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
    """HTML-escape any value (quotes too).

    Examples
    --------
    >>> escape('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def fmt_number(x: Any, digits: int = 2) -> str:
    """A number for prose: thousands separators, fixed digits, '—' for missing.

    Examples
    --------
    >>> fmt_number(1204), fmt_number(3.14159), fmt_number(float("nan")), fmt_number(None)
    ('1,204', '3.14', '—', '—')
    """
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return "—"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return f"{float(x):,.{digits}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage.

    Examples
    --------
    >>> fmt_pct(0.1234), fmt_pct(1), fmt_pct(None)
    ('12.3%', '100.0%', '—')
    """
    return "—" if x is None or pd.isna(x) else f"{100 * float(x):.{digits}f}%"


def fmt_money(x: Any, currency: str | None = None, digits: int = 0) -> str:
    """An amount of money for prose and tables: the ISO currency code first when known, '—' for missing.

    Parameters
    ----------
    x : number
    currency : str, optional
        ISO 4217 code (params ``currency``); without it the amount is a plain number.
    digits : int
        Decimals shown.

    Examples
    --------
    >>> fmt_money(151205.63, "EUR"), fmt_money(151205.63), fmt_money(-2227.5, "USD"), fmt_money(None, "EUR")
    ('EUR 151,206', '151,206', 'USD −2,228', '—')
    """
    text = fmt_number(x, digits)
    if text == "—":
        return text
    text = text.replace("-", "−")
    return f"{currency} {text}" if currency else text


def fmt_interval(lo: Any, hi: Any, fmt: Callable[[Any], str] = fmt_number) -> str:
    """An interval for prose, ``lo to hi`` in the given number format; "—" when an end is missing.

    Examples
    --------
    >>> fmt_interval(1.234, 2.5), fmt_interval(0.071, 0.093, fmt_pct), fmt_interval(1.0, None)
    ('1.23 to 2.50', '7.1% to 9.3%', '—')
    """
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "—"
    return f"{fmt(lo)} to {fmt(hi)}"


def fmt_date(day: dt.date) -> str:
    """A date for prose: ``30 September 2026``.

    Examples
    --------
    >>> fmt_date(dt.date(2026, 9, 3))
    '3 September 2026'
    """
    return f"{day.day} {day:%B %Y}"


def format_value(metric: str, value: float) -> str:
    """A metric value for tables and prose (share as %, NPS signed, means with two decimals).

    Examples
    --------
    >>> format_value("csat_top2", 0.7234), format_value("nps", -12.4), format_value("volume", 1234.0)
    ('72.3%', '−12', '1,234')
    >>> format_value("csat_mean", None)
    '—'
    """
    if value is None or pd.isna(value):
        return "—"
    kind = SPECS[metric].kind
    if kind == "count":
        return f"{round(value):,}"
    if kind == "proportion":
        return f"{100 * value:.1f}%"
    if kind == "nps":
        return f"{value:+.0f}".replace("-", "−")
    return f"{value:.2f}".replace("-", "−")


def format_difference(metric: str, diff: float) -> str:
    """A change for prose: percentage points for shares, points for NPS, units for means.

    Examples
    --------
    >>> format_difference("csat_top2", -0.061), format_difference("nps", 4.2), format_difference("csat_mean", 0.13)
    ('−6.1 pts', '+4.2 points', '+0.13')
    """
    kind = SPECS[metric].kind
    text = {"proportion": f"{100 * diff:+.1f} pts", "nps": f"{diff:+.1f} points"}.get(kind, f"{diff:+.2f}")
    return text.replace("-", "−")


def display_order(found: Sequence[str], first: Sequence[str] | None = None) -> list[str]:
    """Rows of a table or figure: the names of ``first`` present in ``found``, in order, then the rest sorted.

    Examples
    --------
    >>> display_order(["web", "app", "billing"], ["billing", "shop"])
    ['billing', 'app', 'web']
    """
    head = [t for t in (first or []) if t in set(found)]
    return head + sorted(t for t in found if t not in head)
