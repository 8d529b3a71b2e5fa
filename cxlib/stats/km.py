"""Kaplan–Meier and the log-rank test from per-day counts.

Input is the sufficient statistics computed in the engine
(:func:`cxlib.features.customers.survival_counts`): per group and day the churn events and
censorings. Greenwood variance with log(−log) ("exponential Greenwood") 95 % intervals, medians
with Brookmeyer–Crowley intervals read off the bands, and the k-sample **log-rank** test — all from
the counts, so they scale to any number of customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.results import RESULT_COLUMNS, Result, result

__all__ = ["KaplanMeierResult", "LogRankResult", "kaplan_meier", "logrank_test"]

ALPHA = 0.05


@result
class KaplanMeierResult(Result):
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
    horizons : tuple of int
        Tenures (days) that ``retention.csv`` reports besides the steps.
    alpha : float
    disclosure : dict
        The disclosure audit of the groups (:func:`cxlib.analyses.retention.protect_groups`).

    Examples
    --------
    >>> counts = pd.DataFrame({"group": "all", "days": [1, 2, 3], "events": [1, 1, 0], "censored": [0, 0, 1]})
    >>> km = kaplan_meier(counts, horizons=[2, 3])
    >>> km.to_frame().round(3)
      group  days  survival  ci_lower  ci_upper  at_risk
    0   all     1     0.667     0.054     0.945        3
    1   all     2     0.333     0.009     0.774        2
    2   all     3     0.333     0.009     0.774        1
    """

    title: ClassVar[str] = "Kaplan–Meier retention"
    curves: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame
    suppressed: tuple[str, ...] = ()
    horizons: tuple[int, ...] = ()
    alpha: float = ALPHA
    disclosure: dict = field(default_factory=dict, repr=False)

    def _lines(self) -> list[str]:
        lines = [f"{len(self.summary)} group(s)"]
        return lines + ([f"suppressed (too few customers, or hidden to protect one that has): {', '.join(self.suppressed)}"] if self.suppressed else [])

    def at(self, days: Sequence[int]) -> pd.DataFrame:
        """Survival with its interval and customers at risk at given tenures, per group.

        Beyond a group's longest follow-up the estimate is undefined: survival is NaN there and
        ``at_risk`` 0.

        Examples
        --------
        >>> counts = pd.DataFrame({"group": "all", "days": [1, 2], "events": [1, 0], "censored": [0, 1]})
        >>> kaplan_meier(counts).at([1, 5])[["days", "survival", "at_risk"]]
           days  survival  at_risk
        0     1       0.5        2
        1     5       NaN        0
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

    def to_frame(self) -> pd.DataFrame:
        """``retention.csv``: each group's step function (one row per day with a churn) plus each horizon.

        A horizon that falls on a churn day appears once; a horizon beyond the group's longest
        follow-up has no row (the estimate is undefined there).
        """
        steps = self.curves.loc[self.curves["events"] > 0, RESULT_COLUMNS["retention"]]
        at = self.at(list(self.horizons)).dropna(subset=["survival"])
        at = at.merge(steps[["group", "days"]], how="left", indicator=True)
        at = at.loc[at["_merge"] == "left_only", RESULT_COLUMNS["retention"]]
        out = pd.concat([steps, at], ignore_index=True)
        order = {g: i for i, g in enumerate(self.summary["group"])}
        out = out.assign(_o=out["group"].map(order)).sort_values(["_o", "days"], kind="stable")
        return out.drop(columns="_o").reset_index(drop=True)


def kaplan_meier(counts: pd.DataFrame, min_n: int = 1, alpha: float = ALPHA,
                 horizons: Sequence[int] = ()) -> KaplanMeierResult:
    """Kaplan–Meier estimator with exponential-Greenwood intervals, from per-day counts.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored`` (:func:`cxlib.features.customers.survival_counts`;
        several groupings may be concatenated).
    min_n : int
        Groups with fewer customers are suppressed (``min_cell_size``).
    alpha : float
        1 − confidence level of the pointwise intervals.
    horizons : sequence of int
        Tenures that :meth:`KaplanMeierResult.to_frame` reports (``horizons_days``).

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
    return KaplanMeierResult(curves=curves.reset_index(drop=True), summary=summary, suppressed=suppressed,
                             horizons=tuple(int(h) for h in horizons), alpha=alpha)


def _first_day_below(g: pd.DataFrame, column: str) -> float:
    hit = g.loc[g[column] <= 0.5, "days"]
    return float(hit.iloc[0]) if len(hit) else np.nan


@result
class LogRankResult(Result):
    """k-sample log-rank test of equal survival curves.

    Attributes
    ----------
    statistic : float
        Chi-squared statistic.
    df : int
        Degrees of freedom (groups − 1).
    p_value : float
    summary : pandas.DataFrame
        Per group ``group``, ``n``, ``observed`` and ``expected`` churn events under the null
        hypothesis.

    Examples
    --------
    >>> counts = pd.DataFrame({"group": ["a", "b"], "days": [1, 2], "events": [1, 1], "censored": [0, 0]})
    >>> print(logrank_test(counts))
    Log-rank test
    chi² = 1.00, df = 1, p = 0.317
    group n observed expected
        a 1        1      0.5
        b 1        1      1.5
    """

    title: ClassVar[str] = "Log-rank test"
    statistic: float
    df: int
    p_value: float
    summary: pd.DataFrame

    def _lines(self) -> list[str]:
        return [f"chi² = {self.statistic:.2f}, df = {self.df}, p = {self.p_value:.3g}"]

    def to_frame(self) -> pd.DataFrame:
        """Observed and expected churn events per group."""
        return self.summary


def logrank_test(counts: pd.DataFrame) -> LogRankResult:
    """The k-sample log-rank test (Mantel–Haenszel) from per-day counts of each group.

    Parameters
    ----------
    counts : pandas.DataFrame
        ``group``, ``days``, ``events``, ``censored`` for the groups to compare (or the
        ``curves`` of a :class:`KaplanMeierResult`, which carry the same counts).

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
