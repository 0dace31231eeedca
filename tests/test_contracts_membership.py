"""Membership by governance: the endpoint registry and validator key rotation; every refusal
with its code and nothing but the nonce changed."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import keys
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND
from contracts.membership import endpoint_key, sign_rotation
from ledger.block import validators_from_obj
from tests.contract_harness import Harness


def refused(h: Harness, action: str, payload: dict[str, Any], code: str) -> None:
    h.expect_refused(h.committee[0], "gov.propose", {"action": action, "payload": payload}, code)


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_endpoints_are_registered_moved_and_cleared_by_governance(suite: str) -> None:
    h = Harness(suite)
    city = h.account("shanwei")
    entry = {"pubkey": city.pubkey, "host": "10.1.2.3", "port": 26650, "kind": "observer"}
    h.govern("set_endpoint", entry)
    assert h.get(endpoint_key(city.pubkey)) == {"host": "10.1.2.3", "port": 26650,
                                               "kind": "observer"}
    h.govern("set_endpoint", {**entry, "host": "node.shanwei.example", "kind": "validator"})
    assert h.get(endpoint_key(city.pubkey))["kind"] == "validator"
    refused(h, "set_endpoint", {**entry, "host": "bad host!"}, E_BAD_ARGS)
    refused(h, "set_endpoint", {**entry, "port": 0}, E_BAD_ARGS)
    refused(h, "set_endpoint", {**entry, "kind": "leader"}, E_BAD_ARGS)
    refused(h, "set_endpoint", {**entry, "pubkey": b"\x01" * 5}, E_BAD_ARGS)
    h.govern("clear_endpoint", {"pubkey": city.pubkey})
    assert h.get(endpoint_key(city.pubkey)) is None
    refused(h, "clear_endpoint", {"pubkey": city.pubkey}, E_NOT_FOUND)


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_a_validator_rotates_its_key_at_the_same_index(suite: str) -> None:
    h = Harness(suite)
    old, new = h.account("v2"), h.account("v2-next")
    h.govern("set_endpoint", {"pubkey": old.pubkey, "host": "10.0.0.2", "port": 26650,
                              "kind": "validator"})
    sig = sign_rotation(h.suite, new.secret, h.chain_id, old.pubkey)
    h.govern("rotate_validator", {"old": old.pubkey, "new": new.pubkey, "new_sig": sig})
    vals = validators_from_obj(h.get(keys.VALIDATORS))
    assert [v.name for v in vals] == ["v0", "v1", "v2", "v3"]
    assert vals[2].pubkey == new.pubkey
    assert h.get(endpoint_key(new.pubkey))["host"] == "10.0.0.2"
    assert h.get(endpoint_key(old.pubkey)) is None


def test_a_rotation_needs_the_new_keys_signature_and_a_fresh_key() -> None:
    h = Harness()
    old, new = h.account("v1"), h.account("v1-next")
    good = sign_rotation(h.suite, new.secret, h.chain_id, old.pubkey)
    other = h.account("mallory")
    refused(h, "rotate_validator", {"old": old.pubkey, "new": new.pubkey,
                                    "new_sig": sign_rotation(h.suite, other.secret, h.chain_id,
                                                             old.pubkey)}, E_BAD_ARGS)
    refused(h, "rotate_validator", {"old": other.pubkey, "new": new.pubkey, "new_sig": good},
            E_NOT_FOUND)
    v3 = h.account("v3")
    refused(h, "rotate_validator", {"old": old.pubkey, "new": v3.pubkey,
                                    "new_sig": sign_rotation(h.suite, v3.secret, h.chain_id,
                                                             old.pubkey)}, E_EXISTS)
    replayed = sign_rotation(h.suite, new.secret, "another-chain", old.pubkey)
    refused(h, "rotate_validator", {"old": old.pubkey, "new": new.pubkey,
                                    "new_sig": replayed}, E_BAD_ARGS)
