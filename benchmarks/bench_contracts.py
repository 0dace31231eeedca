"""Throughput of the trading contracts on one core, state writes included: bid submission
and opening, and the evaluation committee (draw and scoring).

    .venv/bin/python benchmarks/bench_contracts.py [--suite ed25519-sha256] [--bidders 250]
        [--lots 8] [--block-txs 500] [--part bids|committee|all] [--pool 10000]
        [--draws 20] [--members 9] [--scored-bids 50]

Set-up (not timed): a genesis with every role, ``--bidders`` attested entities, one tender
with ``--lots`` lots, one electronic guarantee per (bidder, lot), and ``bidders × lots``
sealed bids signed in advance (sealing and signing are the bidders' work, off chain).

Timed, in one run on one core:
1. ``bid.submit`` transactions executed through ``Executor.execute_block`` in blocks of
   ``--block-txs`` over an in-memory state, each block's writes applied (the full contract
   path: nonce, tender and lot checks, eligibility — attestation, freezes, credit records,
   qualifications —, the commitment recomputed, the guarantee's nine checks and binding, the
   bid record and set digest written). Signatures are NOT verified here: the node checks
   each once on entry to the pool (DESIGN.md).
2. ``bid.reveal`` (decrypt the summary on chain and check the hashes) for the same bids.
3. Baseline: the same number of transactions through a bare Executor with a no-op contract
   (nonce bookkeeping, dispatch, tx id hashing, receipts, the block overlay).

Committee part (``--part committee``), set-up untimed: ``--pool`` experts registered (a
third from another region, one in twenty employed by a bidder), ``--draws`` tenders opened
with 3 bids and one with ``--scored-bids`` bids, all cross-region with a scored method.
Timed per call: ``draw.request``, the validators' ``beacon.commit`` and ``beacon.reveal`` (as
``beacon_actions`` asks), ``draw.seat`` (the committee of ``--members`` from the pool, with
the quota and conflict checks), then ``--members × --scored-bids`` ``evaluation.score``
sheets and the ``evaluation.close`` that totals and ranks them — each next to the bare
runtime's µs per call measured in the same run. The machine's load average is printed.
Prints Markdown tables; ``--write`` also replaces the "Contracts" section of
``benchmarks/RESULTS.md`` (and only that section).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.beacon import beacon_actions  # noqa: E402
from contracts.bidder import agent_tx, enrol_args, seal_bid  # noqa: E402
from contracts.genesis import genesis_state  # noqa: E402
from contracts.periods import DAY_MS  # noqa: E402
from contracts.registry import default_executor  # noqa: E402
from contracts.runtime import BlockContext, Call, Contract, Executor  # noqa: E402
from contracts.scenario import actor_secret, bidder_secret, demo_uscc  # noqa: E402
from contracts.state import DictState, Overlay  # noqa: E402
from ledger import encoding  # noqa: E402
from ledger.block import Validator  # noqa: E402
from ledger.crypto import Suite, get_suite  # noqa: E402
from ledger.genesis import GenesisDoc  # noqa: E402
from ledger.tx import OK, SignedTx, TxBody, sign_tx  # noqa: E402

CHAIN = "bench-chain"
T0 = 1_709_254_800_000
ROLES = ("platform", "attestor", "guarantor", "supervisor", "credit_authority")


class Bench:
    def __init__(self, suite: Suite, bidders: int, lots: int, block_txs: int) -> None:
        self.suite = suite
        self.block_txs = block_txs
        self.keys = {r: actor_secret(suite, r) for r in ROLES}
        self.pub = {r: suite.public_key(s) for r, s in self.keys.items()}
        doc = GenesisDoc(
            chain_id=CHAIN,
            suite=suite.name,
            time_ms=T0,
            validators=tuple(
                Validator(f"v{i}", suite.public_key(actor_secret(suite, f"v{i}"))) for i in range(4)
            ),
            committee=[self.pub["supervisor"]],
            roles={r: [self.pub[r]] for r in ROLES},
            params={"bids_per_lot_max": 2000, "tender_lots_max": max(32, lots)},
        )
        self.state = DictState(genesis_state(doc))
        self.executor = default_executor()
        self.height = 0
        self.time_ms = T0
        self.nonces: dict[bytes, int] = {}
        self.slots: dict[int, list[bytes]] = {}  # the sealed bids' slots per lot
        self.bidders = [
            (demo_uscc(100 + i), actor_secret(suite, f"bidder{i}")) for i in range(bidders)
        ]
        self.lots = lots

    def attest_bidders(self) -> list[SignedTx]:
        """The attestor's attestation of every bidder, its key bound."""
        return [
            self.tx(self.keys["attestor"], "identity.attest", {
                "uscc": code, "name": f"bidder {i}", "entity_type": "company",
                "cert_issuer": "GDCA", "cert_serial": str(i), "valid_from_ms": T0 - DAY_MS,
                "valid_to_ms": T0 + 365 * DAY_MS, "keys": [self.suite.public_key(secret)]})
            for i, (code, secret) in enumerate(self.bidders)
        ]

    def enrol_bidders(self) -> list[SignedTx]:
        """Every bidder's enrolment of its bidder secret (after its attestation)."""
        return [self.tx(secret, "bid.enrol", enrol_args(self.suite, bidder_secret(code)))
                for code, secret in self.bidders]

    def tx(self, secret: bytes, call: str, args: dict[str, Any]) -> SignedTx:
        pub = self.suite.public_key(secret)
        nonce = self.nonces.get(pub, 0)
        self.nonces[pub] = nonce + 1
        return sign_tx(self.suite, secret, TxBody(CHAIN, pub, nonce, call, args))

    def run(self, txs: list[SignedTx], executor: Executor | None = None) -> None:
        for i in range(0, len(txs), self.block_txs):
            self.height += 1
            self.time_ms += 1000
            ctx = BlockContext(CHAIN, self.suite, self.height, self.time_ms)
            result = (executor or self.executor).execute_block(
                self.state, ctx, txs[i : i + self.block_txs]
            )
            self.state.apply(result.writes)
            bad = [r for r in result.receipts if r.code != OK]
            if bad:
                raise SystemExit(f"benchmark set-up failed: {bad[0].code} {bad[0].message}")

    def setup(self) -> tuple[list[SignedTx], list[SignedTx]]:
        k = self.keys
        attests = self.attest_bidders()
        tenderer = demo_uscc(1)
        self.deadline = T0 + 30 * DAY_MS
        announce = self.tx(
            k["platform"],
            "tender.announce",
            {
                "tender_id": "BENCH",
                "rules": "bidding-law",
                "kind": "works",
                "region": "441500",
                "tenderer": tenderer,
                "agent": "",
                "platform_uscc": demo_uscc(2),
                "related_parties": [],
                "doc_hash": bytes(32),
                "issue_start_ms": T0 + DAY_MS,  # never before the announcing block
                "doc_sale_end_ms": T0 + 6 * DAY_MS,
                "deadline_ms": self.deadline,
                "validity_days": 90,
                "qualifications": [],
                "lots": [
                    {"name": f"lot {j}", "estimated_price_fen": 10**9, "guarantee_fen": 10**6}
                    for j in range(1, self.lots + 1)
                ],
            },
        )
        self.run([*attests, announce])
        self.run(self.enrol_bidders())
        issues = [
            self.tx(
                k["guarantor"],
                "guarantee.issue",
                {
                    "number": f"G{i}-{lot}",
                    "principal": code,
                    "beneficiary": tenderer,
                    "tender_id": "BENCH",
                    "lot": lot,
                    "amount_fen": 10**6,
                    "valid_from_ms": T0,
                    "valid_to_ms": T0 + 400 * DAY_MS,
                    "file_hash": bytes(32),
                },
            )
            for i, (code, _) in enumerate(self.bidders)
            for lot in range(1, self.lots + 1)
        ]
        self.run(issues)
        bids, reveals = [], []
        for lot in range(1, self.lots + 1):
            for i, (code, secret) in enumerate(self.bidders):
                sealed = seal_bid(
                    self.suite, CHAIN, "BENCH", lot, code, f"file {i} {lot}".encode(), 10**8 + i,
                    bidder_secret(code),
                )
                self.slots.setdefault(lot, []).append(sealed.slot)
                bids.append(agent_tx(self.suite, CHAIN, secret, "bid.submit",
                                     sealed.submit_args(f"G{i}-{lot}")))
                reveals.append((secret, sealed.reveal_args()))
        return bids, [self.tx(s, "bid.reveal", a) for s, a in reveals]

    def open_all(self) -> None:
        slots = [
            sorted(self.slots[lot]) for lot in range(1, self.lots + 1)
        ]
        self.time_ms = self.deadline
        self.run(
            [self.tx(self.keys["platform"], "bid.open", {"tender_id": "BENCH", "slots": slots})]
        )


