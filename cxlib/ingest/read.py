"""Input tables as Ibis expressions on an embedded DuckDB (or another Ibis backend).

Files are read as they are: CSV with every column as text, Parquet with its own types. On DuckDB
a CSV input is parsed once, into a temporary table, and every later query scans that table. The
*typed* tables cast each contract column with ``try_cast`` so that a value which does not parse
becomes NULL in the typed column while the raw text stays available for validation
(:mod:`cxlib.ingest.contract`). Nothing here pulls rows into pandas.

CSV dialect: the delimiter is sniffed (comma, semicolon, tab and pipe all work), a UTF-8 byte
order mark is ignored, text must be UTF-8, and a line may hold up to ``MAX_LINE_BYTES`` (long
free-text columns are read, never shown). Lines DuckDB cannot read (bad encoding, a wrong number
of fields) are collected in a rejects table and reported with file, column, rule and row count.

Time zones: a timestamp written with an offset or zone (``2025-03-31T14:05:00+02:00``, ``...Z``,
``... Europe/Berlin``) is converted to UTC; one written without is taken as given. A file must
use one convention: mixing the two is a contract violation (:mod:`cxlib.ingest.contract`), because a
naive value next to offset ones is ambiguous by hours. The engine session runs in UTC.
"""

from __future__ import annotations

import difflib
import glob
import gzip
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cxlib.errors import DataError
from cxlib.ingest.memory import connection_memory_limit
from cxlib.params import TABLE_SOURCE, EngineSpec, RunParams

# Contract columns per table: name -> (ibis type, required)
CONTRACT: dict[str, dict[str, tuple[str, bool]]] = {
    "customers": {
        "customer_id": ("string", True),
        "signup_date": ("date", True),
        "churn_date": ("date", True),
        "monthly_revenue": ("float64", False),
    },
    "interactions": {
        "customer_id": ("string", True),
        "timestamp": ("timestamp", True),
        "touchpoint": ("string", True),
        "channel": ("string", False),
        "csat": ("float64", False),
        "ces": ("float64", False),
        "resolved": ("boolean", False),
    },
    "surveys": {
        "customer_id": ("string", True),
        "timestamp": ("timestamp", True),
        "nps": ("float64", True),
    },
}
RAW_PREFIX = "raw__"
# Flag column next to a text timestamp: True where the value carries an offset or zone name.
OFFSET_SUFFIX = "__offset"
UNSPECIFIED = "unspecified"
# Where DuckDB spills beyond memory_limit; cx run sets it (inside the staging folder) for its kernels.
TEMP_DIRECTORY_ENV = "CX_TEMP_DIRECTORY"
MAX_LINE_BYTES = 64 << 20
# An offset or zone name after a time of day: Z, UTC, +02, +02:00, +0200, Europe/Berlin, CET.
_OFFSET_PATTERN = r"(?i)\d:\d\d(:\d\d(\.\d+)?)?\s*(z|utc|[+-]\d\d(:?\d\d)?|[a-z]+(/[a-z_]+)*)$"
_TIMESTAMP_UTC = ibis.dtype("timestamp('UTC')")
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")


