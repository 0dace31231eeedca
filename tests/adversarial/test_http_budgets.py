"""The HTTP API's budgets against one client: request bytes per second (429 with a reason),
a body sent slower than ``http_body_timeout_ms`` (cut off), and a handler that fails again
and again (logged once per kind per period, without a traceback: a flood of failing
requests can't flood the node's log). In process, on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shell import api
from shell.apikit import NodeView
from shell.config import NodeLimits
from shell.server import HTTP_LINGER_S
from tests.test_api import running
from tests.test_ops_edges import node_with

BUDGET_REASON = "request bytes over this client's budget; retry later"


def body_of(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes (one transaction that is not hex)."""
    head, tail = b'{"txs": ["', b'"]}'
    return head + b"z" * (size - len(head) - len(tail)) + tail


def test_a_client_over_its_request_bytes_budget_gets_429_with_a_reason() -> None:
    async def go() -> None:
        async with running(limits=NodeLimits(tick_ms=10, request_bytes_per_second=1024)) as (
                n, client):
            headers = {"Content-Type": "application/json"}
            first = await client.post("/txs", data=body_of(700), headers=headers)
            assert first.status == 400  # read and refused for what it says, not for its size
            over = await client.post("/txs", data=body_of(700), headers=headers)
            assert over.status == 429
            assert await over.json() == {"error": BUDGET_REASON}
            too_big = await client.post("/txs", data=body_of(1025), headers=headers)
            assert too_big.status == 429  # over the whole burst: never within budget
            assert (await client.get("/status")).status == 200  # bytes, not requests
            metrics = await (await client.get("/metrics")).text()
            assert "http_requests_limited_total 2" in metrics, metrics
            await asyncio.sleep(0.8)  # 1024 bytes a second: 700 are back
            again = await client.post("/txs", data=body_of(700), headers=headers)
            assert again.status == 400, await again.text()

    asyncio.run(asyncio.wait_for(go(), 30))


