"""A fault-injecting TCP proxy for real node processes, and the seeded schedules that drive it.

``FaultProxy`` listens once per directed pair of nodes (dialer ``i`` → listener ``j``); node
``i``'s config names the proxy's port as peer ``j``'s address, and the proxy relays to ``j``.
Faults are set per *flow*, the bytes going from node ``src`` to node ``dst``, whichever of
the two dials, and take effect at once on live connections.

A peer link (``consensus.securechannel``) is a HELLO in the clear, then length-prefixed
AEAD records numbered by a per-direction counter. The proxy cuts each direction at those
boundaries (a *unit* is the HELLO or one whole record; bytes that do not start with a HELLO
are relayed in chunks of what one read gives), so:

- ``drop``: a unit is discarded with probability ``p``; the next record does not open, so
  the receiver closes the link and the dialer redials (backoff);
- ``duplicate``: a unit is sent twice with probability ``p`` (a replayed record: the same);
- ``reorder``: a unit is held back and sent after the next one with probability ``p`` (a
  reordered record: the same);
- ``delay``: each unit waits ``delay_ms ± jitter_ms``, order kept as TCP keeps it (latency);
- ``slow``: bytes leave at ``bytes_per_s`` at most (a thin link; backpressure);
- ``one-way``: on this flow nothing more is passed on: ``hold`` keeps the bytes (the proxy
  stops reading once its queues are full and TCP pushes back on the sender), ``discard``
  reads and throws them away; the other flow is untouched (a half-dead link, idle timeouts);
- ``partition``: both flows of a pair; live connections are reset (RST) when it begins, and
  new ones are reset at once (``reject``: the listener stays open, so a refused connect is
  emulated by an immediate reset) or accepted and never answered (``blackhole``) until the
  heal, when a black-holed connection is reset.

Every random decision comes from ``random.Random``: a ``Schedule`` is drawn from one seed,
and each phase carries a sub-seed from which each flow's decisions are drawn, so the k-th
unit of a flow in a phase meets the same fate on every run (which record is the k-th
depends on the processes' timing, not on the proxy). Everything is bounded: units queued per
direction, the size of a unit, connections per link, how long a black hole holds one.
Loopback or the test's own network namespaces only: the proxy dials only the addresses it
was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from consensus.securechannel import HELLO_HEADER_LEN, LENGTH_PREFIX_LEN, MAGIC
from ledger.linkcrypto import SM2_LINK, X25519_LINK

Flow = tuple[int, int]  # (src node, dst node): the bytes src sends to dst
Mode = Literal["", "hold", "discard", "reject", "blackhole"]

# HELLO: header, then the ephemeral key, whose length the header's suite byte implies.
HELLO_KEY_LEN = {X25519_LINK.code: X25519_LINK.ephemeral_pub_len,
                 SM2_LINK.code: SM2_LINK.ephemeral_pub_len}
UNIT_MAX_BYTES = 33 * 1024 * 1024  # a node's largest frame (32 MiB) sealed, with room
CHUNK_BYTES = 64 * 1024  # relay reads of a stream that is not a secure link
UNITS_QUEUED_MAX = 64  # per direction and stage; then the proxy stops reading (TCP pushes back)
CONNS_PER_LINK_MAX = 16  # live relayed or black-holed connections of one link
CONNECT_TIMEOUT_S = 3.0
REORDER_FLUSH_S = 0.2  # a unit held for a swap goes alone if nothing follows this soon
BLACKHOLE_MAX_S = 120.0  # a black-holed connection is reset after this, healed or not
BLACKHOLE_POLL_S = 0.25
SLOW_SLICES_PER_S = 20  # a slow link writes this many slices a second


class Kind(enum.StrEnum):
    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    DELAY = "delay"
    SLOW = "slow"
    ONE_WAY = "one-way"
    PARTITION = "partition"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on one flow; only the fields of its kind mean anything."""

    kind: Kind
    probability: float = 0.0  # drop, duplicate, reorder: per unit
    delay_ms: int = 0  # delay
    jitter_ms: int = 0  # delay: uniform in [-jitter, +jitter], never below zero
    bytes_per_s: int = 0  # slow
    mode: Mode = ""  # one-way: hold | discard; partition: reject | blackhole

    def describe(self) -> str:
        if self.kind in (Kind.DROP, Kind.DUPLICATE, Kind.REORDER):
            return f"{self.kind} p={self.probability:.2f}"
        if self.kind is Kind.DELAY:
            return f"delay {self.delay_ms}±{self.jitter_ms} ms"
        if self.kind is Kind.SLOW:
            return f"slow {self.bytes_per_s} B/s"
        return f"{self.kind} ({self.mode})"


