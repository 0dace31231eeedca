"""The chain application: the consensus ``Application`` over the contracts, state tree and store.

``ChainApp(store, tree, executor, suite, chain_id)`` is what a replica drives
(``consensus.api.Application``) plus ``commit``, which the shell calls for ``CommitBlock``:

- ``propose(parent, height, view, proposer, time_ms, txs)`` executes ``txs`` on the head state
  (per sender in nonce order from its committed next nonce, leaving out transactions
  already committed, repeated, stale, behind a nonce gap or from a sender the chain does
  not know), and returns the
  block with ``tx_root``, ``receipts_root``, ``state_root``, ``validators_hash`` and
  ``next_validators_hash`` filled in.
- ``validate(parent, block)`` re-executes a block and compares every root; a block holding a
  transaction twice, one whose nonce is not its sender's next at its place in the block
  (already committed, stale or after a gap), one from a sender the chain does not know
  (``contracts.senders``, at the parent state and the block's time), or a transaction whose
  signature does not verify is invalid. Returns ``None`` or the reason.
- ``next_validators(block)`` is the set certifying the block after ``block``: the value of
  state key ``gov/validators`` (``contracts.keys.VALIDATORS``, written by governance) after
  the block, or the current set if the state holds none.
- ``leader_memory(block)`` and ``heartbeat_ms(block)`` are the chain parameters
  ``leader_memory_heights`` and ``heartbeat_ms`` after ``block`` (``..._at_head()`` the same
  after the applied head, for a replica's start); a chain whose genesis predates a
  parameter has its default.
- ``commit(block, qc, qc_verified=False)`` commits through ``BlockStore.commit_block`` with
  the very writes, receipts and state-tree update the execution produced, in one synced
  batch; returns the receipts. ``qc_verified=True``: the caller (the replica that assembled
  or checked the QC) verified its signatures, so the store does not verify them again.

State roots are computed without touching the KV or moving the tree: the writes are staged
(``StateTree.stage``) on the head's root. An executed block's result, with that staged
update and the parent root it was computed on, is cached by block hash (bounded), so the
block a replica validated, or the leader proposed, is neither executed nor its tree update
computed again on commit: the store adopts the staged update when the tree is still at its
parent root, and recomputes it otherwise.

Signatures: the executor does not check them. Transactions handed to ``propose`` were
checked by the shell's admission and are recorded as verified; ``validate`` checks the
signature of every transaction not recorded (the same id with the same signature) in the
node's one ``ledger.sigcache.VerifiedSignatures``, shared with admission.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from contracts import keys
from contracts.agents import SenderCheck
from contracts.params import BOUNDS, DEFAULTS, HEARTBEAT
from contracts.runtime import BlockContext, Executor
from ledger import encoding
from ledger.block import (
    MAX_BLOCK_TXS,
    QC,
    Block,
    Header,
    ValidatorSet,
    extends_problem,
    receipts_root,
    tx_root,
    validators_from_obj,
    validators_hash,
)
from ledger.crypto import Suite
from ledger.errors import InvalidInput
from ledger.sigcache import VerifiedSignatures
from ledger.smt import StagedUpdate, StateTree
from ledger.store import BlockStore
from ledger.tx import Receipt, SignedTx

EXECUTED_CACHE_BLOCKS = 16
LEADER_MEMORY = "leader_memory_heights"


@dataclass(frozen=True)
class Executed:
    """One block's execution over its parent: what ``commit`` writes."""

    block: Block
    writes: dict[str, bytes | None]
    receipts: list[Receipt]
    next_validators: ValidatorSet
    staged: StagedUpdate  # the tree update of ``writes``, on ``staged.parent_root``
    leader_memory: int  # the chain parameter ``leader_memory_heights`` after the block
    heartbeat_ms: int  # the chain parameter ``heartbeat_ms`` after the block


