"""The event stream on real validator processes (loopback, bounded in time): a reader whose
node is killed with ``kill -9`` resumes on another node with the same cursor, one whose node
restarts resumes on it; each gets exactly the events the blocks hold, none missing, none
twice. And 1,000 concurrent subscribers on one node: its memory stays within the stated
bound while the network keeps committing.

The load (``AttestLoad``, also driven by ``benchmarks/bench_events.py``) is signed
``identity.attest`` calls, one event each, from senders granted the attestor role in
genesis, each attesting entities no one else does.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contracts.periods import DAY_MS
from contracts.scenario import demo_uscc
from ledger import jsonform
from ledger.crypto import Suite, get_suite
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx
from shell.client import NodeClient
from shell.localnet import LocalNet, init_network
from shell.sse import follow
from tests.test_multiprocess import heights, load_keys, note, wait_until

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(240)]

SERIALS = itertools.count(1_000_000)  # USCC serials no other attestation uses


@dataclass
class AttestLoad:
    """Batches of ``identity.attest`` from fresh senders (nonces 0..k-1) to random nodes."""

    suite: Suite
    chain_id: str
    urls: list[str]
    secrets: list[bytes]
    batch_txs: int = 20
    accepted: int = 0
    errors: int = 0
    down: set[int] = field(default_factory=set)
    _next_sender: int = 0

    def batch(self, now_ms: int) -> list[SignedTx]:
        """A batch from a sender not used before: a batch lost with a killed node never
        leaves a nonce gap in front of later ones."""
        if self._next_sender >= len(self.secrets):
            raise AssertionError("the load used every sender key granted in genesis")
        secret = self.secrets[self._next_sender]
        self._next_sender += 1
        sender = self.suite.public_key(secret)
        return [sign_tx(self.suite, secret, TxBody(
            self.chain_id, sender, n, "identity.attest", {
                "uscc": demo_uscc(next(SERIALS)), "name": "load", "entity_type": "company",
                "cert_issuer": "load", "cert_serial": "1", "valid_from_ms": now_ms - DAY_MS,
                "valid_to_ms": now_ms + 300 * DAY_MS, "keys": []}))
            for n in range(self.batch_txs)]

    async def run(self, seconds: float, rate_per_s: float) -> None:
        until = time.monotonic() + seconds
        interval_s = self.batch_txs / rate_per_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            for i in itertools.count():
                started = time.monotonic()
                if started >= until:
                    return
                targets = [u for j, u in enumerate(self.urls) if j not in self.down]
                body = {"txs": [t.encode().hex()
                                for t in self.batch(int(time.time() * 1000))]}
                try:
                    async with s.post(f"{targets[i % len(targets)]}/txs", json=body) as r:
                        self.accepted += int((await r.json()).get("accepted", 0))
                except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
                    self.errors += 1
                await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))


def make_net(tmp_path: Path, limits: str = "") -> tuple[LocalNet, AttestLoad]:
    suite = get_suite("ed25519-sha256")
    secrets = load_keys(suite)
    init_network(tmp_path / "net", 4, suite.name, "events-mp", clients=0,
                 extra_roles={"attestor": [suite.public_key(k) for k in secrets],
                              "supervisor": [suite.public_key(SUPERVISOR)]},
                 heartbeat_ms=1000)
    if limits:
        for i in range(4):
            with open(tmp_path / "net" / f"node{i}.toml", "a") as f:
                f.write(f"\n[limits]\n{limits}\n")
    net = LocalNet(tmp_path / "net")
    return net, AttestLoad(suite, "events-mp", net.urls, secrets)


@pytest.fixture()
def network(tmp_path: Path) -> Iterator[tuple[LocalNet, AttestLoad]]:
    net, load = make_net(tmp_path)
    net.start_all()
    try:
        asyncio.run(wait_until(_up(net.urls), 30, "all nodes to commit block 1"))
        yield net, load
    finally:
        net.stop_all()


def _up(urls: list[str]) -> Any:
    async def pred() -> bool:
        return min(await heights(urls)) >= 1
    return pred


SUPERVISOR = hashlib.sha256(b"events-mp/supervisor").digest()


async def expected_from_blocks(url: str, top: int) -> list[tuple[str, str, Any]]:
    """``(cursor, tx_id, event)`` of every event up to block ``top``, read from the whole
    blocks and receipts a supervisor is shown (``GET /blocks/{h}`` signed with its key).
    Every transaction here is an attestor's ``identity.attest``, public business."""
    client = NodeClient(url).as_key(get_suite("ed25519-sha256"), SUPERVISOR)
    return await asyncio.to_thread(_read_blocks, client, top)


