"""The node: the asyncio shell around the pure parts, and the only module with real I/O.

One process runs one validator: a LevelDB store (``ledger.kv.LevelKV``), the chain
application (``contracts.app.ChainApp``), the PBFT ``consensus.replica.Replica``, the
transaction pool (``consensus.pool.TxPool``), persistent authenticated websocket links to
the other validators (``consensus.wire`` frames), a timer, and the HTTP API (``node_http``
section below).

**Durability order: persist, then send, then apply.** The replica's effects of one step run
in order and completely before the next event is stepped (a single consumer task owns the
replica). ``Persist`` effects are collected into one batch that is written with ``sync=True``
before the first ``Send`` that follows them leaves the process, so the replica's own
prepare/commit votes are on disk before any peer can see them and a restart can never vote
twice for different blocks at one height and view. ``CommitBlock`` is applied through the
application's store in one batch; only then does the pool drop the committed transactions
and does the API report their receipts.

Transactions: a client's (or a peer's gossip) batch is decoded, pre-checked against the pool
(duplicate, stale nonce, limits), its signatures verified once on a small thread pool
(pynacl and Tongsuo release the GIL), admitted into the pool, handed to the replica as one
``ClientTxs`` event, and — when it came from a client — gossiped to every peer in one frame.

Peer links: validator ``i`` dials every validator ``j > i`` (so each pair connects once),
runs the ``consensus.wire`` handshake, then exchanges sequenced frames; a broken link is
redialled with exponential backoff. Nothing received is trusted: frames are size-bounded and
shape-checked, consensus messages are checked by the replica, transactions by the verifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from consensus import wire
from consensus.api import (
    BlocksFetched,
    ClientTxs,
    CommitBlock,
    Effect,
    Event,
    FetchBlocks,
    Log,
    MessageIn,
    Persist,
    ReplicaConfig,
    Send,
    StoreState,
    Tick,
)
from consensus.messages import PrePrepare, decode_message, encode_message
from consensus.pool import PoolLimits, TxPool, verify_batch
from contracts.keys import nonce as nonce_key
from ledger import jsonform
from ledger.block import QC, Block
from ledger.bundle import build_bundle
from ledger.bundle import to_json as bundle_to_json
from ledger.crypto import Suite
from ledger.encoding import decode_trusted
from ledger.errors import CorruptStore, InvalidInput
from ledger.jsonform import hex_to_bytes, tagged_to_json, to_json
from ledger.schema import CONSENSUS as CONSENSUS_PREFIX
from ledger.schema import state_head_key
from ledger.tx import Receipt, SignedTx

log = logging.getLogger("credchain.node")


# ---- configuration ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerAddr:
    index: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NodeLimits:
    """The shell's bounds (the pool's and the replica's have their own dataclasses)."""

    tick_ms: int = 50
    max_frame_bytes: int = 32 * 1024 * 1024
    max_request_bytes: int = 8 * 1024 * 1024
    max_txs_per_request: int = 5_000
    requests_per_second: int = 2_000  # per client address, token bucket
    client_backlog_max: int = 2_000  # pool size above which clients get 503 "busy"
    gossip_batch_max: int = 2_000
    gossip_batches_in_flight: int = 64  # received gossip batches being admitted at once
    verify_threads: int = 2
    event_queue_max: int = 10_000
    peer_queue_max: int = 10_000
    reconnect_min_ms: int = 100
    reconnect_max_ms: int = 5_000
    fetch_blocks_served_max: int = 64