async def _slow_post(port: int, declared: int, every_s: float | None,
                     limit_s: float) -> tuple[float, bytes, float | None]:
    """Send a POST's headers, then its body one byte every ``every_s`` (None: one byte, then
    nothing); returns when the answer came (seconds after the headers), the answer, and when
    the server closed the connection (None: still open after ``limit_s``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /txs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(declared).encode() + b"\r\n\r\n")
    await writer.drain()
    started = time.monotonic()
    answer, answered_s, closed_s = b"", -1.0, None

    async def trickle() -> None:
        for _ in range(declared - 1 if every_s is not None else 1):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(every_s or 0)

    sender = asyncio.create_task(trickle())
    try:
        while time.monotonic() - started < limit_s:
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.05)
            except TimeoutError:
                continue
            except ConnectionError:
                chunk = b""
            if not chunk:
                closed_s = time.monotonic() - started
                break
            if not answer:
                answered_s = time.monotonic() - started
            answer += chunk
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    return answered_s, answer, closed_s


# The lingering close (shell.server.HTTP_LINGER_S): after answering a request whose body it
# did not read, the node reads and drops what the client still sends for up to this long
# (so the client sees the answer, not a reset), then closes. A client still sending is
# closed sooner by the guard's header timeout (shell.httpguard: bytes since the last handler
# ended, nothing in progress).
AIOHTTP_LINGER_S = HTTP_LINGER_S


@pytest.mark.parametrize("every_s", [0.05, None], ids=["trickling", "then-silent"])
def test_a_body_slower_than_the_body_timeout_is_cut_off(every_s: float | None) -> None:
    limits = NodeLimits(tick_ms=10, http_body_timeout_ms=400, http_header_timeout_ms=1000)
    n = node_with(limits=limits)

    async def go() -> tuple[float, bytes, float | None]:
        await n.start()
        try:
            return await _slow_post(n.http_port(), 1000, every_s, AIOHTTP_LINGER_S + 5)
        finally:
            await n.stop()

    answered_s, answer, closed_s = asyncio.run(asyncio.wait_for(go(), 40))
    head = answer.split(b"\r\n", 1)[0]
    assert head == b"HTTP/1.1 400 Bad Request", answer[:300]
    assert b"the request body did not arrive in time" in answer, answer[:300]
    # answered at the limit, not when the body (1,000 bytes at 20 a second: 50 s) ends
    assert 0.4 <= answered_s < 2.0, answered_s
    bound_s = 5.0 if every_s is not None else answered_s + AIOHTTP_LINGER_S + 2.0
    assert closed_s is not None and closed_s < bound_s, (answered_s, closed_s)
    print(f"answered 400 after {answered_s:.2f} s, connection closed after {closed_s:.2f} s")


def _records(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> list[
        logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and text in r.getMessage()]


def test_a_failing_handler_is_logged_once_per_kind_per_period_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    failure: list[BaseException] = [RuntimeError("boom")]

    def broken_status() -> dict[str, Any]:
        raise failure[0]

    async def go() -> None:
        async with running() as (n, client):
            monkeypatch.setattr(n, "status", broken_status)

            async def ask(times: int) -> None:
                for _ in range(times):
                    resp = await client.get("/status")
                    assert resp.status == 500
                    assert await resp.json() == {"error": "internal error"}

            await ask(30)
            assert len(_records(caplog, "credchain.api", "RuntimeError: boom")) == 1
            failure[0] = ZeroDivisionError("another kind")
            await ask(10)
            assert len(_records(caplog, "credchain.api", "ZeroDivisionError")) == 1
            assert len(_records(caplog, "credchain.api", "RuntimeError: boom")) == 1
            monkeypatch.setattr(api, "ERROR_LOG_EVERY_S", 0.3)  # a short period ...
            await asyncio.sleep(0.4)  # ... has passed: each kind once more
            await ask(10)
            assert len(_records(caplog, "credchain.api", "ZeroDivisionError")) == 2
            failure[0] = RuntimeError("boom")
            await ask(10)
            assert len(_records(caplog, "credchain.api", "RuntimeError: boom")) == 2

    with caplog.at_level(logging.WARNING):
        asyncio.run(asyncio.wait_for(go(), 30))
    logged = _records(caplog, "credchain.api", "internal error on /status")
    assert len(logged) == 4
    assert all(r.exc_info is None and r.exc_text is None for r in logged)
    assert "Traceback" not in caplog.text


def test_aiohttps_own_errors_are_logged_once_per_kind_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A handler that answers nothing: aiohttp logs it (with a traceback) on its own logger;
    the node's filter (``OncePerKind``) lets one record per kind through, without it."""

    async def answers_nothing(request: web.Request, node: NodeView) -> web.StreamResponse:
        no_answer: Any = None
        return no_answer  # type: ignore[no-any-return]

    routes = tuple(replace(r, handler=answers_nothing) if r.path == "/status" else r
                   for r in api.ROUTES)
    monkeypatch.setattr(api, "ROUTES", routes)
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logger = logging.getLogger(name)  # a fresh filter: no kinds seen by earlier tests
        monkeypatch.setattr(logger, "filters",
                            [f for f in logger.filters if not isinstance(f, api.OncePerKind)])

    async def ask(client: TestClient[Any, Any], times: int) -> None:
        for _ in range(times):
            assert (await client.get("/status")).status == 500

    async def go() -> None:
        async with running() as (_, client):
            await ask(client, 20)
            assert len(_records(caplog, "aiohttp.server", "Missing return statement")) == 1
            monkeypatch.setattr(api, "ERROR_LOG_EVERY_S", 0.3)
            await asyncio.sleep(0.4)
            await ask(client, 20)
            assert len(_records(caplog, "aiohttp.server", "Missing return statement")) == 2

    with caplog.at_level(logging.WARNING):
        asyncio.run(asyncio.wait_for(go(), 30))
    logged = _records(caplog, "aiohttp.server", "Missing return statement")
    assert all("AttributeError" in r.getMessage() for r in logged), logged
    assert all(r.exc_info is None and r.exc_text is None for r in logged)
    assert "Traceback" not in caplog.text


def test_a_clients_malformed_request_is_a_warning_not_an_error() -> None:
    """aiohttp logs a request line too long or a body it can't decode at ERROR; that is the
    client's fault, so the node's filter makes it a WARNING (a node's own bug stays an
    ERROR: the test above)."""
    from aiohttp.http_exceptions import LineTooLong
    from aiohttp.web_protocol import RequestPayloadError

    f = api.OncePerKind()
    for exc in (LineTooLong(b"GET /" + b"a" * 9000, 8190), RequestPayloadError("gzip")):
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                                   "Unhandled exception", (), (type(exc), exc, None))
        assert f.filter(record)
        assert (record.levelno, record.levelname) == (logging.WARNING, "WARNING")
        assert record.getMessage().startswith("a client's malformed request")
    bug = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling",
                            (), (KeyError, KeyError("x"), None))
    assert f.filter(bug) and bug.levelno == logging.ERROR
