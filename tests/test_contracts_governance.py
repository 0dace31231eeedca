"""Governance: committee proposals and votes for validators, roles, parameters and freezes;
every refusal checks its code and that nothing but the sender's nonce changed. Also genesis."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import keys
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_FROZEN, E_NOT_FOUND, E_STATE
from contracts.genesis import genesis_state
from contracts.governance import (
    E_DECIDED,
    E_EXPIRED,
    E_VALIDATORS,
    E_VOTED,
    is_frozen,
    votes_needed,
)
from contracts.params import DEFAULTS
from contracts.state import Overlay
from ledger import encoding
from ledger.block import validators_from_obj
from ledger.genesis import GenesisDoc
from tests.contract_harness import Harness

USCC = "91350100M000100Y43"


def propose(h: Harness, action: str, payload: dict[str, Any]) -> int:
    receipt = h.expect_ok(h.committee[0], "gov.propose", {"action": action, "payload": payload})
    return int(receipt.events[0]["id"])


def vote(h: Harness, member: int, proposal_id: int, approve: bool = True) -> None:
    h.expect_ok(h.committee[member], "gov.vote", {"id": proposal_id, "approve": approve})


def status(h: Harness, proposal_id: int) -> str:
    return str(h.get(f"gov/proposal/{proposal_id}")["status"])


def test_votes_needed_is_the_ceiling_of_the_threshold() -> None:
    assert votes_needed(3, 67) == 3
    assert votes_needed(4, 67) == 3
    assert votes_needed(5, 67) == 4
    assert votes_needed(3, 51) == 2
    assert votes_needed(1, 67) == 1


def test_a_role_is_granted_when_the_threshold_is_reached_and_not_before() -> None:
    h = Harness()
    member = h.account("attestor-1")
    pid = propose(h, "grant_role", {"role": "attestor", "member": member.pubkey})
    vote(h, 1, pid)
    assert status(h, pid) == "open"
    assert h.get(keys.role("attestor", member.pubkey)) is None
    vote(h, 2, pid)
    assert status(h, pid) == "executed"
    assert h.get(keys.role("attestor", member.pubkey)) == {"granted_height": h.height}


def test_a_lower_threshold_parameter_needs_fewer_votes() -> None:
    h = Harness(params={"gov_threshold_pct": 51})
    member = h.account("p")
    pid = propose(h, "grant_role", {"role": "platform", "member": member.pubkey})
    vote(h, 1, pid)
    assert status(h, pid) == "executed"


def test_a_role_is_revoked() -> None:
    h = Harness()
    member = h.account("sup")
    h.govern("grant_role", {"role": "supervisor", "member": member.pubkey})
    h.govern("revoke_role", {"role": "supervisor", "member": member.pubkey})
    assert h.get(keys.role("supervisor", member.pubkey)) is None


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("grant_role", {"role": "emperor", "member": b"\x01" * 32}, E_BAD_ARGS),
        ("grant_role", {"role": "platform", "member": b"\x01" * 31}, E_BAD_ARGS),
        ("grant_role", {"role": "platform"}, E_BAD_ARGS),
        ("revoke_role", {"role": "platform", "member": b"\x01" * 32}, E_NOT_FOUND),
        ("launch", {}, E_BAD_ARGS),
        ("set_param", {"name": "no_such_param", "value": 1}, E_BAD_ARGS),
        ("set_param", {"name": "min_validators", "value": "5"}, E_BAD_ARGS),
        ("set_param", {"name": "min_validators", "value": 3}, E_BAD_ARGS),
        ("set_param", {"name": "gov_threshold_pct", "value": 101}, E_BAD_ARGS),
        ("set_param", {"name": "debarring_kinds", "value": 7}, E_BAD_ARGS),
        ("set_param", {"name": "gov_proposal_ttl_ms", "value": True}, E_BAD_ARGS),
        ("freeze", {"subject": "91350100M000100Y44", "reason": "x"}, E_BAD_ARGS),
        ("freeze", {"subject": "AB" * 32, "reason": "x"}, E_BAD_ARGS),
        ("freeze", {"subject": USCC}, E_BAD_ARGS),
        ("unfreeze", {"subject": USCC}, E_NOT_FOUND),
        ("add_validator", {"name": "v9", "pubkey": b"\x01" * 33}, E_BAD_ARGS),
        ("remove_validator", {"pubkey": b"\x09" * 32}, E_NOT_FOUND),
        ("remove_validator", {"pubkey": "v0"}, E_BAD_ARGS),
    ],
)
def test_bad_proposals_are_refused(action: str, payload: dict[str, Any], code: str) -> None:
    h = Harness()
    h.expect_refused(h.committee[0], "gov.propose", {"action": action, "payload": payload}, code)
    assert h.get("gov/proposal_seq") is None


def test_granting_a_held_role_is_refused() -> None:
    h = Harness()
    h.expect_refused(
        h.committee[0],
        "gov.propose",
        {"action": "grant_role", "payload": {"role": "committee", "member": h.committee[1].pubkey}},
        E_EXISTS,
    )


def test_a_non_committee_caller_is_refused() -> None:
    h = Harness()
    outsider = h.account("outsider")
    payload = {"role": "platform", "member": outsider.pubkey}
    h.expect_refused(
        outsider, "gov.propose", {"action": "grant_role", "payload": payload}, E_FORBIDDEN
    )
    pid = propose(h, "grant_role", payload)
    h.expect_refused(outsider, "gov.vote", {"id": pid, "approve": True}, E_FORBIDDEN)


def test_voting_twice_is_refused() -> None:
    h = Harness(committee_size=5)
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    h.expect_refused(h.committee[0], "gov.vote", {"id": pid, "approve": True}, E_VOTED)
    vote(h, 1, pid, approve=False)
    h.expect_refused(h.committee[1], "gov.vote", {"id": pid, "approve": True}, E_VOTED)


def test_deciding_twice_is_refused() -> None:
    h = Harness(committee_size=4)
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    vote(h, 1, pid)
    vote(h, 2, pid)
    assert status(h, pid) == "executed"
    h.expect_refused(h.committee[3], "gov.vote", {"id": pid, "approve": True}, E_DECIDED)


def test_no_votes_that_make_the_threshold_unreachable_reject_the_proposal() -> None:
    h = Harness()
    member = h.account("p")
    pid = propose(h, "grant_role", {"role": "platform", "member": member.pubkey})
    vote(h, 1, pid, approve=False)
    assert status(h, pid) == "rejected"
    assert h.get(keys.role("platform", member.pubkey)) is None
    h.expect_refused(h.committee[2], "gov.vote", {"id": pid, "approve": True}, E_DECIDED)


def test_voting_on_an_expired_proposal_is_refused() -> None:
    h = Harness()
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    expires_ms = h.get(f"gov/proposal/{pid}")["expires_ms"]
    assert expires_ms == h.time_ms + int(DEFAULTS["gov_proposal_ttl_ms"])
    h.expect_refused(
        h.committee[1], "gov.vote", {"id": pid, "approve": True}, E_EXPIRED, at_ms=expires_ms
    )


def test_vote_arguments_are_checked() -> None:
    h = Harness()
    h.expect_refused(h.committee[0], "gov.vote", {"id": 99, "approve": True}, E_NOT_FOUND)
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    h.expect_refused(h.committee[1], "gov.vote", {"id": pid, "approve": 1}, E_BAD_ARGS)
    h.expect_refused(h.committee[1], "gov.vote", {"id": -1, "approve": True}, E_BAD_ARGS)


def test_validators_are_added_and_removed_but_never_below_four() -> None:
    h = Harness()
    new = h.account("v4")
    h.govern("add_validator", {"name": "v4", "pubkey": new.pubkey})
    vals = validators_from_obj(h.get(keys.VALIDATORS))
    assert [v.name for v in vals] == ["v0", "v1", "v2", "v3", "v4"]
    h.govern("remove_validator", {"pubkey": h.account("v1").pubkey})
    vals = validators_from_obj(h.get(keys.VALIDATORS))
    assert [v.name for v in vals] == ["v0", "v2", "v3", "v4"]
    payload = {"pubkey": h.account("v0").pubkey}
    h.expect_refused(
        h.committee[0],
        "gov.propose",
        {"action": "remove_validator", "payload": payload},
        E_VALIDATORS,
    )
    h.expect_refused(
        h.committee[0],
        "gov.propose",
        {"action": "add_validator", "payload": {"name": "again", "pubkey": new.pubkey}},
        E_EXISTS,
    )


def test_the_action_is_checked_again_when_it_executes() -> None:
    h = Harness(validator_count=5)
    first = propose(h, "remove_validator", {"pubkey": h.account("v1").pubkey})
    second = propose(h, "remove_validator", {"pubkey": h.account("v2").pubkey})
    vote(h, 1, first)
    vote(h, 2, first)
    assert len(h.get(keys.VALIDATORS)) == 4
    vote(h, 1, second)
    h.expect_refused(h.committee[2], "gov.vote", {"id": second, "approve": True}, E_VALIDATORS)
    assert status(h, second) == "open"


def test_a_parameter_change_takes_effect() -> None:
    h = Harness()
    h.govern("set_param", {"name": "gov_threshold_pct", "value": 51})
    assert h.get(keys.param("gov_threshold_pct")) == 51
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    vote(h, 1, pid)
    assert status(h, pid) == "executed"
    h.govern("set_param", {"name": "debarring_kinds", "value": "bid_debarment"})
    assert h.get(keys.param("debarring_kinds")) == "bid_debarment"


def test_entities_and_accounts_are_frozen_and_unfrozen() -> None:
    h = Harness()
    key_hex = h.account("x").hex
    h.govern("freeze", {"subject": USCC, "reason": "court order (2024) 粤15执1号"})
    h.govern("freeze", {"subject": key_hex, "reason": "leaked key"})
    view = Overlay(h.state)
    assert is_frozen(view, USCC) and is_frozen(view, key_hex)
    assert h.get(keys.frozen(USCC))["reason"] == "court order (2024) 粤15执1号"
    h.expect_refused(
        h.committee[0],
        "gov.propose",
        {"action": "freeze", "payload": {"subject": USCC, "reason": "again"}},
        E_EXISTS,
    )
    h.govern("unfreeze", {"subject": USCC})
    assert not is_frozen(Overlay(h.state), USCC)
    assert is_frozen(Overlay(h.state), key_hex)


def test_a_frozen_committee_key_cannot_propose_or_vote() -> None:
    h = Harness(committee_size=4)
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    h.govern("freeze", {"subject": h.committee[3].hex, "reason": "key compromised"})
    h.expect_refused(h.committee[3], "gov.vote", {"id": pid, "approve": True}, E_FROZEN)


def test_committee_changes_move_the_threshold_and_drop_old_votes() -> None:
    h = Harness(committee_size=4)
    pid = propose(h, "grant_role", {"role": "platform", "member": h.account("p").pubkey})
    vote(h, 3, pid)  # c0 and c3 for; 3 of 4 needed
    h.govern("revoke_role", {"role": "committee", "member": h.committee[3].pubkey})
    assert h.get("gov/committee") == sorted(c.pubkey for c in h.committee[:3])
    vote(h, 1, pid)  # c3's vote no longer counts: 2 of 3, 3 needed
    assert status(h, pid) == "open"
    vote(h, 2, pid)
    assert status(h, pid) == "executed"


def test_the_committee_never_becomes_empty() -> None:
    h = Harness(committee_size=1)
    h.expect_refused(
        h.committee[0],
        "gov.propose",
        {
            "action": "revoke_role",
            "payload": {"role": "committee", "member": h.committee[0].pubkey},
        },
        E_STATE,
    )


# --- genesis ---


def _doc(**changes: Any) -> GenesisDoc:
    h = Harness()
    fields: dict[str, Any] = {
        "chain_id": h.doc.chain_id,
        "suite": h.doc.suite,
        "time_ms": h.doc.time_ms,
        "validators": h.doc.validators,
        "committee": h.doc.committee,
        "roles": {"attestor": [h.account("a").pubkey]},
        "params": {"min_validators": 5},
    }
    fields.update(changes)
    return GenesisDoc(**fields)


def test_genesis_writes_params_validators_committee_and_roles() -> None:
    doc = _doc()
    state = {k: encoding.decode(v) for k, v in genesis_state(doc).items()}
    assert state[keys.param("min_validators")] == 5
    for name, default in DEFAULTS.items():
        if name != "min_validators":
            assert state[keys.param(name)] == default
    assert validators_from_obj(state[keys.VALIDATORS]) == doc.validators
    assert state["gov/committee"] == sorted(doc.committee)
    for member in doc.committee:
        assert keys.role("committee", member) in state
    assert keys.role("attestor", doc.roles["attestor"][0]) in state


@pytest.mark.parametrize(
    "changes",
    [
        {"params": {"no_such": 1}},
        {"params": {"min_validators": "4"}},
        {"roles": {"emperor": [b"\x01" * 32]}},
        {"committee": []},
    ],
)
def test_genesis_refuses_bad_documents(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        genesis_state(_doc(**changes))


def test_genesis_is_deterministic() -> None:
    assert genesis_state(_doc()) == genesis_state(_doc())