@dataclass(frozen=True, slots=True)
class NodeConfig:
    index: int
    name: str
    key_file: Path
    passphrase_env: str | None
    passphrase_file: Path | None
    host: str
    peer_port: int
    http_port: int
    peers: tuple[PeerAddr, ...]
    data_dir: Path
    genesis_file: Path
    limits: NodeLimits = NodeLimits()
    pool: PoolLimits = PoolLimits()
    replica: ReplicaConfig = field(default_factory=ReplicaConfig)

    @classmethod
    def load(cls, path: str | Path) -> NodeConfig:
        """Read a node config (``.toml`` or ``.json``); relative paths are relative to it."""
        p = Path(path)
        try:
            text = p.read_text()
            raw = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read node config {p}: {exc}") from exc
        return cls.from_obj(raw, p.parent)

    @classmethod
    def from_obj(cls, raw: Any, base: Path) -> NodeConfig:
        if not isinstance(raw, dict):
            raise InvalidInput("node config must be a table")
        try:
            peers = tuple(
                PeerAddr(int(x["index"]), str(x["host"]), int(x["port"]))
                for x in raw.get("peers", [])
            )

            def rel(v: str) -> Path:
                return (base / v).resolve()

            pf = raw.get("passphrase_file")
            return cls(
                index=int(raw["index"]),
                name=str(raw["name"]),
                key_file=rel(raw["key_file"]),
                passphrase_env=raw.get("passphrase_env"),
                passphrase_file=rel(pf) if pf else None,
                host=str(raw.get("host", "127.0.0.1")),
                peer_port=int(raw["peer_port"]),
                http_port=int(raw["http_port"]),
                peers=peers,
                data_dir=rel(raw["data_dir"]),
                genesis_file=rel(raw["genesis_file"]),
                limits=_sub(NodeLimits, raw.get("limits", {})),
                pool=_sub(PoolLimits, raw.get("pool", {})),
                replica=_sub(ReplicaConfig, raw.get("replica", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"bad node config: {exc!r}") from exc

    def passphrase(self) -> bytes:
        if self.passphrase_env:
            value = os.environ.get(self.passphrase_env)
            if value is None:
                raise InvalidInput(f"environment variable {self.passphrase_env} is not set")
            return value.encode()
        if self.passphrase_file:
            try:
                return self.passphrase_file.read_bytes().rstrip(b"\r\n")
            except OSError as exc:
                raise InvalidInput(f"cannot read passphrase file: {exc}") from exc
        raise InvalidInput("node config names neither passphrase_env nor passphrase_file")


def _sub(kind: Any, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{kind.__name__} section must be a table")
    known = {f.name for f in fields(kind)}
    unknown = set(raw) - known
    if unknown:
        raise InvalidInput(f"unknown {kind.__name__} setting(s) {sorted(unknown)}")
    if not all(type(v) is int for v in raw.values()):
        raise InvalidInput(f"{kind.__name__} settings must be integers")
    return kind(**raw)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---- metrics ------------------------------------------------------------------------------

LATENCY_BUCKETS_S = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0,
                     3.0, 5.0, 10.0)


class Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total_s = 0.0
        self.n = 0

    def observe(self, value_s: float) -> None:
        for i, b in enumerate(self.buckets):
            if value_s <= b:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total_s += value_s
        self.n += 1

    def prometheus(self, name: str) -> list[str]:
        out = [f"# TYPE {name} histogram"]
        acc = 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            out.append(f'{name}_bucket{{le="{b}"}} {acc}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total_s:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


class RateLimiter:
    """A token bucket per client address; the table of addresses is bounded."""

    def __init__(self, per_second: int, max_clients: int = 10_000) -> None:
        self.rate = float(per_second)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now_s: float) -> bool:
        tokens, last = self._buckets.get(client, (self.rate, now_s))
        tokens = min(self.rate, tokens + (now_s - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now_s)
            return False
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            self._buckets.clear()
        self._buckets[client] = (tokens - 1.0, now_s)
        return True


# ---- the node -----------------------------------------------------------------------------

def decode_tx(data: bytes) -> SignedTx:
    """``SignedTx.decode`` (strict); the transaction keeps ``data`` as its encoding and the
    body's canonical bytes, so ``tx_id`` and gossip encode nothing again (admission is the
    per-transaction hot path of every node)."""
    return SignedTx.decode(data)


R_BUSY = "busy"


@dataclass(frozen=True, slots=True)
class TxResult:
    tx_id: str  # hex, empty when the transaction could not be decoded
    accepted: bool
    reason: str = ""


class Link:
    """An authenticated link to one peer: a websocket, an outbound queue and its writer."""

    def __init__(self, peer: int, ws: Any, queue_max: int) -> None:
        self.peer = peer
        self.ws = ws
        self.out: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue(queue_max)
        self.sent = wire.FrameCounter()  # one counter per direction
        self.received = wire.FrameCounter()
        self.dropped = 0

    def send(self, kind: int, body: dict[str, Any]) -> None:
        try:
            self.out.put_nowait((kind, body))
        except asyncio.QueueFull:
            # A peer that cannot keep up loses frames; consensus retransmits and catches up.
            self.dropped += 1

    async def write_loop(self) -> None:
        while True:
            kind, body = await self.out.get()
            await self.ws.send_bytes(wire.encode_frame(kind, self.sent.take(), body))


class Node:
    """One validator process. Build with ``Node.open(config)``; ``run()`` serves until stopped."""

    def __init__(self, config: NodeConfig, chain: Chain, secret: bytes) -> None:
        self.config = config
        self.limits = config.limits
        self.chain = chain
        self.suite: Suite = chain.suite
        self.secret = secret
        self.pool = TxPool(self.suite, chain.chain_id, chain.committed_nonce, config.pool)
        chain.pool = self.pool
        self.replica = chain.make_replica(config.index, secret, config.replica)
        self.events: asyncio.Queue[Event] = asyncio.Queue(self.limits.event_queue_max)
        self._reoffer = False  # set by a commit: offer the pool's ready txs to the replica
        self.links: dict[int, Link] = {}
        self.verifier = ThreadPoolExecutor(self.limits.verify_threads, "verify")
        self.rate = RateLimiter(self.limits.requests_per_second)
        self.commit_latency = Histogram(LATENCY_BUCKETS_S)
        self.txs_committed = 0
        self.gossip_dropped = 0
        self.verified = 0  # signatures verified on admission
        self.verify_skipped = 0  # signature checks skipped: verified already
        # (tx id + sig) -> done, for verifications in flight on the worker threads
        self._verifying: dict[bytes, asyncio.Future[None]] = {}
        self.txs_interned = 0  # proposed transactions replaced by the pool's copy
        self.refused: dict[str, int] = {}
        self.submitted: dict[bytes, float] = {}  # tx id -> arrival (monotonic s), bounded
        self.last_view = 0
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._gossip: set[asyncio.Task[list[TxResult]]] = set()
        self._runners: list[web.AppRunner] = []
        self._session: aiohttp.ClientSession | None = None
        self.consumer: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, config: NodeConfig) -> Node:
        """Open (or create from the genesis file) the node's store and load its key."""
        secret = load_secret(config)
        chain = Chain.open(config)
        return cls(config, chain, secret)

    # ---- the event loop that owns the replica ---------------------------------------------

    async def _consume(self) -> None:
        while True:
            event = await self.events.get()
            self._apply(self.replica.step(event))
            if self._reoffer:
                # A commit moved some senders' nonces: transactions the pool held back for a
                # nonce gap (and the replica left out of its proposals) may be ready now.
                self._reoffer = False
                cfg = self.config.replica
                ready = self.pool.take(cfg.batch_tx_max, cfg.batch_bytes_max)
                if ready:
                    self._apply(self.replica.step(ClientTxs(tuple(ready))))

    def _apply(self, effects: Iterable[Effect]) -> None:
        """Run one step's effects in order: persist, then send, then apply."""
        batch = self.chain.kv.batch()
        for effect in effects:
            if isinstance(effect, Persist):
                batch.put(effect.key, effect.value)
                continue
            if len(batch):
                self.chain.kv.write(batch, sync=True)
                batch = self.chain.kv.batch()
            if isinstance(effect, Send):
                self._send_consensus(effect.to, effect.message)
            elif isinstance(effect, CommitBlock):
                self._commit(effect.block, effect.qc)
            elif isinstance(effect, FetchBlocks):
                body = {"from_height": effect.from_height, "max_blocks": effect.max_blocks}
                self._send_frame(effect.from_peer, wire.FETCH, body)
            elif isinstance(effect, Log):
                level = logging.WARNING if effect.level == "warning" else logging.INFO
                if effect.level != "debug":
                    log.log(level, "replica: %s", effect.text)
        if len(batch):
            self.chain.kv.write(batch, sync=True)

    def _send_consensus(self, to: int | None, message: Any) -> None:
        body = {"msg": encode_message(message)}
        if to is None:
            for link in list(self.links.values()):
                link.send(wire.CONSENSUS, body)
        else:
            self._send_frame(to, wire.CONSENSUS, body)

    def _send_frame(self, to: int, kind: int, body: dict[str, Any]) -> None:
        link = self.links.get(to)
        if link is not None:
            link.send(kind, body)

    def _commit(self, block: Block, qc: QC) -> None:
        self.chain.commit(block, qc)
        ids = block.tx_ids(self.suite)
        senders = {tx.body.sender for tx in block.txs}
        self.pool.remove_committed(ids, {s: self.chain.committed_nonce(s) for s in senders})
        self._reoffer = len(self.pool) > 0
        self.txs_committed += len(ids)
        now = time.monotonic()
        for tx_id in ids:
            started = self.submitted.pop(tx_id, None)
            if started is not None:
                self.commit_latency.observe(now - started)
        self.last_view = block.header.view

    # ---- transactions ---------------------------------------------------------------------

    async def submit(self, encoded: Sequence[bytes], from_peer: int | None) -> list[TxResult]:
        """Admit a batch: decode, pre-check, verify signatures once (threads), pool, replica,
        and gossip what a client sent. Returns one result per input, in order."""
        arrived = time.monotonic()  # latency counts from the request's arrival
        if from_peer is None and len(self.pool) >= self.limits.client_backlog_max:
            # Back-pressure: past this backlog, admitting more only adds latency and takes
            # CPU from consensus; clients retry later (HTTP 503). Gossip is still admitted.
            self.refused[R_BUSY] = self.refused.get(R_BUSY, 0) + len(encoded)
            return [TxResult("", False, R_BUSY) for _ in encoded]
        results: list[TxResult | None] = [None] * len(encoded)
        todo: list[tuple[int, SignedTx, int]] = []
        seen: set[bytes] = set()
        for i, data in enumerate(encoded):
            try:
                tx = decode_tx(data)
            except InvalidInput as exc:
                results[i] = TxResult("", False, f"malformed: {exc}")
                continue
            tx_id = tx.tx_id(self.suite)
            # A committed transaction needs no index lookup: its nonce is stale by now.
            reason = self.pool.precheck(tx, len(data))
            if reason is None and tx_id in seen:
                reason = "duplicate"
            if reason is not None:
                results[i] = TxResult(tx_id.hex(), False, reason)
                continue
            seen.add(tx_id)
            todo.append((i, tx, len(data)))
        oks = await self._verify_once([tx for _, tx, _ in todo])
        admitted: list[SignedTx] = []
        gossip: list[bytes] = []
        for (i, tx, size), ok in zip(todo, oks, strict=True):
            reason = self.pool.add(tx, size, ok, now_ms=int(arrived * 1000))
            tx_id = tx.tx_id(self.suite)
            results[i] = TxResult(tx_id.hex(), reason is None, reason or "")
            if reason is None:
                admitted.append(tx)
                gossip.append(encoded[i])
                if from_peer is None:
                    if len(self.submitted) >= self.config.pool.max_txs:
                        # Bounded: forget the oldest (a lost transaction never commits).
                        del self.submitted[next(iter(self.submitted))]
                    self.submitted[tx_id] = arrived
        for r in results:
            if r is not None and not r.accepted:
                key = r.reason.split(":", 1)[0]
                self.refused[key] = self.refused.get(key, 0) + 1
        if admitted:
            await self.events.put(ClientTxs(tuple(admitted)))
            if from_peer is None:
                step = self.limits.gossip_batch_max
                for lo in range(0, len(gossip), step):
                    body = {"txs": gossip[lo : lo + step]}
                    for link in list(self.links.values()):
                        link.send(wire.TXS, body)
        return [r for r in results if r is not None]

    async def _verify_once(self, txs: list[SignedTx]) -> list[bool]:
        """Signature checks, each signature verified once per node: a transaction recorded
        as verified (by the app, or by an earlier call) is not verified again, and one
        whose verification is in flight (a proposal racing its gossip) is waited for
        instead. What verifies is recorded in the app's verified set."""
        app = self.chain.app
        keys = [tx.tx_id(self.suite) + tx.sig for tx in txs]
        pending = {self._verifying[k] for k in keys if k in self._verifying}
        if pending:
            await asyncio.wait(pending)
        todo = [i for i, tx in enumerate(txs) if not app.known_verified(tx)]
        self.verify_skipped += len(txs) - len(todo)
        if not todo:
            return [True] * len(txs)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mine = [keys[i] for i in todo if keys[i] not in self._verifying]
        for k in mine:
            self._verifying[k] = done
        try:
            checked = await self._verify([txs[i] for i in todo])
        finally:
            for k in mine:
                del self._verifying[k]
            done.set_result(None)
        oks = [True] * len(txs)
        for i, ok in zip(todo, checked, strict=True):
            oks[i] = ok
            if ok:
                app.remember_verified(txs[i])
        return oks

    async def _verify(self, txs: list[SignedTx]) -> list[bool]:
        if not txs:
            return []
        self.verified += len(txs)
        loop = asyncio.get_running_loop()
        parts = max(1, min(self.limits.verify_threads, len(txs) // 64))
        size = -(-len(txs) // parts)
        chunks = [txs[lo : lo + size] for lo in range(0, len(txs), size)]
        done = await asyncio.gather(
            *(loop.run_in_executor(self.verifier, verify_batch, self.suite, c) for c in chunks)
        )
        return [ok for chunk in done for ok in chunk]

    # ---- peer links -----------------------------------------------------------------------

    async def _peer_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=self.limits.max_frame_bytes, autoping=True)
        await ws.prepare(request)
        await self._run_link(ws, expect=None)
        return ws

    async def _dial(self, peer: PeerAddr) -> None:
        backoff_ms = self.limits.reconnect_min_ms
        assert self._session is not None
        url = f"http://{peer.host}:{peer.port}/peer"
        while not self.stopping.is_set():
            try:
                ws = await asyncio.wait_for(
                    self._session.ws_connect(url, max_msg_size=self.limits.max_frame_bytes), 5.0
                )
            except (TimeoutError, aiohttp.ClientError, OSError):
                ws = None
            if ws is not None and await self._run_link(ws, expect=peer.index):
                backoff_ms = self.limits.reconnect_min_ms
            await asyncio.sleep(backoff_ms / 1000)
            backoff_ms = min(backoff_ms * 2, self.limits.reconnect_max_ms)

    async def _run_link(self, ws: Any, expect: int | None) -> bool:
        """Handshake, then read frames until the link breaks. True if the handshake held."""
        hs = wire.Handshake(
            self.suite,
            self.chain.chain_id,
            self.chain.validators,
            self.config.index,
            self.secret,
            os.urandom(wire.NONCE_LEN),
            expect,
        )
        link: Link | None = None
        writer: asyncio.Task[None] | None = None
        try:
            await ws.send_bytes(hs.hello())
            first = await asyncio.wait_for(ws.receive(), 5.0)
            await ws.send_bytes(hs.on_hello(self._frame(first)))
            second = await asyncio.wait_for(ws.receive(), 5.0)
            peer = hs.on_auth(self._frame(second))
            link = Link(peer, ws, self.limits.peer_queue_max)
            old = self.links.get(peer)
            self.links[peer] = link
            if old is not None:
                await old.ws.close()
            writer = asyncio.create_task(link.write_loop())
            log.info("link to validator %d up", peer)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    raise wire.WireError(f"unexpected websocket message type {msg.type}")
                frame = wire.decode_frame(msg.data, self.limits.max_frame_bytes)
                link.received.check(frame)
                await self._on_frame(peer, frame)
        except (wire.WireError, InvalidInput) as exc:
            log.warning("peer link refused/closed: %s", exc)
        except (TimeoutError, aiohttp.ClientError, OSError, ConnectionError) as exc:
            log.info("peer link broken: %r", exc)
        finally:
            if writer is not None:
                writer.cancel()
            if link is not None and self.links.get(link.peer) is link:
                del self.links[link.peer]
                log.info("link to validator %d down", link.peer)
            if not ws.closed:
                await ws.close()
        return link is not None

    def _frame(self, msg: Any) -> wire.Frame:
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise wire.WireError("link closed or sent a non-binary message during handshake")
        return wire.decode_frame(msg.data, self.limits.max_frame_bytes)

    async def _on_frame(self, peer: int, frame: wire.Frame) -> None:
        if frame.kind == wire.CONSENSUS:
            message = decode_message(frame.body["msg"])
            if getattr(message, "sender", peer) != peer:
                raise wire.WireError(f"validator {peer} relayed a message signed as another")
            if isinstance(message, PrePrepare):
                # Verify on the worker threads, before the replica sees the proposal, what
                # this node has not verified yet (the replica's app would do it on the
                # event loop); this link's later frames wait, so order is kept.
                message = self._intern_txs(message)
                await self._verify_once(list(message.block.txs))
            await self.events.put(MessageIn(peer, message))
        elif frame.kind == wire.TXS:
            # Verifying can take a while: do not hold up the link's other frames; but bound
            # the batches in flight (an overloaded node sheds gossip, clients retry).
            if len(self._gossip) >= self.limits.gossip_batches_in_flight:
                self.gossip_dropped += len(frame.body["txs"])
                return
            task = asyncio.create_task(self.submit(frame.body["txs"], from_peer=peer))
            self._gossip.add(task)
            task.add_done_callback(self._gossip.discard)
        elif frame.kind == wire.FETCH:
            count = min(frame.body["max_blocks"], self.limits.fetch_blocks_served_max)
            # Leave room for the frame's own overhead under the peer's frame limit.
            budget = self.limits.max_frame_bytes // 2
            pairs = self.chain.blocks_from(frame.body["from_height"], count, budget)
            self._send_frame(peer, wire.BLOCKS, {"blocks": [[b, q] for b, q in pairs]})
        elif frame.kind == wire.BLOCKS:
            blocks = tuple(
                (Block.decode(b), QC.decode(q)) for b, q in frame.body["blocks"]
            )
            if blocks:
                await self.events.put(BlocksFetched(peer, blocks))

    def _intern_txs(self, message: PrePrepare) -> PrePrepare:
        """The proposal with each transaction the pool holds (equal body and signature)
        replaced by the pool's copy, which carries its encoding, id and verified signature:
        the replica then neither hashes nor verifies those again. The block's meaning and
        hash are unchanged (equal transactions)."""
        txs = message.block.txs
        pooled = tuple(self.pool.intern(tx) for tx in txs)
        self.txs_interned += sum(a is not b for a, b in zip(pooled, txs, strict=True))
        return replace(message, block=Block(message.block.header, pooled))

    # ---- lifecycle ------------------------------------------------------------------------

    async def _ticker(self) -> None:
        period_s = self.limits.tick_ms / 1000
        while True:
            await asyncio.sleep(period_s)
            with contextlib.suppress(asyncio.QueueFull):
                self.events.put_nowait(Tick(now_ms()))

    def start_core(self) -> None:
        """Start the replica's consumer and the timer (no sockets: tests use this alone)."""
        self.consumer = asyncio.create_task(self._consume())
        self._tasks.append(self.consumer)
        self._tasks.append(asyncio.create_task(self._ticker()))

    async def start(self) -> None:
        """Listen (peers, HTTP), dial higher-indexed peers, start the timer and the replica."""
        self._session = aiohttp.ClientSession()
        peer_app = web.Application(client_max_size=self.limits.max_frame_bytes)
        peer_app.router.add_get("/peer", self._peer_handler)
        http_app = build_http_app(self)
        for app, port in ((peer_app, self.config.peer_port), (http_app, self.config.http_port)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, self.config.host, port).start()
            self._runners.append(runner)
        self.start_core()
        for peer in self.config.peers:
            if peer.index > self.config.index:
                self._tasks.append(asyncio.create_task(self._dial(peer)))
        log.info(
            "node %s (validator %d) up: peers on %s:%d, HTTP on %s:%d, height %d",
            self.config.name, self.config.index, self.config.host, self.config.peer_port,
            self.config.host, self.config.http_port, self.chain.height(),
        )

    async def stop(self) -> None:
        """Stop accepting, close links, stop tasks, close the database."""
        self.stopping.set()
        for runner in self._runners:
            await runner.cleanup()
        for link in list(self.links.values()):
            await link.ws.close()
        tasks = [*self._tasks, *self._gossip]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self.verifier.shutdown(wait=True)
        self.chain.close()
        log.info("node %s stopped", self.config.name)

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.start()
        consumer = self.consumer
        assert consumer is not None
        waiter = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([consumer, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        failure = None
        if consumer.done() and not consumer.cancelled():
            failure = consumer.exception()
        if failure is not None:
            # A broken invariant in the replica or the store stops the node (STYLE.md).
            log.error("replica step failed: %r", failure)
        await self.stop()
        if failure is not None:
            raise failure

    def status(self) -> dict[str, Any]:
        height = self.chain.height()
        view = getattr(self.replica, "view", self.last_view)
        n = len(self.chain.validators)
        return {
            "chain_id": self.chain.chain_id,
            "suite": self.suite.name,
            "node": self.config.name,
            "index": self.config.index,
            "height": height,
            "head_hash": self.chain.head_hash().hex(),
            "view": view,
            "leader": (view + height + 1) % n,
            "peers": sorted(self.links),
            "pool_size": len(self.pool),
            "validators": n,
        }


# ---- the chain: store, state, application, replica ----------------------------------------


RECEIPT_CACHE_BLOCKS = 64


class Chain:
    """The node's durable chain: KV, block store, state tree and the chain application."""

    def __init__(self, kv: Any, store: Any, app: Any, genesis: Any) -> None:
        self.kv = kv
        self.store = store
        self.app = app
        self.suite: Suite = store.suite
        self.chain_id: str = store.chain_id
        self.genesis = genesis
        self._receipts: OrderedDict[int, list[Receipt]] = OrderedDict()
        self.pool: TxPool | None = None  # the node's pool, once the node built it
        # The set that certifies the next block (validator changes swap it on commit).
        self.validators = tuple(store.validators_at(store.head()[0] + 1))

    @classmethod
    def open(cls, config: NodeConfig) -> Chain:
        from ledger.genesis import GenesisDoc, init_store
        from ledger.kv import LevelKV
        from ledger.store import BlockStore

        doc = GenesisDoc.load(config.genesis_file)
        kv = LevelKV(str(config.data_dir / "db"))
        try:
            store = BlockStore(kv, doc.crypto)
            if store.empty:
                init_store(store, doc)
                store = BlockStore(kv, doc.crypto)
            elif store.header(0) is None or store.chain_id != doc.chain_id:
                raise InvalidInput(f"the store in {config.data_dir} holds another chain")
            chain = cls(kv, store, None, doc)
            chain.app = make_app(store, chain.is_verified)
            return chain
        except BaseException:
            kv.close()
            raise

    def make_replica(self, index: int, secret: bytes, config: ReplicaConfig) -> Any:
        from consensus.replica import Replica

        height = self.store.head()[0]
        consensus = dict(self.kv.scan(CONSENSUS_PREFIX))
        state = StoreState(self.store.header(height), self.store.qc(height), consensus)
        return Replica(
            index, self.suite, secret, self.chain_id, self.validators, self.app, state, config
        )

    def is_verified(self, tx: SignedTx) -> bool:
        """Whether the pool admitted this very transaction (id and signature), so the app
        need not verify its signature again when it re-executes a proposed block."""
        return self.pool is not None and self.pool.is_verified(tx)

    def height(self) -> int:
        return int(self.store.head()[0])

    def head_hash(self) -> bytes:
        return bytes(self.store.head()[1])

    def commit(self, block: Block, qc: QC) -> None:
        self.app.commit(block, qc)
        self.validators = tuple(self.store.validators_at(block.header.height + 1))

    def committed_nonce(self, sender: bytes) -> int:
        raw = self.kv.get(state_head_key(nonce_key(sender)))
        return 0 if raw is None else int(decode_trusted(raw))

    def receipt(self, tx_id: bytes) -> tuple[int, int, Receipt] | None:
        """``(height, index, receipt)`` of a committed transaction. A block's receipts are
        loaded (and checked against its receipts_root) once, then served from a small
        cache: they never change once committed."""
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

    def tx_committed(self, tx_id: bytes) -> bool:
        return self.store.tx_location(tx_id) is not None

    def blocks_from(self, height: int, count: int, max_bytes: int) -> list[tuple[bytes, bytes]]:
        """Up to ``count`` committed ``(block, qc)`` encodings from ``height`` on, at most
        ``max_bytes`` in total (but always one, so catch-up makes progress)."""
        out: list[tuple[bytes, bytes]] = []
        used = 0
        for h in range(max(1, height), max(1, height) + count):
            block, qc = self.store.block(h), self.store.qc(h)
            if block is None or qc is None:
                break
            pair = (block.encode(), qc.encode())
            used += len(pair[0]) + len(pair[1])
            if out and used > max_bytes:
                break
            out.append(pair)
        return out

    def state_value(self, key: str) -> bytes | None:
        raw: bytes | None = self.kv.get(state_head_key(key))
        return raw

    def close(self) -> None:
        self.kv.close()


def make_app(store: Any, is_verified: Callable[[SignedTx], bool] | None = None) -> Any:
    from contracts.app import ChainApp
    from contracts.registry import default_executor

    return ChainApp(store, store.tree, default_executor(), store.suite, store.chain_id,
                    is_verified)


def load_secret(config: NodeConfig) -> bytes:
    from ledger.keyfile import load_key

    secret: bytes = load_key(config.key_file, config.passphrase()).secret
    return secret


# ---- the HTTP API -------------------------------------------------------------------------


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=lambda o: json.dumps(o, sort_keys=True))


def _error(status: int, reason: str) -> web.Response:
    return _json({"error": reason}, status)


def _height(request: web.Request, text: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"bad height {text!r}"}),
                                 content_type="application/json")
    return int(text)


def build_http_app(node: Node) -> web.Application:
    """The JSON API (bytes as hex); ``GET /openapi.json`` describes every route."""

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if not node.rate.allow(request.remote or "?", time.monotonic()):
            return _error(429, "rate limit exceeded")
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except InvalidInput as exc:
            return _error(400, str(exc))
        except LookupError as exc:
            return _error(404, str(exc))

    async def post_txs(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "request body must be JSON")
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "request body too large")
        items = body.get("txs") if isinstance(body, dict) else None
        if isinstance(body, dict) and "tx" in body and items is None:
            items = [body["tx"]]
        if not isinstance(items, list) or not items:
            return _error(400, 'body must be {"txs": ["<hex>", ...]} or {"tx": "<hex>"}')
        if len(items) > node.limits.max_txs_per_request:
            return _error(413, f"at most {node.limits.max_txs_per_request} txs per request")
        encoded: list[bytes] = []
        for i, item in enumerate(items):
            try:
                encoded.append(hex_to_bytes(item, f"txs[{i}]"))
            except InvalidInput as exc:
                return _error(400, str(exc))
        results = await node.submit(encoded, from_peer=None)
        out = [{"tx_id": r.tx_id, "accepted": r.accepted, "reason": r.reason} for r in results]
        accepted = sum(r.accepted for r in results)
        status = 202 if accepted == len(results) else 400
        if accepted == 0 and all(r.reason == R_BUSY for r in results):
            status = 503
        return _json({"accepted": accepted, "results": out}, status)

    async def get_tx(request: web.Request) -> web.Response:
        tx_id = hex_to_bytes(request.match_info["tx_id"], "tx id")
        found = node.chain.receipt(tx_id)
        if found is not None:
            height, index, receipt = found
            return _json({
                "tx_id": tx_id.hex(), "status": "committed", "height": height, "index": index,
                "receipt": to_json(receipt.to_obj(), jsonform.RECEIPT),
            })
        if tx_id in node.pool:
            return _json({"tx_id": tx_id.hex(), "status": "pending"})
        return _json({"tx_id": tx_id.hex(), "status": "unknown"}, 404)

    async def get_block(request: web.Request) -> web.Response:
        h = _height(request, request.match_info["height"])
        block = node.chain.store.block(h)
        if block is None:
            return _error(404, f"no block at height {h}")
        for tx in block.txs:
            sealed = sealed_tx_reason(node.chain, tx)
            if sealed:
                return _error(403, sealed)
        qc = node.chain.store.qc(h)
        return _json({
            "hash": block.hash(node.suite).hex(),
            "block": to_json(block.to_obj(), jsonform.BLOCK),
            "qc": to_json(qc.to_obj(), jsonform.QC) if qc else None,
        })

    async def get_header(request: web.Request) -> web.Response:
        h = _height(request, request.match_info["height"])
        header = node.chain.store.header(h)
        if header is None:
            return _error(404, f"no block at height {h}")
        qc = node.chain.store.qc(h)
        return _json({
            "hash": header.hash(node.suite).hex(),
            "header": to_json(header.to_obj(), jsonform.HEADER),
            "qc": to_json(qc.to_obj(), jsonform.QC) if qc else None,
        })

    async def get_state(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        sealed = sealed_reason(node.chain, key)
        if sealed:
            return _error(403, sealed)
        raw = node.chain.state_value(key)
        if raw is None:
            return _json({"key": key, "value": None, "height": node.chain.height()}, 404)
        value = tagged_to_json(decode_trusted(raw))
        return _json({"key": key, "value": value, "height": node.chain.height()})

    async def get_proof(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        sealed = sealed_reason(node.chain, key)
        if sealed:
            return _error(403, sealed)
        h = request.query.get("height")
        height = _height(request, h) if h is not None else None
        bundle = build_bundle(node.chain.store, node.chain.store.tree, key, height)
        return _json(bundle_to_json(bundle))

    async def get_status(request: web.Request) -> web.Response:
        return _json(node.status())

    async def get_health(request: web.Request) -> web.Response:
        consumer_ok = node.consumer is not None and not node.consumer.done()
        return _json({"ok": consumer_ok}, 200 if consumer_ok else 503)

    async def get_metrics(request: web.Request) -> web.Response:
        s = node.status()
        lines = [
            "# TYPE credchain_height gauge", f"credchain_height {s['height']}",
            "# TYPE credchain_view gauge", f"credchain_view {s['view']}",
            "# TYPE credchain_txs_committed_total counter",
            f"credchain_txs_committed_total {node.txs_committed}",
            "# TYPE credchain_pool_size gauge", f"credchain_pool_size {s['pool_size']}",
            "# TYPE credchain_peers gauge", f"credchain_peers {len(s['peers'])}",
            "# TYPE credchain_gossip_dropped_total counter",
            f"credchain_gossip_dropped_total {node.gossip_dropped}",
            "# TYPE credchain_signatures_verified_total counter",
            "credchain_signatures_verified_total "
            f"{node.verified + getattr(node.chain.app, 'signature_checks', 0)}",
            "# TYPE credchain_verify_skipped_total counter",
            f"credchain_verify_skipped_total {node.verify_skipped}",
            "# TYPE credchain_txs_interned_total counter",
            f"credchain_txs_interned_total {node.txs_interned}",
            "# TYPE credchain_txs_refused_total counter",
        ]
        lines += [f'credchain_txs_refused_total{{reason="{k}"}} {v}'
                  for k, v in sorted(node.refused.items())]
        lines += node.commit_latency.prometheus("credchain_commit_latency_seconds")
        return web.Response(text="\n".join(lines) + "\n",
                            content_type="text/plain", charset="utf-8")

    async def get_openapi(request: web.Request) -> web.Response:
        return _json(OPENAPI)

    app = web.Application(client_max_size=node.limits.max_request_bytes, middlewares=[guard])
    app.router.add_post("/txs", post_txs)
    app.router.add_get("/txs/{tx_id}", get_tx)
    app.router.add_get("/blocks/{height}", get_block)
    app.router.add_get("/headers/{height}", get_header)
    app.router.add_get("/state/{key:.+}", get_state)
    app.router.add_get("/proof/{key:.+}", get_proof)
    app.router.add_get("/status", get_status)
    app.router.add_get("/healthz", get_health)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/openapi.json", get_openapi)
    return app


SEALED_PREFIXES = ("bid/", "bidset/")


def sealed_reason(chain: Chain, key: str) -> str | None:
    """Why ``key`` may not be served, or None. ``contracts/bid.py`` says the API must refuse
    ``bid/<tender>/...`` and ``bidset/<tender>/...`` before the tender's bid deadline (the
    head block's time is "now"); a key of an unknown tender stays refused."""
    if not key.startswith(SEALED_PREFIXES):
        return None
    parts = key.split("/")
    deadline_ms = _deadline_ms(chain, parts[1]) if len(parts) > 1 else None
    if deadline_ms is None:
        return f"{key} is a sealed bid record of an unknown tender"
    if int(chain.store.head_header().time_ms) < deadline_ms:
        return f"{key} is a sealed bid record until the bid deadline ({deadline_ms} ms)"
    return None


def sealed_tx_reason(chain: Chain, tx: SignedTx) -> str | None:
    """Why a block holding ``tx`` may not be listed yet: a bid transaction (``bid.*``)
    before its tender's deadline would tell who bid. Its sender still reads its own
    receipt through ``GET /txs/{id}`` (knowing the id is knowing the transaction)."""
    if not tx.body.call.startswith("bid."):
        return None
    tender_id = tx.body.args.get("tender_id")
    deadline_ms = _deadline_ms(chain, tender_id) if isinstance(tender_id, str) else None
    if deadline_ms is None:
        return None  # no such tender: the call failed and sealed nothing
    if int(chain.store.head_header().time_ms) < deadline_ms:
        return "the block holds a sealed bid before its tender's deadline"
    return None


def _deadline_ms(chain: Chain, tender_id: str) -> int | None:
    raw = chain.state_value(f"tender/{tender_id}") if tender_id and "/" not in tender_id else None
    tender = decode_trusted(raw) if raw is not None else None
    deadline_ms = tender.get("deadline_ms") if isinstance(tender, dict) else None
    return deadline_ms if isinstance(deadline_ms, int) else None


def _op(summary: str, params: Sequence[str] = (), body: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "OK"}}}
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    if body:
        op["requestBody"] = {"content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"txs": {"type": "array", "items": {"type": "string"}},
                           "tx": {"type": "string"}}}}}}
        op["responses"] = {"202": {"description": "all accepted"},
                           "400": {"description": "some refused: results say why"}}
    return op


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "credchain node API", "version": "1",
             "description": "JSON; byte strings are lowercase hex (PROTOCOL.md)."},
    "paths": {
        "/txs": {"post": _op("Submit CE-encoded signed transactions (hex)", body=True)},
        "/txs/{tx_id}": {"get": _op("Transaction status: pending or committed + receipt",
                                    ["tx_id"])},
        "/blocks/{height}": {"get": _op("A committed block and its QC", ["height"])},
        "/headers/{height}": {"get": _op("A committed header and its QC", ["height"])},
        "/state/{key}": {"get": _op("The head value of a state key (sealed bids refused)",
                                    ["key"])},
        "/proof/{key}": {"get": {**_op("A PROTOCOL §7 proof bundle (JSON form)", ["key"]),
                                 "parameters": [
                                     {"name": "key", "in": "path", "required": True,
                                      "schema": {"type": "string"}},
                                     {"name": "height", "in": "query", "required": False,
                                      "schema": {"type": "integer"}}]}},
        "/status": {"get": _op("Height, view, leader, peers, pool size")},
        "/metrics": {"get": _op("Prometheus text metrics")},
        "/healthz": {"get": _op("Liveness")},
        "/openapi.json": {"get": _op("This document")},
    },
}


def main(config_path: str) -> None:
    """Run one node from its config file until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    node = Node.open(NodeConfig.load(config_path))
    asyncio.run(node.run())
