"""Connection limits for the HTTP listener: header, idle and count bounds aiohttp lacks.

aiohttp closes an idle keep-alive connection only after its keep-alive timeout and puts no
bound on how slowly a client may send a request's headers, so a client can hold hundreds of
connections open for as long as it likes. ``GuardedServer`` wraps the aiohttp protocol of
every accepted connection and a sweeper (every ``SWEEP_S``) closes:

- a connection that sent part of a request's headers and did not finish them within
  ``http_header_timeout_ms`` (the handler had not started), and a new one that has sent no
  request in that time (user walk: 1,000 connections that sent nothing held every slot for
  the whole idle timeout, and the API answered nobody else);
- a connection with nothing in progress for ``http_idle_timeout_ms`` after a request;
- and refuses connections beyond ``http_connections_max`` at once, and those of one address
  beyond ``http_connections_per_address_max``, so one client can't take them all.

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
    __slots__ = ("transport", "address", "last_s", "bytes_since", "in_handler", "served")

    def __init__(self, transport: asyncio.BaseTransport, address: str, now_s: float) -> None:
        self.transport = transport
        self.address = address
        self.last_s = now_s  # connection made, or the last handler finished
        self.bytes_since = 0  # bytes received since ``last_s``
        self.in_handler = 0
        self.served = False  # a request's handler has run on it


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
                 idle_timeout_ms: int, connections_max: int,
                 per_address_max: int = 1 << 30) -> None:
        self.factory = make_protocol
        self.header_timeout_s = header_timeout_ms / 1000
        self.idle_timeout_s = idle_timeout_ms / 1000
        self.connections_max = connections_max
        self.per_address_max = per_address_max
        self._conns: dict[int, _Conn] = {}  # id(transport) -> state
        self._protos: dict[int, int] = {}  # id(protocol) -> id(transport)
        self._per_address: dict[str, int] = {}  # open connections by the peer's address
        self.closed_slow = 0
        self.closed_idle = 0
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self, self.factory())

    def admit(self, proto: _Guarded, transport: asyncio.BaseTransport) -> bool:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        held = self._per_address.get(address, 0)
        if len(self._conns) >= self.connections_max or held >= self.per_address_max:
            self.refused += 1
            return False
        self._per_address[address] = held + 1
        self._conns[id(transport)] = _Conn(transport, address, time.monotonic())
        self._protos[id(proto)] = id(transport)
        return True

    def _drop(self, tid: int) -> _Conn | None:
        conn = self._conns.pop(tid, None)
        if conn is not None:
            left = self._per_address.get(conn.address, 1) - 1
            if left > 0:
                self._per_address[conn.address] = left
            else:
                self._per_address.pop(conn.address, None)
        return conn

    def received(self, proto: _Guarded, n: int) -> None:
        tid = self._protos.get(id(proto))
        conn = None if tid is None else self._conns.get(tid)
        if conn is not None:
            conn.bytes_since += n

    def lost(self, proto: _Guarded) -> None:
        tid = self._protos.pop(id(proto), None)
        if tid is not None:
            self._drop(tid)

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
            conn.served = True

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def sweep(self, now_s: float) -> None:
        for tid, conn in list(self._conns.items()):
            if conn.in_handler:
                continue
            waited = now_s - conn.last_s
            if (conn.bytes_since or not conn.served) and waited > self.header_timeout_s:
                self.closed_slow += 1  # a request begun and not finished, or none begun
            elif waited > self.idle_timeout_s:
                self.closed_idle += 1
            else:
                continue
            self._drop(tid)
            conn.transport.close()

    async def sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.sweep(time.monotonic())
