"""Selection requests of the intermediary supermarket (``market.*``, with
``contracts.supermarket``'s catalogue): a project owner posts, agencies respond, the chain
selects, the selected agency confirms, the owner records the contract and rates
(DOMAIN.md "Intermediary services supermarket").

- ``market.request {request_id, item, budget_fen, fiscal, method, window_end_ms?, agency?,
  quality_points?}`` — an attested entity (the owner). Methods: ``direct`` (the owner names
  an agency in good standing; budget at most ``market_direct_max_fen``, 100,000 yuan: above
  it ``E_DIRECT_CEILING``), ``random``, ``lowest_price``, ``quality_price`` (then
  ``quality_points`` of 100 go to quality, the rest to price). Except ``direct``, agencies
  respond until ``window_end_ms``, at least ``market_response_min_days`` days away.
- ``market.respond {request_id, price_fen}`` — an agency in good standing for the item
  (``supermarket.standing``), once, within the window, at most the budget.
- ``market.select {request_id}`` — anyone, after the window: ``lowest_price`` orders the
  responses by price (then response time, USCC); ``quality_price`` by ``price_points × lowest
  ÷ price + quality_points × mean rating ÷ rating_max`` (the agency's ratings of the last
  ``market_low_ratings_months`` months, ``market_unrated_rating`` when it has none), then
  price, USCC; ``random`` first opens a request on the validators' beacon
  (``contracts.beacon``: subject = the request and its responses) and, called again once
  the beacon is final, orders the responders by a shuffle drawn from the seed. The first
  agency of the order still in good standing is selected; none, or no response: ``failed``.
- ``market.confirm {request_id}`` — the selected agency, within ``market_confirm_days``.
- ``market.next {request_id}`` — anyone, once the confirmation period is over: the next
  agency of the same order still in good standing is selected (or the request fails).
- ``market.record_contract {request_id, contract_hash}`` and ``market.rate {request_id,
  rating}`` (1..``market_rating_max``) — the owner; a low rating may suspend the agency.
- ``market.cancel {request_id}`` — the owner, before a contract; refused for a request paid
  by fiscal funds (``E_FISCAL``): for those the supermarket is mandatory, so the owner can't
  drop the request to hire outside it.

Events are public notices (``contracts.disclosure``), and a party follows its own with
``GET /events?entity=<USCC>``, which matches any USCC among an event's fields: so every event
of a request names its ``owner``, and the agency it concerns as ``uscc`` (the responding,
selected, passed-over, confirming, contracted or rated one). A direct request emits
``market.selected`` as well, and ``market.next`` emits ``market.lapsed`` naming the agency
passed over before it selects the next one.

State: ``market/request/<id>`` (STATE_KEYS.md); statuses move only through ``SELECTION``.
"""

from __future__ import annotations

import re
from typing import Any

from contracts import args as A
from contracts import beacon, scoring, supermarket
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE, ContractError
from contracts.identity import require_entity_sender
from contracts.lifecycle import Table, branches, to
from contracts.periods import end_of_months_ms, shown
from contracts.runtime import Call
from contracts.tender_rules import E_TOO_EARLY, E_WINDOW, period_end
from contracts.uscc import require_uscc
from ledger import encoding

E_DIRECT_CEILING = "E_DIRECT_CEILING"  # a direct selection above its budget ceiling
E_AGENCY = "E_AGENCY"  # the agency is not in good standing for the item (see reasons)
E_FISCAL = "E_FISCAL"  # a fiscal-fund request can't leave the supermarket
E_CONFIRM_LATE = "E_CONFIRM_LATE"  # the confirmation period is over

METHODS = ("direct", "random", "lowest_price", "quality_price")
OPEN, DRAWING, SELECTED, CONFIRMED = "open", "drawing", "selected", "confirmed"
CONTRACTED, COMPLETED, FAILED, CANCELLED = "contracted", "completed", "failed", "cancelled"
_ORDERED = {"drawing": DRAWING, "selected": SELECTED, "failed": FAILED}
SELECTION = Table(
    "selection",
    "status",
    {
        ("", "request"): branches({"direct": SELECTED, "open": OPEN}),
        (OPEN, "select"): branches(_ORDERED),
        (DRAWING, "select"): branches(_ORDERED),
        (SELECTED, "confirm"): to(CONFIRMED),
        (SELECTED, "next"): branches({"selected": SELECTED, "failed": FAILED}),
        (CONFIRMED, "contract"): to(CONTRACTED),
        (CONTRACTED, "rate"): to(COMPLETED),
        **{(s, "cancel"): to(CANCELLED) for s in (OPEN, DRAWING, SELECTED, CONFIRMED)},
    },
    frozenset((OPEN, DRAWING, SELECTED, CONFIRMED, CONTRACTED, COMPLETED, FAILED, CANCELLED)),
)
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HASH_LEN = 32


