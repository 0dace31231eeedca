"""The node's chain: KV, block store, state tree, application, pool and verified signatures.

``Chain.open(kv, doc, pool_limits)`` builds everything in one pass, each part receiving what
it depends on when it is built (no object is wired to another afterwards):

    kv → BlockStore (+ its StateTree) → VerifiedSignatures → ChainApp → TxPool

It is the driver's ``Storage`` (``persist``, ``commit``, ``drop_txs``) and what the API and
admission read (heights, receipts, state values, nonces). The node and the simulator both
use it: the simulator on a ``MemoryKV``, the node on LevelDB.

A store started from a snapshot (``ledger.snapshot``; ``store.base`` > 0) holds genesis and
the heights from its base on: the replica continues from its head as from any other, the
startup check walks back no further than the base (whose QC it checks under the set the
snapshot's certificate chain led to), and peers asking for blocks below the base get none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from consensus import durable
from consensus.api import ReplicaConfig, StoreState
from consensus.pool import PoolLimits, TxPool
from consensus.replica import Replica
from contracts.app import ChainApp
from contracts.keys import nonce as nonce_key
from contracts.registry import default_executor
from contracts.state import StateReader
from ledger import schema
from ledger.block import QC, Block, Header, ValidatorSet, verify_qc
from ledger.crypto import Suite
from ledger.encoding import decode_trusted
from ledger.errors import CorruptStore, InvalidInput
from ledger.genesis import GenesisDoc, genesis_block, init_store
from ledger.kv import KV
from ledger.limits import LEADER_MEMORY_MAX
from ledger.schema import CONSENSUS as CONSENSUS_PREFIX
from ledger.sigcache import VerifiedSignatures
from ledger.smt import StateTree
from ledger.snapshot import ensure_path_index
from ledger.store import BlockStore
from ledger.tx import Receipt

RECEIPT_CACHE_BLOCKS = 64
INTEGRITY_WINDOW = 64  # blocks checked back from the head at every start


class Chain:
    """One node's durable chain and what waits to join it. Build with ``Chain.open``."""

    def __init__(self, kv: KV, store: BlockStore, app: ChainApp, pool: TxPool,
                 sigs: VerifiedSignatures, genesis: GenesisDoc) -> None:
        self.kv = kv
        self.store = store
        self.app = app
        self.pool = pool
        self.sigs = sigs
        self.genesis = genesis
        self.suite: Suite = store.suite
        self.chain_id: str = store.chain_id
        self._receipts: OrderedDict[int, list[Receipt]] = OrderedDict()

    @classmethod
    def open(cls, kv: KV, doc: GenesisDoc, pool_limits: PoolLimits | None = None) -> Chain:
        """Open the chain in ``kv``, creating it from ``doc`` when ``kv`` is empty."""
        suite = doc.crypto
        store = BlockStore(kv, suite)
        if store.empty:
            init_store(store, doc)
            store = BlockStore(kv, suite)
        else:
            _check_same_genesis(store, doc)
        ensure_path_index(store)  # once, on a store older than the key-by-path index
        sigs = VerifiedSignatures(suite)
        app = ChainApp(store, store.tree, default_executor(), suite, doc.chain_id, sigs)
        pool = TxPool(suite, doc.chain_id, NonceReader(store.tree), pool_limits)
        return cls(kv, store, app, pool, sigs, doc)

    # ---- the driver's Storage --------------------------------------------------------------

    def persist(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        batch = self.kv.batch()
        for key, value in items:
            batch.put(key, value)
        self.kv.write(batch, sync=True)

    def commit(self, block: Block, qc: QC) -> list[Receipt]:
        # Every CommitBlock comes from the replica, which verified the QC: assembled from
        # votes it checked, or checked with the fetched block (consensus.checks).
        receipts = self.app.commit(block, qc, qc_verified=True)
        senders = {tx.body.sender for tx in block.txs}
        self.pool.remove_committed(block.tx_ids(self.suite),
                                   {s: self.committed_nonce(s) for s in senders})
        return receipts

    def drop_txs(self, tx_ids: Sequence[bytes]) -> None:
        self.pool.drop(tx_ids)

    # ---- the replica ------------------------------------------------------------------------

    def validators(self) -> ValidatorSet:
        """The set that certifies the next block."""
        return self.store.validators_at(self.height() + 1)

    def make_replica(self, secret: bytes, config: ReplicaConfig, abstain: bool = False,
                     tick_ms: int = 50) -> Replica:
        return Replica(self.suite, secret, self.chain_id, self.validators(), self.app,
                       self.pool, self.store_state(), config, abstain, tick_ms)

    def store_state(self) -> StoreState:
        """What a replica restores from this store (``consensus.api.StoreState``)."""
        return StoreState(self.store.head_header(), self.store.qc(self.height()),
                          dict(self.kv.scan(CONSENSUS_PREFIX)), self._recent_failures(),
                          self.app.leader_memory_at_head(), self.app.heartbeat_ms_at_head())

    def _recent_failures(self) -> tuple[Header, ...]:
        """The committed headers of the last ``LEADER_MEMORY_MAX`` heights decided in a view
        above 0, oldest first (``StoreState.recent``; below a state-synced store's base, the
        ones its snapshot carried)."""
        height = self.height()
        low = max(1, height - LEADER_MEMORY_MAX + 1)
        return tuple(self.store.late_entry(h)[0] for h in self.store.late_heights(low, height))

    def votes_are_mine(self, pubkey: bytes, confirm_lost: bool = False) -> bool:
        """Whether this store's consensus records are ``pubkey``'s own votes: true for a
        store this node created (the owner record is written at height 0) and for one whose
        owner key has left the validator set (a validator that rotated its key: the new key
        never voted), false for one with blocks and no owner record, or a validator's other
        than ours (see ``consensus.durable``). ``confirm_lost``: the operator accepts the
        loss; the store becomes ours."""
        owner = self.kv.get(durable.OWNER_KEY)
        lost = self.kv.get(durable.VOTES_LOST_KEY) is not None
        if owner == pubkey and not lost:
            return True
        rotated = (owner is not None and not lost
                   and all(v.pubkey != owner for v in self.validators()))
        if (owner is None and not lost and self.height() == 0) or rotated or confirm_lost:
            batch = self.kv.batch()
            batch.put(durable.OWNER_KEY, pubkey)
            batch.delete(durable.VOTES_LOST_KEY)
            self.kv.write(batch, sync=True)
            return True
        return False

    def integrity_problem(self, window: int = INTEGRITY_WINDOW) -> str | None:
        """What is wrong with this store, or None: the state tree is at the head's state
        root, and the last ``window`` blocks each follow their parent and carry a QC that
        verifies under their validator set (LevelDB checks its own records' checksums as it
        reads them). Run at every start; a damaged store is refused, never served."""
        store = self.store
        try:
            head = store.head_header()
            if store.tree.root != head.state_root:
                return f"the state tree is not at the state root of the head block {head.height}"
            if store.base > 0 and head.height - window < store.base:
                base = store.header(store.base)
                base_qc = store.qc(store.base)
                if base is None or base_qc is None:
                    return f"the base block {store.base} or its QC is missing"
                verify_qc(self.suite, base_qc, base, store.validators_at(store.base))
            for h in range(head.height, max(store.base, head.height - window), -1):
                header, parent = store.header(h), store.header(h - 1)
                qc = store.qc(h)
                if header is None or parent is None or qc is None:
                    return f"block {h} or its parent or QC is missing"
                if header.prev_hash != parent.hash(self.suite):
                    return f"block {h} does not follow block {h - 1}"
                verify_qc(self.suite, qc, header, store.validators_at(h))
        except (CorruptStore, InvalidInput) as exc:
            return str(exc)
        return None

    # ---- reads ------------------------------------------------------------------------------

    def height(self) -> int:
        return int(self.store.head()[0])

    def head_hash(self) -> bytes:
        return bytes(self.store.head()[1])

    def committed_nonce(self, sender: bytes) -> int:
        return NonceReader(self.store.tree)(sender)

    def head_state(self) -> StateReader:
        """The head state (CE bytes by key), as contracts and queries read it."""
        return self.store.tree

    def state_at(self, height: int) -> StateReader | None:
        """The state after block ``height`` (read as contracts read state), or None when this
        node holds no state root for that height (below a snapshot's base)."""
        root = self.store.state_root_at(height) if height >= 0 else None
        return None if root is None else StateAt(self.store.tree, root)

    def sender_states(self, height: int) -> tuple[StateReader, ...]:
        """The states around block ``height`` in which to judge whose key sent one of its
        transactions (``contracts.disclosure.tx_disclosed``): before it (a key rotated or
        unbound in the block) and after it (a key bound in the block)."""
        return tuple(s for s in (self.state_at(height - 1), self.state_at(height))
                     if s is not None)

    def state_value(self, key: str) -> bytes | None:
        """CE bytes of ``key``'s value at the head, or None."""
        return self.store.tree.get(key)

    def state_keys(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` state keys starting with ``prefix`` at the head, in key order."""
        out: list[str] = []
        start = schema.state_head_key(prefix)
        for k, _ in self.kv.scan(start):
            if len(out) >= limit:
                break
            out.append(k[len(schema.STATE_HEAD):].decode("utf-8"))
        return out

    def receipt(self, tx_id: bytes) -> tuple[int, int, Receipt] | None:
        """``(height, index, receipt)`` of a committed transaction. A block's receipts are
        loaded (and checked against its receipts_root) once, then kept in a small cache:
        committed receipts never change."""
        loc = self.store.tx_location(tx_id)
        if loc is None:
            return None
        height, index = loc
        receipts = self._receipts.get(height)
        if receipts is None:
            receipts = list(self.store.receipts(height) or [])
            self._receipts[height] = receipts
            if len(self._receipts) > RECEIPT_CACHE_BLOCKS:
                self._receipts.popitem(last=False)
        if index >= len(receipts) or receipts[index].tx_id != tx_id:
            raise CorruptStore(f"tx index of {tx_id.hex()} points at another receipt")
        return height, index, receipts[index]

    def blocks_from(self, height: int, count: int, max_bytes: int) -> list[tuple[bytes, bytes]]:
        """Up to ``count`` committed ``(block, qc)`` encodings from ``height`` on, at most
        ``max_bytes`` in total (but always one, so catch-up makes progress)."""
        out: list[tuple[bytes, bytes]] = []
        used = 0
        first = max(1, height)
        if first < self.store.base:
            return out  # history below a snapshot-started store's base is not here
        for h in range(first, first + count):
            block, qc = self.store.block(h), self.store.qc(h)
            if block is None or qc is None:
                break
            pair = (block.encode(), qc.encode())
            used += len(pair[0]) + len(pair[1])
            if out and used > max_bytes:
                break
            out.append(pair)
        return out

    def close(self) -> None:
        self.kv.close()


class NonceReader:
    """A sender's committed next nonce, read from the head state."""

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def __call__(self, sender: bytes) -> int:
        raw = self._state.get(nonce_key(sender))
        return 0 if raw is None else int(decode_trusted(raw))


class StateAt:
    """The state after one block, read as contracts read state (``StateReader``)."""

    def __init__(self, tree: StateTree, root: bytes) -> None:
        self._tree = tree
        self._root = root

    def get(self, key: str) -> bytes | None:
        return self._tree.get_at(self._root, key)


def _check_same_genesis(store: BlockStore, doc: GenesisDoc) -> None:
    stored = store.header(0)
    if stored is None:
        raise CorruptStore("the store has a head but no genesis block")
    # The genesis state is the contracts' state of ``doc``: its root is in the header, so
    # comparing headers compares every genesis setting.
    from ledger.genesis import default_state

    expected = genesis_block(doc, default_state(doc)).header
    if stored.chain_id != doc.chain_id or stored.hash(store.suite) != expected.hash(store.suite):
        raise InvalidInput(
            f"the store holds chain {stored.chain_id!r} with another genesis than the "
            f"genesis file ({doc.chain_id!r}): wrong data_dir or genesis_file")
