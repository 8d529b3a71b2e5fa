"""The one metric vocabulary: each metric's name, kind, sufficient statistics and words.

Every table, sentence and figure names a metric through :data:`SPECS` (``SPECS[m].label``) or
:data:`METRIC_WORDS`, so a metric is spelled the same everywhere (one spelling: "top-2-box
CSAT"). The ``n``, ``x`` and ``xx`` of a :class:`MetricSpec` name the sums of the metric
cube (:mod:`cxlib.features.cube`) that the estimate is computed from.

Examples
--------
>>> SPECS["csat_top2"].label, SPECS["csat_top2"].kind
('top-2-box CSAT', 'proportion')
>>> METRICS[:3]
('volume', 'rated_share', 'csat_mean')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "proportion", "mean", "nps"]


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is named and estimated from the sums of its cube.

    Parameters
    ----------
    name : str
        The ``metric`` value in ``metrics.csv``.
    kind : {"count", "proportion", "mean", "nps"}
        Decides the estimate, its interval, the change test and the number format.
    n, x : str
        Cube sums of the denominator and the numerator (the total, for a mean).
    xx : str, optional
        Sum of squares for a mean, detractors for NPS.
    label : str
        The metric in words, as sentences, tables and figures show it.

    Examples
    --------
    >>> MetricSpec("csat_mean", "mean", "rated", "csat_sum", "csat_sumsq", label="mean CSAT").xx
    'csat_sumsq'
    """

    name: str
    kind: Kind
    n: str
    x: str
    xx: str | None = None
    label: str = ""


METRIC_SPECS = (
    MetricSpec("volume", "count", "n", "n", label="interactions"),
    MetricSpec("rated_share", "proportion", "n", "rated", label="rated share"),
    MetricSpec("csat_mean", "mean", "rated", "csat_sum", "csat_sumsq", label="mean CSAT"),
    MetricSpec("csat_top2", "proportion", "rated", "top2", label="top-2-box CSAT"),
    MetricSpec("ces_mean", "mean", "ces_n", "ces_sum", "ces_sumsq", label="mean CES"),
    MetricSpec("resolution_rate", "proportion", "resolved_n", "resolved", label="resolution rate"),
    MetricSpec("nps", "nps", "responses", "promoters", "detractors", label="NPS"),
    MetricSpec("nps_promoters", "proportion", "responses", "promoters", label="promoters"),
    MetricSpec("nps_passives", "proportion", "responses", "passives", label="passives"),
    MetricSpec("nps_detractors", "proportion", "responses", "detractors", label="detractors"),
)
SPECS = {s.name: s for s in METRIC_SPECS}
METRICS = tuple(SPECS)  # the order of metrics in every table
METRIC_WORDS = {s.name: s.label for s in METRIC_SPECS}  # metric -> words, for any table of metric names
DRIVER_PREFIX = "sat_"  # a survey driver column: satisfaction with one touchpoint, sat_<touchpoint>


def driver_label(column: str) -> str:
    """A survey-driver column in words: ``sat_billing`` reads "billing satisfaction".

    Examples
    --------
    >>> driver_label("sat_billing"), driver_label("sat_online_store"), driver_label("price_fairness")
    ('billing satisfaction', 'online store satisfaction', 'price fairness')
    """
    if column.startswith(DRIVER_PREFIX) and len(column) > len(DRIVER_PREFIX):
        return f"{column.removeprefix(DRIVER_PREFIX).replace('_', ' ')} satisfaction"
    return column.replace("_", " ")


def metric_title(metric: str) -> str:
    """The metric's label with a capital first letter, for a title or the start of a sentence.

    Examples
    --------
    >>> metric_title("csat_top2"), metric_title("nps")
    ('Top-2-box CSAT', 'NPS')
    """
    label = SPECS[metric].label
    return label[:1].upper() + label[1:]
