"""Competing risks: churn causes and the Aalen–Johansen cumulative incidence, from per-day counts.

A churner leaves for one cause (``voluntary``, ``involuntary``, ``other`` …). With competing causes
``1 − KM`` of one cause with the others censored overstates that cause's risk; the quantity that
answers "what share of customers has churned for cause k by day t" is the **cumulative incidence**
``F_k(t) = P(T ≤ t, cause = k)``, estimated by Aalen–Johansen. The causes' incidences add up to
``1 − S(t)``, the all-cause Kaplan–Meier churn.

Everything here works from the same per-day counts as :func:`cxlib.stats.km.kaplan_meier`
(``group``, ``days``, ``events``, ``censored``) with one more column, ``cause``: the engine groups
by (group, days, cause), so the estimator scales to any number of customers.

* :func:`cumulative_incidence` — Aalen–Johansen per group and cause, delta-method (Greenwood-type)
  variance, 95 % intervals on the log(−log) scale, values at horizons; a
  :class:`CumulativeIncidenceResult` whose ``to_frame()`` is ``cumulative_incidence.csv``.
* :func:`assign_causes` / :func:`cause_lookup` — churn reasons → causes from params ``churn_causes``
  (unmapped reasons → ``other``; churners without a reason counted separately).
* :func:`cause_counts` — the per-day counts from one row per customer (pandas; for small data and
  tests — the engine computes the same with one GROUP BY).

Time convention (as Kaplan–Meier's): at risk on day t are the customers with duration ≥ t; on a
day with churns and censorings the churns come first; several churns on one day, of the same or of
different causes, are one step of the estimator (no jittering is needed, see :func:`cumulative_incidence`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.errors import NotEstimable, ParamsError
from cxlib.results import Result, result

__all__ = [
    "ALL_CAUSES",
    "cause_order",
    "CUMULATIVE_INCIDENCE_COLUMNS",
    "OTHER",
    "CauseAssignment",
    "CumulativeIncidenceResult",
    "assign_causes",
    "cause_counts",
    "cause_lookup",
    "cumulative_incidence",
]

ALL_CAUSES = "all"  # the one cause of a run without churn reasons
OTHER = "other"  # the cause of a reason that churn_causes does not map
ALPHA = 0.05
CUMULATIVE_INCIDENCE_COLUMNS = ["group", "cause", "days", "cumulative_incidence", "ci_lower", "ci_upper", "at_risk"]
CURVE_COLUMNS = ["group", "cause", "days", "events", "all_events", "censored", "at_risk", "survival",
                 "cumulative_incidence", "variance", "ci_lower", "ci_upper"]
METHOD = ("Aalen–Johansen cumulative incidence by cause from per-day counts; delta-method variance "
          "(Dinse & Larson 1986; Marubini & Valsecchi 1995); {level:g} % intervals on the log(−log) scale")


# =================================================================================================
# Churn reasons → causes
# =================================================================================================


def _norm(reason: Any) -> str:
    """A reason as matched: surrounding blanks removed, lower case (SQL lower()); '' for a missing reason."""
    if reason is None or (isinstance(reason, float) and np.isnan(reason)) or reason is pd.NA:
        return ""
    return str(reason).strip().lower()


def cause_lookup(churn_causes: Mapping[str, Sequence[str] | str] | None) -> dict[str, str]:
    """Params ``churn_causes`` as a lookup from reason (stripped, lower case) to cause.

    Parameters
    ----------
    churn_causes : mapping of str to list of str, optional
        Each cause and its reasons, e.g. ``{"voluntary": ["price", "competitor"]}``; a single
        reason may be given as a string. ``None`` or empty: no causes (one cause, ``all``).

    Returns
    -------
    dict
        ``{reason: cause}``; the engine can join on it (or build a CASE expression) as it is.

    Raises
    ------
    ParamsError
        A cause named ``all`` or empty, an empty reason, or a reason listed under two causes.

    Examples
    --------
    >>> cause_lookup({"voluntary": ["Price", " competitor"], "involuntary": "non_payment"})
    {'price': 'voluntary', 'competitor': 'voluntary', 'non_payment': 'involuntary'}
    >>> cause_lookup({"voluntary": ["price"], "involuntary": ["PRICE"]})
    Traceback (most recent call last):
    ...
    cxlib.errors.ParamsError: churn_causes: reason 'price' is listed under both 'voluntary' and 'involuntary'; give each reason one cause
    """
    lookup: dict[str, str] = {}
    for cause, reasons in (churn_causes or {}).items():
        name = str(cause).strip()
        if not name or name == ALL_CAUSES:
            raise ParamsError(f"churn_causes: {cause!r} cannot name a cause ('{ALL_CAUSES}' means all causes together)")
        for reason in [reasons] if isinstance(reasons, str) else list(reasons or []):
            key = _norm(reason)
            if not key:
                raise ParamsError(f"churn_causes: cause {name!r} lists an empty reason")
            if lookup.get(key, name) != name:
                raise ParamsError(f"churn_causes: reason {key!r} is listed under both {lookup[key]!r} and "
                                  f"{name!r}; give each reason one cause")
            lookup[key] = name
    return lookup


def cause_order(churn_causes: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The causes a run reports, in params order, ``other`` last; ``('all',)`` without causes.

    Examples
    --------
    >>> cause_order({"voluntary": ["price"], "involuntary": ["moved"]})
    ('voluntary', 'involuntary', 'other')
    >>> cause_order(None)
    ('all',)
    """
    if not churn_causes:
        return (ALL_CAUSES,)
    names = [str(c).strip() for c in churn_causes if str(c).strip() != OTHER]
    return (*names, OTHER)


