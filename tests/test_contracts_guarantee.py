"""Electronic guarantees: issue by whitelisted guarantors, every binding check of DOMAIN.md,
release after award or failure, claims by the beneficiary for a listed reason, once, never
above the amount; verification by number."""

from __future__ import annotations

import pytest

from contracts import keys
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_FROZEN, E_NOT_FOUND
from contracts.guarantee import (
    E_CLAIM,
    E_GUARANTEE_AMOUNT,
    E_GUARANTEE_ISSUER,
    E_GUARANTEE_MISSING,
    E_GUARANTEE_PARTY,
    E_GUARANTEE_USED,
    E_GUARANTEE_VALIDITY,
    guarantee_key,
    lookup,
)
from contracts.periods import DAY_MS
from contracts.state import Overlay
from contracts.tender_rules import E_ARCHIVED, E_DEADLINE
from tests.contract_harness import GENESIS_MS, Account
from tests.trading_kit import DEADLINE_MS, H32, PRICE_FEN, REQUIRED_FEN, Trading


def test_only_an_unfrozen_guarantor_issues_and_numbers_are_unique() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.h.expect_refused(t.platform, "guarantee.issue", t.guarantee_args("G1", "b"), E_FORBIDDEN)
    t.h.put(keys.frozen(t.bank.hex), {"reason": "test", "height": 0})
    t.h.expect_refused(t.bank, "guarantee.issue", t.guarantee_args("G1", "b"), E_FROZEN)
    del t.h.state.values[keys.frozen(t.bank.hex)]
    t.issue("G1", "b")
    t.h.expect_refused(t.bank, "guarantee.issue", t.guarantee_args("G1", "b"), E_EXISTS)
    for bad in ({"amount_fen": -5}, {"amount_fen": 0}, {"amount_fen": "5"}, {"valid_to_ms": 1}):
        t.h.expect_refused(
            t.bank, "guarantee.issue", t.guarantee_args("G2", "b", **bad), E_BAD_ARGS
        )
    t.h.expect_refused(
        t.bank, "guarantee.issue", t.guarantee_args("G2", "b", tender_id="T9"), E_NOT_FOUND
    )
    assert b.name == "b"


def test_anyone_verifies_a_guarantee_by_its_number() -> None:
    t = Trading()
    t.announce()
    t.entity("b")
    t.issue("G1", "b")
    record = lookup(Overlay(t.h.state), "G1")
    assert record is not None and record["amount_fen"] == REQUIRED_FEN
    assert record["status"] == "issued" and record["issuer"] == t.bank.pubkey
    assert t.h.state.get(guarantee_key("G1")) is not None
    assert lookup(Overlay(t.h.state), "G-none") is None


def test_a_lot_that_requires_a_guarantee_refuses_a_bid_without_one() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, ""), E_GUARANTEE_MISSING)
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, "G-none"), E_NOT_FOUND)


def test_a_lot_without_a_requirement_takes_bids_without_a_guarantee() -> None:
    t = Trading()
    lots = [{"name": "x", "estimated_price_fen": PRICE_FEN, "guarantee_fen": 0}]
    t.announce(lots=lots)
    b = t.entity("b")
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 1, ""))


LIMIT_FEN = 20_000_000  # 2% of the 10 million yuan estimated price


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"principal": "other"}, E_GUARANTEE_PARTY),
        ({"beneficiary": "other"}, E_GUARANTEE_PARTY),
        ({"lot": 2}, E_GUARANTEE_PARTY),
        ({"amount_fen": REQUIRED_FEN - 1}, E_GUARANTEE_AMOUNT),
        ({"amount_fen": LIMIT_FEN + 1}, E_GUARANTEE_AMOUNT),
        ({"valid_to_ms": DEADLINE_MS + 90 * DAY_MS}, E_GUARANTEE_VALIDITY),
        ({"valid_from_ms": GENESIS_MS + 100 * DAY_MS}, E_GUARANTEE_VALIDITY),
    ],
)
def test_every_binding_rule_is_checked(override: dict[str, object], code: str) -> None:
    t = Trading()
    t.announce(lot_count=2)
    b = t.entity("b")
    other = t.entity("other")
    for field in ("principal", "beneficiary"):
        if override.get(field) == "other":
            override = {**override, field: t.uscc_of[other.name]}
    t.issue("G1", "b", **override)
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, "G1"), code)