def request_key(request_id: str) -> str:
    return f"market/request/{request_id}"


def _load(call: Call, wanted: str | None) -> dict[str, Any]:
    """The request named by the call, in a status where ``wanted`` is a move of the table
    (``None``: any status)."""
    request_id = A.text(call.args, "request_id", max_len=64)
    rec = call.state.get(request_key(request_id))
    if rec is None:
        raise ContractError(E_NOT_FOUND, f"no selection request {request_id}")
    if wanted is not None and SELECTION.row(rec["status"], wanted) is None:
        raise ContractError(
            E_STATE, f"{wanted!r} is not possible when the request is {rec['status']}"
        )
    return dict(rec)


def respondents(rec: dict[str, Any]) -> list[str]:
    """The agencies that responded to a request, sorted: a request that fails or is
    cancelled names them in its event, so each is told (a stream filtered by its USCC)."""
    return sorted(r["uscc"] for r in rec["responses"])


def _save(call: Call, rec: dict[str, Any]) -> None:
    call.state.put(request_key(rec["request_id"]), rec)


def _item(call: Call, code: str, posted: bool = False) -> dict[str, Any]:
    """The catalogue item ``code``, active for a new request; for one already posted
    (``posted``: its responses, selection and next agency) whether active or not, since
    taking an item out of use stops new requests only (user walk: a fiscal request, which
    may not be cancelled, was stuck open for good once its item was made inactive)."""
    item = supermarket.load_item(call.state, code)
    if item is None or not (item["active"] or posted):
        raise ContractError(E_NOT_FOUND, f"no active item {code}")
    return item


def _require_standing(call: Call, uscc: str, item: dict[str, Any]) -> None:
    reasons = supermarket.standing(call.state, uscc, item, call.now_ms)
    if reasons:
        raise ContractError(E_AGENCY, f"{uscc} may not serve {item['code']}: {', '.join(reasons)}")


def _select_at(call: Call, rec: dict[str, Any], start: int, action: str) -> None:
    """Select the first agency of the order, from ``start``, still in good standing."""
    item = _item(call, rec["item"], posted=True)
    for i in range(start, len(rec["order"])):
        if not supermarket.standing(call.state, rec["order"][i], item, call.now_ms):
            rec.update(
                {"selected": i, "selected_ms": call.now_ms, "confirm_by_ms": _confirm_by(call)}
            )
            SELECTION.advance(rec, action, "selected")
            call.emit(
                "market.selected",
                request_id=rec["request_id"],
                owner=rec["owner"],
                uscc=rec["order"][i],
            )
            return
    rec["selected"] = -1
    SELECTION.advance(rec, action, "failed")
    call.emit("market.failed", request_id=rec["request_id"], owner=rec["owner"],
              agencies=respondents(rec))


