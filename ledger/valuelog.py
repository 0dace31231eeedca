"""An append-only log of the large values written once, beside LevelDB (as WiscKey).

Most bytes a block writes are never changed or deleted again: the block itself (``b/``), its
receipts (``r/``), and the content-addressed state records (``sn/`` chunks, ``sv/`` values),
``ledger.schema.WRITE_ONCE``. In LevelDB every such byte is written to its log, then to a
level-0 table, then again at every level a compaction moves it through, on LevelDB's own
thread: at 1,000 tx/s of the realistic mix that thread used a quarter of a validator's CPU
(``benchmarks/RESULTS.md``). Here those values are appended once to a segment file and
LevelDB holds a short pointer in their place, so compactions move 21 bytes instead of
hundreds or thousands.

Layout: ``<db>/values/000001.vlog``, ``000002.vlog``... A segment is raw value bytes one
after another; a new one starts when the current one passes ``SEGMENT_BYTES``. The pointer
LevelDB holds is ``POINTER_TAG`` followed by ``>IQII``: segment number, offset, length and
the CRC-32 of the value. 0xc1 is a byte canonical encoding never starts with and state chunk
records start with 0x10 or 0x11; a write-once value that does start with it goes to the log
whatever its length, so a value under a write-once prefix that starts with the tag is
always a pointer.

Durability order (``LevelKV.write``): the batch's values are appended and ``fdatasync``-ed
first, then the LevelDB batch with the pointers is written. A crash between the two leaves
bytes at the end of a segment that nothing points to, which cost space and nothing else:
the next write appends after them. Nothing is ever deleted from a segment: write-once
values are never deleted from the store (``shell.retention`` deletes nothing).

A read checks the value's CRC (with the store's ``checksums``, as LevelDB's own): a short
read, a missing segment or a CRC that does not match is ``CorruptStore``, never data.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib

from ledger.errors import CorruptStore

POINTER_TAG = 0xC1
_POINTER = struct.Struct(">BIQII")
POINTER_BYTES = _POINTER.size
# Values shorter than this stay in LevelDB: a pointer is 21 bytes, and a short value costs
# a compaction little while its read through the log costs a system call.
MIN_LOGGED_BYTES = 256
SEGMENT_BYTES = 256 << 20
# Segments kept open for reading (least recently read closed first): a long-lived archive
# node has thousands of segments, and a process has 1,024 file descriptors by default.
OPEN_SEGMENTS = 64
_SUFFIX = ".vlog"


class ValueLog:
    """The segments of one store. Appends and reads may come from any thread: both hold
    the lock (in a node both run on its event loop's thread, so it is never contended)."""

    def __init__(self, directory: str, checksums: bool = True) -> None:
        self._dir = directory
        self._checksums = checksums
        self._read_fds: dict[int, int] = {}
        self._lock = threading.Lock()
        self._segment = 0  # the segment appended to; 0: none opened yet
        self._fd = -1

    def _path(self, segment: int) -> str:
        return os.path.join(self._dir, f"{segment:06d}{_SUFFIX}")

    def _existing(self) -> list[int]:
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            return []
        return sorted(int(n[: -len(_SUFFIX)]) for n in names
                      if n.endswith(_SUFFIX) and n[: -len(_SUFFIX)].isdigit())

    def _open_for_append(self, segment: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        os.makedirs(self._dir, exist_ok=True)
        self._fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._segment = segment

    def append(self, values: list[bytes]) -> list[bytes]:
        """Append ``values``, make them durable, and return their pointers in order."""
        with self._lock:
            if self._fd < 0:
                segments = self._existing()
                self._open_for_append(segments[-1] if segments else 1)
            # The offset is the file's end, never a count kept here: an append that failed
            # part-way (a full disk) left bytes there, and O_APPEND writes after them.
            offset = os.fstat(self._fd).st_size
            if offset and offset + sum(map(len, values)) > SEGMENT_BYTES:
                self._open_for_append(self._segment + 1)
                offset = os.fstat(self._fd).st_size
            segment = self._segment
            pointers = []
            pack, crc32 = _POINTER.pack, zlib.crc32
            for v in values:
                pointers.append(pack(POINTER_TAG, segment, offset, len(v), crc32(v)))
                offset += len(v)
            self._write(b"".join(values))
            self._sync()
            return pointers

    def _write(self, data: bytes) -> None:
        """Write ``data`` whole at the segment's end. A function of its own, as ``_sync``: in
        the cluster benchmark a block's ~650 kB took ~1 ms here of which ~0.18 ms was CPU, the
        rest waiting in the kernel, and the profile sets that wait apart
        (``benchmarks/nodeprofile.py``)."""
        view, written = memoryview(data), 0
        while written < len(data):
            written += os.write(self._fd, view[written:])

    def _sync(self) -> None:
        """Wait for the appended bytes to be on disk (a function of its own so that a
        profile can tell this wait from the CPU of an append: ``benchmarks/nodeprofile.py``)."""
        os.fdatasync(self._fd)

    def _pread(self, segment: int, length: int, offset: int) -> bytes:
        """Read under the lock, so that no file is closed (below, to keep at most
        ``OPEN_SEGMENTS`` open) while another thread reads it."""
        with self._lock:
            fds = self._read_fds
            fd = fds.pop(segment, None)
            if fd is None:
                try:
                    fd = os.open(self._path(segment), os.O_RDONLY)
                except FileNotFoundError:
                    raise CorruptStore(
                        f"value log segment {self._path(segment)} is missing") from None
                if len(fds) >= OPEN_SEGMENTS:  # the least recently read one
                    os.close(fds.pop(next(iter(fds))))
            fds[segment] = fd  # (re)inserted last: the dict is in order of use
            return os.pread(fd, length, offset)

    def read(self, pointer: bytes) -> bytes:
        """The value ``pointer`` names; ``CorruptStore`` if it is not there whole."""
        if len(pointer) != POINTER_BYTES:
            raise CorruptStore(f"a value log pointer of {len(pointer)} bytes, not {POINTER_BYTES}")
        _, segment, offset, length, crc = _POINTER.unpack(pointer)
        value = self._pread(segment, length, offset)
        if len(value) != length:
            raise CorruptStore(
                f"value log {self._path(segment)} ends before {length} bytes at {offset}")
        if self._checksums and zlib.crc32(value) != crc:
            raise CorruptStore(
                f"value log {self._path(segment)}: {length} bytes at {offset} fail their CRC")
        return value

    def close(self) -> None:
        with self._lock:
            for fd in self._read_fds.values():
                os.close(fd)
            self._read_fds.clear()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