@dataclass(frozen=True, slots=True)
class Phase:
    """Faults held for ``duration_ms``; ``seed`` draws the per-unit decisions."""

    duration_ms: int
    label: str
    faults: tuple[tuple[Flow, Fault], ...]
    seed: int = 0

    def describe(self) -> str:
        parts = []
        for (src, dst), fault in self.faults:
            if fault.kind is Kind.PARTITION and src > dst:
                continue  # both flows of a pair carry it; say it once
            arrow = "<->" if fault.kind is Kind.PARTITION else "->"
            parts.append(f"{src}{arrow}{dst} {fault.describe()}")
        return f"{self.duration_ms / 1000:.1f} s {self.label}: " + ("; ".join(parts) or "-")


HEALED = Phase(0, "healed", ())


def _fault(rng: random.Random, kind: Kind) -> Fault:
    if kind in (Kind.DROP, Kind.DUPLICATE, Kind.REORDER):
        return Fault(kind, probability=rng.choice((0.02, 0.05, 0.1, 0.2, 0.3)))
    if kind is Kind.DELAY:
        return Fault(kind, delay_ms=rng.randint(20, 400), jitter_ms=rng.randint(0, 100))
    if kind is Kind.SLOW:
        return Fault(kind, bytes_per_s=rng.choice((4_000, 16_000, 64_000)))
    if kind is Kind.ONE_WAY:
        return Fault(kind, mode=rng.choice(("hold", "discard")))
    return Fault(kind, mode=rng.choice(("reject", "blackhole")))


def _cut(groups: Sequence[Sequence[int]], fault: Fault) -> list[tuple[Flow, Fault]]:
    """``fault`` (a partition) on both flows between every two nodes in different groups."""
    out = []
    for a, b in itertools.combinations(groups, 2):
        for i in a:
            for j in b:
                out += [((i, j), fault), ((j, i), fault)]
    return out


def _links_phase(rng: random.Random, n_nodes: int) -> tuple[str, list[tuple[Flow, Fault]]]:
    """One to three pairs, each with a fault of a random kind on one or both flows."""
    pairs = rng.sample(list(itertools.combinations(range(n_nodes), 2)), rng.randint(1, 3))
    faults: list[tuple[Flow, Fault]] = []
    for a, b in sorted(pairs):
        fault = _fault(rng, rng.choice(list(Kind)))
        if fault.kind is Kind.PARTITION:
            flows = [(a, b), (b, a)]
        else:
            way = rng.choice(("ab", "ba", "both")) if fault.kind is not Kind.ONE_WAY \
                else rng.choice(("ab", "ba"))
            flows = {"ab": [(a, b)], "ba": [(b, a)], "both": [(a, b), (b, a)]}[way]
        faults += [(flow, fault) for flow in flows]
    return "links", faults


