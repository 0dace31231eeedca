"""The intermediary services supermarket (网上中介服务超市): the catalogue, agencies, and
their standing — clearing out and suspension (DOMAIN.md "Intermediary services
supermarket"). Selection requests are ``contracts.selection``.

- ``market.add_item {code, name, required: [{category, min_level}]}`` and
  ``market.update_item {code, name?, required?, active?}`` — role ``supermarket_admin``:
  the catalogue of service items under unified codes (1–32 of ``[A-Za-z0-9._-]``), each
  with the qualification kinds and levels an agency needs.
- ``market.register {item}`` — an attested agency, from its key, while it holds every
  qualification the item requires in force and is not suspended; registered once, it
  serves every platform on the chain (一地入驻，全省共用).

Standing (``standing``), checked whenever an agency responds or is selected: attested and
not frozen, registered for the item, every required qualification in force *now* (an agency
whose qualification lapsed can't respond), and not suspended. Suspension (清退):

- a sanction record (kinds in ``sanction_kinds``) suspends the agency from the record's
  start for ``market_suspension_months`` months, or for as long as the record stays in force
  if that is longer; a repair or an end by its issuer lifts it (信用修复 ends the joint
  punishment) — read from the credit records, so no job has to run when a record starts;
- ``market_low_ratings_count`` ratings of at most ``market_low_rating_max`` within
  ``market_low_ratings_months`` months suspend it for ``market_suspension_months`` months
  from the rating that makes the count (``rate`` writes the suspension).
"""

from __future__ import annotations

import re
from typing import Any

from contracts import args as A
from contracts.credit import has_qualification, records_of, required_qualifications
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND, ContractError
from contracts.governance import is_frozen, require_unfrozen_sender
from contracts.identity import is_attested, require_entity_sender
from contracts.params import text_set
from contracts.periods import end_of_months_ms, shown
from contracts.runtime import Call, Contract, param
from contracts.state import Overlay

E_UNQUALIFIED = "E_UNQUALIFIED"  # the agency lacks a qualification the item requires
E_SUSPENDED_AGENCY = "E_SUSPENDED_AGENCY"  # the agency is cleared out (suspended)

_CODE = re.compile(r"[A-Za-z0-9._-]{1,32}")


def item_key(code: str) -> str:
    return f"market/item/{code}"


def registration_key(item: str, uscc: str) -> str:
    return f"market/reg/{item}/{uscc}"


def agency_key(uscc: str) -> str:
    """An agency's ratings of the last months and its rating suspension."""
    return f"market/agency/{uscc}"


# --- standing (selection and the API read these) ---


def load_item(state: Overlay, code: str) -> dict[str, Any] | None:
    item = state.get(item_key(code))
    return dict(item) if item is not None else None


def agency(state: Overlay, uscc: str) -> dict[str, Any]:
    rec = state.get(agency_key(uscc))
    return (
        dict(rec)
        if rec is not None
        else {"ratings": [], "suspended_from_ms": 0, "suspended_to_ms": 0, "suspension_reason": ""}
    )


def sanction_suspension(state: Overlay, uscc: str, now_ms: int) -> tuple[int, str] | None:
    """The sanction record that suspends the agency now, as (until when, its kind), or
    None (see the module docstring)."""
    kinds = text_set(str(param(state, "sanction_kinds")))
    months = int(param(state, "market_suspension_months"))
    for _, rec in records_of(state, uscc):
        if rec["kind"] not in kinds or now_ms < rec["from_ms"]:
            continue
        lifted = [t for t in (rec["repaired_ms"], rec["ended_ms"]) if t]
        if lifted and min(lifted) <= now_ms:
            continue
        until = max(end_of_months_ms(rec["from_ms"], months), rec["to_ms"])
        if now_ms < until:
            return until, str(rec["kind"])
    return None


def sanction_suspends(state: Overlay, uscc: str, now_ms: int) -> bool:
    """A sanction record suspends the agency now (see the module docstring)."""
    return sanction_suspension(state, uscc, now_ms) is not None


def suspended_by_ratings(rec: dict[str, Any], now_ms: int) -> bool:
    """Whether an agency record (``agency``) is suspended by its low ratings now (the
    portal reads the record as the contract does)."""
    return bool(rec["suspended_from_ms"] <= now_ms < rec["suspended_to_ms"])


def suspended(state: Overlay, uscc: str, now_ms: int) -> bool:
    return (suspended_by_ratings(agency(state, uscc), now_ms)
            or sanction_suspends(state, uscc, now_ms))


def why_suspended(state: Overlay, uscc: str, now_ms: int) -> str:
    """Why and until when the agency is suspended now, for a refusal ('' if it is not)."""
    rec = agency(state, uscc)
    if suspended_by_ratings(rec, now_ms):
        return f"{rec['suspension_reason']}, until {shown(rec['suspended_to_ms'])}"
    found = sanction_suspension(state, uscc, now_ms)
    return "" if found is None else f"a {found[1]} record in force, until {shown(found[0])}"


def missing_qualifications(state: Overlay, uscc: str, item: dict[str, Any],
                           now_ms: int) -> list[str]:
    """The item's required qualifications the agency does not hold in force now, as text."""
    return [f"{q['category']} at level {q['min_level']} or above" for q in item["required"]
            if not has_qualification(state, uscc, q["category"], q["min_level"], now_ms)]


def qualified(state: Overlay, uscc: str, item: dict[str, Any], now_ms: int) -> bool:
    return not missing_qualifications(state, uscc, item, now_ms)


