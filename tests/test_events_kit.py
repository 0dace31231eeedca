"""Helpers of the event-stream tests (no tests here): a chain whose blocks come at chosen
times, the trading transactions of a tender story, and an oracle that reads the expected
stream straight from the blocks, written independently of ``shell.events``.

- ``SynthChain``: a one-validator ``shell.chain.Chain`` on a MemoryKV; ``run(txs, at_ms)``
  proposes, certifies and commits one block through the real application and store, then
  feeds the hub's commit observer, as the node's driver does. Real statutory periods
  (``demo_day_ms`` 0): time is whatever the test says, so a 21-day tender takes no time.
- ``Story``: signed transactions of the actors of ``contracts.scenario`` (keys from names).
- ``expected_items(store, offsets)``: the items a public stream must show, from the blocks
  (``bid.*`` before its tender's deadline left out, ranks counted, notices by brute force).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from contracts.bidder import SealedBid, agent_tx, enrol_args, seal_bid
from contracts.disclosure import PUBLIC, tx_disclosed
from contracts.periods import DAY_MS, ms_of_beijing
from contracts.scenario import actor_secret, bidder_secret, demo_uscc, scenario_roles
from contracts.sealing import aead_spec
from ledger.block import QC, Block, Validator, commit_vote_bytes
from ledger.crypto import ED25519_SHA256
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block
from ledger.jsonform import tagged_to_json
from ledger.kv import MemoryKV
from ledger.store import BlockStore
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx
from shell.chain import Chain, StateAt
from shell.config import StreamSettings
from shell.eventkit import Filter, Item, end_key
from shell.events import EventHub, Walk
from shell.metrics import Metrics

SUITE = ED25519_SHA256
CHAIN_ID = "events-test"
T0 = ms_of_beijing(2024, 3, 1, 9, 0)
VALIDATOR = actor_secret(SUITE, "v0")
REGION = "441502"
BIDDERS = ("a", "b", "c", "d")
ENTITY_SERIAL = {"tenderer": 1, "operator": 2, "a": 11, "b": 12, "c": 13, "d": 14}


def genesis(params: dict[str, int | str] | None = None, time_ms: int = T0) -> GenesisDoc:
    """The test chain's genesis; a demonstration chain when ``params`` shorten the days."""
    return GenesisDoc(chain_id=CHAIN_ID, suite=SUITE.name, time_ms=time_ms,
                      validators=(Validator("v0", SUITE.public_key(VALIDATOR)),),
                      committee=[SUITE.public_key(actor_secret(SUITE, "c0"))],
                      roles=scenario_roles(SUITE), params=dict(params or {}),
                      demo="demo_day_ms" in (params or {}))


def anchor_of(doc: GenesisDoc) -> Anchor:
    block = genesis_block(doc, default_state(doc))
    return Anchor.of(SUITE, block.header, doc.validators)


class SynthChain:
    """A real chain (application, store, hub) whose blocks come when and as a test says."""

    def __init__(self, doc: GenesisDoc | None = None, kv: MemoryKV | None = None,
                 settings: StreamSettings | None = None) -> None:
        self.doc = doc or genesis()
        self.kv = kv if kv is not None else MemoryKV()
        self.chain = Chain.open(self.kv, self.doc)
        self.hub = EventHub(self.chain, Metrics(), settings)
        asyncio.run(self.hub._index_stored())  # a restarted hub reads the stored blocks

    @property
    def store(self) -> BlockStore:
        return self.chain.store

    def time_ms(self) -> int:
        return int(self.store.head_header().time_ms)

    def run(self, txs: Sequence[SignedTx] = (), at_ms: int | None = None) -> list[Receipt]:
        head = self.store.head_header()
        height = head.height + 1
        at = head.time_ms + 1_000 if at_ms is None else at_ms
        block = self.chain.app.propose(head, height, 0, 0, at, tuple(txs))
        if len(block.txs) != len(txs):
            raise AssertionError("a transaction of the block was left out (nonce?)")
        qc = certify(block)
        receipts = self.chain.commit(block, qc)
        self.hub.on_commit(block, qc, receipts)
        failed = [(t.body.call, r.code, r.message) for t, r in zip(block.txs, receipts,
                                                                    strict=True) if not r.ok]
        assert not failed, f"block {height}: {failed}"  # a story step that did nothing
        return receipts

    def restart(self, settings: StreamSettings | None = None) -> SynthChain:
        """The same store opened again: a fresh hub that has to index what is stored."""
        return SynthChain(self.doc, self.kv, settings or self.hub.settings)


