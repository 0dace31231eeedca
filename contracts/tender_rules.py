"""The tender lifecycle as data: transition tables, guards, and the periods of each rule set.

``TRANSITIONS[(state, action)]`` gives the outcomes of an action (each leading to one next
state) and the names of the guards that must all hold; ``SIDE_ACTIONS`` are allowed in every
live state and leave the state as it is. A handler asks ``require(view, action)`` (every
guard checked, or the guard's code), decides the outcome (e.g. ``open``: ``opening`` when a
lot has enough bids, else ``all_failed``), and moves the record with ``advance`` — which
takes the next state *from the table* (``contracts.lifecycle``): no handler writes a state
of its own. ``LOT`` and ``BID`` are the same kind of table for lot and bid statuses.
``archived`` has no row at all: every write is refused.

Step 7 (DOMAIN.md "Evaluation committees"): ``opened`` → ``request_draw`` → ``drawing``
(the validators' beacon runs; ``seat`` fills the committee or records a short pool or a
failed beacon) → ``evaluating`` (score sheets; a decline is replaced by the same draw, or
sends the tender back to ``drawing`` when the pool runs short) → ``close_evaluation`` →
``reporting`` (candidates computed by the contract) or back to ``opened`` (no majority of
members scored: redo with a new draw) → ``sign_report`` by every counted member →
``evaluated`` (publicity starts).

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
contracts count days (``RulePeriods.earliest_days_after`` inverts ``days_apart``, to name
the earliest instant a rule allows).

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
from contracts.lifecycle import OK, LifecycleBug, Table, Transition, branches, to
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

# Tender states (``tender/<id>`` field ``state``).
BIDDING = "bidding"
DECRYPTING = "decrypting"
OPENED = "opened"
DRAWING = "drawing"  # a committee draw was requested: the beacon runs, then the seats
EVALUATING = "evaluating"  # the committee is seated: members submit score sheets
REPORTING = "reporting"  # candidates computed: the members sign the report's hash
EVALUATED = "evaluated"  # the report is signed by every counted member: publicity runs
AWARDED = "awarded"
CONTRACTED = "contracted"
FAILED = "failed"
ARCHIVED = "archived"
LIVE_STATES = (
    BIDDING,
    DECRYPTING,
    OPENED,
    DRAWING,
    EVALUATING,
    REPORTING,
    EVALUATED,
    AWARDED,
    CONTRACTED,
    FAILED,
)
# a tender in one of these has not decided its lots yet (bound guarantees stay bound)
UNDECIDED_STATES = (BIDDING, DECRYPTING, OPENED, DRAWING, EVALUATING, REPORTING, EVALUATED)

# Lot statuses (``lots[i].status``) and bid statuses (``bid/…`` field ``status``).
LOT_BIDDING = "bidding"
LOT_DECRYPTING = "decrypting"
LOT_OPENED = "opened"
LOT_FAILED = "failed"
SEALED = "sealed"  # live: counted in the bid set digest, named at opening
WITHDRAWN = "withdrawn"
REVEALED = "revealed"
DECRYPT_FAILED = "decrypt_failed"
REVOKED = "revoked"

_ADVANCE = ("not_suspended", "no_open_objection")

TRANSITIONS: dict[tuple[str, str], Transition] = {
    ("", "announce"): to(BIDDING),
    (BIDDING, "amend"): to(BIDDING, guards=("before_deadline", "not_suspended")),
    (BIDDING, "bid"): to(BIDDING, guards=("before_deadline", "not_suspended")),
    (BIDDING, "object_documents"): to(BIDDING, guards=("documents_objection_window",)),
    (BIDDING, "open"): branches(
        {"opening": DECRYPTING, "all_failed": FAILED},
        guards=("at_or_after_deadline", *_ADVANCE),
    ),
    (DECRYPTING, "reveal"): to(DECRYPTING, guards=("in_decrypt_window",)),
    (DECRYPTING, "close"): to(OPENED, guards=("decrypt_window_done",)),
    (DECRYPTING, "revoke_bid"): to(DECRYPTING),
    (OPENED, "object_opening"): to(OPENED, guards=("opening_objection_window",)),
    (OPENED, "revoke_bid"): to(OPENED),
    # step 7: a committee is drawn (contracts.draw), scores (contracts.evaluation), reports
    (OPENED, "request_draw"): to(DRAWING, guards=_ADVANCE),
    (DRAWING, "request_draw"): to(DRAWING, guards=_ADVANCE),  # after a failed draw only
    (DRAWING, "seat"): branches(
        {"seated": EVALUATING, "short": DRAWING, "beacon_failed": DRAWING},
        guards=("not_suspended",),
    ),
    (DRAWING, "object_opening"): to(DRAWING, guards=("opening_objection_window",)),
    (DRAWING, "revoke_bid"): to(DRAWING),
    (EVALUATING, "decline"): branches({"replaced": EVALUATING, "short": DRAWING}),
    (EVALUATING, "score"): to(EVALUATING, guards=("in_evaluation", "not_suspended")),
    (EVALUATING, "close_evaluation"): branches(
        {"decided": REPORTING, "redo": OPENED},
        guards=("evaluation_done", "opening_objection_over", *_ADVANCE),
    ),
    (EVALUATING, "object_opening"): to(EVALUATING, guards=("opening_objection_window",)),
    (EVALUATING, "revoke_bid"): to(EVALUATING),
    (REPORTING, "post_report"): to(REPORTING, guards=("not_suspended",)),
    (REPORTING, "sign_report"): branches(
        {"pending": REPORTING, "signed": EVALUATED}, guards=_ADVANCE
    ),
    (REPORTING, "revoke_bid"): to(REPORTING),
    (EVALUATED, "object_candidates"): to(EVALUATED, guards=("in_publicity",)),
    (EVALUATED, "revoke_bid"): to(EVALUATED),
    (EVALUATED, "award"): to(AWARDED, guards=("publicity_over", *_ADVANCE)),
    (AWARDED, "object_result"): to(AWARDED, guards=("result_objection_window",)),
    (AWARDED, "contract"): to(CONTRACTED, guards=("within_contract_days", *_ADVANCE)),
    # the winner never signed: the tender may be closed once the contract period is over
    (AWARDED, "archive"): to(ARCHIVED, guards=("contract_period_over", "no_open_objection")),
    (CONTRACTED, "object_result"): to(CONTRACTED, guards=("result_objection_window",)),
    (CONTRACTED, "archive"): to(ARCHIVED, guards=("no_open_objection",)),
    (FAILED, "archive"): to(ARCHIVED, guards=("no_open_objection",)),
}

# Allowed in every live state, state unchanged.
SIDE_ACTIONS = ("reply", "rule", "suspend", "resume", "find_collusion")
for _state in LIVE_STATES:
    for _action in SIDE_ACTIONS:
        TRANSITIONS[(_state, _action)] = to(_state)

TENDER = Table("tender", "state", TRANSITIONS, frozenset((*LIVE_STATES, ARCHIVED)))

LOT = Table(
    "lot",
    "status",
    {
        ("", "announce"): to(LOT_BIDDING),
        (LOT_BIDDING, "open"): branches({"too_few": LOT_FAILED, "opening": LOT_DECRYPTING}),
        (LOT_DECRYPTING, "close"): to(LOT_OPENED),
    },
    frozenset((LOT_BIDDING, LOT_DECRYPTING, LOT_OPENED, LOT_FAILED)),
)

# One slot per entity and lot; "" is a slot with no bid yet.
BID = Table(
    "bid",
    "status",
    {
        ("", "submit"): to(SEALED),
        (WITHDRAWN, "submit"): to(SEALED),
        (SEALED, "replace"): to(SEALED),
        (SEALED, "withdraw"): to(WITHDRAWN),
        (SEALED, "reveal"): branches({"decrypted": REVEALED, "failed": DECRYPT_FAILED}),
        (SEALED, "close"): branches({"silent": DECRYPT_FAILED}),  # no key before the window end
        (SEALED, "revoke"): to(REVOKED),
        (REVEALED, "revoke"): to(REVOKED),
    },
    frozenset((SEALED, WITHDRAWN, REVEALED, DECRYPT_FAILED, REVOKED)),
)

# An objection (``tender/<id>/objection/<n>``): the tender's side replies within the reply
# period, or a supervisor rules (once, open or replied).
OBJECTION_OPEN, OBJECTION_REPLIED, OBJECTION_RULED = "open", "replied", "ruled"
OBJECTION = Table(
    "objection",
    "status",
    {
        ("", "object"): to(OBJECTION_OPEN),
        (OBJECTION_OPEN, "reply"): to(OBJECTION_REPLIED),
        (OBJECTION_OPEN, "rule"): to(OBJECTION_RULED),
        (OBJECTION_REPLIED, "rule"): to(OBJECTION_RULED),
    },
    frozenset((OBJECTION_OPEN, OBJECTION_REPLIED, OBJECTION_RULED)),
)

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

    def earliest_days_after(self, earlier_ms: int, days: int) -> int:
        return earliest_days_after(self.demo_day_ms, earlier_ms, days)


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


def earliest_days_after(demo_day_ms: int, earlier_ms: int, days: int) -> int:
    """The first instant at least ``days`` days after ``earlier_ms`` (``days_apart`` counts
    ``days`` from it on): 00:00 Beijing time of the ``days``-th day after the instant's day."""
    if demo_day_ms:
        return earlier_ms + days * demo_day_ms
    if days <= 0:
        return earlier_ms
    return calendar_period_end(earlier_ms, days - 1)


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
    "in_evaluation": (
        lambda v: v.tender["evaluation_start_ms"] <= v.now_ms < v.tender["evaluation_end_ms"],
        E_WINDOW,
        "outside the evaluation period the draw request announced",
    ),
    "evaluation_done": (
        lambda v: v.now_ms >= v.tender["evaluation_end_ms"] or v.facts.get("all_scored", False),
        E_TOO_EARLY,
        "the evaluation period is still running and some members have not scored every bid",
    ),
}


