"""The block store: one synced batch per block, every check before writing, crash safety,
checked loads (CorruptStore), on MemoryKV and LevelKV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import encoding, schema
from ledger.block import QC, Block, validators_hash
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import CorruptStore, InvalidInput, ProofError
from ledger.kv import KV, LevelKV, MemoryKV, WriteBatch
from ledger.store import BlockStore
from ledger.tx import Receipt
from tests.chainkit import Chain

SUITES = [ED25519_SHA256, SM2_SM3]


def v(x: object) -> bytes:
    return encoding.encode(x)


class DroppingKV:
    """A KV whose writes are lost: the process 'crashes' before the batch reaches disk."""

    def __init__(self, inner: KV) -> None:
        self.inner = inner
        self.dropped = 0

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def scan(
        self, prefix: bytes, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.inner.scan(prefix, start, reverse)

    def batch(self) -> WriteBatch:
        return self.inner.batch()

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        self.dropped += 1

    def close(self) -> None:
        self.inner.close()


class FailingKV(DroppingKV):
    """A KV whose write fails part way through handing over the batch's operations."""

    def __init__(self, inner: KV, fail_after_ops: int | None) -> None:
        super().__init__(inner)
        self.fail_after_ops = fail_after_ops

    def write(self, batch: WriteBatch, sync: bool = True) -> None:
        if self.fail_after_ops is None:
            self.inner.write(batch, sync)
            return
        staged = self.inner.batch()
        # Always fail before the last operation: part of the batch was handed over.
        fail_at = min(self.fail_after_ops, len(batch.ops) - 1)
        for i, (key, value) in enumerate(batch.ops):
            if i == fail_at:
                raise OSError("disk failed mid-write")
            if value is None:
                staged.delete(key)
            else:
                staged.put(key, value)
        self.inner.write(staged, sync)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_genesis_then_blocks_are_readable_by_height_hash_and_tx(suite: Suite) -> None:
    chain = Chain.new(suite)
    store = chain.store
    genesis = store.header(0)
    assert genesis is not None and store.head() == (0, genesis.hash(suite))
    assert store.qc(0) is None and store.block(1) is None
    assert store.validators_at(0) == store.validators_at(1) == chain.doc.validators
    assert store.state_root_at(0) == genesis.state_root
    assert store.genesis_doc_obj() == chain.doc.to_obj()

    txs = [chain.tx("alice", 0), chain.tx("bob", 0)]
    b1 = chain.extend({"demo/a": v(1)}, txs)
    b2 = chain.extend({"demo/a": v(2), "demo/b": v("x")}, [chain.tx("alice", 1)])
    assert store.head() == (2, b2.hash(suite))
    assert store.block(1) == b1 and store.block_by_hash(b1.hash(suite)) == b1
    assert store.block_by_hash(bytes(32)) is None
    qc = store.qc(2)
    assert qc is not None and qc.block_hash == b2.hash(suite)
    bob = txs[1].tx_id(suite)
    assert store.tx_location(bob) == (1, 1)
    assert store.tx(bob) == txs[1]
    receipt = store.receipt(bob)
    assert receipt is not None and receipt.tx_id == bob and receipt.ok
    assert [r.tx_id for r in store.receipts(1) or []] == [t.tx_id(suite) for t in txs]
    assert store.tree.get("demo/a") == v(2)
    root1 = store.state_root_at(1)
    assert root1 is not None and store.tree.get_at(root1, "demo/a") == v(1)


def test_one_synced_write_per_block() -> None:
    kv = MemoryKV()
    chain = Chain.new(ED25519_SHA256, kv=kv)
    before = kv.writes
    for i in range(5):
        chain.extend({f"demo/{i}": v(i)}, [chain.tx("alice", i)])
    assert kv.writes - before == 5


def _rejected(chain: Chain, block: Block, qc: QC, receipts: list[Receipt],
              writes: dict[str, bytes | None], error: type[Exception], match: str) -> None:
    store = chain.store
    kv = store.kv
    assert isinstance(kv, MemoryKV)
    writes_before, head, root = kv.writes, store.head(), store.tree.root
    with pytest.raises(error, match=match):
        store.commit_block(block, qc, receipts, writes, store.validators_at(head[0] + 1))
    assert (kv.writes, store.head(), store.tree.root) == (writes_before, head, root)
    assert store.tree.pending == 0


