"""The value log beside LevelDB (``ledger.valuelog``): large write-once values are appended
to segment files and LevelDB holds a pointer; every read through ``LevelKV`` resolves it,
checks it, and answers exactly what ``MemoryKV`` answers for the same writes."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import plyvel
import pytest

from ledger import schema, valuelog
from ledger.errors import CorruptStore
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.valuelog import MIN_LOGGED_BYTES, POINTER_BYTES, POINTER_TAG

BIG = bytes(range(256)) * 4  # 1 KiB
TAGGED = bytes([POINTER_TAG]) + b"short"  # a write-once value that starts with the tag


def _writes() -> list[tuple[bytes, bytes | None]]:
    rng = random.Random(7)
    ops: list[tuple[bytes, bytes | None]] = [
        (schema.block_key(1), BIG),
        (schema.receipts_key(1), b"\x91\x80"),  # small: stays in LevelDB
        (schema.state_node_key(bytes(32)), b"\x10" + BIG[:500]),
        (schema.state_value_key(b"\x01" * 32), TAGGED),
        (schema.state_value_key(b"\x02" * 32), b""),
        # not write-once: stays in LevelDB whatever its size or first byte
        (schema.state_head_key("demo/k"), bytes([POINTER_TAG]) + bytes(31)),
        (schema.consensus_key(b"votes"), BIG * 2),
    ]
    for i in range(40):
        size = rng.choice([10, MIN_LOGGED_BYTES - 1, MIN_LOGGED_BYTES, 3000])
        ops.append((schema.state_value_key(i.to_bytes(32, "big")), rng.randbytes(size)))
    ops.append((schema.block_key(1), BIG[::-1]))  # written again: the later value wins
    ops.append((schema.state_value_key((3).to_bytes(32, "big")), None))  # deleted
    return ops


def _apply(kv: KV, ops: list[tuple[bytes, bytes | None]]) -> None:
    batch = kv.batch()
    for key, value in ops:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    kv.write(batch)


def _everything(kv: KV) -> list[tuple[bytes, bytes]]:
    return [item for prefix in (b"b/", b"r/", b"sn/", b"sv/", b"sk/", b"c/")
            for item in kv.scan(prefix)]


def test_reads_answer_what_the_memory_store_answers(tmp_path: Path) -> None:
    ops = _writes()
    memory, level = MemoryKV(), LevelKV(str(tmp_path))
    _apply(memory, ops)
    _apply(level, ops)
    assert _everything(level) == _everything(memory)
    for key, _ in ops:
        assert level.get(key) == memory.get(key)
    start = schema.state_value_key((20).to_bytes(32, "big"))
    assert list(level.scan(b"sv/", start=start)) == list(memory.scan(b"sv/", start=start))
    assert list(level.scan(b"sv/", reverse=True)) == list(memory.scan(b"sv/", reverse=True))
    for broad in (b"", b"s"):  # scans wider than one prefix resolve pointers key by key
        assert list(level.scan(broad)) == list(memory.scan(broad))
    level.close()
    reopened = LevelKV(str(tmp_path), create=False)
    assert _everything(reopened) == _everything(memory)
    reopened.close()


def test_large_write_once_values_are_pointers_in_leveldb(tmp_path: Path) -> None:
    kv = LevelKV(str(tmp_path))
    _apply(kv, _writes())
    kv.close()
    db = plyvel.DB(str(tmp_path))
    try:
        for key in (schema.block_key(1), schema.state_node_key(bytes(32)),
                    schema.state_value_key(b"\x01" * 32)):
            raw = db.get(key)
            assert raw is not None and len(raw) == POINTER_BYTES and raw[0] == POINTER_TAG
        assert db.get(schema.receipts_key(1)) == b"\x91\x80"
        assert db.get(schema.consensus_key(b"votes")) == BIG * 2
        assert db.get(schema.state_head_key("demo/k")) == bytes([POINTER_TAG]) + bytes(31)
    finally:
        db.close()
    segments = sorted((tmp_path / "values").glob("*.vlog"))
    assert [s.name for s in segments] == ["000001.vlog"]
    assert BIG in segments[0].read_bytes() and BIG[::-1] in segments[0].read_bytes()


def _open_segments(path: Path) -> list[str]:
    """The value log files this process holds open."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own, closed by now
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
    return [n for n in names if n.startswith(str(path / "values"))]


