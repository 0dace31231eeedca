"""Peer links: framed TCP streams between validators, the handshake, frames into events.

``PeerNet`` is the driver's ``Transport`` (``send``, ``fetch``) and the node's gossip. It
listens on the peer port and dials every configured validator with a higher index than ours
(each pair connects once); a broken link is redialled with exponential backoff.

A link's life (frame formats: ``consensus.wire``):

1. **Handshake**, under ``handshake_timeout_ms`` and with frames of at most
   ``wire.HANDSHAKE_MAX_FRAME_BYTES``: the length prefix is read first and anything longer
   is refused before a byte of it is read, so a stranger can't make the node read or decode
   more than a few hundred bytes. Unauthenticated connections are bounded in number.
2. A verified peer that already has a live link is **refused** (the first link stays): a
   second connection with the same key can't displace the first. Idle links carry PINGs; a
   link silent for ``link_idle_timeout_ms`` is closed, so a peer that died without closing
   its socket is noticed and can reconnect.
3. **Frames** of up to ``max_frame_bytes``, in sequence: consensus messages (a proposal's
   transactions verified on the worker threads first, ``Admission.verify_block``), gossip
   batches (admitted concurrently, a bounded number in flight), block requests and answers.

Nothing received is trusted: messages are checked by the replica, transactions by admission.
``send`` never blocks: a link whose outbound queue is full drops the frame (consensus
retransmits and catches up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from consensus import wire
from consensus.api import BlocksFetched, Event, MessageIn
from consensus.messages import Message, NewView, PrePrepare, decode_message, encode_message
from ledger.block import QC, Block, ValidatorSet
from ledger.errors import InvalidInput
from shell.admission import Admission
from shell.chain import Chain
from shell.config import NodeConfig, PeerAddr
from shell.metrics import Metrics

log = logging.getLogger("credchain.peers")

HANDSHAKES_MAX = 32  # unauthenticated connections at once
FETCH_INTERVAL_S = 1.0  # a node behind its peers asks for blocks at most this often


class Link:
    """One authenticated link: its stream, an outbound queue and the frame counters."""

    def __init__(self, peer: int, pubkey: bytes, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, queue_max: int) -> None:
        self.peer = peer
        self.pubkey = pubkey
        self.reader = reader
        self.writer = writer
        self.out: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue(queue_max)
        self.sent = wire.FrameCounter()
        self.received = wire.FrameCounter()
        self.dropped = 0

    def send(self, kind: int, body: dict[str, Any]) -> None:
        try:
            self.out.put_nowait((kind, body))
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def read_frame(reader: asyncio.StreamReader, max_bytes: int,
                     timeout_s: float) -> wire.Frame:
    """One length-prefixed frame; its length is checked before its bytes are read."""
    prefix = await asyncio.wait_for(reader.readexactly(wire.LENGTH_PREFIX_LEN), timeout_s)
    length = int.from_bytes(prefix, "big")
    if length > max_bytes:
        raise wire.WireError(f"frame of {length} bytes exceeds the limit of {max_bytes}")
    data = await asyncio.wait_for(reader.readexactly(length), timeout_s)
    return wire.decode_frame(data, max_bytes)


def write_frame(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(len(data).to_bytes(wire.LENGTH_PREFIX_LEN, "big") + data)


class PeerNet:
    def __init__(self, config: NodeConfig, chain: Chain, secret: bytes, admission: Admission,
                 metrics: Metrics, validators: Callable[[], ValidatorSet],
                 deliver: Callable[[Event], Awaitable[None]]) -> None:
        self.config = config
        self.limits = config.limits
        self.chain = chain
        self._secret = secret
        self._pubkey = chain.suite.public_key(secret)
        self.admission = admission
        self.metrics = metrics
        self._validators = validators
        self._deliver = deliver
        self.links: dict[bytes, Link] = {}  # by the peer's public key
        # The height each peer works on, from its latest consensus message: a node far
        # behind its peers is catching up (/healthz, /status).
        self.peer_heights: dict[bytes, int] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gossip: set[asyncio.Task[Any]] = set()
        self._handshaking = 0
        self._closing = False
        self._last_fetch_s = 0.0
        metrics.counter("gossip_dropped_total",
                        "Gossiped transactions dropped because too many batches were in flight.")
        metrics.counter("peer_links_refused_total", "Peer connections refused, by reason.")
        metrics.gauge_fn("peers", "Authenticated peer links.",
                         lambda: [((), float(len(self.links)))])

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.config.peer_host,
                                                  self.config.peer_port)
        me = self.my_index()
        for peer in self.config.peers:
            if me is not None and peer.index > me:
                self._spawn(self._dial(peer))

    async def close(self) -> None:
        """Stop dialling and accepting, close every link now (peers see it at once)."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for link in list(self.links.values()):
            link.close()
        tasks = [*self._tasks, *self._gossip]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def my_index(self) -> int | None:
        for i, v in enumerate(self._validators()):
            if v.pubkey == self._pubkey:
                return i
        return None

    def peer_indexes(self) -> list[int]:
        keys = [v.pubkey for v in self._validators()]
        return sorted(keys.index(k) for k in self.links if k in keys)

    def peer_head_heights(self) -> dict[int, int]:
        """Validator index → the head height its messages show (the height it works on
        minus one), for the peers linked now."""
        keys = [v.pubkey for v in self._validators()]
        return {keys.index(k): max(0, h - 1) for k, h in self.peer_heights.items()
                if k in keys and k in self.links}

    # ---- the driver's transport, and gossip -------------------------------------------------

    def send(self, to: int | None, message: Message) -> None:
        body = {"msg": encode_message(message)}
        if to is None:
            for link in list(self.links.values()):
                link.send(wire.CONSENSUS, body)
        else:
            self._send_to(to, wire.CONSENSUS, body)

    def fetch(self, peer: bytes, from_height: int, max_blocks: int) -> None:
        link = self.links.get(peer)
        if link is not None:
            link.send(wire.FETCH, {"from_height": from_height, "max_blocks": max_blocks})

    def gossip(self, txs: list[bytes]) -> None:
        step = self.limits.gossip_batch_max
        for lo in range(0, len(txs), step):
            body = {"txs": txs[lo: lo + step]}
            for link in list(self.links.values()):
                link.send(wire.TXS, body)

    def _send_to(self, index: int, kind: int, body: dict[str, Any]) -> None:
        vals = self._validators()
        if 0 <= index < len(vals):
            link = self.links.get(vals[index].pubkey)
            if link is not None:
                link.send(kind, body)

    # ---- connections ------------------------------------------------------------------------

    async def _dial(self, peer: PeerAddr) -> None:
        backoff_ms = self.limits.reconnect_min_ms
        while not self._closing:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(peer.host, peer.port),
                    self.limits.handshake_timeout_ms / 1000)
            except (TimeoutError, OSError):
                reader = writer = None  # type: ignore[assignment]
            if writer is not None and await self._run_link(reader, writer, expect=peer.index):
                backoff_ms = self.limits.reconnect_min_ms
            await asyncio.sleep(backoff_ms / 1000)
            backoff_ms = min(backoff_ms * 2, self.limits.reconnect_max_ms)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing or self._handshaking >= HANDSHAKES_MAX:
            self.metrics.inc("peer_links_refused_total", reason="too_many_handshakes")
            writer.close()
            return
        try:
            await self._run_link(reader, writer, expect=None)
        except asyncio.CancelledError:
            # Shutting down. asyncio's stream server reads this task's exception when it
            # ends, and a cancelled connection task would be logged as an error there.
            writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         expect: int | None) -> tuple[int, bytes]:
        me = self.my_index()
        if me is None:
            raise wire.WireError("this node is not a validator of the current set")
        vals = self._validators()
        hs = wire.Handshake(self.chain.suite, self.chain.chain_id, vals, me, self._secret,
                            os.urandom(wire.NONCE_LEN), expect)
        timeout_s = self.limits.handshake_timeout_ms / 1000
        write_frame(writer, hs.hello())
        await writer.drain()
        first = await read_frame(reader, wire.HANDSHAKE_MAX_FRAME_BYTES, timeout_s)
        write_frame(writer, hs.on_hello(first))
        await writer.drain()
        second = await read_frame(reader, wire.HANDSHAKE_MAX_FRAME_BYTES, timeout_s)
        peer = hs.on_auth(second)
        return peer, vals[peer].pubkey

    async def _run_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        expect: int | None) -> bool:
        """Handshake, then read frames until the link breaks. True if the handshake held."""
        link: Link | None = None
        writer_task: asyncio.Task[None] | None = None
        self._handshaking += 1
        try:
            try:
                peer, pubkey = await self._handshake(reader, writer, expect)
            finally:
                self._handshaking -= 1
            if pubkey in self.links:
                self.metrics.inc("peer_links_refused_total", reason="duplicate")
                log.warning("refused a second link from validator %d (one is up)", peer)
                return False
            link = Link(peer, pubkey, reader, writer, self.limits.peer_queue_max)
            self.links[pubkey] = link
            link.send(wire.STATUS, {"height": self.chain.height()})
            writer_task = asyncio.create_task(self._write_loop(link))
            log.info("link to validator %d up", peer)
            idle_s = self.limits.link_idle_timeout_ms / 1000
            while True:
                frame = await read_frame(reader, self.limits.max_frame_bytes, idle_s)
                link.received.check(frame)
                await self._on_frame(link, frame)
        except (wire.WireError, InvalidInput) as exc:
            log.warning("peer link refused or closed: %s", exc)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            log.info("peer link broken: %s", type(exc).__name__)
        finally:
            if writer_task is not None:
                writer_task.cancel()
            if link is not None and self.links.get(link.pubkey) is link:
                del self.links[link.pubkey]
                log.info("link to validator %d down", link.peer)
            writer.close()
        return link is not None

    async def _write_loop(self, link: Link) -> None:
        ping_s = self.limits.link_ping_ms / 1000
        try:
            while True:
                try:
                    kind, body = await asyncio.wait_for(link.out.get(), ping_s)
                except TimeoutError:  # idle: our head doubles as the keep-alive
                    kind, body = wire.STATUS, {"height": self.chain.height()}
                write_frame(link.writer, wire.encode_frame(kind, link.sent.take(), body))
                await link.writer.drain()
        except (ConnectionError, OSError):
            link.close()

    # ---- frames in --------------------------------------------------------------------------

    async def _on_frame(self, link: Link, frame: wire.Frame) -> None:
        if frame.kind == wire.CONSENSUS:
            message = decode_message(frame.body["msg"])
            self.peer_heights[link.pubkey] = max(self.peer_heights.get(link.pubkey, 0),
                                                 message.height)
            if isinstance(message, PrePrepare | NewView):
                # The proposal's transactions are verified on the worker threads before the
                # replica sees it; this link's later frames wait, so their order is kept.
                block = await self.admission.verify_block(message.block)
                if block is not message.block:
                    message = _with_block(message, block)
            await self._deliver(MessageIn(link.pubkey, message))
        elif frame.kind == wire.TXS:
            if len(self._gossip) >= self.limits.gossip_batches_in_flight:
                self.metrics.inc("gossip_dropped_total", len(frame.body["txs"]))
                return
            # Gossip is not budgeted per source: it comes from authenticated validators and
            # is bounded by the batches in flight.
            task = asyncio.create_task(self.admission.submit(
                frame.body["txs"], source=None, from_peer=True))
            self._gossip.add(task)
            task.add_done_callback(self._gossip.discard)
        elif frame.kind == wire.FETCH:
            count = min(frame.body["max_blocks"], self.limits.fetch_blocks_served_max)
            budget = self.limits.max_frame_bytes // 2  # room for the frame's own overhead
            pairs = self.chain.blocks_from(frame.body["from_height"], count, budget)
            link.send(wire.BLOCKS, {"blocks": [[b, q] for b, q in pairs]})
        elif frame.kind == wire.STATUS:
            head = frame.body["height"]
            self.peer_heights[link.pubkey] = max(self.peer_heights.get(link.pubkey, 0), head + 1)
            self._fetch_if_behind(link, head)
        elif frame.kind == wire.BLOCKS:
            blocks = tuple((Block.decode(b), QC.decode(q)) for b, q in frame.body["blocks"])
            if blocks:
                await self._deliver(BlocksFetched(link.pubkey, blocks))

    def _fetch_if_behind(self, link: Link, peer_head: int) -> None:
        """A peer is ahead: ask it for the next blocks (at most one request a second). The
        replica checks each block's QC and re-executes it before applying it."""
        now = time.monotonic()
        ours = self.chain.height()
        if peer_head <= ours or now - self._last_fetch_s < FETCH_INTERVAL_S:
            return
        self._last_fetch_s = now
        link.send(wire.FETCH, {"from_height": ours + 1,
                               "max_blocks": self.limits.fetch_blocks_served_max})



def _with_block(message: PrePrepare | NewView, block: Block) -> Message:
    return replace(message, block=block)
