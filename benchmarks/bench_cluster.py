"""Cluster benchmark: validator processes on this machine under the realistic mix, open loop.

One run (``run_once``): build a fresh network whose validators start from an offline-built
setup history (``benchmarks/prebuilt.py``: entities attested, tenders announced, guarantees
issued, the opening tenders' bids sealed and opened; optional filler to a chosen state
size), pre-sign the window's transactions (``benchmarks/workload.py``: the mix and its
proportions are documented there), start the validators (``shell.localnet.LocalNet``,
loopback only), and for ``--seconds`` (after ``--warmup`` seconds of the same load, not
measured) send one request of 100 transactions every
``100 / rate`` seconds on a fixed grid (open loop: a request is sent on time whatever the
answers to earlier ones; at most ``MAX_REQUESTS_IN_FLIGHT`` outstanding, a request that
had to wait is counted *late*) round-robin to the nodes, each request composed of whole
runs of every call type in the template's proportions. A transaction refused with a "later"
answer (``busy``, ``sender_busy``, ``rate_limited``, ``future_limit``, ``pool_full``) is sent
again with the rest of its run at its sender's next turn, as a client told 503/429 does
(``--no-retry``: never; a refused nonce then leaves a gap that stops its sender's later
transactions). Beside the writes, a reader sends
proof-bundle queries (guarantee proofs and eligibility bundles) at ``--read-share`` of the
write rate, also open loop. Every loop is bounded in count and time.

Reported per call type, from the same run:

- committed tx/s: transactions of that call whose block the node that admitted them had
  applied by the end of the window, divided by the window;
- p50 / p99 latency, *submit → committed and applied*, measured by polling: each node's
  ``GET /status`` height is polled every ``POLL_MS`` (each node on its own, so a node busy
  applying a block does not delay the others' samples); a transaction's latency is the
  first poll that saw the admitting node at or past the height of the block that holds it,
  minus the moment its request was sent (resolution: the poll interval plus a status round
  trip; the block heights come from node 0's store, read after the nodes stop);
- failed receipts by code (the realistic mix intends none; ``bench.noop`` intends
  ``E_UNKNOWN_CALL``), refused submissions by reason, and transactions accepted but never
  committed ("lost");
- for the whole mix: validator CPU per committed transaction per node (/proc, from the
  window's start to the end of the drain, over every transaction committed by then; also
  net of what the idle network used while polled for ``IDLE_BASELINE_S`` before the
  window: the polls cost each node ~0.005 cores at 100 ms), CPU cores used by each
  validator and by this load generator, signature verifications per committed transaction
  per node (node counters, window plus drain), and the nodes' own latency histogram
  (``credchain_commit_latency_seconds``) as a cross-check;
- the signature-verification bound measured in the same run: single-core verifies/s of the
  suite × cores ÷ validators (every validator verifies every signature once), and the
  committed rate as a fraction of it;
- reads: completed reads/s per kind, p50/p99 request latency, answers by HTTP status.

The no-op line (``--mix noop``: ``bench.noop``, one nonce write per transaction) is the
comparison with the earlier results; ``--mix both`` (the default) runs the realistic mix and
then the no-op mix at the same offered rate. ``--profile DIR`` records node 0 with py-spy
for the window and prints where its time went per transaction (``benchmarks/nodeprofile.py``).

Run: ``.venv/bin/python benchmarks/bench_cluster.py --rates 300 --seconds 20 --repeat 3``
(results and the exact commands of each figure: ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import nodeprofile  # noqa: E402
from benchmarks.prebuilt import build_network, open_store  # noqa: E402
from benchmarks.workload import Run, Workload, mixes, request_txs, template_of  # noqa: E402
from ledger.crypto import Suite, get_suite  # noqa: E402
from ledger.tx import OK  # noqa: E402
from shell.localnet import LocalNet  # noqa: E402

POLL_MS = 100
IDLE_BASELINE_S = 3.0  # the idle network polled, before the window: the benchmark's own cost
MAX_REQUESTS_IN_FLIGHT = 64
MAX_READS_IN_FLIGHT = 16
UP_TIMEOUT_S = 60.0  # ... plus UP_S_PER_KEY for each state key (a node checks its store at start)
UP_S_PER_KEY = 0.0003
DRAIN_MAX_S = 30.0
STALL_S = 8.0  # no new block this long while transactions wait: the drain gives up
INTENDED_CODES = {"bench.noop": {"E_UNKNOWN_CALL"}}


@dataclass(frozen=True)
class RunConfig:
    suite: str = "ed25519-sha256"
    validators: int = 4
    mix: str = "realistic"
    rate_tx_s: float = 1500.0
    seconds: float = 20.0
    read_share: float = 0.02  # reads per second as a fraction of the offered write rate
    filler_keys: int = 0
    pad_bytes: int = 0  # bench.noop only: a padding argument of this many bytes
    warmup_s: float = 0.0  # load sent before the measured window (caches, pool, pipeline)
    retry: bool = True  # resend after a "later" refusal (busy, sender_busy, rate_limited...)
    profile_dir: str = ""
    keep_dir: str = ""


def verifies_per_second(suite: Suite, seconds: float = 1.0) -> float:
    secret = suite.generate_secret()
    pub = suite.public_key(secret)
    msg = b"x" * 200
    sig = suite.sign(secret, msg)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            suite.verify(pub, msg, sig)
        n += 50
    return n / (time.perf_counter() - start)


def cpu_seconds(net: LocalNet) -> dict[str, float]:
    """CPU seconds (user + system) so far of each validator and of this load generator."""
    tick_s = 1 / os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for i, proc in enumerate(net.procs):
        if proc is None:
            continue
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[f"node{i}"] = (int(fields[11]) + int(fields[12])) * tick_s
        except (OSError, IndexError, ValueError):
            out[f"node{i}"] = 0.0
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["client"] = me.ru_utime + me.ru_stime
    return out


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def node_histogram_quantile(before: list[dict[str, float]], after: list[dict[str, float]],
                            q: float) -> float:
    """Quantile of the merged ``credchain_commit_latency_seconds`` growth, interpolated."""
    prefix = 'credchain_commit_latency_seconds_bucket{le="'
    merged: dict[float, float] = defaultdict(float)
    for b, a in zip(before, after, strict=True):
        for name, value in a.items():
            if name.startswith(prefix):
                le = name[len(prefix):-2]
                merged[float("inf") if le == "+Inf" else float(le)] += value - b.get(name, 0.0)
    buckets = sorted(merged.items())
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return float("nan")
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= q * total:
            if bound == float("inf"):
                return lo_bound
            return lo_bound + (q * total - lo_count) / max(count - lo_count, 1e-9) * (
                bound - lo_bound)
        lo_bound, lo_count = bound, count
    return lo_bound


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- the window's traffic ----------------------------------------------------------------


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


async def _post(session: aiohttp.ClientSession, url: str, runs: list[Prepared], w: Window,
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


async def _poll(session: aiohttp.ClientSession, urls: list[str], w: Window,
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


async def _read(session: aiohttp.ClientSession, urls: list[str], targets: list[tuple[str, str]],
                rate_per_s: float, until: float, w: Window) -> None:
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


async def _metrics(session: aiohttp.ClientSession, urls: list[str]) -> list[dict[str, float]]:
    out = []
    for u in urls:
        async with session.get(f"{u}/metrics") as resp:
            out.append(parse_metrics(await resp.text()))
    return out


async def _wait_up(session: aiohttp.ClientSession, urls: list[str], height: int,
                   timeout_s: float) -> float:
    """Wait until every node is at ``height`` with all its peers; returns the seconds taken."""
    started = time.monotonic()
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        try:
            ok = 0
            for u in urls:
                async with session.get(f"{u}/status") as resp:
                    st = await resp.json()
                ok += len(st["peers"]) >= len(urls) - 1 and st["height"] >= height
            if ok == len(urls):
                return time.monotonic() - started
        except (aiohttp.ClientError, OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"the network did not come up within {timeout_s:.0f} s")


async def drive(net: LocalNet, cfg: RunConfig, workload: Workload, runs: list[Prepared],
                setup_height: int, profile_out: Path | None) -> dict[str, Any]:
    urls = net.urls
    template = template_of(cfg.mix)
    sched = Scheduler(runs, len(urls), template)
    w = Window(first_seen=[{} for _ in urls])
    stalled: list[dict[str, Any]] = []
    interval_s = request_txs(template) / cfg.rate_tx_s
    timeout = aiohttp.ClientTimeout(total=60)
    conn = aiohttp.TCPConnector(limit=MAX_REQUESTS_IN_FLIGHT + MAX_READS_IN_FLIGHT + 16)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as session:
        try:
            up_s = await _wait_up(session, urls, setup_height,
                                  UP_TIMEOUT_S + UP_S_PER_KEY * workload.filler_keys)
        except SystemExit as exc:  # say which node died (a port taken meanwhile, ...)
            logs = net.directory / "logs"
            tails = {i: (logs / f"node{i}.log").read_text(errors="replace").splitlines()[-1:]
                     for i in net.exited()}
            raise SystemExit(f"{exc}; nodes exited: {tails or 'none'}") from None
        stop_poll = asyncio.Event()
        poller = asyncio.create_task(_poll(session, urls, w, stop_poll))
        # the idle network with the poller running: what the benchmark itself costs a node
        cpu_idle0, idle0 = cpu_seconds(net), time.monotonic()
        await asyncio.sleep(IDLE_BASELINE_S)
        cpu_idle1 = cpu_seconds(net)
        idle_cores = {k2: (cpu_idle1[k2] - cpu_idle0[k2]) / (time.monotonic() - idle0)
                      for k2 in cpu_idle1}
        started_s = time.monotonic()
        until = started_s + cfg.warmup_s + cfg.seconds
        in_flight: set[asyncio.Task[None]] = set()
        next_at = started_s
        k = 0
        measuring = False
        while time.monotonic() < until:
            if not measuring and time.monotonic() >= started_s + cfg.warmup_s:
                # the measured window starts (after the warm-up, if any)
                measuring = True
                before = await _metrics(session, urls)
                spy = _start_profile(net, cfg, profile_out)
                cpu0 = cpu_seconds(net)
                w.t0 = time.monotonic()
                reader = asyncio.create_task(_read(session, urls, workload.read_targets(),
                                                   cfg.read_share * cfg.rate_tx_s, until, w))
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval_s
            if len(in_flight) >= MAX_REQUESTS_IN_FLIGHT:
                w.late_requests += 1
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            node = k % len(urls)
            k += 1
            batch = sched.compose(node)
            if not batch:
                continue
            now = time.monotonic()
            for run in batch:
                for j, tx_id in enumerate(run.tx_ids):
                    if tx_id not in w.sent:  # a first attempt (a resend keeps its first time)
                        w.sent[tx_id] = Sent(run.call, node, now,
                                             run.tx_ids[j - 1] if j else None)
            task = asyncio.create_task(_post(session, urls[node], batch, w, sched,
                                             cfg.retry))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        w.t1 = time.monotonic()
        cpu1 = cpu_seconds(net)
        if in_flight:
            await asyncio.wait(in_flight)
        await reader
        drain_until = time.monotonic() + DRAIN_MAX_S
        progress_at, top = time.monotonic(), -1
        while time.monotonic() < drain_until:
            sts = [await (await session.get(f"{u}/status")).json() for u in urls]
            if all(s["pool_size"] == 0 for s in sts) and len({s["height"] for s in sts}) == 1:
                break
            if max(s["height"] for s in sts) > top:
                progress_at, top = time.monotonic(), max(s["height"] for s in sts)
            elif time.monotonic() - progress_at > STALL_S:
                # transactions wait in a pool and no block comes: report what each node says
                stalled = [{k2: st.get(k2) for k2 in ("height", "view", "leader", "pool_size",
                                                     "in_view_change")} for st in sts]
                break
            await asyncio.sleep(0.25)
        drained_s = time.monotonic() - w.t1
        cpu2 = cpu_seconds(net)
        await asyncio.sleep(2 * POLL_MS / 1000)
        stop_poll.set()
        await poller
        after = await _metrics(session, urls)
    if spy is not None:
        spy.wait(timeout=30)
    window_s = w.t1 - w.t0
    return {"window": w, "window_s": window_s, "drained_s": drained_s,
            "cpu_share": {k2: (cpu1[k2] - cpu0[k2]) / window_s for k2 in cpu1},
            "cpu_to_drained_s": {k2: cpu2[k2] - cpu0[k2] for k2 in cpu2}, "stalled": stalled,
            "idle_cores": idle_cores, "to_drained_s": drained_s + window_s, "up_s": up_s,
            "metrics_before": before, "metrics_after": after, "short": dict(sched.short)}


def _start_profile(net: LocalNet, cfg: RunConfig,
                   out: Path | None) -> subprocess.Popen[bytes] | None:
    if out is None or net.procs[0] is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "--pid", str(net.procs[0].pid), "--duration",
                             str(int(cfg.seconds)), "--rate", "100", "--format", "raw",
                             "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- one run -------------------------------------------------------------------------------


def run_repeated(cfg: RunConfig, repeats: int,
                 on_result: Any = None) -> list[dict[str, Any]]:
    """Build the network once (setup history, pre-signed window), then run ``repeats``
    measurements, each on a fresh copy of the built network with the same transactions;
    returns every run's figures (JSON-serialisable). ``on_result(r)`` sees each as it ends."""
    suite = get_suite(cfg.suite)
    template = template_of(cfg.mix)
    requests = int(cfg.rate_tx_s * (cfg.seconds + cfg.warmup_s) * 1.05 / request_txs(template)
                   ) + cfg.validators
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root = Path(cfg.keep_dir) if cfg.keep_dir else Path(tmp)
        name = f"{cfg.mix}-{cfg.suite}-{cfg.validators}v-{cfg.rate_tx_s:.0f}-{time.time_ns()}"
        built = root / f"{name}-built"
        workload = Workload(suite, cfg.validators, template, requests,
                            now_ms=time.time_ns() // 1_000_000, filler_keys=cfg.filler_keys,
                            pad_bytes=cfg.pad_bytes)
        t = time.monotonic()
        build = build_network(built, workload, cfg.validators, cfg.suite)
        build_s = time.monotonic() - t
        if build.failed:
            raise SystemExit(f"the setup history has failed receipts: {build.failed}")
        t = time.monotonic()
        runs = [Prepared.of(run, suite) for run in workload.window_runs()]
        presign_s = time.monotonic() - t
        for k in range(repeats):
            out = root / f"{name}-run{k}"
            shutil.copytree(built, out)
            r = _measure(cfg, out, workload, runs, build.blocks)
            shutil.rmtree(out / "data", ignore_errors=True)
            r.update({"setup": asdict(build), "build_s": build_s, "presign_s": presign_s,
                      "repeat": k})
            results.append(r)
            if on_result is not None:
                on_result(r)
    return results


