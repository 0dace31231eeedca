"""An evaluation expert signs requests with its key: the expert pool registered the key, bound
to no entity, and a walkthrough found every signed request of an expert refused 401 ("not
bound to an entity, a role or a validator"), so ``credchain tx send`` could not read the
expert's nonce to send ``draw.decline`` or a score sheet, nor its receipt."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from shell.api import build_app
from shell.readers import sign_request
from tests.test_privacy import node_of, replay
from tests.trading_kit import Trading


def test_a_registered_experts_key_reads_its_own_nonce_and_a_strangers_is_refused() -> None:
    t = Trading(demo=False)
    (code,) = t.register_experts(1)
    expert, stranger = t.expert(code), t.h.account("nobody-registered-me")
    node = node_of(replay(t), t)

    async def ask(secret: bytes, pubkey: bytes) -> tuple[int, str]:
        target = f"/state/nonce/{pubkey.hex()}"
        headers = sign_request(t.h.suite, secret, t.h.chain_id, "GET", target)
        async with TestClient(TestServer(build_app(node, node.guard))) as client:
            resp = await client.get(target, headers=headers)
            return resp.status, await resp.text()

    try:
        status, body = asyncio.run(ask(expert.secret, expert.pubkey))
        assert status in (200, 404), body  # its nonce (absent until it sends), not a 401
        status, body = asyncio.run(ask(stranger.secret, stranger.pubkey))
        assert status == 401 and "or an expert on chain" in body, body
        # and the expert's nonce stays its own: unsigned, the same read is refused
        async def unsigned() -> int:
            async with TestClient(TestServer(build_app(node, node.guard))) as client:
                return (await client.get(f"/state/nonce/{expert.pubkey.hex()}")).status
        assert asyncio.run(unsigned()) == 403
    finally:
        node.admission.close()
