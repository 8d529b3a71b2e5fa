"""Churn causes in the hazard models: one model per cause, the other causes' churns censored.

Models ``touchpoints[<cause>]`` (piecewise exponential on the shared cells' ``events[<cause>]``,
:func:`fit_touchpoint_cause_models`) and ``covariates[<cause>]`` (Cox on one row per customer,
:func:`fit_covariate_cause_models`): the cause-specific hazards of Prentice et al. (1978), written to
``hazard_ratios.csv`` beside the all-cause models of :mod:`cxlib.analyses.hazards`. A cause with
fewer than ``min_cell_size`` churns is not modelled; a note says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import ClassVar

import ibis.expr.types as ir
import pandas as pd

from cxlib.analyses.hazards import _customer_frame, _reserved, cause_model_name
from cxlib.errors import NotEstimable
from cxlib.features.customers import Covariate
from cxlib.params import ExposureRule
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.competing import cause_lookup, cause_order
from cxlib.stats.cox import CoxResult, fit_cox
from cxlib.stats.pem import PiecewiseExponentialResult, fit_piecewise_exponential

__all__ = ["CauseModels", "fit_covariate_cause_models", "fit_touchpoint_cause_models"]


@result
class CauseModels(Result):
    """One model per churn cause (cause-specific hazards), and the causes that could not be modelled.

    Attributes
    ----------
    models : dict of str to result
        Per cause (reporting order), the fitted model named ``<kind>[<cause>]``.
    notes : tuple of str
        Causes not modelled, and why.

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["x"], "hazard_ratio": [2.0], "ci_lower": [1.5], "ci_upper": [2.7],
    ...                   "p_value": [0.001], "coef": [0.7], "se": [0.1]})
    >>> CauseModels({"voluntary": CoxResult("touchpoints[voluntary]", "", s, 12)}).to_frame()[["model", "term"]]
                        model term
    0  touchpoints[voluntary]    x
    """

    title: ClassVar[str] = "Cause-specific hazard models"
    models: dict[str, PiecewiseExponentialResult | CoxResult]
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """The hazard ratios of every cause's model, with a ``cause`` column first."""
        parts = [m.summary.assign(cause=c) for c, m in self.models.items()]
        if not parts:
            return pd.DataFrame(columns=["cause", "term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"])
        out = pd.concat(parts, ignore_index=True)
        return out[["cause", *[c for c in out.columns if c != "cause"]]]

    def _lines(self) -> list[str]:
        return [f"{c}: {m.n_events:,} churn events" for c, m in self.models.items()] + list(self.notes)

    def to_frame(self) -> pd.DataFrame:
        """Rows of ``hazard_ratios.csv``, cause by cause."""
        frames = [m.to_frame() for m in self.models.values()]
        return (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=RESULT_COLUMNS["hazard_ratios"]))


def _too_few(model: str, events: int, min_events: int) -> str:
    return (f"model {model} is not fitted: {events:,} churn event(s) of this cause, fewer than min_cell_size "
            f"({min_events})")


def fit_touchpoint_cause_models(cells: pd.DataFrame, covariates: Sequence[Covariate], rules: Sequence[ExposureRule],
                                causes: Sequence[str], *, min_events: int) -> CauseModels:
    """Models ``touchpoints[<cause>]``: the piecewise-exponential model on each cause's event counts.

    The cells' person-days are shared by all causes; the model of cause k is the Poisson GLM on
    ``events[k]`` with the same offset and baseline pieces, which is the proportional-hazards model
    of cause k with the other causes' churns censored (their time at risk up to the churn counts,
    their churn does not). A cause with fewer than ``min_events`` churns, or one that cannot be
    fitted, is left out with a note.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`touchpoint_model_cells` with ``churn_causes``: ``events[<cause>]`` per cause.
    covariates : sequence of Covariate
    rules : sequence of ExposureRule
    causes : sequence of str
        ``RunParams.causes``.
    min_events : int
        ``min_cell_size``.

    Examples
    --------
    >>> cells = pd.DataFrame({"piece": [0, 0], "poor_billing": [0, 1], "events": [50, 34], "person_days": [20_000, 6_000],
    ...                       "events[voluntary]": [40, 30], "events[involuntary]": [10, 4]})
    >>> rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]
    >>> res = fit_touchpoint_cause_models(cells, [], rules, ["voluntary", "involuntary"], min_events=15)
    >>> res.to_frame()[["model", "hazard_ratio"]].round(2)
                        model  hazard_ratio
    0  touchpoints[voluntary]           2.5
    >>> res.notes
    ('model touchpoints[involuntary] is not fitted: 14 churn event(s) of this cause, fewer than min_cell_size (15)',)
    """
    models, notes = {}, []
    for cause in causes:
        name = cause_model_name("touchpoints", cause)
        column = f"events[{cause}]"
        if column not in cells.columns:
            raise ValueError(f"the cells carry no {column} column: build them with churn_causes")
        events = int(cells[column].sum())
        if events < min_events:
            notes.append(_too_few(name, events, min_events))
            continue
        try:
            models[cause] = fit_piecewise_exponential(cells.assign(events=cells[column]), covariates,
                                                      [r.name for r in rules], model=name)
        except NotEstimable as exc:
            notes.append(exc.reason)
    return CauseModels(models=models, notes=tuple(notes))


def fit_covariate_cause_models(customers: ir.Table, covariates: Sequence[Covariate], *, as_of: dt.date,
                               churn_causes: Mapping[str, Sequence[str]], min_events: int) -> CauseModels:
    """Models ``covariates[<cause>]``: Cox (Efron ties) per cause, churns of the other causes censored.

    One row per customer, fetched once for all causes. No proportional-hazards check or stratified
    refit per cause: the all-cause model ``covariates`` carries those.

    Raises
    ------
    NotEstimable
        No covariates, or a reserved name.

    Examples
    --------
    >>> import ibis
    >>> from cxlib.features.customers import Covariate
    >>> t = ibis.memtable({"customer_id": [f"c{i}" for i in range(8)], "signup_date": [dt.date(2025, 1, 1)] * 8,
    ...     "churn_date": [dt.date(2025, 1, d) if d else None for d in (5, 9, 12, 0, 3, 7, 0, 0)],
    ...     "churn_reason": ["price", "moved", "price", None, "price", "price", None, None],
    ...     "plan": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> plan = Covariate("plan", "categorical", levels=("a", "b"), sizes=(4, 4))
    >>> res = fit_covariate_cause_models(t, [plan], as_of=dt.date(2025, 2, 1),
    ...                                  churn_causes={"voluntary": ["price"], "involuntary": ["moved"]}, min_events=2)
    >>> list(res.models), len(res.notes)
    (['voluntary'], 2)
    """
    problem = _reserved([c.name for c in covariates])
    if problem:
        raise NotEstimable(problem, model="covariates")
    if not covariates:
        raise NotEstimable("no covariates are named in params (covariates: [...])", model="covariates")
    frame, _ = _customer_frame(customers, as_of, covariates, causes=cause_lookup(churn_causes))
    models, notes = {}, []
    for cause in cause_order(churn_causes):
        name = cause_model_name("covariates", cause)
        churned = (frame["cause"] == cause).astype("int64")
        if int(churned.sum()) < min_events:
            notes.append(_too_few(name, int(churned.sum()), min_events))
            continue
        try:
            models[cause] = fit_cox(frame.assign(churned=churned), covariates, model=name, keep_data=False)
        except NotEstimable as exc:
            notes.append(exc.reason)
    return CauseModels(models=models, notes=tuple(notes))