def run_once(cfg: RunConfig) -> dict[str, Any]:
    """Build, run and measure one network."""
    return run_repeated(cfg, 1)[0]


def _measure(cfg: RunConfig, out: Path, workload: Workload, runs: list[Prepared],
             setup_height: int) -> dict[str, Any]:
    suite = get_suite(cfg.suite)
    verify_rate = verifies_per_second(suite)
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    profile_out = (Path(cfg.profile_dir) / f"{out.name}.txt") if cfg.profile_dir else None
    if profile_out is not None:
        profile_out.parent.mkdir(parents=True, exist_ok=True)
    net = LocalNet(out)
    net.start_all()
    try:
        d = asyncio.run(drive(net, cfg, workload, runs, setup_height, profile_out))
    finally:
        net.stop_all()
    chain = _read_chain(out, cfg.suite, setup_height)
    result = _summarise(cfg, d, chain)
    result.update({
        "config": asdict(cfg), "cores": cores, "verify_per_s_1core": verify_rate,
        "verify_bound_tx_s": verify_rate * cores / cfg.validators,
        "load_avg_before": load_before, "load_avg": os.getloadavg(),
        "window_txs_prepared": sum(len(run.tx_ids) for run in runs)})
    result["bound_ratio"] = result["all"]["tx_s"] / result["verify_bound_tx_s"]
    if profile_out is not None and profile_out.exists():
        committed = result["all"]["committed_in_window"]
        node0_cpu_s = result["cpu_share"].get("node0", 0.0) * result["window_s"]
        result["profile"] = nodeprofile.summarise(profile_out, committed, result["window_s"],
                                                  node0_cpu_s)
        result["profile_file"] = str(profile_out)
    return result


