"""Clean tables: the validated rows, narrowed to the columns an analysis reads.

The last step of ingest (params → read → contract → clean tables). The analysis tables carry only
the contract columns, ``segment``, the ``covariates`` and the ``survey_drivers``: free-text or
identifying columns of the input files (comments, names, e-mail addresses) never reach a notebook,
so no section can show them.

A ``cx run`` on DuckDB writes the clean tables once as Parquet (:func:`write_clean_tables`) and
every section scans those files (:func:`read_clean_tables`) instead of reading the inputs again
and re-applying the validation's joins and windows in each of its queries. Interactively, or on
another engine, :func:`clean_tables` builds them in the session.

Exact duplicate interaction rows (every column of the input equal) are valid by the contract — two
identical exports of one contact, or two contacts the source system cannot tell apart — so they are
counted (:func:`duplicate_rows`, shown by the data-quality section) and dropped only when the params
say ``drop_duplicate_interactions: true``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from cxlib.errors import DataError
from cxlib.ingest.contract import HASH, ValidationReport, Validator, kept_rows
from cxlib.ingest.read import CONTRACT, connect, load_tables
from cxlib.ingest.spark import session_cache
from cxlib.params import RunParams

# rows whose hashes one duplicate count holds in memory (a few GB of hash table)
DUPLICATE_PART_ROWS = 50_000_000

INDEX_FILE = "tables.json"  # next to the Parquet files: the input files and unused columns behind them


@dataclass
class CleanTables:
    """The analysis tables of a run and what stands behind them.

    Attributes
    ----------
    con : ibis backend
        The engine the tables live in.
    tables : dict of str to ibis Table
        Per configured input table, its clean analysis table.
    files : dict of str to list of Path
        The input files each table was read from (none for a ``table:`` source).
    unused : dict of str to list of str
        Per table, the input columns that no analysis reads.
    duplicates : dict of str to int
        Per table checked (``interactions``), its exact duplicate rows: rows equal in every input
        column to an earlier one (dropped when ``drop_duplicate_interactions`` is set).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a"]})
    >>> CleanTables(con=None, tables={"customers": t}).unused
    {}
    """

    con: Any
    tables: dict[str, ir.Table]
    files: dict[str, list[Path]] = field(default_factory=dict)
    unused: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)


def analysis_columns(name: str, columns: list[str], params: RunParams) -> list[str]:
    """The columns of input table ``name`` that analyses use, in file order.

    Examples
    --------
    >>> from cxlib.params import load_params, DEFAULT_PARAMS
    >>> analysis_columns("surveys", ["customer_id", "timestamp", "nps", "comment", "sat_app"], load_params(DEFAULT_PARAMS))
    ['customer_id', 'timestamp', 'nps', 'sat_app']
    """
    keep = set(CONTRACT[name])
    if name == "customers":
        keep |= {"segment", *params.covariates}
        if params.churn_causes:  # read only when the run reports churn causes
            keep.add("churn_reason")
    elif name == "surveys":
        keep |= set(params.survey_drivers)
    return [c for c in columns if c in keep]


def unused_columns(files_columns: dict[str, list[str]], params: RunParams) -> dict[str, list[str]]:
    """Per table, the input columns that no analysis reads (and no section shows).

    Examples
    --------
    >>> from cxlib.params import load_params, DEFAULT_PARAMS
    >>> unused_columns({"customers": ["customer_id", "signup_date", "email"]}, load_params(DEFAULT_PARAMS))
    {'customers': ['email']}
    """
    return {name: [c for c in cols if c not in analysis_columns(name, cols, params)]
            for name, cols in files_columns.items()}


def narrowed(cleaned: dict[str, ir.Table], params: RunParams) -> dict[str, ir.Table]:
    """The clean tables narrowed to the columns an analysis reads.

    Examples
    --------
    >>> import ibis
    >>> from cxlib.params import load_params, DEFAULT_PARAMS
    >>> t = ibis.memtable({"customer_id": ["a"], "signup_date": ["2025-01-01"], "email": ["a@x"]})
    >>> narrowed({"customers": t}, load_params(DEFAULT_PARAMS))["customers"].columns
    ('customer_id', 'signup_date')
    """
    return {name: t.select(*analysis_columns(name, list(t.columns), params)) for name, t in cleaned.items()}


def duplicate_rows(t: ir.Table, part_rows: int = DUPLICATE_PART_ROWS, rows: int | None = None) -> int:
    """Rows of ``t`` that repeat an earlier row exactly (every column equal).

    Exact, and cheap when there are few: only rows whose hash of all columns occurs more than once
    are compared in full (a hash shared by two different rows is told apart there). A ``cx__hash``
    column (from the validation's pass) is that hash; otherwise it is computed here. Above
    ``part_rows`` rows the hashes are counted in parts (by hash modulo the number of parts, so equal
    rows share a part), each within memory: one aggregation of 418M hashes spilled and took 9 minutes.
    ``rows``, the number of rows of ``t`` when the caller knows it (the validation counted them),
    saves a scan; any number of parts gives the same count.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["a", "a", "a", "b", "b"], "csat": [5, 5, 4, None, None]})
    >>> duplicate_rows(t), duplicate_rows(t, part_rows=2)
    (2, 2)
    """
    columns = [c for c in t.columns if c != HASH]
    hashed = t if HASH in t.columns else t.mutate(**{HASH: ibis.struct({c: t[c] for c in columns}).hash()})
    rows = int(hashed.count().execute()) if rows is None else rows
    parts = max(1, -(-rows // part_rows))
    total = 0
    for i in range(parts):
        part = hashed if parts == 1 else hashed.filter((hashed[HASH] % parts).abs() == i)
        shared = part.group_by(HASH).aggregate(cx__n=_.count()).filter(_.cx__n > 1)
        candidates = part.semi_join(shared, HASH)
        row = candidates.aggregate(n=_.count(), distinct=ibis.struct({c: candidates[c] for c in columns}).nunique())
        n, distinct = row.execute().iloc[0]
        total += int(n) - int(distinct)
    return total


def deduplicated(cleaned: dict[str, ir.Table], params: RunParams,
                 rows: Mapping[str, int] | None = None) -> tuple[dict[str, ir.Table], dict[str, int]]:
    """The clean tables with exact duplicate interactions counted, and dropped when the params say so.

    Counted on every input column (an interaction id in the export tells two contacts apart), before
    the tables are narrowed to the analysis columns. ``rows``: the rows kept per table, when the
    validation report is at hand (:attr:`ValidationReport.rows_kept`).

    Examples
    --------
    >>> import ibis
    >>> i = ibis.memtable({"customer_id": ["a", "a", "b"], "touchpoint": ["app", "app", "app"]})
    >>> p = RunParams.model_validate({"run_id": "t", "as_of": "2025-09-30", "data": {"customers": "c.csv"},
    ...                               "drop_duplicate_interactions": True})
    >>> tables, counts = deduplicated({"interactions": i}, p)
    >>> counts, tables["interactions"].count().execute()
    ({'interactions': 1}, 2)
    """
    if "interactions" not in cleaned:
        return cleaned, {}
    n = duplicate_rows(cleaned["interactions"], rows=(rows or {}).get("interactions"))
    cleaned = {name: t.drop(HASH) if HASH in t.columns else t for name, t in cleaned.items()}
    if n and params.drop_duplicate_interactions:
        cleaned = {**cleaned, "interactions": cleaned["interactions"].distinct()}
    return cleaned, {"interactions": n}


def write_clean_tables(validator: Validator, params: RunParams, target: Path,
                       report: ValidationReport | None = None) -> dict[str, int]:
    """Write the analysis tables once, as Parquet files in ``target``; return bytes per table.

    Only on DuckDB (an empty dict otherwise): a cluster cannot read the run's local folder, and
    keeps its own cache. An event table the validator already wrote to ``target`` in its single
    pass (``Validator(tables, folder=target)``) is not written again: the index records how to
    read its kept rows (:func:`cxlib.ingest.contract.kept_rows`). The index file is written last and
    marks the set complete. ``report``, the validation's, saves the duplicate count a scan.

    Examples
    --------
    >>> import tempfile, ibis, pandas as pd
    >>> from cxlib.ingest.read import load_tables
    >>> con = ibis.duckdb.connect()
    >>> _ = con.create_table("customers", pd.DataFrame({"customer_id": ["a", "b"], "email": ["a@x", "b@x"],
    ...     "signup_date": ["2025-01-01", "2025-02-01"], "churn_date": [None, "2025-06-01"]}))
    >>> params = RunParams.model_validate({"run_id": "tiny", "as_of": "2025-09-30", "data": {"customers": "table:customers"}})
    >>> target = Path(tempfile.mkdtemp())
    >>> sorted(write_clean_tables(Validator(load_tables(params, con)), params, target))
    ['customers']
    >>> read_clean_tables(params, target).tables["customers"].columns
    ('customer_id', 'signup_date', 'churn_date', 'monthly_revenue')
    """
    tables = validator.tables
    if tables.con.name != "duckdb":
        return {}
    target.mkdir(parents=True, exist_ok=True)
    cleaned, duplicates = deduplicated(validator.clean_tables(), params, report.rows_kept if report else None)
    dropped = bool(duplicates.get("interactions")) and params.drop_duplicate_interactions
    sizes, checked = {}, {}
    for name, t in narrowed(cleaned, params).items():
        path = target / f"{name}.parquet"
        stored = validator.stored(name)
        if stored == path and not (name == "interactions" and dropped):
            checked[name] = {"offsets_usual": validator.offsets_usual(name)}
        else:
            if stored == path:  # the duplicates go: the kept rows are written over the checked ones
                t = tables.con.create_table(f"cx_dedup_{name}", t, temp=True, overwrite=True)
            tables.con.to_parquet(t, path)  # snappy: a scratch copy, fast to write and scan
        sizes[name] = path.stat().st_size
    index = {"files": {name: [str(f) for f in files] for name, files in tables.files.items()},
             "unused": unused_columns({name: list(t.columns) for name, t in cleaned.items()}, params),
             "duplicates": duplicates, "checked": checked}
    (target / INDEX_FILE).write_text(json.dumps(index), encoding="utf-8")
    return sizes


def has_clean_tables(target: Path) -> bool:
    """True when ``target`` holds a complete set written by :func:`write_clean_tables`.

    Examples
    --------
    >>> import tempfile
    >>> has_clean_tables(Path(tempfile.mkdtemp()))
    False
    """
    return (target / INDEX_FILE).exists()


def read_clean_tables(params: RunParams, target: Path) -> CleanTables:
    """The clean tables a run wrote to ``target``, as lazy scans on a new engine connection.

    Examples
    --------
    See :func:`write_clean_tables`.
    """
    index = json.loads((target / INDEX_FILE).read_text(encoding="utf-8"))
    con = connect(params.engine)
    checked = index.get("checked", {})
    tables = {}
    for name in index["files"]:
        t = con.read_parquet(target / f"{name}.parquet", table_name=f"clean_{name}")
        if name in checked:  # the validation's checked rows: keep those that pass, the analysis columns
            t = kept_rows(t, checked[name]["offsets_usual"])
            t = t.select(*analysis_columns(name, list(t.columns), params))
        tables[name] = t
    files = {name: [Path(f) for f in paths] for name, paths in index["files"].items()}
    return CleanTables(con=con, tables=tables, files=files, unused=index["unused"],
                       duplicates=index.get("duplicates", {}))


def _materialize(con: Any, tables: dict[str, ir.Table], files: dict[str, list[Path]]) -> dict[str, ir.Table]:
    """CSV inputs are parsed once into engine tables; Parquet stays a lazy scan on DuckDB.

    Spark caches every clean table (memory, spilling to disk) on first use: it would otherwise
    re-run the validation joins and windows in every query, ten times slower per query."""
    out = {}
    for name, t in tables.items():
        if con.name != "duckdb":
            out[name] = session_cache(t)
        elif all(f.suffix.lower() in (".parquet", ".pq") for f in files[name]):
            out[name] = t
        else:
            out[name] = con.create_table(f"clean_{name}", t, temp=True, overwrite=True)
    return out


def clean_tables(params: RunParams, validation: ValidationReport | None = None) -> tuple[CleanTables, ValidationReport]:
    """Read, validate and clean the inputs of ``params`` in a new engine session.

    Parameters
    ----------
    params : RunParams
    validation : ValidationReport, optional
        A validation already done for these inputs (a run's ``validation.json``): not repeated.

    Returns
    -------
    CleanTables, ValidationReport

    Raises
    ------
    DataError
        When the data break the contract and the run must stop.

    Examples
    --------
    >>> import tempfile, ibis, pandas as pd
    >>> db = Path(tempfile.mkdtemp()) / "crm.duckdb"
    >>> con = ibis.duckdb.connect(db)
    >>> _ = con.create_table("customers", pd.DataFrame({"customer_id": ["a", "b", "b"], "comment": ["", "", ""],
    ...     "signup_date": ["2025-01-01", "2025-02-01", "2025-02-01"], "churn_date": ["", "", ""]}))
    >>> con.disconnect()
    >>> params = RunParams.model_validate({"run_id": "tiny", "as_of": "2025-09-30", "on_invalid": "exclude",
    ...     "data": {"customers": "table:customers"}, "engine": {"database": str(db)}})
    >>> clean, report = clean_tables(params)
    >>> report.rows_read, report.rows_kept, clean.unused
    ({'customers': 3}, {'customers': 1}, {'customers': ['comment']})
    """
    tables = load_tables(params)
    validator = Validator(tables)
    if validation is None:
        validation = validator.report()
        if not validation.ok:
            raise DataError(validation.message())
    cleaned, duplicates = deduplicated(validator.clean_tables(), params, validation.rows_kept)
    clean = _materialize(tables.con, narrowed(cleaned, params), tables.files)
    unused = unused_columns({name: list(t.columns) for name, t in cleaned.items()}, params)
    return CleanTables(con=tables.con, tables=clean, files=tables.files, unused=unused,
                       duplicates=duplicates), validation
