"""The tender lifecycle as data: transition tables, guards, and the periods of each rule set.

``TRANSITIONS[(state, action)]`` gives the states the action may lead to and the names of
the guards that must all hold; ``SIDE_ACTIONS`` are allowed in every live state and leave
the state as it is. A handler asks ``require(view, action)`` for the transition, then picks
one of its allowed next states (e.g. ``open`` leads to ``decrypting``, or to ``failed``
when every lot has too few bids). ``archived`` has no row at all: every write is refused.

Periods per rule set (chain parameters ``<prefix>_<name>``; DOMAIN.md and the laws):

=========================== ======= ======= ==================================================
name                        bl_     gp_     source
=========================== ======= ======= ==================================================
bid_min_days                20      20      招标投标法 §24; 财政部令第87号 §20
doc_sale_min_days           5       5       实施条例 §16; 87号令 §18 (5 *working* days,
                                            modelled as calendar days: set 7 to be safe)
amend_min_days              15      15      招标投标法 §23; 87号令 §27
doc_objection_before_days   10      0       实施条例 §22 (no later than 10 days before the
                                            deadline); gp: only the deadline itself
doc_objection_days          0       7       gp: 政府采购法 §52 / 财政部令第94号 §10, 7 working
                                            days from the document issue start (0 = no limit)
reply_days                  3       7       实施条例 §22 / §54 (3 days); 政府采购法 §53 (7
                                            working days, modelled as calendar days)
publicity_min_days          3       1       实施条例 §54 (candidates ≥ 3 days); 87号令 §69
                                            (result announcement 1 working day)
result_objection_days       10      7       投诉 within 10 days (工程建设项目招标投标活动投诉
                                            处理办法 §7); 政府采购法 §52 (7 working days)
contract_days               30      30      招标投标法 §46; 政府采购法 §46
=========================== ======= ======= ==================================================

Shared parameters: ``opening_objection_ms`` (30 min, 实施条例 §44 "on the spot", DOMAIN.md),
``decrypt_window_ms`` (30 min).

Day counting (``contracts.periods``): "b at least n days after a" is
``days_between(a, b) >= n`` (the first day not counted, the last counted); "within n days
of an event" is ``t < end_of_period_ms(event, n)`` (the period ends at 24:00 of its last day).
``RulePeriods.days_apart`` and ``RulePeriods.period_end`` are the only two ways the trading
contracts count days.

Demonstration chains only: the parameter ``demo_day_ms`` (default 0 = real Beijing calendar
days) makes a "day" that many milliseconds counted from the event itself, so a demo network
can run a whole tender in minutes. A production genesis leaves it at 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from contracts.errors import ContractError
from contracts.periods import days_between as calendar_days_between
from contracts.periods import end_of_period_ms as calendar_period_end

RULE_SETS = {"bidding-law": "bl", "gov-procurement": "gp"}

PERIOD_NAMES = (
    "bid_min_days",
    "doc_sale_min_days",
    "amend_min_days",
    "doc_objection_before_days",
    "doc_objection_days",
    "reply_days",
    "publicity_min_days",
    "result_objection_days",
    "contract_days",
)

# Stable receipt codes of the lifecycle guards.
E_DEADLINE = "E_DEADLINE"  # at or after the bid deadline
E_TOO_EARLY = "E_TOO_EARLY"  # before the time the step may happen
E_WINDOW = "E_WINDOW"  # outside the window the step belongs to
E_SUSPENDED = "E_SUSPENDED"  # a supervisor suspended the tender
E_OBJECTION_OPEN = "E_OBJECTION_OPEN"  # an objection is open: the next step waits
E_PUBLICITY = "E_PUBLICITY"  # the publicity period has not ended
E_CONTRACT_LATE = "E_CONTRACT_LATE"  # the contract period is over
E_ARCHIVED = "E_ARCHIVED"  # the tender is archived: nothing may change
E_LIFECYCLE = "E_LIFECYCLE"  # the action does not exist in the tender's state

ARCHIVED = "archived"
LIVE_STATES = ("bidding", "decrypting", "opened", "evaluated", "awarded", "contracted", "failed")


@dataclass(frozen=True)
class Transition:
    next_states: frozenset[str]
    guards: tuple[str, ...]


def _t(*next_states: str, guards: tuple[str, ...] = ()) -> Transition:
    return Transition(frozenset(next_states), guards)


_ADVANCE = ("not_suspended", "no_open_objection")

TRANSITIONS: dict[tuple[str, str], Transition] = {
    ("bidding", "amend"): _t("bidding", guards=("before_deadline", "not_suspended")),
    ("bidding", "bid"): _t("bidding", guards=("before_deadline", "not_suspended")),
    ("bidding", "object_documents"): _t("bidding", guards=("documents_objection_window",)),
    ("bidding", "open"): _t("decrypting", "failed", guards=("at_or_after_deadline", *_ADVANCE)),
    ("decrypting", "reveal"): _t("decrypting", guards=("in_decrypt_window",)),
    ("decrypting", "close"): _t("opened", "failed", guards=("decrypt_window_done",)),
    ("decrypting", "revoke_bid"): _t("decrypting"),
    ("opened", "object_opening"): _t("opened", guards=("opening_objection_window",)),
    ("opened", "revoke_bid"): _t("opened"),
    ("opened", "evaluate"): _t("evaluated", guards=("opening_objection_over", *_ADVANCE)),
    ("evaluated", "object_candidates"): _t("evaluated", guards=("in_publicity",)),
    ("evaluated", "revoke_bid"): _t("evaluated"),
    ("evaluated", "award"): _t("awarded", guards=("publicity_over", *_ADVANCE)),
    ("awarded", "object_result"): _t("awarded", guards=("result_objection_window",)),
    ("awarded", "contract"): _t("contracted", guards=("within_contract_days", *_ADVANCE)),
    # the winner never signed: the tender may be closed once the contract period is over
    ("awarded", "archive"): _t("archived", guards=("contract_period_over", "no_open_objection")),
    ("contracted", "object_result"): _t("contracted", guards=("result_objection_window",)),
    ("contracted", "archive"): _t("archived", guards=("no_open_objection",)),
    ("failed", "archive"): _t("archived", guards=("no_open_objection",)),
}

# Allowed in every live state, state unchanged.
SIDE_ACTIONS = ("reply", "rule", "suspend", "resume", "find_collusion")
for _state in LIVE_STATES:
    for _action in SIDE_ACTIONS:
        TRANSITIONS[(_state, _action)] = _t(_state)

OBJECTION_STAGES = {
    "documents": "object_documents",
    "opening": "object_opening",
    "candidates": "object_candidates",
    "result": "object_result",
}


@dataclass(frozen=True)
class RulePeriods:
    """The periods of one rule set, read from chain parameters."""

    bid_min_days: int
    doc_sale_min_days: int
    amend_min_days: int
    doc_objection_before_days: int
    doc_objection_days: int
    reply_days: int
    publicity_min_days: int
    result_objection_days: int
    contract_days: int
    opening_objection_ms: int
    decrypt_window_ms: int
    demo_day_ms: int = 0

    def days_apart(self, earlier_ms: int, later_ms: int) -> int:
        return days_apart(self.demo_day_ms, earlier_ms, later_ms)

    def period_end(self, event_ms: int, days: int) -> int:
        return period_end(self.demo_day_ms, event_ms, days)


def days_apart(demo_day_ms: int, earlier_ms: int, later_ms: int) -> int:
    """Days from one instant's day to another's, the first not counted."""
    if demo_day_ms:
        return (later_ms - earlier_ms) // demo_day_ms
    return calendar_days_between(earlier_ms, later_ms)


def period_end(demo_day_ms: int, event_ms: int, days: int) -> int:
    """The instant a ``days``-day period after the event ends (24:00 of its last day)."""
    if demo_day_ms:
        return event_ms + days * demo_day_ms
    return calendar_period_end(event_ms, days)


def load_periods(rule_set: str, param: Callable[[str], Any]) -> RulePeriods:
    prefix = RULE_SETS[rule_set]
    values = {name: param(f"{prefix}_{name}") for name in PERIOD_NAMES}
    return RulePeriods(
        **values,
        opening_objection_ms=param("opening_objection_ms"),
        decrypt_window_ms=param("decrypt_window_ms"),
        demo_day_ms=param("demo_day_ms"),
    )


@dataclass(frozen=True)
class GuardView:
    """What the guards look at: the tender record, now, the periods, and handler facts.

    The periods are read from state only when a guard needs them (most bids need none)."""

    tender: Mapping[str, Any]
    now_ms: int
    read_periods: Callable[[], RulePeriods]
    facts: Mapping[str, bool] = field(default_factory=dict)

    @cached_property
    def periods(self) -> RulePeriods:
        return self.read_periods()


GuardFn = Callable[[GuardView], bool]


def _documents_window(v: GuardView) -> bool:
    t, p = v.tender, v.periods
    if v.now_ms >= t["deadline_ms"]:
        return False
    if p.days_apart(v.now_ms, t["deadline_ms"]) < p.doc_objection_before_days:
        return False
    return p.doc_objection_days == 0 or v.now_ms < p.period_end(
        t["issue_start_ms"], p.doc_objection_days
    )


def _publicity_end(v: GuardView) -> int:
    return v.periods.period_end(v.tender["publicity_start_ms"], v.periods.publicity_min_days)


def _contract_end(v: GuardView) -> int:
    return v.periods.period_end(v.tender["award_ms"], v.periods.contract_days)


GUARDS: dict[str, tuple[GuardFn, str, str]] = {
    "before_deadline": (
        lambda v: v.now_ms < v.tender["deadline_ms"],
        E_DEADLINE,
        "the bid deadline has passed",
    ),
    "at_or_after_deadline": (
        lambda v: v.now_ms >= v.tender["deadline_ms"],
        E_TOO_EARLY,
        "the bid deadline has not come",
    ),
    "not_suspended": (lambda v: not v.tender["suspended"], E_SUSPENDED, "the tender is suspended"),
    "no_open_objection": (
        lambda v: v.tender["objections_open"] == 0,
        E_OBJECTION_OPEN,
        "an objection is open",
    ),
    "documents_objection_window": (
        _documents_window,
        E_WINDOW,
        "objections to the documents are closed",
    ),
    "in_decrypt_window": (
        lambda v: v.now_ms < v.tender["window_end_ms"],
        E_WINDOW,
        "the decryption window is closed",
    ),
    "decrypt_window_done": (
        lambda v: v.now_ms >= v.tender["window_end_ms"] or v.facts.get("all_decided", False),
        E_TOO_EARLY,
        "the decryption window is still open and some bids are undecided",
    ),
    "opening_objection_window": (
        lambda v: v.now_ms < v.tender["opened_ms"] + v.periods.opening_objection_ms,
        E_WINDOW,
        "objections to the opening are closed",
    ),
    "opening_objection_over": (
        lambda v: v.now_ms >= v.tender["opened_ms"] + v.periods.opening_objection_ms,
        E_TOO_EARLY,
        "the opening objection period has not ended",
    ),
    "in_publicity": (
        lambda v: v.now_ms < _publicity_end(v),
        E_WINDOW,
        "the publicity period is over",
    ),
    "publicity_over": (
        lambda v: v.now_ms >= _publicity_end(v),
        E_PUBLICITY,
        "the publicity period has not ended",
    ),
    "result_objection_window": (
        lambda v: (
            v.now_ms < v.periods.period_end(v.tender["award_ms"], v.periods.result_objection_days)
        ),
        E_WINDOW,
        "objections to the result are closed",
    ),
    "within_contract_days": (
        lambda v: v.now_ms < _contract_end(v),
        E_CONTRACT_LATE,
        "the contract period is over",
    ),
    "contract_period_over": (
        lambda v: v.now_ms >= _contract_end(v),
        E_TOO_EARLY,
        "the contract period has not ended",
    ),
}


def require(view: GuardView, action: str) -> Transition:
    """The transition for ``action`` in the tender's state, every guard checked, or refuse."""
    state = view.tender["state"]
    if state == ARCHIVED:
        raise ContractError(E_ARCHIVED, f"tender {view.tender['tender_id']!r} is archived")
    transition = TRANSITIONS.get((state, action))
    if transition is None:
        raise ContractError(E_LIFECYCLE, f"{action!r} is not possible in state {state!r}")
    for name in transition.guards:
        check, code, message = GUARDS[name]
        if not check(view):
            raise ContractError(code, message)
    return transition


def check_table() -> None:
    """Every guard a row names exists and every next state is a known state (tests call it)."""
    known = set(LIVE_STATES) | {ARCHIVED}
    for (state, action), transition in TRANSITIONS.items():
        assert state in LIVE_STATES, (state, action)
        assert transition.next_states <= known, (state, action)
        for guard in transition.guards:
            assert guard in GUARDS, (state, action, guard)
