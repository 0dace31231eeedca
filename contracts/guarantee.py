"""Electronic bid guarantees (电子保函, ``guarantee.*``): issue, bind at bid, release, claim.

``guarantee/<number>`` holds the public record, so anyone can verify (验真) a guarantee by
its number with a proof bundle of that one key::

    {"number", "issuer": bin (guarantor key), "principal": USCC, "beneficiary": USCC,
     "tender_id", "lot", "amount_fen", "valid_from_ms", "valid_to_ms", "file_hash": bin32,
     "issued_ms", "status": "issued" | "released" | "claimed",
     "released_ms", "release_reason", "claim": {} | {"reason", "amount_fen", "at_ms", "by"}}

Naming it in a bid does not touch that record, nor any key derived from its number (a
change there would tell whoever knows the number that its principal bid, before the
deadline): until the bids are opened the guarantee is named in the sealed bid only
(``bind`` checks it). Opening writes the binding, ``bid/<tender>/guarantee/<number>`` →
``{"uscc", "lot", "slot", "bound_ms"}``, for each opened bid's guarantee (``record_binding``);
it stays after a release or claim, as history. A guarantee's state is "bound" when it is
"issued" and that record exists (``status_of``). So while its tender is still taking bids
the chain cannot tell whether a guarantee is bound, and its issuer may not release it then.

Binding (at bid) checks every rule of DOMAIN.md, each with its own code below. A guarantee is
released when its lot fails, when the tender is awarded to another bidder, when its bidder's
contract is recorded, or by its issuer or beneficiary by hand (never while a claim reason
holds, except by the beneficiary, who may waive); one never bound may be released by hand
even after its tender is archived, so no guarantee stays "issued" on a closed tender. The
beneficiary claims once, at most the amount, for one listed reason that the chain can see:

- ``revoked_after_deadline``: the bid's status is ``revoked`` (``bid.revoke``);
- ``decrypt_failed``: the bid's status is ``decrypt_failed``;
- ``refused_to_sign``: the bidder won the lot, the contract period ended, no contract;
- ``collusion``: a supervisor recorded collusion by the bidder in this tender.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import args
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, ContractError
from contracts.governance import is_frozen, require_unfrozen_sender
from contracts.identity import entity_of_key
from contracts.runtime import Call, Contract, has_role
from contracts.tender_record import (
    collusion_key,
    guarantee_limit_fen,
    load,
    load_view,
    lot_of,
    lot_view,
    opened_slots,
    record_id,
)
from contracts.tender_rules import (
    ARCHIVED,
    AWARDED,
    BIDDING,
    DECRYPT_FAILED,
    E_ARCHIVED,
    LOT_OPENED,
    REVEALED,
    REVOKED,
    UNDECIDED_STATES,
    load_periods,
    period_end,
)
from contracts.uscc import require_uscc

E_GUARANTEE_MISSING = "E_GUARANTEE_MISSING"  # the lot requires a guarantee and none was named
E_GUARANTEE_ISSUER = "E_GUARANTEE_ISSUER"  # issuer no longer whitelisted, or frozen
E_GUARANTEE_PARTY = "E_GUARANTEE_PARTY"  # principal, beneficiary, tender or lot do not match
E_GUARANTEE_AMOUNT = "E_GUARANTEE_AMOUNT"  # under the requirement, over 2% or over the cap
E_GUARANTEE_VALIDITY = "E_GUARANTEE_VALIDITY"  # not in force now or not through bid validity
E_GUARANTEE_USED = "E_GUARANTEE_USED"  # bound elsewhere, released, claimed; claim: not bound
E_CLAIM = "E_CLAIM"  # the claim's reason does not hold, or its amount is too high

CLAIM_REASONS = ("revoked_after_deadline", "decrypt_failed", "refused_to_sign", "collusion")
HASH_LEN = 32


def guarantee_key(number: str) -> str:
    return f"guarantee/{number}"


def binding_key(tender_id: str, number: str) -> str:
    """A guarantee's binding to a bid: sealed with the tender's bids until the deadline."""
    return f"bid/{tender_id}/guarantee/{number}"


def _binding(call: Call, g: dict[str, Any]) -> dict[str, Any] | None:
    found = call.state.get(binding_key(g["tender_id"], g["number"]))
    return found if isinstance(found, dict) else None


def status_of(state: Any, g: dict[str, Any]) -> str:
    """"issued", "bound", "released" or "claimed" (bound: issued, with a binding record)."""
    if g["status"] == "issued" and state.get(binding_key(g["tender_id"], g["number"])):
        return "bound"
    return str(g["status"])


def lookup(state: Any, number: str) -> dict[str, Any] | None:
    """The record of a guarantee (for the API's 验真 and for tests)."""
    record = state.get(guarantee_key(number))
    return record if isinstance(record, dict) else None


def _load(call: Call, number: str) -> dict[str, Any]:
    record = lookup(call.state, number)
    if record is None:
        raise ContractError(E_NOT_FOUND, f"no guarantee {number!r}")
    return record


def _save(call: Call, record: dict[str, Any]) -> None:
    call.state.put(guarantee_key(record["number"]), record)


def issue(call: Call) -> None:
    """Issue an electronic guarantee for one tender lot; anyone can verify it by number.

    Who: a key holding the role `guarantor` (the whitelist), not frozen: the issuer.

    Args:
        number: the guarantee number, new on the chain.
        tender_id: the tender (not archived).
        lot: the lot number.
        principal: the bidder's USCC.
        beneficiary: the tenderer's USCC.
        amount_fen: the amount, positive.
        valid_from_ms: start of validity.
        valid_to_ms: end of validity, after the start.
        file_hash: hash of the guarantee file.

    Whether it fits a bid (amount, parties, validity through bid validity) is checked when a
    bid binds it (``bid.submit``).
    """
    require_unfrozen_sender(call.state, call.sender)
    call.require_role("guarantor")
    a = call.args
    number = record_id(a, "number")
    if call.state.exists(guarantee_key(number)):
        raise ContractError(E_EXISTS, f"guarantee {number!r} exists")
    tender = load_view(call, record_id(a, "tender_id"))
    if tender["state"] == ARCHIVED:
        raise ContractError(E_ARCHIVED, "the tender is archived")
    lot = args.integer(a, "lot", 1, 0xFFFF)
    lot_view(tender, lot)
    amount = args.amount_fen(a, "amount_fen")
    valid_from = args.integer(a, "valid_from_ms")
    valid_to = args.integer(a, "valid_to_ms")
    if amount == 0 or valid_to <= valid_from:
        raise ContractError(E_BAD_ARGS, "a guarantee has a positive amount and a validity period")
    _save(
        call,
        {
            "number": number,
            "issuer": call.sender,
            "principal": require_uscc(args.text(a, "principal", max_len=18)),
            "beneficiary": require_uscc(args.text(a, "beneficiary", max_len=18)),
            "tender_id": tender["tender_id"],
            "lot": lot,
            "amount_fen": amount,
            "valid_from_ms": valid_from,
            "valid_to_ms": valid_to,
            "file_hash": args.blob(a, "file_hash", length=HASH_LEN),
            "issued_ms": call.now_ms,
            "status": "issued",
            "released_ms": 0,
            "release_reason": "",
            "claim": {},
        },
    )
    call.emit("guarantee.issued", number=number)


def bind(call: Call, tender: Mapping[str, Any], lot: int, uscc: str, number: str) -> None:
    """Check that a bid may name this guarantee, by every rule; no guarantee only if none is
    required. Nothing is written: the binding is recorded at opening (``record_binding``)."""
    lot_record = lot_view(tender, lot)
    if not number:
        if lot_record["guarantee_fen"] > 0:
            raise ContractError(E_GUARANTEE_MISSING, f"lot {lot} requires a guarantee")
        return
    g = _load(call, number)
    issuer = g["issuer"]
    if not has_role(call.state, "guarantor", issuer) or is_frozen(call.state, issuer.hex()):
        raise ContractError(
            E_GUARANTEE_ISSUER, "the issuer is not a whitelisted, unfrozen guarantor"
        )
    if g["principal"] != uscc or g["beneficiary"] != tender["tenderer"]:
        raise ContractError(
            E_GUARANTEE_PARTY, "principal must be the bidder, beneficiary the tenderer"
        )
    if g["tender_id"] != tender["tender_id"] or g["lot"] != lot:
        raise ContractError(E_GUARANTEE_PARTY, "the guarantee is for another tender or lot")
    limit = guarantee_limit_fen(call, tender["kind"], lot_record["estimated_price_fen"])
    if not lot_record["guarantee_fen"] <= g["amount_fen"] <= limit:
        raise ContractError(
            E_GUARANTEE_AMOUNT,
            f"amount must be in [{lot_record['guarantee_fen']}, {limit}] fen, is {g['amount_fen']}",
        )
    demo_day_ms = call.param("demo_day_ms")
    validity_end = period_end(demo_day_ms, tender["deadline_ms"], tender["validity_days"])
    if not g["valid_from_ms"] <= call.now_ms or g["valid_to_ms"] < validity_end:
        raise ContractError(
            E_GUARANTEE_VALIDITY, "the guarantee must be in force through bid validity"
        )
    status = status_of(call.state, g)
    if status != "issued":
        raise ContractError(E_GUARANTEE_USED, f"the guarantee is {status}")


def record_binding(call: Call, bid: dict[str, Any], slot: str) -> None:
    """At opening: record that the opened bid in ``slot`` holds its guarantee (if any)."""
    if bid["guarantee"]:
        call.state.put(binding_key(bid["tender_id"], bid["guarantee"]),
                       {"uscc": bid["uscc"], "lot": bid["lot"], "slot": slot,
                        "bound_ms": bid["at_ms"]})


def release_if_bound(call: Call, number: str, reason: str) -> None:
    if not number:
        return
    g = _load(call, number)
    if status_of(call.state, g) == "bound":
        g["status"] = "released"
        g["released_ms"] = call.now_ms
        g["release_reason"] = reason
        _save(call, g)
        call.emit("guarantee.released", number=number, reason=reason)


def _bids_of(call: Call, tender: dict[str, Any], lot: dict[str, Any]) -> list[dict[str, Any]]:
    from contracts.opening import load_bid

    tender_id = tender["tender_id"]
    return [
        load_bid(call, tender_id, lot["lot"], s) for s in opened_slots(call, tender_id, lot["lot"])
    ]


def release_losers(call: Call, tender: dict[str, Any]) -> None:
    """On award: release the guarantees of the standing bids that did not win."""
    for lot in tender["lots"]:
        if lot["status"] != LOT_OPENED:
            continue
        for bid in _bids_of(call, tender, lot):
            if bid["status"] == REVEALED and bid["uscc"] != lot["winner"]:
                release_if_bound(call, bid["guarantee"], "not awarded")


def release_winners(call: Call, tender: dict[str, Any]) -> None:
    """On the contract: release the winners' guarantees."""
    for lot in tender["lots"]:
        for bid in _bids_of(call, tender, lot) if lot["status"] == LOT_OPENED else []:
            if bid["uscc"] == lot["winner"] and bid["status"] == REVEALED:
                release_if_bound(call, bid["guarantee"], "contract signed")


def _claim_reason_holds(call: Call, g: dict[str, Any], reason: str) -> bool:
    from contracts.opening import load_bid

    tender = load(call, g["tender_id"])
    if reason == "collusion":
        return call.state.exists(collusion_key(tender["tender_id"], g["principal"]))
    binding = _binding(call, g)
    if binding is None:
        return False
    bid = load_bid(call, g["tender_id"], g["lot"], binding["slot"])
    if reason == "revoked_after_deadline":
        return bool(bid["status"] == REVOKED)
    if reason == "decrypt_failed":
        return bool(bid["status"] == DECRYPT_FAILED)
    # refused_to_sign: the winner let the contract period pass without a contract
    lot = lot_of(tender, g["lot"])
    if tender["state"] != AWARDED or lot["winner"] != g["principal"]:
        return False
    periods = load_periods(tender["rules"], call.param)
    return call.now_ms >= periods.period_end(tender["award_ms"], periods.contract_days)


def _guarded_tender(call: Call, g: dict[str, Any], archived_ok: bool = False) -> dict[str, Any]:
    """The guarantee's tender; ``E_ARCHIVED`` once it is archived unless ``archived_ok``."""
    tender = load(call, g["tender_id"])
    if tender["state"] == ARCHIVED and not archived_ok:
        raise ContractError(E_ARCHIVED, "the guarantee's tender is archived")
    return tender


def claim(call: Call) -> None:
    """Claim a bound guarantee, once, at most its amount, for a listed reason that the chain
    shows holds (``E_CLAIM`` otherwise).

    Who: a key bound to the beneficiary (the tenderer; not frozen).

    Args:
        number: the guarantee number.
        reason: ``revoked_after_deadline``, ``decrypt_failed``, ``refused_to_sign`` or
            ``collusion``.
        amount_fen: the amount claimed, 1 to the guarantee's amount.
    """
    g = _load(call, record_id(call.args, "number"))
    tender = _guarded_tender(call, g)
    require_unfrozen_sender(call.state, call.sender)
    if entity_of_key(call.state, call.sender, call.now_ms) != g["beneficiary"]:
        raise ContractError(E_FORBIDDEN, "only the beneficiary may claim")
    reason = args.text(call.args, "reason", max_len=32)
    if reason not in CLAIM_REASONS:
        raise ContractError(E_BAD_ARGS, f"reason must be one of {list(CLAIM_REASONS)}")
    amount = args.amount_fen(call.args, "amount_fen")
    status = status_of(call.state, g)
    if status == "issued":
        raise ContractError(
            E_GUARANTEE_USED,
            "the guarantee is not bound to a bid of this tender: only a bound guarantee may be"
            " claimed",
        )
    if status != "bound":
        raise ContractError(E_GUARANTEE_USED, f"the guarantee is {status}")
    if not 0 < amount <= g["amount_fen"]:
        raise ContractError(E_CLAIM, f"a claim is between 1 and {g['amount_fen']} fen")
    if not _claim_reason_holds(call, g, reason):
        raise ContractError(E_CLAIM, f"the reason {reason!r} does not hold for this guarantee")
    g["status"] = "claimed"
    g["claim"] = {"reason": reason, "amount_fen": amount, "at_ms": call.now_ms, "by": call.sender}
    _save(call, g)
    call.emit(
        "guarantee.claimed", number=g["number"], tender_id=tender["tender_id"], amount_fen=amount
    )


def release(call: Call) -> None:
    """Release a guarantee by hand. The issuer may release an unbound one once its tender's
    bids are opened (before, a sealed bid may hold it unseen), or a bound one once the tender
    is decided and no claim reason holds; the beneficiary may always waive. An unbound one
    may still be released once its tender is archived (the release writes the guarantee's
    record, not the tender's); a bound one is then refused (``E_ARCHIVED``).

    Who: the issuer's key, or a key bound to the beneficiary (not frozen).

    Args:
        number: the guarantee number (issued or bound, not released or claimed).
    """
    g = _load(call, record_id(call.args, "number"))
    status = status_of(call.state, g)
    tender = _guarded_tender(call, g, archived_ok=status == "issued")  # an unbound one may go
    require_unfrozen_sender(call.state, call.sender)
    by_beneficiary = entity_of_key(call.state, call.sender, call.now_ms) == g["beneficiary"]
    if call.sender != g["issuer"] and not by_beneficiary:
        raise ContractError(E_FORBIDDEN, "only the issuer or the beneficiary may release")
    if status not in ("issued", "bound"):
        raise ContractError(E_GUARANTEE_USED, f"the guarantee is {status}")
    if tender["state"] == BIDDING and not by_beneficiary:
        raise ContractError(E_FORBIDDEN, "until the bids are opened a sealed bid may hold it")
    if status == "bound" and not by_beneficiary:
        if tender["state"] in UNDECIDED_STATES:
            raise ContractError(E_FORBIDDEN, "a bound guarantee stays until the tender is decided")
        if any(_claim_reason_holds(call, g, r) for r in CLAIM_REASONS):
            raise ContractError(E_FORBIDDEN, "a claim reason holds: only the beneficiary may waive")
    g["status"] = "released"
    g["released_ms"] = call.now_ms
    g["release_reason"] = "waived by beneficiary" if by_beneficiary else "released by issuer"
    _save(call, g)
    call.emit("guarantee.released", number=g["number"], reason=g["release_reason"])


CONTRACT = Contract("guarantee", {"issue": issue, "claim": claim, "release": release})
