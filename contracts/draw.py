"""Evaluation committee draws (``draw.*``): request, seat, decline (DOMAIN.md step 7 and
"Evaluation committees, expert draw and remote evaluation").

- ``draw.request {tender_id, evaluation_start_ms, evaluation_end_ms, size, groups:
  [{specialty, count}], representatives: [pubkey]}`` — the tender's side (platform,
  tenderer or agent), once the tender is ``opened`` (so at or after the bid deadline) and no
  more than ``draw_lead_max_days`` before the evaluation starts. The committee is odd, of
  ``committee_min_size``..``committee_max_size`` members; the drawn experts (the groups'
  counts) are at least ``committee_expert_min_num/den`` of it; the tenderer seats the rest
  as its representatives (distinct keys bound to the tenderer). The request opens a beacon
  request (``contracts.beacon``) whose subject binds everything the draw depends on, and
  moves the tender to ``drawing``.
- ``draw.seat {tender_id}`` — anyone, once the beacon is final: the committee is computed
  by ``contracts.committee`` and the tender moves to ``evaluating``. A failed beacon or a
  pool too small for the groups is a recorded outcome (receipt OK, draw status
  ``beacon_failed`` / ``short``): the tender side asks again (a new round).
- ``draw.decline {tender_id}`` — a drawn expert, from its key, before it scored anything:
  the same draw seats the next eligible expert of its group; if there is none, the draw
  is ``short`` and the tender goes back to ``drawing``.

The record ``draw/<tender>/<round>`` (STATE_KEYS.md) holds the request, the seed, each
group's cursor, the members and the declines; ``tender/<id>`` field ``eval_round`` names the
current round. Committee members (``member_id``): an expert by its code, a representative
as ``rep-<i>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import args as A
from contracts import beacon, committee, experts
from contracts.errors import E_BAD_ARGS, E_FORBIDDEN, E_NOT_FOUND, E_STATE, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.identity import entity_of_key
from contracts.lifecycle import Table, branches, to
from contracts.periods import shown
from contracts.runtime import Call, Contract
from contracts.tender_record import bid_key, load, opened_slots, record_id, require_side, save, step
from contracts.tender_rules import DRAWING, E_TOO_EARLY, advance, load_periods
from ledger import encoding
from ledger.crypto import Suite

E_COMMITTEE = "E_COMMITTEE"  # the committee's size or make-up breaks the rules
E_DRAW_TIMING = "E_DRAW_TIMING"  # the evaluation starts too long after the draw, or has passed

WAITING, SEATED, SHORT, BEACON_FAILED = "waiting", "seated", "short", "beacon_failed"
# A draw record's status: waiting for the beacon, then seated, or short of experts, or its
# beacon failed; a seated committee goes short when a decline finds no replacement.
DRAW = Table(
    "draw",
    "status",
    {
        ("", "request"): to(WAITING),
        (WAITING, "seat"): branches(
            {"seated": SEATED, "short": SHORT, "beacon_failed": BEACON_FAILED}
        ),
        (SEATED, "decline"): branches({"replaced": SEATED, "short": SHORT}),
    },
    frozenset((WAITING, SEATED, SHORT, BEACON_FAILED)),
)
EXPERT, REPRESENTATIVE = "expert", "representative"


# What ``seat`` and ``decline`` add to a draw record (``request`` sets their first values):
# everything else in it is the request, which the beacon's subject binds.
SEATING_FIELDS = frozenset(
    {"subject", "status", "seed", "cursors", "members", "declined", "seated_ms"}
)


def subject_of(suite: Suite, rec: Mapping[str, Any]) -> bytes:
    """The beacon subject of a draw record: the hash of its request's fields."""
    return suite.hash(encoding.encode({k: v for k, v in rec.items()
                                       if k not in SEATING_FIELDS}))


def draw_key(tender_id: str, round_: int) -> str:
    return f"draw/{tender_id}/{round_}"


def beacon_id(tender_id: str, round_: int) -> str:
    return f"draw/{tender_id}/{round_}"


def current_draw(call: Call, tender: dict[str, Any]) -> dict[str, Any]:
    rec = call.state.get(draw_key(tender["tender_id"], tender["eval_round"]))
    if rec is None:
        raise ContractError(E_NOT_FOUND, "no committee has been drawn for this tender")
    return dict(rec)


