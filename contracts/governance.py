"""Governance (``gov.*``): the committee proposes and votes; a proposal executes itself in the
transaction whose vote reaches the threshold.

A proposal names one action and its payload:

- ``add_validator {name, pubkey}``: appends to ``gov/validators`` (the set for the next block);
- ``remove_validator {pubkey}``: removes it, never below ``min_validators``;
- ``grant_role`` / ``revoke_role {role, member}``: ``role/<role>/<member hex>``; the committee
  is also listed in ``gov/committee`` (it never becomes empty);
- ``set_param {name, value}``: ``param/<name>``, a known name, a value of its type and bounds;
  a demo-only parameter (``params.DEMO_ONLY``) may leave its default only on a demonstration
  chain (``gov/demo_chain``, written by genesis alone), else ``E_DEMO_ONLY``; a genesis-only
  value (``params.GENESIS_ONLY``: ``heartbeat_ms`` 0, each validator's own) is ``E_BAD_ARGS``;
- ``freeze {subject, reason}`` / ``unfreeze {subject}``: ``frozen/<USCC or pubkey hex>``.

Votes needed = ``ceil(n × gov_threshold_pct / 100)`` of the current committee of ``n``; only
votes of current members count. The proposer's proposal is its yes vote. A proposal is
rejected as soon as the no votes make the threshold unreachable, and can no longer be voted
on after ``gov_proposal_ttl_ms``. The payload is checked when proposed and again when it
executes: if the chain changed so that the action is no longer allowed (say the validator
set shrank meanwhile), the deciding vote is refused with the action's code and the
proposal stays open until it expires.
"""

from __future__ import annotations

from typing import Any

from contracts import args as A
from contracts import keys, membership
from contracts.errors import (
    E_BAD_ARGS,
    E_EXISTS,
    E_FROZEN,
    E_NOT_FOUND,
    E_STATE,
    ContractError,
)
from contracts.params import DEFAULTS, DEMO_ONLY, GENESIS_ONLY, check_param
from contracts.runtime import Call, Contract, param
from contracts.state import Overlay
from contracts.uscc import valid_uscc
from ledger.block import MAX_VALIDATORS, Validator, validators_from_obj, validators_to_obj

E_EXPIRED = "E_EXPIRED"  # the proposal's voting period is over
E_DECIDED = "E_DECIDED"  # the proposal was already executed or rejected
E_VOTED = "E_VOTED"  # this member already voted on the proposal
E_VALIDATORS = "E_VALIDATORS"  # the validator change would leave an unusable set
E_DEMO_ONLY = "E_DEMO_ONLY"  # a demo-only parameter (demo days) on a chain that is not a demo

ROLES = (
    "committee",
    "platform",
    "attestor",
    "credit_authority",
    "guarantor",
    "supervisor",
    "expert_pool",  # the provincial expert pool: registers and updates experts
    "supermarket_admin",  # keeps the intermediary supermarket's catalogue
)
ACTIONS = (
    "add_validator",
    "remove_validator",
    "grant_role",
    "revoke_role",
    "set_param",
    "freeze",
    "unfreeze",
    *membership.ACTIONS,
)
COMMITTEE = "gov/committee"  # CE array of member public keys, sorted
PROPOSAL_SEQ = "gov/proposal_seq"  # int: the id the next proposal gets


def proposal_key(proposal_id: int) -> str:
    return f"gov/proposal/{proposal_id}"


# --- queries other contracts call ---


def is_frozen(state: Overlay, subject: str) -> bool:
    """True while an account (public key hex) or an entity (USCC) is frozen."""
    return state.exists(keys.frozen(subject))


def is_demo_chain(state: Overlay) -> bool:
    """True on a chain whose genesis declared it a demonstration chain."""
    return state.get(keys.DEMO_CHAIN) is True


def require_unfrozen_sender(state: Overlay, sender: bytes) -> None:
    """Refuse (E_FROZEN) a call whose sending key is frozen."""
    if is_frozen(state, sender.hex()):
        raise ContractError(E_FROZEN, "the sender's key is frozen")


def committee(state: Overlay) -> list[bytes]:
    members = state.get(COMMITTEE)
    return list(members) if members else []


