"""Admission: transactions from clients and peers into the pool, each signature checked once.

``Admission.submit(encoded, from_peer)`` takes one batch and, per transaction:

1. decodes it strictly (``SignedTx.decode``: canonical bytes, the data limits), unless it
   is a copy of a pooled transaction (peers offer again what waits): that is refused as a
   duplicate by its id, read off the bytes (``wire_tx_id``), before any decoding;
2. pre-checks it against the pool (chain id, size, duplicate, stale or pending nonce, the
   sender's and the pool's bounds) — cheap refusals before any signature work, except the
   ones that tell where the sender's nonce stands (``SENDER_STATE_REASONS``), which a client
   is told only once its signature has verified;
3. requires a sender the chain knows (``contracts.senders.sender_known`` on the head state),
   or a one-time agent key one of an entity's keys authorised to send a sealed bid call
   (``contracts.agents.authorised_agent``), both through one ``SenderCheck`` per head:
   the chain is permissioned, so a stranger's transaction never reaches a pool or a block;
4. verifies the signatures not already known (``VerifiedSignatures``) on the worker threads,
   each at most once per node even when a client and a peer's gossip bring it at the same
   moment (a verification in flight is shared);
5. adds what verified to the pool, nudges the replica (``TxsAdmitted``, coalesced), and
   gossips what a client sent to the peers in batches.

A client's batch is first charged to its budget (``take_budget``: ``txs_per_second`` per
address, one token per transaction) by the API, before anything is decoded: transactions
beyond it are refused unread, so what a client may cost the node (decoding, checks, a
signature verification each) is bounded by work, not by its number of requests.

Proposals take the same path for their transactions (``verify_block``) before the replica
sees them, so a follower never verifies on the event loop, and the pool's own copies of
proposed transactions replace freshly decoded ones (``intern``: their id, encoding and
verified signature come along).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from consensus.pool import (
    R_BUSY,
    R_NONCE_GAP,
    R_NONCE_PENDING,
    R_SENDER_FULL,
    R_STALE_NONCE,
    verify_batch,
)
from contracts.agents import SenderCheck
from ledger.block import Block
from ledger.errors import InvalidInput
from ledger.tx import SignedTx, wire_tx_id
from shell.chain import Chain
from shell.config import NodeLimits
from shell.metrics import Metrics
from shell.ratelimit import TokenBuckets

R_UNKNOWN_SENDER = "unknown_sender"
R_RATE = "rate_limited"  # over the source's transaction budget: retry later (HTTP 429)
R_DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class TxResult:
    tx_id: str  # hex, empty when the transaction could not be decoded
    accepted: bool
    reason: str = ""


# Refusals that say where a sender's nonce stands (an enterprise key's nonce is private:
# contracts.disclosure): a client learns them only for a transaction whose signature
# verified, so nobody can probe another key's nonce with unsigned junk.
SENDER_STATE_REASONS = frozenset({R_STALE_NONCE, R_NONCE_GAP, R_NONCE_PENDING, R_SENDER_FULL})


# The OS name of the signature verification threads (``top -H``, ``ps -L``, /proc/PID/task/
# TID/comm): what tells their CPU from the main thread's and LevelDB's own thread's.
VERIFY_THREAD_NAME = "verify"


def name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` (at most 15 bytes) in the kernel's thread list.
    Linux only; elsewhere, or if /proc is not writable, nothing changes."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass


class Admission:
    def __init__(self, chain: Chain, limits: NodeLimits, metrics: Metrics,
                 nudge: Callable[[], None], gossip: Callable[[list[bytes]], None]) -> None:
        self.chain = chain
        self.limits = limits
        self.metrics = metrics
        self._nudge = nudge
        self._gossip = gossip
        self._threads = ThreadPoolExecutor(limits.verify_threads, VERIFY_THREAD_NAME,
                                           initializer=name_os_thread,
                                           initargs=(VERIFY_THREAD_NAME,))
        self._budgets = TokenBuckets(limits.txs_per_second, limits.max_txs_per_request)
        self._in_flight: dict[bytes, asyncio.Future[None]] = {}  # id + sig -> checked
        self.arrivals: dict[bytes, float] = {}  # tx id -> arrival (monotonic s), bounded
        # The sender check of the head it was made on (``_known_senders``).
        self._sender_check: tuple[tuple[int, bytes], SenderCheck] | None = None
        metrics.counter("txs_refused_total", "Transactions refused at admission, by reason.")
        metrics.counter("signatures_verified_total",
                        "Transaction signatures verified by this node (each at most once).")
        # No count of the one-time agents' authorisations here: only sealed bid calls carry
        # them, so a public count would tell how many bids ran before the deadline
        # (DOMAIN.md step 4); benchmarks/bench_hotpath.py counts them in its own process.
        metrics.counter("verify_skipped_total",
                        "Signature checks skipped because this node had verified them.")
        metrics.counter("txs_interned_total",
                        "Proposed transactions replaced by the pool's verified copy.")

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)

    # ---- client and gossip batches ---------------------------------------------------------

    async def submit(self, encoded: Sequence[bytes], from_peer: bool = False
                     ) -> list[TxResult]:
        """Admit one batch; one result per input, in order."""
        arrived = time.monotonic()
        pool = self.chain.pool
        if not from_peer and pool.busy:
            # Back-pressure: past the ready backlog more admissions only add latency and
            # take CPU from consensus; clients retry later (HTTP 503). Gossip is still
            # offered to the pool, which has its own bounds.
            return self._refuse_all(len(encoded), R_BUSY)
        results: list[TxResult | None] = [None] * len(encoded)
        todo: list[tuple[int, SignedTx, int]] = []
        seen: set[bytes] = set()
        known = self._known_senders()
        suite = self.chain.suite
        for i, data in enumerate(encoded):
            wire_id = wire_tx_id(suite, data)
            if wire_id is not None and wire_id in pool:
                # The pool holds this very body, which decoded and passed every check:
                # the full path would refuse it as a duplicate too, after decoding it.
                results[i] = self._refused(wire_id.hex(), R_DUPLICATE)
                continue
            try:
                tx = SignedTx.decode(data)
            except InvalidInput as exc:
                results[i] = self._refused("", f"malformed: {exc}")
                continue
            if wire_id is not None:
                tx.remember_id(suite, wire_id)
            tx_id = tx.tx_id(suite)
            reason = pool.precheck(tx, len(data))
            if reason in SENDER_STATE_REASONS and not from_peer:
                reason = None  # told only to the key's holder: once its signature verifies
            if reason is None and tx_id in seen:
                reason = R_DUPLICATE
            if reason is None and not known(tx):
                reason = R_UNKNOWN_SENDER
            if reason is not None:
                results[i] = self._refused(tx_id.hex(), reason)
                continue
            seen.add(tx_id)
            todo.append((i, tx, len(data)))
        oks = await self._verify_once([tx for _, tx, _ in todo])
        admitted: list[bytes] = []
        for (i, tx, size), ok in zip(todo, oks, strict=True):
            tx_id = tx.tx_id(self.chain.suite)
            reason = pool.add(tx, size, ok, now_ms=int(arrived * 1000))
            if reason is not None:
                results[i] = self._refused(tx_id.hex(), reason)
                continue
            results[i] = TxResult(tx_id.hex(), True)
            admitted.append(encoded[i])
            if not from_peer:
                self._remember_arrival(tx_id, arrived)
        if admitted:
            self._nudge()
            if not from_peer:
                self._gossip(admitted)
        return [r for r in results if r is not None]

    def take_budget(self, source: str, count: int) -> int:
        """Spend up to ``count`` of ``source``'s transaction budget; how many it may send."""
        return self._budgets.take_up_to(source, count, time.monotonic())

    def refused_for_budget(self) -> TxResult:
        return self._refused("", R_RATE)

    def has_budget(self, source: str) -> bool:
        """Whether ``source`` may submit at least one transaction now (checked before its
        request body is even read)."""
        return self._budgets.available(source, time.monotonic()) >= 1

    def _known_senders(self) -> Callable[[SignedTx], bool]:
        """Whether a transaction's sender may send, on the head state at the head block's
        time (``contracts.agents.SenderCheck``). One check serves every batch until the head
        moves: gossip and clients send many small batches a block, and its memo then decodes
        an entity's records once a block rather than once a batch."""
        head = self.chain.store.head_header()
        at = (head.height, head.state_root)
        if self._sender_check is None or self._sender_check[0] != at:
            self._sender_check = (at, SenderCheck(self.chain.head_state(), self.chain.suite,
                                                  self.chain.chain_id, head.time_ms))
        return self._sender_check[1]

    def _refuse_all(self, count: int, reason: str) -> list[TxResult]:
        self.metrics.inc("txs_refused_total", count, reason=reason)
        return [TxResult("", False, reason) for _ in range(count)]

    def _refused(self, tx_id: str, reason: str) -> TxResult:
        self.metrics.inc("txs_refused_total", reason=reason.split(":", 1)[0])
        return TxResult(tx_id, False, reason)

    def _remember_arrival(self, tx_id: bytes, arrived: float) -> None:
        if len(self.arrivals) >= self.chain.pool.limits.max_txs:
            del self.arrivals[next(iter(self.arrivals))]  # the oldest: it may never commit
        self.arrivals[tx_id] = arrived

    # ---- proposals ------------------------------------------------------------------------

    async def verify_block(self, block: Block) -> Block:
        """``block`` with the pool's copies of the transactions it holds, after verifying
        (on the worker threads) every signature this node has not verified yet. The block's
        meaning and hash are unchanged: the copies are equal transactions."""
        pool = self.chain.pool
        txs = tuple(pool.intern(tx) for tx in block.txs)
        self.metrics.inc("txs_interned_total",
                         sum(a is not b for a, b in zip(txs, block.txs, strict=True)))
        await self._verify_once(list(txs))
        return Block(block.header, txs) if txs != block.txs else block

    # ---- verification, once per signature -------------------------------------------------

    async def _verify_once(self, txs: list[SignedTx]) -> list[bool]:
        """Whether each signature verifies. A transaction already verified (or being
        verified) is not verified again."""
        sigs = self.chain.sigs
        keys = [tx.tx_id(self.chain.suite) + tx.sig for tx in txs]
        pending = {self._in_flight[k] for k in keys if k in self._in_flight}
        if pending:
            await asyncio.wait(pending)
        todo = [i for i, tx in enumerate(txs) if not sigs.known(tx)]
        self.metrics.inc("verify_skipped_total", len(txs) - len(todo))
        out = [True] * len(txs)
        if not todo:
            return out
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mine = [keys[i] for i in todo if keys[i] not in self._in_flight]
        for k in mine:
            self._in_flight[k] = done
        try:
            checked = await self._verify([txs[i] for i in todo])
        finally:
            for k in mine:
                del self._in_flight[k]
            done.set_result(None)
        for i, ok in zip(todo, checked, strict=True):
            out[i] = ok
            if ok:
                sigs.add(txs[i])
        return out

    async def _verify(self, txs: list[SignedTx]) -> list[bool]:
        self.metrics.inc("signatures_verified_total", len(txs))
        loop = asyncio.get_running_loop()
        parts = max(1, min(self.limits.verify_threads, len(txs) // 64))
        size = -(-len(txs) // parts)
        chunks = [txs[lo: lo + size] for lo in range(0, len(txs), size)]
        done = await asyncio.gather(*(
            loop.run_in_executor(self._threads, verify_batch, self.chain.suite, c)
            for c in chunks))
        return [ok for chunk in done for ok in chunk]