@result
class CauseAssignment(Result):
    """Each churner's cause, and what the data-quality section reports about the reasons.

    Attributes
    ----------
    cause : pandas.Series
        Aligned with the input: the cause of each churner, missing (``None``) for the others.
    summary : pandas.DataFrame
        One row per cause and reason among churners: ``cause``, ``reason`` (as matched; empty when
        missing), ``churners``, ``status`` — ``mapped``, ``unmapped`` (not in ``churn_causes``: cause
        ``other``) or ``missing`` (no reason given).
    causes : tuple of str
        The causes reported (params order, ``other`` last) or ``('all',)``.
    n_churners, n_unmapped, n_missing, n_reason_not_churned : int or None
        Churners; churners whose reason is not mapped; churners without a reason; customers who
        have not churned (as of ``as_of``) but carry a reason (ignored). None: withheld by
        :func:`cxlib.stats.suppression.protect_reasons`.
    cause_churners : dict of str to int, optional
        Churners per cause, set by :func:`~cxlib.stats.suppression.protect_reasons` (the summary's
        counts may then be hidden); by default the summary's sums.
    min_cell_size : int, optional
        Set when small counts are hidden (the summary's hidden ``churners`` are missing).

    Examples
    --------
    >>> a = assign_causes(pd.Series(["price", "fraud"]), [True, True], {"voluntary": ["price"]})
    >>> a.summary[["cause", "reason", "churners", "status"]]
           cause reason  churners    status
    0  voluntary  price         1    mapped
    1      other  fraud         1  unmapped
    """

    title: ClassVar[str] = "Churn causes"
    summary: pd.DataFrame
    cause: pd.Series = field(repr=False)
    causes: tuple[str, ...] = (ALL_CAUSES,)
    n_churners: int = 0
    n_unmapped: int | None = 0
    n_missing: int | None = 0
    n_reason_not_churned: int | None = 0
    cause_churners: dict[str, int] | None = None
    min_cell_size: int | None = None

    @property
    def unmapped_reasons(self) -> list[str]:
        """Reasons found among churners that ``churn_causes`` does not map, most frequent first."""
        s = self.summary.loc[self.summary["status"] == "unmapped"]
        return s.sort_values("churners", ascending=False, kind="stable")["reason"].tolist()

    def to_frame(self) -> pd.DataFrame:
        return self.summary

    def _lines(self) -> list[str]:
        lines = [f"{self.n_churners:,} churners; causes: {', '.join(self.causes)}"]
        if self.n_unmapped:
            lines.append(f"{self.n_unmapped:,} churners have a reason not mapped to a cause (counted as '{OTHER}')")
        if self.n_missing:
            lines.append(f"{self.n_missing:,} churners have no churn reason")
        if self.n_reason_not_churned:
            lines.append(f"{self.n_reason_not_churned:,} customers who had not churned carry a churn reason (ignored)")
        return lines


