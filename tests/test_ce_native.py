"""The canonical encoding in C (``ledger/_ce_native.c``) against the Python reference in
``ledger/encoding.py``: the same bytes for every value, the same values for every input,
the same refusals (and error classes) for what CE cannot carry; the vectors of
``../shared/vectors/ce.json`` reproduced by both; and the Python path in use, and
correct, when ``CREDCHAIN_CE_PURE`` is set."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import encoding, jsonform
from ledger.encoding import TooDeep
from ledger.errors import EncodingError
from ledger.limits import INT_MAX, INT_MIN, MAX_CE_DEPTH

ROOT = Path(__file__).resolve().parents[1]
CE = json.loads((ROOT.parent / "shared" / "vectors" / "ce.json").read_text())

native_encode = encoding.encode
native_decode = encoding.decode

# Every boundary of msgpack's integer forms, and one either side.
_EDGES = [0, 1 << 5, 1 << 7, 1 << 8, 1 << 15, 1 << 16, 1 << 31, 1 << 32, 1 << 63]
INTS = sorted({v + d for e in _EDGES for v in (e, -e) for d in (-1, 0, 1)
               if INT_MIN <= v + d <= INT_MAX} | {INT_MIN, INT_MAX})
LENGTHS = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]

_text = st.text(max_size=40)  # any code point hypothesis draws, lone surrogates included
_scalars = (st.none() | st.booleans() | st.integers(INT_MIN - 2, INT_MAX + 2)
            | st.sampled_from(INTS) | _text | st.binary(max_size=40))
_values = st.recursive(
    _scalars,
    lambda inner: (st.lists(inner, max_size=18) | st.tuples(inner, inner)
                   | st.dictionaries(_text, inner, max_size=18)),
    max_leaves=40,
)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except TooDeep:
        return "too deep", None
    except EncodingError:
        return "refused", None


def test_the_extension_is_in_use() -> None:
    # The extension is optional for an install, not for the tests: where it failed to build,
    # every comparison below would compare the Python path with itself.
    assert encoding.NATIVE


@settings(max_examples=400, deadline=None)
@given(_values)
def test_both_encoders_give_the_same_bytes_or_both_refuse(value: Any) -> None:
    native = _outcome(native_encode, value)
    assert native == _outcome(encoding.encode_pure, value)
    if native[0] == "ok":
        assert native_decode(native[1]) == encoding.decode_pure(native[1])


@settings(max_examples=400, deadline=None)
@given(_values.filter(lambda v: _outcome(encoding.encode_pure, v)[0] == "ok"), st.data())
def test_both_decoders_agree_on_mutated_bytes(value: Any, data: Any) -> None:
    raw = bytearray(encoding.encode_pure(value))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "insert" or pos == len(raw):
            raw.insert(pos, data.draw(st.integers(0, 255)))
        elif action == "set":
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            del raw[pos]
    blob = bytes(raw)
    assert _outcome(native_decode, blob) == _outcome(encoding.decode_pure, blob)


@pytest.mark.parametrize("value", INTS + [INT_MIN - 1, INT_MAX + 1])
def test_every_integer_form_boundary(value: int) -> None:
    assert _outcome(native_encode, value) == _outcome(encoding.encode_pure, value)
    if INT_MIN <= value <= INT_MAX:
        assert native_decode(native_encode(value)) == value


@pytest.mark.parametrize("n", LENGTHS)
def test_every_length_form_boundary(n: int) -> None:
    for value in ("a" * n, b"b" * n, [0] * n, {f"{i:06d}": i for i in range(n)}):
        blob = native_encode(value)
        assert blob == encoding.encode_pure(value)
        assert native_decode(blob) == encoding.decode_pure(blob) == value


def _long_forms() -> list[bytes]:
    """Each value in a longer form than CE allows: refused by both."""
    return [
        b"\xcc\x7f", b"\xcd\x00\xff", b"\xce\x00\x00\xff\xff",
        b"\xcf" + (0xffffffff).to_bytes(8, "big"),
        b"\xd0\xe0", b"\xd0\x05", b"\xd1\xff\x80", b"\xd2\xff\xff\x80\x00",
        b"\xd3" + (-(1 << 31)).to_bytes(8, "big", signed=True),
        b"\xd9\x1f" + b"a" * 31, b"\xda\x00\xff" + b"a" * 255,
        b"\xdb\x00\x00\xff\xff" + b"a" * 65535,
        b"\xc5\x00\xff" + b"b" * 255, b"\xc6\x00\x00\xff\xff" + b"b" * 65535,
        b"\xdc\x00\x0f" + b"\x00" * 15, b"\xdd\x00\x00\xff\xff" + b"\x00" * 65535,
        b"\xde\x00\x0f" + b"".join(bytes([0xa1, 0x41 + i, 0]) for i in range(15)),
    ]


@pytest.mark.parametrize("blob", _long_forms(), ids=range(len(_long_forms())))
def test_longer_forms_than_needed_are_refused_by_both(blob: bytes) -> None:
    with pytest.raises(EncodingError, match="not canonical"):
        native_decode(blob)
    with pytest.raises(EncodingError):
        encoding.decode_pure(blob)


class Colour(enum.IntEnum):
    RED = 300


class Text(str):
    pass


class Items(list):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("value", [
    1.5, {1: 2}, {b"k": 1}, {"a": 1, 2: 3}, {"\ud800": 1}, "\udfff", [set()], object(),
    Text("a"), Items([1]), {"a": [1, 2.0]},
])
def test_both_encoders_refuse_alike(value: Any) -> None:
    with pytest.raises(EncodingError) as native:
        native_encode(value)
    with pytest.raises(EncodingError) as pure:
        encoding.encode_pure(value)
    assert type(native.value) is type(pure.value)
    if "surrogate" not in repr(value) and "\\ud" not in repr(value):
        assert str(native.value) == str(pure.value)


@pytest.mark.parametrize("value", [
    Colour.RED, [Colour.RED], bytearray(b"xy"), memoryview(b"abcdef")[::2], (1, (2, "x")),
    True, False, None,
])
def test_the_types_ce_converts_convert_alike(value: Any) -> None:
    assert native_encode(value) == encoding.encode_pure(value)


def _nest(levels: int) -> Any:
    value: Any = 0
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("bound", [1, 2, 18, MAX_CE_DEPTH])
def test_the_depth_bounds_are_the_same(bound: int) -> None:
    ok = _nest(bound)
    deep = msgpack.packb(_nest(bound + 1), use_bin_type=True)  # canonical but for its depth
    assert native_decode(native_encode(ok), max_depth=bound) == ok
    for decode in (native_decode, encoding.decode_pure):
        with pytest.raises(TooDeep, match=f"deeper than {bound} levels"):
            decode(deep, max_depth=bound)
    with pytest.raises(TooDeep, match=f"deeper than {MAX_CE_DEPTH} levels"):
        native_encode(_nest(MAX_CE_DEPTH + 1))
    with pytest.raises(TooDeep):
        encoding.encode_pure(_nest(MAX_CE_DEPTH + 1))


@pytest.mark.parametrize("case", CE, ids=[c["ce"] for c in CE])
def test_both_paths_reproduce_the_ce_vectors(case: dict[str, Any]) -> None:
    value = jsonform.tagged_from_json(case["value"])
    expected = bytes.fromhex(case["ce"])
    assert native_encode(value) == encoding.encode_pure(value) == expected
    assert native_decode(expected) == encoding.decode_pure(expected) == value


def test_decoded_map_keys_are_interned_text() -> None:
    value = native_decode(native_encode({"sender": 1}))
    (key,) = value
    assert type(key) is str and sys.intern("sender") is key


def test_the_python_path_runs_when_asked_and_reproduces_the_vectors() -> None:
    code = ("import json, sys; from ledger import encoding, jsonform; "
            "assert not encoding.NATIVE; "
            "cases = json.load(open(sys.argv[1])); "
            "assert all(encoding.encode(jsonform.tagged_from_json(c['value'])).hex() == c['ce'] "
            "for c in cases); print(len(cases))")
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT.parent / "shared" / "vectors" / "ce.json")],
        cwd=ROOT, env=dict(os.environ, CREDCHAIN_CE_PURE="1"), capture_output=True, text=True,
        timeout=60, check=True)
    assert int(done.stdout) == len(CE)
