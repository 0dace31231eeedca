"""Canonical encoding (CE, PROTOCOL §1): MessagePack with one encoding per value.

Rules: integers shortest form (msgpack-python's default), no floats, text as ``str``, bytes as
``bin``, maps with ``str`` keys sorted by their UTF-8 bytes, applied recursively. The decoder
is strict: it checks key order and types while unpacking, re-encodes what it decoded
and rejects input whose bytes differ.

Both directions run in C (``ledger/_ce_native.c``, one pass over the value or the bytes)
when that optional extension built; the Python functions below are the reference and the
fallback, and give the same bytes and the same verdicts (``tests/test_ce_native.py``).
``CREDCHAIN_CE_PURE=1`` in the environment forces the Python path (A/B benchmarks, tests);
``NATIVE`` says which path runs.

Both directions are bounded in nesting (``ledger.limits.MAX_CE_DEPTH`` unless the caller
passes a smaller bound): a value nested deeper is an ``EncodingError``, never a
``RecursionError``. Both walks (the encoder's, and the decoder's check of what msgpack
unpacked, which unpacks iteratively in C within its own bound) are recursive but stop at
the bound.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import msgpack

from ledger.errors import EncodingError
from ledger.limits import INT_MAX as _INT_MAX
from ledger.limits import INT_MIN as _INT_MIN
from ledger.limits import MAX_CE_BYTES, MAX_CE_DEPTH

# Every value that goes through CE is bounded; callers may pass a smaller bound.
MAX_ENCODED_BYTES = MAX_CE_BYTES

Value = Any  # None | bool | int | str | bytes | list[Value] | dict[str, Value]
_LEAVES = frozenset({str, bytes, type(None), bool})


def _canonical(value: Value, room: int) -> Value:
    """Return ``value`` with maps key-sorted, checking every type on the way; ``room`` is
    how many more levels of containers may open (the recursion stops there)."""
    t = type(value)
    if t is str or t is bytes or value is None or t is bool:
        return value
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise EncodingError(f"integer out of the 64-bit range: {value}")
        return value
    if t is dict:
        if room <= 0:
            raise _too_deep()
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
            out[k] = v if type(v) in _LEAVES else _canonical(v, room - 1)
        return out
    if t is list or t is tuple:
        if room <= 0:
            raise _too_deep()
        return [v if type(v) in _LEAVES else _canonical(v, room - 1) for v in value]
    if isinstance(value, bool | int):  # subclasses such as IntEnum
        return _canonical(int(value), room)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise EncodingError(f"type {t.__name__} has no canonical encoding")


class TooDeep(EncodingError):
    """A value nested deeper than the bound its encoder or decoder was given."""


def _too_deep() -> EncodingError:
    return TooDeep(f"value nested deeper than {MAX_CE_DEPTH} levels")


def _import_native() -> ModuleType | None:
    if os.environ.get("CREDCHAIN_CE_PURE", "") not in ("", "0"):
        return None
    try:
        from ledger import _ce_native  # type: ignore[attr-defined]
    except ImportError:
        return None
    module: ModuleType = _ce_native
    module.bind(EncodingError, TooDeep, MAX_CE_DEPTH)
    return module


_native = _import_native()
NATIVE = _native is not None


def encode(value: Value) -> bytes:
    """Encode ``value`` canonically; raises EncodingError for anything CE cannot carry,
    including a value nested deeper than ``MAX_CE_DEPTH``."""
    if _native is not None:
        return _native.encode(value)  # type: ignore[no-any-return]
    return encode_pure(value)


def encode_pure(value: Value) -> bytes:
    """``encode`` in Python (msgpack after a walk that sorts maps and checks types)."""
    try:
        return msgpack.packb(  # type: ignore[no-any-return]
            _canonical(value, MAX_CE_DEPTH), use_bin_type=True)
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
_DECODED_SCALARS = frozenset({type(None), bool, int, str, bytes})


class _Deeper(Exception):
    """Raised inside ``_check_decoded`` at a container beyond the bound (``decode`` turns it
    into the ``TooDeep`` naming that bound)."""


def _check_decoded(value: Any, room: int) -> None:
    """Raise unless, in the container ``value`` as msgpack unpacked it, every map's keys are
    text in strictly increasing order (code point order is UTF-8 byte order; a key repeated
    in the input was collapsed by the unpacker, which the re-encoding then catches), every
    value has a CE type and containers nest at most ``room`` levels. Recursive, but never
    more than ``room`` (at most ``MAX_CE_DEPTH``) calls deep; checked inline rather than
    through helpers: this runs for every container of every decoded value."""
    if room <= 0:
        raise _Deeper
    if type(value) is dict:
        prev: str | None = None
        for k, v in value.items():
            if type(k) is not str:
                raise EncodingError(f"map key is not text: {k!r}")
            if prev is not None and not prev < k:
                raise EncodingError("encoding is not canonical: map keys unsorted or repeated")
            prev = k
            t = type(v)
            if t is dict or t is list:
                _check_decoded(v, room - 1)
            elif t not in _DECODED_SCALARS:
                raise EncodingError(f"type {t.__name__} has no canonical encoding")
        return
    for v in value:
        t = type(v)
        if t is dict or t is list:
            _check_decoded(v, room - 1)
        elif t not in _DECODED_SCALARS:
            raise EncodingError(f"type {t.__name__} has no canonical encoding")


def decode(data: bytes, max_bytes: int = MAX_ENCODED_BYTES,
           max_depth: int = MAX_CE_DEPTH) -> Value:
    """Decode CE bytes, rejecting anything non-canonical, truncated, trailing, oversize or
    nested deeper than ``max_depth``."""
    if _native is None:
        return decode_pure(data, max_bytes, max_depth)
    return _native.decode(_checked_input(data, max_bytes, max_depth), max_depth)


def _checked_input(data: bytes, max_bytes: int, max_depth: int) -> bytes:
    """``data`` as bytes, within ``max_bytes``; both decoders' first step."""
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
    if len(data) > max_bytes:
        raise EncodingError(f"encoding is {len(data)} bytes, above the bound of {max_bytes}")
    if not 1 <= max_depth <= MAX_CE_DEPTH:
        # Deeper values could not be encoded again; a caller asking for that is a bug.
        raise ValueError(f"max_depth must be in 1..{MAX_CE_DEPTH}, got {max_depth}")
    return data


def decode_pure(data: bytes, max_bytes: int = MAX_ENCODED_BYTES,
                max_depth: int = MAX_CE_DEPTH) -> Value:
    """``decode`` in Python.

    The unpacked value is walked once to check that map keys are text in strictly
    increasing order, that every value has a CE type (no floats, no ext types) and that the
    nesting stays within ``max_depth`` (``_check_decoded``); then the value, whose maps are
    therefore in canonical order, is packed again as is and must give back ``data``
    exactly (shortest integers and lengths, bin vs str, no key repeated).
    Together that is ``encode(decode(data)) == data`` without a Python walk that re-sorts."""
    data = _checked_input(data, max_bytes, max_depth)
    try:
        # Unpacked in C as it is, then checked in one walk: hooks called by the unpacker
        # for every map and array cost more than the walk.
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
        if type(value) is dict or type(value) is list:
            _check_decoded(value, max_depth)
    except EncodingError:
        raise
    except _Deeper:
        raise TooDeep(f"value nested deeper than {max_depth} levels") from None
    except msgpack.ExtraData as exc:
        raise EncodingError("trailing bytes after the encoded value") from exc
    except msgpack.StackError as exc:  # msgpack's own bound, far above ours
        raise TooDeep(f"value nested deeper than {max_depth} levels") from exc
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
