"""Tenders: every lifecycle rule of DOMAIN.md and its refusal (code checked, and nothing but
the sender's nonce changed), for both rule sets."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.errors import (
    E_BAD_ARGS,
    E_EXISTS,
    E_FORBIDDEN,
    E_NOT_FOUND,
    E_STATE,
    E_UNKNOWN_CALL,
)
from contracts.objections import E_REPLY_LATE
from contracts.periods import DAY_MS, MINUTE_MS, ms_of_beijing
from contracts.tender import (
    E_AMEND_LATE,
    E_CANDIDATE,
    E_DEADLINE_EARLIER,
    E_DEADLINE_SHORT,
    E_GUARANTEE_RULE,
    E_ISSUE_START,
    E_SALE_SHORT,
)
from contracts.tender_rules import (
    E_ARCHIVED,
    E_CONTRACT_LATE,
    E_DEADLINE,
    E_LIFECYCLE,
    E_OBJECTION_OPEN,
    E_PUBLICITY,
    E_SUSPENDED,
    E_TOO_EARLY,
    E_WINDOW,
    TRANSITIONS,
    check_table,
    days_apart,
    earliest_days_after,
)
from contracts.uscc import E_BAD_USCC
from tests.contract_harness import Account
from tests.trading_kit import DEADLINE_MS, H32, ISSUE_MS, PRICE_FEN, Trading

T = {"tender_id": "T1"}


def test_the_transition_table_is_consistent_and_archived_has_no_row() -> None:
    check_table()
    assert not [k for k in TRANSITIONS if k[0] == "archived"]
    assert TRANSITIONS[("bidding", "open")].next_states == {"decrypting", "failed"}
    assert "publicity_over" in TRANSITIONS[("evaluated", "award")].guards
    assert TRANSITIONS[("evaluating", "close_evaluation")].next_states == {"reporting", "opened"}
    assert ("opened", "evaluate") not in TRANSITIONS  # candidates are never posted


def test_advance_takes_the_next_state_from_the_table_and_refuses_a_move_not_in_it() -> None:
    from contracts.lifecycle import LifecycleBug
    from contracts.tender_rules import BID, advance

    tender = {"state": "bidding"}
    assert advance(tender, "open", "all_failed") == "failed" and tender["state"] == "failed"
    with pytest.raises(LifecycleBug):
        advance(tender, "award")  # failed has no award row: a bug, never a caller's error
    with pytest.raises(LifecycleBug):
        advance({"state": "bidding"}, "open", "maybe")  # an outcome the row does not have
    bid = {"status": "sealed"}
    assert BID.advance(bid, "reveal", "failed") == "decrypt_failed"
    with pytest.raises(LifecycleBug):
        BID.advance(bid, "withdraw")


def test_no_handler_writes_a_tender_or_bid_state_literal() -> None:
    """The tables are the single source: no handler assigns a state or status literal (or
    creates a record with one); records move only through ``advance``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "contracts"
    assigned = re.compile(r"""\[["'](state|status)["']\]\s*=\s*["']""")
    created = re.compile(r"""["'](state|status)["']\s*:\s*["'][a-z]""")
    for name in ("tender.py", "objections.py", "tender_record.py", "bid.py", "opening.py",
                 "draw.py", "evaluation.py", "selection.py"):
        text = (root / name).read_text()
        assert not assigned.search(text) and not created.search(text), name
    assert "BID.advance(" in (root / "bid.py").read_text()
    text = (root / "opening.py").read_text()
    assert " advance(tender" in text and "LOT.advance(" in text and "BID.advance(" in text


def test_the_old_candidates_call_is_gone() -> None:
    t = Trading()
    bidders = t.through_opening(3)
    t.h.advance(ms=31 * MINUTE_MS)
    ev = {
        "tender_id": "T1",
        "report_hash": H32,
        "committee_size": 5,
        "candidates": [[t.uscc_of[bidders[0].name]]],
    }
    t.h.expect_refused(t.platform, "tender.evaluate", ev, E_UNKNOWN_CALL)


