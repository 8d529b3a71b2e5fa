"""The machine's memory and DuckDB's default ``memory_limit`` (60% of it, shared among a run's engines).

``cx run`` executes several sections at once, each with its own DuckDB connection: it tells each
kernel how many share the machine (``$CX_ENGINE_SHARE``), so that together they stay within the
fraction. A container's (cgroup) limit counts when it is smaller than the physical memory.
"""

from __future__ import annotations

import os
from pathlib import Path

MEMORY_FRACTION = 0.6
# Set by ``cx run`` for its kernels: how many engine connections run at once (parallel sections).
MEMORY_SHARE_ENV = "CX_ENGINE_SHARE"


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


def default_memory_limit(share: int | None = None) -> str:
    """DuckDB's ``memory_limit`` when params set none: 60% of the machine's memory, split evenly
    among ``share`` connections (default: ``$CX_ENGINE_SHARE``, else 1); 4GB when unknown.

    Examples
    --------
    >>> a, b = default_memory_limit(1), default_memory_limit(2)
    >>> int(a[:-2]) // 2 - int(b[:-2]) in (0, 1)
    True
    """
    total = machine_memory_bytes()
    if not total:
        return "4GB"
    if share is None:
        env = os.environ.get(MEMORY_SHARE_ENV, "")
        share = int(env) if env.isdigit() and int(env) > 0 else 1
    return f"{max(256, int(total * MEMORY_FRACTION / share) >> 20)}MB"