def _read_chain(out: Path, suite_name: str, setup_height: int) -> dict[bytes, tuple[int, str]]:
    """tx id → (height, receipt code) of every block after the setup, from node 0's store."""
    kv, store = open_store(out, 0, suite_name)
    found: dict[bytes, tuple[int, str]] = {}
    try:
        head = store.head()[0]
        suite = get_suite(suite_name)
        for h in range(setup_height + 1, head + 1):
            block = store.block(h)
            receipts = store.receipts(h) or []
            if block is None:
                continue
            for tx_id, r in zip(block.tx_ids(suite), receipts, strict=True):
                found[tx_id] = (h, r.code)
    finally:
        kv.close()
    return found


def _seen(w: Window, s: Sent, height: int) -> float | None:
    """When the admitting node was first seen at or past ``height`` (else the first node)."""
    seen = w.first_seen[s.node].get(height)
    if seen is None:  # the admitting node's poll missed it: the first node that showed it
        seen = min((fs[height] for fs in w.first_seen if height in fs), default=None)
    return seen


def _behind_refused(w: Window, s: Sent) -> bool:
    """Whether an earlier transaction of the same run (same sender) was refused."""
    prev = s.prev
    while prev is not None:
        before = w.sent[prev]
        if not before.accepted:
            return True
        prev = before.prev
    return False


