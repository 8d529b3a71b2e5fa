"""Atomic publishing: build a run in a staging folder, move it into place only when complete.

The staging folder sits next to the run's final place (same file system, so the final ``rename``
is atomic). A failure or an interruption (SIGINT, SIGTERM, turned into :class:`Interrupted` by
:func:`signals_raise`) removes it and leaves earlier runs as they were. A runner killed outright
(SIGKILL, out of memory) cannot clean up; the next run removes its leftovers
(:func:`remove_stale_staging`: their names carry the dead runner's pid).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cxlib.errors import RunExistsError
from cxlib.run.layout import leftover, old_name, staging_prefix


class Interrupted(BaseException):
    """Raised in the main thread when SIGTERM (or SIGINT) arrives during a run.

    Examples
    --------
    >>> exc = Interrupted(signal.SIGTERM)
    >>> str(exc), exc.signum == signal.SIGTERM
    ('SIGTERM', True)
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove staging folders of runners that no longer exist; put back a run moved aside by a
    killed ``--force`` publish.

    Parameters
    ----------
    output_dir : Path
        The folder runs are published in.

    Returns
    -------
    list of Path
        The folders removed, and the runs restored.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / ".tmp-demo-999999999-abcdefgh").mkdir()     # no such process
    >>> (out / f".tmp-demo-{os.getpid()}-abcdefgh").mkdir()  # this one: still running
    >>> [p.name for p in remove_stale_staging(out)]
    ['.tmp-demo-999999999-abcdefgh']
    """
    done: list[Path] = []
    if not output_dir.is_dir():
        return done
    for entry in output_dir.iterdir():
        found = leftover(entry.name)
        if found is None or not entry.is_dir() or _pid_alive(found[1]):
            continue
        run_id, _, moved_aside = found
        if moved_aside and not (output_dir / run_id).exists():
            entry.rename(output_dir / run_id)
            done.append(output_dir / run_id)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        done.append(entry)
    return done


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Interrupted` (main thread only).

    The previous handlers are put back on leaving the block.

    Examples
    --------
    >>> try:
    ...     with signals_raise():
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ... except Interrupted as exc:
    ...     print("stopped by", exc)
    stopped by SIGTERM
    """
    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def make_staging(output_dir: Path, run_id: str) -> Path:
    """A new, empty staging folder for ``run_id`` in ``output_dir``, readable as the umask allows.

    ``mkdtemp``'s 0700 would otherwise hide the published run from a web server running as another user.

    Examples
    --------
    >>> import tempfile
    >>> staging = make_staging(Path(tempfile.mkdtemp()), "demo")
    >>> staging.name.startswith(f".tmp-demo-{os.getpid()}-"), staging.is_dir()
    (True, True)
    """
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(run_id, os.getpid()), dir=output_dir))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    return staging


def publish(staging: Path, final: Path, force: bool) -> None:
    """Move the complete staging folder into place; with ``force`` replace the old run last.

    The old run is moved aside, the new one moved in, then the old one deleted: a failure before
    the new one is in place puts the old one back.

    Raises
    ------
    RunExistsError
        When ``final`` exists and ``force`` is false.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "demo").mkdir(); (out / ".tmp-demo-1-abcdefgh").mkdir()
    >>> publish(out / ".tmp-demo-1-abcdefgh", out / "demo", force=True)
    >>> sorted(p.name for p in out.iterdir())
    ['demo']
    """
    if final.exists():
        if not force:
            raise RunExistsError(f"{final} already exists; rerun with --force to replace it.")
        old = final.with_name(old_name(final.name, os.getpid()))
        final.rename(old)
        try:
            staging.rename(final)
        except BaseException:
            old.rename(final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)
