"""Cox proportional-hazards models (Efron ties — R's default) and their checks.

* :func:`fit_cox`: one row per customer (model ``covariates``), optionally stratified; Harrell's
  concordance. The partial likelihood is maximized by :mod:`cxlib.stats.partial_likelihood`,
  which equals R's ``coxph`` and lifelines' ``CoxPHFitter`` and holds only a few copies of the
  design in memory.
* :func:`check_proportional_hazards`: the Grambsch–Therneau test on scaled Schoenfeld residuals
  (rank time transform) on a seeded sample; :func:`fit_stratified` refits with a separate
  baseline hazard per level of the covariates that fail it.
* :func:`fit_time_varying_cox`: lifelines' ``CoxTimeVaryingFitter`` on exposure intervals (model
  ``touchpoints_cox_tv``), the cross-check of the piecewise-exponential model.

Durations are days. Lifelines gets a churn on the signup day (duration 0) as half a day: Cox uses
only the order of times, which this keeps, and every lifelines fitter then accepts the data. A
model that cannot be fitted on the data raises :class:`cxlib.errors.NotEstimable`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.errors import NotEstimable
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.concordance import concordance
from cxlib.stats.design import (
    ALPHA,
    CovariateCoding,
    check_design,
    design_matrix,
    hazard_summary,
    single_level_notes,
)
from cxlib.stats.partial_likelihood import (
    NotConverged,
    PartialLikelihoodFit,
    fit_partial_likelihood,
)

__all__ = [
    "CoxResult",
    "HazardModelResult",
    "PHCheck",
    "check_proportional_hazards",
    "compare_models",
    "fit_cox",
    "fit_stratified",
    "fit_time_varying_cox",
]

PH_P_THRESHOLD = 0.01  # lifelines' check_assumptions default: with thousands of customers 0.05 flags trivia
ZERO_DURATION = 0.5
COX_METHOD = "Cox proportional hazards (Efron ties), one row per customer"
TV_METHOD = "Cox proportional hazards with time-varying exposures (lifelines CoxTimeVaryingFitter, Efron ties)"


def _example() -> tuple[pd.DataFrame, list[Any]]:
    """Twelve customers and two covariate codings, for the examples."""
    from types import SimpleNamespace

    frame = pd.DataFrame({"duration_days": [5, 8, 12, 20, 30, 30, 3, 9, 14, 25, 30, 30],
                          "churned": [1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0], "plan": ["a"] * 6 + ["b"] * 6,
                          "age": [30, 41, 25, 60, 52, 33, 47, 38, 29, 55, 44, 36]})
    plan = SimpleNamespace(name="plan", kind="categorical", levels=("a", "b"), terms=lambda cells=False: ["plan[b]"])
    age = SimpleNamespace(name="age", kind="numeric", levels=(), terms=lambda cells=False: ["age"])
    return frame, [plan, age]

@result
class HazardModelResult(Result):
    """A fitted proportional-hazards model: hazard ratios with 95 % intervals.

    Attributes
    ----------
    model : str
        The model's name in ``hazard_ratios.csv`` (``covariates``, ``touchpoints`` …).
    method : str
        The method in words (for the methods text).
    summary : pandas.DataFrame
        ``term``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``, ``p_value``, ``coef`` (log hazard
        ratio), ``se``.
    n_events : int
    notes : tuple of str
        Terms left out and why.
    covariates : tuple of CovariateCoding
        How the covariates entered the model.

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["x"], "hazard_ratio": [2.0], "ci_lower": [1.5], "ci_upper": [2.7],
    ...                   "p_value": [0.001], "coef": [0.69], "se": [0.15]})
    >>> HazardModelResult("demo", "a method", s, n_events=40).to_frame()
      model term  hazard_ratio  ci_lower  ci_upper  p_value
    0  demo    x           2.0       1.5       2.7    0.001
    """

    title: ClassVar[str] = "Proportional-hazards model"
    model: str
    method: str
    summary: pd.DataFrame
    n_events: int
    notes: tuple[str, ...] = ()
    covariates: tuple[CovariateCoding, ...] = ()

    def _lines(self) -> list[str]:
        return [f"Model {self.model}: {self.method}", f"{self.n_events:,} churn events",
                *[f"Note: {n}" for n in self.notes]]

    def to_frame(self) -> pd.DataFrame:
        """Rows of ``hazard_ratios.csv``."""
        return self.summary.assign(model=self.model)[RESULT_COLUMNS["hazard_ratios"]]


@result
class CoxResult(HazardModelResult):
    """A Cox model on one row per customer.

    Attributes
    ----------
    concordance : float
        Harrell's concordance (NaN for the time-varying model).
    n_customers : int
    strata : tuple of str
        Covariates with a baseline hazard of their own (no hazard ratio).
    fit : PartialLikelihoodFit
        The maximized partial likelihood (coefficients, their covariance, log-likelihoods).
    data : pandas.DataFrame or None
        What :func:`fit_cox` fitted (``duration``, ``churned``, terms, strata, covariate values):
        for the proportional-hazards check and a stratified refit; None when not kept.

    Examples
    --------
    >>> frame, (plan, age) = _example()
    >>> res = fit_cox(frame, [plan])
    >>> res.n_customers, res.n_events, round(res.concordance, 3)
    (12, 7, 0.546)
    """

    concordance: float = np.nan
    n_customers: int = 0
    strata: tuple[str, ...] = ()
    fit: PartialLikelihoodFit | None = field(default=None, repr=False, compare=False)
    data: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def _lines(self) -> list[str]:
        lines = super()._lines()
        return lines + ([f"concordance {self.concordance:.3f}"] if np.isfinite(self.concordance) else [])


def compare_models(a: HazardModelResult, b: HazardModelResult) -> pd.DataFrame:
    """Hazard ratios of the terms two models share, side by side, with their relative difference.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``<a.model>``, ``<b.model>``, ``relative_difference`` (``a / b − 1``).

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["x"], "hazard_ratio": [2.0]})
    >>> compare_models(HazardModelResult("pem", "", s, 1), HazardModelResult("cox", "", s.assign(hazard_ratio=2.5), 1))
      term  pem  cox  relative_difference
    0    x  2.0  2.5                 -0.2
    """
    left = a.summary.set_index("term")["hazard_ratio"].rename(a.model)
    right = b.summary.set_index("term")["hazard_ratio"].rename(b.model)
    out = pd.concat([left, right], axis=1, join="inner").reset_index()
    out["relative_difference"] = out[a.model] / out[b.model] - 1
    return out


def _strata_columns(frame: pd.DataFrame, covariates: Sequence[CovariateCoding], strata: Sequence[str]) -> pd.DataFrame:
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


def _not_converged(model: str, exc: Exception) -> NotEstimable:
    return NotEstimable(f"model {model} did not converge ({str(exc).splitlines()[0][:200]})", model=model)


def fit_cox(frame: pd.DataFrame, covariates: Sequence[CovariateCoding], *, strata: Sequence[str] = (),
            model: str = "covariates", notes: Sequence[str] = (), keep_data: bool = True) -> CoxResult:
    """Cox proportional hazards (Efron ties, :func:`fit_partial_likelihood`) on one row per customer.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``duration_days``, ``churned`` (0/1) and one column per covariate (complete cases).
    covariates : sequence of CovariateCoding
        Numeric and binned covariates enter as their value, categorical ones as indicator terms.
    strata : sequence of str
        Covariates given a baseline hazard of their own per level (binned ones: per quantile bin)
        instead of a hazard ratio.
    model : str
        Name in ``hazard_ratios.csv``.
    notes : sequence of str
        Notes to keep with the result (e.g. customers left out).
    keep_data : bool
        Keep what was fitted as ``result.data`` (for :func:`check_proportional_hazards` and
        :func:`fit_stratified`); one row per customer, so callers that need neither pass False.

    Returns
    -------
    CoxResult

    Raises
    ------
    NotEstimable
        No events, no term that varies, separation, or no convergence.

    Examples
    --------
    >>> frame, (plan, age) = _example()
    >>> fit_cox(frame, [plan]).summary[["term", "hazard_ratio"]].round(3)
          term  hazard_ratio
    0  plan[b]         0.702
    """
    method = COX_METHOD + (f", stratified by {', '.join(strata)}" if strata else "")
    events = frame["churned"].to_numpy(float)
    base = {"model": model, "method": method, "n_events": int(events.sum()), "n_customers": len(frame),
            "strata": tuple(strata), "covariates": tuple(covariates)}
    X = design_matrix(frame, [c for c in covariates if c.name not in strata])
    S = _strata_columns(frame, covariates, strata)
    stratum = S.groupby(list(S.columns), sort=True).ngroup().to_numpy() if strata else None
    # within strata the baseline is per stratum: a term constant inside every stratum is singular
    baseline = pd.get_dummies(pd.Series(stratum)).to_numpy(float) if strata else np.ones((len(frame), 1))
    X, dropped = check_design(X, events, np.ones(len(frame)), baseline, model=model)
    notes = [*notes, *single_level_notes([c for c in covariates if c.name not in strata]), *dropped]
    duration = np.maximum(frame["duration_days"].to_numpy(float), ZERO_DURATION)
    terms = X.to_numpy()
    try:
        fit = fit_partial_likelihood(terms, duration, events, stratum)
    except NotConverged as exc:
        raise _not_converged(model, exc) from exc
    z = fit.coef / fit.se
    c_index = concordance(duration, events, terms @ fit.coef, stratum)
    summary = hazard_summary(pd.Series(fit.coef, index=X.columns), pd.Series(fit.se),
                             pd.Series(2 * stats.norm.sf(np.abs(z))))
    data = (pd.concat([pd.DataFrame({"duration": duration, "churned": events}, index=frame.index), X, S,
                       frame[[c.name for c in covariates if c.name not in X.columns]]], axis=1)  # a numeric term is its value
            if keep_data else None)
    return CoxResult(summary=summary, notes=tuple(notes), fit=fit, concordance=c_index, data=data, **base)


def fit_stratified(result: CoxResult, strata: Sequence[str], model: str = "covariates_stratified",
                   keep_data: bool = True) -> CoxResult:
    """Refit a Cox model with a separate baseline hazard per level of each covariate in ``strata``.

    Numeric covariates are stratified per quantile bin; their own hazard ratios are then not
    estimated. The other covariates keep their coding and the data are those of ``result``.

    Examples
    --------
    >>> frame, (plan, age) = _example()
    >>> strat = fit_stratified(fit_cox(frame, [plan, age]), ["plan"])
    >>> strat.model, list(strat.summary["term"]), strat.strata
    ('covariates_stratified', ['age'], ('plan',))
    """
    frame = result.data.rename(columns={"duration": "duration_days"})
    return fit_cox(frame, result.covariates, strata=tuple(strata), model=model, notes=result.notes,
                   keep_data=keep_data)


@result
class PHCheck(Result):
    """The proportional-hazards check of a Cox model (Grambsch–Therneau, scaled Schoenfeld residuals).

    Attributes
    ----------
    summary : pandas.DataFrame
        ``term``, ``covariate``, ``statistic`` (chi², 1 df), ``p_value``.
    violated : tuple of str
        Covariates with a term below ``threshold``.
    n_sample : int
        Customers the check was run on.
    threshold : float

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["age"], "covariate": ["age"], "statistic": [9.1], "p_value": [0.0026]})
    >>> print(PHCheck(s, violated=("age",), n_sample=432, threshold=0.01))
    Proportional-hazards check
    432 customers; covariates with a term below p = 0.01: age
    term covariate statistic  p_value
     age       age       9.1 0.002600
    """

    title: ClassVar[str] = "Proportional-hazards check"
    summary: pd.DataFrame
    violated: tuple[str, ...]
    n_sample: int
    threshold: float

    def _lines(self) -> list[str]:
        return [f"{self.n_sample:,} customers; covariates with a term below p = {self.threshold:g}: "
                + (", ".join(self.violated) or "none")]

    def to_frame(self) -> pd.DataFrame:
        """The test per term."""
        return self.summary


def check_proportional_hazards(result: CoxResult, sample: int = 5000, seed: int = 0,
                               threshold: float = PH_P_THRESHOLD) -> PHCheck:
    """Test whether each covariate's hazard ratio is constant over tenure.

    The Cox model is refitted on a seeded random sample of ``sample`` customers (the whole data
    when smaller) and lifelines' ``proportional_hazard_test`` (rank time transform) tests each term.
    A covariate is flagged when one of its terms has ``p < threshold``.

    Examples
    --------
    >>> frame, (plan, age) = _example()
    >>> check = check_proportional_hazards(fit_cox(frame, [age]))
    >>> check.violated, check.n_sample
    ((), 12)
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

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
    violated = tuple(dict.fromkeys(s.loc[s["p_value"] < threshold, "covariate"]))
    return PHCheck(summary=s.reset_index(drop=True), violated=violated, n_sample=len(data), threshold=threshold)


