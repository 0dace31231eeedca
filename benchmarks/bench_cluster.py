"""Cluster benchmark: validator processes on this machine under the realistic mix, open loop.

One run (``run_once``): build a fresh network whose validators start from an offline-built
setup history (``benchmarks/prebuilt.py``: entities attested, tenders announced, guarantees
issued, the opening tenders' bids sealed and opened; optional filler to a chosen state
size), pre-sign the window's transactions (``benchmarks/workload.py``: the mix and its
proportions are documented there), start the validators (``shell.localnet.LocalNet``,
loopback only), and for ``--seconds`` (after ``--warmup`` seconds of the same load, not
measured) send one request of 100 transactions every ``100 / rate`` seconds on a fixed grid
(open loop: a request is sent on time whatever the answers to earlier ones; at most
``MAX_REQUESTS_IN_FLIGHT`` outstanding, a request that had to wait is counted *late*)
round-robin to the nodes, each request composed of whole runs of every call type in the
template's proportions. A transaction refused with a "later" answer (``busy``,
``sender_busy``, ``rate_limited``, ``future_limit``, ``pool_full``) is sent again with the
rest of its run at its sender's next turn, as a client told 503/429 does (``--no-retry``:
never; a refused nonce then leaves a gap that stops its sender's later transactions).
Beside the writes, a reader sends proof-bundle queries (guarantee proofs and eligibility
bundles) at ``--read-share`` of the write rate, also open loop. Every loop is bounded in
count and time.

Reported per call type, from the same run:

- committed tx/s: transactions of that call whose block the node that admitted them had
  applied within the window, divided by the window (warm-up transactions count when they
  land in it);
- p50 / p99 latency, *submit → committed and applied*, measured by polling: each node's
  ``GET /status`` height is polled every ``POLL_MS`` (each node on its own, so a node busy
  applying a block does not delay the others' samples); a transaction's latency is the
  first poll that saw the admitting node at or past the height of the block that holds it,
  minus the moment its request was first sent (resolution: the poll interval plus a status round
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
- the signature-verification bound measured in the same run (before the network starts and
  after it stops; the higher of the two): single-core verifies/s of the suite × cores ÷
  validators (every validator verifies every signature once), and the
  committed rate as a fraction of it; beside it the same bound from the rate per core while
  every core verifies at once (``verifies_per_core_together``), which is lower on a shared
  virtual machine, and the committed rate as a fraction of that;
- reads: completed reads/s per kind, p50/p99 request latency, answers by HTTP status.

The no-op line (``--mix noop``: ``bench.noop``, one nonce write per transaction) is the
comparison with the earlier results; ``--mix both`` (the default) runs the realistic mix and
then the no-op mix at the same offered rate. ``--profile DIR`` records node 0 with py-spy
for the window and prints where its time went per transaction (``benchmarks/nodeprofile.py``).

Modules: ``benchmarks/workload.py`` (the mix), ``benchmarks/prebuilt.py`` (the setup history),
``benchmarks/traffic.py`` (requests, polls, reads), ``benchmarks/cluster_report.py`` (the
figures), ``benchmarks/nodeprofile.py`` (the profile), ``benchmarks/curves.py`` (the curves).

Run: ``.venv/bin/python benchmarks/bench_cluster.py --rates 300 --seconds 20 --repeat 3``
(results and the exact commands of each figure: ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import nodeprofile  # noqa: E402
from benchmarks.cluster_report import (  # noqa: E402
    STALL_S,
    jsonable,
    median_row,
    ms_text,
    parse_metrics,
    print_result,
    read_chain,
    summarise,
)
from benchmarks.prebuilt import build_network  # noqa: E402
from benchmarks.traffic import (  # noqa: E402
    MAX_READS_IN_FLIGHT,
    POLL_MS,
    Prepared,
    Scheduler,
    Sent,
    Window,
    poll,
    post,
    read_proofs,
)
from benchmarks.workload import Workload, mixes, request_txs, template_of  # noqa: E402
from ledger.crypto import Suite, get_suite  # noqa: E402
from shell.admission import VERIFY_THREAD_NAME  # noqa: E402
from shell.localnet import LocalNet  # noqa: E402

IDLE_BASELINE_S = 3.0  # the idle network polled, before the window: the benchmark's own cost
MAX_REQUESTS_IN_FLIGHT = 64
UP_TIMEOUT_S = 60.0  # ... plus UP_S_PER_KEY for each state key (a node checks its store at start)
UP_S_PER_KEY = 0.0003
DRAIN_MAX_S = 30.0


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
    kill_node: int = -1  # kill -9 this validator once the network is up, before the load
    leader_memory: int | None = None  # the chain parameter leader_memory_heights (genesis)


def verifies_per_second(suite: Suite, seconds: float = 1.0) -> float:
    """Single-core verifications/s of 200-byte messages, over 64 different signatures: one
    signature verified again and again lets the CPU learn its branches (the C SM2 verifier
    looked ~25 % faster that way than on a real stream of signatures)."""
    secret = suite.generate_secret()
    pub = suite.public_key(secret)
    msgs = [i.to_bytes(2, "big") * 100 for i in range(64)]
    pairs = [(msg, suite.sign(secret, msg)) for msg in msgs]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for msg, sig in pairs:
            suite.verify(pub, msg, sig)
        n += len(pairs)
    return n / (time.perf_counter() - start)


def _verify_rate_from(suite_name: str, start_at: float, seconds: float) -> float:
    """One process's part of ``verifies_per_core_together``: wait for the common start."""
    suite = get_suite(suite_name)
    time.sleep(max(0.0, start_at - time.time()))
    return verifies_per_second(suite, seconds)


