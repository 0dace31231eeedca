"""The reading side of ``GET /events/stream``: an SSE parser and a follower that resumes.

``SseParser`` follows the WHATWG event-stream rules (fields ``event``, ``data``, ``id``,
``retry``; ``:`` comments; CR, LF or CRLF line ends; an event is dispatched at a blank line;
an ``id`` persists until another one arrives), with a bound on one event's size so a node
can't make a reader grow without limit.

``follow(urls, query, cursor)`` yields every event frame of a node's stream and, when the
connection ends for any reason (a node killed, a cut-off, a network fault), reconnects to
the next URL in turn with ``Last-Event-ID`` set to the last id received, after a back-off
(0.2 s doubling to 5 s, reset by each frame received). The cursor is the chain's, so any
node of the network continues exactly where the last one stopped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

EVENT_BYTES_MAX = 1 << 20
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 5.0


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" for items; "hello", "heartbeat", "cutoff"
    data: str
    id: str  # the last id seen on this stream (the cursor to resume from)
    url: str = ""

    def json(self) -> Any:
        return json.loads(self.data)


class SseParser:
    def __init__(self) -> None:
        self._pending = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self.last_id = ""
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        out: list[SseEvent] = []
        self._pending += chunk
        while True:
            cut = _line_end(self._pending)
            if cut is None:
                if len(self._pending) > EVENT_BYTES_MAX:
                    raise ValueError("an event-stream line over the size bound")
                return out
            line, self._pending = self._pending[:cut[0]], self._pending[cut[1]:]
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                out.append(event)

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            done = SseEvent(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data, self._size = "", [], 0
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._size += len(value)
            if self._size > EVENT_BYTES_MAX:
                raise ValueError("an event-stream event over the size bound")
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def _line_end(buf: bytes) -> tuple[int, int] | None:
    """``(end of the line, start of the next)`` of the first complete line in ``buf``."""
    for i, c in enumerate(buf):
        if c == 10:
            return i, i + 1
        if c == 13:
            if i + 1 == len(buf):
                return None  # a CR at the end may be the first half of CRLF
            return i, i + 2 if buf[i + 1] == 10 else i + 1
    return None


async def follow(urls: Sequence[str], query: Mapping[str, str | Sequence[str]],
                 cursor: str = "", session: aiohttp.ClientSession | None = None,
                 read_timeout_s: float = 90.0,
                 on_retry: Callable[[str], None] | None = None) -> AsyncIterator[SseEvent]:
    """Every frame of the stream, across reconnects and nodes (see the module docstring).
    ``read_timeout_s``: a connection silent this long (no heartbeat) is dropped and
    replaced. ``on_retry`` hears, in a line, each time a node could not be read and when the
    next try is (a node that is down is retried for ever: the caller decides when to stop)."""
    own = session is None
    session = session or aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=read_timeout_s))
    params = [(k, v) for k, vs in query.items()
              for v in ([vs] if isinstance(vs, str) else vs)]
    turn, backoff_s = 0, BACKOFF_MIN_S
    try:
        while True:
            url = urls[turn % len(urls)].rstrip("/")
            parser = SseParser()
            parser.last_id = cursor
            headers = {"Accept": "text/event-stream"}
            if cursor:
                headers["Last-Event-ID"] = cursor
            try:
                async with session.get(f"{url}/events/stream", params=params,
                                       headers=headers) as resp:
                    if resp.status != 200:
                        reason = await _reason(resp)
                        if 400 <= resp.status < 500 and resp.status != 429:
                            raise StreamError(resp.status, reason, url)
                        raise aiohttp.ClientError(f"HTTP {resp.status}: {reason}")
                    async for chunk in resp.content.iter_any():
                        for event in parser.feed(chunk):
                            cursor = event.id or cursor
                            backoff_s = BACKOFF_MIN_S
                            yield SseEvent(event.event, event.data, event.id, url)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                if on_retry is not None:
                    why = str(exc) or type(exc).__name__
                    if isinstance(exc.__cause__, HttpProcessingError):
                        # something answered, not in HTTP: the peer port's link handshake
                        why = ("it does not answer HTTP: is it a node's peer port rather "
                               "than its HTTP API (http_port)?")
                    on_retry(f"cannot read the stream of {url} ({why}); trying "
                             f"{urls[(turn + 1) % len(urls)].rstrip('/')} in {backoff_s:.1f} s")
            turn += 1
            await asyncio.sleep(backoff_s)
            backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)
    finally:
        if own:
            await session.close()


class StreamError(Exception):
    """The node refused the request itself (a 4xx other than 429): retrying won't help."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"{reason} ({url}, HTTP {status})")
        self.status = status
        self.reason = reason


async def _reason(resp: aiohttp.ClientResponse) -> str:
    try:
        got = await resp.json(content_type=None)
        return str(got.get("error", got)) if isinstance(got, dict) else str(got)
    except (ValueError, aiohttp.ClientError):
        return resp.reason or "refused"
