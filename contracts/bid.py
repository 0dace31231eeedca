"""Sealed bids (``bid.*``): enrol, submit, replace, withdraw, open, reveal, close, revoke.

A bid is sealed: the chain sees the hash of the encrypted bid file, the encrypted summary
(``contracts.sealing``), and the commitment ``Hd(0x60, body)`` over the fixed-width body
documented in ``contracts.sealing``; the contract recomputes the commitment from the
sender's entity, the tender, the lot and both hashes, and refuses one that does not match.

Where a bid lives, and what state shows before the deadline
------------------------------------------------------------
- ``bidder/<USCC>``: the entity's enrolment, the commitments ``Hd(0x66, secret)`` to its
  bidder secrets (``bid.enrol``; a later enrolment replaces a lost secret for tenders
  announced after it). Every bidder call before the deadline (submit, replace, withdraw)
  names the secret (``bid_secret``; reveal and revoke find the slot among those named at
  opening); the contract checks it against the enrolment in force when the tender was
  announced (the first one if the entity enrolled later), so each entity has exactly one
  secret, hence one slot, per tender lot.
- ``bid/<tender>/<lot>/<slot>`` with ``slot = hex(Hd(0x61, header ‖ secret))``
  (``contracts.sealing.slot``; ``header`` the 85-byte commitment header: version, H(chain),
  H(tender), lot, USCC). One slot per entity and lot is what makes "one bid per entity per
  lot" and "the latest version counts": a replacement rewrites the slot's current version and
  appends the old one to its history. Nobody without the bidder's secret can compute the
  slot, so nobody can test an entity against the state.
- ``bidset/<tender>/<lot>``: the XOR of the live slots (32 bytes). No list and no counter of
  bids is kept until opening, so the state holds no "how many" and no index of "who".
- A bid's guarantee is named in the bid record only; the binding record
  (``contracts.guarantee``) is written at opening, so before the deadline no key derived
  from a guarantee's number changes because a bid named it.
- Opening names the live slots (the platform's node collects them from its state); the
  contract checks each exists and is live, and that their XOR equals ``bidset``, so no live
  bid can be left out (leaving some out would need their XOR to be zero).

Submit, replace and withdraw carry the secret, so those transactions stay with the bidder
and supervisors for good (``contracts.disclosure``); the opening record is the public
account of them. They are sent by a one-time agent key that one of the entity's keys
authorises (``contracts.agents``), so not even the entity's nonce record moves with a bid.

Limits, honestly: a PROTOCOL §6 proof of *absence* shows the leaf it ends at, which may be
another key's. Slots and agents' nonces are out of a stranger's reach, but
``bidset/<tender>/<lot>`` lives at a path anyone can compute: whoever grinds a public key
whose path runs next to it (about 2^22 hashes on a small chain, seconds of Python; a few bits
more at a million keys) sees its value hash change, that is how many times the lot's live
set changed, and, the empty set's digest being a constant, whether it holds a live bid at
all (never whose); and whoever walks the whole tree that way sees new leaves appear.
Closing that needs a change to how §6 proofs of absence show their neighbour; it is
reported to the protocol's authors.

After the deadline the bids are opened, revealed and closed: ``contracts.opening``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import agents, args, guarantee, opening, sealing
from contracts.credit import bid_blockers, has_qualification
from contracts.errors import E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE, ContractError
from contracts.identity import require_entity_key, require_entity_sender
from contracts.opening import LIVE, ZERO, bidset_key, xor
from contracts.runtime import Call, Contract
from contracts.tender_record import bid_key, bidder_conflict, load_view, lot_view, record_id, step
from contracts.tender_rules import BID
from ledger.crypto import DIGEST_LEN

E_COMMITMENT = "E_COMMITMENT"  # the commitment does not bind this tender, lot, entity and hashes
E_CONFLICT = "E_CONFLICT"  # the platform operator, a related party, the tenderer or agent bids
E_DEBARRED = "E_DEBARRED"  # a debarring credit record in scope is in force
E_UNQUALIFIED = "E_UNQUALIFIED"  # a required qualification is missing
E_BID_SECRET = "E_BID_SECRET"  # not enrolled, or the secret is not the enrolment's

ENROLMENTS_MAX = 8  # commitments an entity may record in its lifetime (lost secrets)


def enrolment_key(uscc: str) -> str:
    return f"bidder/{uscc}"


def enrol(call: Call) -> None:
    """Enrol as a bidder: record the commitment to a bidder secret, the secret every bid
    call of the entity names from then on. Enrol once, early (at onboarding: an enrolment is
    an act of the entity that strangers cannot read, but its time is not hidden). A later
    enrolment is for a lost secret: it holds for tenders announced after it, while each
    tender keeps the secret in force at its announcement (at most ``ENROLMENTS_MAX``).

    Who: a key bound to the entity (attestation in force; key and entity not frozen).

    Args:
        commitment: ``Hd(0x66, secret)`` of a fresh 32-byte secret
            (``contracts.bidder.enrol_args``).
    """
    uscc = require_entity_sender(call)
    commitment = args.blob(call.args, "commitment", length=DIGEST_LEN)
    record = call.state.get(enrolment_key(uscc)) or {"secrets": []}
    if len(record["secrets"]) >= ENROLMENTS_MAX:
        raise ContractError(E_STATE, f"{uscc} has enrolled {ENROLMENTS_MAX} times")
    if any(e["commitment"] == commitment for e in record["secrets"]):
        raise ContractError(E_EXISTS, "this secret is enrolled already")
    record["secrets"] = record["secrets"] + [{"commitment": commitment, "from_ms": call.now_ms}]
    call.state.put(enrolment_key(uscc), record)
    call.emit("bid.enrolled", uscc=uscc, enrolments=len(record["secrets"]))


def _enrolled_commitment(call: Call, tender: Mapping[str, Any], uscc: str) -> bytes:
    """The commitment in force for this tender: the last one made at or before its
    announcement, or the entity's first if it enrolled after that."""
    record = call.state.get(enrolment_key(uscc))
    if record is None or not record["secrets"]:
        raise ContractError(E_BID_SECRET, f"{uscc} has not enrolled a bidder secret (bid.enrol)")
    entries = record["secrets"]
    before = [e for e in entries if e["from_ms"] <= tender["announced_ms"]]
    return bytes((before[-1] if before else entries[0])["commitment"])


