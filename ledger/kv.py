"""The key-value storage interface, with a LevelDB backend and an in-memory one.

Everything durable goes through ``KV``: point reads, ordered prefix scans, and atomic write
batches. One block is one ``Batch`` written with ``sync=True`` (a single fsync), so a crash
leaves either all of a block or none of it. The in-memory backend has the same semantics
and is what the simulator and most unit tests use. Keys are built only in ``ledger.schema``.

LevelDB's own checksums are on: the database is opened with ``paranoid_checks`` (a damaged
log, manifest or table found at open or in compaction is an error, not something skipped)
and every read verifies the CRC of the blocks it loads from disk (``verify_checksums``; a
cached block was verified when it was loaded). Any corruption LevelDB reports is raised as
``CorruptStore``, never returned as data. Records whose bytes are damaged in a way that
keeps the CRC (or in memory) are caught above, by the hash checks of every loader.

``LevelKV`` keeps the large values of the write-once prefixes (blocks, receipts, state
records) in an append-only value log beside LevelDB (``ledger.valuelog``) and a pointer in
LevelDB: ``get`` and ``scan`` resolve it, so callers see the same values as ``MemoryKV``.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from typing import Protocol

import plyvel

from ledger import schema
from ledger.errors import CorruptStore
from ledger.valuelog import MIN_LOGGED_BYTES, POINTER_TAG, ValueLog

_TAG = bytes([POINTER_TAG])


class Batch(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def scan(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]: ...
    def batch(self) -> WriteBatch: ...
    def write(self, batch: WriteBatch, sync: bool = True) -> None: ...
    def close(self) -> None: ...


class WriteBatch:
    """Puts and deletes collected in order; nothing is visible until ``KV.write``."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[tuple[bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.ops.append((key, value))

    def delete(self, key: bytes) -> None:
        self.ops.append((key, None))

    def __len__(self) -> int:
        return len(self.ops)