def test_every_mismatch_raises_and_writes_nothing() -> None:
    chain = Chain.new(ED25519_SHA256)
    chain.extend({"demo/a": v(1)}, [chain.tx("alice", 0)])
    writes: dict[str, bytes | None] = {"demo/a": v(2)}
    txs = [chain.tx("alice", 1)]
    block, receipts = chain.make_block(writes, txs)
    h = block.header
    good_qc = chain.sign_qc(h)

    def case(header_changes: dict[str, object], match: str, error: type[Exception] = InvalidInput,
             blk: Block | None = None, rec: list[Receipt] | None = None,
             w: dict[str, bytes | None] | None = None, qc: QC | None = None) -> None:
        b = blk if blk is not None else Block(h.with_changes(**header_changes), block.txs)
        _rejected(chain, b, qc if qc is not None else chain.sign_qc(b.header),
                  receipts if rec is None else rec, writes if w is None else w, error, match)

    case({"height": 3}, "does not extend the head")
    case({"prev_hash": bytes(32)}, "prev_hash")
    case({"chain_id": "other"}, "for chain")
    case({"time_ms": 0}, "time_ms")
    case({"tx_root": bytes(32)}, "tx_root")
    case({"receipts_root": bytes(32)}, "receipts_root")
    case({"next_validators_hash": bytes(32)}, "next_validators")
    case({"state_root": bytes(32)}, "state root")
    case({}, "state root", w={"demo/a": v(3)})
    case({}, "receipts do not follow", rec=[])
    dup = Block(h.with_changes(tx_root=chain.make_block(writes, txs * 2)[0].header.tx_root),
                tuple(txs * 2))
    case({}, "twice", blk=dup)
    old_tx = chain.tx("alice", 0)
    again, again_receipts = chain.make_block(writes, [old_tx])
    case({}, "already committed", blk=again, rec=again_receipts)
    case({}, "below the quorum", ProofError, qc=chain.sign_qc(h, voters=[0, 1]))
    forged = QC(good_qc.height, good_qc.view, good_qc.block_hash,
                ((0, good_qc.votes[1][1]),) + good_qc.votes[1:])
    case({}, "does not verify", ProofError, qc=forged)
    other = chain.sign_qc(h.with_changes(time_ms=h.time_ms + 1))
    case({}, "another block", ProofError, qc=other)
    # After every refusal the right block still commits.
    chain.store.commit_block(block, good_qc, receipts, writes, chain.store.validators_at(2))
    assert chain.store.head() == (2, h.hash(ED25519_SHA256))


def _crash_and_reopen(suite: Suite, inner: KV, wrapper: DroppingKV) -> None:
    chain = Chain.new(suite, kv=inner)
    chain.extend({"demo/a": v(1)}, [chain.tx("alice", 0)])
    head, root = chain.store.head(), chain.store.tree.root
    crashing = BlockStore(wrapper, suite)
    crash_chain = Chain(suite, crashing, chain.doc, chain.secrets)
    try:
        crash_chain.extend({"demo/a": v(2), "demo/b": v(3)}, [chain.tx("alice", 1)])
    except OSError:
        assert crashing.head() == head and crashing.tree.root == root
        assert crashing.tree.pending == 0
    reopened = BlockStore(inner, suite)
    assert reopened.head() == head
    assert reopened.block(2) is None and reopened.tree.root == root
    assert reopened.tree.get("demo/a") == v(1) and reopened.tree.get("demo/b") is None
    assert reopened.tx_location(chain.tx("alice", 1).tx_id(suite)) is None
    # The reopened store carries on from the last complete block.
    Chain(suite, reopened, chain.doc, chain.secrets).extend({"demo/a": v(2)})
    assert reopened.head()[0] == 2


def test_crash_dropping_the_batch_reopens_at_the_last_complete_block() -> None:
    inner = MemoryKV()
    _crash_and_reopen(ED25519_SHA256, inner, DroppingKV(inner))


@pytest.mark.parametrize("fail_after_ops", [0, 1, 7, 10**6])
def test_write_failing_midway_leaves_the_last_complete_block(fail_after_ops: int) -> None:
    inner = MemoryKV()
    _crash_and_reopen(ED25519_SHA256, inner, FailingKV(inner, fail_after_ops))