def verifies_per_core_together(suite: Suite, cores: int, seconds: float = 1.0) -> float:
    """Verifications/s per core while ``cores`` processes verify at once (each as
    ``verifies_per_second``, from a common start), summed and divided by ``cores``. The bound
    multiplies one core's rate by the cores; on a shared virtual machine the cores slow each
    other down when all are busy (here two processes together verified ~1.65x one alone, not
    2x), so this is the rate the validators' verification threads can really have."""
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5  # after every process has started
    with concurrent.futures.ProcessPoolExecutor(cores, mp_context=ctx) as pool:
        rates = list(pool.map(_verify_rate_from, [suite.name] * cores, [start_at] * cores,
                              [seconds] * cores))
    return sum(rates) / cores


def verify_rates(suite: Suite, cores: int) -> tuple[float, float]:
    """One core's verifications/s alone, and per core while every core verifies at once."""
    return verifies_per_second(suite), verifies_per_core_together(suite, cores)


def _proc_cpu_s(stat_path: str) -> float:
    """User + system CPU seconds of a /proc ``stat`` file (a process or one of its threads);
    0 if it is gone."""
    try:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_seconds(net: LocalNet) -> dict[str, float]:
    """CPU seconds (user + system) so far of each validator and of this load generator."""
    out = {f"node{i}": _proc_cpu_s(f"/proc/{proc.pid}/stat")
           for i, proc in enumerate(net.procs) if proc is not None}
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["client"] = me.ru_utime + me.ru_stime
    return out


def thread_cpu_seconds(net: LocalNet) -> dict[str, dict[str, float]]:
    """CPU seconds so far of each validator's threads, in three groups: ``main`` (its thread
    id is the process id: the event loop, admission, execution and commit), ``verify`` (the
    signature verification threads, named ``shell.admission.VERIFY_THREAD_NAME``) and
    ``other`` (LevelDB's own thread: compactions). A node cannot go faster than its main
    thread, however many cores it has."""
    out: dict[str, dict[str, float]] = {}
    for i, proc in enumerate(net.procs):
        if proc is None:
            continue
        groups = {"main": 0.0, "verify": 0.0, "other": 0.0}
        try:
            tids = os.listdir(f"/proc/{proc.pid}/task")
        except OSError:
            tids = []
        for tid in tids:
            try:
                name = Path(f"/proc/{proc.pid}/task/{tid}/comm").read_text().strip()
            except OSError:
                continue
            group = ("main" if tid == str(proc.pid) else
                     "verify" if name == VERIFY_THREAD_NAME else "other")
            groups[group] += _proc_cpu_s(f"/proc/{proc.pid}/task/{tid}/stat")
        out[f"node{i}"] = groups
    return out