def test_an_issue_start_before_the_announcing_block_is_refused() -> None:
    t = Trading()
    at = ISSUE_MS + 1
    t.h.expect_refused(
        t.platform, "tender.announce", t.announce_args(), E_ISSUE_START, at_ms=at
    )
    # the issue start may be the announcing block's own instant
    same_instant = t.h.time_ms + 1000
    t.h.expect_ok(
        t.platform, "tender.announce", t.announce_args(issue_start_ms=same_instant)
    )


def test_a_platform_announces_a_tender() -> None:
    t = Trading()
    t.announce(lot_count=2)
    tender = t.tender()
    assert tender["state"] == "bidding" and len(tender["lots"]) == 2
    assert tender["platform_key"] == t.platform.pubkey


def test_a_deadline_twenty_days_after_the_issue_day_is_the_earliest() -> None:
    t = Trading()
    # issue on 1 March: any time on 21 March is 20 days, 20 March 23:59 is only 19
    late_20th = ms_of_beijing(2024, 3, 20, 23, 59)
    t.h.expect_refused(
        t.platform, "tender.announce", t.announce_args(deadline_ms=late_20th), E_DEADLINE_SHORT
    )
    t.announce(deadline_ms=ms_of_beijing(2024, 3, 21, 0, 0))


def test_documents_on_sale_fewer_than_five_days_are_refused() -> None:
    t = Trading()
    short = ms_of_beijing(2024, 3, 5, 23, 0)
    t.h.expect_refused(
        t.platform, "tender.announce", t.announce_args(doc_sale_end_ms=short), E_SALE_SHORT
    )


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"tenderer": "91350100M000100Y44"}, E_BAD_USCC),
        ({"rules": "common-law"}, E_BAD_ARGS),
        ({"kind": "spaceships"}, E_BAD_ARGS),
        ({"tender_id": "a/b"}, E_BAD_ARGS),
        ({"lots": [{"name": "x", "estimated_price_fen": -1, "guarantee_fen": 0}]}, E_BAD_ARGS),
        ({"lots": [{"name": "x", "estimated_price_fen": "100", "guarantee_fen": 0}]}, E_BAD_ARGS),
        ({"lots": []}, E_BAD_ARGS),
        # a requirement above 2% of the estimated price
        (
            {"lots": [{"name": "x", "estimated_price_fen": 1_000_000, "guarantee_fen": 20_001}]},
            E_GUARANTEE_RULE,
        ),
        # works: above 800,000 yuan even though under 2%
        (
            {
                "lots": [
                    {
                        "name": "x",
                        "estimated_price_fen": 10 * PRICE_FEN,
                        "guarantee_fen": 80_000_001,
                    }
                ]
            },
            E_GUARANTEE_RULE,
        ),
        ({"deadline_ms": ISSUE_MS - 1}, E_DEADLINE_SHORT),
    ],
)
def test_bad_announcements_are_refused(override: dict[str, Any], code: str) -> None:
    t = Trading()
    t.h.expect_refused(t.platform, "tender.announce", t.announce_args(**override), code)


def test_bad_qualification_lists_are_refused_in_the_words_receipts_have_always_had() -> None:
    # A receipt's message is hashed into the block: the shared parser keeps each call's text.
    t = Trading()
    for quals, message in (
        ([{"category": "construction"}], "a qualification is {category, min_level}"),
        ([{"category": "c", "min_level": 0}] * 17, "qualifications must be an array of at most 16"),
        ({"category": "c", "min_level": 0}, "qualifications must be an array of at most 16"),
    ):
        receipt = t.h.expect_refused(
            t.platform, "tender.announce", t.announce_args(qualifications=quals), E_BAD_ARGS
        )
        assert receipt.message == message
    receipt = t.h.expect_refused(t.platform, "tender.announce", t.announce_args(
        qualifications=[{"category": "c", "min_level": 101}]), E_BAD_ARGS)
    assert "min_level" in receipt.message


