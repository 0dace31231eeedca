"""Evaluation by score sheets (``evaluation.*``): the committee's signed sheets, the totals
and candidates computed by the contract, and the report signed by the members (DOMAIN.md
step 7 and "Evaluation committees").

- ``evaluation.score {tender_id, lot, bidder, points: {criterion: int}}`` — a member of the
  seated committee (``contracts.draw``), in the evaluation period the draw request
  announced: one sheet per member per valid (decrypted, standing) bid, integer points for
  exactly the method's criteria (``contracts.method``), each at most its maximum. The
  transaction's signature is the member's signature on the sheet.
- ``evaluation.close {tender_id}`` — the tender's side or a member, once every member has
  scored every valid bid or the evaluation period is over. Counted are the members who
  scored every valid bid. A majority of the committee counted: the contract computes every
  lot's totals, ranking and candidates (``contracts.scoring``) and the tender moves to
  ``reporting``. No majority: the round is void and the tender goes back to ``opened`` for
  a new draw (its sheets stay on chain). Nobody names candidates: a ``candidates`` argument
  is refused (``E_CANDIDATE``).
- ``evaluation.report {tender_id, report_hash}`` — the tender's side or a member posts the
  hash of the evaluation report; a new post replaces the last and clears its signatures.
- ``evaluation.sign {tender_id, report_hash, dissent_hash?}`` — every counted member signs
  the posted hash (with the hash of a written dissent if it disagrees); the last signature
  moves the tender to ``evaluated`` and starts the publicity.

State: ``eval/<tender>/<round>/sheet/<lot>/<bidder>/<member>``,
``eval/<tender>/<round>/scored/<member>``, ``eval/<tender>/<round>/result``,
``eval/<tender>/<round>/report`` (STATE_KEYS.md).
"""

from __future__ import annotations

from typing import Any

from contracts import args as A
from contracts import experts, scoring
from contracts.draw import EXPERT, current_draw, member_of
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.method import bonus_points, scored_criteria
from contracts.opening import opened_slot_of
from contracts.runtime import Call, Contract
from contracts.tender import E_CANDIDATE
from contracts.tender_record import (
    bid_key,
    load,
    lot_of,
    opened_slots,
    record_id,
    save,
    side_of,
    step,
)
from contracts.tender_rules import LOT_OPENED, REVEALED, TENDER, advance
from contracts.uscc import require_uscc

E_NOT_MEMBER = "E_NOT_MEMBER"  # the sender does not sit on the tender's committee
E_SHEET_TWICE = "E_SHEET_TWICE"  # this member already scored this bid
E_SCORE_MAX = "E_SCORE_MAX"  # a criterion's points above its maximum
E_REPORT_HASH = "E_REPORT_HASH"  # the signed hash is not the posted report's
E_CONFLICT = "E_CONFLICT"  # a seated expert now related to, or employed by, a party scores

HASH_LEN = 32


def _base(tender_id: str, round_: int) -> str:
    return f"eval/{tender_id}/{round_}"


def sheet_key(tender_id: str, round_: int, lot: int, bidder: str, member: str) -> str:
    return f"{_base(tender_id, round_)}/sheet/{lot}/{bidder}/{member}"


def scored_key(tender_id: str, round_: int, member: str) -> str:
    return f"{_base(tender_id, round_)}/scored/{member}"


def result_key(tender_id: str, round_: int) -> str:
    return f"{_base(tender_id, round_)}/result"


def report_key(tender_id: str, round_: int) -> str:
    return f"{_base(tender_id, round_)}/report"


def has_scored(call: Call, tender: dict[str, Any], member: str) -> bool:
    return bool(call.state.get(scored_key(tender["tender_id"], tender["eval_round"], member)))


def valid_bids(call: Call, tender: dict[str, Any]) -> dict[int, list[tuple[str, int]]]:
    """Per opened lot: (USCC, price) of its decrypted bids that still stand, by USCC."""
    out: dict[int, list[tuple[str, int]]] = {}
    for lot in tender["lots"]:
        if lot["status"] != LOT_OPENED:
            continue
        bids = []
        for slot in opened_slots(call, tender["tender_id"], lot["lot"]):
            bid = call.state.get(bid_key(tender["tender_id"], lot["lot"], slot))
            if bid is not None and bid["status"] == REVEALED:
                bids.append((str(bid["uscc"]), int(bid["price_fen"])))
        out[lot["lot"]] = sorted(bids)
    return out


