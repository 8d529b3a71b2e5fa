"""Progress of a ``cx run`` on stderr: one plain line per stage start and end, with elapsed time,
and a tqdm bar over the sections only when stderr is a terminal (cron logs get plain lines).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


class Progress:
    """Stage lines with the time since the run started; an optional bar over ``total`` sections.

    Thread-safe: concurrent sections report through one instance.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress(total=2, stream=out)
    >>> p.line("[1/2] 00_data_quality ...")
    >>> p.advance()
    >>> p.close()
    >>> out.getvalue().split("]", 1)[1]
    ' [1/2] 00_data_quality ...\\n'
    """

    def __init__(self, total: int = 0, stream: TextIO | None = None, bar: bool | None = None):
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        is_tty = getattr(self.stream, "isatty", lambda: False)()
        self._bar: Any = None
        if (is_tty if bar is None else bar) and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=self.stream, unit="section", leave=False, dynamic_ncols=True)

    def line(self, message: str) -> None:
        """One line, prefixed with the elapsed time (``[  12.3 s]``)."""
        text = f"[{time.perf_counter() - self.start:6.1f} s] {message}"
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def advance(self) -> None:
        """One section finished (moves the bar, when there is one)."""
        with self._lock:
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        """Remove the bar."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
