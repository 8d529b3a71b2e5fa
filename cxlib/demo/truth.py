"""What the demo data are: the tables' vocabulary and schemas, and the true effects behind them.

:mod:`cxlib.demo.synthetic` simulates the three input tables from these constants; the tests (and
anyone checking a model) compare estimates with the ``TRUE_*`` values here. A constant changed
here changes the data: ``cx run`` on a params file with a ``demo:`` block regenerates the data
when this file or ``synthetic.py`` changes.

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
    "DEMO_AS_OF",
    "EXPOSURE_WINDOW_DAYS",
    "NPS_INTERCEPT",
    "NPS_NOISE_SD",
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
    "TRUE_NPS_WEIGHTS",
    "TRUE_TOUCHPOINT_HR",
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