def member_of(call: Call, draw: dict[str, Any]) -> dict[str, Any] | None:
    """The sender's seat on the committee (experts by their key's code), or None."""
    code = experts.code_of_key(call.state.get, call.sender)
    for member in draw["members"]:
        if member["kind"] == EXPERT and member["member"] == code:
            return dict(member)
        if member["kind"] == REPRESENTATIVE and member["key"] == call.sender:
            return dict(member)
    return None


def conflict_parties(call: Call, tender: dict[str, Any]) -> list[str]:
    """The tenderer, its agent and every bidder named at opening (any lot), sorted."""
    parties = {tender["tenderer"]} | ({tender["agent"]} if tender["agent"] else set())
    for lot in tender["lots"]:
        for slot in opened_slots(call, tender["tender_id"], lot["lot"]):
            bid = call.state.get(bid_key(tender["tender_id"], lot["lot"], slot))
            if bid is not None:
                parties.add(str(bid["uscc"]))
    return sorted(parties)


# --- request ---


def _groups(call: Call) -> list[dict[str, Any]]:
    raw = call.args.get("groups")
    limit = int(call.param("draw_groups_max"))
    if type(raw) is not list or not 1 <= len(raw) <= limit:
        raise ContractError(E_BAD_ARGS, f"groups must be 1 to {limit} {{specialty, count}}")
    out: list[dict[str, Any]] = []
    for item in raw:
        if type(item) is not dict or set(item) != {"specialty", "count"}:
            raise ContractError(E_BAD_ARGS, "a group is {specialty, count}")
        specialty = A.text(item, "specialty", max_len=32)
        if any(g["specialty"] == specialty for g in out):
            raise ContractError(E_BAD_ARGS, f"specialty {specialty!r} is named twice")
        count = A.integer(item, "count", 1, 99)
        size = experts.pool_size(call.state.get, specialty)
        out.append({"specialty": specialty, "count": count, "pool_size": size})
    return out


def _representatives(call: Call, tender: dict[str, Any], seats: int) -> list[bytes]:
    raw = call.args.get("representatives", [])
    if type(raw) is not list or not all(type(k) is bytes for k in raw):
        raise ContractError(E_BAD_ARGS, "representatives must be an array of public keys")
    if len(set(raw)) != len(raw):
        raise ContractError(E_COMMITTEE, "the representatives' keys must be distinct")
    if len(raw) != seats:
        raise ContractError(E_COMMITTEE, f"the tenderer seats exactly {seats} "
                                         f"representative{'' if seats == 1 else 's'}")
    for key in raw:
        if entity_of_key(call.state, key, call.now_ms) != tender["tenderer"]:
            raise ContractError(E_COMMITTEE, "a representative's key must be the tenderer's")
    return list(raw)


def _check_size(call: Call, size: int, experts_count: int) -> None:
    low, high = int(call.param("committee_min_size")), int(call.param("committee_max_size"))
    if size % 2 == 0 or not low <= size <= high:
        raise ContractError(E_COMMITTEE, f"the committee is odd, {low} to {high} members")
    num, den = (
        int(call.param("committee_expert_min_num")),
        int(call.param("committee_expert_min_den")),
    )
    if experts_count > size or experts_count * den < num * size:
        raise ContractError(
            E_COMMITTEE, f"experts must be at least {num}/{den} of the committee of {size}"
        )


