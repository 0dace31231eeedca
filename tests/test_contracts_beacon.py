"""The validators' commit-reveal beacon: phases counted in blocks, commitments checked, the
seed fixed only by the reveals, failure below f + 1 reveals, missed reveals recorded, the
node's ``beacon_actions`` and a restart deriving the same values. Every refusal checks its
code and that nothing but the sender's nonce changed."""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Any

import pytest

from contracts import beacon
from contracts.beacon import (
    E_BEACON_MISMATCH,
    E_BEACON_PENDING,
    E_BEACON_PHASE,
    beacon_actions,
    beacon_value,
    commitment_of,
    seed_from,
)
from contracts.errors import E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE
from ledger import encoding, tags
from ledger.crypto import get_suite
from tests.contract_harness import Account
from tests.trading_kit import Trading

REQ = "draw/T1/1"


def requested(**params: int) -> Trading:
    """A tender after opening with a draw requested (beacon request ``draw/T1/1`` open)."""
    t = Trading(params=params or None)
    t.through_opening(3)
    t.register_experts(7)
    t.h.expect_ok(t.platform, "draw.request", t.draw_args())
    return t


def commit(t: Trading, v: Account) -> None:
    value = beacon_value(t.h.suite, v.secret, t.h.chain_id, REQ)
    c = commitment_of(t.h.suite, t.h.chain_id, REQ, v.pubkey, value)
    t.h.expect_ok(v, "beacon.commit", {"id": REQ, "commitment": c})


def reveal_args(t: Trading, v: Account) -> dict[str, object]:
    return {"id": REQ, "value": beacon_value(t.h.suite, v.secret, t.h.chain_id, REQ)}


def record(t: Trading) -> dict[str, Any]:
    value = t.h.get(f"beacon/{REQ}")
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_a_value_is_an_hmac_of_the_secret_and_restarts_reproduce_it(suite_name: str) -> None:
    suite = get_suite(suite_name)
    secret = bytes(range(32))
    value = beacon_value(suite, secret, "c", REQ)
    assert value == beacon_value(suite, secret, "c", REQ)  # a restarted node derives it again
    assert value != beacon_value(suite, secret, "c", "draw/T1/2")
    assert value != beacon_value(suite, bytes(32), "c", REQ)
    if suite_name == "ed25519-sha256":
        msg = bytes((tags.BEACON_VALUE,)) + encoding.encode({"chain_id": "c", "id": REQ})
        assert value == hmac.new(secret, msg, sha256).digest()


def test_every_validator_commits_then_reveals_and_the_seed_is_the_formula() -> None:
    t = requested()
    vals = t.validator_accounts()
    for v in vals:
        commit(t, v)
    rec = record(t)
    assert rec["commit_closed_height"] == t.h.height + 1  # all committed: reveals next block
    for v in vals[:-1]:
        t.h.expect_ok(v, "beacon.reveal", reveal_args(t, v))
        assert record(t)["status"] == "pending"
    t.h.expect_ok(vals[-1], "beacon.reveal", reveal_args(t, vals[-1]))
    rec = record(t)
    reveals = {v.pubkey.hex(): beacon_value(t.h.suite, v.secret, t.h.chain_id, REQ) for v in vals}
    assert rec["status"] == "final"
    assert rec["seed"] == seed_from(t.h.suite, t.h.chain_id, REQ, rec["subject"], reveals)
    assert t.h.get("beacon/open") == []


def test_commitments_and_reveals_are_refused_outside_their_phase_and_twice() -> None:
    t = requested()
    vals = t.validator_accounts()
    t.h.expect_refused(vals[0], "beacon.reveal", reveal_args(t, vals[0]), E_BEACON_PHASE)
    commit(t, vals[0])
    t.h.expect_refused(vals[0], "beacon.commit", {"id": REQ, "commitment": bytes(32)}, E_EXISTS)
    stranger = t.h.account("stranger")
    t.h.expect_refused(stranger, "beacon.commit", {"id": REQ, "commitment": bytes(32)}, E_FORBIDDEN)
    t.h.expect_refused(vals[0], "beacon.commit", {"id": "draw/X/1", "commitment": bytes(32)},
                       E_NOT_FOUND)
    for v in vals[1:]:
        commit(t, v)
    t.h.expect_refused(vals[0], "beacon.commit", {"id": REQ, "commitment": bytes(32)},
                       E_BEACON_PHASE)
    wrong = {"id": REQ, "value": bytes(32)}
    t.h.expect_refused(vals[0], "beacon.reveal", wrong, E_BEACON_MISMATCH)
    t.h.expect_ok(vals[0], "beacon.reveal", reveal_args(t, vals[0]))
    t.h.expect_refused(vals[0], "beacon.reveal", reveal_args(t, vals[0]), E_EXISTS)