def connect(engine: EngineSpec | None = None, temp_directory: str | Path | None = None) -> Any:
    """Open the Ibis backend named in params (embedded DuckDB by default).

    DuckDB gets its share of the run's memory budget, ``engine.memory_limit`` (default: 60% of the
    machine's memory), split among the connections a run has open at once
    (:func:`cxlib.ingest.memory.connection_memory_limit`), and spills beyond it to
    ``temp_directory`` (default: ``$CX_TEMP_DIRECTORY``, which ``cx run`` points inside the
    run's staging folder; else DuckDB's own default).

    Examples
    --------
    >>> import tempfile
    >>> con = connect(EngineSpec(memory_limit="1GB"), temp_directory=tempfile.mkdtemp())
    >>> con.name, con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
    ('duckdb', '953.0 MiB')
    """
    engine = engine or EngineSpec()
    if engine.backend == "pyspark":  # pragma: no cover - exercised by the Spark parity test
        from cxlib.ingest.spark import connect_spark

        return connect_spark(engine)
    if engine.url:
        try:
            con = ibis.connect(os.path.expandvars(engine.url))
        except Exception as exc:  # noqa: BLE001 - a bad URL or missing driver becomes a user-facing message
            raise DataError(f"engine.url: cannot connect ({type(exc).__name__}: {str(exc)[:300]}). Check the URL, "
                            "that its ${VARIABLES} are set, and that the Ibis backend's extra is installed "
                            "(pip install 'ibis-framework[<backend>]').") from None
    else:
        con = ibis.duckdb.connect(engine.database or ":memory:")
    if con.name == "duckdb":
        con.raw_sql(f"SET memory_limit = '{connection_memory_limit(engine.memory_limit)}'")
        spill = temp_directory
        if spill is None and os.environ.get(TEMP_DIRECTORY_ENV):
            # One folder per process: concurrent sections' DuckDBs must not share spill files.
            spill = Path(os.environ[TEMP_DIRECTORY_ENV]) / f"pid-{os.getpid()}"
        if spill:
            # DuckDB creates the folder itself when it first spills, but not its parents
            Path(spill).parent.mkdir(parents=True, exist_ok=True)
            con.raw_sql(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
        if engine.threads:
            con.raw_sql(f"SET threads = {int(engine.threads)}")
        con.raw_sql("SET preserve_insertion_order = false")
        # Timestamps with offsets are converted to UTC whatever the machine's zone.
        con.raw_sql("SET TimeZone = 'UTC'")
    return con


def input_files(pattern: str) -> list[Path]:
    """The files a path or glob names, sorted (none when nothing matches).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("b.csv", "a.csv"):
    ...     _ = (d / name).write_text("customer_id\\n")
    >>> [p.name for p in input_files(str(d / "*.csv"))], input_files(str(d / "missing.csv"))
    (['a.csv', 'b.csv'], [])
    """
    if any(ch in pattern for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    p = Path(pattern)
    return [p] if p.is_file() else []


def fingerprint(files: list[Path]) -> list[dict[str, Any]]:
    """sha256 and size of each input file (for the run manifest).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "customers.csv"
    >>> _ = f.write_text("customer_id\\n")
    >>> entry = fingerprint([f])[0]
    >>> entry["bytes"], entry["sha256"][:12]
    (12, '451e804b63dc')
    """
    out = []
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append({"path": str(f), "bytes": f.stat().st_size, "sha256": h.hexdigest()})
    return out


def read_raw(con: Any, table: str, pattern: str, columns: dict[str, str] | None = None) -> ir.Table:
    """Read one input table, rename mapped columns to contract names; raise DataError if unreadable.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "customers.csv"
    >>> _ = f.write_text("id;signup_date;churn_date\\nk1;2025-01-01;\\n")
    >>> t = read_raw(connect(), "customers", str(f), columns={"customer_id": "id"})
    >>> t.columns, t.count().execute()
    (('customer_id', 'signup_date', 'churn_date'), 1)
    """
    if pattern.startswith(TABLE_SOURCE):
        return _check_columns(read_table_source(con, table, pattern), table, pattern, columns,
                              "the table has no rows (0 rows)")
    files = input_files(pattern)
    if not files:
        raise DataError(
            f"{table}: no file matches {pattern!r}. Check data.{table} in the params file "
            "(relative paths resolve against the params file's folder)."
        )
    empty = [f for f in files if f.stat().st_size == 0]
    if empty:
        raise DataError(f"{table}: file {str(empty[0])!r} is empty (0 bytes). Export the table again with a header row.")
    parquet = [f for f in files if f.suffix.lower() in (".parquet", ".pq")]
    if parquet and len(parquet) != len(files):
        raise DataError(f"{table}: {pattern!r} matches both Parquet and other (CSV) files, e.g. {str(parquet[0])!r} "
                        f"and {str(next(f for f in files if f not in parquet))!r}. Point data.{table} at one format.")
    source = [str(f) for f in files]
    csv = not parquet
    if csv:
        for f in files:
            _check_header_text(table, f)
    try:
        if csv:
            t = con.read_csv(source, table_name=f"src_{table}", all_varchar=True, header=True,
                             **_csv_options(con, table))
            if con.name == "duckdb":
                # Parsed once, into a temporary table (spilling to the temp directory beyond
                # memory_limit): validation and the clean copy then scan columns, not the file.
                # The full parse also fills the rejects table.
                t = con.create_table(f"csv_{table}", t, temp=True, overwrite=True)
                n_rows = int(t.count().execute())
            else:
                # A full parse (every column's length) fills the rejects table; a bare count may not.
                n_rows = int(t.aggregate(n=t.count(), **{f"c{i}": t[c].length().sum() for i, c in enumerate(t.columns)})
                             .execute()["n"].iloc[0])
        else:
            t = _read_parquet(con, source, f"src_{table}")
            n_rows = int(t.count().execute())
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a user-facing message
        raise DataError(_reader_message(table, files, exc)) from None
    if csv:
        _raise_on_rejects(con, table)
    where = f"{files[0]}{f' and {len(files) - 1} more file(s)' if len(files) > 1 else ''}"
    return _check_columns((t, n_rows), table, where, columns,
                          "the file has a header row but no data rows (0 rows). The export probably failed: export "
                          "the table again")


def read_table_source(con: Any, table: str, source: str) -> tuple[ir.Table, int]:
    """A ``table:[schema.]name`` input: that table of the engine's database, and its row count.

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> _ = con.create_table("crm_customers", ibis.memtable({"customer_id": ["a", "b"]}))
    >>> t, n = read_table_source(con, "customers", "table:crm_customers")
    >>> n
    2
    """
    name = source.removeprefix(TABLE_SOURCE).strip()
    schema, _, bare = name.rpartition(".")
    try:
        t = con.table(bare, database=schema or None)
        return t, int(t.count().execute())
    except Exception as exc:  # noqa: BLE001 - a missing table or schema becomes a user-facing message
        raise DataError(f"{table}: cannot read {source!r} from the engine ({type(exc).__name__}: {str(exc)[:300]}). "
                        f"Check data.{table} (table:[schema.]name) and engine.url.") from None


def _check_columns(read: tuple[ir.Table, int], table: str, source: str, columns: dict[str, str] | None,
                   empty: str) -> ir.Table:
    """Rename mapped columns to contract names; the required columns and at least one row must be there."""
    t, n_rows = read
    where = f"{table} ({source})"
    mapping = {contract: source_col for contract, source_col in (columns or {}).items()}
    missing_src = [s for s in mapping.values() if s not in t.columns]
    if missing_src:
        raise DataError(
            f"{where}: data.columns maps onto column(s) {', '.join(map(repr, missing_src))}, "
            f"which it does not have. Its columns are: {_names(t.columns)}."
        )
    t = t.rename({contract: src for contract, src in mapping.items() if contract != src})
    required = [c for c, (_, req) in CONTRACT[table].items() if req]
    missing = [c for c in required if c not in t.columns]
    if missing:
        raise DataError(f"{where}: required column(s) {', '.join(missing)} missing; found {_names(t.columns)}."
                        + _missing_column_hint(t.columns, missing))
    if n_rows == 0:
        optional = "" if table == "customers" else f", or remove data.{table} from the params file to run without it"
        raise DataError(f"{where}: {empty}{optional}.")
    return t


def _read_parquet(con: Any, source: list[str], name: str) -> ir.Table:
    """All files as one table; Ibis' PySpark backend reads one path per call, DuckDB a list."""
    if con.name == "duckdb" or len(source) == 1:
        return con.read_parquet(source if con.name == "duckdb" else source[0], table_name=name)
    parts = [con.read_parquet(s) for s in source]
    return parts[0].union(*parts[1:])


def _check_header_text(table: str, path: Path) -> None:
    """The header line must be UTF-8 text: DuckDB would otherwise silently take a data row for it."""
    if path.suffix.lower() == ".zst":  # DuckDB reads it; its rejects table reports bad bytes
        return
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(f"{table} ({path}): the file is UTF-16 or binary, not UTF-8 text (rule \"is UTF-8 text\"). "
                        "Re-export it as CSV UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)'), or as Parquet.")
    header = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(header) < len(head) or exc.start < len(header) - 4:  # not just a character cut by the 64 KB read
            raise DataError(f"{table} ({path}): the header line is not UTF-8 text (byte {exc.start + 1}, rule "
                            "\"is UTF-8 text\"). Re-export the file as UTF-8 (for example "
                            "`iconv -f latin1 -t utf-8 in.csv > out.csv`).") from None


def _csv_options(con: Any, table: str) -> dict[str, Any]:
    if getattr(con, "name", None) != "duckdb":
        return {}
    return {"max_line_size": MAX_LINE_BYTES, "store_rejects": True,
            "rejects_table": f"rejects_{table}", "rejects_scan": f"rejects_scan_{table}"}


_REJECT_RULES = {
    "INVALID ENCODING": ("is UTF-8 text", "Re-export the file as UTF-8 (for example `iconv -f latin1 -t utf-8 in.csv > out.csv`)."),
    "TOO MANY COLUMNS": ("has as many fields as the header", "A value contains the delimiter without quotes: quote such values, or export with another delimiter."),
    "MISSING COLUMNS": ("has as many fields as the header", "Some lines are cut short: export the table again (quote values that contain line breaks)."),
    "LINE SIZE OVER MAXIMUM": (f"a line of at most {MAX_LINE_BYTES >> 20} MB", "Remove or shorten the free-text column that holds such long values."),
}


def _raise_on_rejects(con: Any, table: str) -> None:
    """Turn the lines DuckDB rejected while parsing into one validation-style message."""
    if getattr(con, "name", None) != "duckdb":
        return
    rejects = con.table(f"rejects_{table}")
    scans = con.table(f"rejects_scan_{table}").select("scan_id", "file_id", "file_path")
    found = (rejects.join(scans, ["scan_id", "file_id"])
             .group_by("file_path", "column_name", "error_type")
             .aggregate(rows=ibis._.line.nunique(), first_line=ibis._.line.min())
             .order_by("file_path", "first_line").execute())
    if found.empty:
        return
    lines = []
    for r in found.itertuples():
        rule, hint = _REJECT_RULES.get(r.error_type, ("is well-formed CSV", "Check quoting and line breaks in the export."))
        column = f"column {r.column_name!r}" if isinstance(r.column_name, str) and r.column_name else "a line"
        lines.append(f"{r.file_path}, {column}, rule \"{rule}\": {int(r.rows):,} row(s) break it "
                     f"(first at line {int(r.first_line):,}). {hint}")
    raise DataError("\n".join(lines))


def _names(columns: Any, k: int = 12) -> str:
    cols = [str(c) if len(str(c)) <= 60 else str(c)[:57] + "..." for c in columns]
    return ", ".join(cols[:k]) + (f" and {len(cols) - k} more" if len(cols) > k else "")


def _missing_column_hint(columns: Any, missing: list[str]) -> str:
    if len(columns) == 1:
        header = str(columns[0])
        found = [name for d, name in _DELIMITERS.items() if d in header]
        if found:
            return f" The header holds {found[0]}s but the rows could not be split on them: check the export."
        return (" The file has a single column: is the delimiter something other than a comma, semicolon, tab "
                "or pipe? Export with one of those.")
    by_lower = {str(c).strip().lower(): str(c) for c in columns}
    close = {m: by_lower[m] for m in missing if m in by_lower}
    if not close:
        close = {m: c[0] for m in missing if (c := difflib.get_close_matches(m, list(map(str, columns)), n=1, cutoff=0.6))}
    suggestion = "".join(f" Is {v!r} the {k} column?" for k, v in close.items())
    return suggestion + " Rename the columns in the file or map them with data.columns in the params file."


def _reader_message(table: str, files: list[Path], exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if "unicode" in low or "utf-8" in low or "utf8" in low or "encoding" in low:
        hint = "The file is not UTF-8 text: re-export it as UTF-8."
    elif "no data" in low or "empty" in low or "no columns" in low:
        hint = "The file holds no rows: export the table again with a header row."
    elif "parquet" in low or "magic" in low:
        hint = "The file is not a valid Parquet file (truncated, or another format named .parquet): export it again."
    else:
        hint = "Check that the file is a CSV with a header row, or a Parquet file."
    return f"{table}: cannot read {str(files[0])!r}: {text[:300]}. {hint}"


_WHITESPACE = (32, 9, 10)  # what ibis' strip() removes: space, tab, newline


def stripped(col: ir.StringValue) -> ir.StringValue:
    """Text without surrounding whitespace, '' as NULL; the trim runs only on values that need it.

    A trim with a character set is the costliest step of a high-cardinality column (an id): testing
    the first and last character first leaves the usual clean value untouched.

    Examples
    --------
    >>> t = ibis.memtable({"a": [" a", "b\t", "c", "", None, " "]})
    >>> ibis.duckdb.connect().execute(stripped(t.a)).tolist()
    ['a', 'b', 'c', None, None, None]
    """
    edge = col.ascii_str().isin(_WHITESPACE) | col.reverse().ascii_str().isin(_WHITESPACE)
    return ibis.ifelse(edge, col.strip(), col).nullif("")


def raw_text(col: ir.Value, kind: str) -> ir.StringValue:
    """The value as text, for the rules that tell an unparseable value from an empty one; NULL when
    the column already has the contract's type (a typed Parquet column: nothing can fail to parse,
    and casting every value to text would cost more than the whole check).

    Examples
    --------
    >>> t = ibis.memtable({"d": ["2025-01-01"], "x": [1.5]})
    >>> ibis.duckdb.connect().execute(t.select(d=raw_text(t.d, "date"), x=raw_text(t.x, "float64"))).values.tolist()
    [['2025-01-01', None]]
    """
    dtype = col.type()
    native = {"float64": dtype.is_numeric(), "boolean": dtype.is_boolean(), "date": dtype.is_date(),
              "timestamp": dtype.is_timestamp(), "string": True}.get(kind, False)
    return ibis.null("string") if native else col.cast("string")


def to_number(col: ir.Value) -> ir.Value:
    """A number column (float64): text is stripped and parsed, a value that does not parse is NULL.

    Examples
    --------
    >>> t = ibis.memtable({"a": [" 4", "x", ""]})
    >>> ibis.duckdb.connect().execute(to_number(t.a)).tolist()
    [4.0, nan, nan]
    """
    if col.type().is_string():
        return stripped(col).try_cast("float64")
    return col.try_cast("float64")


def _to_boolean(col: ir.Value) -> ir.Value:
    if col.type().is_boolean():
        return col
    text = col.cast("string").strip().lower()
    return ibis.cases((text.isin(_TRUE), True), (text.isin(_FALSE), False), else_=ibis.null("boolean"))


def _to_temporal(col: ir.Value, kind: str) -> ir.Value:
    if not col.type().is_string():
        return col.try_cast(kind)
    text = stripped(col)
    if kind == "timestamp":
        # Through a zoned timestamp: an offset converts to UTC, a naive value stays as written.
        return text.try_cast(_TIMESTAMP_UTC).cast("timestamp")
    return text.try_cast(kind)


def has_offset(col: ir.Value) -> ir.BooleanValue:
    """True where a text timestamp carries a UTC offset or a zone name (NULL for empty text).

    Examples
    --------
    >>> t = ibis.memtable({"ts": ["2025-03-31T14:05:00+02:00", "2025-03-31 14:05:00", "2025-03-31T12:05:00Z"]})
    >>> ibis.duckdb.connect().execute(has_offset(t.ts)).tolist()
    [True, False, True]
    """
    if not col.type().is_string():
        return ibis.literal(False)
    return stripped(col).re_search(_OFFSET_PATTERN)


def typed_table(raw: ir.Table, table: str) -> ir.Table:
    """Contract columns cast to their types (unparseable values become NULL), other columns kept.

    The raw value of every cast column is kept as ``raw__<column>`` for validation.

    Examples
    --------
    >>> raw = ibis.memtable({"customer_id": ["a", "b"], "signup_date": ["2025-01-01", "January"],
    ...                      "churn_date": ["", ""], "segment": ["x", "y"]})
    >>> typed = typed_table(raw, "customers")
    >>> ibis.duckdb.connect().execute(typed.signup_date).isna().tolist()
    [False, True]
    >>> "raw__signup_date" in typed.columns, "segment" in typed.columns
    (True, True)
    """
    exprs: dict[str, ir.Value] = {}
    for name, (kind, _required) in CONTRACT[table].items():
        if name not in raw.columns:
            exprs[name] = ibis.null(kind)
            continue
        col = raw[name]
        if kind == "string":
            val = stripped(col.cast("string"))
        elif kind == "float64":
            val = to_number(col)
        elif kind == "boolean":
            val = _to_boolean(col)
        else:
            val = _to_temporal(col, kind)
        exprs[name] = val
        exprs[RAW_PREFIX + name] = raw_text(col, kind)
        if kind == "timestamp":
            exprs[RAW_PREFIX + name + OFFSET_SUFFIX] = has_offset(col)
    if table == "interactions":
        exprs["channel"] = exprs["channel"].fill_null(UNSPECIFIED)
    others = {c: raw[c] for c in raw.columns if c not in exprs}
    return raw.select(**exprs, **others)


def clean_view(typed: ir.Table) -> ir.Table:
    """Drop the ``raw__`` helper columns.

    Examples
    --------
    >>> raw = ibis.memtable({"customer_id": ["a"], "signup_date": ["2025-01-01"], "churn_date": [""]})
    >>> clean_view(typed_table(raw, "customers")).columns
    ('customer_id', 'signup_date', 'churn_date', 'monthly_revenue')
    """
    return typed.drop(*[c for c in typed.columns if c.startswith(RAW_PREFIX)])


@dataclass
class Tables:
    """The run's input tables (typed Ibis expressions) and where they came from.

    Examples
    --------
    See :func:`load_tables`.
    """

    con: Any
    params: RunParams
    typed: dict[str, ir.Table] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        """True when the run has this input table."""
        return table in self.typed

    def label(self, table: str) -> str:
        """Where a table came from, for messages: its file, its files' pattern, or its ``table:`` source."""
        files = self.files.get(table) or []
        return str(files[0]) if len(files) == 1 else (
            f"{self.params.path(table)} ({len(files)} files)" if files else str(self.params.path(table)))

    def __getitem__(self, table: str) -> ir.Table:
        return self.typed[table]


def load_tables(params: RunParams, con: Any | None = None) -> Tables:
    """Open every configured input table, typed but not yet validated.

    Parameters
    ----------
    params : RunParams
    con : ibis backend, optional
        The engine; by default :func:`connect` opens the one ``params`` name.

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> _ = con.create_table("customers", ibis.memtable({"customer_id": ["a", "b"],
    ...     "signup_date": ["2025-01-01", "2025-02-30"], "churn_date": ["", ""]}))
    >>> params = RunParams.model_validate({"run_id": "tiny", "as_of": "2025-09-30", "data": {"customers": "table:customers"}})
    >>> tables = load_tables(params, con)
    >>> tables.has("surveys"), tables.label("customers")
    (False, 'table:customers')
    >>> tables["customers"].signup_date.isnull().sum().execute()
    1
    """
    con = con or connect(params.engine)
    out = Tables(con=con, params=params)
    for table in ("customers", "interactions", "surveys"):
        pattern = params.path(table)
        if pattern is None:
            continue
        raw = read_raw(con, table, pattern, params.data.columns.get(table))
        out.typed[table] = typed_table(raw, table)
        out.files[table] = [] if pattern.startswith(TABLE_SOURCE) else input_files(pattern)
    return out
