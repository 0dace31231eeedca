"""The tender record and what every handler naming a tender shares: its state keys, the
checked reads and writes of the record (``load``, ``load_view``, ``save``), the lifecycle
check (``step``, which asks ``contracts.tender_rules``), its lots, and who acts for the
tender's side. The handlers are in ``contracts.tender`` (announce to archive),
``contracts.objections``, ``contracts.bid`` and ``contracts.opening``,
``contracts.guarantee``, ``contracts.draw`` and ``contracts.evaluation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import args
from contracts.errors import E_BAD_ARGS, E_FORBIDDEN, E_NOT_FOUND, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.identity import entity_of_key
from contracts.lifecycle import Transition
from contracts.params import text_set
from contracts.runtime import Call
from contracts.tender_rules import REVEALED, GuardView, load_periods, require
from contracts.uscc import require_uscc

ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
HASH_LEN = 32


def tender_key(tender_id: str) -> str:
    return f"tender/{tender_id}"


def objection_key(tender_id: str, n: int) -> str:
    return f"tender/{tender_id}/objection/{n}"


def opening_key(tender_id: str) -> str:
    return f"tender/{tender_id}/opening"


def slots_key(tender_id: str, lot: int) -> str:
    """The slots of a lot's live bids, as named and checked at opening."""
    return f"tender/{tender_id}/slots/{lot}"


def opened_bid_key(tender_id: str, lot: int, uscc: str) -> str:
    """The slot of an entity's bid named at opening (written then: public from the deadline)."""
    return f"tender/{tender_id}/opened/{lot}/{uscc}"


def opened_slots(call: Call, tender_id: str, lot: int) -> list[str]:
    slots = call.state.get(slots_key(tender_id, lot))
    return [] if slots is None else [str(s) for s in slots]


def bid_key(tender_id: str, lot: int, slot: str) -> str:
    """A bid's record (``contracts.bid``): one slot per entity and lot."""
    return f"bid/{tender_id}/{lot}/{slot}"


def standing_bidders(call: Call, tender: dict[str, Any], lot: int) -> set[str]:
    """The entities whose bid on the lot was decrypted and is not revoked since."""
    out = set()
    for slot in opened_slots(call, tender["tender_id"], lot):
        bid = call.state.get(bid_key(tender["tender_id"], lot, slot))
        if bid is not None and bid["status"] == REVEALED:
            out.add(str(bid["uscc"]))
    return out


def collusion_key(tender_id: str, uscc: str) -> str:
    return f"tender/{tender_id}/collusion/{uscc}"


def record_id(a: Any, name: str) -> str:
    """A tender id or guarantee number: 1–64 of ``[A-Za-z0-9._-]`` (safe inside a key)."""
    value = args.text(a, name, max_len=64)
    if not set(value) <= ID_CHARS:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} may hold only A-Z a-z 0-9 . _ -")
    return value


def load(call: Call, tender_id: str) -> dict[str, Any]:
    """The tender record, a fresh copy for a handler that changes it and ``save``s it."""
    tender = call.state.get(tender_key(tender_id))
    if tender is None:
        raise ContractError(E_NOT_FOUND, f"no tender {tender_id!r}")
    assert isinstance(tender, dict)
    return tender


def load_view(call: Call, tender_id: str) -> Mapping[str, Any]:
    """The tender record, read-only, for a handler that does not change it (a bid, a reveal,
    a guarantee): one frozen value shared by the block's transactions
    (``Overlay.get_shared``), so a block of bids decodes the 5-lot record once, not once per
    bid. Any attempt to change it raises ``TypeError``."""
    tender = call.state.get_shared(tender_key(tender_id))
    if tender is None:
        raise ContractError(E_NOT_FOUND, f"no tender {tender_id!r}")
    assert isinstance(tender, Mapping)
    return tender


def save(call: Call, tender: dict[str, Any]) -> None:
    call.state.put(tender_key(tender["tender_id"]), tender)


def step(call: Call, tender: Mapping[str, Any], action: str, **facts: bool) -> Transition:
    """Check the lifecycle table for ``action`` (raises the guard's code when refused); the
    handler then moves the tender with ``tender_rules.advance`` once it knows the outcome."""
    rules = tender["rules"]
    view = GuardView(tender, call.now_ms, lambda: load_periods(rules, call.param), facts)
    return require(view, action)


def _lot_index(tender: Mapping[str, Any], lot: int) -> int:
    """Where lot ``lot`` (1, 2, …) is in ``tender["lots"]``, or ``E_NOT_FOUND``."""
    if not 1 <= lot <= len(tender["lots"]):
        raise ContractError(E_NOT_FOUND, f"tender {tender['tender_id']!r} has no lot {lot}")
    return lot - 1


def lot_of(tender: dict[str, Any], lot: int) -> dict[str, Any]:
    """A lot of a tender loaded to be changed (``load``)."""
    result: dict[str, Any] = tender["lots"][_lot_index(tender, lot)]
    return result


def lot_view(tender: Mapping[str, Any], lot: int) -> Mapping[str, Any]:
    """A lot of a tender, read-only (``load_view``)."""
    result: Mapping[str, Any] = tender["lots"][_lot_index(tender, lot)]
    return result


def side_of(call: Call, tender: dict[str, Any]) -> str | None:
    """``platform``, ``tenderer`` or ``agent`` when the sender acts for the tender's side."""
    if call.sender == tender["platform_key"]:
        return "platform"
    uscc = entity_of_key(call.state, call.sender, call.now_ms)
    if uscc is not None and uscc == tender["tenderer"]:
        return "tenderer"
    if uscc is not None and uscc == tender["agent"]:
        return "agent"
    return None


def require_side(call: Call, tender: dict[str, Any]) -> str:
    require_unfrozen_sender(call.state, call.sender)
    side = side_of(call, tender)
    if side is None:
        raise ContractError(E_FORBIDDEN, "only the tender's platform, tenderer or agent may")
    return side


def require_platform(call: Call, tender: dict[str, Any]) -> None:
    require_unfrozen_sender(call.state, call.sender)
    if call.sender != tender["platform_key"] or not call.has_role("platform"):
        raise ContractError(E_FORBIDDEN, "only the platform that announced the tender may")


def require_supervisor(call: Call) -> None:
    require_unfrozen_sender(call.state, call.sender)
    call.require_role("supervisor")


def guarantee_limit_fen(call: Call, kind: str, estimated_price_fen: int) -> int:
    """The most a lot may require (and a guarantee may be): 2% and the cap for some kinds."""
    limit = estimated_price_fen * call.param("guarantee_max_bp") // 10_000
    if kind in text_set(call.param("guarantee_cap_kinds")):
        limit = min(limit, call.param("guarantee_cap_fen"))
    return int(limit)


def hash_arg(call: Call, name: str) -> bytes:
    return args.blob(call.args, name, length=HASH_LEN)


def uscc_list(call: Call, name: str) -> list[str]:
    items = args.text_list(call.args, name, max_items=32, max_len=18) if name in call.args else []
    return [require_uscc(x) for x in items]


def bidder_conflict(tender: Mapping[str, Any], uscc: str) -> bool:
    """The platform operator, its related parties, the tenderer and its agent may not bid."""
    return (
        uscc in {tender["platform_uscc"], tender["tenderer"], tender["agent"]}
        or uscc in tender["related_parties"]
    )
