"""Who may learn what: the disclosure policy every read path of the API asks.

DOMAIN.md step 4: before a tender's bid deadline nobody but the bidder itself may learn who
or how many have bid, through *any* read path; supervisors may read sealed material for
supervision and audit. The HTTP shell holds no state-key literal and no rule of its own: it
resolves the caller (``reader_of``: a signed request's key, its entity and roles at the head;
``PUBLIC`` for an unsigned one) and asks here, with the head state and the head block's
time as "now":

- ``key_refusal(state, reader, key, now_ms)`` — may this state key be served (value or
  proof)? ``None`` or the reason. Sealed bid records (``bid/<tender>/<lot>/<slot>``) before
  their tender's deadline: only to the bidder itself (the record's entity) and supervisors;
  the live-slot set (``bidset/<tender>/...``): only to supervisors before the deadline; an
  enterprise key's nonce (``nonce/<key>``, which moves in the block of each transaction it
  sends, bids included): only to that key and supervisors — any key but a role's or a
  validator's at the head, so a key unbound or rotated since stays private, and a
  guarantor's too (its withheld issues would be counted); a bidder's
  enrolment (``bidder/<USCC>``): only to that entity and supervisors; who made an objection
  (``objector/<tender>/<n>``, ``contracts.objections``: a documents objection comes before
  the deadline from a would-be bidder) before its tender's deadline: only to the objector
  itself (the record's entity) and supervisors, like a bid record — the objection record
  (``tender/<tender>/objection/<n>``) names no one and is public. Everything else: anyone.
- ``tx_disclosed(state, reader, tx, now_ms, sender_states=())`` — may the body and receipt
  of a committed transaction be shown? Supervisors and the sender's own entity always may.
  For anyone else: a transaction naming a tender (``args["tender_id"]``) is public from that
  tender's bid deadline on (the opening, its record, evaluation, publicity and award are
  public business), except a bidder's own calls: they carry its bidder secret (``bid_secret``,
  which keys its slots in every tender), so they stay with the bidder and supervisors for
  good, and the opening record is their public account; before the deadline the
  tender's own side (its platform, tenderer or agent) acts in public — announcements,
  amendments, replies — and every other entity's act on it is private, ``bid.*`` calls
  included whoever sends them. The intermediary services supermarket's calls (``market.*``:
  registrations, requests, responses, selections, confirmations, contracts, ratings) are
  public business whoever sends them: their records are public state (``market/...``) and
  the selected agency must learn in time that it has to confirm; no ``market.*`` call
  carries a bid (one naming a bidder secret stays private all the same). Other acts of an
  entity's key (consents, key changes) are private to that entity: what is withheld then
  does not itself mark the bids. Acts of role and validator keys (attestations, credit
  records, governance) are public business. A guarantee's issue names the enterprise that means
  to bid for a tender lot: before the deadline it is shown only to that enterprise (its
  principal), not even to the tenderer it names as beneficiary. A guarantee's claim or release
  names only its number; it is judged by the tender the guarantee names (so a claim after the
  deadline is public), and before that deadline it is shown to its sender and the
  guarantee's principal only, though the tender's own side sent it (user walk: the
  tenderer's release of a would-be bidder's guarantee was a public act, its event naming
  the bidder). A withheld transaction is still listed by id and located (height, index):
  ids are hashes and say nothing. Whose act it was (the sender's entity, or for a one-time
  agent's sealed bid call the entity whose key authorised it, ``contracts.agents``) is judged in
  ``sender_states``, the states around the transaction's own block (the key may have been
  unbound or rotated since), then in ``state``; the deadline in ``state`` (a deadline only moves
  later).
- ``full_blocks(reader)`` — may blocks be served with their transactions and receipts?
  Supervisors only; everyone else gets every block in the same shape (header, QC, the
  transaction ids, the receipt hashes), so no block looks different for holding a bid.
- ``may_list_slots(state, reader, tender_id, now_ms)`` — the tender's platform (the key that
  announced it) and supervisors, after the deadline: the live slots it must name at opening.

Residual disclosure, stated honestly: block sizes and transaction counts are public (bids
add transactions like any other entity act); state roots change in every block; a PROTOCOL
§6 proof of absence shows a neighbouring leaf, so the value hash of ``bidset/`` (a path
anyone can compute) can be watched change: how many times a lot's live set changed and
whether it holds a live bid (the empty set's digest is a constant), never who bid; so can
enrolments and the private nonces (README "What is still visible"; ``contracts/bid.py``;
a bid moves no nonce of the entity's: ``contracts.agents``);
an objector record's path is computable too, and without the objector's salt its value
(one USCC) can be told by hashing each attested entity's until one matches the value hash
such a proof shows (``contracts.objections``: pass a salt);
a public act shows its sender key's nonce, so the gap between two public acts of one key (a
tender's side, an agency or owner in the supermarket) counts that key's private acts in
between (consents, key changes, an enrolment), never a bid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import keys
from contracts.agents import acting_key
from contracts.experts import code_of_key
from contracts.governance import ROLES
from contracts.guarantee import guarantee_key
from contracts.identity import entity_of_key, key_binding_key
from contracts.objections import OBJECTOR_PREFIX
from contracts.senders import is_validator_key
from contracts.state import Overlay, StateReader
from contracts.tender_record import tender_key
from ledger.tx import SignedTx

SEALED_PREFIXES = ("bid/", "bidset/", OBJECTOR_PREFIX)  # ``<prefix><tender>/…``
OWN_SEALED = ("bid", "objector")  # sealed records naming an entity ("uscc"), which reads its own
ENROLMENT_PREFIX = "bidder/"
SECRET_ARG = "bid_secret"  # a bidder call's secret: the transaction is never public
SEALED_CALLS = ("bid.",)  # an entity's act whatever key sent it (a key unbound later, too)
PUBLIC_CALLS = ("market.",)  # the supermarket's calls: its records are public state
INTENT_CALLS = frozenset({"guarantee.issue"})  # a role's act that says who means to bid
INTENT_ROLE = "guarantor"  # the role that sends them: its key's nonce is private
SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Reader:
    """Who asks: a key the chain knows, its entity (if the key is bound to one) and its
    roles, all at the head; or nobody in particular (``PUBLIC``)."""

    pubkey: bytes | None = None
    uscc: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def supervisor(self) -> bool:
        return SUPERVISOR in self.roles

    @property
    def known(self) -> bool:
        return self.pubkey is not None


PUBLIC = Reader()


def reader_of(state: StateReader, pubkey: bytes, now_ms: int) -> Reader | None:
    """The reader a key stands for at the head, or None when the chain does not know the
    key (no entity binding in force, no role, not a validator, not an expert's: an evaluation
    expert's key is registered by the expert pool and bound to no entity, and the expert
    reads its own nonce and receipts as any known key)."""
    view = Overlay(state)
    roles = frozenset(r for r in ROLES if view.exists(keys.role(r, pubkey)))
    uscc = entity_of_key(view, pubkey, now_ms)
    if (uscc is None and not roles and not is_validator_key(view, pubkey)
            and code_of_key(view.get, pubkey) is None):
        return None
    return Reader(pubkey, uscc, roles)


def _public_actor(state: StateReader, key_hex: str) -> bool:
    """Whether the key acts in public at the head: it holds a role or is a validator's. Any
    other key's nonce is private, an entity's key or one unbound or rotated since (whose
    nonce moved with its acts as an entity's). So is a guarantor's: its issues are withheld
    before their deadline (``INTENT_CALLS``), and its nonce, moving in their blocks, would
    count the guarantees issued, each a bidder to be."""
    try:
        pubkey = bytes.fromhex(key_hex)
    except ValueError:
        return True  # not a key: no one's nonce (the answer is "absent")
    view = Overlay(state)
    if view.exists(keys.role(INTENT_ROLE, pubkey)):
        return False
    return any(view.exists(keys.role(r, pubkey)) for r in ROLES) or is_validator_key(view, pubkey)


def deadline_ms(state: StateReader, tender_id: str) -> int | None:
    """The tender's bid deadline, or None when there is no such tender."""
    tender = _tender(state, tender_id)
    return None if tender is None else tender["deadline_ms"]


def key_refusal(state: StateReader, reader: Reader, key: str, now_ms: int) -> str | None:
    if reader.supervisor:
        return None
    if key.startswith("nonce/"):
        if reader.pubkey is not None and key == keys.nonce(reader.pubkey):
            return None
        if _public_actor(state, key.removeprefix("nonce/")):
            return None  # a role's or validator's nonce: public, like its acts
        return "an enterprise key's nonce is private to it: sign the request with that key"
    if key.startswith(ENROLMENT_PREFIX):
        if reader.uscc is not None and key == ENROLMENT_PREFIX + reader.uscc:
            return None
        return "a bidder's enrolment is private to its entity: sign with one of its keys"
    if not key.startswith(SEALED_PREFIXES):
        return None
    parts = key.split("/")
    deadline = deadline_ms(state, parts[1]) if len(parts) > 1 else None
    if deadline is None:
        return f"{key} is a sealed record of an unknown tender"
    if now_ms >= deadline:
        return None
    if parts[0] in OWN_SEALED and reader.uscc is not None:
        record = Overlay(state).get(key)
        if isinstance(record, dict) and record.get("uscc") == reader.uscc:
            return None  # the bidder reads its own bid, the objector its own objection
    return f"{key} is sealed until the tender's bid deadline ({deadline} ms)"


def tx_disclosed(state: StateReader, reader: Reader, tx: SignedTx, now_ms: int,
                 sender_states: Sequence[StateReader] = ()) -> bool:
    if reader.supervisor or tx.body.sender == reader.pubkey:
        return True
    owner = _owner((*sender_states, state), acting_key(tx))  # an agent's: its entity's key
    if owner is not None and reader.uscc == owner:
        return True
    call, args = tx.body.call, tx.body.args
    if isinstance(args, dict) and SECRET_ARG in args:
        return False  # a bidder's call names its secret: never public
    if call.startswith(PUBLIC_CALLS):
        return True  # the supermarket's acts, whoever sends them (module docstring)
    tender_id = args.get("tender_id") if isinstance(args, dict) else None
    guarantee = None
    if tender_id is None and call.startswith("guarantee.") and isinstance(args, dict):
        guarantee = _guarantee(state, args.get("number"))  # a claim, a release
        tender_id = guarantee.get("tender_id") if guarantee is not None else None
    tender = _tender(state, tender_id) if isinstance(tender_id, str) else None
    if tender is not None:
        if now_ms >= tender["deadline_ms"]:
            return True  # from the deadline on, everything about a tender is public
        if guarantee is not None:  # a would-be bidder's guarantee, whoever sends it
            return reader.uscc is not None and reader.uscc == guarantee.get("principal")
        if owner is not None and owner in (tender.get("tenderer"), tender.get("agent"),
                                           tender.get("platform_uscc")):
            return True  # the tender's own side: its amendments and replies are public
    if call in INTENT_CALLS:  # before the deadline: the would-be bidder's own business
        return reader.uscc is not None and isinstance(args, dict) and (
            reader.uscc == args.get("principal"))
    return owner is None and not call.startswith(SEALED_CALLS)


def _owner(states: Sequence[StateReader], pubkey: bytes) -> str | None:
    """The entity the key was bound to in the first of ``states`` that binds it."""
    for state in states:
        binding = Overlay(state).get(key_binding_key(pubkey))
        owner = binding.get("uscc") if isinstance(binding, dict) else None
        if isinstance(owner, str):
            return owner
    return None


def _guarantee(state: StateReader, number: Any) -> dict[str, Any] | None:
    """The guarantee record a claim or release names by number (its tender and principal
    are fixed when it is issued): the tender's business from its deadline on, the
    principal's before."""
    if not isinstance(number, str) or not number or "/" in number:
        return None
    record = Overlay(state).get(guarantee_key(number))
    return record if isinstance(record, dict) else None


def _tender(state: StateReader, tender_id: str) -> dict[str, Any] | None:
    if not tender_id or "/" in tender_id:
        return None
    tender = Overlay(state).get(tender_key(tender_id))
    if isinstance(tender, dict) and isinstance(tender.get("deadline_ms"), int):
        return tender
    return None


def full_blocks(reader: Reader) -> bool:
    return reader.supervisor


def may_list_slots(state: StateReader, reader: Reader, tender_id: str, now_ms: int) -> str | None:
    """None when ``reader`` may list the tender's live bid slots now, else the reason."""
    tender = Overlay(state).get(tender_key(tender_id))
    if not isinstance(tender, dict):
        return f"no tender {tender_id!r}"
    if not reader.supervisor and (reader.pubkey is None
                                  or reader.pubkey != tender.get("platform_key")):
        return "only the tender's platform (or a supervisor) lists its bid slots"
    if now_ms < int(tender["deadline_ms"]) and not reader.supervisor:
        return "bid slots are sealed until the tender's bid deadline"
    return None


# The two questions the API asked before readers had identities (a stranger's view).


def sealed_key_reason(state: StateReader, key: str, now_ms: int) -> str | None:
    return key_refusal(state, PUBLIC, key, now_ms)


def sealed_tx_reason(state: StateReader, tx: SignedTx, now_ms: int) -> str | None:
    if tx_disclosed(state, PUBLIC, tx, now_ms):
        return None
    return "the transaction is an entity's own act: shown to that entity and supervisors"
