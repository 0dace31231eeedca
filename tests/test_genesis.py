"""The genesis document (strict parsing), the genesis block of PROTOCOL §4, creating a chain
from the contracts' genesis state, and the anchor file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contracts import keys
from ledger import encoding
from ledger.block import validators_from_obj, validators_hash
from ledger.crypto import ED25519_SHA256, SM2_SM3, ZERO_HASH, Suite, get_suite
from ledger.errors import InvalidInput, UnknownSuite
from ledger.genesis import (
    Anchor,
    GenesisDoc,
    default_state,
    export_anchor,
    genesis_block,
    init_store,
    state_root_of,
)
from ledger.kv import MemoryKV
from ledger.store import BlockStore
from tests.chainkit import secret_for

EXAMPLE = Path(__file__).resolve().parents[1] / "configs" / "genesis.example.json"


def _doc_json(suite: Suite) -> dict[str, Any]:
    pubs = [suite.public_key(secret_for(suite, f"g{i}")).hex() for i in range(6)]
    return {
        "chain_id": "gd-ptrade-1",
        "suite": suite.name,
        "time_ms": 1_760_000_000_000,
        "validators": [{"name": f"city{i}", "pubkey": pubs[i]} for i in range(4)],
        "committee": [pubs[4]],
        "roles": {"attestor": [pubs[5]]},
        "params": {"min_validators": 4, "tender_kinds": "works,goods"},
    }


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_json_round_trip_and_file(tmp_path: Path, suite: Suite) -> None:
    obj = _doc_json(suite)
    doc = GenesisDoc.from_json(obj)
    assert doc.to_json() == obj
    assert doc.validators[2].pubkey.hex() == obj["validators"][2]["pubkey"]
    assert GenesisDoc.from_obj(encoding.decode(encoding.encode(doc.to_obj()))) == doc
    doc.save(tmp_path / "genesis.json")
    assert GenesisDoc.load(tmp_path / "genesis.json") == doc


def _broken(change: str) -> dict[str, Any]:
    obj = copy.deepcopy(_doc_json(ED25519_SHA256))
    if change == "missing suite":
        del obj["suite"]
    elif change == "unknown field":
        obj["fees"] = 1
    elif change == "unknown suite":
        obj["suite"] = "rsa-md5"
    elif change == "bad chain id":
        obj["chain_id"] = "has space"
    elif change == "negative time":
        obj["time_ms"] = -1
    elif change == "float time":
        obj["time_ms"] = 1.5
    elif change == "upper-case hex":
        obj["committee"][0] = obj["committee"][0].upper()
    elif change == "short key":
        obj["validators"][0]["pubkey"] = "00" * 31
    elif change == "duplicate validator":
        obj["validators"][1] = obj["validators"][0]
    elif change == "no validators":
        obj["validators"] = []
    elif change == "duplicate committee":
        obj["committee"].append(obj["committee"][0])
    elif change == "bad role name":
        obj["roles"] = {"Bad Role": []}
    elif change == "bad param value":
        obj["params"] = {"min_validators": True}
    elif change == "not a map":
        return ["genesis"]  # type: ignore[return-value]
    return obj


CHANGES = {
    "missing suite": "missing field",
    "unknown field": "unknown field",
    "unknown suite": "unknown crypto suite",
    "bad chain id": "chain_id",
    "negative time": "time_ms",
    "float time": "time_ms",
    "upper-case hex": "lowercase hex",
    "short key": "32 bytes",
    "duplicate validator": "twice",
    "no validators": "non-empty",
    "duplicate committee": "twice",
    "bad role name": "role name",
    "bad param value": "integer or text",
    "not a map": "must be a map",
}


@pytest.mark.parametrize(("change", "reason"), CHANGES.items(), ids=CHANGES.keys())
def test_strict_parsing_says_what_is_wrong(change: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        GenesisDoc.from_json(_broken(change))


def test_unreadable_or_non_json_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read genesis file"):
        GenesisDoc.load(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        GenesisDoc.load(tmp_path / "bad.json")


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_genesis_block_follows_protocol_4(suite: Suite) -> None:
    doc = GenesisDoc.from_json(_doc_json(suite))
    state = default_state(doc)
    block = genesis_block(doc, state)
    h = block.header
    vals = validators_hash(suite, doc.validators)
    assert (h.height, h.prev_hash, h.view, h.proposer, block.txs) == (0, ZERO_HASH, 0, 0, ())
    assert h.tx_root == h.receipts_root == suite.hash(b"")
    assert h.validators_hash == h.next_validators_hash == vals
    assert h.state_root == state_root_of(suite, state) != ZERO_HASH
    assert (h.chain_id, h.time_ms) == (doc.chain_id, doc.time_ms)
    # The validator set and parameters are in the genesis state.
    assert validators_from_obj(encoding.decode(state[keys.VALIDATORS])) == doc.validators
    assert encoding.decode(state[keys.param("tender_kinds")]) == "works,goods"


def test_init_store_with_the_contracts_state_and_anchor_export(tmp_path: Path) -> None:
    doc = GenesisDoc.from_json(_doc_json(SM2_SM3))
    store = BlockStore(MemoryKV(), SM2_SM3)
    block = init_store(store, doc)
    assert store.head() == (0, block.hash(SM2_SM3))
    assert store.tree.get(keys.param("min_validators")) == encoding.encode(4)
    assert GenesisDoc.from_obj(store.genesis_doc_obj()) == doc
    anchor = export_anchor(store)
    assert anchor.genesis_hash() == block.hash(SM2_SM3)
    anchor.save(tmp_path / "anchor.json")
    loaded = Anchor.load(tmp_path / "anchor.json")
    assert loaded == anchor
    assert set(json.loads((tmp_path / "anchor.json").read_text())) == {
        "suite", "genesis_header", "validators"
    }
    with pytest.raises(InvalidInput, match="already holds"):
        init_store(store, doc)
    with pytest.raises(InvalidInput, match="the store uses"):
        init_store(BlockStore(MemoryKV(), ED25519_SHA256), doc)


def test_anchor_refuses_a_set_or_header_that_does_not_match() -> None:
    doc = GenesisDoc.from_json(_doc_json(ED25519_SHA256))
    header = genesis_block(doc, default_state(doc)).header
    with pytest.raises(InvalidInput, match="do not hash"):
        Anchor.of(ED25519_SHA256, header, doc.validators[:3])
    with pytest.raises(InvalidInput, match="not a genesis header"):
        Anchor.of(ED25519_SHA256, header.with_changes(height=1), doc.validators)
    good = Anchor.of(ED25519_SHA256, header, doc.validators).to_json()
    good["suite"] = "nope"
    with pytest.raises(UnknownSuite):
        Anchor.from_json(good)


def test_unknown_parameter_is_refused_by_the_contracts() -> None:
    obj = _doc_json(ED25519_SHA256)
    obj["params"] = {"no_such_param": 1}
    doc = GenesisDoc.from_json(obj)
    with pytest.raises(InvalidInput, match="no_such_param"):
        init_store(BlockStore(MemoryKV(), ED25519_SHA256), doc)


def test_the_example_genesis_in_configs_is_valid() -> None:
    doc = GenesisDoc.load(EXAMPLE)
    suite = get_suite(doc.suite)
    store = BlockStore(MemoryKV(), suite)
    init_store(store, doc)
    assert len(doc.validators) >= 4 and doc.committee
    assert store.validators_at(1) == doc.validators
