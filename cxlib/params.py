"""Run parameters: one YAML file per run, validated before any notebook runs.

The YAML is read with YAML 1.2 booleans (only ``true``/``false``), so a value such as
``no`` or ``on`` stays a string. Every key must be a Python identifier because papermill
writes parameter names into the notebook as code.

Absurd input is refused before anything runs: a file over :data:`MAX_PARAMS_BYTES`, aliases that expand
beyond :data:`cxlib.yaml12.MAX_YAML_VALUES` values ("billion laughs"), a costly numeric key above its bound, free text
over its length; each message names the key and the allowed range.
"""

from __future__ import annotations

import datetime as dt
import difflib
import keyword
import re
import reprlib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cxlib.errors import ParamsError
from cxlib.yaml12 import ParamsTooLarge, Yaml12Loader

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS = PROJECT_ROOT / "params" / "demo.yaml"

TABLES = ("customers", "interactions", "surveys")
METRIC_NAMES = ("volume", "rated_share", "csat_mean", "csat_top2", "ces_mean", "resolution_rate", "nps")

ALL_CAUSES = "all"  # the one churn cause of a run without churn_causes
OTHER_CAUSE = "other"  # the cause of a churn reason that churn_causes does not list
DEFAULT_IMPACT_CAUSE = "voluntary"

MAX_PARAMS_BYTES = 1_000_000  # a params file is a page of YAML; this is a thousand pages
MAX_TEXT_CHARS = 200  # a title, a touchpoint or level named in params: as the data contract's names
MAX_DAYS = 36_500  # a horizon, tenure piece or window longer than a century is a typo
MAX_PATH_CHARS = 4096

# room for a derived exposure name, poor_<touchpoint as an identifier>, of a 200-character touchpoint
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=MAX_TEXT_CHARS + 50)]
Name = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TABLE_SOURCE = "table:"  # data.<table>: "table:[schema.]name" reads a table of the engine's database


