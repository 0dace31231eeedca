"""Property tests of the canonical encoding: every CE value round-trips, its encoding does
not depend on map insertion order, and the JSON forms (tagged and schema) round-trip."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import encoding, jsonform

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    # "$bin" is the tag of the tagged JSON form, so it is not a key a value may use there.
    | st.dictionaries(st.text(max_size=8).filter(lambda k: k != "$bin"), inner, max_size=5),
    max_leaves=30,
)

SETTINGS = settings(max_examples=100, deadline=None)


@SETTINGS
@given(values)
def test_round_trip_and_reencode(value: Any) -> None:
    data = encoding.encode(value)
    decoded = encoding.decode(data)
    assert decoded == value
    assert encoding.encode(decoded) == data


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), scalars, min_size=2, max_size=8))
def test_map_order_does_not_change_the_encoding(mapping: dict[str, Any]) -> None:
    reversed_order = dict(reversed(list(mapping.items())))
    assert encoding.encode(mapping) == encoding.encode(reversed_order)
    keys = [k.encode() for k in encoding.decode(encoding.encode(mapping))]
    assert keys == sorted(keys)


@SETTINGS
@given(values)
def test_tagged_json_round_trip(value: Any) -> None:
    assert jsonform.tagged_from_json(jsonform.tagged_to_json(value)) == value


@SETTINGS
@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.tuples(st.integers(0, 255), st.binary(min_size=64, max_size=64)), max_size=5),
)
def test_schema_json_round_trip_of_a_qc(block_hash: bytes, votes: list[tuple[int, bytes]]) -> None:
    qc = {"height": 3, "view": 1, "block_hash": block_hash, "votes": [list(v) for v in votes]}
    as_json = jsonform.to_json(qc, jsonform.QC)
    assert as_json["block_hash"] == block_hash.hex()
    assert jsonform.from_json(as_json, jsonform.QC) == qc


def test_json_forms_refuse_what_they_cannot_carry() -> None:
    import pytest

    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown field"):
        jsonform.from_json({"height": 1, "bogus": 2}, jsonform.QC)
    with pytest.raises(InvalidInput, match="lowercase hex"):
        jsonform.from_json({"block_hash": "0g"}, jsonform.QC)
    with pytest.raises(InvalidInput, match="must be bytes"):
        jsonform.to_json({"block_hash": "text"}, jsonform.QC)
    # a lone "$bin" key is escaped, not refused (tests/test_verdict.py); a bad escape is
    with pytest.raises(InvalidInput, match="\\$map must be a map"):
        jsonform.tagged_from_json({"$map": {"x": b"x".hex()}})
    deep: Any = 1
    for _ in range(jsonform.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(InvalidInput, match="nested deeper"):
        jsonform.tagged_from_json(deep)
