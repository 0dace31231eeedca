"""Shared set-up for the trading contract tests: a harness with every role, attested
bidders, a standard tender, sealed bids and guarantees, an expert pool, the validators'
beacon (the harness plays the validators), a drawn committee and its score sheets."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.beacon import beacon_actions
from contracts.bidder import SealedBid, enrol_args, open_slots, seal_bid
from contracts.guarantee import binding_key, status_of
from contracts.periods import DAY_MS, MINUTE_MS, ms_of_beijing
from contracts.uscc import check_char
from ledger.tx import Receipt, SignedTx
from tests.contract_harness import GENESIS_MS as GENESIS_MS  # re-exported for the tests
from tests.contract_harness import Account, Harness

ROLES = {
    "platform": ["platform"],
    "attestor": ["attestor"],
    "guarantor": ["bank"],
    "supervisor": ["supervisor"],
    "credit_authority": ["bureau"],
    "expert_pool": ["pool"],
    "supermarket_admin": ["market"],
}
SPECIALTY = "A010101"  # 房屋建筑 (the tender's specialty in these tests)
OTHER_REGION = "440300"
# 2024-03-01 12:00 Beijing: after the harness's first blocks (the issue start is never
# before the announcing block), still on the genesis day
ISSUE_MS = ms_of_beijing(2024, 3, 1, 12, 0)
DEADLINE_MS = ms_of_beijing(2024, 3, 21, 9, 30)  # 20 days after the issue day
SALE_END_MS = ms_of_beijing(2024, 3, 6, 17, 0)
VALIDITY_DAYS = 90
PRICE_FEN = 1_000_000_000  # 10 million yuan estimated: 2% is 200,000 yuan
REQUIRED_FEN = 10_000_000  # 100,000 yuan required per lot
REGION = "441500"
H32 = bytes(range(32))


def uscc(n: int) -> str:
    first = f"91441500MA{n:07d}"
    return first + check_char(first)


class Trading:
    """One chain with a platform, attestor, bank, supervisor, bureau and named bidders."""

    def __init__(
        self,
        suite_name: str = "ed25519-sha256",
        params: Mapping[str, int | str] | None = None,
        demo: bool = False,
    ) -> None:
        self.h = Harness(suite_name, params=params, roles=ROLES, demo=demo)
        h = self.h
        # every block run, so a test can replay the same transactions on a fresh state
        self.blocks: list[tuple[list[SignedTx], int]] = []
        run_block = h.run_block

        def recording_run_block(txs: Sequence[SignedTx], at_ms: int | None = None) -> list[Receipt]:
            ctx_ms = h.context(at_ms).time_ms
            receipts = run_block(txs, at_ms)
            self.blocks.append((list(txs), ctx_ms))
            return receipts

        h.run_block = recording_run_block  # type: ignore[method-assign]
        self.platform = h.account("platform")
        self.attestor = h.account("attestor")
        self.bank = h.account("bank")
        self.supervisor = h.account("supervisor")
        self.bureau = h.account("bureau")
        self.pool = h.account("pool")
        self.expert_codes: list[str] = []
        self.uscc_of: dict[str, str] = {}
        self.sealed: dict[tuple[str, str, int], SealedBid] = {}
        self.tenderer = self.entity("tenderer", 1)
        self.operator_uscc = uscc(2)
        self._next = 10

    def entity(self, name: str, n: int | None = None) -> Account:
        """An attested entity with one bound key."""
        if n is None:
            n = self._next
            self._next += 1
        acct = self.h.account(name)
        code = uscc(n)
        self.uscc_of[name] = code
        self.h.expect_ok(
            self.attestor,
            "identity.attest",
            {
                "uscc": code,
                "name": name,
                "entity_type": "company",
                "cert_issuer": "GDCA",
                "cert_serial": f"S{n}",
                "valid_from_ms": GENESIS_MS - DAY_MS,
                "valid_to_ms": GENESIS_MS + 1000 * DAY_MS,
                "keys": [acct.pubkey],
            },
        )
        self.h.expect_ok(acct, "bid.enrol", enrol_args(self.h.suite, self.bid_secret(name)))
        return acct

    @staticmethod
    def bid_secret(name: str) -> bytes:
        """The entity's bidder secret (``bid.enrol``): fixed per name, for replayable tests."""
        return hashlib.sha256(f"test-bidder-secret/{name}".encode()).digest()

    def bidders(self, count: int) -> list[Account]:
        return [self.entity(f"bidder{i}") for i in range(count)]

    def credit(self, name: str, kind: str, **over: Any) -> Receipt:
        args: dict[str, Any] = {
            "uscc": self.uscc_of[name],
            "kind": kind,
            "document_no": f"DOC-{name}-{kind}-{len(self.h.receipts)}",
            "basis": "test",
            "scope_kinds": ["*"],
            "scope_regions": ["*"],
            "from_ms": GENESIS_MS - DAY_MS,
            "to_ms": GENESIS_MS + 400 * DAY_MS,
            "evidence_hash": H32,
        }
        args.update(over)
        return self.h.expect_ok(self.bureau, "credit.record", args)

    def announce_args(
        self, tender_id: str = "T1", lot_count: int = 1, **over: Any
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "tender_id": tender_id,
            "rules": "bidding-law",
            "kind": "works",
            "region": REGION,
            "tenderer": self.uscc_of["tenderer"],
            "agent": "",
            "platform_uscc": self.operator_uscc,
            "related_parties": [uscc(3)],
            "doc_hash": H32,
            "issue_start_ms": ISSUE_MS,
            "doc_sale_end_ms": SALE_END_MS,
            "deadline_ms": DEADLINE_MS,
            "validity_days": VALIDITY_DAYS,
            "qualifications": [],
            "lots": [
                {
                    "name": f"lot {i}",
                    "estimated_price_fen": PRICE_FEN,
                    "guarantee_fen": REQUIRED_FEN,
                }
                for i in range(1, lot_count + 1)
            ],
        }
        args.update(over)
        return args

    def announce(self, tender_id: str = "T1", lot_count: int = 1, **over: Any) -> Receipt:
        return self.h.expect_ok(
            self.platform, "tender.announce", self.announce_args(tender_id, lot_count, **over)
        )

    def guarantee_args(self, number: str, principal: str, /, **over: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "number": number,
            "principal": self.uscc_of[principal],
            "beneficiary": self.uscc_of["tenderer"],
            "tender_id": "T1",
            "lot": 1,
            "amount_fen": REQUIRED_FEN,
            "valid_from_ms": GENESIS_MS,
            "valid_to_ms": DEADLINE_MS + 200 * DAY_MS,
            "file_hash": H32,
        }
        args.update(over)
        return args

    def issue(self, number: str, principal: str, /, **over: Any) -> Receipt:
        return self.h.expect_ok(
            self.bank, "guarantee.issue", self.guarantee_args(number, principal, **over)
        )

    def seal(self, who: Account, price_fen: int, tender_id: str = "T1", lot: int = 1) -> SealedBid:
        sealed = seal_bid(
            self.h.suite,
            self.h.chain_id,
            tender_id,
            lot,
            self.uscc_of[who.name],
            f"bid file of {who.name} at {price_fen}".encode(),
            price_fen,
            self.bid_secret(who.name),
            {"duration_days": 300},
        )
        self.sealed[(who.name, tender_id, lot)] = sealed
        return sealed

    def lot_args(self, who: Account, tender_id: str = "T1", lot: int = 1) -> dict[str, Any]:
        """Arguments of ``bid.withdraw``: the lot and the bidder's secret."""
        return {"tender_id": tender_id, "lot": lot, "bid_secret": self.bid_secret(who.name)}

    def bid_args(
        self, who: Account, price_fen: int, guarantee: str = "", tender_id: str = "T1", lot: int = 1
    ) -> dict[str, Any]:
        return self.seal(who, price_fen, tender_id, lot).submit_args(guarantee)

    def bid(
        self, who: Account, price_fen: int, guarantee: str | None = None, lot: int = 1
    ) -> SealedBid:
        """Issue a guarantee (unless given) and submit a sealed bid; returns what was sealed."""
        if guarantee is None:
            guarantee = f"G-{who.name}-{lot}"
            self.issue(guarantee, who.name, lot=lot)
        args = self.bid_args(who, price_fen, guarantee, lot=lot)
        self.h.expect_ok(who, "bid.submit", args)
        return self.sealed[(who.name, "T1", lot)]

    def slots(self, tender_id: str = "T1", lots: int = 1) -> list[list[bytes]]:
        return open_slots(self.h.state.values, tender_id, lots)

    def open(self, tender_id: str = "T1", lots: int = 1) -> Receipt:
        return self.h.expect_ok(
            self.platform,
            "bid.open",
            {"tender_id": tender_id, "slots": self.slots(tender_id, lots)},
            at_ms=max(DEADLINE_MS, self.h.time_ms + 1000),
        )

    def reveal(self, who: Account, tender_id: str = "T1", lot: int = 1) -> Receipt:
        return self.h.expect_ok(
            who, "bid.reveal", self.sealed[(who.name, tender_id, lot)].reveal_args()
        )

    def close(self, tender_id: str = "T1") -> Receipt:
        return self.h.expect_ok(self.platform, "bid.close", {"tender_id": tender_id})

    def tender(self, tender_id: str = "T1") -> dict[str, Any]:
        value = self.h.get(f"tender/{tender_id}")
        assert isinstance(value, dict)
        return value

    def guarantee(self, number: str) -> dict[str, Any]:
        """The guarantee's public record, with ``status`` as the contract sees it ("bound"
        while its sealed binding record exists)."""
        value = self.h.get(f"guarantee/{number}")
        assert isinstance(value, dict)
        return {**value, "status": status_of(self.h.state, value)}

    def binding(self, number: str) -> dict[str, Any] | None:
        g = self.h.get(f"guarantee/{number}")
        found = self.h.get(binding_key(g["tender_id"], number))
        return found if isinstance(found, dict) else None

    def through_opening(self, count: int = 3, prices: list[int] | None = None) -> list[Account]:
        """Announce, ``count`` bids, open, every bidder reveals, close; returns the bidders."""
        self.announce()
        bidders = self.bidders(count)
        for i, b in enumerate(bidders):
            self.bid(b, (prices or [900_000_000 + i * 1000 for i in range(count)])[i])
        self.open()
        for b in bidders:
            self.reveal(b)
        self.close()
        return bidders

    def through_evaluation(self, count: int = 3) -> list[Account]:
        """Through opening, then a committee of 5 drawn from 7 experts scores every bid
        (price only: the lowest price ranks first), the report is signed: publicity runs."""
        bidders = self.through_opening(count)
        self.h.advance(ms=31 * MINUTE_MS)
        self.register_experts(7)
        self.draw(5)
        self.score_all()
        self.close_evaluation()
        self.report_and_sign()
        return bidders

    def through_award(self, count: int = 3) -> list[Account]:
        bidders = self.through_evaluation(count)
        self.h.advance(days=4)
        self.h.expect_ok(
            self.platform,
            "tender.award",
            {"tender_id": "T1", "winners": [self.uscc_of[bidders[0].name]]},
        )
        return bidders

    # --- the expert pool, the beacon and the committee (DOMAIN.md step 7) ---

    def expert(self, code: str) -> Account:
        return self.h.account(f"expert-{code}")

    def register_experts(
        self, count: int, region: str = REGION, specialty: str = SPECIALTY, **over: Any
    ) -> list[str]:
        """Register ``count`` experts (codes E0001…); returns their codes."""
        codes = []
        for _ in range(count):
            code = f"E{len(self.expert_codes) + 1:04d}"
            args: dict[str, Any] = {
                "code": code,
                "pubkey": self.expert(code).pubkey,
                "specialties": [specialty],
                "region": region,
                "employer": uscc(900 + len(self.expert_codes)),
            }
            args.update(over)
            self.h.expect_ok(self.pool, "expert.register", args)
            self.expert_codes.append(code)
            codes.append(code)
        return codes

    def validator_accounts(self) -> list[Account]:
        return [self.h.account(v.name) for v in self.h.validators]

    def run_beacon(self, silent: Sequence[str] = ()) -> int:
        """Act as the validators (``silent`` ones never send): send what ``beacon_actions``
        says until nobody has anything to send; returns how many transactions were sent."""
        h = self.h
        sent = 0
        while True:
            round_sent = 0
            for v in self.validator_accounts():
                if v.name in silent:
                    continue
                for call, args in beacon_actions(
                    h.get, h.chain_id, h.suite, v.pubkey, v.secret, h.height, h.time_ms
                ):
                    h.expect_ok(v, call, args)
                    round_sent += 1
            if round_sent == 0:
                return sent
            sent += round_sent

    def draw_args(
        self, size: int = 5, count: int | None = None, reps: Sequence[bytes] = (), **over: Any
    ) -> dict[str, Any]:
        start = self.h.time_ms + DAY_MS // 2
        args: dict[str, Any] = {
            "tender_id": "T1",
            "evaluation_start_ms": start,
            "evaluation_end_ms": start + DAY_MS,
            "size": size,
            "groups": [{"specialty": SPECIALTY, "count": size if count is None else count}],
            "representatives": list(reps),
        }
        args.update(over)
        return args

    def draw(self, size: int = 5, **over: Any) -> dict[str, Any]:
        """Request a draw, run the beacon, seat the committee; returns the draw record."""
        self.h.expect_ok(self.platform, "draw.request", self.draw_args(size, **over))
        self.run_beacon()
        self.h.expect_ok(self.platform, "draw.seat", {"tender_id": "T1"})
        return self.current_draw()

    def current_draw(self, tender_id: str = "T1") -> dict[str, Any]:
        tender = self.tender(tender_id)
        value = self.h.get(f"draw/{tender_id}/{tender['eval_round']}")
        assert isinstance(value, dict)
        return value

    def member_account(self, member: dict[str, Any]) -> Account:
        if member["kind"] == "expert":
            return self.expert(member["member"])
        (acct,) = [a for a in self.h._accounts.values() if a.pubkey == member["key"]]
        return acct

    def to_evaluation_start(self) -> None:
        start = self.tender()["evaluation_start_ms"]
        self.h.time_ms = max(self.h.time_ms, start)

    def score_all(
        self, points: Any = None, members: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Every member (or those given) scores every valid bid; ``points(member, uscc)``
        gives a sheet's points (default: none, for a price-only method)."""
        self.to_evaluation_start()
        opening = self.h.get("tender/T1/opening")
        for member in members if members is not None else self.current_draw()["members"]:
            acct = self.member_account(member)
            for lot in opening["lots"]:
                for bid in lot["bids"]:
                    if bid["status"] != "revealed":
                        continue
                    sheet = {} if points is None else points(member["member"], bid["uscc"])
                    self.h.expect_ok(
                        acct,
                        "evaluation.score",
                        {"tender_id": "T1", "lot": lot["lot"], "bidder": bid["uscc"],
                         "points": sheet},
                    )

    def close_evaluation(self) -> Receipt:
        return self.h.expect_ok(self.platform, "evaluation.close", {"tender_id": "T1"})

    def report_and_sign(self, report_hash: bytes = H32) -> None:
        self.h.expect_ok(
            self.platform, "evaluation.report", {"tender_id": "T1", "report_hash": report_hash}
        )
        result = self.h.get(f"eval/T1/{self.tender()['eval_round']}/result")
        members = {m["member"]: m for m in self.current_draw()["members"]}
        for name in result["counted"]:
            self.h.expect_ok(
                self.member_account(members[name]),
                "evaluation.sign",
                {"tender_id": "T1", "report_hash": report_hash},
            )
