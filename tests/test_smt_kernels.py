"""The C state-tree kernel against the pure-Python one: the same bytes, always.

Both kernels run side by side on random write sets (hypothesis), each on its own store:
every block must give the same root, the same records staged for the batch in the same
order, the same pinned nodes, and the same values and proofs at every root. Then the
vectors (``vectors/smt.json`` carries the whole state of each root) under both kernels,
the C hashes against hashlib / cryptography, the C node store against a dict, and the
fallback when the extension is absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import smt_native
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite, get_suite
from ledger.encoding import encode
from ledger.kv import MemoryKV
from ledger.smt import StateTree
from ledger.smt_native import kernel_for
from ledger.smt_proof import verify_proof
from tests.naive_smt import naive_proof, naive_root

SUITES: list[Suite] = [ED25519_SHA256, SM2_SM3]
ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "vectors"

needs_native = pytest.mark.skipif(not smt_native.NATIVE,
                                  reason=f"C kernel not built: {smt_native.NATIVE_PROBLEM}")


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@needs_native
def test_c_hashes_match_hashlib_and_cryptography() -> None:
    from ledger import _smt_native  # type: ignore[attr-defined]

    rng = random.Random(3)
    # Every length around the 55/56/64-byte padding edges, and some long ones.
    for length in [*range(0, 200), 1000, 4095, 4096, 65537]:
        data = rng.randbytes(length)
        assert _smt_native.hash(0, data) == hashlib.sha256(data).digest()
        assert _smt_native.hash(1, data) == _sm3(data)
    assert _smt_native.hash(1, b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")  # GB/T 32905 A.1
    items = [rng.randbytes(rng.randrange(300)) for _ in range(50)]
    for suite in SUITES:
        native, pure = kernel_for(suite, True), kernel_for(suite, False)
        assert native.native and not pure.native
        assert native.digests(0x12, items) == pure.digests(0x12, items)
        assert pure.digests(0x12, items) == [suite.hd(0x12, item) for item in items]


def _pair(suite: Suite, pinned_depth: int, cache_nodes: int) -> tuple[
        tuple[StateTree, MemoryKV], tuple[StateTree, MemoryKV]]:
    made = []
    for native in (True, False):
        kv = MemoryKV()
        tree = StateTree(suite, kv, pinned_depth=pinned_depth, cache_nodes=cache_nodes,
                         native=native)
        assert tree.kernel.native is native
        made.append((tree, kv))
    return made[0], made[1]


keys_st = st.one_of(st.sampled_from([f"k/{i}" for i in range(40)]), st.text(max_size=5))
values_st = st.one_of(st.none(), st.binary(max_size=10).map(encode))
blocks_st = st.lists(st.dictionaries(keys_st, values_st, max_size=30), min_size=1, max_size=6)


@needs_native
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=40, deadline=None)
@given(blocks=blocks_st, pinned_depth=st.sampled_from([0, 2, 5, 256]),
       cache_nodes=st.sampled_from([2, 1 << 16]))
def test_both_kernels_stage_the_same_records(suite: Suite, blocks: list[dict[str, bytes | None]],
                                             pinned_depth: int, cache_nodes: int) -> None:
    (c_tree, c_kv), (py_tree, py_kv) = _pair(suite, pinned_depth, cache_nodes)
    state: dict[str, bytes] = {}
    roots = []
    for height, writes in enumerate(blocks, start=1):
        c_staged, py_staged = c_tree.stage(writes, height), py_tree.stage(writes, height)
        assert c_staged.root == py_staged.root
        assert c_staged.ops == py_staged.ops  # every record, byte for byte, in one order
        for tree, kv, staged in ((c_tree, c_kv, c_staged), (py_tree, py_kv, py_staged)):
            batch = kv.batch()
            tree.adopt(staged, batch)
            kv.write(batch)
            tree.confirm_written()
        for key, value in writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        assert c_tree.root == naive_root(suite, state)
        assert c_tree.pinned_nodes == py_tree.pinned_nodes
        roots.append((c_tree.root, dict(state)))
    assert dict(c_kv.scan(b"")) == dict(py_kv.scan(b""))
    probes = ["k/0", "k/39", "absent"]
    for root, past in roots:
        for key in sorted(set(past) | set(probes)):
            got = c_tree.get_with_proof(key, root)
            assert got == py_tree.get_with_proof(key, root)
            assert got[1] == naive_proof(suite, past, key)
    for key in sorted(set(state) | set(probes)):
        assert c_tree.get(key) == py_tree.get(key) == state.get(key)


@needs_native
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_both_kernels_agree_on_a_cold_tree_over_one_store(suite: Suite) -> None:
    """A tree opened afresh reads through the KV (the Python fallback of the C kernel)."""
    kv = MemoryKV()
    writer = StateTree(suite, kv, native=False)
    rng = random.Random(11)
    state = {f"key/{i}": encode(i) for i in range(3000)}
    batch = kv.batch()
    writer.apply(state, batch, 1)
    kv.write(batch)
    writer.confirm_written()
    writes: dict[str, bytes | None] = {}
    for i in rng.sample(range(4000), 600):
        writes[f"key/{i}"] = None if i % 5 == 0 else encode([i])
    staged = [StateTree(suite, kv, writer.root, pinned_depth=depth, cache_nodes=4,
                        native=native).stage(writes, 2)
              for native in (True, False) for depth in (0, 24)]
    assert len({s.root for s in staged}) == 1
    assert all(s.ops == staged[0].ops for s in staged)


@needs_native
@pytest.mark.parametrize("native", [True, False], ids=["c", "python"])
def test_vector_states_give_the_vector_roots_and_proofs(native: bool) -> None:
    for vector in _load_vectors():
        suite = get_suite(vector["suite"])
        kv = MemoryKV()
        tree = StateTree(suite, kv, native=native)
        batch = kv.batch()
        assert tree.apply(vector["state"], batch, 1) == vector["root"]
        kv.write(batch)
        tree.confirm_written()
        for case in vector["cases"]:
            if not case["valid"]:
                continue
            value, proof = tree.get_with_proof(case["key"])
            assert value == case["value"]
            assert proof.to_obj() == case["proof"]
            verify_proof(suite, vector["root"], case["key"], proof, value)


def _load_vectors() -> list[dict[str, Any]]:
    def unbin(obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {"$bin"}:
                return bytes.fromhex(obj["$bin"])
            return {k: unbin(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [unbin(v) for v in obj]
        return obj

    loaded: list[dict[str, Any]] = unbin(json.loads((VECTORS / "smt.json").read_text("utf-8")))
    return loaded


@needs_native
@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["set", "pop", "get"]), st.integers(0, 300),
                              st.binary(min_size=1, max_size=8)), max_size=400))
def test_node_store_behaves_as_a_dict(ops: list[tuple[str, int, bytes]]) -> None:
    """Keys share their first bytes (one home slot), so deletions shift long probe runs."""
    store = kernel_for(ED25519_SHA256, True).new_store()
    model: dict[bytes, bytes] = {}
    for op, n, value in ops:
        key = bytes(8) + n.to_bytes(24, "big") if n % 3 else n.to_bytes(32, "big")
        if op == "set":
            store[key] = model[key] = value
        elif op == "pop":
            assert store.pop(key, None) == model.pop(key, None)  # type: ignore[attr-defined]
        else:
            assert store.get(key) == model.get(key)
        assert len(store) == len(model)
    assert sorted(store.items()) == sorted(model.items())  # type: ignore[attr-defined]
    for key in model:
        assert store.get(key) == model[key]


def test_the_pure_kernel_runs_and_says_so_without_the_extension() -> None:
    env = dict(os.environ, CREDCHAIN_SMT_PURE="1")
    code = ("import logging; logging.basicConfig(); from ledger import smt_native; "
            "print(smt_native.NATIVE)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
    assert "pure-Python kernel in use" in done.stderr
    assert not StateTree(ED25519_SHA256, MemoryKV(), native=False).kernel.native


@needs_native
@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_the_c_update_grows_its_node_array_and_stores_alike(suite: Suite) -> None:
    """A deep tree needs more touched nodes than the first allocation holds: a one-node hint
    makes every update grow its arrays and tables; the result must not change."""
    from ledger import _smt_native  # type: ignore[attr-defined]

    kv = MemoryKV()
    tree = StateTree(suite, kv, native=True)
    rng = random.Random(17)
    batch = kv.batch()
    tree.apply({f"key/{i}": encode(i) for i in range(3000)}, batch, 1)
    kv.write(batch)
    tree.confirm_written()
    for count in (1, 7, 300):
        writes: dict[str, bytes | None] = {
            f"key/{i}": None if i % 4 == 0 else encode([i]) for i in rng.sample(range(3500), count)}
        paths, infos = tree._prepare(writes)[:2]
        args = (0 if suite is ED25519_SHA256 else 1, paths, infos, *tree._ref(tree.root),
                tree._pinned, 24, tree._load_pinned)
        grown = _smt_native.update(*args, 1)
        sized = _smt_native.update(*args)
        assert grown[:2] == sized[:2] and grown[3:] == sized[3:]
        assert sorted(grown[2].items()) == sorted(sized[2].items())
        pinned: Any = tree._pinned  # a NodeStore or a dict: both have items()
        pure = kernel_for(suite, False).update(paths, infos, *tree._ref(tree.root),
                                               dict(pinned.items()), 24, tree._load_pinned)
        assert (pure.root, pure.root_info, pure.chunk_tops, pure.pinned_old, pure.deep) == (
            grown[0], grown[1], grown[3], grown[4], grown[5])
        nodes: Any = pure.nodes
        assert sorted(nodes.items()) == sorted(grown[2].items())