def _local_max(call: Call, tender: dict[str, Any], experts_count: int) -> int:
    if not tender["cross_region"]:
        return experts_count
    num, den = int(call.param("cross_region_min_num")), int(call.param("cross_region_min_den"))
    return experts_count - (-(-experts_count * num // den))


def _timing(call: Call, tender: dict[str, Any]) -> tuple[int, int]:
    start = A.integer(call.args, "evaluation_start_ms")
    end = A.integer(call.args, "evaluation_end_ms")
    periods = load_periods(tender["rules"], call.param)
    lead = int(call.param("draw_lead_max_days"))
    if start < call.now_ms:  # (user walk: this was "at most 2 days before")
        raise ContractError(
            E_DRAW_TIMING, f"the evaluation start {shown(start)} has passed (this block is at "
            f"{shown(call.now_ms)})")
    if periods.days_apart(call.now_ms, start) > lead:
        raise ContractError(
            E_DRAW_TIMING, f"the draw comes at most {lead} days before the evaluation starts"
        )
    longest = int(call.param("evaluation_max_days"))
    if end <= start or periods.days_apart(start, end) > longest:
        raise ContractError(
            E_BAD_ARGS, f"the evaluation ends after it starts, within {longest} days"
        )
    return start, end


def request(call: Call) -> None:
    """Request the committee draw of a tender: at or after the bid deadline (``E_TOO_EARLY``),
    once the tender is ``opened`` (or ``drawing`` after a draw that came out short or whose
    beacon failed), no more than ``draw_lead_max_days`` before the evaluation starts. Opens a
    beacon request whose subject binds everything the draw depends on; the tender moves to
    ``drawing``.

    Who: the tender's side: the platform key that announced it, or a key bound to the
    tenderer or its agent (not frozen).

    Args:
        tender_id: the tender.
        evaluation_start_ms: start of the evaluation, not past, at most
            ``draw_lead_max_days`` away (``E_DRAW_TIMING``).
        evaluation_end_ms: its end, after the start, within ``evaluation_max_days``.
        size: the committee's size: odd, ``committee_min_size``..``committee_max_size``.
        groups (array of {specialty, count}): 1 to ``draw_groups_max`` groups, distinct
            specialties, count 1–99; the experts (the counts' sum) are at least
            ``committee_expert_min_num/den`` of the committee (``E_COMMITTEE``).
        representatives (array of public keys, optional): the tenderer's representatives,
            distinct keys, exactly ``size`` minus the experts, each a key bound to the
            tenderer (``E_COMMITTEE``).
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_side(call, tender)
    if call.now_ms < tender["deadline_ms"]:
        raise ContractError(E_TOO_EARLY, "experts are drawn at or after the bid deadline")
    step(call, tender, "request_draw")
    if tender["state"] == DRAWING and current_draw(call, tender)["status"] == WAITING:
        raise ContractError(E_STATE, "a draw is under way: seat it first")
    start, end = _timing(call, tender)
    size = A.integer(call.args, "size", 1, 99)
    groups = _groups(call)
    experts_count = sum(g["count"] for g in groups)
    _check_size(call, size, experts_count)
    reps = _representatives(call, tender, size - experts_count)
    round_ = tender["eval_round"] + 1
    rec: dict[str, Any] = {
        "tender_id": tender["tender_id"],
        "round": round_,
        "request_ms": call.now_ms,
        "request_height": call.block.height,
        "size": size,
        "groups": groups,
        "representatives": reps,
        "home_region": tender["region"],
        "cross_region": tender["cross_region"],
        "local_max": _local_max(call, tender, experts_count),
        "parties": conflict_parties(call, tender),
        "evaluation_start_ms": start,
        "evaluation_end_ms": end,
    }
    subject = subject_of(call.block.suite, rec)
    beacon.open_request(call, beacon_id(tender["tender_id"], round_), subject)
    rec.update(
        {
            "subject": subject,
            "status": DRAW.start("request"),
            "seed": b"",
            "cursors": [],
            "members": [],
            "declined": [],
            "seated_ms": 0,
        }
    )
    call.state.put(draw_key(tender["tender_id"], round_), rec)
    tender.update({"eval_round": round_, "evaluation_start_ms": start, "evaluation_end_ms": end})
    advance(tender, "request_draw")
    save(call, tender)
    call.emit("draw.requested", tender_id=tender["tender_id"], round=round_)


# --- seat and decline ---


def _members(draw: dict[str, Any], drawn: committee.Drawn) -> list[dict[str, Any]]:
    seats = [
        {
            "member": s.code,
            "kind": EXPERT,
            "key": b"",
            "group": s.group,
            "position": s.position,
            "local": s.local,
        }
        for s in drawn.seats
    ]
    reps = [
        {
            "member": f"rep-{i}",
            "kind": REPRESENTATIVE,
            "key": key,
            "group": -1,
            "position": -1,
            "local": False,
        }
        for i, key in enumerate(draw["representatives"])
    ]
    return seats + reps


def seat(call: Call) -> None:
    """Seat the committee once the draw's beacon is final (``E_BEACON_PENDING`` before): the
    committee is computed by ``contracts.committee`` from the seed.

    Who: Anyone whose key is not frozen.

    Args:
        tender_id: the tender (a draw waiting to be seated).

    Outcomes (receipt OK): ``seated`` (the tender moves to ``evaluating``), ``short`` (the
    pool had too few eligible experts) or ``beacon_failed``; after either of the last two the
    tender stays ``drawing`` and its side requests again (a new round).
    """
    require_unfrozen_sender(call.state, call.sender)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "seat")
    draw = current_draw(call, tender)
    if draw["status"] != WAITING:
        raise ContractError(E_STATE, f"the draw is {draw['status']}: request a new one")
    status, seed = beacon.settle(call, beacon_id(tender["tender_id"], draw["round"]))
    if status == beacon.PENDING:
        raise ContractError(beacon.E_BEACON_PENDING, "the validators' beacon is not final yet")
    if status == beacon.FAILED:
        outcome = "beacon_failed"
    else:
        drawn = committee.draw_committee(
            call.state.get, call.block.suite, seed, committee.spec_of(draw)
        )
        draw.update({"seed": seed, "cursors": drawn.cursors, "members": _members(draw, drawn)})
        outcome = "short" if drawn.short else "seated"
    DRAW.advance(draw, "seat", outcome)
    draw["seated_ms"] = call.now_ms
    call.state.put(draw_key(tender["tender_id"], draw["round"]), draw)
    advance(tender, "seat", outcome)
    save(call, tender)
    call.emit(
        "draw.seated",
        tender_id=tender["tender_id"],
        round=draw["round"],
        status=draw["status"],
        members=[m["member"] for m in draw["members"]],
    )


def drawn_of(draw: dict[str, Any]) -> committee.Drawn:
    """The draw record's seats and cursors, as ``contracts.committee`` works on them."""
    seats = [
        committee.Seat(m["member"], m["group"], m["position"], m["local"])
        for m in draw["members"]
        if m["kind"] == EXPERT
    ]
    declined = {d["member"] for d in draw["declined"]}
    return committee.Drawn(seats, list(draw["cursors"]), False, declined)


def decline(call: Call) -> None:
    """Decline a seat before scoring anything: the same draw seats the next eligible expert
    of the group (receipt OK); if there is none the draw is ``short`` and the tender goes back
    to ``drawing``.

    Who: a drawn expert of the seated committee, from its key (not frozen).

    Args:
        tender_id: the tender.
    """
    from contracts.evaluation import has_scored

    require_unfrozen_sender(call.state, call.sender)
    tender = load(call, record_id(call.args, "tender_id"))
    step(call, tender, "decline")
    draw = current_draw(call, tender)
    member = member_of(call, draw)
    if member is None or member["kind"] != EXPERT:
        raise ContractError(E_FORBIDDEN, "only a drawn expert of this committee declines")
    if has_scored(call, tender, member["member"]):
        raise ContractError(E_STATE, "a member that has scored cannot decline")
    drawn = drawn_of(draw)
    spec = committee.spec_of(draw)
    new = committee.replace_seat(
        call.state.get, call.block.suite, draw["seed"], spec, drawn, member["member"]
    )
    reps = [m for m in draw["members"] if m["kind"] == REPRESENTATIVE]
    draw["members"] = _members({"representatives": []}, drawn) + reps
    draw["cursors"] = drawn.cursors
    draw["declined"] = [*draw["declined"], {"member": member["member"], "at_ms": call.now_ms}]
    outcome = "short" if new is None else "replaced"
    DRAW.advance(draw, "decline", outcome)
    call.state.put(draw_key(tender["tender_id"], draw["round"]), draw)
    advance(tender, "decline", outcome)
    save(call, tender)
    call.emit(
        "draw.declined",
        tender_id=tender["tender_id"],
        member=member["member"],
        replaced_by="" if new is None else new.code,
    )


CONTRACT = Contract("draw", {"request": request, "seat": seat, "decline": decline})
