"""The state tree (``ledger.smt``) against the naive definition (``tests/naive_smt.py``).

Property tests over both suites and both KV backends: random inserts, updates and deletes
in several blocks give the naive root; proofs of presence and absence verify and equal the
naive proofs; past roots keep their values and proofs. Then tampered proofs, persistence
(reopening LevelDB, a batch not written, pending and discarded applies), the chunked
storage of inner nodes and a corrupt store.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import schema
from ledger.crypto import ED25519_SHA256, SM2_SM3, ZERO_HASH, Suite
from ledger.encoding import decode, encode
from ledger.errors import CorruptStore, InvalidInput, ProofError
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.smt import CHUNK_LEVELS, StateTree, stored_root
from ledger.smt_proof import (
    PATH_BITS,
    Proof,
    ProofLeaf,
    key_path,
    leaf_hash,
    path_bit,
    proof_root,
    value_hash,
    verify_proof,
)
from tests.naive_smt import naive_inner_nodes, naive_proof, naive_root

SUITES = [ED25519_SHA256, SM2_SM3]
BACKENDS = ["memory", "leveldb"]


@contextmanager
def open_kv(backend: str) -> Iterator[KV]:
    if backend == "memory":
        yield MemoryKV()
        return
    with tempfile.TemporaryDirectory(prefix="smt_") as path:
        kv = LevelKV(path)
        try:
            yield kv
        finally:
            kv.close()


def commit(tree: StateTree, kv: KV, writes: Mapping[str, bytes | None], height: int) -> bytes:
    batch = kv.batch()
    root = tree.apply(writes, batch, height)
    kv.write(batch)
    tree.confirm_written()
    return root


def snapshot(kv: KV) -> dict[bytes, bytes]:
    return dict(kv.scan(b""))


def check_state(tree: StateTree, root: bytes, state: dict[str, bytes], probes: list[str]) -> None:
    """Reads and proofs of every key in ``state`` and of ``probes`` under ``root``."""
    suite = tree.suite
    for key in sorted(set(state) | set(probes)):
        value = state.get(key)
        got, proof = tree.get_with_proof(key, root)
        assert got == value
        assert proof == naive_proof(suite, state, key)
        verify_proof(suite, root, key, proof, value)
        assert Proof.from_obj(decode(encode(proof.to_obj()))) == proof


# Few distinct keys so that blocks update and delete keys that exist; some text keys too.
keys_st = st.one_of(st.sampled_from([f"k/{i}" for i in range(24)]), st.text(max_size=6))
values_st = st.one_of(
    st.none(), st.binary(max_size=12).map(encode), st.integers(0, 1 << 40).map(encode)
)
blocks_st = st.lists(st.dictionaries(keys_st, values_st, max_size=20), min_size=1, max_size=6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=50, deadline=None)
@given(blocks=blocks_st, cache_nodes=st.sampled_from([2, 16, 1 << 16]),
       pinned_depth=st.sampled_from([0, 3, 4, 18]))
def test_matches_the_naive_tree(suite: Suite, backend: str, blocks: list[dict[str, bytes | None]],
                                cache_nodes: int, pinned_depth: int) -> None:
    with open_kv(backend) as kv:
        tree = StateTree(suite, kv, pinned_depth=pinned_depth, cache_nodes=cache_nodes)
        state: dict[str, bytes] = {}
        history: list[tuple[bytes, dict[str, bytes]]] = [(ZERO_HASH, {})]
        for height, writes in enumerate(blocks, start=1):
            root = commit(tree, kv, writes, height)
            for key, value in writes.items():
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            assert root == naive_root(suite, state) == tree.root
            assert stored_root(kv, height) == root
            history.append((root, dict(state)))
            for key in writes:
                assert tree.get(key) == state.get(key)
            for key in state:  # every key of the tree can be named from its path
                assert kv.get(schema.state_key_by_path_key(key_path(suite, key))) == \
                    key.encode("utf-8")
        probes = ["k/0", "k/23", "absent", ""]
        for root, past in history:
            check_state(tree, root, past, probes)
        # A tree opened afresh on the same store (cold cache) reads the same.
        fresh = StateTree(suite, kv, tree.root, pinned_depth=pinned_depth, cache_nodes=cache_nodes)
        check_state(fresh, tree.root, state, probes)


def test_deletes_collapse_to_the_lone_leaf() -> None:
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    a, b = encode("a"), encode("b")
    commit(tree, kv, {"a": a, "b": b, "c": encode("c")}, 1)
    root = commit(tree, kv, {"b": None, "c": None, "never-there": None}, 2)
    assert root == leaf_hash(suite, key_path(suite, "a"), value_hash(suite, a))
    assert tree.prove("a") == Proof(ProofLeaf(key_path(suite, "a"), value_hash(suite, a)), ())
    assert commit(tree, kv, {"a": None}, 3) == ZERO_HASH
    assert tree.prove("a") == Proof(None, ())
    assert tree.get("a") is None and tree.get_at(root, "a") == a


def test_pinned_nodes_follow_the_newest_tree() -> None:
    """Superseded nodes leave memory as blocks are confirmed; discarded blocks change nothing."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv, pinned_depth=PATH_BITS)
    state = {f"key/{i}": encode(i) for i in range(300)}
    commit(tree, kv, state, 1)
    assert tree.pinned_nodes == naive_inner_nodes(suite, state)
    rng = random.Random(5)
    for height in range(2, 22):
        writes: dict[str, bytes | None] = {}
        for i in rng.sample(range(400), 40):
            writes[f"key/{i}"] = None if i % 3 == 0 else encode([i, height])
        tree.apply({"key/1": None, "key/2": encode("x")}, kv.batch(), height)
        tree.discard_pending()
        commit(tree, kv, writes, height)
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        assert tree.pinned_nodes == naive_inner_nodes(suite, state)
    assert tree.root == naive_root(suite, state)
    # A shallow pinned depth holds only the top of the tree.
    shallow = StateTree(suite, kv, tree.root, pinned_depth=3)
    commit(shallow, kv, {"key/0": encode("y")}, 22)
    assert 0 < shallow.pinned_nodes <= 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_pins_the_whole_tree_then_reads_load_nothing(backend: str) -> None:
    """``warm`` pins what walks would pin (the naive tree's inner nodes), within its budget
    and the pinned depth; afterwards a read or an update of any key loads no record."""
    suite = ED25519_SHA256
    with open_kv(backend) as kv:
        state = {f"key/{i}": encode(i) for i in range(500)}
        root = commit(StateTree(suite, kv), kv, state, 1)
        assert StateTree(suite, kv, root).warm(40) in range(40, 43)  # stops near its budget
        assert 0 < StateTree(suite, kv, root, pinned_depth=3).warm(1 << 20) <= 7
        tree = StateTree(suite, kv, root, pinned_depth=PATH_BITS)
        assert tree.warm(1 << 20) == naive_inner_nodes(suite, state)
        loads = tree.node_loads
        for key in ("key/7", "key/499", "key/absent"):
            tree.get(key)
        commit(tree, kv, {"key/3": encode("x"), "key/new": encode(1)}, 2)
        assert tree.node_loads == loads
        assert tree.root == naive_root(suite, {**state, "key/3": encode("x"),
                                                "key/new": encode(1)})
        assert StateTree(suite, kv, ZERO_HASH).warm(10) == 0


