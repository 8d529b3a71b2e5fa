"""Checks of the touchpoint model (piecewise exponential on cells): proportional hazards and exposure lag.

Proportional hazards (:func:`proportional_hazards_test`)
    The piecewise-exponential model ``log E[events] = log person_days + α_piece + γ'z + β'x`` assumes
    each exposure's hazard ratio is the same at every tenure. On the cells the check is cheap: for
    one exposure ``e`` at a time, add ``e × 1[tenure band = b]`` for every band but the first
    (bands = contiguous groups of the tenure pieces) and compare the two Poisson likelihoods::

        LR = 2 (ℓ_interaction − ℓ_main) ~ χ²(df),   df = bands with exposed person-time − 1

    This is the piecewise analogue of a time-by-covariate interaction test of the Cox model
    (Cox 1972; Therneau & Grambsch 2000, *Modeling Survival Data*, §6.2). "No evidence of
    departure" is not evidence of proportionality: with few events the test has little power.
    Each exposure is tested on its own; the p-values are not adjusted for multiplicity.

Exposure-lag sensitivity (:func:`lag_sensitivity_flags`)
    Poor ratings logged on (or just before) the churn day can be a *consequence* of the decision to
    leave. Refitting the model with the exposure shifted by ``lag`` days (0, 1, 7, 30) shows how much
    of each hazard ratio rests on the last days before churn. With ``excess = HR − 1``, an exposure
    is flagged when its shortest-lag interval excludes 1 (``ci_lower > 1``) and its excess at the
    longest lag is below two thirds of the excess at the shortest lag ("falls by more than a
    third"). A genuine effect that fades within the window can also shrink with the lag, so the
    flag asks for a look, not a verdict; the sentence is written in :mod:`cxlib.text`.

Examples
--------
>>> table = pd.DataFrame({"exposure": ["poor_app"] * 2 + ["poor_billing"] * 2, "lag_days": [0, 30, 0, 30],
...                       "hazard_ratio": [2.0, 1.2, 1.5, 1.45], "ci_lower": [1.6, 0.9, 1.2, 1.1],
...                       "ci_upper": [2.5, 1.6, 1.9, 1.9]})
>>> lag_sensitivity_flags(table)[["exposure", "excess_retained", "flag"]]
       exposure  excess_retained   flag
0      poor_app             0.20   True
1  poor_billing             0.90  False
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.results import Result, result

PH_COLUMNS = ["exposure", "bands", "df", "lr_statistic", "p_value", "n_events", "exposed_events", "verdict",
              "verdict_text"]
BAND_COLUMNS = ["exposure", "band", "from_day", "to_day", "events", "exposed_events", "hazard_ratio",
                "ci_lower", "ci_upper"]
LAG_COLUMNS = ["exposure", "shortest_lag", "longest_lag", "hazard_ratio_shortest", "ci_lower_shortest",
               "ci_upper_shortest", "hazard_ratio_longest", "ci_lower_longest", "ci_upper_longest",
               "excess_shortest", "excess_longest", "excess_retained", "flag"]


def format_p(p: float) -> str:
    """``p = 0.41``, ``p = 0.012``, ``p < 0.001``.

    Examples
    --------
    >>> format_p(0.4123), format_p(0.01234), format_p(0.00001)
    ('p = 0.41', 'p = 0.012', 'p < 0.001')
    """
    if not np.isfinite(p):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2f}" if p >= 0.1 else f"p = {p:.2g}"


def _merge_empty_pieces(cells: pd.DataFrame, piece: str, events: str) -> pd.DataFrame:
    """A piece without churn has no finite baseline: merge it into the piece before it (leading
    empty pieces into the first with churn), as the touchpoint model does."""
    by_piece = cells.groupby(piece)[events].sum().sort_index()
    group = np.maximum(np.cumsum((by_piece > 0).to_numpy()) - 1, 0)
    lower = pd.Series(by_piece.index).groupby(group).transform("min").to_numpy()
    return cells.assign(**{piece: cells[piece].map(dict(zip(by_piece.index, lower)))})


def tenure_bands(cells: pd.DataFrame, n_bands: int = 3, piece: str = "piece", events: str = "events") -> list[int]:
    """Lower bounds (days) of up to ``n_bands`` contiguous groups of pieces with about equal events.

    Examples
    --------
    >>> c = pd.DataFrame({"piece": [0, 30, 90, 180, 365], "events": [40, 30, 20, 5, 5]})
    >>> tenure_bands(c, 3)
    [0, 30, 90]
    """
    by_piece = cells.groupby(piece)[events].sum().sort_index()
    by_piece = by_piece[by_piece > 0]
    if len(by_piece) == 0:
        return []
    share_before = (by_piece.cumsum() - by_piece) / by_piece.sum()   # events before each piece
    band = np.minimum(np.floor(share_before.to_numpy() * n_bands + 1e-12), n_bands - 1).astype(int)
    firsts = pd.Series(by_piece.index).groupby(band).min()
    return [int(v) for v in firsts.to_numpy()]


def _covariate_design(cells: pd.DataFrame, covariates: Sequence[str] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(covariates, pd.DataFrame):
        return covariates.loc[cells.index].astype(float)
    cols: dict[str, np.ndarray] = {}
    for name in covariates:
        col = cells[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            cols[name] = col.to_numpy(float)
        else:
            values = col.astype(str)
            reference = values.value_counts().index[0]
            for level in sorted(set(values) - {reference}):
                cols[f"{name}[{level}]"] = (values == level).to_numpy(float)
    return pd.DataFrame(cols, index=cells.index)


def _fit(y: np.ndarray, X: pd.DataFrame, offset: np.ndarray):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(tol=1e-10, maxiter=200)


@result
class ProportionalHazardsCheck(Result):
    """Result of :func:`proportional_hazards_test` (see its examples).

    Attributes
    ----------
    summary : DataFrame
        One row per exposure, :data:`PH_COLUMNS`; ``verdict`` is ``proportional`` (no evidence of
        departure), ``changes_with_tenure`` or ``not_testable``.
    by_band : DataFrame
        :data:`BAND_COLUMNS`: each exposure's hazard ratio per tenure band from its interaction model.
    bands : list of int
        Lower bounds of the tenure bands, in days.

    Examples
    --------
    >>> ProportionalHazardsCheck.title
    'Proportional hazards: exposure × tenure-band interactions'
    """

    title: ClassVar[str] = "Proportional hazards: exposure × tenure-band interactions"
    summary: pd.DataFrame
    by_band: pd.DataFrame
    bands: list

    def _lines(self) -> list[str]:
        return [f"tenure bands from day {', '.join(str(b) for b in self.bands)}"]

    def to_frame(self) -> pd.DataFrame:
        return self.summary


def _band_labels(bands: list[int]) -> list[tuple[int, float, str]]:
    out = []
    for k, lo in enumerate(bands):
        hi = bands[k + 1] - 1 if k + 1 < len(bands) else np.inf
        out.append((lo, hi, f"days {lo}–{int(hi)}" if np.isfinite(hi) else f"days {lo}+"))
    return out


def proportional_hazards_test(cells: pd.DataFrame, exposures: Sequence[str],
                              covariates: Sequence[str] | pd.DataFrame = (), bands: Sequence[int] | None = None,
                              n_bands: int = 3, alpha: float = 0.05, piece: str = "piece", events: str = "events",
                              person_days: str = "person_days", level: float = 0.95) -> ProportionalHazardsCheck:
    """Exposure × tenure-band likelihood-ratio test of proportional hazards, one exposure at a time.

    Parameters
    ----------
    cells : DataFrame
        The touchpoint model's cells (``touchpoint_cells``): ``piece`` (lower bound, days), covariate
        columns, 0/1 exposure columns, ``events``, ``person_days``.
    exposures : sequence of str
        Exposure columns to test (all of them enter both models).
    covariates : sequence of str or DataFrame
        Covariate columns of ``cells`` (numbers enter linearly, anything else as indicators against
        the most frequent level), or the main model's covariate design (float columns, index
        aligned with ``cells``) to reproduce its coding exactly.
    bands : sequence of int, optional
        Lower bounds of the tenure bands in days (the first is moved to the first piece). Default:
        :func:`tenure_bands` with ``n_bands`` groups of about equal events.
    alpha : float
        Level below which the verdict is ``changes_with_tenure``.
    level : float
        Level of the per-band hazard-ratio intervals.

    Returns
    -------
    ProportionalHazardsCheck

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> cells = pd.DataFrame([(p, x) for p in (0, 30, 90, 180) for x in (0, 1)], columns=["piece", "x"])
    >>> cells["person_days"] = 200_000
    >>> cells["events"] = rng.poisson(cells.person_days * 0.001 * np.where(cells.x == 1, 2.0, 1.0))
    >>> res = proportional_hazards_test(cells, ["x"])
    >>> res.summary.loc[0, "verdict"], int(res.summary.loc[0, "df"])
    ('proportional', 2)
    """
    exposures = list(exposures)
    cells = cells[cells[person_days] > 0]
    cells = _merge_empty_pieces(cells, piece, events)
    y = cells[events].to_numpy(float)
    offset = np.log(cells[person_days].to_numpy(float))
    n_events = int(y.sum())
    band_bounds = list(bands) if bands is not None else tenure_bands(cells, n_bands, piece, events)
    band_bounds = sorted({int(b) for b in band_bounds})
    pieces_present = sorted(cells[piece].unique())
    if band_bounds and pieces_present:
        band_bounds[0] = min(band_bounds[0], int(pieces_present[0]))
    labels = _band_labels(band_bounds)
    band_of = np.searchsorted(np.asarray(band_bounds), cells[piece].to_numpy(), side="right") - 1
    piece_dummies = pd.get_dummies(cells[piece], prefix="piece", prefix_sep="").astype(float)
    piece_dummies.columns = [f"piece[{c.removeprefix('piece')}]" for c in piece_dummies.columns]
    base = pd.concat([piece_dummies, _covariate_design(cells, covariates),
                      cells[exposures].astype(float)], axis=1)
    base = base.loc[:, [c for c in base.columns if c.startswith("piece[") or np.ptp(base[c].to_numpy()) > 0]]
    z = stats.norm.ppf(0.5 + level / 2)
    rows, band_rows = [], []
    main = _fit(y, base, offset) if n_events > 0 and len(band_bounds) > 1 else None
    band_text = ", ".join(lab for _, _, lab in labels)
    for e in exposures:
        x = cells[e].to_numpy(float)
        exposed_events = int(y[x == 1].sum())
        inter = {}
        for b in range(1, len(band_bounds)):
            col = x * (band_of == b)
            if col.any() and x[band_of == 0].any():
                inter[f"{e}×band{b}"] = col
        if main is None or not inter or e not in base.columns:
            reason = ("there are no churn events" if n_events == 0 else
                      "there is only one tenure band with churn" if main is None else
                      "the exposure does not vary in these cells" if e not in base.columns else
                      "the exposure does not occur both in the first and in a later tenure band")
            rows.append([e, band_text, 0, np.nan, np.nan, n_events, exposed_events, "not_testable",
                         f"proportional hazards cannot be checked: {reason}"])
            continue
        alt = _fit(y, pd.concat([base, pd.DataFrame(inter, index=cells.index)], axis=1), offset)
        lr = max(2.0 * (alt.llf - main.llf), 0.0)
        df = len(inter)
        p = float(stats.chi2.sf(lr, df))
        if p < alpha:
            verdict, text = "changes_with_tenure", f"the association changes with tenure ({format_p(p)}, {n_events:,} events)"
        else:
            verdict = "proportional"
            text = f"no evidence of departure from proportional hazards ({format_p(p)}, {n_events:,} events)"
        rows.append([e, band_text, df, lr, p, n_events, exposed_events, verdict, text])
        cov = alt.cov_params()
        for b, (lo, hi, lab) in enumerate(labels):
            name = f"{e}×band{b}"
            in_band = band_of == b
            if b == 0:
                est, var = alt.params[e], cov.loc[e, e]
            elif name in inter:
                est = alt.params[e] + alt.params[name]
                var = cov.loc[e, e] + cov.loc[name, name] + 2 * cov.loc[e, name]
            else:
                est = var = np.nan
            se = np.sqrt(var)
            band_rows.append([e, lab, lo, hi, int(y[in_band].sum()), int(y[in_band & (x == 1)].sum()),
                              np.exp(est), np.exp(est - z * se), np.exp(est + z * se)])
    return ProportionalHazardsCheck(pd.DataFrame(rows, columns=PH_COLUMNS),
                                    pd.DataFrame(band_rows, columns=BAND_COLUMNS), band_bounds)


def lag_sensitivity_flags(table: pd.DataFrame, exposure: str = "exposure", lag: str = "lag_days",
                          retained_below: float = 2 / 3) -> pd.DataFrame:
    """Compare each exposure's hazard ratio at the shortest and the longest exposure lag.

    Parameters
    ----------
    table : DataFrame
        One row per exposure × lag: ``exposure``, ``lag_days``, ``hazard_ratio``, ``ci_lower``,
        ``ci_upper`` (the touchpoint model refitted at each lag of ``lag_sensitivity_days``).
    exposure, lag : str
        Column names of the exposure and the lag.
    retained_below : float
        Flag when ``excess_longest < retained_below × excess_shortest`` (2/3: the excess hazard
        falls by more than a third).

    Returns
    -------
    DataFrame
        :data:`LAG_COLUMNS`, one row per exposure; ``excess = HR − 1``; ``excess_retained`` =
        longest ÷ shortest excess (missing when the shortest excess is not positive); ``flag`` is
        True when the shortest-lag interval lies above 1 and the excess retained is below
        ``retained_below``. Protective associations (HR < 1) are never flagged: reverse causation
        by churn-day complaints inflates hazard ratios, it does not create protective ones.

    Examples
    --------
    >>> table = pd.DataFrame({"exposure": ["poor_app", "poor_app"], "lag_days": [0, 30],
    ...                       "hazard_ratio": [1.9, 1.1], "ci_lower": [1.5, 0.8], "ci_upper": [2.4, 1.5]})
    >>> lag_sensitivity_flags(table)[["exposure", "excess_shortest", "excess_longest", "flag"]].round(2)
       exposure  excess_shortest  excess_longest  flag
    0  poor_app              0.9             0.1  True
    """
    rows = []
    for name, g in table.groupby(exposure, sort=False):
        g = g.dropna(subset=["hazard_ratio"]).sort_values(lag)
        if g.empty:
            continue
        s, l = g.iloc[0], g.iloc[-1]
        ex_s, ex_l = s["hazard_ratio"] - 1, l["hazard_ratio"] - 1
        retained = ex_l / ex_s if ex_s > 0 else np.nan
        flag = bool(len(g) > 1 and s["ci_lower"] > 1 and ex_s > 0 and ex_l < retained_below * ex_s)
        rows.append([name, s[lag], l[lag], s["hazard_ratio"], s["ci_lower"], s["ci_upper"], l["hazard_ratio"],
                     l["ci_lower"], l["ci_upper"], ex_s, ex_l, retained, flag])
    return pd.DataFrame(rows, columns=LAG_COLUMNS)
