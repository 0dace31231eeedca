"""``../shared/vectors/ce.json``, ``hash.json`` and ``merkle.json`` reproduced byte for byte,
for both suites; and the strict decoder refusing non-canonical variants (PROTOCOL §1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

from ledger import encoding, jsonform
from ledger.crypto import get_suite
from ledger.errors import EncodingError
from ledger.merkle import merkle_root

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
CE = json.loads((VECTORS / "ce.json").read_text())
HASH = json.loads((VECTORS / "hash.json").read_text())
MERKLE = json.loads((VECTORS / "merkle.json").read_text())


@pytest.mark.parametrize("case", CE, ids=[c["ce"] for c in CE])
def test_ce_vector(case: dict[str, Any]) -> None:
    value = jsonform.tagged_from_json(case["value"])
    expected = bytes.fromhex(case["ce"])
    assert encoding.encode(value) == expected
    decoded = encoding.decode(expected)
    assert decoded == value
    assert encoding.encode(decoded) == expected


def test_vector_files_cover_both_suites() -> None:
    assert {c["suite"] for c in HASH} == {c["suite"] for c in MERKLE} == {
        "ed25519-sha256", "sm2-sm3"
    }
    assert len(CE) >= 20


@pytest.mark.parametrize("case", HASH, ids=[f"{c['suite']}-{c['tag']}" for c in HASH])
def test_hash_vector(case: dict[str, Any]) -> None:
    suite = get_suite(case["suite"])
    assert suite.hd(case["tag"], bytes.fromhex(case["data"])).hex() == case["hd"]


@pytest.mark.parametrize(
    "case", MERKLE, ids=[f"{c['suite']}-{len(c['leaves'])}" for c in MERKLE]
)
def test_merkle_vector(case: dict[str, Any]) -> None:
    suite = get_suite(case["suite"])
    leaves = [bytes.fromhex(x) for x in case["leaves"]]
    assert merkle_root(suite, leaves).hex() == case["root"]


def _raw(value: Any, **kw: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True, **kw)  # type: ignore[no-any-return]


NON_CANONICAL = {
    "unsorted keys": b"\x82\xa1b\x01\xa1a\x02",
    "duplicate keys": b"\x82\xa1a\x01\xa1a\x02",
    "nested unsorted keys": b"\x81\xa1o\x82\xa1z\x01\xa1y\x02",
    "int 1 as uint8": b"\xcc\x01",
    "int 255 as uint16": b"\xcd\x00\xff",
    "int 65536 as uint64": b"\xcf\x00\x00\x00\x00\x00\x01\x00\x00",
    "int -1 as int8": b"\xd0\xff",
    "float32": b"\xca\x3f\x80\x00\x00",
    "float64": _raw(1.5),
    "float inside a map": _raw({"x": 0.5}),
    "trailing bytes": b"\x01\x02",
    "truncated string": b"\xa5abc",
    "truncated map": b"\x82\xa1a\x01",
    "truncated bin": b"\xc4\x05\x00",
    "empty input": b"",
    "str8 for a short string": b"\xd9\x01a",
    "bin as str (raw bytes in str type)": b"\xa2\xff\xfe",
    "non-text map key": b"\x81\x01\x02",
    "ext type": b"\xd4\x01\x00",
}


@pytest.mark.parametrize("data", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_decoder_refuses_non_canonical(data: bytes) -> None:
    with pytest.raises(EncodingError):
        encoding.decode(data)


def test_decoder_bounds_the_input_size() -> None:
    data = encoding.encode("x" * 100)
    assert encoding.decode(data, max_bytes=len(data)) == "x" * 100
    with pytest.raises(EncodingError, match="above the bound"):
        encoding.decode(data, max_bytes=len(data) - 1)


@pytest.mark.parametrize("value", [1.0, {1: 2}, {b"k": 1}, 1 << 64, -(1 << 63) - 1, object()])
def test_encoder_refuses_what_ce_cannot_carry(value: Any) -> None:
    with pytest.raises(EncodingError):
        encoding.encode(value)
