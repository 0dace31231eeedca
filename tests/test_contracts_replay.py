"""Determinism of replay over the new contracts: a chain that draws a committee (with a
decline), evaluates by score sheets, and runs supermarket selections (random by the beacon,
lowest price, a rating that suspends) gives identical state and receipts when its committed
blocks are replayed on a fresh state, on both suites."""

from __future__ import annotations

import pytest

from tests.contract_harness import Harness
from tests.test_contracts_evaluation import METHOD, evaluating
from tests.test_contracts_supermarket import ITEM, QUAL, YUAN
from tests.trading_kit import H32, ROLES, Trading


def story(suite_name: str) -> Trading:
    t, _ = evaluating([900, 800, 1000], pool=8, method=METHOD, suite_name=suite_name)
    seated = [m for m in t.current_draw()["members"] if m["kind"] == "expert"]
    t.h.expect_ok(t.expert(seated[0]["member"]), "draw.decline", {"tender_id": "T1"})
    t.score_all(lambda m, u: {"technical": len(m) + 20, "business": int(u[-2], 36) % 19})
    t.close_evaluation()
    t.report_and_sign()
    admin = t.h.account("market")
    t.h.expect_ok(admin, "market.add_item", {"code": ITEM, "name": "造价", "required": [QUAL]})
    owner = t.entity("owner")
    agencies = []
    for i in range(3):
        a = t.entity(f"agency{i}")
        t.credit(a.name, "qualification", category="cost_consulting", level=2)
        t.h.expect_ok(a, "market.register", {"item": ITEM})
        agencies.append(a)
    for rid, method in (("R1", "random"), ("R2", "lowest_price")):
        t.h.expect_ok(owner, "market.request", {
            "request_id": rid, "item": ITEM, "budget_fen": 1000 * YUAN, "fiscal": True,
            "method": method, "window_end_ms": t.h.time_ms + 4 * 86_400_000})
        for i, a in enumerate(agencies):
            t.h.expect_ok(a, "market.respond", {"request_id": rid, "price_fen": (3 - i) * YUAN})
    t.h.advance(days=5)
    t.h.expect_ok(owner, "market.select", {"request_id": "R1"})
    t.run_beacon()
    t.h.expect_ok(owner, "market.select", {"request_id": "R1"})
    t.h.expect_ok(owner, "market.select", {"request_id": "R2"})
    rec = t.h.get("market/request/R2")
    chosen = [a for a in agencies if t.uscc_of[a.name] == rec["order"][0]][0]
    t.h.expect_ok(chosen, "market.confirm", {"request_id": "R2"})
    t.h.expect_ok(owner, "market.record_contract", {"request_id": "R2", "contract_hash": H32})
    t.h.expect_ok(owner, "market.rate", {"request_id": "R2", "rating": 1})
    return t


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_replaying_the_committed_blocks_gives_the_same_state_and_receipts(
    suite_name: str,
) -> None:
    t = story(suite_name)
    replay = Harness(suite_name, roles=ROLES)
    for txs, at_ms in t.blocks:
        replay.run_block(txs, at_ms=at_ms)
    assert replay.state.values == t.h.state.values
    assert [r.hash(replay.suite) for r in replay.receipts] == [
        r.hash(t.h.suite) for r in t.h.receipts
    ]
    assert t.h.get("tender/T1")["state"] == "evaluated"
    assert t.h.get("market/request/R1")["status"] == "selected"
