"""Encodings and hashes that are kept or assembled instead of recomputed must equal the
canonical encoding computed from scratch, and the fast decode paths refuse what the
field-by-field paths refuse."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import encoding, tags
from ledger.block import Block, Header, tx_root
from ledger.crypto import get_suite
from ledger.errors import EncodingError, InvalidInput
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx, wire_tx_id

SUITES = ["ed25519-sha256", "sm2-sm3"]


def _txs(suite_name: str, n: int) -> list[SignedTx]:
    suite = get_suite(suite_name)
    secret = suite.generate_secret()
    sender = suite.public_key(secret)
    return [sign_tx(suite, secret, TxBody("c", sender, i, "x.y", {"i": i, "é": [b"\x00", None]}))
            for i in range(n)]


def _header(height: int = 1) -> Header:
    z = b"\x00" * 32
    return Header("c", height, z, 5, 0, 1, z, z, z, z, z)


@pytest.mark.parametrize("suite_name", SUITES)
def test_decoded_tx_keeps_its_bytes_and_the_body_slice(suite_name: str) -> None:
    suite = get_suite(suite_name)
    tx = _txs(suite_name, 1)[0]
    data = encoding.encode(tx.to_obj())
    got = SignedTx.decode(data)
    assert got.encode() == data
    assert got.body.encoded == encoding.encode(tx.body.to_obj())
    assert got.tx_id(suite) == suite.hd(tags.TX_ID, encoding.encode(tx.body.to_obj()))
    assert got == tx and got.verify_signature(suite)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 70])
def test_assembled_block_encoding_is_the_canonical_one(n: int) -> None:
    txs = _txs("ed25519-sha256", n)
    # Half the transactions carry the bytes they were decoded from, half encode fresh.
    mixed = tuple(SignedTx.decode(t.encode()) if i % 2 else t for i, t in enumerate(txs))
    block = Block(_header(), mixed)
    data = block.encode()
    assert data == encoding.encode(block.to_obj())
    assert Block.decode(data) == block


@pytest.mark.parametrize("suite_name", SUITES)
def test_computed_tx_root_is_the_merkle_root_and_checks_the_header(suite_name: str) -> None:
    suite = get_suite(suite_name)
    txs = tuple(_txs(suite_name, 5))
    root = tx_root(suite, txs)
    block = Block(_header().with_changes(tx_root=root), txs)
    assert block.computed_tx_root(suite) == root
    block.check_tx_root(suite)
    wrong = Block(_header().with_changes(tx_root=b"\x01" * 32), txs)
    with pytest.raises(InvalidInput):
        wrong.check_tx_root(suite)


@pytest.mark.parametrize("suite_name", SUITES)
def test_receipt_hash_and_encoding(suite_name: str) -> None:
    suite = get_suite(suite_name)
    r = Receipt(b"\x07" * 32, "OK", "", ({"kind": "x", "n": 3},))
    obj = r.to_obj()
    assert r.encode() == encoding.encode(obj)
    assert r.hash(suite) == suite.hd(tags.RECEIPT, encoding.encode(obj))
    assert r.hash(suite) == r.hash(suite)
    many = [r, Receipt(b"\x08" * 32, "E_X", "no")]
    assert encoding.encode_array_of([x.encode() for x in many]) == encoding.encode(
        [x.to_obj() for x in many])


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"chain_id": "c", "sender": b"\x01" * 32, "nonce": 0, "call": "a.b",
                            "args": {}}
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "body",
    [
        _body(nonce=True),
        _body(nonce=-1),
        _body(call="ab"),
        _body(call="a." + "b" * 64),
        _body(sender=b"\x01" * 66),
        _body(sender="text"),
        _body(chain_id="c" * 257),
        _body(args=[]),
        _body(extra=1),
        {k: v for k, v in _body().items() if k != "args"},
    ],
)
def test_bad_bodies_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        TxBody.from_obj(body)
    with pytest.raises(InvalidInput):
        SignedTx.from_obj({"body": body, "sig": b"\x00" * 64})


@pytest.mark.parametrize("sig", [b"\x00" * 63, b"\x00" * 65, "x" * 64])
def test_bad_signature_fields_are_refused(sig: Any) -> None:
    with pytest.raises(InvalidInput):
        SignedTx.from_obj({"body": _body(), "sig": sig})


def test_good_body_decodes_the_same_on_both_paths() -> None:
    from collections import OrderedDict

    fast = TxBody.from_obj(_body(args={"k": 1}))
    slow = TxBody.from_obj(OrderedDict(_body(args={"k": 1})))  # not a dict: the general path
    assert fast == slow


def test_prepared_record_and_tx_locations_assemble_the_canonical_encoding() -> None:
    from consensus.durable import PreparedRecord
    from consensus.messages import PreparedCert

    txs = tuple(_txs("ed25519-sha256", 17))
    block = Block(_header(7), tuple(SignedTx.decode(t.encode()) for t in txs))
    cert = PreparedCert(7, 0, b"\x03" * 32, ((0, b"\x01" * 64), (2, b"\x02" * 64)))
    rec = PreparedRecord(7, cert, block)
    expected = encoding.encode({"height": 7, "cert": cert.to_obj(), "block": block.to_obj()})
    assert rec.encode() == expected
    assert PreparedRecord.decode(expected) == rec
    for height, index in ((0, 0), (1, 127), (128, 128), (1 << 32, 65536)):
        got = b"\x92" + encoding.encode_int(height) + encoding.encode_int(index)
        assert got == encoding.encode([height, index])
    for bad in (-(1 << 63) - 1, 1 << 64, True):
        with pytest.raises(EncodingError):
            encoding.encode_int(bad)


def test_merkle_roots_kept_are_the_roots_of_their_leaves() -> None:
    from ledger.block import receipts_root
    from ledger.merkle import merkle_root

    suite = get_suite("ed25519-sha256")
    txs = _txs("ed25519-sha256", 9)
    assert tx_root(suite, txs) == merkle_root(suite, [t.tx_id(suite) for t in txs])
    assert tx_root(suite, txs[:8]) != tx_root(suite, txs)  # other leaves, other root
    rs = [Receipt(t.tx_id(suite), "OK") for t in txs]
    assert receipts_root(suite, rs) == merkle_root(suite, [r.hash(suite) for r in rs])
    for _ in range(20):  # more distinct leaf sets than are kept: still right
        more = _txs("ed25519-sha256", 2)
        assert tx_root(suite, more) == merkle_root(suite, [t.tx_id(suite) for t in more])


@pytest.mark.parametrize("suite_name", SUITES)
def test_wire_tx_id_is_the_id_of_the_body_the_bytes_carry(suite_name: str) -> None:
    suite = get_suite(suite_name)
    tx = _txs(suite_name, 1)[0]
    data = tx.encode()
    assert wire_tx_id(suite, data) == tx.tx_id(suite)
    # another signature over the same body: the same id (the id does not cover it)
    assert wire_tx_id(suite, data[:-64] + bytes(64)) == tx.tx_id(suite)
    for other in (b"", b"\x80", data[:10], data + b"\x00", encoding.encode({"body": 1, "sig": 2}),
                  encoding.encode({"body": tx.body.to_obj(), "sig": b"short"})):
        assert wire_tx_id(suite, other) is None
