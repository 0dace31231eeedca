"""Bid-submission throughput of the trading contracts on one core, state writes included.

    .venv/bin/python benchmarks/bench_contracts.py [--suite ed25519-sha256] [--bidders 250]
        [--lots 8] [--block-txs 500]

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
Prints a Markdown table; ``--write`` also replaces the "Contracts" section of
``benchmarks/RESULTS.md`` (and only that section).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts.bidder import seal_bid  # noqa: E402
from contracts.genesis import genesis_state  # noqa: E402
from contracts.periods import DAY_MS  # noqa: E402
from contracts.registry import default_executor  # noqa: E402
from contracts.runtime import BlockContext, Call, Contract, Executor  # noqa: E402
from contracts.scenario import actor_secret, bid_slot, demo_uscc  # noqa: E402
from contracts.state import DictState  # noqa: E402
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
        self.bidders = [
            (demo_uscc(100 + i), actor_secret(suite, f"bidder{i}")) for i in range(bidders)
        ]
        self.lots = lots

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
        attests = [
            self.tx(
                k["attestor"],
                "identity.attest",
                {
                    "uscc": code,
                    "name": f"bidder {i}",
                    "entity_type": "company",
                    "cert_issuer": "GDCA",
                    "cert_serial": str(i),
                    "valid_from_ms": T0 - DAY_MS,
                    "valid_to_ms": T0 + 365 * DAY_MS,
                    "keys": [self.suite.public_key(secret)],
                },
            )
            for i, (code, secret) in enumerate(self.bidders)
        ]
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
                "issue_start_ms": T0,
                "doc_sale_end_ms": T0 + 5 * DAY_MS,
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
                    self.suite, CHAIN, "BENCH", lot, code, f"file {i} {lot}".encode(), 10**8 + i
                )
                bids.append(self.tx(secret, "bid.submit", sealed.submit_args(f"G{i}-{lot}")))
                reveals.append((secret, sealed.reveal_args()))
        return bids, [self.tx(s, "bid.reveal", a) for s, a in reveals]

    def open_all(self) -> None:
        slots = [
            sorted(bid_slot(self.suite, CHAIN, "BENCH", lot, code) for code, _ in self.bidders)
            for lot in range(1, self.lots + 1)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="all", help="ed25519-sha256, sm2-sm3 or all")
    ap.add_argument("--bidders", type=int, default=250)
    ap.add_argument("--lots", type=int, default=8)
    ap.add_argument("--block-txs", type=int, default=500)
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
        lines += measure(get_suite(name), opts)
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
