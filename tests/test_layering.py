"""The package's layering, read from the source with ``ast`` (no module is imported).

Data flow: ``ingest -> features -> stats -> analyses -> text -> run``; ``workbook`` is the thin object
the notebooks use, ``plots`` draws, ``demo`` makes data. The layers and the arrows each may follow are
in README.md ("Layout"). Every absolute ``cxlib`` import counts, including imports inside functions
and under ``if TYPE_CHECKING:``: a dependency is a dependency, whenever it is resolved.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cxlib"
MAX_LINES = 600

BASE = {"cxlib", "cxlib.errors", "cxlib.params", "cxlib.results", "cxlib.periods", "cxlib.yaml12"}
SUBPACKAGES = ("ingest", "features", "stats", "text", "analyses", "run", "plots", "demo")
# layer -> the layers its modules may import (a layer may always import itself). Layers not listed
# here (workbook, run, cli) sit on top and may import any layer below them.
ALLOWED = {
    "base": {"base"},
    "ingest": {"base"},
    "features": {"base", "ingest"},
    "stats": {"base"},
    "text": {"base", "stats"},
    "analyses": {"base", "features", "stats", "text"},
    "plots": {"base", "text", "stats"},
    "demo": {"base"},
}
# layer -> third-party packages it must not import
FORBIDDEN_PACKAGES = {
    "stats": {"ibis", "duckdb", "pyspark", "papermill", "nbconvert", "nbclient", "IPython"},
    "ingest": {"lifelines", "statsmodels"},
    "features": {"lifelines", "statsmodels"},
    "analyses": {"papermill", "nbconvert", "nbclient"},
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # an imported cxlib module, or the top-level name of a third-party package
    line: int
    relative: bool = False

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package is its ``__init__.py``)."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The cxlib module that ``import name`` (or ``from parent import child``) loads."""
    while name not in modules() and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


@cache
def imports(module: str) -> tuple[Import, ...]:
    """Every import statement of ``module``, wherever it is in the file."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name) if alias.name.split(".")[0] == "cxlib" else alias.name.split(".")[0]
                found.append(Import(module, target, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(Import(module, "." * node.level + (node.module or ""), node.lineno, relative=True))
            elif node.module.split(".")[0] == "cxlib":
                found += [Import(module, _resolve(f"{node.module}.{a.name}"), node.lineno) for a in node.names]
            else:
                found.append(Import(module, node.module.split(".")[0], node.lineno))
    return tuple(dict.fromkeys(found))  # `from m import a, b` of one module counts once


def layer(module: str) -> str:
    """``base`` for the top-level foundation, the subpackage for the others, else the module's name."""
    if module in BASE:
        return "base"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or parts[1] in SUBPACKAGES else module


def _is_cxlib(target: str) -> bool:
    return target in modules()


def _report(violations: list) -> str:
    return "\n".join(map(str, violations))


def test_the_package_is_found():
    assert {"cxlib.errors", "cxlib.results", "cxlib.workbook", "cxlib.cli"} <= set(modules())
    assert any(i.target == "cxlib.errors" for i in imports("cxlib.params"))


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below_it(name):
    allowed = ALLOWED[name] | {name}
    violations = [
        i for m in modules() if layer(m) == name
        for i in imports(m) if _is_cxlib(i.target) and layer(i.target) not in allowed
    ]
    assert not violations, (
        f"the {name} layer may import only {sorted(allowed)} of cxlib (README.md, Layout):\n{_report(violations)}"
    )


def test_base_modules_import_only_each_other():
    violations = [i for m in BASE & set(modules()) for i in imports(m) if _is_cxlib(i.target) and i.target not in BASE]
    assert not violations, f"errors, params, results and periods import no other cxlib module:\n{_report(violations)}"


@pytest.mark.parametrize("name", sorted(FORBIDDEN_PACKAGES))
def test_layer_stays_off_forbidden_packages(name):
    forbidden = FORBIDDEN_PACKAGES[name]
    violations = [i for m in modules() if layer(m) == name for i in imports(m) if i.target in forbidden]
    assert not violations, f"the {name} layer must not import {sorted(forbidden)}:\n{_report(violations)}"


def test_ipython_only_in_the_display_helper():
    violations = [i for m in modules() if m != "cxlib.text.display" for i in imports(m) if i.target == "IPython"]
    assert not violations, f"cxlib.text.display is the one module that talks to IPython:\n{_report(violations)}"


def test_no_relative_imports():
    violations = [i for m in modules() for i in imports(m) if i.relative]
    assert not violations, f"use absolute imports (from cxlib.x.y import z):\n{_report(violations)}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"], ["e"]]


def test_no_import_cycles():
    graph = {m: {i.target for i in imports(m) if _is_cxlib(i.target)} for m in modules()}
    cycles = _cycles(graph)
    detail = "\n".join(
        " <-> ".join(c) + "\n    " + "\n    ".join(str(i) for m in c for i in imports(m) if i.target in c)
        for c in cycles
    )
    assert not cycles, f"cxlib modules that import each other (directly or through others):\n{detail}"


def test_explicit_inputs_no_workbook_or_untyped_params():
    violations = []
    for m, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                takes_workbook = m != "cxlib.workbook" and (arg.arg == "wb" or "Workbook" in annotation)
                if takes_workbook or (arg.arg == "params" and annotation in ("", "Any")):
                    violations.append(f"{m}.{node.name} (line {node.lineno}) takes {arg.arg}: {annotation or '?'}")
    assert not violations, (
        "functions take explicit tables and typed config values, not the workbook or untyped params:\n"
        + "\n".join(violations)
    )


@pytest.mark.parametrize("module", sorted(modules()))
def test_module_size(module):
    path = modules()[module]
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, (
        f"{path.relative_to(PACKAGE.parent)} has {n} lines (at most {MAX_LINES}): split it along the layers "
        "(README.md, Layout)"
    )
