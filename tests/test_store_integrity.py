"""Integrity on read (issue 7 item 7), written as the attack: bytes flipped on disk.

A LevelDB store is built and closed; then a byte of one record is flipped in its table
file (the value of ``param/bid_min_count`` or its head index entry) or in its value log (a
state-tree chunk, a block: large write-once values, ``ledger.valuelog``),
or a record is rewritten through LevelDB itself so that its checksum holds. Reopened and
read, the store must answer with ``CorruptStore`` (or refuse to open), never with a wrong
value: first through LevelDB's checksums, then, with those off, through the checks of the
store and the state tree themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest

from ledger import encoding, schema
from ledger.crypto import ED25519_SHA256
from ledger.errors import CorruptStore
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.smt import upgrade_head_index
from ledger.smt_proof import value_hash
from ledger.store import BlockStore
from tests.chainkit import Chain

SUITE = ED25519_SHA256
PARAM = "param/bid_min_count"
THREE = encoding.encode(3)


def _build(path: Path) -> tuple[bytes, bytes]:
    """A closed LevelDB store holding PARAM = 3 among 201 keys; (state root, block 2 hash)."""
    kv = LevelKV(str(path))
    chain = Chain.new(SUITE, kv=kv)
    chain.extend({PARAM: encoding.encode(3), **{f"demo/{i}": encoding.encode(i)
                                                for i in range(200)}})
    block = chain.extend({"demo/0": encoding.encode("changed")})
    root = chain.store.tree.root
    kv._db.compact_range()  # everything into table files, where the attack flips bytes
    kv.close()
    return root, block.header.hash(SUITE)


def _tables(path: Path) -> list[Path]:
    """LevelDB's table files and the value log's segments."""
    return sorted(path.glob("*.ldb")) + sorted(path.glob("*.sst")) + sorted(
        path.glob("values/*.vlog"))


def _stored(path: Path, key: bytes) -> bytes:
    kv = LevelKV(str(path))
    try:
        value = kv.get(key)
    finally:
        kv.close()
    assert value is not None
    return value


def _flip(path: Path, marker: bytes, skip: int, new: int | None = None) -> None:
    """Flip (or set to ``new``) the byte ``skip`` bytes after ``marker`` in the table file
    or value log segment that holds it."""
    for table in _tables(path):
        data = bytearray(table.read_bytes())
        at = data.find(marker)
        if at >= 0:
            where = at + len(marker) + skip
            data[where] = data[where] ^ 0x01 if new is None else new
            table.write_bytes(bytes(data))
            return
    raise AssertionError(f"{marker!r} is in no table file")


# A LevelDB table entry is: lengths, the key's unshared bytes, its 8-byte sequence and
# type, then the value: the value of a key ending in ``marker`` starts 8 bytes after it.
_VALUE_AFTER_KEY = 8


def _flip_value_of_three(path: Path) -> None:
    """Set the stored value ``CE(3)`` (under ``sv/`` and its hash) to ``CE(1)``: the one
    place in the table files where the end of that hash, as a key, is followed by the
    entry's sequence and the 1-byte value."""
    entry = re.compile(re.escape(value_hash(SUITE, THREE)[8:]) + b".{8}" + re.escape(THREE),
                       re.DOTALL)
    hits = [(table, m.end() - 1) for table in _tables(path)
            for m in entry.finditer(table.read_bytes())]
    assert len(hits) == 1, hits
    table, where = hits[0]
    data = bytearray(table.read_bytes())
    data[where] = encoding.encode(1)[0]
    table.write_bytes(bytes(data))


def test_the_unchecked_store_would_have_answered_1(tmp_path: Path) -> None:
    """The attack is real: without any check the flipped value reads as 1."""
    _build(tmp_path)
    _flip_value_of_three(tmp_path)
    db = plyvel.DB(str(tmp_path))
    try:
        digest = db.get(schema.state_head_key(PARAM))
        assert digest == value_hash(SUITE, THREE)
        assert db.get(schema.state_value_key(digest)) == encoding.encode(1)
    finally:
        db.close()