def _seat(call: Call, tender: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The current draw and the sender's seat on it (``E_NOT_MEMBER`` if it has none)."""
    require_unfrozen_sender(call.state, call.sender)
    draw = current_draw(call, tender)
    member = member_of(call, draw)
    if member is None:
        raise ContractError(E_NOT_MEMBER, "the sender does not sit on this committee")
    return draw, member


def _member(call: Call, tender: dict[str, Any]) -> tuple[dict[str, Any], str]:
    draw, seat = _seat(call, tender)
    return draw, str(seat["member"])


def _require_unconflicted(call: Call, draw: dict[str, Any], seat: dict[str, Any]) -> None:
    """The draw excludes experts related to a party (DOMAIN.md: the tenderer, its agent, any
    bidder), but a relation can be declared (``expert.declare``) or an employer changed after
    the seat was taken. Such an expert scores nothing more; before its first sheet it
    declines the seat and the same draw seats the next expert (``draw.decline``). Its sheets
    from before the relation stand, and it still signs the report (one every counted member
    must sign would otherwise never be complete)."""
    if seat["kind"] != EXPERT:
        return  # a tenderer's representative: the tender's own side, not an expert
    code = str(seat["member"])
    rec = experts.current(call.state.get, code)
    if rec is not None and experts.conflicted(rec, frozenset(draw["parties"])):
        raise ContractError(
            E_CONFLICT, f"expert {code} is related to a party of this tender (declared or "
            "employer): it must step aside; before scoring it declines the seat (draw.decline)")


def _points(call: Call, tender: dict[str, Any]) -> dict[str, int]:
    criteria = scored_criteria(tender["method"])
    raw = call.args.get("points")
    if type(raw) is not dict or set(raw) != set(criteria):
        raise ContractError(E_BAD_ARGS, f"points are given for exactly {sorted(criteria)}")
    points = {}
    for name, maximum in criteria.items():
        value = raw[name]
        if type(value) is not int or value < 0:
            raise ContractError(E_BAD_ARGS, f"points for {name!r} are a non-negative integer")
        if value > maximum:
            raise ContractError(E_SCORE_MAX, f"{name!r} scores at most {maximum}, got {value}")
        points[name] = value
    return points


def score(call: Call) -> None:
    """Submit one score sheet for one valid (decrypted, standing) bid, in the evaluation
    period the draw request announced; the transaction's signature is the member's
    signature on the sheet.

    Who: a member of the seated committee (an expert's key or a tenderer's representative's
    key; not frozen).

    Args:
        tender_id: the tender.
        lot: the lot number.
        bidder: the bidder's USCC (a valid bid on the lot, else ``E_NOT_FOUND``).
        points ({criterion: int}): integer points ≥ 0 for exactly the method's criteria,
            each at most its maximum (``E_SCORE_MAX``); one sheet per member and bid
            (``E_SHEET_TWICE``).

    An expert related to a party of the tender since it was seated (a relation declared, an
    employer changed) is refused (``E_CONFLICT``): it declines the seat instead.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "score")
    draw, seat = _seat(call, tender)
    _require_unconflicted(call, draw, seat)
    member = str(seat["member"])
    lot = A.integer(call.args, "lot", 1, 0xFFFF)
    lot_of(tender, lot)
    bidder = require_uscc(A.text(call.args, "bidder", max_len=18))
    slot = opened_slot_of(call, tender["tender_id"], lot, bidder)
    bid = None if slot is None else call.state.get(bid_key(tender["tender_id"], lot, slot))
    if bid is None or bid["status"] != REVEALED:
        raise ContractError(E_NOT_FOUND, f"{bidder} has no valid bid on lot {lot}")
    round_ = tender["eval_round"]
    key = sheet_key(tender["tender_id"], round_, lot, bidder, member)
    if call.state.exists(key):
        raise ContractError(E_SHEET_TWICE, f"{member} has scored {bidder} on lot {lot}")
    points = _points(call, tender)
    call.state.put(key, {"points": points, "sum": sum(points.values()), "at_ms": call.now_ms})
    counter = scored_key(tender["tender_id"], round_, member)
    call.state.put(counter, int(call.state.get(counter) or 0) + 1)
    call.emit("evaluation.scored", tender_id=tender["tender_id"], lot=lot, member=member)


def _require_side_or_member(call: Call, tender: dict[str, Any]) -> dict[str, Any]:
    require_unfrozen_sender(call.state, call.sender)
    draw = current_draw(call, tender)
    if side_of(call, tender) is None and member_of(call, draw) is None:
        raise ContractError(E_FORBIDDEN, "only the tender's side or a committee member may")
    return draw


def close(call: Call) -> None:
    """Close the evaluation once every member has scored every valid bid or the evaluation
    period is over, and the opening objection period has ended. Counted are the members who
    scored every valid bid.

    Who: the tender's side (platform key, tenderer's or agent's key) or a member of the
    committee (not frozen).

    Args:
        tender_id: the tender.
        candidates (any): never accepted: candidates are computed from the score sheets only
            (``E_CANDIDATE``).

    Outcomes (receipt OK): ``decided`` — a majority counted: the contract computes every
    lot's totals, ranking and up to ``candidates_max`` candidates (``contracts.scoring``) and
    the tender moves to ``reporting``; ``redo`` — no majority: the round is void and the
    tender goes back to ``opened`` for a new draw.
    """
    if "candidates" in call.args:
        raise ContractError(E_CANDIDATE, "candidates are computed from the score sheets only")
    tender = load(call, record_id(call.args, "tender_id"))
    if TENDER.row(tender["state"], "close_evaluation") is None:
        step(call, tender, "close_evaluation")  # refuses with the lifecycle's code
    draw = _require_side_or_member(call, tender)
    valid = valid_bids(call, tender)
    round_, tid = tender["eval_round"], tender["tender_id"]
    counted = [
        m["member"]
        for m in draw["members"]
        if all(
            call.state.exists(sheet_key(tid, round_, lot, uscc, m["member"]))
            for lot, bids in valid.items()
            for uscc, _ in bids
        )
    ]
    step(call, tender, "close_evaluation", all_scored=len(counted) == len(draw["members"]))
    result: dict[str, Any] = {"closed_ms": call.now_ms, "counted": counted, "lots": []}
    if 2 * len(counted) <= len(draw["members"]):
        result["outcome"] = "redo"
        advance(tender, "close_evaluation", "redo")
    else:
        result["outcome"] = "decided"
        result["lots"] = [
            _decide_lot(call, tender, lot, bids, counted) for lot, bids in valid.items()
        ]
        advance(tender, "close_evaluation", "decided")
    call.state.put(result_key(tid, round_), result)
    save(call, tender)
    call.emit(
        "evaluation.closed",
        tender_id=tid,
        round=round_,
        outcome=result["outcome"],
        candidates=[lot["candidates"] for lot in result["lots"]],
    )


def _decide_lot(
    call: Call, tender: dict[str, Any], lot: int, bids: list[tuple[str, int]], counted: list[str]
) -> dict[str, Any]:
    tid, round_ = tender["tender_id"], tender["eval_round"]
    sums = {
        uscc: [int(call.state.get(sheet_key(tid, round_, lot, uscc, m))["sum"]) for m in counted]
        for uscc, _ in bids
    }
    bonus = {uscc: bonus_points(call.state, tender["method"], uscc, tender) for uscc, _ in bids}
    ranking = scoring.score_lot(
        int(tender["method"]["price_points"]),
        bids,
        sums,
        bonus,
        int(call.param("drop_extremes_min_members")),
        10 ** int(call.param("score_decimals")),
    )
    candidates = [t.uscc for t in ranking[: int(call.param("candidates_max"))]]
    lot_of(tender, lot)["candidates"] = candidates
    return {
        "lot": lot,
        "base_price_fen": min(p for _, p in bids) if bids else 0,
        "ranking": [t.to_obj() for t in ranking],
        "candidates": candidates,
    }


def report(call: Call) -> None:
    """Post the hash of the evaluation report; a new post replaces the last and clears its
    signatures.

    Who: the tender's side (platform key, tenderer's or agent's key) or a member of the
    committee (not frozen).

    Args:
        tender_id: the tender (``reporting``).
        report_hash: hash of the report.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "post_report")
    _require_side_or_member(call, tender)
    report_hash = A.blob(call.args, "report_hash", length=HASH_LEN)
    call.state.put(
        report_key(tender["tender_id"], tender["eval_round"]),
        {"report_hash": report_hash, "by": call.sender, "at_ms": call.now_ms, "signatures": {}},
    )
    call.emit("evaluation.report", tender_id=tender["tender_id"], report_hash=report_hash)


