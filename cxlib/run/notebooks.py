"""Keep committed notebooks diffable: no outputs, no execution counts, one kernelspec.

``python -m cxlib.run.notebooks notebooks/*.ipynb`` strips them in place; ``--check`` only reports
(used by the test suite, so a notebook committed with outputs fails the tests).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from cxlib.run.kernel import KERNEL_DISPLAY_NAME, KERNEL_NAME

KERNELSPEC = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}


def normalized(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without outputs, execution counts or editor metadata.

    Examples
    --------
    >>> cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[nbformat.v4.new_output("stream", text="2")])
    >>> cell.metadata["collapsed"] = True
    >>> clean = normalized(nbformat.v4.new_notebook(cells=[cell]))
    >>> clean.cells[0].outputs, clean.cells[0].execution_count, dict(clean.cells[0].metadata)
    ([], None, {})
    >>> clean.metadata.kernelspec.name
    'cx-workbook'
    """
    nb = nbformat.from_dict(nb)
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for cell in nb.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.from_dict({"tags": tags} if tags else {})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def is_clean(path: Path) -> bool:
    """True when the notebook file is committed as :func:`normalized` would write it.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "probe.ipynb"
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", execution_count=1)]), path)
    >>> is_clean(path), main([str(path)]), is_clean(path)
    stripped ...
    (False, 0, True)
    """
    nb = nbformat.read(path, as_version=4)
    return nbformat.writes(nb) == nbformat.writes(normalized(nb))


def main(argv: list[str] | None = None) -> int:
    """``python -m cxlib.run.notebooks [--check] PATH...``: strip notebooks (or, with ``--check``, list those to strip).

    Examples
    --------
    >>> main(["--check", *map(str, sorted(Path("notebooks").glob("*.ipynb")))])   # doctest: +SKIP
    0
    """
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--check", action="store_true", help="only report notebooks that need stripping")
    args = ap.parse_args(argv)
    dirty = [p for p in args.paths if not is_clean(p)]
    if args.check:
        for p in dirty:
            print(f"{p}: has outputs or editor metadata; run python -m cxlib.run.notebooks {p}")
        return 1 if dirty else 0
    for p in dirty:
        nbformat.write(normalized(nbformat.read(p, as_version=4)), p)
        print(f"stripped {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
