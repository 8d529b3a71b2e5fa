"""The data-quality section's sentences and warnings (:mod:`cxlib.analyses.quality` computes the tables).

A sentence is plain text (escape it before showing it as HTML: ``display.say("{text}", text=...)``).
A warning is a ``(template, values)`` pair for ``wb.warn(template, **values)``: the template is
trusted text, the values are escaped where they are shown. Names from the data (touchpoints, column
names of the input files) go through :func:`cxlib.text.names.display_name`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cxlib.stats.competing import CauseAssignment
from cxlib.text.format import fmt_pct
from cxlib.text.names import display_name as _n

Note = tuple[str, dict[str, str]]


def short_list(items: list[str], k: int = 5) -> str:
    """The first ``k`` items (names, each as :func:`~cxlib.text.names.display_name` shows it) joined by
    commas, and how many more.

    Examples
    --------
    >>> short_list(list("abcdefg"), 3)
    'a, b, c and 4 more'
    """
    shown = ", ".join(map(_n, items[:k]))
    return shown + (f" and {len(items) - k:,} more" if len(items) > k else "")


def customers_sentence(overview: pd.DataFrame, as_of: dt.date) -> str:
    """Which customers the analysis covers (their signup dates), the share of customer rows kept, and
    the data's end. No exact count (``docs/privacy.md``).

    Examples
    --------
    >>> ov = pd.DataFrame({"table": ["customers"], "share_kept": [0.998], "first_date": [dt.date(2024, 1, 2)],
    ...                    "last_date": [dt.date(2026, 9, 1)]})
    >>> customers_sentence(ov, dt.date(2026, 9, 30))
    'The analysis covers the customers who signed up between 2024-01-02 and 2026-09-01 (99.8% of the customer rows read; the rest broke a rule of the data contract); the data run to 2026-09-30.'
    """
    cust = overview.set_index("table").loc["customers"]
    share = cust.get("share_kept")
    kept = ("" if share is None or pd.isna(share) else
            " (100% of the customer rows read)" if share == 1 else
            f" ({fmt_pct(share)} of the customer rows read; the rest broke a rule of the data contract)")
    return (f"The analysis covers the customers who signed up between {cust['first_date']} "
            f"and {cust['last_date']}{kept}; the data run to {as_of}.")


def missing_table_notes(present: list[str]) -> list[str]:
    """A note per optional table the run does not have.

    Examples
    --------
    >>> missing_table_notes(["customers", "interactions"])
    ['No surveys table in this run: the sections that need it say so and skip their analysis.']
    """
    return [f"No {t} table in this run: the sections that need it say so and skip their analysis."
            for t in ("interactions", "surveys") if t not in present]


def data_warnings(churn: dict[str, int], stale: pd.DataFrame, as_of: dt.date) -> list[Note]:
    """Warnings about the data the models rest on: no churn, all churned, stale event tables.

    Parameters
    ----------
    churn : dict
        :func:`cxlib.analyses.quality.churn_counts`.
    stale : DataFrame
        :func:`cxlib.analyses.quality.stale_tables`.
    as_of : date

    Examples
    --------
    >>> stale = pd.DataFrame({"table": ["surveys"], "last_date": [dt.date(2026, 6, 1)], "gap_days": [121]})
    >>> for text, values in data_warnings({"customers": 10, "churned": 0}, stale, dt.date(2026, 9, 30)):
    ...     print(text.format(**values)[:60])
    No customer churned by 2026-09-30: retention curves stay at
    The surveys data end on 2026-06-01, 121 days before as_of: t
    """
    notes: list[Note] = []
    if churn["churned"] == 0:
        notes.append((("No customer churned by {as_of}: retention curves stay at 100% and the churn models cannot be "
                       "fitted. If customers did leave, check that churn_date is exported."), {"as_of": str(as_of)}))
    elif churn["churned"] == churn["customers"]:
        notes.append((("Every customer churned by {as_of}: retention is zero at the end of the window and the churn "
                       "models compare churners with churners only. Check that churn_date is empty for active customers."),
                      {"as_of": str(as_of)}))
    for s in stale.itertuples():
        notes.append((("The {table} data end on {last}, {gap} days before as_of: the export may be stale, and the "
                       "latest period in this report looks quieter than it was."),
                      {"table": str(s.table), "last": str(s.last_date),
                       "gap": "an unknown number of" if s.gap_days != s.gap_days else f"{int(s.gap_days):,}"}))
    return notes


def unused_columns_note(unused: dict[str, list[str]]) -> Note | None:
    """The note naming the input columns no analysis reads (None when every column is used).

    Examples
    --------
    >>> text, values = unused_columns_note({"customers": ["email", "name"], "surveys": []})
    >>> text.format(**values)
    'Columns that no analysis uses are not read into the report and never shown: customers: email, name.'
    """
    unused = {t: cols for t, cols in unused.items() if cols}
    if not unused:
        return None
    return ("Columns that no analysis uses are not read into the report and never shown: {cols}.",
            {"cols": "; ".join(f"{t}: {short_list(cols)}" for t, cols in unused.items())})


def cause_sentence(assignment: CauseAssignment) -> str:
    """How the churners' reasons map to causes: churners per cause, reasons not mapped, reasons missing.

    A count that :func:`cxlib.stats.suppression.protect_reasons` withheld (None) is not given; a
    cause of fewer than ``min_cell_size`` churners reads "fewer than k".

    Examples
    --------
    >>> from cxlib.stats.competing import assign_causes
    >>> a = assign_causes(pd.Series(["price", "fraud", None, "price"]), [True, True, True, False],
    ...                   {"voluntary": ["price"]})
    >>> cause_sentence(a)
    "Churners by cause: voluntary 1 (33.3%), other 2 (66.7%), of 3 churners. 1 churner(s) give a reason that churn_causes does not map (fraud); they count as 'other'. 1 churner(s) have no churn reason; they count as 'other'. 1 customer(s) who had not churned by the as-of date carry a churn reason, which is ignored."
    >>> from cxlib.stats.suppression import protect_reasons
    >>> b = assign_causes(pd.Series(["price"] * 40 + ["fraud"] * 4 + [None] * 19), [True] * 63, {"voluntary": ["price"]})
    >>> cause_sentence(protect_reasons(b, 10)[0])
    "Churners by cause: voluntary 40 (63.5%), other 23 (36.5%), of 63 churners. Some churners give a reason that churn_causes does not map (fraud); they count as 'other'. Some churners have no churn reason; they count as 'other'. Reasons of fewer than 10 churners are hidden in the table, with others of their cause so that none can be derived."
    """
    a = assignment
    if a.n_churners == 0:
        return "No customer churned by the as-of date, so no churn causes are reported."
    per_cause = a.cause_churners or a.summary.groupby("cause", sort=False)["churners"].sum().to_dict()
    k = a.min_cell_size

    def count(n: int) -> str:
        return f"fewer than {k}" if k and n < k else f"{int(n):,} ({fmt_pct(n / a.n_churners)})"

    listing = ", ".join(f"{c} {count(per_cause.get(c, 0))}" for c in a.causes)
    text = f"Churners by cause: {listing}, of {a.n_churners:,} churners."
    if a.unmapped_reasons:
        who = f"{a.n_unmapped:,} churner(s)" if a.n_unmapped is not None else "Some churners"
        text += f" {who} give a reason that churn_causes does not map ({short_list(a.unmapped_reasons)}); they count as 'other'."
    if a.n_missing or (a.n_missing is None and (a.summary["status"] == "missing").any()):
        who = f"{a.n_missing:,} churner(s)" if a.n_missing is not None else "Some churners"
        text += f" {who} have no churn reason; they count as 'other'."
    if a.n_reason_not_churned:
        text += (f" {a.n_reason_not_churned:,} customer(s) who had not churned by the as-of date carry a churn "
                 "reason, which is ignored.")
    elif a.n_reason_not_churned is None:
        text += (f" Fewer than {k} customers who had not churned by the as-of date carry a churn reason, which is "
                 "ignored.")
    if k and a.summary["churners"].isna().any():
        text += (f" Reasons of fewer than {k} churners are hidden in the table, with others of their cause so that "
                 "none can be derived.")
    return text


def duplicates_note(duplicates: int, dropped: bool) -> Note | None:
    """The data-quality line on exact duplicate interaction rows (None when there are none).

    The duplicates are counted (faulty records, like the rows excluded per rule), but not as a share
    of the interactions: count and share together give the interactions over all periods, a total
    that gives hidden cells of ``metrics.csv`` back (``docs/privacy.md``).

    Parameters
    ----------
    duplicates : int
        Rows equal in every column to an earlier row.
    dropped : bool
        ``drop_duplicate_interactions`` is set.

    Examples
    --------
    >>> text, values = duplicates_note(4424, dropped=False)
    >>> text.format(**values)[:96]
    '4,424 interaction row(s) repeat an earlier row exactly (every column equal) and are counted as s'
    >>> duplicates_note(0, dropped=False) is None
    True
    """
    if not duplicates:
        return None
    values = {"n": f"{duplicates:,}"}
    if dropped:
        return (("{n} interaction row(s) repeated an earlier row exactly (every column equal) and were dropped "
                 "(drop_duplicate_interactions: true): each counts once."), values)
    return (("{n} interaction row(s) repeat an earlier row exactly (every column equal) and are counted as separate "
             "interactions in volumes and ratings. If the export duplicated them, set "
             "drop_duplicate_interactions: true in the params file to count each once."), values)


def exclusions_sentence(excluded: pd.DataFrame) -> str:
    """How many rows broke the contract, and the largest group.

    Examples
    --------
    >>> ex = pd.DataFrame({"table": ["surveys", "customers"], "column": ["nps", "churn_date"],
    ...                    "rule": ["an integer 0–10", "on or after signup_date"], "rows": [4, 9]})
    >>> exclusions_sentence(ex)
    '13 row(s) broke a rule of the data contract and were excluded; the largest group is 9 row(s) of customers whose churn_date is not on or after signup_date.'
    >>> exclusions_sentence(ex.iloc[:0])
    "Every row passed the data contract's checks; nothing was excluded."
    """
    if excluded.empty:
        return "Every row passed the data contract's checks; nothing was excluded."
    top = excluded.sort_values("rows").iloc[-1]
    return (f"{int(excluded['rows'].sum()):,} row(s) broke a rule of the data contract and were excluded; the largest "
            f"group is {top['rows']} row(s) of {top['table']} whose {_n(top['column'])} is not {top['rule']}.")


def missing_sentence(missing: pd.DataFrame) -> str:
    """The column with most missing values (or that none has any).

    Examples
    --------
    >>> m = pd.DataFrame({"table": ["interactions"] * 2, "column": ["csat", "ces"], "any_missing": [True, True],
    ...                   "missing_share": [0.25, 0.4]})
    >>> missing_sentence(m)
    'The column with most missing values is interactions.ces: 40.0% of rows are empty.'
    """
    shown = missing[missing["any_missing"]]
    if shown.empty:
        return "No column has missing values."
    worst = shown.sort_values("missing_share").iloc[-1]
    return (f"The column with most missing values is {worst['table']}.{_n(worst['column'])}: "
            f"{fmt_pct(worst['missing_share'])} of rows are empty.")


def describe_inventory(inv: pd.DataFrame) -> str:
    """One sentence reading the touchpoint inventory (no volumes: ``metrics.csv`` has them per period).

    Examples
    --------
    >>> inv = pd.DataFrame({"touchpoint": ["app", "shop"], "status": ["ok", "silent"]})
    >>> describe_inventory(inv)
    '2 touchpoint(s) in the data or in params; 0 undeclared; 1 silent (shop). Volumes and ratings per period are in the touchpoint portfolio.'
    """
    n = len(inv)
    undeclared = inv.loc[inv["status"] == "undeclared", "touchpoint"].tolist()
    silent = inv.loc[inv["status"] == "silent", "touchpoint"].tolist()
    parts = [f"{n:,} touchpoint(s) in the data or in params"]
    parts.append(f"{len(undeclared)} undeclared" + (f" ({short_list(undeclared)})" if undeclared else ""))
    parts.append(f"{len(silent)} silent" + (f" ({short_list(silent)})" if silent else ""))
    return "; ".join(parts) + ". Volumes and ratings per period are in the touchpoint portfolio."


def coverage_warning(coverage: dict[str, float | int], most: int, least: int) -> Note | None:
    """The warning when the data name more touchpoints than are analysed (None otherwise).

    Parameters
    ----------
    coverage : dict
        :func:`cxlib.analyses.quality.touchpoint_coverage`.
    most, least : int
        At most this many touchpoints are analysed, each with at least ``least`` interactions.

    Examples
    --------
    >>> text, values = coverage_warning({"found": 40, "analysed": 25, "interaction_share": 0.93}, 25, 10)
    >>> values["share"]
    '93.0%'
    """
    if coverage["found"] <= coverage["analysed"]:
        return None
    return (("The data name {found} touchpoints; the analyses cover {analysed} of them ({share} of interactions): "
             "the busiest, at most {most}, with at least {least} interactions each; the portfolio pools the "
             "rest as one, (other touchpoints). Declare `touchpoints` in the params file to choose them."),
            {"found": f"{coverage['found']:,}", "analysed": str(coverage["analysed"]),
             "share": fmt_pct(coverage["interaction_share"]), "most": str(most), "least": str(least)})
