"""The intermediary services supermarket (DOMAIN.md): the catalogue, agency registration
while qualified, selection requests with the four methods, response windows, confirmation
and fallback, contract hash and ratings, clearing out and suspension, fiscal requests and
the direct ceiling — every refusal with its code and nothing but the nonce changed — the
parties each event names (the owner; the agency responding, selected, passed over, confirming,
contracted or rated), and a hypothesis state machine in which no suspended or unqualified
agency is ever selected."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts import beacon, supermarket
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE
from contracts.identity import E_NOT_ATTESTED
from contracts.periods import DAY_MS, end_of_months_ms, shown
from contracts.selection import (
    E_AGENCY,
    E_CONFIRM_LATE,
    E_DIRECT_CEILING,
    E_FISCAL,
)
from contracts.state import Overlay
from contracts.supermarket import E_SUSPENDED_AGENCY, E_UNQUALIFIED
from contracts.tender_rules import E_TOO_EARLY, E_WINDOW
from ledger.tx import Receipt
from tests.contract_harness import Account
from tests.trading_kit import GENESIS_MS, H32, Trading

ITEM = "ZJ-0101"  # 工程造价咨询
QUAL = {"category": "cost_consulting", "min_level": 2}
YUAN = 100


class Market:
    """A chain with the supermarket's catalogue, an owner and qualified agencies."""

    def __init__(self, agencies: int = 3) -> None:
        self.t = Trading()
        self.h = self.t.h
        self.admin = self.h.account("market")
        self.h.expect_ok(self.admin, "market.add_item",
                         {"code": ITEM, "name": "工程造价咨询", "required": [QUAL]})
        self.owner = self.t.entity("owner")
        self.agencies = [self.agency(f"agency{i}") for i in range(agencies)]

    def qualify(self, name: str, level: int = 2, **over: Any) -> None:
        self.t.credit(name, "qualification", category="cost_consulting", level=level, **over)

    def agency(self, name: str, register: bool = True) -> Account:
        acct = self.t.entity(name)
        self.qualify(name)
        if register:
            self.h.expect_ok(acct, "market.register", {"item": ITEM})
        return acct

    def uscc(self, acct: Account) -> str:
        return self.t.uscc_of[acct.name]

    def owner_uscc(self) -> str:
        return self.uscc(self.owner)

    def request_args(self, request_id: str = "R1", **over: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "request_id": request_id, "item": ITEM, "budget_fen": 500_000 * YUAN,
            "fiscal": True, "method": "lowest_price",
            "window_end_ms": self.h.time_ms + 4 * DAY_MS,
        }
        args.update(over)
        if args["method"] == "direct":  # a direct selection has no response window
            args.pop("window_end_ms")
        return args

    def request(self, request_id: str = "R1", **over: Any) -> None:
        self.h.expect_ok(self.owner, "market.request", self.request_args(request_id, **over))

    def respond(self, acct: Account, price_yuan: int, request_id: str = "R1") -> None:
        self.h.expect_ok(acct, "market.respond",
                         {"request_id": request_id, "price_fen": price_yuan * YUAN})

    def get(self, request_id: str = "R1") -> dict[str, Any]:
        value = self.h.get(f"market/request/{request_id}")
        assert isinstance(value, dict)
        return value

    def selected(self, request_id: str = "R1") -> str:
        rec = self.get(request_id)
        return str(rec["order"][rec["selected"]])

    def past_window(self, request_id: str = "R1") -> None:
        self.h.time_ms = max(self.h.time_ms, self.get(request_id)["window_end_ms"])

    def sanction(self, acct: Account, **over: Any) -> None:
        start = self.h.time_ms
        self.t.credit(acct.name, "serious_breach", from_ms=start,
                      to_ms=end_of_months_ms(start, 6), **over)


R = {"request_id": "R1"}


# --- catalogue and registration ---


