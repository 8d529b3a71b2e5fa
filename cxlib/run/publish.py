"""Atomic publishing: build a run in a staging folder, move it into place only when complete.

The staging folder sits next to the run's final place (same file system, so the final ``rename``
is atomic). A failure or an interruption (SIGINT, SIGTERM, turned into :class:`Interrupted` by
:func:`signals_raise`) removes it and leaves earlier runs as they were. A runner killed outright
(SIGKILL, out of memory) cannot clean up; the next run removes its leftovers
(:func:`remove_stale_staging`: their names carry the dead runner's pid). Whether the output folder
can take the run at all is checked before any work starts (:func:`check_output_dir`).
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

from cxlib.errors import OutputError, RunExistsError
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


def _present(path: Path) -> bool:
    """True for anything at ``path``, a dangling symbolic link included."""
    return path.exists() or path.is_symlink()


def remove_entry(path: Path) -> bool:
    """Remove a folder, a file or a symbolic link (never what a link points to); True when it is gone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "target").mkdir(); (d / "target" / "kept.txt").write_text("x") and None
    >>> (d / "link").symlink_to(d / "target")
    >>> remove_entry(d / "link"), (d / "target" / "kept.txt").exists()
    (True, True)
    >>> (d / "file").write_text("x") and None
    >>> remove_entry(d / "file"), remove_entry(d / "target"), sorted(p.name for p in d.iterdir())
    (True, True, [])
    """
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
    return not _present(path)


def remove_stale_staging(output_dir: Path) -> list[Path]:
    """Remove staging folders of runners that no longer exist; put back a run moved aside by a
    killed ``--force`` publish.

    A run moved aside may be a folder, a symbolic link to one, or a file that stood in the run's
    place; it is removed as what it is (a link, never its target).

    Parameters
    ----------
    output_dir : Path
        The folder runs are published in.

    Returns
    -------
    list of Path
        The leftovers actually removed, and the runs put back (under the run's own name); a leftover
        that could not be removed is not listed.

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
        if found is None or _pid_alive(found[1]):
            continue
        run_id, _, moved_aside = found
        if not moved_aside and (entry.is_symlink() or not entry.is_dir()):
            continue  # a staging folder is always a real folder: this is not ours
        if moved_aside and not _present(output_dir / run_id):
            entry.rename(output_dir / run_id)
            done.append(output_dir / run_id)
            continue
        if remove_entry(entry):
            done.append(entry)
    return done


def describe_run_path(final: Path) -> str:
    """What stands at a run's place, in words, for messages.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "q3").mkdir(); (d / "q4").write_text("x") and None; (d / "q2").symlink_to(d / "q3")
    >>> describe_run_path(d / "q3"), describe_run_path(d / "q4")
    ('run folder', 'file')
    >>> describe_run_path(d / "q2").startswith("run folder (a symbolic link to ")
    True
    """
    if final.is_symlink():
        target = os.readlink(final)
        if final.is_dir():
            return f"run folder (a symbolic link to {target})"
        return f"symbolic link to {target}, which is not a folder"
    return "run folder" if final.is_dir() else "file"


def check_output_dir(output_dir: Path, final: Path, force: bool) -> None:
    """Refuse, before any work, an output folder that cannot take the run.

    Checks that ``output_dir`` is (or can be created as) a folder this process can write in, and
    that the run's place ``final`` is free, or holds a run folder and ``force`` is given. A file
    in the run's place is replaced only with ``force``. Nothing is left behind: the write test
    creates and removes an empty folder.

    Raises
    ------
    OutputError
        The output folder, or a folder above it, is a file; or it cannot be written in; or a file
        stands in the run's place and ``force`` was not given (exit code 2).
    RunExistsError
        A run folder (or a link to one) is in place and ``force`` was not given (exit code 5).

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "taken").write_text("x") and None
    >>> check_output_dir(out / "taken" / "reports", out / "taken" / "reports" / "q3", force=False)
    Traceback (most recent call last):
    ...
    cxlib.errors.OutputError: Output folder ... cannot be created: .../taken is a file. Pass --output-dir with a folder (it is created when missing).
    >>> check_output_dir(out / "reports", out / "reports" / "q3", force=False)  # created later by the run
    """
    existing = next(p for p in [output_dir, *output_dir.parents] if _present(p))
    if not existing.is_dir():
        what = "is a file, not a folder" if existing == output_dir else f"cannot be created: {existing} is a file"
        raise OutputError(f"Output folder {output_dir} {what}. Pass --output-dir with a folder (it is created when "
                          "missing).")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".cx-write-test-", dir=existing))
    except OSError as exc:
        where = ("" if existing == output_dir else f" cannot be created: {existing}")
        raise OutputError(f"Output folder {output_dir}{where} is not writable ({exc.strerror}). Nothing was run. "
                          "Pass --output-dir with a folder this user can write in, or fix its permissions.") from None
    if not _present(final):
        return
    what = describe_run_path(final)
    if what.startswith("run folder"):
        if not force:
            link = what[len("run folder"):]  # " (a symbolic link to ...)" or nothing
            raise RunExistsError(f"Run folder {final}{link} already exists; rerun with --force to replace it (the "
                                 "existing report is left as it is).")
        return
    if not force:
        raise OutputError(f"{final} is a {what}, not a run folder; it stands where run {final.name!r} is published. "
                          "Move it away, or rerun with --force to replace it.")


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
    the new one is in place puts the old one back. A symbolic link in the run's place is replaced
    (what it points to is left as it is), and so is a file.

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
    if _present(final):
        if not force:
            raise RunExistsError(f"{final} already exists; rerun with --force to replace it.")
        old = final.with_name(old_name(final.name, os.getpid()))
        final.rename(old)  # a link is renamed itself, not its target
        try:
            staging.rename(final)
        except BaseException:
            old.rename(final)
            raise
        remove_entry(old)
    else:
        staging.rename(final)
