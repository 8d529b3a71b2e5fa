"""The data contract, checked in the engine.

Each rule is a NULL-safe boolean Ibis expression that is true on a violating row. A table is
checked in one pass: one aggregate query per table counts its rows, every rule's violations (each
a conditional count over the same scan) and the rows an exclusion keeps. A small per-customer
reference (first signup, last churn, rows, whether the customer's row is kept) is built once and
joined by the event tables, instead of re-validating the customers inside every event query.
With ``on_invalid: exclude`` the same expressions filter the rows out. The input files are never
modified.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from cxlib.ingest.read import (
    CONTRACT,
    OFFSET_SUFFIX,
    RAW_PREFIX,
    Tables,
    raw_text,
    stripped,
    to_number,
)
from cxlib.ingest.spark import session_cache

Check = Callable[[ir.Table], ir.BooleanValue]
# Optional customers column (text): why a churner left, mapped to a cause by params churn_causes. It is
# read only when churn_causes are set. A reason on a customer who is active at as_of breaks no rule: a
# churn dated after as_of, or a customer who came back, keeps the reason in many CRMs; it is ignored and
# counted in the data-quality section.
REASON = "churn_reason"
# Names are shown in the report (tables, figure labels, sentences): longer ones are a broken
# export or a free-text field in the wrong column.
MAX_LABEL_CHARS = 200
_OFFSET = RAW_PREFIX + "timestamp" + OFFSET_SUFFIX


@dataclass(frozen=True)
class Rule:
    """One contract rule: which table and column, what it demands, how to fix a violation.

    ``check`` maps a table to a NULL-safe boolean expression, true on a violating row.

    Examples
    --------
    >>> rule = Rule("customers", "customer_id", "not null", "Fill the ids.", lambda t: t.customer_id.isnull())
    >>> t = ibis.memtable({"customer_id": ["a", None]})
    >>> ibis.duckdb.connect().execute(rule.check(t)).tolist()
    [False, True]
    """

    table: str
    column: str
    rule: str
    hint: str
    check: Check
    # "offset": the mixed time-zone rule, whose check compares against the table's majority
    # convention; it is counted as two conditional counts (with, without an offset) in the same pass.
    kind: str = ""


def _raw(t: ir.Table, col: str) -> ir.Value:
    """The column's value as given in the file, '' and NULL both treated as empty."""
    return stripped(t[RAW_PREFIX + col])


def _unparsed(col: str) -> Check:
    return lambda t: t[col].isnull() & _raw(t, col).notnull()  # the cheap test first


def _missing(col: str) -> Check:
    return lambda t: t[col].isnull() & _raw(t, col).isnull() if RAW_PREFIX + col in t.columns else t[col].isnull()


def _bad_int(col: str, lo: int, hi: int, allow_empty: bool = True) -> Check:
    def check(t: ir.Table) -> ir.BooleanValue:
        v = t[col]
        bad_value = v.isnan() | v.isinf() | (v < lo) | (v > hi) | (v != v.round(0))
        unparsed = v.isnull() & _raw(t, col).notnull()
        out = unparsed | (v.notnull() & bad_value)
        if not allow_empty:  # empty: no value (a value that does not parse is counted above)
            out = out | v.isnull()
        return out

    return check


def _too_long(col: str) -> Check:
    return lambda t: t[col].cast("string").length() > MAX_LABEL_CHARS


def _label_rule(table: str, col: str) -> Rule:
    return Rule(table, col, f"at most {MAX_LABEL_CHARS} characters",
                f"{col} values are shown in the report as names; a value this long is a free-text field or a broken "
                "export: map the right column with data.columns, or shorten the values.", _too_long(col))