def test_the_administrator_keeps_the_catalogue_under_unified_codes() -> None:
    m = Market(0)
    args = {"code": "ZJ-0201", "name": "环评", "required": []}
    m.h.expect_refused(m.owner, "market.add_item", args, "E_FORBIDDEN")
    m.h.expect_refused(m.admin, "market.add_item", {**args, "code": ITEM}, E_EXISTS)
    m.h.expect_refused(m.admin, "market.add_item", {**args, "code": "a b"}, E_BAD_ARGS)
    refused = m.h.expect_refused(m.admin, "market.add_item", {**args, "required": [{"x": 1}]},
                                 E_BAD_ARGS)
    assert refused.message == "a required qualification is {category, min_level}"
    m.h.expect_ok(m.admin, "market.add_item", args)
    m.h.expect_ok(m.admin, "market.update_item", {"code": "ZJ-0201", "active": False})
    m.h.expect_refused(m.admin, "market.update_item", {"code": "nope"}, E_NOT_FOUND)
    assert m.h.get("market/item/ZJ-0201")["active"] is False


def test_an_agency_registers_once_while_it_holds_the_required_qualification() -> None:
    m = Market(0)
    weak = m.t.entity("weak")
    m.qualify("weak", level=1)
    refused = m.h.expect_refused(weak, "market.register", {"item": ITEM}, E_UNQUALIFIED)
    # it names what is missing (user walk of 2026-12-03: "lacks a qualification ZJ-0101
    # requires" did not say which, nor that the level held was too low)
    assert refused.message.endswith(
        f"lacks what {ITEM} requires, in force now: cost_consulting at level 2 or above")
    good = m.agency("good", register=False)
    m.h.expect_refused(good, "market.register", {"item": "ZJ-9999"}, E_NOT_FOUND)
    m.h.expect_ok(good, "market.register", {"item": ITEM})
    m.h.expect_refused(good, "market.register", {"item": ITEM}, E_EXISTS)
    stranger = m.h.account("stranger")
    m.h.expect_refused(stranger, "market.register", {"item": ITEM}, E_NOT_ATTESTED)
    bad = m.agency("bad", register=False)
    m.sanction(bad)
    refused = m.h.expect_refused(bad, "market.register", {"item": ITEM}, E_SUSPENDED_AGENCY)
    until = shown(end_of_months_ms(m.h.time_ms, 12))  # the sanction began at this block
    assert refused.message.endswith(
        f"is suspended from the supermarket: a serious_breach record in force, until {until}")


# --- requests ---


def test_a_direct_selection_above_its_ceiling_is_refused() -> None:
    m = Market(1)
    a = m.uscc(m.agencies[0])
    over = m.request_args(method="direct", agency=a, budget_fen=100_001 * YUAN)
    m.h.expect_refused(m.owner, "market.request", over, E_DIRECT_CEILING)
    m.request(method="direct", agency=a, budget_fen=100_000 * YUAN)
    assert m.get()["status"] == "selected" and m.selected() == a
    # a direct selection takes no responses: not "the response window is closed" (walk)
    refused = m.h.expect_refused(m.agencies[0], "market.respond", {**R, "price_fen": 1},
                                 E_STATE)
    assert refused.message == "request R1 is selected (direct): it takes no responses"


def test_bad_requests_are_refused() -> None:
    m = Market(1)
    m.h.expect_refused(m.owner, "market.request", m.request_args(method="auction"), E_BAD_ARGS)
    short = m.request_args(window_end_ms=m.h.time_ms + 2 * DAY_MS)
    m.h.expect_refused(m.owner, "market.request", short, E_WINDOW)
    m.h.expect_refused(m.owner, "market.request", m.request_args(item="ZJ-9"), E_NOT_FOUND)
    m.h.expect_refused(m.owner, "market.request", m.request_args(budget_fen=-1), E_BAD_ARGS)
    unregistered = m.agency("unregistered", register=False)
    direct = m.request_args(method="direct", agency=m.uscc(unregistered), budget_fen=YUAN)
    m.h.expect_refused(m.owner, "market.request", direct, E_AGENCY)
    m.h.expect_refused(m.h.account("nobody"), "market.request", m.request_args(),
                       E_NOT_ATTESTED)
    m.request()
    m.h.expect_refused(m.owner, "market.request", m.request_args(), E_EXISTS)
    # an argument the method does not use is refused, not ignored (user walk)
    agency = m.uscc(m.agencies[0])
    for method, extra in (("direct", {"agency": agency, "budget_fen": YUAN}),
                          ("lowest_price", {"quality_points": 30}),
                          ("lowest_price", {"agency": agency})):
        args = m.request_args("R9", method=method, **extra)
        if method == "direct":
            args["window_end_ms"] = 1
        refused = m.h.expect_refused(m.owner, "market.request", args, E_BAD_ARGS)
        assert refused.message.startswith(f"the {method} method takes no "), refused.message


