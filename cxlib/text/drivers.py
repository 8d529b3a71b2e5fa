"""Sentences and the shown table of the key-driver section, from a key-driver summary.

Every function returns plain text (data values included as they are, names through
:func:`cxlib.text.names.display_name`); the caller escapes it for HTML.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cxlib.text.format import fmt_date, fmt_interval, fmt_number, fmt_pct
from cxlib.text.names import display_name
from cxlib.text.vocabulary import driver_label


def _driver(column: str) -> str:
    """A survey-driver column in words (the one vocabulary), made safe to show."""
    return display_name(driver_label(str(column)))

EFFECTS_CAPTION = ("Effect: points on the 0–10 recommend scale per rating point (1–5), the other ratings held fixed, "
                   "with its HC3 95% interval. Importance: general dominance "
                   "weight (R² units) with its 95% bootstrap interval. VIF: variance inflation factor. "
                   "Performance: mean rating (1–5) over all responses that rated the attribute.")


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def fit_sentence(n_used: int, n_responses: int, as_of: dt.date, since: dt.date | None = None) -> str:
    """What the regression rests on: the share of the survey responses it uses (complete cases).

    No count: the responses dated up to ``as_of`` (and the complete cases, when no answer is missing)
    are an all-period total of survey responses, which minus the periods ``metrics.csv`` shows gives
    its hidden NPS cells back (``docs/privacy.md``). The share is a ratio of two unpublished counts,
    rounded to 0.1 %; the size of the sample is given as a power of ten below it.

    Examples
    --------
    >>> print(fit_sentence(1900, 2000, dt.date(2026, 9, 30), since=dt.date(2026, 1, 1)))
    The regression uses 95.0% of the survey responses dated from 1 January 2026 up to 30 September 2026 (at least 1,000); the rest were dropped because the NPS answer or a rating was missing (complete cases).
    >>> print(fit_sentence(2158, 2158, dt.date(2026, 9, 30)))
    The regression uses every survey response dated up to 30 September 2026 (at least 1,000): none lacks the NPS answer or a rating.
    """
    window = f"from {fmt_date(since)} " if since else ""
    floor = 10 ** (len(str(int(n_used))) - 1)  # a power of ten below: the sample's order of magnitude, no count
    if n_used == n_responses:
        return (f"The regression uses every survey response dated {window}up to {fmt_date(as_of)} "
                f"(at least {floor:,}): none lacks the NPS answer or a rating.")
    return (f"The regression uses {fmt_pct(round(n_used / n_responses, 3))} of the survey responses dated {window}up "
            f"to {fmt_date(as_of)} (at least {floor:,}); the rest were dropped because the NPS answer or a rating "
            "was missing (complete cases).")


def importance_sentence(r_squared: float, method: str, bootstrap: int) -> str:
    """How much of NPS the ratings explain, and how their importance was computed.

    Examples
    --------
    >>> print(importance_sentence(0.5123, "exact (all 16 subsets)", 500))
    Together the ratings explain R² = 0.512 of the variation in NPS; importance is exact (all 16 subsets), with 500 bootstrap replicates.
    """
    return (f"Together the ratings explain R² = {fmt_number(r_squared, 3)} of the variation in NPS; importance is "
            f"{method}, with {bootstrap:,} bootstrap replicates.")


def effects_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The key-driver summary as the section shows it: effect, p-value, VIF, importance, rank, quadrant.

    The ``note`` column is kept only when some driver has one.

    Examples
    --------
    >>> s = pd.DataFrame({"driver": ["sat_a"], "coefficient": [1.5], "ci_lower": [1.2], "ci_upper": [1.8],
    ...                   "p_value": [0.0001], "vif": [1.1], "importance": [0.3], "importance_ci_lower": [0.25],
    ...                   "importance_ci_upper": [0.35], "importance_share": [0.6], "rank_ci_lower": [1.0],
    ...                   "rank_ci_upper": [1.0], "performance": [3.1], "quadrant": ["maintain"], "note": [""]})
    >>> effects_view(s).iloc[0][["effect", "p_value", "importance_interval", "rank_interval"]].tolist()
    ['+1.50 (+1.20 to +1.80)', '<0.001', '0.250–0.350', '1–1']
    """
    def effect(r: pd.Series) -> str:
        return f"{_signed(r.coefficient)} ({_signed(r.ci_lower)} to {_signed(r.ci_upper)})" if pd.notna(r.coefficient) else "—"

    def importance(r: pd.Series) -> str:
        return f"{r.importance_ci_lower:.3f}–{r.importance_ci_upper:.3f}" if pd.notna(r.importance_ci_lower) else "—"

    def rank(r: pd.Series) -> str:
        return f"{int(r.rank_ci_lower)}–{int(r.rank_ci_upper)}" if pd.notna(r.rank_ci_lower) else "—"

    shown = pd.DataFrame({
        "driver": summary["driver"].map(_driver),
        "effect": summary.apply(effect, axis=1),
        "p_value": summary["p_value"].map(lambda v: "<0.001" if v < 0.001 else fmt_number(v, 3)),
        "vif": summary["vif"],
        "importance": summary["importance"],
        "importance_interval": summary.apply(importance, axis=1),
        "share_of_r2": summary["importance_share"].map(fmt_pct),
        "rank_interval": summary.apply(rank, axis=1),
        "performance": summary["performance"],
        "quadrant": summary["quadrant"],
        "note": summary["note"],
    })
    return shown if shown["note"].any() else shown.drop(columns="note")


