"""``/healthz`` says ok only for a node serving a live chain, and ``/status`` says why not:
no quorum, catching up, a stalled chain, a damaged store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from ledger import schema
from ledger.genesis import GenesisDoc
from shell.api import build_app
from shell.config import NodeLimits
from shell.server import Node
from tests.test_api import CLIENT, SUITE, VALIDATOR, hexes, make_node, one_validator_node, tx


def four_validator_node(limits: NodeLimits) -> Node:
    """Validator 0 of a four-validator chain, with no peers linked."""
    keys = [VALIDATOR] + [bytes([i]) * 32 for i in (7, 8, 9)]
    doc = GenesisDoc.from_json({
        "chain_id": "api-test", "suite": SUITE.name, "time_ms": time.time_ns() // 10**6 - 60_000,
        "validators": [{"name": f"v{i}", "pubkey": SUITE.public_key(k).hex()}
                       for i, k in enumerate(keys)],
        "committee": [SUITE.public_key(CLIENT).hex()], "roles": {}, "params": {}})
    return one_validator_node(doc, VALIDATOR, limits)


async def health(client: TestClient[Any, Any]) -> tuple[int, str]:
    resp = await client.get("/healthz")
    return resp.status, (await resp.json())["reason"]


def test_a_lone_validator_of_four_has_no_quorum_and_a_stalled_chain_is_unhealthy() -> None:
    async def body() -> None:
        n = four_validator_node(NodeLimits(tick_ms=10, health_stall_ms=1000))
        n.start_core()
        async with TestClient(TestServer(build_app(n, n.guard))) as client:
            status, reason = await health(client)
            assert status == 503 and reason.startswith("no quorum: linked to 1 of 4")
            # linked to all three, but two of them abstain (their vote records are missing,
            # their STATUS says so): 2 voters of the 3 needed (operator walk: health said ok)
            n.peers.peer_indexes = lambda: [1, 2, 3]  # type: ignore[method-assign]
            n.peers.abstaining_indexes = lambda: [2, 3]  # type: ignore[method-assign]
            status, reason = await health(client)
            assert status == 503 and reason == (
                "no quorum: linked to 4 of 4 validators (counting this one), of which 2 do not "
                "vote (validator 2, 3: vote records missing), 3 voters needed")
            n.peers.abstaining_indexes = lambda: [3]  # type: ignore[method-assign]
            assert n.peers._status() == {"height": 0}  # this node votes: its STATUS says so
            n.votes_missing = True
            assert n.peers._status() == {"height": 0, "abstaining": True}
            n.votes_missing = False
            # an idle chain (nothing committed for a while, within its heartbeat): its first
            # transaction is no stall when it arrives, only once it has waited
            n._heartbeat_ms = lambda: 60_000  # type: ignore[method-assign]
            n.last_commit_s = time.monotonic() - 3  # > health_stall_ms, < the heartbeat
            await client.post("/txs", json=hexes(tx(0)))
            status, reason = await health(client)
            assert status == 200, reason
            await asyncio.sleep(1.3)  # nothing can commit: the others are not there
            status, reason = await health(client)
            assert status == 503 and reason.startswith("stalled: 1 transactions wait")
            n.peers.peer_heights = {SUITE.public_key(bytes([7]) * 32): 50}
            n.peers.links = {k: None for k in n.peers.peer_heights}  # type: ignore[misc]
            status, reason = await health(client)
            assert status == 503 and reason == "catching up: at height 0, peers at 49"
            got = await (await client.get("/status")).json()
            assert got["catching_up"] is True and got["peer_heights"] == {"1": 49}
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()

    asyncio.run(body())


def test_an_observer_needs_f_plus_one_validators_linked_not_a_quorum() -> None:
    """An observer follows the chain from any honest validator: f + 1 links are enough, and
    its reason does not count a vote it does not have."""
    async def body() -> None:
        keys = [bytes([i]) * 32 for i in (7, 8, 9, 10)]  # four validators, none of them this
        doc = GenesisDoc.from_json({
            "chain_id": "api-test", "suite": SUITE.name,
            "time_ms": time.time_ns() // 10**6 - 60_000,
            "validators": [{"name": f"v{i}", "pubkey": SUITE.public_key(k).hex()}
                           for i, k in enumerate(keys)],
            "committee": [SUITE.public_key(CLIENT).hex()], "roles": {}, "params": {}})
        n = one_validator_node(doc, VALIDATOR, NodeLimits(tick_ms=10))
        n.start_core()
        assert n.driver.status().index is None
        async with TestClient(TestServer(build_app(n, n.guard))) as client:
            n.peers.peer_indexes = lambda: [1]  # type: ignore[method-assign]
            status, reason = await health(client)
            assert status == 503 and reason == ("too few validators: linked to 1 of 4, 2 "
                                                "needed for an observer to hear at least one "
                                                "honest one")
            n.peers.peer_indexes = lambda: [1, 2]  # type: ignore[method-assign]
            status, reason = await health(client)
            assert not reason.startswith(("too few", "no quorum")), reason
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()

    asyncio.run(body())


def test_a_damaged_record_is_a_store_fault_never_a_wrong_answer() -> None:
    async def body() -> None:
        n = make_node()
        n.start_core()
        async with TestClient(TestServer(build_app(n, n.guard))) as client:
            assert (await health(client))[0] == 200
            t0 = tx(0)
            await client.post("/txs", json=hexes(t0))
            deadline = time.monotonic() + 10
            while n.chain.height() < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            raw = n.chain.kv.get(schema.block_key(1))
            assert raw is not None
            batch = n.chain.kv.batch()
            at = raw.index(b"time_ms") + 9  # a byte of the header's time
            batch.put(schema.block_key(1), raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:])
            n.chain.kv.write(batch)
            n.chain.store._headers.clear()
            resp = await client.get("/blocks/1")
            assert resp.status == 503
            assert "store fault" in (await resp.json())["error"]
            status, reason = await health(client)
            assert status == 503 and reason.startswith("store fault: ")
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()

    asyncio.run(body())
