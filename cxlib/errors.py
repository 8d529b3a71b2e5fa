"""Typed exceptions: each carries a message meant for the user and the fields a caller needs.

Callers branch on the type and read the fields (``RunError.notebook``, ``.cell``, ``.ename``;
``NotEstimable.reason``); nobody matches message substrings.
"""

from __future__ import annotations


class CxError(Exception):
    """Base class: the message says what is wrong and how to fix it.

    Examples
    --------
    >>> issubclass(DataError, CxError), DataError.exit_code
    (True, 3)
    """

    exit_code = 2


class ParamsError(CxError):
    """A params file is missing, unreadable or breaks a rule (exit code 2).

    Examples
    --------
    >>> ParamsError("key 'min_cell_size': expected an integer ≥ 1, got 'ten'").exit_code
    2
    """


class DataError(CxError):
    """An input table is missing, unreadable or violates the data contract (exit code 3).

    Examples
    --------
    >>> str(DataError("customers.csv: 2 rows break 'customer_id is unique'"))
    "customers.csv: 2 rows break 'customer_id is unique'"
    """

    exit_code = 3


class RunError(CxError):
    """A run could not complete: a section failed, the kernel died, the run was interrupted (exit code 4).

    Parameters
    ----------
    message : str
        One paragraph for the user.
    notebook : str, optional
        The section notebook's file name, when a section failed.
    cell : int, optional
        The execution count (or index) of the failing cell.
    ename, evalue : str, optional
        The error's class name and first line, as the kernel reported them.

    Examples
    --------
    >>> err = RunError("02_retention.ipynb failed", notebook="02_retention.ipynb", cell=8, ename="KeyError")
    >>> err.notebook, err.cell, err.ename, err.exit_code
    ('02_retention.ipynb', 8, 'KeyError', 4)
    """

    exit_code = 4

    def __init__(self, message: str, *, notebook: str | None = None, cell: int | None = None,
                 ename: str | None = None, evalue: str | None = None):
        super().__init__(message)
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue


class OutputError(CxError):
    """The output folder cannot take the run: a file stands in its place or it is not writable (exit code 2).

    Found before validation starts, so no time is spent on a run that could not be published.
    """


class RunExistsError(CxError):
    """The run folder exists and ``--force`` was not given (exit code 5).

    Examples
    --------
    >>> RunExistsError("reports/demo exists; pass --force to replace it").exit_code
    5
    """

    exit_code = 5


class NotEstimable(CxError):
    """This model or estimate cannot be computed on these data: the reason says why.

    Raised for what the data decide (no churn events, a term that separates churners, a singular
    design, too few respondents); a section catches it, shows the reason as a warning and goes on.
    Any other exception is a bug and fails the run with the notebook and cell named.

    Parameters
    ----------
    reason : str
        Plain-language reason, shown to stakeholders as it is.
    model : str, optional
        The model or estimate concerned (``touchpoints``, ``covariates``, ``drivers`` …).

    Examples
    --------
    >>> try:
    ...     raise NotEstimable("no customer churned in the data", model="covariates")
    ... except NotEstimable as exc:
    ...     print(exc.model, "-", exc.reason)
    covariates - no customer churned in the data
    """

    exit_code = 4

    def __init__(self, reason: str, *, model: str | None = None):
        super().__init__(reason)
        self.reason, self.model = reason, model
