"""Business impact of poor touchpoint experiences: attributable churn, revenue at risk, what-if retention.

Everything starts from model ``touchpoints``, the piecewise-exponential (PEM) Poisson model of churn
on the exposures (``poor_<touchpoint>`` or the params' own) and the covariates. Attributable churn is
the case-based (Miettinen) fraction that model implies (:mod:`cxlib.stats.paf`): for the reporting
period's churners grouped by their exposure pattern at churn (one engine query,
:func:`cxlib.features.churners.churner_exposures`), per exposure ``T``

* ``churners_attributable`` = Σ over the period's churners exposed to ``T`` at churn of ``1 − 1/HR_T``;
* ``attributable_churn_share`` = that ÷ the period's churners;
* ``revenue_at_risk`` = Σ of the same weights × each such churner's own ``monthly_revenue`` × 12:
  a year of revenue of the attributable churners.

Intervals are percentiles over the parametric draws of the model's coefficients that the what-if
retention (:mod:`cxlib.stats.attribution`) uses too; the churners, their patterns and revenue are
the period's facts and held fixed. The same fraction over every churn event of the model's history
(from its cells) is the whole-history share shown beside. These are associations from
observational data: the numbers say what the model implies if the exposures' hazard ratios were
causal, not that they are.
With churn causes (params ``churn_causes``) every number refers to one cause, ``impact_cause``
(default ``voluntary``): the model is ``touchpoints[<cause>]`` and the churners are that cause's
(:func:`cxlib.features.churners.churner_exposures` with ``cause``); the other causes are context
(:func:`cause_context`).

Examples
--------
>>> from cxlib.stats.paf import attributable_churn
>>> patterns = pd.DataFrame({"poor_x": [1, 0], "churners": [30, 70]})
>>> float(attributable_churn(patterns, {"poor_x": np.log(2.0)}, revenue=None)["attributable_churn_share"].iloc[0])
0.15
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.features.churners import churners_by_cause
from cxlib.params import ALL_CAUSES, ExposureRule
from cxlib.periods import ReportingPeriod
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.attribution import WHAT_IF_DAYS, WHAT_IF_DRAWS, rank_by_value, what_if_retention
from cxlib.stats.competing import cause_lookup
from cxlib.stats.paf import attributable_churn, coefficient_draws, joint_attributable_churn
from cxlib.stats.pem import PiecewiseExponentialResult


PERIOD_ESTIMATES = ["attributable_churn_share", "churners_attributable", "revenue_at_risk"]
PERIOD_COLUMNS = [*PERIOD_ESTIMATES, *[f"{c}_ci_{end}" for c in PERIOD_ESTIMATES for end in ("lower", "upper")]]


@result
class ImpactResult(Result):
    """Attributable churn, revenue at risk and what-if retention per exposure.

    Attributes
    ----------
    summary : DataFrame
        One row per exposure: ``touchpoint`` (its label), ``exposure`` (the model term),
        ``exposure_share``, ``hazard_ratio`` with ``hr_ci_lower`` / ``hr_ci_upper``, the period's
        ``churners``, ``churners_exposed`` (exposed at churn), ``churners_attributable``,
        ``attributable_churn_share``, ``revenue_exposed`` (their monthly revenue), ``revenue_at_risk``
        (each with ``_ci_lower`` / ``_ci_upper``), ``history_share`` with its interval (the same
        fraction over every churn event of the model), the columns of
        :func:`cxlib.stats.attribution.what_if_retention`, ``exposed_events``, ``suppressed``
        (fewer than ``min_cell_size`` churn events while exposed: every estimate emptied) and
        ``period_suppressed`` (fewer than ``min_cell_size`` of the period's churners exposed: the
        period's figures emptied); sorted by revenue at risk (attributable churners when there is
        no revenue), largest first.
    period : ReportingPeriod
    churners : int
        Churners in the period.
    revenue_recorded : bool
        Whether the customers table has ``monthly_revenue``.
    reduction : float
        The what-if's share of exposed person-time removed.
    days : int
        Tenure at which the what-if reads retention.
    draws : int
        Parametric draws behind the intervals.
    joint : DataFrame or None
        :func:`cxlib.stats.paf.joint_attributable_churn` of all exposures together (one row).
    cause : str
        The churn cause the numbers refer to (``all`` without churn causes).

    Examples
    --------
    >>> import datetime as dt
    >>> from cxlib.periods import reporting_period
    >>> s = pd.DataFrame({c: [1.0] for c in RESULT_COLUMNS["impact"]}).assign(touchpoint="billing", exposure="poor_billing")
    >>> res = ImpactResult(s, reporting_period(dt.date(2026, 9, 30)), 120, True, 0.5, 365, 2000)
    >>> res.to_frame().columns[6], res.printer().lines[0]
    ('exposure', '120 churners in 2026Q3; what-if: 50% fewer poor experiences, retention at 365 days.')
    """

    title: ClassVar[str] = "Business impact of poor experiences"
    summary: pd.DataFrame
    period: ReportingPeriod
    churners: int
    revenue_recorded: bool
    reduction: float
    days: int
    draws: int
    joint: pd.DataFrame | None = None
    cause: str = ALL_CAUSES

    def to_frame(self) -> pd.DataFrame:
        """The ``impact.csv`` contract table (the fixed columns, ``exposure``, then the intervals); with churn
        causes it refers to params ``impact_cause``."""
        return self.summary[RESULT_COLUMNS["impact"]].reset_index(drop=True)

    def _lines(self) -> list[str]:
        who = "churners" if self.cause == ALL_CAUSES else f"{self.cause} churners"
        return [(f"{self.churners:,} {who} in {self.period.label}; what-if: {self.reduction:.0%} fewer poor "
                 f"experiences, retention at {self.days} days.")]


def exposure_labels(rules: Sequence[ExposureRule], custom: bool) -> dict[str, str]:
    """Exposure term → the ``touchpoint`` value of impact.csv: the touchpoint, or a custom exposure's own name.

    Parameters
    ----------
    rules : sequence of ExposureRule
        The run's exposures (``RunParams.exposure_rules(touchpoints)``).
    custom : bool
        True when the params declare their own ``exposures`` (each is then labelled by its name).

    Examples
    --------
    >>> rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]
    >>> exposure_labels(rules, custom=False), exposure_labels(rules, custom=True)
    ({'poor_billing': 'billing'}, {'poor_billing': 'poor_billing'})
    """
    return {r.name: (r.name if custom else r.touchpoint) for r in rules}


def model_arrays(pem: PiecewiseExponentialResult) -> tuple[pd.DataFrame, np.ndarray, pd.Series, np.ndarray]:
    """The cells, design matrix, coefficients and covariance of a fitted touchpoint PEM, rows aligned.

    The GLM's design rows must be the cells' rows: this is checked against the model's response
    (events) and offset (log person-days), and cells with no person-time are dropped first when
    the model left them out.

    Raises
    ------
    NotEstimable
        When the model was not fitted.
    ValueError
        When the model's rows cannot be matched with the cells (a bug, not a property of the data).

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> cells = pd.DataFrame({"piece": [0, 0, 90, 90, 90], "poor_x": [0, 1, 0, 1, 1], "events": [50, 12, 40, 8, 0],
    ...                       "person_days": [45000, 5000, 45000, 5000, 0]})
    >>> X = pd.DataFrame({"piece[0]": [1.0, 1, 0, 0], "piece[90]": [0.0, 0, 1, 1], "poor_x": [0.0, 1, 0, 1]})
    >>> used = cells.iloc[:4]
    >>> glm = sm.GLM(used["events"], X, family=sm.families.Poisson(), offset=np.log(used["person_days"])).fit()
    >>> pem = PiecewiseExponentialResult("touchpoints", "PEM", pd.DataFrame(), 110, cells=cells, glm=glm)
    >>> cells_used, design, coef, cov = model_arrays(pem)
    >>> len(cells_used), round(float(np.exp(coef["poor_x"])), 3)
    (4, 2.0)
    """
    glm = pem.glm
    if glm is None:
        raise NotEstimable("the touchpoint model was not fitted", model="touchpoints")
    design = np.asarray(glm.model.exog, dtype=float)
    cells = pem.cells
    if len(cells) != len(design):
        cells = cells[cells["person_days"] > 0]
    cells = cells.reset_index(drop=True)
    offset = getattr(glm.model, "offset", None)
    aligned = (len(cells) == len(design)
               and np.allclose(np.asarray(glm.model.endog, dtype=float), cells["events"].to_numpy(float))
               and (offset is None or np.allclose(np.exp(np.asarray(offset, dtype=float)), cells["person_days"].to_numpy(float))))
    if not aligned:
        raise ValueError("The touchpoint model's rows do not match its cells, so the what-if cannot be computed.")
    coef = pd.Series(np.asarray(glm.params, dtype=float), index=list(glm.model.exog_names))
    return cells, design, coef, np.asarray(glm.cov_params(), dtype=float)


def exposure_rows(pem: PiecewiseExponentialResult, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per exposure: touchpoint label, exposure share, hazard ratio and its interval.

    Every exposure of the run gets a row; one the model left out (nobody had it) has no hazard ratio.

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["poor_a"], "hazard_ratio": [2.0], "ci_lower": [1.5], "ci_upper": [2.6]})
    >>> pem = PiecewiseExponentialResult("touchpoints", "PEM", s, 10, exposure_share={"poor_a": 0.1, "poor_b": 0.0})
    >>> exposure_rows(pem, {"poor_a": "a", "poor_b": "b"})
      touchpoint exposure  exposure_share  hazard_ratio  ci_lower  ci_upper
    0          a   poor_a             0.1           2.0       1.5       2.6
    1          b   poor_b             0.0           NaN       NaN       NaN
    """
    s = pem.summary.set_index("term")
    return pd.DataFrame({
        "touchpoint": list(labels.values()), "exposure": list(labels),
        "exposure_share": [float(pem.exposure_share.get(e, np.nan)) for e in labels],
        **{col: [float(s.loc[e, col]) if e in s.index else np.nan for e in labels]
           for col in ("hazard_ratio", "ci_lower", "ci_upper")},
    })


