"""Retention and the touchpoint → churn model.

* **Kaplan–Meier** retention overall (group ``all``), by segment (``segment=<level>``) and by signup
  quarter (``cohort=2025Q1``), from per-day counts computed in the engine (:func:`cxlib.features.exposures.survival_counts`); Greenwood variance with log(−log)
  ("exponential Greenwood") 95 % intervals, medians with Brookmeyer–Crowley intervals read off the
  bands, and the k-sample **log-rank** test — all from the counts, so they scale to any size.
* Model ``covariates``: **Cox proportional hazards** (lifelines, Efron ties — R's default) on the
  customer covariates named in params, one row per customer; Harrell's concordance; the
  proportional-hazards check (Grambsch–Therneau test on scaled Schoenfeld residuals, rank time
  transform, on a seeded sample) and, where it fails, a refit stratified on the offending covariates
  (model ``covariates_stratified``; model ``covariates`` stays the plain fit).
* Model ``touchpoints``: a **piecewise-exponential** model — a Poisson GLM (statsmodels) of churn
  events on the aggregated tenure-piece × covariate × exposure cells with log person-days as
  offset and one baseline term per tenure piece. It is a proportional-hazards model whose
  sufficient statistics are the cells, so it fits a few thousand rows whatever the number of
  customers. Where the data are small enough, lifelines' ``CoxTimeVaryingFitter`` is fitted on the
  same exposure intervals as a cross-check (model ``touchpoints_cox_tv``).

Durations are days (see :mod:`cxlib.features.exposures` for the time convention). Lifelines gets a churn on
the signup day (duration 0) as half a day: Cox uses only the order of times, which this keeps, and
every lifelines fitter then accepts the data.

Before any model is fitted its design is checked: no events, a term without variation, a term that
duplicates or is a linear combination of others (a singular design, e.g. a level that duplicates
another column's level), or a term whose group has no churn or all of it (separation). A model that
cannot be fitted comes back with ``.warning`` saying why and an empty summary; a term without
variation (an exposure nobody had) is left out with a note.

Terms: ``poor_<touchpoint>`` (and any named exposure), a numeric covariate's own name, a categorical
level ``<column>[<level>]`` against the most frequent level; in the cell model a continuous covariate
is cut at its quantiles and enters as ``<column>[q2]`` … against the lowest bin ``q1``.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.features import exposures as features
from cxlib.features.exposures import Covariate
from cxlib.params import ExposureRule
from cxlib.results import ALL, RESULT_COLUMNS

__all__ = [
    "CoxResult",
    "HazardModelResult",
    "KaplanMeierResult",
    "LogRankResult",
    "PHCheck",
    "PiecewiseExponentialResult",
    "check_proportional_hazards",
    "cohort_retention",
    "compare_models",
    "exposure_label",
    "exposure_rules",
    "fit_covariate_model",
    "fit_piecewise_exponential",
    "fit_stratified_covariate_model",
    "fit_time_varying_cox",
    "fit_touchpoint_model",
    "group_label",
    "hazard_sentence",
    "kaplan_meier",
    "logrank_test",
    "model_covariates",
    "retention",
    "retention_counts",
    "small_terms",
]

ALPHA = 0.05
PH_P_THRESHOLD = 0.01  # lifelines' check_assumptions default: with thousands of customers 0.05 flags trivia
ZERO_DURATION = 0.5
SUMMARY_COLUMNS = ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value", "coef", "se"]
_Z = stats.norm.ppf(1 - ALPHA / 2)


def _frame_html(title: str, lines: Sequence[str], df: pd.DataFrame) -> str:
    head = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return f"<h4>{html.escape(title)}</h4>{head}{df.to_html(index=False, float_format=lambda v: f'{v:.4g}')}"


# =================================================================================================
# Kaplan–Meier and log-rank from counts
# =================================================================================================


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan–Meier estimates of several groups.

    Attributes
    ----------
    curves : pandas.DataFrame
        One row per group and day with a churn or a censoring: ``group``, ``days``, ``events``,
        ``censored``, ``at_risk`` (customers with duration ≥ days), ``survival``, ``ci_lower``,
        ``ci_upper``.
    summary : pandas.DataFrame
        Per group: ``group``, ``n``, ``events``, ``max_days`` (longest follow-up),
        ``median_days`` with ``median_ci_lower`` / ``median_ci_upper`` (NaN when not reached).
    suppressed : tuple of str
        Groups left out because they have fewer customers than ``min_n``.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    suppressed: tuple[str, ...] = ()
    alpha: float = ALPHA

    def at(self, days: Sequence[int]) -> pd.DataFrame:
        """Survival with its interval and customers at risk at given tenures, per group.

        Beyond a group's longest follow-up the estimate is undefined: survival is NaN there and
        ``at_risk`` 0.
        """
        rows = []
        for group, c in self.curves.groupby("group", sort=False):
            max_days = c["days"].iloc[-1]
            removed = (c["events"] + c["censored"]).to_numpy()
            for h in days:
                k = np.searchsorted(c["days"].to_numpy(), h, side="right") - 1
                at_risk = int(removed[c["days"].to_numpy() >= h].sum())
                if h > max_days:
                    vals = (np.nan, np.nan, np.nan)
                elif k < 0:
                    vals = (1.0, 1.0, 1.0)
                else:
                    vals = tuple(c[["survival", "ci_lower", "ci_upper"]].iloc[k])
                rows.append({"group": group, "days": int(h), "survival": vals[0], "ci_lower": vals[1],
                             "ci_upper": vals[2], "at_risk": at_risk})
        return pd.DataFrame(rows, columns=RESULT_COLUMNS["retention"])

    def to_frame(self, horizons: Sequence[int] = ()) -> pd.DataFrame:
        """``retention.csv``: each group's step function (one row per day with a churn) plus each horizon.

        A horizon that falls on a churn day appears once; a horizon beyond the group's longest
        follow-up has no row (the estimate is undefined there).
        """
        steps = self.curves.loc[self.curves["events"] > 0, RESULT_COLUMNS["retention"]]
        at = self.at(list(horizons)).dropna(subset=["survival"])
        at = at.merge(steps[["group", "days"]], how="left", indicator=True)
        at = at.loc[at["_merge"] == "left_only", RESULT_COLUMNS["retention"]]
        out = pd.concat([steps, at], ignore_index=True)
        order = {g: i for i, g in enumerate(self.summary["group"])}
        out = out.assign(_o=out["group"].map(order)).sort_values(["_o", "days"], kind="stable")
        return out.drop(columns="_o").reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary.to_dict(orient="records"), "suppressed": list(self.suppressed)}

    def _repr_html_(self) -> str:
        return _frame_html("Kaplan–Meier retention", [f"{len(self.summary)} group(s)"], self.summary)


def kaplan_meier(counts: pd.DataFrame, min_n: int = 1, alpha: float = ALPHA) -> KaplanMeierResult:
    """Kaplan–Meier estimator with exponential-Greenwood intervals, from per-day counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored`` (:func:`cxlib.features.exposures.survival_counts`;
        several groupings may be concatenated).
    min_n : int
        Groups with fewer customers are suppressed (``min_cell_size``).
    alpha : float
        1 − confidence level of the pointwise intervals.

    Returns
    -------
    KaplanMeierResult

    Notes
    -----
    ``S(t) = Π_{t_i ≤ t} (1 − d_i / n_i)``; Greenwood ``V(t) = Σ d_i / (n_i (n_i − d_i))``; the interval
    is ``S(t)^{exp(± z √V / log S(t))}`` (Kalbfleisch & Prentice's log(−log) transform, lifelines'
    default), which stays inside [0, 1]. The median is the first day with ``S ≤ 0.5``; its interval
    is where the band's limits cross 0.5 (Brookmeyer & Crowley).

    Examples
    --------
    >>> counts = pd.DataFrame({"group": "all", "days": [1, 2, 3], "events": [1, 1, 0], "censored": [0, 0, 1]})
    >>> kaplan_meier(counts).curves["survival"].round(4).tolist()
    [0.6667, 0.3333, 0.3333]
    """
    z = stats.norm.ppf(1 - alpha / 2)
    c = counts.groupby(["group", "days"], sort=False, as_index=False)[["events", "censored"]].sum()
    c = c.sort_values(["group", "days"], kind="stable")
    c["removed"] = c["events"] + c["censored"]
    n = c.groupby("group", sort=False)["removed"].transform("sum")
    c["at_risk"] = (n - c.groupby("group", sort=False)["removed"].cumsum() + c["removed"]).astype("int64")
    keep = n >= min_n
    suppressed = tuple(sorted(c.loc[~keep, "group"].unique()))
    c = c.loc[keep].reset_index(drop=True)
    d, r = c["events"].to_numpy(float), c["at_risk"].to_numpy(float)
    c["survival"] = pd.Series(1 - d / r).groupby(c["group"].to_numpy()).cumprod().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(r > d, d / (r * (r - d)), np.inf)
        var = pd.Series(inc).groupby(c["group"].to_numpy()).cumsum().to_numpy()
        s = c["survival"].to_numpy()
        log_s = np.log(s)
        width = z * np.sqrt(var) / np.abs(log_s)
        lo = np.exp(-np.exp(np.log(-log_s) + width))
        hi = np.exp(-np.exp(np.log(-log_s) - width))
    full = s >= 1.0
    lo[full], hi[full] = 1.0, 1.0
    gone = s <= 0.0
    lo[gone], hi[gone] = 0.0, 0.0
    c["ci_lower"], c["ci_upper"] = lo, hi
    curves = c[["group", "days", "events", "censored", "at_risk", "survival", "ci_lower", "ci_upper"]]
    rows = []
    for group, g in curves.groupby("group", sort=False):
        rows.append({
            "group": group, "n": int(g["at_risk"].iloc[0]), "events": int(g["events"].sum()),
            "max_days": int(g["days"].iloc[-1]),
            "median_days": _first_day_below(g, "survival"),
            "median_ci_lower": _first_day_below(g, "ci_lower"),
            "median_ci_upper": _first_day_below(g, "ci_upper"),
        })
    summary = pd.DataFrame(rows, columns=["group", "n", "events", "max_days", "median_days",
                                          "median_ci_lower", "median_ci_upper"])
    return KaplanMeierResult(curves=curves.reset_index(drop=True), summary=summary, suppressed=suppressed, alpha=alpha)


def _first_day_below(g: pd.DataFrame, column: str) -> float:
    hit = g.loc[g[column] <= 0.5, "days"]
    return float(hit.iloc[0]) if len(hit) else np.nan


@dataclass(frozen=True)
class LogRankResult:
    """k-sample log-rank test of equal survival curves.

    ``summary`` holds per group ``group``, ``n``, ``observed`` and ``expected`` churn events under
    the null hypothesis.
    """

    statistic: float
    df: int
    p_value: float
    summary: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value,
                "summary": self.summary.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        return _frame_html("Log-rank test", [f"chi² = {self.statistic:.2f}, df = {self.df}, p = {self.p_value:.3g}"],
                           self.summary)


def logrank_test(counts: pd.DataFrame) -> LogRankResult:
    """The k-sample log-rank test (Mantel–Haenszel) from per-day counts of each group.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored`` for the groups to compare.

    Returns
    -------
    LogRankResult
        Chi-squared statistic ``U' V⁻ U`` on ``k − 1`` degrees of freedom, where ``U`` is observed
        minus expected events per group and ``V`` its hypergeometric covariance summed over days.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": ["a", "a", "b", "b"], "days": [1, 3, 2, 4],
    ...                        "events": [1, 1, 1, 0], "censored": [0, 0, 0, 1]})
    >>> round(logrank_test(counts).p_value, 3)
    0.433
    """
    ev = counts.pivot_table(index="days", columns="group", values="events", aggfunc="sum", fill_value=0)
    rem = counts.assign(removed=counts["events"] + counts["censored"]).pivot_table(
        index="days", columns="group", values="removed", aggfunc="sum", fill_value=0)
    ev = ev.reindex(columns=rem.columns, fill_value=0)
    groups = list(rem.columns)
    n_g = rem.sum().to_numpy(float)
    at_risk = n_g - rem.cumsum().to_numpy(float) + rem.to_numpy(float)
    d_g = ev.to_numpy(float)
    n, d = at_risk.sum(axis=1), d_g.sum(axis=1)
    use = (d > 0) & (n > 0)
    at_risk, d_g, n, d = at_risk[use], d_g[use], n[use], d[use]
    share = at_risk / n[:, None]
    expected = share * d[:, None]
    u = (d_g - expected).sum(axis=0)
    factor = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1), 0.0)
    v = np.einsum("t,tg,gh->gh", factor, share, np.eye(len(groups))) - np.einsum("t,tg,th->gh", factor, share, share)
    k = len(groups)
    statistic = float(u[:-1] @ np.linalg.pinv(v[:-1, :-1]) @ u[:-1]) if k > 1 else 0.0
    summary = pd.DataFrame({"group": groups, "n": n_g.astype(int), "observed": d_g.sum(axis=0).astype(int),
                            "expected": expected.sum(axis=0)})
    return LogRankResult(statistic=statistic, df=k - 1, p_value=float(stats.chi2.sf(statistic, k - 1)) if k > 1 else np.nan,
                         summary=summary)


def retention_counts(wb: Any) -> pd.DataFrame:
    """Per-day churn and censoring counts of every retention group, computed in the engine.

    Groups (the ``group`` column of ``retention.csv``): ``all``; ``segment=<level>`` for each value
    of the customers' ``segment`` column when there is one (``segment=(missing)`` for empty values);
    ``cohort=<year>Q<quarter>`` for each signup quarter, e.g. ``cohort=2025Q1``.
    """
    extra = ["segment"] if "segment" in wb.customers.columns else []
    people = features.customers_as_of(wb.customers, wb.params.as_of, extra=extra)
    parts = [features.survival_counts(people)]
    parts += [features.survival_counts(people, by) for by in (*extra, "cohort")]
    return pd.concat(parts, ignore_index=True)


def retention(wb: Any, counts: pd.DataFrame | None = None) -> KaplanMeierResult:
    """Kaplan–Meier retention of every group of :func:`retention_counts`, small groups suppressed.

    Examples
    --------
    >>> km = retention(wb)                                       # doctest: +SKIP
    >>> km.to_frame(wb.params.horizons_days)                     # doctest: +SKIP
    """
    counts = retention_counts(wb) if counts is None else counts
    return kaplan_meier(counts, min_n=wb.params.min_cell_size)


def cohort_retention(km: KaplanMeierResult, step_days: int = 90) -> pd.DataFrame:
    """Retention of each signup cohort every ``step_days`` of tenure, as far as the cohort is followed.

    Returns
    -------
    pandas.DataFrame
        ``cohort`` (e.g. ``2025Q1``), ``days``, ``survival``, ``at_risk`` — for the heatmap.
    """
    cohorts = km.summary[km.summary["group"].str.startswith("cohort=")]
    if cohorts.empty:
        return pd.DataFrame(columns=["cohort", "days", "survival", "at_risk"])
    grid = list(range(step_days, int(cohorts["max_days"].max()) + 1, step_days))
    sub = KaplanMeierResult(km.curves[km.curves["group"].isin(cohorts["group"])], cohorts)
    at = sub.at(grid).dropna(subset=["survival"])
    return pd.DataFrame({"cohort": at["group"].str.removeprefix("cohort="), "days": at["days"],
                         "survival": at["survival"], "at_risk": at["at_risk"]}).reset_index(drop=True)


# =================================================================================================
# Designs and their checks
# =================================================================================================


def _design(frame: pd.DataFrame, covariates: Sequence[Covariate], exposures: Sequence[str] = (),
            cells: bool = False) -> pd.DataFrame:
    """Model terms as float columns named as in ``hazard_ratios.csv``."""
    cols: dict[str, np.ndarray] = {e: frame[e].to_numpy(float) for e in exposures}
    for cov in covariates:
        if cov.kind == "categorical" or (cells and cov.kind == "binned"):
            values = frame[cov.name].astype(str).to_numpy()
            for level, term in zip(cov.levels[1:], cov.terms(cells)):
                cols[term] = (values == level).astype(float)
        else:
            cols[cov.name] = pd.to_numeric(frame[cov.name]).to_numpy(float)
    return pd.DataFrame(cols, index=frame.index)


def _describe_term(term: str, exposures: Sequence[str]) -> str:
    if term in exposures:
        return f"{term}: no customer had this exposure in the data"
    return f"{term}: only one value occurs (the same for every customer)"


def _single_level_notes(covariates: Sequence[Covariate]) -> list[str]:
    """A categorical covariate with one level has no term at all: say so instead of dropping it silently."""
    return [f"{c.name}: only one value occurs ({c.levels[0]}, the same for every customer); left out of the model"
            for c in covariates if c.kind == "categorical" and len(c.levels) == 1]


def _check_design(X: pd.DataFrame, events: np.ndarray, weights: np.ndarray, baseline: np.ndarray,
                  exposures: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str], str | None]:
    """Drop terms without variation; explain a design that cannot be fitted.

    ``baseline`` holds the columns every model has implicitly (Cox: a constant; piecewise
    exponential: the piece indicators), so that a term constant within them counts as singular.
    Returns the design to fit, notes on dropped terms, and the problem (None when fittable).
    """
    if events.sum() <= 0:
        return X, [], "there are no churn events, so no hazard ratio can be estimated"
    notes = []
    use = weights > 0
    constant = [c for c in X.columns if np.ptp(X.loc[use, c].to_numpy()) == 0]
    for c in constant:
        notes.append(f"{_describe_term(c, exposures)}; left out of the model")
    X = X.drop(columns=constant)
    if X.shape[1] == 0:
        return X, notes, "no term varies between customers"
    # Like R's coxph, an aliased term (a duplicate or linear combination of earlier ones) gets no
    # estimate while the rest of the model is fitted; the note says which and why.
    aliased, reasons = _aliased(X, weights, baseline)
    if aliased:
        notes.append("the design is singular (collinear terms): " + "; ".join(reasons)
                     + f" — left out of the model: {', '.join(aliased)}")
        X = X.drop(columns=aliased)
        if X.shape[1] == 0:
            return X, notes, "no term is left once collinear terms are removed"
    for c in X.columns:
        x = X[c].to_numpy()
        if not np.isin(x[use], (0.0, 1.0)).all():
            continue
        with_term, without = events[x == 1].sum(), events[x == 0].sum()
        if with_term == 0:
            return X, notes, (f"no churn happened with {c} (its hazard ratio would be 0: separation); "
                              "remove it or merge the level with another")
        if without == 0:
            return X, notes, (f"every churn happened with {c} (its hazard ratio would be infinite: "
                              "separation); remove it or merge the level with another")
    return X, notes, None


def _aliased(X: pd.DataFrame, weights: np.ndarray, baseline: np.ndarray) -> tuple[list[str], list[str]]:
    """The terms that duplicate or are linear combinations of earlier ones (weighted Gram matrix),
    and why each is aliased."""
    Z = np.column_stack([baseline, X.to_numpy()])
    names = [f"baseline{j}" for j in range(baseline.shape[1])] + list(X.columns)
    gram = (Z * weights[:, None]).T @ Z
    kept: list[int] = []
    found: list[str] = []
    aliased: list[str] = []
    for j in range(Z.shape[1]):
        if kept:
            g_ss = gram[np.ix_(kept, kept)]
            b = np.linalg.solve(g_ss, gram[kept, j])
            resid = gram[j, j] - gram[j, kept] @ b
        else:
            b, resid = np.zeros(0), gram[j, j]
        if resid > 1e-9 * max(gram[j, j], 1e-300):
            kept.append(j)
            continue
        base_count = baseline.shape[1]
        aliased.append(names[j])
        parts = [(names[k], coef) for k, coef in zip(kept, b) if k >= base_count and abs(coef) > 1e-6]
        if len(parts) == 1 and abs(parts[0][1] - 1) < 1e-6:
            found.append(f"{names[j]} duplicates {parts[0][0]}")
        elif len(parts) == 1 and abs(parts[0][1] + 1) < 1e-6:
            found.append(f"{names[j]} is the complement of {parts[0][0]}")
        elif parts:
            found.append(f"{names[j]} is a linear combination of {', '.join(p[0] for p in parts)}")
        else:
            found.append(f"{names[j]} is constant within each tenure piece")
    return aliased, found


# =================================================================================================
# Result objects
# =================================================================================================


@dataclass(frozen=True)
class HazardModelResult:
    """A fitted proportional-hazards model: hazard ratios with 95 % intervals.

    Attributes
    ----------
    model : str
        The model's name in ``hazard_ratios.csv`` (``covariates``, ``touchpoints`` …).
    method : str
        The method in words (for the methods text).
    summary : pandas.DataFrame
        ``term``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``, ``p_value``, ``coef`` (log hazard
        ratio), ``se``. Empty when the model could not be fitted.
    n_events : int
    warning : str or None
        Why the model could not be fitted (None when it was).
    notes : tuple of str
        Terms left out and why.
    """

    model: str
    method: str
    summary: pd.DataFrame
    n_events: int
    warning: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.warning is None

    def to_frame(self) -> pd.DataFrame:
        """Rows of ``hazard_ratios.csv``."""
        return self.summary.assign(model=self.model)[RESULT_COLUMNS["hazard_ratios"]]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "method": self.method, "n_events": self.n_events, "warning": self.warning,
                "notes": list(self.notes), "summary": self.summary.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        lines = [self.method, f"{self.n_events:,} churn events"]
        lines += [f"Warning: {self.warning}"] if self.warning else []
        lines += [f"Note: {n}" for n in self.notes]
        return _frame_html(f"Model {self.model}", lines, self.summary)


@dataclass(frozen=True)
class CoxResult(HazardModelResult):
    """Cox model (lifelines): adds ``concordance``, ``n_customers``, ``strata``, the lifelines
    ``fitter`` and the ``data`` it was fitted on (durations, events, covariates; for the
    proportional-hazards check and a stratified refit)."""

    concordance: float = np.nan
    n_customers: int = 0
    strata: tuple[str, ...] = ()
    covariates: tuple[Covariate, ...] = ()
    fitter: Any = field(default=None, repr=False, compare=False)
    data: pd.DataFrame | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PiecewiseExponentialResult(HazardModelResult):
    """The piecewise-exponential model on cells.

    Attributes
    ----------
    cells : pandas.DataFrame
        ``piece``, covariate pattern columns, exposure 0/1 columns, ``events``, ``person_days``.
    glm : statsmodels GLMResults or None
        ``params`` / ``cov_params()`` include the baseline terms ``piece[<lower bound>]``.
    exposure_share : dict of str to float
        Share of person-time spent exposed, per exposure term.
    baseline : pandas.DataFrame
        ``piece`` (lower bound, days), ``hazard_per_day`` of the reference customer, unexposed.
    exposures : tuple of str
        Exposure terms (rule names), in model order.
    covariates : tuple of Covariate
    person_days : int
    """

    cells: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    glm: Any = field(default=None, repr=False, compare=False)
    exposure_share: dict[str, float] = field(default_factory=dict)
    baseline: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    exposures: tuple[str, ...] = ()
    covariates: tuple[Covariate, ...] = ()
    person_days: int = 0


def _summary(coef: pd.Series, se: pd.Series, p: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "term": coef.index, "hazard_ratio": np.exp(coef.to_numpy()),
        "ci_lower": np.exp(coef.to_numpy() - _Z * se.to_numpy()), "ci_upper": np.exp(coef.to_numpy() + _Z * se.to_numpy()),
        "p_value": p.to_numpy(), "coef": coef.to_numpy(), "se": se.to_numpy(),
    })


def _empty_summary() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c == "term" else float) for c in SUMMARY_COLUMNS})


# =================================================================================================
# Model inputs from the workbook
# =================================================================================================


def model_covariates(wb: Any) -> list[Covariate]:
    """How each params covariate enters the models, decided once per run (cached between notebooks)."""
    p = wb.params
    frame = wb.cached("retention_covariates", lambda: features.covariate_frame(
        features.describe_covariates(wb.customers, p.covariates, p.covariate_bins)))
    return features.covariates_from_frame(frame)


def exposure_rules(wb: Any) -> list[ExposureRule]:
    """The exposures of model ``touchpoints``: params ``exposures``, else ``poor_<touchpoint>`` for each."""
    return wb.params.exposure_rules(wb.touchpoints())


def small_terms(covariates: Sequence[Covariate], min_n: int) -> set[str]:
    """Terms of categorical levels with fewer than ``min_n`` customers: fitted, never shown.

    Examples
    --------
    >>> small_terms([Covariate("plan", "categorical", ("a", "b", "c"), sizes=(50, 20, 3))], 10)
    {'plan[c]'}
    """
    return {f"{c.name}[{level}]" for c in covariates if c.kind == "categorical"
            for level, size in zip(c.levels, c.sizes) if size < min_n}


def _reserved(names: Sequence[str]) -> str | None:
    clash = sorted(set(names) & features.RESERVED_COLUMNS)
    if clash:
        return (f"covariate or exposure name(s) {', '.join(clash)} are used by the model itself; "
                "rename them (data.columns for covariates, name for exposures)")
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        return f"name(s) {', '.join(dupes)} are both a covariate and an exposure; rename one"
    return None


# =================================================================================================
# Cox model on covariates
# =================================================================================================


def _customer_frame(wb: Any, covariates: Sequence[Covariate]) -> tuple[pd.DataFrame, int]:
    """One row per customer (complete cases): duration, churned, covariate values; and rows dropped."""
    people = features.customers_as_of(wb.customers, wb.params.as_of, covariates)
    # ordered, so that the seeded sample of the PH check does not depend on the engine's row order
    frame = people.order_by("customer_id").select("duration_days", "churned", *[c.name for c in covariates]).execute()
    complete = frame.dropna(subset=[c.name for c in covariates])
    return complete.reset_index(drop=True), len(frame) - len(complete)


def fit_covariate_model(wb: Any) -> CoxResult:
    """Model ``covariates``: Cox proportional hazards (Efron ties) on the params covariates.

    One row per customer as of ``as_of``; customers with a missing covariate are left out (noted).
    Never stratified (see :func:`fit_stratified_covariate_model`).

    Examples
    --------
    >>> res = fit_covariate_model(wb)                 # doctest: +SKIP
    >>> res.summary[["term", "hazard_ratio"]]         # doctest: +SKIP
    """
    covariates = model_covariates(wb)
    problem = _reserved([c.name for c in covariates])
    if problem:
        return CoxResult("covariates", _COX_METHOD, _empty_summary(), 0, warning=problem)
    if not covariates:
        return CoxResult("covariates", _COX_METHOD, _empty_summary(), 0,
                         warning="no covariates are named in params (covariates: [...])")
    frame, dropped = _customer_frame(wb, covariates)
    notes = [f"{dropped:,} customer(s) with a missing covariate left out"] if dropped else []
    return _fit_cox(frame, covariates, (), "covariates", notes)


_COX_METHOD = "Cox proportional hazards (lifelines, Efron ties), one row per customer"


def _strata_columns(frame: pd.DataFrame, covariates: Sequence[Covariate], strata: Sequence[str]) -> pd.DataFrame:
    out = {}
    for cov in covariates:
        if cov.name not in strata:
            continue
        if cov.kind == "binned":
            idx = np.searchsorted(np.asarray(cov.edges), frame[cov.name].to_numpy(float), side="left")
            out[f"stratum_{cov.name}"] = np.asarray(cov.levels)[idx]
        else:
            out[f"stratum_{cov.name}"] = frame[cov.name].astype(str).to_numpy()
    return pd.DataFrame(out, index=frame.index)


def _fit_cox(frame: pd.DataFrame, covariates: Sequence[Covariate], strata: Sequence[str], model: str,
             notes: list[str]) -> CoxResult:
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    method = _COX_METHOD + (f", stratified by {', '.join(strata)}" if strata else "")
    events = frame["churned"].to_numpy(float)
    base = dict(model=model, method=method, n_events=int(events.sum()), n_customers=len(frame),
                strata=tuple(strata), covariates=tuple(covariates))
    X = _design(frame, [c for c in covariates if c.name not in strata])
    S = _strata_columns(frame, covariates, strata)
    # within strata the baseline is per stratum: a term constant inside every stratum is singular
    baseline = (pd.get_dummies(S.astype(str).agg("|".join, axis=1)).to_numpy(float) if strata
                else np.ones((len(frame), 1)))
    X, dropped, problem = _check_design(X, events, np.ones(len(frame)), baseline)
    notes = [*notes, *_single_level_notes([c for c in covariates if c.name not in strata]), *dropped]
    if problem:
        return CoxResult(summary=_empty_summary(), warning=f"model {model} cannot be fitted: {problem}",
                         notes=tuple(notes), **base)
    data = pd.concat([
        pd.DataFrame({"duration": np.maximum(frame["duration_days"].to_numpy(float), ZERO_DURATION),
                      "churned": events}, index=frame.index), X, S], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(alpha=ALPHA).fit(data, "duration", "churned", strata=list(S.columns) or None)
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        return CoxResult(summary=_empty_summary(), notes=tuple(notes),
                         warning=f"model {model} did not converge ({str(exc).splitlines()[0][:200]})", **base)
    s = cph.summary
    summary = _summary(s["coef"], s["se(coef)"], s["p"]).reset_index(drop=True)
    return CoxResult(summary=summary, notes=tuple(notes), concordance=float(cph.concordance_index_),
                     fitter=cph, data=data.assign(**{c.name: frame[c.name] for c in covariates}), **base)


@dataclass(frozen=True)
class PHCheck:
    """The proportional-hazards check of a Cox model (Grambsch–Therneau, scaled Schoenfeld residuals).

    Attributes
    ----------
    summary : pandas.DataFrame
        ``term``, ``covariate``, ``statistic`` (chi², 1 df), ``p_value``.
    violated : tuple of str
        Covariates with a term below ``threshold``.
    n_sample : int
        Customers the check was run on.
    verdict : str
        The result in plain words.
    """

    summary: pd.DataFrame
    violated: tuple[str, ...]
    n_sample: int
    threshold: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {"violated": list(self.violated), "n_sample": self.n_sample, "threshold": self.threshold,
                "verdict": self.verdict, "summary": self.summary.to_dict(orient="records")}

    def _repr_html_(self) -> str:
        return _frame_html("Proportional-hazards check", [self.verdict], self.summary)


def check_proportional_hazards(result: CoxResult, sample: int = 5000, seed: int = 0,
                               threshold: float = PH_P_THRESHOLD) -> PHCheck | None:
    """Test whether each covariate's hazard ratio is constant over tenure.

    The Cox model is refitted on a seeded random sample of ``sample`` customers (the whole data
    when smaller) and lifelines' ``proportional_hazard_test`` (rank time transform) tests each term.
    A covariate is flagged when one of its terms has ``p < threshold``.

    Returns None when ``result`` was not fitted.

    Examples
    --------
    >>> check = check_proportional_hazards(fit_covariate_model(wb), 5000, seed=1)   # doctest: +SKIP
    >>> check.verdict                                                              # doctest: +SKIP
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    if not result.ok or result.data is None:
        return None
    terms = list(result.summary["term"])
    data = result.data
    if len(data) > sample:
        data = data.sample(n=sample, random_state=seed)
    strata = [c for c in data.columns if c.startswith("stratum_")]
    cols = ["duration", "churned", *terms, *strata]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(data[cols], "duration", "churned", strata=strata or None)
        test = proportional_hazard_test(cph, data[cols], time_transform="rank")
    s = test.summary.reset_index()
    s = s.rename(columns={s.columns[0]: "term", "test_statistic": "statistic", "p": "p_value"})
    owner = {t: cov.name for cov in result.covariates for t in cov.terms() if cov.name not in result.strata}
    s["covariate"] = s["term"].map(owner)
    s = s[["term", "covariate", "statistic", "p_value"]]
    bad = s[s["p_value"] < threshold]
    violated = tuple(dict.fromkeys(bad["covariate"]))
    if not violated:
        verdict = (f"The proportional-hazards assumption holds for every covariate (no term has p < {threshold:g}; "
                   f"smallest p = {s['p_value'].min():.3g}, on {len(data):,} customers): each hazard ratio can be "
                   "read as one number for all tenures.")
    else:
        worst = bad.sort_values("p_value").iloc[0]
        verdict = (f"The effect of {', '.join(violated)} changes with tenure (the strongest departure: "
                   f"{worst['term']}, p = {worst['p_value']:.2g}, on {len(data):,} customers), so its hazard ratio is an "
                   "average over tenure; a model stratified on it is shown beside the plain one.")
    return PHCheck(summary=s.reset_index(drop=True), violated=violated, n_sample=len(data), threshold=threshold,
                   verdict=verdict)


