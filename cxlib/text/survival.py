"""Sentences and shown tables of the retention section: retention, the hazard models, the checks.

Every function returns plain text or a table of text (data values included as they are, names
through :func:`cxlib.text.names.display_name`); the caller escapes it for HTML.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd

from cxlib.params import ExposureRule
from cxlib.results import ALL
from cxlib.stats.competing import CumulativeIncidenceResult
from cxlib.stats.cox import CoxResult, PHCheck
from cxlib.stats.km import KaplanMeierResult, LogRankResult
from cxlib.stats.pem import PiecewiseExponentialResult
from cxlib.stats.pem_checks import ProportionalHazardsCheck, format_p
from cxlib.text.format import fmt_number, fmt_pct
from cxlib.text.names import display_name

__all__ = [
    "cause_hazard_sentences",
    "cohort_sentence",
    "covariate_sentence",
    "cross_check_sentence",
    "exposure_label",
    "exposure_sentences",
    "group_label",
    "hazard_sentence",
    "hazard_view",
    "horizon_table",
    "incidence_sentence",
    "incidence_table",
    "lag_caption",
    "lag_view",
    "lag_warning",
    "ph_sentence",
    "touchpoint_ph_sentence",
    "retention_sentence",
    "segment_sentence",
]

SIGNIFICANCE = 0.05


def _km_example() -> KaplanMeierResult:
    from cxlib.stats.km import kaplan_meier

    counts = pd.DataFrame({"group": ["all"] * 3 + ["segment=smb"] * 2 + ["segment=consumer"] * 2,
                           "days": [30, 90, 200, 30, 200, 90, 200], "events": [10, 10, 0, 8, 0, 2, 0],
                           "censored": [0, 0, 80, 0, 32, 0, 48]})
    return kaplan_meier(counts, horizons=[90, 180])


def group_label(group: str) -> str:
    """A retention group in words: ``segment=smb`` → ``segment smb``, ``all`` → ``all customers``.

    Examples
    --------
    >>> group_label("segment=smb"), group_label("all")
    ('segment smb', 'all customers')
    """
    return "all customers" if group == ALL else display_name(group.replace("=", " ", 1))


def horizon_table(km: KaplanMeierResult, groups: Sequence[str]) -> pd.DataFrame:
    """Retention of ``groups`` at each horizon followed, as shown: ``group``, ``days``, ``survival``,
    ``interval``, ``at_risk`` (customers followed at least that long).

    Examples
    --------
    >>> horizon_table(_km_example(), ["all"])
               group  days survival     interval  at_risk
    0  all customers    90    80.0%  70.7%–86.6%       90
    1  all customers   180    80.0%  70.7%–86.6%       80
    """
    at = km.at(list(km.horizons)).dropna(subset=["survival"])  # beyond a group's follow-up: no estimate
    at = at[at["group"].isin(groups)]
    return pd.DataFrame({
        "group": at["group"].map(group_label), "days": at["days"], "survival": at["survival"].map(fmt_pct),
        "interval": [f"{fmt_pct(a)}–{fmt_pct(b)}" for a, b in zip(at["ci_lower"], at["ci_upper"])],
        "at_risk": at["at_risk"],
    }).reset_index(drop=True)


def _ci_example() -> CumulativeIncidenceResult:
    from cxlib.stats.competing import cumulative_incidence

    counts = pd.DataFrame({"group": "all", "days": [30, 30, 90, 200], "cause": ["voluntary", "involuntary", "voluntary", None],
                           "events": [8, 2, 10, 0], "censored": [0, 0, 0, 80]})
    return cumulative_incidence(counts, causes=("voluntary", "involuntary", "other"), horizons=[90, 180])


def incidence_table(ci: CumulativeIncidenceResult, groups: Sequence[str]) -> pd.DataFrame:
    """Cumulative incidence of each cause at each horizon followed, as shown: ``group``, ``days``,
    ``cause``, ``churned``, ``interval``, ``at_risk``.

    Examples
    --------
    >>> incidence_table(_ci_example(), ["all"]).head(3)
               group  days        cause churned     interval  at_risk
    0  all customers    90    voluntary   18.0%  11.2%–26.1%       90
    1  all customers   180    voluntary   18.0%  11.2%–26.1%       80
    2  all customers    90  involuntary    2.0%    0.4%–6.4%       90
    """
    at = ci.at(list(ci.horizons)).dropna(subset=["cumulative_incidence"])
    at = at[at["group"].isin(groups)]
    return pd.DataFrame({
        "group": at["group"].map(group_label), "days": at["days"], "cause": at["cause"],
        "churned": at["cumulative_incidence"].map(fmt_pct),
        "interval": [f"{fmt_pct(a)}–{fmt_pct(b)}" for a, b in zip(at["ci_lower"], at["ci_upper"])],
        "at_risk": at["at_risk"],
    }).reset_index(drop=True)


def incidence_sentence(ci: CumulativeIncidenceResult) -> str | None:
    """The share of all customers who have left for each cause by the last horizon followed.

    None when no horizon is followed.

    Examples
    --------
    >>> print(incidence_sentence(_ci_example()))
    By 180 days after signup, 18.0% of customers had left for a voluntary reason (95% interval 11.2%–26.1%), 2.0% for an involuntary reason (0.4%–6.4%) and 0.0% for another or no stated reason (cause 'other'); together 20.0%, one minus retention (Aalen–Johansen cumulative incidence).
    """
    at = ci.at(list(ci.horizons)).dropna(subset=["cumulative_incidence"])
    at = at[at["group"] == ALL]
    if at.empty:
        return None
    h = int(at["days"].max())
    rows = at[at["days"] == h].set_index("cause")

    def part(cause: str, first: bool) -> str:
        r = rows.loc[cause]
        what = ("for another or no stated reason (cause 'other')" if cause == "other"
                else f"for a{'n' if cause[:1] in 'aeiou' else ''} {display_name(cause)} reason")
        interval = f"{fmt_pct(r['ci_lower'])}–{fmt_pct(r['ci_upper'])}"
        return f"{fmt_pct(r['cumulative_incidence'])} {what} ({'95% interval ' if first else ''}{interval})" if (
            first or cause != "other") else f"{fmt_pct(r['cumulative_incidence'])} {what}"

    causes = [c for c in ci.causes if c in rows.index]
    parts = [part(c, i == 0) for i, c in enumerate(causes)]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    total = float(rows["cumulative_incidence"].sum())
    return (f"By {h:,} days after signup, {listing.replace(' for a', ' of customers had left for a', 1)}; together "
            f"{fmt_pct(total)}, one minus retention (Aalen–Johansen cumulative incidence).")


def cause_hazard_sentences(models: Mapping[str, PiecewiseExponentialResult], exposures: Sequence[str]) -> list[str]:
    """Per cause, the exposures whose cause-specific hazard ratio excludes 1 (or that none does).

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["poor_billing", "poor_app"], "hazard_ratio": [2.3, 1.02], "ci_lower": [2.0, 0.8],
    ...                   "ci_upper": [2.6, 1.3], "p_value": [1e-9, 0.8]})
    >>> vol = PiecewiseExponentialResult("touchpoints[voluntary]", "", s, 300)
    >>> inv = PiecewiseExponentialResult("touchpoints[involuntary]", "", s.assign(ci_lower=0.7, p_value=0.5), 60)
    >>> for line in cause_hazard_sentences({"voluntary": vol, "involuntary": inv}, ["poor_billing", "poor_app"]):
    ...     print(line)
    Voluntary churn (300 churns): poor_billing 2.30× (2.00–2.60).
    Involuntary churn (60 churns): no recent experience goes with a detectably different rate (every 95% interval includes 1).
    """
    out = []
    for cause, m in models.items():
        rows = m.summary[m.summary["term"].isin(exposures)]
        clear = rows[(rows["ci_lower"] > 1) | (rows["ci_upper"] < 1)].sort_values("hazard_ratio", ascending=False)
        head = f"{display_name(cause).capitalize()} churn ({m.n_events:,} churns): "
        if clear.empty:
            out.append(head + "no recent experience goes with a detectably different rate (every 95% interval "
                       "includes 1).")
        else:
            out.append(head + "; ".join(f"{display_name(r['term'])} {r['hazard_ratio']:.2f}× ({r['ci_lower']:.2f}–"
                                        f"{r['ci_upper']:.2f})" for _, r in clear.iterrows()) + ".")
    return out


def retention_sentence(km: KaplanMeierResult) -> str:
    """Overall retention at the last horizon followed, and the median tenure.

    Examples
    --------
    >>> print(retention_sentence(_km_example()))
    Of 100 customers, 80.0% were still customers 180 days after signup (Kaplan–Meier, 95% interval 70.7%–86.6%); the median tenure is not reached yet (more than half of the customers are still customers).
    """
    o = km.summary.set_index("group").loc[ALL]
    if pd.isna(o["median_days"]):
        median = "not reached yet (more than half of the customers are still customers)"
    else:
        median = (f"{o['median_days']:,.0f} days (95% interval {fmt_number(o['median_ci_lower'], 0)}–"
                  f"{fmt_number(o['median_ci_upper'], 0)})")
    followed = km.at(list(km.horizons)).dropna(subset=["survival"])
    followed = followed[followed["group"] == ALL]
    if followed.empty:
        return (f"Of {int(o['n']):,} customers followed for at most {int(o['max_days']):,} days, the median tenure "
                f"is {median}.")
    last = followed.iloc[-1]
    return (f"Of {int(o['n']):,} customers, {fmt_pct(last['survival'])} were still customers {int(last['days']):,} "
            f"days after signup (Kaplan–Meier, 95% interval {fmt_pct(last['ci_lower'])}–{fmt_pct(last['ci_upper'])}); "
            f"the median tenure is {median}.")


def segment_sentence(km: KaplanMeierResult, test: LogRankResult) -> str | None:
    """The best and worst segment at the longest horizon, and the log-rank verdict.

    None when fewer than two segments are followed that long.

    Examples
    --------
    >>> from cxlib.stats.km import logrank_test
    >>> km = _km_example()
    >>> print(segment_sentence(km, logrank_test(km.curves[km.curves["group"] != "all"])))
    After 180 days 96.0% of segment consumer are still customers against 80.0% of segment smb; the log-rank test finds the segments' retention curves different (χ² = 5.9, 1 df, p = 0.015).
    """
    if not km.horizons:
        return None
    h = max(km.horizons)
    at = km.at([h]).dropna(subset=["survival"])
    at = at[at["group"].isin(test.summary["group"])].sort_values("survival")
    if len(at) < 2:
        return None
    best, worst = at.iloc[-1], at.iloc[0]
    verdict = ("finds the segments' retention curves different" if test.p_value < SIGNIFICANCE
               else "finds no difference between the segments' retention curves")
    return (f"After {h:,} days {fmt_pct(best['survival'])} of {group_label(best['group'])} are still customers "
            f"against {fmt_pct(worst['survival'])} of {group_label(worst['group'])}; the log-rank test {verdict} "
            f"(χ² = {test.statistic:.1f}, {test.df} df, p = {test.p_value:.2g}).")


def cohort_sentence(grid: pd.DataFrame, step_days: int = 90) -> str:
    """The range of cohorts' retention after the first ``step_days`` (:func:`cxlib.analyses.retention.cohort_retention`).

    Examples
    --------
    >>> grid = pd.DataFrame({"cohort": ["2025Q1", "2025Q2"], "days": [90, 90], "survival": [0.91, 0.87]})
    >>> print(cohort_sentence(grid))
    Retention after the first 90 days ranges from 87.0% (customers who signed up in 2025Q2) to 91.0% (2025Q1); each row ends where that cohort's follow-up ends.
    """
    first = grid[grid["days"] == step_days].sort_values("survival")
    if len(first) < 2:
        return "One signup cohort is large enough to show; each cell is its Kaplan–Meier retention at that tenure."
    lo, hi = first.iloc[0], first.iloc[-1]
    return (f"Retention after the first {step_days} days ranges from {fmt_pct(lo['survival'])} (customers who signed "
            f"up in {display_name(lo['cohort'])}) to {fmt_pct(hi['survival'])} ({display_name(hi['cohort'])}); each row "
            "ends where that cohort's follow-up ends.")


def _summary_example() -> pd.DataFrame:
    return pd.DataFrame({"term": ["plan[premium]", "age", "poor_billing"], "hazard_ratio": [0.71, 1.01, 2.06],
                         "ci_lower": [0.6, 0.99, 1.91], "ci_upper": [0.84, 1.03, 2.21], "p_value": [0.0001, 0.4, 1e-9],
                         "coef": [-0.34, 0.01, 0.72], "se": [0.09, 0.01, 0.04]})


def covariate_sentence(cox: CoxResult, hidden: Collection[str] = ()) -> str:
    """The clearest customer attribute of model ``covariates`` and the model's concordance.

    Examples
    --------
    >>> cox = CoxResult("covariates", "", _summary_example().head(2), 200, concordance=0.61)
    >>> print(covariate_sentence(cox))
    1 of 2 terms differ detectably from 1; the clearest is plan[premium]: hazard ratio 0.71 (95% interval 0.60–0.84). The model ranks customers' churn risk correctly in 61.0% of comparable pairs (Harrell's concordance; 0.5 is chance).
    """
    s = cox.summary
    significant = s[(s["p_value"] < SIGNIFICANCE) & ~s["term"].isin(hidden)]
    if significant.empty:
        return ("No customer attribute is associated with a detectably different churn rate (every 95% interval "
                f"includes 1); concordance {cox.concordance:.3f}.")
    top = significant.assign(size=significant["coef"].abs() / significant["se"]).sort_values("size").iloc[-1]
    return (f"{len(significant)} of {len(s)} terms differ detectably from 1; the clearest is {display_name(top['term'])}: "
            f"hazard ratio {top['hazard_ratio']:.2f} (95% interval {top['ci_lower']:.2f}–{top['ci_upper']:.2f}). The "
            f"model ranks customers' churn risk correctly in {fmt_pct(cox.concordance)} of comparable pairs (Harrell's "
            "concordance; 0.5 is chance).")


def ph_sentence(ph: PHCheck) -> str:
    """The proportional-hazards check in plain words: "no evidence of departure", never "holds".

    Examples
    --------
    >>> s = pd.DataFrame({"term": ["age", "wexp"], "covariate": ["age", "wexp"], "statistic": [9.1, 7.2],
    ...                   "p_value": [0.0026, 0.0073]})
    >>> print(ph_sentence(PHCheck(s, violated=("age", "wexp"), n_sample=432, threshold=0.01)))
    The effect of age, wexp changes with tenure (the strongest departure: age, p = 0.0026, on 432 customers), so its hazard ratio is an average over tenure; a model stratified on it is shown beside the plain one.
    >>> print(ph_sentence(PHCheck(s.assign(p_value=[0.2, 0.034]), violated=(), n_sample=5000, threshold=0.01)))
    Proportional hazards: no evidence of departure for any covariate (Grambsch–Therneau test, smallest p = 0.034, n = 5,000 customers; a departure is flagged at p < 0.01), so each hazard ratio is read as one number for all tenures. No evidence is not proof: with few churn events the test has little power.
    """
    s = ph.summary
    if not ph.violated:
        return (f"Proportional hazards: no evidence of departure for any covariate (Grambsch–Therneau test, smallest "
                f"p = {s['p_value'].min():.2g}, n = {ph.n_sample:,} customers; a departure is flagged at "
                f"p < {ph.threshold:g}), so each hazard ratio is read as one number for all tenures. No evidence is "
                "not proof: with few churn events the test has little power.")
    worst = s[s["p_value"] < ph.threshold].sort_values("p_value").iloc[0]
    return (f"The effect of {', '.join(display_name(v) for v in ph.violated)} changes with tenure (the strongest "
            f"departure: {display_name(worst['term'])}, p = {worst['p_value']:.2g}, on {ph.n_sample:,} customers), so "
            "its hazard ratio is an average over tenure; a model stratified on it is shown beside the plain one.")


def touchpoint_ph_sentence(check: ProportionalHazardsCheck, names: Mapping[str, str]) -> str:
    """Proportional hazards of model touchpoints, exposure by exposure (exposure × tenure-band test).

    Parameters
    ----------
    check : ProportionalHazardsCheck
        :func:`cxlib.stats.pem_checks.proportional_hazards_test` of the model.
    names : mapping of str to str
        Exposure term → its name in words (e.g. ``a poor billing experience``).

    Examples
    --------
    >>> from cxlib.stats.pem_checks import PH_COLUMNS
    >>> rows = [["poor_a", "days 0–89, days 90+", 1, 0.7, 0.41, 5321, 800, "proportional", ""],
    ...         ["poor_b", "days 0–89, days 90+", 1, 9.1, 0.0026, 5321, 400, "changes_with_tenure", ""]]
    >>> check = ProportionalHazardsCheck(pd.DataFrame(rows, columns=PH_COLUMNS), pd.DataFrame(), [0, 90])
    >>> print(touchpoint_ph_sentence(check, {"poor_a": "a poor app experience", "poor_b": "a poor billing experience"}))
    Proportional hazards in model touchpoints (each exposure × tenure bands days 0–89, days 90+, likelihood-ratio test): a poor app experience: no evidence of departure (p = 0.41, n = 5,321 churn events); a poor billing experience: the association changes with tenure (p = 0.0026, n = 5,321 churn events), so its hazard ratio is an average over tenure (per band in the table below). No evidence is not proof: with few churn events the test has little power.
    """
    s = check.summary
    if s.empty:
        return "Proportional hazards in model touchpoints could not be checked: the model has no exposure."
    parts = []
    for _, r in s.iterrows():
        name = names.get(r["exposure"], display_name(r["exposure"]))
        n = f"n = {int(r['n_events']):,} churn events"
        if r["verdict"] == "proportional":
            parts.append(f"{name}: no evidence of departure ({format_p(r['p_value'])}, {n})")
        elif r["verdict"] == "changes_with_tenure":
            parts.append(f"{name}: the association changes with tenure ({format_p(r['p_value'])}, {n}), so its hazard "
                         "ratio is an average over tenure (per band in the table below)")
        else:
            parts.append(f"{name}: {r['verdict_text']}")
    return (f"Proportional hazards in model touchpoints (each exposure × tenure bands {s['bands'].iloc[0]}, "
            f"likelihood-ratio test): {'; '.join(parts)}. No evidence is not proof: with few churn events the test "
            "has little power.")


def lag_caption(customers: int | None = None, of_customers: int | None = None) -> str:
    """The lag-sensitivity table's caption, naming the sample its refits ran on, if any.

    Examples
    --------
    >>> print(lag_caption(199_998, 1_000_000))
    Hazard ratio (95% interval) of each exposure in model touchpoints refitted with the experiences counted from that many days after they happen (exposure lag), every lag on the same systematic sample of 199,998 of the 1,000,000 customers (so this report's own lag differs slightly from the model above and its intervals are wider).
    """
    text = ("Hazard ratio (95% interval) of each exposure in model touchpoints refitted with the experiences "
            "counted from that many days after they happen (exposure lag)")
    if customers is None:
        return text + "."
    return (f"{text}, every lag on the same systematic sample of {customers:,} of the {of_customers:,} customers "
            "(so this report's own lag differs slightly from the model above and its intervals are wider).")


def lag_view(table: pd.DataFrame, names: Mapping[str, str], used: int) -> pd.DataFrame:
    """The lag-sensitivity table as shown: a row per exposure, a column per lag, ``HR (lower–upper)``.

    Examples
    --------
    >>> t = pd.DataFrame({"exposure": ["poor_a"] * 2, "lag_days": [0, 1], "hazard_ratio": [2.0, 1.1],
    ...                   "ci_lower": [1.6, 0.9], "ci_upper": [2.5, 1.3]})
    >>> lag_view(t, {"poor_a": "app"}, used=1).values.tolist()
    [['app', '2.00 (1.60–2.50)', '1.10 (0.90–1.30)']]
    >>> list(lag_view(t, {"poor_a": "app"}, used=1).columns)
    ['exposure', 'lag 0 days', 'lag 1 day (this report)']
    """
    def cell(r: pd.Series) -> str:
        if pd.isna(r["hazard_ratio"]):
            return "—"
        return f"{fmt_number(r['hazard_ratio'])} ({fmt_number(r['ci_lower'])}–{fmt_number(r['ci_upper'])})"

    def column(lag: int) -> str:
        return f"lag {lag} day{'' if lag == 1 else 's'}" + (" (this report)" if lag == used else "")

    shown = table.assign(_cell=table.apply(cell, axis=1), _lag=table["lag_days"].astype(int).map(column))
    wide = shown.pivot(index="exposure", columns="_lag", values="_cell")
    order = [column(lag) for lag in sorted(table["lag_days"].astype(int).unique())]
    exposures = list(dict.fromkeys(table["exposure"]))
    wide = wide.reindex(index=exposures, columns=order).rename_axis(index="exposure", columns=None).reset_index()
    wide["exposure"] = wide["exposure"].map(lambda e: display_name(names.get(e, e)))
    return wide


def lag_warning(flags: pd.DataFrame, names: Mapping[str, str]) -> str | None:
    """The reverse-causation warning naming every flagged exposure; None when none is flagged.

    Parameters
    ----------
    flags : DataFrame
        :func:`cxlib.stats.pem_checks.lag_sensitivity_flags`.
    names : mapping of str to str
        Exposure term → its touchpoint (or custom exposure) name.

    Examples
    --------
    >>> f = pd.DataFrame({"exposure": ["poor_support"], "shortest_lag": [0], "longest_lag": [30],
    ...                   "excess_shortest": [0.65], "excess_longest": [0.2], "flag": [True]})
    >>> print(lag_warning(f, {"poor_support": "support"}))
    Possible reverse causation at support: the excess churn hazard of a poor experience there falls from +65% at an exposure lag of 0 days to +20% at 30 days (an experience counting only from that many days after it) — by more than a third. That is the signature of contacts made because the customer was already leaving: its hazard ratio and attributable churn may overstate what the experience itself does.
    >>> lag_warning(f.assign(flag=False), {}) is None
    True
    """
    hit = flags[flags["flag"].astype(bool)] if len(flags) else flags
    if hit.empty:
        return None
    sentences = []
    for _, r in hit.iterrows():
        sentences.append(
            f"{display_name(names.get(r['exposure'], r['exposure']))}: the excess churn hazard of a poor experience "
            f"there falls from {_signed_pct(r['excess_shortest'])} at an exposure lag of {int(r['shortest_lag'])} days "
            f"to {_signed_pct(r['excess_longest'])} at {int(r['longest_lag'])} days (an experience counting only from "
            "that many days after it) — by more than a third")
    many = len(sentences) > 1
    return (f"Possible reverse causation at {'; at '.join(sentences)}. That is the signature of contacts made because "
            f"the customer was already leaving: {'their' if many else 'its'} hazard ratio"
            f"{'s' if many else ''} and attributable churn may overstate what the experience itself does.")


def _signed_pct(x: float) -> str:
    return f"{100 * x:+.0f}%".replace("-", "−")


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
    touchpoint = display_name(rule.touchpoint) if rule.touchpoint is not None else None
    if (rule.csat_max == poor_csat_max and rule.ces_min is None and rule.resolved is None
            and rule.min_count == 1 and touchpoint is not None):
        return f"a poor {touchpoint} experience"
    words = [{None: "", True: "resolved", False: "unresolved"}[rule.resolved], touchpoint or ""]
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


def hazard_sentence(row: pd.Series | dict, rule: ExposureRule, window_days: int, poor_csat_max: int) -> str:
    """One sentence on an exposure's hazard ratio, worded as the association it is.

    Examples
    --------
    >>> rule = ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2)
    >>> hazard_sentence({"hazard_ratio": 2.1, "ci_lower": 1.9, "ci_upper": 2.3}, rule, 90, 2)
    'A poor billing experience in the last 90 days is associated with a churn rate 2.1× (1.9–2.3) that of comparable customers without one.'
    """
    hr = float(row["hazard_ratio"])
    direction = "" if hr >= 1 else ", i.e. lower"
    verb, pronoun = ("are", "them") if rule.min_count > 1 else ("is", "one")
    return (f"{_capital(exposure_label(rule, poor_csat_max))} in the last {rule.window_days or window_days} days {verb} "
            f"associated with a churn rate {hr:.1f}× ({float(row['ci_lower']):.1f}–{float(row['ci_upper']):.1f}) that of "
            f"comparable customers without {pronoun}{direction}.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def exposure_sentences(tp: PiecewiseExponentialResult, rules: Sequence[ExposureRule], window_days: int,
                       poor_csat_max: int) -> list[str]:
    """A sentence per exposure with a clear association (largest hazard ratio first), then those without.

    Examples
    --------
    >>> rules = [ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2),
    ...          ExposureRule(name="poor_app", touchpoint="app", csat_max=2)]
    >>> s = _summary_example().assign(term=["plan[premium]", "poor_app", "poor_billing"])
    >>> tp = PiecewiseExponentialResult("touchpoints", "", s, 300, exposures=("poor_billing", "poor_app"))
    >>> for line in exposure_sentences(tp, rules, 90, 2):
    ...     print(line)
    A poor billing experience in the last 90 days is associated with a churn rate 2.1× (1.9–2.2) that of comparable customers without one.
    No clear association with churn (95% interval includes 1): a poor app experience.
    """
    by_name = {r.name: r for r in rules}
    rows = tp.summary[tp.summary["term"].isin(tp.exposures)]
    clear = rows[rows["p_value"] < SIGNIFICANCE].sort_values("hazard_ratio", ascending=False)
    out = [hazard_sentence(row, by_name[row["term"]], window_days, poor_csat_max) for _, row in clear.iterrows()]
    quiet = rows[rows["p_value"] >= SIGNIFICANCE]
    if len(quiet):
        words = [exposure_label(by_name[t], poor_csat_max) if t in by_name else display_name(t) for t in quiet["term"]]
        out.append(f"No clear association with churn (95% interval includes 1): {', '.join(words)}.")
    return out


def cross_check_sentence(agreement: pd.DataFrame) -> str:
    """How closely two models' hazard ratios agree (:func:`cxlib.stats.cox.compare_models`).

    Examples
    --------
    >>> agreement = pd.DataFrame({"term": ["poor_billing", "poor_app"], "touchpoints": [2.06, 1.5],
    ...                           "touchpoints_cox_tv": [2.05, 1.52], "relative_difference": [0.0049, -0.0132]})
    >>> print(cross_check_sentence(agreement))
    Cross-check: the piecewise-exponential and the time-varying Cox hazard ratios agree within 1.3% for every term (largest difference: poor_app, 1.500 against 1.520).
    """
    a, b = agreement.columns[1], agreement.columns[2]
    worst = agreement.loc[agreement["relative_difference"].abs().idxmax()]
    return (f"Cross-check: the piecewise-exponential and the time-varying Cox hazard ratios agree within "
            f"{fmt_pct(abs(worst['relative_difference']))} for every term (largest difference: "
            f"{display_name(worst['term'])}, {worst[a]:.3f} against {worst[b]:.3f}).")


def hazard_view(summary: pd.DataFrame, hidden: Collection[str] = (),
                exposure_share: dict[str, float] | None = None) -> pd.DataFrame:
    """A model's hazard ratios as shown: hidden terms left out, p-values as text, optionally the
    share of customer time exposed per exposure.

    Examples
    --------
    >>> view = hazard_view(_summary_example(), hidden={"age"}, exposure_share={"poor_billing": 0.123})
    >>> view[["term", "hazard_ratio", "p_value", "share_of_customer_time_exposed"]]
                term  hazard_ratio p_value share_of_customer_time_exposed
    0  plan[premium]          0.71  0.0001                           None
    2   poor_billing          2.06   1e-09                          12.3%
    """
    out = summary[~summary["term"].isin(hidden)]
    out = out.assign(p_value=out["p_value"].map(lambda v: f"{v:.3g}"))[
        ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]]
    if exposure_share is not None:
        out = out.assign(share_of_customer_time_exposed=[fmt_pct(exposure_share[t]) if t in exposure_share else None
                                                         for t in out["term"]])
    return out
