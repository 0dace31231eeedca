"""Every case of ``../shared/vectors/bundle.json`` (PROTOCOL §7), for both suites: valid
bundles verify (binary form, JSON form and a CE round trip), invalid ones fail with a
ProofError that names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import bundle, jsonform
from ledger.block import Header, validators_from_obj
from ledger.crypto import get_suite
from ledger.errors import ProofError
from ledger.genesis import Anchor

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
SUITES = json.loads((VECTORS / "bundle.json").read_text())

# What the ProofError must say for each invalid case (a substring of its message).
EXPECTED_REASON = {
    "missing validator change": "missing validator change",
    "QC below quorum (3 of 5)": "below the quorum of 4",
    "vote attributed to the wrong validator": "does not verify",
    "forged value": "another value",
    "header changed after signing": "names another block",
}

CASES = [
    pytest.param(s, c, id=f"{s['suite']}: {c['name']}") for s in SUITES for c in s["cases"]
]


def _anchor(entry: dict[str, Any]) -> Anchor:
    raw = jsonform.tagged_from_json(entry["anchor"])
    return Anchor.of(
        get_suite(entry["suite"]), Header.from_obj(raw["header"]),
        validators_from_obj(raw["validators"]),
    )


def test_vectors_cover_both_suites_and_every_kind_of_case() -> None:
    assert {s["suite"] for s in SUITES} == {"ed25519-sha256", "sm2-sm3"}
    for s in SUITES:
        names = {c["name"] for c in s["cases"] if not c["valid"]}
        assert names == set(EXPECTED_REASON)


@pytest.mark.parametrize(("entry", "case"), CASES)
def test_bundle_vector(entry: dict[str, Any], case: dict[str, Any]) -> None:
    anchor = _anchor(entry)
    obj = jsonform.tagged_from_json(case["bundle"])
    if case["valid"]:
        record = bundle.verify_bundle(obj, anchor)
        assert record.key == obj["key"]
        assert record.value == obj["value"]
        assert record.height == obj["header"]["height"]
        # The same bundle through the JSON form (hex) and the binary form (CE).
        assert bundle.verify_bundle(bundle.from_json(bundle.to_json(obj)), anchor) == record
        data = bundle.encode_bundle(obj)
        assert bundle.verify_bundle(bundle.decode_bundle(data), anchor) == record
    else:
        with pytest.raises(ProofError) as err:
            bundle.verify_bundle(obj, anchor)
        assert EXPECTED_REASON[case["name"]] in str(err.value)


@pytest.mark.parametrize("entry", SUITES, ids=[s["suite"] for s in SUITES])
def test_anchor_file_round_trip_and_wrong_chain(entry: dict[str, Any]) -> None:
    anchor = _anchor(entry)
    assert Anchor.from_json(json.loads(json.dumps(anchor.to_json()))) == anchor
    valid = next(c for c in entry["cases"] if c["valid"])
    obj = jsonform.tagged_from_json(valid["bundle"])
    other = Anchor.of(
        anchor.suite, anchor.header.with_changes(chain_id="another-chain"), anchor.validators
    )
    with pytest.raises(ProofError, match="wrong chain id"):
        bundle.verify_bundle(obj, other)
    obj["genesis_hash"] = bytes(32)
    with pytest.raises(ProofError, match="bad genesis hash"):
        bundle.verify_bundle(obj, anchor)
