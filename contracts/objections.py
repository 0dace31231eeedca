"""Objections to a tender (``tender.object``, ``tender.reply``, ``tender.rule``; DOMAIN.md:
异议): any attested entity objects at one of four stages, the tender's side replies within
``reply_days``, a supervisor rules once. While an objection is open the tender's next step
waits (``E_OBJECTION_OPEN``, in the lifecycle table). Records under
``tender/<id>/objection/<n>`` (``contracts/STATE_KEYS.md``); the handlers are registered in
``contracts.tender``'s contract.

Who objected is kept apart, under ``objector/<id>/<n>`` (``objector_key``), at every stage:
a documents objection comes before the bid deadline from a would-be bidder, so naming it
would tell who means to bid (DOMAIN.md step 4). That key is sealed until the tender's
deadline like a bid record (``contracts.disclosure``); the objection record itself (stage,
reason, times, status, reply, ruling) is public, since the tender's side must see it to
reply and an open objection holds the next step. Objections of the later stages (all after
the deadline) use the same split, so every reader finds the objector in one place.
"""

from __future__ import annotations

from typing import Any

from contracts import args
from contracts.errors import E_BAD_ARGS, E_NOT_FOUND, E_STATE, ContractError
from contracts.identity import require_entity_sender
from contracts.runtime import Call
from contracts.tender_record import (
    hash_arg,
    load,
    objection_key,
    record_id,
    require_side,
    require_supervisor,
    save,
    step,
)
from contracts.tender_rules import OBJECTION, OBJECTION_OPEN, OBJECTION_STAGES, load_periods

E_REPLY_LATE = "E_REPLY_LATE"  # the reply period is over (a supervisor may still rule)
OBJECTOR_PREFIX = "objector/"
SALT_MIN, SALT_MAX = 16, 64  # bytes of an objector's salt (``object_``)


def objector_key(tender_id: str, n: int) -> str:
    """Who made objection ``n``: ``{"uscc"}``, sealed until the tender's bid deadline."""
    return f"{OBJECTOR_PREFIX}{tender_id}/{n}"


def object_(call: Call) -> None:
    """Object at one of the four stages; while an objection is open the tender's next step
    waits (``E_OBJECTION_OPEN``).

    Who: a key bound to any attested entity (key and entity not frozen).

    Args:
        tender_id: the tender.
        stage: ``documents`` (before the deadline, until ``doc_objection_before_days``
            before it and, where set, within ``doc_objection_days`` of the issue start),
            ``opening`` (within ``opening_objection_ms`` of the opening record),
            ``candidates`` (during the publicity) or ``result`` (within
            ``result_objection_days`` of the award).
        reason_hash: hash of the written objection.
        salt (optional): 16–64 random bytes the objector chooses, kept with its name
            in the sealed ``objector/<id>/<n>`` record; without one that record's value (a
            USCC) can be found from the value hash a PROTOCOL §6 neighbour proof shows, by
            trying each entity (README "What is still visible"). Pass one for a documents
            objection.
    """
    uscc = require_entity_sender(call)
    who: dict[str, Any] = {"uscc": uscc}
    if "salt" in call.args:
        salt = args.blob(call.args, "salt", max_len=SALT_MAX)
        if len(salt) < SALT_MIN:
            raise ContractError(E_BAD_ARGS, f"salt must be {SALT_MIN} to {SALT_MAX} bytes")
        who["salt"] = salt
    tender = load(call, record_id(call.args, "tender_id"))
    stage = args.text(call.args, "stage", max_len=16)
    if stage not in OBJECTION_STAGES:
        raise ContractError(E_BAD_ARGS, f"stage must be one of {sorted(OBJECTION_STAGES)}")
    step(call, tender, OBJECTION_STAGES[stage])
    if tender["objections"] >= call.param("tender_objections_max"):
        raise ContractError(E_STATE, "too many objections on this tender")
    n = tender["objections"] + 1
    call.state.put(
        objection_key(tender["tender_id"], n),
        {
            "n": n,
            "stage": stage,
            "reason_hash": hash_arg(call, "reason_hash"),
            "at_ms": call.now_ms,
            "status": OBJECTION.start("object"),
            "reply_hash": b"",
            "ruling": "",
        },
    )
    call.state.put(objector_key(tender["tender_id"], n), who)
    tender["objections"] = n
    tender["objections_open"] += 1
    save(call, tender)
    call.emit("tender.objection", tender_id=tender["tender_id"], n=n, stage=stage)


def _objection(call: Call, tender: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    n = args.integer(call.args, "n", 1)
    obj = call.state.get(objection_key(tender["tender_id"], n))
    if obj is None:
        raise ContractError(E_NOT_FOUND, f"no objection {n}")
    assert isinstance(obj, dict)
    return n, obj


def reply(call: Call) -> None:
    """Answer an open objection within ``reply_days`` of it (after that a supervisor rules:
    ``E_REPLY_LATE``).

    Who: the tender's side (platform key, tenderer's or agent's key; not frozen).

    Args:
        tender_id: the tender.
        n: the objection's number (1, 2, …).
        reply_hash: hash of the written reply.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "reply")
    n, obj = _objection(call, tender)
    reply_hash = hash_arg(call, "reply_hash")  # its shape first (user walk: a malformed one
    #                                             was answered E_REPLY_LATE)
    if obj["status"] != OBJECTION_OPEN:
        raise ContractError(E_STATE, f"objection {n} is {obj['status']}")
    periods = load_periods(tender["rules"], call.param)
    if call.now_ms >= periods.period_end(obj["at_ms"], periods.reply_days):
        raise ContractError(E_REPLY_LATE, "the reply period is over; a supervisor rules now")
    OBJECTION.advance(obj, "reply")
    obj["reply_hash"] = reply_hash
    call.state.put(objection_key(tender["tender_id"], n), obj)
    tender["objections_open"] -= 1
    save(call, tender)
    call.emit("tender.replied", tender_id=tender["tender_id"], n=n)


def rule(call: Call) -> None:
    """Decide an objection, open or replied, once.

    Who: a key holding the role `supervisor`, not frozen.

    Args:
        tender_id: the tender.
        n: the objection's number.
        ruling: ``upheld`` or ``dismissed``.
    """
    require_supervisor(call)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "rule")
    n, obj = _objection(call, tender)
    if obj["ruling"]:
        raise ContractError(E_STATE, f"objection {n} was already ruled on")
    ruling = args.text(call.args, "ruling", max_len=16)
    if ruling not in ("upheld", "dismissed"):
        raise ContractError(E_BAD_ARGS, "ruling must be 'upheld' or 'dismissed'")
    if obj["status"] == OBJECTION_OPEN:
        tender["objections_open"] -= 1
    OBJECTION.advance(obj, "rule")
    obj["ruling"] = ruling
    call.state.put(objection_key(tender["tender_id"], n), obj)
    save(call, tender)
    call.emit("tender.ruled", tender_id=tender["tender_id"], n=n, ruling=ruling)
