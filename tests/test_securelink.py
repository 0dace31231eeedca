"""Secure peer links end to end: handshakes over loopback sockets and in-memory pipes, every
refusal (wrong chain, wrong key, replayed session, man in the middle, stalls, strangers),
every broken record (tampered, replayed, reordered, dropped, truncated, oversized), and
captures of the wire that hold no plaintext. The protocol is ``consensus.securechannel``."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

import pytest

from consensus import wire
from consensus.securechannel import (
    HELLO_HEADER_LEN,
    HIGH_SIDE,
    LOW_SIDE,
    LinkClosed,
    LinkTimeout,
    RecordOpener,
    RecordSealer,
    SecureLinkError,
    auth_plain_len,
    auth_signing_bytes,
    derive_session_keys,
    encode_role,
    hello_len,
    transcript_hash,
)
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.linkcrypto import AEAD_TAG_LEN, link_suite
from shell.securelink import SecureStream, secure_handshake
from tests.securelink_kit import (
    CHAIN,
    End,
    Node,
    both,
    mem_pipe,
    seeded,
)

SUITES = [ED25519_SHA256, SM2_SM3]
by_name = pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
MARKER = bytes(range(0x40, 0x80))  # 64 bytes a frame carries and the wire must not show


def run(coro: Any, timeout_s: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def nodes(suite: Suite, roles: tuple[int | None, int | None] = (0, 1)) -> tuple[Node, Node]:
    return (Node(suite, suite.generate_secret(), roles[0]),
            Node(suite, suite.generate_secret(), roles[1]))


async def established(a: Node, b: Node) -> tuple[End, End, SecureStream, SecureStream]:
    end_a, end_b = mem_pipe()
    ra, rb = await both(a, b, end_a, end_b)
    assert isinstance(ra, tuple) and isinstance(rb, tuple), (ra, rb)
    return end_a, end_b, ra[0], rb[0]


# ---- handshakes that succeed ---------------------------------------------------------------


@pytest.mark.timeout(60)
@by_name
def test_handshake_over_loopback_sockets_authenticates_both_sides(suite: Suite) -> None:
    a, b = nodes(suite, (2, None))

    async def go() -> None:
        served: asyncio.Future[tuple[bytes, int | None, bytes]] = asyncio.Future()

        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            stream, key, role = await secure_handshake(r, w, suite, CHAIN, b.secret, b.role, 5)
            frame = await stream.read_frame(1 << 20, 5)
            stream.write_frame(frame[::-1])
            await stream.drain()
            served.set_result((key, role, frame))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        r, w = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        stream, key, role = await secure_handshake(
            r, w, suite, CHAIN, a.secret, a.role, 5, expected_peer_key=b.pubkey)
        assert (key, role) == (b.pubkey, None)  # B is an observer
        stream.write_frame(MARKER)
        await stream.drain()
        assert await stream.read_frame(1 << 20, 5) == MARKER[::-1]
        assert await served == (a.pubkey, 2, MARKER)
        stream.close()
        server.close()
        await server.wait_closed()

    run(go())


@by_name
def test_handshake_over_memory_pipes_then_frames_both_ways_in_order(suite: Suite) -> None:
    a, b = nodes(suite, (0, 3))

    async def go() -> None:
        _, _, sa, sb = await established(a, b)
        assert (sa.peer_pubkey, sa.peer_role, sb.peer_pubkey, sb.peer_role) == (
            b.pubkey, 3, a.pubkey, 0)
        frames = [b"", b"x", MARKER, os.urandom(100_000)]
        for f in frames:
            sa.write_frame(f)
            sb.write_frame(f[::-1])
        for f in frames:
            assert await sb.read_frame(1 << 20, 1) == f
            assert await sa.read_frame(1 << 20, 1) == f[::-1]

    run(go())


@by_name
def test_seeded_randomness_makes_the_hellos_reproducible(suite: Suite) -> None:
    a, b = nodes(suite)

    async def hellos(label: str) -> tuple[bytes, bytes]:
        a.random, b.random = seeded(label + "a"), seeded(label + "b")
        end_a, end_b = mem_pipe()
        await both(a, b, end_a, end_b)
        return end_a.writer.writes[0], end_b.writer.writes[0]

    first, again, other = run(hellos("s1")), run(hellos("s1")), run(hellos("s2"))
    assert first == again and first[0] != other[0]
    assert len(first[0]) == hello_len(suite)


# ---- handshakes that must fail -------------------------------------------------------------


def _errors(results: list[object]) -> list[str]:
    assert all(isinstance(r, SecureLinkError) for r in results), results
    return [str(r) for r in results]


@by_name
@pytest.mark.parametrize("other_chain", [CHAIN[:-1] + "X", CHAIN + "-2"],
                         ids=["same-length", "longer"])
def test_wrong_chain_id_is_refused_by_both_sides(suite: Suite, other_chain: str) -> None:
    """With an id of the same length the AUTH does not decrypt (the chain id is in the
    keys); with another length it is refused by its length, before any decryption."""
    a, b = nodes(suite)
    b.chain_id = other_chain

    async def go() -> list[object]:
        end_a, end_b = mem_pipe()
        return await both(a, b, end_a, end_b)

    for reason in _errors(run(go())):
        assert "another chain" in reason


def test_a_peer_of_the_other_suite_is_refused_at_its_hello() -> None:
    a, b = nodes(ED25519_SHA256)[0], nodes(SM2_SM3)[1]

    async def go() -> list[object]:
        end_a, end_b = mem_pipe()
        return await both(a, b, end_a, end_b)

    for reason in _errors(run(go())):
        assert "suite code" in reason


@by_name
def test_a_key_that_does_not_sign_for_the_claimed_identity_is_refused(suite: Suite) -> None:
    """B presents another node's key in its AUTH, but can only sign with its own."""
    a, b = nodes(suite)
    claimed = suite.public_key(suite.generate_secret())

    async def go() -> None:
        end_a, end_b = mem_pipe()
        task = asyncio.create_task(a.handshake(end_a))
        liar = manual_side(suite, await end_b.reader.readexactly(hello_len(suite)))
        end_b.writer.write(liar.hello)
        signature = suite.sign(b.secret, auth_signing_bytes(liar.challenge, liar.side, 1))
        end_b.writer.write(liar.sealer.seal(auth_plain(claimed, signature, 1)))
        with pytest.raises(SecureLinkError, match="does not verify"):
            await task

    run(go())


