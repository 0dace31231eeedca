"""Encrypted, mutually authenticated peer links over asyncio streams.

The protocol, byte by byte, is in ``consensus.securechannel`` (HELLO, keys, AUTH, records);
this module runs it on a stream pair and bounds every read:

| step | what is read | time bound |
|---|---|---|
| peer's HELLO | exactly 6 bytes, checked, then exactly 32 or 65 | handshake deadline |
| peer's AUTH | 4-byte length, which must be the one expected; that many | handshake deadline |
| each frame | 4-byte length, refused above ``max_bytes + 16``; that many | ``timeout_s`` each |

The whole handshake runs under one deadline (``timeout_s`` from its start), so a peer that
trickles bytes cannot stretch it. Before the peer is authenticated it can make us read its
HELLO (38 or 71 bytes) and one AUTH record of exactly the expected length (at most 4 + 214
bytes), and nothing it sends is parsed beyond the fixed HELLO header until that record has
authenticated under the session's key.

Use from the link code::

    stream, peer_pubkey, peer_role = await secure_handshake(
        reader, writer, suite, chain_id, my_secret, my_role, timeout_s)
    # check that peer_pubkey may hold peer_role (validator set, observers), then:
    stream.write_frame(data); await stream.drain()
    data = await stream.read_frame(max_frame_bytes, idle_timeout_s)

Every failure caused by the peer or the path is a ``SecureLinkError`` (a ``wire.WireError``):
``LinkTimeout`` when it stalls, ``LinkClosed`` when the connection ends (between records, or
cutting one short), plain ``SecureLinkError`` for refused or altered bytes. After any of them
the stream is finished: close it and dial again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

from consensus.securechannel import (
    HELLO_HEADER_LEN,
    LENGTH_PREFIX_LEN,
    Handshake,
    LinkClosed,
    LinkTimeout,
    RecordOpener,
    RecordSealer,
    SecureLinkError,
)
from ledger.crypto import Suite
from ledger.linkcrypto import link_suite


class ByteWriter(Protocol):
    """The part of ``asyncio.StreamWriter`` a link uses (tests pass in-memory pipes)."""

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def close(self) -> None: ...


class SecureStream:
    """An established link: sealed frames out, opened frames in, in order.

    ``write_frame`` seals and queues at once (so concurrent writers keep the record order
    the counters expect); ``drain`` waits for the socket. ``read_frame`` must not run
    concurrently with itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: ByteWriter, sealer: RecordSealer,
                 opener: RecordOpener, peer_pubkey: bytes, peer_role: int | None) -> None:
        self._reader = reader
        self._writer = writer
        self._sealer = sealer
        self._opener = opener
        self.peer_pubkey = peer_pubkey
        self.peer_role = peer_role
        self._reading = False

    async def read_frame(self, max_bytes: int, timeout_s: float) -> bytes:
        """The next frame's plaintext, at most ``max_bytes``; its length is checked before
        its bytes are read, and each of the two reads must finish within ``timeout_s``."""
        if self._reading:
            raise RuntimeError("read_frame is already running on this link")
        self._reading = True
        try:
            prefix = await self._read(LENGTH_PREFIX_LEN, timeout_s, between_records=True)
            n = self._opener.body_len(prefix, max_bytes)
            body = await self._read(n, timeout_s, between_records=False)
            return self._opener.open(prefix, body)
        finally:
            self._reading = False

    async def _read(self, n: int, timeout_s: float, between_records: bool) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.readexactly(n), timeout_s)
        except TimeoutError:
            self._opener.failed = True
            raise LinkTimeout(f"peer sent no frame for {timeout_s:g} s" if between_records
                              else f"peer did not finish a frame within {timeout_s:g} s"
                              ) from None
        except asyncio.IncompleteReadError as exc:
            self._opener.failed = True
            if between_records and not exc.partial:
                raise LinkClosed("peer closed the link") from None
            raise LinkClosed(f"link cut in the middle of a record ({len(exc.partial)} of "
                             f"{n} bytes arrived): a truncated frame") from None
        except (ConnectionError, OSError) as exc:
            self._opener.failed = True
            raise LinkClosed(f"link broken: {type(exc).__name__}") from None

    def write_frame(self, data: bytes) -> None:
        self._writer.write(self._sealer.seal(data))

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


async def secure_handshake(
    reader: asyncio.StreamReader,
    writer: ByteWriter,
    suite: Suite,
    chain_id: str,
    my_secret: bytes,
    my_role: int | None,
    timeout_s: float,
    *,
    expected_peer_key: bytes | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> tuple[SecureStream, bytes, int | None]:
    """Run both halves of the handshake; returns the stream, the peer's authenticated node
    key and the role it claims (validator index, or None for an observer).

    ``my_role`` is our validator index or None. A dialler that knows whom it called passes
    ``expected_peer_key``, and anyone else answering is refused. ``random_bytes`` draws the
    ephemeral key (tests inject a seeded source). The caller checks the returned key against
    the role it claims, and closes ``writer`` if this raises."""
    # The ephemeral seed is held by no name here: the handshake drops its key once used.
    hs = Handshake(suite, chain_id, my_secret, my_role,
                   random_bytes(link_suite(suite).ephemeral_seed_len), expected_peer_key)
    step = "sending our HELLO"
    try:
        async with asyncio.timeout(timeout_s):
            writer.write(hs.hello)
            await writer.drain()
            step = "reading the peer's HELLO"
            header = await reader.readexactly(HELLO_HEADER_LEN)
            hs.check_hello_header(header)
            key = await reader.readexactly(hs.peer_hello_len - HELLO_HEADER_LEN)
            auth = hs.on_hello(header + key)
            step = "sending our AUTH"
            writer.write(auth)
            await writer.drain()
            step = "reading the peer's AUTH"
            prefix = await reader.readexactly(LENGTH_PREFIX_LEN)
            body = await reader.readexactly(hs.auth_body_len(prefix))
            done = hs.on_auth(prefix, body)
    except TimeoutError:
        raise LinkTimeout(
            f"handshake not done within {timeout_s:g} s (stalled {step})") from None
    except asyncio.IncompleteReadError as exc:
        raise LinkClosed(f"peer closed the connection during the handshake ({step}, "
                         f"{len(exc.partial)} of {exc.expected} bytes)") from None
    except (ConnectionError, OSError) as exc:
        raise LinkClosed(f"connection broken during the handshake ({step}): "
                         f"{type(exc).__name__}") from None
    stream = SecureStream(reader, writer, done.sealer, done.opener, done.peer_pubkey,
                          done.peer_role)
    return stream, done.peer_pubkey, done.peer_role


__all__ = ["ByteWriter", "LinkClosed", "LinkTimeout", "SecureLinkError", "SecureStream",
           "secure_handshake"]