def sign(call: Call) -> None:
    """Sign the posted report's hash, once; the last counted member's signature moves the
    tender to ``evaluated`` and starts the publicity.

    Who: a committee member whose sheets counted (not frozen).

    Args:
        tender_id: the tender.
        report_hash: the posted report's hash (``E_REPORT_HASH`` otherwise).
        dissent_hash (optional): hash of a written dissent.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    tid, round_ = tender["tender_id"], tender["eval_round"]
    step(call, tender, "sign_report")
    draw, member = _member(call, tender)
    result = call.state.get(result_key(tid, round_))
    if member not in result["counted"]:
        raise ContractError(E_NOT_MEMBER, "only the members whose sheets counted sign")
    posted = call.state.get(report_key(tid, round_))
    if posted is None:
        raise ContractError(E_NOT_FOUND, "no report has been posted")
    if A.blob(call.args, "report_hash", length=HASH_LEN) != posted["report_hash"]:
        raise ContractError(E_REPORT_HASH, "the hash signed is not the posted report's")
    if member in posted["signatures"]:
        raise ContractError(E_EXISTS, f"{member} has signed the report")
    dissent = (
        A.blob(call.args, "dissent_hash", length=HASH_LEN) if "dissent_hash" in call.args else b""
    )
    signed = len(posted["signatures"]) + 1 == len(result["counted"])
    posted["signatures"] = {
        **posted["signatures"],
        member: {"at_ms": call.now_ms, "dissent_hash": dissent},
    }
    call.state.put(report_key(tid, round_), posted)
    if signed:
        tender.update(
            {
                "report_hash": posted["report_hash"],
                "committee_size": draw["size"],
                "publicity_start_ms": call.now_ms,
            }
        )
    advance(tender, "sign_report", "signed" if signed else "pending")
    save(call, tender)
    call.emit("evaluation.signed", tender_id=tid, member=member, complete=signed)


CONTRACT = Contract("evaluation", {"score": score, "close": close, "report": report, "sign": sign})
