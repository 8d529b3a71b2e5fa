"""The machine's memory and DuckDB's ``memory_limit``: a budget for the run, shared among its engines.

``cx run`` executes several sections at once, each with its own DuckDB connection: it tells each
kernel how many share the machine (``$CX_ENGINE_SHARE``), so that together they stay within the
run's budget, ``engine.memory_limit`` or by default 60% of the machine's memory. A container's
(cgroup) limit counts when it is smaller than the physical memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from cxlib.params import size_bytes

MEMORY_FRACTION = 0.6
# Set by ``cx run`` for its kernels: how many engine connections run at once (parallel sections).
MEMORY_SHARE_ENV = "CX_ENGINE_SHARE"
MIN_LIMIT_MIB = 256


def machine_memory_bytes() -> int | None:
    """Physical memory, or the container's (cgroup) limit when smaller; None when unknown.

    Examples
    --------
    >>> machine_memory_bytes() > 0
    True
    """
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: psutil when installed
        try:
            import psutil

            total = int(psutil.virtual_memory().total)
        except ImportError:
            pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def engine_share() -> int:
    """How many engine connections of a run are open at once (``$CX_ENGINE_SHARE``, else 1).

    Examples
    --------
    >>> engine_share() >= 1
    True
    """
    env = os.environ.get(MEMORY_SHARE_ENV, "")
    return int(env) if env.isdigit() and int(env) > 0 else 1


def connection_memory_limit(budget: str | None = None, share: int | None = None) -> str:
    """One DuckDB connection's ``memory_limit``: the run's ``budget`` split evenly among ``share`` connections.

    The budget is ``engine.memory_limit`` when params set one, else 60% of the machine's memory
    (4GB when unknown); ``share`` defaults to :func:`engine_share`. Two sections that run at once
    with ``memory_limit: 14GB`` get 7 GB each, so that together they stay within what the params
    file says; each gets at least 256 MiB.

    Examples
    --------
    >>> connection_memory_limit("14GB", 2)
    '6675MiB'
    >>> a, b = connection_memory_limit(None, 1), connection_memory_limit(None, 2)
    >>> int(a[:-3]) // 2 - int(b[:-3]) in (0, 1)
    True
    """
    if budget is not None:
        total = size_bytes(budget)
    else:
        machine = machine_memory_bytes()
        total = int(machine * MEMORY_FRACTION) if machine else size_bytes("4GB")
    share = engine_share() if share is None else share
    return f"{max(MIN_LIMIT_MIB, (total // share) >> 20)}MiB"