def customer_rules(as_of: dt.date, columns: list[str], labels: list[str] | tuple[str, ...] = ()) -> list[Rule]:
    """Rules of the customers table; ``labels`` are the attribute columns shown by name (segment, covariates).

    Examples
    --------
    >>> rules = customer_rules(dt.date(2026, 9, 30), ["customer_id", "signup_date", "churn_date", "segment"], ["segment"])
    >>> [(r.column, r.rule) for r in rules][:2], rules[-1].column
    ([('customer_id', 'not null'), ('customer_id', 'unique')], 'segment')
    """
    rules = [
        Rule("customers", "customer_id", "not null", "Every customer needs an id; remove or fill the rows without one.",
             lambda t: t.customer_id.isnull()),
        Rule("customers", "customer_id", "unique", "Each customer must appear once; deduplicate the export (all rows of a repeated id are affected).",
             lambda t: t.customer_id.notnull() & (t.ref_dups > 1), kind="duplicates"),
        Rule("customers", "signup_date", "not null", "Every customer needs a signup date.", _missing("signup_date")),
        Rule("customers", "signup_date", "is a date (YYYY-MM-DD)", "Write dates as ISO 8601, e.g. 2025-03-31; a file must use one format.",
             _unparsed("signup_date")),
        Rule("customers", "signup_date", f"on or before as_of ({as_of})", "Customers who signed up after as_of do not belong in this run: set a later as_of, or on_invalid: exclude.",
             lambda t: t.signup_date > as_of),
        Rule("customers", "churn_date", "is a date (YYYY-MM-DD) or empty", "Leave churn_date empty for active customers; write dates as ISO 8601.",
             _unparsed("churn_date")),
        Rule("customers", "churn_date", "on or after signup_date", "A customer cannot churn before signing up: check the two dates (swapped columns?).",
             lambda t: t.churn_date < t.signup_date),
    ]
    if RAW_PREFIX + "monthly_revenue" in columns:  # optional: typed tables add it as NULL when absent
        rules.append(Rule("customers", "monthly_revenue", "a finite number ≥ 0 or empty",
                          "Revenue must be a plain non-negative number with a decimal point (no decimal comma, thousands separator, currency symbol, NaN or infinity).",
                          lambda t: (t.monthly_revenue.isnull() & _raw(t, "monthly_revenue").notnull())
                          | t.monthly_revenue.isnan() | t.monthly_revenue.isinf() | (t.monthly_revenue < 0)))
    rules += [_label_rule("customers", c) for c in labels if c in columns and c not in CONTRACT["customers"]]
    return rules


def _event_rules(table: str, as_of: dt.date) -> list[Rule]:
    """Rules shared by the two event tables (interactions, surveys)."""
    day = lambda t: t.timestamp.date()
    return [
        Rule(table, "customer_id", "not null", "Every row needs the customer's id.", lambda t: t.customer_id.isnull()),
        Rule(table, "customer_id", "exists in customers", "Rows of customers missing from the customers table cannot be analysed: export both tables from the same snapshot.",
             lambda t: t.customer_id.notnull() & t.ref_n.isnull()),
        Rule(table, "timestamp", "not null", "Every row needs a timestamp.", _missing("timestamp")),
        Rule(table, "timestamp", "is a date-time (ISO 8601)", "Write timestamps as ISO 8601 (2025-03-31T14:05:00), one format and one time zone per file.",
             _unparsed("timestamp")),
        Rule(table, "timestamp", "one time-zone convention (all with a UTC offset, or none)",
             "The file mixes timestamps with a UTC offset or zone (e.g. +02:00, Z) and timestamps without one, "
             "which are ambiguous by hours; the rows of the rarer kind are counted. Export every timestamp in UTC, "
             "or every one with its offset.",
             lambda t: t[_OFFSET].notnull() & (t[_OFFSET] != t.ref_offset_majority), kind="offset"),
        Rule(table, "timestamp", f"on or before as_of ({as_of})", "Rows after as_of do not belong in this run: set a later as_of, or on_invalid: exclude.",
             lambda t: day(t) > as_of),
    ]


def interaction_rules(as_of: dt.date, columns: list[str]) -> list[Rule]:
    """Rules of the interactions table; the optional columns' rules only when ``columns`` has them.

    Examples
    --------
    >>> rules = interaction_rules(dt.date(2026, 9, 30), ["customer_id", "timestamp", "touchpoint", "csat"])
    >>> sorted({r.column for r in rules})
    ['csat', 'customer_id', 'timestamp', 'touchpoint']
    """
    day = lambda t: t.timestamp.date()
    rules = _event_rules("interactions", as_of) + [
        Rule("interactions", "timestamp", "on or after the customer's signup_date", "An interaction cannot precede the signup: check time zones and the customer's signup_date.",
             lambda t: day(t) < t.ref_signup),
        Rule("interactions", "timestamp", "on or before the customer's churn_date", "An interaction after churn is impossible: check the customer's churn_date.",
             lambda t: t.ref_churn.notnull() & (day(t) > t.ref_churn)),
        Rule("interactions", "touchpoint", "not null", "Every interaction needs a touchpoint name.", lambda t: t.touchpoint.isnull()),
        _label_rule("interactions", "touchpoint"),
        Rule("interactions", "csat", "an integer 1–5 or empty", "CSAT is a 1–5 rating; leave it empty when not rated.", _bad_int("csat", 1, 5)),
    ]
    if RAW_PREFIX + "ces" in columns:
        rules.append(Rule("interactions", "ces", "an integer 1–7 or empty", "CES is a 1–7 rating; leave it empty when not asked.", _bad_int("ces", 1, 7)))
    if RAW_PREFIX + "channel" in columns:
        rules.append(_label_rule("interactions", "channel"))
    if RAW_PREFIX + "resolved" in columns:
        rules.append(Rule("interactions", "resolved", "true/false or empty", "Write resolved as true/false (or 1/0, yes/no).", _unparsed("resolved")))
    return rules


