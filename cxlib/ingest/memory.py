"""The machine's memory and DuckDB's ``memory_limit``: a budget for the run, shared among its engines.

``cx run`` executes several sections at once, each with its own DuckDB connection: it tells each
kernel how many share the machine (``$CX_ENGINE_SHARE``), so that together they stay within the
run's budget, ``engine.memory_limit`` or by default 60% of the machine's memory. A container's
(cgroup) limit counts when it is smaller than the physical memory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MEMORY_FRACTION = 0.6
# Set by ``cx run`` for its kernels: how many engine connections run at once (parallel sections).
MEMORY_SHARE_ENV = "CX_ENGINE_SHARE"
MIN_LIMIT_MIB = 256
# DuckDB's units: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024; a bare letter as the JVM's.
_UNIT_BYTES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
               "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def size_bytes(text: str) -> int:
    """Bytes of a memory size as DuckDB writes it ("8GB", "512 MiB", "1.5GB"; "4g" as the JVM).

    Raises
    ------
    ValueError
        When ``text`` is not a size; the message lists the units.

    Examples
    --------
    >>> size_bytes("8GB"), size_bytes("512 MiB"), size_bytes("1.5g")
    (8000000000, 536870912, 1610612736)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = _UNIT_BYTES.get(m.group(2).lower()) if m else None
    if unit is None:
        raise ValueError(f"{text!r} is not a memory size such as '8GB' or '512MiB' "
                         "(units: KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return int(float(m.group(1)) * unit)


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
