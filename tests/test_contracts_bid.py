"""Sealed bids: the commitment and AEAD per suite, submit/replace/withdraw before the
deadline only, who may bid, what state shows before the deadline, opening, decryption and
the opening record; determinism of the whole path."""

from __future__ import annotations

import pytest

from contracts import sealing
from contracts.bid import (
    E_BID_SECRET,
    E_COMMITMENT,
    E_CONFLICT,
    E_DEBARRED,
    E_UNQUALIFIED,
)
from contracts.bidder import seal_bid
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_FROZEN, E_NOT_FOUND, E_STATE
from contracts.identity import E_NOT_ATTESTED
from contracts.opening import E_BID_SET
from contracts.periods import MINUTE_MS
from contracts.tender_rules import E_DEADLINE, E_LIFECYCLE, E_TOO_EARLY, E_WINDOW
from ledger import encoding, tags
from ledger.crypto import get_suite
from tests.contract_harness import Harness
from tests.trading_kit import DEADLINE_MS, H32, ROLES, Trading, uscc

SUITES = ["ed25519-sha256", "sm2-sm3"]
SECRET = bytes(range(32))  # a bidder secret for the sealing-only tests


@pytest.mark.parametrize("suite_name", SUITES)
def test_the_commitment_body_has_fixed_offsets(suite_name: str) -> None:
    suite = get_suite(suite_name)
    file_hash, summary_hash = bytes([1]) * 32, bytes([2]) * 32
    body = sealing.commitment_body(suite, "c", "T1", 258, uscc(5), file_hash, summary_hash)
    assert len(body) == sealing.BODY_LEN == 149
    assert body[0] == 1
    assert body[1:33] == suite.hash(b"c") and body[33:65] == suite.hash(b"T1")
    assert body[65:67] == b"\x01\x02" and body[67:85] == uscc(5).encode()
    assert body[85:117] == file_hash and body[117:149] == summary_hash
    sealed = b"x" * 40
    expected = suite.hash(bytes([tags.BID_COMMITMENT]) + body[:117] + suite.hash(sealed))
    assert sealing.commitment(suite, "c", "T1", 258, uscc(5), file_hash, sealed) == expected


@pytest.mark.parametrize("suite_name", SUITES)
def test_a_sealed_summary_opens_only_with_its_key_and_its_header(suite_name: str) -> None:
    suite = get_suite(suite_name)
    bid = seal_bid(suite, "c", "T1", 1, uscc(5), b"file", 12345, SECRET)
    aad = sealing.header(suite, "c", "T1", 1, uscc(5))
    plain = sealing.open_sealed(suite, bid.content_key, bid.sealed_summary, aad)
    summary = encoding.decode(plain)
    assert isinstance(summary, dict) and summary["price_fen"] == 12345
    assert summary["file_hash"] == suite.hash(b"file")
    spec = sealing.aead_spec(suite)
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(suite, bytes(spec.key_len), bid.sealed_summary, aad)
    other_lot = sealing.header(suite, "c", "T1", 2, uscc(5))
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(suite, bid.content_key, bid.sealed_summary, other_lot)
    tampered = bid.sealed_summary[:-1] + bytes([bid.sealed_summary[-1] ^ 1])
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(suite, bid.content_key, tampered, aad)


def test_a_summary_over_4_kib_cannot_be_sealed() -> None:
    suite = get_suite("ed25519-sha256")
    with pytest.raises(ValueError):
        seal_bid(suite, "c", "T1", 1, uscc(5), b"f", 1, SECRET, {"notes": "x" * 4100})


def test_a_sealed_bid_is_accepted_and_state_holds_no_count_or_list() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.issue("G1", "b")
    tender_before = t.tender()
    before = dict(t.h.state.values)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 100, "G1"))
    changed = {k for k in t.h.state.values if before.get(k) != t.h.state.values[k]}
    assert t.tender() == tender_before  # the tender record does not learn of the bid
    bid_keys = {k for k in changed if k.startswith("bid/T1/1/")}
    assert len(bid_keys) == 1
    # No key derived from public data (the guarantee's number, the entity, its keys) changes,
    # beyond the lot's live-set digest: the binding waits for the opening, and the bid came
    # from a one-time agent key (its nonce a new leaf), not the entity's own
    nonces = {k for k in changed if k.startswith("nonce/")}
    assert changed - bid_keys - nonces == {"bidset/T1/1"}
    assert len(nonces) == 1 and nonces != {f"nonce/{b.pubkey.hex()}"}
    slot = next(iter(bid_keys)).rsplit("/", 1)[1]
    assert t.h.get("bidset/T1/1") == bytes.fromhex(slot)  # an XOR, not a count
    suite, chain = t.h.suite, t.h.chain_id
    header = sealing.header(suite, chain, "T1", 1, t.uscc_of["b"])
    assert slot == sealing.slot(suite, chain, "T1", 1, t.uscc_of["b"], t.bid_secret("b")).hex()
    assert slot != suite.hd(tags.BID_SLOT, header).hex()  # not computable without the secret
    assert t.guarantee("G1")["status"] == "issued"  # until the opening records the binding


