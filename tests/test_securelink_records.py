"""Secure link records after the handshake: what an on-path attacker can do to them (alter,
replay, reorder, drop, cut short, oversize) and what a wire capture shows (no plaintext), and
forward secrecy: a recorded session does not open with the nodes' long-term keys."""

from __future__ import annotations

import asyncio
from typing import Any

import nacl.bindings
import pytest

from consensus import wire
from consensus.securechannel import (
    HELLO_HEADER_LEN,
    Handshake,
    LinkClosed,
    LinkTimeout,
    RecordOpener,
    SecureLinkError,
    derive_session_keys,
    transcript_hash,
)
from ledger import gm_reference
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.linkcrypto import AEAD_TAG_LEN, link_suite
from ledger.tx import TxBody, sign_tx
from shell.securelink import SecureStream, secure_handshake
from tests.securelink_kit import CHAIN, End, Node, both, mem_pipe, recording_proxy, seeded

SUITES = [ED25519_SHA256, SM2_SM3]
by_name = pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
MARKER = bytes(range(0x40, 0x80))  # 64 bytes a frame carries and the wire must not show
MAX_FRAME = 1 << 16


def run(coro: Any, timeout_s: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def nodes(suite: Suite) -> tuple[Node, Node]:
    return Node(suite, suite.generate_secret(), 0), Node(suite, suite.generate_secret(), 1)


async def held_link(suite: Suite, frames: list[bytes]
                    ) -> tuple[End, End, SecureStream, list[bytes]]:
    """A link whose A→B records are held back after the handshake: returns B's end, B's
    stream and the sealed records of ``frames`` for the test to deliver as it likes."""
    a, b = nodes(suite)
    end_a, end_b = mem_pipe()
    ra, rb = await both(a, b, end_a, end_b)
    assert isinstance(ra, tuple) and isinstance(rb, tuple), (ra, rb)
    end_a.writer.deliver = False
    for f in frames:
        ra[0].write_frame(f)
    return end_a, end_b, rb[0], end_a.writer.writes[-len(frames):]


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 0x01,)) + data[index + 1:]


# ---- what an attacker on the path can do to records ------------------------------------------


@by_name
def test_records_delivered_as_sent_open_in_order(suite: Suite) -> None:
    async def go() -> list[bytes]:
        _, end_b, sb, records = await held_link(suite, [b"one", MARKER, b""])
        for r in records:
            end_b.reader.feed_data(r)
        return [await sb.read_frame(MAX_FRAME, 1) for _ in records]

    assert run(go()) == [b"one", MARKER, b""]


TAMPERINGS = {
    "a ciphertext bit": lambda rs: [flip(rs[0], 6)] + rs[1:],
    "a tag bit": lambda rs: [flip(rs[0], len(rs[0]) - 1)] + rs[1:],
    "the length prefix": lambda rs: [(int.from_bytes(rs[0][:4], "big") - 1).to_bytes(4, "big")
                                     + rs[0][4:-1]] + rs[1:],
    "a replayed record": lambda rs: [rs[0], rs[0]] + rs[1:],
    "reordered records": lambda rs: [rs[1], rs[0]] + rs[2:],
    "a dropped record": lambda rs: rs[1:],
    "a record spliced from another session": None,
}


@by_name
@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_an_altered_record_stream_is_refused_and_ends_the_link(suite: Suite, how: str) -> None:
    async def go() -> list[bytes]:
        _, end_b, sb, records = await held_link(suite, [b"first", b"second", b"third"])
        tamper = TAMPERINGS[how]
        if tamper is None:
            other = (await held_link(suite, [b"first"]))[3]
            delivered = other + records[1:]
        else:
            delivered = tamper(records)
        for r in delivered:
            end_b.reader.feed_data(r)
        opened = []
        with pytest.raises(SecureLinkError, match="does not authenticate"):
            while True:
                opened.append(await sb.read_frame(MAX_FRAME, 1))
        # The link is finished: even the next, untouched record is refused now.
        end_b.reader.feed_data(records[-1])
        with pytest.raises(SecureLinkError, match="already failed"):
            await sb.read_frame(MAX_FRAME, 1)
        return opened

    opened = run(go())
    assert opened in ([], [b"first"])  # nothing after the damage is ever handed out


@by_name
def test_an_oversized_frame_is_refused_before_its_bytes_are_read(suite: Suite) -> None:
    async def go() -> tuple[bytes, bytes]:
        _, end_b, sb, records = await held_link(suite, [bytes(MAX_FRAME + 1)])
        end_b.reader.feed_data(records[0])
        end_b.reader.feed_eof()
        with pytest.raises(SecureLinkError, match=f"exceeds the limit of {MAX_FRAME}"):
            await sb.read_frame(MAX_FRAME, 1)
        return await end_b.reader.read(), records[0]

    left, record = run(go())
    assert left == record[4:]  # only the length prefix was taken


