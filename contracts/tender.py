"""Tenders (``tender.*``): announce, amend, objections and replies, supervision, award,
contract and archive. The lifecycle itself is data in ``contracts.tender_rules``; the
handlers here check who may act and what the arguments say, ask the table, and move the
tender with ``tender_rules.advance``. The evaluation (step 7) is ``contracts.draw`` and
``contracts.evaluation``: candidates come only from the score sheets, so there is no call
that names them. An announcement carries the evaluation method (``contracts.method``) and
whether the evaluation is cross-region; its document issue start is never before its own
block (``E_ISSUE_START``: the statutory days can't be spent before the tender exists).

Who may act on a tender ("the tender's side"): the platform key that announced it, or a key
bound to the tenderer or its agent (``identity.entity_of_key``). Supervisors (role
``supervisor``) suspend, resume, rule on objections and record collusion. Objections come
from any attested, unfrozen entity.

State keys (``contracts/STATE_KEYS.md``, trading section):
``tender/<id>`` the record; ``tender/<id>/objection/<n>``; ``tender/<id>/slots/<lot>`` (the
live bids named at opening); ``tender/<id>/opening`` (the opening record, written when the
decryption window closes); ``tender/<id>/collusion/<uscc>``.
Bids and their set digests live under ``bid/<id>/…`` and ``bidset/<id>/…`` (``contracts.bid``).
Once a tender is ``archived`` every call naming it is refused (``E_ARCHIVED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import args
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.identity import entity_of_key, require_entity_sender
from contracts.lifecycle import OK, Transition
from contracts.method import parse_method
from contracts.params import text_set
from contracts.runtime import Call, Contract
from contracts.tender_rules import (
    LOT,
    OBJECTION,
    OBJECTION_OPEN,
    OBJECTION_STAGES,
    REVEALED,
    RULE_SETS,
    TENDER,
    GuardView,
    advance,
    load_periods,
    require,
)
from contracts.uscc import require_uscc

E_DEADLINE_SHORT = "E_DEADLINE_SHORT"  # deadline under the minimum days after issue start
E_SALE_SHORT = "E_SALE_SHORT"  # documents on sale for fewer than the minimum days
E_DEADLINE_EARLIER = "E_DEADLINE_EARLIER"  # a deadline may never move earlier
E_AMEND_LATE = "E_AMEND_LATE"  # an amendment that affects bids, too close to the deadline
E_GUARANTEE_RULE = "E_GUARANTEE_RULE"  # a lot's required guarantee breaks the 2% / cap rule
E_CANDIDATE = "E_CANDIDATE"  # a winner that is not a standing candidate, or candidates named
E_REPLY_LATE = "E_REPLY_LATE"  # the reply period is over (a supervisor may still rule)
E_ISSUE_START = "E_ISSUE_START"  # the document issue start is before the announcing block

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


# --- shared helpers (bid.py and guarantee.py use them) ---


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


def _hash_arg(call: Call, name: str) -> bytes:
    return args.blob(call.args, name, length=HASH_LEN)


def _uscc_list(call: Call, name: str) -> list[str]:
    items = args.text_list(call.args, name, max_items=32, max_len=18) if name in call.args else []
    return [require_uscc(x) for x in items]


# --- handlers ---


def announce(call: Call) -> None:
    """Announce a tender for a tenderer (DOMAIN.md lifecycle step 1); it starts ``bidding``.

    Who: a key holding the role `platform`, not frozen; it becomes the tender's platform.

    Args:
        tender_id: the tender's id, new on the chain.
        rules: the rule set: ``bidding-law`` or ``gov-procurement`` (its periods).
        kind: one of ``tender_kinds`` (works, goods, services, land, mining).
        region: the region code (matched exactly by credit scopes and expert regions).
        tenderer: the tenderer's USCC.
        agent (optional): the tenderer's agent's USCC ('' or absent: none).
        platform_uscc: the USCC of the platform operator (it and its related parties may
            not bid).
        related_parties (optional): USCCs related to the platform operator (may not bid).
        doc_hash: hash of the tender documents.
        issue_start_ms: the documents' issue start, not before this block (``E_ISSUE_START``).
        doc_sale_end_ms: end of document sale, at least ``doc_sale_min_days`` after the issue
            start (``E_SALE_SHORT``).
        deadline_ms: the bid deadline (= opening time), in the future and at least
            ``bid_min_days`` after the issue start (``E_DEADLINE_SHORT``).
        validity_days: how long bids stay valid after the deadline.
        lots (array of {name, estimated_price_fen, guarantee_fen}): 1 to
            ``tender_lots_max`` lots; a lot's required guarantee is at most 2%
            (``guarantee_max_bp``) of its estimated price and ``guarantee_cap_fen`` for
            ``guarantee_cap_kinds`` (``E_GUARANTEE_RULE``).
        qualifications (array of {category, min_level}, optional): at most 16 required
            qualifications (levels 0–100).
        method (map, optional): the evaluation method ``{formula, price_points, criteria,
            bonus}`` (``contracts.method``; its maxima sum to ``score_total_points``, the
            bonus at most ``bonus_max_points``, else ``E_METHOD``); absent: all points on
            price.
        cross_region (bool, optional): at least ``cross_region_min_num/den`` of the experts
            come from other regions' pools (default false).
    """
    require_unfrozen_sender(call.state, call.sender)
    call.require_role("platform")
    a = call.args
    tender_id = record_id(a, "tender_id")
    if call.state.exists(tender_key(tender_id)):
        raise ContractError(E_EXISTS, f"tender {tender_id!r} exists")
    rules = args.text(a, "rules", max_len=32)
    if rules not in RULE_SETS:
        raise ContractError(E_BAD_ARGS, f"rule set must be one of {sorted(RULE_SETS)}")
    kind = args.text(a, "kind", max_len=32)
    if kind not in text_set(call.param("tender_kinds")):
        raise ContractError(E_BAD_ARGS, f"unknown tender kind {kind!r}")
    region = args.text(a, "region", max_len=32)
    tenderer = require_uscc(args.text(a, "tenderer", max_len=18))
    agent = args.text(a, "agent", max_len=18, optional=True)
    if agent:
        require_uscc(agent)
    platform_uscc = require_uscc(args.text(a, "platform_uscc", max_len=18))
    related = _uscc_list(call, "related_parties")
    doc_hash = _hash_arg(call, "doc_hash")
    issue_start_ms = args.integer(a, "issue_start_ms")
    sale_end_ms = args.integer(a, "doc_sale_end_ms")
    deadline_ms = args.integer(a, "deadline_ms")
    validity_days = args.integer(a, "validity_days", 1, call.param("bid_validity_max_days"))
    periods = load_periods(rules, call.param)
    if issue_start_ms < call.now_ms:
        # the statutory days can't be spent before the tender exists (DOMAIN.md step 1)
        raise ContractError(E_ISSUE_START, "the document issue start is before this block")
    if deadline_ms <= call.now_ms:
        raise ContractError(E_DEADLINE_SHORT, "the deadline has already passed")
    if periods.days_apart(issue_start_ms, deadline_ms) < periods.bid_min_days:
        raise ContractError(
            E_DEADLINE_SHORT,
            f"the deadline must be at least {periods.bid_min_days} days after the issue start",
        )
    if periods.days_apart(issue_start_ms, sale_end_ms) < periods.doc_sale_min_days:
        raise ContractError(
            E_SALE_SHORT, f"documents must be on sale at least {periods.doc_sale_min_days} days"
        )
    lots = _lots(call, kind)
    quals = _qualifications(call)
    method = parse_method(call, a.get("method"))
    cross_region = a.get("cross_region", False)
    if type(cross_region) is not bool:
        raise ContractError(E_BAD_ARGS, "argument 'cross_region' must be true or false")
    tender: dict[str, Any] = {
        "tender_id": tender_id,
        "rules": rules,
        "kind": kind,
        "region": region,
        "tenderer": tenderer,
        "agent": agent,
        "platform_key": call.sender,
        "platform_uscc": platform_uscc,
        "related_parties": related,
        "doc_hash": doc_hash,
        "issue_start_ms": issue_start_ms,
        "doc_sale_end_ms": sale_end_ms,
        "deadline_ms": deadline_ms,
        "validity_days": validity_days,
        "qualifications": quals,
        "lots": lots,
        "state": TENDER.start("announce"),
        "suspended": False,
        "objections": 0,
        "objections_open": 0,
        "amendments": [],
        "announced_ms": call.now_ms,
        "window_end_ms": 0,
        "opened_ms": 0,
        "publicity_start_ms": 0,
        "award_ms": 0,
        "report_hash": b"",
        "committee_size": 0,
        "contract_hash": b"",
        "method": method,
        "cross_region": cross_region,
        "eval_round": 0,
        "evaluation_start_ms": 0,
        "evaluation_end_ms": 0,
    }
    save(call, tender)
    call.emit("tender.announced", tender_id=tender_id, deadline_ms=deadline_ms)


def _lots(call: Call, kind: str) -> list[dict[str, Any]]:
    raw = call.args.get("lots")
    if type(raw) is not list or not 1 <= len(raw) <= call.param("tender_lots_max"):
        raise ContractError(E_BAD_ARGS, "lots must be a non-empty array within the lot limit")
    lots = []
    for i, item in enumerate(raw, start=1):
        if type(item) is not dict or set(item) != {"name", "estimated_price_fen", "guarantee_fen"}:
            raise ContractError(
                E_BAD_ARGS, f"lot {i} must be {{name, estimated_price_fen, guarantee_fen}}"
            )
        name = args.text(item, "name", max_len=128)
        price = args.amount_fen(item, "estimated_price_fen")
        required = args.amount_fen(item, "guarantee_fen")
        if required > guarantee_limit_fen(call, kind, price):
            raise ContractError(E_GUARANTEE_RULE, f"lot {i} requires more guarantee than allowed")
        lots.append(
            {
                "lot": i,
                "name": name,
                "estimated_price_fen": price,
                "guarantee_fen": required,
                "status": LOT.start("announce"),
                "bids": 0,
                "candidates": [],
                "winner": "",
            }
        )
    return lots


def _qualifications(call: Call) -> list[dict[str, Any]]:
    raw = call.args.get("qualifications", [])
    if type(raw) is not list or len(raw) > 16:
        raise ContractError(E_BAD_ARGS, "qualifications must be an array of at most 16")
    out = []
    for item in raw:
        if type(item) is not dict or set(item) != {"category", "min_level"}:
            raise ContractError(E_BAD_ARGS, "a qualification is {category, min_level}")
        out.append(
            {
                "category": args.text(item, "category", max_len=64),
                "min_level": args.integer(item, "min_level", 0, 100),
            }
        )
    return out


def amend(call: Call) -> None:
    """Clarify or amend the documents, before the deadline (step 2); an amendment that can
    affect bids needs the deadline ``amend_min_days`` away, moving it if need be.

    Who: the tender's side: the platform key that announced it, or a key bound to the
    tenderer or its agent (not frozen).

    Args:
        tender_id: the tender.
        doc_hash: hash of the amended documents.
        affects_bids (bool): whether the change can affect bids.
        new_deadline_ms (optional): a new deadline, never earlier than the current one
            (``E_DEADLINE_EARLIER``); absent: unchanged.
        method (map, optional): a new evaluation method, only with ``affects_bids: true``.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "amend")
    doc_hash = _hash_arg(call, "doc_hash")
    affects = call.args.get("affects_bids")
    if type(affects) is not bool:
        raise ContractError(E_BAD_ARGS, "argument 'affects_bids' must be true or false")
    new_deadline = (
        args.integer(call.args, "new_deadline_ms")
        if "new_deadline_ms" in call.args
        else tender["deadline_ms"]
    )
    if new_deadline < tender["deadline_ms"]:
        raise ContractError(E_DEADLINE_EARLIER, "a deadline never moves earlier")
    periods = load_periods(tender["rules"], call.param)
    if affects and periods.days_apart(call.now_ms, new_deadline) < periods.amend_min_days:
        raise ContractError(
            E_AMEND_LATE,
            f"an amendment that affects bids needs the deadline {periods.amend_min_days} days away",
        )
    if len(tender["amendments"]) >= call.param("tender_amendments_max"):
        raise ContractError(E_STATE, "too many amendments")
    if "method" in call.args:
        if not affects:
            raise ContractError(E_BAD_ARGS, "a new evaluation method affects bids")
        tender["method"] = parse_method(call, call.args["method"])
    tender["amendments"].append(
        {
            "doc_hash": doc_hash,
            "affects_bids": affects,
            "at_ms": call.now_ms,
            "deadline_ms": new_deadline,
        }
    )
    tender["doc_hash"] = doc_hash
    tender["deadline_ms"] = new_deadline
    save(call, tender)
    call.emit("tender.amended", tender_id=tender["tender_id"], deadline_ms=new_deadline)


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
    """
    uscc = require_entity_sender(call)
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
            "objector": uscc,
            "reason_hash": _hash_arg(call, "reason_hash"),
            "at_ms": call.now_ms,
            "status": OBJECTION.start("object"),
            "reply_hash": b"",
            "ruling": "",
        },
    )
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
    if obj["status"] != OBJECTION_OPEN:
        raise ContractError(E_STATE, f"objection {n} is {obj['status']}")
    periods = load_periods(tender["rules"], call.param)
    if call.now_ms >= periods.period_end(obj["at_ms"], periods.reply_days):
        raise ContractError(E_REPLY_LATE, "the reply period is over; a supervisor rules now")
    OBJECTION.advance(obj, "reply")
    obj["reply_hash"] = _hash_arg(call, "reply_hash")
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


def suspend(call: Call) -> None:
    """Suspend a tender: its next steps wait (``E_SUSPENDED``) until it is resumed.

    Who: a key holding the role `supervisor`, not frozen.

    Args:
        tender_id: the tender (not suspended already).
    """
    require_supervisor(call)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "suspend")
    if tender["suspended"]:
        raise ContractError(E_STATE, "the tender is already suspended")
    tender["suspended"] = True
    save(call, tender)
    call.emit("tender.suspended", tender_id=tender["tender_id"])


def resume(call: Call) -> None:
    """Resume a suspended tender.

    Who: a key holding the role `supervisor`, not frozen.

    Args:
        tender_id: the tender (suspended).
    """
    require_supervisor(call)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "resume")
    if not tender["suspended"]:
        raise ContractError(E_STATE, "the tender is not suspended")
    tender["suspended"] = False
    save(call, tender)
    call.emit("tender.resumed", tender_id=tender["tender_id"])


def find_collusion(call: Call) -> None:
    """Record collusion by a bidder in this tender: its guarantee becomes claimable
    (reason ``collusion``).

    Who: a key holding the role `supervisor`, not frozen.

    Args:
        tender_id: the tender.
        uscc: the colluding bidder (once per tender).
        evidence_hash: hash of the finding.
    """
    require_supervisor(call)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "find_collusion")
    uscc = require_uscc(args.text(call.args, "uscc", max_len=18))
    key = collusion_key(tender["tender_id"], uscc)
    if call.state.exists(key):
        raise ContractError(E_EXISTS, f"collusion by {uscc} is already recorded")
    call.state.put(
        key,
        {
            "evidence_hash": _hash_arg(call, "evidence_hash"),
            "at_ms": call.now_ms,
            "by": call.sender,
        },
    )
    call.emit("tender.collusion", tender_id=tender["tender_id"], uscc=uscc)


def award(call: Call) -> None:
    """Award each opened lot to one of its standing candidates, once the publicity is over
    with no objection open; the other standing bids' guarantees are released.

    Who: the tender's side (platform key, tenderer's or agent's key; not frozen).

    Args:
        tender_id: the tender.
        winners (array of USCC or '', one per lot): each lot's winner, a candidate whose bid
            still stands (``E_CANDIDATE``); ``''`` only for a lot without standing candidates.
    """
    from contracts import guarantee

    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "award")
    winners = call.args.get("winners")
    if type(winners) is not list or len(winners) != len(tender["lots"]):
        raise ContractError(E_BAD_ARGS, "winners must be one text per lot ('' for none)")
    for lot, winner in zip(tender["lots"], winners, strict=True):
        # a candidate that revoked its bid during the publicity can no longer win
        standing = [c for c in lot["candidates"] if c in standing_bidders(call, tender, lot["lot"])]
        if type(winner) is not str or (winner and winner not in standing):
            raise ContractError(
                E_CANDIDATE, f"lot {lot['lot']}: the winner must be a standing candidate"
            )
        if not winner and standing:
            raise ContractError(
                E_CANDIDATE, f"lot {lot['lot']}: a lot with standing candidates needs a winner"
            )
        lot["winner"] = winner
    tender["award_ms"] = call.now_ms
    advance(tender, "award")
    save(call, tender)
    guarantee.release_losers(call, tender)
    call.emit("tender.awarded", tender_id=tender["tender_id"], winners=list(winners))


def record_contract(call: Call) -> None:
    """Record the signed contract within ``contract_days`` of the award; the winners'
    guarantees are released.

    Who: the tender's side (platform key, tenderer's or agent's key; not frozen).

    Args:
        tender_id: the tender.
        contract_hash: hash of the signed contract.
    """
    from contracts import guarantee

    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "contract")
    tender["contract_hash"] = _hash_arg(call, "contract_hash")
    advance(tender, "contract")
    save(call, tender)
    guarantee.release_winners(call, tender)
    call.emit("tender.contracted", tender_id=tender["tender_id"])


def archive(call: Call) -> None:
    """Archive the tender for good: every later call naming it is refused (``E_ARCHIVED``).
    From ``contracted`` or ``failed``, or from ``awarded`` once the contract period is over
    (the winner never signed); never with an objection open.

    Who: the tender's side (platform key, tenderer's or agent's key; not frozen).

    Args:
        tender_id: the tender.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "archive")
    advance(tender, "archive", OK)
    tender["archived_ms"] = call.now_ms
    save(call, tender)
    call.emit("tender.archived", tender_id=tender["tender_id"])


def bidder_conflict(tender: Mapping[str, Any], uscc: str) -> bool:
    """The platform operator, its related parties, the tenderer and its agent may not bid."""
    return (
        uscc in {tender["platform_uscc"], tender["tenderer"], tender["agent"]}
        or uscc in tender["related_parties"]
    )


CONTRACT = Contract(
    "tender",
    {
        "announce": announce,
        "amend": amend,
        "object": object_,
        "reply": reply,
        "rule": rule,
        "suspend": suspend,
        "resume": resume,
        "find_collusion": find_collusion,
        "award": award,
        "record_contract": record_contract,
        "archive": archive,
    },
)