def certify(block: Block) -> QC:
    h = block.header
    block_hash = h.hash(SUITE)
    sig = SUITE.sign(VALIDATOR, commit_vote_bytes(h.chain_id, h.height, h.view, block_hash))
    return QC(h.height, h.view, block_hash, ((0, sig),))


class Story:
    """Signed transactions of the scenario's actors, with their nonces."""

    def __init__(self, chain_id: str = CHAIN_ID) -> None:
        self.chain_id = chain_id
        self.nonces: dict[str, int] = {}
        self.sealed: dict[tuple[str, str], SealedBid] = {}

    def uscc(self, name: str) -> str:
        return demo_uscc(ENTITY_SERIAL[name])

    def pubkey(self, name: str) -> bytes:
        return SUITE.public_key(actor_secret(SUITE, name))

    def tx(self, who: str, call: str, args: dict[str, Any]) -> SignedTx:
        nonce = self.nonces.get(who, 0)
        self.nonces[who] = nonce + 1
        body = TxBody(self.chain_id, self.pubkey(who), nonce, call, args)
        return sign_tx(SUITE, actor_secret(SUITE, who), body)

    def attest(self, name: str, now_ms: int) -> SignedTx:
        return self.tx("attestor", "identity.attest", {
            "uscc": self.uscc(name), "name": f"entity {name}", "entity_type": "company",
            "cert_issuer": "GDCA", "cert_serial": f"T-{name}", "valid_from_ms": now_ms - DAY_MS,
            "valid_to_ms": now_ms + 365 * DAY_MS, "keys": [self.pubkey(name)]})

    def enrol(self, name: str) -> SignedTx:
        """The bidder's enrolment of its secret (before its first bid)."""
        return self.tx(name, "bid.enrol", enrol_args(SUITE, bidder_secret(name)))

    def enrols(self) -> list[SignedTx]:
        """Every bidder's enrolment (in a block after their attestations: a key the chain
        does not know yet sends nothing)."""
        return [self.enrol(n) for n in BIDDERS]

    def announce(self, tender_id: str, issue_ms: int, deadline_ms: int, day_ms: int = DAY_MS,
                 kind: str = "works", region: str = REGION) -> SignedTx:
        return self.tx("platform", "tender.announce", {
            "tender_id": tender_id, "rules": "bidding-law", "kind": kind, "region": region,
            "tenderer": self.uscc("tenderer"), "agent": "", "platform_uscc": self.uscc("operator"),
            "related_parties": [], "doc_hash": SUITE.hash(b"documents"),
            "issue_start_ms": issue_ms, "doc_sale_end_ms": issue_ms + 5 * day_ms,
            "deadline_ms": deadline_ms, "validity_days": 90, "qualifications": [],
            "lots": [{"name": "lot 1", "estimated_price_fen": 500_000_000,
                      "guarantee_fen": 0}]})

    def amend(self, tender_id: str, new_deadline_ms: int) -> SignedTx:
        return self.tx("platform", "tender.amend", {
            "tender_id": tender_id, "doc_hash": SUITE.hash(b"documents v2"),
            "affects_bids": False, "new_deadline_ms": new_deadline_ms})

    def bid(self, name: str, tender_id: str, price_fen: int = 450_000_000) -> SignedTx:
        spec = aead_spec(SUITE)  # fixed key and nonce: twin chains hold the same bytes
        sealed = seal_bid(SUITE, self.chain_id, tender_id, 1, self.uscc(name),
                          f"bid file of {name}".encode(), price_fen, bidder_secret(name),
                          content_key=bytes([ENTITY_SERIAL[name]]) * spec.key_len,
                          nonce=bytes([ENTITY_SERIAL[name]]) * spec.nonce_len)
        self.sealed[(tender_id, name)] = sealed
        agent = actor_secret(SUITE, f"agent/{tender_id}/{name}")  # twins: the same agent
        return agent_tx(SUITE, self.chain_id, actor_secret(SUITE, name), "bid.submit",
                        sealed.submit_args(), agent)

    def object_(self, name: str, tender_id: str) -> SignedTx:
        """An objection to the documents: an enterprise's own act."""
        return self.tx(name, "tender.object", {"tender_id": tender_id, "stage": "documents",
                                               "reason_hash": SUITE.hash(name.encode())})

    def open(self, tender_id: str, names: Sequence[str]) -> SignedTx:
        slots = sorted(self.sealed[(tender_id, n)].slot for n in names)
        return self.tx("platform", "bid.open", {"tender_id": tender_id, "slots": [slots]})

    def reveal(self, name: str, tender_id: str) -> SignedTx:
        return self.tx(name, "bid.reveal", self.sealed[(tender_id, name)].reveal_args())

    def close(self, tender_id: str) -> SignedTx:
        return self.tx("platform", "bid.close", {"tender_id": tender_id})