def request(call: Call) -> None:
    """Post a selection request for an item. ``direct`` selects the named agency at once
    (``market.selected``, as ``market.select`` does for the other methods, which take
    responses until ``window_end_ms``).

    Who: a key bound to the project owner (an attested entity; key and entity not frozen).

    Args:
        request_id: the request's id, new: 1–64 of ``[A-Za-z0-9._-]``.
        item: the item's code (active).
        budget_fen: the budget (for ``direct`` at most ``market_direct_max_fen``:
            ``E_DIRECT_CEILING``).
        fiscal (bool): paid by fiscal funds (then the supermarket is mandatory:
            ``market.cancel`` is refused).
        method: ``direct``, ``random``, ``lowest_price`` or ``quality_price``.
        agency (optional): ``direct`` only: the agency selected, in good standing for the
            item (``E_AGENCY``), not the owner.
        window_end_ms (optional): not ``direct``: end of the response window, at least
            ``market_response_min_days`` away (``E_WINDOW``).
        quality_points (optional): ``quality_price`` only: the points of 100 given to
            quality (the rest to price).

    An argument the method does not use is refused (``E_BAD_ARGS``), not ignored.
    """
    owner = require_entity_sender(call)
    a = call.args
    request_id = A.text(a, "request_id", max_len=64)
    if not _ID.fullmatch(request_id):
        raise ContractError(E_BAD_ARGS, "a request id is 1–64 of [A-Za-z0-9._-]")
    if call.state.exists(request_key(request_id)):
        raise ContractError(E_EXISTS, f"selection request {request_id} exists")
    item = _item(call, A.text(a, "item", max_len=32))
    budget = A.amount_fen(a, "budget_fen")
    fiscal = a.get("fiscal")
    method = A.text(a, "method", max_len=16)
    if type(fiscal) is not bool or method not in METHODS:
        raise ContractError(E_BAD_ARGS, f"fiscal is true/false, method one of {list(METHODS)}")
    # an argument the method does not use is refused, not ignored (user walk)
    unused = sorted(set(a) & ({"window_end_ms", "quality_points"} if method == "direct"
                              else {"agency"} | (set() if method == "quality_price"
                                                 else {"quality_points"})))
    if unused:
        raise ContractError(E_BAD_ARGS, f"the {method} method takes no "
                                        f"{', '.join(unused)}")
    rec: dict[str, Any] = {
        "request_id": request_id,
        "owner": owner,
        "item": item["code"],
        "budget_fen": budget,
        "fiscal": fiscal,
        "method": method,
        "quality_points": 0,
        "posted_ms": call.now_ms,
        "window_end_ms": call.now_ms,
        "responses": [],
        "order": [],
        "beacon_round": 0,
        "selected": -1,
        "selected_ms": 0,
        "confirm_by_ms": 0,
        "contract_hash": b"",
        "rating": 0,
        "status": "",
    }
    if method == "direct":
        ceiling = int(call.param("market_direct_max_fen"))
        if budget > ceiling:
            raise ContractError(
                E_DIRECT_CEILING, f"a direct selection's budget is at most {ceiling} fen"
            )
        agency = require_uscc(A.text(a, "agency", max_len=18))
        if agency == owner:
            raise ContractError(E_FORBIDDEN, "the owner does not select itself")
        _require_standing(call, agency, item)
        rec.update(
            {
                "order": [agency],
                "selected": 0,
                "selected_ms": call.now_ms,
                "confirm_by_ms": _confirm_by(call),
            }
        )
        rec["status"] = SELECTION.start("request", "direct")
    else:
        rec["window_end_ms"] = _window(call)
        if method == "quality_price":
            rec["quality_points"] = A.integer(a, "quality_points", 0, 100)
        rec["status"] = SELECTION.start("request", "open")
    _save(call, rec)
    call.emit("market.requested", request_id=request_id, owner=owner, method=method)
    if method == "direct":  # selected at once: the agency must be told to confirm in time
        call.emit("market.selected", request_id=request_id, owner=owner, uscc=rec["order"][0])


def _confirm_by(call: Call) -> int:
    days = int(call.param("market_confirm_days"))
    return period_end(int(call.param("demo_day_ms")), call.now_ms, days)


def _window(call: Call) -> int:
    """The response window's end: at or after the end of a ``market_response_min_days``-day
    period from this block (24:00 of its last day, the posting day not counted; user walk:
    counted by days apart, an end at 00:00 left a window of 48 hours)."""
    end = A.integer(call.args, "window_end_ms")
    days = int(call.param("market_response_min_days"))
    earliest = period_end(int(call.param("demo_day_ms")), call.now_ms, days)
    if end < earliest:
        raise ContractError(E_WINDOW, f"the response window is at least {days} days: it ends "
                                      f"at {shown(earliest)} or later")
    return end


def respond(call: Call) -> None:
    """Respond to an open request within its window, once, at a price at most the budget
    (at most ``market_responses_max`` responses).

    Who: a key bound to an agency in good standing for the item (attested, not frozen,
    registered, qualified now, not suspended: ``E_AGENCY``), not the owner.

    Args:
        request_id: the request.
        price_fen: the price offered.
    """
    uscc = require_entity_sender(call)
    rec = _load(call, None)
    if rec["status"] != OPEN:  # a direct selection never takes responses
        raise ContractError(E_STATE, f"request {rec['request_id']} is {rec['status']} "
                            f"({rec['method']}): it takes no responses")
    if call.now_ms >= rec["window_end_ms"]:
        raise ContractError(E_WINDOW, "the response window is closed")
    if uscc == rec["owner"]:
        raise ContractError(E_FORBIDDEN, "the owner does not respond to its own request")
    _require_standing(call, uscc, _item(call, rec["item"], posted=True))
    if any(r["uscc"] == uscc for r in rec["responses"]):
        raise ContractError(E_EXISTS, f"{uscc} has responded")
    if len(rec["responses"]) >= int(call.param("market_responses_max")):
        raise ContractError(E_STATE, "the request has the most responses allowed")
    price = A.amount_fen(call.args, "price_fen")
    if price > rec["budget_fen"]:
        raise ContractError(E_BAD_ARGS, "a response's price is at most the budget")
    rec["responses"] = [*rec["responses"], {"uscc": uscc, "price_fen": price, "at_ms": call.now_ms}]
    _save(call, rec)
    call.emit("market.responded", request_id=rec["request_id"], owner=rec["owner"], uscc=uscc)


