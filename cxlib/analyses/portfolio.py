"""Touchpoint metric portfolio: every touchpoint on its own metrics, with intervals, targets and change.

The engine reduces the interactions and survey responses to sufficient statistics per period x
touchpoint x channel x segment, with an ``all`` roll-up on every dimension (the metric cube,
:mod:`cxlib.features.cube`). Only that small cube reaches pandas, where this module assembles the
estimates (:mod:`cxlib.stats.intervals`), suppression (:mod:`cxlib.analyses.metric_suppression`), change tests
(:mod:`cxlib.stats.changes`) and targets; its sentences are in :mod:`cxlib.text.portfolio`.

Metrics (the ``metric`` column of ``metrics.csv``) and what ``n`` counts for each
------------------------------------------------------------------------------------
=================  =====================================================  ==========================  ===================
metric             value                                                  n                           95 % interval
=================  =====================================================  ==========================  ===================
volume             number of interactions                                 interactions                none (a census)
rated_share        share of interactions with a CSAT rating               interactions                Wilson, n_eff
csat_mean          mean CSAT (1–5)                                        rated interactions          clustered t
csat_top2          top-2-box share: CSAT of 4 or 5                        rated interactions          Wilson, n_eff
ces_mean           mean customer-effort score (1–7, higher = easier)      interactions with a CES     clustered t
resolution_rate    share resolved among interactions with ``resolved``    interactions with resolved  Wilson, n_eff
nps                relationship NPS, 100 x (promoters − detractors) / n   survey responses            normal, see below
nps_promoters      share of responses 9–10                                survey responses            Wilson
nps_passives       share of responses 7–8                                 survey responses            Wilson
nps_detractors     share of responses 0–6                                 survey responses            Wilson
=================  =====================================================  ==========================  ===================

Interaction metrics' intervals are customer-clustered (:mod:`cxlib.analyses.clustering`): mean
``R ± t_{m−1} se`` on its scale, share Wilson at ``n_eff``; NPS too where a customer answered twice.

NPS rows have ``touchpoint`` and ``channel`` = ``all`` (a relationship survey is not about one
touchpoint). The NPS interval is normal with Var(NPS/100) = (p + d − (p − d)²) / n, p and d the
promoter and detractor shares, clipped to [−100, 100]. Periods are calendar quarters (``2026Q3``) or
months (``2026-09``) from the first one in the data up to the one containing ``as_of``; there are no
cumulative ``all``-period rows (a later run's cumulative row minus an earlier one's would disclose the
new period's hidden cells; see ``docs/privacy.md``). The segment is the customer's ``segment`` column (``unspecified`` where empty; only
``all`` when the customers table has no such column). A metric whose ``n`` is 0 in a cell has no row.
A touchpoint, channel or segment whose value in the data is ``all`` is shown as ``all (in data)``.

Period-over-period change compares each cell with the same cell one period earlier: for every
clustered metric the customer-clustered t test of the ratio difference with the covariance of the
customers present in both periods (:func:`cxlib.stats.clustered.ratio_difference_test`); otherwise
(unclustered NPS cells, hand-built cubes) a two-sample z test of proportions (pooled under the null; the interval of the difference is unpooled Wald), Welch's
t test for means (computed from the sums), and a z test for the NPS difference with the variance
above. Volume is a census count with no sampling error, so it is not tested. The p-values of the whole
change table are adjusted together with Benjamini–Hochberg (false discovery rate ``fdr``); only changes
that survive are flagged.

Small cells: any cell with ``n < min_cell_size``, or with fewer than ``min_cell_size`` distinct
customers behind its ``n`` (three customers with 60 interactions are still three customers), is
suppressed (``n``, value and interval empty, ``suppressed`` true), plus secondary cells chosen and
audited over the whole table at once, so that no suppressed count can be narrowed down to less than
``protection_width`` from every published row, every metric of its cell and the previous run of the
series (:mod:`cxlib.analyses.metric_suppression`). Metrics that share a denominator are suppressed
together (volume; csat_mean and csat_top2; the four NPS rows), and the rated share with either of its
two counts. Change tests use shown cells only.

Examples
--------
>>> import datetime as dt, ibis
>>> surveys = ibis.memtable({"customer_id": [f"c{i}" for i in range(40)], "nps": [10, 9, 8, 3] * 10,
...                          "timestamp": pd.to_datetime(["2026-08-01"] * 40)})
>>> p = touchpoint_portfolio(None, None, surveys, as_of=dt.date(2026, 9, 30), min_cell_size=5)
>>> p.to_frame().columns.tolist()
['period', 'touchpoint', 'channel', 'segment', 'metric', 'n', 'value', 'ci_lower', 'ci_upper', 'suppressed']
>>> p.metrics.loc[p.metrics["metric"] == "nps", ["period", "n", "value"]].values.tolist()
[['2026Q3', 40, 25.0]]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import ClassVar

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlib.analyses.clustering import clustered_change, with_clustered
from cxlib.analyses.metric_suppression import suppress
from cxlib.errors import RunError
from cxlib.features.cube import (
    DIMENSIONS,
    SURVEY_SUMS,
    interaction_sums,
    pool_touchpoints,
    survey_sums,
)
from cxlib.periods import period_label, period_range, previous_period
from cxlib.results import ALL, RESULT_COLUMNS, Result, result
from cxlib.stats.changes import (
    benjamini_hochberg,
    nps_difference_test,
    proportion_difference_test,
    welch_test,
)
from cxlib.stats.clustered import CROSS_COLUMNS, SUM_COLUMNS
from cxlib.stats.intervals import mean_interval, nps_interval, wilson_interval
from cxlib.text.format import display_order, format_difference
from cxlib.text.portfolio import describe_coverage
from cxlib.text.vocabulary import METRIC_SPECS, METRICS, SPECS, MetricSpec

STATUS = ("met", "missed", "can't tell")
ESTIMATE_COLUMNS = [*DIMENSIONS, "metric", "n", "x", "xx", "value", "ci_lower", "ci_upper"]
CHANGE_COLUMNS = ["period", "previous_period", "touchpoint", "channel", "segment", "metric", "test",
                  "n_previous", "n", "value_previous", "value", "difference", "ci_lower", "ci_upper",
                  "statistic", "df", "p_value", "q_value", "significant"]
TARGET_COLUMNS = ["metric", "touchpoint", "period", "target", "n", "value", "ci_lower", "ci_upper",
                  "gap", "gap_lower", "gap_upper", "status", "note"]
GRID_COLUMNS = ["touchpoint", "metric", "value", "ci_lower", "ci_upper", "suppressed", "target", "status"]
GRID_METRICS = ("volume", "rated_share", "csat_mean", "csat_top2", "ces_mean", "resolution_rate", "nps")
_TEST_NAMES = {"proportion": "two-proportion z", "mean": "Welch t", "nps": "NPS difference z",
               "clustered": "customer-clustered t"}
_CLUSTER_CARRY = ["clustered", *SUM_COLUMNS, *CROSS_COLUMNS]


def _cube_example() -> tuple[pd.DataFrame, None]:
    """A two-quarter interaction cube of one touchpoint, for the examples."""
    return pd.DataFrame({
        "period": ["2026Q2", "2026Q3"], "touchpoint": "app", "channel": "all", "segment": "all",
        "n": [100, 120], "rated": [80, 90], "csat_sum": [320.0, 330.0],
        "csat_sumsq": [1350.0, 1300.0], "top2": [60, 54], "ces_n": 0, "ces_sum": 0.0,
        "ces_sumsq": 0.0, "resolved_n": 0, "resolved": 0, "customers": [60, 70], "raters": [50, 60],
        "ces_customers": 0, "resolved_customers": 0}), None


# ---- estimates and suppression ---------------------------------------------------------------------


def _estimate(spec: MetricSpec, n: np.ndarray, x: np.ndarray, xx: np.ndarray | None,
              level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if spec.kind == "count":
        return x.astype(float), np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    if spec.kind == "proportion":
        lo, hi = wilson_interval(x, n, level)
        return x / n, lo, hi
    if spec.kind == "mean":
        return mean_interval(n, x, xx, level)
    return nps_interval(x, xx, n, level)


def estimates(interaction_cube: pd.DataFrame | None, survey_cube: pd.DataFrame | None,
              level: float = 0.95) -> pd.DataFrame:
    """Every metric of every non-empty cell, unsuppressed, in long format.

    Columns: :data:`ESTIMATE_COLUMNS`: the dimensions, ``metric``, ``n``, the sums behind the
    estimate (``x``, ``xx``), ``value``, ``ci_lower``, ``ci_upper``; then ``clustered`` (the interval
    is customer-clustered) and the per-customer sums behind it (:data:`SUM_COLUMNS` and, against the
    same cell one period earlier, :data:`CROSS_COLUMNS`). Internal: never publish this table as it is
    (see :func:`suppress` and :func:`publishable`).

    Which intervals are clustered: :func:`cxlib.analyses.clustering.with_clustered` (a hand-built
    cube without per-customer sums, as in the examples, gets the unclustered ones).

    Examples
    --------
    >>> icube, scube = _cube_example()
    >>> est = estimates(icube, scube)
    >>> est.loc[est["metric"] == "csat_top2", ["period", "n", "value"]].values.tolist()
    [['2026Q2', 80, 0.75], ['2026Q3', 90, 0.6]]
    """
    parts = []
    for spec in METRIC_SPECS:
        cube = survey_cube if spec.n in SURVEY_SUMS else interaction_cube
        if cube is None or cube.empty:
            continue
        cube = cube[cube[spec.n] > 0]
        n = cube[spec.n].to_numpy(dtype=float)
        x = cube[spec.x].to_numpy(dtype=float)
        xx = cube[spec.xx].to_numpy(dtype=float) if spec.xx else None
        value, lo, hi = _estimate(spec, n, x, xx, level)
        lo, hi, carried = with_clustered(cube, spec, lo, hi, level)
        parts.append(cube[list(DIMENSIONS)].assign(
            metric=spec.name, n=n.astype("int64"), x=x, xx=np.nan if xx is None else xx,
            value=value, ci_lower=lo, ci_upper=hi, **carried))
    if not parts:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _period_order(periods: pd.Series) -> pd.Series:
    # chronological labels sort as text; "all" goes last
    return periods.where(periods != ALL, "~")


def publishable(est: pd.DataFrame) -> pd.DataFrame:
    """The ``metrics.csv`` contract table: suppressed rows keep their keys, lose n, value and interval.

    Examples
    --------
    >>> icube, scube = _cube_example()
    >>> est, audit = suppress(estimates(icube, scube), icube, scube, min_cell_size=55)
    >>> m = publishable(est)
    >>> m.loc[m["metric"] == "csat_mean", ["period", "n", "suppressed"]].values.tolist()
    [['2026Q2', <NA>, True], ['2026Q3', 90, False]]
    """
    out = est.copy()
    hidden = out["suppressed"].to_numpy(dtype=bool)
    out["n"] = out["n"].astype("Int64").mask(hidden)
    for c in ("value", "ci_lower", "ci_upper"):
        out[c] = out[c].astype(float).mask(hidden)
    order = {m: i for i, m in enumerate(METRICS)}
    out = out.assign(_p=_period_order(out["period"]), _m=out["metric"].map(order))
    out = out.sort_values(["_p", "touchpoint", "channel", "segment", "_m"], kind="mergesort")
    return out[RESULT_COLUMNS["metrics"]].reset_index(drop=True)


# ---- period-over-period change and targets ----------------------------------------------------------


def period_changes(est: pd.DataFrame, period: str = "quarter", level: float = 0.95, fdr: float = 0.05) -> pd.DataFrame:
    """Each shown cell against the same cell one period earlier, Benjamini–Hochberg over the table.

    Parameters
    ----------
    est : DataFrame
        Estimates with suppression (:func:`estimates` then :func:`suppress`); suppressed cells and
        ``volume`` are not tested.
    period : {"quarter", "month"}
    level : float
        Confidence level of the interval of each difference.
    fdr : float
        False discovery rate of the Benjamini–Hochberg procedure.

    Returns
    -------
    DataFrame
        :data:`CHANGE_COLUMNS`; ``q_value`` is the BH-adjusted p-value and ``significant`` says whether
        the change survives at ``fdr``.

    Examples
    --------
    >>> icube, scube = _cube_example()
    >>> ch = period_changes(suppress(estimates(icube, scube), icube, scube, 10)[0])
    >>> ch[["metric", "test", "difference", "significant"]].round(3).values.tolist()
    [['rated_share', 'two-proportion z', -0.05, False], ['csat_mean', 'Welch t', -0.333, False], ['csat_top2', 'two-proportion z', -0.15, False]]
    """
    shown = est[(est["period"] != ALL) & ~est["suppressed"] & (est["metric"] != "volume")]
    keys = ["touchpoint", "channel", "segment", "metric"]
    cur = shown.assign(previous_period=previous_period(shown["period"], period))
    carry = [c for c in _CLUSTER_CARRY if c in shown.columns and c not in CROSS_COLUMNS]
    pairs = cur.merge(shown[[*keys, "period", "n", "x", "xx", "value", *carry]].rename(columns={"period": "previous_period"}),
                      on=[*keys, "previous_period"], suffixes=("", "_previous"))
    if pairs.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    kinds = pairs["metric"].map(lambda m: SPECS[m].kind)
    if "clustered" in pairs.columns:  # when either period's interval is: the same customers answer in both
        kinds = kinds.where(~(pairs["clustered"].astype(bool) | pairs["clustered_previous"].astype(bool)), "clustered")
    parts = []
    for kind, group in pairs.groupby(kinds):
        a = {c: group[c].to_numpy(dtype=float) for c in ("n", "x", "xx", "n_previous", "x_previous", "xx_previous")}
        if kind == "clustered":
            r = clustered_change(group, level)
        elif kind == "proportion":
            r = proportion_difference_test(a["x_previous"], a["n_previous"], a["x"], a["n"], level)
        elif kind == "mean":
            r = welch_test(a["n_previous"], a["x_previous"], a["xx_previous"], a["n"], a["x"], a["xx"], level)
        else:
            r = nps_difference_test(a["x_previous"], a["xx_previous"], a["n_previous"], a["x"], a["xx"], a["n"], level)
        parts.append(group.assign(test=_TEST_NAMES[kind], **r))
    out = pd.concat(parts, ignore_index=True)
    out["q_value"], out["significant"] = benjamini_hochberg(out["p_value"], fdr)
    order = {m: i for i, m in enumerate(METRICS)}
    out = out.assign(_m=out["metric"].map(order)).sort_values(["period", "touchpoint", "channel", "segment", "_m"])
    return out[CHANGE_COLUMNS].reset_index(drop=True)


def target_status(metrics: pd.DataFrame, targets: Mapping[str, Mapping[str, float]], period: str) -> pd.DataFrame:
    """Gap to each target in ``period`` (channel and segment ``all``), with its interval and status.

    Every metric is better when higher. ``met``: the interval lies at or above the target; ``missed``:
    it lies below; ``can't tell``: it straddles the target, or there is no value (``note`` says
    ``suppressed`` or ``no data``). Volume has no interval, so its point value decides.

    Parameters
    ----------
    metrics : DataFrame
        The published metrics table (:func:`publishable`).
    targets : mapping
        ``{metric: {touchpoint or "all": target}}`` as in params (NPS on the −100..100 scale, shares
        as fractions).
    period : str
        Period label, usually the latest.

    Returns
    -------
    DataFrame
        :data:`TARGET_COLUMNS`, one row per target.

    Examples
    --------
    >>> m = pd.DataFrame({"period": ["2026Q3"], "touchpoint": ["billing"], "channel": ["all"],
    ...                   "segment": ["all"], "metric": ["csat_top2"], "n": [400], "value": [0.62],
    ...                   "ci_lower": [0.57], "ci_upper": [0.67], "suppressed": [False]})
    >>> target_status(m, {"csat_top2": {"billing": 0.70}}, "2026Q3")[["gap", "status"]].round(2).values.tolist()
    [[-0.08, 'missed']]
    """
    top = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)]
    top = top.set_index(["metric", "touchpoint"])
    rows = []
    for metric, by_tp in targets.items():
        for tp, target in by_tp.items():
            row = top.loc[(metric, tp)] if (metric, tp) in top.index else None
            value = np.nan if row is None else float(row["value"])
            lo, hi = (value, value) if SPECS[metric].kind == "count" or row is None else (row["ci_lower"], row["ci_upper"])
            if row is None:
                status, note = "can't tell", "no data"
            elif bool(row["suppressed"]):
                status, note = "can't tell", "suppressed"
            elif lo >= target:
                status, note = "met", ""
            elif hi < target:
                status, note = "missed", ""
            else:
                status, note = "can't tell", "interval straddles the target"
            rows.append({"metric": metric, "touchpoint": tp, "period": period, "target": float(target),
                         "n": None if row is None else row["n"], "value": value,
                         "ci_lower": np.nan if row is None else row["ci_lower"],
                         "ci_upper": np.nan if row is None else row["ci_upper"],
                         "gap": value - target, "gap_lower": lo - target, "gap_upper": hi - target,
                         "status": status, "note": note})
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


# ---- views for the report --------------------------------------------------------------------------


def latest_view(metrics: pd.DataFrame, period: str, touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """One period at channel and segment ``all``: a row per touchpoint (``all`` first), a column per metric.

    Only the interaction metrics (NPS has no touchpoint). Suppressed values are missing.

    Examples
    --------
    >>> m = pd.DataFrame({"period": "2026Q3", "touchpoint": ["app", "all", "app"], "channel": "all",
    ...                   "segment": "all", "metric": ["csat_top2", "csat_top2", "volume"],
    ...                   "value": [0.7, 0.65, 120.0]})
    >>> latest_view(m, "2026Q3").values.tolist()
    [['all', nan, 0.65], ['app', 120.0, 0.7]]
    """
    rows = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & metrics["metric"].isin([s.name for s in METRIC_SPECS if s.n not in SURVEY_SUMS])]
    wide = rows.pivot(index="touchpoint", columns="metric", values="value")
    order = [ALL, *(touchpoints or sorted(t for t in wide.index if t != ALL))]
    order += sorted(t for t in wide.index if t not in order)
    cols = [m for m in METRICS if m in wide.columns]
    return wide.reindex(index=order, columns=cols).rename_axis(index="touchpoint", columns=None).reset_index()


def journey_order(journey: Mapping[str, Sequence[str]] | None, touchpoints: Sequence[str]) -> list[tuple[str, str]]:
    """``(stage, touchpoint)`` pairs along the journey, then the other touchpoints under ``other``.

    Examples
    --------
    >>> journey_order({"start": ["onboarding"], "pay": ["billing"]}, ["app", "billing", "onboarding"])
    [('start', 'onboarding'), ('pay', 'billing'), ('other', 'app')]
    """
    pairs = [(stage, tp) for stage, tps in (journey or {}).items() for tp in tps if tp in touchpoints]
    placed = {tp for _, tp in pairs}
    return pairs + [("other", tp) for tp in touchpoints if tp not in placed]


def journey_view(metrics: pd.DataFrame, changes: pd.DataFrame, journey: Mapping[str, Sequence[str]] | None,
                 period: str, touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """One period along the customer journey: stage, touchpoint, interaction metrics, significant changes.

    Touchpoints of the data not named in ``journey`` come last under the stage ``other``. The
    ``changed`` column lists the metrics whose change since the previous period (channel and segment
    ``all``) survives Benjamini–Hochberg, with the difference. Suppressed values are missing.

    Examples
    --------
    >>> m = pd.DataFrame({"period": "2026Q3", "touchpoint": ["app", "billing"], "channel": "all",
    ...                   "segment": "all", "metric": "csat_mean", "value": [4.1, 3.2]})
    >>> ch = pd.DataFrame({"period": ["2026Q3"], "touchpoint": ["billing"], "channel": ["all"], "segment": ["all"],
    ...                    "metric": ["csat_mean"], "difference": [-0.4], "significant": [True]})
    >>> journey_view(m, ch, {"pay": ["billing"]}, "2026Q3").values.tolist()
    [['pay', 'billing', 3.2, 'mean CSAT −0.40'], ['other', 'app', 4.1, '']]
    """
    wide = latest_view(metrics, period, touchpoints).set_index("touchpoint").drop(index=ALL, errors="ignore")
    pairs = journey_order(journey, list(wide.index))
    view = wide.loc[[tp for _, tp in pairs]].reset_index()
    view.insert(0, "stage", [stage for stage, _ in pairs])
    sig = changes[(changes["period"] == period) & changes["significant"].astype(bool)
                  & (changes["channel"] == ALL) & (changes["segment"] == ALL)]
    notes = {tp: "; ".join(f"{SPECS[m].label} {format_difference(m, d)}" for m, d in zip(g["metric"], g["difference"]))
             for tp, g in sig.groupby("touchpoint")}
    view["changed"] = view["touchpoint"].map(notes).fillna("")
    return view


def breakdown(metrics: pd.DataFrame, metric: str, period: str, by: str = "channel",
              touchpoints: Sequence[str] | None = None) -> pd.DataFrame:
    """``metric`` in ``period`` as touchpoint x ``by`` (``channel`` or ``segment``), the other dimension ``all``.

    Suppressed cells and cells without data are missing. Rows: touchpoints (``all`` last); columns:
    the values of ``by`` (``all`` last).

    Examples
    --------
    >>> m = pd.DataFrame({"period": "2026Q3", "touchpoint": ["app", "app", "all"], "channel": ["chat", "all", "all"],
    ...                   "segment": "all", "metric": "csat_top2", "value": [0.8, 0.7, 0.6]})
    >>> breakdown(m, "csat_top2", "2026Q3").values.tolist()
    [['app', 0.8, 0.7], ['all', nan, 0.6]]
    """
    other = "segment" if by == "channel" else "channel"
    rows = metrics[(metrics["metric"] == metric) & (metrics["period"] == period) & (metrics[other] == ALL)]
    wide = rows.pivot(index="touchpoint", columns=by, values="value")
    order = display_order([t for t in wide.index if t != ALL], touchpoints)
    cols = sorted(c for c in wide.columns if c != ALL) + [ALL]
    return wide.reindex(index=[*order, ALL], columns=cols).rename_axis(index="touchpoint", columns=None).reset_index()


def portfolio_grid(metrics: pd.DataFrame, targets: pd.DataFrame, period: str,
                   touchpoints: Sequence[str] | None = None, columns: Sequence[str] = GRID_METRICS) -> pd.DataFrame:
    """Long table behind the portfolio figure: ``all`` then each touchpoint, ``columns`` in order.

    Columns: :data:`GRID_COLUMNS` (``status`` missing where no target is set). NPS exists only in
    the ``all`` row.

    Examples
    --------
    >>> m = pd.DataFrame({"period": "2026Q3", "touchpoint": ["app", "all"], "channel": "all", "segment": "all",
    ...                   "metric": "csat_top2", "value": [0.8, 0.6], "ci_lower": [0.7, 0.5],
    ...                   "ci_upper": [0.9, 0.7], "suppressed": False})
    >>> t = pd.DataFrame({"metric": ["csat_top2"], "touchpoint": ["all"], "target": [0.75], "status": ["missed"]})
    >>> portfolio_grid(m, t, "2026Q3")[["touchpoint", "value", "status"]].values.tolist()
    [['all', 0.6, 'missed'], ['app', 0.8, nan]]
    """
    rows = metrics[(metrics["period"] == period) & (metrics["channel"] == ALL) & (metrics["segment"] == ALL)
                   & metrics["metric"].isin(list(columns))]
    order = [ALL, *display_order([t for t in rows["touchpoint"].unique() if t != ALL], touchpoints)]
    goals = targets[["metric", "touchpoint", "target", "status"]] if len(targets) else pd.DataFrame(
        columns=["metric", "touchpoint", "target", "status"])
    grid = rows.merge(goals, on=["metric", "touchpoint"], how="left")
    grid = grid.assign(_r=grid["touchpoint"].map({t: i for i, t in enumerate(order)}),
                       _c=grid["metric"].map({m: i for i, m in enumerate(columns)}))
    return grid.sort_values(["_r", "_c"])[GRID_COLUMNS].reset_index(drop=True)


# ---- the analysis ----------------------------------------------------------------------------------


@result
class Portfolio(Result):
    """The touchpoint metric portfolio of one run.

    Attributes
    ----------
    metrics : DataFrame
        The ``metrics.csv`` contract table, suppression applied (``to_frame()``).
    changes : DataFrame
        Period-over-period tests (:data:`CHANGE_COLUMNS`, ``metric_changes.csv``), shown cells only.
    targets : DataFrame
        Gap to each target in the latest period (:data:`TARGET_COLUMNS`, ``metric_targets.csv``).
    periods : tuple of str
        Every period from the first in the data to the one containing ``as_of``.
    period : str
        ``quarter`` or ``month``.
    latest : str
        The period containing ``as_of``.
    min_cell_size : int
    level, fdr : float
        Confidence level of the intervals and false discovery rate of the change flags.
    suppressed_primary, suppressed_secondary : int
        Rows of ``metrics`` hidden because they are small (or were hidden in the previous run),
        and to protect small ones.
    disclosure : dict
        The audit figures (:func:`cxlib.analyses.metric_suppression.suppress`): primary and
        secondary cells, the narrowest protection interval, whether the audit passed.
    summary : DataFrame
        The latest period, channel and segment ``all``: a row per touchpoint, a column per metric.

    Examples
    --------
    >>> e = pd.DataFrame(columns=RESULT_COLUMNS["metrics"])
    >>> p = Portfolio(e, pd.DataFrame(columns=CHANGE_COLUMNS), pd.DataFrame(columns=TARGET_COLUMNS),
    ...               periods=("2026Q3",), period="quarter", latest="2026Q3", min_cell_size=10)
    >>> print(repr(p).splitlines()[1][:56])
    The portfolio covers 1 quarter, 2026Q3, in 0 rows of met
    >>> p.to_frame().shape, sorted(p.to_dict())[:3]
    ((0, 10), ['fdr', 'latest', 'level'])
    """

    title: ClassVar[str] = "Touchpoint metric portfolio"
    metrics: pd.DataFrame = field(repr=False)
    changes: pd.DataFrame = field(repr=False)
    targets: pd.DataFrame
    periods: tuple[str, ...]
    period: str
    latest: str
    min_cell_size: int
    level: float = 0.95
    fdr: float = 0.05
    suppressed_primary: int = 0
    suppressed_secondary: int = 0
    disclosure: dict = field(default_factory=dict, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """The latest period, channel and segment ``all``: one row per touchpoint, one column per metric."""
        return latest_view(self.metrics, self.latest)

    def to_frame(self) -> pd.DataFrame:
        """The ``metrics.csv`` contract table."""
        return self.metrics[RESULT_COLUMNS["metrics"]]

    def _lines(self) -> list[str]:
        return [describe_coverage(self.periods, self.period, len(self.metrics), self.min_cell_size,
                                  self.suppressed_primary, self.suppressed_secondary,
                                  self.disclosure.get("protection_width"))]


def touchpoint_portfolio(interactions: ir.Table | None, customers: ir.Table | None, surveys: ir.Table | None = None, *,
                         as_of: dt.date, period: str = "quarter", min_cell_size: int = 10,
                         targets: Mapping[str, Mapping[str, float]] | None = None,
                         level: float = 0.95, fdr: float = 0.05,
                         touchpoints: Sequence[str] | None = None, protection_width: int | None = None,
                         previous: pd.DataFrame | None = None, previous_as_of: dt.date | None = None) -> Portfolio:
    """Measure every touchpoint: metrics with intervals, change since last period, targets, suppression.

    Parameters
    ----------
    interactions, customers, surveys : ibis Table or None
        The clean input tables (``Workbook.interactions`` ...). Without interactions only NPS rows
        are produced; without surveys no NPS rows; customers give the segment.
    as_of : datetime.date
        Rows up to the end of this day count; the last period is the one containing it.
    period : {"quarter", "month"}
    min_cell_size : int
        Cells with fewer observations (the metric's ``n``) or fewer distinct customers behind them
        are suppressed, with secondary cells.
    targets : mapping, optional
        ``params.targets``: ``{metric: {touchpoint or "all": target}}``.
    level : float
        Confidence level of every interval.
    fdr : float
        Benjamini–Hochberg false discovery rate for flagging changes.
    touchpoints : sequence of str, optional
        The touchpoints measured on their own (``Workbook.touchpoints()``); interactions at any other
        are pooled as one touchpoint (:func:`cxlib.features.cube.pool_touchpoints`). Default: all.
    protection_width : int, optional
        Narrowest interval an outsider may derive for a suppressed count (default ``min_cell_size``).
    previous, previous_as_of : DataFrame and date, optional
        The previous run of the series (its ``metrics.csv`` and ``as_of``): its closed periods keep
        their pattern.

    Returns
    -------
    Portfolio

    Raises
    ------
    RunError
        The audit cannot pass: some suppressed count stays narrower than ``protection_width``
        even with every eligible cell hidden (nothing may be published then).

    Examples
    --------
    >>> import ibis
    >>> i = ibis.memtable({"customer_id": [f"c{k % 30}" for k in range(60)], "touchpoint": "app",
    ...                    "channel": "chat", "csat": [5, 4, 2] * 20, "ces": None, "resolved": None,
    ...                    "timestamp": pd.to_datetime(["2026-05-01", "2026-08-01"] * 30)}).cast({"ces": "int64", "resolved": "boolean"})
    >>> p = touchpoint_portfolio(i, None, as_of=dt.date(2026, 9, 30), targets={"csat_top2": {"app": 0.5}})
    >>> p.periods, p.targets[["metric", "touchpoint", "value", "status"]].values.tolist()
    (('2026Q2', '2026Q3'), [['csat_top2', 'app', 0.6666666666666666, "can't tell"]])
    """
    if interactions is not None and touchpoints is not None:
        interactions = pool_touchpoints(interactions, touchpoints)
    icube = interaction_sums(interactions, customers, as_of, period) if interactions is not None else None
    scube = survey_sums(surveys, customers, as_of, period) if surveys is not None else None
    # no cumulative all-period rows: two runs' cumulative rows would disclose the new period by difference
    icube, scube = (None if c is None else c[c["period"] != ALL].reset_index(drop=True) for c in (icube, scube))
    est, audit = suppress(estimates(icube, scube, level), icube, scube, min_cell_size, protection_width,
                          previous=previous, previous_as_of=previous_as_of, period=period)
    if not audit["passed"]:
        raise RunError(f"The disclosure audit failed: a suppressed count of metrics.csv can be narrowed down to "
                       f"{audit['narrowest_interval']:g}, less than protection_width = {audit['protection_width']}, "
                       "even with every eligible cell suppressed (cells published by the previous run may not be "
                       "hidden now). Nothing was published. Lower protection_width, or publish coarser periods.")
    metrics = publishable(est)
    latest = period_label(as_of, period)
    seen = [p for cube in (icube, scube) if cube is not None for p in cube["period"] if p != ALL]
    return Portfolio(
        metrics=metrics, changes=period_changes(est, period, level, fdr),
        targets=target_status(metrics, targets or {}, latest),
        periods=tuple(period_range(min(seen), latest, period)) if seen else (latest,),
        period=period, latest=latest, min_cell_size=min_cell_size, level=level, fdr=fdr,
        suppressed_primary=int((est["suppression"] == "primary").sum()),
        suppressed_secondary=int((est["suppression"] == "secondary").sum()), disclosure=audit,
    )
