"""Design matrices of the hazard models and the checks run before any fit.

Terms are named as in ``hazard_ratios.csv``: an exposure by its own name (``poor_<touchpoint>``), a
numeric covariate by its name, a categorical level ``<column>[<level>]`` against the most frequent
level; in the cell model a continuous covariate is cut at its quantiles and enters as
``<column>[q2]`` … against the lowest bin ``q1``.

Before a model is fitted its design is checked: no events, a term without variation, a term that
duplicates or is a linear combination of others (a singular design, e.g. a level that duplicates
another column's level), or a term whose group has no churn or all of it (separation). A model that
cannot be fitted raises :class:`cxlib.errors.NotEstimable` saying why; a term without variation
(an exposure nobody had) or an aliased term is left out with a note, as R's ``coxph`` does.

A covariate's coding is any object with the attributes of :class:`CovariateCoding` — in the
package, :class:`cxlib.features.customers.Covariate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.errors import NotEstimable

__all__ = [
    "ALPHA",
    "SUMMARY_COLUMNS",
    "CovariateCoding",
    "check_design",
    "design_matrix",
    "hazard_summary",
    "single_level_notes",
    "small_terms",
]

ALPHA = 0.05
SUMMARY_COLUMNS = ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value", "coef", "se"]
_Z = stats.norm.ppf(1 - ALPHA / 2)


class CovariateCoding(Protocol):
    """How a covariate enters a model (structural type of :class:`cxlib.features.customers.Covariate`).

    ``kind`` is ``numeric``, ``categorical`` or ``binned``; ``levels`` start with the reference;
    ``terms(cells)`` names the model terms.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> plan = SimpleNamespace(name="plan", kind="categorical", levels=("a", "b"), sizes=(5, 2))
    >>> small_terms([plan], 3)
    {'plan[b]'}
    """

    name: str
    kind: str
    levels: tuple[str, ...]
    edges: tuple[float, ...]
    sizes: tuple[int, ...]

    def terms(self, cells: bool = False) -> list[str]: ...


def design_matrix(frame: pd.DataFrame, covariates: Sequence[CovariateCoding], exposures: Sequence[str] = (),
                  cells: bool = False) -> pd.DataFrame:
    """Model terms as float columns named as in ``hazard_ratios.csv``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per customer (or cell, or interval) with the exposure and covariate columns.
    covariates : sequence of CovariateCoding
    exposures : sequence of str
        0/1 exposure columns, entered as they are.
    cells : bool
        Code ``binned`` covariates as quantile bins (the cell model) instead of their value.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> plan = SimpleNamespace(name="plan", kind="categorical", levels=("a", "b", "c"),
    ...                        terms=lambda cells=False: ["plan[b]", "plan[c]"])
    >>> design_matrix(pd.DataFrame({"plan": ["a", "b", "c"], "x": [1, 0, 1]}), [plan], ["x"])
         x  plan[b]  plan[c]
    0  1.0      0.0      0.0
    1  0.0      1.0      0.0
    2  1.0      0.0      1.0
    """
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


def single_level_notes(covariates: Sequence[CovariateCoding]) -> list[str]:
    """Notes on categorical covariates with one level: they have no term at all, and say so.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> single_level_notes([SimpleNamespace(name="region", kind="categorical", levels=("north",))])
    ['region: only one value occurs (north, the same for every customer); left out of the model']
    """
    return [f"{c.name}: only one value occurs ({c.levels[0]}, the same for every customer); left out of the model"
            for c in covariates if c.kind == "categorical" and len(c.levels) == 1]


def _problem(X: pd.DataFrame, events: np.ndarray, weights: np.ndarray, baseline: np.ndarray,
             exposures: Sequence[str]) -> tuple[pd.DataFrame, list[str], str | None]:
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


def check_design(X: pd.DataFrame, events: np.ndarray, weights: np.ndarray, baseline: np.ndarray,
                 exposures: Sequence[str] = (), *, model: str) -> tuple[pd.DataFrame, list[str]]:
    """The design to fit, and notes on the terms left out; raises when the model cannot be fitted.

    Parameters
    ----------
    X : pandas.DataFrame
        :func:`design_matrix`.
    events : numpy.ndarray
        Churn events per row.
    weights : numpy.ndarray
        Time at risk per row (rows with 0 are ignored when judging variation).
    baseline : numpy.ndarray
        The columns every model has implicitly (Cox: a constant; piecewise exponential: the piece
        indicators; stratified Cox: the strata), so that a term constant within them counts as
        aliased.
    exposures : sequence of str
        Exposure terms, for the wording of the notes.
    model : str
        The model's name, for the error.

    Raises
    ------
    NotEstimable
        No churn events, no term left, or separation (a 0/1 term with no churn or all of it).

    Examples
    --------
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 0.0, 1.0], "dup": [0.0, 1.0, 0.0, 1.0], "none": 0.0})
    >>> kept, notes = check_design(X, np.array([1, 1, 0, 1]), np.ones(4), np.ones((4, 1)), model="m")
    >>> list(kept.columns)
    ['x']
    >>> notes[1]
    'the design is singular (collinear terms): dup duplicates x — left out of the model: dup'
    >>> check_design(X, np.array([0, 1, 0, 1]), np.ones(4), np.ones((4, 1)), model="m")
    Traceback (most recent call last):
    ...
    cxlib.errors.NotEstimable: model m cannot be fitted: every churn happened with x (its hazard ratio ...
    """
    X, notes, problem = _problem(X, events, weights, baseline, exposures)
    if problem:
        raise NotEstimable(f"model {model} cannot be fitted: {problem}", model=model)
    return X, notes


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


def small_terms(covariates: Sequence[CovariateCoding], min_n: int) -> set[str]:
    """Terms of categorical levels with fewer than ``min_n`` customers: fitted, never shown.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> plan = SimpleNamespace(name="plan", kind="categorical", levels=("a", "b", "c"), sizes=(50, 20, 3))
    >>> small_terms([plan], 10)
    {'plan[c]'}
    """
    return {f"{c.name}[{level}]" for c in covariates if c.kind == "categorical"
            for level, size in zip(c.levels, c.sizes) if size < min_n}


def hazard_summary(coef: pd.Series, se: pd.Series, p: pd.Series) -> pd.DataFrame:
    """Hazard ratios with Wald 95 % intervals from log hazard ratios and their standard errors.

    Examples
    --------
    >>> s = hazard_summary(pd.Series([np.log(2.0)], index=["x"]), pd.Series([0.1]), pd.Series([0.001]))
    >>> s[["term", "hazard_ratio", "ci_lower", "ci_upper"]].round(3)
      term  hazard_ratio  ci_lower  ci_upper
    0    x           2.0     1.644     2.433
    """
    c, s = coef.to_numpy(), se.to_numpy()
    return pd.DataFrame({
        "term": coef.index, "hazard_ratio": np.exp(c), "ci_lower": np.exp(c - _Z * s),
        "ci_upper": np.exp(c + _Z * s), "p_value": p.to_numpy(), "coef": c, "se": s,
    }).reset_index(drop=True)