def test_services_have_no_800k_cap_and_only_platforms_announce_once() -> None:
    t = Trading()
    lots = [{"name": "x", "estimated_price_fen": 10 * PRICE_FEN, "guarantee_fen": 200_000_000}]
    t.h.expect_refused(t.bureau, "tender.announce", t.announce_args(), E_FORBIDDEN)
    t.h.expect_ok(t.platform, "tender.announce", t.announce_args(kind="services", lots=lots))
    t.h.expect_refused(t.platform, "tender.announce", t.announce_args(), E_EXISTS)


def amend(t: Trading, affects: bool, **extra: object) -> dict[str, Any]:
    return {"tender_id": "T1", "doc_hash": bytes(32), "affects_bids": affects, **extra}


def test_refusals_name_what_is_missing_and_the_guarantee_limit() -> None:
    """User walk: a missing affects_bids said "must be true or false", and a guarantee over
    the limit did not name the limit."""
    t = Trading()
    t.announce()
    no_flag = {"tender_id": "T1", "doc_hash": bytes(32)}
    refused = t.h.expect_refused(t.platform, "tender.amend", no_flag, E_BAD_ARGS)
    assert refused.message == "argument 'affects_bids' is missing"
    over = Trading()
    lots = [{"name": "x", "estimated_price_fen": 1_000_000, "guarantee_fen": 20_001}]
    refused = over.h.expect_refused(over.platform, "tender.announce",
                                    over.announce_args(lots=lots), E_GUARANTEE_RULE)
    assert refused.message.startswith("lot 1 requires a guarantee of 20001 fen, above the "
                                      "20000 fen allowed (2% of 1000000 fen"), refused.message


def test_an_amendment_that_affects_bids_inside_15_days_must_move_the_deadline() -> None:
    t = Trading()
    t.announce()
    at = ms_of_beijing(2024, 3, 7, 10, 0)  # 14 days before the deadline day
    t.h.expect_refused(t.platform, "tender.amend", amend(t, True), E_AMEND_LATE, at_ms=at)
    too_little = ms_of_beijing(2024, 3, 21, 18, 0)
    t.h.expect_refused(
        t.platform, "tender.amend", amend(t, True, new_deadline_ms=too_little), E_AMEND_LATE
    )
    moved = ms_of_beijing(2024, 3, 22, 9, 30)  # 15 days after 7 March
    t.h.expect_ok(t.platform, "tender.amend", amend(t, True, new_deadline_ms=moved))
    assert t.tender()["deadline_ms"] == moved
    # a clarification that does not affect bids may come later
    t.h.expect_ok(t.platform, "tender.amend", amend(t, False))


def test_an_amendment_moving_the_deadline_too_little_names_the_earliest_deadline() -> None:
    t = Trading()
    t.announce()
    at = ms_of_beijing(2024, 3, 7, 10, 0)  # 14 days before the deadline day
    unmoved = t.h.expect_refused(t.platform, "tender.amend", amend(t, True), E_AMEND_LATE, at_ms=at)
    earliest = ms_of_beijing(2024, 3, 22)  # 00:00 of the 15th day after 7 March
    too_little = t.h.expect_refused(
        t.platform,
        "tender.amend",
        amend(t, True, new_deadline_ms=earliest - 1),
        E_AMEND_LATE,
        at_ms=at + 1000,
    )
    assert unmoved.message == "an amendment that affects bids needs the deadline 15 days away"
    assert too_little.message == (
        "the new deadline must be at least 15 days after this block:"
        " the earliest deadline this amendment may set is 2024-03-22 00:00 Beijing"
        f" ({earliest})"
    )
    t.h.expect_ok(t.platform, "tender.amend", amend(t, True, new_deadline_ms=earliest))
    assert t.tender()["deadline_ms"] == earliest


def test_the_earliest_instant_n_days_after_is_what_days_apart_counts() -> None:
    for demo_day_ms in (0, 60_000):
        for now in (ms_of_beijing(2024, 3, 7, 0, 0), ms_of_beijing(2024, 3, 7, 23, 59)):
            earliest = earliest_days_after(demo_day_ms, now, 15)
            assert days_apart(demo_day_ms, now, earliest) == 15
            assert days_apart(demo_day_ms, now, earliest - 1) == 14
    assert earliest_days_after(60_000, 5_000, 15) == 5_000 + 15 * 60_000