def assign_causes(reasons: pd.Series | None, churned: pd.Series | Sequence[bool],
                  churn_causes: Mapping[str, Sequence[str] | str] | None = None,
                  missing_cause: str = OTHER, weights: Sequence[int] | None = None) -> CauseAssignment:
    """Map each churner's ``churn_reason`` to a cause (pure pandas).

    Parameters
    ----------
    reasons : pandas.Series or None
        ``churn_reason`` per customer; ``None`` when the column is absent.
    churned : pandas.Series or sequence of bool
        Churned as of ``as_of`` (aligned with ``reasons``).
    churn_causes : mapping, optional
        Params ``churn_causes``. Without it (or without ``reasons``) every churner has cause ``all``.
    missing_cause : str
        The cause given to a churner without a reason (default ``other``: the churn is kept — dropping
        it would bias every cumulative incidence down — and it is counted separately as ``missing``).
    weights : sequence of int, optional
        Customers each row stands for (default 1): the engine can send one row per distinct
        (reason, churned) with its count instead of one row per customer.

    Returns
    -------
    CauseAssignment

    Examples
    --------
    >>> a = assign_causes(pd.Series(["Price", "moved", "fraud", None, "price"]),
    ...                   [True, True, True, True, False],
    ...                   {"voluntary": ["price"], "involuntary": ["moved"]})
    >>> a.cause.tolist()
    ['voluntary', 'involuntary', 'other', 'other', None]
    >>> a.n_unmapped, a.n_missing, a.n_reason_not_churned, a.unmapped_reasons
    (1, 1, 1, ['fraud'])
    >>> assign_causes(None, [True, False]).cause.tolist()
    ['all', None]
    >>> w = assign_causes(pd.Series(["price", "fraud", "price"]), [True, True, False], {"voluntary": ["price"]},
    ...                   weights=[40, 3, 2])
    >>> w.summary.to_dict("list"), w.n_churners, w.n_reason_not_churned
    ({'cause': ['voluntary', 'other'], 'reason': ['price', 'fraud'], 'churners': [40, 3], 'status': ['mapped', 'unmapped']}, 43, 2)
    """
    churned_arr = np.asarray(churned, dtype=bool)
    w = np.ones(len(churned_arr), dtype="int64") if weights is None else np.asarray(weights, dtype="int64")
    index = reasons.index if reasons is not None else pd.RangeIndex(len(churned_arr))
    causes = cause_order(churn_causes if reasons is not None else None)
    empty = pd.DataFrame(columns=["cause", "reason", "churners", "status"])
    if reasons is None or not churn_causes:
        cause = pd.Series(np.where(churned_arr, ALL_CAUSES, None), index=index, dtype=object)
        summary = pd.DataFrame({"cause": [ALL_CAUSES], "reason": [""], "churners": [int(w[churned_arr].sum())],
                                "status": ["mapped"]}) if churned_arr.any() else empty
        return CauseAssignment(summary=summary, cause=cause, causes=causes, n_churners=int(w[churned_arr].sum()))
    if missing_cause not in causes:
        raise ParamsError(f"the cause of churners without a reason, {missing_cause!r}, is not one of {list(causes)}")
    lookup = cause_lookup(churn_causes)
    key = reasons.map(_norm)
    mapped = key.map(lookup)
    status = np.where(key == "", "missing", np.where(mapped.notna(), "mapped", "unmapped"))
    cause_all = np.where(status == "missing", missing_cause, np.where(status == "mapped", mapped, OTHER))
    cause = pd.Series(np.where(churned_arr, cause_all, None), index=index, dtype=object)
    frame = pd.DataFrame({"cause": cause_all, "reason": key.to_numpy(), "status": status, "w": w})[churned_arr]
    summary = (frame.groupby(["cause", "reason", "status"], sort=False)["w"].sum().rename("churners").reset_index()
               if len(frame) else empty)
    if len(summary):
        order = {c: i for i, c in enumerate(causes)}
        summary = (summary.assign(_o=summary["cause"].map(order), churners=summary["churners"].astype("int64"))
                   .sort_values(["_o", "churners", "reason"], ascending=[True, False, True], kind="stable")
                   [["cause", "reason", "churners", "status"]].reset_index(drop=True))
    return CauseAssignment(
        summary=summary, cause=cause, causes=causes, n_churners=int(w[churned_arr].sum()),
        n_unmapped=int(w[(status == "unmapped") & churned_arr].sum()),
        n_missing=int(w[(status == "missing") & churned_arr].sum()),
        n_reason_not_churned=int(w[(key != "").to_numpy() & ~churned_arr].sum()),
    )


