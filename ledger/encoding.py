"""Canonical encoding (CE, PROTOCOL §1): MessagePack with one encoding per value.

Rules: integers shortest form (msgpack-python's default), no floats, text as ``str``, bytes as
``bin``, maps with ``str`` keys sorted by their UTF-8 bytes, applied recursively. The decoder
is strict: it re-encodes what it decoded and rejects input whose bytes differ.
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


def _canonical(value: Value) -> Value:
    """Return ``value`` with maps key-sorted, checking every type on the way."""
    if value is None or value is True or value is False:
        return value
    t = type(value)
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise EncodingError(f"integer out of the 64-bit range: {value}")
        return value
    if t is str or t is bytes:
        return value
    if t is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                raise EncodingError(f"map key is not text: {k!r}")
            items.append((k.encode("utf-8"), k, _canonical(v)))
        items.sort(key=lambda item: item[0])
        return {k: v for _, k, v in items}
    if t is list or t is tuple:
        return [_canonical(v) for v in value]
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


def decode(data: bytes, max_bytes: int = MAX_ENCODED_BYTES) -> Value:
    """Decode CE bytes, rejecting anything non-canonical, truncated, trailing or oversize."""
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
        )
    except msgpack.ExtraData as exc:
        raise EncodingError("trailing bytes after the encoded value") from exc
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise EncodingError(f"malformed encoding: {exc}") from exc
    # Re-encoding catches floats, unsorted or duplicate keys and non-shortest integers.
    if encode(value) != data:
        raise EncodingError("encoding is not canonical")
    return value


def decode_trusted(data: bytes) -> Value:
    """Decode CE bytes that this node wrote itself and hash-checks elsewhere (state values,
    stored records): no canonical re-check, so reads on the hot path cost one unpack."""
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