# ---- the window ---------------------------------------------------------------------------


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
    every = net.urls
    template = template_of(cfg.mix)
    sched = Scheduler(runs, len(every), template)
    w = Window(first_seen=[{} for _ in every])
    stalled: list[dict[str, Any]] = []
    interval_s = request_txs(template) / cfg.rate_tx_s
    timeout = aiohttp.ClientTimeout(total=60)
    conn = aiohttp.TCPConnector(limit=MAX_REQUESTS_IN_FLIGHT + MAX_READS_IN_FLIGHT + 16)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn) as session:
        try:
            up_s = await _wait_up(session, every, setup_height,
                                  UP_TIMEOUT_S + UP_S_PER_KEY * workload.filler_keys)
        except SystemExit as exc:  # say which node died (a port taken meanwhile, ...)
            logs = net.directory / "logs"
            tails = {i: (logs / f"node{i}.log").read_text(errors="replace").splitlines()[-1:]
                     for i in net.exited()}
            raise SystemExit(f"{exc}; nodes exited: {tails or 'none'}") from None
        live = [i for i in range(len(every)) if i != cfg.kill_node]
        if cfg.kill_node >= 0:
            # a validator crashes: its share of the load goes to the others (a client
            # fails over), and nothing more is asked of it
            net.kill(cfg.kill_node)
        urls = [every[i] for i in live]
        stop_poll = asyncio.Event()
        poller = asyncio.create_task(poll(session, every, w, stop_poll))
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
                cpu0, threads0 = cpu_seconds(net), thread_cpu_seconds(net)
                w.t0 = time.monotonic()
                reader = asyncio.create_task(read_proofs(session, urls, workload.read_targets(),
                                                   cfg.read_share * cfg.rate_tx_s, until, w))
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval_s
            if len(in_flight) >= MAX_REQUESTS_IN_FLIGHT:
                w.late_requests += 1
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            node = k % len(every)
            k += 1
            batch = sched.compose(node)
            if not batch:
                continue
            target = node if node in live else live[node % len(live)]
            now = time.monotonic()
            for run in batch:
                for j, tx_id in enumerate(run.tx_ids):
                    if tx_id not in w.sent:  # a first attempt (a resend keeps its first time)
                        w.sent[tx_id] = Sent(run.call, target, now,
                                             run.tx_ids[j - 1] if j else None)
            task = asyncio.create_task(post(session, every[target], batch, w, sched,
                                             cfg.retry))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        w.t1 = time.monotonic()
        cpu1, threads1 = cpu_seconds(net), thread_cpu_seconds(net)
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
            # (a thread that ended in the window is missing from the later reading: its
            # CPU is in ``cpu_share`` only)
            "thread_share": {k2: {g: (s1 - threads0.get(k2, {}).get(g, 0.0)) / window_s
                                  for g, s1 in groups.items()}
                             for k2, groups in threads1.items()},
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
        params: dict[str, int | str] = ({} if cfg.leader_memory is None
                                        else {"leader_memory_heights": cfg.leader_memory})
        build = build_network(built, workload, cfg.validators, cfg.suite, params=params)
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
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    before = verify_rates(suite, cores)
    profile_out = (Path(cfg.profile_dir) / f"{out.name}.txt") if cfg.profile_dir else None
    if profile_out is not None:
        profile_out.parent.mkdir(parents=True, exist_ok=True)
    net = LocalNet(out)
    net.start_all()
    try:
        d = asyncio.run(drive(net, cfg, workload, runs, setup_height, profile_out))
    finally:
        net.stop_all()
    after = verify_rates(suite, cores)
    # The machine's capacity is the less disturbed of the two measurements (this shared
    # machine's rate moved by a third between runs minutes apart): the higher one, which
    # makes the committed share of the bound the lower.
    verify_rate, verify_rate_together = map(max, before, after)
    chain = read_chain(out, cfg.suite, setup_height)
    result = summarise(d, chain.txs, cfg.validators - (cfg.kill_node >= 0))
    result["blocks"], result["late_heights"] = chain.blocks, chain.late_heights
    result.update({
        "config": asdict(cfg), "cores": cores, "verify_per_s_1core": verify_rate,
        "verify_bound_tx_s": verify_rate * cores / cfg.validators,
        "verify_per_s_core_together": verify_rate_together,
        "verify_per_s_measured": {"before": before, "after": after},
        "verify_bound_together_tx_s": verify_rate_together * cores / cfg.validators,
        "load_avg_before": load_before, "load_avg": os.getloadavg(),
        "window_txs_prepared": sum(len(run.tx_ids) for run in runs)})
    result["bound_ratio"] = result["all"]["tx_s"] / result["verify_bound_tx_s"]
    result["bound_together_ratio"] = result["all"]["tx_s"] / result["verify_bound_together_tx_s"]
    if profile_out is not None and profile_out.exists():
        committed = result["all"]["committed_in_window"]
        node0_cpu_s = result["cpu_share"].get("node0", 0.0) * result["window_s"]
        node0 = {g: share * result["window_s"]
                 for g, share in d["thread_share"].get("node0", {}).items()}
        result["profile"] = nodeprofile.summarise(profile_out, committed, result["window_s"],
                                                  node0_cpu_s, node0.get("main"),
                                                  node0.get("verify"))
        result["profile_file"] = str(profile_out)
    return result


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
    ap.add_argument("--kill-node", type=int, default=-1,
                    help="kill -9 this validator (1..n-1) once the network is up, before the "
                         "load: the crashed-validator figure (3 of 4)")
    ap.add_argument("--leader-memory", type=int, default=None, metavar="HEIGHTS",
                    help="the chain parameter leader_memory_heights in genesis (default: its "
                         "default): how long a validator that failed to lead is passed over")
    args = ap.parse_args()
    if args.kill_node == 0 or args.kill_node >= args.validators:
        ap.error("--kill-node names a validator 1..n-1 (node 0's store is read afterwards)")
    chosen = ["realistic", "noop"] if args.mix == "both" else [args.mix]
    for rate in (float(x) for x in args.rates.split(",")):
        for mix in chosen:
            cfg = RunConfig(suite=args.suite, validators=args.validators, mix=mix, rate_tx_s=rate,
                            seconds=args.seconds, read_share=args.read_share,
                            filler_keys=args.filler_keys, profile_dir=args.profile,
                            keep_dir=args.keep_dir, warmup_s=args.warmup,
                            retry=not args.no_retry, kill_node=args.kill_node,
                            leader_memory=args.leader_memory)
            def show(r: dict[str, Any]) -> None:
                print_result(r)
                if args.json_out:
                    with open(args.json_out, "a") as f:
                        f.write(json.dumps(jsonable(r)) + "\n")

            results = run_repeated(cfg, args.repeat, show)
            if args.repeat > 1:
                m = median_row(results)
                print(f"-- median of {m['runs']} runs: {m['tx_s']:.0f} tx/s, p50 "
                      f"{ms_text(m['p50_s'])} ms, p99 {ms_text(m['p99_s'])} ms, CPU/tx/node "
                      f"{m['cpu_us_per_tx_node']:.0f} us (net "
                      f"{m['cpu_us_per_tx_node_net']:.0f}), {m['bound_ratio']:.1%} of the "
                      f"bound ({m['bound_tx_s']:.0f} tx/s), "
                      f"{m['bound_together_ratio']:.1%} of the bound with all cores busy")


if __name__ == "__main__":
    main()
