"""The transaction pool: admitted, signature-checked transactions waiting for a block.

Pure logic, no I/O and no clock: time comes in as ``now_ms`` arguments. The node shell
checks each transaction's signature once, in batches on a thread pool, and hands the pool
only transactions whose signature verified (``add`` is told so and refuses anything else),
so a replica never verifies one transaction twice.

Ready and future transactions. A sender's *ready* transactions are the run of consecutive
nonces from its committed next nonce (its *base*); anything after a gap is *future*: it
cannot run until the gap fills, and may never. The two are kept apart because one sender
could otherwise fill every pool with transactions that never commit (nonces 1..2,000 with
nonce 0 withheld jammed all four pools of a network until every node restarted):

- future transactions are capped per sender (``max_future_per_sender``) and in total
  (``max_future_txs``), and expire ``future_ttl_ms`` after they arrived; when the future
  slots are full, a newcomer takes the highest nonce of the sender holding the most
  futures if that sender holds more than the newcomer's would, so no sender can hold the
  slots against another;
- ready transactions come first: ``take`` offers only ready ones, and a full pool
  (``max_txs``, ``max_bytes``) evicts future transactions before it refuses a ready one;
- back-pressure is per sender before it is global: once ready transactions reach half of
  ``backlog_txs``, a sender holding its share (``backlog_txs / (2 * senders with ready
  transactions)``, at least ``sender_share_min``) gets ``sender_busy`` while others are
  still admitted; at ``backlog_txs`` every new ready transaction gets ``busy``, and so does
  every new future one (the nonce it waits for would be refused busy too: admitted, it
  would commit only if its client resent that gap). A single sender therefore never
  reaches the global bound on its own.

The pool also refuses a duplicate (same tx id), a stale nonce (below the sender's base), a
nonce already pending under another body, a nonce more than ``max_nonce_gap`` above the
base, a sender over ``max_per_sender``, each with a stable reason string (``R_*``).

Order. ``take`` returns ready transactions in the order they *became* ready (on arrival,
or when the gap before them filled, or when a commit moved the base up to them), which
keeps each sender's nonces consecutive from its base and serves the sender waiting longest
first. Nothing that arrives later is offered before a transaction already ready: when the
transactions each take offers commit, a transaction that became ready with ``k - 1``
ready ones ahead of it is offered within ``ceil(k / max_count)`` takes, whatever anyone
sends meanwhile (``k`` is bounded by the pool's limits; what is ahead only shrinks).

The shell's contract: after each committed block, call ``remove_committed`` with the
block's tx ids and each of its senders' next nonce (the pool keeps every sender's base
from then on, and reads ``next_nonce`` only for a sender it holds nothing of); call
``expire(now_ms)`` now and then (``add`` expires too). ``precheck`` answers every question
but the signature before the shell spends a verification.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ledger.crypto import Suite
from ledger.limits import MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS, MAX_TX_BYTES
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
R_BUSY = "busy"  # the ready backlog is full: everyone retries later (HTTP 503)
R_SENDER_BUSY = "sender_busy"  # this sender holds its share: it retries later (HTTP 429)
R_FUTURE_FULL = "future_limit"  # no room for another transaction behind a nonce gap
# Refusals that say "not now" rather than "never": a client may retry the same transaction.
RETRY_LATER = frozenset({R_BUSY, R_SENDER_BUSY, R_FUTURE_FULL, R_POOL_FULL})


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Every bound of the pool, configured in one place."""

    max_txs: int = 100_000  # pending transactions, ready and future
    max_bytes: int = 256 * 1024 * 1024  # their encoded bytes
    max_per_sender: int = 2_000  # pending transactions of one sender
    max_nonce_gap: int = 2_000  # nonce may be at most this far above the committed next one
    max_tx_bytes: int = MAX_TX_BYTES
    backlog_txs: int = 2_000  # ready transactions: shares from half of it, busy at all of it
    sender_share_min: int = 16  # ready transactions a sender may hold under any pressure
    max_future_per_sender: int = 16  # transactions of one sender behind a nonce gap
    max_future_txs: int = 4_096  # transactions behind a nonce gap, all senders
    future_ttl_ms: int = 60_000  # a transaction behind a gap is dropped this long after arrival

    def check(self) -> None:
        for name in ("max_txs", "max_bytes", "max_per_sender", "max_tx_bytes", "backlog_txs",
                     "sender_share_min", "max_future_per_sender", "max_future_txs",
                     "future_ttl_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"pool limit {name} must be ≥ 1")
        if self.max_nonce_gap < 0:
            raise ValueError("pool limit max_nonce_gap must be ≥ 0")
        if self.max_tx_bytes > MAX_TX_BYTES:
            raise ValueError(f"pool limit max_tx_bytes is above MAX_TX_BYTES ({MAX_TX_BYTES})")


@dataclass(frozen=True, slots=True)
class PoolEntry:
    tx: SignedTx
    tx_id: bytes
    size_bytes: int
    arrival_ms: int = 0


class _Sender:
    """One sender's pending transactions: ``ready`` holds exactly the nonces
    ``base .. ready_end - 1``; ``future`` holds nonces above ``ready_end`` (which is absent)."""

    __slots__ = ("base", "ready_end", "ready", "future", "future_bytes")

    def __init__(self, base: int) -> None:
        self.base = base
        self.ready_end = base
        self.ready: dict[int, PoolEntry] = {}
        self.future: dict[int, PoolEntry] = {}
        self.future_bytes = 0

    def __len__(self) -> int:
        return len(self.ready) + len(self.future)

    def get(self, nonce: int) -> PoolEntry | None:
        entry = self.ready.get(nonce)
        return entry if entry is not None else self.future.get(nonce)


class TxPool:
    """Verified pending transactions, per sender split into ready and future."""

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
        self.limits.check()
        self._by_id: dict[bytes, PoolEntry] = {}
        self._senders: dict[bytes, _Sender] = {}
        # Ready entries in the order they became ready (what ``take`` walks), and future
        # entries in arrival order (what ``expire`` walks); OrderedDicts, because both lose
        # entries at the front all the time.
        self._ready: OrderedDict[bytes, PoolEntry] = OrderedDict()
        self._future: OrderedDict[bytes, PoolEntry] = OrderedDict()
        # count -> the senders holding exactly that many future entries (ordered sets), so
        # the sender holding the most is found in at most ``max_future_per_sender`` steps.
        self._holders: list[dict[bytes, None]] = [
            {} for _ in range(self.limits.max_future_per_sender + 1)]
        self._bytes = 0
        self._future_bytes = 0
        self._ready_senders = 0  # senders with at least one ready entry
        self.evicted = 0  # future transactions evicted to make room
        self.expired = 0  # future transactions dropped after ``future_ttl_ms``

    # ---- what the shell and the replica read -----------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    @property
    def future_count(self) -> int:
        return len(self._future)

    @property
    def busy(self) -> bool:
        """Whether every new ready transaction is refused ``busy`` now (the shell may answer
        a whole client request 503 on this before decoding it)."""
        return len(self._ready) >= self.limits.backlog_txs

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
        sender = self._senders.get(tx.body.sender)
        if sender is None:
            return tx
        entry = sender.get(tx.body.nonce)
        return entry.tx if entry is not None and entry.tx == tx else tx

    def is_verified(self, tx: SignedTx) -> bool:
        """True when this exact transaction (same id and signature) was verified on entry:
        a replica re-executing a proposed block may skip its signature."""
        entry = self._by_id.get(tx.tx_id(self._suite))
        return entry is not None and entry.tx.sig == tx.sig

    def take(
        self, max_count: int, max_bytes: int, exclude: Iterable[bytes] = ()
    ) -> list[SignedTx]:
        """Up to ``max_count`` ready transactions (``max_bytes`` in total, and never more
        than a block may carry: ``MAX_BLOCK_TXS``, ``MAX_BLOCK_TX_BYTES``) for a proposal,
        in the order they became ready: per sender consecutive nonces from its committed
        next nonce, the longest-waiting first. Ids in ``exclude`` (already proposed in an
        uncommitted block) are stepped over as if taken, so the nonces after them still
        count as consecutive. Stops at the first transaction that does not fit, so what is
        returned is always a prefix of the ready order. Nothing is removed."""
        max_count = min(max_count, MAX_BLOCK_TXS)
        max_bytes = min(max_bytes, MAX_BLOCK_TX_BYTES)
        skip = set(exclude)
        out: list[SignedTx] = []
        used_bytes = 0
        for entry in self._ready.values():
            if len(out) >= max_count:
                break
            if entry.tx_id in skip:
                continue
            if used_bytes + entry.size_bytes > max_bytes:
                break
            out.append(entry.tx)
            used_bytes += entry.size_bytes
        return out

    def waiting(self, arrived_before_ms: int, limit: int) -> list[SignedTx]:
        """Up to ``limit`` ready transactions that arrived before ``arrived_before_ms``, the
        first in the ready order (looking at no more than ``4 * limit`` of them): what has
        waited long enough to be offered to the peers again."""
        out: list[SignedTx] = []
        for looked, entry in enumerate(self._ready.values()):
            if len(out) >= limit or looked >= 4 * limit:
                break
            if entry.arrival_ms < arrived_before_ms:
                out.append(entry.tx)
        return out

    # ---- admission -------------------------------------------------------------------------

    def precheck(self, tx: SignedTx, size_bytes: int) -> str | None:
        """The reason ``tx`` would be refused whatever its signature, or None. Changes
        nothing (``add`` does the evictions this answer counted on)."""
        body = tx.body
        if body.chain_id != self._chain_id:
            return R_WRONG_CHAIN
        if size_bytes > self.limits.max_tx_bytes:
            return R_TOO_LARGE
        if tx.tx_id(self._suite) in self._by_id:
            return R_DUPLICATE
        sender = self._senders.get(body.sender)
        base = sender.base if sender is not None else self._next_nonce(body.sender)
        if body.nonce < base:
            return R_STALE_NONCE
        if body.nonce > base + self.limits.max_nonce_gap:
            return R_NONCE_GAP
        if sender is None:
            return self._room(body.sender, None, body.nonce == base, size_bytes)
        if sender.get(body.nonce) is not None:
            return R_NONCE_PENDING
        if len(sender) >= self.limits.max_per_sender:
            return R_SENDER_FULL
        return self._room(body.sender, sender, body.nonce == sender.ready_end, size_bytes)

    def add(self, tx: SignedTx, size_bytes: int, signature_ok: bool, *, now_ms: int) -> str | None:
        """Admit ``tx`` whose signature the caller checked; return None or the reason.
        ``size_bytes`` is its encoded length; ``now_ms`` the caller's clock (monotonic),
        which stamps the arrival and expires older future transactions first."""
        if not signature_ok:
            return R_BAD_SIGNATURE
        self.expire(now_ms)
        reason = self.precheck(tx, size_bytes)
        if reason is not None:
            return reason
        if len(tx.encode()) != size_bytes:
            raise ValueError("size_bytes must be the transaction's encoded length")
        body = tx.body
        sender = self._senders.get(body.sender)
        if sender is None:
            sender = self._senders[body.sender] = _Sender(self._next_nonce(body.sender))
        entry = PoolEntry(tx, tx.tx_id(self._suite), size_bytes, now_ms)
        if body.nonce == sender.ready_end:
            self._make_room(body.sender, size_bytes)
            self._link_ready(sender, entry)
            self._promote(body.sender, sender)
        else:
            if len(self._future) >= self.limits.max_future_txs:
                victim = self._future_victim(len(sender.future))
                if victim is None:
                    raise AssertionError("precheck admitted a future tx without a victim")
                self._evict_highest(victim)
            self._link_future(body.sender, sender, entry)
        self._by_id[entry.tx_id] = entry
        self._bytes += size_bytes
        return None

    def _room(self, key: bytes, sender: _Sender | None, joins_ready: bool,
              size_bytes: int) -> str | None:
        """The share, backlog, future and capacity checks of a newcomer from ``key``."""
        if self._over_share(len(sender.ready) if sender is not None else 0):
            return R_SENDER_BUSY
        if joins_ready:
            if len(self._ready) >= self.limits.backlog_txs:
                return R_BUSY
            return None if self._can_make_room(key, sender, size_bytes) else R_POOL_FULL
        if len(self._ready) >= self.limits.backlog_txs:
            # The nonce it waits for would be refused busy now: taking it would tell its
            # client "admitted" for a transaction that commits only if that gap is resent.
            return R_BUSY
        held_future = len(sender.future) if sender is not None else 0
        if held_future >= self.limits.max_future_per_sender:
            return R_FUTURE_FULL
        if (len(self._future) >= self.limits.max_future_txs
                and self._future_victim(held_future) is None):
            return R_FUTURE_FULL
        if (len(self._by_id) >= self.limits.max_txs
                or self._bytes + size_bytes > self.limits.max_bytes):
            return R_POOL_FULL  # a future transaction never evicts for room
        return None

    def _over_share(self, held_ready: int) -> bool:
        """Whether a sender holding ``held_ready`` ready transactions is at its share: only
        under pressure (ready transactions at half the backlog or more), and never below
        ``sender_share_min``."""
        backlog = self.limits.backlog_txs
        if 2 * len(self._ready) < backlog:
            return False
        senders = self._ready_senders + (0 if held_ready else 1)
        share = max(self.limits.sender_share_min, backlog // (2 * senders))
        return held_ready >= share

    def _can_make_room(self, key: bytes, sender: _Sender | None, size_bytes: int) -> bool:
        """Whether evicting other senders' future transactions can fit one more ready one."""
        need_count = len(self._by_id) + 1 - self.limits.max_txs
        need_bytes = self._bytes + size_bytes - self.limits.max_bytes
        if need_count <= 0 and need_bytes <= 0:
            return True
        own_count = len(sender.future) if sender is not None else 0
        own_bytes = sender.future_bytes if sender is not None else 0
        return (need_count <= len(self._future) - own_count
                and need_bytes <= self._future_bytes - own_bytes)

    def _make_room(self, key: bytes, size_bytes: int) -> None:
        """Evict future transactions of senders other than ``key`` (the most-holding sender's
        highest nonce first) until one more ready transaction of ``size_bytes`` fits."""
        while (len(self._by_id) + 1 > self.limits.max_txs
               or self._bytes + size_bytes > self.limits.max_bytes):
            victim = self._heaviest_holder(exclude=key)
            if victim is None:
                raise AssertionError("precheck admitted a ready tx the pool cannot fit")
            self._evict_highest(victim)

    def _future_victim(self, held_future: int) -> bytes | None:
        """The sender holding the most future transactions, if it holds at least two more
        than ``held_future`` (so taking one of its slots leaves it no worse off than the
        newcomer's sender); None when future slots are shared as evenly as they can be."""
        for count in range(self.limits.max_future_per_sender, held_future + 1, -1):
            for key in self._holders[count]:
                return key
        return None

    def _heaviest_holder(self, exclude: bytes) -> bytes | None:
        for count in range(self.limits.max_future_per_sender, 0, -1):
            for key in self._holders[count]:
                if key != exclude:
                    return key
        return None

    def _evict_highest(self, key: bytes) -> None:
        sender = self._senders[key]
        entry = self._unlink_future(key, sender, max(sender.future))
        self._forget(key, sender, entry)
        self.evicted += 1

    # ---- leaving the pool ------------------------------------------------------------------

    def remove_committed(self, tx_ids: Iterable[bytes], next_nonces: Mapping[bytes, int]) -> int:
        """Drop committed ``tx_ids`` and, for each sender in ``next_nonces`` (sender -> its
        next nonce after the block), every pending transaction that nonce made stale; the
        future transactions the new nonce reaches become ready. A committed transaction the
        pool holds also moves its sender's base past its nonce (it did commit). Returns how
        many transactions left the pool."""
        bases = dict(next_nonces)
        for tx_id in tx_ids:
            entry = self._by_id.get(tx_id)
            if entry is not None:
                key, nonce = entry.tx.body.sender, entry.tx.body.nonce
                bases[key] = max(bases.get(key, 0), nonce + 1)
        return sum(self._advance(key, base) for key, base in bases.items())

    def drop(self, tx_ids: Iterable[bytes]) -> int:
        """Forget transactions a proposal could not run (``consensus.api.DropTxs``), with
        every later nonce of their senders: those can't run without them either. Bases do
        not move (nothing committed). Returns how many transactions left the pool."""
        dropped = 0
        for tx_id in tx_ids:
            entry = self._by_id.get(tx_id)
            if entry is None:
                continue
            key, nonce = entry.tx.body.sender, entry.tx.body.nonce
            sender = self._senders[key]
            for n in sorted(sender.future):
                if n >= nonce:
                    self._forget(key, sender, self._unlink_future(key, sender, n))
                    dropped += 1
            if nonce in sender.ready:
                cut = [sender.ready.pop(n) for n in range(nonce, sender.ready_end)]
                sender.ready_end = nonce
                if not sender.ready:
                    self._ready_senders -= 1
                for e in cut:
                    del self._ready[e.tx_id]
                    self._forget(key, sender, e)
                dropped += len(cut)
        return dropped

    def expire(self, now_ms: int) -> int:
        """Drop future transactions that arrived ``future_ttl_ms`` or longer before
        ``now_ms``; returns how many."""
        deadline = now_ms - self.limits.future_ttl_ms
        dropped = 0
        while self._future:
            entry = next(iter(self._future.values()))
            if entry.arrival_ms > deadline:
                break
            key = entry.tx.body.sender
            sender = self._senders[key]
            self._forget(key, sender, self._unlink_future(key, sender, entry.tx.body.nonce))
            dropped += 1
        self.expired += dropped
        return dropped

    def _advance(self, key: bytes, base: int) -> int:
        """Move ``key``'s base up to ``base``: drop what it made stale, promote what it
        reached."""
        sender = self._senders.get(key)
        if sender is None or base <= sender.base:
            return 0
        stale = [sender.ready[n] for n in range(sender.base, min(base, sender.ready_end))]
        stale += [self._unlink_future(key, sender, n) for n in sorted(sender.future) if n < base]
        had_ready = bool(sender.ready)
        for entry in stale:
            if entry.tx_id in self._ready:
                del sender.ready[entry.tx.body.nonce]
                del self._ready[entry.tx_id]
        if had_ready and not sender.ready:
            self._ready_senders -= 1
        sender.base = base
        sender.ready_end = max(sender.ready_end, base)
        self._promote(key, sender)
        for entry in stale:
            self._forget(key, sender, entry)
        return len(stale)

    # ---- moving entries between the structures ---------------------------------------------

    def _link_ready(self, sender: _Sender, entry: PoolEntry) -> None:
        if entry.tx.body.nonce != sender.ready_end:
            raise AssertionError("a ready entry must extend its sender's run")
        if not sender.ready:
            self._ready_senders += 1
        sender.ready[sender.ready_end] = entry
        sender.ready_end += 1
        self._ready[entry.tx_id] = entry

    def _promote(self, key: bytes, sender: _Sender) -> None:
        """Future entries the run now reaches become ready, in nonce order."""
        while sender.ready_end in sender.future:
            self._link_ready(sender, self._unlink_future(key, sender, sender.ready_end))

    def _link_future(self, key: bytes, sender: _Sender, entry: PoolEntry) -> None:
        held = len(sender.future)
        sender.future[entry.tx.body.nonce] = entry
        sender.future_bytes += entry.size_bytes
        self._future[entry.tx_id] = entry
        self._future_bytes += entry.size_bytes
        self._move_holder(key, held, held + 1)

    def _unlink_future(self, key: bytes, sender: _Sender, nonce: int) -> PoolEntry:
        held = len(sender.future)
        entry = sender.future.pop(nonce)
        sender.future_bytes -= entry.size_bytes
        del self._future[entry.tx_id]
        self._future_bytes -= entry.size_bytes
        self._move_holder(key, held, held - 1)
        return entry

    def _move_holder(self, key: bytes, old: int, new: int) -> None:
        if old:
            del self._holders[old][key]
        if new:
            self._holders[new][key] = None

    def _forget(self, key: bytes, sender: _Sender, entry: PoolEntry) -> None:
        """The last step of every removal, once the entry is in neither the run nor the
        future map: the index, the byte count, and the sender's record once it is empty."""
        del self._by_id[entry.tx_id]
        self._bytes -= entry.size_bytes
        if not len(sender) and self._senders.get(key) is sender:
            del self._senders[key]

    # ---- checks ----------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError unless every structure agrees with every other and every
        bound holds (tests call this after each step; it walks everything)."""
        lim = self.limits

        def need(ok: bool, what: str) -> None:
            if not ok:
                raise AssertionError(f"pool invariant broken: {what}")

        need(len(self._by_id) == len(self._ready) + len(self._future), "ready + future = all")
        need(len(self._by_id) <= lim.max_txs and self._bytes <= lim.max_bytes, "hard bounds")
        need(len(self._future) <= lim.max_future_txs, "future bound")
        need(self._bytes == sum(e.size_bytes for e in self._by_id.values()), "byte count")
        need(self._future_bytes == sum(e.size_bytes for e in self._future.values()),
             "future byte count")
        need(self._ready_senders == sum(1 for s in self._senders.values() if s.ready),
             "ready sender count")
        held = 0
        for key, s in self._senders.items():
            need(len(s) > 0 and len(s) <= lim.max_per_sender, "sender record non-empty, bounded")
            need(list(s.ready) == list(range(s.base, s.ready_end)), "ready run consecutive")
            need(s.ready_end not in s.future and all(n > s.ready_end for n in s.future),
                 "futures lie behind the gap")
            need(len(s.future) <= lim.max_future_per_sender, "future per sender")
            need(key in self._holders[len(s.future)] if s.future else True, "holder bucket")
            need(s.future_bytes == sum(e.size_bytes for e in s.future.values()), "sender bytes")
            held += len(s.future)
            for e in [*s.ready.values(), *s.future.values()]:
                need(self._by_id.get(e.tx_id) is e and e.tx.body.sender == key, "entry index")
        need(held == len(self._future), "future entries all belong to senders")
        need(sum(len(b) for b in self._holders) == sum(1 for s in self._senders.values()
                                                       if s.future), "holder buckets")
        last: dict[bytes, int] = {}
        for e in self._ready.values():
            key, nonce = e.tx.body.sender, e.tx.body.nonce
            need(nonce == last.get(key, self._senders[key].base - 1) + 1, "ready order")
            last[key] = nonce


def verify_batch(suite: Suite, txs: Iterable[SignedTx]) -> list[bool]:
    """Check each signature; the shell runs this on a worker thread (pynacl and Tongsuo
    release the GIL while verifying)."""
    return [tx.verify_signature(suite) for tx in txs]
