"""Canonical encoding (CE, PROTOCOL §1): MessagePack with one encoding per value.

Rules: integers shortest form (msgpack-python's default), no floats, text as ``str``, bytes as
``bin``, maps with ``str`` keys sorted by their UTF-8 bytes, applied recursively. The decoder
is strict: it checks key order and types while unpacking, re-encodes what it decoded
and rejects input whose bytes differ.
"""

from __future__ import annotations

from typing import Any

import msgpack

from ledger.errors import EncodingError

# Every value that goes through CE is bounded; callers may pass a smaller bound.
MAX_ENCODED_BYTES = 16 * 1024 * 1024
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1

Value = Any  # None | bool | int | str | bytes | list[Value] | dict[str, Value]
_LEAVES = frozenset({str, bytes, type(None), bool})


def _canonical(value: Value) -> Value:
    """Return ``value`` with maps key-sorted, checking every type on the way."""
    t = type(value)
    if t is str or t is bytes or value is None or t is bool:
        return value
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise EncodingError(f"integer out of the 64-bit range: {value}")
        return value
    if t is dict:
        keys = list(value)
        for k in keys:
            if type(k) is not str:
                raise EncodingError(f"map key is not text: {k!r}")
        # Code point order is UTF-8 byte order (UTF-8 preserves it), so no key is encoded
        # here; a key with a lone surrogate fails in packb (caught by ``encode``).
        keys.sort()
        out = {}
        for k in keys:
            v = value[k]
            # Text and bytes are the common leaves: kept as they are without a call.
            out[k] = v if type(v) in _LEAVES else _canonical(v)
        return out
    if t is list or t is tuple:
        return [v if type(v) in _LEAVES else _canonical(v) for v in value]
    if isinstance(value, bool | int):  # subclasses such as IntEnum
        return _canonical(int(value))
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise EncodingError(f"type {t.__name__} has no canonical encoding")


def encode(value: Value) -> bytes:
    """Encode ``value`` canonically; raises EncodingError for anything CE cannot carry."""
    try:
        return msgpack.packb(_canonical(value), use_bin_type=True)  # type: ignore[no-any-return]
    except EncodingError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodingError(f"cannot encode: {exc}") from exc


_PACKER = msgpack.Packer(use_bin_type=True)


def encode_array_of(encoded_items: list[bytes]) -> bytes:
    """CE of an array given each element's CE (the array header, then the elements as
    they are): lets a block or a receipts record reuse encodings its parts already hold."""
    header: bytes = _PACKER.pack_array_header(len(encoded_items))
    return header + b"".join(encoded_items)


def encode_int(value: int) -> bytes:
    """CE of one integer (range-checked), without the general walk: the store writes one
    per transaction."""
    if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
        raise EncodingError(f"not a 64-bit integer: {value!r}")
    return _PACKER.pack(value)  # type: ignore[no-any-return]


# The types a decoded value may hold: msgpack also yields float, ExtType and Timestamp,
# which CE does not carry.
_DECODED_TYPES = frozenset({type(None), bool, int, str, bytes, list, dict})


def _check_pairs(pairs: list[tuple[Any, Value]]) -> dict[str, Value]:
    """``object_pairs_hook``: text keys in strictly increasing order (no duplicates), values
    of CE types. Code point order is UTF-8 byte order."""
    prev: str | None = None
    for k, v in pairs:
        if type(k) is not str:
            raise EncodingError(f"map key is not text: {k!r}")
        if prev is not None and not prev < k:
            raise EncodingError("encoding is not canonical: map keys unsorted or repeated")
        prev = k
        if type(v) not in _DECODED_TYPES:
            raise EncodingError(f"type {type(v).__name__} has no canonical encoding")
    return dict(pairs)


def _check_items(items: list[Value]) -> list[Value]:
    """``list_hook``: every element of an array is of a CE type."""
    for v in items:
        if type(v) not in _DECODED_TYPES:
            raise EncodingError(f"type {type(v).__name__} has no canonical encoding")
    return items


def decode(data: bytes, max_bytes: int = MAX_ENCODED_BYTES) -> Value:
    """Decode CE bytes, rejecting anything non-canonical, truncated, trailing or oversize.

    The unpacker's hooks check, per map and array as it is built, that map keys are text in
    strictly increasing order and that every value has a CE type (no floats, no ext types);
    then the value, whose maps are therefore already in canonical order, is packed again
    as is and must give back ``data`` exactly (shortest integers and lengths, bin vs str).
    Together that is ``encode(decode(data)) == data`` without a Python walk that re-sorts."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise EncodingError(f"encoding is {len(data)} bytes, above the bound of {max_bytes}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            object_pairs_hook=_check_pairs,
            list_hook=_check_items,
        )
    except EncodingError:
        raise
    except msgpack.ExtraData as exc:
        raise EncodingError("trailing bytes after the encoded value") from exc
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise EncodingError(f"malformed encoding: {exc}") from exc
    if type(value) not in _DECODED_TYPES:
        raise EncodingError(f"type {type(value).__name__} has no canonical encoding")
    try:
        again = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodingError(f"cannot encode: {exc}") from exc
    # Re-encoding catches non-shortest integers, lengths and str/bin forms.
    if again != data:
        raise EncodingError("encoding is not canonical")
    return value


def decode_trusted(data: bytes) -> Value:
    """Decode CE bytes that this node wrote itself and hash-checks elsewhere (state values,
    stored records): no canonical re-check, so reads on the hot path cost one unpack."""
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