def test_a_commitment_that_does_not_bind_entity_and_lot_is_refused() -> None:
    t = Trading(params={"tender_lots_max": 4})
    t.announce(lot_count=2)
    a, b = t.entity("a"), t.entity("b")
    t.issue("GA", "a")
    t.issue("GB2", "b", lot=2)
    t.issue("GB1", "b", lot=1)
    copied = t.bid_args(a, 100, "GB1")  # sealed for entity a
    t.h.expect_refused(b, "bid.submit", copied, E_BID_SECRET)  # a's secret, not b's
    t.h.expect_refused(b, "bid.submit", {**copied, "bid_secret": t.bid_secret("b")}, E_COMMITMENT)
    other_lot = t.bid_args(b, 100, "GB1", lot=2)
    t.h.expect_refused(b, "bid.submit", {**other_lot, "lot": 1}, E_COMMITMENT)
    args = t.bid_args(b, 100, "GB1")
    t.h.expect_refused(b, "bid.submit", {**args, "file_hash": H32}, E_COMMITMENT)
    t.h.expect_refused(b, "bid.submit", {**args, "commitment": b"short"}, E_BAD_ARGS)
    t.h.expect_ok(b, "bid.submit", args)


def test_one_bid_per_entity_per_lot_replace_and_withdraw_before_the_deadline() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.bid(b, 100)
    t.issue("G2", "b")
    t.h.expect_refused(b, "bid.submit", t.bid_args(b, 90, "G2"), E_EXISTS)
    t.h.expect_ok(b, "bid.replace", t.bid_args(b, 80, "G2"))
    slot_key = next(k for k in t.h.state.values if k.startswith("bid/T1/1/"))
    record = t.h.get(slot_key)
    assert record["version"] == 2 and len(record["history"]) == 1
    assert record["guarantee"] == "G2" and t.binding("G2") is None  # bound at opening
    digest = t.h.get("bidset/T1/1")
    t.h.expect_ok(b, "bid.withdraw", t.lot_args(b))
    assert t.h.get("bidset/T1/1") == bytes(32) and digest != bytes(32)
    assert t.h.get(slot_key)["guarantee"] == ""
    t.h.expect_refused(b, "bid.withdraw", t.lot_args(b), E_NOT_FOUND)
    t.h.expect_refused(b, "bid.replace", t.bid_args(b, 70, "G2"), E_NOT_FOUND)
    t.h.expect_ok(b, "bid.submit", t.bid_args(b, 70, "G2"))  # a withdrawn bid may return
    assert t.h.get(slot_key)["version"] == 3


def test_no_bid_change_or_withdrawal_at_or_after_the_deadline() -> None:
    t = Trading()
    t.announce()
    b, c = t.entity("b"), t.entity("c")
    t.bid(b, 100)
    t.issue("GC", "c")
    t.h.expect_refused(c, "bid.submit", t.bid_args(c, 100, "GC"), E_DEADLINE, at_ms=DEADLINE_MS)
    t.h.expect_refused(b, "bid.replace", t.bid_args(b, 90, "G-b-1"), E_DEADLINE)
    t.h.expect_refused(b, "bid.withdraw", t.lot_args(b), E_DEADLINE)


def test_the_last_millisecond_before_the_deadline_is_in_time() -> None:
    t = Trading()
    t.announce()
    c = t.entity("c")
    t.issue("GC", "c")
    t.h.expect_ok(c, "bid.submit", t.bid_args(c, 100, "GC"), at_ms=DEADLINE_MS - 1)