def test_a_window_lasts_its_blocks_and_its_time_and_a_silent_validator_is_recorded() -> None:
    t = requested(beacon_commit_blocks=6, beacon_commit_ms=60_000, beacon_reveal_blocks=4,
                  beacon_reveal_ms=60_000)
    vals = t.validator_accounts()
    for v in vals[:3]:
        commit(t, v)  # v3 never commits
    rec = record(t)
    assert rec["commit_closed_height"] == 0 and t.h.height == rec["commit_end_height"] - 4
    # the minute has passed but not the blocks: the commit phase runs on
    t.h.time_ms = rec["commit_end_ms"]
    t.h.expect_refused(vals[0], "beacon.reveal", reveal_args(t, vals[0]), E_BEACON_PHASE)
    t.h.run_block([])
    t.h.run_block([])
    for v in vals[:2]:
        t.h.expect_ok(v, "beacon.reveal", reveal_args(t, v))  # v2 withholds
    # a flood of blocks does not close the reveal window before its minute
    for _ in range(5):
        t.h.run_block([])
    t.h.expect_refused(t.platform, "draw.seat", {"tender_id": "T1"}, E_BEACON_PENDING)
    t.h.expect_refused(t.platform, "beacon.finalize", {"id": REQ}, E_BEACON_PENDING)
    t.h.advance(ms=60_000)
    t.h.expect_ok(t.platform, "beacon.finalize", {"id": REQ})
    rec = record(t)
    assert rec["status"] == "final" and len(rec["reveals"]) == 2  # f + 1 = 2 of 4
    assert t.h.get(beacon.missed_key(vals[2].pubkey)) == 1
    assert t.h.get(beacon.missed_key(vals[3].pubkey)) == 1
    assert t.h.get(beacon.missed_key(vals[0].pubkey)) is None
    t.h.expect_refused(t.platform, "beacon.finalize", {"id": REQ}, E_STATE)


def test_fewer_than_f_plus_1_reveals_fail_and_the_draw_is_asked_again() -> None:
    t = requested(beacon_commit_blocks=2, beacon_reveal_blocks=2, beacon_commit_ms=0,
                  beacon_reveal_ms=0)
    vals = t.validator_accounts()
    commit(t, vals[0])
    t.h.run_block([])
    t.h.expect_ok(vals[0], "beacon.reveal", reveal_args(t, vals[0]))
    t.h.run_block([])
    t.h.expect_ok(t.platform, "draw.seat", {"tender_id": "T1"})  # a recorded outcome
    assert record(t)["status"] == "failed"
    assert t.current_draw()["status"] == "beacon_failed" and t.tender()["state"] == "drawing"
    t.draw(5)  # round 2, under a new beacon request id
    assert t.tender()["eval_round"] == 2 and t.current_draw()["status"] == "seated"


def test_beacon_actions_say_what_each_validator_sends_and_nothing_once_done() -> None:
    t = requested()
    h = t.h
    vals = t.validator_accounts()
    first = beacon_actions(h.get, h.chain_id, h.suite, vals[0].pubkey, vals[0].secret, h.height,
                           h.time_ms)
    assert [call for call, _ in first] == ["beacon.commit"]
    stranger = h.account("stranger")
    assert beacon_actions(h.get, h.chain_id, h.suite, stranger.pubkey, stranger.secret,
                          h.height, h.time_ms) == []
    assert t.run_beacon() == 8  # 4 commitments, then 4 reveals
    assert record(t)["status"] == "final"
    assert all(
        beacon_actions(h.get, h.chain_id, h.suite, v.pubkey, v.secret, h.height, h.time_ms)
        == []
        for v in vals
    )


def test_a_withholding_validator_chooses_between_two_seeds_at_most() -> None:
    """The residual bias of the docstring, f = 1: with every other value fixed, the last
    revealer can only pick the seed with or without its own reveal."""
    suite = get_suite("ed25519-sha256")
    values = {bytes([i]).hex() * 32: bytes([i]) * 32 for i in range(4)}
    subject = bytes(32)
    others = dict(list(values.items())[:3])
    outcomes = {seed_from(suite, "c", REQ, subject, others),
                seed_from(suite, "c", REQ, subject, values)}
    assert len(outcomes) == 2
    # and every single value moves the seed: nobody's value is ignored
    for k in values:
        changed = {**values, k: b"\xff" * 32}
        assert seed_from(suite, "c", REQ, subject, changed) != seed_from(
            suite, "c", REQ, subject, values
        )
