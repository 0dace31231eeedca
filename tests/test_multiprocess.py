"""Real validator processes on loopback: commit under load, kill -9 a leader or a follower
mid-load and restart it, and check that every replica ends with identical blocks and that
every transaction the API reported committed is in the chain exactly once.

Each test builds a fresh 4-validator network (``shell.localnet.init_network`` on free
ports), runs it with ``shell.localnet.LocalNet``, and is bounded in time. The load generator
here (``Load``) is also what ``benchmarks/bench_cluster.py`` drives.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.crypto import Suite, get_suite
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.localnet import LocalNet, init_network

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(150)]

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
NOOP_CALL = "bench.noop"  # no contract: the receipt is E_UNKNOWN_CALL, the nonce still moves


@dataclass
class Load:
    """Concurrent clients submitting signed transactions in batches to a set of nodes.

    Every batch comes from a sender not used before, with nonces 0..k-1, so a batch lost with
    a killed node never blocks later ones; the senders are ``load_keys``, granted a role in
    genesis (the chain admits only senders it knows). ``submitted`` maps tx id → submit time
    (monotonic s) of every transaction a node accepted."""

    suite: Suite
    chain_id: str
    urls: list[str]
    secrets: list[bytes]
    batch_txs: int = 100
    call: str = NOOP_CALL
    submitted: dict[bytes, float] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    down: set[int] = field(default_factory=set)  # node indices not to send to
    _seq: int = 0

    def make_batch(self) -> list[SignedTx]:
        if self._seq >= len(self.secrets):
            raise AssertionError("the load used every sender key granted in genesis")
        secret = self.secrets[self._seq]
        sender = self.suite.public_key(secret)
        self._seq += 1
        return [
            sign_tx(self.suite, secret, TxBody(self.chain_id, sender, n, self.call,
                                               {"seq": self._seq}))
            for n in range(self.batch_txs)
        ]

    async def client(self, session: aiohttp.ClientSession, worker: int, until: float,
                     rate_per_s: float | None) -> None:
        rng = random.Random(worker)
        while time.monotonic() < until:
            targets = [i for i in range(len(self.urls)) if i not in self.down]
            if not targets:
                await asyncio.sleep(0.05)
                continue
            i = rng.choice(targets)
            batch = self.make_batch()
            body = {"txs": [t.encode().hex() for t in batch]}
            started = time.monotonic()
            try:
                async with session.post(f"{self.urls[i]}/txs", json=body) as resp:
                    out = await resp.json()
            except (TimeoutError, aiohttp.ClientError, OSError):
                self.errors += 1
                await asyncio.sleep(0.05)
                continue
            for tx, r in zip(batch, out.get("results", []), strict=False):
                if r["accepted"]:
                    self.submitted[tx.tx_id(self.suite)] = started
                else:
                    self.refused[r["reason"]] += 1
            if rate_per_s:
                await asyncio.sleep(max(0.0, self.batch_txs / rate_per_s
                                        - (time.monotonic() - started)))

    async def run(self, seconds: float, clients: int, rate_per_s: float | None = None) -> None:
        until = time.monotonic() + seconds
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self.client(session, w, until, rate_per_s)
                                   for w in range(clients)))


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    try:
        async with session.get(url) as resp:
            return await resp.json()
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return None


async def statuses(urls: list[str]) -> list[Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as s:
        return list(await asyncio.gather(*(get_json(s, f"{u}/status") for u in urls)))


async def wait_until(pred: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def heights(urls: list[str]) -> list[int]:
    return [s["height"] if s else -1 for s in await statuses(urls)]


async def block_hashes(url: str, up_to: int) -> list[str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        out = []
        for h in range(1, up_to + 1):
            got = await get_json(s, f"{url}/headers/{h}")
            out.append(got["hash"])
        return out


async def header_view(url: str, height: int) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        got = await get_json(s, f"{url}/headers/{height}")
        return int(got["header"]["view"])


async def chain_tx_ids(url: str, up_to: int) -> Counter[bytes]:
    ids: Counter[bytes] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        for h in range(1, up_to + 1):
            got = await get_json(s, f"{url}/blocks/{h}")
            for t in got["tx_ids"]:
                ids[bytes.fromhex(t)] += 1
    return ids


async def committed_ids(url: str, ids: list[bytes]) -> set[bytes]:
    """The ids the API of ``url`` reports committed."""
    out: set[bytes] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        for lo in range(0, len(ids), 200):
            part = ids[lo : lo + 200]
            got = await asyncio.gather(*(get_json(s, f"{url}/txs/{i.hex()}") for i in part))
            out |= {i for i, g in zip(part, got, strict=True)
                    if g and g.get("status") == "committed"}
    return out


LOAD_SENDERS = 400


def load_keys(suite: Suite) -> list[bytes]:
    """Deterministic secret keys of the load's senders (valid for both suites)."""
    out = []
    for i in range(LOAD_SENDERS):
        digest = hashlib.sha256(f"load/{i}".encode()).digest()
        out.append((int.from_bytes(digest, "big") % (SM2_N - 2) + 1).to_bytes(32, "big")
                   if suite.name == "sm2-sm3" else digest)
    return out