def require(view: GuardView, action: str) -> Transition:
    """The transition for ``action`` in the tender's state, every guard checked, or refuse."""
    state = view.tender["state"]
    if state == ARCHIVED:
        raise ContractError(E_ARCHIVED, f"tender {view.tender['tender_id']!r} is archived")
    transition = TRANSITIONS.get((state, action))
    if transition is None:  # what is possible now, too (user walk: a step's name alone)
        possible = sorted(a for s, a in TRANSITIONS if s == state)
        raise ContractError(E_LIFECYCLE, f"{action!r} is not possible in state {state!r}; "
                                         f"the steps it takes now: {', '.join(possible)}")
    for name in transition.guards:
        check, code, message = GUARDS[name]
        if not check(view):
            raise ContractError(code, message)
    return transition


def advance(tender: dict[str, Any], action: str, outcome: str = OK) -> str:
    """The one way a tender's state changes: to the state the table gives for the move
    (``LifecycleBug`` if the move is not in the table; guards were checked by ``require``)."""
    return TENDER.advance(tender, action, outcome)


def check_table() -> None:
    """Every table row names known guards and leads to known states; archived has no row
    (tests call it)."""
    TENDER.check(GUARDS)
    LOT.check()
    BID.check()
    OBJECTION.check()
    if any(state == ARCHIVED for state, _ in TRANSITIONS):
        raise LifecycleBug("an archived tender must have no row")
