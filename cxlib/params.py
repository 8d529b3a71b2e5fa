"""Run parameters: one YAML file per run, validated before any notebook runs.

The YAML is read with YAML 1.2 booleans (only ``true``/``false``), so a value such as
``no`` or ``on`` stays a string. Every key must be a Python identifier because papermill
writes parameter names into the notebook as code.
"""

from __future__ import annotations

import datetime as dt
import difflib
import keyword
import re
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

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARAMS = PROJECT_ROOT / "params" / "demo.yaml"

TABLES = ("customers", "interactions", "surveys")
METRIC_NAMES = ("volume", "rated_share", "csat_mean", "csat_top2", "ces_mean", "resolution_rate", "nps")

ALL_CAUSES = "all"  # the one churn cause of a run without churn_causes
OTHER_CAUSE = "other"  # the cause of a churn reason that churn_causes does not list
DEFAULT_IMPACT_CAUSE = "voluntary"

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


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

    customers: str
    interactions: str | None = None
    surveys: str | None = None
    columns: dict[str, dict[str, str]] = Field(
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


class EngineSpec(_Strict):
    """Which Ibis backend runs the data work.

    Examples
    --------
    >>> EngineSpec().backend, EngineSpec(backend="pyspark", threads=4).threads
    ('duckdb', 4)
    """

    backend: Literal["duckdb", "pyspark"] = "duckdb"
    database: str | None = Field(None, description="DuckDB database file (spills to disk); default in memory")
    memory_limit: str = "4GB"
    threads: int | None = Field(None, ge=1)
    url: str | None = Field(None, description=(
        "any other Ibis backend by connection URL (ibis.connect), e.g. postgres://cx@warehouse/cx; "
        "${VAR} is taken from the environment, so no password sits in the params file"))

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
    touchpoint: str | None = None
    csat_max: int | None = Field(None, ge=1, le=5)
    ces_min: int | None = Field(None, ge=1, le=7)
    resolved: bool | None = None
    min_count: int = Field(1, ge=1)
    window_days: int | None = Field(None, ge=1)


class DemoSpec(_Strict):
    """Generate the demo data set into the data paths when they do not exist yet.

    Examples
    --------
    >>> DemoSpec(customers=2000).seed
    42
    """

    customers: int = Field(10_000, ge=100)
    seed: int = 42


class RunParams(_Strict):
    """All keys a run understands. Unknown keys are errors.

    Examples
    --------
    >>> p = RunParams.model_validate({"run_id": "q3", "as_of": "2026-09-30", "data": {"customers": "/data/c.csv"}})
    >>> p.as_of, p.min_cell_size, p.path("customers"), p.path("surveys")
    (datetime.date(2026, 9, 30), 10, '/data/c.csv', None)
    >>> [r.name for r in p.exposure_rules(["Billing call", "app"])]
    ['poor_billing_call', 'poor_app']
    """

    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
    as_of: dt.date
    data: DataSpec
    title: str = "Customer experience report"
    covariates: list[Identifier] = Field(default_factory=list)
    touchpoints: list[str] | None = None
    poor_csat_max: int = Field(2, ge=1, le=4)
    exposure_window_days: int = Field(90, ge=1)
    exposure_lag_days: int = Field(1, ge=0, description="an experience on day d counts on days d + lag … d + lag + window − 1")
    lag_sensitivity_days: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: [0, 1, 7, 30], min_length=1,
        description="exposure lags of the reverse-causation sensitivity table (one cell build each)")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217 code of monthly_revenue (money is shown as plain numbers without it)")
    exposures: list[ExposureRule] | None = None
    survey_drivers: list[Identifier] = Field(default_factory=list)
    survey_since: dt.date | None = None
    min_cell_size: int = Field(10, ge=1)
    protection_width: int | None = Field(
        None, ge=1, description="width of the interval an outsider may at best derive for a suppressed count "
                                "(default min_cell_size); see docs/privacy.md")
    on_invalid: Literal["fail", "exclude"] = "fail"
    period: Literal["quarter", "month"] = "quarter"
    targets: dict[Literal[METRIC_NAMES], dict[str, float]] = Field(default_factory=dict)  # type: ignore[valid-type]
    journey: dict[str, list[str]] | None = None
    horizons_days: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [90, 180, 365])
    tenure_pieces_days: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: [0, 30, 60, 90, 120, 150, 180, 270, 365, 545, 730],
        description="boundaries of the baseline pieces of the piecewise-exponential model",
    )
    covariate_bins: int = Field(4, ge=2, le=10, description="quantile bins of a continuous covariate in the cell model")
    cox_time_varying_max_rows: int = Field(300_000, ge=0, description="fit the time-varying Cox cross-check up to this many intervals")
    ph_check_sample: int = Field(5000, ge=100, description="customers sampled for the Schoenfeld-residual check")
    bootstrap: int = Field(500, ge=0)
    what_if_reduction: float = Field(0.5, gt=0, le=1)
    churn_causes: dict[Identifier, list[str]] | None = Field(None, description=(
        "churn causes and their churn_reason values, e.g. {voluntary: [price, competitor], involuntary: [moved]}; "
        "reasons not listed are cause 'other'"))
    impact_cause: Identifier | None = Field(None, description="the cause the impact section attributes "
                                            "(default voluntary when churn_causes are given)")
    seed: int = 20240101
    engine: EngineSpec = Field(default_factory=EngineSpec)
    cell_timeout_seconds: int = Field(1800, ge=10)
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


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: ``yes``/``no``/``on``/``off`` stay strings."""


_Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


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
    return f"key {key!r}: expected {_expected(err)}, got {got}."


def _expected(err: dict[str, Any]) -> str:
    msg = err["msg"]
    msg = re.sub(r"^(Input should be|Value error, )\s*", "", msg)
    return msg


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
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Save the file as UTF-8.") from None
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
