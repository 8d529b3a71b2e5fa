"""Sentences, notes and shown tables of the impact section: attributable churn, what-if, metrics that matter.

Every function returns plain text or a table of strings (data values as they are, names through
:func:`cxlib.text.names.display_name`); the caller escapes it for HTML.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cxlib.periods import ReportingPeriod
from cxlib.results import ALL
from cxlib.text.format import fmt_date, fmt_interval, fmt_money, fmt_number, fmt_pct
from cxlib.text.names import display_name
from cxlib.text.vocabulary import METRIC_WORDS

VALIDITY_CAPTION = ("Hazard ratio of churn per standard deviation of the metric (Cox, adjusted for the covariates and "
                    "log tenure at the landmark, on the n customers with the metric), the gain in concordance over "
                    "that model without the metric, and the gain and rank on the common sample (customers with "
                    "every compared metric) with 95% bootstrap intervals.")


def _whole(x: float) -> str:
    return fmt_number(x, 0)


def _with_interval(value: str, lo: float, hi: float, fmt) -> str:
    return f"{value} ({fmt_interval(lo, hi, fmt)})"


REVENUE_LABEL = "a year of revenue of the attributable churners"


def revenue_label(currency: str | None = None) -> str:
    """The one name of ``revenue_at_risk`` in tables and sentences, with the currency when known.

    Examples
    --------
    >>> revenue_label("EUR"), revenue_label()
    ('a year of revenue of the attributable churners (EUR)', 'a year of revenue of the attributable churners')
    """
    return f"{REVENUE_LABEL} ({currency})" if currency else REVENUE_LABEL


def evidence_notes(summary: pd.DataFrame) -> pd.Series:
    """A plain-language note per exposure row on what its estimate can support (empty when clear).

    An attributable share is only a share of churn *caused* under the model when the hazard
    ratio is clearly above 1; with an interval that includes 1 the share (and its churners and
    revenue) may be zero, and below 1 poor experiences there go with *less* churn, which makes the
    share negative (a prevented fraction).

    Examples
    --------
    >>> s = pd.DataFrame({"hazard_ratio": [2.0, 1.1, 0.7, None, 2.0], "hr_ci_lower": [1.5, 0.9, 0.5, None, 1.5],
    ...                   "hr_ci_upper": [2.5, 1.3, 0.9, None, 2.5], "suppressed": [False] * 5,
    ...                   "period_suppressed": [False] * 4 + [True]})
    >>> evidence_notes(s).str.split(":").str[0].tolist()
    ['', 'no clear association', 'less churn', 'not in the model', 'period figures suppressed']
    """
    lo, hi = summary["hr_ci_lower"], summary["hr_ci_upper"]
    period = summary["period_suppressed"].astype(bool) if "period_suppressed" in summary else False
    notes = np.select(
        [summary["suppressed"].astype(bool), summary["hazard_ratio"].isna(), hi < 1, lo <= 1, period],
        ["suppressed: fewer than min_cell_size churn events while exposed",
         "not in the model: nobody had this exposure",
         "less churn: poor experiences here are associated with lower churn, so the share is negative",
         "no clear association: the hazard-ratio interval includes 1, so the share may be zero",
         "period figures suppressed: fewer than min_cell_size of the period's churners were exposed"],
        "")
    return pd.Series(notes, index=summary.index, name="note")


def _pair(s: pd.DataFrame, col: str, fmt) -> list[str]:
    return [_with_interval(fmt(v), lo, hi, fmt)
            for v, lo, hi in zip(s[col], s[f"{col}_ci_lower"], s[f"{col}_ci_upper"])]


def impact_view(summary: pd.DataFrame, period_label: str, currency: str | None = None,
                revenue: bool = True) -> pd.DataFrame:
    """The impact summary as the section shows it: each estimate with its interval, and a note.

    The period's attributable share stands beside the whole-history share (the same fraction over
    every churn event of the model); the ``note`` column (:func:`evidence_notes`) is kept only
    when some row has one, the revenue column only when revenue is recorded.

    Examples
    --------
    >>> s = pd.DataFrame({"touchpoint": ["billing"], "hazard_ratio": [2.0], "hr_ci_lower": [1.5], "hr_ci_upper": [2.5],
    ...     "churners_exposed": [40.0], "churners": [120], "attributable_churn_share": [1 / 6],
    ...     "attributable_churn_share_ci_lower": [0.125], "attributable_churn_share_ci_upper": [0.2],
    ...     "history_share": [0.15], "history_share_ci_lower": [0.12], "history_share_ci_upper": [0.18],
    ...     "churners_attributable": [20.0], "churners_attributable_ci_lower": [15.0],
    ...     "churners_attributable_ci_upper": [24.0], "revenue_at_risk": [12000.0], "revenue_at_risk_ci_lower": [9000.0],
    ...     "revenue_at_risk_ci_upper": [14400.0], "suppressed": [False]})
    >>> impact_view(s, "2026Q3", "EUR").iloc[0].tolist()
    ['billing', '2.00 (1.50 to 2.50)', '40 of 120', '16.7% (12.5% to 20.0%)', '15.0% (12.0% to 18.0%)', '20 (15 to 24)', 'EUR 12,000 (EUR 9,000 to EUR 14,400)']
    """
    s = summary

    def money(x: float) -> str:
        return fmt_money(x, currency)

    shown = pd.DataFrame({
        "touchpoint": s["touchpoint"].map(display_name),
        "hazard ratio (95% CI)": [_with_interval(fmt_number(h), lo, hi, fmt_number)
                                  for h, lo, hi in zip(s["hazard_ratio"], s["hr_ci_lower"], s["hr_ci_upper"])],
        f"{period_label} churners exposed at churn": [f"{_whole(e)} of {_whole(n)}" if pd.notna(e) else "—"
                                                     for e, n in zip(s["churners_exposed"], s["churners"])],
        f"attributable share of {period_label} churn (95% CI)": _pair(s, "attributable_churn_share", fmt_pct),
        "attributable share of all churn to date (95% CI)": _pair(s, "history_share", fmt_pct),
        "churners attributable (95% CI)": _pair(s, "churners_attributable", _whole),
        revenue_label(currency) + " (95% CI)": _pair(s, "revenue_at_risk", money),
        "note": evidence_notes(s),
    })
    if not revenue:
        shown = shown.drop(columns=revenue_label(currency) + " (95% CI)")
    return shown if shown["note"].any() else shown.drop(columns="note")


def impact_caption(period_label: str, draws: int) -> str:
    """The caption of :func:`impact_view`'s table.

    Examples
    --------
    >>> impact_caption("2026Q3", 2000).startswith("Per touchpoint: adjusted hazard ratio")
    True
    """
    return ("Per touchpoint: adjusted hazard ratio of model touchpoints (Wald interval); the churners of "
            f"{period_label} exposed at their churn; the case-based attributable share (Miettinen): the sum over "
            "those churners of 1 − 1/HR, divided by the period's churners, beside the same share over every churn "
            "to date; the churners attributable, and a year of their own monthly revenue. Intervals: "
            f"{draws:,} parametric draws of the model's coefficients. Ranked by revenue at risk. Shares of "
            "different touchpoints overlap and do not add up.")


def churners_sentence(churners: int, period: ReportingPeriod, joint: pd.DataFrame | None = None,
                      currency: str | None = None, cause: str = ALL) -> str:
    """The period's churners (of ``cause``), and the churn attributable to all poor experiences together.

    Examples
    --------
    >>> from cxlib.periods import reporting_period
    >>> j = pd.DataFrame({"churners_attributable": [30.2], "churners_attributable_ci_lower": [26.0],
    ...                   "churners_attributable_ci_upper": [34.1], "attributable_churn_share": [30.2 / 120],
    ...                   "revenue_at_risk": [40000.0]})
    >>> print(churners_sentence(120, reporting_period(dt.date(2026, 9, 30)), j, "EUR"))
    120 customers churned in 2026Q3 (1 July 2026 to 30 September 2026). If the model's associations were causal, all poor experiences together would explain about 30 of them (95% CI 26 to 34; 25.2% of the period's churn). A customer can have several poor experiences, so the touchpoints' own shares overlap and do not add up to this.
    >>> churners_sentence(120, reporting_period(dt.date(2026, 9, 30)), cause="voluntary")[:60]
    '120 customers churned for a voluntary reason in 2026Q3 (1 Ju'
    """
    why = "" if cause == ALL else f" for a{'n' if cause[:1] in 'aeiou' else ''} {display_name(cause)} reason"
    text = f"{churners:,} customers churned{why} in {period.label} ({fmt_date(period.start)} to {fmt_date(period.end)})."
    if joint is not None and len(joint) and pd.notna(joint["churners_attributable"].iloc[0]):
        j = joint.iloc[0]
        text += (" If the model's associations were causal, all poor experiences together would explain about "
                 f"{_whole(j['churners_attributable'])} of them (95% CI "
                 f"{fmt_interval(j['churners_attributable_ci_lower'], j['churners_attributable_ci_upper'], _whole)}; "
                 f"{fmt_pct(j['attributable_churn_share'])} of the period's churn). A customer can have several poor "
                 "experiences, so the touchpoints' own shares overlap and do not add up to this.")
    return text


def attributable_sentence(summary: pd.DataFrame, period_label: str, currency: str | None = None) -> str:
    """The touchpoint, among those whose hazard-ratio interval lies above 1, with most churn attributable.

    Parameters
    ----------
    summary : DataFrame
        The impact summary, ranked by value at stake (``suppressed`` rows are skipped).
    period_label : str
        The reporting period.
    currency : str, optional
        ISO code of the revenue.

    Examples
    --------
    >>> s = pd.DataFrame({"touchpoint": ["app", "billing"], "suppressed": [False, False], "hr_ci_lower": [0.9, 1.5],
    ...                   "attributable_churn_share": [0.01, 1 / 6], "attributable_churn_share_ci_lower": [-0.01, 0.09],
    ...                   "attributable_churn_share_ci_upper": [0.03, 0.23], "churners_attributable": [1.0, 20.0],
    ...                   "revenue_at_risk": [None, 12000.0], "revenue_at_risk_ci_lower": [None, 6480.0],
    ...                   "revenue_at_risk_ci_upper": [None, 16560.0]})
    >>> print(attributable_sentence(s, "2026Q3", "EUR"))
    Of the touchpoints whose poor experiences are associated with clearly more churn, billing has the most churn attributable to it under the model: an estimated 16.7% of the churn of 2026Q3 (95% CI 9.0% to 23.0%), about 20 churners and EUR 12,000 (95% CI EUR 6,480 to EUR 16,560) — a year of revenue of the attributable churners.
    """
    shown = summary[~summary["suppressed"].astype(bool) & summary["attributable_churn_share"].notna()]
    clear = shown[shown["hr_ci_lower"] > 1]
    if clear.empty:
        return ("No touchpoint's poor experiences are associated with clearly more churn in this model (every "
                "hazard-ratio interval includes 1 or lies below it), so no churn or revenue can be attributed to one "
                "with confidence.")
    top = clear.iloc[0]
    money = ("" if pd.isna(top["revenue_at_risk"]) else
             f" and {fmt_money(top['revenue_at_risk'], currency)} (95% CI "
             f"{fmt_interval(top['revenue_at_risk_ci_lower'], top['revenue_at_risk_ci_upper'], lambda v: fmt_money(v, currency))})"
             f" — {REVENUE_LABEL}")
    return (f"Of the touchpoints whose poor experiences are associated with clearly more churn, "
            f"{display_name(top['touchpoint'])} has the most churn attributable to it under the model: an estimated "
            f"{fmt_pct(top['attributable_churn_share'])} of the churn of {period_label} (95% CI "
            f"{fmt_interval(top['attributable_churn_share_ci_lower'], top['attributable_churn_share_ci_upper'], fmt_pct)}), "
            f"about {_whole(top['churners_attributable'])} churners{money}.")


def what_if_sentence(summary: pd.DataFrame, reduction: float, days: int, draws: int) -> str:
    """Standardized retention now, and with fewer poor experiences at the touchpoint that gains most.

    Examples
    --------
    >>> s = pd.DataFrame({"touchpoint": ["billing"], "retention": [0.78], "retention_ci_lower": [0.77],
    ...                   "retention_ci_upper": [0.79], "what_if_retention": [0.8], "retention_gain": [0.02],
    ...                   "gain_ci_lower": [0.015], "gain_ci_upper": [0.025]})
    >>> print(what_if_sentence(s, 0.5, 365, 2000))
    Standardized retention at 365 days is 78.0% (95% CI 77.0% to 79.0%). With 50% fewer poor billing experiences it would be 80.0%: 2.00 percentage points more (95% CI 1.50 to 2.50), the largest gain of any touchpoint. Intervals: 2,000 parametric draws of the model's coefficients.
    """
    best = summary.sort_values("retention_gain", ascending=False).iloc[0]
    return (f"Standardized retention at {days} days is {fmt_pct(best['retention'])} (95% CI "
            f"{fmt_interval(best['retention_ci_lower'], best['retention_ci_upper'], fmt_pct)}). With "
            f"{fmt_pct(reduction, 0)} fewer poor {display_name(best['touchpoint'])} experiences it would be "
            f"{fmt_pct(best['what_if_retention'])}: {fmt_number(100 * best['retention_gain'])} percentage points "
            f"more (95% CI {fmt_interval(100 * best['gain_ci_lower'], 100 * best['gain_ci_upper'])}), the largest "
            f"gain of any touchpoint. Intervals: {draws:,} parametric draws of the model's coefficients.")


def _clear(summary: pd.DataFrame) -> pd.DataFrame:
    estimated = summary[summary["hazard_ratio_per_sd"].notna()]
    return estimated[(estimated["ci_upper"] < 1) | (estimated["ci_lower"] > 1)]


def landmark_sentence(summary: pd.DataFrame, landmark: dt.date, window_start: dt.date, follow_up_end: dt.date,
                      n_at_risk: int, sampled_from: int | None = None) -> str:
    """The landmark design in numbers, and how many metrics have a hazard-ratio interval excluding 1.

    With ``sampled_from`` (the models ran on a systematic sample of the customers at risk) it says so.

    Examples
    --------
    >>> s = pd.DataFrame({"hazard_ratio_per_sd": [0.8, 1.0, None], "ci_lower": [0.7, 0.9, None],
    ...                   "ci_upper": [0.9, 1.1, None]})
    >>> print(landmark_sentence(s, dt.date(2025, 9, 30), dt.date(2024, 9, 30), dt.date(2026, 9, 30), 5000))
    Landmark 30 September 2025: 5,000 customers active then, metrics from 30 September 2024, churn followed to 30 September 2026. 1 of the 2 metrics estimated have a hazard-ratio interval that excludes 1 (in colour in the figure); the others show no clear link with churn at this sample size.
    >>> landmark_sentence(s, dt.date(2025, 9, 30), dt.date(2024, 9, 30), dt.date(2026, 9, 30), 200_000,
    ...                   sampled_from=1_000_000).split(", metrics")[0]
    'Landmark 30 September 2025: 1,000,000 customers active then, of whom a systematic sample of 200,000 enter the models'
    """
    estimated = summary["hazard_ratio_per_sd"].notna().sum()
    active = (f"{n_at_risk:,} customers active then" if sampled_from is None else
              f"{sampled_from:,} customers active then, of whom a systematic sample of {n_at_risk:,} enter the models")
    return (f"Landmark {fmt_date(landmark)}: {active}, metrics from {fmt_date(window_start)}, "
            f"churn followed to {fmt_date(follow_up_end)}. {len(_clear(summary))} of the {estimated} metrics estimated "
            "have a hazard-ratio interval that excludes 1 (in colour in the figure); the others show no clear link "
            "with churn at this sample size.")


def metric_name(metric: str) -> str:
    """A candidate metric in words (the metric vocabulary), the code itself when it has no words.

    Examples
    --------
    >>> metric_name("csat_mean"), metric_name("custom")
    ('mean CSAT', 'custom')
    """
    return METRIC_WORDS.get(metric, metric)


def separated_best(summary: pd.DataFrame) -> int | None:
    """Index of the one compared metric whose rank interval is [1, 1]; None when none is separated.

    Examples
    --------
    >>> s = pd.DataFrame({"rank": [1, 2], "rank_ci_lower": [1, 1], "rank_ci_upper": [2, 2]})
    >>> separated_best(s) is None, separated_best(s.assign(rank_ci_upper=[1, 2]))
    (True, 0)
    """
    if "rank_ci_lower" not in summary.columns or summary["rank"].notna().sum() < 2:
        return None
    sep = summary[(summary["rank_ci_lower"] == 1) & (summary["rank_ci_upper"] == 1)]
    return int(sep.index[0]) if len(sep) == 1 else None


def _label(row: pd.Series) -> str:
    where = "all touchpoints" if row["touchpoint"] == ALL else display_name(row["touchpoint"])
    return f"{metric_name(row['metric'])} at {where}"


def best_metric_sentence(summary: pd.DataFrame) -> str | None:
    """Which metric adds most to predicting churn, only when the bootstrap separates it.

    A metric is named only when its rank interval on the common sample is [1, 1]; when two or more
    metrics were compared and none is separated, the sentence says they cannot be told apart at this
    sample size. None when fewer than two metrics were compared.

    Parameters
    ----------
    summary : DataFrame
        The metric-validity summary (or ``metric_validity.csv``) with the comparison columns.

    Examples
    --------
    >>> s = pd.DataFrame({"metric": ["csat_mean", "ces_mean"], "touchpoint": ["all", "all"], "rank": [1, 2],
    ...                   "rank_ci_lower": [1, 1], "rank_ci_upper": [1, 2], "common_n": [4000, 4000],
    ...                   "gain_common": [0.012, 0.004], "gain_ci_lower": [0.006, 0.0], "gain_ci_upper": [0.018, 0.009],
    ...                   "share_ranked_first": [0.99, 0.01]})
    >>> print(best_metric_sentence(s))
    Of the 2 metrics compared on the same 4,000 customers, mean CSAT at all touchpoints adds most to predicting churn: concordance +0.012 (95% CI 0.006 to 0.018) over the covariates and tenure, ranked first in 99% of bootstrap resamples.
    >>> print(best_metric_sentence(s.assign(rank_ci_upper=[2, 2])))
    The 2 metrics compared on the same 4,000 customers cannot be told apart at this sample size: mean CSAT at all touchpoints has the largest concordance gain (+0.012, 95% CI 0.006 to 0.018) but ranks first in only 99% of bootstrap resamples and its rank interval (1 to 2) overlaps the others'.
    """
    if "rank" not in summary.columns:
        return None
    ranked = summary[summary["rank"].notna()].sort_values("rank")
    if len(ranked) < 2:
        return None
    i = separated_best(ranked)
    n = int(ranked["common_n"].iloc[0])
    if i is not None:
        b = ranked.loc[i]
        return (f"Of the {len(ranked)} metrics compared on the same {n:,} customers, {_label(b)} adds most to "
                f"predicting churn: concordance +{fmt_number(b['gain_common'], 3)} (95% CI "
                f"{fmt_interval(b['gain_ci_lower'], b['gain_ci_upper'], lambda x: fmt_number(x, 3))}) over the covariates "
                f"and tenure, ranked first in {fmt_pct(b['share_ranked_first'], 0)} of bootstrap resamples.")
    top = ranked.iloc[0]
    return (f"The {len(ranked)} metrics compared on the same {n:,} customers cannot be told apart at this sample size: "
            f"{_label(top)} has the largest concordance gain (+{fmt_number(top['gain_common'], 3)}, 95% CI "
            f"{fmt_interval(top['gain_ci_lower'], top['gain_ci_upper'], lambda x: fmt_number(x, 3))}) but ranks first in only "
            f"{fmt_pct(top['share_ranked_first'], 0)} of bootstrap resamples and its rank interval "
            f"({int(top['rank_ci_lower'])} to {int(top['rank_ci_upper'])}) overlaps the others'.")


def validity_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The metric-validity summary as the section shows it (``note`` only when some row has one).

    Examples
    --------
    >>> s = pd.DataFrame({"metric": ["nps"], "touchpoint": ["all"], "n": [20], "events": [3],
    ...                   "hazard_ratio_per_sd": [None], "ci_lower": [None], "ci_upper": [None],
    ...                   "concordance_gain": [None], "note": ["too few"]})
    >>> list(validity_view(s).columns)[-1], validity_view(s)["metric"].iloc[0]
    ('note', 'NPS')
    """
    columns = ["metric", "touchpoint", "n", "events", "hazard_ratio_per_sd", "ci_lower", "ci_upper", "concordance_gain"]
    columns += [c for c in ("gain_common", "gain_ci_lower", "gain_ci_upper", "rank", "rank_ci_lower", "rank_ci_upper")
                if c in summary.columns]
    shown = summary.assign(metric=summary["metric"].map(metric_name), touchpoint=summary["touchpoint"].map(display_name))
    return shown[columns + (["note"] if summary["note"].any() else [])]