def test_failed_write_can_be_retried_on_the_same_store() -> None:
    inner = MemoryKV()
    chain = Chain.new(ED25519_SHA256, kv=inner)
    flaky = FailingKV(inner, 3)
    store = BlockStore(flaky, ED25519_SHA256)
    chain = Chain(ED25519_SHA256, store, chain.doc, chain.secrets)
    block, receipts = chain.make_block({"demo/a": v(1)})
    qc = chain.sign_qc(block.header)
    with pytest.raises(OSError):
        store.commit_block(block, qc, receipts, {"demo/a": v(1)}, store.validators_at(1))
    flaky.fail_after_ops = None  # the disk is back
    store.commit_block(block, qc, receipts, {"demo/a": v(1)}, store.validators_at(1))
    assert BlockStore(inner, ED25519_SHA256).tree.get("demo/a") == v(1)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_leveldb_reopen_and_crash(tmp_path: Path, suite: Suite) -> None:
    kv = LevelKV(str(tmp_path / "db"))
    chain = Chain.new(suite, kv=kv)
    for i in range(3):
        chain.extend({f"demo/{i}": v(i)}, [chain.tx("alice", i)])
    head = chain.store.head()
    kv.close()
    kv = LevelKV(str(tmp_path / "db"))
    store = BlockStore(kv, suite)
    assert store.head() == head
    assert store.tree.get("demo/2") == v(2)
    assert store.tx_location(chain.tx("alice", 2).tx_id(suite)) == (3, 0)
    assert store.qc(3) is not None
    kv.close()
    kv = LevelKV(str(tmp_path / "db2"))
    _crash_and_reopen(suite, kv, DroppingKV(kv))
    kv.close()


def _tampered(chain: Chain, key: bytes, value: bytes) -> BlockStore:
    kv = chain.store.kv
    batch = kv.batch()
    batch.put(key, value)
    kv.write(batch)
    return BlockStore(kv, chain.suite)


def test_tampered_block_is_corrupt_never_returned() -> None:
    chain = Chain.new(ED25519_SHA256)
    b1 = chain.extend({"demo/a": v(1)}, [chain.tx("alice", 0)])
    chain.extend({"demo/a": v(2)})
    forged = Block(b1.header.with_changes(time_ms=b1.header.time_ms + 5), b1.txs)
    store = _tampered(chain, schema.block_key(1), forged.encode())
    with pytest.raises(CorruptStore, match="not the indexed hash"):
        store.block(1)
    with pytest.raises(CorruptStore):
        store.tx(chain.tx("alice", 0).tx_id(ED25519_SHA256))


def test_qc_of_another_block_is_corrupt() -> None:
    chain = Chain.new(ED25519_SHA256)
    chain.extend({"demo/a": v(1)})
    chain.extend({"demo/a": v(2)})
    qc2 = chain.store.kv.get(schema.qc_key(2))
    assert qc2 is not None
    store = _tampered(chain, schema.qc_key(1), qc2)
    with pytest.raises(CorruptStore, match="names another block"):
        store.qc(1)


def test_tampered_receipts_and_validators_are_corrupt() -> None:
    chain = Chain.new(ED25519_SHA256)
    tx = chain.tx("alice", 0)
    chain.extend({"demo/a": v(1)}, [tx])
    bad = encoding.encode([Receipt(tx.tx_id(ED25519_SHA256), "E_X").to_obj()])
    store = _tampered(chain, schema.receipts_key(1), bad)
    with pytest.raises(CorruptStore, match="receipts_root"):
        store.receipt(tx.tx_id(ED25519_SHA256))
    other = chain.add_key("intruder")
    vals = list(chain.doc.validators[:3]) + [other]
    store = _tampered(chain, schema.validators_key(1), encoding.encode([x.to_obj() for x in vals]))
    with pytest.raises(CorruptStore, match="validator set"):
        store.validators_at(1)


def test_head_record_tampered_is_corrupt() -> None:
    chain = Chain.new(ED25519_SHA256)
    chain.extend({"demo/a": v(1)})
    kv = chain.store.kv
    batch = kv.batch()
    batch.put(schema.HEAD, encoding.encode({"height": 1, "hash": bytes(32)}))
    kv.write(batch)
    with pytest.raises(CorruptStore, match="head block"):
        BlockStore(kv, ED25519_SHA256)


def test_validator_change_is_indexed_and_takes_effect() -> None:
    chain = Chain.new(ED25519_SHA256)
    store = chain.store
    chain.extend({"demo/a": v(1)})
    new_set = chain.doc.validators + (chain.add_key("node4"),)
    chain.extend({"demo/a": v(2)}, next_validators=new_set)
    chain.extend({"demo/a": v(3)})
    assert store.validators_at(2) == chain.doc.validators
    assert store.validators_at(3) == store.validators_at(4) == new_set
    assert list(store.validator_change_heights(10)) == [2]
    assert list(store.validator_change_heights(1)) == []
    h3 = store.header(3)
    assert h3 is not None and h3.validators_hash == validators_hash(ED25519_SHA256, new_set)
    qc3 = store.qc(3)
    assert qc3 is not None and len(qc3.votes) == 4  # quorum of 5