class ChainApp:
    def __init__(
        self,
        store: BlockStore,
        tree: StateTree,
        executor: Executor,
        suite: Suite,
        chain_id: str,
        sigs: VerifiedSignatures | None = None,
    ) -> None:
        """``sigs``: the node's one record of verified signatures, shared with admission
        (a fresh one when not given)."""
        if tree is not store.tree:
            raise ValueError("the chain app must use the store's own state tree")
        if store.suite.name != suite.name or store.chain_id != chain_id:
            raise ValueError("the chain app's suite and chain id must be the store's")
        self.store = store
        self.tree = tree
        self.executor = executor
        self.suite = suite
        self.chain_id = chain_id
        self.sigs = sigs if sigs is not None else VerifiedSignatures(suite)
        self._executed: OrderedDict[bytes, Executed] = OrderedDict()
        self.executions = 0  # blocks executed, for tests and metrics
        self.signature_checks = 0  # signatures validate had to verify itself

    # ---- consensus.api.Application ------------------------------------------------------

    def propose(
        self,
        parent: Header,
        height: int,
        view: int,
        proposer: int,
        time_ms: int,
        txs: tuple[SignedTx, ...],
    ) -> Block:
        self._require_head(parent, height)
        chosen = self._runnable(txs, time_ms)
        for tx in chosen:  # offered by our own pool: admission verified them
            self.sigs.add(tx)
        draft = Header(
            chain_id=self.chain_id,
            height=height,
            prev_hash=parent.hash(self.suite),
            time_ms=time_ms,
            view=view,
            proposer=proposer,
            tx_root=b"",
            receipts_root=b"",
            state_root=b"",
            validators_hash=b"",
            next_validators_hash=b"",
        )
        done = self._execute(draft, tuple(chosen))
        return done.block

    def _runnable(self, txs: tuple[SignedTx, ...], time_ms: int) -> list[SignedTx]:
        """The offered transactions a block can run: per sender the consecutive nonces from
        its committed next nonce (senders in order of first appearance), leaving out
        transactions already committed, repeated, stale, behind a nonce gap, or from a sender
        the chain does not know (``contracts.senders``; the block would be refused). A
        transaction left out is not consumed: it stays in the pool until its turn comes
        (the replica drops those no block can take)."""
        by_sender: dict[bytes, dict[int, SignedTx]] = {}
        seen: set[bytes] = set()
        for tx in txs:
            tx_id = tx.tx_id(self.suite)
            if tx_id in seen or self.store.tx_location(tx_id) is not None:
                continue
            seen.add(tx_id)
            by_sender.setdefault(tx.body.sender, {}).setdefault(tx.body.nonce, tx)
        chosen: list[SignedTx] = []
        may_send = SenderCheck(self.tree, self.suite, self.chain_id, time_ms)
        for sender, queue in by_sender.items():
            queue = {n: tx for n, tx in queue.items() if may_send(tx)}
            raw = self.tree.get(keys.nonce(sender))
            nonce = 0 if raw is None else int(encoding.decode_trusted(raw))
            while nonce in queue and len(chosen) < MAX_BLOCK_TXS:
                chosen.append(queue[nonce])
                nonce += 1
        return chosen

    def validate(self, parent: Header, block: Block) -> str | None:
        h = block.header
        if self._cached(block) is not None:
            return None
        try:
            self._require_head(parent, h.height)
        except InvalidInput as exc:
            return str(exc)
        problem = extends_problem(self.suite, self.chain_id, parent, block)
        if problem is not None:
            return problem
        # Each transaction carries its sender's next nonce at its place in the block, as an
        # honest proposal does (``_runnable``). This also refuses any transaction already
        # committed (its nonce is used), decided from the state alone: a node that started
        # from a snapshot, without the ids committed below it, judges a block as an archive
        # node does.
        expected: dict[bytes, int] = {}
        for tx in block.txs:
            sender = tx.body.sender
            if sender not in expected:
                raw = self.tree.get(keys.nonce(sender))
                expected[sender] = 0 if raw is None else int(encoding.decode_trusted(raw))
            if tx.body.nonce != expected[sender]:
                return (f"transaction {tx.tx_id(self.suite).hex()} has nonce {tx.body.nonce}; "
                        f"its sender's next is {expected[sender]} (used, or a gap)")
            expected[sender] += 1
        # The chain is permissioned: a key it does not know gets no nonce or receipt on it.
        may_send = SenderCheck(self.tree, self.suite, self.chain_id, h.time_ms)
        for tx in block.txs:
            if not may_send(tx):
                return f"sender {tx.body.sender.hex()} is not known to the chain"
        for tx in block.txs:
            if not self.sigs.known(tx):
                self.signature_checks += 1
                if not tx.verify_signature(self.suite):
                    return f"transaction {tx.tx_id(self.suite).hex()} has a bad signature"
                self.sigs.add(tx)
        done = self._execute(h, block.txs, cache=False, source=block)
        mine = done.block.header
        for name in ("tx_root", "receipts_root", "state_root", "validators_hash",
                     "next_validators_hash"):
            if getattr(mine, name) != getattr(h, name):
                return f"{name} mismatch: re-execution gives {getattr(mine, name).hex()}"
        self._cache(block.hash(self.suite), replace(done, block=block))
        return None

    def next_validators(self, block: Block) -> ValidatorSet:
        return self._result_of(block).next_validators

    def leader_memory(self, block: Block) -> int:
        return self._result_of(block).leader_memory

    def leader_memory_at_head(self) -> int:
        return self._param_int({}, LEADER_MEMORY)

    def heartbeat_ms(self, block: Block) -> int:
        return self._result_of(block).heartbeat_ms

    def heartbeat_ms_at_head(self) -> int:
        return self._param_int({}, HEARTBEAT)

    # ---- commit -------------------------------------------------------------------------

    def commit(self, block: Block, qc: QC, qc_verified: bool = False) -> list[Receipt]:
        """Commit a decided block (one synced batch); returns its receipts. ``qc_verified``:
        the caller verified the QC's signatures (the replica that assembled it)."""
        done = self._result_of(block)
        self.store.commit_block(block, qc, done.receipts, done.writes, done.next_validators,
                                staged=done.staged, qc_verified=qc_verified)
        height = block.header.height
        for block_hash in [k for k, e in self._executed.items() if e.block.header.height <= height]:
            del self._executed[block_hash]
        return done.receipts

    # ---- internals ----------------------------------------------------------------------

    def _cached(self, block: Block) -> Executed | None:
        """The cached execution of exactly ``block``. The block hash does not cover the
        transactions' signatures, so the transactions are compared too."""
        done = self._executed.get(block.hash(self.suite))
        if done is None or done.block.txs != block.txs:
            return None
        return done

    def _result_of(self, block: Block) -> Executed:
        done = self._cached(block)
        if done is not None:
            return done
        parent = self.store.head_header()
        reason = self.validate(parent, block)
        if reason is not None:
            raise InvalidInput(f"block {block.header.height} is invalid: {reason}")
        done = self._cached(block)
        if done is None:
            raise RuntimeError("a validated block is missing from the execution cache")
        return done

    def _require_head(self, parent: Header, height: int) -> None:
        head_height, head_hash = self.store.head()
        if parent.height != head_height or parent.hash(self.suite) != head_hash:
            raise InvalidInput(f"parent {parent.height} is not the applied head {head_height}")
        if height != head_height + 1:
            raise InvalidInput(f"height {height} does not follow the head {head_height}")

    def _execute(self, draft: Header, txs: tuple[SignedTx, ...], cache: bool = True,
                 source: Block | None = None) -> Executed:
        """Run ``txs`` on the head state; returns the block with every root filled in.
        ``source`` is the block ``txs`` come from (its computed tx_root is reused)."""
        tree = self.tree
        if tree.pending:
            raise RuntimeError("the state tree has an unwritten apply pending")
        root_of_txs = (source.computed_tx_root(self.suite) if source is not None
                       else tx_root(self.suite, txs))
        ctx = BlockContext(self.chain_id, self.suite, draft.height, draft.time_ms, draft.proposer)
        result = self.executor.execute_block(tree, ctx, txs)
        self.executions += 1
        writes = dict(result.writes)
        staged = tree.stage(writes, draft.height)
        root = staged.root
        current = self.store.validators_at(draft.height)
        nxt = self._next_set(writes, current)
        header = draft.with_changes(
            tx_root=root_of_txs,
            receipts_root=receipts_root(self.suite, result.receipts),
            state_root=root,
            validators_hash=validators_hash(self.suite, current),
            next_validators_hash=validators_hash(self.suite, nxt),
        )
        block = Block(header, txs)
        block.remember_tx_root(self.suite, root_of_txs)
        done = Executed(block, writes, list(result.receipts), nxt, staged,
                        self._param_int(writes, LEADER_MEMORY),
                        self._param_int(writes, HEARTBEAT))
        if cache:
            self._cache(header.hash(self.suite), done)
        return done

    def _next_set(self, writes: dict[str, bytes | None], current: ValidatorSet) -> ValidatorSet:
        if keys.VALIDATORS in writes:
            raw = writes[keys.VALIDATORS]
        else:
            raw = self.tree.get(keys.VALIDATORS)
        if raw is None:
            return current
        try:
            return validators_from_obj(encoding.decode(raw))
        except InvalidInput as exc:
            # Governance validates the set it writes; a bad one here is a broken contract.
            raise RuntimeError(f"state key {keys.VALIDATORS} holds no valid set: {exc}") from exc

    def _param_int(self, writes: dict[str, bytes | None], name: str) -> int:
        """The int chain parameter ``name`` (one the replica reads: the leader memory, the
        heartbeat) in the head state with ``writes`` over it, within its ``BOUNDS``."""
        key = keys.param(name)
        raw = writes[key] if key in writes else self.tree.get(key)
        if raw is None:  # a chain whose genesis predates the parameter
            return int(DEFAULTS[name])
        value = encoding.decode(raw)
        low, high = BOUNDS[name]
        if type(value) is not int or not low <= value <= high:
            # Genesis and governance check the parameter's bounds; this is a broken contract.
            raise RuntimeError(f"state key {key} holds {value!r}, not a value of {name}")
        return value

    def _cache(self, block_hash: bytes, done: Executed) -> None:
        self._executed[block_hash] = done
        self._executed.move_to_end(block_hash)
        while len(self._executed) > EXECUTED_CACHE_BLOCKS:
            self._executed.popitem(last=False)

    def known_verified(self, tx: SignedTx) -> bool:
        """Whether this very transaction (id and signature) is recorded as verified, by
        ``validate`` or by the node: it need not be verified again."""
        return self.sigs.known(tx)

