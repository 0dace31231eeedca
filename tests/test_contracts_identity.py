"""Identity (attestations, key binding and rotation, revocation, expiry, mutual recognition)
and data consent; every refusal checks its code and that only the sender's nonce changed."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.consent import E_NOT_PLATFORM, consent_in_force
from contracts.errors import (
    E_BAD_ARGS,
    E_EXISTS,
    E_FORBIDDEN,
    E_FROZEN,
    E_NOT_FOUND,
    E_STATE,
)
from contracts.identity import (
    E_BAD_SIGNATURE,
    E_NOT_ATTESTED,
    entity_of_key,
    is_attested,
    rotation_message,
)
from contracts.periods import DAY_MS
from contracts.state import Overlay
from contracts.uscc import E_BAD_USCC
from tests.contract_harness import Account, Harness

USCC = "91441500MA4W00001C"
OTHER = "91441502MA4W123451"


def setup(suite: str = "ed25519-sha256", **params: int | str) -> Harness:
    return Harness(
        suite_name=suite,
        params=params,
        roles={"attestor": ["att1", "att2"], "platform": ["shanwei", "shenzhen"]},
    )


def attest_args(h: Harness, uscc: str = USCC, *keys: Account, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "uscc": uscc,
        "name": "汕尾市某建设工程有限公司",
        "entity_type": "enterprise",
        "cert_issuer": "GDCA",
        "cert_serial": "4F3A0001",
        "valid_from_ms": h.time_ms,
        "valid_to_ms": h.time_ms + 365 * DAY_MS,
        "keys": [k.pubkey for k in keys],
    }
    args.update(over)
    return args


def view(h: Harness) -> Overlay:
    return Overlay(h.state)


def test_an_attestation_binds_keys_and_is_in_force_for_its_validity() -> None:
    h = setup()
    k1, k2 = h.account("e1"), h.account("e2")
    args = attest_args(h, USCC, k1, k2, valid_from_ms=h.time_ms + DAY_MS)
    h.expect_ok(h.account("att1"), "identity.attest", args)
    att = h.get(f"id/entity/{USCC}")
    assert att["keys"] == [k1.pubkey, k2.pubkey]
    assert att["attestor"] == h.account("att1").pubkey
    assert att["cert_serial"] == "4F3A0001" and att["version"] == 0
    start, end = args["valid_from_ms"], args["valid_to_ms"]
    assert not is_attested(view(h), USCC, start - 1)
    assert is_attested(view(h), USCC, start)
    assert is_attested(view(h), USCC, end - 1)
    assert not is_attested(view(h), USCC, end)
    assert entity_of_key(view(h), k1.pubkey, start) == USCC
    assert entity_of_key(view(h), k2.pubkey, end) is None
    assert entity_of_key(view(h), h.account("nobody").pubkey, start) is None


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"uscc": "91441500MA4W00001D"}, E_BAD_USCC),
        ({"uscc": "91441500ma4w00001c"}, E_BAD_USCC),
        ({"valid_to_ms": 0}, E_BAD_ARGS),
        ({"valid_to_ms": "later"}, E_BAD_ARGS),
        ({"name": ""}, E_BAD_ARGS),
        ({"keys": [b"\x01" * 31]}, E_BAD_ARGS),
        ({"keys": "k"}, E_BAD_ARGS),
        ({"keys": [b"\x01" * 32, b"\x01" * 32]}, E_BAD_ARGS),
    ],
)
def test_bad_attestations_are_refused(over: dict[str, Any], code: str) -> None:
    h = setup()
    h.expect_refused(h.account("att1"), "identity.attest", attest_args(h, **over), code)


def test_an_attestation_longer_than_the_parameter_is_refused() -> None:
    h = setup(attestation_max_days=30)
    args = attest_args(h, valid_to_ms=h.time_ms + 31 * DAY_MS)
    h.expect_refused(h.account("att1"), "identity.attest", args, E_BAD_ARGS)
    h.expect_ok(
        h.account("att1"), "identity.attest", attest_args(h, valid_to_ms=h.time_ms + 29 * DAY_MS)
    )


def test_only_an_unfrozen_attestor_may_attest() -> None:
    h = setup()
    h.expect_refused(h.account("shanwei"), "identity.attest", attest_args(h), E_FORBIDDEN)
    h.govern("freeze", {"subject": h.account("att1").hex, "reason": "audit"})
    h.expect_refused(h.account("att1"), "identity.attest", attest_args(h), E_FROZEN)


def test_a_key_bound_to_another_entity_in_force_is_refused() -> None:
    h = setup()
    k = h.account("e1")
    h.expect_ok(h.account("att1"), "identity.attest", attest_args(h, USCC, k))
    h.expect_refused(h.account("att1"), "identity.attest", attest_args(h, OTHER, k), E_EXISTS)


def test_mutual_recognition_and_renewal_rules() -> None:
    h = setup()
    a1, a2 = h.account("att1"), h.account("att2")
    k = h.account("e1")
    h.expect_ok(a1, "identity.attest", attest_args(h, USCC, k))
    # another attestor cannot overwrite an attestation in force
    h.expect_refused(a2, "identity.attest", attest_args(h, USCC, k), E_EXISTS)
    # the same attestor renews: the old version goes to history
    h.expect_ok(a1, "identity.attest", attest_args(h, USCC, k, cert_serial="4F3A0002"))
    assert h.get(f"id/history/{USCC}/0")["cert_serial"] == "4F3A0001"
    assert h.get(f"id/entity/{USCC}")["version"] == 1
    # after revocation, any attestor may attest again and it counts everywhere
    h.expect_ok(a1, "identity.attest", attest_args(h, OTHER))
    h.expect_ok(a1, "identity.revoke", {"uscc": USCC, "reason": "licence cancelled"})
    assert not is_attested(view(h), USCC, h.time_ms)
    h.expect_ok(a2, "identity.attest", attest_args(h, USCC, k))
    assert is_attested(view(h), USCC, h.time_ms + 1)
    assert entity_of_key(view(h), k.pubkey, h.time_ms + 1) == USCC
    assert h.get(f"id/entity/{USCC}")["attestor"] == a2.pubkey


def test_keys_are_bound_and_unbound_by_the_attestor() -> None:
    h = setup(keys_per_entity_max=2)
    a1 = h.account("att1")
    k1, k2, k3 = h.account("e1"), h.account("e2"), h.account("e3")
    h.expect_ok(a1, "identity.attest", attest_args(h, USCC, k1))
    h.expect_ok(a1, "identity.bind_key", {"uscc": USCC, "pubkey": k2.pubkey})
    assert entity_of_key(view(h), k2.pubkey, h.time_ms) == USCC
    h.expect_refused(a1, "identity.bind_key", {"uscc": USCC, "pubkey": k3.pubkey}, E_STATE)
    h.expect_refused(a1, "identity.bind_key", {"uscc": USCC, "pubkey": k2.pubkey}, E_EXISTS)
    h.expect_refused(
        h.account("att2"), "identity.bind_key", {"uscc": USCC, "pubkey": k3.pubkey}, E_FORBIDDEN
    )
    h.expect_refused(a1, "identity.bind_key", {"uscc": OTHER, "pubkey": k3.pubkey}, E_NOT_FOUND)
    h.expect_ok(a1, "identity.unbind_key", {"uscc": USCC, "pubkey": k2.pubkey})
    assert entity_of_key(view(h), k2.pubkey, h.time_ms) is None
    assert h.get(f"id/key/{k2.hex}") is None
    h.expect_refused(a1, "identity.unbind_key", {"uscc": USCC, "pubkey": k2.pubkey}, E_NOT_FOUND)


def test_binding_to_an_expired_attestation_is_refused() -> None:
    h = setup()
    a1 = h.account("att1")
    h.expect_ok(a1, "identity.attest", attest_args(h, valid_to_ms=h.time_ms + DAY_MS))
    h.advance(days=2)
    h.expect_refused(
        a1, "identity.bind_key", {"uscc": USCC, "pubkey": h.account("e9").pubkey}, E_NOT_ATTESTED
    )


def test_an_entity_cuts_off_its_own_key_and_outsiders_cannot() -> None:
    h = setup()
    k1, k2 = h.account("e1"), h.account("e2")
    h.expect_ok(h.account("att1"), "identity.attest", attest_args(h, USCC, k1, k2))
    h.expect_refused(
        h.account("stranger"),
        "identity.unbind_key",
        {"uscc": USCC, "pubkey": k2.pubkey},
        E_FORBIDDEN,
    )
    h.expect_ok(k1, "identity.unbind_key", {"uscc": USCC, "pubkey": k2.pubkey})
    assert entity_of_key(view(h), k2.pubkey, h.time_ms) is None


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_key_rotation_needs_the_new_keys_signature(suite: str) -> None:
    h = setup(suite)
    old, new = h.account("old"), h.account("new")
    h.expect_ok(h.account("att1"), "identity.attest", attest_args(h, USCC, old))
    wrong_chain = rotation_message("other-chain", USCC, old.pubkey, new.pubkey)
    h.expect_refused(
        old,
        "identity.rotate_key",
        {"new_key": new.pubkey, "new_key_sig": h.suite.sign(new.secret, wrong_chain)},
        E_BAD_SIGNATURE,
    )
    message = rotation_message(h.chain_id, USCC, old.pubkey, new.pubkey)
    h.expect_refused(
        old,
        "identity.rotate_key",
        {"new_key": new.pubkey, "new_key_sig": h.suite.sign(old.secret, message)},
        E_BAD_SIGNATURE,
    )
    h.expect_ok(
        old,
        "identity.rotate_key",
        {"new_key": new.pubkey, "new_key_sig": h.suite.sign(new.secret, message)},
    )
    assert entity_of_key(view(h), new.pubkey, h.time_ms) == USCC
    assert entity_of_key(view(h), old.pubkey, h.time_ms) is None
    assert h.get(f"id/entity/{USCC}")["keys"] == [new.pubkey]


def test_rotation_from_an_unbound_key_is_refused() -> None:
    h = setup()
    stranger, new = h.account("stranger"), h.account("new")
    sig = h.suite.sign(new.secret, rotation_message(h.chain_id, USCC, stranger.pubkey, new.pubkey))
    h.expect_refused(
        stranger, "identity.rotate_key", {"new_key": new.pubkey, "new_key_sig": sig}, E_NOT_ATTESTED
    )


def test_revocation_by_its_attestor_only_and_once() -> None:
    h = setup()
    k = h.account("e1")
    h.expect_ok(h.account("att1"), "identity.attest", attest_args(h, USCC, k))
    h.expect_refused(
        h.account("att2"), "identity.revoke", {"uscc": USCC, "reason": "x"}, E_FORBIDDEN
    )
    h.expect_ok(h.account("att1"), "identity.revoke", {"uscc": USCC, "reason": "fraud"})
    assert entity_of_key(view(h), k.pubkey, h.time_ms) is None
    assert h.get(f"id/entity/{USCC}")["revoke_reason"] == "fraud"
    h.expect_refused(h.account("att1"), "identity.revoke", {"uscc": USCC, "reason": "x"}, E_STATE)
    h.expect_refused(
        h.account("att1"), "identity.revoke", {"uscc": OTHER, "reason": "x"}, E_NOT_FOUND
    )


# --- consent ---


def consent_setup() -> tuple[Harness, Account]:
    h = setup()
    k = h.account("e1")
    h.expect_ok(h.account("att1"), "identity.attest", attest_args(h, USCC, k))
    return h, k


def grant_args(h: Harness, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "platform": h.account("shenzhen").pubkey,
        "dataset": "bid-history",
        "scope": ["qualification-review"],
        "valid_to_ms": h.time_ms + 90 * DAY_MS,
    }
    args.update(over)
    return args


def test_consent_is_granted_for_a_scope_until_it_expires_or_is_revoked() -> None:
    h, k = consent_setup()
    shenzhen, shanwei = h.account("shenzhen").pubkey, h.account("shanwei").pubkey
    args = grant_args(h)
    h.expect_ok(k, "consent.grant", args)
    now = h.time_ms
    assert consent_in_force(view(h), USCC, shenzhen, "bid-history", "qualification-review", now)
    assert not consent_in_force(view(h), USCC, shenzhen, "bid-history", "marketing", now)
    assert not consent_in_force(view(h), USCC, shanwei, "bid-history", "qualification-review", now)
    assert not consent_in_force(view(h), USCC, shenzhen, "tax", "qualification-review", now)
    assert not consent_in_force(
        view(h), USCC, shenzhen, "bid-history", "qualification-review", args["valid_to_ms"]
    )
    h.expect_ok(k, "consent.revoke", {"platform": shenzhen, "dataset": "bid-history"})
    rec = h.get(f"consent/{USCC}/{shenzhen.hex()}/bid-history")
    assert rec["revoked_ms"] == h.time_ms and rec["granted_by"] == k.pubkey
    assert not consent_in_force(
        view(h), USCC, shenzhen, "bid-history", "qualification-review", h.time_ms
    )
    h.expect_refused(k, "consent.revoke", {"platform": shenzhen, "dataset": "bid-history"}, E_STATE)
    h.expect_refused(k, "consent.revoke", {"platform": shenzhen, "dataset": "other"}, E_NOT_FOUND)


def test_a_wildcard_scope_covers_every_purpose() -> None:
    h, k = consent_setup()
    h.expect_ok(k, "consent.grant", grant_args(h, scope=["*"]))
    assert consent_in_force(
        view(h), USCC, h.account("shenzhen").pubkey, "bid-history", "anything", h.time_ms
    )


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"platform": b"\x05" * 32}, E_NOT_PLATFORM),
        ({"dataset": "Bid History"}, E_BAD_ARGS),
        ({"scope": []}, E_BAD_ARGS),
        ({"scope": ["a", "a"]}, E_BAD_ARGS),
        ({"valid_to_ms": 0}, E_BAD_ARGS),
        ({"valid_to_ms": 2**62}, E_BAD_ARGS),
    ],
)
def test_bad_consents_are_refused(over: dict[str, Any], code: str) -> None:
    h, k = consent_setup()
    h.expect_refused(k, "consent.grant", grant_args(h, **over), code)


def test_consent_needs_a_bound_key_of_an_unfrozen_entity() -> None:
    h, k = consent_setup()
    h.expect_refused(h.account("stranger"), "consent.grant", grant_args(h), E_NOT_ATTESTED)
    h.govern("freeze", {"subject": USCC, "reason": "investigation"})
    h.expect_refused(k, "consent.grant", grant_args(h), E_FROZEN)
    h.govern("unfreeze", {"subject": USCC})
    h.govern("freeze", {"subject": k.hex, "reason": "key leaked"})
    h.expect_refused(k, "consent.grant", grant_args(h), E_FROZEN)