def _summarise(cfg: RunConfig, d: dict[str, Any], chain: dict[bytes, tuple[int, str]]
               ) -> dict[str, Any]:
    w: Window = d["window"]
    window_s = d["window_s"]
    per: dict[str, dict[str, Any]] = {}
    all_lat: list[float] = []

    def row(call: str) -> dict[str, Any]:
        return per.setdefault(call, {"sent": 0, "accepted": 0, "committed": 0,
                                     "committed_in_window": 0, "lost": 0,
                                     "lost_behind_refused": 0, "latencies": [],
                                     "failed": Counter(), "intended_failures": Counter()})

    after_t0 = 0  # transactions applied after the window opened (warm-up ones included)
    warmup_failed: Counter[str] = Counter()
    for tx_id, s in w.sent.items():
        if s.sent_s < w.t0:  # sent in the warm-up: counted only where it lands in the window
            where = chain.get(tx_id)
            if where is None:
                continue
            seen = _seen(w, s, where[0])
            if where[1] != OK and where[1] not in INTENDED_CODES.get(s.call, ()):
                warmup_failed[f"{s.call} {where[1]}"] += 1
            if seen is not None and seen > w.t0:
                after_t0 += 1
                row(s.call)["committed_in_window"] += seen <= w.t1
            continue
        r = row(s.call)
        r["sent"] += 1
        r["accepted"] += s.accepted
        where = chain.get(tx_id)
        if where is None:
            r["lost"] += s.accepted
            if s.accepted and _behind_refused(w, s):
                r["lost_behind_refused"] += 1  # an earlier nonce of its run was refused
            continue
        height, code = where
        r["committed"] += 1
        if code != OK:
            bucket = "intended_failures" if code in INTENDED_CODES.get(s.call, ()) else "failed"
            r[bucket][code] += 1
        seen = _seen(w, s, height)
        if seen is None:
            continue
        after_t0 += 1
        r["latencies"].append(seen - s.sent_s)
        r["committed_in_window"] += seen <= w.t1
    out_rows: dict[str, Any] = {}
    for call, r in sorted(per.items()):
        lat = r.pop("latencies")
        all_lat.extend(lat)
        out_rows[call] = {**r, "failed": dict(r["failed"]),
                          "intended_failures": dict(r["intended_failures"]),
                          "tx_s": r["committed_in_window"] / window_s,
                          "p50_s": quantile(lat, 0.5), "p99_s": quantile(lat, 0.99)}
    total_in_window = sum(r["committed_in_window"] for r in out_rows.values())
    node_cores = sum(v for k, v in d["cpu_share"].items() if k.startswith("node"))
    n = cfg.validators
    before, after = d["metrics_before"], d["metrics_after"]
    # CPU and verifications from the window's start on, over what was applied from then on
    committed_total = after_t0

    def per_tx_node(counter: str) -> float:
        grown = sum(float(a.get(counter, 0.0)) - float(b.get(counter, 0.0))
                    for a, b in zip(after, before, strict=True))
        return float(grown) / max(committed_total * n, 1)

    reads: dict[str, Any] = {}
    for kind in sorted({k for k, _, _, _ in w.reads}):
        lat = [t for k, t, st, _ in w.reads if k == kind and st == 200]
        sizes = [n for k, _, st, n in w.reads if k == kind and st == 200]
        statuses = Counter(str(st) for k, _, st, _ in w.reads if k == kind)
        reads[kind] = {"reads": len(lat), "reads_s": len(lat) / window_s,
                       "p50_s": quantile(lat, 0.5), "p99_s": quantile(lat, 0.99),
                       "statuses": dict(statuses),
                       "mean_bytes": sum(sizes) / len(sizes) if sizes else 0}
    return {
        "window_s": window_s, "drained_s": d["drained_s"], "calls": out_rows, "reads": reads,
        "all": {"sent": sum(r["sent"] for r in out_rows.values()),
                "committed_in_window": total_in_window,
                "committed": sum(r["committed"] for r in out_rows.values()),
                "applied_after_window_start": committed_total,
                "tx_s": total_in_window / window_s,
                "p50_s": quantile(all_lat, 0.5), "p99_s": quantile(all_lat, 0.99),
                "failed": sum(sum(r["failed"].values()) for r in out_rows.values()),
                "lost": sum(r["lost"] for r in out_rows.values()),
                "lost_behind_refused": sum(r["lost_behind_refused"] for r in out_rows.values()),
                "warmup_failed": dict(warmup_failed)},
        "refused": dict(w.refused), "late_requests": w.late_requests, "resent": w.resent,
        "request_errors": w.request_errors, "short_runs": d["short"],
        "cpu_share": d["cpu_share"],
        # all the validators' CPU from the window's start to the end of the drain, over every
        # transaction of the window committed by then, per node
        "node_cpu_us_per_tx_node": sum(v for k, v in d["cpu_to_drained_s"].items()
                                       if k.startswith("node")) * 1e6
                                   / max(committed_total, 1) / n,
        # the same less what the idle, polled network used over as long (timers, heartbeat,
        # the status polls): the transactions' own cost
        "node_cpu_us_per_tx_node_net": (
            sum(v for k, v in d["cpu_to_drained_s"].items() if k.startswith("node"))
            - sum(v for k, v in d["idle_cores"].items() if k.startswith("node"))
            * d["to_drained_s"]) * 1e6 / max(committed_total, 1) / n,
        "idle_cores_per_node": sum(v for k, v in d["idle_cores"].items()
                                   if k.startswith("node")) / n,
        "stalled": d["stalled"], "up_s": d["up_s"],
        "node_cores": node_cores,
        "verifies_per_tx_node": per_tx_node("credchain_signatures_verified_total"),
        "node_refused": _grown_by_label(before, after, "credchain_txs_refused_total"),
        "gossip_dropped": _grown_by_label(before, after, "credchain_gossip_dropped_total"),
        "node_hist_p50_s": node_histogram_quantile(before, after, 0.5),
        "node_hist_p99_s": node_histogram_quantile(before, after, 0.99),
    }


