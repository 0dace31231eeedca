"""One replay run for the auditor's commands: its state, resuming, checkpoints, progress,
and stopping cleanly at a block the node keeps sealed.

**Resuming keeps the replay's store on disk**, in a directory the auditor names
(``--state-dir DIR``): ``DIR/db`` is a LevelDB store holding the auditor's own copy of the
chain, written only by ``contracts.audit.replay`` after every check of each block, and
``DIR/checkpoint.json`` records the last verified height, its block hash and state root and
the run's cumulative totals. Why a store and not a checkpoint file alone: continuing at
height h + 1 needs the whole state after h (any key may be read by the next block), the ids
of every committed transaction (a block repeating one is invalid) and the validator sets —
that is a store; a file holding all of it would be a store written another way. The store
writes one atomic, synced batch per block, so a crash leaves it at a complete block. The
checkpoint file is rewritten atomically every ``checkpoint_every`` blocks and at the end;
totals for blocks the store holds past the checkpoint are recounted from the store.

On resume the store's genesis must be the document's (``replay`` checks it), its head state
root is checked when it opens (``BlockStore``), and the source's block at the store's head
must have the store's head hash — the same chain, not a rewritten one — before any block
is taken from the source. Without ``--state-dir`` the replay runs in memory, from genesis.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from contracts.audit import AuditFailure, AuditReport, BlockAudit, Committing, replay
from ledger.block import QC, Block
from ledger.errors import InvalidInput
from ledger.genesis import Anchor, GenesisDoc
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.store import BlockStore
from shell.auditsrc import BlockSource, WithheldBlock
from shell.progress import Progress

CHECKPOINT = "checkpoint.json"
CHECKPOINT_EVERY_BLOCKS = 1000


@dataclass
class Totals:
    """What a replay checked, from genesis to its head (over every run that built it)."""

    blocks: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    signatures_checked: int = 0
    validator_changes: list[int] = field(default_factory=list)

    def add(self, audit: BlockAudit) -> None:
        self.blocks += 1
        self.transactions += audit.txs
        self.failed_transactions += audit.failed_txs
        self.signatures_checked += audit.txs + audit.qc_votes
        if audit.validator_change:
            self.validator_changes.append(audit.height)


@dataclass
class RunResult:
    report: AuditReport  # this run's blocks
    totals: Totals  # from genesis
    head_height: int
    head_hash: bytes
    state_root: bytes
    stopped: WithheldBlock | None

    def summary(self) -> dict[str, Any]:
        return {"chain_id": self.report.chain_id, "suite": self.report.suite,
                "genesis_hash": self.report.genesis_hash.hex(),
                "head_height": self.head_height, "head_hash": self.head_hash.hex(),
                "state_root": self.state_root.hex(), "resumed_from": self.report.resumed_from,
                "stopped": None if self.stopped is None else {
                    "height": self.stopped.height, "reason": self.stopped.reason},
                **asdict(self.totals),
                "blocks": [b.to_json() for b in self.report.blocks]}


def open_state(state_dir: Path | None) -> KV:
    if state_dir is None:
        return MemoryKV()
    try:
        return LevelKV(str(state_dir / "db"))
    except Exception as exc:  # plyvel: the directory is locked by another run, or damaged
        raise InvalidInput(f"cannot open the replay state in {state_dir}: "
                           f"{str(exc).splitlines()[0]}") from None


def _load_checkpoint(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        got: dict[str, Any] = json.loads(path.read_text())
        return got
    except (OSError, ValueError, RecursionError):
        return None  # recounted from the store below: the checkpoint is only a cache


def _save_checkpoint(state_dir: Path, doc: GenesisDoc, height: int, block_hash: bytes,
                     state_root: bytes, totals: Totals) -> None:
    doc_out = {"chain_id": doc.chain_id, "height": height, "block_hash": block_hash.hex(),
               "state_root": state_root.hex(), "totals": asdict(totals)}
    temp = state_dir / (CHECKPOINT + ".tmp")
    temp.write_text(json.dumps(doc_out, indent=2) + "\n")
    os.replace(temp, state_dir / CHECKPOINT)


def _recount(store: BlockStore, first: int, last: int, totals: Totals) -> None:
    """Add to ``totals`` the blocks ``first..last`` as the store holds them (already checked
    by the replay that wrote them)."""
    for h in range(first, last + 1):
        block, qc, receipts = store.block(h), store.qc(h), store.receipts(h)
        if block is None or qc is None or receipts is None:
            raise InvalidInput(f"the replay state has no block {h} below its head")
        header = block.header
        totals.add(BlockAudit(h, header.hash(store.suite), len(block.txs),
                              sum(1 for r in receipts if not r.ok), len(qc.votes),
                              header.state_root,
                              header.next_validators_hash != header.validators_hash))


def _resumed_totals(state_dir: Path | None, store: BlockStore) -> Totals:
    if store.empty:
        return Totals()
    head = store.head()[0]
    ckpt = _load_checkpoint(state_dir) if state_dir is not None else None
    totals, counted = Totals(), 0
    if ckpt is not None and isinstance(ckpt.get("height"), int) and 0 <= ckpt["height"] <= head:
        header = store.header(ckpt["height"])
        if header is not None and header.hash(store.suite).hex() == ckpt.get("block_hash"):
            kept = _checked_totals(ckpt.get("totals"), ckpt["height"], store)
            if kept is not None:
                totals, counted = kept, ckpt["height"]
    _recount(store, counted + 1, head, totals)
    return totals


def _checked_totals(raw: Any, height: int, store: BlockStore) -> Totals | None:
    """The checkpoint's totals up to ``height`` when they are well formed and agree with
    what the store shows cheaply, else None (they are recounted: the checkpoint is only a
    cache; user walk: a damaged one crashed the replay, a changed one was printed)."""
    fields = {"blocks", "transactions", "failed_transactions", "signatures_checked",
              "validator_changes"}
    if not isinstance(raw, dict) or set(raw) != fields:
        return None
    counts = [raw[k] for k in sorted(fields - {"validator_changes"})]
    changes = raw["validator_changes"]
    if not all(type(v) is int and v >= 0 for v in counts) or not isinstance(changes, list) \
            or not all(type(h) is int and 0 < h <= height for h in changes):
        return None
    totals = Totals(**raw)
    # one block per height; a transaction's signature and the QC's votes each checked once
    if totals.blocks != height or totals.failed_transactions > totals.transactions \
            or totals.signatures_checked < totals.transactions + height:
        return None
    for h in changes:  # each named change is one in its block's header
        header = store.header(h)
        if header is None or header.next_validators_hash == header.validators_hash:
            return None
    return totals


def run_replay(doc: GenesisDoc, anchor: Anchor | None, source: BlockSource,
               state_dir: Path | None, to_height: int | None, stream: TextIO | None,
               every_blocks: int = CHECKPOINT_EVERY_BLOCKS,
               before_commit: Callable[[Committing], None] | None = None,
               rows_taken: Callable[[], int] | None = None,
               label: str = "replay", start_at_most: int | None = None) -> RunResult:
    """Replay ``source`` from the state's head + 1 to ``to_height`` (default: the source's
    head); stops early, without error, at a block the node keeps sealed (``stopped``).
    ``start_at_most``: refuse a replay state whose head is past this height (an export's
    tip: the blocks in between could no longer be recorded)."""
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    kv = open_state(state_dir)
    try:
        view = BlockStore(kv, doc.crypto)
        totals = _resumed_totals(state_dir, view)
        start = 0 if view.empty else view.head()[0]
        if start_at_most is not None and start > start_at_most:
            raise InvalidInput(f"the replay state in {state_dir} is at height {start}, past "
                               f"the export's tip {start_at_most}; remove {state_dir} (it is "
                               "rebuilt from genesis, nothing exported is written twice) and "
                               "run again")
        if start > 0:
            held = view.head()[1]
            if source.block_hash(start) != held:
                raise AuditFailure(start, "the source's block at this height is not the one "
                                          "this replay state verified (another chain, or a "
                                          "rewritten one)")
        head = source.head()
        last = head if to_height is None else min(head, to_height)
        progress = (Progress(label, start + 1, last, stream, every_blocks)
                    if stream is not None else None)
        stopped: list[WithheldBlock] = []

        def blocks() -> Iterator[tuple[Block, QC]]:
            try:
                yield from source.blocks(start + 1, last)
            except WithheldBlock as exc:
                stopped.append(exc)

        def on_block(audit: BlockAudit) -> None:
            totals.add(audit)
            if progress is not None:
                progress.update(audit.height, rows_taken() if rows_taken else 0)
            if state_dir is not None and audit.height % every_blocks == 0:
                _save_checkpoint(state_dir, doc, audit.height, audit.block_hash,
                                 audit.state_root, totals)

        try:
            report = replay(doc, blocks(), anchor, kv, on_block, before_commit)
        finally:
            if progress is not None:
                progress.finish()
            view = BlockStore(kv, doc.crypto)  # reread: the replay moved the head
            if state_dir is not None and not view.empty:
                height, block_hash = view.head()
                _save_checkpoint(state_dir, doc, height, block_hash,
                                 view.head_header().state_root, totals)
        height, block_hash = view.head()
        return RunResult(report, totals, height, block_hash, view.head_header().state_root,
                         stopped[0] if stopped else None)
    finally:
        kv.close()