def slot_of(call: Call, tender: Mapping[str, Any], lot: int, uscc: str) -> str:
    """The slot the call's ``bid_secret`` gives this entity's bid on the lot, once the
    secret is checked against the entity's enrolment (``E_BID_SECRET``)."""
    suite = call.block.suite
    secret = args.blob(call.args, "bid_secret", length=sealing.BID_SECRET_LEN)
    if sealing.secret_commitment(suite, secret) != _enrolled_commitment(call, tender, uscc):
        raise ContractError(E_BID_SECRET, "the bidder secret is not the one this entity enrolled")
    chain_id = call.block.chain_id
    return sealing.slot(suite, chain_id, tender["tender_id"], lot, uscc, secret).hex()


def _toggle(call: Call, tender_id: str, lot: int, slot: str) -> None:
    key = bidset_key(tender_id, lot)
    current = call.state.get(key) or ZERO
    call.state.put(key, xor(current, bytes.fromhex(slot)))


def _agent_entity(call: Call, name: str) -> str:
    """The entity whose bound key authorised the one-time agent key sending this sealed call
    (``contracts.agents``): attested, key and entity not frozen, the signature good."""
    key = agents.claimed_entity_key(call.args)
    if key is None or key == call.sender:
        raise ContractError(E_FORBIDDEN, "a sealed bid call comes from a one-time agent key "
                                         "that the entity's key authorises (bidder_key, "
                                         "bidder_signature), not from the entity's own key: "
                                         "its nonce would show the bid")
    uscc = require_entity_key(call, key, "bidder_key")
    if not agents.signature_authorises(call.block.suite, call.block.chain_id, name,
                                       call.sender, call.args, key):
        raise ContractError(E_FORBIDDEN, "bidder_signature does not let this agent key send "
                                         f"{name} on this tender lot")
    return uscc


def _bidder(call: Call, tender: Mapping[str, Any], name: str) -> str:
    """The bidding entity, checked for every bidding rule of DOMAIN.md."""
    uscc = _agent_entity(call, name)
    if bidder_conflict(tender, uscc):
        raise ContractError(
            E_CONFLICT, f"{uscc} may not bid on this tender (operator, related or tenderer side)"
        )
    blockers = bid_blockers(call.state, uscc, tender["kind"], tender["region"], call.now_ms)
    if blockers:
        raise ContractError(E_DEBARRED, f"{uscc} is barred from bidding by {', '.join(blockers)}")
    for q in tender["qualifications"]:
        if not has_qualification(call.state, uscc, q["category"], q["min_level"], call.now_ms):
            raise ContractError(
                E_UNQUALIFIED, f"{uscc} lacks {q['category']} level {q['min_level']}"
            )
    return uscc