def _grown_by_label(before: list[dict[str, float]], after: list[dict[str, float]],
                    metric: str) -> dict[str, float]:
    """Growth of a labelled counter summed over the nodes, by label set (client and peer
    submissions alike: a peer's gossip refused as busy shows here, not in the client's)."""
    out: dict[str, float] = defaultdict(float)
    for b, a in zip(before, after, strict=True):
        for name, value in a.items():
            if name.startswith(metric):
                grown = value - b.get(name, 0.0)
                if grown:
                    out[name[len(metric):] or "total"] += grown
    return dict(out)


# ---- printing ------------------------------------------------------------------------------


def _ms(s: float) -> str:
    return "—" if s != s else f"{s * 1000:,.0f}"


def print_result(r: dict[str, Any]) -> None:
    c = r["config"]
    print(f"\n== {c['mix']} mix, {c['suite']}, {c['validators']} validators, offered "
          f"{c['rate_tx_s']:.0f} tx/s for {r['window_s']:.1f} s, state "
          f"{r['setup']['state_keys']:,} keys at start (setup {r['setup']['blocks']} blocks / "
          f"{r['setup']['txs']:,} txs), "
          f"load avg {r['load_avg'][0]:.1f}; nodes up in {r['up_s']:.1f} s ==")
    print(f"{'call':<18}{'sent':>8}{'committed':>10}{'tx/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'lost':>6}  failed receipts")
    for call, row in r["calls"].items():
        failed = ", ".join(f"{k} {v}" for k, v in row["failed"].items()) or "0"
        intended = ", ".join(f"{k} {v}" for k, v in row["intended_failures"].items())
        print(f"{call:<18}{row['sent']:>8}{row['committed']:>10}{row['tx_s']:>8.0f}"
              f"{_ms(row['p50_s']):>8}{_ms(row['p99_s']):>8}{row['lost']:>6}  {failed}"
              + (f" (intended: {intended})" if intended else ""))
    a = r["all"]
    print(f"{'all writes':<18}{a['sent']:>8}{a['committed']:>10}{a['tx_s']:>8.0f}"
          f"{_ms(a['p50_s']):>8}{_ms(a['p99_s']):>8}{a['lost']:>6}  {a['failed']}"
          + (f"  ({a['lost_behind_refused']} lost behind a refused earlier nonce: gaps)"
             if a["lost_behind_refused"] else ""))
    for kind, row in r["reads"].items():
        print(f"{kind:<18}{row['reads']:>8}{'':>10}{row['reads_s']:>8.1f}{_ms(row['p50_s']):>8}"
              f"{_ms(row['p99_s']):>8}        HTTP {row['statuses']}, "
              f"{row['mean_bytes']:,.0f} B each")
    print(f"verify bound {r['verify_bound_tx_s']:,.0f} tx/s "
          f"({r['verify_per_s_1core']:,.0f}/s/core x {r['cores']} cores / {c['validators']}); "
          f"committed = {r['bound_ratio']:.1%} of it")
    print(f"validator CPU per tx per node {r['node_cpu_us_per_tx_node']:,.0f} us "
          f"({r['node_cpu_us_per_tx_node_net']:,.0f} us net of the idle polled network's "
          f"{r['idle_cores_per_node']:.3f} cores per node); cores used: "
          + " ".join(f"{k} {v:.2f}" for k, v in r["cpu_share"].items())
          + f"; verifications per tx per node {r['verifies_per_tx_node']:.2f}")
    print(f"node histograms (all calls): p50 {_ms(r['node_hist_p50_s'])} ms, p99 "
          f"{_ms(r['node_hist_p99_s'])} ms; drained in {r['drained_s']:.1f} s; late requests "
          f"{r['late_requests']}; runs short {r['short_runs'] or 0}; refusals {r['refused'] or 0}"
          f" (transactions sent again after them: {r['resent']})"
          + ("; STALLED: transactions left in a pool, no block for "
             f"{STALL_S:.0f} s: {r['stalled']}" if r["stalled"] else ""))
    if r["node_refused"] or r["gossip_dropped"]:
        print(f"refused at the nodes (clients and peers): {r['node_refused']}; gossip dropped: "
              f"{r['gossip_dropped'] or 0}")
    if "profile" in r:
        nodeprofile.print_summary(r["profile"])