def test_store_refuses_second_genesis_and_reads_before_genesis() -> None:
    store = BlockStore(MemoryKV(), ED25519_SHA256)
    assert store.empty and store.header(0) is None
    with pytest.raises(LookupError):
        store.head()
    chain = Chain.new(ED25519_SHA256)
    genesis = chain.store.block(0)
    assert genesis is not None
    with pytest.raises(InvalidInput, match="already holds"):
        chain.store.commit_genesis(genesis, {}, chain.doc.validators, chain.doc.to_obj())


_CHILD = """
import sys
from ledger import encoding
from ledger.crypto import ED25519_SHA256
from ledger.kv import LevelKV
from tests.chainkit import Chain
chain = Chain.new(ED25519_SHA256, kv=LevelKV(sys.argv[1]))
print("ready", flush=True)
for i in range(1, 100_000):
    chain.extend({"demo/counter": encoding.encode(i), f"demo/{i}": encoding.encode(i)},
                 [chain.tx("alice", i - 1)])
"""


def test_kill_9_during_commits_reopens_at_a_complete_block(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    db = str(tmp_path / "db")
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, db], cwd=root,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.8)  # some blocks committed, one most likely mid-write
    finally:
        child.kill()
        child.wait(timeout=30)
    kv = LevelKV(db)
    try:
        store = BlockStore(kv, ED25519_SHA256)
        height, _ = store.head()
        assert height >= 1
        for h in range(1, height + 1):
            block, qc = store.block(h), store.qc(h)
            assert block is not None and qc is not None and qc.block_hash == block.hash(
                ED25519_SHA256)
            assert store.tx_location(block.txs[0].tx_id(ED25519_SHA256)) == (h, 0)
        assert store.state_root_at(height) == store.tree.root
        assert store.tree.get("demo/counter") == encoding.encode(height)
        assert store.tree.get(f"demo/{height + 1}") is None
        assert store.block(height + 1) is None
    finally:
        kv.close()


def test_commit_recomputes_a_staged_update_it_cannot_use() -> None:
    """A staged update for other writes, another height or another root is not adopted; the
    state root check stays whatever the caller hands over."""
    chain = Chain.new(ED25519_SHA256)
    store, tree = chain.store, chain.store.tree
    writes = {"demo/a": v(1)}
    block, receipts = chain.make_block(writes)
    qc = chain.sign_qc(block.header)
    nxt = store.validators_at(1)
    wrong_writes = tree.stage({"demo/a": v(2)}, 1)
    wrong_height = tree.stage(writes, 7)
    for staged in (wrong_writes, wrong_height):
        assert staged.root != block.header.state_root or staged.height != 1
    # A staged update whose writes differ is recomputed from the writes given: commits.
    stages = tree.stages
    store.commit_block(block, qc, receipts, writes, nxt, staged=wrong_writes)
    assert tree.stages == stages + 1 and tree.root == block.header.state_root
    # A staged update from before that block is stale now: recomputed (and refused here,
    # since these writes do not give the next header's root).
    block2, receipts2 = chain.make_block({"demo/b": v(2)})
    with pytest.raises(InvalidInput, match="state root"):
        store.commit_block(block2, chain.sign_qc(block2.header), receipts2, {"demo/b": v(3)},
                           nxt, staged=wrong_height)
    assert store.head()[0] == 1 and tree.pending == 0


def test_a_verified_qc_is_not_verified_again_but_must_name_the_block(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = Chain.new(ED25519_SHA256)
    store = chain.store
    block, receipts = chain.make_block({"demo/a": v(1)})
    other = chain.sign_qc(block.header.with_changes(time_ms=block.header.time_ms + 1))
    nxt = store.validators_at(1)
    import ledger.store as store_module

    def no_verify(*_: object) -> None:
        raise AssertionError("verify_qc called for a QC the caller verified")

    monkeypatch.setattr(store_module, "verify_qc", no_verify)
    with pytest.raises(ProofError, match="another block"):
        store.commit_block(block, other, receipts, {"demo/a": v(1)}, nxt, qc_verified=True)
    store.commit_block(block, chain.sign_qc(block.header), receipts, {"demo/a": v(1)}, nxt,
                       qc_verified=True)
    assert store.head()[0] == 1
    # Untrusted paths keep the check: a QC short of the quorum is refused.
    monkeypatch.undo()
    block2, receipts2 = chain.make_block({"demo/b": v(2)})
    with pytest.raises(ProofError):
        store.commit_block(block2, chain.sign_qc(block2.header, voters=[0]), receipts2,
                           {"demo/b": v(2)}, store.validators_at(2))