def fit_time_varying_cox(frame: pd.DataFrame, covariates: Sequence[CovariateCoding], exposures: Sequence[str],
                         model: str = "touchpoints_cox_tv") -> CoxResult:
    """Cox model with time-varying exposures (lifelines ``CoxTimeVaryingFitter``, Efron ties).

    The exact counterpart of the piecewise-exponential model with a free baseline hazard: the
    covariates are coded as in the cell model (binned covariates as quantile bins).

    Parameters
    ----------
    frame : pandas.DataFrame
        Exposure intervals (:func:`cxlib.features.exposures.exposure_intervals` without pieces):
        ``customer_id``, ``start``, ``stop``, ``event``, one 0/1 column per exposure and each
        covariate's cell value.
    covariates : sequence of CovariateCoding
    exposures : sequence of str
    model : str
        Name in ``hazard_ratios.csv``.

    Raises
    ------
    NotEstimable
        No events, no term that varies, separation, or no convergence.

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c", "d", "e", "f", "f"],
    ...                       "start": [0, 4, 0, 0, 3, 0, 0, 0, 6], "stop": [4, 9, 12, 3, 7, 15, 5, 6, 20],
    ...                       "event": [0, 1, 1, 0, 1, 0, 1, 0, 0], "x": [0, 1, 0, 0, 1, 0, 0, 0, 1]})
    >>> fit_time_varying_cox(frame, [], ["x"]).n_customers
    6
    """
    from lifelines import CoxTimeVaryingFitter
    from lifelines.exceptions import ConvergenceError

    events = frame["event"].to_numpy(float)
    base = {"model": model, "method": TV_METHOD, "n_events": int(events.sum()),
            "n_customers": int(frame["customer_id"].nunique()), "covariates": tuple(covariates)}
    X = design_matrix(frame, covariates, exposures, cells=True)
    X, notes = check_design(X, events, (frame["stop"] - frame["start"]).to_numpy(float), np.ones((len(frame), 1)),
                            exposures, model=model)
    data = pd.concat([frame[["customer_id", "start", "stop", "event"]], X], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctv = CoxTimeVaryingFitter(alpha=ALPHA).fit(data, event_col="event", start_col="start", stop_col="stop",
                                                        id_col="customer_id")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        raise _not_converged(model, exc) from exc
    s = ctv.summary
    return CoxResult(summary=hazard_summary(s["coef"], s["se(coef)"], s["p"]), notes=tuple(notes), **base)