def test_warm_refuses_a_corrupt_chunk() -> None:
    suite = ED25519_SHA256
    kv = MemoryKV()
    root = commit(StateTree(suite, kv), kv, {f"key/{i}": encode(i) for i in range(200)}, 1)
    deep = next(key for key, record in kv.scan(schema.STATE_NODE)
                if key != schema.state_node_key(root) and len(record) > 100)
    batch = kv.batch()
    record = kv.get(deep)
    assert record is not None
    batch.put(deep, record[:-1] + bytes([record[-1] ^ 1]))
    kv.write(batch)
    with pytest.raises(CorruptStore):
        StateTree(suite, kv, root).warm(1 << 20)


def test_empty_block_keeps_the_root_and_records_it() -> None:
    kv = MemoryKV()
    tree = StateTree(ED25519_SHA256, kv)
    root = commit(tree, kv, {"a": encode(1), "b": encode(2)}, 1)
    assert commit(tree, kv, {}, 2) == root
    assert stored_root(kv, 2) == root


def test_proof_size_stops_at_the_lone_key() -> None:
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    commit(tree, kv, {f"key/{i}": encode(i) for i in range(4096)}, 1)
    sizes = [len(tree.prove(f"key/{i}").siblings) for i in range(0, 4096, 7)]
    # 4,096 random paths: mean depth near log2(4096) = 12, far below 256.
    assert 11 <= sum(sizes) / len(sizes) <= 15
    assert max(sizes) <= 40