def test_the_response_window_runs_three_whole_days_after_the_posting_day() -> None:
    """User walk: counted by days apart, a request posted at 23:59 with its window ending
    at 00:00 three days later was accepted: 48 hours. The period ends at 24:00 of its third
    day, the posting day not counted (DOMAIN)."""
    m = Market(1)
    later = m.h.time_ms + DAY_MS
    day = later - (later + 8 * 3_600_000) % DAY_MS  # 00:00 Beijing of the posting day
    posted = day + DAY_MS - 60_000  # 23:59 of it
    short = m.request_args(window_end_ms=day + 3 * DAY_MS)  # 24:00 of the 2nd day after
    refused = m.h.expect_refused(m.owner, "market.request", short, E_WINDOW, at_ms=posted)
    assert f"ends at {shown(day + 4 * DAY_MS)} or later" in refused.message
    m.h.expect_ok(m.owner, "market.request", m.request_args(window_end_ms=day + 4 * DAY_MS),
                  at_ms=posted + 1)


def test_one_registration_serves_the_requests_of_every_owner_on_the_chain() -> None:
    """Registered once, an agency is in the supermarket for every platform's project owners:
    a registration names no platform, and requests from owners of other platforms find it."""
    m = Market(1)
    agency = m.agencies[0]
    other_owner = m.t.entity("owner-of-another-city")
    m.request()
    m.h.expect_ok(other_owner, "market.request", m.request_args("R2"))
    m.respond(agency, 300_000)
    m.respond(agency, 280_000, request_id="R2")
    m.h.expect_refused(agency, "market.register", {"item": ITEM}, E_EXISTS)  # once
    for request_id, owner in (("R1", m.owner), ("R2", other_owner)):
        m.past_window(request_id)
        m.h.expect_ok(owner, "market.select", {"request_id": request_id})
        assert m.selected(request_id) == m.uscc(agency)


def test_responses_within_the_window_from_agencies_in_good_standing_only() -> None:
    m = Market(3)
    a0, a1, a2 = m.agencies
    m.request()
    m.respond(a0, 300_000)
    m.h.expect_refused(a0, "market.respond", {**R, "price_fen": 1}, E_EXISTS)
    m.h.expect_refused(a1, "market.respond", {**R, "price_fen": 500_001 * YUAN}, E_BAD_ARGS)
    m.h.expect_refused(m.owner, "market.respond", {**R, "price_fen": 1}, E_FORBIDDEN)
    m.h.expect_ok(m.t.bureau, "credit.end",
                  {"id": m.h.get(f"credit/entity/{m.uscc(a1)}")[0], "reason": "lapsed"})
    m.h.expect_refused(a1, "market.respond", {**R, "price_fen": 1}, E_AGENCY)  # lapsed
    m.past_window()
    m.h.expect_refused(a2, "market.respond", {**R, "price_fen": 1}, E_WINDOW)


def test_lowest_price_selects_and_an_agency_that_does_not_confirm_is_passed_over() -> None:
    m = Market(3)
    a0, a1, a2 = m.agencies
    m.request()
    m.respond(a0, 300_000)
    m.respond(a1, 250_000)
    m.respond(a2, 280_000)
    m.h.expect_refused(m.owner, "market.select", R, E_TOO_EARLY)
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    assert m.get()["order"] == [m.uscc(a) for a in (a1, a2, a0)] and m.selected() == m.uscc(a1)
    m.h.expect_refused(a0, "market.confirm", R, E_FORBIDDEN)
    m.h.expect_refused(m.owner, "market.next", R, E_TOO_EARLY)
    m.h.advance(days=3)
    m.h.expect_refused(a1, "market.confirm", R, E_CONFIRM_LATE)
    m.h.expect_ok(m.owner, "market.next", R)
    assert m.selected() == m.uscc(a2)
    m.h.expect_ok(a2, "market.confirm", R)
    m.h.expect_refused(a2, "market.confirm", R, E_STATE)
    m.h.expect_ok(m.owner, "market.record_contract", {**R, "contract_hash": H32})
    m.h.expect_refused(m.owner, "market.rate", {**R, "rating": 6}, E_BAD_ARGS)
    m.h.expect_refused(a2, "market.rate", {**R, "rating": 5}, E_FORBIDDEN)
    m.h.expect_ok(m.owner, "market.rate", {**R, "rating": 5})
    assert m.get()["status"] == "completed" and m.get()["rating"] == 5


