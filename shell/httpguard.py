"""Connection limits for the HTTP listener: header, idle and count bounds aiohttp lacks.

aiohttp closes an idle keep-alive connection only after its keep-alive timeout and puts no
bound on how slowly a client may send a request's headers, so a client can hold hundreds of
connections open for as long as it likes. ``GuardedServer`` wraps the aiohttp protocol of
every accepted connection and a sweeper (every ``SWEEP_S``) closes:

- a connection that sent part of a request's headers and did not finish them within
  ``http_header_timeout_ms`` (the handler had not started);
- a connection with nothing in progress for ``http_idle_timeout_ms``;
- and refuses connections beyond ``http_connections_max`` at once.

A request whose handler is running is left alone here: handlers bound their own body reads
(``http_body_timeout_ms``), and streaming responses (the event stream) are long on purpose.
The API's middleware marks handler start and end (``enter``/``leave``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

SWEEP_S = 0.5


class _Conn:
    __slots__ = ("transport", "last_s", "bytes_since", "in_handler")

    def __init__(self, transport: asyncio.BaseTransport, now_s: float) -> None:
        self.transport = transport
        self.last_s = now_s  # connection made, or the last handler finished
        self.bytes_since = 0  # bytes received since ``last_s``
        self.in_handler = 0


class _Guarded(asyncio.Protocol):
    """Delegates to aiohttp's protocol; tells the guard what happens on the connection."""

    def __init__(self, guard: GuardedServer, inner: Any) -> None:
        self._guard = guard
        self._inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit(self, transport):
            transport.close()
            return
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._guard.received(self, len(data))
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.lost(self)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedServer:
    def __init__(self, make_protocol: Callable[[], Any], header_timeout_ms: int,
                 idle_timeout_ms: int, connections_max: int) -> None:
        self.factory = make_protocol
        self.header_timeout_s = header_timeout_ms / 1000
        self.idle_timeout_s = idle_timeout_ms / 1000
        self.connections_max = connections_max
        self._conns: dict[int, _Conn] = {}  # id(transport) -> state
        self._protos: dict[int, int] = {}  # id(protocol) -> id(transport)
        self.closed_slow = 0
        self.closed_idle = 0
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self, self.factory())

    def admit(self, proto: _Guarded, transport: asyncio.BaseTransport) -> bool:
        if len(self._conns) >= self.connections_max:
            self.refused += 1
            return False
        self._conns[id(transport)] = _Conn(transport, time.monotonic())
        self._protos[id(proto)] = id(transport)
        return True

    def received(self, proto: _Guarded, n: int) -> None:
        tid = self._protos.get(id(proto))
        conn = None if tid is None else self._conns.get(tid)
        if conn is not None:
            conn.bytes_since += n

    def lost(self, proto: _Guarded) -> None:
        tid = self._protos.pop(id(proto), None)
        if tid is not None:
            self._conns.pop(tid, None)

    def enter(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(id(transport)) if transport is not None else None
        if conn is not None:
            conn.in_handler += 1

    def leave(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(id(transport)) if transport is not None else None
        if conn is not None:
            conn.in_handler = max(0, conn.in_handler - 1)
            conn.last_s = time.monotonic()
            conn.bytes_since = 0

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def sweep(self, now_s: float) -> None:
        for tid, conn in list(self._conns.items()):
            if conn.in_handler:
                continue
            waited = now_s - conn.last_s
            if conn.bytes_since and waited > self.header_timeout_s:
                self.closed_slow += 1
            elif waited > self.idle_timeout_s:
                self.closed_idle += 1
            else:
                continue
            self._conns.pop(tid, None)
            conn.transport.close()

    async def sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep(time.monotonic())