@dataclass(frozen=True, slots=True)
class Schedule:
    """Timed fault phases, then a heal; all of it drawn from ``seed``."""

    seed: int
    n_nodes: int
    phases: tuple[Phase, ...]

    @classmethod
    def from_seed(cls, seed: int, n_nodes: int = 4, phases_max: int = 4,
                  phase_ms: tuple[int, int] = (2_000, 5_000)) -> Schedule:
        """2..``phases_max`` phases of ``phase_ms`` each: faults on a few links, one node
        cut off from all others, the nodes split in two halves (no quorum on either side),
        or a calm spell."""
        rng = random.Random(seed)
        phases = []
        for _ in range(rng.randint(2, max(2, phases_max))):
            shape = rng.choice(("links", "links", "links", "isolate", "split", "calm"))
            faults: list[tuple[Flow, Fault]] = []
            if shape == "links":
                label, faults = _links_phase(rng, n_nodes)
            elif shape == "isolate":
                v = rng.randrange(n_nodes)
                label = f"isolate node {v}"
                faults = _cut([[v], [i for i in range(n_nodes) if i != v]],
                              _fault(rng, Kind.PARTITION))
            elif shape == "split":
                nodes = list(range(n_nodes))
                rng.shuffle(nodes)
                half = [sorted(nodes[: n_nodes // 2]), sorted(nodes[n_nodes // 2:])]
                label = f"split {half[0]}|{half[1]}"
                faults = _cut(half, _fault(rng, Kind.PARTITION))
            else:
                label = "calm"
            phases.append(Phase(rng.randint(*phase_ms), label, tuple(sorted(
                faults, key=lambda f: f[0])), rng.getrandbits(32)))
        return cls(seed, n_nodes, tuple(phases))

    @property
    def duration_ms(self) -> int:
        return sum(p.duration_ms for p in self.phases)

    def kinds(self) -> set[Kind]:
        return {f.kind for p in self.phases for _, f in p.faults}

    def describe(self) -> str:
        lines = [f"schedule seed={self.seed}: {len(self.phases)} phases, "
                 f"{self.duration_ms / 1000:.1f} s, then heal"]
        lines += [f"  phase {k}: {p.describe()}" for k, p in enumerate(self.phases)]
        return "\n".join(lines)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0), as a dead middlebox or a refused peer would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_units(reader: asyncio.StreamReader, units: asyncio.Queue[bytes | None]) -> None:
    """Put the stream's units on ``units``: its HELLO, then one whole record each (or
    chunks, if it does not open with a HELLO); None after the last."""
    try:
        header = await reader.readexactly(HELLO_HEADER_LEN)
        key_len = HELLO_KEY_LEN.get(header[5]) if header.startswith(MAGIC) else None
        if key_len is None:
            await units.put(header)
            while chunk := await reader.read(CHUNK_BYTES):
                await units.put(chunk)
        else:
            await units.put(header + await reader.readexactly(key_len))
            while True:
                prefix = await reader.readexactly(LENGTH_PREFIX_LEN)
                n = int.from_bytes(prefix, "big")
                if n > UNIT_MAX_BYTES:
                    await units.put(prefix)  # no node sends this: relay it, stop parsing
                    break
                await units.put(prefix + await reader.readexactly(n))
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            await units.put(exc.partial)  # a cut-short tail, relayed as it came
    except (ConnectionError, OSError):
        pass
    await units.put(None)


async def run_together(*coros: Coroutine[Any, Any, None]) -> None:
    """Run ``coros`` as tasks until all end; the first to raise cancels the others and its
    exception is raised here (as is a cancellation of the caller, after the same)."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            exc = task.exception()
            if exc is not None:
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class _Link:
    dialer: int
    listener: int
    target: tuple[str, int]
    server: asyncio.Server | None = None
    port: int = 0
    conns: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def pair(self) -> tuple[int, int]:
        return (min(self.dialer, self.listener), max(self.dialer, self.listener))


class FaultProxy:
    """Listeners for directed node pairs, relaying each connection unit by unit through the
    faults of the current phase (``apply``; ``heal`` clears them)."""

    def __init__(self) -> None:
        self.links: dict[Flow, _Link] = {}
        self.phase = HEALED
        self.stats: Counter[str] = Counter()
        self.flow_units: Counter[Flow] = Counter()  # units read, by flow
        self._faults: dict[Flow, Fault] = {}
        self._rngs: dict[Flow, random.Random] = {}
        self._changed = asyncio.Event()
        self._conn_ids = itertools.count()

    async def add_link(self, dialer: int, listener: int, listen_host: str,
                       target: tuple[str, int]) -> int:
        """Listen on ``listen_host`` (a free port) for ``dialer``'s connections to
        ``listener``, which is at ``target``; returns the port."""
        link = _Link(dialer, listener, target)

        async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self._serve(link, r, w)

        link.server = await asyncio.start_server(on_connect, listen_host, 0)
        link.port = link.server.sockets[0].getsockname()[1]
        self.links[(dialer, listener)] = link
        return link.port

    def apply(self, phase: Phase) -> None:
        """Make ``phase``'s faults the current ones; reset the live connections of every
        pair it partitions."""
        self.phase = phase
        self._faults = dict(phase.faults)
        self._rngs = {flow: random.Random(f"{phase.seed}/{flow[0]}>{flow[1]}")
                      for flow in self._faults}
        old, self._changed = self._changed, asyncio.Event()
        old.set()
        for link in self.links.values():
            if self._partition(link) is not None:
                for task in list(link.conns.values()):
                    task.cancel()

    def heal(self) -> None:
        self.apply(HEALED)

    async def close(self) -> None:
        for link in self.links.values():
            if link.server is not None:
                link.server.close()
            for task in list(link.conns.values()):
                task.cancel()
        tasks = [t for link in self.links.values() for t in link.conns.values()]
        await asyncio.gather(*tasks, return_exceptions=True)

    def _partition(self, link: _Link) -> Fault | None:
        for flow in (link.pair, link.pair[::-1]):
            fault = self._faults.get(flow)
            if fault is not None and fault.kind is Kind.PARTITION:
                return fault
        return None

    # ---- a connection ------------------------------------------------------------------------

    async def _serve(self, link: _Link, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        if len(link.conns) >= CONNS_PER_LINK_MAX:
            self.stats["over_limit"] += 1
            reset(writer)
            return
        conn_id = next(self._conn_ids)
        task = asyncio.current_task()
        assert task is not None
        link.conns[conn_id] = task
        upstream: asyncio.StreamWriter | None = None
        clean = False
        try:
            cut = self._partition(link)
            if cut is not None and cut.mode == "blackhole":
                await self._blackhole(link, reader)
            elif cut is not None:
                self.stats["rejected"] += 1
            else:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*link.target), CONNECT_TIMEOUT_S)
                upstream = up_writer
                await run_together(
                    self._relay((link.dialer, link.listener), reader, up_writer),
                    self._relay((link.listener, link.dialer), up_reader, writer))
                clean = True
        except asyncio.CancelledError:
            # A partition began (or the proxy closes): both sides see a reset. This task
            # ends here, so the stream server has no cancelled task to complain about.
            self.stats["reset"] += 1
        except (TimeoutError, ConnectionError, OSError):
            self.stats["broken"] += 1
        finally:
            del link.conns[conn_id]
            for w in (writer, upstream):
                if w is not None and clean:
                    w.close()
                elif w is not None:
                    reset(w)

    async def _blackhole(self, link: _Link, reader: asyncio.StreamReader) -> None:
        """Swallow what comes, answer nothing, until the pair is healed (then reset)."""
        self.stats["blackholed"] += 1
        deadline = time.monotonic() + BLACKHOLE_MAX_S
        while self._partition(link) is not None and time.monotonic() < deadline:
            try:
                if not await asyncio.wait_for(reader.read(CHUNK_BYTES), BLACKHOLE_POLL_S):
                    return  # the dialer gave up
            except TimeoutError:
                continue

    async def _relay(self, flow: Flow, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        """One direction: read units → faults → deliver; half-close after the last."""
        units: asyncio.Queue[bytes | None] = asyncio.Queue(UNITS_QUEUED_MAX)
        out: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue(UNITS_QUEUED_MAX)
        await run_together(read_units(reader, units), self._fault_stage(flow, units, out),
                           self._deliver(flow, out, writer))

    async def _fault_stage(self, flow: Flow, units: asyncio.Queue[bytes | None],
                           out: asyncio.Queue[tuple[bytes, float] | None]) -> None:
        stashed: bytes | None = None  # a unit held back to follow the next one
        last_due = 0.0

        async def emit(unit: bytes, extra_s: float = 0.0) -> None:
            nonlocal last_due
            last_due = max(last_due, time.monotonic() + extra_s)  # never overtakes
            await out.put((unit, last_due))

        while True:
            if stashed is None:
                unit = await units.get()
            else:
                try:
                    unit = await asyncio.wait_for(units.get(), REORDER_FLUSH_S)
                except TimeoutError:
                    await emit(stashed)
                    stashed = None
                    continue
            if unit is None:
                if stashed is not None:
                    await emit(stashed)
                await out.put(None)
                return
            self.stats["units"] += 1
            self.flow_units[flow] += 1
            await self._while_held(flow)
            fault, rng = self._faults.get(flow), self._rngs.get(flow)
            if fault is None or rng is None or fault.kind in (Kind.SLOW, Kind.PARTITION):
                await emit(unit)  # slow: paced when delivered
            elif fault.kind is Kind.ONE_WAY:  # held above; here only discard comes
                self.stats["discarded"] += 1
            elif fault.kind is Kind.DROP and rng.random() < fault.probability:
                self.stats["dropped"] += 1
            elif fault.kind is Kind.DUPLICATE and rng.random() < fault.probability:
                self.stats["duplicated"] += 1
                await emit(unit)
                await emit(unit)
            elif fault.kind is Kind.REORDER and stashed is None \
                    and rng.random() < fault.probability:
                self.stats["reordered"] += 1
                stashed = unit
                continue
            elif fault.kind is Kind.DELAY:
                self.stats["delayed"] += 1
                ms = max(0, fault.delay_ms + rng.randint(-fault.jitter_ms, fault.jitter_ms))
                await emit(unit, ms / 1000)
            else:
                await emit(unit)
            if stashed is not None:
                await emit(stashed)
                stashed = None

    async def _while_held(self, flow: Flow) -> None:
        """Wait while ``flow`` is cut one way with ``hold`` (the unit in hand waits; the
        reader stops once its queue is full, and TCP pushes back on the sender)."""
        counted = False
        while True:
            fault = self._faults.get(flow)
            if fault is None or fault.kind is not Kind.ONE_WAY or fault.mode != "hold":
                return
            if not counted:
                self.stats["held"] += 1
                counted = True
            await self._changed.wait()

    async def _deliver(self, flow: Flow, out: asyncio.Queue[tuple[bytes, float] | None],
                       writer: asyncio.StreamWriter) -> None:
        try:
            while (item := await out.get()) is not None:
                unit, due = item
                wait_s = due - time.monotonic()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                await self._write(flow, unit, writer)
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError) as exc:
            self.stats["broken_writes"] += 1
            raise ConnectionResetError(f"flow {flow}: {exc}") from None

    async def _write(self, flow: Flow, unit: bytes, writer: asyncio.StreamWriter) -> None:
        self.stats["bytes"] += len(unit)
        view = memoryview(unit)
        while view:
            fault = self._faults.get(flow)
            if fault is None or fault.kind is not Kind.SLOW:
                writer.write(view)
                await writer.drain()
                return
            size = max(1, fault.bytes_per_s // SLOW_SLICES_PER_S)
            writer.write(view[:size])
            await writer.drain()
            self.stats["throttled_bytes"] += len(view[:size])
            view = view[size:]
            await asyncio.sleep(size / fault.bytes_per_s)


async def play(proxy: FaultProxy, schedule: Schedule,
               on_phase: Callable[[int, Phase], None] | None = None) -> None:
    """Apply each phase for its duration, then heal."""
    try:
        for k, phase in enumerate(schedule.phases):
            if on_phase is not None:
                on_phase(k, phase)
            proxy.apply(phase)
            await asyncio.sleep(phase.duration_ms / 1000)
    finally:
        proxy.heal()