def test_segments_rotate_stay_readable_and_few_stay_open(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(valuelog, "SEGMENT_BYTES", 4096)
    kv = LevelKV(str(tmp_path))
    values = {schema.block_key(h): os.urandom(1500) for h in range(12)}
    for key, value in values.items():
        _apply(kv, [(key, value)])
    assert len(list((tmp_path / "values").glob("*.vlog"))) >= 4
    assert all(kv.get(key) == value for key, value in values.items())
    kv.close()
    monkeypatch.setattr(valuelog, "OPEN_SEGMENTS", 2)
    kv = LevelKV(str(tmp_path))  # appends go on in the last segment after a reopen
    _apply(kv, [(schema.block_key(99), BIG)])
    assert kv.get(schema.block_key(99)) == BIG
    for _ in range(2):  # every segment read again, through at most 2 open files
        assert all(kv.get(key) == value for key, value in values.items())
        assert len(_open_segments(tmp_path)) <= 3  # 2 read, 1 appended to
    kv.close()


def test_bytes_a_crash_left_unreferenced_are_harmless(tmp_path: Path) -> None:
    """A crash after the log's append and before LevelDB's write leaves a tail nothing
    points to (here, also a torn one); the next writes go after it and read back."""
    kv = LevelKV(str(tmp_path))
    _apply(kv, [(schema.block_key(1), BIG)])
    kv.close()
    segment = tmp_path / "values" / "000001.vlog"
    with open(segment, "ab") as f:
        f.write(b"\xffpartial value of a block that was never written to LevelDB")
    kv = LevelKV(str(tmp_path))
    _apply(kv, [(schema.block_key(2), BIG[::-1])])
    assert kv.get(schema.block_key(1)) == BIG and kv.get(schema.block_key(2)) == BIG[::-1]
    kv.close()


def test_an_append_that_failed_part_way_leaves_the_next_ones_right(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails after some bytes (a full disk) fails the batch, writes nothing to
    LevelDB, and the next batch's pointers still name its own bytes."""
    kv = LevelKV(str(tmp_path))
    _apply(kv, [(schema.block_key(1), BIG)])
    real_write = os.write

    def half_then_full(fd: int, data: memoryview | bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        _apply(kv, [(schema.block_key(2), os.urandom(1000))])
    monkeypatch.undo()
    assert kv.get(schema.block_key(2)) is None
    third = os.urandom(1000)
    _apply(kv, [(schema.block_key(3), third)])
    assert kv.get(schema.block_key(1)) == BIG and kv.get(schema.block_key(3)) == third
    kv.close()


def test_a_store_written_before_the_log_reads_unchanged(tmp_path: Path) -> None:
    """Large values a store holds inline (written before the value log) read as before,
    and new ones go to the log beside them."""
    db = plyvel.DB(str(tmp_path), create_if_missing=True)
    db.put(schema.block_key(1), BIG)
    db.close()
    kv = LevelKV(str(tmp_path), create=False)
    assert kv.get(schema.block_key(1)) == BIG
    assert not (tmp_path / "values").exists()  # nothing appended yet
    _apply(kv, [(schema.block_key(2), BIG[::-1])])
    assert [v for _, v in kv.scan(b"b/")] == [BIG, BIG[::-1]]
    kv.close()


def _damage(tmp_path: Path, how: str) -> None:
    segment = tmp_path / "values" / "000001.vlog"
    if how == "flipped":
        data = bytearray(segment.read_bytes())
        data[len(data) // 2] ^= 0x01
        segment.write_bytes(bytes(data))
    elif how == "truncated":
        os.truncate(segment, segment.stat().st_size - 10)
    else:
        segment.unlink()


@pytest.mark.parametrize("how", ["flipped", "truncated", "missing"])
def test_a_damaged_log_is_a_corrupt_store(tmp_path: Path, how: str) -> None:
    kv = LevelKV(str(tmp_path))
    _apply(kv, [(schema.block_key(1), BIG)])
    kv.close()
    _damage(tmp_path, how)
    kv = LevelKV(str(tmp_path))
    with pytest.raises(CorruptStore):
        kv.get(schema.block_key(1))
    with pytest.raises(CorruptStore):
        list(kv.scan(b"b/"))
    kv.close()


def test_without_checksums_a_flipped_byte_is_left_to_the_layers_above(tmp_path: Path) -> None:
    """``checksums=False`` skips the CRC, as it skips LevelDB's: the flipped bytes come
    back and the hash checks above catch them (``tests/test_store_integrity.py``)."""
    kv = LevelKV(str(tmp_path))
    _apply(kv, [(schema.block_key(1), BIG)])
    kv.close()
    _damage(tmp_path, "flipped")
    kv = LevelKV(str(tmp_path), checksums=False)
    value = kv.get(schema.block_key(1))
    assert value is not None and value != BIG and len(value) == len(BIG)
    kv.close()
