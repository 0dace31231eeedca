"""A tiny deterministic application and store for the simulator and consensus unit tests.

Transactions are ``kv.set`` calls with ``{"key": str, "value": int}``. The state root is a
hash chain over each block's writes (cheap, deterministic, order-sensitive); a transaction
already committed, or twice in one block, makes a block invalid. The validator set is
fixed unless a ``val.set`` transaction (``{"drop": index}``) removes a validator: it takes
effect at the height after the block that carries it. ``apply_commit`` is what a shell
does with ``CommitBlock``: block, QC, state, receipts and head in one batch.
"""

from __future__ import annotations

from typing import Any

from consensus.api import StoreState
from ledger import encoding, schema, tags
from ledger.block import (
    QC,
    Block,
    Header,
    ValidatorSet,
    receipts_root,
    tx_root,
    validators_from_obj,
    validators_hash,
    validators_to_obj,
)
from ledger.crypto import ZERO_HASH, Suite
from ledger.kv import KV
from ledger.merkle import merkle_root
from ledger.tx import OK, Receipt, SignedTx

GENESIS_TIME_MS = 1_700_000_000_000


def genesis_header(suite: Suite, chain_id: str, validators: ValidatorSet) -> Header:
    vh = validators_hash(suite, validators)
    empty = merkle_root(suite, [])
    return Header(chain_id=chain_id, height=0, prev_hash=ZERO_HASH, time_ms=GENESIS_TIME_MS,
                  view=0, proposer=0, tx_root=empty, receipts_root=empty,
                  state_root=ZERO_HASH, validators_hash=vh, next_validators_hash=vh)


def init_store(kv: KV, suite: Suite, chain_id: str, validators: ValidatorSet) -> None:
    header = genesis_header(suite, chain_id, validators)
    b = kv.batch()
    b.put(schema.block_key(0), Block(header, ()).encode())
    b.put(schema.validators_key(0), encoding.encode(validators_to_obj(validators)))
    b.put(schema.validators_key(1), encoding.encode(validators_to_obj(validators)))
    b.put(schema.state_root_key(0), ZERO_HASH)
    b.put(schema.HEAD, encoding.encode({"height": 0, "hash": header.hash(suite)}))
    kv.write(b)


def head_height(kv: KV) -> int:
    raw = kv.get(schema.HEAD)
    assert raw is not None
    h: int = encoding.decode(raw)["height"]
    return h


def read_block(kv: KV, height: int) -> Block | None:
    raw = kv.get(schema.block_key(height))
    return None if raw is None else Block.decode(raw)


def read_qc(kv: KV, height: int) -> QC | None:
    raw = kv.get(schema.qc_key(height))
    return None if raw is None else QC.decode(raw)


def read_validators(kv: KV, height: int) -> ValidatorSet:
    raw = kv.get(schema.validators_key(height))
    assert raw is not None, f"no validator set stored for height {height}"
    return validators_from_obj(encoding.decode(raw))


def store_state(kv: KV) -> tuple[StoreState, ValidatorSet]:
    """What a restarting shell hands to ``Replica``: the state and the next height's set."""
    h = head_height(kv)
    block = read_block(kv, h)
    assert block is not None
    consensus = dict(kv.scan(schema.CONSENSUS))
    return (StoreState(block.header, read_qc(kv, h), consensus), read_validators(kv, h + 1))


class ToyApp:
    """The Application over one node's KV (its head must be the ``parent`` it is given)."""

    def __init__(self, suite: Suite, kv: KV) -> None:
        self.suite = suite
        self.kv = kv

    def _check_parent(self, parent: Header) -> None:
        h = head_height(self.kv)
        block = read_block(self.kv, h)
        assert block is not None and block.header == parent, "application asked off its head"

    def _execute(self, parent: Header, txs: tuple[SignedTx, ...],
                 strict: bool) -> tuple[list[SignedTx], list[Receipt], bytes, ValidatorSet] | str:
        vals = read_validators(self.kv, parent.height + 1)
        seen: set[bytes] = set()
        kept: list[SignedTx] = []
        writes: list[Any] = []
        receipts: list[Receipt] = []
        next_vals = vals
        for tx in txs:
            tid = tx.tx_id(self.suite)
            if tid in seen or self.kv.get(schema.tx_location_key(tid)) is not None:
                if strict:
                    return f"transaction {tid.hex()[:12]} already committed or repeated"
                continue
            seen.add(tid)
            kept.append(tx)
            args = tx.body.args
            if tx.body.call == "val.set" and type(args.get("drop")) is int \
                    and 0 <= args["drop"] < len(next_vals) and len(next_vals) > 1:
                drop = args["drop"]
                next_vals = next_vals[:drop] + next_vals[drop + 1:]
                writes.append(["val.set", drop])
            else:
                writes.append([args.get("key"), args.get("value")])
            receipts.append(Receipt(tid, OK))
        root = self.suite.hd(tags.STATE_NODE, parent.state_root + encoding.encode(writes))
        return kept, receipts, root, next_vals

    def propose(self, parent: Header, height: int, view: int, proposer: int, time_ms: int,
                txs: tuple[SignedTx, ...]) -> Block:
        self._check_parent(parent)
        result = self._execute(parent, txs, strict=False)
        assert not isinstance(result, str)
        kept, receipts, root, next_vals = result
        header = Header(
            chain_id=parent.chain_id, height=height, prev_hash=parent.hash(self.suite),
            time_ms=time_ms, view=view, proposer=proposer,
            tx_root=tx_root(self.suite, kept),
            receipts_root=receipts_root(self.suite, receipts), state_root=root,
            validators_hash=parent.next_validators_hash,
            next_validators_hash=validators_hash(self.suite, next_vals))
        return Block(header, tuple(kept))

    def validate(self, parent: Header, block: Block) -> str | None:
        self._check_parent(parent)
        result = self._execute(parent, block.txs, strict=True)
        if isinstance(result, str):
            return result
        _, receipts, root, _ = result
        if root != block.header.state_root:
            return "state root mismatch"
        if receipts_root(self.suite, receipts) != block.header.receipts_root:
            return "receipts root mismatch"
        return None

    def next_validators(self, block: Block) -> ValidatorSet:
        vals = read_validators(self.kv, block.header.height)
        for tx in block.txs:
            drop = tx.body.args.get("drop")
            if tx.body.call == "val.set" and type(drop) is int and 0 <= drop < len(vals) \
                    and len(vals) > 1:
                vals = vals[:drop] + vals[drop + 1:]
        return vals


def apply_commit(kv: KV, suite: Suite, block: Block, qc: QC, app: ToyApp) -> None:
    """The shell's half of ``CommitBlock``: everything in one atomic batch."""
    h = block.header
    assert h.height == head_height(kv) + 1, "applying a block out of order"
    nxt = app.next_validators(block)
    b = kv.batch()
    b.put(schema.block_key(h.height), block.encode())
    b.put(schema.qc_key(h.height), qc.encode())
    b.put(schema.block_by_hash_key(h.hash(suite)), schema.height_bytes(h.height))
    for i, tid in enumerate(block.tx_ids(suite)):
        b.put(schema.tx_location_key(tid), encoding.encode([h.height, i]))
    b.put(schema.state_root_key(h.height), h.state_root)
    b.put(schema.validators_key(h.height + 1), encoding.encode(validators_to_obj(nxt)))
    b.put(schema.HEAD, encoding.encode({"height": h.height, "hash": h.hash(suite)}))
    kv.write(b)
