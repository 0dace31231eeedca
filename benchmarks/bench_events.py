"""Event stream benchmark: events delivered per second to 1 and to 100 subscribers while a
4-validator network commits load, the stream's CPU cost per event, and the chain's commit
rate in the same run.

A fresh ``network init`` on loopback (ed25519-sha256), started with ``LocalNet``. The load
is pre-signed ``identity.attest`` transactions (one event each; senders granted the
attestor role in genesis), posted open loop to nodes 1-3 at ``--rate`` tx/s for
``--seconds``. Subscribers read ``GET /events/stream`` of node 0, unfiltered, live; the
client counts item frames without parsing them (so it takes little of the shared CPU).

Each repeat runs three phases with the same load: 0 subscribers (the baseline), 1, and 100.
For each phase: the commit rate (growth of node 0's ``txs_committed_total``), the events
delivered per second (all subscribers together, and per subscriber), and node 0's CPU
seconds (/proc). The stream's CPU per event is (node 0's CPU in the phase − in the
baseline) ÷ events delivered. Figures are medians over ``--repeats``; the load average is
printed before and after, because the 2 cores are shared.

Run: ``.venv/bin/python benchmarks/bench_events.py`` (defaults: ``--seconds 10 --rate 300
--repeats 3``; ~2.5 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.periods import DAY_MS  # noqa: E402
from contracts.scenario import demo_uscc  # noqa: E402
from ledger.crypto import ED25519_SHA256  # noqa: E402
from ledger.tx import TxBody, sign_tx  # noqa: E402
from shell.localnet import LocalNet, init_network  # noqa: E402

SUITE = ED25519_SHA256
CHAIN_ID = "bench-events"
BATCH_TXS = 50
PHASES = (0, 1, 100)


def sender_secrets(n: int) -> list[bytes]:
    return [hashlib.sha256(f"bench-events/{i}".encode()).digest() for i in range(n)]


def presign(secrets: list[bytes], txs: int, serial0: int) -> list[list[str]]:
    """Batches of ``identity.attest`` from senders not used before (nonces 0..k-1)."""
    now = int(time.time() * 1000)
    out = []
    for b in range(txs // BATCH_TXS):
        secret = secrets.pop()
        sender = SUITE.public_key(secret)
        out.append([sign_tx(SUITE, secret, TxBody(CHAIN_ID, sender, n, "identity.attest", {
            "uscc": demo_uscc(serial0 + b * BATCH_TXS + n), "name": "bench",
            "entity_type": "company", "cert_issuer": "bench", "cert_serial": "1",
            "valid_from_ms": now - DAY_MS, "valid_to_ms": now + 300 * DAY_MS, "keys": []}))
            .encode().hex() for n in range(BATCH_TXS)])
    return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def committed(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith("credchain_txs_committed_total "):
            return float(line.split()[1])
    return 0.0


class Counter:
    """Item frames of one stream, counted in the raw bytes (a frame that starts with
    ``id:``; heartbeats and the hello start with ``event:``)."""

    def __init__(self) -> None:
        self.items = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        self.items += data.count(b"\n\nid: ") - self._tail.count(b"\n\nid: ")
        self._tail = data[-8:]


async def subscriber(session: aiohttp.ClientSession, url: str, counter: Counter,
                     ready: asyncio.Event) -> None:
    async with session.get(f"{url}/events/stream?heartbeat_ms=5000") as resp:
        if resp.status != 200:
            raise SystemExit(f"a subscriber was refused: HTTP {resp.status} "
                             f"{await resp.text()}")
        first = True
        async for chunk in resp.content.iter_any():
            if first:
                ready.set()
                first = False
            counter.feed(chunk)


async def drive(session: aiohttp.ClientSession, urls: list[str], batches: list[list[str]],
                seconds: float, rate: float) -> int:
    """Open loop: one batch every ``BATCH_TXS / rate`` s, not waiting for answers."""
    accepted = 0
    interval_s = BATCH_TXS / rate
    t0 = time.monotonic()

    async def post(url: str, txs: list[str]) -> None:
        nonlocal accepted
        try:
            async with session.post(f"{url}/txs", json={"txs": txs}) as resp:
                accepted += int((await resp.json()).get("accepted", 0))
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            pass

    tasks = []
    for i, batch in enumerate(batches):
        at = t0 + i * interval_s
        if at - t0 >= seconds:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        tasks.append(asyncio.create_task(post(random.choice(urls), batch)))
    await asyncio.gather(*tasks)
    return accepted


async def phase(net: LocalNet, subs: int, batches: list[list[str]], seconds: float,
                rate: float) -> dict[str, Any]:
    url0, pid0 = net.urls[0], net.procs[0].pid  # type: ignore[union-attr]
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    # subscribers come from 10 loopback addresses each (the node caps streams per caller)
    streams = [aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(
        limit=0, local_addr=(f"127.0.2.{a + 1}", 0))) for a in range((subs + 9) // 10)]
    async with aiohttp.ClientSession(timeout=timeout) as session:
        counters = [Counter() for _ in range(subs)]
        readies = [asyncio.Event() for _ in range(subs)]
        readers = [asyncio.create_task(subscriber(streams[k // 10], url0, c, r))
                   for k, (c, r) in enumerate(zip(counters, readies, strict=True))]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        c0, cpu0, t0 = await committed(session, url0), cpu_s(pid0), time.monotonic()
        items0 = sum(c.items for c in counters)
        accepted = await drive(session, net.urls[1:], batches, seconds, rate)
        await asyncio.sleep(1.0)  # the last batches commit and stream out
        elapsed = time.monotonic() - t0
        c1, cpu1 = await committed(session, url0), cpu_s(pid0)
        items = sum(c.items for c in counters) - items0
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    for st in streams:
        await st.close()
    return {"subs": subs, "commit_tx_s": (c1 - c0) / elapsed, "accepted": accepted,
            "delivered_s": items / elapsed, "per_sub_s": items / elapsed / max(subs, 1),
            "events": items, "cpu_s": cpu1 - cpu0, "elapsed_s": elapsed}


async def run(net: LocalNet, args: argparse.Namespace) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if await committed(s, net.urls[0]) >= 0 and all(
                        [await _height(s, u) >= 1 for u in net.urls]):
                    break
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.3)
    secrets = sender_secrets(args.senders)
    per_phase = int(args.rate * args.seconds * 1.2)
    rows = []
    serial = 2_000_000
    for rep in range(args.repeats):
        for subs in PHASES:
            batches = presign(secrets, per_phase, serial)
            serial += per_phase
            row = await phase(net, subs, batches, args.seconds, args.rate)
            row["repeat"] = rep
            rows.append(row)
            print(f"  repeat {rep} subs {subs:3d}: commit {row['commit_tx_s']:7.1f} tx/s, "
                  f"delivered {row['delivered_s']:8.1f} ev/s ({row['per_sub_s']:.1f} per "
                  f"subscriber), node0 CPU {row['cpu_s']:.2f} s", flush=True)
    return rows


async def _height(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/status") as resp:
        return int((await resp.json())["height"])


def summarize(rows: list[dict[str, Any]]) -> None:
    def med(subs: int, key: str) -> float:
        return float(statistics.median(r[key] for r in rows if r["subs"] == subs))

    print("\nmedians over repeats (node 0 serves the streams; load posted to nodes 1-3)")
    print("| subscribers | commit tx/s | events delivered/s (all) | per subscriber | "
          "node 0 CPU s | stream CPU µs/event |")
    print("|---:|---:|---:|---:|---:|---:|")
    for subs in PHASES:
        extra = []
        for rep in {r["repeat"] for r in rows}:
            base = next(r for r in rows if r["repeat"] == rep and r["subs"] == 0)
            this = next(r for r in rows if r["repeat"] == rep and r["subs"] == subs)
            if subs and this["events"]:
                extra.append((this["cpu_s"] - base["cpu_s"]) / this["events"] * 1e6)
        per_event = f"{statistics.median(extra):.1f}" if extra else "—"
        print(f"| {subs} | {med(subs, 'commit_tx_s'):.1f} | {med(subs, 'delivered_s'):.1f} | "
              f"{med(subs, 'per_sub_s'):.1f} | {med(subs, 'cpu_s'):.2f} | {per_event} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=300.0, help="offered tx/s")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--senders", type=int, default=1_000,
                   help="attestor keys in genesis (at most 1,024 per role)")
    args = p.parse_args()
    needed = len(PHASES) * args.repeats * int(args.rate * args.seconds * 1.2) // BATCH_TXS
    if needed > args.senders:
        raise SystemExit(f"--senders must be at least {needed}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        keys = [SUITE.public_key(k) for k in sender_secrets(args.senders)]
        init_network(Path(tmp) / "net", 4, SUITE.name, CHAIN_ID, clients=0,
                     extra_roles={"attestor": keys}, heartbeat_ms=1000)
        net = LocalNet(Path(tmp) / "net")
        net.start_all()
        try:
            rows = asyncio.run(run(net, args))
        finally:
            net.stop_all()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    summarize(rows)


if __name__ == "__main__":
    main()
