"""Progress of a long run over block heights (replay, export), for the person waiting.

On a terminal one status line is redrawn in place (at most every ``REDRAW_S``); anywhere
else (a log, a pipe, CI) a line is written every ``every_blocks`` blocks. Either way it says
the height reached out of the last one, the rate in blocks per second over the run, and the
time left at that rate. It writes to the stream given (the commands use stderr, so the
report on stdout stays clean).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

REDRAW_S = 0.2
BAR_WIDTH = 24


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    def __init__(self, label: str, first: int, last: int, stream: TextIO,
                 every_blocks: int = 1000, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.first = first
        self.last = last
        self.stream = stream
        self.every_blocks = max(1, every_blocks)
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self.height = first - 1
        self.rows = 0
        self._drawn_at = -REDRAW_S
        self._line_at_height = first - 1

    @property
    def done_blocks(self) -> int:
        return self.height - self.first + 1

    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done_blocks / elapsed if elapsed > 0 else 0.0

    def text(self) -> str:
        # the share of the whole chain up to ``last`` (a resumed run starts part-way)
        share = f" ({100 * max(0, self.height) // self.last}%)" if self.last > 0 else ""
        rate = self.rate()
        left = self.last - self.height
        eta = _duration(left / rate) if rate > 0 and left > 0 else ("done" if left <= 0 else "?")
        rows = f", {self.rows:,} rows" if self.rows else ""
        return (f"{self.label}: height {self.height:,} of {self.last:,}{share}, "
                f"{rate:,.1f} blocks/s{rows}, ETA {eta}")

    def update(self, height: int, rows: int = 0) -> None:
        self.height = height
        self.rows += rows
        if self.tty:
            now = self.clock()
            if now - self._drawn_at >= REDRAW_S:
                self._drawn_at = now
                self._draw()
        elif height - self._line_at_height >= self.every_blocks:
            self._line_at_height = height
            self.stream.write(self.text() + "\n")
            self.stream.flush()

    def _draw(self) -> None:
        total = max(1, self.last - self.first + 1)
        filled = BAR_WIDTH * max(0, self.done_blocks) // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.text()}\x1b[K")
        self.stream.flush()

    def finish(self) -> None:
        """The last state, on its own line."""
        if self.tty:
            self._draw()
            self.stream.write("\n")
        elif self.height != self._line_at_height:
            self.stream.write(self.text() + "\n")
        self.stream.flush()