# -- tampered proofs -------------------------------------------------------------------


@pytest.fixture(scope="module", params=SUITES, ids=lambda s: s.name)
def small_tree(request: pytest.FixtureRequest) -> tuple[StateTree, dict[str, bytes]]:
    kv = MemoryKV()
    tree = StateTree(request.param, kv)
    state = {f"key/{i}": encode({"n": i}) for i in range(64)}
    commit(tree, kv, state, 1)
    return tree, state


def _absent_key_with_other_leaf(tree: StateTree) -> str:
    for i in range(1000):
        proof = tree.prove(f"absent/{i}")
        if proof.leaf is not None and proof.siblings:
            return f"absent/{i}"
    raise AssertionError("no absent key lands on another key's leaf")


def test_tampered_presence_proofs_fail(small_tree: tuple[StateTree, dict[str, bytes]]) -> None:
    tree, state = small_tree
    suite, root, key = tree.suite, tree.root, "key/5"
    value = state[key]
    proof = tree.prove(key)
    verify_proof(suite, root, key, proof, value)
    assert proof.leaf is not None and len(proof.siblings) >= 2
    sib = list(proof.siblings)
    flipped = bytes([sib[0][0] ^ 1]) + sib[0][1:]
    bad_value_hash = bytes([proof.leaf.value_hash[0] ^ 1]) + proof.leaf.value_hash[1:]
    tampered = {
        "flipped sibling": replace(proof, siblings=(flipped, *sib[1:])),
        "value hash": replace(proof, leaf=replace(proof.leaf, value_hash=bad_value_hash)),
        "truncated": replace(proof, siblings=tuple(sib[:-1])),
        "extra ZERO sibling": replace(proof, siblings=(*sib, ZERO_HASH)),
        "extra sibling on top": replace(proof, siblings=(ZERO_HASH, *sib)),
        "no leaf": replace(proof, leaf=None),
        "swapped siblings": replace(proof, siblings=(sib[1], sib[0], *sib[2:])),
    }
    for what, bad in tampered.items():
        with pytest.raises(ProofError):
            verify_proof(suite, root, key, bad, value)
        assert what
    for wrong_value in (None, encode({"n": 6})):
        with pytest.raises(ProofError):
            verify_proof(suite, root, key, proof, wrong_value)
    with pytest.raises(ProofError):
        verify_proof(suite, root, "key/6", proof, value)  # another key
    with pytest.raises(ProofError):
        verify_proof(suite, root, "key/6", proof, None)  # not a proof of absence for key/6
    with pytest.raises(ProofError):
        verify_proof(suite, ZERO_HASH, key, proof, value)  # another root


def test_tampered_absence_proofs_fail(small_tree: tuple[StateTree, dict[str, bytes]]) -> None:
    tree, state = small_tree
    suite, root = tree.suite, tree.root
    key = _absent_key_with_other_leaf(tree)
    proof = tree.prove(key)
    verify_proof(suite, root, key, proof, None)
    assert proof.leaf is not None
    with pytest.raises(ProofError):
        verify_proof(suite, root, key, proof, encode({"n": 1}))
    with pytest.raises(ProofError):
        verify_proof(suite, root, key, replace(proof, leaf=None), None)
    with pytest.raises(ProofError):
        verify_proof(suite, root, key, replace(proof, siblings=proof.siblings[1:]), None)
    # The leaf's path must agree with the key's path above where the proof stops.
    path = key_path(suite, key)
    depth = len(proof.siblings) - 1
    bad_path = bytearray(proof.leaf.path)
    bad_path[depth >> 3] ^= 0x80 >> (depth & 7)
    assert path_bit(bytes(bad_path), depth) != path_bit(path, depth)
    bad = replace(proof, leaf=replace(proof.leaf, path=bytes(bad_path)))
    with pytest.raises(ProofError, match="not in the subtree"):
        verify_proof(suite, root, key, bad, None)
    with pytest.raises(ProofError, match="not in the subtree"):
        proof_root(suite, key, bad)