def _flip_index_entry(path: Path) -> None:
    _flip(path, b"bid_min_count", _VALUE_AFTER_KEY)  # a byte of the value hash it holds


@pytest.mark.parametrize("flip", [_flip_value_of_three, _flip_index_entry],
                         ids=["value", "index-entry"])
@pytest.mark.parametrize("checksums", [True, False], ids=["leveldb-crc", "store-check"])
def test_a_flipped_head_value_is_a_corrupt_store(tmp_path: Path, checksums: bool,
                                                 flip: Callable[[Path], None]) -> None:
    """The value (caught by its hash) or its head index entry (not the tree's hash)."""
    _build(tmp_path)
    flip(tmp_path)
    with pytest.raises(CorruptStore):
        kv = LevelKV(str(tmp_path), checksums=checksums)
        store = BlockStore(kv, SUITE)
        value = store.state_value(PARAM)
        raise AssertionError(f"read {value!r} from a corrupt store")


@pytest.mark.parametrize("checksums", [True, False], ids=["leveldb-crc", "tree-check"])
def test_a_flipped_tree_chunk_is_a_corrupt_store(tmp_path: Path, checksums: bool) -> None:
    root, _ = _build(tmp_path)
    record = _stored(tmp_path, schema.state_node_key(root))
    assert len(record) > 200
    _flip(tmp_path, record[:150], 0)  # a byte inside the root's chunk, below its top node
    with pytest.raises(CorruptStore):
        kv = LevelKV(str(tmp_path), checksums=checksums)
        store = BlockStore(kv, SUITE)
        for key in [PARAM, *(f"demo/{i}" for i in range(200))]:
            store.tree.prove(key)
            store.state_value(key)


