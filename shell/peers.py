"""Peer links: encrypted, mutually authenticated TCP streams between nodes; frames to events.

``PeerNet`` is the driver's ``Transport`` (``send``, ``fetch``) and the node's gossip. It
listens on the peer port and dials the configured peers: of two validators the one with the
lower public key dials (each pair connects once, whatever their indexes in a changing set),
and a node that is not in the set (an observer: a full node that verifies the chain without
voting) dials every validator. A broken link is redialled with exponential backoff.

A link's life:

1. **Secure handshake** (``shell.securelink``, CometBFT's SecretConnection in shape): fresh
   ephemeral keys (X25519, or SM2 on ``sm2-sm3`` chains), keys per direction from the shared
   secret, then each side proves its node key by signing the session's challenge. Every read
   before authentication has an exact small size and one deadline
   (``handshake_timeout_ms``), so a stranger can't make the node read or decode more than a
   few hundred bytes; unauthenticated connections are bounded in number. Forward secrecy:
   the ephemeral secrets are dropped once the keys are derived.
2. **Admission**: a peer claiming a validator index must hold that index's key; an observer
   must hold a key the chain knows (a role, an entity's or a validator's). A peer that
   already has a live link is **refused** (the first link stays). Idle links carry STATUS
   frames; a link silent for ``link_idle_timeout_ms`` is closed.
3. **Frames** (``consensus.wire``), each sealed (AEAD, per-direction counter), of up to
   ``max_frame_bytes``: consensus messages, proposals as header and transaction ids
   (``shell.proposals``: rebuilt from the pool, the missing transactions asked of the
   sender; then any signature not yet verified is, on the worker threads,
   ``Admission.verify_block``), gossip batches (admitted concurrently, a bounded number in
   flight), block requests and answers, STATUS, and the snapshot requests a joining node
   makes (answered by ``shell.statesync.SnapshotServer``). The read loop handles gossip and
   the missing-transaction exchange itself; everything else goes, in order, to the link's
   handler task.

Nothing received is trusted: messages are checked by the replica, transactions by admission.
``send`` never blocks: a link whose outbound queue is full drops the frame (consensus
retransmits and catches up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from consensus import wire
from consensus.api import BlocksFetched, Event, MessageIn
from consensus.messages import Message, NewView, PrePrepare, decode_message, encode_message
from contracts.disclosure import full_blocks, reader_of
from contracts.membership import ENDPOINT_PREFIX, endpoint_key
from ledger.block import QC, Block, ValidatorSet
from ledger.encoding import decode_trusted
from ledger.errors import InvalidInput
from ledger.tx import SignedTx
from shell import proposals
from shell.admission import Admission
from shell.chain import Chain
from shell.config import ConfigError, NodeConfig, read_peers_file
from shell.metrics import Metrics
from shell.securelink import LinkClosed, SecureStream, secure_handshake
from shell.statesync import SnapshotServer

log = logging.getLogger("credchain.peers")

HANDSHAKES_MAX = 32  # unauthenticated connections at once
FETCH_INTERVAL_S = 1.0  # a node behind its peers asks for blocks at most this often
REFRESH_S = 2.0  # how often the registry and the peers file are looked at again
DIAL_GRACE_S = 6.0  # the higher key dials too once the lower one has not linked this long
REGISTRY_MAX = 1024  # endpoints read from the chain
UNREACHABLE_LOG_EVERY_S = 300.0  # an address that can't be reached is logged this often
INBOX_MAX = 256  # frames read from a link but not yet handled (then the read waits)
MISSING_TXS_WAIT_S = 2.0  # how long a proposal waits for its missing transactions


class Link:
    """One authenticated, encrypted link: its stream, an outbound queue, frame counters."""

    def __init__(self, pubkey: bytes, role: int | None, stream: SecureStream,
                 queue_max: int, dialer: bytes) -> None:
        self.pubkey = pubkey
        self.role = role  # the validator index the peer claimed at the handshake, or None
        self.dialer = dialer  # the key of the side that dialled this connection
        self.stream = stream
        self.out: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue(queue_max)
        self.sent = wire.FrameCounter()
        self.received = wire.FrameCounter()
        self.dropped = 0
        # Frames handled in order by the link's own task (the read loop only reads), so a
        # proposal waiting for its missing transactions (TXS_FOR) does not stop the read.
        self.inbox: asyncio.Queue[wire.Frame] = asyncio.Queue(INBOX_MAX)
        self.awaiting: asyncio.Future[list[bytes]] | None = None  # our GET_TXS's answer

    @property
    def name(self) -> str:
        return (f"validator {self.role}" if self.role is not None else "observer") + \
            f" {self.pubkey.hex()[:12]}"

    def send(self, kind: int, body: dict[str, Any]) -> None:
        try:
            self.out.put_nowait((kind, body))
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.close()


def _direction(expected: bytes | None) -> str:
    """"to" a peer this node dialled (it expects a key there), "from" one that dialled it
    (operator walk: a link it dialled itself was logged as refused "from" the peer)."""
    return "to" if expected is not None else "from"


def _address(writer: asyncio.StreamWriter) -> str:
    """The other end's address, for the log (``host:port``, or ``?``)."""
    extra = getattr(writer, "get_extra_info", None)  # (an in-memory test stream has none)
    peer = extra("peername") if extra is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"


