"""The cluster benchmark's traffic in the measured window: requests, polls and reads.

``Prepared`` runs (one sender's consecutive transactions, ids and hex computed in advance)
are composed into requests by the ``Scheduler`` (per node and call, the senders' queues in
turn; a sender skipped while its previous request is unanswered; a run refused "later" put
back at the front of its sender's queue). ``_post`` sends one request and records every
transaction's answer in the ``Window``; ``_poll`` samples each node's height every
``POLL_MS`` (the latency clock); ``_read`` sends the proof-bundle reads, open loop.
``benchmarks/bench_cluster.py`` drives them; ``benchmarks/cluster_report.py`` turns the
``Window`` into figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.workload import Run
from ledger.crypto import Suite

POLL_MS = 100
MAX_READS_IN_FLIGHT = 16


@dataclass(frozen=True)
class Prepared:
    """A run ready to send: its transactions' ids and hex encodings computed in advance."""

    call: str
    sender: bytes
    node: int
    tx_ids: tuple[bytes, ...]
    hexes: tuple[str, ...]

    def suffix(self, start: int) -> Prepared:
        return Prepared(self.call, self.sender, self.node, self.tx_ids[start:],
                        self.hexes[start:])

    @classmethod
    def of(cls, run: Run, suite: Suite) -> Prepared:
        return cls(run.call, run.sender, run.node, tuple(tx.tx_id(suite) for tx in run.txs),
                   tuple(tx.encode().hex() for tx in run.txs))


@dataclass
class Sent:
    call: str
    node: int
    sent_s: float
    prev: bytes | None  # the sender's transaction before this one in its run, if any
    accepted: bool = False
    reason: str = ""  # the last refusal's reason ("" once accepted)
    attempts: int = 1


class Scheduler:
    """Composes each request from whole runs: per node and call, the senders' queues in
    turn, a sender skipped while its previous request is unanswered."""

    def __init__(self, runs: list[Prepared], n_nodes: int, template: Any) -> None:
        self.template = template
        self.queues: dict[tuple[int, str], list[deque[Prepared]]] = defaultdict(list)
        self.by_sender: dict[tuple[int, str, bytes], deque[Prepared]] = {}
        for run in runs:
            key = (run.node, run.call, run.sender)
            if key not in self.by_sender:
                self.by_sender[key] = deque()
                self.queues[(run.node, run.call)].append(self.by_sender[key])
            self.by_sender[key].append(run)
        self.turn: Counter[tuple[int, str]] = Counter()
        self.busy: set[bytes] = set()
        self.short: Counter[str] = Counter()
        self.n_nodes = n_nodes

    def compose(self, node: int) -> list[Prepared]:
        out: list[Prepared] = []
        for slot in self.template:
            senders = self.queues.get((node, slot.call), [])
            for _ in range(slot.runs):
                run = self._next(node, slot.call, senders)
                if run is None:
                    self.short[slot.call] += 1
                else:
                    out.append(run)
        for run in out:
            self.busy.add(run.sender)
        return out

    def _next(self, node: int, call: str, senders: list[deque[Prepared]]) -> Prepared | None:
        for _ in range(len(senders)):
            q = senders[self.turn[(node, call)] % len(senders)]
            self.turn[(node, call)] += 1
            if q and q[0].sender not in self.busy:
                return q.popleft()
        return None

    def requeue(self, run: Prepared) -> None:
        """``run`` goes out again at its sender's next turn, before its later runs."""
        self.by_sender[(run.node, run.call, run.sender)].appendleft(run)

    def release(self, runs: list[Prepared]) -> None:
        for run in runs:
            self.busy.discard(run.sender)


@dataclass
class Window:
    sent: dict[bytes, Sent] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)  # "call reason"
    late_requests: int = 0
    resent: int = 0  # transactions sent again after a "later" refusal
    request_errors: int = 0
    reads: list[tuple[str, float, int, int]] = field(default_factory=list)  # kind, s, HTTP, bytes
    first_seen: list[dict[int, float]] = field(default_factory=list)  # node -> height -> t
    t0: float = 0.0
    t1: float = 0.0


# Refusals that say "later": the sender sends the refused transaction and the rest of its
# run again at its next turn, as a client told 503/429 does. Answers that say the node holds
# (or has committed) the transaction already count as accepted.
RETRY_REASONS = {"busy", "sender_busy", "rate_limited", "future_limit", "pool_full",
                 "sender_limit", "request_error"}
HELD_REASONS = {"duplicate", "nonce_pending", "stale_nonce"}


async def post(session: aiohttp.ClientSession, url: str, runs: list[Prepared], w: Window,
           sched: Scheduler, retry: bool) -> None:
    hexes = [hx for run in runs for hx in run.hexes]
    results: list[tuple[bool, str]]
    try:
        async with session.post(f"{url}/txs", json={"txs": hexes}) as resp:
            out = await resp.json()
        results = [(bool(r["accepted"]), str(r["reason"]).split(":", 1)[0])
                   for r in out.get("results", [])]
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
        w.request_errors += 1
        results = []
    results += [(False, "request_error")] * (len(hexes) - len(results))
    k = 0
    for run in runs:
        again = None  # index in the run from which it is sent again
        for j, tx_id in enumerate(run.tx_ids):
            accepted, reason = results[k]
            k += 1
            sent = w.sent[tx_id]
            if accepted or (reason in HELD_REASONS and sent.attempts > 1):
                sent.accepted, sent.reason = True, ""
                continue
            w.refused[f"{run.call} {reason}"] += 1
            sent.reason = reason
            if retry and reason in RETRY_REASONS and again is None:
                again = j
        if again is not None:
            for tx_id in run.tx_ids[again:]:
                w.sent[tx_id].attempts += 1
            w.resent += len(run.tx_ids) - again
            sched.requeue(run.suffix(again))
    sched.release(runs)


async def poll(session: aiohttp.ClientSession, urls: list[str], w: Window,
           stop: asyncio.Event) -> None:
    """Each node polled on its own (a node busy applying a block must not delay the others'
    samples): the first time each height was seen applied there."""

    async def node(i: int) -> None:
        last = 0
        while not stop.is_set():
            try:
                async with session.get(f"{urls[i]}/status") as resp:
                    height = int((await resp.json())["height"])
                now = time.monotonic()
                for h in range(last + 1, height + 1):
                    w.first_seen[i].setdefault(h, now)
                last = max(last, height)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError):
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_MS / 1000)

    await asyncio.gather(*(node(i) for i in range(len(urls))))


async def read_proofs(session: aiohttp.ClientSession, urls: list[str],
                      targets: list[tuple[str, str]], rate_per_s: float, until: float,
                      w: Window) -> None:
    if rate_per_s <= 0 or not targets:
        return
    in_flight: set[asyncio.Task[None]] = set()

    async def one(kind: str, url: str) -> None:
        started = time.monotonic()
        size = 0
        try:
            async with session.get(url) as resp:
                size = len(await resp.read())
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        w.reads.append((kind, time.monotonic() - started, status, size))

    interval = 1 / rate_per_s
    next_at = time.monotonic()
    for i in range(int(rate_per_s * (until - next_at)) + 1):
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        if time.monotonic() >= until:
            break
        if len(in_flight) >= MAX_READS_IN_FLIGHT:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        kind, path = targets[i % len(targets)]
        task = asyncio.create_task(one(kind, urls[i % len(urls)] + path))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)
