"""Evaluation by score sheets (DOMAIN.md step 7): the announced method, sheets and their
refusals (non-member, twice, above a maximum), totals with the price formula, reward bonus
and drop-high/low, ranking and ties, candidates only from that computation, the deadline and
majority rule, the report signed by the members; both rule sets. A hypothesis state machine
submits sheets in any order (candidates always the top totals of an independent reference)
and a property test checks the result is the same whatever order the sheets arrive in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND
from contracts.evaluation import E_NOT_MEMBER, E_REPORT_HASH, E_SCORE_MAX, E_SHEET_TWICE
from contracts.method import E_METHOD
from contracts.periods import MINUTE_MS
from contracts.tender import E_CANDIDATE
from contracts.tender_rules import E_TOO_EARLY, E_WINDOW
from tests.trading_kit import H32, Trading

T = {"tender_id": "T1"}
METHOD: dict[str, Any] = {
    "formula": "lowest_price_ratio",
    "price_points": 40,
    "criteria": [{"name": "technical", "max_points": 40}, {"name": "business", "max_points": 18}],
    "bonus": {"max_points": 2, "points": {"good_standing": 1, "award": 2}},
}


def evaluating(
    prices: list[int],
    size: int = 5,
    pool: int = 9,
    method: Any = METHOD,
    rewards: tuple[tuple[int, str], ...] = (),
    suite_name: str = "ed25519-sha256",
    **announce: Any,
) -> tuple[Trading, list[Any]]:
    """A tender with one bid per price (bidder i holding the reward kinds ``rewards`` names,
    recorded before the deadline), opened, a committee of ``size`` seated."""
    t = Trading(suite_name)
    t.announce(method=method, **announce)
    bidders = t.bidders(len(prices))
    for i, kind in rewards:
        t.credit(bidders[i].name, kind)
    for b, price in zip(bidders, prices, strict=True):
        t.bid(b, price)
    t.open()
    for b in bidders:
        t.reveal(b)
    t.close()
    t.h.advance(ms=31 * MINUTE_MS)
    t.register_experts(pool)
    t.draw(size)
    return t, bidders


def members(t: Trading) -> list[dict[str, Any]]:
    return list(t.current_draw()["members"])


def sheet(t: Trading, who: Any, tech: int = 30, business: int = 10) -> dict[str, Any]:
    return {"tender_id": "T1", "lot": 1, "bidder": t.uscc_of[who.name],
            "points": {"technical": tech, "business": business}}


def result(t: Trading) -> dict[str, Any]:
    value = t.h.get(f"eval/T1/{t.tender()['eval_round']}/result")
    assert isinstance(value, dict)
    return value


# --- the announced method ---


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price_points": 41}, E_METHOD),  # maxima sum to 101
        ({"bonus": {"max_points": 3, "points": {}}, "price_points": 39}, E_METHOD),  # over 2
        ({"formula": "average"}, E_BAD_ARGS),
        ({"bonus": {"max_points": 2, "points": {"performance": 1}}}, E_BAD_ARGS),
        (
            {"criteria": [{"name": "tech", "max_points": 29}, {"name": "tech", "max_points": 29}]},
            E_BAD_ARGS,
        ),
    ],
)
def test_a_method_whose_maxima_do_not_sum_to_100_or_break_a_bound_is_refused(
    change: dict[str, Any], code: str
) -> None:
    t = Trading()
    args = t.announce_args(method={**METHOD, **change})
    t.h.expect_refused(t.platform, "tender.announce", args, code)


def test_a_method_changes_only_by_an_amendment_that_affects_bids() -> None:
    t = Trading()
    t.announce()
    assert t.tender()["method"]["price_points"] == 100  # the default: price only
    amend = {"tender_id": "T1", "doc_hash": H32, "affects_bids": False, "method": METHOD}
    t.h.expect_refused(t.platform, "tender.amend", amend, E_BAD_ARGS)
    t.h.expect_ok(t.platform, "tender.amend", {**amend, "affects_bids": True})
    assert t.tender()["method"] == METHOD


# --- sheets ---


def test_sheets_from_non_members_twice_or_above_a_maximum_are_refused() -> None:
    t, bidders = evaluating([900, 950, 1000])
    m0 = t.member_account(members(t)[0])
    t.h.expect_refused(m0, "evaluation.score", sheet(t, bidders[0]), E_WINDOW)  # not started
    t.to_evaluation_start()
    t.h.expect_refused(t.platform, "evaluation.score", sheet(t, bidders[0]), E_NOT_MEMBER)
    seated = {m["member"] for m in members(t)}
    outsider = next(c for c in t.expert_codes if c not in seated)  # in the pool, not drawn
    t.h.expect_refused(t.expert(outsider), "evaluation.score", sheet(t, bidders[0]),
                       E_NOT_MEMBER)
    t.h.expect_refused(m0, "evaluation.score", sheet(t, bidders[0], tech=41), E_SCORE_MAX)
    t.h.expect_refused(m0, "evaluation.score", sheet(t, bidders[0], business=-1), E_BAD_ARGS)
    missing = {**sheet(t, bidders[0]), "points": {"technical": 1}}
    t.h.expect_refused(m0, "evaluation.score", missing, E_BAD_ARGS)
    stranger = t.entity("stranger")
    t.h.expect_refused(m0, "evaluation.score", sheet(t, stranger), E_NOT_FOUND)
    t.h.expect_ok(m0, "evaluation.score", sheet(t, bidders[0], tech=40, business=18))
    t.h.expect_refused(m0, "evaluation.score", sheet(t, bidders[0]), E_SHEET_TWICE)
    t.h.time_ms = t.tender()["evaluation_end_ms"]
    t.h.expect_refused(m0, "evaluation.score", sheet(t, bidders[1]), E_WINDOW)


# --- totals, ranking, candidates ---


def test_price_score_bonus_and_mean_make_the_total_and_candidates_come_from_it() -> None:
    # rewards in force at the bid deadline: bidder1 good standing (1) + award (2) → capped 2;
    # bidder2's award is written after the deadline and does not count
    t, bidders = evaluating(
        [800_000_000, 1_000_000_000, 900_000_000, 950_000_000],
        rewards=((1, "good_standing"), (1, "award")),
    )
    tech = {0: 20, 1: 38, 2: 38, 3: 10}
    t.score_all(lambda m, uscc: {"technical": tech[_index(t, bidders, uscc)], "business": 10})
    t.credit(bidders[2].name, "award")  # in force at the deadline, but recorded after it
    t.close_evaluation()
    lot = result(t)["lots"][0]
    by = {r["uscc"]: r for r in lot["ranking"]}
    b = [t.uscc_of[x.name] for x in bidders]
    assert by[b[0]]["price_score"] == 4000  # the lowest price scores the maximum (40.00)
    assert by[b[1]]["price_score"] == 3200  # 40 × 800 ÷ 1000
    assert by[b[2]]["price_score"] == 3556  # 40 × 800 ÷ 900 = 35.555… → 35.56
    assert by[b[1]]["bonus"] == 200 and by[b[2]]["bonus"] == 0 and by[b[0]]["bonus"] == 0
    assert by[b[1]]["mean"] == 4800 and by[b[1]]["total"] == 3200 + 200 + 4800
    assert by[b[2]]["total"] == 3556 + 4800 and by[b[3]]["price_score"] == 3368
    assert [r["uscc"] for r in lot["ranking"]] == [b[2], b[1], b[0], b[3]]
    assert lot["candidates"] == [b[2], b[1], b[0]] == t.tender()["lots"][0]["candidates"]


def _index(t: Trading, bidders: list[Any], uscc: str) -> int:
    return [t.uscc_of[b.name] for b in bidders].index(uscc)


def test_with_seven_members_one_highest_and_one_lowest_are_dropped() -> None:
    t, bidders = evaluating([1000, 1000, 1000], size=7, pool=9)
    ms = [m["member"] for m in members(t)]
    tech = dict(zip(ms, [0, 10, 10, 10, 10, 10, 40], strict=True))
    t.score_all(lambda m, uscc: {"technical": tech[m], "business": 0})
    t.close_evaluation()
    assert {r["mean"] for r in result(t)["lots"][0]["ranking"]} == {1000}  # 0 and 40 dropped
    t5, _ = evaluating([1000, 1000, 1000], size=5)
    ms5 = [m["member"] for m in members(t5)]
    tech5 = dict(zip(ms5, [0, 10, 10, 10, 40], strict=True))
    t5.score_all(lambda m, uscc: {"technical": tech5[m], "business": 0})
    t5.close_evaluation()
    assert {r["mean"] for r in result(t5)["lots"][0]["ranking"]} == {1400}  # nothing dropped


def test_equal_totals_rank_by_the_lower_price() -> None:
    t, bidders = evaluating([1000, 1000, 1000], method=None)  # price only
    t.score_all()
    t.close_evaluation()
    b = sorted(t.uscc_of[x.name] for x in bidders)
    assert t.tender()["lots"][0]["candidates"] == b  # all 100.00: then the USCC order
    t2, bidders2 = evaluating([5000, 4000, 5000, 6000], method=None)
    t2.score_all()
    t2.close_evaluation()
    first = t2.tender()["lots"][0]["candidates"][0]
    assert first == t2.uscc_of[bidders2[1].name] and len(t2.tender()["lots"][0]["candidates"]) == 3


def test_candidates_are_never_named_by_anyone() -> None:
    t, bidders = evaluating([900, 950, 1000])
    t.score_all(lambda m, u: {"technical": 1, "business": 1})
    args = {"tender_id": "T1", "candidates": [[t.uscc_of[bidders[2].name]]]}
    t.h.expect_refused(t.platform, "evaluation.close", args, E_CANDIDATE)
    t.h.expect_refused(t.entity("stranger"), "evaluation.close", T, "E_FORBIDDEN")


# --- closing: everyone, or the deadline and a majority ---


def test_the_evaluation_closes_when_all_scored_or_at_the_deadline_with_a_majority() -> None:
    t, bidders = evaluating([900, 950, 1000])
    ms = members(t)
    t.score_all(lambda m, u: {"technical": 5, "business": 5}, members=ms[:3])
    t.h.expect_refused(t.platform, "evaluation.close", T, E_TOO_EARLY)
    t.h.time_ms = t.tender()["evaluation_end_ms"]
    t.close_evaluation()
    assert result(t)["outcome"] == "decided"
    assert result(t)["counted"] == [m["member"] for m in ms[:3]]
    assert t.tender()["state"] == "reporting"


def test_without_a_majority_the_round_is_void_and_experts_are_drawn_again() -> None:
    t, bidders = evaluating([900, 950, 1000], pool=12)
    ms = members(t)
    t.score_all(lambda m, u: {"technical": 5, "business": 5}, members=ms[:2])
    t.h.time_ms = t.tender()["evaluation_end_ms"]
    t.close_evaluation()
    assert result(t)["outcome"] == "redo" and t.tender()["state"] == "opened"
    assert t.tender()["lots"][0]["candidates"] == []
    t.draw(5)
    assert t.tender()["eval_round"] == 2
    t.score_all(lambda m, u: {"technical": 5, "business": 5})
    t.close_evaluation()
    assert result(t)["outcome"] == "decided"
    assert t.h.get("eval/T1/1/result")["outcome"] == "redo"  # the void round stays on chain


# --- the report ---


def test_every_counted_member_signs_the_posted_report_hash() -> None:
    t, _ = evaluating([900, 950, 1000])
    t.score_all(lambda m, u: {"technical": 5, "business": 5})
    t.close_evaluation()
    ms = members(t)
    sign = {"tender_id": "T1", "report_hash": H32}
    first = t.member_account(ms[0])
    t.h.expect_refused(first, "evaluation.sign", sign, E_NOT_FOUND)  # nothing posted
    t.h.expect_refused(t.entity("x"), "evaluation.report", {**sign}, "E_FORBIDDEN")
    t.h.expect_ok(t.platform, "evaluation.report", sign)
    t.h.expect_refused(first, "evaluation.sign", {**sign, "report_hash": bytes(32)},
                       E_REPORT_HASH)
    t.h.expect_refused(t.platform, "evaluation.sign", sign, E_NOT_MEMBER)
    t.h.expect_ok(first, "evaluation.sign", {**sign, "dissent_hash": bytes(32)})
    t.h.expect_refused(first, "evaluation.sign", sign, E_EXISTS)
    for m in ms[1:-1]:
        t.h.expect_ok(t.member_account(m), "evaluation.sign", sign)
        assert t.tender()["state"] == "reporting"
    t.h.expect_ok(t.member_account(ms[-1]), "evaluation.sign", sign)
    tender = t.tender()
    assert tender["state"] == "evaluated" and tender["report_hash"] == H32
    assert tender["publicity_start_ms"] == t.h.time_ms and tender["committee_size"] == 5


def test_a_new_report_clears_the_signatures() -> None:
    t, _ = evaluating([900, 950, 1000])
    t.score_all(lambda m, u: {"technical": 5, "business": 5})
    t.close_evaluation()
    t.h.expect_ok(t.platform, "evaluation.report", {"tender_id": "T1", "report_hash": H32})
    first = t.member_account(members(t)[0])
    t.h.expect_ok(first, "evaluation.sign", {"tender_id": "T1", "report_hash": H32})
    t.report_and_sign(bytes(32))  # a corrected report: everyone signs again
    assert t.tender()["report_hash"] == bytes(32)


def test_gov_procurement_tenders_are_evaluated_the_same_way() -> None:
    t, bidders = evaluating([700, 800, 900], rules="gov-procurement")
    t.score_all(lambda m, u: {"technical": 30, "business": 15})
    t.close_evaluation()
    t.report_and_sign()
    assert t.tender()["state"] == "evaluated"
    assert t.tender()["lots"][0]["candidates"][0] == t.uscc_of[bidders[0].name]


# --- an independent reference, and hypothesis ---


def reference_ranking(
    prices: dict[str, int], sums: dict[str, list[int]], price_points: int, drop_min: int = 7
) -> list[tuple[str, Decimal]]:
    """DOMAIN.md's arithmetic in Decimal, written apart from contracts.scoring."""
    cent = Decimal("0.01")
    base = min(prices.values())
    totals = []
    for uscc, price in prices.items():
        p = (Decimal(price_points) * base / price).quantize(cent, ROUND_HALF_UP)
        kept = sorted(sums[uscc])
        if len(kept) >= drop_min:
            kept = kept[1:-1]
        mean = (Decimal(sum(kept)) / len(kept)).quantize(cent, ROUND_HALF_UP)
        totals.append((uscc, p + mean))
    return sorted(totals, key=lambda x: (-x[1], prices[x[0]], x[0]))


