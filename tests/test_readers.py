"""Signed requests: a reader's identity, checked and resolved at the head for every request."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from contracts import keys
from ledger.genesis import GenesisDoc
from ledger.tx import TxBody, sign_tx
from shell.api import build_app
from shell.readers import H_TIME, sign_request
from shell.server import Node
from tests.test_api import CHAIN, CLIENT, SUITE, VALIDATOR, hexes, one_validator_node

SUPERVISOR = bytes([7]) * 32
STRANGER = bytes([8]) * 32


def make() -> Node:
    doc = GenesisDoc.from_json({
        "chain_id": CHAIN, "suite": SUITE.name, "time_ms": time.time_ns() // 10**6 - 60_000,
        "validators": [{"name": "v0", "pubkey": SUITE.public_key(VALIDATOR).hex()}],
        "committee": [SUITE.public_key(CLIENT).hex()],
        "roles": {"supervisor": [SUITE.public_key(SUPERVISOR).hex()]}, "params": {}})
    return one_validator_node(doc, VALIDATOR)


def signed(secret: bytes, target: str, now_ms: int | None = None) -> dict[str, str]:
    return sign_request(SUITE, secret, CHAIN, "GET", target, now_ms=now_ms)


def test_signed_requests_are_checked_and_resolved_at_the_head() -> None:
    async def body() -> None:
        n = make()
        n.start_core()
        async with TestClient(TestServer(build_app(n, n.guard))) as client:
            async def get(target: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
                resp = await client.get(target, headers=headers or {})
                return resp.status, await resp.json()

            target = "/state/" + keys.role("supervisor", SUITE.public_key(SUPERVISOR))
            ok, _ = await get(target, signed(SUPERVISOR, target))
            assert ok == 200
            forged = signed(SUPERVISOR, target)
            forged["X-Credchain-Key"] = SUITE.public_key(CLIENT).hex()  # another key's name
            status, got = await get(target, forged)
            assert status == 401 and "does not verify" in got["error"]
            old = signed(SUPERVISOR, target, now_ms=time.time_ns() // 10**6 - 120_000)
            status, got = await get(target, old)
            assert status == 401 and "from the node's clock" in got["error"]
            again = signed(SUPERVISOR, target)
            assert (await get(target, again))[0] == 200
            status, got = await get(target, again)
            assert status == 401 and "replayed" in got["error"]
            status, got = await get(target, signed(STRANGER, target))
            assert status == 401 and "not bound" in got["error"]
            other_path = signed(SUPERVISOR, "/status")
            status, got = await get(target, other_path)  # signed for another target
            assert status == 401
            bad = signed(SUPERVISOR, target)
            for when in ("soon", "9" * 400, "9" * 17, "+1", "1_000", ""):
                bad[H_TIME] = when  # 400 nines once overflowed a float: a 500
                status, got = await get(target, bad)
                assert status == 401 and "1 to 16 decimal digits" in got["error"], (when, got)
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()

    asyncio.run(body())


def test_a_role_revoked_a_block_ago_reads_as_nobody() -> None:
    async def body() -> None:
        n = make()
        n.start_core()
        sup = SUITE.public_key(SUPERVISOR)
        async with TestClient(TestServer(build_app(n, n.guard))) as client:
            target = "/blocks/1"
            before = n.chain.height()
            deadline = time.monotonic() + 10
            while n.chain.height() < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            resp = await client.get(target, headers=signed(SUPERVISOR, target))
            assert resp.status == 200 and "block" in await resp.json()  # a supervisor's view
            revoke = sign_tx(SUITE, CLIENT, TxBody(CHAIN, SUITE.public_key(CLIENT), 0,
                                                   "gov.propose", {
                "action": "revoke_role", "payload": {"role": "supervisor", "member": sup}}))
            await client.post("/txs", json=hexes(revoke))
            while n.chain.state_value(keys.role("supervisor", sup)) is not None:
                assert time.monotonic() < deadline + 10
                await asyncio.sleep(0.02)
            resp = await client.get(target, headers=signed(SUPERVISOR, target))
            assert resp.status == 401  # the key no longer stands for anyone on chain
            assert before >= 0
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()

    asyncio.run(body())


def test_the_replay_window_never_drops_a_live_nonce_and_strangers_take_no_room(
        monkeypatch: Any) -> None:
    from contracts.state import StateReader
    from shell import readers
    from shell.readers import AuthError, Readers

    monkeypatch.setattr(readers, "SEEN_MAX", 3)
    n = make()
    state: StateReader = n.chain.head_state()
    checker = Readers(SUITE, CHAIN)
    now = time.time_ns() // 10**6
    target = "/status"

    def check(secret: bytes, headers: dict[str, str], at: int) -> str:
        try:
            checker.reader(headers, "GET", target, b"", at, state, at)
        except AuthError as exc:
            return str(exc)
        return "ok"

    for _ in range(5):  # keys the chain does not know are refused before they take room
        assert "not bound" in check(STRANGER, signed(STRANGER, target, now), now)
    first = signed(SUPERVISOR, target, now)
    assert check(SUPERVISOR, first, now) == "ok"
    assert [check(SUPERVISOR, signed(SUPERVISOR, target, now), now) for _ in range(2)] == [
        "ok", "ok"]
    # full: a new request waits rather than push out a nonce that could then be replayed
    assert "retry shortly" in check(SUPERVISOR, signed(SUPERVISOR, target, now), now)
    assert "replayed" in check(SUPERVISOR, first, now)
    later = now + 2 * readers.SKEW_MS + 1  # the window has moved past them
    assert check(SUPERVISOR, signed(SUPERVISOR, target, later), later) == "ok"