def fit_stratified_covariate_model(result: CoxResult, strata: Sequence[str]) -> CoxResult:
    """Model ``covariates_stratified``: the Cox model with a separate baseline hazard per level
    (numeric covariates: per quantile bin) of each covariate in ``strata``; their own hazard ratios
    are then not estimated."""
    if result.data is None:
        return CoxResult("covariates_stratified", _COX_METHOD, _empty_summary(), 0,
                         warning="the plain covariates model was not fitted")
    frame = result.data.rename(columns={"duration": "duration_days"})
    return _fit_cox(frame, result.covariates, tuple(strata), "covariates_stratified", list(result.notes))


# =================================================================================================
# Piecewise-exponential model on cells
# =================================================================================================

_PE_METHOD = ("Piecewise-exponential proportional-hazards model: Poisson GLM (statsmodels) of churn events on "
              "tenure-piece × covariate × exposure cells with log person-days offset")


def _merge_empty_pieces(cells: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A tenure piece without churn has no finite baseline: merge it into the piece before it
    (leading empty pieces into the first piece with churn); a merged piece keeps its first lower bound."""
    by_piece = cells.groupby("piece")["events"].sum().sort_index()
    has_churn = (by_piece > 0).to_numpy()
    group = np.maximum(np.cumsum(has_churn) - 1, 0)  # events exist, so the first group is not empty
    lower = pd.Series(by_piece.index).groupby(group).transform("min").to_numpy()
    mapping = dict(zip(by_piece.index, lower))
    notes = [f"tenure piece from day {piece} has no churn and is merged into the piece from day {target}"
             for piece, target in mapping.items() if piece != target]
    return cells.assign(piece=cells["piece"].map(mapping)), notes


def fit_piecewise_exponential(cells: pd.DataFrame, covariates: Sequence[Covariate], exposures: Sequence[str],
                              model: str = "touchpoints") -> PiecewiseExponentialResult:
    """Fit the piecewise-exponential model on aggregated cells.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`cxlib.features.exposures.touchpoint_cells`.
    covariates : sequence of Covariate
    exposures : sequence of str
        The exposure columns.
    model : str
        Name in ``hazard_ratios.csv``.

    Returns
    -------
    PiecewiseExponentialResult

    Notes
    -----
    ``log E[events] = log person_days + α_piece + β'x``: with one ``α`` per tenure piece this is the
    likelihood of a proportional-hazards model with a piecewise-constant baseline hazard, so
    ``exp(β)`` are hazard ratios. Wald 95 % intervals and p-values.

    Examples
    --------
    >>> cells = pd.DataFrame({"piece": [0, 0, 30, 30], "x": [0, 1, 0, 1], "events": [10, 20, 5, 11],
    ...                       "person_days": [1000, 1000, 1000, 1000]})
    >>> res = fit_piecewise_exponential(cells, [], ["x"], model="demo")
    >>> round(float(res.summary.loc[0, "hazard_ratio"]), 3)
    2.067
    """
    import statsmodels.api as sm

    exposures = list(exposures)
    base = dict(model=model, method=_PE_METHOD, exposures=tuple(exposures), covariates=tuple(covariates))
    cells = cells[cells["person_days"] > 0].reset_index(drop=True)
    n_events = int(cells["events"].sum())
    person_days = int(cells["person_days"].sum())
    share = {e: float(cells.loc[cells[e] == 1, "person_days"].sum() / person_days) if person_days else np.nan
             for e in exposures}
    base.update(n_events=n_events, person_days=person_days, exposure_share=share, cells=cells)
    problem = _reserved([*exposures, *[c.name for c in covariates]])
    if problem or n_events == 0:
        reason = problem or "there are no churn events, so no hazard ratio can be estimated"
        return PiecewiseExponentialResult(summary=_empty_summary(), warning=f"model {model} cannot be fitted: {reason}", **base)
    fit_cells, notes = _merge_empty_pieces(cells)
    pieces = pd.get_dummies(fit_cells["piece"], prefix="piece", prefix_sep="").astype(float)
    pieces.columns = [f"piece[{c.removeprefix('piece')}]" for c in pieces.columns]
    X = _design(fit_cells, covariates, exposures, cells=True)
    events = fit_cells["events"].to_numpy(float)
    X, dropped, problem = _check_design(X, events, fit_cells["person_days"].to_numpy(float), pieces.to_numpy(), exposures)
    notes += _single_level_notes(covariates) + dropped
    if problem:
        return PiecewiseExponentialResult(summary=_empty_summary(), warning=f"model {model} cannot be fitted: {problem}",
                                          notes=tuple(notes), **base)
    design = pd.concat([pieces, X], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            glm = sm.GLM(events, design, family=sm.families.Poisson(),
                         offset=np.log(fit_cells["person_days"].to_numpy(float))).fit(tol=1e-10)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return PiecewiseExponentialResult(summary=_empty_summary(), notes=tuple(notes),
                                          warning=f"model {model} did not converge ({str(exc)[:200]})", **base)
    terms = list(X.columns)
    summary = _summary(glm.params[terms], glm.bse[terms], glm.pvalues[terms]).reset_index(drop=True)
    baseline = pd.DataFrame({"piece": [int(c[6:-1]) for c in pieces.columns],
                             "hazard_per_day": np.exp(glm.params[list(pieces.columns)].to_numpy())})
    return PiecewiseExponentialResult(summary=summary, notes=tuple(notes), glm=glm, baseline=baseline, **base)


def fit_touchpoint_model(wb: Any) -> PiecewiseExponentialResult:
    """Model ``touchpoints``: every exposure plus the params covariates, piecewise exponential on cells.

    The cells are built in the engine once per run and shared between notebooks
    (``wb.cached("touchpoint_cells")``).

    Examples
    --------
    >>> res = fit_touchpoint_model(wb)                                  # doctest: +SKIP
    >>> res.summary.query("term.str.startswith('poor_')")               # doctest: +SKIP
    """
    covariates = model_covariates(wb)
    rules = exposure_rules(wb)
    names = [r.name for r in rules]
    if wb.interactions is None or not rules:
        return PiecewiseExponentialResult("touchpoints", _PE_METHOD, _empty_summary(), 0,
                                          warning="model touchpoints needs the interactions table and at least one touchpoint")
    problem = _reserved([*names, *[c.name for c in covariates]])
    if problem:
        return PiecewiseExponentialResult("touchpoints", _PE_METHOD, _empty_summary(), 0,
                                          warning=f"model touchpoints cannot be fitted: {problem}")
    p = wb.params
    cells = wb.cached("touchpoint_cells", lambda: features.touchpoint_cells(
        features.customers_as_of(wb.customers, p.as_of, covariates), wb.interactions, rules,
        p.exposure_window_days, p.tenure_pieces_days, covariates))
    return fit_piecewise_exponential(cells, covariates, names, model="touchpoints")


# =================================================================================================
# Time-varying Cox cross-check
# =================================================================================================


def fit_time_varying_cox(wb: Any, max_rows: int | None = None) -> CoxResult | None:
    """Model ``touchpoints_cox_tv``: lifelines' ``CoxTimeVaryingFitter`` (Efron ties) on the exposure
    intervals, with the covariates coded as in the cell model — the exact counterpart of model
    ``touchpoints`` with a free baseline hazard.

    Returns None when there are more than ``max_rows`` intervals (default
    ``params.cox_time_varying_max_rows``): the fit grows with customers × exposure changes
    (every Newton step scans all intervals at each churn day; about 25 s for 75,000 intervals).

    Examples
    --------
    >>> tv = fit_time_varying_cox(wb)        # doctest: +SKIP
    """
    from lifelines import CoxTimeVaryingFitter
    from lifelines.exceptions import ConvergenceError

    p = wb.params
    max_rows = p.cox_time_varying_max_rows if max_rows is None else max_rows
    rules = exposure_rules(wb)
    if wb.interactions is None or not rules or max_rows <= 0:
        return None
    covariates = model_covariates(wb)
    if _reserved([*[r.name for r in rules], *[c.name for c in covariates]]):
        return None
    people = features.customers_as_of(wb.customers, p.as_of, covariates)
    for cov in covariates:
        people = people.filter(people[cov.name].notnull())
    if people.count().execute() > max_rows:
        return None
    iv = features.exposure_intervals(people, wb.interactions, rules, p.exposure_window_days)
    pattern = people.select("customer_id", **{c.name: c.cell_value(people) for c in covariates})
    frame = iv.join(pattern, "customer_id").limit(max_rows + 1).execute()
    if len(frame) > max_rows:
        return None
    names = [r.name for r in rules]
    method = "Cox proportional hazards with time-varying exposures (lifelines CoxTimeVaryingFitter, Efron ties)"
    events = frame["event"].to_numpy(float)
    base = dict(model="touchpoints_cox_tv", method=method, n_events=int(events.sum()),
                n_customers=int(frame["customer_id"].nunique()), covariates=tuple(covariates))
    X = _design(frame, covariates, names, cells=True)
    X, notes, problem = _check_design(X, events, (frame["stop"] - frame["start"]).to_numpy(float),
                                      np.ones((len(frame), 1)), names)
    if problem:
        return CoxResult(summary=_empty_summary(), warning=f"model touchpoints_cox_tv cannot be fitted: {problem}",
                         notes=tuple(notes), **base)
    data = pd.concat([frame[["customer_id", "start", "stop", "event"]], X], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctv = CoxTimeVaryingFitter(alpha=ALPHA).fit(data, event_col="event", start_col="start", stop_col="stop",
                                                        id_col="customer_id")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        return CoxResult(summary=_empty_summary(), notes=tuple(notes),
                         warning=f"model touchpoints_cox_tv did not converge ({str(exc).splitlines()[0][:200]})", **base)
    s = ctv.summary
    return CoxResult(summary=_summary(s["coef"], s["se(coef)"], s["p"]).reset_index(drop=True), notes=tuple(notes),
                     fitter=ctv, **base)


def compare_models(a: HazardModelResult, b: HazardModelResult) -> pd.DataFrame:
    """Hazard ratios of the terms two models share, side by side, with their relative difference.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``<a.model>``, ``<b.model>``, ``relative_difference`` (``a / b − 1``).
    """
    left = a.summary.set_index("term")["hazard_ratio"].rename(a.model)
    right = b.summary.set_index("term")["hazard_ratio"].rename(b.model)
    out = pd.concat([left, right], axis=1, join="inner").reset_index()
    out["relative_difference"] = out[a.model] / out[b.model] - 1
    return out


# =================================================================================================
# Sentences
# =================================================================================================


def exposure_label(rule: ExposureRule, poor_csat_max: int) -> str:
    """A plain-words name of an exposure, e.g. ``a poor billing experience`` or
    ``3 or more unresolved support interactions``.

    Examples
    --------
    >>> exposure_label(ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2), 2)
    'a poor billing experience'
    >>> exposure_label(ExposureRule(name="x", touchpoint="support", resolved=False, min_count=3), 2)
    '3 or more unresolved support interactions'
    """
    if (rule.csat_max == poor_csat_max and rule.ces_min is None and rule.resolved is None
            and rule.min_count == 1 and rule.touchpoint is not None):
        return f"a poor {rule.touchpoint} experience"
    words = [{None: "", True: "resolved", False: "unresolved"}[rule.resolved], rule.touchpoint or ""]
    subject = " ".join(w for w in words if w)
    conditions = []
    if rule.csat_max is not None:
        conditions.append(f"rated CSAT ≤ {rule.csat_max}")
    if rule.ces_min is not None:
        conditions.append(f"with effort (CES) ≥ {rule.ces_min}")
    tail = (" " + " and ".join(conditions)) if conditions else ""
    if rule.min_count > 1:
        return f"{rule.min_count} or more {subject + ' ' if subject else ''}interactions{tail}"
    noun = f"{subject} interaction" if subject else "interaction"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}{tail}"


def hazard_sentence(row: pd.Series | dict, rule: ExposureRule, window_days: int,
                    poor_csat_max: int) -> tuple[str, dict[str, str]]:
    """One sentence on a significant exposure, as a ``display.say`` template and its values.

    Examples
    --------
    >>> rule = ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)
    >>> t, v = hazard_sentence({"hazard_ratio": 2.1, "ci_lower": 1.9, "ci_upper": 2.3}, rule, 90, 2)
    >>> t.format(**v)
    'Customers with a poor billing experience in the last 90 days churn at 2.1× (1.9–2.3) the rate of others.'
    """
    hr = float(row["hazard_ratio"])
    direction = "" if hr >= 1 else ", i.e. less often"
    template = "Customers with {label} in the last {window} days churn at {hr}× ({lo}–{hi}) the rate of others{direction}."
    return template, {"label": exposure_label(rule, poor_csat_max), "window": str(rule.window_days or window_days),
                      "hr": f"{hr:.1f}", "lo": f"{float(row['ci_lower']):.1f}", "hi": f"{float(row['ci_upper']):.1f}",
                      "direction": direction}


def group_label(group: str) -> str:
    """A retention group in words: ``segment=smb`` → ``segment smb``, ``all`` → ``all customers``."""
    return "all customers" if group == ALL else group.replace("=", " ", 1)