@by_name
def test_a_length_below_the_tag_and_a_4_gib_length_are_refused_at_once(suite: Suite) -> None:
    async def go(prefix: bytes) -> None:
        _, end_b, sb, _ = await held_link(suite, [])
        end_b.reader.feed_data(prefix)
        with pytest.raises(SecureLinkError, match="shorter than its tag|exceeds the limit"):
            await sb.read_frame(MAX_FRAME, 1)

    run(go((AEAD_TAG_LEN - 1).to_bytes(4, "big")))
    run(go(b"\xff\xff\xff\xff"))


@by_name
def test_a_truncated_record_and_a_clean_close_are_told_apart(suite: Suite) -> None:
    async def go(cut: int | None) -> None:
        end_a, end_b, sb, records = await held_link(suite, [MARKER])
        if cut is not None:
            end_b.reader.feed_data(records[0][:cut])
        end_a.writer.close()
        match = "peer closed the link" if cut is None else "truncated frame"
        with pytest.raises(LinkClosed, match=match):
            await sb.read_frame(MAX_FRAME, 1)

    run(go(None))
    run(go(2))  # inside the length prefix
    run(go(30))  # inside the body


@by_name
def test_an_idle_link_times_out_with_a_clear_error(suite: Suite) -> None:
    async def go() -> None:
        _, _, sb, _ = await held_link(suite, [])
        with pytest.raises(LinkTimeout, match="no frame for 0.1 s"):
            await sb.read_frame(MAX_FRAME, 0.1)

    run(go())


# ---- what a capture of the wire shows -------------------------------------------------------


def signed_tx_frame(suite: Suite) -> tuple[bytes, bytes]:
    """A TXS frame carrying one real signed transaction, and that transaction's bytes."""
    secret = suite.generate_secret()
    body = TxBody(CHAIN, suite.public_key(secret), 7, "identity.attest",
                  {"uscc": "91440300MA5F000000", "name": "深圳某某建设工程有限公司"})
    tx = sign_tx(suite, secret, body).encode()
    return wire.encode_frame(wire.TXS, 2, {"txs": [tx]}), tx


def windows(data: bytes, width: int = 12) -> set[bytes]:
    return {data[i:i + width] for i in range(len(data) - width + 1)}


@pytest.mark.timeout(60)
@by_name
def test_a_capture_between_two_nodes_holds_no_plaintext_of_their_frames(suite: Suite) -> None:
    """Two nodes over real loopback sockets through a recording proxy: the marker and the
    transaction arrive, and no 12-byte run of either appears on the wire. The control run
    sends them in the clear through the same proxy, and there they are."""
    a, b = nodes(suite)
    frame, tx = signed_tx_frame(suite)

    async def through_proxy(secure: bool) -> tuple[bytes, list[bytes]]:
        received: asyncio.Future[list[bytes]] = asyncio.Future()

        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            if secure:
                stream, _, _ = await secure_handshake(r, w, suite, CHAIN, b.secret, 1, 5)
                received.set_result([await stream.read_frame(MAX_FRAME, 5) for _ in range(2)])
            else:
                received.set_result([await r.readexactly(len(MARKER)),
                                     await r.readexactly(len(frame))])
            w.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        proxy, port, capture = await recording_proxy(server.sockets[0].getsockname()[1])
        r, w = await asyncio.open_connection("127.0.0.1", port)
        if secure:
            stream, _, _ = await secure_handshake(r, w, suite, CHAIN, a.secret, 0, 5)
            stream.write_frame(MARKER)
            stream.write_frame(frame)
            await stream.drain()
        else:
            w.write(MARKER + frame)
            await w.drain()
        got = await received
        w.close()
        await asyncio.sleep(0.05)  # let the proxy forward the close
        for s in (proxy, server):
            s.close()
        return capture.all(), got

    wire_bytes, got = run(through_proxy(secure=True))
    assert got == [MARKER, frame] and tx in frame
    secrets = windows(MARKER) | windows(tx)
    assert not any(w in wire_bytes for w in secrets)
    assert len(wire_bytes) > len(MARKER) + len(frame)  # the frames did cross the proxy
    clear_bytes, _ = run(through_proxy(secure=False))
    assert MARKER in clear_bytes and tx in clear_bytes


# ---- forward secrecy ------------------------------------------------------------------------