def test_the_amount_may_reach_exactly_the_cap_and_through_the_validity_end() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    # the bid validity of 90 days ends at 24:00 of the 90th day after the deadline's day
    validity_end = DEADLINE_MS - (DEADLINE_MS + 8 * 3600_000) % DAY_MS + 91 * DAY_MS
    t.issue("G1", "b", amount_fen=LIMIT_FEN, valid_to_ms=validity_end)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 1, "G1"))


def test_works_are_capped_at_800k_yuan_even_under_2_percent() -> None:
    t = Trading()
    big = 100 * PRICE_FEN  # 1,000 million yuan: 2% would be 20 million yuan
    t.announce(lots=[{"name": "x", "estimated_price_fen": big, "guarantee_fen": REQUIRED_FEN}])
    b = t.entity("b")
    t.issue("G1", "b", amount_fen=80_000_001)
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, "G1"), E_GUARANTEE_AMOUNT)
    t.issue("G2", "b", amount_fen=80_000_000)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 1, "G2"))


def test_two_percent_binds_above_the_cap_for_services() -> None:
    t = Trading()
    big = 100 * PRICE_FEN
    t.announce(
        kind="services",
        lots=[{"name": "x", "estimated_price_fen": big, "guarantee_fen": REQUIRED_FEN}],
    )
    b = t.entity("b")
    t.issue("G1", "b", amount_fen=big * 2 // 100)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 1, "G1"))
    t.issue("G2", "b", amount_fen=big * 2 // 100 + 1)
    t.h.expect_refused(b, "bid.replace", t.bid_args(b, 1, "G2"), E_GUARANTEE_AMOUNT)


def test_an_issuer_that_lost_its_role_or_is_frozen_cannot_back_a_bid() -> None:
    t = Trading()
    t.announce()
    b, c = t.entity("b"), t.entity("c")
    t.issue("G1", "b")
    t.issue("G2", "c")
    t.h.put(keys.frozen(t.bank.hex), {"reason": "test", "height": 0})
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, "G1"), E_GUARANTEE_ISSUER)
    del t.h.state.values[keys.frozen(t.bank.hex)]
    del t.h.state.values[keys.role("guarantor", t.bank.pubkey)]
    t.h.expect_refused(c, "bid.submit", t.bid_args(c, 1, "G2"), E_GUARANTEE_ISSUER)


def test_a_guarantee_is_not_bound_twice_nor_after_release() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.bid(b, 1, guarantee=None)
    t.h.expect_ok(b, "bid.withdraw", t.lot_args(b))
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 1, "G-b-1"))
    # a released guarantee cannot be bound again (the beneficiary may waive at any time)
    t.issue("G2", "b")
    t.h.expect_ok(t.tenderer, "guarantee.release", {"number": "G2"})
    t.h.expect_refused(b, "bid.replace", t.bid_args(b, 1, "G2"), E_GUARANTEE_USED)
    t.issue("G3", "b")
    t.h.expect_ok(b, "bid.replace", t.bid_args(b, 1, "G3"))
    for other in ("c", "d"):
        t.bid(t.entity(other), 2)
    t.open()
    assert t.guarantee("G-b-1")["status"] == "issued"  # replaced: not named at opening
    assert t.guarantee("G3")["status"] == "bound"
    assert t.binding("G-b-1") is None and t.binding("G3") is not None


def test_while_bids_are_sealed_the_issuer_cannot_release_and_no_binding_shows() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.bid(b, 1)
    t.issue("G-spare", "b")
    # the chain cannot tell (nor may it show) whether a sealed bid holds a guarantee, so its
    # issuer may not release any of the tender's guarantees until the bids are opened
    for number in ("G-b-1", "G-spare"):
        assert t.guarantee(number)["status"] == "issued" and t.binding(number) is None
        t.h.expect_refused(t.bank, "guarantee.release", {"number": number}, E_FORBIDDEN)
    for other in ("c", "d"):
        t.bid(t.entity(other), 2)
    t.open()
    binding = t.binding("G-b-1")
    assert t.guarantee("G-b-1")["status"] == "bound" and binding is not None
    assert t.h.get(f"bid/T1/1/{binding['slot']}")["uscc"] == t.uscc_of["b"]
    assert t.h.get("guarantee/G-b-1")["status"] == "issued"  # the public record is unchanged
    t.h.expect_refused(t.bank, "guarantee.release", {"number": "G-b-1"}, E_FORBIDDEN)
    t.h.expect_ok(t.bank, "guarantee.release", {"number": "G-spare"})  # unbound: free to go