def link_refusal(chain: Chain, vals: ValidatorSet, pubkey: bytes,
                 role: int | None) -> str | None:
    """Why a peer that proved it holds ``pubkey`` may not have a link, or None.

    A link carries whole blocks, every transaction in them (sealed bids too) and the pool's
    gossip, so it is for the consortium's nodes only: the validators, a node the committee
    registered (``gov.set_endpoint``, README "A new city joins"), and a node of a key that may
    read whole blocks through the API too (a supervisor's: ``contracts.disclosure
    .full_blocks``). Any other key the chain knows (an enterprise's, a platform's) reads what
    the API shows it, never the blocks over a link."""
    if role is not None:
        if not (0 <= role < len(vals)) or vals[role].pubkey != pubkey:
            return f"claims to be validator {role} with another key"
        return None
    if any(v.pubkey == pubkey for v in vals):
        return None  # a validator that thinks it is not one yet (a set just changed)
    if chain.state_value(endpoint_key(pubkey)) is not None:
        return None  # registered by governance
    reader = reader_of(chain.head_state(), pubkey, chain.store.head_header().time_ms)
    if reader is not None and full_blocks(reader):
        return None
    return (f"an observer whose key {pubkey.hex()[:16]}… the committee has not registered "
            "(gov propose set-endpoint --kind observer)")