class MemoryKV:
    """An in-memory KV with LevelDB's semantics: sorted keys, atomic batches."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._sorted: list[bytes] | None = []
        self.writes = 0  # batches written: lets tests count fsyncs

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def _keys(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self._data)
        return self._sorted

    def scan(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        keys = self._keys()
        lo = bisect.bisect_left(keys, max(prefix, start) if start else prefix)
        selected = []
        for k in keys[lo:]:
            if not k.startswith(prefix):
                break
            selected.append(k)
        if reverse:
            selected.reverse()
        for k in selected:
            v = self._data.get(k)
            if v is not None:
                yield k, v

    def batch(self) -> WriteBatch:
        return WriteBatch()

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        for key, value in batch.ops:
            if value is None:
                if self._data.pop(key, None) is not None:
                    self._sorted = None
            else:
                if key not in self._data:
                    self._sorted = None
                self._data[key] = value
        self.writes += 1

    def close(self) -> None:
        pass


class LevelKV:
    """LevelDB through plyvel. A batch is written atomically; ``sync`` fsyncs the log.

    ``checksums``: LevelDB's checks and the value log's CRCs on (see the module docstring);
    off only in tests that show what the layers above catch on their own.
    """

    def __init__(self, path: str, create: bool = True, checksums: bool = True) -> None:
        os.makedirs(path, exist_ok=True)
        self._checksums = checksums
        try:
            # No compression: most bytes written are hashes (state nodes, ids), which do
            # not compress, so Snappy only costs CPU on every write and compaction.
            # A 64 MiB write buffer (was 32): LevelDB's compactions (on its own thread, more
            # than half as much CPU as the node's) read and wrote 19 % fewer bytes and took
            # 9-22 % less CPU per tx in the steady state (benchmarks/bench_kvreplay.py,
            # 1,200 blocks of the realistic mix), for +2-6 µs per tx in the write itself
            # and up to 64 MiB more memory (two buffers: one filling, one being written
            # out); reads unchanged. Tried, not kept: 128 MiB (compactions cheaper again in
            # one run, but the write itself +9 µs per tx and up to +192 MiB of memory),
            # larger table files (max_file_size 8 MiB: more bytes compacted), 16 KiB blocks
            # (compactions ~15 % cheaper, point reads ~3 µs slower). With the value log
            # (LevelDB then gets ~1 kB a transaction), 16 MiB was tried again and not kept:
            # replaying 1,600 blocks it cost the same CPU in all (the writing thread 23 µs
            # per tx instead of 33, LevelDB's own 19 instead of 12) for 150 MiB less peak
            # RSS, but in the cluster (1,000 tx/s, 15 s windows, alternated) CPU per tx was
            # 1.03x and p99 442-507 ms against 235-275.
            self._db = plyvel.DB(
                path,
                create_if_missing=create,
                paranoid_checks=checksums,
                lru_cache_size=64 << 20,
                write_buffer_size=64 << 20,
                bloom_filter_bits=10,
                compression=None,
            )
        except plyvel.CorruptionError as exc:
            raise CorruptStore(f"LevelDB store {path} is corrupt at open: {exc}") from exc
        self._values = ValueLog(os.path.join(path, "values"), checksums)
        self.writes = 0

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._db.get(key, verify_checksums=self._checksums)
        except plyvel.CorruptionError as exc:
            raise CorruptStore(f"LevelDB read of {key[:40]!r} failed its checksum: {exc}") from exc
        if value and value[0] == POINTER_TAG and schema.is_write_once(key):
            return self._values.read(value)
        return value

    def scan(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        try:
            yield from self._scan(prefix, start, reverse)
        except plyvel.CorruptionError as exc:
            raise CorruptStore(f"LevelDB scan of {prefix!r} failed its checksum: {exc}") from exc

    def _scan(
        self, prefix: bytes, start: bytes | None, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        checked = self._checksums
        if start is not None and not reverse:
            it = self._db.iterator(start=max(prefix, start), prefix=None, verify_checksums=checked)
        else:
            it = self._db.iterator(prefix=prefix, reverse=reverse, verify_checksums=checked)
        # Pointers live only under the write-once prefixes: every key of this scan is under
        # one, some may be (a scan wider than one prefix), or none is.
        whole = schema.is_write_once(prefix)
        some = whole or any(p.startswith(prefix) for p in schema.WRITE_ONCE)
        read = self._values.read
        for k, v in it:
            if not k.startswith(prefix):
                break
            if some and v and v[0] == POINTER_TAG and (whole or schema.is_write_once(k)):
                v = read(v)
            yield k, v

    def batch(self) -> WriteBatch:
        return WriteBatch()

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        """The value log first (appended and made durable), then LevelDB: a crash between
        the two leaves only log bytes nothing points to (``ledger.valuelog``)."""
        ops = batch.ops
        logged: list[int] = []
        values: list[bytes] = []
        write_once = schema.WRITE_ONCE  # (schema.is_write_once, inlined: ~11 puts a tx)
        for i, (key, value) in enumerate(ops):
            # A write-once value that starts with the tag goes to the log whatever its
            # length, so that under those prefixes the tag always means a pointer.
            if (value is not None and (len(value) >= MIN_LOGGED_BYTES or value[:1] == _TAG)
                    and key.startswith(write_once)):
                logged.append(i)
                values.append(value)
        if logged:
            ops = list(ops)
            for i, pointer in zip(logged, self._values.append(values), strict=True):
                ops[i] = (ops[i][0], pointer)
        with self._db.write_batch(transaction=True, sync=sync) as wb:
            put, delete = wb.put, wb.delete
            for key, value in ops:
                if value is None:
                    delete(key)
                else:
                    put(key, value)
        self.writes += 1

    def close(self) -> None:
        self._db.close()
        self._values.close()


def open_failure(path: object, exc: BaseException) -> str:
    """Why LevelDB would not open the store at ``path``, for a person: a held lock (its node
    is running) said plainly, an OS error by its text ("Not a directory", not its errno),
    else plyvel's first line as text (it reports bytes)."""
    if isinstance(exc, OSError) and exc.strerror:  # args[0] is the errno ("...: 20")
        return f"cannot open the store in {path}: {exc.strerror}"
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).splitlines()[0] if str(text) else type(exc).__name__
    if re.search(r"permission denied|read-only file system", first, re.IGNORECASE):
        # a LOCK file not writable is no held lock (user walks): LevelDB writes as it opens
        return (f"cannot open the store in {path}: {first} (LevelDB writes in the store as "
                "it opens it: its user must be able to write the directory and every file in "
                "it; to read a read-only copy, copy it to a writable place first)")
    if re.search(r"\block\b", first, re.IGNORECASE):  # (not "bad block")
        return (f"the store in {path} is in use by another process (its LevelDB lock is held: "
                "is its node running? stop it, or read a copy)")
    return f"cannot open the store in {path}: {first}"
