"""The result protocol and the result-file contracts.

Every analysis returns a :class:`Result`: a frozen dataclass with ``summary`` (a tidy table for
people), ``to_frame()`` (its CSV contract, :data:`RESULT_COLUMNS`), ``to_dict()``, and one
:class:`Printer` behind ``_repr_html_`` and ``__repr__`` — as lifelines' ``Printer`` serves every
fitter and statsmodels' ``Summary`` every model.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

RESULT_COLUMNS: dict[str, list[str]] = {
    "metrics": ["period", "touchpoint", "channel", "segment", "metric", "n", "value", "ci_lower", "ci_upper", "suppressed"],
    "retention": ["group", "days", "survival", "ci_lower", "ci_upper", "at_risk"],
    "hazard_ratios": ["model", "term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"],
    "drivers": ["driver", "coefficient", "ci_lower", "ci_upper", "p_value", "importance",
                "importance_ci_lower", "importance_ci_upper", "performance", "quadrant"],
    "impact": ["touchpoint", "exposure_share", "hazard_ratio", "attributable_churn_share",
               "churners_attributable", "revenue_at_risk", "exposure",
               "attributable_churn_share_ci_lower", "attributable_churn_share_ci_upper",
               "churners_attributable_ci_lower", "churners_attributable_ci_upper",
               "revenue_at_risk_ci_lower", "revenue_at_risk_ci_upper"],
    # fixed columns, then the own sample's size and the comparison on the common sample (issue 12)
    "metric_validity": ["metric", "touchpoint", "hazard_ratio_per_sd", "ci_lower", "ci_upper", "concordance_gain",
                        "n", "common_n", "gain_common", "gain_ci_lower", "gain_ci_upper", "rank", "rank_ci_lower",
                        "rank_ci_upper", "share_ranked_first"],
    "cumulative_incidence": ["group", "cause", "days", "cumulative_incidence", "ci_lower", "ci_upper", "at_risk"],
    # cxlib.run.compare: what changed since the previous run of the series (written with the index page)
    "changes_since_last_run": ["kind", "touchpoint", "metric_or_term", "previous_period", "period", "previous",
                               "previous_ci_lower", "previous_ci_upper", "current", "current_ci_lower",
                               "current_ci_upper", "difference", "q_value", "direction", "note"],
}
ALL = "all"  # value of an aggregated dimension in metrics.csv
PRINT_FORMAT = "{:.4g}"  # every number a Printer shows: four significant digits


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "—" if not np.isfinite(value) else PRINT_FORMAT.format(value)
    if value is None or value is pd.NA:
        return "—"
    return str(value)


class Printer:
    """Shows a result the same way in a notebook (HTML) and a console (text).

    Parameters
    ----------
    title : str
    lines : list of str
        Header lines: the method, n, warnings and notes.
    table : pandas.DataFrame
        The result's ``summary``.

    Examples
    --------
    >>> p = Printer("Model covariates", ["1,204 churn events"], pd.DataFrame({"term": ["a"], "hr": [1.23456]}))
    >>> print(p.to_text())
    Model covariates
    1,204 churn events
    term    hr
       a 1.235
    >>> "<td>1.235</td>" in p.to_html()
    True
    """

    def __init__(self, title: str, lines: list[str], table: pd.DataFrame):
        self.title, self.lines, self.table = title, lines, table

    def _shown(self) -> pd.DataFrame:
        return self.table.map(_cell) if len(self.table.columns) else self.table

    def to_text(self) -> str:
        body = self._shown().to_string(index=False) if len(self.table) else "(no rows)"
        return "\n".join([self.title, *self.lines, body])

    def to_html(self) -> str:
        head = f"<h4>{html.escape(self.title)}</h4>" + "".join(f"<p>{html.escape(x)}</p>" for x in self.lines)
        return head + self._shown().to_html(index=False, escape=True, border=0, classes="cx-table")


def _plain(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def result(cls: type) -> type:
    """Class decorator of every result: a frozen dataclass whose repr is the :class:`Printer`'s.

    Examples
    --------
    >>> @result
    ... class Tiny(Result):
    ...     title: ClassVar[str] = "Tiny"
    ...     summary: pd.DataFrame
    ...     def to_frame(self):
    ...         return self.summary
    >>> Tiny(pd.DataFrame({"x": [1]})).to_dict()
    {'summary': [{'x': 1}]}
    """
    return dataclasses.dataclass(frozen=True, repr=False)(cls)


class Result:
    """Base of every cxlib result: ``summary``, ``to_frame()``, ``to_dict()``, ``_repr_html_``, ``__repr__``.

    A subclass is declared with :func:`result`, has a ``summary`` (field or property), implements
    ``to_frame()`` (its CSV contract) and may add header lines in ``_lines()``. Fields declared with
    ``field(repr=False)`` (fitted model objects, large frames) are left out of ``to_dict()``.

    Examples
    --------
    >>> @result
    ... class Shares(Result):
    ...     title: ClassVar[str] = "Shares"
    ...     summary: pd.DataFrame
    ...     n: int = 0
    ...     def to_frame(self):
    ...         return self.summary
    ...     def _lines(self):
    ...         return [f"n = {self.n:,}"]
    >>> r = Shares(pd.DataFrame({"touchpoint": ["app"], "share": [0.123456]}), n=1204)
    >>> r
    Shares
    n = 1,204
    touchpoint  share
           app 0.1235
    >>> r.to_dict()["n"], r.to_frame().shape
    (1204, (1, 2))
    """

    title: ClassVar[str] = "Result"
    summary: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The result's CSV contract table."""
        raise NotImplementedError

    def _lines(self) -> list[str]:
        return []

    def to_dict(self) -> dict[str, Any]:
        """Fields as plain Python values (tables as lists of records), for JSON and tests."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.repr}  # type: ignore[arg-type]

    def printer(self) -> Printer:
        return Printer(self.title, self._lines(), self.summary)

    def _repr_html_(self) -> str:
        return self.printer().to_html()

    def __repr__(self) -> str:
        return self.printer().to_text()


def check_columns(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the contract columns of result ``name`` (in order).

    Raises ValueError naming missing columns; extra columns are an error too, because
    downstream jobs read these files by position as well as by name.

    Examples
    --------
    >>> check_columns("retention", pd.DataFrame({"group": ["all"], "days": [90], "extra": [1]}))
    Traceback (most recent call last):
    ...
    ValueError: result 'retention': missing columns ['survival', 'ci_lower', 'ci_upper', 'at_risk'], unexpected columns ['extra']
    """
    expected = RESULT_COLUMNS.get(name)
    if expected is None:
        return df
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing or extra:
        raise ValueError(f"result {name!r}: missing columns {missing}, unexpected columns {extra}")
    return df[expected]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP: a spreadsheet runs a cell that starts so


