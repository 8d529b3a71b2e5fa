"""The piecewise-exponential proportional-hazards model on aggregated cells (model ``touchpoints``).

A Poisson GLM (statsmodels) of churn events on the tenure-piece × covariate × exposure cells
(:func:`cxlib.features.exposures.touchpoint_cells`) with log person-days as offset and one baseline
term per tenure piece. It is a proportional-hazards model whose sufficient statistics are the
cells, so it fits a few thousand rows whatever the number of customers. A model that cannot be
fitted on the cells raises :class:`cxlib.errors.NotEstimable`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import field
from typing import Any

import numpy as np
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.results import result
from cxlib.stats.cox import HazardModelResult
from cxlib.stats.design import (
    CovariateCoding,
    check_design,
    design_matrix,
    hazard_summary,
    single_level_notes,
)

__all__ = ["PiecewiseExponentialResult", "fit_piecewise_exponential"]

PE_METHOD = ("Piecewise-exponential proportional-hazards model: Poisson GLM (statsmodels) of churn events on "
             "tenure-piece × covariate × exposure cells with log person-days offset")


@result
class PiecewiseExponentialResult(HazardModelResult):
    """The piecewise-exponential model on cells.

    Attributes
    ----------
    cells : pandas.DataFrame
        ``piece``, covariate pattern columns, exposure 0/1 columns, ``events``, ``person_days``
        (cells without person-days dropped).
    glm : statsmodels GLMResults
        ``params`` / ``cov_params()`` include the baseline terms ``piece[<lower bound>]``.
    exposure_share : dict of str to float
        Share of person-time spent exposed, per exposure term.
    baseline : pandas.DataFrame
        ``piece`` (lower bound, days), ``hazard_per_day`` of the reference customer, unexposed.
    exposures : tuple of str
        Exposure terms (rule names), in model order.
    person_days : int

    Examples
    --------
    >>> cells = pd.DataFrame({"piece": [0, 0], "x": [0, 1], "events": [40, 30], "person_days": [20_000, 6_000]})
    >>> res = fit_piecewise_exponential(cells, [], ["x"], model="demo")
    >>> res.person_days, res.exposure_share, res.baseline["hazard_per_day"].round(4).tolist()
    (26000, {'x': 0.23076923076923078}, [0.002])
    """

    cells: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    glm: Any = field(default=None, repr=False, compare=False)
    exposure_share: dict[str, float] = field(default_factory=dict)
    baseline: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    exposures: tuple[str, ...] = ()
    person_days: int = 0

    def _lines(self) -> list[str]:
        lines = super()._lines()
        return [*lines[:2], f"{self.person_days:,} person-days", *lines[2:]]


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


def fit_piecewise_exponential(cells: pd.DataFrame, covariates: Sequence[CovariateCoding], exposures: Sequence[str],
                              model: str = "touchpoints") -> PiecewiseExponentialResult:
    """Fit the piecewise-exponential model on aggregated cells.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`cxlib.features.exposures.touchpoint_cells`.
    covariates : sequence of CovariateCoding
    exposures : sequence of str
        The exposure columns.
    model : str
        Name in ``hazard_ratios.csv``.

    Returns
    -------
    PiecewiseExponentialResult

    Raises
    ------
    NotEstimable
        No churn events, no term that varies, separation, or no convergence.

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
    cells = cells[cells["person_days"] > 0].reset_index(drop=True)
    person_days = int(cells["person_days"].sum())
    share = {e: float(cells.loc[cells[e] == 1, "person_days"].sum() / person_days) if person_days else np.nan
             for e in exposures}
    base = {"model": model, "method": PE_METHOD, "exposures": tuple(exposures), "covariates": tuple(covariates),
            "n_events": int(cells["events"].sum()), "person_days": person_days, "exposure_share": share,
            "cells": cells}
    if base["n_events"] == 0:
        raise NotEstimable(f"model {model} cannot be fitted: there are no churn events, so no hazard ratio can be "
                           "estimated", model=model)
    fit_cells, notes = _merge_empty_pieces(cells)
    pieces = pd.get_dummies(fit_cells["piece"], prefix="piece", prefix_sep="").astype(float)
    pieces.columns = [f"piece[{c.removeprefix('piece')}]" for c in pieces.columns]
    X = design_matrix(fit_cells, covariates, exposures, cells=True)
    events = fit_cells["events"].to_numpy(float)
    X, dropped = check_design(X, events, fit_cells["person_days"].to_numpy(float), pieces.to_numpy(), exposures,
                              model=model)
    notes += single_level_notes(covariates) + dropped
    design = pd.concat([pieces, X], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            glm = sm.GLM(events, design, family=sm.families.Poisson(),
                         offset=np.log(fit_cells["person_days"].to_numpy(float))).fit(tol=1e-10)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise NotEstimable(f"model {model} did not converge ({str(exc)[:200]})", model=model) from exc
    terms = list(X.columns)
    baseline = pd.DataFrame({"piece": [int(c[6:-1]) for c in pieces.columns],
                             "hazard_per_day": np.exp(glm.params[list(pieces.columns)].to_numpy())})
    return PiecewiseExponentialResult(summary=hazard_summary(glm.params[terms], glm.bse[terms], glm.pvalues[terms]),
                                      notes=tuple(notes), glm=glm, baseline=baseline, **base)
