"""Every notebook runs top to bottom as JupyterLab runs it: no injected parameters, the working
directory is ``notebooks/``, the kernel is ``cx-workbook``, and the data are the default
``params/demo.yaml`` (generated on first use, as ``cx lab`` does).

One papermill call per notebook; several notebooks run in parallel under pytest-xdist.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cxlib.cli import _ensure_demo_data
from cxlib.params import DEFAULT_PARAMS, load_params
from cxlib.run.kernel import ensure_kernel
from cxlib.run.runner import NOTEBOOK_DIR, section_notebooks

pytestmark = pytest.mark.slow

NOTEBOOKS = [*section_notebooks(), NOTEBOOK_DIR / "_template.ipynb"]


@pytest.fixture(scope="session")
def demo_kernel() -> str:
    """The default params' data exist (as after ``cx lab``) and the project's kernel is installed."""
    _ensure_demo_data(load_params(DEFAULT_PARAMS))
    return ensure_kernel()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom_with_default_parameters(notebook: Path, demo_kernel: str, tmp_path: Path):
    import papermill as pm

    out = tmp_path / notebook.name
    # No parameters: papermill injects no cell, exactly like "Run All" in JupyterLab.
    pm.execute_notebook(str(notebook), str(out), kernel_name=demo_kernel, cwd=str(NOTEBOOK_DIR),
                        progress_bar=False, log_output=False, request_save_on_cell_execute=False)
    executed = nbformat.read(out, as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "some cells did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{notebook.name}: {errors[0].ename}: {errors[0].evalue}"
    shown = [o for c in code for o in c.outputs if o.output_type in ("display_data", "execute_result")]
    assert shown, f"{notebook.name} displayed nothing"