def test_a_guarantee_bound_to_one_bid_cannot_back_another() -> None:
    t = Trading(params={"tender_lots_max": 4})
    t.announce()
    b = t.entity("b")
    t.bid(b, 1)
    # principal, tender and lot pin a guarantee to one entity's one slot on the lot; a second
    # submit there is refused before the guarantee is looked at
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 1, "G-b-1"), "E_EXISTS")
    c = t.entity("c")
    t.h.expect_refused(c, "bid.submit", t.bid_args(c, 1, "G-b-1"), "E_GUARANTEE_PARTY")


def test_losers_are_released_at_award_and_the_winner_at_the_contract() -> None:
    t = Trading()
    bidders = t.through_award(4)
    assert t.guarantee("G-bidder0-1")["status"] == "bound"
    assert {t.guarantee(f"G-{b.name}-1")["status"] for b in bidders[1:]} == {"released"}
    t.h.expect_ok(t.platform, "tender.record_contract", {"tender_id": "T1", "contract_hash": H32})
    assert t.guarantee("G-bidder0-1")["status"] == "released"


def claim(number: str, reason: str, amount: int = REQUIRED_FEN) -> dict[str, object]:
    return {"number": number, "reason": reason, "amount_fen": amount}


def decryption_failure(close: bool = True) -> tuple[Trading, list[Account], str]:
    """Three bids opened, two revealed: the third's guarantee (its number) may be claimed
    once the window is closed (``close``)."""
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 1)
    t.open()
    t.reveal(bidders[0])
    t.reveal(bidders[1])
    if close:
        t.h.advance(ms=31 * 60_000)
        t.close()
    return t, bidders, "G-bidder2-1"


def test_a_decryption_failure_is_claimed_by_the_beneficiary_once_within_the_amount() -> None:
    t, bidders, number = decryption_failure(close=False)
    t.h.expect_refused(t.tenderer, "guarantee.claim", claim(number, "decrypt_failed"), E_CLAIM)
    t.h.advance(ms=31 * 60_000)
    t.close()
    t.h.expect_refused(bidders[0], "guarantee.claim", claim(number, "decrypt_failed"), E_FORBIDDEN)
    t.h.expect_refused(t.tenderer, "guarantee.claim", claim(number, "theft"), E_BAD_ARGS)
    t.h.expect_refused(t.tenderer, "guarantee.claim", claim(number, "collusion"), E_CLAIM)
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim(number, "decrypt_failed", REQUIRED_FEN + 1), E_CLAIM
    )
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim(number, "decrypt_failed", -1), E_BAD_ARGS
    )
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim("G-bidder0-1", "decrypt_failed"), E_CLAIM
    )
    # the issuer may not release it while the reason holds
    t.h.expect_refused(t.bank, "guarantee.release", {"number": number}, E_FORBIDDEN)
    t.h.expect_ok(t.tenderer, "guarantee.claim", claim(number, "decrypt_failed"))
    g = t.guarantee(number)
    assert g["status"] == "claimed" and g["claim"]["amount_fen"] == REQUIRED_FEN
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim(number, "decrypt_failed", 1), E_GUARANTEE_USED
    )


def test_collusion_found_by_a_supervisor_makes_the_guarantee_claimable() -> None:
    t = Trading()
    bidders = t.through_opening(3)
    target = t.uscc_of[bidders[1].name]
    finding = {"tender_id": "T1", "uscc": target, "evidence_hash": H32}
    t.h.expect_refused(t.platform, "tender.find_collusion", finding, E_FORBIDDEN)
    t.h.expect_ok(t.supervisor, "tender.find_collusion", finding)
    t.h.expect_refused(t.supervisor, "tender.find_collusion", finding, E_EXISTS)
    t.h.expect_ok(t.tenderer, "guarantee.claim", claim("G-bidder1-1", "collusion", 5))
    assert t.guarantee("G-bidder1-1")["claim"]["amount_fen"] == 5