def _sealed_fields(call: Call, tender: Mapping[str, Any], lot: int, uscc: str) -> dict[str, Any]:
    suite = call.block.suite
    file_hash = args.blob(call.args, "file_hash", length=DIGEST_LEN)
    sealed = args.blob(call.args, "sealed_summary", max_len=sealing.max_sealed_len(suite))
    given = args.blob(call.args, "commitment", length=DIGEST_LEN)
    summary_hash = suite.hash(sealed)
    expected = sealing.commitment_of_hashes(
        suite, call.block.chain_id, tender["tender_id"], lot, uscc, file_hash, summary_hash
    )
    if given != expected:
        raise ContractError(
            E_COMMITMENT, "the commitment does not bind this tender, lot, entity and hashes"
        )
    return {
        "commitment": given,
        "file_hash": file_hash,
        "summary_hash": summary_hash,
        "sealed": sealed,
    }


def _start(call: Call, name: str,
           eligible: bool = True) -> tuple[Mapping[str, Any], int, str, str]:
    """Tender (read-only), lot, bidder and slot of a sealed bid call ``name``; ``eligible``
    checks every bidding rule (a withdrawal needs only the entity: a bidder debarred since
    may still take its bid back)."""
    tender = load_view(call, record_id(call.args, "tender_id"))
    step(call, tender, "bid")
    lot = args.integer(call.args, "lot", 1, 0xFFFF)
    lot_view(tender, lot)
    uscc = _bidder(call, tender, name) if eligible else _agent_entity(call, name)
    return tender, lot, uscc, slot_of(call, tender, lot, uscc)


def _guarantee_number(call: Call) -> str:
    if "guarantee" not in call.args or call.args["guarantee"] == "":
        return ""
    return record_id(call.args, "guarantee")


def submit(call: Call) -> None:
    """Submit a sealed bid before the deadline: one per entity and lot (a withdrawn one may
    come back). The bidder must be attested, unfrozen, not the platform operator, a related
    party, the tenderer or its agent (``E_CONFLICT``), not debarred in the tender's kind and
    region (``E_DEBARRED``), and hold every required qualification (``E_UNQUALIFIED``); the
    guarantee must meet every rule of ``contracts.guarantee`` (``E_GUARANTEE_*``).

    Who: a one-time agent key, authorised by a key bound to the bidding entity (attestation
    in force; key and entity not frozen): ``contracts.agents``.

    Args:
        tender_id: the tender.
        lot: the lot number (1, 2, …).
        file_hash: hash of the encrypted bid file (as uploaded to the platform).
        sealed_summary: the AEAD-sealed bid summary (``contracts.sealing``: one fixed length
            per suite, 4,136 bytes with ed25519-sha256, 4,124 with sm2-sm3).
        commitment: ``Hd(0x60, body)`` binding chain, tender, lot, entity and both hashes
            (``E_COMMITMENT`` when it does not).
        guarantee (optional): the guarantee number bound to the bid ('' or absent: none,
            allowed only when the lot requires none: ``E_GUARANTEE_MISSING``).
        bid_secret: the entity's bidder secret (``bid.enrol``; ``E_BID_SECRET`` when it is
            not the enrolled one): it keys the bid's slot.
        bidder_key (bytes): the entity's bound key authorising the agent sending this call.
        bidder_signature (bytes): its signature over the agent, call, tender and lot
            (``contracts.agents.authorisation``).

    ``contracts.bidder.seal_bid`` computes these arguments; the receipt is the bidder's proof.
    """
    tender, lot, uscc, slot = _start(call, "bid.submit")
    key = bid_key(tender["tender_id"], lot, slot)
    old = call.state.get(key)
    if old is not None and old["status"] == LIVE:
        raise ContractError(E_EXISTS, "this entity already has a bid on this lot: replace it "
                            "(bid replace), or, its sealed file lost, withdraw it with the "
                            "bidder-secret file (bid withdraw --secret-file) and seal again")
    fields = _sealed_fields(call, tender, lot, uscc)
    number = _guarantee_number(call)
    guarantee.bind(call, tender, lot, uscc, number)
    history: list[dict[str, Any]] = [] if old is None else old["history"] + [_version_of(old)]
    version = 1 if old is None else old["version"] + 1
    status = BID.next_state("" if old is None else old["status"], "submit")
    _write(call, key, (tender["tender_id"], lot, uscc), status, version, fields, number, history)
    _toggle(call, tender["tender_id"], lot, slot)
    call.emit("bid.sealed", commitment=fields["commitment"], version=version)


