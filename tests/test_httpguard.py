"""The HTTP listener's connection bounds (``shell.httpguard``), on fake transports: one
address can't take every connection, and a connection that never sends a request is closed
after the header timeout, not the idle one (user walk: 1,000 silent connections from one
client held every slot for a minute, and the API answered nobody else)."""

from __future__ import annotations

from typing import Any

from shell.httpguard import GuardedServer


class _Transport:
    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return (self.address, 40000) if name == "peername" else None

    def close(self) -> None:
        self.closed = True


class _Inner:
    def connection_made(self, transport: Any) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        pass


def _open(guard: GuardedServer, address: str) -> tuple[Any, _Transport]:
    proto, transport = guard(), _Transport(address)
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport


def test_one_address_cannot_take_every_connection() -> None:
    guard = GuardedServer(_Inner, 10_000, 60_000, connections_max=10, per_address_max=3)
    mine = [_open(guard, "10.0.0.1") for _ in range(5)]
    assert [t.closed for _, t in mine] == [False, False, False, True, True]
    assert guard.refused == 2 and guard.open_connections == 3
    other = _open(guard, "10.0.0.2")[1]
    assert not other.closed  # another client is still served
    mine[0][0].connection_lost(None)  # one of the three closes: room for one more
    assert not _open(guard, "10.0.0.1")[1].closed
    assert _open(guard, "10.0.0.1")[1].closed


def test_a_connection_that_never_sends_a_request_is_closed_after_the_header_timeout() -> None:
    guard = GuardedServer(_Inner, 1_000, 60_000, connections_max=10)
    silent = _open(guard, "10.0.0.1")[1]
    served = _open(guard, "10.0.0.2")[1]
    guard.enter(served)  # type: ignore[arg-type]
    guard.leave(served)  # type: ignore[arg-type]  # one request handled: now kept alive
    now = guard._conns[id(silent)].last_s  # noqa: SLF001 (the sweep's clock)
    guard.sweep(now + 0.5)
    assert not silent.closed
    guard.sweep(now + 1.5)
    assert silent.closed and guard.closed_slow == 1
    assert not served.closed  # an idle keep-alive connection waits for the idle timeout
    guard.sweep(now + 61)
    assert served.closed and guard.closed_idle == 1
    assert guard.open_connections == 0