def test_next_skips_an_agency_suspended_meanwhile_and_fails_when_none_is_left() -> None:
    m = Market(2)
    a0, a1 = m.agencies
    m.request()
    m.respond(a0, 100)
    m.respond(a1, 200)
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    assert m.selected() == m.uscc(a0)
    m.sanction(a1)
    m.h.advance(days=3)
    m.h.expect_ok(m.owner, "market.next", R)
    assert m.get()["status"] == "failed"


def test_no_response_fails_the_request() -> None:
    m = Market(1)
    m.request()
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    assert m.get()["status"] == "failed"


def test_quality_price_weighs_the_agencies_recent_ratings() -> None:
    m = Market(2)
    a0, a1 = m.agencies
    for i, rating in enumerate((5, 5)):  # a1 earns two top ratings
        rid = f"D{i}"
        m.request(rid, method="direct", agency=m.uscc(a1), budget_fen=YUAN)
        m.h.expect_ok(a1, "market.confirm", {"request_id": rid})
        m.h.expect_ok(m.owner, "market.record_contract", {"request_id": rid, "contract_hash": H32})
        m.h.expect_ok(m.owner, "market.rate", {"request_id": rid, "rating": rating})
    m.request(method="quality_price", quality_points=60)
    m.respond(a0, 100_000)  # cheaper, unrated (counted as 3 of 5)
    m.respond(a1, 110_000)
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    # a0: 40 + 60×3/5 = 76.00; a1: 40×100/110 = 36.36 + 60 = 96.36
    assert m.selected() == m.uscc(a1)


def test_a_random_selection_uses_the_validators_beacon() -> None:
    m = Market(3)
    m.request(method="random")
    for a in m.agencies:
        m.respond(a, 1000)
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    assert m.get()["status"] == "drawing"
    m.h.expect_refused(m.owner, "market.select", R, beacon.E_BEACON_PENDING)
    m.t.run_beacon()
    m.h.expect_ok(m.owner, "market.select", R)
    rec = m.get()
    seed = m.h.get("beacon/select/R1/1")["seed"]
    names = sorted(m.uscc(a) for a in m.agencies)
    for k in range(len(names) - 1):  # recomputed from the seed by anyone
        j = k + beacon.stream(m.h.suite, seed, "select/R1/1", k, len(names) - k)
        names[k], names[j] = names[j], names[k]
    assert rec["order"] == names and rec["status"] == "selected"
    assert m.selected() == names[0]


def test_three_low_ratings_within_12_months_suspend_an_agency_for_12_months() -> None:
    m = Market(2)
    a0, a1 = m.agencies
    for i in range(3):
        rid = f"D{i}"
        m.request(rid, method="direct", agency=m.uscc(a0), budget_fen=YUAN)
        m.h.expect_ok(a0, "market.confirm", {"request_id": rid})
        m.h.expect_ok(m.owner, "market.record_contract", {"request_id": rid, "contract_hash": H32})
        m.h.expect_ok(m.owner, "market.rate", {"request_id": rid, "rating": 2})
        m.h.advance(days=100)
    rec = m.h.get(supermarket.agency_key(m.uscc(a0)))
    assert rec["suspended_to_ms"] == end_of_months_ms(rec["suspended_from_ms"], 12)
    m.request("R1", window_end_ms=m.h.time_ms + 4 * DAY_MS)
    m.h.expect_refused(a0, "market.respond", {**R, "price_fen": 1}, E_AGENCY)
    m.h.expect_ok(m.admin, "market.add_item", {"code": "ZJ-0201", "name": "环评", "required": []})
    refused = m.h.expect_refused(a0, "market.register", {"item": "ZJ-0201"}, E_SUSPENDED_AGENCY)
    assert "is suspended from the supermarket: 3 low ratings within 12 months, until " \
        f"{shown(rec['suspended_to_ms'])}" in refused.message
    m.h.time_ms = rec["suspended_to_ms"]
    m.qualify(a0.name, to_ms=m.h.time_ms + 100 * DAY_MS)
    m.request("R2", window_end_ms=m.h.time_ms + 4 * DAY_MS)
    m.h.expect_ok(a0, "market.respond", {"request_id": "R2", "price_fen": 1})


