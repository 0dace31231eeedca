"""Real validator processes behind the fault proxy: build the network, play a seeded
schedule under load, heal, and check safety and liveness.

``run_schedule(schedule, workdir, netns)`` builds a fresh 4-validator network
(``shell.localnet.init_network``), puts a ``tests.faultproxy.FaultProxy`` listener between
every dialler and every peer it dials (``shell.localnet.route_peer`` rewrites the dialler's
config), starts the nodes (``LocalNet``), drives the load of ``tests.test_multiprocess``
while the schedule plays, heals, and checks:

- **liveness**: within ``LIVENESS_S`` of the heal every node is above the highest height any
  node had at the heal, and a batch submitted to each node after the heal commits;
- **no acknowledged transaction lost**: every transaction a node answered as accepted is in
  the chain exactly once (``COMMIT_S`` after the heal at the latest), and every node's API
  reports a sample of them committed. A pool lets a transaction go only when it commits,
  when a proposal leaves it out as unable to run (``DropTxs``: its nonce already used), when
  it waits behind a nonce gap past ``future_ttl_ms``, or with the node's memory on a
  restart; the load here (fresh senders, nonces 0..k-1 in one request, a call that moves the
  nonce whatever it does) and the faults (no restart) give none of these, so an accepted
  transaction that never commits is a failure, not an allowed loss;
- **safety**: every node has the same block hash at every height up to the lowest head, and
  each block's QC names that height and that block with a quorum of distinct signers (so no
  two QCs for different blocks at one height);
- every node stops cleanly on SIGTERM (exit 0) and no node logged a traceback.

``netns=True`` runs node ``i`` in its own network namespace, at ``10.X.i.2`` with one veth
pair to the root namespace (``10.X.i.1``, where the proxy listens); the namespaces have no
route between them, so every byte between nodes crosses the proxy. ``netns=False`` keeps
everything on 127.0.0.1. Any failure raises ``ScheduleFailed`` with "reproduce with
seed=N" and the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import random
import re
import shutil
import subprocess
import time
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ledger.crypto import get_suite
from shell.localnet import LocalNet, init_network, route_peer
from tests.faultproxy import FaultProxy, Phase, Schedule, play
from tests.test_multiprocess import Load, get_json, heights, load_keys, note

N_NODES = 4
QUORUM = N_NODES - (N_NODES - 1) // 3  # 2f + 1
SUITE = "ed25519-sha256"
CHAIN_ID = "fault-proxy"
HEARTBEAT_MS = 1000
# Seeds the CI runs (all but the last in namespaces, the last on loopback); together they
# cover every fault kind and mode (a unit test checks it).
CI_SEEDS = (43, 45, 70)
UP_S = 90.0  # the network's first block, on a loaded machine
LIVENESS_S = 120.0  # heal → every node above the height at the heal
COMMIT_S = 120.0  # heal → every accepted transaction in the chain
LOAD_BATCH_TXS = 20
LOAD_CLIENTS = 2
LOAD_RATE_PER_CLIENT = 40.0  # tx/s
POST_HEAL_LOAD_S = 2.0
API_SAMPLE = 100  # accepted ids each node's API is asked about at the end
POLL_S = 0.5
NETNS_PREFIX = "ccfp"


class ScheduleFailed(AssertionError):
    """A check failed under a schedule; ``str()`` says which and how to reproduce it."""


# ---- network namespaces ------------------------------------------------------------------


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


def _ip_ok(*args: str) -> None:
    done = _ip(*args)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@functools.cache
def netns_unavailable() -> str | None:
    """Why this process cannot create network namespaces with veth pairs, or None."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = Namespaces(1)
    try:
        probe.create()
    except OSError as exc:
        return str(exc)
    finally:
        probe.destroy()
    return None


def _remove_stale_namespaces() -> None:
    """Namespaces an earlier run left behind (its process gone): ``ccfp-<pid>-...``."""
    for line in _ip("netns", "list").stdout.splitlines():
        m = re.match(rf"({NETNS_PREFIX}-([0-9a-f]+)-\S+)", line)
        if m and not Path(f"/proc/{int(m.group(2), 16)}").exists():
            _ip("netns", "del", m.group(1))