@pytest.mark.parametrize("who", ["operator", "related", "tenderer"])
def test_the_platform_operator_related_parties_and_tenderer_may_not_bid(who: str) -> None:
    t = Trading()
    numbers = {"operator": 2, "related": 3}
    acct = t.tenderer if who == "tenderer" else t.entity(who, numbers[who])
    t.announce()
    t.issue("G", acct.name)
    t.h.expect_refused(acct, "bid.submit", t.bid_args(acct, 100, "G"), E_CONFLICT)


def test_an_unattested_frozen_debarred_or_unqualified_bidder_is_refused() -> None:
    t = Trading()
    t.announce(qualifications=[{"category": "construction", "min_level": 2}])
    ghost = t.h.account("ghost")
    t.uscc_of["ghost"] = uscc(99)
    t.issue("G0", "ghost")
    t.h.expect_refused(ghost, "bid.submit", t.bid_args(ghost, 1, "G0"), E_NOT_ATTESTED)

    frozen, debarred, weak, good = (t.entity(n) for n in ("frozen", "debarred", "weak", "good"))
    for name in ("frozen", "debarred", "weak", "good"):
        t.issue(f"G-{name}", name)
    for name in ("frozen", "debarred", "good"):
        t.credit(name, "qualification", category="construction", level=3)
    t.credit("weak", "qualification", category="construction", level=1)
    t.h.put(f"frozen/{t.uscc_of['frozen']}", {"reason": "test", "height": 0})
    t.h.expect_refused(frozen, "bid.submit", t.bid_args(frozen, 1, "G-frozen"), E_FROZEN)
    t.credit("debarred", "bid_debarment", scope_kinds=["works"], scope_regions=["441500"])
    t.h.expect_refused(debarred, "bid.submit", t.bid_args(debarred, 1, "G-debarred"), E_DEBARRED)
    t.h.expect_refused(weak, "bid.submit", t.bid_args(weak, 1, "G-weak"), E_UNQUALIFIED)
    t.h.expect_ok(good, "bid.submit", t.bid_args(good, 1, "G-good"))


def test_a_debarment_out_of_scope_does_not_stop_a_bid() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.credit("b", "bid_debarment", scope_kinds=["goods"], scope_regions=["*"])
    t.bid(b, 100)


def test_opening_early_by_others_or_with_a_bid_left_out_is_refused() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(4)
    for i, b in enumerate(bidders):
        t.bid(b, 100 + i)
    slots = t.slots()
    t.h.expect_refused(t.platform, "bid.open", {"tender_id": "T1", "slots": slots}, E_TOO_EARLY)
    t.h.advance(days=30)
    t.h.expect_refused(t.tenderer, "bid.open", {"tender_id": "T1", "slots": slots}, E_FORBIDDEN)
    for bad in ([slots[0][:3]], [slots[0] + [H32]], [slots[0] + [slots[0][0]]], [[b"x"]]):
        t.h.expect_refused(t.platform, "bid.open", {"tender_id": "T1", "slots": bad}, E_BID_SET)
    t.h.expect_refused(t.platform, "bid.open", {"tender_id": "T1", "slots": []}, E_BAD_ARGS)
    t.h.expect_ok(t.platform, "bid.open", {"tender_id": "T1", "slots": slots})
    assert t.tender()["state"] == "decrypting"
    t.h.expect_refused(t.platform, "bid.open", {"tender_id": "T1", "slots": slots}, E_LIFECYCLE)


def test_fewer_than_3_bids_fail_the_lot_and_release_guarantees() -> None:
    t = Trading()
    t.announce()
    a, b, c = t.bidders(3)
    t.bid(a, 100)
    t.bid(b, 100)
    t.bid(c, 100)
    t.h.expect_ok(c, "bid.withdraw", t.lot_args(c))
    t.open()
    tender = t.tender()
    assert tender["state"] == "failed" and tender["lots"][0]["status"] == "failed"
    assert t.guarantee("G-bidder0-1")["status"] == "released"
    assert t.guarantee("G-bidder2-1")["status"] == "issued"  # withdrawn before: unbound
    t.h.expect_refused(a, "bid.reveal", t.sealed[("bidder0", "T1", 1)].reveal_args(), E_LIFECYCLE)
    t.h.expect_ok(t.platform, "tender.archive", {"tender_id": "T1"})