class PeerNet:
    def __init__(self, config: NodeConfig, chain: Chain, secret: bytes, admission: Admission,
                 metrics: Metrics, validators: Callable[[], ValidatorSet],
                 deliver: Callable[[Event], Awaitable[None]],
                 snapshots: SnapshotServer | None = None,
                 abstaining: Callable[[], bool] = lambda: False) -> None:
        self.config = config
        self.limits = config.limits
        self.chain = chain
        self._secret = secret
        self._pubkey = chain.suite.public_key(secret)
        self.admission = admission
        self.metrics = metrics
        self._validators = validators
        self._deliver = deliver
        self.snapshots = snapshots
        self.links: dict[bytes, Link] = {}  # by the peer's public key
        # The height each peer works on, from its latest consensus message: a node far
        # behind its peers is catching up (/healthz, /status).
        self.peer_heights: dict[bytes, int] = {}
        self._abstaining = abstaining  # does this node vote? (its STATUS frames say)
        self.abstainers: set[bytes] = set()  # peers whose STATUS says they do not vote
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gossip: set[asyncio.Task[Any]] = set()
        self._handshaking = 0
        self._closing = False
        self._last_fetch_s = 0.0
        self._dialling: set[tuple[str, int]] = set()
        self._file_peers: list[tuple[bytes, str, int]] = []
        self._file_mtime: float | None = None
        self._unseated_said: set[int] = set()  # [[peers]] indexes past the set, warned of
        self._sent = proposals.SentProposals()
        self._unlinked_since: dict[bytes, float] = {}  # peer key -> when its link went down
        # peer key -> when its last second links were refused, and when that was last warned
        # of (_say_second_link)
        self._second_links: dict[bytes, list[float]] = {}
        self._second_link_warned: dict[bytes, float] = {}
        metrics.counter("gossip_dropped_total",
                        "Gossiped transactions dropped because too many batches were in flight.")
        metrics.counter("peer_links_refused_total", "Peer connections refused, by reason.")
        metrics.counter("proposals_sent_compact_total",
                        "Proposals sent as header and transaction ids.")
        metrics.counter("proposal_txs_missing_total",
                        "Transactions of received proposals not in the pool (asked of the "
                        "sender).")
        metrics.counter("proposals_incomplete_total",
                        "Received proposals dropped: the sender did not supply every "
                        "transaction in time.")
        metrics.gauge_fn("peers", "Authenticated peer links.",
                         lambda: [((), float(len(self.links)))])

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.config.peer_host,
                                                  self.config.peer_port)
        self._spawn(self._refresh())

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

    def abstaining_indexes(self) -> list[int]:
        """The linked validators whose STATUS says they do not vote."""
        vals = self._validators()
        return [i for i in self.peer_indexes() if vals[i].pubkey in self.abstainers]

    def _status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"height": self.chain.height()}
        if self._abstaining():
            body["abstaining"] = True
        return body

    def peer_head_heights(self) -> dict[int, int]:
        """Validator index → the head height its messages show (the height it works on
        minus one), for the peers linked now."""
        keys = [v.pubkey for v in self._validators()]
        return {keys.index(k): max(0, h - 1) for k, h in self.peer_heights.items()
                if k in keys and k in self.links}

    # ---- the driver's transport, and gossip -------------------------------------------------

    def send(self, to: int | None, message: Message) -> None:
        if proposals.is_proposal(message):
            # Header and transaction ids only: followers hold the transactions already.
            assert isinstance(message, PrePrepare | NewView)
            self._sent.remember(self.chain.suite, message.block)
            kind, body = wire.PROPOSAL, proposals.compact(message, self.chain.suite)
            self.metrics.inc("proposals_sent_compact_total")
        else:
            kind, body = wire.CONSENSUS, {"msg": encode_message(message)}
        if to is None:
            for link in list(self.links.values()):
                link.send(kind, body)
        else:
            self._send_to(to, kind, body)

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

    def _should_dial(self, peer_key: bytes | None) -> bool:
        """Each pair of validators connects once: the one with the lower key dials, and the
        other too once no link has come up for ``DIAL_GRACE_S`` (the lower one may not know
        its address: a city that joined with a partial peer list); of two links at once the
        one the lower key dialled stays (``_keep_new``). An observer (not in the set) dials
        every validator; validators never dial it."""
        if peer_key is None or peer_key == self._pubkey:
            return False
        if self.my_index() is None:
            return any(v.pubkey == peer_key for v in self._validators())
        if self._pubkey < peer_key:
            return True
        since = self._unlinked_since.setdefault(peer_key, time.monotonic())
        return time.monotonic() - since >= DIAL_GRACE_S

    def _say_second_link(self, pubkey: bytes, name: str) -> None:
        """A second link while one is up: now and then, a race of two dials (INFO); three
        within a minute, a second process with that key, which an operator must hear of
        (WARNING, at most once a minute; operator walk: a copy of a validator on another
        machine showed only as INFO every 6 s)."""
        now = time.monotonic()
        recent = [t for t in self._second_links.get(pubkey, []) if now - t < 60.0][-2:]
        self._second_links[pubkey] = [*recent, now]
        warned = self._second_link_warned.get(pubkey)
        if len(recent) == 2 and (warned is None or now - warned >= 60.0):
            self._second_link_warned[pubkey] = now
            log.warning("refused a second link from %s, 3 within %.0f s while its link is up: "
                        "is that key running on two machines? Only one may hold a validator's "
                        "key", name, now - recent[0])
        else:
            log.info("refused a second link from %s (one is up)", name)

    def _keep_new(self, old: Link, dialer: bytes) -> bool:
        """Whether a second link to ``old``'s peer replaces it: only the one the lower key
        dialled is kept, so both ends keep the same connection."""
        lower = min(self._pubkey, old.pubkey)
        return old.dialer != lower and dialer == lower

    def targets(self) -> dict[tuple[str, int], bytes | None]:
        """Where the peers are, address → the key expected there: the config's peers (by
        validator index in the current set), the chain's endpoint registry (validators),
        and the peers file."""
        vals = self._validators()
        out: dict[tuple[str, int], bytes | None] = {}
        for peer in self.config.peers:
            in_set = 0 <= peer.index < len(vals)
            out[(peer.host, peer.port)] = vals[peer.index].pubkey if in_set else None
            if not in_set and peer.index not in self._unseated_said:
                # (operator walk: an index past the set was dropped without a word)
                self._unseated_said.add(peer.index)
                log.warning("[[peers]] index = %d (%s:%d): the validator set has %d members "
                            "(0..%d); that peer is dialled once a validator holds the index",
                            peer.index, peer.host, peer.port, len(vals), len(vals) - 1)
        seated = {v.pubkey for v in vals}
        for pubkey, host, port, kind in self._registry():
            if kind == "validator" or pubkey in seated:  # a node voted in is dialled as one
                out[(host, port)] = pubkey
        for pubkey, host, port in self._peers_file():
            out[(host, port)] = pubkey
        # never this node itself: its own key's entry (a rotated-out key's node finds its old
        # address registered under the new key) or its own listening address
        own = (self.config.peer_host, self.config.peer_port)
        return {a: k for a, k in out.items() if k != self._pubkey and a != own}

    def _registry(self) -> list[tuple[bytes, str, int, str]]:
        out = []
        for key in self.chain.state_keys(ENDPOINT_PREFIX, REGISTRY_MAX):
            raw = self.chain.state_value(key)
            entry = decode_trusted(raw) if raw is not None else None
            if isinstance(entry, dict):
                out.append((bytes.fromhex(key[len(ENDPOINT_PREFIX):]), str(entry["host"]),
                            int(entry["port"]), str(entry["kind"])))
        return out

    def _peers_file(self) -> list[tuple[bytes, str, int]]:
        path = self.config.peers_file
        if path is None:
            return []
        try:
            mtime: float | None = path.stat().st_mtime
        except OSError as exc:
            mtime = None
            if self._file_mtime != -1.0:  # said once, until the file is back (operator walk)
                log.warning("peers file %s: %s (keeping the previous list of %d)", path,
                            exc.strerror or exc, len(self._file_peers))
            self._file_mtime = -1.0
        if mtime is not None and mtime != self._file_mtime:
            self._file_mtime = mtime  # a bad file is said once, not at every re-read
            try:
                self._file_peers = read_peers_file(path)
                log.info("peers file %s: %d peers", path, len(self._file_peers))
            except ConfigError as exc:
                log.warning("%s (keeping the previous list)", exc)
        return self._file_peers

    async def _refresh(self) -> None:
        """Dial every target that has no dialler yet; re-read the sources now and then."""
        while not self._closing:
            for address in self.targets():
                if address not in self._dialling:
                    self._dialling.add(address)
                    self._spawn(self._dial(address))
            await asyncio.sleep(REFRESH_S)

    async def _dial(self, address: tuple[str, int]) -> None:
        backoff_ms = self.limits.reconnect_min_ms
        said_at: float | None = None  # when an unreachable address was last logged
        while not self._closing:
            expected = self.targets().get(address)
            if expected is None or not self._should_dial(expected) or expected in self.links:
                await asyncio.sleep(REFRESH_S)  # the set, the registry or the link may change
                continue
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*address), self.limits.handshake_timeout_ms / 1000)
            except (TimeoutError, OSError) as exc:
                reader = writer = None  # type: ignore[assignment]
                now = time.monotonic()
                if said_at is None or now - said_at >= UNREACHABLE_LOG_EVERY_S:
                    said_at = now  # a typo in a peer's address is found in the log
                    log.warning("cannot reach peer %s:%d (key %s…): %s; retrying with backoff",
                                address[0], address[1], expected.hex()[:16],
                                type(exc).__name__ if str(exc) == "" else exc)
            else:
                if said_at is not None:
                    log.info("peer %s:%d reachable again", address[0], address[1])
                said_at = None
            if writer is not None and await self._run_link(reader, writer, expected):
                backoff_ms = self.limits.reconnect_min_ms  # the peer spoke: a link that held
            await asyncio.sleep(backoff_ms / 1000)
            backoff_ms = min(backoff_ms * 2, self.limits.reconnect_max_ms)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing or self._handshaking >= HANDSHAKES_MAX:
            self.metrics.inc("peer_links_refused_total", reason="too_many_handshakes")
            writer.close()
            return
        try:
            await self._run_link(reader, writer, None)
        except asyncio.CancelledError:
            # Shutting down. asyncio's stream server reads this task's exception when it
            # ends, and a cancelled connection task would be logged as an error there.
            writer.close()

    def _admit(self, pubkey: bytes, role: int | None) -> str | None:
        """Why an authenticated peer is refused, or None (``link_refusal``)."""
        return link_refusal(self.chain, self._validators(), pubkey, role)

    async def _run_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        expected: bytes | None) -> bool:
        """Handshake, then read frames until the link breaks. True if the peer spoke on it
        (each end sends its status first): a peer that closes the link right after the
        handshake refused it, and the dialler backs off instead of redialling at once."""
        link: Link | None = None
        heard = False
        writer_task: asyncio.Task[None] | None = None
        handler_task: asyncio.Task[None] | None = None
        where = _address(writer)
        self._handshaking += 1
        try:
            try:
                stream, pubkey, role = await secure_handshake(
                    reader, writer, self.chain.suite, self.chain.chain_id, self._secret,
                    self.my_index(), self.limits.handshake_timeout_ms / 1000,
                    expected_peer_key=expected)
            finally:
                self._handshaking -= 1
            refused = self._admit(pubkey, role)
            if refused is not None:
                self.metrics.inc("peer_links_refused_total", reason="unknown_peer")
                log.warning("refused a peer link %s %s: %s", _direction(expected), where,
                            refused)
                return False
            dialer = self._pubkey if expected is not None else pubkey
            old = self.links.get(pubkey)
            if old is not None:
                if not self._keep_new(old, dialer):
                    self.metrics.inc("peer_links_refused_total", reason="duplicate")
                    self._say_second_link(pubkey, old.name)
                    return False
                old.close()  # both ends keep the link the lower key dialled
            link = Link(pubkey, role, stream, self.limits.peer_queue_max, dialer)
            self.links[pubkey] = link
            self._unlinked_since.pop(pubkey, None)
            link.send(wire.STATUS, self._status())
            writer_task = asyncio.create_task(self._write_loop(link))
            handler_task = asyncio.create_task(self._handle_loop(link))
            log.info("link to %s up", link.name)
            idle_s = self.limits.link_idle_timeout_ms / 1000
            while True:
                data = await stream.read_frame(self.limits.max_frame_bytes, idle_s)
                heard = True
                frame = wire.decode_frame(data, self.limits.max_frame_bytes)
                link.received.check(frame)
                # What needs no order is handled as it is read: gossip (admitted on its own
                # tasks) and the exchange of a proposal's missing transactions, which the
                # handler may be waiting for.
                if frame.kind == wire.TXS:
                    self._on_gossip(frame.body["txs"])
                elif frame.kind == wire.TXS_FOR:
                    self._on_answer(link, frame.body["txs"])
                elif frame.kind == wire.GET_TXS:
                    self._serve_txs(link, frame.body["ids"])
                else:
                    await link.inbox.put(frame)
        except (wire.WireError, InvalidInput) as exc:
            if link is not None and not heard and expected is not None:
                log.warning("%s closed the link right after the handshake: it keeps another "
                            "link to this node, or does not admit this node's key (an "
                            "observer's must be registered: gov propose set-endpoint); "
                            "redialling with backoff", link.name)
            elif link is None:  # not a credchain node, or not of this chain, or an impostor
                self.metrics.inc("peer_links_refused_total", reason="handshake")
                log.warning("refused a peer link %s %s: %s", _direction(expected), where, exc)
            elif isinstance(exc, LinkClosed):  # a peer restarting: every restart did this
                log.info("peer link to %s closed: %s", link.name, exc)
            else:
                log.warning("peer link to %s closed: %s", link.name, exc)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            if link is None:
                self.metrics.inc("peer_links_refused_total", reason="handshake_broken")
            log.info("peer link %s broken: %s", link.name if link else f"from {where}",
                     type(exc).__name__)
        finally:
            if writer_task is not None:
                writer_task.cancel()
            if handler_task is not None:
                handler_task.cancel()
            if link is not None and self.links.get(link.pubkey) is link:
                del self.links[link.pubkey]
                self.abstainers.discard(link.pubkey)
                self._unlinked_since[link.pubkey] = time.monotonic()
                log.info("link to %s down", link.name)
            writer.close()
        return heard

    async def _write_loop(self, link: Link) -> None:
        ping_s = self.limits.link_ping_ms / 1000
        try:
            while True:
                try:
                    kind, body = await asyncio.wait_for(link.out.get(), ping_s)
                except TimeoutError:  # idle: our head doubles as the keep-alive
                    kind, body = wire.STATUS, self._status()
                link.stream.write_frame(wire.encode_frame(kind, link.sent.take(), body))
                await link.stream.drain()
        except (ConnectionError, OSError):
            link.close()

    # ---- frames in --------------------------------------------------------------------------

    async def _handle_loop(self, link: Link) -> None:
        """Handle the link's frames in the order they came; a refused frame ends the link."""
        try:
            while True:
                await self._on_frame(link, await link.inbox.get())
        except (wire.WireError, InvalidInput) as exc:
            log.warning("peer link to %s closed: %s", link.name, exc)
            link.close()
        except Exception:  # a bug: say so, and drop the link rather than stall it
            log.exception("peer link to %s closed on an internal error", link.name)
            link.close()

    def _on_gossip(self, txs: list[bytes]) -> None:
        if len(self._gossip) >= self.limits.gossip_batches_in_flight:
            self.metrics.inc("gossip_dropped_total", len(txs))
            return
        # Gossip is not budgeted per source: it comes from authenticated validators and
        # is bounded by the batches in flight.
        task = asyncio.create_task(self.admission.submit(txs, from_peer=True))
        self._gossip.add(task)
        task.add_done_callback(self._gossip.discard)

    async def _on_frame(self, link: Link, frame: wire.Frame) -> None:
        if frame.kind in (wire.CONSENSUS, wire.PROPOSAL):
            if frame.kind == wire.PROPOSAL:
                message: Message | None = await self._rebuild(link, frame.body)
                if message is None:
                    return
            else:
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
        elif frame.kind == wire.FETCH:
            count = min(frame.body["max_blocks"], self.limits.fetch_blocks_served_max)
            budget = self.limits.max_frame_bytes // 2  # room for the frame's own overhead
            pairs = self.chain.blocks_from(frame.body["from_height"], count, budget)
            link.send(wire.BLOCKS, {"blocks": [[b, q] for b, q in pairs]})
        elif frame.kind == wire.STATUS:
            head = frame.body["height"]
            if frame.body.get("abstaining"):
                self.abstainers.add(link.pubkey)
            else:
                self.abstainers.discard(link.pubkey)
            self.peer_heights[link.pubkey] = max(self.peer_heights.get(link.pubkey, 0), head + 1)
            self._fetch_if_behind(link, head)
        elif frame.kind == wire.BLOCKS:
            blocks = tuple((Block.decode(b), QC.decode(q)) for b, q in frame.body["blocks"])
            if blocks:
                await self._deliver(BlocksFetched(link.pubkey, blocks))
        elif (frame.kind in (wire.SNAPSHOTS, wire.SNAPSHOT_GET) and self.snapshots is not None
              and link.out.qsize() < link.out.maxsize // 2):
            # A link already behind on its answers gets none (the joining node drops it at
            # its timeout and asks others), so one asker can't queue up the store's reads.
            link.send(*self.snapshots.answer(frame.kind, frame.body))

    async def _rebuild(self, link: Link, body: dict[str, Any]) -> Message | None:
        """The proposal a PROPOSAL frame names, its transactions from our pool (waiting for
        gossip being admitted, then asking the sender for the rest), or None when the sender
        did not supply them in time (the proposal is lost, as if never received)."""
        stripped, ids = proposals.parse(body)
        pool = self.chain.pool
        found = proposals.lookup(ids, [pool.get, self._sent.get])
        if None in found and self._gossip:  # a proposal can overtake its own gossip
            await asyncio.wait(set(self._gossip), timeout=MISSING_TXS_WAIT_S)
            found = proposals.lookup(ids, [pool.get, self._sent.get])
        missing = [i for i, tx in zip(ids, found, strict=True) if tx is None]
        if missing:
            self.metrics.inc("proposal_txs_missing_total", len(missing))
            fetched = await self._ask_for_txs(link, missing)
            found = [tx if tx is not None else fetched.get(i)
                     for i, tx in zip(ids, found, strict=True)]
        if None in found:
            self.metrics.inc("proposals_incomplete_total")
            log.info("proposal for height %d from %s dropped: %d of its transactions "
                     "did not come", stripped.height, link.name, found.count(None))
            return None
        return proposals.rebuild(stripped, [tx for tx in found if tx is not None])

    async def _ask_for_txs(self, link: Link, ids: list[bytes]) -> dict[bytes, SignedTx]:
        loop = asyncio.get_running_loop()
        link.awaiting = answer = loop.create_future()
        link.send(wire.GET_TXS, {"ids": ids})
        try:
            raw = await asyncio.wait_for(answer, MISSING_TXS_WAIT_S)
        except TimeoutError:
            return {}
        finally:
            link.awaiting = None
        return proposals.accept_answer(self.chain.suite, ids, raw)

    def _on_answer(self, link: Link, txs: list[bytes]) -> None:
        if link.awaiting is None or link.awaiting.done():
            raise wire.WireError("a TXS_FOR frame nobody asked for")
        link.awaiting.set_result(txs)

    def _serve_txs(self, link: Link, ids: list[bytes]) -> None:
        """Answer a peer's GET_TXS from the proposals we sent and our pool, within a frame."""
        found = proposals.lookup(ids, [self._sent.get, self.chain.pool.get])
        out: list[bytes] = []
        budget = self.limits.max_frame_bytes // 2
        for tx in found:
            if tx is not None:
                raw = tx.encode()
                budget -= len(raw) + 8
                if budget < 0:
                    break
                out.append(raw)
        link.send(wire.TXS_FOR, {"txs": out})

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
