"""The transaction pool: admitted, signature-checked transactions waiting for a block.

Pure logic, no I/O. The node shell checks each transaction's signature once, in batches on a
thread pool, and hands the pool only transactions whose signature verified (``add`` is told
so and refuses anything else), so a replica never verifies one transaction twice. The pool:

- refuses a duplicate (same tx id), a stale nonce (below the sender's committed next nonce,
  read through the ``next_nonce`` callable), a nonce already pending under another body, a
  nonce too far ahead, and anything over the per-sender, total count or total byte limits,
  each with a stable reason string;
- orders each sender's transactions by nonce and offers, through ``take``, only runs of
  consecutive nonces starting at the sender's committed next nonce (a transaction after a gap
  could only fail with ``E_NONCE``);
- forgets committed transactions and every transaction their nonces made stale
  (``remove_committed``).

Every structure is bounded by ``PoolLimits``. ``precheck`` answers the cheap questions before
the shell spends a signature verification on a transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ledger.crypto import Suite
from ledger.tx import SignedTx

# Stable refusal reasons (the HTTP API returns them to clients).
R_DUPLICATE = "duplicate"
R_STALE_NONCE = "stale_nonce"
R_NONCE_PENDING = "nonce_pending"
R_NONCE_GAP = "nonce_too_far_ahead"
R_SENDER_FULL = "sender_limit"
R_POOL_FULL = "pool_full"
R_BAD_SIGNATURE = "bad_signature"
R_WRONG_CHAIN = "wrong_chain_id"
R_TOO_LARGE = "tx_too_large"


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Every bound of the pool, configured in one place."""

    max_txs: int = 100_000
    max_bytes: int = 256 * 1024 * 1024
    max_per_sender: int = 2_000
    max_nonce_gap: int = 2_000  # nonce may be at most this far above the committed next one
    max_tx_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class PoolEntry:
    tx: SignedTx
    tx_id: bytes
    size_bytes: int


class TxPool:
    """Verified pending transactions, per sender ordered by nonce."""

    def __init__(
        self,
        suite: Suite,
        chain_id: str,
        next_nonce: Callable[[bytes], int],
        limits: PoolLimits | None = None,
    ) -> None:
        self._suite = suite
        self._chain_id = chain_id
        self._next_nonce = next_nonce
        self.limits = limits or PoolLimits()
        self._by_id: dict[bytes, PoolEntry] = {}
        # sender -> {nonce: entry}; OrderedDict keeps senders in order of first arrival so
        # ``take`` serves them fairly (first come, first served per sender).
        self._by_sender: OrderedDict[bytes, dict[int, PoolEntry]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __contains__(self, tx_id: object) -> bool:
        return tx_id in self._by_id

    def get(self, tx_id: bytes) -> SignedTx | None:
        entry = self._by_id.get(tx_id)
        return entry.tx if entry else None

    def intern(self, tx: SignedTx) -> SignedTx:
        """The pool's own copy of ``tx`` if it holds an equal transaction (same body and
        signature, looked up by sender and nonce), else ``tx``. A proposal's transactions
        arrive freshly decoded; the pool's copies already carry their encoding, id and the
        fact that their signature verified."""
        queue = self._by_sender.get(tx.body.sender)
        if queue is None:
            return tx
        entry = queue.get(tx.body.nonce)
        return entry.tx if entry is not None and entry.tx == tx else tx

    def is_verified(self, tx: SignedTx) -> bool:
        """True when this exact transaction (same id and signature) was verified on entry:
        a replica re-executing a proposed block may skip its signature."""
        entry = self._by_id.get(tx.tx_id(self._suite))
        return entry is not None and entry.tx.sig == tx.sig

    def precheck(self, tx: SignedTx, size_bytes: int) -> str | None:
        """The reason ``tx`` would be refused whatever its signature, or None."""
        body = tx.body
        if body.chain_id != self._chain_id:
            return R_WRONG_CHAIN
        if size_bytes > self.limits.max_tx_bytes:
            return R_TOO_LARGE
        if tx.tx_id(self._suite) in self._by_id:
            return R_DUPLICATE
        committed = self._next_nonce(body.sender)
        if body.nonce < committed:
            return R_STALE_NONCE
        if body.nonce > committed + self.limits.max_nonce_gap:
            return R_NONCE_GAP
        queue = self._by_sender.get(body.sender)
        if queue is not None:
            if body.nonce in queue:
                return R_NONCE_PENDING
            if len(queue) >= self.limits.max_per_sender:
                return R_SENDER_FULL
        if len(self._by_id) >= self.limits.max_txs:
            return R_POOL_FULL
        if self._bytes + size_bytes > self.limits.max_bytes:
            return R_POOL_FULL
        return None

    def add(self, tx: SignedTx, size_bytes: int, signature_ok: bool) -> str | None:
        """Admit ``tx`` whose signature the caller checked; return None or the reason."""
        if not signature_ok:
            return R_BAD_SIGNATURE
        reason = self.precheck(tx, size_bytes)
        if reason is not None:
            return reason
        tx_id = tx.tx_id(self._suite)
        entry = PoolEntry(tx, tx_id, size_bytes)
        self._by_id[tx_id] = entry
        self._by_sender.setdefault(tx.body.sender, {})[tx.body.nonce] = entry
        self._bytes += size_bytes
        return None

    def take(
        self, max_count: int, max_bytes: int, exclude: Iterable[bytes] = ()
    ) -> list[SignedTx]:
        """Up to ``max_count`` transactions (``max_bytes`` in total) for a proposal: per
        sender the consecutive nonces from its committed next nonce, senders in arrival order.
        Ids in ``exclude`` (already proposed in an uncommitted block) are stepped over as if
        taken, so the nonces after them still count as consecutive. Nothing is removed."""
        skip = set(exclude)
        out: list[SignedTx] = []
        used_bytes = 0
        for sender, queue in self._by_sender.items():
            nonce = self._next_nonce(sender)
            while len(out) < max_count:
                entry = queue.get(nonce)
                if entry is None:
                    break
                nonce += 1
                if entry.tx_id in skip:
                    continue
                if used_bytes + entry.size_bytes > max_bytes:
                    return out
                out.append(entry.tx)
                used_bytes += entry.size_bytes
            if len(out) >= max_count:
                break
        return out

    def remove_committed(self, tx_ids: Iterable[bytes], next_nonces: Mapping[bytes, int]) -> int:
        """Drop committed ``tx_ids`` and, for each sender in ``next_nonces`` (sender -> its
        next nonce after the block), every pending transaction that nonce made stale.
        Returns how many transactions left the pool."""
        removed = 0
        for tx_id in tx_ids:
            entry = self._by_id.get(tx_id)
            if entry is not None:
                self._drop(entry)
                removed += 1
        for sender, next_nonce in next_nonces.items():
            queue = self._by_sender.get(sender)
            if queue is None:
                continue
            for entry in [e for n, e in queue.items() if n < next_nonce]:
                self._drop(entry)
                removed += 1
        return removed

    def _drop(self, entry: PoolEntry) -> None:
        del self._by_id[entry.tx_id]
        self._bytes -= entry.size_bytes
        sender = entry.tx.body.sender
        queue = self._by_sender[sender]
        del queue[entry.tx.body.nonce]
        if not queue:
            del self._by_sender[sender]


def verify_batch(suite: Suite, txs: Iterable[SignedTx]) -> list[bool]:
    """Check each signature; the shell runs this on a worker thread (pynacl and Tongsuo
    release the GIL while verifying)."""
    return [tx.verify_signature(suite) for tx in txs]
