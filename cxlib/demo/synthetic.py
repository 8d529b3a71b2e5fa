"""Synthetic CX data whose true effects are known, so tests can check that the models recover them.

:func:`generate` (in memory) and :func:`write_demo_data` (Parquet or CSV, chunked) build the three
input tables of the data contract: ``customers``, ``interactions`` and ``surveys``. Every number that
drives the simulation is a module constant; the vocabulary, the schemas and the true effects a
model should recover (the ``TRUE_*`` ones) are in :mod:`cxlib.demo.truth`, which documents them.

How churn is simulated
----------------------
Each customer's interactions are a Poisson process over the whole window ``[signup, as_of)`` that does
not depend on churn. Churn is decided per tenure day (day ``k`` is the calendar day
``signup_date + k``): day ``k`` has a constant hazard set by the tenure piece of ``k``, the covariates
and the poor experiences of days ``k - 89 .. k``. The cumulative hazard is integrated exactly over
these steps and the customer churns on the day where it reaches a draw ``E ~ Exp(1)``; otherwise they
are active at ``as_of``. ``churn_date`` is that day; the interactions and surveys of later days are
dropped, so every interaction and survey falls on or before ``churn_date`` and before ``as_of``
(customers are observed until ``as_of 00:00``; ``churn_date < as_of``). A churn on the signup day
happens (about 0.1 % of customers) and then has one day at risk.

Churn causes are competing risks simulated as latent times: the time above is the voluntary one;
an involuntary time with the piecewise-constant hazard ``INVOLUNTARY_HAZARD_PER_DAY`` (no covariate
or experience effect) is drawn from a stream of its own, ``SeedSequence(seed, spawn_key=(b, 1))``, and
the customer churns at the earlier of the two, for that cause. The reason is drawn within the cause,
then a few reasons are blanked or replaced by one ``churn_causes`` does not list (``truth``). Every
draw of the first stream is the same as without causes.

This is the day grid of :mod:`cxlib.features.exposures` with ``exposure_lag_days = 0``, so its models
at that lag are the true model, not an approximation: a churned customer is at risk on days
``0 .. churn_date - signup_date`` (the event closes the churn day), an active one on days
``0 .. as_of - signup_date - 1``, a poor experience on day ``k`` sets ``poor_<T>`` on days
``k .. k + 89`` (a poor experience on the churn day raising that day's hazard), and tenure pieces go
by day. At the default lag of 1 the model counts each experience from the next day, so one day of
each 90-day window is counted unexposed: the hazard ratios shrink by about a ninetieth of their log
(on ``generate(10_000, 42)`` billing 2.05 at lag 1 against 2.07 at lag 0; the truth is 2.0). Using
fractional tenures (``(timestamp - signup_date 00:00) / 1 day``) instead of whole days gives every
event the same exposures and moves exposed time by under a day.

Determinism: customers are simulated in blocks of ``BLOCK_CUSTOMERS``; block ``b`` draws from
``numpy.random.SeedSequence(seed, spawn_key=(b,))`` (the ``b``-th child of ``SeedSequence(seed).spawn``).
The data depend on ``(n_customers, seed, as_of)`` only, never on ``chunk_customers`` (files are byte
for byte the same), and whole blocks do not depend on ``n_customers`` (only the last, partial block).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cxlib.demo.causes import churn_reasons, piecewise_times
from cxlib.demo.truth import (
    BASELINE_HAZARD_PER_DAY,
    CHANNELS,
    DEMO_AS_OF,
    EXPOSURE_WINDOW_DAYS,
    INVOLUNTARY_HAZARD_PER_DAY,
    NPS_INTERCEPT,
    NPS_NOISE_SD,
    PLANS,
    POOR_CSAT_MAX,
    REGIONS,
    SCHEMAS,
    SEGMENTS,
    SIGNUP_SPAN_DAYS,
    SURVEY_DRIVERS,
    TENURE_PIECES,
    TOUCHPOINTS,
    TRUE_COVARIATE_HR,
    TRUE_NPS_WEIGHTS,
    TRUE_TOUCHPOINT_HR,
)

__all__ = ["BLOCK_CUSTOMERS", "ROW_GROUP_ROWS", "generate", "write_demo_data"]

# Simulation blocks fix the random streams; chunk_customers only decides how much is buffered per write.
BLOCK_CUSTOMERS = 20_000
ROW_GROUP_ROWS = 1 << 20

# --------------------------------------------------------------------------------------------------
# Private simulation settings (shape the data, not effects a model is asked to recover)
# --------------------------------------------------------------------------------------------------
_DAY_S = 86_400
_SIGNUP_GROWTH = np.log(2.0)  # the signup rate doubles over the 4 years
_P_SEGMENT = (0.72, 0.20, 0.08)
_P_REGION = (0.32, 0.26, 0.24, 0.18)
_P_PLAN_BY_SEGMENT = np.array([[0.60, 0.30, 0.10], [0.45, 0.35, 0.20], [0.20, 0.40, 0.40]])
_REVENUE_BASE = np.array([35.0, 180.0, 1500.0])  # median monthly revenue of a basic plan by segment
_REVENUE_PLAN_MULT = np.array([1.0, 1.5, 2.3])
_REVENUE_SIGMA = 0.35

_ONBOARDING_DAYS = 60
_ONBOARDING_MEAN = 3.5  # interactions in the first 60 days
# Interactions per year (onboarding: ignored, see _ONBOARDING_MEAN) for a consumer of average activity.
_RATE_PER_YEAR = np.array([0.0, 7.0, 5.5, 6.0, 12.5])
_RATE_SEGMENT_MULT = np.array(
    [[1.0, 1.0, 1.0, 1.0, 1.0], [1.2, 1.3, 1.4, 1.2, 0.8], [1.6, 1.5, 1.8, 1.5, 0.6]]
)
_ACTIVITY_SHAPE = 4.0  # gamma heterogeneity of how often a customer gets in touch (mean 1)

# channel mix per touchpoint (rows follow TOUCHPOINTS, columns CHANNELS)
_P_CHANNEL = np.array(
    [
        [0.30, 0.20, 0.30, 0.20],
        [0.35, 0.30, 0.30, 0.05],
        [0.45, 0.35, 0.15, 0.05],
        [0.10, 0.10, 0.35, 0.45],
        [0.03, 0.12, 0.85, 0.00],
    ]
)
# opening hours (start, end hour) of each channel, so phone calls do not happen at 3 am
_CHANNEL_HOURS = np.array([[8.0, 20.0], [7.0, 23.0], [0.0, 24.0], [9.0, 19.0]])

# CSAT: latent = touchpoint + channel + segment + drift + customer effect + logistic noise, cut in 5
_CSAT_TOUCHPOINT = np.array([0.95, 0.45, 0.60, 1.00, 1.60])
_CSAT_CHANNEL = np.array([0.0, 0.15, -0.15, 0.35])
_CSAT_SEGMENT = np.array([0.0, 0.0, 0.25])
_CSAT_CUTS = np.array([-1.9, -0.9, 0.5, 2.0])
_CUSTOMER_SD = 0.6
_BILLING_DROP = (0.35, 0.70)  # latent drop in the quarter before the as-of quarter, and in it
_SUPPORT_TREND_PER_YEAR = 0.30
_DELIVERY_HOLIDAY_DIP = 0.45  # November and December
_P_RATED_CHANNEL = np.array([0.55, 0.75, 0.62, 0.50])
_P_RATED_UNHAPPY_EXTRA = 0.10
_CES_CUTS = np.array([-2.2, -1.2, -0.2, 0.7, 1.7, 2.8])
_P_CES_GIVEN_RATED = 0.75

# surveys
_SURVEY_INVITES_PER_YEAR = 2.0
_SURVEY_RESPONSE = 0.5
_SAT_LOCATION = np.array([0.7, 0.5, 0.7, 0.8, 0.9])  # onboarding, billing, support, delivery, app
_SAT_LOADING = 0.3  # weight of the customer's shared factor: sat ratings correlate ~0.05
_SAT_CUTS = np.array([-2.0, -1.4, -0.6, 0.6])  # skewed to 4 and 5, as satisfaction ratings are
_SAT_MISSING = np.array([0.06, 0.03, 0.05, 0.04, 0.03])

_TP_LOG_HR = np.log([TRUE_TOUCHPOINT_HR[f"poor_{t}"] for t in TOUCHPOINTS])
_SEG_LOG_HR = np.log([1.0, TRUE_COVARIATE_HR["segment[smb]"], TRUE_COVARIATE_HR["segment[enterprise]"]])
_PLAN_LOG_HR = np.log([1.0, TRUE_COVARIATE_HR["plan[plus]"], TRUE_COVARIATE_HR["plan[premium]"]])
_REGION_LOG_HR = np.log([1.0] + [TRUE_COVARIATE_HR[f"region[{r}]"] for r in REGIONS[1:]])
_NPS_W = np.array([TRUE_NPS_WEIGHTS[c] for c in SURVEY_DRIVERS])
_NPS_NOISE_HALF_WIDTH = NPS_NOISE_SD * np.sqrt(6.0)  # triangular noise on [-h, h] has SD h / sqrt(6)



# --------------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------------
def _choice_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``cum`` (cumulative probabilities, last column 1)."""
    u = rng.random(cum.shape[0])
    return (u[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int8)


def _ordinal(latent: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return (1 + np.searchsorted(cuts, latent, side="right")).astype(np.int64)


def _tenure_times(rng: np.random.Generator, window_days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Whole seconds since signup: a uniform day of the window, a uniform time within ``hours``.

    Whole seconds keep the timestamps exact in every output format and in the exposure arithmetic.
    """
    day = np.floor(rng.random(window_days.size) * window_days).astype(np.int64)
    hours = np.broadcast_to(hours, (window_days.size, 2))
    sec = (hours[:, 0] + rng.random(window_days.size) * (hours[:, 1] - hours[:, 0])) * 3600.0
    return day * _DAY_S + np.minimum(sec.astype(np.int64), _DAY_S - 1)


def _nps_answers(rng: np.random.Generator, score: np.ndarray) -> np.ndarray:
    """Answers 0..10 whose expectation is ``clip(score, 0, 10)``: exactly ``score`` inside the scale.

    Symmetric triangular noise keeps the mean; its half-width shrinks near 0 and 10 so the noisy score
    stays on the scale (a respondent who rates everything 5 answers 10). Rounding up with probability
    equal to the fractional part (stochastic rounding) keeps the mean too, where ``round`` would not.
    """
    x = np.clip(score, 0.0, 10.0)
    half = np.minimum(_NPS_NOISE_HALF_WIDTH, np.minimum(x, 10.0 - x))
    x = x + half * (rng.random(x.size) - rng.random(x.size))
    low = np.floor(x)
    return (low + (rng.random(x.size) < x - low)).astype(np.int64)


def _calendar(epoch_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quarter index (year * 4 + quarter) and month 1..12 of days since 1970-01-01."""
    months = epoch_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months // 3, months % 12 + 1


def _csat_drift(tp: np.ndarray, epoch_day: np.ndarray, as_of_day: int) -> np.ndarray:
    quarter, month = _calendar(epoch_day)
    as_of_quarter = _calendar(np.array([as_of_day]))[0][0]
    drift = np.zeros(tp.size)
    billing = tp == 1
    drift[billing & (quarter == as_of_quarter - 1)] -= _BILLING_DROP[0]
    drift[billing & (quarter == as_of_quarter)] -= _BILLING_DROP[1]
    support = tp == 2
    drift[support] += _SUPPORT_TREND_PER_YEAR * (epoch_day[support] - as_of_day) / 365.25
    delivery = (tp == 3) & (month >= 11)
    drift[delivery] -= _DELIVERY_HOLIDAY_DIP
    return drift


def _churn_times(
    cust: np.ndarray,
    tp: np.ndarray,
    s_days: np.ndarray,
    horizon: np.ndarray,
    log_cov: np.ndarray,
    e: np.ndarray,
) -> np.ndarray:
    """Tenure (days) at which each customer's cumulative hazard reaches ``e``; ``inf`` if not by the horizon.

    ``cust``/``tp``/``s_days`` are the poor experiences and the tenure their window opens. The hazard
    is constant between consecutive change points (a window opening or closing, a piece bound), so
    the cumulative hazard is a sum of rate x length and its inverse is linear within one interval.
    """
    m = horizon.size
    n_poor = cust.size
    w = float(EXPOSURE_WINDOW_DAYS)
    k_tp = len(TOUCHPOINTS)
    bounds = np.asarray(TENURE_PIECES, dtype=float)  # includes 0, so every customer has a point
    # the horizon is a point too, else the stretch after a customer's last change point would be lost
    t = np.concatenate([s_days, s_days + w, np.tile(bounds, m), horizon])
    c = np.concatenate([cust, cust, np.repeat(np.arange(m), bounds.size), np.arange(m)])
    delta = np.zeros((t.size, k_tp), dtype=np.int32)
    rows = np.arange(n_poor)
    delta[rows, tp] = 1
    delta[n_poor + rows, tp] = -1
    order = np.lexsort((t, c))
    t, c, delta = t[order], c[order], delta[order]
    # every +1 has its -1 in the same customer, so the global running sum restarts at 0 per customer
    exposed = np.cumsum(delta, axis=0) > 0
    log_rate = exposed @ _TP_LOG_HR + log_cov[c]
    piece = np.searchsorted(bounds, t, side="right") - 1
    rate = np.asarray(BASELINE_HAZARD_PER_DAY)[piece] * np.exp(log_rate)
    h = horizon[c]
    t_next = np.empty_like(t)
    t_next[:-1] = t[1:]
    last = np.ones(t.size, dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    t_next[last] = t[last]
    length = np.clip(np.minimum(t_next, h) - np.minimum(t, h), 0.0, None)
    cum = np.cumsum(rate * length)
    first = np.searchsorted(c, np.arange(m), side="left")
    end = np.searchsorted(c, np.arange(m), side="right")
    before = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    target = before + e
    k = np.searchsorted(cum, target, side="left")
    churned = k < end
    k = np.minimum(k, t.size - 1)
    tau = np.full(m, np.inf)
    kk = k[churned]
    start_cum = cum[kk] - rate[kk] * length[kk]
    tau_c = t[kk] + (target[churned] - start_cum) / rate[kk]
    tau_c = np.minimum(tau_c, np.minimum(t_next[kk], horizon[churned]))
    tau[churned] = np.where(tau_c < horizon[churned], tau_c, np.inf)
    return tau


def _customer_ids(first: int, m: int, width: int) -> pa.Array:
    return pa.array([f"C{i:0{width}d}" for i in range(first + 1, first + m + 1)], type=pa.string())


def _masked(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, type=typ, mask=~valid)


def _simulate_block(
    seed: int, block: int, first: int, m: int, as_of: dt.date, width: int
) -> dict[str, pa.Table]:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
    as_of_day = (as_of - dt.date(1970, 1, 1)).days
    start_day = as_of_day - SIGNUP_SPAN_DAYS

    # ---- customers
    # growing signups: density proportional to exp(g x) on x in [0, 1)
    u = rng.random(m)
    x = np.log1p(u * np.expm1(_SIGNUP_GROWTH)) / _SIGNUP_GROWTH
    signup_k = np.minimum((x * SIGNUP_SPAN_DAYS).astype(np.int64), SIGNUP_SPAN_DAYS - 1)
    horizon_days = SIGNUP_SPAN_DAYS - signup_k  # >= 1: observed until as_of 00:00
    segment = _choice_rows(rng, np.broadcast_to(np.cumsum(_P_SEGMENT), (m, 3)))
    region = _choice_rows(rng, np.broadcast_to(np.cumsum(_P_REGION), (m, 4)))
    plan = _choice_rows(rng, np.cumsum(_P_PLAN_BY_SEGMENT, axis=1)[segment])
    revenue_noise = np.exp(_REVENUE_SIGMA * rng.standard_normal(m))
    revenue = np.round(_REVENUE_BASE[segment] * _REVENUE_PLAN_MULT[plan] * revenue_noise, 2)
    activity = rng.gamma(_ACTIVITY_SHAPE, 1.0 / _ACTIVITY_SHAPE, m)
    cust_effect = _CUSTOMER_SD * rng.standard_normal(m)
    e = rng.exponential(1.0, m)
    log_cov = _SEG_LOG_HR[segment] + _PLAN_LOG_HR[plan] + _REGION_LOG_HR[region]

    # ---- interactions: a Poisson process over [0, horizon) per customer and touchpoint, blind to churn
    onb_window = np.minimum(horizon_days, _ONBOARDING_DAYS)
    intensity = activity[:, None] * _RATE_SEGMENT_MULT[segment]
    mean = intensity * (_RATE_PER_YEAR / 365.25) * horizon_days[:, None]
    mean[:, 0] = intensity[:, 0] * _ONBOARDING_MEAN * onb_window / _ONBOARDING_DAYS
    counts = rng.poisson(mean).ravel()
    n_int = int(counts.sum())
    ic = np.repeat(np.repeat(np.arange(m), len(TOUCHPOINTS)), counts)
    itp = np.repeat(np.tile(np.arange(len(TOUCHPOINTS), dtype=np.int8), m), counts)
    ich = _choice_rows(rng, np.cumsum(_P_CHANNEL, axis=1)[itp])
    window = np.where(itp == 0, onb_window[ic], horizon_days[ic])
    isec = _tenure_times(rng, window, _CHANNEL_HOURS[ich])
    iday = start_day + signup_k[ic] + isec // _DAY_S
    latent = (
        _CSAT_TOUCHPOINT[itp]
        + _CSAT_CHANNEL[ich]
        + _CSAT_SEGMENT[segment[ic]]
        + _csat_drift(itp, iday, as_of_day)
        + cust_effect[ic]
        + rng.logistic(0.0, 1.0, n_int)
    )
    csat_full = _ordinal(latent, _CSAT_CUTS)
    # unhappy customers are a little more likely to answer the rating request
    p_rated = _P_RATED_CHANNEL[ich] + _P_RATED_UNHAPPY_EXTRA * (csat_full <= POOR_CSAT_MAX)
    rated = rng.random(n_int) < p_rated
    ces_full = _ordinal(latent - 1.0 + rng.normal(0.0, 1.0, n_int), _CES_CUTS)
    has_ces = rated & (rng.random(n_int) < _P_CES_GIVEN_RATED)
    is_support = itp == 2
    resolved_full = rng.random(n_int) < 1.0 / (1.0 + np.exp(-(0.9 + 0.9 * (latent - 1.0))))
    poor = rated & (csat_full <= POOR_CSAT_MAX)

    # ---- churn
    # Churn is decided per tenure day (the day grid of cxlib.features.exposures): day k has a constant hazard
    # set by the poor experiences of days k-89 .. k; a customer who churns during day k has
    # churn_date = signup + k, and all of day k's interactions precede the churn.
    poor_day = (isec[poor] // _DAY_S).astype(float)
    tau_voluntary = _churn_times(ic[poor], itp[poor], poor_day, horizon_days.astype(float), log_cov, e)
    # involuntary churn: a competing latent time from its own stream, so the draws above do not change
    rng_cause = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, 1))))
    tau_involuntary = piecewise_times(INVOLUNTARY_HAZARD_PER_DAY, horizon_days.astype(float),
                                       rng_cause.exponential(1.0, m))
    involuntary = tau_involuntary < tau_voluntary
    tau = np.minimum(tau_voluntary, tau_involuntary)
    churned = np.isfinite(tau)
    reason = churn_reasons(rng_cause, involuntary, churned)
    churn_day = np.floor(np.where(churned, tau, 0.0)).astype(np.int64)
    days_at_risk = np.where(churned, churn_day + 1, horizon_days)

    keep = isec // _DAY_S < days_at_risk[ic]
    ic, itp, ich, isec = ic[keep], itp[keep], ich[keep], isec[keep]
    csat_full, rated, ces_full, has_ces = csat_full[keep], rated[keep], ces_full[keep], has_ces[keep]
    is_support, resolved_full = is_support[keep], resolved_full[keep]
    order = np.argsort(ic.astype(np.int64) << 32 | isec, kind="stable")
    ic, itp, ich, isec = ic[order], itp[order], ich[order], isec[order]
    csat_full, rated, ces_full, has_ces = csat_full[order], rated[order], ces_full[order], has_ces[order]
    is_support, resolved_full = is_support[order], resolved_full[order]

    # ---- surveys: invitations over [0, horizon), answered at random, only while the customer is active
    n_inv = rng.poisson(_SURVEY_INVITES_PER_YEAR / 365.25 * horizon_days)
    sc = np.repeat(np.arange(m), n_inv)
    ssec = _tenure_times(rng, horizon_days[sc], np.array([8.0, 22.0]))
    answered = rng.random(sc.size) < _SURVEY_RESPONSE
    sday = start_day + signup_k[sc] + ssec // _DAY_S
    quarter, _ = _calendar(sday)
    as_of_quarter = _calendar(np.array([as_of_day]))[0][0]
    sat_drift = np.zeros((sc.size, len(TOUCHPOINTS)))
    sat_drift[:, 1] -= np.where(quarter == as_of_quarter, _BILLING_DROP[1], 0.0)
    sat_drift[:, 1] -= np.where(quarter == as_of_quarter - 1, _BILLING_DROP[0], 0.0)
    shared = (cust_effect / _CUSTOMER_SD)[sc, None]
    sat_noise = rng.standard_normal((sc.size, len(TOUCHPOINTS)))
    sat_latent = _SAT_LOCATION + sat_drift + _SAT_LOADING * shared + sat_noise
    sat = _ordinal(sat_latent.ravel(), _SAT_CUTS).reshape(sat_latent.shape)
    sat_ok = rng.random(sat.shape) >= _SAT_MISSING
    nps = _nps_answers(rng, NPS_INTERCEPT + (sat - 3) @ _NPS_W)
    keep_s = answered & (ssec // _DAY_S < days_at_risk[sc])
    sc, ssec, nps, sat, sat_ok = sc[keep_s], ssec[keep_s], nps[keep_s], sat[keep_s], sat_ok[keep_s]
    order = np.argsort(sc.astype(np.int64) << 32 | ssec, kind="stable")
    sc, ssec, nps, sat, sat_ok = sc[order], ssec[order], nps[order], sat[order], sat_ok[order]

    # ---- Arrow tables
    ids = _customer_ids(first, m, width)
    signup_epoch = start_day + signup_k
    signup_us = signup_epoch * (_DAY_S * 1_000_000)
    customers = pa.Table.from_arrays(
        [
            ids,
            pa.array(signup_epoch.astype(np.int32), type=pa.int32()).cast(pa.date32()),
            _masked((signup_epoch + churn_day).astype(np.int32), churned, pa.int32()).cast(pa.date32()),
            pa.array(SEGMENTS).take(pa.array(segment)),
            pa.array(REGIONS).take(pa.array(region)),
            pa.array(PLANS).take(pa.array(plan)),
            pa.array(revenue, type=pa.float64()),
            pa.array(reason, type=pa.string()),
        ],
        schema=SCHEMAS["customers"],
    )
    interactions = pa.Table.from_arrays(
        [
            ids.take(pa.array(ic)),
            pa.array(signup_us[ic] + isec * 1_000_000, type=pa.timestamp("us")),
            pa.array(TOUCHPOINTS).take(pa.array(itp)),
            pa.array(CHANNELS).take(pa.array(ich)),
            _masked(csat_full, rated, pa.int64()),
            _masked(ces_full, has_ces, pa.int64()),
            _masked(resolved_full, is_support, pa.bool_()),
        ],
        schema=SCHEMAS["interactions"],
    )
    surveys = pa.Table.from_arrays(
        [
            ids.take(pa.array(sc)),
            pa.array(signup_us[sc] + ssec * 1_000_000, type=pa.timestamp("us")),
            pa.array(nps, type=pa.int64()),
            *[_masked(sat[:, j], sat_ok[:, j], pa.int64()) for j in range(len(TOUCHPOINTS))],
        ],
        schema=SCHEMAS["surveys"],
    )
    return {"customers": customers, "interactions": interactions, "surveys": surveys}


def _blocks(n_customers: int, seed: int, as_of: dt.date) -> Iterator[tuple[int, dict[str, pa.Table]]]:
    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1, got {n_customers}.")
    width = max(7, len(str(n_customers)))
    for block, first in enumerate(range(0, n_customers, BLOCK_CUSTOMERS)):
        m = min(BLOCK_CUSTOMERS, n_customers - first)
        yield m, _simulate_block(int(seed), block, first, m, as_of, width)


def _as_date(as_of: dt.date | str) -> dt.date:
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    return dt.date.fromisoformat(str(as_of))


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def generate(
    n_customers: int = 10_000, seed: int = 42, as_of: dt.date = DEMO_AS_OF
) -> dict[str, pd.DataFrame]:
    """Simulate the three demo tables in memory.

    Parameters
    ----------
    n_customers : int
        Number of customers; about 45 interactions and 1.5 survey responses each.
    seed : int
        Seed of the random streams; the same ``(n_customers, seed, as_of)`` gives the same tables.
    as_of : datetime.date
        Observation date: signups fall in the 4 years before it, nothing happens on or after it.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``customers``, ``interactions`` and ``surveys``, exactly as ``pandas.read_parquet`` reads the
        files of :func:`write_demo_data`: dates as ``datetime.date`` objects, timestamps as
        ``datetime64[us]``, ``csat``/``ces``/``nps``/``sat_*`` as ``Int64``, ``resolved`` as ``boolean``.

    Examples
    --------
    >>> from cxlib.demo.synthetic import generate
    >>> tables = generate(1_000, seed=1)
    >>> sorted(tables)
    ['customers', 'interactions', 'surveys']
    >>> tables["customers"]["customer_id"].iloc[0]
    'C0000001'
    """
    parts: dict[str, list[pa.Table]] = {"customers": [], "interactions": [], "surveys": []}
    for _, tables in _blocks(n_customers, seed, _as_date(as_of)):
        for name, table in tables.items():
            parts[name].append(table)
    return {name: pa.concat_tables(ts).to_pandas() for name, ts in parts.items()}


def write_demo_data(
    out_dir: str | Path,
    n_customers: int = 10_000,
    seed: int = 42,
    as_of: dt.date = DEMO_AS_OF,
    fmt: str = "parquet",
    chunk_customers: int = 200_000,
) -> dict[str, Path]:
    """Simulate the demo tables chunk by chunk and write one file per table.

    Memory stays bounded whatever ``n_customers``: customers are simulated in blocks of
    ``BLOCK_CUSTOMERS`` and appended whenever ``chunk_customers`` of them are buffered, in Parquet row
    groups of ``ROW_GROUP_ROWS`` rows. The files do not depend on ``chunk_customers``, byte for byte.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder to write into; created if missing. Existing files of the same name are replaced.
    n_customers : int
        Number of customers (about 45 interactions each: 1M customers -> ~45M interaction rows).
    seed : int
        Seed of the random streams.
    as_of : datetime.date
        Observation date; nothing happens on or after it.
    fmt : {"parquet", "csv"}
        Parquet (date32 dates, naive ``timestamp[us]``, snappy) or CSV (``2026-09-29`` dates,
        ``2026-09-29 14:03:07`` timestamps, ``true``/``false``, an empty field for null, no quotes).
    chunk_customers : int
        Customers buffered per write; larger is a little faster and uses more memory.

    Returns
    -------
    dict of str to pathlib.Path
        Paths of ``customers``, ``interactions`` and ``surveys``.

    Examples
    --------
    >>> import tempfile
    >>> from cxlib.demo.synthetic import write_demo_data
    >>> paths = write_demo_data(tempfile.mkdtemp(), n_customers=500)
    >>> sorted(p.name for p in paths.values())
    ['customers.parquet', 'interactions.parquet', 'surveys.parquet']
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}.")
    if chunk_customers < 1:
        raise ValueError(f"chunk_customers must be at least 1, got {chunk_customers}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.{fmt}" for name in SCHEMAS}
    # write under a temporary name so an interrupted run never leaves a plausible-looking file
    tmp = {name: p.with_name(p.name + ".partial") for name, p in paths.items()}
    writers: dict[str, _RowGroupWriter] = {}
    try:
        for name, schema in SCHEMAS.items():
            writers[name] = _RowGroupWriter(tmp[name], schema, fmt)
        n_buffered = 0
        for m, tables in _blocks(n_customers, seed, _as_date(as_of)):
            for name, table in tables.items():
                writers[name].add(table)
            n_buffered += m
            if n_buffered >= chunk_customers:
                for w in writers.values():
                    w.flush(final=False)
                n_buffered = 0
        for w in writers.values():
            w.flush(final=True)
    except BaseException:
        for w in writers.values():
            w.close()
        for p in tmp.values():
            p.unlink(missing_ok=True)
        raise
    for w in writers.values():
        w.close()
    for name, p in paths.items():
        tmp[name].replace(p)
    return paths


class _RowGroupWriter:
    """Appends tables to one Parquet or CSV file in row groups of exactly ``ROW_GROUP_ROWS`` rows.

    Fixed-size row groups make the file bytes independent of how many customers were buffered per
    write; the remainder waits in memory for the next flush.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.fmt = fmt
        self.pending: list[pa.Table] = []
        self.n_pending = 0
        if fmt == "parquet":
            self.writer = pq.ParquetWriter(path, schema, compression="snappy")
        else:
            # whole seconds read better in CSV than ".000000"; no string here needs quoting
            self.csv_schema = pa.schema(
                [pa.field(f.name, pa.timestamp("s")) if pa.types.is_timestamp(f.type) else f for f in schema]
            )
            try:
                options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
            except TypeError:  # older pyarrow always quotes the header; CSV readers accept both
                options = pacsv.WriteOptions(quoting_style="none")
            self.writer = pacsv.CSVWriter(path, self.csv_schema, write_options=options)

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.n_pending += table.num_rows

    def flush(self, final: bool) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        n_write = table.num_rows if final else table.num_rows - table.num_rows % ROW_GROUP_ROWS
        for offset in range(0, n_write, ROW_GROUP_ROWS):
            part = table.slice(offset, min(ROW_GROUP_ROWS, n_write - offset))
            if self.fmt == "parquet":
                self.writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
            else:
                self.writer.write_table(part.cast(self.csv_schema))
        rest = table.slice(n_write)
        self.pending = [rest] if rest.num_rows else []
        self.n_pending = rest.num_rows

    def close(self) -> None:
        self.writer.close()