def standing(state: Overlay, uscc: str, item: dict[str, Any], now_ms: int) -> list[str]:
    """Why the agency may not respond or be selected for the item now ([] = it may):
    ``not_attested``, ``frozen``, ``not_registered``, ``unqualified``, ``suspended``."""
    reasons = []
    if not is_attested(state, uscc, now_ms):
        reasons.append("not_attested")
    if is_frozen(state, uscc):
        reasons.append("frozen")
    if not state.exists(registration_key(item["code"], uscc)):
        reasons.append("not_registered")
    if not qualified(state, uscc, item, now_ms):
        reasons.append("unqualified")
    if suspended(state, uscc, now_ms):
        reasons.append("suspended")
    return reasons


def record_rating(call: Call, uscc: str, rating: int, request_id: str) -> bool:
    """Keep a rating among the agency's recent ones; suspend it when the low ratings of the
    window reach the count. Returns whether this rating suspended it."""
    rec = agency(call.state, uscc)
    window = int(call.param("market_low_ratings_months"))
    recent = [r for r in rec["ratings"] if call.now_ms < end_of_months_ms(r[0], window)]
    recent.append([call.now_ms, rating, request_id])
    rec["ratings"] = recent
    low = [r for r in recent if r[1] <= int(call.param("market_low_rating_max"))]
    newly = rating <= int(call.param("market_low_rating_max")) and len(low) >= int(
        call.param("market_low_ratings_count")
    )
    if newly:
        rec["suspended_from_ms"] = call.now_ms
        rec["suspended_to_ms"] = end_of_months_ms(
            call.now_ms, int(call.param("market_suspension_months"))
        )
        rec["suspension_reason"] = f"{len(low)} low ratings within {window} months"
    call.state.put(agency_key(uscc), rec)
    return newly


# --- handlers ---


def _code(a: Any, name: str) -> str:
    code = A.text(a, name, max_len=32)
    if not _CODE.fullmatch(code):
        raise ContractError(E_BAD_ARGS, f"a unified code is 1–32 of [A-Za-z0-9._-]: {code!r}")
    return code


def _required(call: Call) -> list[dict[str, Any]]:
    limit = int(call.param("market_required_max"))
    return required_qualifications(call.args.get("required"), "required", limit,
                                   "a required qualification")


def _require_admin(call: Call) -> None:
    require_unfrozen_sender(call.state, call.sender)
    call.require_role("supermarket_admin")


def add_item(call: Call) -> None:
    """Add a service item to the catalogue (active).

    Who: a key holding the role `supermarket_admin`, not frozen.

    Args:
        code: the item's unified code, new.
        name: its name.
        required (array of {category, min_level}): the qualifications an agency must hold
            in force, at most ``market_required_max`` (levels 0–100).
    """
    _require_admin(call)
    code = _code(call.args, "code")
    if call.state.exists(item_key(code)):
        raise ContractError(E_EXISTS, f"item {code} is in the catalogue")
    item = {
        "code": code,
        "name": A.text(call.args, "name", max_len=128),
        "required": _required(call),
        "active": True,
        "added_ms": call.now_ms,
    }
    call.state.put(item_key(code), item)
    call.emit("market.item_added", code=code)


def update_item(call: Call) -> None:
    """Change a catalogue item; only the fields given change.

    Who: a key holding the role `supermarket_admin`, not frozen.

    Args:
        code: the item.
        name (optional): its new name.
        required (array of {category, min_level}, optional): its new required
            qualifications.
        active (bool, optional): false takes it out of use (no registrations, no requests;
            a request already posted goes on to its end).
    """
    _require_admin(call)
    code = _code(call.args, "code")
    item = load_item(call.state, code)
    if item is None:
        raise ContractError(E_NOT_FOUND, f"no item {code}")
    if "name" in call.args:
        item["name"] = A.text(call.args, "name", max_len=128)
    if "required" in call.args:
        item["required"] = _required(call)
    if "active" in call.args:
        item["active"] = A.boolean(call.args, "active")
    call.state.put(item_key(code), item)
    call.emit("market.item_updated", code=code)


def register(call: Call) -> None:
    """Register the agency for an item: once, valid for every platform on the chain
    (一地入驻，全省共用), while it holds every qualification the item requires
    (``E_UNQUALIFIED``) and is not suspended (``E_SUSPENDED_AGENCY``).

    Who: a key bound to the agency (attestation in force; key and entity not frozen).

    Args:
        item: the item's code (active).
    """
    uscc = require_entity_sender(call)
    code = _code(call.args, "item")
    item = load_item(call.state, code)
    if item is None or not item["active"]:
        raise ContractError(E_NOT_FOUND, f"no active item {code}")
    if call.state.exists(registration_key(code, uscc)):
        raise ContractError(E_EXISTS, f"{uscc} is registered for {code}")
    missing = missing_qualifications(call.state, uscc, item, call.now_ms)
    if missing:
        raise ContractError(E_UNQUALIFIED, f"{uscc} lacks what {code} requires, in force now: "
                            f"{'; '.join(missing)}")
    reason_and_until = why_suspended(call.state, uscc, call.now_ms)
    if reason_and_until:
        raise ContractError(E_SUSPENDED_AGENCY, f"{uscc} is suspended from the supermarket: "
                            f"{reason_and_until}")
    call.state.put(registration_key(code, uscc), {"registered_ms": call.now_ms})
    call.emit("market.registered", item=code, uscc=uscc)


CATALOGUE_METHODS = {"add_item": add_item, "update_item": update_item, "register": register}


def contract() -> Contract:
    """The ``market`` contract: the catalogue calls here and the selection calls."""
    from contracts.selection import SELECTION_METHODS

    return Contract("market", {**CATALOGUE_METHODS, **SELECTION_METHODS})
