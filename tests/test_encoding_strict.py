"""The strict decoder's canonical check (a walk plus one re-pack) against the definition:
``decode(data)`` succeeds exactly when ``encode(unpack(data)) == data``; and its nesting
bound, exact too."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import TooDeep, decode, encode
from ledger.errors import EncodingError
from ledger.limits import MAX_CE_DEPTH

_scalars = st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | st.text(
    max_size=8
) | st.binary(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _by_definition(data: bytes) -> Any:
    """The reference rule: unpack leniently, canonical iff re-encoding gives the bytes."""
    value = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if encode(value) != data:
        raise EncodingError("not canonical")
    return value


@settings(max_examples=300, deadline=None)
@given(_values, st.data())
def test_decoder_agrees_with_the_definition_on_mutated_input(value: Any, data: Any) -> None:
    raw = bytearray(encode(value))
    assert decode(bytes(raw)) == value
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    try:
        expected: Any = _by_definition(bytes(raw))
    except Exception:  # the reference refuses: so must the strict decoder
        with pytest.raises(EncodingError):
            decode(bytes(raw))
        return
    assert decode(bytes(raw)) == expected


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "data",
    [
        _pack(1.5),  # float64 at the top
        _pack([1, 2.0]),  # float inside an array
        _pack({"a": {"b": 0.25}}),  # float inside a nested map
        b"\xca" + struct.pack(">f", 1.0),  # float32
        _pack(msgpack.ExtType(5, b"xy")),  # ext type
        _pack([msgpack.ExtType(1, b"")]),  # ext inside an array
        _pack({"a": msgpack.Timestamp(1, 0)}),  # timestamp ext in a map
        b"\x82\xa1b\x01\xa1a\x02",  # keys out of order
        b"\x82\xa1a\x01\xa1a\x02",  # a repeated key
        b"\x81\xc4\x01a\x01",  # a bin key
        b"\x81\x01\x01",  # an integer key
        b"\xcc\x05",  # 5 as uint8 (not shortest)
        b"\xd9\x01a",  # "a" as str8
        b"\xdc\x00\x01\x01",  # array16 of one element
        _pack(1) + b"\x00",  # trailing bytes
        b"\x92\x01",  # truncated
    ],
)
def test_non_canonical_inputs_are_refused(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode(data)


def test_unicode_keys_sort_by_utf8_bytes() -> None:
    # "é" (U+00E9, C3 A9) sorts after "z" (7A) in code points and in UTF-8 alike.
    value = {"z": 1, "é": 2, "a": 3}
    data = encode(value)
    assert list(decode(data)) == ["a", "z", "é"]
    with pytest.raises(EncodingError):
        decode(b"\x82\xa2\xc3\xa9\x01\xa1z\x02")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_nested = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_nested, st.integers(1, 8))
def test_the_depth_bound_is_exact(value: Any, bound: int) -> None:
    """``decode(data, max_depth=d)`` accepts exactly the values of at most ``d`` nested
    containers (a scalar has depth 0), and says so when it refuses."""
    data = encode(value)
    if _depth(value) <= bound:
        assert decode(data, max_depth=bound) == value
    else:
        with pytest.raises(TooDeep, match=f"nested deeper than {bound} levels"):
            decode(data, max_depth=bound)


def test_a_depth_bound_beyond_what_the_encoder_allows_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        decode(b"\xc0", max_depth=MAX_CE_DEPTH + 1)
    with pytest.raises(ValueError, match="max_depth"):
        decode(b"\xc0", max_depth=0)
