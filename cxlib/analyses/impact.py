"""Business impact of poor touchpoint experiences: attributable churn, revenue at risk, what-if retention.

Everything starts from model ``touchpoints``, the piecewise-exponential (PEM) Poisson model of churn
on the ``poor_<touchpoint>`` exposures and the covariates (:mod:`cxlib.analyses.survival`).

Attributable churn share
    Levin's population attributable fraction ``PAF = p (HR − 1) / (1 + p (HR − 1))`` with ``p`` the
    share of person-time exposed and ``HR`` the adjusted hazard ratio: the share of the churn hazard
    that would not occur if the exposure's excess hazard were removed, everything else unchanged.
    Its interval is the exact transformation of the Wald interval of ``log HR`` with ``p`` held fixed
    (the PAF increases with the HR, so the ends of the HR interval map onto the ends of the PAF
    interval). Each exposure's PAF is computed on its own; PAFs of different exposures do not add up.
Churners attributable and revenue at risk
    ``PAF × churners in the reporting period`` (the calendar ``period`` — quarter or month —
    containing ``as_of``, counted up to ``as_of``), and, when ``monthly_revenue`` exists,
    ``churners attributable × the mean monthly revenue of the period's churners × 12`` (a year of
    revenue). The intervals carry the PAF interval through; the churner count and mean revenue are
    taken as known.
What-if retention
    Standardized retention at ``days`` (365) after signup, ``S = exp(−Σ_k Δ_k h_k)``, where ``h_k``
    is the average hazard in tenure piece ``k`` over the person-time observed in it (every cell's
    fitted rate weighted by its person-days: the observed mix of covariates and exposures), and
    ``Δ_k`` the part of the piece before ``days``. With the model's baseline pieces this reproduces
    the observed piecewise life table. The what-if moves ``what_if_reduction`` of the person-time
    exposed to ``poor_<T>`` to the same cell unexposed to T (rate divided by ``HR_T``), leaving the
    covariates and other exposures as observed. Intervals: percentiles over parametric draws of the
    GLM coefficients from their estimated normal distribution (seeded with ``params.seed``).
    The mix is held fixed: fewer poor experiences would also leave more customers at risk later,
    which this first-order what-if ignores.

These are associations from observational data: the numbers say what the model implies if the
exposures' hazard ratios were causal, not that they are.

Examples
--------
>>> float(attributable_fraction(0.2, 2.0))
0.16666666666666669
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlib.results import RESULT_COLUMNS

WHAT_IF_DAYS = 365
WHAT_IF_DRAWS = 2000


def attributable_fraction(p: Any, hr: Any) -> Any:
    """Levin's population attributable fraction ``p (HR − 1) / (1 + p (HR − 1))``.

    Parameters
    ----------
    p : float or array
        Share of person-time exposed (0–1).
    hr : float or array
        Hazard ratio of the exposed against the unexposed.

    Examples
    --------
    >>> float(attributable_fraction(0.25, 3.0))
    0.3333333333333333
    >>> float(attributable_fraction(0.5, 0.5))  # a protective exposure: negative
    -0.3333333333333333
    """
    excess = np.multiply(p, np.subtract(hr, 1.0))
    return excess / (1.0 + excess)


@dataclass(frozen=True)
class ReportingPeriod:
    """The calendar period containing ``as_of``, counted from its first day up to ``as_of``."""

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
    if period not in ("quarter", "month"):
        raise ValueError(f"period must be 'quarter' or 'month', got {period!r}")
    # labels as in metrics.csv: pandas' period notation
    p = pd.Period(as_of, freq="Q" if period == "quarter" else "M")
    return ReportingPeriod(p.start_time.date(), as_of, str(p))


def period_churners(customers: ir.Table, period: ReportingPeriod) -> tuple[int, float | None]:
    """Customers who churned in the period, and their mean monthly revenue (None when not recorded).

    One aggregate query in the engine.

    Examples
    --------
    >>> t = ibis.memtable({"churn_date": [dt.date(2026, 8, 1), dt.date(2026, 9, 2), dt.date(2026, 1, 5), None],
    ...                    "monthly_revenue": [10.0, 30.0, 99.0, 5.0]})
    >>> period_churners(t, reporting_period(dt.date(2026, 9, 30)))
    (2, 20.0)
    """
    c = customers
    in_period = c.churn_date.notnull() & (c.churn_date >= period.start) & (c.churn_date <= period.end)
    churned = c.filter(in_period)
    revenue = churned.monthly_revenue if "monthly_revenue" in c.columns else ibis.null("float64")
    row = churned.aggregate(n=churned.count(), revenue=revenue.cast("float64").mean()).execute().iloc[0]
    mean = row["revenue"]
    return int(row["n"]), (None if mean is None or pd.isna(mean) else float(mean))


def impact_table(exposures: pd.DataFrame, churners: int, mean_monthly_revenue: float | None) -> pd.DataFrame:
    """PAF, churners attributable and revenue at risk (with intervals) per exposure.

    Parameters
    ----------
    exposures : DataFrame
        One row per exposure: ``touchpoint``, ``exposure``, ``exposure_share``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper`` (the hazard ratio's interval).
    churners : int
        Churners in the reporting period.
    mean_monthly_revenue : float or None
        Their mean monthly revenue; None leaves revenue at risk empty.

    Returns
    -------
    DataFrame
        The input columns (the interval renamed ``hr_ci_lower``/``hr_ci_upper``) plus
        ``attributable_churn_share``, ``paf_ci_lower``, ``paf_ci_upper``, ``churners_in_period``,
        ``churners_attributable``, ``churners_ci_lower``, ``churners_ci_upper``,
        ``mean_monthly_revenue``, ``revenue_at_risk``, ``revenue_ci_lower``, ``revenue_ci_upper``.

    Examples
    --------
    >>> e = pd.DataFrame({"touchpoint": ["billing"], "exposure": ["poor_billing"], "exposure_share": [0.2],
    ...                   "hazard_ratio": [2.0], "ci_lower": [1.5], "ci_upper": [2.5]})
    >>> impact_table(e, 120, 50.0)[["churners_attributable", "revenue_at_risk"]].round(6).to_dict("records")
    [{'churners_attributable': 20.0, 'revenue_at_risk': 12000.0}]
    """
    out = exposures.rename(columns={"ci_lower": "hr_ci_lower", "ci_upper": "hr_ci_upper"}).copy()
    p = out["exposure_share"]
    out["attributable_churn_share"] = attributable_fraction(p, out["hazard_ratio"])
    out["paf_ci_lower"] = attributable_fraction(p, out["hr_ci_lower"])
    out["paf_ci_upper"] = attributable_fraction(p, out["hr_ci_upper"])
    out["churners_in_period"] = churners
    for col, paf in (("churners_attributable", "attributable_churn_share"),
                     ("churners_ci_lower", "paf_ci_lower"), ("churners_ci_upper", "paf_ci_upper")):
        out[col] = out[paf] * churners
    annual = np.nan if mean_monthly_revenue is None else 12.0 * mean_monthly_revenue
    out["mean_monthly_revenue"] = np.nan if mean_monthly_revenue is None else mean_monthly_revenue
    out["revenue_at_risk"] = out["churners_attributable"] * annual
    out["revenue_ci_lower"] = out["churners_ci_lower"] * annual
    out["revenue_ci_upper"] = out["churners_ci_upper"] * annual
    return out


def evidence_notes(summary: pd.DataFrame) -> pd.Series:
    """A plain-language note per exposure row on what its estimate can support (empty when clear).

    An attributable share is only a share of churn *caused* under the model when the hazard
    ratio is clearly above 1; with an interval that includes 1 the share (and its churners and
    revenue) may be zero, and below 1 poor experiences there go with *less* churn, which makes the
    share negative (a prevented fraction).

    Examples
    --------
    >>> s = pd.DataFrame({"hazard_ratio": [2.0, 1.1, 0.7, None], "hr_ci_lower": [1.5, 0.9, 0.5, None],
    ...                   "hr_ci_upper": [2.5, 1.3, 0.9, None], "suppressed": [False, False, False, False]})
    >>> evidence_notes(s).str.split(":").str[0].tolist()
    ['', 'no clear effect', 'less churn', 'not in the model']
    """
    lo, hi = summary["hr_ci_lower"], summary["hr_ci_upper"]
    notes = np.select(
        [summary["suppressed"].astype(bool), summary["hazard_ratio"].isna(), hi < 1, lo <= 1],
        ["suppressed: fewer than min_cell_size churn events while exposed",
         "not in the model: nobody had this exposure",
         "less churn: poor experiences here go with lower churn, so the share is negative",
         "no clear effect: the hazard-ratio interval includes 1, so the share may be zero"],
        "")
    return pd.Series(notes, index=summary.index, name="note")


def _piece_overlap(pieces: list[int], days: int) -> dict[int, float]:
    bounds = sorted(pieces)
    uppers = bounds[1:] + [np.inf]
    return {lo: float(max(0.0, min(hi, days) - lo)) for lo, hi in zip(bounds, uppers)}


def what_if_retention(cells: pd.DataFrame, design: np.ndarray, coef: pd.Series, cov: np.ndarray,
                      exposures: list[str], pieces: list[int], reduction: float, days: int = WHAT_IF_DAYS,
                      draws: int = WHAT_IF_DRAWS, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Standardized retention at ``days`` now and if each exposure's person-time fell by ``reduction``.

    Parameters
    ----------
    cells : DataFrame
        The PEM's cells: ``piece`` (lower bound, days), one 0/1 column per exposure, ``person_days``;
        rows aligned with ``design``.
    design : ndarray, shape (n_cells, n_coef)
        The GLM's design matrix of those cells (without the offset).
    coef : Series
        The GLM's coefficients, indexed by term; the exposures' terms carry their names.
    cov : ndarray
        Covariance matrix of ``coef``.
    exposures : list of str
        Exposure columns to evaluate.
    pieces : list of int
        Lower bounds of the baseline pieces (``tenure_pieces_days``).
    reduction : float
        Share of exposed person-time removed (``what_if_reduction``).
    days : int
        Tenure at which retention is read.
    draws, seed, level
        Parametric draws of the coefficients ~ N(coef, cov), their seed, and the interval level.

    Returns
    -------
    DataFrame
        One row per exposure: ``exposure``, ``retention``, ``retention_ci_lower``, ``retention_ci_upper``,
        ``what_if_retention``, ``retention_gain``, ``gain_ci_lower``, ``gain_ci_upper`` (gain in
        retention, as a share: 0.01 = one percentage point).

    Examples
    --------
    >>> what_if_retention(pem.cells, pem.glm.model.exog, pem.glm.params, pem.glm.cov_params(),
    ...                   ["poor_billing"], [0, 30, 90, 180, 365, 730], 0.5)       # doctest: +SKIP
    """
    coef = pd.Series(coef)
    cov = np.asarray(cov, dtype=float)
    rng = np.random.default_rng(seed)
    betas = np.vstack([coef.to_numpy(), rng.multivariate_normal(coef.to_numpy(), cov, size=draws, method="eigh")])
    rates = np.exp(np.asarray(design, dtype=float) @ betas.T) * cells["person_days"].to_numpy(float)[:, None]
    overlap = _piece_overlap(pieces, days)
    piece = cells["piece"].to_numpy()
    person_days = pd.Series(cells["person_days"].to_numpy(float)).groupby(piece).sum()
    weights = np.array([overlap.get(k, 0.0) / person_days[k] if person_days[k] > 0 else 0.0 for k in piece])

    def survival(expected: np.ndarray) -> np.ndarray:
        # expected events per cell; weights turn them into sum_k overlap_k * (events_k / person_days_k)
        return np.exp(-(weights[:, None] * expected).sum(axis=0))

    base = survival(rates)
    alpha = (1 - level) / 2
    rows = []
    for name in exposures:
        hr = np.exp(betas[:, coef.index.get_loc(name)])
        exposed = cells[name].to_numpy(float)[:, None]
        moved = rates * exposed * reduction * (1.0 - 1.0 / hr)[None, :]
        what_if = survival(rates - moved)
        gain = what_if - base
        rows.append({
            "exposure": name, "retention": base[0],
            "retention_ci_lower": np.quantile(base[1:], alpha), "retention_ci_upper": np.quantile(base[1:], 1 - alpha),
            "what_if_retention": what_if[0], "retention_gain": gain[0],
            "gain_ci_lower": np.quantile(gain[1:], alpha), "gain_ci_upper": np.quantile(gain[1:], 1 - alpha),
        })
    return pd.DataFrame(rows, columns=["exposure", "retention", "retention_ci_lower", "retention_ci_upper",
                                       "what_if_retention", "retention_gain", "gain_ci_lower", "gain_ci_upper"])


@dataclass(frozen=True)
class ImpactResult:
    """Attributable churn, revenue at risk and what-if retention per touchpoint.

    Attributes
    ----------
    summary : DataFrame
        One row per exposure (see :func:`impact_table` and :func:`what_if_retention`), sorted by
        revenue at risk (attributable churners when there is no revenue), largest first.
    period : ReportingPeriod
    churners : int
        Churners in the period.
    mean_monthly_revenue : float or None
    reduction : float
        The what-if's share of exposed person-time removed.
    days : int
        Tenure at which the what-if reads retention.
    draws : int
        Parametric draws behind the what-if intervals.
    """

    summary: pd.DataFrame
    period: ReportingPeriod
    churners: int
    mean_monthly_revenue: float | None
    reduction: float
    days: int
    draws: int

    def to_frame(self) -> pd.DataFrame:
        """The ``impact.csv`` contract table."""
        return self.summary[RESULT_COLUMNS["impact"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period.label, "period_start": str(self.period.start), "period_end": str(self.period.end),
                "churners": self.churners, "mean_monthly_revenue": self.mean_monthly_revenue,
                "reduction": self.reduction, "days": self.days, "draws": self.draws,
                "touchpoints": self.summary.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        head = (f"<p>{self.churners:,} churners in {self.period.label}; what-if: {self.reduction:.0%} fewer poor "
                f"experiences, retention at {self.days} days.</p>")
        return head + self.summary.to_html(index=False, float_format=lambda x: f"{x:.4g}", escape=True)


def rank_by_value(summary: pd.DataFrame) -> pd.DataFrame:
    """Sort by revenue at risk, or by churners attributable when no revenue is recorded (largest first)."""
    key = "revenue_at_risk" if summary["revenue_at_risk"].notna().any() else "churners_attributable"
    return summary.sort_values([key, "touchpoint"], ascending=[False, True], na_position="last", ignore_index=True)


def exposure_labels(params: Any, touchpoints: list[str]) -> dict[str, str]:
    """Exposure term → the ``touchpoint`` value of impact.csv (the touchpoint, or the name of a custom exposure)."""
    return {r.name: (r.name if params.exposures else r.touchpoint) for r in params.exposure_rules(touchpoints)}


def model_arrays(pem: Any) -> tuple[pd.DataFrame, np.ndarray, pd.Series, np.ndarray]:
    """The cells, design matrix, coefficients and covariance of a fitted touchpoint PEM, rows aligned.

    The GLM's design rows must be the cells' rows: this is checked against the model's response
    (events) and offset (log person-days), and cells with no person-time are dropped first when
    the model left them out.

    Raises
    ------
    ValueError
        When the model's rows cannot be matched with the cells.
    """
    glm = pem.glm
    if glm is None:
        raise ValueError(getattr(pem, "warning", None) or "the touchpoint model was not fitted")
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


def exposure_rows(pem: Any, labels: dict[str, str]) -> pd.DataFrame:
    """Per exposure: touchpoint label, exposure share, hazard ratio and its interval.

    Every exposure of the run gets a row; one the model left out (nobody had it) has no hazard ratio.
    """
    s = pem.summary.set_index("term")
    return pd.DataFrame({
        "touchpoint": list(labels.values()), "exposure": list(labels),
        "exposure_share": [float(pem.exposure_share.get(e, np.nan)) for e in labels],
        **{col: [float(s.loc[e, col]) if e in s.index else np.nan for e in labels]
           for col in ("hazard_ratio", "ci_lower", "ci_upper")},
    })


def touchpoint_impact(pem: Any, customers: ir.Table, params: Any, touchpoints: list[str],
                      draws: int = WHAT_IF_DRAWS) -> ImpactResult:
    """Everything of the impact section for one run, from the fitted touchpoint model.

    Parameters
    ----------
    pem : PiecewiseExponentialResult
        Model ``touchpoints`` (:func:`cxlib.analyses.survival.fit_touchpoint_model`): ``summary``, ``cells``,
        ``glm``, ``exposure_share``.
    customers : ibis Table
        For the churners of the reporting period and their revenue.
    params : RunParams
        ``as_of``, ``period``, ``tenure_pieces_days``, ``what_if_reduction``, ``seed``,
        ``min_cell_size``, and the exposure rules.
    touchpoints : list of str
        The run's touchpoints (``Workbook.touchpoints()``), to name the exposures.

    Notes
    -----
    An exposure with fewer than ``min_cell_size`` churn events while exposed is suppressed: its row
    stays, with its estimates emptied.

    Examples
    --------
    >>> res = touchpoint_impact(pem, wb.customers, wb.params, wb.touchpoints())   # doctest: +SKIP
    >>> wb.write_result("impact", res.to_frame())                               # doctest: +SKIP
    """
    period = reporting_period(params.as_of, params.period)
    churners, revenue = period_churners(customers, period)
    cells, design, coef, cov = model_arrays(pem)
    table = impact_table(exposure_rows(pem, exposure_labels(params, touchpoints)), churners, revenue)
    fitted = [e for e in table["exposure"] if e in coef.index]
    what_if = what_if_retention(cells, design, coef, cov, fitted, list(params.tenure_pieces_days),
                                params.what_if_reduction, draws=draws, seed=params.seed)
    summary = table.merge(what_if, on="exposure", how="left")
    summary["exposed_events"] = [int(cells.loc[cells[e] == 1, "events"].sum()) for e in summary["exposure"]]
    summary["suppressed"] = summary["exposed_events"] < params.min_cell_size
    estimates = [c for c in summary.columns if c not in ("touchpoint", "exposure", "exposed_events", "suppressed",
                                                           "churners_in_period", "mean_monthly_revenue")]
    summary.loc[summary["suppressed"], estimates] = np.nan
    return ImpactResult(summary=rank_by_value(summary), period=period, churners=churners, mean_monthly_revenue=revenue,
                        reduction=params.what_if_reduction, days=WHAT_IF_DAYS, draws=draws)