def test_a_sanction_clears_an_agency_out_for_12_months_until_repaired() -> None:
    m = Market(1)
    (a0,) = m.agencies
    m.sanction(a0)
    state = Overlay(m.h.state)
    start = m.h.time_ms
    assert supermarket.suspended(state, m.uscc(a0), end_of_months_ms(start, 6) + DAY_MS)
    assert not supermarket.suspended(state, m.uscc(a0), end_of_months_ms(start, 12))
    record_id = m.h.get(f"credit/entity/{m.uscc(a0)}")[-1]
    m.h.expect_ok(m.t.bureau, "credit.repair", {"id": record_id, "decision_no": "X",
                                                "basis": "fixed", "evidence_hash": H32})
    assert not supermarket.suspended(Overlay(m.h.state), m.uscc(a0), m.h.time_ms)


def test_a_fiscal_request_cannot_leave_the_supermarket() -> None:
    m = Market(1)
    m.request("F1")
    m.h.expect_refused(m.owner, "market.cancel", {"request_id": "F1"}, E_FISCAL)
    m.request("N1", fiscal=False)
    m.h.expect_refused(m.agencies[0], "market.cancel", {"request_id": "N1"}, E_FORBIDDEN)
    m.h.expect_ok(m.owner, "market.cancel", {"request_id": "N1"})
    assert m.get("N1")["status"] == "cancelled"
    m.h.expect_refused(m.owner, "market.cancel", {"request_id": "N1"}, E_STATE)


def test_an_item_taken_out_of_use_stops_new_requests_not_posted_ones() -> None:
    """User walk: a fiscal request (never cancelled) whose item was then made inactive could
    neither be selected nor go on to the next agency: stuck open for good."""
    m = Market(2)
    a0, a1 = m.agencies
    m.request()
    m.respond(a0, 300_000)
    m.h.expect_ok(m.admin, "market.update_item", {"code": ITEM, "active": False})
    m.respond(a1, 250_000)  # a posted request still takes its responses
    refused = m.h.expect_refused(m.owner, "market.request", m.request_args("R2"),
                                 E_NOT_FOUND)
    assert f"no active item {ITEM}" in refused.message
    m.past_window()
    m.h.expect_ok(m.owner, "market.select", R)
    assert m.selected() == m.uscc(a1)
    m.h.advance(days=3)
    m.h.expect_ok(m.owner, "market.next", R)
    assert m.selected() == m.uscc(a0)


# --- events: each names the parties, so ``/events?entity=<USCC>`` tells each its part ---


def _events(receipt: Receipt) -> list[dict[str, Any]]:
    return [dict(e) for e in receipt.events]


def test_every_event_of_a_request_names_its_owner_and_the_agency_it_concerns() -> None:
    m = Market(3)
    a0, a1, a2 = m.agencies
    owner, u1, u2 = m.owner_uscc(), m.uscc(a1), m.uscc(a2)
    ours = {**R, "owner": owner}
    got = m.h.expect_ok(m.owner, "market.request", m.request_args())
    assert _events(got) == [{"type": "market.requested", **ours, "method": "lowest_price"}]
    for acct, price in ((a0, 300_000), (a1, 250_000), (a2, 280_000)):
        got = m.h.expect_ok(acct, "market.respond", {**R, "price_fen": price * YUAN})
        assert _events(got) == [{"type": "market.responded", **ours, "uscc": m.uscc(acct)}]
    m.past_window()
    got = m.h.expect_ok(m.t.entity("neighbour"), "market.select", R)
    assert _events(got) == [{"type": "market.selected", **ours, "uscc": u1}]
    m.h.advance(days=3)
    confirm_by = m.get()["confirm_by_ms"]
    got = m.h.expect_ok(m.owner, "market.next", R)
    assert _events(got) == [
        {"type": "market.lapsed", **ours, "uscc": u1, "confirm_by_ms": confirm_by},
        {"type": "market.selected", **ours, "uscc": u2},
    ]
    got = m.h.expect_ok(a2, "market.confirm", R)
    assert _events(got) == [{"type": "market.confirmed", **ours, "uscc": u2}]
    got = m.h.expect_ok(m.owner, "market.record_contract", {**R, "contract_hash": H32})
    assert _events(got) == [{"type": "market.contracted", **ours, "uscc": u2}]
    got = m.h.expect_ok(m.owner, "market.rate", {**R, "rating": 4})
    assert _events(got) == [{"type": "market.rated", **ours, "uscc": u2, "rating": 4,
                             "suspended": False}]
    m.request("N1", fiscal=False)
    got = m.h.expect_ok(m.owner, "market.cancel", {"request_id": "N1"})
    assert _events(got) == [{"type": "market.cancelled", "request_id": "N1", "owner": owner,
                             "agencies": []}]
    m.request("E1")
    m.past_window("E1")
    got = m.h.expect_ok(m.owner, "market.select", {"request_id": "E1"})  # no response
    assert _events(got) == [{"type": "market.failed", "request_id": "E1", "owner": owner,
                             "agencies": []}]