def test_a_failed_lot_does_not_stop_the_others() -> None:
    t = Trading()
    t.announce(lot_count=2)
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 100, lot=1)
    t.bid(bidders[0], 100, lot=2)
    t.open(lots=2)
    lots = t.tender()["lots"]
    assert [lot["status"] for lot in lots] == ["decrypting", "failed"]
    assert t.guarantee("G-bidder0-2")["status"] == "released"
    assert t.guarantee("G-bidder0-1")["status"] == "bound"


def test_a_failed_lots_sealed_bids_do_not_hold_the_window_open() -> None:
    """Close may come early once every bid of the lots being decrypted is decided; a lot
    that failed at opening decrypts nothing, so its bids (sealed for good) wait on no one."""
    t = Trading()
    t.announce(lot_count=2)
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 100 + len(b.name), lot=1)
    t.bid(bidders[0], 100, lot=2)
    t.open(lots=2)
    t.reveal(bidders[0])
    t.reveal(bidders[1])
    t.h.expect_refused(t.platform, "bid.close", {"tender_id": "T1"}, E_TOO_EARLY)  # one left
    t.reveal(bidders[2])
    t.close()  # before the window's end: every bid of lot 1 is decided
    record = t.h.get("tender/T1/opening")
    assert [lot["status"] for lot in record["lots"]] == ["opened", "failed"]
    assert [b["status"] for b in record["lots"][0]["bids"]] == ["revealed"] * 3
    assert [b["status"] for b in record["lots"][1]["bids"]] == ["sealed"]


def test_reveal_decrypts_on_chain_and_the_opening_record_is_published() -> None:
    t = Trading()
    t.announce()
    a, b, c = t.bidders(3)
    t.bid(a, 300)
    t.bid(b, 200)
    t.bid(c, 100)
    t.h.expect_refused(a, "bid.reveal", t.sealed[("bidder0", "T1", 1)].reveal_args(), E_LIFECYCLE)
    t.open()
    r = t.reveal(a)
    assert r.events[0]["type"] == "bid.revealed" and r.events[0]["price_fen"] == 300
    t.h.expect_refused(a, "bid.reveal", t.sealed[("bidder0", "T1", 1)].reveal_args(), E_STATE)
    wrong = {**t.sealed[("bidder1", "T1", 1)].reveal_args(), "content_key": bytes(32)}
    r = t.h.expect_ok(b, "bid.reveal", wrong)
    assert r.events[0]["type"] == "bid.decrypt_failed"
    t.h.expect_refused(t.platform, "bid.close", {"tender_id": "T1"}, E_TOO_EARLY)
    t.h.advance(ms=30 * MINUTE_MS)
    t.h.expect_refused(c, "bid.reveal", t.sealed[("bidder2", "T1", 1)].reveal_args(), E_WINDOW)
    t.close()
    record = t.h.get("tender/T1/opening")
    by_uscc = {e["uscc"]: e for e in record["lots"][0]["bids"]}
    assert by_uscc[t.uscc_of["bidder0"]]["status"] == "revealed"
    assert by_uscc[t.uscc_of["bidder0"]]["price_fen"] == 300
    assert by_uscc[t.uscc_of["bidder1"]]["status"] == "decrypt_failed"  # wrong key
    assert by_uscc[t.uscc_of["bidder2"]]["status"] == "decrypt_failed"  # silence
    assert t.tender()["state"] == "opened"


def test_closing_early_is_allowed_once_every_bid_is_decided() -> None:
    t = Trading()
    t.through_opening(3)
    assert t.tender()["state"] == "opened"


def test_a_summary_whose_file_hash_does_not_match_fails_decryption() -> None:
    t = Trading()
    t.announce()
    a, b, c = t.bidders(3)
    t.bid(a, 1)
    t.bid(b, 1)
    suite, chain = t.h.suite, t.h.chain_id
    # c seals a summary naming another file than the one it commits to
    honest = seal_bid(suite, chain, "T1", 1, t.uscc_of["bidder2"], b"real file", 5,
                      t.bid_secret("bidder2"))
    liar = seal_bid(suite, chain, "T1", 1, t.uscc_of["bidder2"], b"other file", 5,
                    t.bid_secret("bidder2"))
    aad = sealing.header(suite, chain, "T1", 1, t.uscc_of["bidder2"])
    commitment = sealing.commitment(
        suite, chain, "T1", 1, t.uscc_of["bidder2"], honest.file_hash, liar.sealed_summary
    )
    assert sealing.open_sealed(suite, liar.content_key, liar.sealed_summary, aad)
    t.issue("GC", "bidder2")
    args = {
        **honest.submit_args("GC"),
        "sealed_summary": liar.sealed_summary,
        "commitment": commitment,
    }
    t.h.expect_ok(c, "bid.submit", args)
    t.open()
    r = t.h.expect_ok(
        c, "bid.reveal", {"tender_id": "T1", "lot": 1, "content_key": liar.content_key}
    )
    assert r.events[0]["type"] == "bid.decrypt_failed"