def test_an_amendment_15_days_before_needs_no_extension() -> None:
    t = Trading()
    t.announce()
    at = ms_of_beijing(2024, 3, 6, 10, 0)
    t.h.expect_ok(t.platform, "tender.amend", amend(t, True), at_ms=at)
    assert t.tender()["deadline_ms"] == DEADLINE_MS


def test_a_deadline_never_moves_earlier_and_amendments_stop_at_the_deadline() -> None:
    t = Trading()
    t.announce()
    earlier = DEADLINE_MS - DAY_MS
    t.h.expect_refused(
        t.platform, "tender.amend", amend(t, False, new_deadline_ms=earlier), E_DEADLINE_EARLIER
    )
    t.h.expect_refused(t.tenderer, "tender.amend", amend(t, "yes"), E_BAD_ARGS)  # type: ignore[arg-type]
    stranger = t.entity("stranger")
    t.h.expect_refused(stranger, "tender.amend", amend(t, False), E_FORBIDDEN)
    t.h.expect_ok(t.tenderer, "tender.amend", amend(t, False))  # the tenderer's own key
    t.h.expect_refused(t.platform, "tender.amend", amend(t, False), E_DEADLINE, at_ms=DEADLINE_MS)


def obj(stage: str) -> dict[str, Any]:
    return {"tender_id": "T1", "stage": stage, "reason_hash": H32}


def test_document_objections_close_10_days_before_the_deadline() -> None:
    t = Trading()
    t.announce()
    bidder = t.entity("b")
    t.h.expect_ok(bidder, "tender.object", obj("documents"), at_ms=ms_of_beijing(2024, 3, 11, 23))
    assert t.tender()["objections_open"] == 1
    t.h.expect_refused(
        bidder, "tender.object", obj("documents"), E_WINDOW, at_ms=ms_of_beijing(2024, 3, 12, 8)
    )


def test_gov_procurement_objections_run_7_days_from_issue() -> None:
    t = Trading()
    t.announce(rules="gov-procurement")
    bidder = t.entity("b")
    t.h.expect_ok(bidder, "tender.object", obj("documents"), at_ms=ms_of_beijing(2024, 3, 8, 23))
    t.h.expect_refused(
        bidder, "tender.object", obj("documents"), E_WINDOW, at_ms=ms_of_beijing(2024, 3, 9, 0, 0)
    )


def test_an_open_objection_suspends_opening_until_replied_within_3_days() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for i, b in enumerate(bidders):
        t.bid(b, 100 + i)
    t.h.expect_ok(bidders[0], "tender.object", obj("documents"))
    t.h.expect_refused(
        t.platform,
        "bid.open",
        {"tender_id": "T1", "slots": t.slots()},
        E_OBJECTION_OPEN,
        at_ms=DEADLINE_MS,
    )
    # three days have passed: the tenderer may no longer reply, a supervisor rules
    t.h.expect_ok(t.supervisor, "tender.rule", {"tender_id": "T1", "n": 1, "ruling": "upheld"})
    t.open()
    assert t.tender()["state"] == "decrypting"


def test_the_tender_side_replies_within_3_days_once() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.h.expect_ok(b, "tender.object", obj("documents"), at_ms=ms_of_beijing(2024, 3, 2, 10))
    reply = {"tender_id": "T1", "n": 1, "reply_hash": H32}
    t.h.expect_refused(b, "tender.reply", reply, E_FORBIDDEN)
    t.h.expect_refused(t.tenderer, "tender.reply", {**reply, "n": 2}, "E_NOT_FOUND")
    t.h.expect_ok(t.tenderer, "tender.reply", reply, at_ms=ms_of_beijing(2024, 3, 5, 23, 59))
    assert t.tender()["objections_open"] == 0
    t.h.expect_refused(t.tenderer, "tender.reply", reply, E_STATE)  # deciding twice


