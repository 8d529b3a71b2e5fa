"""Number, share and text formatting for sentences, tables and figures: one place, one style.

Every number the report shows passes through these functions, so that a share reads "12.3%",
a count "1,204" and a missing value "—" everywhere.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

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