def _history_share(cells: pd.DataFrame, exposures: list[str], coef: pd.Series, draws: pd.DataFrame) -> pd.DataFrame:
    """The case-based share over every churn event of the model's history (its cells' events)."""
    patterns = cells.groupby(exposures, as_index=False)["events"].sum().rename(columns={"events": "churners"})
    if patterns["churners"].sum() == 0:
        return pd.DataFrame(columns=["exposure", "history_share", "history_share_ci_lower", "history_share_ci_upper"])
    out = attributable_churn(patterns, coef[exposures], draws=draws, revenue=None)
    return out.rename(columns={"attributable_churn_share": "history_share",
                               "attributable_churn_share_ci_lower": "history_share_ci_lower",
                               "attributable_churn_share_ci_upper": "history_share_ci_upper"})[
        ["exposure", "history_share", "history_share_ci_lower", "history_share_ci_upper"]]


def touchpoint_impact(pem: PiecewiseExponentialResult, patterns: pd.DataFrame, period: ReportingPeriod,
                      labels: Mapping[str, str], *, tenure_pieces: Sequence[int], reduction: float,
                      min_cell_size: int, seed: int, draws: int = WHAT_IF_DRAWS,
                      cause: str = ALL_CAUSES) -> ImpactResult:
    """Everything of the impact section, from the fitted touchpoint model and the period's churners.

    Parameters
    ----------
    pem : PiecewiseExponentialResult
        Model ``touchpoints`` (with churn causes ``touchpoints[<cause>]`` of ``cause``), fitted: ``summary``, ``cells``, ``glm``, ``exposure_share``.
    patterns : DataFrame
        The reporting period's churners per exposure pattern at churn
        (:func:`cxlib.features.churners.churner_exposures`: one 0/1 column per exposure,
        ``churners``, ``revenue``), built with the model's window and lag.
        With churn causes: only ``cause``'s churners.
    period : ReportingPeriod
        The reporting period (:func:`cxlib.periods.reporting_period` of ``as_of`` and ``period``).
    labels : mapping of str to str
        Exposure term → its label in impact.csv's ``touchpoint`` column (:func:`exposure_labels`).
    tenure_pieces : sequence of int
        Lower bounds of the model's baseline pieces (``tenure_pieces_days``).
    reduction : float
        The what-if's share of exposed person-time removed (``what_if_reduction``).
    min_cell_size : int
        An exposure with fewer churn events while exposed is suppressed (its row stays, its
        estimates are emptied); one with fewer of the period's churners exposed at churn keeps its
        hazard ratio and what-if, but its period figures are emptied (they would show the count
        and mean revenue of a small group).
    seed : int
        Seed of the parametric draws (the what-if's and the attribution's: the same draws).
    draws : int
        Parametric draws of the coefficients behind the intervals.
    cause : str
        The cause ``pem`` models (params ``impact_cause``); ``all`` without churn causes.

    Raises
    ------
    NotEstimable
        When the touchpoint model was not fitted, or nobody churned in the period.

    Examples
    --------
    >>> import datetime as dt, statsmodels.api as sm
    >>> from cxlib.periods import reporting_period
    >>> cells = pd.DataFrame({"piece": [0, 0, 90, 90], "poor_x": [0, 1, 0, 1], "events": [50, 12, 40, 8],
    ...                       "person_days": [45000, 5000, 45000, 5000]})
    >>> X = pd.DataFrame({"piece[0]": [1.0, 1, 0, 0], "piece[90]": [0.0, 0, 1, 1], "poor_x": [0.0, 1, 0, 1]})
    >>> glm = sm.GLM(cells["events"], X, family=sm.families.Poisson(), offset=np.log(cells["person_days"])).fit()
    >>> b, se = glm.params["poor_x"], glm.bse["poor_x"]
    >>> s = pd.DataFrame({"term": ["poor_x"], "hazard_ratio": [np.exp(b)], "ci_lower": [np.exp(b - 1.96 * se)],
    ...                   "ci_upper": [np.exp(b + 1.96 * se)]})
    >>> pem = PiecewiseExponentialResult("touchpoints", "PEM", s, 110, cells=cells, glm=glm,
    ...                                  exposure_share={"poor_x": 0.1})
    >>> patterns = pd.DataFrame({"poor_x": [0, 1], "churners": [40, 20], "revenue": [2000.0, 1500.0]})
    >>> res = touchpoint_impact(pem, patterns, reporting_period(dt.date(2026, 9, 30)), {"poor_x": "x"},
    ...                         tenure_pieces=[0, 90], reduction=0.5, min_cell_size=10, seed=1, draws=100)
    >>> res.to_frame()[["touchpoint", "hazard_ratio", "churners_attributable", "revenue_at_risk"]].round(2)
      touchpoint  hazard_ratio  churners_attributable  revenue_at_risk
    0          x           2.0                   10.0           9000.0
    """
    cells, design, coef, cov = model_arrays(pem)
    table = exposure_rows(pem, labels).rename(columns={"ci_lower": "hr_ci_lower", "ci_upper": "hr_ci_upper"})
    fitted = [e for e in table["exposure"] if e in coef.index]
    if not fitted:  # valid data (e.g. no interaction rated): the model stands, without any exposure term
        raise NotEstimable("no exposure is left in model touchpoints (no customer had a poor experience, or "
                           "every exposure term was left out), so no churn can be attributed to one",
                           model="touchpoints")
    # the what-if draws these too (same construction, same seed): one set of draws behind every interval
    coef_draws = coefficient_draws(coef, cov, draws, np.random.default_rng(seed))
    missing = [e for e in table["exposure"] if e not in patterns.columns]
    patterns = patterns.assign(**{e: 0 for e in missing})
    revenue = "revenue" if "revenue" in patterns.columns and patterns["revenue"].notna().any() else None
    churners = int(patterns["churners"].sum())
    joint = None
    if churners > 0:
        period_part = attributable_churn(patterns, coef[fitted], draws=coef_draws, revenue=revenue)
        period_part = period_part.drop(columns=["hazard_ratio", "churners", "churners_exposed"])
        joint = joint_attributable_churn(patterns, coef[fitted], draws=coef_draws, revenue=revenue)
    else:  # nobody churned in the period: no period figures, the model's own still stand
        period_part = pd.DataFrame({"exposure": fitted}).reindex(columns=["exposure", *PERIOD_COLUMNS, "revenue_exposed"])
    history = _history_share(cells, fitted, coef, coef_draws)
    what_if = what_if_retention(cells, design, coef, cov, fitted, list(tenure_pieces), reduction, draws=draws, seed=seed)
    summary = table.merge(period_part, on="exposure", how="left").merge(history, on="exposure", how="left")
    summary = summary.merge(what_if, on="exposure", how="left")
    summary["churners"] = churners
    summary["churners_exposed"] = [int(patterns.loc[patterns[e] == 1, "churners"].sum()) for e in summary["exposure"]]
    summary["exposed_events"] = [int(cells.loc[cells[e] == 1, "events"].sum()) for e in summary["exposure"]]
    summary["suppressed"] = summary["exposed_events"] < min_cell_size
    summary["period_suppressed"] = summary["suppressed"] | (summary["churners_exposed"] < min_cell_size)
    kept = ("touchpoint", "exposure", "exposed_events", "suppressed", "period_suppressed", "churners")
    estimates = [c for c in summary.columns if c not in kept]
    summary.loc[summary["suppressed"], estimates] = np.nan
    period_columns = [*PERIOD_COLUMNS, "churners_exposed", "revenue_exposed"]
    summary.loc[summary["period_suppressed"], period_columns] = np.nan
    return ImpactResult(summary=rank_by_value(summary), period=period, churners=churners,
                        revenue_recorded=revenue is not None, reduction=reduction, days=WHAT_IF_DAYS, draws=draws,
                        joint=joint, cause=cause)