def noop(call: Call) -> None:
    """The baseline contract: does nothing (the runtime still bumps the nonce)."""


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(suite: Suite, opts: argparse.Namespace) -> list[str]:
    bench = Bench(suite, opts.bidders, opts.lots, opts.block_txs)
    t_setup = time.perf_counter()
    bids, reveals = bench.setup()
    setup_s = time.perf_counter() - t_setup
    n = len(bids)
    submit_s = timed(lambda: bench.run(bids))
    keys_after_bids = len(bench.state.values)
    bench.open_all()
    reveal_s = timed(lambda: bench.run(reveals))

    base = Bench(suite, 0, 1, opts.block_txs)
    baseline_exec = Executor([Contract("noop", {"noop": noop})])
    secrets = [sec for _, sec in bench.bidders] * opts.lots
    base_txs = [base.tx(sec, "noop.noop", {"i": i}) for i, sec in enumerate(secrets)]
    base_s = timed(lambda: base.run(base_txs, baseline_exec))

    rows = [
        ("`bid.submit` (sealed bid + guarantee bound), state writes applied", n / submit_s),
        ("`bid.reveal` (on-chain AEAD decrypt + hash checks), state writes applied", n / reveal_s),
        ("baseline: bare runtime, no-op contract", n / base_s),
    ]
    return [
        f"Suite `{suite.name}`: {n:,} transactions ({opts.bidders} bidders × {opts.lots} lots), "
        f"set-up {setup_s:.1f} s, {keys_after_bids:,} state keys after the bids.",
        "",
        "| path | tx/s |",
        "|---|---:|",
        *[f"| {name} | {value:,.0f} |" for name, value in rows],
        "",
        f"`bid.submit` runs at {base_s / submit_s * 100:.1f}% of the bare-runtime rate "
        f"({submit_s / n * 1e6:.0f} µs vs {base_s / n * 1e6:.0f} µs per transaction).",
        "",
    ]


