"""Peer frames and the signed handshake: round trips and every refusal."""

from __future__ import annotations

import os

import pytest

from consensus import wire
from consensus.wire import FrameCounter, Handshake, WireError, decode_frame, encode_frame
from ledger.block import Validator
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput

CHAIN = "wire-chain"


def make_set(suite: Suite, n: int) -> tuple[list[bytes], list[Validator]]:
    secrets = [suite.generate_secret() for _ in range(n)]
    return secrets, [Validator(f"v{i}", suite.public_key(s)) for i, s in enumerate(secrets)]


def pair(
    suite: Suite, a: int = 0, b: int = 1, n: int = 4
) -> tuple[Handshake, Handshake, list[bytes], list[Validator]]:
    secrets, vals = make_set(suite, n)
    ha = Handshake(suite, CHAIN, vals, a, secrets[a], os.urandom(32), expect_peer=b)
    hb = Handshake(suite, CHAIN, vals, b, secrets[b], os.urandom(32))
    return ha, hb, secrets, vals


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_handshake_both_sides_learn_each_other(suite: Suite) -> None:
    ha, hb = pair(suite)[:2]
    auth_a = ha.on_hello(decode_frame(hb.hello()))
    auth_b = hb.on_hello(decode_frame(ha.hello()))
    assert hb.on_auth(decode_frame(auth_a)) == 0
    assert ha.on_auth(decode_frame(auth_b)) == 1


def test_replayed_auth_on_new_link_rejected() -> None:
    ha, hb, secrets, vals = pair(ED25519_SHA256)
    auth_a = ha.on_hello(decode_frame(hb.hello()))
    hb.on_hello(decode_frame(ha.hello()))
    assert hb.on_auth(decode_frame(auth_a)) == 0
    # An eavesdropper replays A's AUTH to B on a new link: B's fresh nonce differs.
    hb2 = Handshake(ED25519_SHA256, CHAIN, vals, 1, secrets[1], os.urandom(32))
    hb2.on_hello(decode_frame(ha.hello()))
    with pytest.raises(WireError, match="does not verify"):
        hb2.on_auth(decode_frame(auth_a))


def test_auth_for_other_peer_rejected() -> None:
    secrets, vals = make_set(ED25519_SHA256, 4)
    ha = Handshake(ED25519_SHA256, CHAIN, vals, 0, secrets[0], os.urandom(32))
    hb = Handshake(ED25519_SHA256, CHAIN, vals, 1, secrets[1], os.urandom(32))
    hc = Handshake(ED25519_SHA256, CHAIN, vals, 2, secrets[2], os.urandom(32))
    # A signs towards B, the frame is delivered to C who sent the same nonce as B did.
    auth_to_b = ha.on_hello(decode_frame(hb.hello()))
    hc._my_nonce = hb._my_nonce
    hc.on_hello(decode_frame(ha.hello()))
    with pytest.raises(WireError, match="does not verify"):
        hc.on_auth(decode_frame(auth_to_b))


def test_impostor_key_rejected() -> None:
    secrets, vals = make_set(ED25519_SHA256, 4)
    outsider = ED25519_SHA256.generate_secret()
    fake = Handshake(ED25519_SHA256, CHAIN, vals, 2, outsider, os.urandom(32))
    hb = Handshake(ED25519_SHA256, CHAIN, vals, 1, secrets[1], os.urandom(32))
    auth = fake.on_hello(decode_frame(hb.hello()))
    hb.on_hello(decode_frame(fake.hello()))
    with pytest.raises(WireError, match="validator 2 does not verify"):
        hb.on_auth(decode_frame(auth))


def test_hello_refusals() -> None:
    ha, hb, secrets, vals = pair(ED25519_SHA256, 0, 1)
    other_chain = Handshake(ED25519_SHA256, "other", vals, 1, secrets[1], os.urandom(32))
    with pytest.raises(WireError, match="chain"):
        ha.on_hello(decode_frame(other_chain.hello()))
    non_validator = encode_frame(wire.HELLO, 0, {"chain_id": CHAIN, "index": 9, "nonce": bytes(32)})
    with pytest.raises(WireError, match="not a validator"):
        ha.on_hello(decode_frame(non_validator))
    self_index = encode_frame(wire.HELLO, 0, {"chain_id": CHAIN, "index": 0, "nonce": bytes(32)})
    with pytest.raises(WireError, match="own index"):
        ha.on_hello(decode_frame(self_index))
    wrong_peer = Handshake(ED25519_SHA256, CHAIN, vals, 2, secrets[2], os.urandom(32))
    with pytest.raises(WireError, match="dialled validator 1"):
        ha.on_hello(decode_frame(wrong_peer.hello()))
    with pytest.raises(WireError, match="AUTH before HELLO"):
        hb.on_auth(decode_frame(encode_frame(wire.AUTH, 1, {"sig": bytes(64)})))


def test_frame_round_trip_and_sequence() -> None:
    sender, receiver = FrameCounter(), FrameCounter()
    data = [
        encode_frame(wire.TXS, sender.take(), {"txs": [b"a", b"b"]}),
        encode_frame(wire.FETCH, sender.take(), {"from_height": 3, "max_blocks": 10}),
    ]
    f0 = decode_frame(data[0])
    assert (f0.kind, f0.seq, f0.body) == (wire.TXS, 2, {"txs": [b"a", b"b"]})
    receiver.check(f0)
    with pytest.raises(WireError, match="replay"):
        receiver.check(f0)
    receiver.check(decode_frame(data[1]))
    late_hello = encode_frame(wire.HELLO, 4, {"chain_id": CHAIN, "index": 1, "nonce": bytes(32)})
    with pytest.raises(WireError, match="handshake frame"):
        receiver.check(decode_frame(late_hello))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "shorter"),
        (bytes([0x7F]) + bytes(8) + b"\x80", "unknown frame kind"),
        (bytes([wire.TXS]) + bytes(8) + b"\x81\xa3txs\x91\x01", "byte strings"),
        (bytes([wire.FETCH]) + bytes(8) + b"\x80", "missing"),
        (bytes([wire.TXS]) + bytes(8) + b"\xcb" + bytes(8), "float|malformed|canonical|map"),
    ],
)
def test_malformed_frames_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_frame(data)


def test_oversize_frame_rejected() -> None:
    data = encode_frame(wire.TXS, 2, {"txs": [bytes(2000)]})
    with pytest.raises(WireError, match="exceeds the limit"):
        decode_frame(data, max_frame_bytes=1000)
    too_many = encode_frame(wire.FETCH, 2, {"from_height": 1, "max_blocks": 10_000})
    with pytest.raises(WireError, match="above"):
        decode_frame(too_many)


def test_a_status_says_whether_its_sender_votes() -> None:
    """``abstaining: true`` is the one optional field of STATUS: a validator whose vote
    records are missing says so, and its peers' health counts only voters."""
    for body in ({"height": 7}, {"height": 7, "abstaining": True}):
        assert decode_frame(encode_frame(wire.STATUS, 0, body)).body == body
    for bad in ({"height": 7, "abstaining": False}, {"height": 7, "abstaining": 1},
                {"height": 7, "voting": True}):
        with pytest.raises((WireError, InvalidInput)):
            decode_frame(encode_frame(wire.STATUS, 0, bad))