@pytest.fixture()
def net(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalNet]:
    suite = getattr(request, "param", "ed25519-sha256")
    s = get_suite(suite)
    senders = [s.public_key(k) for k in load_keys(s)]
    init_network(tmp_path / "net", 4, suite, "mp-test", clients=0,
                 extra_roles={"platform": senders}, heartbeat_ms=1000)
    local = LocalNet(tmp_path / "net")
    local.start_all()
    codes: list[int] = []
    try:
        asyncio.run(wait_until(_all_up(local.urls), 30, "all nodes to commit block 1"))
        yield local
    finally:
        codes = local.stop_all()
        for i in range(len(local.urls)):
            log = (tmp_path / "net" / "logs" / f"node{i}.log")
            if log.exists() and "Traceback" in log.read_text():
                print(f"--- node{i}.log ---\n{log.read_text()[-4000:]}")
    # SIGTERM is a clean shutdown: stop accepting, close links, close the DB, exit 0.
    assert codes == [0] * len(codes), f"exit codes after SIGTERM: {codes}"


def _all_up(urls: list[str]) -> Any:
    async def pred() -> bool:
        return min(await heights(urls)) >= 1

    return pred


def make_load(net: LocalNet) -> Load:
    suite = get_suite(net.manifest["suite"])
    return Load(suite, net.manifest["chain_id"], net.urls, load_keys(suite), batch_txs=50)


async def check_final(net: LocalNet, load: Load) -> None:
    """Same block hashes on every node, and every API-committed tx in the chain once."""
    reported = await committed_ids(net.urls[1], list(load.submitted))
    assert reported, "no submitted transaction was reported committed"
    top = max(await heights(net.urls))
    note(f"{len(reported)} reported committed; waiting for all nodes at {top}")

    async def caught_up() -> bool:
        return min(await heights(net.urls)) >= top

    await wait_until(caught_up, 40, f"all nodes to reach height {top}")
    note("caught up")
    hashes = [await block_hashes(u, top) for u in net.urls]
    note("hashes fetched")
    assert all(h == hashes[0] for h in hashes), "replicas disagree on committed blocks"
    in_chain = await chain_tx_ids(net.urls[0], top)
    assert all(c == 1 for c in in_chain.values()), "a transaction was committed twice"
    missing = [i for i in reported if in_chain[i] != 1]
    assert not missing, f"{len(missing)} reported-committed txs not in the chain up to {top}"
    note(f"checked {top} blocks, {len(reported)} reported-committed txs")


