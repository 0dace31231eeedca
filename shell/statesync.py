"""State sync: an empty node starts from a recent certified height instead of genesis.

Chosen by ``credchain node start --state-sync`` (or ``[sync] state_sync = true``) on an
empty data directory, and by ``credchain node resync --state-sync``. The pieces and their
checks are ``ledger.snapshot``'s; this module moves them between nodes over the peer links
(frames 0x19–0x1C of ``consensus.wire``).

**Serving** (``SnapshotServer``, answering on every node's peer links): a node offers the
range of heights ``low..high`` it can serve, from the oldest it retains
(``shell.retention``; its base if it was itself state-synced; the first height its
key-by-path index covers) to its head. Nothing is prepared in advance: the state tree is
content-addressed and never pruned, so every held root can be served from the live store,
and a joining node may take pieces of one root from several peers at once. Answers are
bounded: at most ``MAX_SNAPSHOT_NODES`` pieces, within half a frame and within the
``max_bytes`` the asker names (its own frame bound), a manifest only if it fits that too
(else an empty one: "not served"), and a link whose outbound queue is half full gets no
answer (the asker drops it at its timeout and asks the others).

**Joining** (``sync_new_store``), before the node itself starts:

1. dial the configured peers (``peers``, ``peers_file``) as an observer over the usual
   encrypted, authenticated links, and ask each for its offer (``discovery_ms``);
2. pick the height ``H``: the highest one that two peers cover (one, if only one answered,
   or no two agree), so a single peer offering a fake height is not even asked;
3. ask a peer covering ``H`` for the manifest and verify it from this node's own genesis
   anchor (``verify_manifest``: §7's certificate chain, then block ``H``'s QC, then the QC of
   each block below ``H`` decided in a view above 0 that leader choice reads); a peer whose
   manifest does not verify is dropped and another asked;
4. fetch the tree of ``header.state_root`` from every peer covering ``H`` in parallel
   (``peers_max``), ``pieces_per_request`` hashes per request, each piece checked as it
   arrives (``TreeImport``) and written to a new store in ``data_dir/db.statesync``. A peer
   that answers with a piece that does not check, with nothing, with the wrong kind of
   frame, or not within ``request_timeout_ms``, is dropped and its hashes go back to the
   others. Progress is logged every few seconds (pieces, keys, bytes, share of the key
   space);
5. once no hash is left, install block ``H`` as the store's base (``ledger.snapshot.install``)
   and rename the directory to ``data_dir/db``. The node then opens that store, and the
   usual block sync (FETCH/BLOCKS, every QC checked and every block re-executed) takes it
   from ``H`` to the head.

When no peer answers, none offers a snapshot, or every snapshot offered fails, the sync
returns None with a log line saying why and the node starts from genesis and block-syncs
(the fallback). A crash mid-sync leaves only ``db.statesync``, removed at the next try.

Vote records: a store created by state sync has no record of this key's consensus votes.
When the key is not in the set that certifies block ``H + 1``, the store is marked as its own,
as a store created from genesis is (an observer, or a validator voted in later, votes once
seated); a key in that set makes the node follow without voting until
``--confirm-lost-votes`` (as for any store that lost its records), unless
``node resync --state-sync`` carried the records over from the old store.

What a state-synced store does not know: the blocks below ``H`` and so the ids of the
transactions committed there. Block validity never needs them: ``ChainApp.validate`` refuses
a transaction whose nonce is not its sender's next (a committed one's nonce is used), which
the state alone decides, so a state-synced validator judges every block as an archive
validator does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus import durable, wire
from ledger.crypto import Suite
from ledger.errors import CorruptStore, InvalidInput, ProofError
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block
from ledger.kv import KV
from ledger.snapshot import (
    Manifest,
    TreeImport,
    build_manifest,
    export_pieces,
    install,
    verify_manifest,
)
from ledger.store import BlockStore
from shell.config import ConfigError, NodeConfig, read_peers_file
from shell.retention import History
from shell.securelink import SecureStream, secure_handshake

log = logging.getLogger("credchain.statesync")

PROGRESS_EVERY_S = 2.0
SYNC_DIR = "db.statesync"


# ---- serving ------------------------------------------------------------------------------


class SnapshotServer:
    """Answers SNAPSHOTS and SNAPSHOT_GET frames from the live store (module docstring)."""

    def __init__(self, store: BlockStore, history: History, serve: bool,
                 paths_from: int, max_frame_bytes: int,
                 on_fault: Callable[[str], None]) -> None:
        self.store = store
        self.history = history
        self.serve = serve
        self.paths_from = paths_from
        self.budget = max_frame_bytes // 2  # room for the frame's own overhead
        self.max_frame_bytes = max_frame_bytes
        self._on_fault = on_fault
        self.served_pieces = 0

    def offer(self) -> tuple[int, int]:
        """``(low, high)``: every height in it can be served; ``(0, 0)``: none."""
        if not self.serve or self.store.empty or self.store.head()[0] < 1:
            return 0, 0
        head = self.store.head()[0]
        low = max(1, self.paths_from, self.history.oldest())
        return (low, head) if low <= head else (0, 0)

    def answer(self, kind: int, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """The frame that answers a SNAPSHOTS or SNAPSHOT_GET frame (shape already checked
        by ``wire.decode_frame``)."""
        if kind == wire.SNAPSHOTS:
            low, high = self.offer()
            return wire.SNAPSHOT_OFFER, {"low": low, "high": high}
        assert kind == wire.SNAPSHOT_GET
        low, high = self.offer()
        budget = min(self.budget, body["max_bytes"])
        try:
            if "height" in body:
                height = body["height"]
                raw = build_manifest(self.store, height) if low <= height <= high else b""
                return wire.SNAPSHOT_PART, {"manifest": raw if len(raw) <= budget else b""}
            if high == 0:
                return wire.SNAPSHOT_PART, {"nodes": []}
            pieces = export_pieces(self.store.kv, self.store.suite, body["nodes"], budget)
        except CorruptStore as exc:
            self._on_fault(str(exc))
            return wire.SNAPSHOT_PART, ({"manifest": b""} if "height" in body else {"nodes": []})
        except LookupError:  # more validator changes than a bundle may carry
            return wire.SNAPSHOT_PART, {"manifest": b""}
        self.served_pieces += len(pieces)
        return wire.SNAPSHOT_PART, {"nodes": pieces}


# ---- joining: one peer ------------------------------------------------------------------


class PeerGone(Exception):
    """A peer dropped from this sync; ``str()`` says why."""


class SyncPeer:
    """A link of the joining node to one peer: one request at a time, frames it does not
    wait for (STATUS, consensus messages, gossip) read and dropped."""

    def __init__(self, address: tuple[str, int], stream: SecureStream, pubkey: bytes,
                 max_frame_bytes: int, ping_s: float) -> None:
        self.address = address
        self.name = f"{address[0]}:{address[1]} ({pubkey.hex()[:12]})"
        self.stream = stream
        self.pubkey = pubkey
        self.offer: tuple[int, int] = (0, 0)
        self._max = max_frame_bytes
        self.answer_max = max_frame_bytes // 2  # asked of the peer: room for the framing
        self._sent = wire.FrameCounter()
        self._received = wire.FrameCounter()
        self._busy = asyncio.Lock()
        self._last_write = time.monotonic()
        self._keepalive = asyncio.create_task(self._ping(ping_s))

    def covers(self, height: int) -> bool:
        return self.offer[0] <= height <= self.offer[1] and self.offer[1] > 0

    async def request(self, kind: int, body: dict[str, Any], expect: int,
                      timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for the first frame of kind ``expect``; ``PeerGone``
        when the link fails, the peer answers otherwise, or not within ``timeout_s``."""
        async with self._busy:
            try:
                async with asyncio.timeout(timeout_s):
                    self._write(kind, body)
                    await self.stream.drain()
                    while True:
                        data = await self.stream.read_frame(self._max, timeout_s)
                        frame = wire.decode_frame(data, self._max)
                        self._received.check(frame)
                        if frame.kind == expect:
                            return frame.body
                        if frame.kind in (wire.SNAPSHOT_OFFER, wire.SNAPSHOT_PART):
                            raise PeerGone(f"answered {wire.KIND_NAMES[frame.kind]}, "
                                           f"not {wire.KIND_NAMES[expect]}")
            except TimeoutError:
                raise PeerGone(f"no answer within {timeout_s:.1f} s") from None
            except (wire.WireError, InvalidInput, ConnectionError, OSError) as exc:
                raise PeerGone(f"link failed: {exc or type(exc).__name__}") from None

    def _write(self, kind: int, body: dict[str, Any]) -> None:
        self.stream.write_frame(wire.encode_frame(kind, self._sent.take(), body))
        self._last_write = time.monotonic()

    async def _ping(self, ping_s: float) -> None:
        """The serving side closes a link silent for its idle timeout: ping while waiting."""
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await asyncio.sleep(ping_s)
                if self._busy.locked() or time.monotonic() - self._last_write < ping_s:
                    continue
                async with self._busy:  # one writer and one drain at a time
                    self._write(wire.PING, {})
                    await self.stream.drain()

    def close(self) -> None:
        self._keepalive.cancel()
        with contextlib.suppress(Exception):
            self.stream.close()