def test_revoking_after_the_deadline_is_recorded_and_before_is_refused() -> None:
    t = Trading()
    t.announce()
    bidders = t.bidders(3)
    for b in bidders:
        t.bid(b, 10)
    t.h.expect_refused(bidders[0], "bid.revoke", {"tender_id": "T1", "lot": 1}, E_LIFECYCLE)
    t.open()
    t.h.expect_ok(bidders[0], "bid.revoke", {"tender_id": "T1", "lot": 1})
    t.h.expect_refused(bidders[0], "bid.revoke", {"tender_id": "T1", "lot": 1}, E_NOT_FOUND)


def test_the_whole_opening_works_on_an_sm2_chain_with_sm4_gcm() -> None:
    t = Trading("sm2-sm3")
    bidders = t.through_opening(3, prices=[5, 6, 7])
    record = t.h.get("tender/T1/opening")
    assert sorted(e["price_fen"] for e in record["lots"][0]["bids"]) == [5, 6, 7]
    assert all(e["status"] == "revealed" for e in record["lots"][0]["bids"])
    assert len(bidders) == 3


def test_the_same_transactions_on_two_fresh_states_give_identical_writes_and_receipts() -> None:
    t = Trading()
    t.through_award(3)
    replay = Harness(roles=ROLES)
    for txs, at_ms in t.blocks:
        replay.run_block(txs, at_ms=at_ms)
    assert replay.state.values == t.h.state.values
    assert [r.hash(t.h.suite) for r in replay.receipts] == [r.hash(t.h.suite) for r in t.h.receipts]
    assert len(t.blocks) > 15


def test_a_bidder_debarred_after_bidding_may_still_withdraw_but_not_replace() -> None:
    t = Trading()
    t.announce()
    b = t.entity("b")
    t.bid(b, 100)
    t.credit("b", "bid_debarment")
    t.issue("G2", "b")
    t.h.expect_refused(b, "bid.replace", t.bid_args(b, 90, "G2"), E_DEBARRED)
    t.h.expect_ok(b, "bid.withdraw", t.lot_args(b))


def test_bid_calls_need_the_enrolled_secret_and_a_lost_secret_serves_later_tenders() -> None:
    t = Trading()
    t.announce()
    outsider = t.h.account("outsider")
    t.h.expect_ok(t.attestor, "identity.attest", {
        "uscc": uscc(77), "name": "late enterprise", "entity_type": "company",
        "cert_issuer": "GDCA", "cert_serial": "S77",
        "valid_from_ms": t.tender()["announced_ms"] - 1,
        "valid_to_ms": DEADLINE_MS + 300 * 86_400_000, "keys": [outsider.pubkey]})
    t.uscc_of["outsider"] = uscc(77)
    t.issue("G-late", "outsider")
    args = t.bid_args(outsider, 100, "G-late")
    t.h.expect_refused(outsider, "bid.submit", args, E_BID_SECRET)  # not enrolled
    t.h.expect_refused(outsider, "bid.enrol", {"commitment": b"short"}, E_BAD_ARGS)
    commitment = sealing.secret_commitment(t.h.suite, t.bid_secret("outsider"))
    r = t.h.expect_ok(outsider, "bid.enrol", {"commitment": commitment})
    assert r.events[0]["type"] == "bid.enrolled"
    t.h.expect_refused(outsider, "bid.enrol", {"commitment": commitment}, E_EXISTS)
    # enrolled after the announcement: its first enrolment holds for this tender
    t.h.expect_ok(outsider, "bid.submit", args)
    t.h.expect_refused(outsider, "bid.withdraw", {**t.lot_args(outsider), "bid_secret": b"\1" * 32},
                       E_BID_SECRET)
    # a second enrolment (a lost secret) does not give this tender a second slot ...
    lost = bytes(range(100, 132))
    t.h.expect_ok(outsider, "bid.enrol", {"commitment": sealing.secret_commitment(t.h.suite, lost)})
    other = seal_bid(t.h.suite, t.h.chain_id, "T1", 1, uscc(77), b"x", 90, lost)
    t.h.expect_refused(outsider, "bid.submit", other.submit_args("G-late"), E_BID_SECRET)
    t.h.expect_ok(outsider, "bid.withdraw", t.lot_args(outsider))  # the first secret still works
    # ... but holds for a tender announced after it
    t.announce("T2")
    t.issue("G-late-2", "outsider", tender_id="T2")
    later = seal_bid(t.h.suite, t.h.chain_id, "T2", 1, uscc(77), b"x", 90, lost)
    t.h.expect_ok(outsider, "bid.submit", later.submit_args("G-late-2"))
    assert t.h.get(f"bid/T2/1/{later.slot.hex()}")["uscc"] == uscc(77)


