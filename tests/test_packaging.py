"""Project hygiene: dependencies declared twice stay in sync; notebooks are committed clean."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from cxlib.run.notebooks import is_clean
from cxlib.run.runner import section_notebooks

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {"ibis-framework": "ibis-framework-core"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", req)
    return m.group(1).lower(), m.group(3).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    pip = {CONDA_NAMES.get(n, n): spec for n, spec in map(_split, pip_reqs)}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip")))
    assert conda == pip, f"environment.yml and pyproject.toml differ: {set(conda.items()) ^ set(pip.items())}"
    # Optional extras that conda-forge lacks are installed by pip inside environment.yml.
    extras = [r for name, reqs in project["optional-dependencies"].items() if name != "test" for r in reqs]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert dict(map(_split, extras)) == dict(_split(r) for r in pip_section if not r.startswith("-e"))


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_committed_without_outputs(path):
    assert is_clean(path), f"{path.name} has outputs or editor metadata: run `make strip`"


@pytest.mark.parametrize("path", section_notebooks(), ids=lambda p: p.name)
def test_parameters_cell_defaults_to_demo_params(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    ns: dict = {}
    exec(tagged[0].source, ns)  # noqa: S102 - our own notebook's parameters cell
    assert ns["params_file"] == "../params/demo.yaml" and ns["run_dir"] is None
    assert nb.metadata["kernelspec"]["name"] == "cx-workbook"