def test_proof_objects_are_strict() -> None:
    good = {"leaf": {"path": bytes(32), "value_hash": bytes(32)}, "siblings": [bytes(32)]}
    assert Proof.from_obj(good).to_obj() == good
    bad_objs = [
        {"leaf": None},
        {**good, "extra": 1},
        {**good, "siblings": [bytes(31)]},
        {**good, "siblings": ["00" * 32]},
        {**good, "siblings": [bytes(32)] * 257},
        {**good, "leaf": {"path": bytes(32)}},
        {**good, "leaf": {"path": bytes(33), "value_hash": bytes(32)}},
        [None, []],
    ]
    for obj in bad_objs:
        with pytest.raises(InvalidInput):
            Proof.from_obj(obj)
    with pytest.raises(ProofError):
        proof_root(ED25519_SHA256, "k", Proof(None, (bytes(31),)))


# -- persistence -----------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_reopened_leveldb_gives_the_same_root_and_reads(suite: Suite) -> None:
    state = {f"key/{i}": encode(i) for i in range(100)}
    with tempfile.TemporaryDirectory(prefix="smt_") as path:
        kv = LevelKV(path)
        tree = StateTree(suite, kv)
        first = commit(tree, kv, state, 1)
        second = commit(tree, kv, {"key/0": None, "key/1": encode("new")}, 2)
        kv.close()
        kv = LevelKV(path)
        try:
            assert stored_root(kv, 1) == first
            assert stored_root(kv, 2) == second
            assert stored_root(kv, 3) is None
            again = StateTree(suite, kv, second)
            after = {k: v for k, v in state.items() if k != "key/0"} | {"key/1": encode("new")}
            assert again.root == second == naive_root(suite, after)
            assert again.get("key/0") is None and again.get("key/1") == encode("new")
            assert again.get_at(first, "key/0") == encode(0)
            check_state(again, first, state, ["key/100"])
        finally:
            kv.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_not_written_leaves_the_kv_unchanged(backend: str) -> None:
    suite = ED25519_SHA256
    with open_kv(backend) as kv:
        tree = StateTree(suite, kv)
        written = commit(tree, kv, {"a": encode(1), "b": encode(2)}, 1)
        before = snapshot(kv)
        batch = kv.batch()
        pending = tree.apply({"a": None, "c": encode(3)}, batch, 2)
        assert len(batch) > 0
        assert snapshot(kv) == before
        # The pending root is readable and provable before the batch is written...
        assert tree.root == pending and tree.written_root == written and tree.pending == 1
        assert tree.get("a") is None and tree.get("c") == encode(3)
        verify_proof(suite, pending, "c", tree.prove("c"), encode(3))
        # ...and forgetting it returns to the written root with the KV untouched.
        tree.discard_pending()
        assert tree.root == written and tree.pending == 0
        assert tree.get("a") == encode(1) and tree.get("c") is None
        assert snapshot(kv) == before


def test_pipelined_applies_commit_in_order() -> None:
    suite = SM2_SM3
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    first_batch, second_batch = kv.batch(), kv.batch()
    first = tree.apply({"a": encode(1), "b": encode(2)}, first_batch, 1)
    second = tree.apply({"b": None, "c": encode(3)}, second_batch, 2)
    assert second == naive_root(suite, {"a": encode(1), "c": encode(3)})
    assert tree.get_at(first, "b") == encode(2) and tree.get("b") is None
    kv.write(first_batch)
    tree.confirm_written()
    assert tree.written_root == first and tree.root == second
    kv.write(second_batch)
    tree.confirm_written()
    assert tree.written_root == second and tree.pending == 0
    fresh = StateTree(suite, kv, second)
    check_state(fresh, second, {"a": encode(1), "c": encode(3)}, ["b"])
    check_state(fresh, first, {"a": encode(1), "b": encode(2)}, ["c"])
    with pytest.raises(RuntimeError):
        tree.confirm_written()