def replace(call: Call) -> None:
    """Replace the entity's live bid by a new version before the deadline (at most
    ``bid_versions_max`` versions); the guarantee may change. The bidding rules of
    ``bid.submit`` apply again.

    Who: a one-time agent key, authorised by a key bound to the bidding entity (attestation
    in force; key and entity not frozen): ``contracts.agents``.

    Args:
        tender_id: the tender.
        lot: the lot number.
        file_hash: hash of the new encrypted bid file.
        sealed_summary: the new sealed summary.
        commitment: the new commitment.
        guarantee (optional): the guarantee number now bound (a different one unbinds the
            old).
        bid_secret: the entity's bidder secret.
        bidder_key (bytes): the entity's bound key authorising the agent.
        bidder_signature (bytes): its authorisation (``contracts.agents``).
    """
    tender, lot, uscc, slot = _start(call, "bid.replace")
    key = bid_key(tender["tender_id"], lot, slot)
    old = call.state.get(key)
    if old is None or old["status"] != LIVE:
        raise ContractError(E_NOT_FOUND, "no live bid of this entity on this lot")
    if len(old["history"]) + 1 >= call.param("bid_versions_max"):
        raise ContractError(E_STATE, "too many versions of this bid")
    fields = _sealed_fields(call, tender, lot, uscc)
    number = _guarantee_number(call)
    if number != old["guarantee"]:
        guarantee.bind(call, tender, lot, uscc, number)
    history = old["history"] + [_version_of(old)]
    status = BID.next_state(old["status"], "replace")
    version = old["version"] + 1
    _write(call, key, (tender["tender_id"], lot, uscc), status, version, fields, number, history)
    call.emit("bid.sealed", commitment=fields["commitment"], version=old["version"] + 1)


def withdraw(call: Call) -> None:
    """Withdraw the entity's live bid before the deadline: it leaves the live set and its
    guarantee is unbound. Only the entity is checked (a bidder debarred since may still take
    its bid back).

    Who: a one-time agent key, authorised by a key bound to the bidding entity (attestation
    in force; key and entity not frozen): ``contracts.agents``.

    Args:
        tender_id: the tender.
        lot: the lot number.
        bid_secret: the entity's bidder secret.
        bidder_key (bytes): the entity's bound key authorising the agent.
        bidder_signature (bytes): its authorisation (``contracts.agents``).
    """
    tender, lot, uscc, slot = _start(call, "bid.withdraw", eligible=False)
    key = bid_key(tender["tender_id"], lot, slot)
    old = call.state.get(key)
    if old is None or old["status"] != LIVE:
        raise ContractError(E_NOT_FOUND, "no live bid of this entity on this lot")
    old["history"] = old["history"] + [_version_of(old)]
    BID.advance(old, "withdraw")
    old["guarantee"] = ""
    old["at_ms"] = call.now_ms
    call.state.put(key, old)
    _toggle(call, tender["tender_id"], lot, slot)
    call.emit("bid.withdrawn", version=old["version"])


def _version_of(bid: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": bid["version"],
        "status": bid["status"],
        "commitment": bid["commitment"],
        "guarantee": bid["guarantee"],
        "at_ms": bid["at_ms"],
    }


def _write(
    call: Call,
    key: str,
    where: tuple[str, int, str],
    status: str,
    version: int,
    fields: dict[str, Any],
    number: str,
    history: list[dict[str, Any]],
) -> None:
    tender_id, lot, uscc = where
    call.state.put(
        key,
        {
            "tender_id": tender_id,
            "lot": lot,
            "uscc": uscc,
            "status": status,
            "version": version,
            **fields,
            "guarantee": number,
            "at_ms": call.now_ms,
            "history": history,
            "price_fen": -1,
            "summary": b"",
        },
    )


CONTRACT = Contract(
    "bid",
    {
        "submit": submit,
        "replace": replace,
        "withdraw": withdraw,
        "open": opening.open_,
        "reveal": opening.reveal,
        "close": opening.close,
        "revoke": opening.revoke,
        "enrol": enrol,
    },
)