def votes_needed(committee_size: int, threshold_pct: int) -> int:
    return max(1, -(-committee_size * threshold_pct // 100))


def current_validators(state: Overlay) -> tuple[Validator, ...]:
    obj = state.get(keys.VALIDATORS)
    if obj is None:
        raise KeyError("gov/validators is not set in state: broken genesis")
    return validators_from_obj(obj)


# --- payload checks (at proposal and again at execution) ---


def _check_subject(subject: str, pubkey_len: int) -> None:
    if valid_uscc(subject):
        return
    try:
        raw = bytes.fromhex(subject)
    except ValueError:
        raw = b""
    if len(raw) != pubkey_len or raw.hex() != subject:
        raise ContractError(
            E_BAD_ARGS, f"subject {subject!r} is neither a USCC nor a lowercase public key hex"
        )


def _check_action(call: Call, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The normalised payload if the action is allowed on the current state."""
    state = call.state
    suite = call.block.suite
    if action == "add_validator":
        name = A.text(payload, "name", max_len=64)
        pubkey = A.blob(payload, "pubkey", max_len=65)
        suite.check_pubkey(pubkey)
        vals = current_validators(state)
        if any(v.pubkey == pubkey for v in vals):
            raise ContractError(E_EXISTS, "the key is already a validator")
        if len(vals) + 1 > MAX_VALIDATORS:
            raise ContractError(E_VALIDATORS, f"a validator set has at most {MAX_VALIDATORS}")
        return {"name": name, "pubkey": pubkey}
    if action == "remove_validator":
        pubkey = A.blob(payload, "pubkey", max_len=65)
        vals = current_validators(state)
        if not any(v.pubkey == pubkey for v in vals):
            raise ContractError(E_NOT_FOUND, "the key is not a validator")
        minimum = int(param(state, "min_validators"))
        if len(vals) - 1 < minimum:
            raise ContractError(
                E_VALIDATORS, f"the validator set may not shrink below {minimum} members"
            )
        return {"pubkey": pubkey}
    if action in ("grant_role", "revoke_role"):
        role = A.text(payload, "role", max_len=32)
        if role not in ROLES:
            raise ContractError(E_BAD_ARGS, f"unknown role {role!r}")
        member = A.blob(payload, "member", max_len=65)
        suite.check_pubkey(member)
        held = state.exists(keys.role(role, member))
        if action == "grant_role" and held:
            raise ContractError(E_EXISTS, f"the member already holds {role!r}")
        if action == "revoke_role":
            if not held:
                raise ContractError(E_NOT_FOUND, f"the member does not hold {role!r}")
            if role == "committee" and len(committee(state)) <= 1:
                raise ContractError(E_STATE, "the committee may not become empty")
        return {"role": role, "member": member}
    if action == "set_param":
        name, value = check_param(payload.get("name"), payload.get("value"))
        if name in DEMO_ONLY and value != DEFAULTS[name] and not is_demo_chain(state):
            raise ContractError(E_DEMO_ONLY, f"{name} may be set only on a demonstration chain")
        if name in GENESIS_ONLY and value == GENESIS_ONLY[name]:
            raise ContractError(E_BAD_ARGS, f"{name} {value!r} is a genesis setting only: it is "
                                            "not one value for the whole chain")
        return {"name": name, "value": value}
    if action == "freeze":
        subject = A.text(payload, "subject", max_len=130)
        _check_subject(subject, suite.pubkey_len)
        reason = A.text(payload, "reason")
        if is_frozen(state, subject):
            raise ContractError(E_EXISTS, f"{subject} is already frozen")
        return {"subject": subject, "reason": reason}
    if action in membership.ACTIONS:
        return membership.check(call, action, payload)
    if action == "unfreeze":
        subject = A.text(payload, "subject", max_len=130)
        _check_subject(subject, suite.pubkey_len)
        if not is_frozen(state, subject):
            raise ContractError(E_NOT_FOUND, f"{subject} is not frozen")
        return {"subject": subject}
    raise ContractError(E_BAD_ARGS, f"unknown governance action {action!r}")


def _execute(call: Call, action: str, payload: dict[str, Any]) -> None:
    state = call.state
    payload = _check_action(call, action, payload)
    if action == "add_validator":
        vals = current_validators(state)
        new = (*vals, Validator(payload["name"], payload["pubkey"]))
        state.put(keys.VALIDATORS, validators_to_obj(new))
    elif action == "remove_validator":
        vals = current_validators(state)
        kept = tuple(v for v in vals if v.pubkey != payload["pubkey"])
        state.put(keys.VALIDATORS, validators_to_obj(kept))
    elif action == "grant_role":
        grant_role(state, payload["role"], payload["member"], call.block.height)
    elif action == "revoke_role":
        revoke_role(state, payload["role"], payload["member"])
    elif action == "set_param":
        state.put(keys.param(payload["name"]), payload["value"])
    elif action == "freeze":
        state.put(
            keys.frozen(payload["subject"]),
            {"reason": payload["reason"], "height": call.block.height},
        )
    elif action == "unfreeze":
        state.delete(keys.frozen(payload["subject"]))
    elif action in membership.ACTIONS:
        membership.execute(call, action, payload)
    call.emit("gov.executed", action=action)


def grant_role(state: Overlay, role: str, member: bytes, height: int) -> None:
    """Write a role grant (governance execution and genesis)."""
    state.put(keys.role(role, member), {"granted_height": height})
    if role == "committee":
        members = set(committee(state))
        members.add(member)
        state.put(COMMITTEE, sorted(members))


def revoke_role(state: Overlay, role: str, member: bytes) -> None:
    state.delete(keys.role(role, member))
    if role == "committee":
        state.put(COMMITTEE, sorted(m for m in committee(state) if m != member))


# --- handlers ---


def _require_member(call: Call) -> None:
    call.require_role("committee")
    require_unfrozen_sender(call.state, call.sender)


def _tally(call: Call, proposal_id: int, proposal: dict[str, Any]) -> None:
    """Execute or reject the proposal if the votes of current members decide it."""
    members = set(committee(call.state))
    needed = votes_needed(len(members), int(call.param("gov_threshold_pct")))
    yes = sum(1 for m in proposal["yes"] if m in members)
    no = sum(1 for m in proposal["no"] if m in members)
    if yes >= needed:
        _execute(call, proposal["action"], proposal["payload"])
        proposal["status"] = "executed"
    elif len(members) - no < needed:
        proposal["status"] = "rejected"
    else:
        return
    proposal["decided_ms"] = call.now_ms
    call.emit("gov.decided", id=proposal_id, status=proposal["status"])


def propose(call: Call) -> None:
    """Open a governance proposal; the proposal counts as the proposer's yes vote.

    Who: a key holding the role `committee`, not frozen.

    Args:
        action: one of ``ACTIONS``: ``add_validator``, ``remove_validator``, ``grant_role``,
            ``revoke_role``, ``set_param``, ``freeze``, ``unfreeze`` and the membership
            actions ``set_endpoint``, ``clear_endpoint``, ``rotate_validator``.
        payload: the action's fields (below), checked now and again when the proposal
            executes.

    Payloads: ``add_validator {name, pubkey}``, ``remove_validator {pubkey}`` (never below
    ``min_validators``), ``grant_role`` / ``revoke_role {role, member}`` (the committee never
    becomes empty), ``set_param {name, value}`` (a known name, a value of its type and bounds;
    a demo-only parameter leaves its default only on a demonstration chain, else
    ``E_DEMO_ONLY``), ``freeze {subject, reason}`` / ``unfreeze {subject}`` (a USCC or a
    public key's lowercase hex), ``set_endpoint {pubkey, host, port, kind}``,
    ``clear_endpoint {pubkey}``, ``rotate_validator {old, new, new_sig}``
    (``contracts.membership``). With a committee of one the proposal executes at once.
    """
    _require_member(call)
    action = A.text(call.args, "action", max_len=32)
    if action not in ACTIONS:
        raise ContractError(E_BAD_ARGS, f"unknown governance action {action!r}")
    payload = _check_action(call, action, A.mapping(call.args, "payload"))
    proposal_id = int(call.state.get(PROPOSAL_SEQ) or 0)
    call.state.put(PROPOSAL_SEQ, proposal_id + 1)
    proposal: dict[str, Any] = {
        "id": proposal_id,
        "action": action,
        "payload": payload,
        "proposer": call.sender,
        "created_ms": call.now_ms,
        "expires_ms": call.now_ms + int(call.param("gov_proposal_ttl_ms")),
        "yes": [call.sender],
        "no": [],
        "status": "open",
        "decided_ms": 0,
    }
    call.emit("gov.proposed", id=proposal_id, action=action)
    _tally(call, proposal_id, proposal)
    call.state.put(proposal_key(proposal_id), proposal)


def vote(call: Call) -> None:
    """Vote on an open proposal: one vote per member per proposal, until it expires.

    Who: a key holding the role `committee`, not frozen; only votes of current members count.

    Args:
        id: the proposal (``gov/proposal/<id>``).
        approve (bool): yes or no.

    The vote that reaches ``ceil(n × gov_threshold_pct / 100)`` yes votes executes the
    action in this transaction (its payload checked again: if the chain changed so that it is
    no longer allowed, this vote is refused with the action's code and the proposal stays
    open); the vote that makes the threshold unreachable rejects it.
    """
    _require_member(call)
    proposal_id = A.integer(call.args, "id")
    approve = A.boolean(call.args, "approve")
    proposal = call.state.get(proposal_key(proposal_id))
    if proposal is None:
        raise ContractError(E_NOT_FOUND, f"no proposal {proposal_id}")
    if proposal["status"] != "open":
        raise ContractError(E_DECIDED, f"proposal {proposal_id} is {proposal['status']}")
    if call.now_ms >= proposal["expires_ms"]:
        raise ContractError(E_EXPIRED, f"proposal {proposal_id} expired")
    if call.sender in proposal["yes"] or call.sender in proposal["no"]:
        raise ContractError(E_VOTED, "the sender already voted on this proposal")
    proposal["yes" if approve else "no"].append(call.sender)
    call.emit("gov.voted", id=proposal_id, approve=approve)
    _tally(call, proposal_id, proposal)
    call.state.put(proposal_key(proposal_id), proposal)


CONTRACT = Contract("gov", {"propose": propose, "vote": vote})
