"""Every decoder of outside bytes raises nothing but the documented error types.

Transactions, blocks, QCs, receipts, consensus messages, peer frames, a replica's stored
records and proof bundles: random bytes, values nested thousands deep, containers wider
than their input, mutated and truncated valid encodings, and well-formed maps with the
right field names holding the wrong values. Each decoder either returns or raises
``InvalidInput`` (its subclasses ``EncodingError``, ``WireError``, ``ProofError`` included);
never ``RecursionError``, ``KeyError``, ``TypeError``, ``MemoryError`` or anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus import wire
from consensus.durable import PreparedRecord, RoundRecord
from consensus.messages import (
    Commit,
    Message,
    NewView,
    PreparedCert,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
)
from ledger import encoding, limits
from ledger.block import QC, Block, Header
from ledger.bundle import decode_bundle
from ledger.crypto import ED25519_SHA256, ZERO_HASH
from ledger.errors import InvalidInput
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx
from tests.adversarial.attacks import nested_arrays, nested_maps

SUITE = ED25519_SHA256

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "ce": encoding.decode,
    "tx": SignedTx.decode,
    "block": Block.decode,
    "qc": QC.decode,
    "receipt": lambda d: Receipt.from_obj(encoding.decode(d)),
    "message": decode_message,
    "frame": wire.decode_frame,
    "round record": RoundRecord.decode,
    "prepared record": PreparedRecord.decode,
    "bundle": decode_bundle,
}


def only_documented_errors(data: bytes) -> None:
    for name, decode in DECODERS.items():
        try:
            decode(data)
        except InvalidInput:
            pass
        except Exception as exc:  # the finding: any other type escaping
            raise AssertionError(f"{name} decoder raised {type(exc).__name__}: {exc}") from exc


def _valid_encodings() -> list[bytes]:
    """One valid encoding of everything the decoders read, to mutate."""
    secret = SUITE.generate_secret()
    txs = tuple(sign_tx(SUITE, secret, TxBody("c", SUITE.public_key(secret), n, "a.b",
                                              {"k": [n, {"x": b"y"}], "s": "t"}))
                for n in range(2))
    header = Header("c", 1, ZERO_HASH, 5, 0, 0, ZERO_HASH, ZERO_HASH, ZERO_HASH, ZERO_HASH,
                    ZERO_HASH)
    block = Block(header, txs)
    h = block.hash(SUITE)
    cert = PreparedCert(1, 0, h, ((0, bytes(64)), (1, bytes(64))))
    vc = ViewChange(1, 1, 0, cert, block, bytes(64))
    msgs: list[Message] = [PrePrepare(1, 0, 0, block, bytes(64)), Commit(1, 0, 2, h, bytes(64)), vc,
            NewView(1, 1, 1, (vc.stripped(),), block, bytes(64))]
    out = [t.encode() for t in txs] + [block.encode(), QC(1, 0, h, ((0, bytes(64)),)).encode(),
                                       Receipt(h, "OK", "", ({"type": "a.b"},)).encode(),
                                       PreparedRecord(1, cert, block).encode(),
                                       RoundRecord(1, 0, False, h, None).encode()]
    out += [encode_message(m) for m in msgs]
    out += [wire.encode_frame(wire.CONSENSUS, 2, {"msg": encode_message(msgs[1])}),
            wire.encode_frame(wire.TXS, 3, {"txs": [txs[0].encode()]}),
            wire.encode_frame(wire.BLOCKS, 4, {"blocks": [[block.encode(), b"q"]]}),
            wire.encode_frame(wire.HELLO, 0, {"chain_id": "c", "index": 1,
                                              "nonce": bytes(32)})]
    return out


VALID = _valid_encodings()
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    only_documented_errors(data)


@FUZZ
@given(st.sampled_from(range(len(VALID))), st.data())
def test_mutated_valid_encodings(index: int, data: Any) -> None:
    raw = bytearray(VALID[index])
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if action == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[pos:]
        elif action == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=9))
        elif raw:
            del raw[pos]
    only_documented_errors(bytes(raw))


@FUZZ
@given(st.integers(1, 3000), st.sampled_from([nested_maps, nested_arrays]),
       st.sampled_from([b"\xc0", b"\x01", b"\xa1x", b"\xc4\x00", b"\x90", b"\x80"]),
       st.binary(max_size=4))
def test_deep_structures(depth: int, wrap: Any, leaf: bytes, junk: bytes) -> None:
    data = wrap(depth, leaf)
    only_documented_errors(data)
    only_documented_errors(wrap(depth, junk))
    levels = depth + (leaf in (b"\x90", b"\x80"))  # an empty container is one more
    if levels > limits.MAX_CE_DEPTH:
        with pytest.raises(InvalidInput, match="nested deeper"):
            encoding.decode(data)
    else:
        assert encoding.encode(encoding.decode(data)) == data


@pytest.mark.parametrize("data", [
    b"\xdd\xff\xff\xff\xff",  # an array of 2**32 - 1 items in five bytes
    b"\xdf\xff\xff\xff\xff",  # a map of as many
    b"\xc6\xff\xff\xff\xff",  # a byte string of 4 GiB, absent
    b"\xdc\xff\xff" + b"\xc0" * 100,  # an array16 that claims more than it holds
    b"\x91" * 1100 + b"\xc0",  # past msgpack's own stack
    b"\x81\xa1a" * 5000 + b"\x01",
    b"\x82\xa4body" + b"\x81\xa1a" * 2000 + b"\x01\xa3sig\xc4\x40" + bytes(64),
])
def test_wide_and_lying_containers(data: bytes) -> None:
    only_documented_errors(data)


_scalar = (st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1)
           | st.text(max_size=6) | st.binary(max_size=70))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
_FIELDS = ["type", "height", "view", "sender", "block", "sig", "block_hash", "votes", "header",
           "txs", "body", "chain_id", "nonce", "call", "args", "prepared", "view_changes",
           "cert", "in_view_change", "prepare", "commit", "tx_id", "code", "message", "events",
           "msg", "from_height", "max_blocks", "blocks", "index", "version", "proof", "qc"]
_KINDS = ["pre_prepare", "prepare", "commit", "view_change", "new_view", "x"]


@FUZZ
@given(st.dictionaries(st.sampled_from(_FIELDS), _value, max_size=8),
       st.sampled_from(_KINDS), st.integers(0, 0x20))
def test_right_field_names_wrong_values(fields: dict[str, Any], kind: str,
                                        frame_kind: int) -> None:
    for obj in (fields, {**fields, "type": kind}, {"body": fields, "sig": bytes(64)},
                {"header": fields, "txs": [fields]}):
        data = encoding.encode(obj)
        only_documented_errors(data)
        only_documented_errors(bytes((frame_kind,)) + bytes(8) + data)