def _beacon_id(rec: dict[str, Any]) -> str:
    return f"select/{rec['request_id']}/{rec['beacon_round']}"


def _random_order(call: Call, rec: dict[str, Any]) -> list[str] | None:
    """The responders shuffled by the beacon's seed, or None while it is not final (the
    first call opens the beacon request; a failed beacon is asked again)."""
    if rec["status"] == DRAWING:
        status, seed = beacon.settle(call, _beacon_id(rec))
        if status == beacon.PENDING:
            raise ContractError(beacon.E_BEACON_PENDING, "the validators' beacon is not final yet")
        if status == beacon.FINAL:
            names = respondents(rec)
            for k in range(len(names) - 1):
                j = k + beacon.stream(call.block.suite, seed, _beacon_id(rec), k, len(names) - k)
                names[k], names[j] = names[j], names[k]
            return names
    rec["beacon_round"] += 1
    subject = call.block.suite.hash(
        encoding.encode(
            {
                "request_id": rec["request_id"],
                "responses": respondents(rec),
            }
        )
    )
    beacon.open_request(call, _beacon_id(rec), subject)
    return None


def _ranked_order(call: Call, rec: dict[str, Any]) -> list[str]:
    responses = rec["responses"]
    if rec["method"] == "lowest_price":
        ranked = sorted(responses, key=lambda r: (r["price_fen"], r["at_ms"], r["uscc"]))
        return [r["uscc"] for r in ranked]
    scale = 10 ** int(call.param("score_decimals"))
    lowest = min(r["price_fen"] for r in responses)
    quality_points = int(rec["quality_points"])

    def score(r: dict[str, Any]) -> int:
        price_part = scoring.price_score(100 - quality_points, lowest, r["price_fen"], scale)
        total, count = _recent_ratings(call, r["uscc"])
        rating_max = int(call.param("market_rating_max"))
        if count == 0:
            total, count = int(call.param("market_unrated_rating")), 1
        return price_part + scoring.round_half_up(
            quality_points * scale * total, count * rating_max
        )

    ranked = sorted(responses, key=lambda r: (-score(r), r["price_fen"], r["uscc"]))
    return [r["uscc"] for r in ranked]


def _recent_ratings(call: Call, uscc: str) -> tuple[int, int]:
    window = int(call.param("market_low_ratings_months"))
    recent = [
        r[1]
        for r in supermarket.agency(call.state, uscc)["ratings"]
        if call.now_ms < end_of_months_ms(r[0], window)
    ]
    return sum(recent), len(recent)


def select(call: Call) -> None:
    """Select an agency once the response window is over: the first of the method's order
    still in good standing. ``random`` first opens a request on the validators' beacon and
    is called again once it is final (``E_BEACON_PENDING`` before).

    Who: Anyone.

    Args:
        request_id: the request.

    Outcomes (receipt OK): ``selected``, ``drawing`` (random: the beacon was opened) or
    ``failed`` (no response, or none in good standing).
    """
    rec = _load(call, "select")
    if call.now_ms < rec["window_end_ms"]:
        raise ContractError(E_TOO_EARLY, "the response window is still open")
    if not rec["responses"]:
        SELECTION.advance(rec, "select", "failed")
        call.emit("market.failed", request_id=rec["request_id"], owner=rec["owner"],
                  agencies=[])
    elif rec["method"] == "random":
        order = _random_order(call, rec)
        if order is None:
            SELECTION.advance(rec, "select", "drawing")
        else:
            rec["order"] = order
            _select_at(call, rec, 0, "select")
    else:
        rec["order"] = _ranked_order(call, rec)
        _select_at(call, rec, 0, "select")
    _save(call, rec)


