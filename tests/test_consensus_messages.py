"""Consensus messages: canonical round trips, strict decoding, tags, signatures, vote sets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import durable, messages
from consensus.messages import (
    Commit,
    Message,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
)
from consensus.voteset import VoteSet
from ledger import encoding, tags
from ledger.block import QC, Validator, verify_qc
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput
from ledger.kv import MemoryKV
from shell.chain import Chain
from tests.sim.nodes import CHAIN_ID, genesis, validator_keys


def _setup(suite: Suite) -> tuple[list[tuple[bytes, bytes]], tuple[Validator, ...], Chain]:
    keys = validator_keys(suite, 4)
    vals = tuple(Validator(f"v{i}", pk) for i, (_, pk) in enumerate(keys))
    return keys, vals, Chain.open(MemoryKV(), genesis(suite, 4))


def _all_messages(suite: Suite) -> list[Message]:
    keys, vals, chain = _setup(suite)
    head = chain.store.head_header()
    block = chain.app.propose(head, 1, 0, 1, head.time_ms + 5, ())
    h = block.hash(suite)

    def s(i: int, m: messages.M) -> messages.M:
        return messages.sign(suite, keys[i][0], CHAIN_ID, m)

    cert = PreparedCert(1, 0, h, tuple((i, s(i, Prepare(1, 0, i, h)).sig) for i in range(3)))
    vcs = tuple(s(i, ViewChange(1, 1, i, cert, block)) for i in range(3))
    return [
        s(1, PrePrepare(1, 0, 1, block)),
        s(2, Prepare(1, 0, 2, h)),
        s(3, Commit(1, 0, 3, h)),
        vcs[0],
        s(0, ViewChange(1, 1, 0, None, None)),
        s(2, NewView(1, 1, 2, tuple(vc.stripped() for vc in vcs), block)),
    ]


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_every_message_round_trips_canonically_and_verifies(suite: Suite) -> None:
    keys, _, _ = _setup(suite)
    for msg in _all_messages(suite):
        data = encode_message(msg)
        back = decode_message(data)
        assert back == msg and encode_message(back) == data
        assert messages.verify(suite, CHAIN_ID, keys[msg.sender][1], back)
        assert not messages.verify(suite, "other-chain", keys[msg.sender][1], back)
        assert not messages.verify(suite, CHAIN_ID, keys[(msg.sender + 1) % 4][1], back)


def test_signing_bytes_start_with_the_documented_tag() -> None:
    expected = {PrePrepare: tags.PRE_PREPARE, Prepare: tags.PREPARE, Commit: tags.COMMIT_VOTE,
                ViewChange: tags.VIEW_CHANGE, NewView: tags.NEW_VIEW}
    for msg in _all_messages(ED25519_SHA256):
        assert msg.signing_bytes(ED25519_SHA256, CHAIN_ID)[0] == expected[type(msg)]


def test_a_quorum_of_commit_messages_is_a_protocol_qc() -> None:
    suite = ED25519_SHA256
    keys, vals, chain = _setup(suite)
    head = chain.store.head_header()
    block = chain.app.propose(head, 1, 0, 1, head.time_ms + 5, ())
    h = block.hash(suite)
    votes = tuple((i, messages.sign(suite, keys[i][0], CHAIN_ID, Commit(1, 2, i, h)).sig)
                  for i in (0, 2, 3))
    verify_qc(suite, QC(1, 2, h, votes), block.header, vals)


@pytest.mark.parametrize("mutate", [
    lambda o: {**o, "type": "prepare_plus"},
    lambda o: {**o, "extra": 1},
    lambda o: {k: v for k, v in o.items() if k != "sig"},
    lambda o: {**o, "sig": b"\x00" * 63},
    lambda o: {**o, "height": -1},
    lambda o: {**o, "block_hash": "not bytes"},
    lambda o: [o],
])
def test_decode_rejects_malformed_messages_with_invalid_input(mutate: object) -> None:
    msg = _all_messages(ED25519_SHA256)[1]
    obj = msg.to_obj()
    with pytest.raises(InvalidInput):
        decode_message(encoding.encode(mutate(obj)))  # type: ignore[operator]


def test_decode_rejects_non_canonical_bytes_and_blocks_inside_new_view() -> None:
    msgs = _all_messages(ED25519_SHA256)
    data = encode_message(msgs[1])
    with pytest.raises(InvalidInput):
        decode_message(data + b"\x00")
    nv = msgs[-1]
    assert isinstance(nv, NewView)
    obj = nv.to_obj()
    obj["view_changes"][0]["block"] = nv.block.to_obj()
    with pytest.raises(InvalidInput, match="must not carry blocks"):
        decode_message(encoding.encode(obj))


def test_prepared_certificate_votes_must_be_sorted_and_unique() -> None:
    cert = PreparedCert(1, 0, b"\x01" * 32, ((2, b"\x00" * 64), (1, b"\x00" * 64)))
    vc = ViewChange(1, 1, 0, cert, None, b"\x00" * 64)
    with pytest.raises(InvalidInput, match="sorted"):
        decode_message(encode_message(vc))


def test_a_view_change_signature_covers_its_certificate_but_not_its_block() -> None:
    msgs = _all_messages(ED25519_SHA256)
    vc = msgs[3]
    assert isinstance(vc, ViewChange) and vc.prepared is not None
    keys, _, _ = _setup(ED25519_SHA256)
    assert messages.verify(ED25519_SHA256, CHAIN_ID, keys[0][1], vc.stripped())
    other = replace(vc, prepared=replace(vc.prepared, view=5))
    assert not messages.verify(ED25519_SHA256, CHAIN_ID, keys[0][1], other)


def test_durable_records_round_trip() -> None:
    rnd = durable.RoundRecord(4, 2, True, b"\x01" * 32, None)
    assert durable.RoundRecord.decode(rnd.encode()) == rnd
    loaded = durable.load({durable.ROUND_KEY: rnd.encode()}, 4)
    assert loaded == (rnd, None)
    assert durable.load({durable.ROUND_KEY: rnd.encode()}, 5) == (None, None)


def test_vote_set_counts_one_vote_per_validator_and_keeps_equivocation_evidence() -> None:
    vs = VoteSet("commit", 3)
    a, b = b"\x0a" * 32, b"\x0b" * 32
    assert vs.add(0, 1, a, b"s1") is None
    assert vs.add(0, 1, a, b"s1'") is None  # a repeat
    ev = vs.add(0, 1, b, b"s2")
    assert vs.add(0, 1, b, b"s2") is None  # reported once per validator and view
    assert vs.add(1, 1, b, b"s3") is None  # another view: not equivocation
    vs.add(0, 2, a, b"t")
    vs.add(0, 0, a, b"u")
    assert vs.count(0, a) == 3 and vs.count(0, b) == 0
    assert vs.has_quorum(0, a, 3) and not vs.has_quorum(1, b, 2)
    assert vs.signatures(0, a) == ((0, b"u"), (1, b"s1"), (2, b"t"))
    assert vs.quorum_blocks(3) == [(0, a)]
    assert ev is not None
    assert (ev.height, ev.view, ev.index, ev.first, ev.second) == (3, 0, 1, (a, b"s1"),
                                                                   (b, b"s2"))