def auth_plain(pubkey: bytes, signature: bytes, role: int | None) -> bytes:
    cid = CHAIN.encode()
    return pubkey + signature + encode_role(role) + bytes((len(cid),)) + cid


@by_name
def test_an_honest_manual_side_is_accepted_so_the_refusals_above_are_meaningful(
        suite: Suite) -> None:
    a, b = nodes(suite)

    async def go() -> tuple[bytes, int | None]:
        end_a, end_b = mem_pipe()
        task = asyncio.create_task(a.handshake(end_a))
        side = manual_side(suite, await end_b.reader.readexactly(hello_len(suite)))
        end_b.writer.write(side.hello)
        signature = suite.sign(b.secret, auth_signing_bytes(side.challenge, side.side, 1))
        end_b.writer.write(side.sealer.seal(auth_plain(b.pubkey, signature, 1)))
        _, key, role = await task
        return key, role

    assert run(go()) == (b.pubkey, 1)


@by_name
def test_the_dialler_refuses_a_node_other_than_the_one_it_dialled(suite: Suite) -> None:
    a, b = nodes(suite)
    wanted = suite.public_key(suite.generate_secret())

    async def go() -> list[object]:
        end_a, end_b = mem_pipe()
        return await both(a, b, end_a, end_b, expected_by_a=wanted)

    ra, _ = run(go())
    assert isinstance(ra, SecureLinkError) and "dialled node key" in str(ra)


@by_name
def test_a_recorded_session_replayed_to_either_side_is_refused(suite: Suite) -> None:
    a, b = nodes(suite)

    async def go() -> None:
        end_a, end_b, sa, sb = await established(a, b)
        sb.write_frame(MARKER)
        recorded_b = end_b.writer.wire_bytes()  # B's HELLO, AUTH and a frame
        recorded_a = end_a.writer.wire_bytes()
        for victim, recording in ((a, recorded_b), (b, recorded_a)):
            end_v, end_r = mem_pipe()
            end_r.writer.write(recording)  # the replayer plays the old bytes, then waits
            with pytest.raises(SecureLinkError, match="does not decrypt"):
                await victim.handshake(end_v, timeout_s=2)

    run(go())


@dataclass
class Manual:
    """One side of a session driven by hand (an attacker's, or a check of the refusals)."""

    hello: bytes
    sealer: RecordSealer
    opener: RecordOpener
    challenge: bytes
    side: int


