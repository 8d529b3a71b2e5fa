"""What goes with churn: the Cox model on customer attributes and the touchpoint model.

* Model ``covariates``: Cox proportional hazards on the covariates named in params, one row per
  customer (:func:`fit_covariate_models`). The modelling decision of the section is made here:
  the proportional-hazards check runs on a seeded sample and, where a covariate fails it, a model
  stratified on the offending covariates is fitted beside the plain one (model
  ``covariates_stratified``; model ``covariates`` stays the plain fit).
* Model ``touchpoints``: the piecewise-exponential model on the exposure cells built in the engine
  (:func:`touchpoint_model_cells`, then :func:`fit_touchpoint_model`).
* Model ``touchpoints_cox_tv``: where the data are small enough, the time-varying Cox model on the
  same exposure intervals as a cross-check (:func:`cross_check_intervals`, then
  :func:`cxlib.stats.cox.fit_time_varying_cox`).
* Checks of model ``touchpoints``: proportional hazards by an exposure × tenure-band likelihood-ratio
  test on its cells (:func:`touchpoint_ph_check`), and the reverse-causation guard: the model refitted
  with the exposures counted from ``lag`` days after the experience, for each of
  ``lag_sensitivity_days`` (:func:`lag_sensitivity`).
* With churn causes (params ``churn_causes``): models ``covariates[<cause>]`` and
  ``touchpoints[<cause>]``, the cause-specific hazards — the same models with the churns of the other
  causes as censorings (Prentice et al. 1978). The touchpoint ones come from the same cells, which
  carry one event count per cause; the Cox ones from the same one-row-per-customer frame
  (:mod:`cxlib.analyses.causes`).

Every function takes the tables and the values it needs; caching between notebooks is the caller's
(``wb.cached(name, lambda: ...)``). A model that cannot be fitted on the data raises
:class:`cxlib.errors.NotEstimable`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import ClassVar

import numpy as np

import ibis.expr.types as ir
import pandas as pd

from cxlib.errors import NotEstimable
from cxlib.features.customers import (
    RESERVED_COLUMNS,
    Covariate,
    covariate_frame,
    customers_as_of,
    describe_covariates,
    systematic_sample,
)
from cxlib.features.exposures import exposure_intervals, touchpoint_cells
from cxlib.params import ALL_CAUSES, ExposureRule
from cxlib.results import RESULT_COLUMNS, Result, result
from cxlib.stats.competing import cause_lookup, cause_order
from cxlib.stats.cox import (
    CoxResult,
    PHCheck,
    check_proportional_hazards,
    fit_cox,
    fit_stratified,
)
from cxlib.stats.pem import PiecewiseExponentialResult, fit_piecewise_exponential
from cxlib.stats.pem_checks import ProportionalHazardsCheck, lag_sensitivity_flags, proportional_hazards_test

__all__ = [
    "CovariateModels",
    "cause_model_name",
    "covariate_table",
    "cross_check_intervals",
    "fit_covariate_models",
    "fit_touchpoint_model",
    "hazard_ratios",
    "lag_sensitivity",
    "LagSensitivity",
    "touchpoint_lag_sensitivity",
    "touchpoint_model_cells",
    "touchpoint_ph_check",
]
# Above this many customers the lag refits run on a systematic sample of them: each refit rebuilds the
# exposure cells from every interaction (about 90 s per lag at 1M customers on 2 cores).
MAX_LAG_CUSTOMERS = 200_000
LAG_COLUMNS = ["exposure", "lag_days", "hazard_ratio", "ci_lower", "ci_upper", "p_value", "n_events"]


def _example() -> tuple[ir.Table, ir.Table, list[ExposureRule]]:
    """Two customers, one poor billing experience and its rule, for the examples."""
    import ibis

    customers = ibis.memtable({"customer_id": ["a", "b"], "signup_date": [dt.date(2025, 1, 1)] * 2,
                               "churn_date": [dt.date(2025, 1, 21), None]})
    interactions = ibis.memtable({"customer_id": ["a"], "touchpoint": ["billing"],
                                  "timestamp": [dt.datetime(2025, 1, 5, 9)], "csat": [1]})
    return customers, interactions, [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]


def _reserved(names: Sequence[str]) -> str | None:
    clash = sorted(set(names) & RESERVED_COLUMNS)
    if clash:
        return (f"covariate or exposure name(s) {', '.join(clash)} are used by the model itself; "
                "rename them (data.columns for covariates, name for exposures)")
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        return f"name(s) {', '.join(dupes)} are both a covariate and an exposure; rename one"
    return None


def _check_names(model: str, covariates: Sequence[Covariate], rules: Sequence[ExposureRule]) -> None:
    problem = _reserved([*[r.name for r in rules], *[c.name for c in covariates]])
    if problem:
        raise NotEstimable(f"model {model} cannot be fitted: {problem}", model=model)


def covariate_table(customers: ir.Table, names: Sequence[str], bins: int) -> pd.DataFrame:
    """How each params covariate enters the models, as a small table to share between notebooks.

    Decode it with :func:`cxlib.features.customers.covariates_from_frame`; a notebook caches it
    with ``wb.cached("covariates", lambda: covariate_table(...))`` so that every section codes the
    covariates the same way.

    Examples
    --------
    >>> import ibis
    >>> from cxlib.features.customers import covariates_from_frame
    >>> t = ibis.memtable({"plan": ["a", "b", "b"], "age": ["30", "41", "52"]})
    >>> [(c.name, c.kind) for c in covariates_from_frame(covariate_table(t, ["plan", "age"], 4))]
    [('plan', 'categorical'), ('age', 'numeric')]
    """
    return covariate_frame(describe_covariates(customers, names, bins))


# ---- model covariates -------------------------------------------------------------------------


@result
class CovariateModels(Result):
    """Model ``covariates`` with its proportional-hazards check and, when that fails, the stratified refit.

    Attributes
    ----------
    cox : CoxResult
        The plain Cox model (model ``covariates``).
    ph : PHCheck
        The Grambsch–Therneau check of ``cox``.
    stratified : CoxResult or None
        Model ``covariates_stratified`` on the covariates that fail the check (None when none
        fails, or when the refit cannot be fitted: then a note says why).
    notes : tuple of str
        Customers and terms left out, and why.

    Examples
    --------
    >>> import datetime as dt, ibis
    >>> from cxlib.features.customers import Covariate
    >>> t = ibis.memtable({"customer_id": [f"c{i}" for i in range(8)], "signup_date": [dt.date(2025, 1, 1)] * 8,
    ...     "churn_date": [dt.date(2025, 1, d) if d else None for d in (5, 9, 12, 0, 3, 7, 0, 0)],
    ...     "plan": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> plan = Covariate("plan", "categorical", levels=("a", "b"), sizes=(4, 4))
    >>> models = fit_covariate_models(t, [plan], as_of=dt.date(2025, 2, 1), ph_sample=100, seed=1)
    >>> models.to_frame()[["model", "term"]]
            model     term
    0  covariates  plan[b]
    """

    title: ClassVar[str] = "Model covariates"
    cox: CoxResult
    ph: PHCheck
    stratified: CoxResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratios of the plain model."""
        return self.cox.summary

    def _lines(self) -> list[str]:
        return [*self.cox._lines(), *self.ph._lines()]

    def to_frame(self) -> pd.DataFrame:
        """Rows of ``hazard_ratios.csv``: model ``covariates``, then ``covariates_stratified``."""
        models = [self.cox] + ([self.stratified] if self.stratified is not None else [])
        return pd.concat([m.to_frame() for m in models], ignore_index=True)


def _customer_frame(customers: ir.Table, as_of: dt.date, covariates: Sequence[Covariate],
                    causes: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, int]:
    """One row per customer (complete cases): duration, churned, covariate values (and cause); and rows dropped."""
    people = customers_as_of(customers, as_of, covariates, causes=causes)
    # ordered, so that the seeded sample of the PH check does not depend on the engine's row order
    query = people.order_by("customer_id").select("duration_days", "churned", *[c.name for c in covariates],
                                                  *(["cause"] if causes is not None else []))
    # text as categories: at 10M customers, object strings made the frame 2.5 GB and the fetch 4× slower
    frame = query.to_pyarrow().to_pandas(strings_to_categorical=True)
    complete = frame.dropna(subset=[c.name for c in covariates])
    return complete.reset_index(drop=True), len(frame) - len(complete)


def fit_covariate_models(customers: ir.Table, covariates: Sequence[Covariate], *, as_of: dt.date,
                         ph_sample: int, seed: int) -> CovariateModels:
    """Model ``covariates`` (Cox, Efron ties), its proportional-hazards check and the stratified refit.

    Parameters
    ----------
    customers : ibis Table
        The clean customers table.
    covariates : sequence of Covariate
        How each params covariate enters (:func:`covariate_table`).
    as_of : datetime.date
    ph_sample : int
        Customers sampled for the check (``ph_check_sample``).
    seed : int
        Seed of that sample.

    Raises
    ------
    NotEstimable
        No covariates, a reserved name, or the plain model cannot be fitted on the data.

    Examples
    --------
    >>> import datetime as dt, ibis
    >>> t = ibis.memtable({"customer_id": ["a"], "signup_date": [dt.date(2025, 1, 1)], "churn_date": [None]})
    >>> fit_covariate_models(t, [], as_of=dt.date(2025, 2, 1), ph_sample=100, seed=1)
    Traceback (most recent call last):
    ...
    cxlib.errors.NotEstimable: no covariates are named in params (covariates: [...])
    """
    problem = _reserved([c.name for c in covariates])
    if problem:
        raise NotEstimable(problem, model="covariates")
    if not covariates:
        raise NotEstimable("no covariates are named in params (covariates: [...])", model="covariates")
    frame, dropped = _customer_frame(customers, as_of, covariates)
    left_out = [f"{dropped:,} customer(s) with a missing covariate left out"] if dropped else []
    cox = fit_cox(frame, covariates, model="covariates", notes=left_out)
    ph = check_proportional_hazards(cox, ph_sample, seed=seed)
    notes = list(cox.notes)
    stratified = None
    if ph.violated:
        try:
            stratified = fit_stratified(cox, ph.violated, keep_data=False)
        except NotEstimable as exc:
            notes.append(f"the model stratified on {', '.join(ph.violated)} is not shown: {exc.reason}")
    return CovariateModels(cox=cox, ph=ph, stratified=stratified, notes=tuple(notes))


# ---- model touchpoints ------------------------------------------------------------------------


def touchpoint_model_cells(customers: ir.Table, interactions: ir.Table, covariates: Sequence[Covariate],
                           rules: Sequence[ExposureRule], *, as_of: dt.date, window_days: int,
                           pieces: Sequence[int], lag_days: int = 1,
                           churn_causes: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The cells of model ``touchpoints``, built in the engine (cache them: both retention and impact use them).

    With ``churn_causes`` (params) the cells also count each cause's churns, ``events[<cause>]``
    (:func:`cxlib.features.exposures.touchpoint_cells`), for
    :func:`cxlib.analyses.causes.fit_touchpoint_cause_models`.

    Parameters
    ----------
    customers, interactions : ibis Table
        The clean tables.
    covariates : sequence of Covariate
    rules : sequence of ExposureRule
        ``params.exposure_rules(touchpoints)``.
    as_of : datetime.date
    window_days : int
        ``exposure_window_days``.
    pieces : sequence of int
        ``tenure_pieces_days``.
    lag_days : int
        ``exposure_lag_days`` (see :mod:`cxlib.features.exposures`).
    churn_causes : mapping, optional
        Params ``churn_causes``.

    Raises
    ------
    NotEstimable
        No exposure rule, or a covariate or exposure name the model uses itself.

    Examples
    --------
    >>> customers, interactions, rules = _example()
    >>> touchpoint_model_cells(customers, interactions, [], rules, as_of=dt.date(2025, 2, 1), window_days=7,
    ...                        pieces=[0])
       piece  poor_billing  events  person_days
    0      0             0       1           45
    1      0             1       0            7
    """
    if not rules:
        raise NotEstimable("model touchpoints needs the interactions table and at least one touchpoint",
                           model="touchpoints")
    _check_names("touchpoints", covariates, rules)
    lookup = cause_lookup(churn_causes) if churn_causes else None
    people = customers_as_of(customers, as_of, covariates, causes=lookup)
    causes = cause_order(churn_causes) if churn_causes else ()
    return touchpoint_cells(people, interactions, rules, window_days, pieces, covariates, lag_days=lag_days,
                            causes=causes)


def fit_touchpoint_model(cells: pd.DataFrame, covariates: Sequence[Covariate],
                         rules: Sequence[ExposureRule], cause: str = ALL_CAUSES) -> PiecewiseExponentialResult:
    """Model ``touchpoints``: every exposure plus the covariates, piecewise exponential on the cells.

    With ``cause`` other than ``all``: model ``touchpoints[<cause>]``, on the cells' ``events[<cause>]``
    (the cause-specific hazards; see :func:`cxlib.analyses.causes.fit_touchpoint_cause_models`).

    Examples
    --------
    >>> cells = pd.DataFrame({"piece": [0, 0], "poor_billing": [0, 1], "events": [40, 30],
    ...                       "person_days": [20_000, 6_000]})
    >>> rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)]
    >>> round(float(fit_touchpoint_model(cells, [], rules).summary.loc[0, "hazard_ratio"]), 2)
    2.5
    """
    if cause != ALL_CAUSES:
        column = f"events[{cause}]"
        if column not in cells.columns:
            raise ValueError(f"the cells carry no {column} column: build them with churn_causes")
        cells = cells.assign(events=cells[column])
    return fit_piecewise_exponential(cells, covariates, [r.name for r in rules],
                                     model=cause_model_name("touchpoints", cause))


def cross_check_intervals(customers: ir.Table, interactions: ir.Table, covariates: Sequence[Covariate],
                          rules: Sequence[ExposureRule], *, as_of: dt.date, window_days: int,
                          max_rows: int, lag_days: int = 1,
                          churn_causes: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame | None:
    """The exposure intervals of the time-varying Cox cross-check, or None above ``max_rows``.

    The cap is the caller's choice of cost, not a property of the data: the Cox fit grows with
    customers × exposure changes (every Newton step scans all intervals at each churn day; about
    25 s for 75,000 intervals), so above ``max_rows`` (``cox_time_varying_max_rows``; 0 turns the
    cross-check off) nothing is fetched and the cross-check is skipped. Only customers with every
    covariate are kept; covariates carry their cell-model values. With ``churn_causes`` every row
    also carries its customer's ``cause`` (NULL when not churned), for cause-specific fits.

    Raises
    ------
    NotEstimable
        No exposure rule, or a covariate or exposure name the model uses itself.

    Examples
    --------
    >>> customers, interactions, rules = _example()
    >>> iv = cross_check_intervals(customers, interactions, [], rules, as_of=dt.date(2025, 2, 1), window_days=7,
    ...                            max_rows=100)
    >>> iv.sort_values(["customer_id", "start"]).to_numpy().tolist()
    [['a', 0, 5, 0, 0], ['a', 5, 12, 0, 1], ['a', 12, 21, 1, 0], ['b', 0, 31, 0, 0]]
    >>> cross_check_intervals(customers, interactions, [], rules, as_of=dt.date(2025, 2, 1), window_days=7,
    ...                       max_rows=3) is None
    True
    """
    if not rules:
        raise NotEstimable("model touchpoints_cox_tv needs the interactions table and at least one touchpoint",
                           model="touchpoints_cox_tv")
    _check_names("touchpoints_cox_tv", covariates, rules)
    if max_rows <= 0:
        return None
    people = customers_as_of(customers, as_of, covariates, causes=cause_lookup(churn_causes) if churn_causes else None)
    for cov in covariates:
        people = people.filter(people[cov.name].notnull())
    if people.count().execute() > max_rows:
        return None
    iv = exposure_intervals(people, interactions, rules, window_days, lag_days=lag_days)
    pattern = people.select("customer_id", **{c.name: c.cell_value(people) for c in covariates},
                            **({"cause": people.cause} if churn_causes else {}))
    frame = iv.join(pattern, "customer_id").limit(max_rows + 1).execute()
    return None if len(frame) > max_rows else frame


# ---- cause-specific models ---------------------------------------------------------------------


def cause_model_name(model: str, cause: str) -> str:
    """The name of a model of one cause in ``hazard_ratios.csv``: ``touchpoints[voluntary]``; the all-cause name for ``all``.

    Examples
    --------
    >>> cause_model_name("touchpoints", "voluntary"), cause_model_name("touchpoints", "all")
    ('touchpoints[voluntary]', 'touchpoints')
    """
    return model if cause == ALL_CAUSES else f"{model}[{cause}]"


def hazard_ratios(models: Sequence[CovariateModels | PiecewiseExponentialResult | CoxResult | None],

                  hidden: Collection[str] = ()) -> pd.DataFrame:
    """``hazard_ratios.csv``: the rows of the models that were fitted, in order, without hidden terms.

    Parameters
    ----------
    models : sequence of results or None
        Model covariates (with its stratified refit), touchpoints, touchpoints_cox_tv, and the
        cause-specific models (:class:`cxlib.analyses.causes.CauseModels`); None for a model that was not fitted.
    hidden : collection of str
        Terms of levels too small to show (:func:`cxlib.stats.design.small_terms`).

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["x", "plan[tiny]"], "hazard_ratio": [2.0, 9.0], "ci_lower": [1.5, 1.0],
    ...                   "ci_upper": [2.7, 80.0], "p_value": [0.001, 0.05], "coef": [0.7, 2.2], "se": [0.1, 1.1]})
    >>> hazard_ratios([None, CoxResult("touchpoints", "", s, 12)], hidden={"plan[tiny]"})
             model term  hazard_ratio  ci_lower  ci_upper  p_value
    0  touchpoints    x           2.0       1.5       2.7    0.001
    """
    frames = [m.to_frame() for m in models if m is not None]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS["hazard_ratios"])
    return out[~out["term"].isin(hidden)]


# ---- checks of model touchpoints -----------------------------------------------------------------


def touchpoint_ph_check(tp: PiecewiseExponentialResult, n_bands: int = 3) -> ProportionalHazardsCheck:
    """Proportional hazards of each exposure of model ``touchpoints``: exposure × tenure band on its cells.

    The covariates enter exactly as in the fitted model (its own design columns), so the test's
    main model is model ``touchpoints``; see :func:`cxlib.stats.pem_checks.proportional_hazards_test`.

    Raises
    ------
    NotEstimable
        When the model was not fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> cells = pd.DataFrame([(p, x) for p in (0, 30, 90, 180) for x in (0, 1)], columns=["piece", "poor_a"])
    >>> cells["person_days"] = 200_000
    >>> cells["events"] = rng.poisson(cells.person_days * 0.001 * np.where(cells.poor_a == 1, 2.0, 1.0))
    >>> rules = [ExposureRule(name="poor_a", touchpoint="a", csat_max=2)]
    >>> check = touchpoint_ph_check(fit_touchpoint_model(cells, [], rules))
    >>> check.summary.loc[0, ["exposure", "verdict"]].tolist()
    ['poor_a', 'proportional']
    """
    if tp.glm is None or tp.cells is None:
        raise NotEstimable("model touchpoints was not fitted", model="touchpoints")
    names = list(tp.glm.model.exog_names)
    design = pd.DataFrame(np.asarray(tp.glm.model.exog, dtype=float), columns=names, index=tp.cells.index)
    exposures = [e for e in tp.exposures if e in names]
    covariates = design[[c for c in names if not c.startswith("piece[") and c not in tp.exposures]]
    return proportional_hazards_test(tp.cells, exposures, covariates=covariates, n_bands=n_bands)


@result
class LagSensitivity(Result):
    """Model ``touchpoints`` refitted at each exposure lag, and the exposures whose excess hazard falls with it.

    Attributes
    ----------
    summary : DataFrame
        ``exposure, lag_days, hazard_ratio, ci_lower, ci_upper, p_value, n_events``: one row per
        exposure × lag (missing estimates where the model could not be fitted at that lag).
    flags : DataFrame
        :func:`cxlib.stats.pem_checks.lag_sensitivity_flags` of ``summary``: ``flag`` is True where
        the excess hazard ``HR − 1`` at the longest lag is below two thirds of the shortest lag's.
    lags : tuple of int
    notes : tuple of str
        Lags at which the model could not be fitted, and why.
    customers, of_customers : int or None
        With a sample (:func:`touchpoint_lag_sensitivity` above :data:`MAX_LAG_CUSTOMERS`): the
        customers every lag was refitted on, and all customers; None without one.

    Examples
    --------
    >>> s = pd.DataFrame({"exposure": ["poor_a"] * 2, "lag_days": [0, 30], "hazard_ratio": [2.0, 1.1],
    ...                   "ci_lower": [1.6, 0.9], "ci_upper": [2.5, 1.3], "p_value": [0.001, 0.4], "n_events": [500, 480]})
    >>> res = LagSensitivity(s, lag_sensitivity_flags(s), (0, 30))
    >>> res.flagged, res.printer().lines[0]
    (['poor_a'], 'Model touchpoints at exposure lags 0, 30 days; 1 exposure(s) flagged.')
    """

    title: ClassVar[str] = "Exposure-lag sensitivity of model touchpoints"
    summary: pd.DataFrame
    flags: pd.DataFrame
    lags: tuple[int, ...]
    notes: tuple[str, ...] = ()
    customers: int | None = None
    of_customers: int | None = None

    @property
    def flagged(self) -> list[str]:
        """Exposures whose excess hazard falls by more than a third from the shortest to the longest lag."""
        return [str(e) for e in self.flags.loc[self.flags["flag"].astype(bool), "exposure"]] if len(self.flags) else []

    def _lines(self) -> list[str]:
        sample = (f" (a systematic sample of {self.customers:,} of {self.of_customers:,} customers)"
                  if self.customers is not None else "")
        return [f"Model touchpoints at exposure lags {', '.join(map(str, self.lags))} days{sample}; "
                f"{len(self.flagged)} exposure(s) flagged.", *self.notes]


def lag_sensitivity(cells_at: Callable[[int], pd.DataFrame], covariates: Sequence[Covariate],
                    rules: Sequence[ExposureRule], lags: Sequence[int], *, customers: int | None = None,
                    of_customers: int | None = None) -> LagSensitivity:
    """Each exposure's hazard ratio with the exposures counted from ``lag`` days after the experience.

    Poor ratings logged on or just before the churn day can be the *consequence* of a decision to
    leave (the cancellation call). An exposure whose hazard ratio rests on those days loses its
    excess hazard as the lag grows; one with a lasting association keeps it.

    Parameters
    ----------
    cells_at : callable
        ``lag -> cells`` of model ``touchpoints`` built with that ``exposure_lag_days`` (one cell
        build per lag; pass the run's cached cells for its own lag).
    covariates : sequence of Covariate
    rules : sequence of ExposureRule
    lags : sequence of int
        ``lag_sensitivity_days``.
    customers, of_customers : int, optional
        When the cells are of a sample: its customers, and all customers.

    Examples
    --------
    >>> rules = [ExposureRule(name="poor_a", touchpoint="a", csat_max=2)]
    >>> cells = {0: pd.DataFrame({"piece": [0, 0], "poor_a": [0, 1], "events": [100, 60], "person_days": [100_000, 20_000]}),
    ...          7: pd.DataFrame({"piece": [0, 0], "poor_a": [0, 1], "events": [140, 20], "person_days": [100_000, 20_000]})}
    >>> res = lag_sensitivity(cells.__getitem__, [], rules, [0, 7])
    >>> res.summary[["lag_days", "hazard_ratio"]].round(2).values.tolist(), res.flagged
    ([[0.0, 3.0], [7.0, 0.71]], ['poor_a'])
    """
    names = [r.name for r in rules]
    rows, notes = [], []
    lags = sorted({int(lag) for lag in lags})
    for lag in lags:
        try:
            fit = fit_touchpoint_model(cells_at(lag), covariates, rules)
        except NotEstimable as exc:
            notes.append(f"at a lag of {lag} days model touchpoints could not be fitted: {exc.reason}")
            rows += [[e, lag, np.nan, np.nan, np.nan, np.nan, np.nan] for e in names]
            continue
        s = fit.summary.set_index("term")
        for e in names:
            est = [float(s.loc[e, c]) if e in s.index else np.nan for c in ("hazard_ratio", "ci_lower", "ci_upper", "p_value")]
            rows.append([e, lag, *est, fit.n_events])
    table = pd.DataFrame(rows, columns=LAG_COLUMNS)
    return LagSensitivity(summary=table, flags=lag_sensitivity_flags(table), lags=tuple(lags), notes=tuple(notes),
                          customers=customers, of_customers=of_customers)


def touchpoint_lag_sensitivity(customers: ir.Table, interactions: ir.Table, covariates: Sequence[Covariate],
                               rules: Sequence[ExposureRule], cells: pd.DataFrame, *, as_of: dt.date,
                               window_days: int, pieces: Sequence[int], lag_days: int, lags: Sequence[int],
                               seed: int, max_customers: int = MAX_LAG_CUSTOMERS) -> LagSensitivity:
    """:func:`lag_sensitivity` of the run's model touchpoints, its cells rebuilt in the engine per lag.

    ``cells`` are the run's own cells (at ``lag_days``), used as they are. Above ``max_customers``
    customers every lag, the run's own included, is refitted on one systematic sample of at most
    ``max_customers`` of them (:func:`cxlib.features.customers.systematic_sample`, seeded), so that
    the lags are compared on the same customers: the hazard ratios are the same estimands, with
    wider intervals (docs/methods.md).

    Examples
    --------
    >>> customers, interactions, rules = _example()
    >>> kw = dict(as_of=dt.date(2025, 2, 1), window_days=7, pieces=[0], lag_days=1, lags=[0, 1], seed=1)
    >>> cells = touchpoint_model_cells(customers, interactions, [], rules, **{k: kw[k] for k in kw if k not in ("lags", "seed")})
    >>> res = touchpoint_lag_sensitivity(customers, interactions, [], rules, cells, **kw, max_customers=1)
    >>> res.customers, res.of_customers, res.lags
    (1, 2, (0, 1))
    """
    n = int(customers.count().execute())

    def build(table: ir.Table) -> Callable[[int], pd.DataFrame]:
        return lambda lag: touchpoint_model_cells(table, interactions, covariates, rules, as_of=as_of,
                                                  window_days=window_days, pieces=pieces, lag_days=lag)

    if n <= max_customers:
        rebuild = build(customers)
        return lag_sensitivity(lambda lag: cells if lag == lag_days else rebuild(lag), covariates, rules, lags)
    sample, m = systematic_sample(customers, n, max_customers, seed)
    with sample:
        return lag_sensitivity(build(sample), covariates, rules, lags, customers=m, of_customers=n)