class ScoringMachine(RuleBasedStateMachine):
    """Members submit sheets in any order, twice, late; whenever candidates exist they are
    the top totals of the reference over the counted members' sheets."""

    @initialize(
        prices=st.lists(st.integers(1, 5).map(lambda x: x * 100), min_size=3, max_size=5),
        size=st.sampled_from([5, 7]),
    )
    def setup(self, prices: list[int], size: int) -> None:
        self.t, self.bidders = evaluating(prices, size=size)
        self.t.to_evaluation_start()
        self.members = members(self.t)

    @rule(m=st.integers(0, 6), b=st.integers(0, 4), tech=st.integers(0, 45),
          business=st.integers(0, 18))
    def submit(self, m: int, b: int, tech: int, business: int) -> None:
        t = self.t
        if t.tender()["state"] != "evaluating":
            return
        member = self.members[m % len(self.members)]
        who = self.bidders[b % len(self.bidders)]
        t.h.call(t.member_account(member), "evaluation.score", sheet(t, who, tech, business))

    @rule(m=st.integers(0, 6), points=st.lists(st.integers(0, 40), min_size=5, max_size=5),
          backwards=st.booleans())
    def a_member_scores_every_bid(self, m: int, points: list[int], backwards: bool) -> None:
        t = self.t
        if t.tender()["state"] != "evaluating":
            return
        member = self.members[m % len(self.members)]
        order = list(enumerate(self.bidders))[:: -1 if backwards else 1]
        for i, who in order:
            t.h.call(t.member_account(member), "evaluation.score",
                     sheet(t, who, points[i], points[-1 - i] % 19))

    @rule(points=st.lists(st.integers(0, 40), min_size=5, max_size=5))
    def everyone_scores_every_bid(self, points: list[int]) -> None:
        for m in range(len(self.members)):
            self.a_member_scores_every_bid(m, points[m:] + points[:m], m % 2 == 0)
        event(f"everyone scored in state {self.t.tender()['state']}")

    @rule()
    def close(self) -> None:
        receipt = self.t.h.call(self.t.platform, "evaluation.close", T)
        event(f"close: {receipt.code} {self.t.tender()['state']}")

    @rule()
    def to_the_deadline(self) -> None:
        self.t.h.time_ms = max(self.t.h.time_ms, self.t.tender()["evaluation_end_ms"])

    @invariant()
    def candidates_are_the_top_totals(self) -> None:
        if not hasattr(self, "t") or self.t.tender()["state"] != "reporting":
            return
        t = self.t
        res = result(t)
        prices = {t.uscc_of[b.name]: int(b_price) for b, b_price in self._prices().items()}
        sums = {
            u: [t.h.get(f"eval/T1/1/sheet/1/{u}/{m}")["sum"] for m in res["counted"]]
            for u in prices
        }
        ref = reference_ranking(prices, sums, METHOD["price_points"])
        lot = res["lots"][0]
        assert [u for u, _ in ref] == [r["uscc"] for r in lot["ranking"]]
        assert [int(total * 100) for _, total in ref] == [r["total"] for r in lot["ranking"]]
        assert lot["candidates"] == [u for u, _ in ref[:3]]

    def _prices(self) -> dict[Any, int]:
        opening = self.t.h.get("tender/T1/opening")["lots"][0]["bids"]
        by_uscc = {b["uscc"]: b["price_fen"] for b in opening}
        return {b: by_uscc[self.t.uscc_of[b.name]] for b in self.bidders}


ScoringMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_scoring_machine = ScoringMachine.TestCase


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 18)), min_size=15, max_size=15),
    order=st.permutations(list(range(15))),
)
def test_the_result_does_not_depend_on_the_order_sheets_arrive_in(
    points: list[tuple[int, int]], order: list[int]
) -> None:
    def run(sequence: list[int]) -> tuple[Any, Any]:
        t, bidders = evaluating([900, 950, 1000])
        t.to_evaluation_start()
        ms = members(t)
        jobs = [(m, b) for m in range(5) for b in range(3)]
        for i in sequence:
            m, b = jobs[i]
            tech, business = points[i]
            t.h.expect_ok(t.member_account(ms[m]), "evaluation.score",
                          sheet(t, bidders[b], tech, business))
        t.close_evaluation()
        return result(t)["lots"], t.tender()["lots"]

    lots_a, tender_a = run(list(range(15)))
    lots_b, tender_b = run(order)
    assert lots_a == lots_b and tender_a == tender_b
