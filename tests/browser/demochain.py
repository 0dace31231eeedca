"""Test support: a demo chain built in seconds and served by a real node, for the portal tests.

``build_demo_chain(suite_name)`` runs the whole trading story (``contracts.scenario``) through
real blocks — proposed by ``ChainApp``, certified by the one validator's QC, committed to a
``shell.chain.Chain`` — at synthetic block times in the recent past (the story's 21 demo
days pass in no time), then adds what the pages must also show: an entity and a credit
record whose text is markup (``<script>``: it must be shown as text), and a tender still
open for bids, with three sealed bids and their guarantees, whose deadline is an hour
ahead in real time, beside a tender alike in all but its id that has no bid at all (the
portal must show the two alike). ``serve(demo)`` starts a one-validator ``Node`` on that
chain on a free loopback port (real HTTP, real portal, new blocks at real time) from its own
thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.api import ReplicaConfig
from contracts.bidder import seal_bid
from contracts.periods import DAY_MS
from contracts.scenario import ENTITIES, run_scenario
from contracts.scenario_kit import (
    SCENARIO_PARAMS,
    _Story,
    actor_secret,
    bidder_secret,
    demo_uscc,
    scenario_roles,
    validator_beacon_hook,
)
from ledger.block import QC, Validator, commit_vote_bytes
from ledger.crypto import get_suite
from ledger.encoding import decode_trusted
from ledger.genesis import Anchor, GenesisDoc
from ledger.kv import MemoryKV
from ledger.tx import Receipt, SignedTx
from shell.chain import Chain
from shell.config import NodeConfig, NodeLimits
from shell.server import Node

CHAIN_ID = "portal-demo"
XSS_NAME = '<script>window.__pwned = 1</script> 某<b>公司</b>'
XSS_BASIS = '<img src=x onerror="window.__pwned = 2"> & "quoted"'


class ChainClient:
    """``contracts.scenario.ScenarioClient`` over a real chain: each submit is one block,
    proposed by the application, certified by the only validator, committed."""

    def __init__(self, chain: Chain, secret: bytes, start_ms: int) -> None:
        self.chain = chain
        self.suite = chain.suite
        self.chain_id = chain.chain_id
        self._secret = secret
        self.time_ms = start_ms

    def submit(self, tx: SignedTx) -> Receipt:
        self.time_ms += 500
        store = self.chain.store
        parent = store.head_header()
        block = self.chain.app.propose(parent, parent.height + 1, 0, 0, self.time_ms, (tx,))
        block_hash = block.hash(self.suite)
        vote = self.suite.sign(self._secret, commit_vote_bytes(
            self.chain_id, block.header.height, 0, block_hash))
        receipts = self.chain.commit(block, QC(block.header.height, 0, block_hash, ((0, vote),)))
        if len(receipts) != 1:
            raise AssertionError("the transaction was left out of its block")
        return receipts[0]

    def now_ms(self) -> int:
        return self.time_ms

    def wait_until(self, t_ms: int) -> None:
        self.time_ms = max(self.time_ms, t_ms)

    def nonce_of(self, pubkey: bytes) -> int:
        return self.chain.committed_nonce(pubkey)


@dataclass
class DemoChain:
    chain: Chain
    doc: GenesisDoc
    secret: bytes
    anchor: Anchor
    summary: dict[str, Any]
    open_tender: str
    open_bidders: list[str]
    empty_tender: str
    xss_uscc: str
    extra: dict[str, Any] = field(default_factory=dict)


def build_demo_chain(suite_name: str = "ed25519-sha256") -> DemoChain:
    suite = get_suite(suite_name)
    secret = actor_secret(suite, "portal-validator")
    start = time.time_ns() // 1_000_000 - 2 * DAY_MS
    doc = GenesisDoc(chain_id=CHAIN_ID, suite=suite_name, time_ms=start,
                     validators=(Validator("v0", suite.public_key(secret)),),
                     committee=[suite.public_key(actor_secret(suite, "c0"))],
                     roles=scenario_roles(suite), params=dict(SCENARIO_PARAMS), demo=True)
    chain = Chain.open(MemoryKV(), doc)
    assert chain.votes_are_mine(suite.public_key(secret))  # a store this node created
    client = ChainClient(chain, secret, start)

    def read_state(key: str) -> Any:
        raw = chain.state_value(key)
        return None if raw is None else decode_trusted(raw)

    # The one validator plays its part in the committee draw's beacon.
    hook = validator_beacon_hook(client, read_state, chain.height, [secret])
    summary = run_scenario(client, lambda _line: None, beacon_hook=hook)
    story = _Story(client, lambda _line: None, {})
    uscc = summary["uscc"]
    xss = demo_uscc(99)
    t0 = client.now_ms()
    story.send("attestor", "identity.attest", {
        "uscc": xss, "name": XSS_NAME, "entity_type": "company", "cert_issuer": "<CA>",
        "cert_serial": "x", "valid_from_ms": t0 - DAY_MS, "valid_to_ms": t0 + 365 * DAY_MS,
        "keys": [story.actor("xss").pubkey]})
    story.send("bureau", "credit.record", {
        "uscc": xss, "kind": "serious_breach", "document_no": "DOC-<1>", "basis": XSS_BASIS,
        "scope_kinds": ["*"], "scope_regions": ["441502"], "from_ms": t0 - DAY_MS,
        "to_ms": t0 + 400 * DAY_MS, "evidence_hash": bytes(32)})
    extra = _credit_history(story, uscc, t0)
    open_tender, empty_tender, bidders = _open_tenders(client, story, uscc)
    genesis = chain.store.header(0)
    assert genesis is not None
    anchor = Anchor.of(suite, genesis, doc.validators)
    return DemoChain(chain, doc, secret, anchor, summary, open_tender, bidders, empty_tender,
                     xss, extra)


def _credit_history(story: _Story, uscc: dict[str, str], t0: int) -> dict[str, Any]:
    """Records in force and not: a qualification, a reward and a general breach in force, a
    sanction repaired, one expired (so pages and the exposure list must tell them apart)."""

    def record(who: str, kind: str, from_ms: int, to_ms: int, **more: Any) -> str:
        receipt = story.send("bureau", "credit.record", {
            "uscc": uscc[who], "kind": kind, "document_no": f"DOC-{kind}-{who}-{t0}",
            "basis": f"{kind} (demo)", "scope_kinds": ["*"], "scope_regions": ["*"],
            "from_ms": from_ms, "to_ms": to_ms, "evidence_hash": bytes(32), **more})
        return receipt.tx_id.hex()

    qualification = record("a", "qualification", t0 - DAY_MS, t0 + 365 * DAY_MS,
                           category="建筑工程施工总承包", level=3)
    reward = record("b", "good_standing", t0 - DAY_MS, t0 + 365 * DAY_MS)
    repaired = record("d", "serious_breach", t0 - DAY_MS, t0 + 365 * DAY_MS)
    story.send("bureau", "credit.repair", {"id": repaired, "decision_no": "REPAIR-1",
                                           "basis": "整改完成", "evidence_hash": bytes(32)})
    expired = record("f", "tax_violation", t0 - 400 * DAY_MS, t0 - 10 * DAY_MS)
    # in force and neither a qualification, a reward nor a sanction (user walk: such a
    # record was filed under "ended")
    breach = record("f", "general_breach", t0 - DAY_MS, t0 + 90 * DAY_MS)
    return {"qualification": qualification, "reward": reward, "repaired": repaired,
            "expired": expired, "general_breach": breach}


def _open_tenders(client: ChainClient, story: _Story, uscc: dict[str, str],
                  ) -> tuple[str, str, list[str]]:
    """Two tenders taking bids for another hour of real time, alike but for their ids: the
    first gets three sealed bids, the second none. Both are amended, objected to (the
    supervisor dismisses it), suspended and resumed before the bids."""
    suite, chain = client.suite, client.chain_id
    issue = client.now_ms() + 10_000  # after the announcing blocks
    deadline = time.time_ns() // 1_000_000 + 3_600_000
    tender_id, empty_id = f"SW-OPEN-{issue}", f"SW-NONE-{issue}"
    for tid in (tender_id, empty_id):
        story.send("platform", "tender.announce", {
            "tender_id": tid, "rules": "bidding-law", "kind": "goods", "region": "441500",
            "tenderer": uscc["tenderer"], "agent": "", "platform_uscc": uscc["operator"],
            "related_parties": [], "doc_hash": suite.hash(b"open tender documents"),
            "issue_start_ms": issue, "doc_sale_end_ms": issue + 5 * 2_000,
            "deadline_ms": deadline, "validity_days": 60, "qualifications": [],
            "lots": [{"name": "办公设备采购 <i>lot</i>", "estimated_price_fen": 100_000_000,
                      "guarantee_fen": 1_000_000}]})
    client.wait_until(issue)
    for tid in (tender_id, empty_id):  # what the documents went through, alike on both
        story.send("platform", "tender.amend", {"tender_id": tid, "affects_bids": False,
                                                "doc_hash": suite.hash(b"documents v2")})
        story.send("d", "tender.object", {"tender_id": tid, "stage": "documents",
                                          "reason_hash": suite.hash(b"a question")})
        story.send("supervisor", "tender.rule", {"tender_id": tid, "n": 1,
                                                 "ruling": "dismissed"})
        story.send("supervisor", "tender.suspend", {"tender_id": tid})
        story.send("supervisor", "tender.resume", {"tender_id": tid})
    bidders = ["a", "b", "c"]
    for name in bidders:
        number = f"BG-OPEN-{issue}-{name}"
        story.send("bank", "guarantee.issue", {
            "number": number, "principal": uscc[name], "beneficiary": uscc["tenderer"],
            "tender_id": tender_id, "lot": 1, "amount_fen": 1_000_000,
            "valid_from_ms": issue - DAY_MS, "valid_to_ms": issue + 400 * DAY_MS,
            "file_hash": suite.hash(number.encode())})
        sealed = seal_bid(suite, chain, tender_id, 1, uscc[name], f"open bid {name}".encode(),
                          90_000_000, bidder_secret(name))  # enrolled in the story
        story.send(name, "bid.submit", sealed.submit_args(number))
    # A guarantee no bid binds, for the tender without bids: its page must read like a bound
    # one's (the binding is sealed with the bids).
    number = f"BG-NONE-{issue}-d"
    story.send("bank", "guarantee.issue", {
        "number": number, "principal": uscc["d"], "beneficiary": uscc["tenderer"],
        "tender_id": empty_id, "lot": 1, "amount_fen": 1_000_000,
        "valid_from_ms": issue - DAY_MS, "valid_to_ms": issue + 400 * DAY_MS,
        "file_hash": suite.hash(number.encode())})
    return tender_id, empty_id, [uscc[n] for n in bidders]


def entity_name(name: str) -> str:
    return ENTITIES[name][1]


@dataclass
class Served:
    url: str
    node: Node
    demo: DemoChain
    anchor_path: Path


@contextmanager
def serve(demo: DemoChain, anchor_path: Path, limits: NodeLimits | None = None,
          replica: ReplicaConfig | None = None) -> Iterator[Served]:
    """The demo chain behind a real one-validator node's HTTP API on a free port."""
    demo.anchor.save(anchor_path)
    config = NodeConfig(index=0, name="v0", key_file=Path("unused"), passphrase_env=None,
                        passphrase_file=None, host="127.0.0.1", peer_host="127.0.0.1",
                        http_host="127.0.0.1", peer_port=0, http_port=0,
                        peers=(), data_dir=Path("unused"), genesis_file=Path("unused"),
                        limits=limits or NodeLimits(tick_ms=10),
                        replica=replica or ReplicaConfig(empty_block_ticks=100))
    node = Node(config, demo.chain, demo.secret)
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    stop = asyncio.Event()

    async def run() -> None:
        await node.start()
        ready["url"] = f"http://127.0.0.1:{node.http_port()}"
        await stop.wait()
        await node.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while "url" not in ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "url" in ready, "the node did not start"
    try:
        yield Served(ready["url"], node, demo, anchor_path)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