def test_the_agencies_that_responded_are_named_when_a_request_is_cancelled_or_fails() -> None:
    """A request that ends without a selection names its respondents in the event, so an
    agency following its own USCC learns its response came to nothing."""
    m = Market(3)
    a0, a1, a2 = m.agencies
    m.request("N2", fiscal=False)
    for acct in (a1, a0):
        m.h.expect_ok(acct, "market.respond", {"request_id": "N2", "price_fen": 9 * YUAN})
    got = m.h.expect_ok(m.owner, "market.cancel", {"request_id": "N2"})
    assert _events(got) == [{"type": "market.cancelled", "request_id": "N2",
                             "owner": m.owner_uscc(),
                             "agencies": sorted([m.uscc(a0), m.uscc(a1)])}]
    m.request("F1")  # one response; its agency lets the confirmation pass: none is left
    m.respond(a2, 5, "F1")
    m.past_window("F1")
    m.h.expect_ok(m.owner, "market.select", {"request_id": "F1"})
    m.h.advance(days=3)
    got = m.h.expect_ok(m.owner, "market.next", {"request_id": "F1"})
    assert _events(got)[-1] == {"type": "market.failed", "request_id": "F1",
                                "owner": m.owner_uscc(), "agencies": [m.uscc(a2)]}


def test_an_agency_passed_over_is_told_it_lapsed_even_when_none_is_left() -> None:
    """A direct selection names its agency at once (it has ``market_confirm_days`` to
    confirm); when it lets them pass, ``market.next`` names it in ``market.lapsed`` before
    the request fails for want of another agency."""
    m = Market(1)
    (a0,) = m.agencies
    owner, u0 = m.owner_uscc(), m.uscc(a0)
    ours = {**R, "owner": owner}
    got = m.h.expect_ok(m.owner, "market.request",
                        m.request_args(method="direct", agency=u0, budget_fen=YUAN))
    assert _events(got) == [{"type": "market.requested", **ours, "method": "direct"},
                            {"type": "market.selected", **ours, "uscc": u0}]
    confirm_by = m.get()["confirm_by_ms"]
    m.h.expect_refused(m.owner, "market.next", R, E_TOO_EARLY)
    m.h.advance(days=3)
    got = m.h.expect_ok(m.t.entity("neighbour"), "market.next", R)
    assert _events(got) == [
        {"type": "market.lapsed", **ours, "uscc": u0, "confirm_by_ms": confirm_by},
        {"type": "market.failed", **ours, "agencies": []},
    ]
    assert m.get()["status"] == "failed"


