"""The project's Jupyter kernel: one kernelspec, ``cx-workbook``, that runs this very Python."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

KERNEL_NAME = "cx-workbook"
KERNEL_DISPLAY_NAME = "CX Workbook (Python)"


def ensure_kernel() -> str:
    """Install (once) the kernelspec ``cx-workbook`` for this interpreter; return its name.

    Reinstalled when it points at another Python (a venv moved or recreated).

    Examples
    --------
    >>> ensure_kernel()
    'cx-workbook'
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(KERNEL_NAME)
        if Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix)
    return KERNEL_NAME


def logged_kernel_manager(log_path: Path, env: dict[str, str] | None = None,
                          started: list[Any] | None = None, cwd: Path | None = None) -> type:
    """A kernel manager class whose kernels write their own stdout and stderr to ``log_path``.

    ``env`` is added to the kernel's environment (the section's name, where DuckDB spills); each
    manager that starts a kernel is appended to ``started``, so that the runner can stop every
    kernel of a run at once (an interruption, or another section's failure). ``cwd`` is the
    kernel's working directory: given to the kernel itself, because papermill's own ``cwd``
    changes the whole process's directory, which concurrent sections would race on.

    The kernel process's streams would otherwise go to ``cx``'s stderr: ZMQ's warning about TCP
    transport on every start, and tracebacks of a kernel torn down mid-cell on an interruption.
    Cell outputs are unaffected (they travel over the kernel protocol).

    Examples
    --------
    >>> from jupyter_client.manager import AsyncKernelManager
    >>> issubclass(logged_kernel_manager(Path("kernel.log")), AsyncKernelManager)
    True
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            if env:
                kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            if cwd is not None:
                kw["cwd"] = str(cwd)
            with open(log_path, "ab") as log:  # the kernel keeps its own copy of the descriptor
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await self._async_start_kernel(**kw)
            if started is not None:
                started.append(self)

    return LoggedKernelManager


# Run in a kept kernel before its next section: a fresh namespace and execution count (error messages
# name the cell by its count), no figure left open, the new section's name for its warnings.
_NEXT_SECTION = """get_ipython().reset(new_session=True)
import gc as _gc, os as _os, sys as _sys
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_os.environ[{env!r}] = {section!r}
_gc.collect()
del _gc, _os, _sys
"""


def next_section(km: Any, env: str, section: str, timeout: float = 120) -> None:
    """Ready a kernel that ran a section for the next one (it keeps its imports, nothing else).

    Clears the user namespace and resets the execution count, closes open figures, sets the
    environment variable ``env`` (the section's name) and collects garbage, so that engine
    connections of the previous section are closed. Gives up as soon as the kernel's process is
    gone (the run was interrupted, or another section failed and the runner killed the kernels),
    not after ``timeout``.

    Raises
    ------
    RuntimeError
        When the kernel died, does not answer within ``timeout`` seconds, or the reset fails.

    Examples
    --------
    >>> next_section(km, "CX_SECTION", "02_retention")   # doctest: +SKIP
    """
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    deadline = time.monotonic() + timeout
    try:
        # sent at once: the kernel answers when ready (ZMQ queues the request until it connects)
        msg_id = kc.execute(_NEXT_SECTION.format(env=env, section=section), store_history=False)
        while True:
            try:
                reply = kc.get_shell_msg(timeout=0.5)
            except queue.Empty:
                if not kernel_alive(km):
                    raise RuntimeError(f"the kernel died before {section} could start") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the kernel did not answer within {timeout:.0f} s before {section}") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
    finally:
        kc.stop_channels()
    if reply["content"].get("status") != "ok":
        raise RuntimeError(f"the kernel could not be reset for {section}: {reply['content'].get('evalue', '')}")


def kernel_alive(km: Any) -> bool:
    """Whether the process of ``km``'s kernel is running (False before it started and after it exited).

    Examples
    --------
    >>> from jupyter_client.manager import AsyncKernelManager
    >>> kernel_alive(AsyncKernelManager())
    False
    """
    process = getattr(getattr(km, "provisioner", None), "process", None)
    return process is not None and process.poll() is None


def kill_kernels(managers: list[Any]) -> None:
    """Kill the kernel processes of ``managers`` (their notebooks then fail with a dead kernel).

    Returns once each process has exited, so that what a kernel held (a DuckDB database file's
    lock, open files) is released when the run goes on.

    Examples
    --------
    >>> kill_kernels([])
    """
    for km in list(managers):
        if kernel_alive(km):
            process = km.provisioner.process
            try:
                process.kill()
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):  # exited meanwhile, or not reaped yet
                pass


def log_tail(log_path: Path, lines: int = 3) -> str:
    """The last lines a kernel wrote to its log (ZMQ's transport notice left out), joined by ' | '.

    Examples
    --------
    >>> import tempfile
    >>> log = Path(tempfile.mkdtemp()) / "kernel.log"
    >>> _ = log.write_text("WARNING: ... without encryption\\nFatal Python error: Segmentation fault\\n")
    >>> log_tail(log)
    'Fatal Python error: Segmentation fault'
    """
    if not log_path.exists():
        return ""
    keep = [ln.strip() for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if ln.strip() and "without encryption" not in ln]
    return " | ".join(ln[:200] for ln in keep[-lines:])