# ---- joining: the whole sync --------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    height: int
    keys: int
    pieces: int
    bytes: int
    seconds: float
    peers: int


def choose_height(offers: Sequence[tuple[int, int]]) -> int | None:
    """The highest height at least two offers cover (or one, when only one peer offered or
    no two agree): a lone peer claiming a height nobody else has is not believed first."""
    live = [(low, high) for low, high in offers if 1 <= low <= high]
    highs = sorted({high for _, high in live}, reverse=True)
    for need in (2, 1):
        for height in highs:
            if sum(low <= height <= high for low, high in live) >= need:
                return height
    return None


class StateSync:
    """One joining node's sync into a new store (``run``); see the module docstring."""

    def __init__(self, config: NodeConfig, doc: GenesisDoc, secret: bytes,
                 open_kv: Callable[[Path], KV]) -> None:
        self.config = config
        self.sync = config.sync
        self.suite: Suite = doc.crypto
        self.doc = doc
        self.genesis = genesis_block(doc, default_state(doc))
        self.anchor = Anchor.of(self.suite, self.genesis.header, doc.validators)
        self._secret = secret
        self._open_kv = open_kv
        self.peers: list[SyncPeer] = []
        self._tried = False  # a snapshot was chosen at least once

    def targets(self) -> dict[tuple[str, int], bytes | None]:
        """Where to ask, with the key expected there: the configured peers (any key: the
        set at their index may have changed since genesis, the only set this node knows
        yet; every peer still proves its key, and nothing it sends is believed unless it
        verifies from the anchor) and the peers file (its keys)."""
        out: dict[tuple[str, int], bytes | None] = {
            (p.host, p.port): None for p in self.config.peers}
        if self.config.peers_file is not None:
            try:
                for pubkey, host, port in read_peers_file(self.config.peers_file):
                    out[(host, port)] = pubkey
            except ConfigError as exc:
                log.warning("state sync: %s", exc)
        return out

    async def run(self, target: Path,
                  records: Callable[[Manifest], Mapping[bytes, bytes]]) -> SyncReport | None:
        """Sync into a new store at ``target`` (which must not exist); None: no usable
        snapshot (logged), ``target`` untouched."""
        started = time.monotonic()
        try:
            await self._connect()
            if not self.peers:
                log.warning("state sync: no peer could be reached; falling back to block "
                            "sync from genesis")
                return None
            await self._discover()
            while True:
                height = choose_height([p.offer for p in self.peers])
                if height is None:
                    log.warning("state sync: %s; falling back to block sync from genesis",
                                "no peer offers a snapshot" if not self._tried else
                                "every snapshot offered failed (see above)")
                    return None
                self._tried = True
                manifest = await self._manifest(height)
                if manifest is None:
                    continue
                report = await self._fetch(manifest, target, records, started)
                if report is not None:
                    return report
        finally:
            for peer in self.peers:
                peer.close()

    async def _connect(self) -> None:
        limits = self.config.limits
        timeout_s = limits.handshake_timeout_ms / 1000

        async def dial(address: tuple[str, int], expected: bytes | None) -> SyncPeer | None:
            writer = None
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(*address),
                                                        timeout_s)
                stream, pubkey, _ = await secure_handshake(
                    reader, writer, self.suite, self.doc.chain_id, self._secret, None,
                    timeout_s, expected_peer_key=expected)
            except (TimeoutError, OSError, wire.WireError, InvalidInput) as exc:
                log.info("state sync: peer %s:%d not reached: %s", *address,
                         exc or type(exc).__name__)
                if writer is not None:
                    writer.close()
                return None
            return SyncPeer(address, stream, pubkey, limits.max_frame_bytes,
                            limits.link_ping_ms / 1000)

        found = await asyncio.gather(*(dial(a, k) for a, k in self.targets().items()))
        seen: set[bytes] = set()
        for peer in found:
            if peer is not None and peer.pubkey not in seen:
                seen.add(peer.pubkey)
                self.peers.append(peer)
            elif peer is not None:
                peer.close()

    async def _discover(self) -> None:
        timeout_s = self.sync.discovery_ms / 1000

        async def ask(peer: SyncPeer) -> None:
            try:
                body = await peer.request(wire.SNAPSHOTS, {}, wire.SNAPSHOT_OFFER, timeout_s)
            except PeerGone as exc:
                log.info("state sync: %s made no offer: %s", peer.name, exc)
                return
            peer.offer = (body["low"], body["high"])

        await asyncio.gather(*(ask(p) for p in self.peers))
        for peer in self.peers:
            low, high = peer.offer
            log.info("state sync: %s offers %s", peer.name,
                     f"heights {low}..{high}" if 1 <= low <= high else "no snapshot")

    def _drop(self, peer: SyncPeer, reason: str) -> None:
        log.warning("state sync: dropped peer %s: %s", peer.name, reason)
        peer.close()
        if peer in self.peers:
            self.peers.remove(peer)

    async def _manifest(self, height: int) -> Manifest | None:
        """The verified manifest of ``height`` from a peer covering it, or None when none
        gave one (the peers that failed are dropped)."""
        timeout_s = self.sync.request_timeout_ms / 1000
        for peer in [p for p in self.peers if p.covers(height)]:
            try:
                body = await peer.request(
                    wire.SNAPSHOT_GET, {"height": height, "max_bytes": peer.answer_max},
                    wire.SNAPSHOT_PART, timeout_s)
                raw = body.get("manifest")
                if not raw:
                    raise PeerGone(f"offered height {height} but sent no manifest of it")
                manifest = verify_manifest(raw, self.anchor)
                if manifest.height != height:
                    raise ProofError(f"asked for height {height}, the manifest is of "
                                     f"{manifest.height}")
            except (PeerGone, ProofError) as exc:
                self._drop(peer, str(exc))
                continue
            log.info("state sync: height %d certified from the genesis anchor (%d validator "
                     "changes), state root %s, from %s", height, len(manifest.chain),
                     manifest.header.state_root.hex()[:16], peer.name)
            return manifest
        return None

    async def _fetch(self, manifest: Manifest, target: Path,
                     records: Callable[[Manifest], Mapping[bytes, bytes]],
                     started: float) -> SyncReport | None:
        height = manifest.height
        work = target.with_name(SYNC_DIR)
        if work.exists():
            shutil.rmtree(work)
        kv = self._open_kv(work)
        installed = False
        try:
            tree = TreeImport(self.suite, kv, manifest.header.state_root)
            sources = [p for p in self.peers if p.covers(height)][: self.sync.peers_max]
            changed = asyncio.Event()
            progress = asyncio.create_task(self._progress(tree, height, sources))
            try:
                await asyncio.gather(*(self._worker(p, tree, changed) for p in sources))
            finally:
                progress.cancel()
            if not tree.done:
                log.warning("state sync of height %d failed: no peer left to fetch from",
                            height)
                return None
            install(kv, self.doc.to_obj(), self.genesis, self.doc.validators, manifest,
                    tree, records(manifest))
            installed = True
        finally:
            kv.close()
            if not installed:
                shutil.rmtree(work, ignore_errors=True)
        _check_installed(work, self.suite, self._open_kv, manifest)
        work.rename(target)
        seconds = time.monotonic() - started
        report = SyncReport(height, tree.keys, tree.pieces, tree.bytes, seconds, len(sources))
        log.info("state sync done: height %d in %.1f s, %d keys in %d pieces (%.1f MiB) "
                 "from %d peers; block sync continues from height %d", height, seconds,
                 tree.keys, tree.pieces, tree.bytes / 2**20, len(sources), height + 1)
        return report

    async def _worker(self, peer: SyncPeer, tree: TreeImport, changed: asyncio.Event) -> None:
        """Fetch from ``peer`` while hashes are left; on any failure give its hashes back
        and drop it."""
        timeout_s = self.sync.request_timeout_ms / 1000
        while not tree.done:
            if not tree.waiting:
                changed.clear()
                await changed.wait()
                continue
            asked = tree.take(self.sync.pieces_per_request)
            try:
                body = await peer.request(
                    wire.SNAPSHOT_GET, {"nodes": asked, "max_bytes": peer.answer_max},
                    wire.SNAPSHOT_PART, timeout_s)
            except PeerGone as exc:
                tree.give_back(asked)
                changed.set()
                self._drop(peer, str(exc))
                return
            try:
                if "nodes" not in body:
                    tree.give_back(asked)
                    raise ProofError("answered a request for state pieces with a manifest")
                if tree.accept(asked, body["nodes"]) == 0:
                    raise ProofError("does not hold the state pieces it offered")
            except ProofError as exc:
                changed.set()
                self._drop(peer, str(exc))
                return
            changed.set()

    async def _progress(self, tree: TreeImport, height: int,
                        sources: Sequence[SyncPeer]) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            live = sum(p in self.peers for p in sources)
            log.info("state sync progress: height %d, %d keys in %d pieces (%.1f MiB), ~%.0f%% "
                     "of the key space, %d hashes to ask, %d peers", height, tree.keys,
                     tree.pieces, tree.bytes / 2**20, 100 * tree.progress(), tree.waiting,
                     live)