@pytest.mark.parametrize("checksums", [True, False], ids=["leveldb-crc", "hash-check"])
def test_a_flipped_block_is_a_corrupt_store(tmp_path: Path, checksums: bool) -> None:
    _build(tmp_path)
    record = _stored(tmp_path, schema.block_key(2))
    _flip(tmp_path, record[:len(record) // 2], 0)  # a byte in the middle of block 2
    with pytest.raises(CorruptStore):
        kv = LevelKV(str(tmp_path), checksums=checksums)
        store = BlockStore(kv, SUITE)
        store.block(2)


def _rewrite(kv: KV, key: bytes, value: bytes) -> None:
    batch = kv.batch()
    batch.put(key, value)
    kv.write(batch)


@pytest.mark.parametrize("backend", ["leveldb", "memory"])
def test_an_index_entry_rewritten_with_a_valid_checksum_is_refused(tmp_path: Path,
                                                                  backend: str) -> None:
    """Damage LevelDB cannot see (a record rewritten whole) is caught by the tree check,
    for contracts' reads (``tree.get``) and for the API's (``state_value``) alike."""
    kv: KV
    if backend == "leveldb":
        _build(tmp_path)
        kv = LevelKV(str(tmp_path))
    else:
        kv = MemoryKV()
        chain = Chain.new(SUITE, kv=kv)
        chain.extend({PARAM: encoding.encode(3)})
    store = BlockStore(kv, SUITE)
    assert store.state_value(PARAM) == encoding.encode(3)
    for forged in (encoding.encode(1), b""):
        _rewrite(kv, schema.state_head_key(PARAM), forged)
        with pytest.raises(CorruptStore, match="not the tree's"):
            BlockStore(kv, SUITE).state_value(PARAM)
    # The store that read the value before the damage keeps answering the tree's value:
    # a value checked once is cached, never re-read unchecked.
    assert store.state_value(PARAM) == encoding.encode(3)
    # An entry removed for a key the tree holds is refused too.
    batch = kv.batch()
    batch.delete(schema.state_head_key(PARAM))
    kv.write(batch)
    with pytest.raises(CorruptStore, match="no value"):
        BlockStore(kv, SUITE).tree.get(PARAM)
    # An entry invented for a key the tree does not hold serves no point read (the tree
    # says absent, and the index is not read there), and a listing refuses it.
    _rewrite(kv, schema.state_head_key("param/invented"), encoding.encode(7))
    assert BlockStore(kv, SUITE).state_value("param/invented") is None
    assert store.state_value("param/never-written") is None
    with pytest.raises(CorruptStore, match="not the tree's value"):
        list(BlockStore(kv, SUITE).tree.scan("param/inv"))


def test_a_rewritten_state_root_refuses_to_open(tmp_path: Path) -> None:
    _build(tmp_path)
    kv = LevelKV(str(tmp_path))
    head = BlockStore(kv, SUITE).head()[0]
    _rewrite(kv, schema.state_root_key(head), bytes(32))
    with pytest.raises(CorruptStore, match="state root"):
        BlockStore(kv, SUITE)
    kv.close()


def test_a_store_with_whole_values_in_its_head_index_is_upgraded_once(tmp_path: Path) -> None:
    """A store written before ``m/heads`` (the head index held whole values) is rewritten to
    value hashes when it is opened, once, and reads the same values after."""
    _build(tmp_path)
    kv = LevelKV(str(tmp_path))
    old = kv.batch()
    heads = list(kv.scan(schema.STATE_HEAD))
    assert len(heads) > 200 and all(len(digest) == 32 for _, digest in heads)
    for key, digest in heads:
        value = kv.get(schema.state_value_key(digest))
        assert value is not None
        old.put(key, value)
    old.delete(schema.HEAD_INDEX)
    kv.write(old)
    assert kv.get(schema.state_head_key(PARAM)) == THREE
    store = BlockStore(kv, SUITE)
    assert kv.get(schema.state_head_key(PARAM)) == value_hash(SUITE, THREE)
    assert kv.get(schema.HEAD_INDEX) is not None
    assert store.state_value(PARAM) == THREE
    assert store.state_value("demo/0") == encoding.encode("changed")
    assert upgrade_head_index(kv, SUITE) == 0  # the second open rewrites nothing
    assert list(kv.scan(schema.STATE_HEAD)) == heads
    kv.close()


def test_a_listing_serves_the_tree_values_never_the_index_alone() -> None:
    """``StateTree.scan`` (the portal's listings): the index gives keys and order only. An
    entry rewritten to name the key's older value (still stored: values are never deleted)
    or naming a key the tree does not hold is a store fault, not a row of the listing; the
    same holds when the tree had already read and cached that key."""
    kv = MemoryKV()
    chain = Chain.new(SUITE, kv=kv)
    chain.extend({"demo/0": encoding.encode(0), "demo/1": encoding.encode(1)})
    chain.extend({"demo/0": encoding.encode("changed")})
    tree = BlockStore(kv, SUITE).tree
    assert dict(tree.scan("demo/")) == {"demo/0": encoding.encode("changed"),
                                         "demo/1": encoding.encode(1),
                                         "demo/genesis": encoding.encode("hello")}
    assert [k for k, _ in tree.scan("demo/", after="demo/0")] == ["demo/1", "demo/genesis"]
    stale = value_hash(SUITE, encoding.encode(0))
    _rewrite(kv, schema.state_head_key("demo/0"), stale)
    for reader in (tree, BlockStore(kv, SUITE).tree):  # cached, and read afresh
        with pytest.raises(CorruptStore, match="demo/0"):
            dict(reader.scan("demo/"))
    _rewrite(kv, schema.state_head_key("demo/0"), value_hash(SUITE, encoding.encode("changed")))
    assert dict(tree.scan("demo/"))["demo/0"] == encoding.encode("changed")
    # An invented entry, naming a value that is stored (demo/1's), for a key the tree
    # does not hold: refused whether the tree has cached that key as absent or not.
    assert tree.get("demo/2") is None
    _rewrite(kv, schema.state_head_key("demo/2"), value_hash(SUITE, encoding.encode(1)))
    for reader in (tree, BlockStore(kv, SUITE).tree):
        with pytest.raises(CorruptStore, match="demo/2"):
            dict(reader.scan("demo/"))