def cause_counts(durations: Any, cause: Any, group: Any = ALL_CAUSES) -> pd.DataFrame:
    """Per-day counts ``group, days, cause, events, censored`` from one row per customer (pandas).

    Parameters
    ----------
    durations : array-like
        Days from signup to churn or to ``as_of`` (≥ 0).
    cause : array-like
        The churn cause; missing (None / NaN) for a customer who has not churned (censored).
    group : str or array-like
        The group label(s), ``all`` by default.

    Examples
    --------
    >>> print(cause_counts([3, 3, 5, 5], ["a", None, "b", "a"]).to_string(index=False))
    group  days cause  events  censored
      all     3     a       1         0
      all     3  None       0         1
      all     5     a       1         0
      all     5     b       1         0
    """
    df = pd.DataFrame({"group": group, "days": np.asarray(durations), "cause": pd.Series(cause, dtype=object).to_numpy()})
    censored = df["cause"].isna()
    df["events"], df["censored"] = (~censored).astype("int64"), censored.astype("int64")
    out = df.groupby(["group", "days", "cause"], sort=True, as_index=False, dropna=False)[["events", "censored"]].sum()
    out["cause"] = out["cause"].astype(object).where(out["cause"].notna(), None)
    out = out.assign(_c=out["cause"].isna()).sort_values(["group", "days", "_c"], kind="stable")
    return out.drop(columns="_c").reset_index(drop=True)


# =================================================================================================
# Aalen–Johansen
# =================================================================================================


@result
class CumulativeIncidenceResult(Result):
    """Aalen–Johansen cumulative incidence of each cause, per group.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per group and cause: ``group``, ``cause``, ``n`` (customers), ``events`` (churns of the
        cause), ``max_days`` (longest follow-up), ``cumulative_incidence`` / ``ci_lower`` /
        ``ci_upper`` at ``max_days``.
    curves : pandas.DataFrame
        One row per group, day with a churn or a censoring, and cause (:data:`CURVE_COLUMNS`):
        ``events`` of the cause, ``all_events``, ``censored``, ``at_risk`` (duration ≥ days),
        ``survival`` (all-cause Kaplan–Meier), ``cumulative_incidence``, ``variance``, ``ci_lower``,
        ``ci_upper``. Left out of ``to_dict()``.
    causes : tuple of str
        In reporting order (the stacking order of the figure).
    horizons : tuple of int
        Days at which ``to_frame()`` adds a row (``horizons_days``).
    suppressed : tuple of str
        Groups left out because they have fewer customers than ``min_n``.
    alpha : float
        1 − confidence level.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": "all", "days": [1, 1, 2], "cause": ["a", "b", None],
    ...                        "events": [1, 1, 0], "censored": [0, 0, 1]})
    >>> ci = cumulative_incidence(counts)
    >>> ci.causes, ci.summary["cumulative_incidence"].round(3).tolist()
    (('a', 'b'), [0.333, 0.333])
    """

    title: ClassVar[str] = "Cumulative incidence of churn by cause"
    summary: pd.DataFrame
    curves: pd.DataFrame = field(repr=False)
    causes: tuple[str, ...] = (ALL_CAUSES,)
    horizons: tuple[int, ...] = ()
    suppressed: tuple[str, ...] = ()
    alpha: float = ALPHA

    def _lines(self) -> list[str]:
        lines = [METHOD.format(level=100 * (1 - self.alpha))]
        if self.suppressed:
            lines.append(f"{len(self.suppressed)} group(s) with too few customers are not shown")
        return lines

    def at(self, days: Sequence[int]) -> pd.DataFrame:
        """Cumulative incidence with its interval and the customers at risk at given days, per group and cause.

        Before a group's first churn the incidence is 0; beyond its longest follow-up it is
        undefined (NaN) and ``at_risk`` is 0.

        Returns
        -------
        pandas.DataFrame
            :data:`CUMULATIVE_INCIDENCE_COLUMNS`.
        """
        rows = []
        days = [int(d) for d in days]
        for (group, cause), c in self.curves.groupby(["group", "cause"], sort=False):
            t = c["days"].to_numpy()
            removed = (c["all_events"] + c["censored"]).to_numpy()
            vals = c[["cumulative_incidence", "ci_lower", "ci_upper"]].to_numpy(float)
            for h in days:
                k = np.searchsorted(t, h, side="right") - 1
                if h > t[-1]:
                    v = (np.nan, np.nan, np.nan)
                elif k < 0:
                    v = (0.0, 0.0, 0.0)
                else:
                    v = tuple(vals[k])
                rows.append({"group": group, "cause": cause, "days": h, "cumulative_incidence": v[0],
                             "ci_lower": v[1], "ci_upper": v[2], "at_risk": int(removed[t >= h].sum())})
        return pd.DataFrame(rows, columns=CUMULATIVE_INCIDENCE_COLUMNS)

    def to_frame(self, horizons: Sequence[int] | None = None) -> pd.DataFrame:
        """``cumulative_incidence.csv``: per group, every cause on every day with a churn, plus each horizon.

        All causes of a group share one grid of days (the days with a churn of any cause), so the
        file stacks directly into the figure and the causes add up to 1 − retention on every row.
        A horizon that falls on a churn day appears once; a horizon beyond the group's longest
        follow-up has no row.
        """
        horizons = self.horizons if horizons is None else tuple(horizons)
        steps = self.curves.loc[self.curves["all_events"] > 0, CUMULATIVE_INCIDENCE_COLUMNS]
        at = self.at(horizons).dropna(subset=["cumulative_incidence"])
        at = at.merge(steps[["group", "cause", "days"]], how="left", indicator=True)
        at = at.loc[at["_merge"] == "left_only", CUMULATIVE_INCIDENCE_COLUMNS]
        out = pd.concat([steps, at], ignore_index=True) if len(at) else steps.reset_index(drop=True)
        g_order = {g: i for i, g in enumerate(dict.fromkeys(self.summary["group"]))}
        c_order = {c: i for i, c in enumerate(self.causes)}
        out = out.assign(_g=out["group"].map(g_order), _c=out["cause"].map(c_order))
        out = out.sort_values(["_g", "_c", "days"], kind="stable").drop(columns=["_g", "_c"])
        return out.astype({"days": "int64", "at_risk": "int64"}).reset_index(drop=True)