def _check_installed(path: Path, suite: Suite, open_kv: Callable[[Path], KV],
                     manifest: Manifest) -> None:
    """The new store opens at the manifest's block, its tree at the certified root."""
    kv = open_kv(path)
    try:
        store = BlockStore(kv, suite)
        if store.head()[0] != manifest.height or store.tree.root != manifest.header.state_root:
            raise CorruptStore("the state-synced store does not open at its snapshot")
    finally:
        kv.close()


def has_chain(db: Path) -> bool:
    """Whether the store in ``db`` holds a chain (a head), without creating one."""
    return chain_height(db) is not None


def chain_height(db: Path) -> int | None:
    """The head height of the store in ``db``, or None when it holds no chain (nothing is
    created)."""
    from ledger.kv import LevelKV, open_failure
    from ledger.store import head_height_of

    if not (db / "CURRENT").exists():
        return None
    try:
        kv = LevelKV(str(db), create=False)
    except Exception as exc:  # plyvel raises its own IOError for a held lock
        raise InvalidInput(open_failure(db, exc)) from None
    try:
        return head_height_of(kv)
    finally:
        kv.close()


def owner_if_not_seated(pubkey: bytes) -> Callable[[Manifest], Mapping[bytes, bytes]]:
    """The records a fresh node's state-synced store starts with: the owner record of
    ``pubkey`` when it is not in the set that certifies the next block (it never voted at
    a height this store will see); nothing for a validator (module docstring)."""

    def records(manifest: Manifest) -> Mapping[bytes, bytes]:
        if any(v.pubkey == pubkey for v in manifest.next_validators):
            log.warning("state sync: this node's key is a validator's at height %d and the new "
                        "store has no record of its votes: it follows without voting until "
                        "started with --confirm-lost-votes (`node resync --state-sync` on the "
                        "old store carries the records over instead)", manifest.height + 1)
            return {}
        return {durable.OWNER_KEY: pubkey}

    return records


def sync_new_store(config: NodeConfig, doc: GenesisDoc, secret: bytes,
                   records: Callable[[Manifest], Mapping[bytes, bytes]] | None = None,
                   ) -> SyncReport | None:
    """State-sync ``config.data_dir/db`` (which must hold no chain) from the peers; None
    when the node must fall back to block sync from genesis (logged). Runs its own event
    loop: call it before the node's."""
    from ledger.kv import LevelKV

    db = config.data_dir / "db"
    if has_chain(db):
        raise InvalidInput(f"{db} already holds a chain: state sync starts empty stores only")
    if db.exists():  # a directory without a chain: set aside, never deleted
        db.rename(db.with_name(f"db.empty-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"))
    db.parent.mkdir(parents=True, exist_ok=True)
    pubkey = doc.crypto.public_key(secret)
    sync = StateSync(config, doc, secret, lambda path: LevelKV(str(path)))
    log.info("state sync: asking peers for a snapshot (up to %.1f s)",
             config.sync.discovery_ms / 1000)
    return asyncio.run(sync.run(db, records or owner_if_not_seated(pubkey)))