def test_a_late_reply_is_refused_and_a_supervisor_rules_once() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.h.expect_ok(b, "tender.object", obj("documents"), at_ms=ms_of_beijing(2024, 3, 2, 10))
    reply = {"tender_id": "T1", "n": 1, "reply_hash": H32}
    t.h.expect_refused(
        t.tenderer, "tender.reply", reply, E_REPLY_LATE, at_ms=ms_of_beijing(2024, 3, 6, 0, 0)
    )
    # a malformed reply hash is said as such first (user walk: E_REPLY_LATE)
    t.h.expect_refused(t.tenderer, "tender.reply", {**reply, "reply_hash": b"short"},
                       E_BAD_ARGS)
    ruling = {"tender_id": "T1", "n": 1, "ruling": "dismissed"}
    t.h.expect_refused(t.platform, "tender.rule", ruling, E_FORBIDDEN)
    t.h.expect_refused(t.supervisor, "tender.rule", {**ruling, "ruling": "maybe"}, E_BAD_ARGS)
    t.h.expect_ok(t.supervisor, "tender.rule", ruling)
    assert t.tender()["objections_open"] == 0
    t.h.expect_refused(t.supervisor, "tender.rule", ruling, E_STATE)


def test_a_supervisor_suspends_and_resumes() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.h.expect_refused(t.platform, "tender.suspend", T, E_FORBIDDEN)
    t.h.expect_refused(t.supervisor, "tender.resume", T, E_STATE)
    t.h.expect_ok(t.supervisor, "tender.suspend", T)
    t.h.expect_refused(t.supervisor, "tender.suspend", T, E_STATE)
    t.issue("G1", "b")
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 100, "G1"), E_SUSPENDED)
    t.h.expect_ok(t.supervisor, "tender.resume", T)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 100, "G1"))


def test_opening_objections_last_30_minutes_and_hold_the_draw() -> None:
    t = Trading()
    bidders = t.through_opening(3)
    t.register_experts(7)
    t.h.expect_ok(bidders[2], "tender.object", obj("opening"))
    t.h.advance(ms=31 * MINUTE_MS)
    t.h.expect_refused(bidders[1], "tender.object", obj("opening"), E_WINDOW)
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(), E_OBJECTION_OPEN)
    t.h.expect_ok(t.platform, "tender.reply", {"tender_id": "T1", "n": 1, "reply_hash": H32})
    t.draw(5)
    assert t.tender()["state"] == "evaluating"


def test_the_evaluation_closes_only_after_the_opening_objection_period() -> None:
    t = Trading()
    t.through_opening(3)
    t.register_experts(7)
    t.draw(5)
    t.score_all()
    t.h.time_ms = t.tender()["opened_ms"] + 10 * MINUTE_MS
    t.h.expect_refused(t.platform, "evaluation.close", T, E_TOO_EARLY)
    t.h.time_ms = t.tender()["opened_ms"] + 30 * MINUTE_MS
    t.close_evaluation()
    assert t.tender()["state"] == "reporting"


def test_a_decrypt_failed_bidder_is_never_scored_nor_a_candidate() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for i, b in enumerate(bidders):
        t.bid(b, 100 + i)
    t.open()
    t.reveal(bidders[0])
    t.reveal(bidders[1])
    t.h.advance(ms=31 * MINUTE_MS)
    t.close()
    t.h.advance(ms=31 * MINUTE_MS)
    t.register_experts(7)
    t.draw(5)
    t.to_evaluation_start()
    member = t.expert(t.current_draw()["members"][0]["member"])
    sheet = {"tender_id": "T1", "lot": 1, "bidder": t.uscc_of[bidders[2].name], "points": {}}
    t.h.expect_refused(member, "evaluation.score", sheet, "E_NOT_FOUND")
    t.score_all()
    t.close_evaluation()
    assert t.tender()["lots"][0]["candidates"] == [t.uscc_of[b.name] for b in bidders[:2]]


