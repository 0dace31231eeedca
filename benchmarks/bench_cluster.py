"""Cluster benchmark: 4 validator processes on this machine under concurrent signed load.

For each suite: ``network init`` a fresh 4-validator network on free loopback ports, start
it (``shell.localnet.LocalNet``), pre-sign the load (so client signing does not compete with the
validators during the measured window), then let concurrent clients POST batches of signed
transactions to random nodes for ``--seconds``. Reported:

- committed tx/s: growth of ``credchain_txs_committed_total`` on node 0 over the window;
- p50 / p99 submit-to-commit latency: the nodes' ``credchain_commit_latency_seconds``
  histograms (from a request's arrival at the node that admitted it to that node applying
  the block), merged over all nodes, interpolated inside buckets;
- the signature-verification bound measured in the same run: single-core verifies/s of the
  suite × cores ÷ validators (each validator verifies every transaction once);
- CPU cores used by each validator process and by this load generator over the window
  (/proc), and validator CPU per committed transaction (all 4 nodes together): the figure
  that does not depend on how much of the shared machine the run got;
- signature verifications per committed transaction per node (node counters; a pending or
  refused transaction still counts, so a run that ends with a backlog reads above 1).

The clients are open loop: each posts one batch per interval on a fixed grid without
waiting for earlier answers (at most 16 requests in flight per client), so a slow node does
not lower the offered load.

The transactions call ``bench.noop``: no contract handles it, so each receipt is
``E_UNKNOWN_CALL`` but the sender's nonce still moves (one state write per transaction).
The clients run on the same 2 cores as the 4 validators, so they take from the total.

Run: ``.venv/bin/python benchmarks/bench_cluster.py --seconds 20`` (both suites, bounded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.crypto import Suite, get_suite  # noqa: E402
from ledger.tx import TxBody, sign_tx  # noqa: E402
from shell.localnet import LocalNet, init_network  # noqa: E402

CALL = "bench.noop"


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


def presign(suite: Suite, chain_id: str, batches: int, batch_txs: int) -> list[list[str]]:
    out = []
    for b in range(batches):
        secret = suite.generate_secret()
        sender = suite.public_key(secret)
        out.append([
            sign_tx(suite, secret, TxBody(chain_id, sender, n, CALL, {"b": b})).encode().hex()
            for n in range(batch_txs)
        ])
    return out


async def metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def histogram(ms: list[dict[str, float]]) -> list[tuple[float, float]]:
    """Merged cumulative buckets ``[(upper_bound_s, count), ...]`` over all nodes."""
    prefix = 'credchain_commit_latency_seconds_bucket{le="'
    merged: dict[float, float] = {}
    for m in ms:
        for name, value in m.items():
            if name.startswith(prefix):
                le = name[len(prefix):-2]
                bound = float("inf") if le == "+Inf" else float(le)
                merged[bound] = merged.get(bound, 0.0) + value
    return sorted(merged.items())


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return float("nan")
    target = q * total
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= target:
            if bound == float("inf"):
                return lo_bound
            frac = (target - lo_count) / max(count - lo_count, 1e-9)
            return lo_bound + frac * (bound - lo_bound)
        lo_bound, lo_count = bound, count
    return lo_bound


def diff(after: list[tuple[float, float]], before: list[tuple[float, float]]) -> list[
    tuple[float, float]
]:
    b = dict(before)
    return [(k, v - b.get(k, 0.0)) for k, v in after]


def cpu_seconds(net: LocalNet) -> dict[str, float]:
    """CPU seconds (user + system) so far of each validator process and of this process
    (the load generator), from /proc and getrusage."""
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


def _per_tx_node(before: list[dict[str, float]], after: list[dict[str, float]],
                 counter: str) -> float:
    committed = (after[0]["credchain_txs_committed_total"]
                 - before[0]["credchain_txs_committed_total"])
    total = sum(a.get(counter, 0.0) - b.get(counter, 0.0) for a, b in zip(after, before,
                                                                           strict=True))
    return total / max(committed * len(after), 1.0)


async def drive(net: LocalNet, batches: list[list[str]], seconds: float, clients: int,
                rate_tx_s: float, max_in_flight: int = 16) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = await metrics(session, net.urls[0])
                if s.get("credchain_peers", 0) >= len(net.urls) - 1 and s["credchain_height"] >= 1:
                    break
            except (aiohttp.ClientError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("network did not come up within 30 s")
            await asyncio.sleep(0.2)
        before = [await metrics(session, u) for u in net.urls]
        queue = list(reversed(batches))
        accepted = refused = 0
        cpu0 = cpu_seconds(net)
        t0 = time.monotonic()
        until = t0 + seconds

        in_flight: set[asyncio.Task[None]] = set()
        late = 0

        async def post(url: str, txs: list[str]) -> None:
            nonlocal accepted, refused
            try:
                async with session.post(f"{url}/txs", json={"txs": txs}) as resp:
                    out = await resp.json()
                accepted += out["accepted"]
                refused += len(txs) - out["accepted"]
            except (aiohttp.ClientError, TimeoutError, OSError):
                refused += len(txs)

        async def client(w: int) -> None:
            nonlocal late
            rng = random.Random(w)
            # Open loop: each client offers rate/clients tx/s, one batch per interval on a
            # fixed grid, without waiting for earlier answers (a slow node must not lower
            # the offered load); at most ``max_in_flight`` requests outstanding per client.
            interval_s = len(batches[0]) * clients / rate_tx_s
            next_at = t0 + interval_s * w / clients
            mine: set[asyncio.Task[None]] = set()
            while queue and time.monotonic() < until:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval_s
                if len(mine) >= max_in_flight:
                    late += 1
                    await asyncio.wait(mine, return_when=asyncio.FIRST_COMPLETED)
                url = net.urls[rng.randrange(len(net.urls))]
                task = asyncio.create_task(post(url, queue.pop()))
                for group in (mine, in_flight):
                    group.add(task)
                    task.add_done_callback(group.discard)

        await asyncio.gather(*(client(w) for w in range(clients)))
        t1 = time.monotonic()
        cpu1 = cpu_seconds(net)
        if in_flight:
            await asyncio.wait(in_flight)
        m1 = await metrics(session, net.urls[0])
        committed = m1["credchain_txs_committed_total"] - before[0]["credchain_txs_committed_total"]
        # Let the backlog drain (bounded) so every latency sample lands.
        drain_until = time.monotonic() + 10
        while time.monotonic() < drain_until:
            m = await metrics(session, net.urls[0])
            if m["credchain_pool_size"] == 0:
                break
            await asyncio.sleep(0.2)
        after = [await metrics(session, u) for u in net.urls]
        hist = diff(histogram(after), histogram(before))
        return {
            "window_s": t1 - t0,
            "accepted": accepted,
            "refused": refused,
            "committed_in_window": committed,
            "tx_per_s": committed / (t1 - t0),
            "p50_s": quantile(hist, 0.50),
            "p99_s": quantile(hist, 0.99),
            "samples": hist[-1][1] if hist else 0,
            "ran_out_of_presigned": not queue,
            "late_batches": late,
            # Signatures verified per committed transaction per validator, over the whole
            # run and drain (a transaction refused or still pending adds verifications too).
            "verifies_per_tx_node": _per_tx_node(before, after,
                                                 "credchain_signatures_verified_total"),
            "interned_per_tx_node": _per_tx_node(before, after, "credchain_txs_interned_total"),
            "cpu_share": {k: (cpu1[k] - cpu0[k]) / (t1 - t0) for k in cpu1},
        }


def run_suite(suite_name: str, seconds: float, clients: int, batch_txs: int,
              rate_tx_s: float, keep_dir: Path | None = None) -> dict[str, Any]:
    suite = get_suite(suite_name)
    verify_rate = verifies_per_second(suite)
    cores = os.cpu_count() or 1
    bound = verify_rate * cores / 4
    n_batches = int(rate_tx_s * seconds * 1.1 / batch_txs) + clients
    t = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        if keep_dir is not None:
            tmp = str(keep_dir / f"{suite_name}-{rate_tx_s:.0f}")
        init_network(Path(tmp) / "net", 4, suite_name, "bench", clients=0)
        batches = presign(suite, "bench", n_batches, batch_txs)
        sign_s = time.monotonic() - t
        net = LocalNet(Path(tmp) / "net")
        net.start_all()
        try:
            result = asyncio.run(drive(net, batches, seconds, clients, rate_tx_s))
        finally:
            net.stop_all()
    node_cores = sum(v for k, v in result["cpu_share"].items() if k.startswith("node"))
    result["node_cpu_us_per_tx"] = node_cores * 1e6 / max(result["tx_per_s"], 1e-9)
    result.update({"suite": suite_name, "offered_tx_s": rate_tx_s,
                   "verify_per_s_1core": verify_rate, "cores": cores,
                   "verify_bound_tx_s": bound, "presign_s": sign_s})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=["ed25519-sha256", "sm2-sm3", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100, help="transactions per POST")
    ap.add_argument("--ed-rates", default="1000,1500,2000",
                    help="offered tx/s for ed25519-sha256, comma-separated (one run each)")
    ap.add_argument("--sm-rates", default="300,500", help="offered tx/s for sm2-sm3")
    ap.add_argument("--keep-dir", type=Path, default=None,
                    help="run the networks under this directory and keep it (node logs)")
    args = ap.parse_args()
    suites = ["ed25519-sha256", "sm2-sm3"] if args.suite == "both" else [args.suite]
    rates = {"ed25519-sha256": args.ed_rates, "sm2-sm3": args.sm_rates}
    print(f"cluster benchmark: 4 validators, {args.clients} clients, batches of {args.batch}, "
          f"{args.seconds:.0f} s per run, {os.cpu_count()} cores")
    for name in suites:
        for rate in (float(x) for x in rates[name].split(",")):
            r = run_suite(name, args.seconds, args.clients, args.batch, rate, args.keep_dir)
            print(
                f"{r['suite']:>15} offered {rate:5.0f} tx/s: {r['tx_per_s']:6.0f} committed tx/s"
                f"  p50 {r['p50_s'] * 1000:5.0f} ms  p99 {r['p99_s'] * 1000:5.0f} ms  "
                f"(accepted {r['accepted']}, refused {r['refused']}, {r['samples']:.0f} "
                f"latency samples, window {r['window_s']:.1f} s)  |  verify bound "
                f"{r['verify_bound_tx_s']:5.0f} tx/s ({r['verify_per_s_1core']:.0f} "
                f"verifies/s/core x {r['cores']} cores / 4)  |  CPU cores used: "
                + " ".join(f"{k} {v:.2f}" for k, v in r["cpu_share"].items())
                + f"  |  validator CPU per committed tx (4 nodes) {r['node_cpu_us_per_tx']:.0f} us"
                + f"  |  load avg {os.getloadavg()[0]:.1f}"
                + f"  |  signature verifications per tx per node {r['verifies_per_tx_node']:.2f}"
                + f" (proposal txs taken from the pool {r['interned_per_tx_node']:.2f})"
                + (f"  |  {r['late_batches']} batches sent late" if r["late_batches"] else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