def cause_context(customers: ir.Table, period: ReportingPeriod, churn_causes: Mapping[str, Sequence[str]],
                  causes: Sequence[str], min_cell_size: int, as_of: dt.date | None = None) -> pd.DataFrame:
    """The period's churners by cause, for context beside the attribution of one cause.

    Returns
    -------
    pandas.DataFrame
        ``cause``, ``churners``, ``share`` (of the period's churners) per cause in ``causes``; a
        count below ``min_cell_size`` is suppressed (NaN, as is its share).

    Examples
    --------
    >>> import datetime as dt, ibis
    >>> from cxlib.periods import reporting_period
    >>> t = ibis.memtable({"churn_date": [dt.date(2026, 8, 1)] * 30, "churn_reason": ["price"] * 20 + ["moved"] * 10})
    >>> cause_context(t, reporting_period(dt.date(2026, 9, 30)), {"voluntary": ["price"], "involuntary": ["moved"]},
    ...               ["voluntary", "involuntary", "other"], min_cell_size=5)
             cause  churners     share
    0    voluntary      20.0  0.666667
    1  involuntary      10.0  0.333333
    2        other       0.0  0.000000
    """
    counts = churners_by_cause(customers, period, cause_lookup(churn_causes), as_of).set_index("cause")["churners"]
    out = pd.DataFrame({"cause": list(causes)})
    out["churners"] = out["cause"].map(counts).fillna(0).astype(float)
    total = out["churners"].sum()
    out["share"] = out["churners"] / total if total else np.nan
    small = (out["churners"] > 0) & (out["churners"] < min_cell_size)
    out.loc[small, ["churners", "share"]] = np.nan
    return out
