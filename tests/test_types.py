"""Typed values: strict decoding of transactions, headers, blocks and QCs, and QC validity
under PROTOCOL §5 (quorum, vote order, signer, validator set)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import encoding
from ledger.block import (
    QC,
    Block,
    Header,
    Validator,
    commit_vote_bytes,
    quorum,
    tx_root,
    validators_from_obj,
    validators_hash,
    verify_qc,
)
from ledger.crypto import ED25519_SHA256, SM2_SM3, ZERO_HASH, Suite
from ledger.errors import EncodingError, InvalidInput, ProofError
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx

SUITES = [ED25519_SHA256, SM2_SM3]


def test_quorum_matches_protocol_table() -> None:
    assert [quorum(n) for n in (1, 4, 5, 6, 7, 10)] == [1, 3, 4, 4, 5, 7]


def make_set(suite: Suite, n: int) -> tuple[list[bytes], tuple[Validator, ...]]:
    secrets = [suite.generate_secret() for _ in range(n)]
    vals = tuple(Validator(f"node{i}", suite.public_key(s)) for i, s in enumerate(secrets))
    return secrets, vals


def make_header(suite: Suite, vals: tuple[Validator, ...], height: int = 1) -> Header:
    vh = validators_hash(suite, vals)
    return Header(
        "test",
        height,
        ZERO_HASH,
        1_700_000_000_000,
        0,
        0,
        suite.hash(b""),
        suite.hash(b""),
        ZERO_HASH,
        vh,
        vh,
    )


def sign_qc(suite: Suite, secrets: list[bytes], header: Header, signers: list[int]) -> QC:
    h = header.hash(suite)
    msg = commit_vote_bytes(header.chain_id, header.height, header.view, h)
    return QC(
        header.height, header.view, h, tuple((i, suite.sign(secrets[i], msg)) for i in signers)
    )


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_qc_validity(suite: Suite) -> None:
    secrets, vals = make_set(suite, 4)
    header = make_header(suite, vals)
    qc = sign_qc(suite, secrets, header, [0, 1, 3])
    verify_qc(suite, qc, header, vals)
    assert QC.decode(qc.encode()) == qc

    with pytest.raises(ProofError, match="below the quorum"):
        verify_qc(suite, sign_qc(suite, secrets, header, [0, 1]), header, vals)
    with pytest.raises(ProofError, match="sorted"):
        verify_qc(suite, QC(qc.height, qc.view, qc.block_hash, qc.votes[::-1]), header, vals)
    dup = QC(qc.height, qc.view, qc.block_hash, (qc.votes[0], qc.votes[0], qc.votes[1]))
    with pytest.raises(ProofError, match="sorted|twice"):
        verify_qc(suite, dup, header, vals)
    wrong_signer = QC(
        qc.height,
        qc.view,
        qc.block_hash,
        ((0, qc.votes[0][1]), (1, qc.votes[1][1]), (2, qc.votes[2][1])),
    )
    with pytest.raises(ProofError, match="validator 2"):
        verify_qc(suite, wrong_signer, header, vals)
    with pytest.raises(ProofError, match="another block"):
        verify_qc(suite, qc, header.with_changes(time_ms=header.time_ms + 1), vals)
    _, other_vals = make_set(suite, 4)
    with pytest.raises(ProofError, match="another validator set"):
        verify_qc(suite, qc, header, other_vals)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_tx_id_does_not_cover_the_signature_and_signature_checks(suite: Suite) -> None:
    secret = suite.generate_secret()
    body = TxBody("test", suite.public_key(secret), 0, "gov.vote", {"proposal": 1})
    tx = sign_tx(suite, secret, body)
    assert tx.verify_signature(suite)
    again = SignedTx.decode(tx.encode())
    assert again.tx_id(suite) == tx.tx_id(suite)
    assert SignedTx(body, bytes(64)).tx_id(suite) == tx.tx_id(suite)
    assert not SignedTx(body, bytes(64)).verify_signature(suite)
    tampered = TxBody("test", body.sender, 1, body.call, body.args)
    assert not SignedTx(tampered, tx.sig).verify_signature(suite)


@pytest.mark.parametrize(
    "obj, reason",
    [
        ({"body": {}, "sig": bytes(64)}, "missing"),
        (
            {
                "body": {"chain_id": "c", "sender": b"k", "nonce": -1, "call": "a.b", "args": {}},
                "sig": bytes(64),
            },
            "≥ 0",
        ),
        (
            {
                "body": {"chain_id": "c", "sender": b"k", "nonce": 0, "call": "ab", "args": {}},
                "sig": bytes(64),
            },
            "contract.method",
        ),
        (
            {
                "body": {"chain_id": "c", "sender": b"k", "nonce": 0, "call": "a.b", "args": {}},
                "sig": bytes(63),
            },
            "64 bytes",
        ),
        (
            {
                "body": {
                    "chain_id": "c",
                    "sender": b"k",
                    "nonce": 0,
                    "call": "a.b",
                    "args": {},
                    "extra": 1,
                },
                "sig": bytes(64),
            },
            "unknown field",
        ),
        (
            {
                "body": {"chain_id": "c", "sender": b"k", "nonce": True, "call": "a.b", "args": {}},
                "sig": bytes(64),
            },
            "integer",
        ),
    ],
)
def test_malformed_transactions_are_refused_with_the_reason(obj: dict[str, Any],
                                                           reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        SignedTx.decode(encoding.encode(obj))


def test_non_canonical_and_truncated_bytes_are_refused() -> None:
    secret = ED25519_SHA256.generate_secret()
    body = TxBody("test", ED25519_SHA256.public_key(secret), 0, "a.b", {"x": 1})
    data = sign_tx(ED25519_SHA256, secret, body).encode()
    with pytest.raises(EncodingError):
        SignedTx.decode(data[:-1])
    with pytest.raises(EncodingError):
        SignedTx.decode(data + b"\x00")
    # Swap the two top-level keys' order: same value, non-canonical bytes.
    obj = encoding.decode(data)
    import msgpack

    swapped = msgpack.packb({"sig": obj["sig"], "body": obj["body"]}, use_bin_type=True)
    with pytest.raises(EncodingError, match="not canonical"):
        SignedTx.decode(swapped)


def test_block_round_trip_and_tx_root_check() -> None:
    suite = ED25519_SHA256
    secret = suite.generate_secret()
    txs = tuple(
        sign_tx(suite, secret, TxBody("test", suite.public_key(secret), n, "a.b", {}))
        for n in range(3)
    )
    _, vals = make_set(suite, 4)
    header = make_header(suite, vals).with_changes(tx_root=tx_root(suite, txs))
    block = Block(header, txs)
    again = Block.decode(block.encode())
    assert again.hash(suite) == block.hash(suite)
    again.check_tx_root(suite)
    with pytest.raises(InvalidInput, match="tx_root"):
        Block(header, txs[:2]).check_tx_root(suite)


def test_validator_set_rules() -> None:
    pk = bytes(32)
    with pytest.raises(InvalidInput, match="twice"):
        validators_from_obj([{"name": "a", "pubkey": pk}, {"name": "b", "pubkey": pk}])
    with pytest.raises(InvalidInput, match="non-empty"):
        validators_from_obj([])


def test_receipt_hash_covers_code_and_events() -> None:
    r = Receipt(bytes(32), "OK", "", ({"type": "x"},))
    assert r.hash(ED25519_SHA256) != Receipt(bytes(32), "E_X", "", ({"type": "x"},)).hash(
        ED25519_SHA256
    )
    assert r.hash(ED25519_SHA256) != Receipt(bytes(32), "OK", "", ()).hash(ED25519_SHA256)
    assert Receipt.from_obj(encoding.decode(encoding.encode(r.to_obj()))) == r
