"""Random call sequences over one tender (hypothesis state machine) keep the trading
invariants: no bid accepted at or after its deadline; no guarantee bound to two bids or
claimed above its amount or twice; a failed transaction changes nothing but the sender's
nonce; an archived tender never changes (but a guarantee never bound to a bid may still be
released); and the same transactions replayed on a fresh state give identical state and
receipts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from contracts import keys
from contracts.periods import DAY_MS, MINUTE_MS
from ledger import encoding
from ledger.tx import OK
from tests.contract_harness import Account, Harness
from tests.trading_kit import H32, REQUIRED_FEN, ROLES, Trading

BIDDERS = 4
STEPS_MS = [1_000, MINUTE_MS, 31 * MINUTE_MS, DAY_MS, 4 * DAY_MS, 12 * DAY_MS, 31 * DAY_MS]
REASONS = ["revoked_after_deadline", "decrypt_failed", "refused_to_sign", "collusion"]
STAGES = ["documents", "opening", "candidates", "result"]


def tender_keys(values: dict[str, bytes]) -> dict[str, bytes]:
    return {
        k: v
        for k, v in values.items()
        if k.startswith(("tender/T1", "bid/T1/", "bidset/T1/", "guarantee/"))
    }


class TradingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.t = Trading()
        self.t.announce()
        self.bidders = self.t.bidders(BIDDERS)
        for b in self.bidders:
            for k in range(2):
                self.t.issue(f"G-{b.name}-{k}", b.name)
        self.start_block = len(self.t.blocks)
        self.next_ms = self.t.h.time_ms + 1000
        self.archived_snapshot: dict[str, bytes] | None = None

    # --- the one way every rule sends a transaction ---

    def send(self, acct: Account, call: str, args: dict[str, Any]) -> str:
        h = self.t.h
        before = dict(h.state.values)
        tender_before = h.get("tender/T1")
        at_ms = max(self.next_ms, h.time_ms + 1)
        tx = h.tx(acct, call, args)
        receipt = h.run_block([tx], at_ms=at_ms)[0]
        self.next_ms = h.time_ms + 1000
        after = dict(h.state.values)
        nonce_key = keys.nonce(tx.body.sender)  # the account's, or its one-time agent's
        if receipt.code != OK:
            before.pop(nonce_key, None)
            after.pop(nonce_key, None)
            assert before == after, f"refused {call} ({receipt.code}) changed state"
        elif call in ("bid.submit", "bid.replace", "bid.withdraw"):
            assert at_ms < tender_before["deadline_ms"], f"{call} accepted at/after the deadline"
        self.check_guarantees(before, after)
        state = h.get("tender/T1")["state"]
        event(f"tender reached {state}")
        if receipt.code == OK:
            event(f"{call} accepted")
        return receipt.code

    def check_guarantees(self, before: dict[str, bytes], after: dict[str, bytes]) -> None:
        h = self.t.h
        for key in after:
            if not key.startswith("guarantee/"):
                continue
            g = h.get(key)
            if g["claim"]:
                assert 0 < g["claim"]["amount_fen"] <= g["amount_fen"]
            if key in before and before[key] != after[key]:
                from ledger import encoding

                old = encoding.decode(before[key])
                assert old["status"] != "claimed", "a claimed guarantee changed"

    # --- rules ---

    # macro steps, so random sequences get through the whole lifecycle often enough
    @initialize(pre_bid=st.booleans())
    def maybe_everyone_bids(self, pre_bid: bool) -> None:
        if pre_bid:
            self.everyone_bids()

    @rule()
    def everyone_bids(self) -> None:
        for i, b in enumerate(self.bidders[:3]):
            self.send(b, "bid.submit", self.t.bid_args(b, 1000 + i, f"G-{b.name}-0"))

    @rule()
    def to_deadline(self) -> None:
        self.next_ms = max(self.next_ms, self.t.h.get("tender/T1")["deadline_ms"])

    @rule()
    def open_all(self) -> None:
        self.send(self.t.platform, "bid.open", {"tender_id": "T1", "slots": self.t.slots()})

    @rule()
    def everyone_reveals(self) -> None:
        for i in range(BIDDERS):
            self.reveal(i, False)

    def progress(self, phases: int) -> None:
        """Take the tender's next lawful step(s), so that random sequences reach every state."""
        for _ in range(phases):
            state = self.t.h.get("tender/T1")["state"]
            if state == "bidding":
                self.to_deadline()
                self.open_all()
            elif state == "decrypting":
                self.everyone_reveals()
                self.close()
            elif state == "opened":
                self.next_ms += 31 * MINUTE_MS
                self.evaluate(True)
            elif state == "evaluated":
                self.next_ms += 4 * DAY_MS
                self.award(0)
            elif state == "awarded":
                self.contract()
            elif state in ("contracted", "failed"):
                self.archive()

    @rule(phases=st.integers(1, 2))
    def progress_a(self, phases: int) -> None:
        self.progress(phases)

    @rule(phases=st.integers(1, 2))
    def progress_b(self, phases: int) -> None:
        self.progress(phases)

    @rule(phases=st.integers(1, 2))
    def progress_c(self, phases: int) -> None:
        self.progress(phases)

    @rule(step=st.sampled_from(STEPS_MS))
    def advance(self, step: int) -> None:
        self.next_ms += step

    @rule(i=st.integers(0, BIDDERS - 1), k=st.integers(0, 1), price=st.integers(0, 10**9))
    def submit(self, i: int, k: int, price: int) -> None:
        b = self.bidders[i]
        self.send(b, "bid.submit", self.t.bid_args(b, price, f"G-{b.name}-{k}"))

    @rule(i=st.integers(0, BIDDERS - 1), k=st.integers(0, 1), price=st.integers(0, 10**9))
    def replace(self, i: int, k: int, price: int) -> None:
        b = self.bidders[i]
        self.send(b, "bid.replace", self.t.bid_args(b, price, f"G-{b.name}-{k}"))

    @rule(i=st.integers(0, BIDDERS - 1))
    def withdraw(self, i: int) -> None:
        self.send(self.bidders[i], "bid.withdraw", self.t.lot_args(self.bidders[i]))

    @rule(drop=st.booleans())
    def open(self, drop: bool) -> None:
        slots = self.t.slots()
        if drop and slots[0]:
            slots = [slots[0][1:]]
        self.send(self.t.platform, "bid.open", {"tender_id": "T1", "slots": slots})

    @rule(i=st.integers(0, BIDDERS - 1), wrong=st.booleans())
    def reveal(self, i: int, wrong: bool) -> None:
        sealed = self.t.sealed.get((self.bidders[i].name, "T1", 1))
        if sealed is None:
            return
        args = sealed.reveal_args()
        if wrong:
            args["content_key"] = bytes(32)
        self.send(self.bidders[i], "bid.reveal", args)

    @rule()
    def close(self) -> None:
        self.send(self.t.platform, "bid.close", {"tender_id": "T1"})

    @rule(i=st.integers(0, BIDDERS - 1))
    def revoke(self, i: int) -> None:
        self.send(self.bidders[i], "bid.revoke", {"tender_id": "T1", "lot": 1})

    @rule(i=st.integers(0, BIDDERS - 1), stage=st.sampled_from(STAGES))
    def object(self, i: int, stage: str) -> None:
        args = {"tender_id": "T1", "stage": stage, "reason_hash": H32}
        self.send(self.bidders[i], "tender.object", args)

    @rule(n=st.integers(1, 3))
    def reply(self, n: int) -> None:
        self.send(self.t.tenderer, "tender.reply", {"tender_id": "T1", "n": n, "reply_hash": H32})

    @rule(n=st.integers(1, 3), upheld=st.booleans())
    def rule_on(self, n: int, upheld: bool) -> None:
        ruling = "upheld" if upheld else "dismissed"
        self.send(self.t.supervisor, "tender.rule", {"tender_id": "T1", "n": n, "ruling": ruling})

    @rule(suspend=st.booleans())
    def supervise(self, suspend: bool) -> None:
        call = "tender.suspend" if suspend else "tender.resume"
        self.send(self.t.supervisor, call, {"tender_id": "T1"})

    @rule(i=st.integers(0, BIDDERS - 1))
    def collusion(self, i: int) -> None:
        uscc = self.t.uscc_of[self.bidders[i].name]
        args = {"tender_id": "T1", "uscc": uscc, "evidence_hash": H32}
        self.send(self.t.supervisor, "tender.find_collusion", args)

    @rule(score_all=st.booleans())
    def evaluate(self, score_all: bool) -> None:
        """Draw a committee (the harness plays the validators' beacon), score every valid
        bid (or let only two members score: no majority, the round is redone), close, and
        have every counted member sign the report."""
        t = self.t
        if not t.expert_codes:
            t.register_experts(7)
        self.send(t.platform, "draw.request", t.draw_args())
        t.run_beacon()
        self.send(t.platform, "draw.seat", {"tender_id": "T1"})
        if t.h.get("tender/T1")["state"] != "evaluating":
            return
        t.to_evaluation_start()
        members = t.current_draw()["members"]
        opening = t.h.get("tender/T1/opening")
        valid = [b["uscc"] for b in opening["lots"][0]["bids"] if b["status"] == "revealed"]
        for member in members if score_all else members[:2]:
            for uscc in valid:
                sheet = {"tender_id": "T1", "lot": 1, "bidder": uscc, "points": {}}
                self.send(t.member_account(member), "evaluation.score", sheet)
        if not score_all:
            self.next_ms = max(self.next_ms, t.h.get("tender/T1")["evaluation_end_ms"])
        self.send(t.platform, "evaluation.close", {"tender_id": "T1"})
        self.send(t.platform, "evaluation.report", {"tender_id": "T1", "report_hash": H32})
        result = t.h.get(f"eval/T1/{t.h.get('tender/T1')['eval_round']}/result")
        by_name = {m["member"]: m for m in members}
        for name in result["counted"] if result else []:
            sign = {"tender_id": "T1", "report_hash": H32}
            self.send(t.member_account(by_name[name]), "evaluation.sign", sign)

    @rule(pick=st.integers(0, 3))
    def award(self, pick: int) -> None:
        tender = self.t.h.get("tender/T1")
        candidates = tender["lots"][0]["candidates"]
        winner = candidates[pick % len(candidates)] if candidates else ""
        self.send(self.t.tenderer, "tender.award", {"tender_id": "T1", "winners": [winner]})

    @rule()
    def contract(self) -> None:
        self.send(
            self.t.tenderer, "tender.record_contract", {"tender_id": "T1", "contract_hash": H32}
        )

    @rule()
    def archive(self) -> None:
        self.send(self.t.platform, "tender.archive", {"tender_id": "T1"})

    @rule(
        i=st.integers(0, BIDDERS - 1),
        k=st.integers(0, 1),
        reason=st.sampled_from(REASONS),
        amount=st.sampled_from([1, REQUIRED_FEN, REQUIRED_FEN + 1]),
    )
    def claim(self, i: int, k: int, reason: str, amount: int) -> None:
        args = {"number": f"G-{self.bidders[i].name}-{k}", "reason": reason, "amount_fen": amount}
        self.send(self.t.tenderer, "guarantee.claim", args)

    @rule(i=st.integers(0, BIDDERS - 1), k=st.integers(0, 1), by_bank=st.booleans())
    def release(self, i: int, k: int, by_bank: bool) -> None:
        acct = self.t.bank if by_bank else self.t.tenderer
        self.send(acct, "guarantee.release", {"number": f"G-{self.bidders[i].name}-{k}"})

    # --- invariants ---

    @invariant()
    def no_guarantee_bound_twice(self) -> None:
        bound: dict[str, str] = {}
        for key in self.t.h.state.values:
            if key.startswith("bid/T1/") and not key.startswith("bid/T1/guarantee/"):
                bid = self.t.h.get(key)
                number = bid["guarantee"]
                if number and bid["status"] != "withdrawn":
                    assert number not in bound, f"{number} backs two bids"
                    bound[number] = key
        opened = self.t.h.get("tender/T1/slots/1")
        bindings = [k for k in self.t.h.state.values if k.startswith("bid/T1/guarantee/")]
        if opened is None:  # sealed: no key derived from a guarantee's number moves
            assert not bindings, f"a binding shows before the opening: {bindings}"
            return
        for number, key in bound.items():
            slot = key.rsplit("/", 1)[1]
            if slot not in opened:
                continue
            g = self.t.guarantee(number)
            binding = self.t.binding(number)
            assert g["status"] != "issued" and binding is not None
            assert binding["slot"] == slot

    @invariant()
    def an_archived_tender_never_changes(self) -> None:
        tender = self.t.h.get("tender/T1")
        if tender is None or tender["state"] != "archived":
            return
        now = tender_keys(self.t.h.state.values)
        if self.archived_snapshot is None:
            self.archived_snapshot = now
        assert now.keys() == self.archived_snapshot.keys()
        for key, value in now.items():
            if value != self.archived_snapshot[key]:
                # the one write left: a guarantee never bound is released by hand
                old, new = encoding.decode(self.archived_snapshot[key]), encoding.decode(value)
                assert key.startswith("guarantee/") and old["status"] == "issued", key
                assert not self.t.binding(old["number"]), f"{key}: a bound guarantee changed"
                assert new["status"] == "released", key
                unchanged = {"status", "released_ms", "release_reason"}
                assert {k: v for k, v in old.items() if k not in unchanged} == {
                    k: v for k, v in new.items() if k not in unchanged
                }, key
                self.archived_snapshot[key] = value

    @precondition(lambda self: True)
    @rule()
    def replay_is_identical(self) -> None:
        replay = Harness(roles=ROLES)
        for txs, at_ms in self.t.blocks:
            replay.run_block(txs, at_ms=at_ms)
        assert replay.state.values == self.t.h.state.values
        suite = self.t.h.suite
        assert [r.hash(suite) for r in replay.receipts] == [
            r.hash(suite) for r in self.t.h.receipts
        ]


TradingMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_trading_invariants = TradingMachine.TestCase