def award_args(t: Trading, who: str) -> dict[str, object]:
    return {"tender_id": "T1", "winners": [t.uscc_of[who]]}


def collusion(t: Trading, name: str) -> dict[str, Any]:
    return {**T, "uscc": t.uscc_of[name], "evidence_hash": H32}


def test_collusion_is_not_found_before_the_deadline_whoever_it_names() -> None:
    t = Trading()
    t.announce()
    bidder = t.bidders(1)[0]
    t.bid(bidder, 900_000_000)
    t.entity("outsider")
    named = [
        t.h.expect_refused(t.supervisor, "tender.find_collusion", collusion(t, who), E_TOO_EARLY)
        for who in (bidder.name, "outsider")
    ]
    # the same refusal for a bidder and a non-bidder: it tells nobody who bid
    assert [r.message for r in named] == [
        f"collusion may be recorded only from the bid deadline ({DEADLINE_MS} ms)"
    ] * 2
    assert t.h.get(f"tender/T1/collusion/{t.uscc_of[bidder.name]}") is None


def test_collusion_is_found_only_against_an_entity_whose_bid_was_opened() -> None:
    t = Trading()
    bidders = t.through_opening(3)
    t.entity("outsider")
    refused = t.h.expect_refused(
        t.supervisor, "tender.find_collusion", collusion(t, "outsider"), E_NOT_FOUND
    )
    assert refused.message == (
        f"{t.uscc_of['outsider']} has no opened bid on this tender: collusion is recorded only"
        " against a bidder whose bid was opened"
    )
    t.h.expect_ok(t.supervisor, "tender.find_collusion", collusion(t, bidders[2].name))
    assert t.h.get(f"tender/T1/collusion/{t.uscc_of[bidders[2].name]}") is not None


def test_collusion_waits_for_the_opening_after_the_deadline() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 900_000_000)
    finding = collusion(t, bidders[0].name)
    t.h.expect_refused(t.supervisor, "tender.find_collusion", finding, E_NOT_FOUND, DEADLINE_MS)
    t.open()
    t.h.expect_ok(t.supervisor, "tender.find_collusion", finding)


def test_award_only_after_3_days_of_publicity_with_no_objection_open() -> None:
    t = Trading()
    bidders = t.through_evaluation(3)
    first = bidders[0].name
    t.h.expect_refused(t.platform, "tender.award", award_args(t, first), E_PUBLICITY)
    t.h.expect_ok(bidders[1], "tender.object", obj("candidates"))
    t.h.advance(days=4)
    t.h.expect_refused(bidders[1], "tender.object", obj("candidates"), E_WINDOW)
    t.h.expect_refused(t.platform, "tender.award", award_args(t, first), E_OBJECTION_OPEN)
    t.h.expect_ok(t.supervisor, "tender.rule", {"tender_id": "T1", "n": 1, "ruling": "dismissed"})
    stranger = t.entity("stranger")
    t.h.expect_refused(t.platform, "tender.award", award_args(t, "stranger"), E_CANDIDATE)
    # a malformed code is said as such, not as "not a candidate" (user walk)
    t.h.expect_refused(t.platform, "tender.award", {"tender_id": "T1", "winners": ["X1"]},
                       "E_BAD_USCC")
    t.h.expect_refused(stranger, "tender.award", award_args(t, first), E_FORBIDDEN)
    t.h.expect_ok(t.platform, "tender.award", award_args(t, first))
    t.h.expect_refused(t.platform, "tender.award", award_args(t, first), E_LIFECYCLE)