def survey_rules(as_of: dt.date, drivers: list[str]) -> list[Rule]:
    """Rules of the surveys table, with a 1–5 rule per attribute rating in ``drivers``.

    Examples
    --------
    >>> [r.rule for r in survey_rules(dt.date(2026, 9, 30), ["sat_app"]) if r.column in ("nps", "sat_app")]
    ['an integer 0–10', 'an integer 1–5 or empty']
    """
    rules = _event_rules("surveys", as_of) + [
        Rule("surveys", "nps", "an integer 0–10", "NPS is the 0–10 likelihood-to-recommend answer; rows without it are not responses.",
             _bad_int("nps", 0, 10, allow_empty=False)),
    ]
    rules += [
        Rule("surveys", d, "an integer 1–5 or empty", f"{d} is a 1–5 attribute rating; leave it empty when not answered.", _bad_int(d, 1, 5))
        for d in drivers
    ]
    return rules


@dataclass
class ValidationReport:
    """Counts of rule violations per table, and the rows kept after exclusion.

    Examples
    --------
    >>> v = pd.DataFrame([{"table": "customers", "file": "customers.csv", "column": "churn_date",
    ...                    "rule": "on or after signup_date", "rows": 5, "hint": "Check the two dates."}])
    >>> report = ValidationReport(v, {"customers": 100}, {"customers": 95}, mode="exclude")
    >>> report.ok, report.n_violations
    (True, 5)
    >>> print(report.message())
    customers.csv, column 'churn_date', rule "on or after signup_date": 5 row(s) break it. Check the two dates.
    >>> ValidationReport.from_dict(report.to_dict()).rows_kept
    {'customers': 95}
    """

    violations: pd.DataFrame
    rows_read: dict[str, int]
    rows_kept: dict[str, int]
    mode: str
    fatal: list[str] = field(default_factory=list)

    @property
    def n_violations(self) -> int:
        """Violating rows, all rules together (a row breaking two rules counts twice)."""
        return int(self.violations["rows"].sum()) if len(self.violations) else 0

    @property
    def ok(self) -> bool:
        """True when the run may go on: no schema problem, and no violation unless excluding."""
        return not self.fatal and (self.mode == "exclude" or self.n_violations == 0)

    def message(self) -> str:
        """One paragraph per problem, for the command line."""
        lines = list(self.fatal)
        for r in self.violations.itertuples():
            lines.append(f"{r.file}, column {r.column!r}, rule \"{r.rule}\": {r.rows:,} row(s) break it. {r.hint}")
        if self.mode == "fail" and self.n_violations:
            lines.append("Fix the data, or set on_invalid: exclude in the params file to drop violating rows (the report then states how many and why).")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data (the run's ``validation.json``)."""
        return {
            "mode": self.mode,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "fatal": self.fatal,
            "violations": self.violations.to_dict(orient="records"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationReport:
        """The report :meth:`to_dict` wrote."""
        return cls(pd.DataFrame(d["violations"], columns=_COLUMNS), d["rows_read"], d["rows_kept"], d["mode"], d.get("fatal", []))


_COLUMNS = ["table", "file", "column", "rule", "rows", "hint"]


FLAG = "cx__"  # prefix of the rule flags (and reference columns) in the checked tables; never in a clean table
_OFFSET_FLAG = FLAG + "offset"
_KEPT = FLAG + "customer_kept"
_BAD = FLAG + "bad"  # any rule but the time-zone one broken
HASH = FLAG + "hash"  # of every input column of an interaction: exact duplicates share it


def _flag(rules: list[Rule], t: ir.Table) -> dict[str, ir.BooleanValue]:
    return {f"{FLAG}v{i}": r.check(t).fill_null(False) for i, r in enumerate(rules)}


def _any(flags: list[ir.Value]) -> ir.BooleanValue:
    out: ir.BooleanValue = ibis.literal(False)
    for f in flags:
        out = out | f
    return out


def _sum(flag: ir.BooleanValue) -> ir.IntegerValue:
    return flag.cast("int64").sum()


def _int(value: Any) -> int:
    return 0 if pd.isna(value) else int(value)


def _schema_problems(tables: Tables) -> list[str]:
    p = tables.params
    out = []
    cust_cols = tables["customers"].columns
    for cov in p.covariates:
        if cov not in cust_cols:
            out.append(f"customers ({tables.label('customers')}): covariate {cov!r} named in params is not a column; "
                       f"columns are {', '.join(c for c in cust_cols if not c.startswith(RAW_PREFIX))}. Fix `covariates` or data.columns.")
    if p.churn_causes and REASON not in cust_cols:
        out.append(f"customers ({tables.label('customers')}): churn_causes are set in params but the table has no "
                   f"{REASON} column. Map the column that holds each churner's reason with data.columns "
                   f"(customers: {{{REASON}: <column>}}), or remove churn_causes to report all churn as one cause.")
    if p.survey_drivers and tables.has("surveys"):
        cols = tables["surveys"].columns
        for d in p.survey_drivers:
            if d not in cols:
                out.append(f"surveys ({tables.label('surveys')}): survey driver {d!r} named in params is not a column. Fix `survey_drivers`.")
    return out


def kept_rows(checked: ir.Table, offsets_usual: bool | None) -> ir.Table:
    """The rows of a checked event table (:meth:`Validator.checked`) that the analysis keeps, without
    the flags: no rule broken, the customer kept, and the majority time-zone convention.

    Examples
    --------
    >>> t = ibis.memtable({"x": [1, 2, 3, 4], "cx__bad": [False, True, False, False],
    ...                    "cx__customer_kept": [True, True, False, True], "cx__offset": [None, None, None, True]})
    >>> ibis.duckdb.connect().execute(kept_rows(t, offsets_usual=False))["x"].tolist()
    [1]
    """
    offset = checked[_OFFSET_FLAG]
    usual = offset.isnull() | (offset == bool(offsets_usual))
    t = checked.filter(~checked[_BAD] & checked[_KEPT] & usual)
    return t.drop(*[c for c in t.columns if c.startswith(FLAG) and c != HASH])


class Validator:
    """Check the tables against the contract and build the (filtered) analysis tables.

    Examples
    --------
    >>> from cxlib.ingest.read import load_tables
    >>> from cxlib.params import RunParams
    >>> con = ibis.duckdb.connect()
    >>> _ = con.create_table("customers", ibis.memtable({"customer_id": ["a", "b", "c"],
    ...     "signup_date": ["2025-01-01", "2025-02-01", "2025-03-01"], "churn_date": ["", "2024-12-31", ""]}))
    >>> params = RunParams.model_validate({"run_id": "tiny", "as_of": "2025-09-30", "on_invalid": "exclude",
    ...                                    "data": {"customers": "table:customers"}})
    >>> v = Validator(load_tables(params, con))
    >>> report = v.report()
    >>> report.violations[["column", "rule", "rows"]].values.tolist(), report.rows_kept
    ([['churn_date', 'on or after signup_date', 1]], {'customers': 2})
    >>> v.clean_tables()["customers"].count().execute()
    2

    With a ``folder`` (``cx run`` passes the run's clean-table folder), the checked event tables
    are written there as Parquet in their single pass: they are then the clean tables too
    (:func:`kept_rows` of them), and nothing reads the inputs again.
    """

    def __init__(self, tables: Tables, folder: Path | None = None):
        self.tables = tables
        self.folder = folder
        p = tables.params
        self.rules: dict[str, list[Rule]] = {
            "customers": customer_rules(p.as_of, tables["customers"].columns,
                                        ["segment", *p.covariates, *([REASON] if p.churn_causes else [])]),
        }
        self._offset_majority: dict[str, bool] = {}
        self._checked: dict[str, ir.Table] = {}
        self._reference: ir.Table | None = None
        self._cached: list[ir.CachedTable] = []
        if tables.has("interactions"):
            self.rules["interactions"] = interaction_rules(p.as_of, tables["interactions"].columns)
        if tables.has("surveys"):
            drivers = [d for d in p.survey_drivers if d in tables["surveys"].columns]
            self.rules["surveys"] = survey_rules(p.as_of, drivers)

    def _store(self, kind: str, t: ir.Table, file: bool = False) -> ir.Table:
        """``t`` computed once: a Parquet file in :attr:`folder` (``file``), else a temporary table on
        DuckDB (both spill beyond memory_limit), cached on other engines."""
        con = self.tables.con
        if getattr(con, "name", None) != "duckdb":
            cached = session_cache(t)
            self._cached.append(cached)
            return cached
        name = f"cx_{kind}_{uuid.uuid4().hex[:12]}"
        if file and self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            con.to_parquet(t, self.stored(kind))
            return con.read_parquet(self.stored(kind), table_name=name)
        # A plain temporary table: ibis' cache() would drop it from a finalizer, after the run has
        # closed the connection.
        return con.create_table(name, t, temp=True)

    def release(self) -> None:
        """Drop what the validation cached on the engine (Spark); call it before closing the connection.

        Otherwise ibis drops the cached tables from finalizers when the interpreter exits, on a
        closed session, and each one prints a traceback into the run's log."""
        while self._cached:
            self._cached.pop().release()

    def stored(self, table: str) -> Path | None:
        """The Parquet file holding ``table``'s checked rows (event tables with a :attr:`folder`), else None."""
        if self.folder is None or table == "customers" or getattr(self.tables.con, "name", None) != "duckdb":
            return None
        return self.folder / f"{table}.parquet"

    def checked(self, table: str) -> ir.Table:
        """The table typed once, with every rule's flag as a boolean column (``cx__v<i>``), computed once.

        This is the only query that reads the input: the report aggregates these flags, the clean
        table filters them. The event tables carry the customer reference's verdict
        (``cx__customer_kept``) and their timestamps' offset flag (``cx__offset``) from the same pass;
        the raw text columns are used in the pass and not kept.
        """
        if table not in self._checked:
            rules = self.rules[table]
            t = self._typed(table)
            if table == "customers":
                flags = _flag([r for r in rules if r.kind != "duplicates"], t)
                extra: dict[str, ir.Value] = {}
            else:
                ref = self.reference()
                t = t.left_join(ref, "customer_id")
                t = t.drop(*[c for c in t.columns if c == "customer_id_right"])
                flags = _flag([r for r in rules if r.kind != "offset"], t)
                extra = {_BAD: _any(list(flags.values())), _OFFSET_FLAG: t[_OFFSET], _KEPT: t.ref_kept.fill_null(False)}
            keep = [c for c in t.columns if not c.startswith((RAW_PREFIX, "ref_"))]
            if table == "interactions":
                extra[HASH] = ibis.struct({c: t[c] for c in keep}).hash()
            self._checked[table] = self._store(table if table != "customers" else "checked_customers",
                                               t.select(*keep, **flags, **extra), file=table != "customers")
        return self._checked[table]

    def reference(self) -> ir.Table:
        """Per customer id: first signup, last churn, rows, and whether its row is kept (built once).

        ``ref_kept`` is true when the id has exactly one row and that row breaks no rule: an
        event row of any other customer is dropped with ``on_invalid: exclude``. It is a small
        aggregate of the checked customers table, joined once by each event table.
        """
        if self._reference is None:
            t = self.checked("customers")
            bad = _any([t[c] for c in t.columns if c.startswith(FLAG)])
            ref = (t.filter(t.customer_id.notnull()).mutate(ref_bad=bad.cast("int8"))
                   .group_by("customer_id")
                   .aggregate(ref_signup=_.signup_date.min(), ref_churn=_.churn_date.max(), ref_n=_.count(),
                              ref_bad=_.ref_bad.max()))
            ref = ref.mutate(ref_kept=(ref.ref_n == 1) & (ref.ref_bad == 0)).drop("ref_bad")
            self._reference = self._store("customer_reference", ref)
        return self._reference

    def _typed(self, table: str) -> ir.Table:
        """The typed input table (survey drivers typed here: their names come from params)."""
        t = self.tables[table]
        if table == "surveys":
            drivers = [d for d in self.tables.params.survey_drivers if d in t.columns]
            t = t.mutate(**{d: to_number(t[d]).name(d) for d in drivers},
                         **{RAW_PREFIX + d: raw_text(t[d], "float64") for d in drivers})
        return t

    def _flags(self, table: str) -> list[str]:
        return [c for c in self.checked(table).columns if c.startswith(FLAG + "v")]

    def offsets_usual(self, table: str) -> bool | None:
        """Whether most timestamps of an event table carry a UTC offset (from the report's aggregate,
        else one small query over the checked table); None for customers."""
        if table == "customers":
            return None
        if table not in self._offset_majority:
            flag = self.checked(table)[_OFFSET_FLAG]
            row = self.checked(table).aggregate(with_offset=_sum(flag.fill_null(False)), n=flag.count()).execute().iloc[0]
            self._offset_majority[table] = 2 * _int(row["with_offset"]) > int(row["n"])
        return self._offset_majority[table]

    def _check(self, table: str) -> tuple[int, list[int], int]:
        """Rows read, each rule's violations, rows kept: one aggregate over the checked table's flags.

        The time-zone rule counts against the majority convention, which the same aggregate finds:
        it counts timestamps with and without an offset, and the kept rows split the same way.
        """
        rules = self.rules[table]
        t = self.checked(table)
        flags = iter(self._flags(table))
        names = {i: next(flags) for i, r in enumerate(rules) if r.kind not in ("duplicates", "offset")}
        if table == "customers":  # the duplicates rule reads the reference's row count per id
            ref = self.reference()
            t = t.left_join(ref.select("customer_id", ref_dups=ref.ref_n), "customer_id")
            t = t.drop(*[c for c in t.columns if c == "customer_id_right"])
            i = next(i for i, r in enumerate(rules) if r.kind == "duplicates")
            names[i] = FLAG + "duplicates"
            t = t.mutate(**{names[i]: rules[i].check(t).fill_null(False)})
        keep = ~_any([t[c] for c in names.values()])
        aggs: dict[str, ir.Value] = {"n": t.count(), **{c: _sum(t[c]) for c in names.values()}}
        if table == "customers":
            row = t.aggregate(**aggs, keep=_sum(keep)).execute().iloc[0]
            return int(row["n"]), [_int(row[names[i]]) for i in range(len(rules))], _int(row["keep"])
        keep = keep & t[_KEPT]  # rows of excluded customers go with them
        offset = t[_OFFSET_FLAG]
        aggs.update(with_offset=_sum(offset.fill_null(False)), n_offset=offset.count(),
                    keep_none=_sum(keep & offset.isnull()), keep_with=_sum(keep & offset.fill_null(False)),
                    keep_without=_sum(keep & ~offset.fill_null(True)))
        row = t.aggregate(**aggs).execute().iloc[0]
        counts = [_int(row[names[i]]) if i in names else 0 for i in range(len(rules))]
        with_offset, n_offset = _int(row["with_offset"]), _int(row["n_offset"])
        majority = 2 * with_offset > n_offset
        self._offset_majority[table] = majority
        i = next((i for i, r in enumerate(rules) if r.kind == "offset"), None)
        if i is not None:
            counts[i] = n_offset - with_offset if majority else with_offset
        return int(row["n"]), counts, _int(row["keep_none"]) + _int(row["keep_with" if majority else "keep_without"])

    def report(self) -> ValidationReport:
        """Count every rule's violations and the rows kept: per table, one query reads the input
        (:meth:`checked`) and one aggregate counts its flags; the customer reference is one more."""
        fatal = _schema_problems(self.tables)
        rows, counts = [], {}
        kept: dict[str, int] = {}
        for table, rules in self.rules.items():
            file = self.tables.label(table)
            counts[table], violations, kept[table] = self._check(table)
            for r, n in zip(rules, violations):
                if n:
                    rows.append({"table": table, "file": file, "column": r.column, "rule": r.rule, "rows": n, "hint": r.hint})
        return ValidationReport(pd.DataFrame(rows, columns=_COLUMNS), counts, kept, self.tables.params.on_invalid, fatal)

    def _clean(self, table: str) -> ir.Table:
        t = self.checked(table)
        if table != "customers":
            return kept_rows(t, self.offsets_usual(table))
        ref = self.reference()  # a kept id has one row, and it breaks no rule
        t = t.semi_join(ref.filter(ref.ref_kept), "customer_id")
        return t.drop(*[c for c in t.columns if c.startswith(FLAG)])

    def clean_tables(self) -> dict[str, ir.Table]:
        """Analysis tables: contract-typed, violating rows dropped (exclude mode), raw columns gone.

        Each is a filter of its checked table (:meth:`checked`): the input is not read again. The
        interactions keep a hash of each row (``cx__hash``) for :func:`cxlib.ingest.clean.duplicate_rows`."""
        return {table: self._clean(table) for table in self.rules}