# --- a state machine: only agencies in good standing are ever selected ---


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = Market(4)
        self.requests: list[str] = []
        self.selections = 0

    def _check_selected(self, request_id: str) -> None:
        rec = self.m.get(request_id)
        if rec["status"] == "selected" and rec["selected_ms"] == self.m.h.time_ms:
            agency = rec["order"][rec["selected"]]
            item = supermarket.load_item(Overlay(self.m.h.state), ITEM)
            assert item is not None
            assert supermarket.standing(Overlay(self.m.h.state), agency, item,
                                        self.m.h.time_ms) == []
            self.selections += 1
            event(f"selected by {rec['method']}")

    @rule(method=st.sampled_from(["direct", "random", "lowest_price", "quality_price"]),
          i=st.integers(0, 3))
    def request(self, method: str, i: int) -> None:
        rid = f"R{len(self.requests)}"
        extra: dict[str, Any] = {"method": method}
        if method == "direct":
            extra.update(agency=self.m.uscc(self.m.agencies[i]), budget_fen=YUAN)
        if method == "quality_price":
            extra["quality_points"] = 50
        receipt = self.m.h.call(self.m.owner, "market.request", self.m.request_args(rid, **extra))
        if receipt.code == "OK":
            self.requests.append(rid)
            self._check_selected(rid)

    @rule(method=st.sampled_from(["random", "lowest_price", "quality_price"]),
          responders=st.lists(st.integers(0, 3), unique=True, min_size=1, max_size=4),
          trouble=st.sampled_from(["none", "sanction", "lapse"]), victim=st.integers(0, 3))
    def a_whole_round(self, method: str, responders: list[int], trouble: str, victim: int) -> None:
        """Request, responses, trouble for one agency in the window, select (twice for the
        beacon), then time for the confirmation to pass and the next agency."""
        self.request(method, 0)
        rid = self.requests[-1]
        for i in responders:
            self.respond(i, len(self.requests) - 1, 100 * (i + 1))
        if trouble == "sanction":
            self.sanction(victim)
        elif trouble == "lapse":
            self.qualification_lapses(victim)
        self.m.past_window(rid)
        self.select(len(self.requests) - 1)
        self.select(len(self.requests) - 1)
        self.m.h.advance(days=3)
        self.next_or_confirm(len(self.requests) - 1)

    @rule(i=st.integers(0, 3), r=st.integers(0, 9), price=st.integers(1, 1000))
    def respond(self, i: int, r: int, price: int) -> None:
        if self.requests:
            rid = self.requests[r % len(self.requests)]
            self.m.h.call(self.m.agencies[i], "market.respond",
                          {"request_id": rid, "price_fen": price})

    @rule(r=st.integers(0, 9))
    def select(self, r: int) -> None:
        if self.requests:
            rid = self.requests[r % len(self.requests)]
            self.m.t.run_beacon()
            self.m.h.call(self.m.owner, "market.select", {"request_id": rid})
            self._check_selected(rid)

    @rule(r=st.integers(0, 9))
    def next_or_confirm(self, r: int) -> None:
        if self.requests:
            rid = self.requests[r % len(self.requests)]
            rec = self.m.get(rid)
            if rec["status"] == "selected":
                self.m.h.call(self.m.owner, "market.next", {"request_id": rid})
                self._check_selected(rid)

    @rule(i=st.integers(0, 3))
    def sanction(self, i: int) -> None:
        self.m.sanction(self.m.agencies[i])

    @rule(i=st.integers(0, 3))
    def qualification_lapses(self, i: int) -> None:
        uscc = self.m.uscc(self.m.agencies[i])
        for record_id in self.m.h.get(f"credit/entity/{uscc}") or []:
            self.m.h.call(self.m.t.bureau, "credit.end", {"id": record_id, "reason": "lapsed"})

    @rule(i=st.integers(0, 3))
    def requalify(self, i: int) -> None:
        self.m.qualify(self.m.agencies[i].name, from_ms=GENESIS_MS,
                       to_ms=self.m.h.time_ms + 1000 * DAY_MS)

    @rule(days=st.sampled_from([1, 3, 5, 200]))
    def time_passes(self, days: int) -> None:
        self.m.h.advance(days=days)

    @invariant()
    def requests_hold_their_shape(self) -> None:
        for rid in self.requests:
            rec = self.m.get(rid)
            assert len({r["uscc"] for r in rec["responses"]}) == len(rec["responses"])
            if rec["status"] in ("selected", "confirmed"):
                assert 0 <= rec["selected"] < len(rec["order"])


MarketMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_market_machine = MarketMachine.TestCase


def test_the_beacon_takes_at_most_its_bound_of_open_requests() -> None:
    m = Market(2)
    m.h.govern("set_param", {"name": "beacon_open_max", "value": 1})
    for rid in ("R1", "R2"):
        m.request(rid, method="random")
        for a in m.agencies:
            m.respond(a, 1000, rid)
    m.past_window("R2")
    m.h.expect_ok(m.owner, "market.select", {"request_id": "R1"})
    m.h.expect_refused(m.owner, "market.select", {"request_id": "R2"}, beacon.E_BEACON_BUSY)
    m.t.run_beacon()
    m.h.expect_ok(m.owner, "market.select", {"request_id": "R1"})  # settles and frees it
    m.h.expect_ok(m.owner, "market.select", {"request_id": "R2"})
    assert m.get("R2")["status"] == "drawing"