# --- the committee: a draw from a large pool, and scoring (DOMAIN.md step 7) ---

SPECIALTY = "A010101"
METHOD = {
    "formula": "lowest_price_ratio",
    "price_points": 40,
    "criteria": [{"name": "technical", "max_points": 40}, {"name": "business", "max_points": 18}],
    "bonus": {"max_points": 2, "points": {"good_standing": 1, "award": 2}},
}


class CommitteeBench(Bench):
    """A pool of ``--pool`` experts (a third from other regions, one in twenty employed by a
    bidder), ``--draws`` opened tenders of 3 bids each and one of ``--scored-bids`` bids."""

    def __init__(self, suite: Suite, opts: argparse.Namespace) -> None:
        super().__init__(suite, max(opts.scored_bids, 3), 1, opts.block_txs)
        self.opts = opts
        self.keys["expert_pool"] = actor_secret(suite, "expert_pool")
        self.validator_secrets = [actor_secret(suite, f"v{i}") for i in range(4)]
        doc = GenesisDoc(
            chain_id=CHAIN,
            suite=suite.name,
            time_ms=T0,
            validators=tuple(
                Validator(f"v{i}", suite.public_key(s))
                for i, s in enumerate(self.validator_secrets)
            ),
            committee=[self.pub["supervisor"]],
            roles={r: [suite.public_key(self.keys[r])] for r in (*ROLES, "expert_pool")},
            params={"bids_per_lot_max": 2000, "committee_max_size": 25},
        )
        self.state = DictState(genesis_state(doc))
        self.expert_secrets: dict[str, bytes] = {}

    def build(self) -> None:
        """Untimed: attest bidders, register the pool, announce and open every tender."""
        k = self.keys
        self.run(self.attest_bidders())
        self.run(self.enrol_bidders())
        self.run([self._expert(i) for i in range(self.opts.pool)])
        tenders = [f"D{j}" for j in range(self.opts.draws)] + ["SCORED"]
        self.deadline = T0 + 30 * DAY_MS
        self.run([self._announce(t) for t in tenders])
        bidders_of = {t: self.bidders[:3] for t in tenders[:-1]}
        bidders_of["SCORED"] = self.bidders[: self.opts.scored_bids]
        sealed = {
            t: [
                (code, secret, seal_bid(self.suite, CHAIN, t, 1, code, b"f", 10**8 + i,
                                        bidder_secret(code)))
                for i, (code, secret) in enumerate(b)
            ]
            for t, b in bidders_of.items()
        }
        self.run(
            [
                agent_tx(self.suite, CHAIN, secret, "bid.submit", sb.submit_args())
                for t in tenders
                for _, secret, sb in sealed[t]
            ]
        )
        self.time_ms = self.deadline
        self.run(
            [
                self.tx(
                    k["platform"],
                    "bid.open",
                    {
                        "tender_id": t,
                        "slots": [
                            sorted(sb.slot for _, _, sb in sealed[t])
                        ],
                    },
                )
                for t in tenders
            ]
        )
        self.run(
            [
                self.tx(secret, "bid.reveal", sb.reveal_args())
                for t in tenders
                for _, secret, sb in sealed[t]
            ]
        )
        self.run([self.tx(k["platform"], "bid.close", {"tender_id": t}) for t in tenders])
        self.time_ms += 31 * 60_000

    def _expert(self, i: int) -> SignedTx:
        code = f"E{i:05d}"
        secret = actor_secret(self.suite, f"expert-{code}")
        self.expert_secrets[code] = secret
        employer = self.bidders[0][0] if i % 20 == 7 else demo_uscc(10_000 + i)
        return self.tx(
            self.keys["expert_pool"],
            "expert.register",
            {
                "code": code,
                "pubkey": self.suite.public_key(secret),
                "specialties": [SPECIALTY],
                "region": "441500" if i % 3 else "440300",
                "employer": employer,
            },
        )

    def _announce(self, tender_id: str) -> SignedTx:
        return self.tx(
            self.keys["platform"],
            "tender.announce",
            {
                "tender_id": tender_id,
                "rules": "bidding-law",
                "kind": "works",
                "region": "441500",
                "tenderer": demo_uscc(1),
                "agent": "",
                "platform_uscc": demo_uscc(2),
                "related_parties": [],
                "doc_hash": bytes(32),
                "issue_start_ms": T0 + DAY_MS,
                "doc_sale_end_ms": T0 + 6 * DAY_MS,
                "deadline_ms": self.deadline,
                "validity_days": 90,
                "qualifications": [],
                "lots": [{"name": "lot", "estimated_price_fen": 10**9, "guarantee_fen": 0}],
                "method": METHOD,
                "cross_region": True,
            },
        )

    def draw_txs(self, tenders: list[str]) -> list[SignedTx]:
        start = self.time_ms + 3_600_000
        return [
            self.tx(
                self.keys["platform"],
                "draw.request",
                {
                    "tender_id": t,
                    "evaluation_start_ms": start,
                    "evaluation_end_ms": start + DAY_MS,
                    "size": self.opts.members,
                    "groups": [{"specialty": SPECIALTY, "count": self.opts.members}],
                    "representatives": [],
                },
            )
            for t in tenders
        ]

    def beacon_txs(self) -> list[SignedTx]:
        """What ``beacon_actions`` tells each validator to send now."""
        get = Overlay(self.state).get
        return [
            self.tx(secret, call, args)
            for secret in self.validator_secrets
            for call, args in beacon_actions(
                get,
                CHAIN,
                self.suite,
                self.suite.public_key(secret),
                secret,
                self.height,
                self.time_ms,
            )
        ]

    def sheet_txs(self) -> list[SignedTx]:
        draw = encoding.decode(self.state.values["draw/SCORED/1"])
        txs = []
        for n, m in enumerate(draw["members"]):
            secret = self.expert_secrets[m["member"]]
            for i, (code, _) in enumerate(self.bidders[: self.opts.scored_bids]):
                points = {"technical": (i * 7 + n) % 41, "business": (i + n * 3) % 19}
                txs.append(
                    self.tx(
                        secret,
                        "evaluation.score",
                        {"tender_id": "SCORED", "lot": 1, "bidder": code, "points": points},
                    )
                )
        return txs