def _try_open(suite: Suite, shared: bytes, hello_a: bytes, hello_b: bytes,
              record: bytes) -> bytes | None:
    """Derive keys from a candidate shared secret and try to open A's first data record."""
    eph_a, eph_b = hello_a[HELLO_HEADER_LEN:], hello_b[HELLO_HEADER_LEN:]
    low, high = sorted((eph_a, eph_b))
    keys = derive_session_keys(suite, shared, transcript_hash(suite, CHAIN, low, high))
    key = keys.low_to_high if eph_a == low else keys.high_to_low
    opener = RecordOpener(link_suite(suite).aead(key))
    opener.counter = 1  # the AUTH was record 0
    try:
        return opener.open(record[:4], record[4:])
    except SecureLinkError:
        return None


def _long_term_candidates(suite: Suite, a: Node, b: Node, hello_b: bytes) -> list[bytes]:
    """Every shared secret an attacker holding both nodes' long-term keys could try."""
    eph_b = hello_b[HELLO_HEADER_LEN:]
    if suite is ED25519_SHA256:
        xa = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(a.secret + a.pubkey)
        xb_pub = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(b.pubkey)
        return [nacl.bindings.crypto_scalarmult(xa, eph_b),
                nacl.bindings.crypto_scalarmult(xa, xb_pub), a.secret, b.secret]
    da = int.from_bytes(a.secret, "big")
    return [gm_reference.sm2_multiply(da, eph_b)[1:33],
            gm_reference.sm2_multiply(da, b.pubkey)[1:33], a.secret, b.secret]


@by_name
def test_a_recorded_session_does_not_open_with_the_long_term_keys(suite: Suite) -> None:
    link = link_suite(suite)

    async def session(a: Node, b: Node) -> tuple[bytes, bytes, bytes]:
        a.random, b.random = seeded("fs-a"), seeded("fs-b")
        end_a, end_b = mem_pipe()
        ra, rb = await both(a, b, end_a, end_b)
        assert isinstance(ra, tuple) and isinstance(rb, tuple)
        ra[0].write_frame(MARKER)
        return end_a.writer.writes[0], end_b.writer.writes[0], end_a.writer.writes[2]

    a, b = nodes(suite)
    hello_a, hello_b, record = run(session(a, b))
    # Control: whoever kept A's ephemeral secret can open the record, so the check works.
    eph_a = link.ephemeral(seeded("fs-a")(link.ephemeral_seed_len))
    assert _try_open(suite, eph_a.agree(hello_b[HELLO_HEADER_LEN:]), hello_a, hello_b,
                     record) == MARKER
    for candidate in _long_term_candidates(suite, a, b, hello_b):
        assert _try_open(suite, candidate, hello_a, hello_b, record) is None
    # Stronger: the same ephemeral randomness under two other long-term keys yields the very
    # same ciphertext, so the long-term keys carry nothing about the frame keys.
    _, _, record_other_nodes = run(session(*nodes(suite)))
    assert record_other_nodes == record


@by_name
def test_the_handshake_drops_its_ephemeral_secret_once_it_is_used(suite: Suite) -> None:
    a, b = nodes(suite)
    seed_len = link_suite(suite).ephemeral_seed_len
    ha = Handshake(suite, CHAIN, a.secret, 0, seeded("a")(seed_len))
    hb = Handshake(suite, CHAIN, b.secret, 1, seeded("b")(seed_len))
    assert ha._ephemeral is not None
    ha.on_hello(hb.hello)
    assert ha._ephemeral is None
    hc = Handshake(suite, CHAIN, b.secret, 1, seeded("c")(seed_len))
    bad = hb.hello[:HELLO_HEADER_LEN] + (bytes(32) if suite is ED25519_SHA256
                                         else b"\x04" + bytes(64))
    with pytest.raises(SecureLinkError):
        hc.on_hello(bad)
    assert hc._ephemeral is None  # dropped on refusal too
    with pytest.raises(SecureLinkError, match="after the session keys"):
        ha.on_hello(hb.hello)


@by_name
def test_a_record_reflected_to_its_sender_does_not_open(suite: Suite) -> None:
    """The two directions have different keys: A's own AUTH sent back to A is refused,
    while B, its addressee, accepts it."""
    a, b = nodes(suite)
    seed_len = link_suite(suite).ephemeral_seed_len
    ha = Handshake(suite, CHAIN, a.secret, 0, seeded("a")(seed_len))
    hb = Handshake(suite, CHAIN, b.secret, 1, seeded("b")(seed_len))
    auth_a = ha.on_hello(hb.hello)
    hb.on_hello(ha.hello)
    assert hb.on_auth(auth_a[:4], auth_a[4:]).peer_pubkey == a.pubkey
    with pytest.raises(SecureLinkError, match="does not decrypt"):
        ha.on_auth(auth_a[:4], auth_a[4:])