def _agency_of_request(call: Call, rec: dict[str, Any]) -> str:
    return str(rec["order"][rec["selected"]])


def confirm(call: Call) -> None:
    """Confirm the selection within ``market_confirm_days`` (``E_CONFIRM_LATE`` after).

    Who: a key bound to the selected agency (attested, not frozen).

    Args:
        request_id: the request.
    """
    uscc = require_entity_sender(call)
    rec = _load(call, "confirm")
    if uscc != _agency_of_request(call, rec):
        raise ContractError(E_FORBIDDEN, "only the selected agency confirms")
    if call.now_ms >= rec["confirm_by_ms"]:
        raise ContractError(E_CONFIRM_LATE, "the confirmation period is over")
    SELECTION.advance(rec, "confirm")
    _save(call, rec)
    call.emit("market.confirmed", request_id=rec["request_id"], owner=rec["owner"], uscc=uscc)


def next_(call: Call) -> None:
    """Once the confirmation period is over, select the next agency of the same order still
    in good standing (receipt OK: ``selected``, or ``failed`` when none is left).

    Who: Anyone.

    Args:
        request_id: the request.

    The agency passed over (it did not confirm by ``confirm_by_ms``) is told by
    ``market.lapsed``, emitted before the next selection's ``market.selected`` or
    ``market.failed``.
    """
    rec = _load(call, "next")
    if call.now_ms < rec["confirm_by_ms"]:
        raise ContractError(E_TOO_EARLY, "the selected agency may still confirm")
    call.emit(
        "market.lapsed",
        request_id=rec["request_id"],
        owner=rec["owner"],
        uscc=_agency_of_request(call, rec),
        confirm_by_ms=rec["confirm_by_ms"],
    )
    _select_at(call, rec, rec["selected"] + 1, "next")
    _save(call, rec)


def _owner_request(call: Call, wanted: str) -> dict[str, Any]:
    owner = require_entity_sender(call)
    rec = _load(call, wanted)
    if owner != rec["owner"]:
        raise ContractError(E_FORBIDDEN, "only the request's owner may")
    return rec


def record_contract(call: Call) -> None:
    """Record the contract signed with the confirmed agency.

    Who: a key bound to the request's owner (attested, not frozen).

    Args:
        request_id: the request.
        contract_hash: hash of the contract.
    """
    rec = _owner_request(call, "contract")
    rec["contract_hash"] = A.blob(call.args, "contract_hash", length=HASH_LEN)
    SELECTION.advance(rec, "contract")
    _save(call, rec)
    call.emit(
        "market.contracted",
        request_id=rec["request_id"],
        owner=rec["owner"],
        uscc=_agency_of_request(call, rec),
    )


def rate(call: Call) -> None:
    """Rate the agency at completion; ``market_low_ratings_count`` ratings of at most
    ``market_low_rating_max`` within ``market_low_ratings_months`` suspend it for
    ``market_suspension_months``.

    Who: a key bound to the request's owner (attested, not frozen).

    Args:
        request_id: the request (contracted).
        rating: 1 to ``market_rating_max``.
    """
    rec = _owner_request(call, "rate")
    rating = A.integer(call.args, "rating", 1, int(call.param("market_rating_max")))
    rec["rating"] = rating
    SELECTION.advance(rec, "rate")
    _save(call, rec)
    agency = _agency_of_request(call, rec)
    suspended = supermarket.record_rating(call, agency, rating, rec["request_id"])
    call.emit(
        "market.rated",
        request_id=rec["request_id"],
        owner=rec["owner"],
        uscc=agency,
        rating=rating,
        suspended=suspended,
    )


def cancel(call: Call) -> None:
    """Cancel a request before its contract; refused for one paid by fiscal funds
    (``E_FISCAL``: the owner can't drop it to hire outside the supermarket).

    Who: a key bound to the request's owner (attested, not frozen).

    Args:
        request_id: the request.
    """
    rec = _owner_request(call, "cancel")
    if rec["fiscal"]:
        raise ContractError(E_FISCAL, "a request paid by fiscal funds can't leave the supermarket")
    SELECTION.advance(rec, "cancel")
    _save(call, rec)
    call.emit("market.cancelled", request_id=rec["request_id"], owner=rec["owner"],
              agencies=respondents(rec))


SELECTION_METHODS = {
    "request": request,
    "respond": respond,
    "select": select,
    "confirm": confirm,
    "next": next_,
    "record_contract": record_contract,
    "rate": rate,
    "cancel": cancel,
}
