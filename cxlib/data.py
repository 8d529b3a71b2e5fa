"""Input tables as Ibis expressions on an embedded DuckDB (or another Ibis backend).

Files are read as they are: CSV with every column as text, Parquet with its own types. The
*typed* tables cast each contract column with ``try_cast`` so that a value which does not parse
becomes NULL in the typed column while the raw text stays available for validation
(:mod:`cxlib.validate`). Nothing here pulls rows into pandas.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from .errors import DataError
from .params import EngineSpec, RunParams

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
UNSPECIFIED = "unspecified"
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")


def connect(engine: EngineSpec | None = None) -> Any:
    """Open the Ibis backend named in params (embedded DuckDB by default).

    Examples
    --------
    >>> con = connect()
    >>> con.name
    'duckdb'
    """
    engine = engine or EngineSpec()
    if engine.backend == "duckdb":
        con = ibis.duckdb.connect(engine.database or ":memory:")
        con.raw_sql(f"SET memory_limit = '{engine.memory_limit}'")
        if engine.threads:
            con.raw_sql(f"SET threads = {int(engine.threads)}")
        con.raw_sql("SET preserve_insertion_order = false")
        return con
    if engine.backend == "pyspark":  # pragma: no cover - exercised by the Spark parity test
        from .spark import connect_spark

        return connect_spark(engine)
    raise DataError(f"engine backend {engine.backend!r} is not supported")


def input_files(pattern: str) -> list[Path]:
    """The files a path or glob names, sorted."""
    if any(ch in pattern for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    p = Path(pattern)
    return [p] if p.is_file() else []


def fingerprint(files: list[Path]) -> list[dict[str, Any]]:
    """sha256 and size of each input file (for the run manifest)."""
    out = []
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append({"path": str(f), "bytes": f.stat().st_size, "sha256": h.hexdigest()})
    return out


def _is_parquet(files: list[Path]) -> bool:
    return all(f.suffix.lower() in (".parquet", ".pq") for f in files)


def read_raw(con: Any, table: str, pattern: str, columns: dict[str, str] | None = None) -> ir.Table:
    """Read one input table, rename mapped columns to contract names; raise DataError if unreadable."""
    files = input_files(pattern)
    if not files:
        raise DataError(
            f"{table}: no file matches {pattern!r}. Check data.{table} in the params file "
            "(relative paths resolve against the params file's folder)."
        )
    empty = [f for f in files if f.stat().st_size == 0]
    if empty:
        raise DataError(f"{table}: file {str(empty[0])!r} is empty (0 bytes). Export the table again with a header row.")
    source = [str(f) for f in files]
    try:
        if _is_parquet(files):
            t = con.read_parquet(source, table_name=f"src_{table}")
        else:
            t = con.read_csv(source, table_name=f"src_{table}", all_varchar=True, header=True)
        t.count().execute()  # forces the reader to parse, so encoding problems surface here
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a user-facing message
        raise DataError(_reader_message(table, files, exc)) from None
    mapping = {contract: source_col for contract, source_col in (columns or {}).items()}
    missing_src = [s for s in mapping.values() if s not in t.columns]
    if missing_src:
        raise DataError(
            f"{table} ({files[0]}): data.columns maps onto column(s) {', '.join(map(repr, missing_src))}, "
            f"which the file does not have. Its columns are: {', '.join(t.columns)}."
        )
    t = t.rename({contract: src for contract, src in mapping.items() if contract != src})
    required = [c for c, (_, req) in CONTRACT[table].items() if req]
    missing = [c for c in required if c not in t.columns]
    if missing:
        hint = (
            " The file seems to have a single column: is the delimiter something other than a comma?"
            if len(t.columns) == 1
            else " Rename the columns in the file or map them with data.columns in the params file."
        )
        raise DataError(
            f"{table} ({files[0]}): required column(s) {', '.join(missing)} missing; "
            f"found {', '.join(t.columns)}.{hint}"
        )
    return t


def _reader_message(table: str, files: list[Path], exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if "unicode" in low or "utf-8" in low or "utf8" in low or "encoding" in low:
        hint = "The file is not UTF-8 text: re-export it as UTF-8."
    elif "no data" in low or "empty" in low or "no columns" in low:
        hint = "The file holds no rows: export the table again with a header row."
    else:
        hint = "Check that the file is a CSV with a header row, or a Parquet file."
    return f"{table}: cannot read {str(files[0])!r}: {text[:300]}. {hint}"


def _to_number(col: ir.Value) -> ir.Value:
    if col.type().is_string():
        return col.strip().nullif("").try_cast("float64")
    return col.try_cast("float64")


def _to_boolean(col: ir.Value) -> ir.Value:
    if col.type().is_boolean():
        return col
    text = col.cast("string").strip().lower()
    return ibis.cases((text.isin(_TRUE), True), (text.isin(_FALSE), False), else_=ibis.null("boolean"))


def _to_temporal(col: ir.Value, kind: str) -> ir.Value:
    if col.type().is_string():
        col = col.strip().nullif("")
    return col.try_cast(kind)


def typed_table(raw: ir.Table, table: str) -> ir.Table:
    """Contract columns cast to their types (unparseable values become NULL), other columns kept.

    The raw value of every cast column is kept as ``raw__<column>`` for validation.
    """
    exprs: dict[str, ir.Value] = {}
    for name, (kind, _required) in CONTRACT[table].items():
        if name not in raw.columns:
            exprs[name] = ibis.null(kind)
            continue
        col = raw[name]
        if kind == "string":
            val = col.cast("string").strip().nullif("")
        elif kind == "float64":
            val = _to_number(col)
        elif kind == "boolean":
            val = _to_boolean(col)
        else:
            val = _to_temporal(col, kind)
        exprs[name] = val
        exprs[RAW_PREFIX + name] = col.cast("string")
    if table == "interactions":
        exprs["channel"] = exprs["channel"].fill_null(UNSPECIFIED)
    others = {c: raw[c] for c in raw.columns if c not in exprs}
    return raw.select(**exprs, **others)


def clean_view(typed: ir.Table) -> ir.Table:
    """Drop the ``raw__`` helper columns."""
    return typed.drop(*[c for c in typed.columns if c.startswith(RAW_PREFIX)])


@dataclass
class Tables:
    """The run's input tables (typed Ibis expressions) and where they came from."""

    con: Any
    params: RunParams
    typed: dict[str, ir.Table] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.typed

    def __getitem__(self, table: str) -> ir.Table:
        return self.typed[table]


def load_tables(params: RunParams, con: Any | None = None) -> Tables:
    """Open every configured input table, typed but not yet validated.

    Examples
    --------
    >>> from cxlib.params import load_params, DEFAULT_PARAMS
    >>> tables = load_tables(load_params(DEFAULT_PARAMS))   # doctest: +SKIP
    >>> tables["customers"].count().execute()               # doctest: +SKIP
    10000
    """
    con = con or connect(params.engine)
    out = Tables(con=con, params=params)
    for table in ("customers", "interactions", "surveys"):
        pattern = params.path(table)
        if pattern is None:
            continue
        raw = read_raw(con, table, pattern, params.data.columns.get(table))
        out.typed[table] = typed_table(raw, table)
        out.files[table] = input_files(pattern)
    return out
