"""Audit replay: rebuild a chain from its genesis document, checking everything.

An auditor trusts only the genesis document (and, optionally, the anchor file the
consortium published: its genesis hash must match). ``replay`` takes the chain's blocks with
their QCs, in height order, from any source (a node's HTTP API, an exported file) and for
each one:

1. checks it extends the block before (height, ``prev_hash``);
2. checks every transaction's signature (no signature is taken on trust) and the ``tx_root``;
3. re-executes every transaction through the contracts on its own fresh state and compares
   ``state_root``, ``receipts_root``, ``validators_hash`` and ``next_validators_hash``;
4. checks the QC under the validator set that certifies that height (``verify_qc``);
5. commits it to its own store, so the next block is checked on top.

The first failure stops the replay with the height and the reason. The report lists, per
block, what was checked, and ends with the head hash and state root the auditor computed.

Hooks for the tools around a replay (``shell.auditrun``): ``on_block(audit)`` is called after
each block is committed to the replay's store (progress, checkpoints); ``before_commit(c)``
is called with what a block is about to commit — the block, its QC, the receipts and the
state writes its re-execution produced — after every check passed and before the replay's
store writes it (an export records the block first, so it is never behind the store).

Resuming: given a ``kv`` that already holds a replay of this genesis (the auditor's own
store, kept on disk between runs), ``replay`` continues on it: the blocks given must start
at its head + 1. Its genesis block must be the one ``doc`` makes; everything the store holds
was written by earlier replays after the same checks, and the store checks what it reads
against the hashes it recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.app import ChainApp
from contracts.registry import default_executor
from ledger.block import QC, Block, ValidatorSet, verify_qc
from ledger.errors import InvalidInput, ProofError
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block, init_store
from ledger.kv import KV, MemoryKV
from ledger.smt import StagedUpdate
from ledger.store import BlockStore
from ledger.tx import Receipt


class AuditFailure(InvalidInput):
    """The replayed chain does not check out at ``height``."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"height {height}: {reason}")
        self.height = height
        self.reason = reason


@dataclass
class BlockAudit:
    height: int
    block_hash: bytes
    txs: int
    failed_txs: int
    qc_votes: int
    state_root: bytes
    validator_change: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "block_hash": self.block_hash.hex(),
            "txs": self.txs,
            "failed_txs": self.failed_txs,
            "qc_votes": self.qc_votes,
            "state_root": self.state_root.hex(),
            "validator_change": self.validator_change,
        }


@dataclass(frozen=True)
class Committing:
    """What a checked block is about to commit to the replay's store."""

    block: Block
    qc: QC
    receipts: Sequence[Receipt]
    writes: Mapping[str, bytes | None]


@dataclass
class AuditReport:
    chain_id: str
    suite: str
    genesis_hash: bytes
    blocks: list[BlockAudit] = field(default_factory=list)
    resumed_from: int = 0  # the height the replay's store already held when this run began

    @property
    def head_height(self) -> int:
        return self.blocks[-1].height if self.blocks else self.resumed_from

    @property
    def signatures_checked(self) -> int:
        return sum(b.txs + b.qc_votes for b in self.blocks)

    def to_json(self) -> dict[str, Any]:
        last = self.blocks[-1] if self.blocks else None
        return {
            "chain_id": self.chain_id,
            "suite": self.suite,
            "genesis_hash": self.genesis_hash.hex(),
            "head_height": self.head_height,
            "resumed_from": self.resumed_from,
            # a resumed run that added no block knows its head from the resumed store only
            "head_hash": last.block_hash.hex() if last else (
                self.genesis_hash.hex() if self.resumed_from == 0 else None),
            "state_root": last.state_root.hex() if last else None,
            "transactions": sum(b.txs for b in self.blocks),
            "failed_transactions": sum(b.failed_txs for b in self.blocks),
            "signatures_checked": self.signatures_checked,
            "validator_changes": [b.height for b in self.blocks if b.validator_change],
            "blocks": [b.to_json() for b in self.blocks],
        }


class _ObservedStore(BlockStore):
    """The replay's store, telling ``before_commit`` what each block commits before it does."""

    def __init__(self, kv: KV, doc: GenesisDoc,
                 before_commit: Callable[[Committing], None] | None) -> None:
        super().__init__(kv, doc.crypto)
        self._before_commit = before_commit

    def commit_block(self, block: Block, qc: QC, receipts: Sequence[Receipt],
                     state_writes: Mapping[str, bytes | None],
                     next_validators: ValidatorSet, *, staged: StagedUpdate | None = None,
                     qc_verified: bool = False) -> None:
        if self._before_commit is not None:
            self._before_commit(Committing(block, qc, receipts, state_writes))
        super().commit_block(block, qc, receipts, state_writes, next_validators,
                             staged=staged, qc_verified=qc_verified)


def replay(
    doc: GenesisDoc,
    blocks: Iterable[tuple[Block, QC]],
    anchor: Anchor | None = None,
    kv: KV | None = None,
    on_block: Callable[[BlockAudit], None] | None = None,
    before_commit: Callable[[Committing], None] | None = None,
) -> AuditReport:
    """Replay ``blocks`` (heights 1, 2, … in order) on a fresh chain built from ``doc``, or,
    when ``kv`` already holds a replay of ``doc``, from its head + 1 on."""
    suite = doc.crypto
    store = _ObservedStore(kv if kv is not None else MemoryKV(), doc, before_commit)
    if store.empty:
        genesis_hash = init_store(store, doc).hash(suite)
    else:
        genesis_hash = genesis_block(doc, default_state(doc)).hash(suite)
        held = store.header(0)
        if held is None or held.hash(suite) != genesis_hash:
            raise AuditFailure(0, "the replay state given was built from another genesis")
    if anchor is not None and anchor.genesis_hash() != genesis_hash:
        raise AuditFailure(0, "the genesis document does not hash to the anchor's genesis")
    # The auditor checks every signature itself: its app starts with no signature known.
    app = ChainApp(store, store.tree, default_executor(), suite, doc.chain_id)
    report = AuditReport(doc.chain_id, suite.name, genesis_hash, resumed_from=store.head()[0])
    for block, qc in blocks:
        audit = _check_block(store, app, block, qc)
        report.blocks.append(audit)
        if on_block is not None:
            on_block(audit)
    return report


def _check_block(store: BlockStore, app: ChainApp, block: Block, qc: QC) -> BlockAudit:
    suite = store.suite
    height = block.header.height
    parent = store.head_header()
    if height != parent.height + 1:
        raise AuditFailure(height, f"expected height {parent.height + 1}")
    for index, tx in enumerate(block.txs):
        if not tx.verify_signature(suite):
            raise AuditFailure(height, f"transaction {index} has a signature that does not verify")
    reason = app.validate(parent, block)
    if reason is not None:
        if height == 1 and block.header.prev_hash != parent.hash(suite):
            reason = ("block 1 does not follow this genesis: the source holds another chain "
                      "(a genesis of the same chain id made again?) than the genesis document")
        raise AuditFailure(height, reason)
    validators = store.validators_at(height)
    try:
        verify_qc(suite, qc, block.header, validators)
    except ProofError as exc:
        raise AuditFailure(height, f"commit certificate: {exc}") from None
    receipts = app.commit(block, qc)
    header = block.header
    return BlockAudit(
        height=height,
        block_hash=header.hash(suite),
        txs=len(block.txs),
        failed_txs=sum(1 for r in receipts if not r.ok),
        qc_votes=len(qc.votes),
        state_root=header.state_root,
        validator_change=header.next_validators_hash != header.validators_hash,
    )