def timed_calls(bench: Bench, txs: list[SignedTx]) -> tuple[int, float]:
    return len(txs), timed(lambda: bench.run(txs))


def measure_committee(suite: Suite, opts: argparse.Namespace) -> list[str]:
    bench = CommitteeBench(suite, opts)
    setup_s = timed(bench.build)
    tenders = [f"D{j}" for j in range(opts.draws)]
    rows = [
        ("`draw.request` (opens a beacon request)", *timed_calls(bench, bench.draw_txs(tenders)))
    ]
    rows.append(
        ("`beacon.commit` (a validator's commitment)", *timed_calls(bench, bench.beacon_txs()))
    )
    rows.append(
        (
            "`beacon.reveal` (checked; the last one settles the seed)",
            *timed_calls(bench, bench.beacon_txs()),
        )
    )
    seats = [bench.tx(bench.keys["platform"], "draw.seat", {"tender_id": t}) for t in tenders]
    rows.append(
        (
            f"`draw.seat`: {opts.members} of a pool of {opts.pool:,}, quota and conflicts",
            *timed_calls(bench, seats),
        )
    )
    bench.run(bench.draw_txs(["SCORED"]))
    bench.run(bench.beacon_txs())
    bench.run(bench.beacon_txs())
    bench.run([bench.tx(bench.keys["platform"], "draw.seat", {"tender_id": "SCORED"})])
    bench.time_ms += 3_600_000
    rows.append(
        (
            f"`evaluation.score` ({opts.members} members × {opts.scored_bids} bids)",
            *timed_calls(bench, bench.sheet_txs()),
        )
    )
    close = [bench.tx(bench.keys["platform"], "evaluation.close", {"tender_id": "SCORED"})]
    rows.append(
        (
            f"`evaluation.close` (totals and ranking over "
            f"{opts.members * opts.scored_bids} sheets)",
            *timed_calls(bench, close),
        )
    )
    base = Bench(suite, 0, 1, opts.block_txs)
    n_base = 2000
    base_txs = [
        base.tx(bench.validator_secrets[i % 4], "noop.noop", {"i": i}) for i in range(n_base)
    ]
    base_s = timed(lambda: base.run(base_txs, Executor([Contract("noop", {"noop": noop})])))
    bare_us = base_s / n_base * 1e6
    lines = [
        f"Suite `{suite.name}`: pool {opts.pool:,} experts, {opts.draws} draws of "
        f"{opts.members} (cross-region), scoring {opts.members} × {opts.scored_bids}; "
        f"set-up {setup_s:.1f} s, {len(bench.state.values):,} state keys.",
        "",
        "| call | calls | µs per call | tx/s | × bare runtime |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, calls, seconds in [*rows, ("baseline: bare runtime, no-op contract", n_base, base_s)]:
        us = seconds / calls * 1e6
        lines.append(
            f"| {name} | {calls:,} | {us:,.0f} | {calls / seconds:,.0f} | {us / bare_us:,.1f} |"
        )
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="all", help="ed25519-sha256, sm2-sm3 or all")
    ap.add_argument("--bidders", type=int, default=250)
    ap.add_argument("--lots", type=int, default=8)
    ap.add_argument("--block-txs", type=int, default=500)
    ap.add_argument("--part", default="all", choices=["bids", "committee", "all"])
    ap.add_argument("--pool", type=int, default=10_000, help="experts in the pool")
    ap.add_argument("--draws", type=int, default=20, help="committees drawn (one per tender)")
    ap.add_argument("--members", type=int, default=9, help="committee size")
    ap.add_argument("--scored-bids", type=int, default=50, help="bids each member scores")
    ap.add_argument("--write", action="store_true")
    opts = ap.parse_args()
    names = ["ed25519-sha256", "sm2-sm3"] if opts.suite == "all" else [opts.suite]
    lines = [
        f"Blocks of {opts.block_txs} transactions through `Executor.execute_block` over an "
        "in-memory state (`DictState`), writes applied after each block, one process on one "
        "core. Signatures are not verified here (the node verifies each once at pool entry); "
        "sealing and signing are done in the untimed set-up.",
        "",
    ]
    for name in names:
        if opts.part in ("bids", "all"):
            lines += measure(get_suite(name), opts)
        if opts.part in ("committee", "all"):
            lines += measure_committee(get_suite(name), opts)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"Load average at the end of the run: {load} (2 cores, shared).")
    print("\n".join(lines))
    if opts.write:
        write_section(opts, "\n".join(lines))


def write_section(opts: argparse.Namespace, body: str) -> None:
    path = Path(__file__).resolve().parent / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    command = (
        f"Command: `.venv/bin/python benchmarks/bench_contracts.py --suite {opts.suite} "
        f"--bidders {opts.bidders} --lots {opts.lots} --block-txs {opts.block_txs}`"
    )
    section = f"## Contracts\n\n{command}\n\n{body}\n"
    start = text.find("## Contracts\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end:])
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