def test_invalid_writes_change_nothing() -> None:
    kv = MemoryKV()
    tree = StateTree(ED25519_SHA256, kv)
    root = commit(tree, kv, {"a": encode(1)}, 1)
    bad_writes: list[dict[object, object]] = [
        {"b": "text, not CE bytes"}, {b"bytes key": encode(1)}, {"\ud800": encode(1)}
    ]
    for writes in bad_writes:
        batch = kv.batch()
        with pytest.raises(InvalidInput):
            tree.apply(writes, batch, 2)  # type: ignore[arg-type]
        assert len(batch) == 0 and tree.root == root and tree.pending == 0
    with pytest.raises(InvalidInput):
        tree.apply({}, kv.batch(), -1)


def test_a_corrupt_node_stops_reads() -> None:
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    root = commit(tree, kv, {f"key/{i}": encode(i) for i in range(8)}, 1)
    node_key = schema.state_node_key(root)
    raw = kv.get(node_key)
    assert raw is not None
    batch = kv.batch()
    batch.put(node_key, raw[:-1] + bytes([raw[-1] ^ 1]))
    kv.write(batch)
    with pytest.raises(CorruptStore):
        StateTree(suite, kv, root).get_at(root, "key/1")
    batch = kv.batch()
    batch.delete(node_key)
    kv.write(batch)
    with pytest.raises(CorruptStore):
        StateTree(suite, kv, root).prove("key/1")


def test_a_corrupt_hint_stops_reads() -> None:
    """The lone-key hints a parent keeps are checked too, not only the hashed preimage."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    root = commit(StateTree(suite, kv), kv, {f"key/{i}": encode(i) for i in range(64)}, 1)
    hinted = [(k, v) for k, v in kv.scan(schema.STATE_NODE) if v[0] == 0x11 and v[65] & 1]
    assert hinted
    node_key, raw = hinted[0]
    batch = kv.batch()
    batch.put(node_key, raw[:70] + bytes([raw[70] ^ 1]) + raw[71:])  # a bit of the hint's path
    kv.write(batch)
    tree = StateTree(suite, kv, root)
    with pytest.raises(CorruptStore):
        for i in range(64):
            tree.prove(f"key/{i}")


def test_inner_nodes_are_stored_in_chunks() -> None:
    """One record per chunk of ``CHUNK_LEVELS`` levels; a cold tree reads through them."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    state = {f"key/{i}": encode(i) for i in range(500)}
    root = commit(StateTree(suite, kv), kv, state, 1)
    records = [raw for _, raw in kv.scan(schema.STATE_NODE)]
    assert len(records) == naive_inner_nodes(suite, state, every=CHUNK_LEVELS)
    assert len(records) * 2 < naive_inner_nodes(suite, state)
    assert sum(len(raw) for raw in records) > 200 * len(records)  # several nodes a record
    cold = StateTree(suite, kv, root, pinned_depth=0, cache_nodes=2)
    check_state(cold, root, state, ["absent", "key/500"])


@pytest.mark.parametrize("pinned_depth", [0, 4])
def test_pipelined_applies_with_a_tiny_cache(pinned_depth: int) -> None:
    """Unchanged chunk members come from the pending layers' chunks or the KV's."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    state = {f"key/{i}": encode(i) for i in range(300)}
    start = commit(StateTree(suite, kv), kv, state, 1)
    tree = StateTree(suite, kv, start, pinned_depth=pinned_depth, cache_nodes=2)
    rng = random.Random(9)
    batches, history = [], []
    for height in range(2, 7):
        writes: dict[str, bytes | None] = {}
        for i in rng.sample(range(400), 12):
            writes[f"key/{i}"] = None if i % 4 == 0 else encode([i, height])
        batch = kv.batch()
        root = tree.apply(writes, batch, height)
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        assert root == naive_root(suite, state)
        batches.append(batch)
        history.append((root, dict(state)))
    for batch in batches:
        kv.write(batch)
        tree.confirm_written()
    fresh = StateTree(suite, kv, tree.root, pinned_depth=0, cache_nodes=2)
    for root, past in history:
        check_state(fresh, root, past, ["absent"])


def test_a_corrupt_chunk_stops_reads() -> None:
    """A chunk with bytes after its last node, or a bad node below its top, is refused."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    state = {f"key/{i}": encode(i) for i in range(64)}
    root = commit(StateTree(suite, kv), kv, state, 1)
    node_key = schema.state_node_key(root)
    raw = kv.get(node_key)
    assert raw is not None and len(raw) > 200
    for bad in (raw + b"\x00", raw[:-1] + bytes([raw[-1] ^ 1]), raw[:-1]):
        batch = kv.batch()
        batch.put(node_key, bad)
        kv.write(batch)
        tree = StateTree(suite, kv, root, pinned_depth=0, cache_nodes=2)
        with pytest.raises(CorruptStore):
            for key in state:
                tree.prove(key)