def _read_blocks(client: NodeClient, top: int) -> list[tuple[str, str, Any]]:
    out = []
    for h in range(1, top + 1):
        got = client.get(f"/blocks/{h}")
        rank = 0
        txs = [SignedTx.from_obj(jsonform.from_json(t, jsonform.TX))
               for t in got["block"]["txs"]]
        assert {t.body.call for t in txs} <= {"identity.attest"}
        for tx_id, r in zip(got["tx_ids"], got["receipts"], strict=True):
            receipt = Receipt.from_obj(jsonform.from_json(r, jsonform.RECEIPT))
            if receipt.code != "OK" or not receipt.events:
                continue
            for e, event in enumerate(receipt.events):
                out.append((f"{h}.{rank}.{e}", tx_id, jsonform.tagged_to_json(event)))
            rank += 1
    return out


@dataclass
class Collected:
    items: list[tuple[str, str, Any]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    cutoffs: list[str] = field(default_factory=list)


async def collect(urls: list[str], until_height: Any, cursor: str = "",
                  query: dict[str, str] | None = None,
                  into: Collected | None = None) -> Collected:
    """Follow the stream (failing over in ``urls`` order) until an item or heartbeat past
    ``until_height()`` (a callable read as the stream goes)."""
    out = into or Collected()
    q = {"heartbeat_ms": "1000", **(query or {})}
    if not cursor:
        q["from_height"] = "1"
    async for frame in follow(urls, q, cursor, read_timeout_s=5):
        if not out.urls or out.urls[-1] != frame.url:
            out.urls.append(frame.url)
        if frame.event == "message":
            i = frame.json()
            out.items.append((i["cursor"], i["tx_id"], i["event"]))
        elif frame.event == "cutoff":
            out.cutoffs.append(frame.json()["reason"])
        top = until_height()
        # a heartbeat's id is the end of the last block walked
        if top is not None and frame.event == "heartbeat" and int(frame.id.split(".")[0]) >= top:
            return out
    return out


def test_a_reader_whose_node_is_killed_resumes_on_another_with_its_cursor(
        network: tuple[LocalNet, AttestLoad]) -> None:
    net, load = network

    async def body() -> None:
        top: list[int | None] = [None]
        got = Collected()
        reader = asyncio.create_task(collect(net.urls, lambda: top[0], into=got))
        loader = asyncio.create_task(load.run(seconds=9, rate_per_s=150))
        await asyncio.sleep(4)
        assert got.items, "nothing streamed before the kill"
        before = len(got.items)
        net.kill(0)
        load.down.add(0)
        note(f"killed node 0 after {before} items; the reader goes on")
        await loader
        others = net.urls[1:]

        async def settled() -> bool:
            hs = await heights(others)
            return min(hs) == max(hs) and min(hs) > 0
        await wait_until(settled, 30, "the surviving nodes to agree on a height")
        await asyncio.sleep(1.5)  # a few empty blocks after the load
        top[0] = min(await heights(others))
        await asyncio.wait_for(reader, 60)
        assert len(got.urls) >= 2 and got.urls[0] == net.urls[0], got.urls
        assert net.urls[0] not in got.urls[1:]
        assert top[0] is not None
        want = await expected_from_blocks(net.urls[1], top[0])
        seen = [c for c, _, _ in got.items]
        assert len(seen) == len(set(seen)), "an event was delivered twice"
        assert got.items[: len(want)] == want, "events missing or out of order"
        assert load.accepted > 500 and len(want) >= load.accepted * 0.9, (len(want),
                                                                           load.accepted)
        note(f"{len(want)} events, {before} from node 0 before the kill, the rest after")

    asyncio.run(body())


def test_a_reader_resumes_on_its_node_after_a_restart(
        network: tuple[LocalNet, AttestLoad]) -> None:
    net, load = network

    async def body() -> None:
        await load.run(seconds=3, rate_per_s=150)
        first = Collected()
        top0 = (await heights(net.urls[:1]))[0]
        await collect(net.urls[:1], lambda: top0 // 2, into=first)
        cursor = first.items[-1][0]
        assert first.items and net.stop(0) == 0  # SIGTERM: a clean stop
        net.start(0)
        await wait_until(_up(net.urls[:1]), 30, "node 0 to come back")
        loader = asyncio.create_task(load.run(seconds=3, rate_per_s=150))
        await loader
        await asyncio.sleep(1.5)
        top = min(await heights(net.urls))
        rest = await collect(net.urls[:1], lambda: top, cursor=cursor)
        want = await expected_from_blocks(net.urls[1], top)
        assert first.items + rest.items[: len(want) - len(first.items)] == want
        assert len(first.items) < len(want)

    asyncio.run(body())


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


SUBSCRIBERS = 1_000
PER_SUBSCRIBER_KIB = 100  # the stated bound: node memory per open stream, all included


def test_a_thousand_subscribers_within_the_memory_bound_while_the_chain_commits(
        tmp_path: Path) -> None:
    net, load = make_net(tmp_path, "http_connections_max = 3000")
    net.start_all()
    try:
        asyncio.run(wait_until(_up(net.urls), 30, "all nodes to commit block 1"))
        asyncio.run(_thousand(net, load))
    finally:
        net.stop_all()


async def _thousand(net: LocalNet, load: AttestLoad) -> None:
    url = net.urls[0]
    pid = net.procs[0].pid  # type: ignore[union-attr]
    await load.run(seconds=2, rate_per_s=100)
    base_kib = rss_kib(pid)
    streams: list[tuple[aiohttp.ClientSession, aiohttp.ClientResponse]] = []
    received = [0] * SUBSCRIBERS
    # 100 loopback addresses, 10 streams each: the per-caller cap (16) holds for each
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        limit=0, local_addr=(f"127.0.1.{a + 1}", 0)),
        timeout=aiohttp.ClientTimeout(total=None)) for a in range(100)]

    async def drain(k: int, resp: aiohttp.ClientResponse) -> None:
        with_items = k % 100 == 0
        async for chunk in resp.content.iter_any():
            received[k] += chunk.count(b"\nid: ") if with_items else len(chunk)

    tasks = []
    try:
        for k in range(SUBSCRIBERS):
            # most follow a tender no one announces (heartbeats only); every 100th, all
            query = "heartbeat_ms=2000" + ("" if k % 100 == 0 else "&tender=NONE-1")
            resp = await sessions[k % 100].get(f"{url}/events/stream?{query}")
            assert resp.status == 200, await resp.text()
            streams.append((sessions[k % 100], resp))
            tasks.append(asyncio.create_task(drain(k, resp)))
        opened_kib = rss_kib(pid)
        h0, accepted0 = (await heights([url]))[0], load.accepted
        await load.run(seconds=8, rate_per_s=100)
        h1 = (await heights([url]))[0]
        peak_kib = max(opened_kib, rss_kib(pid))
        await asyncio.sleep(3)
        growth_kib = peak_kib - base_kib
        note(f"node 0 RSS: {base_kib} KiB before, {opened_kib} KiB with {SUBSCRIBERS} "
             f"streams, peak {peak_kib} KiB under load: {growth_kib / SUBSCRIBERS:.1f} KiB "
             f"per stream; height {h0} -> {h1}")
        assert h1 >= h0 + 10, "the node stopped committing"
        assert growth_kib <= SUBSCRIBERS * PER_SUBSCRIBER_KIB, growth_kib
        assert all(received[k] > 0 for k in range(SUBSCRIBERS)), "a stream got nothing"
        full = [received[k] for k in range(0, SUBSCRIBERS, 100)]
        assert min(full) >= (load.accepted - accepted0) * 0.8, (full, load.accepted)
        async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as r:
            text = await r.text()
        assert f"credchain_events_subscribers {SUBSCRIBERS}" in text
    finally:
        for t in tasks:
            t.cancel()
        for _, resp in streams:
            resp.close()
        for s in sessions:
            await s.close()