def test_the_contract_within_30_days_then_archive_freezes_everything() -> None:
    t = Trading()
    bidders = t.through_award(3)
    t.h.expect_ok(bidders[2], "tender.object", obj("result"))
    contract = {"tender_id": "T1", "contract_hash": H32}
    t.h.expect_refused(t.platform, "tender.record_contract", contract, E_OBJECTION_OPEN)
    t.h.expect_ok(t.tenderer, "tender.reply", {"tender_id": "T1", "n": 1, "reply_hash": H32})
    t.h.expect_refused(t.platform, "tender.archive", T, E_TOO_EARLY)
    t.h.expect_ok(t.platform, "tender.record_contract", contract)
    t.h.expect_ok(t.platform, "tender.archive", T)
    calls: list[tuple[Account, str, dict[str, Any]]] = [
        (t.platform, "tender.amend", amend(t, False)),
        (bidders[1], "tender.object", obj("result")),
        (t.supervisor, "tender.suspend", T),
        (t.platform, "tender.archive", T),
        (
            t.supervisor,
            "tender.find_collusion",
            {**T, "uscc": t.uscc_of[bidders[1].name], "evidence_hash": H32},
        ),
        (t.bank, "guarantee.issue", t.guarantee_args("G-late", bidders[0].name)),
        (
            t.tenderer,
            "guarantee.claim",
            {"number": f"G-{bidders[0].name}-1", "reason": "collusion", "amount_fen": 1},
        ),
        (t.platform, "bid.close", T),
    ]
    for acct, call, args in calls:
        t.h.expect_refused(acct, call, args, E_ARCHIVED)


def test_a_contract_after_30_days_is_refused() -> None:
    t = Trading()
    t.through_award(3)
    t.h.advance(days=31)
    t.h.expect_refused(
        t.platform, "tender.record_contract", {**T, "contract_hash": H32}, E_CONTRACT_LATE
    )
    t.h.expect_ok(t.platform, "tender.archive", T)  # the winner never signed


def test_demo_days_shorten_every_period() -> None:
    t = Trading(params={"demo_day_ms": 60_000, "bl_bid_min_days": 20}, demo=True)
    # 20 demo "days" of one minute each
    t.h.expect_refused(
        t.platform,
        "tender.announce",
        t.announce_args(deadline_ms=ISSUE_MS + 19 * 60_000, doc_sale_end_ms=ISSUE_MS + 5 * 60_000),
        E_DEADLINE_SHORT,
    )
    t.announce(deadline_ms=ISSUE_MS + 21 * 60_000, doc_sale_end_ms=ISSUE_MS + 5 * 60_000)


def test_gov_procurement_replies_take_up_to_7_days_and_publicity_1_day() -> None:
    t = Trading()
    t.announce(rules="gov-procurement")
    b = t.entity("b")
    t.h.expect_ok(b, "tender.object", obj("documents"), at_ms=ms_of_beijing(2024, 3, 2, 10))
    reply = {"tender_id": "T1", "n": 1, "reply_hash": H32}
    # 6 March would be late under the bidding law (3 days); 9 March is within 7 days
    t.h.expect_ok(t.tenderer, "tender.reply", reply, at_ms=ms_of_beijing(2024, 3, 9, 23, 0))
    bidders = t.bidders(3)
    for b2 in bidders:
        t.bid(b2, 10)
    t.open()
    for b2 in bidders:
        t.reveal(b2)
    t.close()
    t.h.advance(ms=31 * MINUTE_MS)
    t.register_experts(7)
    t.draw(5)
    t.score_all()
    t.close_evaluation()
    t.report_and_sign()
    assert t.tender()["state"] == "evaluated"
    t.h.time_ms = max(t.h.time_ms, t.tender()["publicity_start_ms"])
    t.h.advance(days=1)  # publicity of one day ends at 24:00 of the next day
    t.h.expect_refused(t.platform, "tender.award", award_args(t, bidders[0].name), E_PUBLICITY)
    t.h.advance(days=1)
    t.h.expect_ok(t.platform, "tender.award", award_args(t, bidders[0].name))


def test_a_candidate_that_revokes_during_publicity_cannot_win() -> None:
    t = Trading()
    bidders = t.through_evaluation(3)
    t.h.expect_ok(bidders[0], "bid.revoke", {"tender_id": "T1", "lot": 1})
    t.h.advance(days=4)
    t.h.expect_refused(t.platform, "tender.award", award_args(t, bidders[0].name), E_CANDIDATE)
    t.h.expect_ok(t.platform, "tender.award", award_args(t, bidders[1].name))