def cause_scope_sentence(cause: str, context: pd.DataFrame, period_label: str) -> str:
    """Which churn the attribution refers to, and the period's churners of every cause for context.

    Parameters
    ----------
    cause : str
        Params ``impact_cause``.
    context : pandas.DataFrame
        :func:`cxlib.analyses.impact.cause_context` (``cause``, ``churners``, ``share``; NaN when suppressed).
    period_label : str

    Examples
    --------
    >>> ctx = pd.DataFrame({"cause": ["voluntary", "involuntary", "other"], "churners": [120.0, 40.0, None],
    ...                     "share": [0.72, 0.24, None]})
    >>> print(cause_scope_sentence("voluntary", ctx, "2026Q3"))
    The figures below refer to voluntary churn only: 120 of 2026Q3's churners (72.0%). The other causes are not attributed to experiences: involuntary 40 (24.0%), other fewer than the minimum cell size.
    """
    rows = context.set_index("cause")

    def count(c: str) -> str:
        r = rows.loc[c]
        if pd.isna(r["churners"]):
            return "fewer than the minimum cell size"
        return f"{_whole(r['churners'])} ({fmt_pct(r['share'])})"

    own = count(cause) if cause in rows.index else "none"
    others = [f"{display_name(c)} {count(c)}" for c in rows.index if c != cause]
    text = (f"The figures below refer to {display_name(cause)} churn only: "
            f"{own.replace(' (', ' of ' + period_label + chr(39) + 's churners (', 1)}.")
    if others:
        text += f" The other causes are not attributed to experiences: {', '.join(others)}."
    return text
