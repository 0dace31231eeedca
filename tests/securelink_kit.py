"""Test plumbing for secure links: in-memory pipes that record every write, a recording TCP
proxy, seeded randomness, and a handshake between two honest sides."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.crypto import Suite
from shell.securelink import SecureStream, secure_handshake

CHAIN = "securelink-test"
TIMEOUT_S = 5.0


def seeded(label: str) -> Callable[[int], bytes]:
    """A reproducible stand-in for ``os.urandom``."""
    counter = itertools.count()
    return lambda n: hashlib.shake_256(f"{label}/{next(counter)}".encode()).digest(n)


class MemWriter:
    """One direction of an in-memory connection. Each ``write`` is recorded as one item (a
    HELLO, an AUTH, a record) and fed to the other side's reader while ``deliver`` is on."""

    def __init__(self, peer: asyncio.StreamReader) -> None:
        self.peer = peer
        self.writes: list[bytes] = []
        self.deliver = True
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if self.deliver and not self.closed:
            self.peer.feed_data(data)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.peer.feed_eof()

    def wire_bytes(self) -> bytes:
        return b"".join(self.writes)


@dataclass
class End:
    reader: asyncio.StreamReader
    writer: MemWriter


def mem_pipe() -> tuple[End, End]:
    """Two ends of an in-memory connection (call inside a running event loop)."""
    ra, rb = asyncio.StreamReader(), asyncio.StreamReader()
    return End(ra, MemWriter(rb)), End(rb, MemWriter(ra))


@dataclass
class Node:
    suite: Suite
    secret: bytes
    role: int | None
    chain_id: str = CHAIN
    random: Callable[[int], bytes] | None = None

    @property
    def pubkey(self) -> bytes:
        return self.suite.public_key(self.secret)

    async def handshake(self, end: End, timeout_s: float = TIMEOUT_S,
                        expected_peer_key: bytes | None = None
                        ) -> tuple[SecureStream, bytes, int | None]:
        extra = {} if self.random is None else {"random_bytes": self.random}
        return await secure_handshake(end.reader, end.writer, self.suite, self.chain_id,
                                      self.secret, self.role, timeout_s,
                                      expected_peer_key=expected_peer_key, **extra)


async def both(a: Node, b: Node, end_a: End, end_b: End,
               expected_by_a: bytes | None = None) -> list[object]:
    """Both handshakes at once; each result is its tuple or the exception it raised."""
    return list(await asyncio.gather(a.handshake(end_a, expected_peer_key=expected_by_a),
                                     b.handshake(end_b), return_exceptions=True))


@dataclass
class Capture:
    """What a recording proxy saw, per direction."""

    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)

    def all(self) -> bytes:
        return bytes(self.to_server) + bytes(self.to_client)


async def recording_proxy(target_port: int) -> tuple[asyncio.Server, int, Capture]:
    """A loopback TCP proxy to ``target_port`` that keeps every byte it forwards."""
    capture = Capture()

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, into: bytearray) -> None:
        try:
            while data := await src.read(65536):
                into += data
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pump(cr, uw, capture.to_server), pump(ur, cw, capture.to_client),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], capture