class DataSpec(_Strict):
    """Where the input tables are: files (paths or globs, relative to the params file) or
    ``table:[schema.]name``, a table in the engine's database (a warehouse, a Spark catalog).

    Examples
    --------
    >>> DataSpec(customers="exports/customers.csv", columns={"customers": {"customer_id": "id"}}).columns
    {'customers': {'customer_id': 'id'}}
    """

    customers: str = Field(max_length=MAX_PATH_CHARS)
    interactions: str | None = Field(None, max_length=MAX_PATH_CHARS)
    surveys: str | None = Field(None, max_length=MAX_PATH_CHARS)
    columns: dict[str, dict[str, Name]] = Field(
        default_factory=dict,
        description="per table, contract column -> column name in the file",
    )

    @field_validator("columns")
    @classmethod
    def _known_tables(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for table in v:
            if table not in TABLES:
                raise ValueError(f"unknown table {table!r} under data.columns; expected one of {', '.join(TABLES)}")
        return v


# DuckDB's units: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024; a bare letter as the JVM's.
_UNIT_BYTES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
               "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def size_bytes(text: str) -> int:
    """Bytes of a memory size as DuckDB writes it ("8GB", "512 MiB", "1.5GB"; "4g" as the JVM).

    Raises
    ------
    ValueError
        When ``text`` is not a size; the message lists the units.

    Examples
    --------
    >>> size_bytes("8GB"), size_bytes("512 MiB"), size_bytes("1.5g")
    (8000000000, 536870912, 1610612736)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = _UNIT_BYTES.get(m.group(2).lower()) if m else None
    if unit is None:
        raise ValueError(f"{text!r} is not a memory size such as '8GB' or '512MiB' "
                         "(units: KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return int(float(m.group(1)) * unit)


class EngineSpec(_Strict):
    """Which Ibis backend runs the data work.

    Examples
    --------
    >>> EngineSpec().backend, EngineSpec(backend="pyspark", threads=4).threads
    ('duckdb', 4)
    """

    backend: Literal["duckdb", "pyspark"] = "duckdb"
    database: str | None = Field(None, max_length=MAX_PATH_CHARS,
                                 description="DuckDB database file (spills to disk); default in memory")
    memory_limit: str | None = Field(None, max_length=20, description=(
        "the run's DuckDB memory, e.g. 8GB, divided among the sections it executes at once (on Spark the "
        "driver's heap); default: 60% of the machine's memory (or of the container's limit)"))
    threads: int | None = Field(None, ge=1, le=1024)
    url: str | None = Field(None, max_length=MAX_PATH_CHARS, description=(
        "any other Ibis backend by connection URL (ibis.connect), e.g. postgres://cx@warehouse/cx; "
        "${VAR} is taken from the environment, so no password sits in the params file"))

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, v: str | None) -> str | None:
        if v is not None:
            size_bytes(v)  # its ValueError lists the units
        return v

    @model_validator(mode="after")
    def _one_connection(self) -> EngineSpec:
        if self.url and (self.backend != "duckdb" or self.database):
            raise ValueError("engine.url names the backend and its database itself: leave out engine.backend and "
                             "engine.database")
        return self


class ExposureRule(_Strict):
    """A named time-varying exposure: matching interactions within the window.

    Examples
    --------
    >>> ExposureRule(name="poor_billing", touchpoint="billing", csat_max=2).min_count
    1
    """

    name: Identifier
    touchpoint: Name | None = None
    csat_max: int | None = Field(None, ge=1, le=5)
    ces_min: int | None = Field(None, ge=1, le=7)
    resolved: bool | None = None
    min_count: int = Field(1, ge=1, le=10_000)
    window_days: Days | None = None


class DemoSpec(_Strict):
    """Generate the demo data set into the data paths when they do not exist yet.

    Examples
    --------
    >>> DemoSpec(customers=2000).seed
    42
    """

    customers: int = Field(10_000, ge=100, le=5_000_000)
    seed: int = Field(42, ge=0, le=2**32 - 1)


class RunParams(_Strict):
    """All keys a run understands. Unknown keys are errors.

    Examples
    --------
    >>> p = RunParams.model_validate({"run_id": "q3", "as_of": "2026-09-30", "data": {"customers": "/data/c.csv"}})
    >>> p.as_of, p.min_cell_size, p.path("customers"), p.path("surveys")
    (datetime.date(2026, 9, 30), 10, '/data/c.csv', None)
    >>> [r.name for r in p.exposure_rules(["Billing call", "app"])]
    ['poor_billing_call', 'poor_app']
    >>> len(p.exposure_rules(["9" * MAX_TEXT_CHARS])[0].name)  # any touchpoint the contract allows
    206
    """

    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
    as_of: dt.date
    data: DataSpec
    title: str = Field("Customer experience report", max_length=MAX_TEXT_CHARS)
    covariates: list[Identifier] = Field(default_factory=list, max_length=50)
    touchpoints: list[Name] | None = Field(None, max_length=100, description="more exposures than this cannot be modelled")
    poor_csat_max: int = Field(2, ge=1, le=4)
    exposure_window_days: Days = 90
    exposure_lag_days: int = Field(1, ge=0, le=MAX_DAYS,
                                   description="an experience on day d counts on days d + lag … d + lag + window − 1")
    lag_sensitivity_days: list[Annotated[int, Field(ge=0, le=MAX_DAYS)]] = Field(
        default_factory=lambda: [0, 1, 7, 30], min_length=1, max_length=10,
        description="exposure lags of the reverse-causation sensitivity table (one cell build each)")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217 code of monthly_revenue (money is shown as plain numbers without it)")
    exposures: list[ExposureRule] | None = Field(None, max_length=100)
    survey_drivers: list[Identifier] = Field(default_factory=list, max_length=50)
    survey_since: dt.date | None = None
    min_cell_size: int = Field(10, ge=1, le=1_000_000)
    protection_width: int | None = Field(
        None, ge=1, le=1_000_000, description="width of the interval an outsider may at best derive for a "
                                              "suppressed count (default min_cell_size); see docs/privacy.md")
    on_invalid: Literal["fail", "exclude"] = "fail"
    drop_duplicate_interactions: bool = Field(False, description=(
        "drop exact duplicate interaction rows (every column equal) before the analysis; the data-quality "
        "section counts them either way"))
    period: Literal["quarter", "month"] = "quarter"
    targets: dict[Literal[METRIC_NAMES], dict[Name, Annotated[float, Field(allow_inf_nan=False)]]] = Field(  # type: ignore[valid-type]
        default_factory=dict)
    journey: dict[Name, list[Name]] | None = None
    horizons_days: list[Days] = Field(default_factory=lambda: [90, 180, 365], min_length=1, max_length=20)
    tenure_pieces_days: list[Annotated[int, Field(ge=0, le=MAX_DAYS)]] = Field(
        default_factory=lambda: [0, 30, 60, 90, 120, 150, 180, 270, 365, 545, 730], min_length=1, max_length=50,
        description="boundaries of the baseline pieces of the piecewise-exponential model",
    )
    covariate_bins: int = Field(4, ge=2, le=10, description="quantile bins of a continuous covariate in the cell model")
    cox_time_varying_max_rows: int = Field(300_000, ge=0, le=1_000_000,
                                           description="fit the time-varying Cox cross-check up to this many intervals")
    ph_check_sample: int = Field(5000, ge=100, le=100_000, description="customers sampled for the Schoenfeld-residual check")
    bootstrap: int = Field(500, ge=0, le=10_000)
    what_if_reduction: float = Field(0.5, gt=0, le=1)
    churn_causes: dict[Identifier, list[Name]] | None = Field(None, description=(
        "churn causes and their churn_reason values, e.g. {voluntary: [price, competitor], involuntary: [moved]}; "
        "reasons not listed are cause 'other'"))
    impact_cause: Identifier | None = Field(None, description="the cause the impact section attributes "
                                            "(default voluntary when churn_causes are given)")
    seed: int = Field(20240101, ge=0, le=2**32 - 1)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    cell_timeout_seconds: int = Field(1800, ge=10, le=86_400)
    parallel_sections: int | None = Field(None, ge=1, le=64, description=(
        "sections cx run executes at once (each in its own kernel); default $CX_PARALLEL_SECTIONS, else the cores"))
    demo: DemoSpec | None = None
    compare_with: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100,
                                       description="the run_id to compare with (default: the previous run of the "
                                                   "same series)")] | None = None

    # Set by load_params, not by the YAML file.
    source: Path | None = Field(None, exclude=True)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_shorthand(cls, v: Any) -> Any:
        return {"backend": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _unique_names(self) -> RunParams:
        if self.exposures:
            names = [e.name for e in self.exposures]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"exposure names must be unique; repeated: {', '.join(dupes)}")
        if len(set(self.lag_sensitivity_days)) != len(self.lag_sensitivity_days):
            raise ValueError("lag_sensitivity_days must not repeat a value")
        if len(set(self.horizons_days)) != len(self.horizons_days):
            raise ValueError("horizons_days must not repeat a value")
        pieces = self.tenure_pieces_days
        if pieces[0] != 0 or any(b <= a for a, b in zip(pieces, pieces[1:])):
            raise ValueError("tenure_pieces_days must start at 0 and increase")
        self._check_causes()
        return self

    def _check_causes(self) -> None:
        """churn_causes: no cause 'all', every reason non-empty and under one cause; impact_cause one of them."""
        if not self.churn_causes:
            if self.impact_cause not in (None, ALL_CAUSES):
                raise ValueError(f"impact_cause {self.impact_cause!r} needs churn_causes (without them there is one "
                                 f"cause, '{ALL_CAUSES}')")
            return
        if ALL_CAUSES in self.churn_causes:
            raise ValueError(f"churn_causes cannot name a cause '{ALL_CAUSES}' (it means all causes together)")
        seen: dict[str, str] = {}
        for cause, reasons in self.churn_causes.items():
            for reason in reasons:
                key = reason.strip().lower()  # matched as SQL lower(trim(churn_reason))
                if not key:
                    raise ValueError(f"churn_causes: cause {cause!r} lists an empty reason")
                if seen.get(key, cause) != cause:
                    raise ValueError(f"churn_causes: reason {key!r} is listed under both {seen[key]!r} and {cause!r}; "
                                     "give each reason one cause")
                seen[key] = cause
        if self.impact_cause is None and DEFAULT_IMPACT_CAUSE not in self.churn_causes:
            raise ValueError(f"churn_causes has no cause '{DEFAULT_IMPACT_CAUSE}': name the cause the impact section "
                             f"attributes with impact_cause (one of {', '.join(self.causes)})")
        if self.impact_cause is not None and self.impact_cause not in self.causes:
            raise ValueError(f"impact_cause {self.impact_cause!r} is not a cause of churn_causes "
                             f"({', '.join(self.causes)})")

    # ---- derived -------------------------------------------------------------------------
    @property
    def protection(self) -> int:
        """``protection_width``, or ``min_cell_size`` when it is not set.

        Examples
        --------
        >>> RunParams.model_validate({"run_id": "q", "as_of": "2026-09-30", "data": {"customers": "c.csv"},
        ...                           "min_cell_size": 5}).protection
        5
        """
        return self.protection_width if self.protection_width is not None else self.min_cell_size

    @property
    def base_dir(self) -> Path:
        """The folder relative data paths resolve against: the params file's."""
        return self.source.parent if self.source else Path.cwd()

    def path(self, table: str) -> str | None:
        """The resolved path (or glob) of an input table (a ``table:`` source as given), None when absent."""
        raw = getattr(self.data, table)
        if raw is None or raw.startswith(TABLE_SOURCE):
            return raw
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else (self.base_dir / p).resolve())

    @property
    def causes(self) -> tuple[str, ...]:
        """The churn causes reported: params order, then ``other`` (reasons not listed); ``('all',)`` without causes.

        Examples
        --------
        >>> raw = {"run_id": "q3", "as_of": "2026-09-30", "data": {"customers": "c.csv"}}
        >>> RunParams.model_validate(raw).causes
        ('all',)
        >>> p = RunParams.model_validate({**raw, "churn_causes": {"voluntary": ["price"], "involuntary": ["moved"]}})
        >>> p.causes, p.cause_of_impact
        (('voluntary', 'involuntary', 'other'), 'voluntary')
        """
        if not self.churn_causes:
            return (ALL_CAUSES,)
        return (*[c for c in self.churn_causes if c != OTHER_CAUSE], OTHER_CAUSE)

    @property
    def cause_of_impact(self) -> str:
        """The cause the impact section attributes: ``impact_cause``, else ``voluntary``; ``all`` without causes."""
        if not self.churn_causes:
            return ALL_CAUSES
        return self.impact_cause or DEFAULT_IMPACT_CAUSE

    def exposure_rules(self, touchpoints: list[str]) -> list[ExposureRule]:
        """The exposures to model: those in params, else ``poor_<touchpoint>`` for each touchpoint."""
        if self.exposures:
            return list(self.exposures)
        return [
            ExposureRule(name=f"poor_{safe_name(tp)}", touchpoint=tp, csat_max=self.poor_csat_max)
            for tp in touchpoints
        ]

    def to_yaml_dict(self) -> dict[str, Any]:
        """The params as plain YAML data (dates as text, defaults included, unset keys left out)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"source"})


def safe_name(text: str) -> str:
    """A Python-identifier-safe version of a data value (for term names such as ``poor_<touchpoint>``).

    Examples
    --------
    >>> safe_name("Billing call"), safe_name("24/7 chat"), safe_name("")
    ('billing_call', '_24_7_chat', 'x')
    """
    name = re.sub(r"\W+", "_", str(text).strip().lower()).strip("_") or "x"
    return f"_{name}" if name[0].isdigit() else name


# ---- loading -----------------------------------------------------------------------------


def _check_identifier_keys(raw: dict[Any, Any], errors: list[str]) -> None:
    # Only top-level keys become papermill parameters; nested keys that name data values
    # (targets per touchpoint, column maps, journey stages) may be any string.
    for key in raw:
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            errors.append(
                f"key {key!r} is not a valid name: keys must be Python identifiers "
                "(letters, digits, underscores, not starting with a digit) because they are "
                "passed to the notebooks as code."
            )


_SHORT = reprlib.Repr()  # attributes, not keywords: Python 3.11's Repr takes none
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 57, 57, 6, 4, 2


def _describe(value: Any) -> str:
    # reprlib: a 50 MB title or a deeply nested value must not be copied whole into the message
    sized = isinstance(value, (str, list, dict)) and len(value) > 20
    size = f" of {len(value):,} {'characters' if isinstance(value, str) else 'items'}" if sized else ""
    return f"{_SHORT.repr(value)} ({type(value).__name__}{size})"


def _format_error(err: dict[str, Any], raw: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_model = _model_at(loc[:-1])
        valid = list(parent_model.model_fields) if parent_model else []
        valid = [v for v in valid if v != "source"]
        close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}.{hint} Valid keys here: {', '.join(valid)}."
    if kind == "missing":
        return f"required key {key!r} is missing."
    got = _describe(err.get("input"))
    allowed = _allowed(loc, kind)
    if allowed:
        return f"key {key!r}: expected {allowed}, got {got}."
    return f"key {key!r}: expected {_expected(err)}, got {got}."


def _expected(err: dict[str, Any]) -> str:
    msg = err["msg"]
    msg = re.sub(r"^(Input should be|Value error, )\s*", "", msg)
    return msg


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_LENGTH_ERRORS = {"too_short", "too_long", "string_too_short", "string_too_long"}


def _constraints(annotation: Any, metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for m in [*metadata, *[m for a in typing.get_args(annotation)[1:] for m in getattr(a, "metadata", [])]]:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(m, name, None) is not None:
                found[name] = getattr(m, name)
    return found


def _field_constraints(loc: list[str]) -> tuple[dict[str, Any], Any]:
    """The bounds and type of the params field at ``loc`` (a list item's own when loc ends in an index)."""
    field_loc = [p for p in loc if not p.isdigit()]
    model = _model_at(field_loc[:-1])
    field = model.model_fields.get(field_loc[-1]) if model and field_loc else None
    if field is None:
        return {}, None
    annotation, metadata = field.annotation, field.metadata
    if loc[-1].isdigit():  # an item of a list: the bounds of list[Annotated[int, Field(...)]]
        annotation, metadata = next(iter(typing.get_args(annotation)), None), []
    found = _constraints(annotation, metadata)
    base = annotation
    while typing.get_args(base):  # Optional[...], Annotated[...]: the first concrete type
        base = typing.get_args(base)[0]
    return found, base


def _allowed(loc: list[str], kind: str) -> str | None:
    """The allowed range or length of a key, in words, for a range or length error.

    Examples
    --------
    >>> _allowed(["bootstrap"], "less_than_equal"), _allowed(["what_if_reduction"], "greater_than")
    ('an integer from 0 to 10,000', 'a number above 0 and at most 1')
    >>> _allowed(["horizons_days"], "too_short"), _allowed(["title"], "string_too_long")
    ('1 to 20 item(s)', 'at most 200 characters')
    """
    c, base = _field_constraints(loc)
    if kind in _RANGE_ERRORS:
        noun = "an integer" if base is int else "a number"
        lo = f"from {c['ge']:,}" if "ge" in c else f"above {c['gt']:,}" if "gt" in c else None
        hi = f"at most {c['le']:,}" if "le" in c else f"below {c['lt']:,}" if "lt" in c else None
        if lo is None and hi is None:
            return None
        if lo and hi:
            return f"{noun} {lo} {hi.replace('at most ', 'to ')}" if lo.startswith("from") and "le" in c \
                else f"{noun} {lo} and {hi}"
        return f"{noun} {lo or hi}".replace("from ", "of at least ")
    lo, hi = c.get("min_length"), c.get("max_length")
    if kind not in _LENGTH_ERRORS or (lo is None and hi is None):
        return None
    unit = "characters" if kind.startswith("string") else "item(s)"
    return f"{lo:,} to {hi:,} {unit}" if lo and hi else f"at most {hi:,} {unit}" if hi else f"at least {lo:,} {unit}"


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = RunParams
    for part in loc:
        if model is None or part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nested = [c for c in candidates for c in [c, *getattr(c, "__args__", ())] if isinstance(c, type) and issubclass(c, BaseModel)]
        model = nested[0] if nested else None
    return model


def load_params(path: str | Path, overrides: dict[str, Any] | None = None) -> RunParams:
    """Read and validate a params file.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths in it resolve against its folder.
    overrides : dict, optional
        Top-level keys that replace the file's values (for example ``as_of`` and ``run_id``
        derived from ``--quarter``).

    Raises
    ------
    ParamsError
        With every problem found, each naming the key, what was expected and what was given.

    Examples
    --------
    >>> p = load_params(DEFAULT_PARAMS)
    >>> p.run_id
    'demo'
    """
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"Params file {str(path)!r} does not exist. Pass the path of a YAML file, e.g. params/demo.yaml.")
    size = path.stat().st_size
    if size > MAX_PARAMS_BYTES:
        raise ParamsError(f"{path}: {size:,} bytes; a params file is at most {MAX_PARAMS_BYTES:,} bytes. Check for a "
                          "value pasted in by mistake (a title or a list of thousands of names); the keys and "
                          "their limits are listed in cxlib/params.py.")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Save the file as UTF-8.") from None
    except ParamsTooLarge as exc:
        raise ParamsError(f"{path}: the YAML holds {exc} (anchors &name and aliases *name that nest, as in a "
                          "'billion laughs' file); a params file needs at most a few hundred values. Write the "
                          "values out instead of nesting aliases.") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of keys to values at the top level, got {type(raw).__name__}.")
    raw = {**raw, **(overrides or {})}
    problems: list[str] = []
    _check_identifier_keys(raw, problems)
    if not problems:
        try:
            params = RunParams.model_validate(raw)
        except ValidationError as exc:
            problems = [_format_error(e, raw) for e in exc.errors()]
        else:
            return params.model_copy(update={"source": path.resolve()})
    listing = "\n".join(f"  - {p}" for p in problems)
    raise ParamsError(f"{path}: {len(problems)} problem(s) in the params file:\n{listing}")


def resolve_params_file(path: str | Path | None) -> Path:
    """Find a params file given relative to the working directory or to the project.

    Notebooks run in the caller's working directory (papermill, JupyterLab), so a default such
    as ``../params/demo.yaml`` is also tried relative to the project's ``notebooks/`` folder.

    Examples
    --------
    >>> resolve_params_file("../params/demo.yaml") == DEFAULT_PARAMS, resolve_params_file(None) == DEFAULT_PARAMS
    (True, True)
    """
    if path is None:
        return DEFAULT_PARAMS
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for base in (PROJECT_ROOT / "notebooks", PROJECT_ROOT):
        if (base / p).exists():
            return (base / p).resolve()
    return p