def manual_side(suite: Suite, peer_hello: bytes, seed: bytes | None = None) -> Manual:
    link = link_suite(suite)
    eph = link.ephemeral(seed or os.urandom(link.ephemeral_seed_len))
    peer_eph = peer_hello[HELLO_HEADER_LEN:]
    low, high = sorted((eph.public, peer_eph))
    keys = derive_session_keys(suite, eph.agree(peer_eph),
                               transcript_hash(suite, CHAIN, low, high))
    if eph.public == low:
        send, recv, side = keys.low_to_high, keys.high_to_low, LOW_SIDE
    else:
        send, recv, side = keys.high_to_low, keys.low_to_high, HIGH_SIDE
    hello = peer_hello[:HELLO_HEADER_LEN] + eph.public
    return Manual(hello, RecordSealer(link.aead(send)), RecordOpener(link.aead(recv)),
                  keys.challenge, side)


@by_name
def test_a_man_in_the_middle_relaying_both_auths_is_refused_by_both_sides(suite: Suite) -> None:
    """Mallory runs a session with each side and carries each side's AUTH across,
    re-encrypted: both signatures are over the other session's challenge, so both fail."""
    a, b = nodes(suite)

    async def go() -> list[object]:
        end_a, mallory_a = mem_pipe()
        end_b, mallory_b = mem_pipe()
        task = asyncio.gather(a.handshake(end_a), b.handshake(end_b), return_exceptions=True)
        n = hello_len(suite)
        hello_a = await mallory_a.reader.readexactly(n)
        hello_b = await mallory_b.reader.readexactly(n)
        leg_a = manual_side(suite, hello_a)
        # Mallory grinds her second key so that each relayed AUTH claims the side its new
        # receiver expects: only the challenge can then give her away.
        draw = seeded("mallory")
        leg_b = manual_side(suite, hello_b, draw(link_suite(suite).ephemeral_seed_len))
        while leg_b.side == leg_a.side:
            leg_b = manual_side(suite, hello_b, draw(link_suite(suite).ephemeral_seed_len))
        mallory_a.writer.write(leg_a.hello)
        mallory_b.writer.write(leg_b.hello)
        auth_len = auth_plain_len(suite, CHAIN) + AEAD_TAG_LEN
        prefix_a = await mallory_a.reader.readexactly(4)
        auth_a = leg_a.opener.open(prefix_a, await mallory_a.reader.readexactly(auth_len))
        prefix_b = await mallory_b.reader.readexactly(4)
        auth_b = leg_b.opener.open(prefix_b, await mallory_b.reader.readexactly(auth_len))
        # Mallory reads both identities (she is a party to each session), then relays.
        assert auth_a.startswith(a.pubkey) and auth_b.startswith(b.pubkey)
        mallory_a.writer.write(leg_a.sealer.seal(auth_b))
        mallory_b.writer.write(leg_b.sealer.seal(auth_a))
        return list(await task)

    for reason in _errors(run(go())):
        assert "does not verify" in reason


# ---- stalls and strangers ------------------------------------------------------------------


def stranger_hello(suite: Suite) -> bytes:
    """A well-formed HELLO from someone who will not (or cannot) go on."""
    link = link_suite(suite)
    return b"CCSL" + bytes((1, link.code)) + link.ephemeral(
        os.urandom(link.ephemeral_seed_len)).public


@by_name
def test_a_peer_that_stalls_after_its_hello_times_out(suite: Suite) -> None:
    a, _ = nodes(suite)

    async def go() -> float:
        end_a, end_b = mem_pipe()
        end_b.writer.write(stranger_hello(suite))
        start = time.monotonic()
        with pytest.raises(LinkTimeout, match="reading the peer's AUTH"):
            await a.handshake(end_a, timeout_s=0.3)
        return time.monotonic() - start

    assert 0.25 <= run(go()) < 2.0


def test_a_peer_that_trickles_bytes_cannot_stretch_the_handshake() -> None:
    a, _ = nodes(ED25519_SHA256)

    async def go() -> float:
        end_a, end_b = mem_pipe()

        async def trickle() -> None:
            for byte in b"CCSL\x01\x01" + bytes(32):
                end_b.writer.write(bytes((byte,)))
                await asyncio.sleep(0.05)

        task = asyncio.create_task(trickle())
        start = time.monotonic()
        with pytest.raises(LinkTimeout, match="within 0.4 s"):
            await a.handshake(end_a, timeout_s=0.4)
        task.cancel()
        return time.monotonic() - start

    assert run(go()) < 1.0  # the whole HELLO would take 1.9 s to arrive