class Namespaces:
    """One namespace per node, each joined to the root namespace by its own veth pair."""

    _counter = itertools.count()

    def __init__(self, n: int) -> None:
        self.n = n
        self.tag = f"{os.getpid():x}-{next(self._counter):x}"
        self.octet = 0
        self.created: list[str] = []

    def name(self, i: int) -> str:
        return f"{NETNS_PREFIX}-{self.tag}-n{i}"

    def gateway(self, i: int) -> str:
        """Node ``i``'s neighbour in the root namespace (where the proxy listens for it)."""
        return f"10.{self.octet}.{i}.1"

    def host(self, i: int) -> str:
        return f"10.{self.octet}.{i}.2"

    def outer(self, i: int) -> str:
        """The root namespace's end of node ``i``'s veth pair (names: 15 bytes at most)."""
        return f"cf{self.tag}h{i}"[:15]

    def prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.name(i)]

    def create(self) -> None:
        _remove_stale_namespaces()
        self.octet = self._free_octet()
        for i in range(self.n):
            ns, outer, inner = self.name(i), self.outer(i), f"cf{self.tag}n{i}"[:15]
            _ip_ok("netns", "add", ns)
            self.created.append(ns)
            _ip_ok("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip_ok("link", "set", inner, "netns", ns)
            _ip_ok("addr", "add", f"{self.gateway(i)}/24", "dev", outer)
            _ip_ok("link", "set", outer, "up")
            _ip_ok("-n", ns, "addr", "add", f"{self.host(i)}/24", "dev", inner)
            _ip_ok("-n", ns, "link", "set", inner, "up")
            _ip_ok("-n", ns, "link", "set", "lo", "up")

    def destroy(self) -> None:
        """Deleting a namespace deletes its veth end, and with it the root's end (deleted
        here too, in case a failed set-up left a pair outside)."""
        for ns in self.created:
            _ip("netns", "del", ns)
        for i in range(len(self.created)):
            _ip("link", "del", self.outer(i))
        self.created = []

    def _free_octet(self) -> int:
        shown = _ip("-4", "-o", "addr", "show").stdout + _ip("-4", "route", "show").stdout
        used = {int(m) for m in re.findall(r"\b10\.(\d+)\.\d+\.\d+", shown)}
        start = (os.getpid() + int(self.tag.split("-")[1], 16)) % 150
        for k in range(150):
            octet = 100 + (start + k) % 150
            if octet not in used:
                return octet
        raise OSError("no free 10.X.0.0/16 block for the namespaces")


# ---- the network behind the proxy ----------------------------------------------------------


@dataclass
class Cluster:
    net: LocalNet
    proxy: FaultProxy
    load: Load
    where: str  # "namespaces 10.X.i.2" or "loopback"


@contextlib.asynccontextmanager
async def cluster(workdir: Path, netns: bool) -> AsyncIterator[Cluster]:
    """A running 4-validator network whose every peer link crosses the proxy; on exit the
    nodes are stopped (SIGTERM, must exit 0) and their logs checked for tracebacks."""
    suite = get_suite(SUITE)
    keys = load_keys(suite)
    ns = Namespaces(N_NODES) if netns else None
    directory = workdir / "net"
    proxy = FaultProxy()
    net: LocalNet | None = None
    try:
        if ns is not None:
            ns.create()
        hosts = [ns.host(i) for i in range(N_NODES)] if ns else []
        init_network(directory, N_NODES, SUITE, CHAIN_ID, clients=0,
                     extra_roles={"platform": [suite.public_key(k) for k in keys]},
                     heartbeat_ms=HEARTBEAT_MS, hosts=hosts)
        configs = [tomllib.loads((directory / f"node{i}.toml").read_text())
                   for i in range(N_NODES)]
        for i, j in itertools.permutations(range(N_NODES), 2):
            target = (hosts[j] if ns else "127.0.0.1", int(configs[j]["peer_port"]))
            listen = ns.gateway(i) if ns else "127.0.0.1"
            port = await proxy.add_link(i, j, listen, target)
            route_peer(directory / f"node{i}.toml", j, listen, port)
        net = LocalNet(directory, [ns.prefix(i) for i in range(N_NODES)] if ns else ())
        net.start_all()
        load = Load(suite, CHAIN_ID, net.urls, keys, batch_txs=LOAD_BATCH_TXS)
        where = f"namespaces 10.{ns.octet}.i.2" if ns else "loopback"
        yield Cluster(net, proxy, load, where)
    finally:
        codes = await asyncio.to_thread(net.stop_all) if net is not None else []
        await proxy.close()
        if ns is not None:
            ns.destroy()
    problems = [f"node exit codes after SIGTERM: {codes}"] if any(codes) else []
    for i in range(N_NODES):
        log = directory / "logs" / f"node{i}.log"
        if log.exists() and "Traceback" in (text := log.read_text(errors="replace")):
            problems.append(f"node{i} logged a traceback:\n{text[-3000:]}")
    if problems:
        raise AssertionError("\n".join(problems))


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Outcome:
    seed: int
    seconds: float = 0.0
    height_at_heal: int = 0
    height_end: int = 0
    heal_to_progress_s: float = 0.0
    accepted: int = 0
    post_heal: int = 0
    refused: int = 0
    stats: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        s = self.stats
        faults = " ".join(f"{k}={s[k]}" for k in (
            "dropped", "duplicated", "reordered", "delayed", "throttled_bytes", "held",
            "discarded", "rejected", "blackholed", "reset") if s[k])
        return (f"seed={self.seed} ok {self.seconds:.1f}s heights {self.height_at_heal}->"
                f"{self.height_end} live {self.heal_to_progress_s:.1f}s after heal; txs "
                f"{self.accepted} accepted ({self.post_heal} after heal, {self.refused} "
                f"refused) all committed once; conns {s['connections']}; {faults}")


async def wait_for(pred: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll ``pred`` until true; the seconds it took. Raises AssertionError on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await pred():
            return time.monotonic() - started
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


async def run_schedule(schedule: Schedule, workdir: Path, netns: bool,
                       log: Callable[[str], None] = note) -> Outcome:
    """Play ``schedule`` on a fresh network under load, heal, check; raises
    ``ScheduleFailed`` naming the seed. ``log`` hears of each step."""
    out = Outcome(schedule.seed)
    started = time.monotonic()
    log(schedule.describe())
    try:
        async with cluster(workdir, netns) as c:
            await _run(schedule, c, out, log)
    except ScheduleFailed:
        raise
    except (AssertionError, OSError) as exc:
        raise ScheduleFailed(
            f"{exc}\nreproduce with seed={schedule.seed}: .venv/bin/python "
            f"benchmarks/soak_proxy.py --seeds 1 --start {schedule.seed}"
            f"{'' if netns else ' --loopback'} (node logs: {workdir / 'net' / 'logs'})\n"
            f"{schedule.describe()}") from exc
    out.seconds = time.monotonic() - started
    log(out.line())
    return out


async def _run(schedule: Schedule, c: Cluster, out: Outcome, log: Callable[[str], None]
               ) -> None:
    urls = c.net.urls

    async def all_up() -> bool:
        return min(await heights(urls)) >= 1

    await wait_for(all_up, UP_S, "every node to commit block 1")
    log(f"network up ({c.where}); playing the schedule")

    def on_phase(k: int, phase: Phase) -> None:
        log(f"phase {k}: {phase.describe()}")

    loader = asyncio.create_task(c.load.run(schedule.duration_ms / 1000, LOAD_CLIENTS,
                                            LOAD_RATE_PER_CLIENT))
    try:
        await play(c.proxy, schedule, on_phase)
    finally:
        await loader
    out.height_at_heal = max(await heights(urls))
    healed_at = time.monotonic()
    log(f"healed at height {out.height_at_heal}; {len(c.load.submitted)} txs accepted")
    before = set(c.load.submitted)
    await _submit_to_each(c.load)
    out.post_heal = len(set(c.load.submitted) - before)

    async def progressed() -> bool:
        return min(await heights(urls)) > out.height_at_heal

    await wait_for(progressed, LIVENESS_S, f"every node above height {out.height_at_heal}")
    out.heal_to_progress_s = time.monotonic() - healed_at
    chain = ChainIndex(urls[0])
    accepted = set(c.load.submitted)

    async def all_committed() -> bool:
        await chain.update(min(await heights(urls)))
        return accepted <= chain.ids.keys()

    try:
        await wait_for(all_committed, COMMIT_S - (time.monotonic() - healed_at),
                       "every accepted transaction to commit")
    except AssertionError as exc:
        missing = sorted(accepted - chain.ids.keys())
        raise AssertionError(f"{exc}: {len(missing)} of {len(accepted)} accepted txs not in "
                             f"the chain up to {chain.top}; where they are: "
                             f"{await _whereabouts(urls, missing[:20])}") from None
    await _check_safety(urls, chain)
    await _check_api_reports(urls, sorted(accepted))
    out.height_end = chain.top
    out.accepted = len(accepted)
    out.refused = sum(c.load.refused.values())
    out.stats = c.proxy.stats.copy()


async def _submit_to_each(load: Load) -> None:
    """One fresh batch to every node after the heal (these must commit too)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        for url in load.urls:
            batch = load.make_batch()
            try:
                async with s.post(f"{url}/txs", json={"txs": [t.encode().hex()
                                                              for t in batch]}) as resp:
                    results = (await resp.json())["results"]
            except (TimeoutError, aiohttp.ClientError, OSError, KeyError) as exc:
                raise AssertionError(f"{url} refused a batch after the heal: {exc!r}") from None
            for tx, r in zip(batch, results, strict=True):
                if not r["accepted"]:
                    raise AssertionError(f"{url} refused a tx after the heal: {r['reason']}")
                load.submitted[tx.tx_id(load.suite)] = time.monotonic()


class ChainIndex:
    """Transaction ids by count and block headers of one node's chain, read incrementally."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.top = 0
        self.ids: Counter[bytes] = Counter()

    async def update(self, up_to: int) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
            for lo in range(self.top + 1, up_to + 1, 32):
                hs = range(lo, min(up_to, lo + 31) + 1)
                got = await asyncio.gather(*(get_json(s, f"{self.url}/blocks/{h}") for h in hs))
                for h, block in zip(hs, got, strict=True):
                    if not block or "tx_ids" not in block:
                        return  # not there yet (or the node busy): next poll
                    self.ids.update(bytes.fromhex(t) for t in block["tx_ids"])
                    self.top = h


async def _headers(url: str, up_to: int) -> list[Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        out: list[Any] = []
        for lo in range(1, up_to + 1, 32):
            out += await asyncio.gather(*(get_json(s, f"{url}/headers/{h}")
                                          for h in range(lo, min(up_to, lo + 31) + 1)))
        return out


async def _check_safety(urls: list[str], chain: ChainIndex) -> None:
    top = chain.top
    per_node = [await _headers(u, top) for u in urls]
    for h in range(1, top + 1):
        got = [node[h - 1] for node in per_node]
        if any(g is None for g in got):
            raise AssertionError(f"a node did not serve its header at height {h}")
        hashes = {g["hash"] for g in got}
        if len(hashes) != 1:
            raise AssertionError(f"SAFETY: nodes disagree at height {h}: {sorted(hashes)}")
        for i, g in enumerate(got):
            qc = g["qc"]
            signers = {index for index, _ in qc["votes"]} if qc else set()
            if not qc or qc["height"] != h or qc["block_hash"] != g["hash"] \
                    or len(signers) < QUORUM:
                raise AssertionError(f"SAFETY: node {i}'s QC at height {h} does not certify "
                                     f"its block with a quorum: {qc}")
    twice = [t.hex() for t, n in chain.ids.items() if n != 1]
    if twice:
        raise AssertionError(f"SAFETY: {len(twice)} txs committed more than once: {twice[:5]}")


async def _check_api_reports(urls: list[str], accepted: list[bytes]) -> None:
    sample = random.Random(len(accepted)).sample(accepted, min(API_SAMPLE, len(accepted)))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        for url in urls:
            got = await asyncio.gather(*(get_json(s, f"{url}/txs/{t.hex()}") for t in sample))
            wrong = [g for g in got if not g or g.get("status") != "committed"]
            if wrong:
                raise AssertionError(f"{url} does not report {len(wrong)} committed txs as "
                                     f"committed: {wrong[:3]}")


async def _whereabouts(urls: list[str], ids: list[bytes]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        for url in urls:
            got = await asyncio.gather(*(get_json(s, f"{url}/txs/{t.hex()}") for t in ids))
            out[url] = Counter(str(g.get("status")) if g else "no answer" for g in got)
    return out