def _groupwise(values: np.ndarray, starts: np.ndarray, op: str) -> np.ndarray:
    """Cumulative sum or product of ``values`` restarting at each group's first row (``starts``)."""
    group_id = np.cumsum(starts) - 1
    s = pd.Series(values)
    return (s.groupby(group_id).cumsum() if op == "sum" else s.groupby(group_id).cumprod()).to_numpy()


def cumulative_incidence(counts: pd.DataFrame, causes: Sequence[str] | None = None, min_n: int = 1,
                         alpha: float = ALPHA, horizons: Sequence[int] = ()) -> CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence of each cause with delta-method intervals, from per-day counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``group``, ``days``, ``cause``, ``events``, ``censored`` (:func:`cause_counts`, or the engine's
        GROUP BY group, days, cause). A row's ``events`` are churns of its ``cause``; its
        ``censored`` are counted whatever its cause (null for active customers). Without a ``cause``
        column — the Kaplan–Meier counts as they are — there is one cause, ``all``. Several
        groupings may be concatenated; ``days`` may be any sortable number.
    causes : sequence of str, optional
        The causes in reporting order; every cause in ``counts`` must be listed, and a listed cause
        without churns gets an incidence of 0. Default: the causes found, sorted, ``other`` last.
    min_n : int
        Groups with fewer customers are suppressed (``min_cell_size``).
    alpha : float
        1 − confidence level of the pointwise intervals.
    horizons : sequence of int
        Days at which ``to_frame()`` reports each curve (``horizons_days``).

    Returns
    -------
    CumulativeIncidenceResult

    Raises
    ------
    NotEstimable
        When no group has at least ``min_n`` customers.

    Notes
    -----
    On the ordered days ``t_1 < t_2 < …`` with ``n_j`` customers at risk (duration ≥ ``t_j``),
    ``d_kj`` churns of cause k and ``d_j = Σ_k d_kj``::

        S(t)   = Π_{t_j ≤ t} (1 − d_j / n_j)                      all-cause Kaplan–Meier
        F_k(t) = Σ_{t_j ≤ t} S(t_{j−1}) d_kj / n_j                Aalen–Johansen (Aalen & Johansen 1978)

    Churns on one day, of one cause or several, form one step: this is the exact Aalen–Johansen
    estimator on the day grid, and it equals what any untying of the day's churns gives (each of
    them adds ``S(t_{j−1}) / n_j`` whatever their order) provided the censorings of that day come
    after them. lifelines' ``AalenJohansenFitter`` instead jitters tied times of different causes at
    random, which moves some churns past that day's censorings; with no such ties it agrees with
    this function to rounding (see tests/test_competing.py). Σ_k F_k(t) = 1 − S(t) on every day.

    Variance (delta method with multinomial increments; Dinse & Larson 1986, Marubini & Valsecchi
    1995, Collett 2015 p. 411 — the formula of lifelines' ``AalenJohansenFitter``)::

        Var F_k(t) = Σ_{t_j ≤ t} { [F_k(t) − F_k(t_j)]² d_j / (n_j (n_j − d_j))
                                   + S(t_{j−1})² d_kj (n_j − d_kj) / n_j³
                                   − 2 [F_k(t) − F_k(t_j)] S(t_{j−1}) d_kj / n_j² }

    (the first term is 0 on a day where every customer at risk churns: then t_j is the last day).
    The interval is ``exp(−exp(log(−log F) ± z se / (F |log F|)))``, the log(−log) transform of
    lifelines' ``AalenJohansenFitter``, which keeps it inside (0, 1); it is [0, 0] before the
    cause's first churn and [1, 1] where F = 1.

    Examples
    --------
    Five customers; day 1: one churn of each cause and one censoring; day 2: one churn ``a``;
    day 3: the last customer is censored.

    >>> counts = pd.DataFrame({"group": "all", "days": [1, 1, 1, 2, 3], "cause": ["a", "b", None, "a", None],
    ...                        "events": [1, 1, 0, 1, 0], "censored": [0, 0, 1, 0, 1]})
    >>> ci = cumulative_incidence(counts)
    >>> ci.curves.pivot(index="days", columns="cause", values="cumulative_incidence").round(4)
    cause    a    b
    days
    1      0.2  0.2
    2      0.5  0.2
    3      0.5  0.2
    >>> ci.curves.drop_duplicates("days")["survival"].round(4).tolist()
    [0.6, 0.3, 0.3]
    >>> ci.to_frame(horizons=[3]).round(3)
      group cause  days  cumulative_incidence  ci_lower  ci_upper  at_risk
    0   all     a     1                   0.2     0.008     0.582        5
    1   all     a     2                   0.5     0.053     0.849        2
    2   all     a     3                   0.5     0.053     0.849        1
    3   all     b     1                   0.2     0.008     0.582        5
    4   all     b     2                   0.2     0.008     0.582        2
    5   all     b     3                   0.2     0.008     0.582        1
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    c = counts.copy()
    if "cause" not in c.columns:
        c["cause"] = np.where(c["events"].to_numpy() > 0, ALL_CAUSES, None)
    missing = c["cause"].isna() & (c["events"] > 0)
    if missing.any():
        raise ValueError(f"{int(c.loc[missing, 'events'].sum())} churn events have no cause; give every churn a cause "
                         f"(assign_causes maps churners without a reason to '{OTHER}')")
    found = [x for x in pd.unique(c.loc[c["events"] > 0, "cause"])]
    if causes is None:
        causes = tuple(sorted(found, key=lambda x: (x == OTHER, str(x))))
        if not causes:
            causes = (ALL_CAUSES,)
    causes = tuple(causes)
    unknown = sorted(set(found) - set(causes), key=str)
    if unknown:
        raise ValueError(f"counts carry causes {unknown} that are not among causes={list(causes)}")

    # one row per (group, day): censored and each cause's events as columns
    ev = (c.loc[c["events"] > 0].groupby(["group", "days", "cause"])["events"].sum()
          .unstack("cause", fill_value=0).reindex(columns=list(causes), fill_value=0))
    cens = c.groupby(["group", "days"])["censored"].sum()
    ev = ev.reindex(cens.index, fill_value=0)  # every (group, day), whatever the causes are called
    group_order = list(dict.fromkeys(counts["group"]))
    wide = cens.reset_index()
    order = np.lexsort((wide["days"].to_numpy(), wide["group"].map({g: i for i, g in enumerate(group_order)}).to_numpy()))
    wide = wide.iloc[order].reset_index(drop=True)
    d_k = ev.to_numpy(float)[order]  # rows × causes
    d = d_k.sum(axis=1)
    removed = d + wide["censored"].to_numpy(float)
    n_group = pd.Series(removed).groupby(wide["group"].to_numpy()).transform("sum").to_numpy()
    starts = np.r_[True, wide["group"].to_numpy()[1:] != wide["group"].to_numpy()[:-1]]
    n = n_group - _groupwise(removed, starts, "sum") + removed  # at risk: duration ≥ days

    keep = n_group >= min_n
    suppressed = tuple(sorted(pd.unique(wide.loc[~keep, "group"]), key=str))
    if not keep.any():
        raise NotEstimable(f"no group has at least {min_n} customers, so no cumulative incidence is shown",
                           model="cumulative_incidence")
    wide, d_k, d, removed, n, starts = wide[keep].reset_index(drop=True), d_k[keep], d[keep], removed[keep], n[keep], starts[keep]

    with np.errstate(divide="ignore", invalid="ignore"):
        surv = _groupwise(1.0 - d / n, starts, "prod")
        lag = np.where(starts, 1.0, np.r_[1.0, surv[:-1]])  # S(t_{j−1})
        a = np.where(n > d, d / (n * (n - d)), 0.0)  # Greenwood increment
    frames = []
    for i, cause in enumerate(causes):
        dk = d_k[:, i]
        F = _groupwise(lag * dk / n, starts, "sum")
        b = lag ** 2 * dk * (n - dk) / n ** 3
        cc = lag * dk / n ** 2
        # Σ_j [F(t) − F_j]² a_j = F² Σa − 2F Σ a F_j + Σ a F_j² ;  Σ_j [F(t) − F_j] c_j = F Σc − Σ c F_j
        A1, A2, A3 = (_groupwise(x, starts, "sum") for x in (a, a * F, a * F ** 2))
        B, C1, C2 = (_groupwise(x, starts, "sum") for x in (b, cc, cc * F))
        var = np.maximum(F ** 2 * A1 - 2 * F * A2 + A3 + B - 2 * (F * C1 - C2), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_f = np.log(F)
            width = z * np.sqrt(var) / (F * np.abs(log_f))
            lo = np.exp(-np.exp(np.log(-log_f) + width))
            hi = np.exp(-np.exp(np.log(-log_f) - width))
        zero, one = F <= 0.0, F >= 1.0
        lo[zero], hi[zero], lo[one], hi[one] = 0.0, 0.0, 1.0, 1.0
        frames.append(pd.DataFrame({
            "group": wide["group"].to_numpy(), "cause": cause, "days": wide["days"].to_numpy(),
            "events": dk.astype("int64"), "all_events": d.astype("int64"),
            "censored": wide["censored"].to_numpy().astype("int64"), "at_risk": n.astype("int64"),
            "survival": surv, "cumulative_incidence": F, "variance": var, "ci_lower": lo, "ci_upper": hi,
        }))
    curves = pd.concat(frames, ignore_index=True)
    g_order = {g: i for i, g in enumerate(group_order)}
    c_order = {x: i for i, x in enumerate(causes)}
    curves = (curves.assign(_g=curves["group"].map(g_order), _c=curves["cause"].map(c_order))
              .sort_values(["_g", "_c", "days"], kind="stable").drop(columns=["_g", "_c"])
              .reset_index(drop=True)[CURVE_COLUMNS])

    last = curves.groupby(["group", "cause"], sort=False).tail(1)
    totals = curves.groupby(["group", "cause"], sort=False)["events"].sum()
    sizes = curves.groupby(["group", "cause"], sort=False)["at_risk"].first()
    summary = pd.DataFrame({
        "group": last["group"].to_numpy(), "cause": last["cause"].to_numpy(),
        "n": sizes.to_numpy().astype("int64"), "events": totals.to_numpy().astype("int64"),
        "max_days": last["days"].to_numpy(),
        "cumulative_incidence": last["cumulative_incidence"].to_numpy(),
        "ci_lower": last["ci_lower"].to_numpy(), "ci_upper": last["ci_upper"].to_numpy(),
    })
    return CumulativeIncidenceResult(summary=summary, curves=curves, causes=causes,
                                     horizons=tuple(int(h) for h in horizons), suppressed=suppressed, alpha=alpha)
