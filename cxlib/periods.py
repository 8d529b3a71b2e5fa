"""Reporting periods: calendar quarters (``2026Q3``) or months (``2026-09``), in one place.

A run's ``period`` param is ``quarter`` or ``month``. Labels are pandas' period notation, the same
in ``metrics.csv``, ``metric_changes.csv``, the impact section and the executive summary; they sort
chronologically as text. The engine computes the same labels from timestamps in
:mod:`cxlib.features.cube`.

Examples
--------
>>> import datetime as dt
>>> period_label(dt.date(2026, 9, 30)), reporting_period(dt.date(2026, 9, 30)).start
('2026Q3', datetime.date(2026, 7, 1))
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from cxlib.errors import ParamsError
from cxlib.results import ALL

PERIODS = ("quarter", "month")
QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)  # 2026Q3, 2026-q3


def period_freq(period: str) -> str:
    """The pandas frequency of a ``period`` param: ``Q`` for ``quarter``, ``M`` for ``month``.

    Examples
    --------
    >>> period_freq("quarter"), period_freq("month")
    ('Q', 'M')
    >>> period_freq("week")
    Traceback (most recent call last):
    ...
    ValueError: period must be 'quarter' or 'month', got 'week'
    """
    if period not in PERIODS:
        raise ValueError(f"period must be 'quarter' or 'month', got {period!r}")
    return "Q" if period == "quarter" else "M"


def period_label(day: dt.date, period: str = "quarter") -> str:
    """The label of the period containing ``day``: ``2026Q3`` or ``2026-09``.

    Examples
    --------
    >>> period_label(dt.date(2026, 9, 30)), period_label(dt.date(2026, 9, 30), "month")
    ('2026Q3', '2026-09')
    """
    return str(pd.Period(day, freq=period_freq(period)))


def period_range(first: str, last: str, period: str = "quarter") -> list[str]:
    """Every period label from ``first`` to ``last`` inclusive.

    Examples
    --------
    >>> period_range("2025Q4", "2026Q2")
    ['2025Q4', '2026Q1', '2026Q2']
    >>> period_range("2025-12", "2026-01", "month")
    ['2025-12', '2026-01']
    """
    freq = period_freq(period)
    return [str(p) for p in pd.period_range(pd.Period(first, freq), pd.Period(last, freq), freq=freq)]


def previous_period(labels: pd.Series, period: str = "quarter") -> pd.Series:
    """The label one period earlier for each label; the roll-up ``all`` has none (missing).

    Examples
    --------
    >>> previous_period(pd.Series(["2026Q1", "all", "2025Q4"])).tolist()
    ['2025Q4', None, '2025Q3']
    """
    freq = period_freq(period)
    lookup = {s: None if s == ALL else str(pd.Period(s, freq) - 1) for s in labels.unique()}
    return labels.map(lookup).astype(object)


def closed_periods(labels, as_of: dt.date, period: str = "quarter") -> list[str]:
    """The labels among ``labels`` whose period had ended by ``as_of`` (its last day ≤ ``as_of``).

    Examples
    --------
    >>> closed_periods(["2026Q1", "2026Q2", "2026Q3", "all"], dt.date(2026, 6, 30))
    ['2026Q1', '2026Q2']
    """
    freq = period_freq(period)
    return [s for s in labels if s != ALL and pd.Period(s, freq).end_time.date() <= as_of]


@dataclass(frozen=True)
class ReportingPeriod:
    """The calendar period containing ``as_of``, counted from its first day up to ``as_of``.

    Examples
    --------
    >>> ReportingPeriod(dt.date(2026, 7, 1), dt.date(2026, 9, 30), "2026Q3").label
    '2026Q3'
    """

    start: dt.date
    end: dt.date
    label: str


def reporting_period(as_of: dt.date, period: str = "quarter") -> ReportingPeriod:
    """The quarter or month containing ``as_of`` (up to and including ``as_of``).

    Examples
    --------
    >>> reporting_period(dt.date(2026, 9, 30))
    ReportingPeriod(start=datetime.date(2026, 7, 1), end=datetime.date(2026, 9, 30), label='2026Q3')
    >>> reporting_period(dt.date(2026, 2, 14), "month").label
    '2026-02'
    """
    p = pd.Period(as_of, freq=period_freq(period))
    return ReportingPeriod(p.start_time.date(), as_of, str(p))


def quarter_end(year: int, quarter: int) -> dt.date:
    """The last day of a calendar quarter.

    Examples
    --------
    >>> quarter_end(2026, 1), quarter_end(2026, 4)
    (datetime.date(2026, 3, 31), datetime.date(2026, 12, 31))
    """
    first_of_next = dt.date(year + quarter // 4, quarter % 4 * 3 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def parse_quarter(spec: str, today: dt.date | None = None) -> tuple[str, dt.date]:
    """A quarter given as ``YYYYQn`` (or ``YYYY-Qn``) or ``previous``: its label and last day.

    ``previous`` is the last quarter that has ended before ``today`` (on 1 October that is Q3).

    Examples
    --------
    >>> parse_quarter("2026q3")
    ('2026Q3', datetime.date(2026, 9, 30))
    >>> parse_quarter("previous", today=dt.date(2026, 1, 15))
    ('2025Q4', datetime.date(2025, 12, 31))
    """
    if spec.strip().lower() == "previous":
        today = today or dt.date.today()
        year, quarter = today.year, (today.month - 1) // 3  # the current quarter's predecessor
        if quarter == 0:
            year, quarter = year - 1, 4
    else:
        m = QUARTER.match(spec.strip())
        if not m:
            raise ParamsError(f"--quarter {spec!r}: expected a quarter such as 2026Q3, or 'previous' "
                              "for the quarter that ended most recently.")
        year, quarter = int(m[1]), int(m[2])
    return f"{year}Q{quarter}", quarter_end(year, quarter)
