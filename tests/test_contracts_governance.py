"""Governance: committee proposals and votes for validators, roles, parameters and freezes;
every refusal checks its code and that nothing but the sender's nonce changed. Also genesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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
from contracts.identity import entity_of_key, rotation_message
from contracts.params import DEFAULTS
from contracts.periods import DAY_MS, end_of_months_ms
from contracts.state import Overlay
from ledger import encoding
from ledger.block import validators_from_obj
from ledger.genesis import GenesisDoc
from ledger.tx import OK, Receipt, SignedTx
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


# --- state machine over governance, identity, consent and credit calls ---

_USCCS = ["91350100M000100Y43", "91441500MA4W00001C", "91441502MA4W123451", "91441500MA4W00001D"]
_KINDS = [
    "qualification",
    "general_breach",
    "serious_breach",
    "bid_debarment",
    "judgment_defaulter",
]
_ROLES = ["platform", "attestor", "credit_authority", "committee", "guarantor"]
_ACTORS = ["c0", "c1", "c2", "att", "auth", "plat", "e0", "e1", "e2", "stranger"]
# callers weighted towards the role a call needs, so that most calls get past the role check
_MEMBERS = ["c0", "c1", "c2"] * 4 + ["att", "stranger"]
_ENTITY_KEYS = ["e0", "e1", "e2", "e3"]


class ContractCalls(RuleBasedStateMachine):
    """Random calls by random actors; every refusal must change only the sender's nonce."""

    def __init__(self) -> None:
        super().__init__()
        self.h = self._fresh()
        self.blocks: list[tuple[list[SignedTx], int]] = []
        self.receipts: list[Receipt] = []
        self.record_ids: list[str] = ["00" * 32]
        self.doc_no = 0

    @staticmethod
    def _fresh() -> Harness:
        return Harness(
            validator_count=5,
            params={"gov_threshold_pct": 51},
            roles={"attestor": ["att"], "credit_authority": ["auth"], "platform": ["plat"]},
        )

    def _run(self, actor: str, call: str, args: dict[str, Any]) -> Receipt:
        h = self.h
        acct = h.account(actor)
        before = dict(h.state.values)
        tx = h.tx(acct, call, args)
        at_ms = h.time_ms + 1000
        receipt = h.run_block([tx], at_ms)[0]
        self.blocks.append(([tx], at_ms))
        self.receipts.append(receipt)
        if receipt.code != OK:
            after = dict(h.state.values)
            nonce_key = keys.nonce(acct.pubkey)
            assert after.pop(nonce_key) != before.pop(nonce_key, None)
            assert after == before, f"{call} refused with {receipt.code} but changed state"
        return receipt

    @rule(days=st.sampled_from([0, 1, 30, 200, 400]))
    def advance(self, days: int) -> None:
        self.h.advance(days=days)

    @rule(
        actor=st.sampled_from(_MEMBERS),
        action=st.sampled_from(
            [
                "grant_role",
                "revoke_role",
                "set_param",
                "freeze",
                "unfreeze",
                "add_validator",
                "remove_validator",
                "nonsense",
            ]
        ),
        who=st.sampled_from(_ACTORS + ["v0", "v1", "v5"]),
        role=st.sampled_from(_ROLES),
        uscc=st.sampled_from(_USCCS),
        value=st.integers(0, 120),
    )
    def propose(self, actor: str, action: str, who: str, role: str, uscc: str, value: int) -> None:
        h = self.h
        member = h.account(who)
        payloads: dict[str, dict[str, Any]] = {
            "grant_role": {"role": role, "member": member.pubkey},
            "revoke_role": {"role": role, "member": member.pubkey},
            "set_param": {"name": "gov_threshold_pct", "value": value},
            "freeze": {"subject": uscc if value % 2 else member.hex, "reason": "r"},
            "unfreeze": {"subject": uscc if value % 2 else member.hex},
            "add_validator": {"name": who, "pubkey": member.pubkey},
            "remove_validator": {"pubkey": member.pubkey},
            "nonsense": {},
        }
        payload = payloads[action]
        self._run(actor, "gov.propose", {"action": action, "payload": payload})

    @rule(actor=st.sampled_from(_MEMBERS), back=st.integers(0, 3), approve=st.booleans())
    def vote(self, actor: str, back: int, approve: bool) -> None:
        # mostly the latest proposals; an id past the last one tests E_NOT_FOUND
        pid = int(self.h.get("gov/proposal_seq") or 0) - 1 + (back == 3) - back
        self._run(actor, "gov.vote", {"id": max(pid, 0), "approve": approve})

    @rule(
        actor=st.sampled_from(["att"] * 6 + ["stranger", "c0"]),
        uscc=st.sampled_from(_USCCS),
        key_names=st.lists(st.sampled_from(_ENTITY_KEYS), min_size=1, max_size=3),
        days=st.integers(-10, 800),
    )
    def attest(self, actor: str, uscc: str, key_names: list[str], days: int) -> None:
        h = self.h
        self._run(
            actor,
            "identity.attest",
            {
                "uscc": uscc,
                "name": "n",
                "entity_type": "enterprise",
                "cert_issuer": "ca",
                "cert_serial": "1",
                "valid_from_ms": h.time_ms,
                "valid_to_ms": h.time_ms + days * DAY_MS,
                "keys": [h.account(k).pubkey for k in key_names],
            },
        )

    @rule(
        actor=st.sampled_from(["att"] * 3 + ["e0", "e1", "stranger"]),
        method=st.sampled_from(["bind_key", "unbind_key", "revoke"]),
        uscc=st.sampled_from(_USCCS),
        key=st.sampled_from(_ENTITY_KEYS),
    )
    def identity_change(self, actor: str, method: str, uscc: str, key: str) -> None:
        args: dict[str, Any] = {"uscc": uscc}
        if method == "revoke":
            args["reason"] = "r"
        else:
            args["pubkey"] = self.h.account(key).pubkey
        self._run(actor, f"identity.{method}", args)

    @rule(
        actor=st.sampled_from(_ENTITY_KEYS),
        new=st.sampled_from(_ENTITY_KEYS + ["e4"]),
        uscc=st.sampled_from(_USCCS),
        good_sig=st.booleans(),
    )
    def rotate(self, actor: str, new: str, uscc: str, good_sig: bool) -> None:
        h = self.h
        old_key, new_acct = h.account(actor), h.account(new)
        message = rotation_message(h.chain_id, uscc, old_key.pubkey, new_acct.pubkey)
        signer = new_acct if good_sig else old_key
        sig = h.suite.sign(signer.secret, message)
        self._run(actor, "identity.rotate_key", {"new_key": new_acct.pubkey, "new_key_sig": sig})

    @rule(
        actor=st.sampled_from(["auth"] * 6 + ["att", "c1"]),
        uscc=st.sampled_from(_USCCS),
        kind=st.sampled_from(_KINDS),
        # 24 often: a judgment_defaulter record lasts exactly that, and extend needs one
        months=st.one_of(st.just(24), st.integers(0, 40)),
    )
    def record(self, actor: str, uscc: str, kind: str, months: int) -> None:
        h = self.h
        self.doc_no += 1
        args: dict[str, Any] = {
            "uscc": uscc,
            "kind": kind,
            "document_no": f"doc-{self.doc_no % 7}",
            "basis": "b",
            "scope_kinds": ["*"],
            "scope_regions": ["441500"],
            "from_ms": h.time_ms,
            "to_ms": end_of_months_ms(h.time_ms, months),
            "evidence_hash": b"\x01" * 32,
        }
        if kind == "qualification":
            args.update(category="c", level=1 + months % 3)
        receipt = self._run(actor, "credit.record", args)
        if receipt.code == OK:
            self.record_ids.append(receipt.tx_id.hex())

    @rule(
        actor=st.sampled_from(["auth"] * 6 + ["c1"]),
        method=st.sampled_from(["repair", "end", "extend"]),
        index=st.integers(0, 20),
        months=st.integers(0, 30),
    )
    def record_change(self, actor: str, method: str, index: int, months: int) -> None:
        rid = self.record_ids[index % len(self.record_ids)]
        args: dict[str, Any] = {"id": rid}
        if method == "repair":
            args.update(decision_no="d", basis="b", evidence_hash=b"\x02" * 32)
        elif method == "end":
            args["reason"] = "r"
        else:
            rec = self.h.get(f"credit/record/{rid}")
            base = rec["to_ms"] if rec else self.h.time_ms
            args.update(to_ms=end_of_months_ms(base, months), document_no="x")
        self._run(actor, f"credit.{method}", args)

    @rule(
        actor=st.sampled_from(_ENTITY_KEYS),
        platform=st.sampled_from(["plat", "stranger"]),
        revoke=st.booleans(),
    )
    def consent(self, actor: str, platform: str, revoke: bool) -> None:
        h = self.h
        args: dict[str, Any] = {"platform": h.account(platform).pubkey, "dataset": "d"}
        if revoke:
            self._run(actor, "consent.revoke", args)
        else:
            args.update(scope=["*"], valid_to_ms=h.time_ms + 30 * DAY_MS)
            self._run(actor, "consent.grant", args)

    @invariant()
    def governance_invariants_hold(self) -> None:
        h = self.h
        vals = validators_from_obj(h.get(keys.VALIDATORS))
        assert len(vals) >= 4
        members = h.get("gov/committee")
        assert members
        for m in members:
            assert h.get(keys.role("committee", m)) is not None

    @invariant()
    def every_key_binding_is_listed_by_its_entity(self) -> None:
        h = self.h
        view = Overlay(h.state)
        for key in h.state.values:
            if key.startswith("id/key/"):
                pubkey = bytes.fromhex(key.removeprefix("id/key/"))
                att = h.get(f"id/entity/{h.get(key)['uscc']}")
                assert pubkey in att["keys"]
                owner = entity_of_key(view, pubkey, h.time_ms)
                assert owner is None or owner == att["uscc"]

    @precondition(lambda self: len(self.blocks) > 0)
    @invariant()
    def replay_is_deterministic(self) -> None:
        if len(self.blocks) % 10:
            return
        fresh = self._fresh()
        replayed: list[Receipt] = []
        for txs, at_ms in self.blocks:
            replayed.extend(fresh.run_block(txs, at_ms))
        assert replayed == self.receipts
        assert fresh.state.values == self.h.state.values


