"""The node's lifecycle: build it, start it, run it until a signal, stop it in bounded time.

``Node.open(config)`` builds everything in one pass: the key, the chain (``shell.chain``), the
metrics, admission, the peer links, and the driver around the replica. With state sync asked
for and no chain in the data directory, ``shell.statesync`` first fills a new store from the
peers' snapshot of a recent certified height (or, when none is usable, says so and the node
starts from genesis); block sync then goes on from there. ``run()`` serves until
SIGTERM or SIGINT, then stops: peer links are closed first (peers see it at once), then the
HTTP listener, then the tasks, each within ``shutdown_grace_ms``; a second signal forces the
exit at once. A replica step that raises (a broken invariant, a damaged store) stops the node
with the reason and a non-zero exit code, never a process that looks healthy and does nothing.

One task owns the replica (``_consume``): events from peers, admission and the timer queue up
and are stepped one at a time through ``shell.driver.Driver``, whose effects follow the
durability order (persist, then send, then apply).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import ssl
import sys
import time
from typing import Any

from aiohttp import web

from consensus.api import Event, Tick, TxsAdmitted, WakeAt
from consensus.quorum import quorum, weak_quorum
from ledger.block import QC, Block
from ledger.bundle import MAX_KEY_LEN
from ledger.errors import CorruptStore, InvalidInput
from ledger.genesis import GenesisDoc
from ledger.multi import MAX_ENTRIES
from ledger.snapshot import ensure_path_index
from ledger.tx import Receipt
from ledger.verdict import beijing_time
from shell.admission import Admission
from shell.api import build_app
from shell.beacon import BeaconDuty
from shell.chain import Chain
from shell.config import ConfigError, LogConfig, NodeConfig
from shell.driver import Driver
from shell.events import EventHub
from shell.httpguard import GuardedServer
from shell.metrics import Metrics
from shell.peers import PeerNet
from shell.ratelimit import TokenBuckets
from shell.readers import Readers
from shell.retention import History
from shell.runs import check_run
from shell.statesync import SnapshotServer, SyncReport, chain_height, sync_new_store

log = logging.getLogger("credchain.node")
# what a node whose key is not (or no longer) a validator's should do, where ``index`` says it is
NOT_A_VALIDATOR_ADVICE = ("rotated out or removed? restart it with the validator's new key_file, "
                          "or remove `index` from its config to run it as an observer")


EXIT_FORCED = 3  # a second signal cut the shutdown short
HEALTH_LOG_AFTER_S = 10.0  # an unhealthy node says so in its log once a reason held this long
BEACON_INTERVAL_S = 2.0  # beacon windows also end by time: ask what is owed this often
# Inner nodes of the state tree loaded into memory at start (``StateTree.warm``): all of a
# state of up to ~170k keys (~0.3 s for 33k keys here), about the top of a bigger one; the
# rest is pinned as blocks walk it. ~200 bytes each.
WARM_TREE_NODES = 1 << 18


class StartupError(InvalidInput):
    """The node can't start; ``str()`` is one line naming the setting or resource."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    """One node process. Build with ``Node.open(config)``; ``run()`` serves until stopped."""

    def __init__(self, config: NodeConfig, chain: Chain, secret: bytes,
                 confirm_lost_votes: bool = False,
                 state_synced: SyncReport | None = None,
                 run_problem: str | None = None) -> None:
        self.config = config
        self.limits = config.limits
        self.chain = chain
        self.metrics = Metrics()
        self.history = History(chain.store, config.sync.retain_heights)
        self.state_synced = state_synced
        self.events: asyncio.Queue[Event] = asyncio.Queue(self.limits.event_queue_max)
        self._nudged = False
        self._wake_at: int | None = None  # the next tender deadline told to the replica
        self._wake_next: int | None = None  # ... and as last computed
        self._wake_height = -1  # the schedule's covered height it was computed at
        self.body_budget = TokenBuckets(self.limits.request_bytes_per_second)
        self.readers = Readers(chain.suite, chain.chain_id)
        self.admission = Admission(chain, self.limits, self.metrics, self._nudge, self._gossip)
        self.pubkey = pubkey = chain.suite.public_key(secret)
        self.votes_missing = not chain.votes_are_mine(pubkey, confirm_lost_votes)
        if self.votes_missing:
            log.error("this store has blocks but no record that its consensus votes are "
                      "this validator's (restored or copied?): the node follows the chain "
                      "without voting; once sure, restart with --confirm-lost-votes")
        elif run_problem is not None:  # an older copy of this node's own store (shell.runs)
            self.votes_missing = True
            log.error("%s: the node follows the chain without voting; once sure, restart "
                      "with --confirm-lost-votes", run_problem)
        replica = chain.make_replica(secret, config.replica, abstain=self.votes_missing,
                                     tick_ms=self.limits.tick_ms)
        snapshots = SnapshotServer(chain.store, self.history, config.sync.serve_snapshots,
                                   ensure_path_index(chain.store), self.limits.max_frame_bytes,
                                   self.store_fault)
        self.peers = PeerNet(config, chain, secret, self.admission, self.metrics,
                             validators=lambda: self.driver.replica.validators,
                             deliver=self.events.put, snapshots=snapshots,
                             abstaining=lambda: self.votes_missing)
        self.event_hub = EventHub(chain, self.metrics, config.events)
        self.driver = Driver(replica, chain, self.peers,
                             observers=[self._on_commit, self.event_hub.on_commit])
        self._seat: int | None = replica.index  # logged when it changes (_note_seat)
        self._left_at: int | None = None  # the height after which its key left the set
        self._logged_heartbeat_ms = self._heartbeat_ms()  # logged when a vote changes it
        self.beacon = BeaconDuty(chain, secret,
                                 lambda encoded: self.admission.submit(encoded))
        self._beacon_running = False
        self.guard = GuardedServer(lambda: None, self.limits.http_header_timeout_ms,
                                   self.limits.http_idle_timeout_ms,
                                   self.limits.http_connections_max,
                                   self.limits.http_connections_per_address_max)
        self.stopping = asyncio.Event()
        self.consumer: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._http: asyncio.base_events.Server | None = None
        self._fault: str | None = None
        self.last_commit_s = time.monotonic()
        self._waiting_since: float | None = None  # transactions wait since (no commit since)
        # (what health said, since when, whether it was logged): ``_log_health``
        self._health_seen: tuple[str, float, bool] = ("ok", time.monotonic(), True)
        self._register_metrics()

    @classmethod
    def open(cls, config: NodeConfig, confirm_lost_votes: bool = False,
             state_sync: bool = False) -> Node:
        """Load the key, open (or state-sync, or create from the genesis file) the store.
        ``state_sync`` (or ``[sync] state_sync``): an empty store starts from a snapshot."""
        from ledger.keyfile import load_chain_key
        from ledger.kv import LevelKV, open_failure

        doc = GenesisDoc.load(config.genesis_file)
        secret = load_chain_key(config.key_file, config.passphrase(), doc.suite).secret
        db = config.data_dir / "db"
        for folder in (config.data_dir, db):  # (operator walk: "File exists")
            if folder.exists() and not folder.is_dir():
                raise StartupError(f"{folder} is a file, not a directory: data_dir names the "
                                   "node's data directory (its store goes in db/ under it)")
        synced = None
        if state_sync or config.sync.state_sync:
            height = chain_height(db)
            if height == 0:
                log.warning("state sync not done: the store in %s holds genesis only (from an "
                            "earlier start) and block sync goes on from it; to start from a "
                            "snapshot instead, stop the node and run `credchain node resync "
                            "--config %s --state-sync` (it sets this store aside and keeps "
                            "this validator's vote records)", db, config_path(config))
            elif height is not None:
                log.info("state sync not needed: the store in %s holds a chain; block sync "
                         "goes on from its head", db)
            else:
                synced = sync_new_store(config, doc, secret)
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            kv = LevelKV(str(db))
        except CorruptStore as exc:  # LevelDB found a record failing its checksum
            raise StartupError(
                f"the store in {db} is damaged ({exc}); move it aside and rebuild it from "
                f"the peers with: credchain node resync --config {config_path(config)}"
            ) from None
        except Exception as exc:  # plyvel raises its own IOError for a held lock
            raise StartupError(open_failure(db, exc)) from None
        try:
            try:
                chain = Chain.open(kv, doc, config.pool)
                problem = chain.integrity_problem()
                if problem is None:
                    _warm_tree(chain)
            # LevelDB checksums, the head's recorded root, the tree's records as they pin
            except CorruptStore as exc:
                problem = str(exc)
            if problem is not None:
                raise StartupError(
                    f"the store in {db} is damaged ({problem}); move it aside and rebuild it "
                    f"from the peers with: credchain node resync --config {config_path(config)}")
            # The key against the config's index first: a wrong key file is said as such,
            # before its missing vote records are (operator walk: that came first, with the
            # advice to confirm lost votes), and it counts no run of the store.
            pubkey = chain.suite.public_key(secret)
            seat = next((i for i, v in enumerate(chain.validators()) if v.pubkey == pubkey),
                        None)
            if config.index is not None and seat != config.index:
                if seat is not None:
                    raise StartupError(f"the config says index = {config.index}, but this key "
                                       f"is validator {seat} of the chain's set")
                # (operator walk: a config copied with another key ran as an observer)
                raise StartupError(
                    f"the config says index = {config.index}, but this key is not in the "
                    f"validator set at height {chain.height()}: {NOT_A_VALIDATOR_ADVICE}")
            try:
                run_problem = check_run(config.data_dir, kv, confirm_lost_votes)
            except OSError as exc:  # a directory the node may not write, a full disk
                raise StartupError(f"cannot write in the data directory {config.data_dir}: "
                                   f"{exc.strerror or exc} ({exc.filename or ''})") from None
            node = cls(config, chain, secret, confirm_lost_votes, synced, run_problem)
        except BaseException:
            kv.close()
            raise
        return node

    def seat(self) -> int | None:
        """This key's place in the validator set, whether it votes or abstains (its vote
        records missing), or None: not in the set (an observer, removed or rotated out).
        ``driver.replica.index`` is the place it votes from, None while abstaining."""
        for i, v in enumerate(self.driver.replica.validators):
            if v.pubkey == self.pubkey:
                return i
        return None

    # ---- the replica's task, the timer, admission's nudge ----------------------------------

    async def _consume(self) -> None:
        # Views are counted as they advance within a height (a height starts at view 0):
        # a view change this replica starts, joins, or completes in one step (the new leader
        # whose own view-change message makes the quorum is never seen "in" the change
        # between two steps, which a count of entries into the change missed).
        replica = self.driver.replica
        height, view = replica.height, replica.view
        while True:
            event = await self.events.get()
            if isinstance(event, TxsAdmitted):
                self._nudged = False
            self.driver.step(event)
            if replica.height != height:
                height, view = replica.height, 0
            if replica.view > view:
                self.metrics.inc("view_changes_total", replica.view - view)
                view = replica.view

    def _nudge(self) -> None:
        if self._waiting_since is None:  # transactions wait from now (health's stall clock)
            self._waiting_since = time.monotonic()
        if not self._nudged:
            with contextlib.suppress(asyncio.QueueFull):
                self.events.put_nowait(TxsAdmitted())
                self._nudged = True

    def _gossip(self, txs: list[bytes]) -> None:
        self.peers.gossip(txs)

    async def _ticker(self) -> None:
        period_s = self.limits.tick_ms / 1000
        regossip_at = health_at = 0
        while True:
            await asyncio.sleep(period_s)
            mono_ms = int(time.monotonic() * 1000)
            self.chain.pool.expire(mono_ms)
            if mono_ms >= regossip_at:
                regossip_at = mono_ms + self.limits.regossip_ms
                self._regossip(mono_ms)
            if mono_ms >= health_at:
                health_at = mono_ms + 1_000
                self._log_health()
            wake = self._next_wake()
            with contextlib.suppress(asyncio.QueueFull):
                if wake != self._wake_at:
                    self.events.put_nowait(WakeAt(wake))
                    self._wake_at = wake
                self.events.put_nowait(Tick(now_ms()))

    def _log_health(self) -> None:
        """Say in the log when the node turns unhealthy (a WARNING, once the same kind of
        reason has held for ``HEALTH_LOG_AFTER_S``: a start links its peers first) and
        when it is healthy again (operator walk: with two of four validators killed, clients
        waited and the log never said the chain had stopped, though ``/healthz`` did)."""
        ok, reason = self.health()
        kind = "ok" if ok else reason.split(":", 1)[0]
        seen, since, said = self._health_seen
        now = time.monotonic()
        if kind != seen:
            if said and seen != "ok" and ok:
                log.info("healthy again after %.0f s (%s)", now - since, seen)
            self._health_seen = (kind, now, ok)
        elif not said and now - since >= HEALTH_LOG_AFTER_S:
            log.warning("unhealthy for %.0f s: %s", now - since, reason)
            self._health_seen = (kind, since, True)

    def _next_wake(self) -> int | None:
        """The next tender deadline after the head's time, once the schedule covers the head
        (else what was computed stands): a leader proposes a block then (``WakeAt``), so each
        tender's bids can be opened at its deadline, not at the next heartbeat. Computed
        again only when the schedule has indexed another block (deadlines change only in
        blocks), not at every tick."""
        schedule = self.event_hub.schedule
        if schedule.covered_height != self._wake_height:
            head = self.chain.store.head_header()
            if schedule.covered_height == head.height:
                self._wake_height = head.height
                self._wake_next = schedule.next_deadline_after(head.time_ms)
        return self._wake_next

    def _regossip(self, mono_ms: int) -> None:
        """Offer the peers again what has waited ``regossip_ms`` here: gossip is dropped
        when a peer is busy or its link was down, and a transaction held by one pool only
        waits for that node's turn to lead (a peer that has it refuses it unread)."""
        waiting = self.chain.pool.waiting(mono_ms - self.limits.regossip_ms,
                                          self.limits.regossip_max)
        if waiting:
            self.metrics.inc("txs_regossiped_total", len(waiting))
            self.peers.gossip([tx.encode() for tx in waiting])

    def _on_commit(self, block: Block, qc: QC, receipts: list[Receipt]) -> None:
        now = time.monotonic()
        self.last_commit_s = now
        # progress: what still waits has waited only since now
        self._waiting_since = now if self.chain.pool.ready_count else None
        ids = block.tx_ids(self.chain.suite)
        self.metrics.inc("txs_committed_total", len(ids))
        self.metrics.inc("blocks_committed_total")
        arrivals = self.admission.arrivals
        for tx_id in ids:
            started = arrivals.pop(tx_id, None)
            if started is not None:
                self.latency.observe(now - started)
        self._spawn_beacon()
        self._note_seat(block.header.height)
        heartbeat_ms = self._heartbeat_ms()
        if heartbeat_ms != self._logged_heartbeat_ms:
            log.info("heartbeat %d ms after height %d (was %d ms): the chain parameter "
                     "heartbeat_ms", heartbeat_ms, block.header.height,
                     self._logged_heartbeat_ms)
            self._logged_heartbeat_ms = heartbeat_ms

    def _note_seat(self, height: int) -> None:
        """Say when this node's key joins or leaves the validator set (a validator rotated
        out or removed got no signal: operator walk)."""
        seat = self.driver.replica.index
        if seat == self._seat:
            return
        if seat is None:
            self._left_at = height
            log.warning("this node's key left the validator set after height %d: it follows "
                        "the chain as an observer and no longer votes (%s)", height,
                        NOT_A_VALIDATOR_ADVICE)
        elif self._seat is None:
            log.info("this node's key is validator %d after height %d: it votes", seat, height)
        else:
            log.info("this node is validator %d after height %d (was %d)", seat, height,
                     self._seat)
        self._seat = seat

    def _spawn_beacon(self) -> None:
        """Send what this validator owes the draw beacon (one run at a time)."""
        if self._beacon_running or self.stopping.is_set():
            return
        self._beacon_running = True

        async def run() -> None:
            try:
                await self.beacon.run_once()
            except Exception as exc:  # a failed duty must not take the node down
                log.warning("beacon duty failed: %s: %s", type(exc).__name__, exc)
            finally:
                self._beacon_running = False

        task = asyncio.create_task(run())
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _beacon_timer(self) -> None:
        while True:
            await asyncio.sleep(BEACON_INTERVAL_S)
            self._spawn_beacon()

    # ---- lifecycle --------------------------------------------------------------------------

    def start_core(self) -> None:
        """Start the replica's task and the timer (no sockets: tests use this alone)."""
        self.consumer = asyncio.create_task(self._consume())
        self._tasks += [self.consumer, asyncio.create_task(self._ticker()),
                        asyncio.create_task(self._beacon_timer()), self.event_hub.start()]

    async def start(self) -> None:
        """Listen (peers, HTTP), dial the peers, start the timer and the replica."""
        tls = _tls_context(self.config)  # a bad certificate is refused before anything opens
        app = build_app(self, self.guard)
        self._runner = web.AppRunner(app, access_log=None, lingering_time=HTTP_LINGER_S,
                                     shutdown_timeout=self.limits.shutdown_grace_ms / 1000,
                                     max_line_size=HTTP_MAX_LINE_BYTES)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        self.guard.factory = server
        loop = asyncio.get_running_loop()
        cfg = self.config
        try:
            self._http = await loop.create_server(self.guard, cfg.http_host, cfg.http_port,
                                                  ssl=tls)
        except OSError as exc:
            await self._close_listeners()
            raise StartupError(f"cannot listen for HTTP on {cfg.http_host}:{cfg.http_port} "
                               f"(http_host, http_port): {exc.strerror or exc}") from None
        try:
            await self.peers.start()
        except OSError as exc:
            await self._close_listeners()
            raise StartupError(f"cannot listen for peers on {cfg.peer_host}:{cfg.peer_port} "
                               f"(peer_host, peer_port): {exc.strerror or exc}") from None
        self._tasks.append(asyncio.create_task(self.guard.sweeper()))
        self.start_core()
        index, seat = self.driver.replica.index, self.seat()
        floor = self.driver.replica.vote_floor
        role = (f"validator {index}" if index is not None else
                "an observer" if seat is None else
                f"validator {seat}, not voting: its vote records are missing"
                if self.votes_missing else
                # a store rebuilt (node resync): it voted up to its floor before, and votes
                # again above it (operator walk: it said "vote records are missing" here)
                f"validator {seat}, voting from height {floor + 1} (it voted up to {floor} "
                "before its store was rebuilt)")
        log.info("node %s (%s) up: peers on %s:%d, HTTP%s on %s:%d, height %d, heartbeat "
                 "%d ms", cfg.name, role,
                 cfg.peer_host, cfg.peer_port,
                 "S" if cfg.tls else "", cfg.http_host, cfg.http_port, self.chain.height(),
                 self._logged_heartbeat_ms)

    def http_port(self) -> int:
        """The port the HTTP API listens on (the config's, or the one the OS chose for 0)."""
        assert self._http is not None and self._http.sockets
        port: int = self._http.sockets[0].getsockname()[1]
        return port

    async def _close_listeners(self) -> None:
        await self.peers.close()
        if self._http is not None:
            self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def stop(self) -> None:
        """Close peer links first, then HTTP, then the tasks; each step is bounded."""
        self.stopping.set()
        self.event_hub.close()  # event streams end first: their handlers hold HTTP open
        grace_s = self.limits.shutdown_grace_ms / 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._close_listeners(), grace_s)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        self.admission.close()
        self.chain.close()
        log.info("node %s stopped", self.config.name)

    def on_signal(self) -> None:
        """SIGTERM/SIGINT: stop cleanly; a second one while stopping: exit at once (the
        store is safe either way: every block is one atomic batch)."""
        if self.stopping.is_set():
            log.warning("second signal: exiting now")
            os._exit(EXIT_FORCED)
        log.info("signal: stopping")
        self.stopping.set()

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT (a second one forces the exit), then stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.on_signal)
        await self.start()
        consumer = self.consumer
        assert consumer is not None
        waiter = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([consumer, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        failure = consumer.exception() if consumer.done() and not consumer.cancelled() else None
        if failure is not None:
            log.error("replica step failed, stopping: %s: %s", type(failure).__name__, failure)
        await self.stop()
        if failure is not None:
            raise failure

    # ---- what the API shows -------------------------------------------------------------

    def store_fault(self, reason: str) -> None:
        if self._fault is None:
            log.error("store fault: %s", reason)
        self._fault = reason

    def health(self) -> tuple[bool, str]:
        """Healthy only while the node serves a live chain: its store is sound, its
        replica runs, it is not far behind its peers, it sees a quorum (a validator) or f + 1
        validators (an observer, which needs one honest one to follow), and the chain
        makes progress (a commit within ``health_stall_ms`` while transactions wait, and at
        least one per heartbeat). Otherwise the first reason that holds."""
        if self._fault is not None:
            return False, f"store fault: {self._fault}"
        if self.votes_missing:
            return False, ("not voting: the store's record of this validator's votes is "
                           "missing; restart with --confirm-lost-votes once sure")
        seat = self.seat()
        if self.config.index is not None and seat is None:
            # configured as a validator, it votes with nobody (operator walk: a validator
            # still on its rotated-out key answered "ok")
            since = f" since height {self._left_at}" if self._left_at is not None else ""
            return False, (f"not a validator: the config says index = {self.config.index}, but "
                           f"this key is not in the validator set{since}: "
                           f"{NOT_A_VALIDATOR_ADVICE}")
        if self.consumer is None or self.consumer.done():
            return False, "the replica is not running"
        height, peers = self.chain.height(), self.peers.peer_head_heights()
        if peers and max(peers.values()) > height + 1:
            return False, f"catching up: at height {height}, peers at {max(peers.values())}"
        st = self.driver.status()
        linked = len(self.peers.peer_indexes())
        if st.index is not None or seat is not None:  # a validator (voting or not yet):
            # a quorum to vote with, counting its own vote
            abstaining = self.peers.abstaining_indexes()  # linked, but they do not vote
            voters = linked + 1 - len(abstaining)
            if st.validators > 1 and voters < quorum(st.validators):
                why = (f", of which {len(abstaining)} do not vote (validator "
                       f"{', '.join(map(str, abstaining))}: vote records missing)"
                       if abstaining else "")
                return False, (f"no quorum: linked to {linked + 1} of {st.validators} "
                               f"validators (counting this one){why}, "
                               f"{quorum(st.validators)} voters needed")
        elif linked < weak_quorum(st.validators):  # an observer: one honest validator
            return False, (f"too few validators: linked to {linked} of {st.validators}, "
                           f"{weak_quorum(st.validators)} needed for an observer to hear at "
                           f"least one honest one")
        now = time.monotonic()
        age_ms = (now - self.last_commit_s) * 1000
        stall_ms = self.limits.health_stall_ms
        waited_ms = 0.0 if self._waiting_since is None else (now - self._waiting_since) * 1000
        if self.chain.pool.ready_count and waited_ms > stall_ms:
            # from when they arrived, not from the last commit: an idle chain's first
            # transaction is no stall (operator walk: "stalled … 36 s" 3 s after it came)
            return False, (f"stalled: {self.chain.pool.ready_count} transactions wait, for "
                           f"{waited_ms / 1000:.0f} s, and nothing committed for "
                           f"{age_ms / 1000:.0f} s")
        if age_ms > self._heartbeat_ms() + stall_ms:
            return False, f"stalled: nothing committed for {age_ms / 1000:.0f} s"
        return True, "ok"

    def _heartbeat_ms(self) -> int:
        """The heartbeat in force: the chain's ``heartbeat_ms``, or this node's own."""
        return self.driver.replica.heartbeat_ticks * self.limits.tick_ms

    def status(self) -> dict[str, Any]:
        st = self.driver.status()
        head = self.chain.store.head_header()
        peer_heads = self.peers.peer_head_heights()
        return {
            "catching_up": bool(peer_heads) and max(peer_heads.values()) > head.height + 1,
            "last_block_time_ms": head.time_ms,
            "last_block_time": beijing_time(head.time_ms),
            "peer_heights": {str(i): h for i, h in sorted(peer_heads.items())},
            "heartbeat_ms": self._heartbeat_ms(),
            "chain_id": self.chain.chain_id,
            "suite": self.chain.suite.name,
            "node": self.config.name,
            "index": st.index,  # the place it votes from: None while abstaining
            "seat": self.seat(),  # its place in the set, voting or not
            "height": self.chain.height(),
            "head_hash": self.chain.head_hash().hex(),
            "view": st.view,
            "leader": st.leader,
            "passed_over": list(st.passed_over),
            "in_view_change": st.in_view_change,
            "abstaining": self.votes_missing,
            "peers": self.peers.peer_indexes(),
            "pool_size": len(self.chain.pool),
            "validators": st.validators,
            "base_height": self.chain.store.base,
            "oldest_height": self.history.oldest(),
        }

    def _register_metrics(self) -> None:
        m = self.metrics
        m.counter("txs_committed_total", "Transactions committed by this node.")
        m.counter("blocks_committed_total", "Blocks committed by this node.")
        m.counter("txs_regossiped_total",
                  "Ready transactions gossiped again after waiting regossip_ms here.")
        self.latency = m.histogram("commit_latency_seconds",
                                   "Submission to commit, for transactions clients sent here.")
        m.gauge_fn("height", "Height of the last committed block.",
                   lambda: [((), float(self.chain.height()))])
        m.gauge_fn("view", "The replica's current view.",
                   lambda: [((), float(self.driver.status().view))])
        m.counter("view_changes_total",
                  "Views this replica moved on from within a height (view changes it "
                  "started, joined or learned of).")
        m.gauge_fn("chain_info", "This node's chain and crypto suite (the value is 1).",
                   lambda: [((("chain_id", self.chain.chain_id),
                              ("suite", self.chain.suite.name)), 1.0)])
        m.gauge_fn("peer_height", "The last height each peer reported, by peer index.",
                   lambda: [((("peer", str(i)),), float(h))
                            for i, h in sorted(self.peers.peer_head_heights().items())])
        m.gauge_fn("blocks_behind", "How far this node is behind the highest peer it knows "
                   "(catching up while above 1).",
                   lambda: [((), float(max(0, max(self.peers.peer_head_heights().values(),
                                                  default=0) - self.chain.height())))])
        m.gauge_fn("validator_seat", "This node's place in the validator set, voting or "
                   "abstaining (see abstaining), or -1: not in the set (an observer; a "
                   "validator removed or rotated out).",
                   lambda: [((), float(-1 if (seat := self.seat()) is None else seat))])
        m.gauge_fn("validators", "Validators in the current set.",
                   lambda: [((), float(len(self.driver.replica.validators)))])
        m.gauge_fn("abstaining", "1 while this validator does not vote (its vote records "
                   "are missing: --confirm-lost-votes), else 0.",
                   lambda: [((), float(self.votes_missing))])
        m.gauge_fn("pool_size", "Transactions waiting in the pool.",
                   lambda: [((), float(len(self.chain.pool)))])
        m.gauge_fn("last_commit_age_seconds", "Seconds since this node last committed a block.",
                   lambda: [((), time.monotonic() - self.last_commit_s)])
        m.gauge_fn("http_connections", "Open HTTP connections.",
                   lambda: [((), float(self.guard.open_connections))])
        m.gauge_fn("history_oldest_height", "Oldest height whose blocks and proofs are served.",
                   lambda: [((), float(self.history.oldest()))])
        synced = self.state_synced
        m.gauge_fn("state_sync_height", "Height this node's store was state-synced from "
                   "(0: grown from genesis).",
                   lambda: [((), float(synced.height if synced else self.chain.store.base))])
        if synced is not None:
            m.gauge_fn("state_sync_keys", "State keys fetched by the state sync at start.",
                       lambda: [((), float(synced.keys))])
            m.gauge_fn("state_sync_bytes", "Bytes of state written by the state sync.",
                       lambda: [((), float(synced.bytes))])
            m.gauge_fn("state_sync_seconds", "How long the state sync at start took.",
                       lambda: [((), synced.seconds)])


# After answering a request whose body it did not read (413, a body too slow), aiohttp reads
# and drops what the client still sends for up to this long, so the client sees the answer
# rather than a reset, then closes. aiohttp's 10 s let a silent slow client hold a
# connection slot that long past its answer.
HTTP_LINGER_S = 2.0
# The longest request line served: a multi-key bundle's ``GET /proofs`` names up to
# ``multi.MAX_ENTRIES`` keys of up to ``bundle.MAX_KEY_LEN`` characters (aiohttp's default,
# 8,190 bytes, refused a bundle of 256 long keys with a plain-text 400). Escaped, a key may
# take up to three bytes a character in the URL (``%3A``, or a third of it in Chinese); a
# longer line is still aiohttp's plain-text 400, so the bound is not for any size at all.
HTTP_MAX_LINE_BYTES = MAX_ENTRIES * (3 * MAX_KEY_LEN + len("&key=")) + 1024


def config_path(config: NodeConfig) -> str:
    return str(config.source) if config.source is not None else "YOUR_CONFIG.toml"


def _tls_context(config: NodeConfig) -> ssl.SSLContext | None:
    if config.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(config.tls.cert_file), str(config.tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"cannot load the TLS certificate {config.tls.cert_file} or its key "
                           f"{config.tls.key_file} ([tls]): {exc}") from None
    return context


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") +
               f".{int(record.msecs):03d}Z", "level": record.levelname.lower(),
               "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(config: LogConfig) -> None:
    handler = logging.StreamHandler()
    if config.format == "json":
        formatter: logging.Formatter = JsonLogFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())


# Young objects (allocations less deallocations) that start a pass over the youngest
# generation; Python's default is 700. A block's work keeps tens of thousands of objects alive
# for a moment (its transactions decoded, receipts, writes): at 700 the collector ran ~10 young
# passes a second over them, though reference counting frees nearly all once the block is done.
GC_YOUNG_OBJECTS_MAX = 50_000


def tune_gc_for_serving() -> None:
    """Set the garbage collector for a long-running node, once ``Node.open`` has loaded it.

    Why: in the 4-validator cluster benchmark (``bench_cluster.py --mix realistic --rates
    800 --seconds 15 --warmup 5``) the collector took a median 310 ms (170-1,030) of each
    validator in the last 22 s of a run, ~4 % of its CPU, with pauses up to 100-330 ms: full
    passes over ~75,000 objects, most of them the modules, classes and functions imported at
    start, which live as long as the process, and ~10 young passes a second. ``gc.freeze``
    moves what is loaded at start to the permanent generation (full passes then walk ~22,000
    objects); the young threshold lets a block's short-lived objects die by reference count
    before any pass sees them. Measured with both: a median 0 ms (at most 87) in the same
    22 s, the same peak RSS (~290-300 MiB a node) and p99 latency. Cycles are still
    collected, only later.
    """
    gc.collect()
    gc.freeze()
    _, older_gen1, older_gen2 = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_OBJECTS_MAX, older_gen1, older_gen2)


