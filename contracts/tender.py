"""Tenders (``tender.*``): announce, amend, supervision, award, contract and archive; the
objection calls (``tender.object``, ``reply``, ``rule``) are ``contracts.objections`` and
the record, its keys and who acts for the tender's side are ``contracts.tender_record``,
both registered in this module's contract. The lifecycle itself is data in
``contracts.tender_rules``; the handlers here check who may act and what the arguments say,
ask the table, and move the tender with ``tender_rules.advance``. The evaluation (step 7) is
``contracts.draw`` and ``contracts.evaluation``: candidates come only from the score sheets,
so there is no call that names them. An announcement carries the evaluation method
(``contracts.method``) and whether the evaluation is cross-region; its document issue start
is never before its own block (``E_ISSUE_START``: the statutory days can't be spent before
the tender exists).

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

from typing import Any

from contracts import args, objections
from contracts.credit import required_qualifications
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND, E_STATE, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.lifecycle import OK
from contracts.method import parse_method
from contracts.opening import opened_slot_of
from contracts.params import text_set
from contracts.periods import shown
from contracts.runtime import Call, Contract
from contracts.tender_record import (
    collusion_key,
    guarantee_limit_fen,
    hash_arg,
    load,
    record_id,
    require_side,
    require_supervisor,
    save,
    standing_bidders,
    step,
    tender_key,
    uscc_list,
)
from contracts.tender_rules import E_TOO_EARLY, LOT, RULE_SETS, TENDER, advance, load_periods
from contracts.uscc import require_uscc

E_DEADLINE_SHORT = "E_DEADLINE_SHORT"  # deadline under the minimum days after issue start
E_SALE_SHORT = "E_SALE_SHORT"  # documents on sale for fewer than the minimum days
E_DEADLINE_EARLIER = "E_DEADLINE_EARLIER"  # a deadline may never move earlier
E_AMEND_LATE = "E_AMEND_LATE"  # an amendment that affects bids, too close to the deadline
E_GUARANTEE_RULE = "E_GUARANTEE_RULE"  # a lot's required guarantee breaks the 2% / cap rule
E_CANDIDATE = "E_CANDIDATE"  # a winner that is not a standing candidate, or candidates named
E_ISSUE_START = "E_ISSUE_START"  # the document issue start is before the announcing block


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
    related = uscc_list(call, "related_parties")
    doc_hash = hash_arg(call, "doc_hash")
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
    quals = required_qualifications(call.args.get("qualifications", []), "qualifications", 16)
    method = parse_method(call, a.get("method"))
    cross_region = args.boolean(a, "cross_region", default=False)
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


def _cap_note(call: Call, kind: str) -> str:
    """", at most N fen for works" where the kind has a cap, else ""."""
    if kind in text_set(call.param("guarantee_cap_kinds")):
        return f", and at most {call.param('guarantee_cap_fen')} fen for {kind}"
    return ""


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
        limit = guarantee_limit_fen(call, kind, price)
        if required > limit:  # (user walk: the limit was not named)
            raise ContractError(
                E_GUARANTEE_RULE, f"lot {i} requires a guarantee of {required} fen, above the "
                f"{limit} fen allowed ({call.param('guarantee_max_bp') / 100:g}% of "
                f"{price} fen{_cap_note(call, kind)})")
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
            (``E_DEADLINE_EARLIER``); absent: unchanged. With ``affects_bids: true`` it is
            at least ``amend_min_days`` after this block (``E_AMEND_LATE``, naming the
            earliest deadline the amendment may set).
        method (map, optional): a new evaluation method, only with ``affects_bids: true``.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    step(call, tender, "amend")
    doc_hash = hash_arg(call, "doc_hash")
    affects = args.boolean(call.args, "affects_bids")  # (user walk: a missing one was "must
    #                                                    be true or false")
    new_deadline = (
        args.integer(call.args, "new_deadline_ms")
        if "new_deadline_ms" in call.args
        else tender["deadline_ms"]
    )
    if new_deadline < tender["deadline_ms"]:
        raise ContractError(E_DEADLINE_EARLIER, "a deadline never moves earlier")
    periods = load_periods(tender["rules"], call.param)
    if affects and periods.days_apart(call.now_ms, new_deadline) < periods.amend_min_days:
        if new_deadline == tender["deadline_ms"]:
            raise ContractError(
                E_AMEND_LATE,
                f"an amendment that affects bids needs the deadline {periods.amend_min_days}"
                " days away",
            )
        earliest_ms = periods.earliest_days_after(call.now_ms, periods.amend_min_days)
        raise ContractError(
            E_AMEND_LATE,
            f"the new deadline must be at least {periods.amend_min_days} days after this block:"
            f" the earliest deadline this amendment may set is {shown(earliest_ms)}",
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
    (reason ``collusion``). Collusion is a finding about bids, so it comes from the bid
    deadline on (``E_TOO_EARLY``: before it, the public record and event would tell who bid)
    and only against an entity whose bid was opened on some lot of the tender
    (``E_NOT_FOUND``).

    Who: a key holding the role `supervisor`, not frozen.

    Args:
        tender_id: the tender.
        uscc: the colluding bidder, with a bid opened on this tender (once per tender).
        evidence_hash: hash of the finding.
    """
    require_supervisor(call)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "find_collusion")
    if call.now_ms < tender["deadline_ms"]:
        # refused alike for every entity, before anything names one (DOMAIN.md step 4)
        raise ContractError(
            E_TOO_EARLY,
            f"collusion may be recorded only from the bid deadline ({tender['deadline_ms']} ms)",
        )
    uscc = require_uscc(args.text(call.args, "uscc", max_len=18))
    tender_id = tender["tender_id"]
    if not any(opened_slot_of(call, tender_id, lot["lot"], uscc) for lot in tender["lots"]):
        raise ContractError(
            E_NOT_FOUND,
            f"{uscc} has no opened bid on this tender: collusion is recorded only against"
            " a bidder whose bid was opened",
        )
    key = collusion_key(tender_id, uscc)
    if call.state.exists(key):
        raise ContractError(E_EXISTS, f"collusion by {uscc} is already recorded")
    call.state.put(
        key,
        {
            "evidence_hash": hash_arg(call, "evidence_hash"),
            "at_ms": call.now_ms,
            "by": call.sender,
        },
    )
    call.emit("tender.collusion", tender_id=tender_id, uscc=uscc)


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
    for winner in winners:  # a malformed code is said as such (user walk: E_CANDIDATE)
        if type(winner) is str and winner:
            require_uscc(winner)
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
    tender["contract_hash"] = hash_arg(call, "contract_hash")
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


CONTRACT = Contract(
    "tender",
    {
        "announce": announce,
        "amend": amend,
        "object": objections.object_,
        "reply": objections.reply,
        "rule": objections.rule,
        "suspend": suspend,
        "resume": resume,
        "find_collusion": find_collusion,
        "award": award,
        "record_contract": record_contract,
        "archive": archive,
    },
)