def _neutralize(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START + ("'",)):
        if value.startswith("'") and not value[1:].startswith(FORMULA_START):
            return value  # a plain leading apostrophe: nothing to protect, nothing to undo
        return "'" + value
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START + ("'",)):
        return value[1:]
    return value


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula, prefixed with an apostrophe (OWASP CSV injection).

    A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading ``'``, which spreadsheets show as text; numeric columns are untouched. A text cell that
    already begins with an apostrophe followed by one of those gets one more, so that
    :func:`read_result` restores every value exactly.

    Examples
    --------
    >>> df = pd.DataFrame({"segment": ['=HYPERLINK("http://x","y")', "smb", "-2+3", "'=x"], "n": [-1, 2, 3, 4]})
    >>> for v in neutralize_formulas(df)["segment"]:
    ...     print(v)
    '=HYPERLINK("http://x","y")
    smb
    '-2+3
    ''=x
    >>> neutralize_formulas(df)["n"].tolist()
    [-1, 2, 3, 4]
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutralize)
    return out


def write_result(results_dir: Path, name: str, df: pd.DataFrame) -> Path:
    """Write ``results/<name>.csv`` atomically: contract columns checked, formulas neutralised.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = write_result(d, "example", pd.DataFrame({"touchpoint": ["@SUM(1+1)", "billing"], "n": [3, 4]}))
    >>> print((d / "example.csv").read_text().strip())
    touchpoint,n
    '@SUM(1+1),3
    billing,4
    >>> read_result(d, "example")["touchpoint"].tolist()
    ['@SUM(1+1)', 'billing']
    """
    df = neutralize_formulas(check_columns(name, df))
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.csv"
    tmp = path.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False, float_format="%.10g")
    tmp.replace(path)
    return path


def read_result(results_dir: Path, name: str) -> pd.DataFrame | None:
    """Read a result file back as it was computed (formula neutralisation undone); None when absent.

    Examples
    --------
    >>> read_result(Path("/nonexistent"), "metrics") is None
    True
    """
    path = Path(results_dir) / f"{name}.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(_restore)
    return df