# -- staged updates --------------------------------------------------------------------


def test_stage_changes_nothing_and_adopt_needs_the_same_tree_and_root() -> None:
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    first = commit(tree, kv, {"a": encode(1), "b": encode(2)}, 1)
    before = snapshot(kv)
    writes: dict[str, bytes | None] = {"a": None, "c": encode(3)}
    staged = tree.stage(writes, 2)
    writes["c"] = encode(4)  # the caller's dict may change: the staged writes do not
    assert staged.writes == {"a": None, "c": encode(3)} and staged.parent_root == first
    assert staged.root == naive_root(suite, {"b": encode(2), "c": encode(3)})
    assert tree.root == first and tree.pending == 0 and snapshot(kv) == before
    assert tree.get("a") == encode(1) and tree.get("c") is None
    other = StateTree(suite, kv, first)
    with pytest.raises(ValueError, match="tree that staged it"):
        other.adopt(staged, kv.batch())
    moved = tree.stage({"d": encode(5)}, 2)
    tree.adopt(moved, kv.batch())
    assert not tree.can_adopt(staged)
    with pytest.raises(ValueError, match="moved"):
        tree.adopt(staged, kv.batch())
    tree.discard_pending()
    batch = kv.batch()
    assert tree.adopt(staged, batch) == staged.root and len(batch) == len(staged.ops)
    assert tree.get("c") == encode(3) and tree.get("a") is None  # pending, from memory
    kv.write(batch)
    tree.confirm_written()
    assert tree.written_root == staged.root and stored_root(kv, 2) == staged.root
    check_state(StateTree(suite, kv, staged.root), staged.root,
                {"b": encode(2), "c": encode(3)}, ["a", "d"])


def test_a_keys_path_record_is_written_once_not_with_every_value() -> None:
    """A key's ``sp/`` record is in the batch of the block that creates it, and not in the
    batch of a later block that changes a value this tree knows is there; when the tree
    cannot tell (a fresh tree, nothing read yet), it is written again, which is harmless."""
    suite = ED25519_SHA256
    kv = MemoryKV()
    tree = StateTree(suite, kv)

    def path_records(writes: dict[str, bytes | None], height: int) -> list[bytes]:
        batch = kv.batch()
        tree.apply(writes, batch, height)
        kv.write(batch)
        tree.confirm_written()
        return [value for key, value in batch.ops
                if key.startswith(schema.STATE_KEY_BY_PATH) and value is not None]

    assert path_records({"a": encode(1), "b": encode(1)}, 1) == [b"a", b"b"]
    assert path_records({"a": encode(2), "c": encode(1)}, 2) == [b"c"]  # "a" was written here
    assert path_records({"b": None}, 3) == []
    assert path_records({"b": encode(5)}, 4) == [b"b"]  # back after a delete
    fresh = StateTree(suite, kv, tree.root)
    batch = kv.batch()
    fresh.apply({"a": encode(3)}, batch, 5)
    assert [v for k, v in batch.ops if k.startswith(schema.STATE_KEY_BY_PATH)] == [b"a"]
    assert fresh.get("c") == encode(1)  # read (and checked): now known to be there
    batch = kv.batch()
    fresh.discard_pending()
    fresh.apply({"c": encode(2)}, batch, 5)
    assert [v for k, v in batch.ops if k.startswith(schema.STATE_KEY_BY_PATH)] == []