ContractCalls.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_contract_calls = ContractCalls.TestCase


def test_the_same_block_on_two_fresh_states_gives_identical_writes_and_receipts() -> None:
    def block() -> tuple[dict[str, bytes | None], list[Receipt]]:
        h = Harness(roles={"attestor": ["att"], "credit_authority": ["auth"]})
        c0, c1, c2 = h.committee
        member = h.account("p").pubkey
        txs = [
            h.tx(
                c0,
                "gov.propose",
                {"action": "grant_role", "payload": {"role": "platform", "member": member}},
            ),
            h.tx(c1, "gov.vote", {"id": 0, "approve": True}),
            h.tx(c2, "gov.vote", {"id": 0, "approve": True}),
            h.tx(c2, "gov.vote", {"id": 0, "approve": True}),  # refused: decided
            h.tx(h.account("att"), "identity.attest", {"uscc": USCC}),  # refused: bad args
        ]
        result = h.executor.execute_block(h.state, h.context(), txs)
        return result.writes, result.receipts

    writes_a, receipts_a = block()
    writes_b, receipts_b = block()
    assert writes_a == writes_b
    assert receipts_a == receipts_b
    assert [r.code for r in receipts_a] == [OK, OK, OK, E_DECIDED, E_BAD_ARGS]
    assert keys.role("platform", Harness().account("p").pubkey) in writes_a
