"""What the command line prints is text a terminal shows, never commands it obeys.

Records on chain are written by others: an attestation's name, a credit record's reason, a
transaction's arguments. A name holding ``ESC ] 0 ; … BEL`` retitles the reader's terminal, a
carriage return or a line break forges a line of a verdict, and a right-to-left override
shows ``evil`` as ``live`` (user walk: an attestor set such a name, and ``credchain verify``
printed it raw). ``safe_text`` writes each such character as its escape ``\\uXXXX``: C0
controls but the line break and the tab, DEL, C1 controls, and the bidirectional controls.
Inside a JSON string that escape means the same character, so JSON output stays valid and
says the same; in text it reads as what it is.

``guarded_output`` puts every write to ``sys.stdout`` and ``sys.stderr`` through it while a
command runs (``cli.py``): the verdicts, the records, the node's own log lines.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_UNSAFE = [c for c in range(0x20) if c not in (0x0A, 0x09)] + [0x7F, *range(0x80, 0xA0),
                                                             *_BIDI]
ESCAPES = {c: f"\\u{c:04x}" for c in _UNSAFE}


def safe_text(text: str) -> str:
    """``text`` with every character a terminal would act on written as its escape."""
    return text.translate(ESCAPES)


class SafeStream:
    """A text stream that writes through ``safe_text``; everything else is the wrapped
    stream's (its encoding, ``isatty``, ``fileno``, its binary ``buffer`` for bytes)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(safe_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_output() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` through ``SafeStream`` inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SafeStream(saved[0])
    sys.stderr = SafeStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
