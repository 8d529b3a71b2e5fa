"""Exceptions that carry a message meant for the user (no traceback needed)."""

from __future__ import annotations


class CxError(Exception):
    """Base class: the message says what is wrong and how to fix it."""

    exit_code = 2


class ParamsError(CxError):
    """A params file is missing, unreadable or breaks a rule."""


class DataError(CxError):
    """An input table is missing, unreadable or violates the data contract."""

    exit_code = 3


class RunError(CxError):
    """A run could not complete (a notebook failed, the run was interrupted...)."""

    exit_code = 4


class RunExistsError(CxError):
    """The run folder exists and ``--force`` was not given."""

    exit_code = 5
