"""What the demo data are: the tables' vocabulary and schemas, and the true effects behind them.

:mod:`cxlib.demo.synthetic` simulates the three input tables from these constants; the tests (and
anyone checking a model) compare estimates with the ``TRUE_*`` values here. A constant changed
here changes the data: ``cx run`` on a params file with a ``demo:`` block regenerates the data
when this file, ``causes.py`` or ``synthetic.py`` changes.

True effects, in plain words
----------------------------
* Churn follows a proportional-hazards model in tenure time (days since ``signup_date``). A consumer
  on the basic plan without recent poor experiences has the baseline hazard
  ``BASELINE_HAZARD_PER_DAY`` on the tenure pieces 0-90, 90-365 and 365+ days (``TENURE_PIECES``;
  about 40 %, 24 % and 15 % a year).
* A poor experience (an interaction rated ``csat <= POOR_CSAT_MAX = 2``) at a touchpoint multiplies
  the hazard for the next ``EXPOSURE_WINDOW_DAYS = 90`` days by ``TRUE_TOUCHPOINT_HR``: onboarding
  x1.8, billing x2.0, support x1.6. Poor delivery and poor app experiences have **no** effect (hazard
  ratio exactly 1). Overlapping windows at one touchpoint count once; touchpoints multiply.
* Customer covariates (``TRUE_COVARIATE_HR``, against the most frequent level): smb x0.80 and
  enterprise x0.55 against consumer; plus x0.85 and premium x0.70 against basic. Region has no effect
  (hazard ratios exactly 1), nor has ``monthly_revenue`` once segment and plan are known.
* Churn has two causes (competing risks). The model above is the cause-specific hazard of
  **voluntary** churn (reasons ``price``, ``competitor``, ``service``): every ``TRUE_*_HR`` above is a
  hazard ratio of voluntary churn. **Involuntary** churn (``non_payment``, ``moved``, ``deceased``)
  has its own hazard, ``INVOLUNTARY_HAZARD_PER_DAY`` on the same tenure pieces (about 6 %, 4 % and
  3 % a year), independent of experiences and of every covariate: all its hazard ratios are exactly
  1 (``TRUE_INVOLUNTARY_HR``). A customer churns at the earlier of the two latent times, for that
  cause; the reason is drawn within the cause (``CHURN_REASONS``). Then ``P_REASON_MISSING`` of
  churners lose their reason and ``P_REASON_UNMAPPED`` get ``UNMAPPED_REASON``, a reason that
  ``CHURN_CAUSES`` does not list (both at random, whatever the cause: the data-quality section counts
  them, and the cause ``other`` they form is a random share of both causes). With both causes the
  all-cause hazard is no longer proportional in the exposures: an all-cause model dilutes the
  voluntary hazard ratios towards 1, which is why the report models causes separately.
* The NPS answer's expectation given the complete ratings is the *score*
  ``NPS_INTERCEPT + sum_k TRUE_NPS_WEIGHTS[k] * (sat_k - 3)``, clipped to 0..10: support matters most
  (1.2), then billing (0.9), onboarding (0.6), app (0.4), delivery (0.2). The answer is the score plus
  symmetric triangular noise (SD ``NPS_NOISE_SD``, narrowed near 0 and 10 so it stays on the scale),
  rounded up with probability equal to its fractional part; both steps keep the mean, where
  ``round`` of a clipped normal would not. ``NPS_INTERCEPT = 3.4 = 10 - 2 * sum(weights)``: a
  respondent who rates everything 5 scores exactly 10 and answers 10, and no score exceeds 10. The
  ratings are skewed to 4 and 5 (means ~4.2 for billing to ~4.5 for the app) and share a weak
  customer factor (correlation ~0.05), which gives a realistic NPS: on ``generate(10_000, 42)`` about
  +25 overall (42 % promoters, 17 % detractors), ~+30 per quarter before the billing drop, ~+16 and ~+7
  in the two quarters of the drop.
  OLS of nps on the ratings is biased only by the responses whose score is below 0 and is clipped
  (~0.01 % of complete responses): the exact bias given the ratings (OLS of ``E[nps | ratings]``) is
  under 0.1 % of every weight on the demo data. The noise narrows near the ends of the scale, so
  use heteroscedasticity-robust (HC3) standard errors.
* No effect on churn, but there for the metrics to find: CSAT is worst for billing and support and
  best for the app; store and chat score above phone and web; billing CSAT (and ``sat_billing``) drops
  in the quarter before the as-of quarter and again in the as-of quarter; support CSAT improves by
  ~0.3 latent units a year; delivery CSAT dips in November and December.

Examples
--------
>>> from cxlib.demo import truth
>>> truth.TRUE_TOUCHPOINT_HR["poor_billing"], truth.TRUE_NPS_WEIGHTS["sat_support"]
(2.0, 1.2)
>>> round(truth.NPS_INTERCEPT + 2 * sum(truth.TRUE_NPS_WEIGHTS.values()), 10)
10.0
>>> truth.SCHEMAS["customers"].names[:3]
['customer_id', 'signup_date', 'churn_date']
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa

__all__ = [
    "BASELINE_HAZARD_PER_DAY",
    "CHANNELS",
    "CHURN_CAUSES",
    "CHURN_REASONS",
    "DEMO_AS_OF",
    "EXPOSURE_WINDOW_DAYS",
    "INVOLUNTARY_HAZARD_PER_DAY",
    "NPS_INTERCEPT",
    "NPS_NOISE_SD",
    "P_REASON_MISSING",
    "P_REASON_UNMAPPED",
    "PLANS",
    "POOR_CSAT_MAX",
    "REGIONS",
    "SCHEMAS",
    "SEGMENTS",
    "SIGNUP_SPAN_DAYS",
    "SURVEY_DRIVERS",
    "TENURE_PIECES",
    "TOUCHPOINTS",
    "TRUE_COVARIATE_HR",
    "TRUE_INVOLUNTARY_HR",
    "TRUE_NPS_WEIGHTS",
    "TRUE_TOUCHPOINT_HR",
    "UNMAPPED_REASON",
]

# --------------------------------------------------------------------------------------------------
# The vocabulary of the tables and the true effects
# --------------------------------------------------------------------------------------------------
DEMO_AS_OF = dt.date(2026, 9, 30)
TOUCHPOINTS = ("onboarding", "billing", "support", "delivery", "app")
CHANNELS = ("phone", "chat", "web", "store")
SEGMENTS = ("consumer", "smb", "enterprise")
REGIONS = ("north", "south", "east", "west")
PLANS = ("basic", "plus", "premium")
POOR_CSAT_MAX = 2
EXPOSURE_WINDOW_DAYS = 90
SIGNUP_SPAN_DAYS = 4 * 365 + 1  # signups fall in the 4 years before as_of
TENURE_PIECES = (0, 90, 365)  # lower bounds (days) of the baseline hazard pieces
BASELINE_HAZARD_PER_DAY = (0.40 / 365, 0.24 / 365, 0.15 / 365)

TRUE_TOUCHPOINT_HR = {
    "poor_onboarding": 1.8,
    "poor_billing": 2.0,
    "poor_support": 1.6,
    "poor_delivery": 1.0,
    "poor_app": 1.0,
}
TRUE_COVARIATE_HR = {
    "segment[smb]": 0.80,
    "segment[enterprise]": 0.55,
    "plan[plus]": 0.85,
    "plan[premium]": 0.70,
    "region[south]": 1.0,
    "region[east]": 1.0,
    "region[west]": 1.0,
}
# Churn causes: the TRUE_*_HR above are those of voluntary churn; involuntary churn has no effect of
# experiences or covariates. CHURN_CAUSES is what params churn_causes says for the demo.
INVOLUNTARY_HAZARD_PER_DAY = (0.06 / 365, 0.04 / 365, 0.03 / 365)
TRUE_INVOLUNTARY_HR = {term: 1.0 for term in (*TRUE_TOUCHPOINT_HR, *TRUE_COVARIATE_HR)}
CHURN_REASONS = {  # reason -> its probability within the cause
    "voluntary": {"price": 0.45, "competitor": 0.35, "service": 0.20},
    "involuntary": {"non_payment": 0.60, "moved": 0.35, "deceased": 0.05},
}
CHURN_CAUSES = {cause: list(reasons) for cause, reasons in CHURN_REASONS.items()}
P_REASON_MISSING = 0.03  # churners whose reason is empty (cause 'other')
P_REASON_UNMAPPED = 0.01  # churners whose reason is UNMAPPED_REASON (cause 'other')
UNMAPPED_REASON = "account_merged"
TRUE_NPS_WEIGHTS = {
    "sat_support": 1.2,
    "sat_billing": 0.9,
    "sat_onboarding": 0.6,
    "sat_app": 0.4,
    "sat_delivery": 0.2,
}
# 10 - 2 * sum(TRUE_NPS_WEIGHTS): a respondent who rates every touchpoint 5 has the score 10, the top
# of the scale, so no score exceeds it and the answers' expectation never needs clipping from above.
NPS_INTERCEPT = 3.4
NPS_NOISE_SD = 0.6  # of the answer noise where the score is at least ~1.5 from either end of the scale
SURVEY_DRIVERS = tuple(f"sat_{t}" for t in TOUCHPOINTS)

# --------------------------------------------------------------------------------------------------
# Schemas (pandas metadata makes pandas.read_parquet give Int64 / boolean columns back)
# --------------------------------------------------------------------------------------------------
_CUSTOMER_FIELDS = [
    ("customer_id", pa.string()),
    ("signup_date", pa.date32()),
    ("churn_date", pa.date32()),
    ("segment", pa.string()),
    ("region", pa.string()),
    ("plan", pa.string()),
    ("monthly_revenue", pa.float64()),
    ("churn_reason", pa.string()),
]
_INTERACTION_FIELDS = [
    ("customer_id", pa.string()),
    ("timestamp", pa.timestamp("us")),
    ("touchpoint", pa.string()),
    ("channel", pa.string()),
    ("csat", pa.int64()),
    ("ces", pa.int64()),
    ("resolved", pa.bool_()),
]
_SURVEY_FIELDS = [
    ("customer_id", pa.string()),
    ("timestamp", pa.timestamp("us")),
    ("nps", pa.int64()),
    *[(c, pa.int64()) for c in SURVEY_DRIVERS],
]
_NULLABLE_PANDAS = {"csat", "ces", "resolved", *SURVEY_DRIVERS}


def _schema(fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    columns = []
    for name, typ in fields:
        if name in _NULLABLE_PANDAS:
            pandas_type, numpy_type = ("bool", "boolean") if typ == pa.bool_() else ("int64", "Int64")
        elif pa.types.is_date(typ):
            pandas_type, numpy_type = "date", "object"
        elif pa.types.is_timestamp(typ):
            pandas_type, numpy_type = "datetime", "datetime64[us]"
        elif pa.types.is_string(typ):
            pandas_type, numpy_type = "unicode", "object"
        else:
            pandas_type, numpy_type = str(typ), str(typ)
        columns.append(
            {
                "name": name,
                "field_name": name,
                "pandas_type": pandas_type,
                "numpy_type": numpy_type,
                "metadata": None,
            }
        )
    meta = {
        "index_columns": [],
        "column_indexes": [],
        "columns": columns,
        "creator": {"library": "cxlib.demo"},
        "pandas_version": pd.__version__,
    }
    return pa.schema([pa.field(n, t) for n, t in fields], metadata={b"pandas": json.dumps(meta).encode()})


SCHEMAS = {
    "customers": _schema(_CUSTOMER_FIELDS),
    "interactions": _schema(_INTERACTION_FIELDS),
    "surveys": _schema(_SURVEY_FIELDS),
}
