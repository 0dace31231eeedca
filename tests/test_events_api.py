"""The event routes on a live one-validator node (real replica, store and contracts, blocks
at the node's own pace) behind aiohttp's test client: the SSE stream live and resumed with
``Last-Event-ID``, heartbeats, refusals with reasons, caps, a slow consumer cut off, the end
of streams when the node stops, pages, and proofs checked offline."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from ledger.genesis import GenesisDoc
from ledger.tx import SignedTx
from shell.api import build_app, openapi
from shell.config import NodeLimits, StreamSettings
from shell.eventproof import check_proof
from shell.server import Node
from shell.sse import SseEvent, SseParser
from tests.test_api import one_validator_node
from tests.test_events_kit import VALIDATOR, Story, anchor_of, genesis

Client = TestClient[Any, Any]
DEMO_DAY_MS = 100


def demo_genesis() -> GenesisDoc:
    return genesis({"demo_day_ms": DEMO_DAY_MS}, time_ms=time.time_ns() // 1_000_000 - 60_000)


@asynccontextmanager
async def running(doc: GenesisDoc | None = None, settings: StreamSettings | None = None,
                  limits: NodeLimits | None = None) -> AsyncIterator[tuple[Node, Client]]:
    n = one_validator_node(doc or demo_genesis(), VALIDATOR, limits or NodeLimits(tick_ms=10))
    if settings is not None:
        n.event_hub.settings = settings
    n.start_core()
    client = TestClient(TestServer(build_app(n, n.guard)))
    await client.start_server()
    try:
        yield n, client
    finally:
        n.event_hub.close()
        await client.close()
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()


def run(body: Callable[[Node, Client], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with running(**kw) as (n, client):
            await asyncio.wait_for(body(n, client), 60)

    asyncio.run(main())


async def submit(client: Client, *txs: SignedTx) -> list[str]:
    resp = await client.post("/txs", json={"txs": [t.encode().hex() for t in txs]})
    out = await resp.json()
    assert resp.status == 202, out
    return [r["tx_id"] for r in out["results"]]


async def committed(client: Client, tx_id: str) -> int:
    """The height of a committed transaction; its receipt must be OK where the public may
    see it (an enterprise's own act is withheld)."""
    for _ in range(500):
        got = await (await client.get(f"/txs/{tx_id}")).json()
        if got["status"] == "committed":
            assert "withheld" in got or got["receipt"]["code"] == "OK", got["receipt"]
            return int(got["height"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"{tx_id} not committed")


class Reader:
    """One open stream: its frames, parsed as they come."""

    def __init__(self, resp: ClientResponse) -> None:
        self.resp = resp
        self.parser = SseParser()
        self.frames: list[SseEvent] = []

    @property
    def items(self) -> list[dict[str, Any]]:
        return [f.json() for f in self.frames if f.event == "message"]

    async def until(self, pred: Callable[[SseEvent], bool], timeout_s: float = 15) -> SseEvent:
        for f in self.frames:
            if pred(f):
                return f
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(self.resp.content.readany(), timeout_s)
            if not chunk:
                raise AssertionError("the stream ended")
            for f in self.parser.feed(chunk):
                self.frames.append(f)
                if pred(f):
                    return f
        raise AssertionError("timed out reading the stream")

    async def read_for(self, seconds: float) -> None:
        """Take whatever arrives for ``seconds``."""
        with contextlib.suppress(TimeoutError, AssertionError):
            await self.until(lambda f: False, seconds)


async def open_stream(client: Client, query: str = "", last_id: str = "") -> Reader:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    resp = await client.get(f"/events/stream?{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    return Reader(resp)


def attests(story: Story, n: int, now_ms: int) -> list[SignedTx]:
    return [story.attest("a", now_ms) for _ in range(n)]


# ---- streaming ----------------------------------------------------------------------------


def test_live_stream_then_resume_with_last_event_id_exactly_after_it() -> None:
    async def body(n: Node, client: Client) -> None:
        story, now = Story(), int(time.time() * 1000)
        live = await open_stream(client, "heartbeat_ms=1000")
        hello = await live.until(lambda f: f.event == "hello")
        assert hello.json()["chain_id"] == n.chain.chain_id
        ids = await submit(client, *attests(story, 6, now))
        await committed(client, ids[-1])
        await live.until(lambda f: f.event == "message" and f.json()["tx_id"] == ids[-1])
        got = live.items
        assert [i["tx_id"] for i in got] == ids
        assert all(f.id == f.json()["cursor"] for f in live.frames if f.event == "message")
        live.resp.close()
        # reconnect as an EventSource does: the original URL, and the last id it saw
        again = await open_stream(client, "from_height=1", last_id=got[2]["cursor"])
        await again.until(lambda f: f.event == "message" and f.json()["tx_id"] == ids[-1])
        assert [i["tx_id"] for i in again.items] == ids[3:]
        again.resp.close()
        everything = await open_stream(client, "from_height=1")
        await everything.until(lambda f: f.event == "message" and f.json()["tx_id"] == ids[-1])
        assert [i["tx_id"] for i in everything.items] == ids
        everything.resp.close()

    run(body)


def test_heartbeats_carry_the_cursor_to_resume_from() -> None:
    async def body(n: Node, client: Client) -> None:
        reader = await open_stream(client, "heartbeat_ms=1000&type=tender.archived")
        first = await reader.until(lambda f: f.event == "heartbeat")
        await asyncio.sleep(1.0)
        second = await reader.until(lambda f: f.event == "heartbeat" and f.id != first.id)
        assert int(second.id) > int(first.id)  # block-end cursors: the walk went on
        assert second.json()["cursor"] == second.id
        assert not reader.items
        reader.resp.close()

    run(body)


@pytest.mark.parametrize("query,header,status,reason", [
    ("cursor=xx", "", 400, "bad cursor"),
    ("", "1.2", 400, "bad cursor"),
    ("remind=5x", "", 400, "bad duration"),
    ("remind=1d,2d,3d,4d,5d", "", 400, "at most 4 reminders"),
    ("remind=90d", "", 400, "1s to 60d"),
    ("heartbeat_ms=10", "", 400, "heartbeat_ms"),
    ("type=te*der", "", 400, "type filter"),
    ("from_height=-1", "", 400, "bad from_height"),
    ("entity=" + "x" * 70, "", 400, "entity filter"),
    # a value that can match nothing (user walk: an empty stream for ever)
    ("type=tender.annouced", "", 400, "no event or notice type 'tender.annouced'"),
    ("type=nosuch.*", "", 400, "no event or notice type starts with 'nosuch.'"),
    ("entity=91441500MA0000011D", "", 400, "not a valid unified social credit code"),
    ("entity=notauscc", "", 400, "'notauscc' is not a valid unified social credit code"),
    ("cursor=99999999", "", 404, "ahead of this node"),
])
def test_bad_requests_are_refused_with_the_reason(query: str, header: str, status: int,
                                                   reason: str) -> None:
    async def body(n: Node, client: Client) -> None:
        headers = {"Last-Event-ID": header} if header else {}
        # a page must say where to start: from_height, overridden by cursor and the header
        start = "" if query.startswith("from_height") else "from_height=1&"
        for path in (f"/events/stream?{query}", f"/events?{start}{query}"):
            resp = await client.get(path, headers=headers)
            assert resp.status == status, (path, await resp.text())
            assert reason in (await resp.json())["error"]
        resp = await client.get("/events")
        assert resp.status == 400 and "where to start" in (await resp.json())["error"]

    run(body)


def test_streams_per_caller_are_capped_and_a_closed_one_frees_its_place() -> None:
    async def body(n: Node, client: Client) -> None:
        a = await open_stream(client)
        b = await open_stream(client)
        resp = await client.get("/events/stream")
        assert resp.status == 429
        assert "at most 2 streams per caller" in (await resp.json())["error"]
        a.resp.close()
        for _ in range(100):
            await asyncio.sleep(0.05)  # the handler notices at its next write
            resp = await client.get("/events/stream?heartbeat_ms=1000")
            if resp.status == 200:
                break
        assert resp.status == 200
        resp.close()
        b.resp.close()

    run(body, settings=StreamSettings(subscribers_per_caller_max=2, heartbeat_ms=1000))


def test_a_stopping_node_ends_every_stream_with_the_reason() -> None:
    async def body(n: Node, client: Client) -> None:
        readers = [await open_stream(client, "heartbeat_ms=1000") for _ in range(3)]
        for r in readers:
            await r.until(lambda f: f.event == "hello")
        n.event_hub.close()
        for r in readers:
            cut = await r.until(lambda f: f.event == "cutoff")
            assert cut.json()["reason"] == "the node is stopping"
        resp = await client.get("/events/stream")
        assert resp.status == 503

    run(body)


def test_a_consumer_that_reads_nothing_is_cut_off_and_holds_bounded_memory() -> None:
    settings = StreamSettings(write_stall_ms=600, send_buffer_bytes=16 * 1024,
                              flush_bytes=4 * 1024)

    async def body(n: Node, client: Client) -> None:
        story, now = Story(), int(time.time() * 1000)
        ids: list[str] = []
        for _ in range(4):  # enough history to fill any socket buffer many times over
            ids += await submit(client, *attests(story, 500, now))
        await committed(client, ids[-1])
        host, port = client.server.host, client.server.port
        assert isinstance(port, int)
        runner = client.server.runner
        assert runner is not None
        server = runner.server
        assert server is not None
        before = set(map(id, server.connections))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, port))
        # small kernel buffers on both ends, so what the reader leaves unread stays in the
        # node's own buffer, the one that must stay bounded
        for _ in range(100):
            ours = [c for c in server.connections if id(c) not in before]
            if ours and ours[0].transport is not None:
                break
            await asyncio.sleep(0.01)
        transport = ours[0].transport
        assert transport is not None
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.sendall(f"GET /events/stream?from_height=1 HTTP/1.1\r\nHost: {host}\r\n\r\n"
                     .encode())
        hub = n.event_hub
        peak = 0
        for _ in range(200):
            await asyncio.sleep(0.02)
            if not transport.is_closing():
                peak = max(peak, transport.get_write_buffer_size())
            if n.metrics.value("events_cutoff_total", reason="slow") >= 1:
                break
        assert n.metrics.value("events_cutoff_total", reason="slow") == 1
        # the node's buffer for it stayed within the stated bound (shell.events): the
        # high-water mark, aiohttp's 64 KiB between waits, one write (and one frame)
        bound = settings.send_buffer_bytes + 64 * 1024 + settings.flush_bytes + 4096
        assert 16 * 1024 < peak <= bound, peak
        for _ in range(100):
            if not hub._subs:
                break
            await asyncio.sleep(0.05)
        assert not hub._subs
        sock.close()

    run(body, settings=settings)


# ---- pages, proofs, the API document ------------------------------------------------------


def test_pages_follow_the_stream_and_each_item_proves_itself_offline() -> None:
    doc = demo_genesis()

    async def body(n: Node, client: Client) -> None:
        story, now = Story(), int(time.time() * 1000)
        ids = await submit(client, *attests(story, 3, now), story.attest("tenderer", now))
        await committed(client, ids[-1])
        page = await (await client.get("/events?from_height=1&limit=2")).json()
        assert [i["tx_id"] for i in page["items"]] == ids[:2]
        rest = await (await client.get(f"/events?cursor={page['next']}")).json()
        assert [i["tx_id"] for i in rest["items"]] == ids[2:]
        only = await (await client.get(
            f"/events?from_height=1&entity={story.uscc('tenderer')}")).json()
        assert [i["tx_id"] for i in only["items"]] == ids[3:]
        for item in page["items"] + rest["items"]:
            got = await (await client.get(f"/events/{item['cursor']}")).json()
            assert got["item"] == item
            assert check_proof(got, anchor_of(doc)).ok
        missing = await client.get("/events/1.99.0")
        assert missing.status == 404

    run(body, doc=doc)


def test_history_a_node_no_longer_serves_is_410_naming_the_oldest_height() -> None:
    async def body(n: Node, client: Client) -> None:
        story, now = Story(), int(time.time() * 1000)
        ids = await submit(client, *attests(story, 2, now))
        first = await committed(client, ids[-1])
        while n.chain.height() < first + 5:
            await asyncio.sleep(0.05)
        n.history.retain_heights = 3  # serve the last 3 heights only
        oldest = n.history.oldest()
        for path in ("/events/stream?from_height=1", "/events?from_height=1",
                     f"/events?cursor={first}.0.0", f"/events/{first}.0.0"):
            resp = await client.get(path)
            assert resp.status == 410, (path, resp.status)
            named = re.search(r"oldest height this node keeps \((\d+)\)",
                              (await resp.json())["error"])
            assert named and int(named.group(1)) >= oldest  # the head moves on meanwhile
        resp = await client.get(f"/events?from_height={oldest}")
        assert resp.status == 200

    run(body)


def test_the_api_document_lists_the_event_routes() -> None:
    paths = openapi()["paths"]
    assert {"/events/stream", "/events", "/events/{cursor}"} <= set(paths)
    params = {p["name"] for p in paths["/events/stream"]["get"]["parameters"]}
    assert {"cursor", "from_height", "type", "tender", "region", "kind", "entity", "remind",
            "Last-Event-ID"} <= params
