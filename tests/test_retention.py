"""Retained history over the HTTP API: a node keeping the last N heights (``[sync]
retain_heights``) refuses blocks, headers, proofs and inclusion bundles below them with
410 Gone naming the oldest height it keeps; never a 500, never an answer about another
height. Genesis, the verifiers' anchor, is always served."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from shell.config import SyncConfig
from shell.server import Node
from tests.test_api import SUITE, hexes, run, tx, wait_committed

RETAIN = 3


async def _commit_blocks(n: Node, client: TestClient[Any, Any], count: int) -> list[str]:
    """``count`` transactions, each in a block of its own; their ids."""
    ids = []
    for nonce in range(count):
        t = tx(nonce)
        await client.post("/txs", json=hexes(t))
        ids.append(t.tx_id(SUITE).hex())
        await wait_committed(client, ids[-1])
    return ids


async def _gone(client: TestClient[Any, Any], path: str, oldest: int) -> None:
    resp = await client.get(path)
    body = await resp.json()
    assert resp.status == 410, (path, resp.status, body)
    assert f"oldest height this node keeps ({oldest})" in body["error"], body


def test_a_node_keeping_recent_heights_refuses_older_ones_with_410() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        ids = await _commit_blocks(n, client, RETAIN + 3)
        first = (await wait_committed(client, ids[0]))["height"]
        head = n.chain.height()
        oldest = head - RETAIN + 1
        assert n.history.oldest() == oldest and first < oldest
        status = await (await client.get("/status")).json()
        assert status["oldest_height"] == oldest and status["base_height"] == 0
        for path in (f"/blocks/{first}", f"/headers/{oldest - 1}",
                     f"/proof/nonce/{SUITE.public_key(bytes(range(1, 33))).hex()}"
                     f"?height={first}",
                     f"/proofs?key=param/x&height={first}", f"/txs/{ids[0]}/inclusion"):
            await _gone(client, path, oldest)
        for path in (f"/blocks/{oldest}", f"/headers/{head}", "/headers/0", "/blocks/0",
                     f"/proof/param/x?height={oldest}", "/proof/param/x",
                     f"/txs/{ids[-1]}/inclusion"):
            resp = await client.get(path)
            assert resp.status == 200, (path, await resp.text())
        resp = await client.get(f"/blocks/{head + 5}")
        assert resp.status == 404  # beyond the head: absent, as before

    run(body, sync=SyncConfig(retain_heights=RETAIN))


def test_an_archive_node_serves_every_height() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        ids = await _commit_blocks(n, client, 3)
        first = (await wait_committed(client, ids[0]))["height"]
        assert n.history.oldest() == 1 and n.history.archive
        for path in (f"/blocks/{first}", f"/txs/{ids[0]}/inclusion",
                     f"/proof/param/x?height={first}"):
            assert (await client.get(path)).status == 200, path

    run(body)


def test_the_metrics_name_the_oldest_height_served() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        await _commit_blocks(n, client, 2)
        text = await (await client.get("/metrics")).text()
        assert f"credchain_history_oldest_height {n.history.oldest()}\n" in text
        assert "credchain_state_sync_height 0\n" in text

    run(body, sync=SyncConfig(retain_heights=1))
