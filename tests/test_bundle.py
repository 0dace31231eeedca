"""Proof bundles built from real chains (with a validator change, real QCs signed by test
keys) verify offline against the exported anchor, through JSON and CE; tampering fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger import bundle, encoding
from ledger.block import Validator
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput, ProofError
from ledger.genesis import Anchor, export_anchor
from tests.chainkit import Chain

SUITES = [ED25519_SHA256, SM2_SM3]
KEY = "identity/91350100M000100Y43"


def v(x: object) -> bytes:
    return encoding.encode(x)


def _chain_with_change(suite: Suite) -> Chain:
    """Blocks 1..6; block 3 changes the set to five validators (node3 replaced, two added),
    block 5 drops back to four; the record is written at 2 and rewritten at 4."""
    chain = Chain.new(suite)
    chain.extend({"demo/x": v(1)})
    chain.extend({KEY: v({"name": "某公司", "status": "active"})})
    first = chain.doc.validators
    five = first[:3] + (chain.add_key("node3b"), chain.add_key("node4"), chain.add_key("node5"))
    chain.extend({"demo/x": v(2)}, next_validators=five)
    chain.extend({KEY: v({"name": "某公司", "status": "revoked"})})
    four: tuple[Validator, ...] = five[1:5]
    chain.extend({"demo/x": v(3)}, next_validators=four)
    chain.extend({"demo/x": v(4)})
    return chain


@pytest.fixture(scope="module", params=SUITES, ids=lambda s: s.name)
def chain(request: pytest.FixtureRequest) -> Chain:
    return _chain_with_change(request.param)


def _round_trips(obj: Any, anchor: Anchor) -> bundle.VerifiedRecord:
    record = bundle.verify_bundle(obj, anchor)
    as_json = json.loads(json.dumps(bundle.to_json(obj)))
    assert bundle.verify_bundle(bundle.from_json(as_json), anchor) == record
    assert bundle.verify_bundle(bundle.decode_bundle(bundle.encode_bundle(obj)), anchor) == record
    return record


def test_bundles_at_every_height_verify_with_the_right_value(chain: Chain) -> None:
    anchor = Anchor.from_json(json.loads(json.dumps(export_anchor(chain.store).to_json())))
    expected = {1: None, 2: "active", 3: "active", 4: "revoked", 5: "revoked", 6: "revoked"}
    for height, status in expected.items():
        obj = bundle.build_bundle(chain.store, chain.store.tree, KEY, height)
        record = _round_trips(obj, anchor)
        assert record.height == height
        if status is None:
            assert record.value is None
        else:
            assert record.value is not None
            assert encoding.decode(record.value)["status"] == status
        # Changes strictly below the height are carried: blocks 3 and 5.
        carried = [e["header"]["height"] for e in obj["validator_chain"]]
        assert carried == [h for h in (3, 5) if h < height]


def test_head_bundle_proves_absence_of_an_unknown_key(chain: Chain) -> None:
    anchor = export_anchor(chain.store)
    obj = bundle.build_bundle(chain.store, chain.store.tree, "debarment/91350100M000100Y43")
    record = _round_trips(obj, anchor)
    assert record.value is None and record.height == chain.store.head()[0]


def _fresh(chain: Chain, height: int = 6) -> Any:
    return bundle.build_bundle(chain.store, chain.store.tree, KEY, height)


def test_tampered_bundles_fail_with_the_reason(chain: Chain) -> None:
    anchor = export_anchor(chain.store)

    def fails(obj: Any, match: str) -> None:
        with pytest.raises(ProofError, match=match):
            bundle.verify_bundle(obj, anchor)

    obj = _fresh(chain)
    obj["validator_chain"] = obj["validator_chain"][1:]
    fails(obj, "missing validator change")
    obj = _fresh(chain)
    obj["validator_chain"].insert(1, obj["validator_chain"][0])
    fails(obj, "ascending heights")
    obj = _fresh(chain)
    obj["qc"]["votes"] = obj["qc"]["votes"][:2]
    fails(obj, "below the quorum")
    obj = _fresh(chain)
    votes = obj["validator_chain"][0]["qc"]["votes"]
    votes[0][1] = votes[1][1]
    fails(obj, r"validator_chain\[0\].*does not verify")
    obj = _fresh(chain)
    obj["validator_chain"][0]["next_validators"][0]["name"] = "evil"
    fails(obj, "next_validators do not hash")
    obj = _fresh(chain)
    obj["value"] = v({"name": "某公司", "status": "active"})
    fails(obj, "another value")
    obj = _fresh(chain)
    obj["value"] = None
    fails(obj, "present, not absent")
    obj = _fresh(chain)
    obj["header"]["time_ms"] += 1
    fails(obj, "names another block")
    obj = _fresh(chain)
    obj["key"] = "identity/other"
    fails(obj, "state proof")
    obj = _fresh(chain)
    obj["chain_id"] = "elsewhere"
    fails(obj, "wrong chain id")
    obj = _fresh(chain)
    obj["genesis_hash"] = bytes(32)
    fails(obj, "bad genesis hash")
    obj = _fresh(chain)
    obj["version"] = 2
    fails(obj, "version 2")
    obj = _fresh(chain)
    obj["extra"] = 1
    fails(obj, "malformed bundle")
    obj = _fresh(chain)
    obj["proof"]["siblings"] = obj["proof"]["siblings"][:-1]
    fails(obj, "state proof")


def test_bundle_from_another_chain_fails_against_this_anchor(chain: Chain) -> None:
    other = Chain.new(chain.suite, chain_id="other-chain")
    other.extend({KEY: v("x")})
    obj = bundle.build_bundle(other.store, other.store.tree, KEY, 1)
    with pytest.raises(ProofError, match="wrong chain id"):
        bundle.verify_bundle(obj, export_anchor(chain.store))


def test_json_form_refuses_bad_hex() -> None:
    chain = Chain.new(ED25519_SHA256)
    chain.extend({KEY: v(1)})
    as_json = bundle.to_json(bundle.build_bundle(chain.store, chain.store.tree, KEY))
    assert as_json["genesis_hash"] == as_json["genesis_hash"].lower()
    as_json["genesis_hash"] = as_json["genesis_hash"].upper()
    with pytest.raises(ProofError, match="lowercase hex"):
        bundle.from_json(as_json)


def test_build_refuses_genesis_and_future_heights() -> None:
    chain = Chain.new(ED25519_SHA256)
    chain.extend({KEY: v(1)})
    for height in (0, 2):
        with pytest.raises(InvalidInput, match="committed height"):
            bundle.build_bundle(chain.store, chain.store.tree, KEY, height)