@by_name
def test_a_stranger_sending_garbage_is_refused_after_six_bytes(suite: Suite) -> None:
    a, _ = nodes(suite)
    garbage = os.urandom(1 << 20)

    async def go() -> bytes:
        end_a, end_b = mem_pipe()
        end_b.writer.write(garbage)
        end_b.writer.close()
        with pytest.raises(SecureLinkError, match="not a credchain secure link"):
            await a.handshake(end_a)
        return await end_a.reader.read()  # what the handshake left unread

    assert run(go()) == garbage[HELLO_HEADER_LEN:]


def test_an_old_plaintext_peer_is_refused_with_a_clear_reason() -> None:
    a, _ = nodes(ED25519_SHA256)
    old_hello = wire.encode_frame(wire.HELLO, 0, {"chain_id": CHAIN, "index": 1,
                                                  "nonce": bytes(32)})

    async def go() -> None:
        end_a, end_b = mem_pipe()
        end_b.writer.write(len(old_hello).to_bytes(4, "big") + old_hello)
        with pytest.raises(SecureLinkError, match="not a credchain secure link"):
            await a.handshake(end_a)

    run(go())


@by_name
def test_a_huge_auth_length_is_refused_before_reading_it(suite: Suite) -> None:
    a, _ = nodes(suite)
    rest = os.urandom(1000)

    async def go() -> bytes:
        end_a, end_b = mem_pipe()
        end_b.writer.write(stranger_hello(suite) + b"\xff\xff\xff\xff" + rest)
        end_b.writer.close()
        with pytest.raises(SecureLinkError, match="expected exactly"):
            await a.handshake(end_a)
        return await end_a.reader.read()

    assert run(go()) == rest


@by_name
def test_a_garbage_auth_of_the_right_length_is_refused(suite: Suite) -> None:
    a, _ = nodes(suite)
    n = auth_plain_len(suite, CHAIN) + AEAD_TAG_LEN

    async def go() -> None:
        end_a, end_b = mem_pipe()
        end_b.writer.write(stranger_hello(suite) + n.to_bytes(4, "big") + os.urandom(n))
        with pytest.raises(SecureLinkError, match="does not decrypt"):
            await a.handshake(end_a)

    run(go())


@by_name
def test_bad_ephemeral_keys_and_a_reflected_hello_are_refused(suite: Suite) -> None:
    a, _ = nodes(suite)
    code = link_suite(suite).code
    bad_key = bytes(32) if suite is ED25519_SHA256 else b"\x04" + bytes(64)
    reason = "low-order" if suite is ED25519_SHA256 else "not a point"

    async def refused(hello: bytes, match: str) -> None:
        end_a, end_b = mem_pipe()
        end_b.writer.write(hello)
        with pytest.raises(SecureLinkError, match=match):
            await a.handshake(end_a)

    async def reflected() -> None:
        end_a, end_b = mem_pipe()
        task = asyncio.create_task(a.handshake(end_a))
        end_b.writer.write(await end_b.reader.readexactly(hello_len(suite)))
        with pytest.raises(SecureLinkError, match="reflected"):
            await task

    run(refused(b"CCSL" + bytes((1, code)) + bad_key, reason))
    run(refused(b"CCSL\x02" + bytes((code,)) + bad_key, "version 2"))
    run(reflected())


@by_name
def test_the_peer_closing_mid_handshake_is_a_clean_error(suite: Suite) -> None:
    a, _ = nodes(suite)

    async def go() -> None:
        end_a, end_b = mem_pipe()
        end_b.writer.write(b"CCSL\x01")
        end_b.writer.close()
        with pytest.raises(LinkClosed, match="during the handshake"):
            await a.handshake(end_a)

    run(go())


@pytest.mark.parametrize("first", [b"GET /status HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x02\x00\x01"])
def test_an_http_or_tls_client_at_the_peer_port_is_named(first: bytes) -> None:
    """Operator walk: "the peer's first bytes are 474554202f73" left the reader to decode
    'GET /s' themselves."""
    a, _ = nodes(ED25519_SHA256)

    async def go() -> None:
        end_a, end_b = mem_pipe()
        end_b.writer.write(first)
        with pytest.raises(SecureLinkError, match="a client pointed at this peer port"):
            await a.handshake(end_a)

    run(go())


def test_garbage_at_the_peer_port_is_not_called_http() -> None:
    a, _ = nodes(ED25519_SHA256)

    async def go() -> str:
        end_a, end_b = mem_pipe()
        end_b.writer.write(b"\x00\x01\x02\x03\x04\x05\x06")
        with pytest.raises(SecureLinkError) as caught:
            await a.handshake(end_a)
        return str(caught.value)

    assert "http_port" not in run(go())