def median_row(results: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over repeated runs of the figures the curves and RESULTS.md use."""
    def med(f: Any) -> float:
        return float(statistics.median(float(f(r)) for r in results))
    return {"tx_s": med(lambda r: r["all"]["tx_s"]), "p50_s": med(lambda r: r["all"]["p50_s"]),
            "p99_s": med(lambda r: r["all"]["p99_s"]),
            "cpu_us_per_tx_node": med(lambda r: r["node_cpu_us_per_tx_node"]),
            "cpu_us_per_tx_node_net": med(lambda r: r["node_cpu_us_per_tx_node_net"]),
            "bound_tx_s": med(lambda r: r["verify_bound_tx_s"]),
            "bound_ratio": med(lambda r: r["bound_ratio"]),
            "verifies_per_tx_node": med(lambda r: r["verifies_per_tx_node"]),
            "node_cores": med(lambda r: r["node_cores"]), "runs": len(results)}


def _jsonable(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(r, default=str))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--suite", choices=["ed25519-sha256", "sm2-sm3"], default="ed25519-sha256")
    ap.add_argument("--mix", choices=[*mixes(), "both"], default="both",
                    help="both: realistic then noop; call:<name>: one call of the mix alone")
    ap.add_argument("--rates", default="300", help="offered write tx/s, comma-separated")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--no-retry", action="store_true",
                    help="never send a refused transaction again (the first runs' behaviour)")
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds of load before the measured window (not measured)")
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--read-share", type=float, default=0.02,
                    help="proof reads per second as a fraction of the offered write rate")
    ap.add_argument("--filler-keys", type=int, default=0,
                    help="state keys to add in the setup history (attested entities, keys, "
                         "credit records)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (medians)")
    ap.add_argument("--profile", default="", help="py-spy node 0 into this directory")
    ap.add_argument("--keep-dir", default="", help="keep the networks (node logs) here")
    ap.add_argument("--json-out", default="", help="append every run's figures (JSON lines)")
    args = ap.parse_args()
    chosen = ["realistic", "noop"] if args.mix == "both" else [args.mix]
    for rate in (float(x) for x in args.rates.split(",")):
        for mix in chosen:
            cfg = RunConfig(suite=args.suite, validators=args.validators, mix=mix, rate_tx_s=rate,
                            seconds=args.seconds, read_share=args.read_share,
                            filler_keys=args.filler_keys, profile_dir=args.profile,
                            keep_dir=args.keep_dir, warmup_s=args.warmup,
                            retry=not args.no_retry)
            def show(r: dict[str, Any]) -> None:
                print_result(r)
                if args.json_out:
                    with open(args.json_out, "a") as f:
                        f.write(json.dumps(_jsonable(r)) + "\n")

            results = run_repeated(cfg, args.repeat, show)
            if args.repeat > 1:
                m = median_row(results)
                print(f"-- median of {m['runs']} runs: {m['tx_s']:.0f} tx/s, p50 "
                      f"{_ms(m['p50_s'])} ms, p99 {_ms(m['p99_s'])} ms, CPU/tx/node "
                      f"{m['cpu_us_per_tx_node']:.0f} us (net "
                      f"{m['cpu_us_per_tx_node_net']:.0f}), {m['bound_ratio']:.1%} of the "
                      f"bound ({m['bound_tx_s']:.0f} tx/s)")


if __name__ == "__main__":
    main()