def test_sealed_calls_come_from_one_time_agents_the_entity_authorises() -> None:
    from contracts.agents import authorisation

    t = Trading()
    t.announce()
    b, c = t.entity("b"), t.entity("c")
    t.issue("G1", "b")
    args = t.bid_args(b, 100, "G1")
    # from the entity's own key: refused (its nonce would move in the bid's block)
    own = authorisation(t.h.suite, t.h.chain_id, b.secret, "T1", 1, "bid.submit", b.pubkey)
    for direct in (args, {**args, **own}):
        receipt = t.h.run_block([t.h.tx(b, "bid.submit", direct, direct=True)])[0]
        assert receipt.code == "E_FORBIDDEN" and "one-time agent" in receipt.message
    agent = t.h.account("agent-x")
    for wrong in (
        authorisation(t.h.suite, t.h.chain_id, b.secret, "T1", 1, "bid.withdraw", agent.pubkey),
        authorisation(t.h.suite, t.h.chain_id, b.secret, "T1", 2, "bid.submit", agent.pubkey),
        authorisation(t.h.suite, "other-chain", b.secret, "T1", 1, "bid.submit", agent.pubkey),
        authorisation(t.h.suite, t.h.chain_id, b.secret, "T1", 1, "bid.submit", c.pubkey),
        {**authorisation(t.h.suite, t.h.chain_id, c.secret, "T1", 1, "bid.submit",
                         agent.pubkey), "bidder_key": b.pubkey},  # c's signature, b's key
    ):
        t.h.expect_refused(agent, "bid.submit", {**args, **wrong}, "E_FORBIDDEN")
    # c authorises an agent to submit b's sealed bid: the commitment binds b, c's secret not
    c_args = {**args, **authorisation(t.h.suite, t.h.chain_id, c.secret, "T1", 1, "bid.submit",
                                      agent.pubkey)}
    t.h.expect_refused(agent, "bid.submit", c_args, E_BID_SECRET)
    right = authorisation(t.h.suite, t.h.chain_id, b.secret, "T1", 1, "bid.submit",
                          agent.pubkey)
    t.h.expect_ok(agent, "bid.submit", {**args, **right})
    assert t.h.nonce_of(b) == 3  # its enrolment and the two direct tries: not the bid
    # a frozen entity's key authorises nothing
    t.issue("G2", "c")
    t.h.put(f"frozen/{t.uscc_of['c']}", {"reason": "test", "height": 0})
    t.h.expect_refused(c, "bid.submit", t.bid_args(c, 100, "G2"), E_FROZEN)


def test_an_authorisation_is_verified_once_and_counted() -> None:
    """An authorisation is verified once per process: a verdict answered from the cache is
    not counted again (``agents.verifications``; no node metric shows it, see
    tests/test_privacy.py)."""
    from contracts import agents
    from ledger.crypto import ED25519_SHA256 as suite

    entity, agent = bytes(range(32)), suite.public_key(bytes(range(1, 33)))
    args = {"tender_id": "T-count", "lot": 1,
            **agents.authorisation(suite, "c", entity, "T-count", 1, "bid.submit", agent)}
    before = agents.verifications()
    for _ in range(3):
        assert agents.signature_authorises(suite, "c", "bid.submit", agent, args,
                                           suite.public_key(entity))
    assert not agents.signature_authorises(suite, "c", "bid.replace", agent, args,
                                           suite.public_key(entity))
    assert agents.verifications() == before + 2