def everything(after_height: int = 0, offsets_ms: tuple[int, ...] = (3 * DAY_MS, 3_600_000),
               flt: Filter | None = None) -> Walk:
    return Walk(end_key(after_height), flt or Filter(), offsets_ms, 15_000)


def page_all(hub: EventHub, walk: Walk, limit: int = 1_000) -> list[dict[str, Any]]:
    """Every item from ``walk.after`` to the head, page by page."""
    out: list[dict[str, Any]] = []
    while True:
        items, after = hub.page(walk, limit)
        out += [json.loads(i.data) for i in items]
        if not items and after == walk.after:
            return out
        walk = Walk(after, walk.filter, walk.offsets_ms, walk.heartbeat_ms)


def items_json(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [json.loads(i.data) for i in items]


def _after(store: BlockStore, height: int) -> StateAt:
    """The state after one block."""
    root = store.state_root_at(height)
    assert root is not None
    return StateAt(store.tree, root)


def expected_items(store: BlockStore, offsets_ms: Sequence[int]) -> list[tuple[str, str, Any]]:
    """``(cursor, type, what)`` of every public item up to the head, from the blocks alone:
    ``what`` is ``(tx_id hex, event)`` for an event, ``(tender_id, deadline, before)`` for a
    deadline notice, ``(tender_id, n, stage)`` for an objection notice. Deadlines are
    followed through the events that set them; what is public is the disclosure policy's
    answer for the public, asked at the transaction's block and at the head; notices by
    brute force over all tenders."""
    head_state, head_ms = store.tree, store.head_header().time_ms
    deadlines: dict[str, int] = {}  # in force after the previous block
    out: list[tuple[str, str, Any]] = []
    head = store.head()[0]
    for h in range(1, head + 1):
        block, receipts = store.block(h), store.receipts(h)
        prev = store.header(h - 1)
        assert block is not None and receipts is not None and prev is not None
        t_prev, t = prev.time_ms, block.header.time_ms
        fired = []
        for tender_id, d in deadlines.items():
            for before in sorted(set(offsets_ms) | {0}):
                if t_prev < d - before <= t:
                    fired.append((d - before, tender_id, d, before))
        for threshold, tender_id, d, before in sorted(fired):
            kind = "notice.deadline_passed" if before == 0 else "notice.deadline_soon"
            out.append((f"{h}.n.{threshold}.{tender_id}", kind, (tender_id, d, before)))
        # every objection a successful transaction filed, public or not, by (n, tender)
        filed = sorted((e["n"], e["tender_id"], e["stage"]) for r in receipts if r.code == "OK"
                       for e in r.events if e["type"] == "tender.objection")
        out += [(f"{h}.o.{n}.{tender_id}", "notice.objection", (tender_id, n, stage))
                for n, tender_id, stage in filed]
        rank = 0
        ids = block.tx_ids(SUITE)
        around = (_after(store, h - 1), _after(store, h))
        for i, (tx, r) in enumerate(zip(block.txs, receipts, strict=True)):
            if r.code != "OK" or not r.events:
                continue
            if not tx_disclosed(_after(store, h), PUBLIC, tx, t, around):
                continue
            rank += 1
            if not tx_disclosed(head_state, PUBLIC, tx, head_ms, around):
                continue
            for e, event in enumerate(r.events):
                out.append((f"{h}.{rank - 1}.{e}", event["type"],
                            (ids[i].hex(), tagged_to_json(event))))
        for r in receipts:
            for event in r.events:
                if event["type"] in ("tender.announced", "tender.amended"):
                    deadlines[event["tender_id"]] = event["deadline_ms"]
    return out


def as_expected(items: Sequence[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """The stream's items in ``expected_items``'s shape."""
    out: list[tuple[str, str, Any]] = []
    for i in items:
        if i["source"] == "chain":
            out.append((i["cursor"], i["type"], (i["tx_id"], i["event"])))
        elif i["type"] == "notice.objection":
            out.append((i["cursor"], i["type"], (i["tender_id"], i["n"], i["stage"])))
        else:
            out.append((i["cursor"], i["type"], (i["tender_id"], i["deadline_ms"],
                                                 i["before_ms"])))
    return out


def tender_story(sc: SynthChain, story: Story, tender_id: str = "T-1",
                 bids: Sequence[str] = BIDDERS) -> dict[str, int]:
    """Attest, announce (21 days), bids among public transactions, a documents objection
    (replied), an amendment moving the deadline by 2 days, blocks crossing 3 days, 1 hour and
    the deadline, then the opening. Returns the times that matter."""
    t = sc.time_ms()
    sc.run([story.attest(n, t) for n in ("tenderer", *BIDDERS)])
    issue = sc.time_ms() + 1_000
    deadline = issue + 21 * DAY_MS
    sc.run([story.announce(tender_id, issue, deadline), *story.enrols()], at_ms=issue)
    # a block orders transactions by sender, in order of first appearance: the bids sit
    # between the attestor's and the platform's public transactions
    sc.run([story.attest("a", t), *(story.bid(n, tender_id) for n in bids[:2]),
            story.amend(tender_id, deadline)])
    sc.run([story.bid(n, tender_id) for n in bids[2:]])
    sc.run([story.object_(bids[-1], tender_id)], at_ms=issue + DAY_MS)  # notice.objection
    new_deadline = deadline + 2 * DAY_MS
    sc.run([story.amend(tender_id, new_deadline), story.tx("platform", "tender.reply", {
        "tender_id": tender_id, "n": 1, "reply_hash": SUITE.hash(b"reply")})],
        at_ms=issue + 2 * DAY_MS)
    sc.run([], at_ms=deadline - 3 * DAY_MS + 5)  # the old 3-day threshold: not any more
    sc.run([], at_ms=new_deadline - 3 * DAY_MS - 1)
    sc.run([], at_ms=new_deadline - 3 * DAY_MS)  # exactly at the threshold: fires
    sc.run([], at_ms=new_deadline - 10 * 60_000)  # 1 hour crossed late: fires here
    sc.run([story.open(tender_id, bids)], at_ms=new_deadline + 7)  # deadline passed
    for n in bids[:3]:
        sc.run([story.reveal(n, tender_id)])
    sc.run([story.close(tender_id)], at_ms=sc.time_ms() + 31 * 60_000)
    return {"issue": issue, "deadline": new_deadline, "old_deadline": deadline}
