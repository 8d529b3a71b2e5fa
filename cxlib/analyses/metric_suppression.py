"""Which rows of ``metrics.csv`` are suppressed, and the audit that shows they stay hidden.

The metric cube's quantities form families that share a denominator (:data:`INTERACTION_FAMILIES`,
:data:`SURVEY_FAMILIES`); each family's pattern is decided and audited jointly over the whole
table by :func:`cxlib.stats.suppression.suppress_cube`, and a metric row is hidden wherever it
would reveal a hidden quantity (:func:`cxlib.stats.disclosure_links.metric_pattern`: the rated
share hides with either of its two counts). The threat model and the rules are in
``docs/privacy.md``.

Release rule (a series of runs). ``metrics.csv`` has no cumulative ``all``-period rows: an
earlier run's cumulative row minus a later one's would give the new period's cells whatever was
hidden in them. And a period that had closed by the previous run's ``as_of`` keeps the pattern that
run published: a cell hidden then stays hidden (a primary cell now), a cell shown then may not
serve as a secondary cell now (:func:`release_pattern`).

Examples
--------
>>> cube = pd.DataFrame({"period": "2026Q3", "touchpoint": ["a", "b", "c", "all"], "channel": "all",
...                      "segment": "all", "responses": [4, 15, 30, 49], "respondents": [4, 15, 30, 49],
...                      "promoters": [2, 6, 12, 20], "passives": [1, 5, 8, 14], "detractors": [1, 4, 10, 15]})
>>> s = suppress_cube(cube, list(DIMENSIONS), SURVEY_FAMILIES, min_cell_size=10, protection_width=10)
>>> s.hidden["responses"].tolist(), s.passed
([True, True, True, False], True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cxlib.features.cube import CUSTOMER_COUNTS, DIMENSIONS
from cxlib.periods import closed_periods
from cxlib.results import ALL
from cxlib.stats.disclosure_links import keep_release_pattern, metric_pattern
from cxlib.stats.suppression import CubeSuppression, Family, suppress_cube
from cxlib.text.vocabulary import SPECS

# the data contract's scales: CSAT 1–5, CES 1–7
CSAT_MAX, CES_MAX = 5, 7
INTERACTION_FAMILIES = (
    Family("n", CUSTOMER_COUNTS["n"]),
    Family("rated", CUSTOMER_COUNTS["rated"], within="n", checks={
        "top2": {"top2": 1}, "not_top2": {"rated": 1, "top2": -1},
        "csat_above_min": {"csat_sum": 1, "rated": -1}, "csat_below_max": {"rated": CSAT_MAX, "csat_sum": -1}}),
    Family("ces_n", CUSTOMER_COUNTS["ces_n"], within="n", checks={
        "ces_above_min": {"ces_sum": 1, "ces_n": -1}, "ces_below_max": {"ces_n": CES_MAX, "ces_sum": -1}}),
    Family("resolved_n", CUSTOMER_COUNTS["resolved_n"], within="n", checks={
        "resolved": {"resolved": 1}, "unresolved": {"resolved_n": 1, "resolved": -1}}),
)
SURVEY_FAMILIES = (
    Family("responses", CUSTOMER_COUNTS["responses"], checks={
        "promoters": {"promoters": 1}, "passives": {"passives": 1}, "detractors": {"detractors": 1}}),
)
# the metric whose suppressed flag says whether a family was hidden in an earlier run
FAMILY_METRIC = {"n": "volume", "rated": "csat_mean", "ces_n": "ces_mean", "resolved_n": "resolution_rate",
                 "responses": "nps"}


def release_pattern(cube: pd.DataFrame, families: Sequence[Family], previous: pd.DataFrame | None,
                    previous_as_of: dt.date | None, period: str = "quarter") -> tuple[dict, dict]:
    """The previous run's pattern in the periods that had closed by its ``as_of``.

    Returns
    -------
    must_hide, frozen : dict of family -> array of bool
        Aligned with ``cube``: hidden then (so hidden now), and shown then (so never secondary).

    Examples
    --------
    >>> cube = pd.DataFrame({"period": ["2026Q2", "2026Q2", "2026Q3"], "touchpoint": ["a", "b", "a"],
    ...                      "channel": "all", "segment": "all"})
    >>> prev = cube.iloc[:2].assign(metric="volume", suppressed=[True, False])
    >>> must, frozen = release_pattern(cube, INTERACTION_FAMILIES[:1], prev, dt.date(2026, 6, 30))
    >>> must["n"].tolist(), frozen["n"].tolist()
    ([True, False, False], [False, True, False])
    """
    if previous is None or previous_as_of is None or previous.empty:
        return {}, {}
    labels = sorted(set(previous["period"].astype(str)) & set(cube["period"].astype(str)) - {ALL})
    closed = closed_periods(labels, previous_as_of, period)
    must, frozen = {}, {}
    for fam in families:
        prev = previous[previous["metric"] == FAMILY_METRIC[fam.denominator]]
        if prev.empty or not closed:
            continue
        prev = prev[list(DIMENSIONS)].astype(str).assign(hidden=prev["suppressed"].astype(str).str.lower().eq("true").to_numpy())
        must[fam.denominator], frozen[fam.denominator] = keep_release_pattern(
            cube[list(DIMENSIONS)].astype(str), list(DIMENSIONS), prev, closed)
    return must, frozen


def suppress(est: pd.DataFrame, interaction_cube: pd.DataFrame | None, survey_cube: pd.DataFrame | None,
             min_cell_size: int, protection_width: int | None = None, *, previous: pd.DataFrame | None = None,
             previous_as_of: dt.date | None = None, period: str = "quarter") -> tuple[pd.DataFrame, dict]:
    """Add ``suppressed`` and ``suppression`` (``primary`` / ``secondary`` / empty) to estimates.

    Parameters
    ----------
    est : DataFrame
        :func:`cxlib.analyses.portfolio.estimates` of the cubes.
    interaction_cube, survey_cube : DataFrame or None
        The cubes the estimates come from (no ``all``-period rows).
    min_cell_size : int
    protection_width : int, optional
        Default ``min_cell_size``.
    previous : DataFrame, optional
        The previous run's ``metrics.csv`` of the series, and ``previous_as_of`` its ``as_of``.
    period : {"quarter", "month"}

    Returns
    -------
    est : DataFrame
        With ``suppressed`` and ``suppression``; a metric row is ``primary`` when a family it
        reveals is small there.
    audit : dict
        The audit figures: ``primary`` and ``secondary`` cells (summed over families),
        ``narrowest_interval``, ``passed``, ``protection_width``, per family counts and
        ``release_rule`` (whether a previous run's pattern was kept).

    Examples
    --------
    >>> cube = pd.DataFrame({"period": "2026Q3", "touchpoint": "all", "channel": "all", "segment": ["x", "all"],
    ...                      "responses": [40, 40], "respondents": [40, 40], "promoters": [20, 20],
    ...                      "passives": [10, 10], "detractors": [10, 10]})
    >>> from cxlib.analyses.portfolio import estimates
    >>> est, audit = suppress(estimates(None, cube), None, cube, min_cell_size=10)
    >>> bool(est["suppressed"].any()), audit["primary"], audit["passed"]
    (False, 0, True)
    """
    width = min_cell_size if protection_width is None else protection_width
    parts, audits, figures = [], [], {"primary": 0, "secondary": 0, "families": {}}
    for cube, families in ((interaction_cube, INTERACTION_FAMILIES), (survey_cube, SURVEY_FAMILIES)):
        if cube is None or cube.empty:
            continue
        families = tuple(f for f in families if (cube[f.denominator] > 0).any())
        # the engine returns the cube in no fixed order; ties between equally cheap cells are broken by
        # position, so the same data must always arrive in the same order (the release rule relies on it)
        cube = cube.astype({d: str for d in DIMENSIONS}).sort_values(list(DIMENSIONS), kind="mergesort",
                                                                    ignore_index=True)
        must, frozen = release_pattern(cube, families, previous, previous_as_of, period)
        s = suppress_cube(cube, list(DIMENSIONS), families, min_cell_size, width, must_hide=must, frozen=frozen)
        audits.append(s)
        f = s.figures()
        figures["primary"] += f["primary"]
        figures["secondary"] += f["secondary"]
        figures["families"] |= f["families"]
        figures["release_rule"] = figures.get("release_rule", False) or bool(must)
        parts.append(_metric_rows(cube, s))
    out = est.copy()
    if parts:
        rows = pd.concat(parts, ignore_index=True)
        out = out.merge(rows, on=[*DIMENSIONS, "metric"], how="left")
    else:
        out["suppression"] = ""
    out["suppression"] = out["suppression"].fillna("")
    out["suppressed"] = out["suppression"] != ""
    narrow = [a.figures()["narrowest_interval"] for a in audits if a.figures()["narrowest_interval"] is not None]
    figures |= {"narrowest_interval": min(narrow) if narrow else None, "passed": all(a.passed for a in audits),
                "protection_width": width, "min_cell_size": min_cell_size}
    figures.setdefault("release_rule", False)
    return out, figures


def _metric_rows(cube: pd.DataFrame, s: CubeSuppression) -> pd.DataFrame:
    """Long table: the dims, ``metric`` and ``suppression`` of every metric the cube's families feed."""
    hidden = metric_pattern(s.hidden)
    primary = metric_pattern(s.reasons.eq("primary"))
    rows = []
    for m in hidden.columns:
        if SPECS[m].n not in s.hidden.columns:
            continue
        why = np.where(primary[m], "primary", np.where(hidden[m], "secondary", ""))
        rows.append(cube[list(DIMENSIONS)].assign(metric=m, suppression=why))
    return pd.concat(rows, ignore_index=True)