def top_driver_sentence(summary: pd.DataFrame) -> str:
    """The most important driver: its share of explained variation, importance and effect, with intervals.

    Parameters
    ----------
    summary : DataFrame
        The key-driver summary, most important first.

    Examples
    --------
    >>> s = pd.DataFrame({"driver": ["sat_a"], "importance_share": [0.6], "importance": [0.3],
    ...                   "importance_ci_lower": [0.25], "importance_ci_upper": [0.35], "coefficient": [1.5],
    ...                   "ci_lower": [1.2], "ci_upper": [1.8]})
    >>> print(top_driver_sentence(s))
    a satisfaction explains the most: 60.0% of the explained variation (importance 0.300, 95% bootstrap interval 0.250 to 0.350). One rating point more on a satisfaction is associated with +1.50 points on the 0–10 recommend scale (HC3 95% CI +1.20 to +1.80), the other ratings held fixed.
    """
    top = summary.iloc[0]
    driver = _driver(top["driver"])
    return (f"{driver} explains the most: {fmt_pct(top['importance_share'])} of the explained variation (importance "
            f"{fmt_number(top['importance'], 3)}, 95% bootstrap interval "
            f"{fmt_interval(top['importance_ci_lower'], top['importance_ci_upper'], lambda v: fmt_number(v, 3))}). "
            f"One rating point more on {driver} is associated with {_signed(top['coefficient'])} points on the 0–10 "
            f"recommend scale (HC3 95% CI "
            f"{fmt_interval(top['ci_lower'], top['ci_upper'], _signed)}), the other ratings held fixed.")


def priorities_sentence(summary: pd.DataFrame) -> str:
    """The priority drivers (important, rated low) and the mean rating of the most important of them.

    Parameters
    ----------
    summary : DataFrame
        The key-driver summary, most important first, with ``priority`` and ``performance`` and its interval.

    Examples
    --------
    >>> s = pd.DataFrame({"driver": ["a", "b", "c"], "importance": [0.3, 0.2, 0.1], "priority": [True, False, False],
    ...                   "performance": [2.9, 3.5, 3.0], "performance_ci_lower": [2.8, 3.4, 2.9],
    ...                   "performance_ci_upper": [3.0, 3.6, 3.1]})
    >>> print(priorities_sentence(s))
    Priorities: a. The most important of them, a, has a mean rating of 2.90 (95% CI 2.80 to 3.00) against a median of 3.00 across the drivers.
    >>> print(priorities_sentence(s.assign(priority=False)))
    No driver is both above the median in importance and below the median in mean rating.
    """
    priorities = summary[summary["priority"]]
    if priorities.empty:
        return "No driver is both above the median in importance and below the median in mean rating."
    first = priorities.iloc[0]
    median = summary.loc[summary["importance"].notna(), "performance"].median()
    return (f"Priorities: {', '.join(priorities['driver'].map(_driver))}. The most important of them, "
            f"{_driver(first['driver'])}, has a mean rating of {fmt_number(first['performance'])} (95% CI "
            f"{fmt_interval(first['performance_ci_lower'], first['performance_ci_upper'])}) against a median of "
            f"{fmt_number(median)} across the drivers.")