def note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _converged(urls: list[str]) -> Any:
    async def pred() -> bool:
        hs = await heights(urls)
        return min(hs) >= 1 and max(hs) - min(hs) <= 1
    return pred


def test_four_validators_commit_under_load(net: LocalNet) -> None:
    async def body() -> None:
        load = make_load(net)
        start = await heights(net.urls)
        await load.run(seconds=5, clients=4, rate_per_s=150)
        assert len(load.submitted) >= 1500, (len(load.submitted), load.refused, load.errors)
        await wait_until(_committed_all(net.urls[0], load), 30, "all submitted txs to commit")
        assert min(await heights(net.urls)) > max(start)
        await check_final(net, load)
        # Proposals went as header + ids, and every follower could rebuild them.
        sent = sum([await metric(u, "proposals_sent_compact_total") for u in net.urls])
        lost = sum([await metric(u, "proposals_incomplete_total") for u in net.urls])
        assert sent > 0 and lost == 0, (sent, lost)

    asyncio.run(body())


async def metric(url: str, name: str) -> float:
    """The sum of a counter's samples in a node's /metrics (0 when it has none yet)."""
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(f"credchain_{name}"))


def _committed_all(url: str, load: Load) -> Any:
    async def pred() -> bool:
        ids = list(load.submitted)
        return len(await committed_ids(url, ids[-100:])) == len(ids[-100:])
    return pred


async def _kill_mid_load(net: LocalNet, victim_of: Any, expect_view_change: bool) -> None:
    load = make_load(net)
    loader = asyncio.create_task(load.run(seconds=12, clients=2, rate_per_s=100))
    await asyncio.sleep(3)
    victim = await victim_of()
    load.down.add(victim)
    net.kill(victim)
    note(f"killed validator {victim}")
    others = [u for i, u in enumerate(net.urls) if i != victim]
    before = max(await heights(others))

    async def progressed() -> bool:
        return min(await heights(others)) >= before + 4

    await wait_until(progressed, 40, "the surviving validators to keep committing")
    note("the others kept committing")
    if expect_view_change:
        # Leaders rotate with the height: of any 4 heights in a row the dead validator leads
        # one, which can only be decided after a view change.
        views = [await header_view(others[0], h) for h in range(before + 1, before + 5)]
        assert max(views) >= 1, f"no view change after the leader died: views {views}"
        import urllib.request

        with urllib.request.urlopen(f"{others[0]}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        counted = [float(ln.split()[-1]) for ln in text.splitlines()
                   if ln.startswith("credchain_view_changes_total")]
        assert counted and counted[0] >= 1, "the view change is not in the metrics"
    net.start(victim)
    load.down.discard(victim)
    await loader
    note(f"load done: {len(load.submitted)} accepted")
    assert len(load.submitted) >= 500, (len(load.submitted), load.refused, load.errors)
    await check_final(net, load)


def test_kill_leader_mid_load_view_change_and_restart_catch_up(net: LocalNet) -> None:
    async def leader() -> int:
        s = (await statuses(net.urls))[0]
        return int(s["leader"])

    asyncio.run(_kill_mid_load(net, leader, expect_view_change=True))


def test_kill_follower_mid_commit_and_restart_catches_up(net: LocalNet) -> None:
    async def follower() -> int:
        s = (await statuses(net.urls))[0]
        return (int(s["leader"]) + 1) % len(net.urls)

    asyncio.run(_kill_mid_load(net, follower, expect_view_change=False))


@pytest.mark.parametrize("net", ["sm2-sm3"], indirect=True)
def test_sm2_network_commits_and_agrees(net: LocalNet) -> None:
    async def body() -> None:
        load = make_load(net)
        await load.run(seconds=4, clients=2, rate_per_s=50)
        assert len(load.submitted) >= 300, (len(load.submitted), load.refused, load.errors)
        await wait_until(_committed_all(net.urls[0], load), 40, "all submitted txs to commit")
        await check_final(net, load)

    asyncio.run(body())