def test_a_bid_revoked_after_the_deadline_makes_its_guarantee_claimable() -> None:
    t = Trading()
    bidders = t.through_opening(3)
    number = "G-bidder2-1"
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim(number, "revoked_after_deadline"), E_CLAIM
    )
    t.h.expect_ok(bidders[2], "bid.revoke", {"tender_id": "T1", "lot": 1})
    t.h.expect_ok(t.tenderer, "guarantee.claim", claim(number, "revoked_after_deadline"))


def test_a_winner_that_does_not_sign_in_30_days_forfeits_its_guarantee() -> None:
    t = Trading()
    t.through_award(3)
    number = "G-bidder0-1"
    t.h.expect_refused(t.tenderer, "guarantee.claim", claim(number, "refused_to_sign"), E_CLAIM)
    t.h.advance(days=31)
    t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim("G-bidder1-1", "refused_to_sign"), E_GUARANTEE_USED
    )
    t.h.expect_ok(t.tenderer, "guarantee.claim", claim(number, "refused_to_sign"))


def test_release_by_hand_issuer_after_decision_or_beneficiary_waiver() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 1)
    t.h.expect_refused(t.bank, "guarantee.release", {"number": "G-bidder0-1"}, E_FORBIDDEN)
    t.h.expect_refused(bidders[0], "guarantee.release", {"number": "G-bidder0-1"}, E_FORBIDDEN)
    t.h.expect_ok(t.tenderer, "guarantee.release", {"number": "G-bidder0-1"})  # a waiver
    g = t.guarantee("G-bidder0-1")
    assert g["status"] == "released" and g["release_reason"] == "waived by beneficiary"
    t.h.expect_refused(t.tenderer, "guarantee.release", {"number": "G-bidder0-1"}, E_GUARANTEE_USED)


def test_a_guarantee_never_bound_is_released_after_its_tender_is_archived() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(2)
    for b in bidders:
        t.bid(b, 900_000_000)
    late, idle = t.entity("late"), t.entity("idle")
    t.issue("G-late", late.name)  # its bid comes too late
    t.issue("G-idle", idle.name)  # it never bids
    t.h.expect_refused(late, "bid.submit", t.bid_args(late, 1, "G-late"), E_DEADLINE, DEADLINE_MS)
    t.open()  # two bids: the lot fails, their guarantees are released
    assert t.tender()["state"] == "failed"
    t.h.expect_ok(t.platform, "tender.archive", {"tender_id": "T1"})
    assert t.guarantee("G-late")["status"] == "issued"
    t.h.expect_ok(t.bank, "guarantee.release", {"number": "G-late"})
    g = t.guarantee("G-late")
    assert g["status"] == "released" and g["release_reason"] == "released by issuer"
    t.h.expect_refused(late, "guarantee.release", {"number": "G-idle"}, E_FORBIDDEN)
    t.h.expect_ok(t.tenderer, "guarantee.release", {"number": "G-idle"})
    assert t.guarantee("G-idle")["release_reason"] == "waived by beneficiary"
    # released: the archived tender's rule again
    t.h.expect_refused(t.bank, "guarantee.release", {"number": "G-late"}, E_ARCHIVED)
    t.h.expect_refused(t.tenderer, "guarantee.claim", claim("G-idle", "collusion"), E_ARCHIVED)
    assert t.guarantee(f"G-{bidders[0].name}-1")["release_reason"] == "lot failed"


def test_a_bound_guarantee_of_an_archived_tender_is_not_released_by_hand() -> None:
    t = Trading()
    t.through_award(3)
    t.h.advance(days=31)  # the winner never signed
    t.h.expect_ok(t.platform, "tender.archive", {"tender_id": "T1"})
    assert t.guarantee("G-bidder0-1")["status"] == "bound"
    for who in (t.bank, t.tenderer):
        t.h.expect_refused(who, "guarantee.release", {"number": "G-bidder0-1"}, E_ARCHIVED)
    assert t.guarantee("G-bidder0-1")["status"] == "bound"


def test_a_claim_on_a_guarantee_not_bound_says_so() -> None:
    t = Trading()
    t.through_opening(3)
    t.entity("idle")
    t.issue("G-idle", "idle")
    refused = t.h.expect_refused(
        t.tenderer, "guarantee.claim", claim("G-idle", "collusion"), E_GUARANTEE_USED
    )
    assert refused.message == (
        "the guarantee is not bound to a bid of this tender: only a bound guarantee may be claimed"
    )