def main(config_path: str, confirm_lost_votes: bool = False, state_sync: bool = False) -> int:
    """Run one node from its config file until SIGTERM/SIGINT; returns the exit code. What
    it writes is its user's alone (umask 077): the store and its value log hold every
    bidder secret (auditor walk: 0755/0644, while exports of the same data are 0600)."""
    os.umask(0o077)
    setup_logging(LogConfig())
    json_logs = False
    try:
        config = NodeConfig.load(config_path)
        setup_logging(config.log)
        json_logs = config.log.format == "json"
        node = Node.open(config, confirm_lost_votes, state_sync)
        tune_gc_for_serving()
        asyncio.run(node.run())
    except (ConfigError, StartupError, InvalidInput) as exc:
        # One line naming the setting or the resource, on stderr: never a traceback; a
        # JSON log line where the config asks for those (operator walk: a collector parsing
        # JSON lines lost the most important one).
        if json_logs:
            log.critical("cannot start: %s", exc)
        else:
            print(f"credchain: cannot start: {exc}", file=sys.stderr)
        return 2
    except (CorruptStore, AssertionError, Exception) as exc:  # the replica stopped the node
        log.error("node stopped: %s: %s", type(exc).__name__, exc)
        return 1
    return 0


def _warm_tree(chain: Chain) -> None:
    """Pin the state tree's upper nodes before the node serves (``WARM_TREE_NODES``), so
    the first blocks after a (re)start run as fast as later ones (a record failing its
    check is ``CorruptStore``, as at any read)."""
    started = time.monotonic()
    pinned = chain.store.tree.warm(WARM_TREE_NODES)
    log.info("state tree: %d inner nodes in memory after %.2f s", pinned,
             time.monotonic() - started)

