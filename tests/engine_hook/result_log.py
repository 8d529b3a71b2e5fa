"""Test-only hook of the engine guard (tests/test_engine_guard.py): log every result that leaves Ibis.

Installed at interpreter start-up by ``sitecustomize.py`` next to this file when the test puts
this folder on ``PYTHONPATH`` and sets ``CX_RESULT_LOG``: so in the ``cx`` process and in every
kernel it starts (they inherit the environment), without any test code in ``cxlib``.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

RESULT_LOG_ENV = "CX_RESULT_LOG"
HOOK_DIR = Path(__file__).resolve().parent  # the folder to put on PYTHONPATH
PROJECT = str(HOOK_DIR.parents[1]) + "/"


def log_results(path: str) -> None:
    """Append one JSON line per result that leaves the engine in this process to ``path``.

    Wraps the Ibis entry points that every result goes through (``Expr.execute`` (and so
    ``to_pandas``), ``to_pyarrow`` (and ``to_list``), ``to_polars``, the batch streams and
    ``to_torch``) and logs ``rows`` (-1 for a stream), ``columns`` and ``caller``: the first calling
    line outside Ibis, such as ``cxlib/features/cube.py:140 _sums_cube`` or a notebook cell.
    Patches once per process.
    """
    import ibis
    from ibis.expr.types.core import Expr

    if getattr(Expr, "_cx_result_log", None):
        return
    ibis_dir = str(Path(ibis.__file__).parent)

    def wrap(original: Any) -> Any:
        @functools.wraps(original)
        def logged(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = original(self, *args, **kwargs)
            frame = sys._getframe(1)
            while frame.f_back is not None and frame.f_code.co_filename.startswith(ibis_dir):
                frame = frame.f_back
            shape = getattr(out, "shape", None)  # pandas, polars, numpy; pyarrow has num_rows
            rows = (out.num_rows if hasattr(out, "num_rows") else shape[0] if shape else
                    -1 if hasattr(out, "__next__") or hasattr(out, "read_next_batch") else
                    len(out) if isinstance(out, (list, tuple)) or hasattr(out, "null_count") else 1)
            columns = getattr(out, "column_names", None) or [str(c) for c in getattr(out, "columns", [])]
            entry = {"rows": int(rows), "columns": list(columns),
                     "caller": f"{frame.f_code.co_filename.removeprefix(PROJECT)}:{frame.f_lineno} {frame.f_code.co_name}"}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, default=str) + "\n")
            return out

        return logged

    for name in ("execute", "to_pyarrow", "to_polars", "to_pyarrow_batches", "to_pandas_batches", "to_torch"):
        setattr(Expr, name, wrap(getattr(Expr, name)))
    Expr._cx_result_log = path


def environment(log: Path) -> dict[str, str]:
    """The environment variables that install the hook in a new Python process (and its kernels)."""
    import os

    path = os.pathsep.join(p for p in (str(HOOK_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, RESULT_LOG_ENV: str(log)}
