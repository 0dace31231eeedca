"""The end-to-end trading story, driven through any client that submits signed transactions.

``run_scenario(client, printer)`` attests a tenderer, bidders and a guarantor's customers,
records a debarment, announces a tender, takes sealed bids with guarantees (one too late,
one from a debarred bidder: both refused), opens them with one decryption failure,
evaluates, runs the publicity with an objection and its reply, awards, records the
contract (guarantees released), lets the tenderer claim the failed bidder's guarantee,
and archives — printing the story as it goes.

The client (``ScenarioClient``) is the in-process ``InProcessClient`` below (one executor,
synthetic block times) or a client of a real network; a client may also offer
``nonce_of(pubkey) -> int`` so the story can run again on the same chain. Run it in-process
with ``python -m contracts.scenario``. The network's genesis must hold the
scenario's roles and parameters: ``scenario_roles(suite)`` and ``SCENARIO_PARAMS``. The
periods are SHORTENED for the demonstration through the ``demo_day_ms`` parameter (a "day"
is ``DEMO_DAY_MS`` milliseconds) and a 5-second opening objection window; the story says so
when it starts. The actors' keys are derived from their names: a demonstration, never a
production set-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from contracts import sealing
from contracts.bidder import SealedBid, seal_bid
from contracts.genesis import genesis_state
from contracts.periods import DAY_MS, end_of_months_ms
from contracts.registry import default_executor
from contracts.runtime import BlockContext
from contracts.state import DictState
from contracts.tender import bid_key as tender_bid_key
from contracts.uscc import check_char
from ledger import encoding, tags
from ledger.block import Validator
from ledger.crypto import Suite, get_suite
from ledger.genesis import GenesisDoc
from ledger.tx import OK, Receipt, SignedTx, TxBody, sign_tx

DEMO_DAY_MS = 2_000
SCENARIO_PARAMS: dict[str, int | str] = {
    "demo_day_ms": DEMO_DAY_MS,
    "opening_objection_ms": 5_000,
    "decrypt_window_ms": 60_000,
}
ROLE_ACTORS = {
    "platform": ["platform"],
    "attestor": ["attestor"],
    "guarantor": ["bank"],
    "supervisor": ["supervisor"],
    "credit_authority": ["bureau"],
}
ENTITIES = {  # name → (USCC serial, display name)
    "tenderer": (1, "汕尾市城区住房和城乡建设局"),
    "operator": (2, "汕尾市公共资源交易中心"),
    "a": (11, "A 建设集团有限公司"),
    "b": (12, "B 工程有限公司"),
    "c": (13, "C 路桥有限公司"),
    "d": (14, "D 建筑有限公司"),
    "e": (15, "E 建工有限公司 (debarred)"),
    "f": (16, "F 市政有限公司 (late)"),
}
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
H32 = bytes(32)


class ScenarioClient(Protocol):
    chain_id: str
    suite: Suite

    def submit(self, tx: SignedTx) -> Receipt: ...  # waits until committed

    def now_ms(self) -> int: ...

    def wait_until(self, t_ms: int) -> None: ...


Printer = Callable[[str], None]


def demo_uscc(serial: int) -> str:
    first = f"91441500MA{serial:07d}"
    return first + check_char(first)


def actor_secret(suite: Suite, name: str) -> bytes:
    """A demonstration key from a name (public knowledge: never for real use)."""
    counter = 0
    while True:
        digest = hashlib.sha256(
            f"credchain-scenario/{suite.name}/{name}/{counter}".encode()
        ).digest()
        if suite.name != "sm2-sm3" or 0 < int.from_bytes(digest, "big") < _SM2_N - 1:
            return digest
        counter += 1


def scenario_roles(suite: Suite) -> dict[str, list[bytes]]:
    """The role members a genesis must grant for the story."""
    return {
        role: [suite.public_key(actor_secret(suite, n)) for n in names]
        for role, names in ROLE_ACTORS.items()
    }


def bid_slot(suite: Suite, chain_id: str, tender_id: str, lot: int, uscc: str) -> bytes:
    """The state slot of an entity's bid (``contracts.bid``), as the platform names it."""
    return suite.hd(tags.BID_SLOT, sealing.header(suite, chain_id, tender_id, lot, uscc))


class ScenarioError(Exception):
    """A step of the story did not end as the story expects."""


@dataclass
class _Actor:
    name: str
    secret: bytes
    pubkey: bytes
    nonce: int = 0


class _Story:
    def __init__(self, client: ScenarioClient, printer: Printer, nonces: Mapping[bytes, int]):
        self.client = client
        self.say = printer
        self.suite = client.suite
        self.actors: dict[str, _Actor] = {}
        self.nonces = nonces

    def actor(self, name: str) -> _Actor:
        if name not in self.actors:
            secret = actor_secret(self.suite, name)
            pubkey = self.suite.public_key(secret)
            nonce = self.nonces.get(pubkey)
            if nonce is None:
                # a client of a live chain may know the account's next nonce (a re-run)
                nonce_of = getattr(self.client, "nonce_of", None)
                nonce = int(nonce_of(pubkey)) if callable(nonce_of) else 0
            self.actors[name] = _Actor(name, secret, pubkey, nonce)
        return self.actors[name]

    def send(self, who: str, call: str, args: dict[str, Any], expect: str = OK) -> Receipt:
        actor = self.actor(who)
        body = TxBody(self.client.chain_id, actor.pubkey, actor.nonce, call, args)
        actor.nonce += 1
        receipt = self.client.submit(sign_tx(self.suite, actor.secret, body))
        if receipt.code != expect:
            raise ScenarioError(
                f"{who} {call}: expected {expect}, got {receipt.code} {receipt.message}"
            )
        return receipt


def run_scenario(
    client: ScenarioClient, printer: Printer = print, nonces: Mapping[bytes, int] | None = None
) -> dict[str, Any]:
    """Run the whole story; returns a summary (winner, prices, guarantee outcomes)."""
    s = _Story(client, printer, nonces or {})
    say = s.say
    suite, chain = s.suite, client.chain_id
    day = DEMO_DAY_MS
    say(f"== credchain trading story on chain {chain!r} ({suite.name}) ==")
    say(
        "NOTE: periods are SHORTENED for this demonstration by genesis parameters: one 'day' "
        f"is {day} ms and the opening objection window "
        f"{SCENARIO_PARAMS['opening_objection_ms']} ms."
    )
    t0 = client.now_ms()
    uscc = {n: demo_uscc(serial) for n, (serial, _) in ENTITIES.items()}

    say("-- identity: the attestor attests the tenderer and six bidders (身份互认) --")
    for name in ("tenderer", "a", "b", "c", "d", "e", "f"):
        s.send(
            "attestor",
            "identity.attest",
            {
                "uscc": uscc[name],
                "name": ENTITIES[name][1],
                "entity_type": "company",
                "cert_issuer": "GDCA",
                "cert_serial": f"DEMO-{ENTITIES[name][0]}",
                "valid_from_ms": t0 - DAY_MS,
                "valid_to_ms": t0 + 365 * DAY_MS,
                "keys": [s.actor(name).pubkey],
            },
        )
        say(f"   attested {ENTITIES[name][1]} {uscc[name]}")

    say("-- credit: the bureau records a bid debarment of E (一处失信、处处受限) --")
    s.send(
        "bureau",
        "credit.record",
        {
            "uscc": uscc["e"],
            "kind": "bid_debarment",
            "document_no": f"DEMO-DEBAR-{t0}",
            "basis": "串通投标 (demo)",
            "scope_kinds": ["*"],
            "scope_regions": ["*"],
            "from_ms": t0 - DAY_MS,
            "to_ms": end_of_months_ms(t0, 12),
            "evidence_hash": H32,
        },
    )

    tender_id = f"SW-DEMO-{t0}"
    issue = client.now_ms()
    deadline = issue + 21 * day
    price_fen = 500_000_000  # 5 million yuan estimated
    required = 5_000_000  # 50,000 yuan guarantee (1%)
    say(f"-- tender {tender_id}: the platform announces it for the tenderer --")
    s.send(
        "platform",
        "tender.announce",
        {
            "tender_id": tender_id,
            "rules": "bidding-law",
            "kind": "works",
            "region": "441502",
            "tenderer": uscc["tenderer"],
            "agent": "",
            "platform_uscc": uscc["operator"],
            "related_parties": [],
            "doc_hash": suite.hash(b"tender documents v1"),
            "issue_start_ms": issue,
            "doc_sale_end_ms": issue + 5 * day,
            "deadline_ms": deadline,
            "validity_days": 90,
            "qualifications": [],
            "lots": [
                {
                    "name": "城区道路改造",
                    "estimated_price_fen": price_fen,
                    "guarantee_fen": required,
                }
            ],
        },
    )
    say(f"   deadline in 21 demo days; each lot requires a {required // 100} yuan guarantee")

    say("-- guarantees: the bank issues electronic guarantees (电子保函) --")
    for name in ("a", "b", "c", "d", "e", "f"):
        s.send(
            "bank",
            "guarantee.issue",
            {
                "number": f"BG-{t0}-{name}",
                "principal": uscc[name],
                "beneficiary": uscc["tenderer"],
                "tender_id": tender_id,
                "lot": 1,
                "amount_fen": required,
                "valid_from_ms": t0 - DAY_MS,
                "valid_to_ms": deadline + 200 * day + 200 * DAY_MS,
                "file_hash": suite.hash(f"guarantee {name}".encode()),
            },
        )

    say("-- sealed bids --")
    prices = {"a": 468_000_000, "b": 455_500_000, "c": 479_900_000, "d": 430_000_000}
    sealed: dict[str, SealedBid] = {}
    bid_receipts: dict[str, Receipt] = {}
    for name, price in prices.items():
        sealed[name] = seal_bid(
            suite, chain, tender_id, 1, uscc[name], f"bid file of {name}".encode(), price
        )
        bid_receipts[name] = s.send(name, "bid.submit", sealed[name].submit_args(f"BG-{t0}-{name}"))
        say(f"   {name.upper()} sealed its bid (commitment {sealed[name].commitment.hex()[:16]}…)")
    debarred = seal_bid(suite, chain, tender_id, 1, uscc["e"], b"bid file of e", 400_000_000)
    r = s.send("e", "bid.submit", debarred.submit_args(f"BG-{t0}-e"), expect="E_DEBARRED")
    say(f"   E refused: {r.code} ({r.message})")

    say("-- objection to the documents and its reply --")
    r = s.send(
        "b",
        "tender.object",
        {"tender_id": tender_id, "stage": "documents", "reason_hash": suite.hash(b"q1")},
    )
    s.send(
        "tenderer",
        "tender.reply",
        {"tender_id": tender_id, "n": 1, "reply_hash": suite.hash(b"a1")},
    )
    say("   B asked about the documents; the tenderer replied within 3 days")

    client.wait_until(deadline)
    late = seal_bid(suite, chain, tender_id, 1, uscc["f"], b"bid file of f", 410_000_000)
    r = s.send("f", "bid.submit", late.submit_args(f"BG-{t0}-f"), expect="E_DEADLINE")
    say(f"-- the deadline passed: F's late bid refused: {r.code} --")

    say("-- opening: the platform names the live bids, the window for content keys opens --")
    slots = sorted(bid_slot(suite, chain, tender_id, 1, uscc[n]) for n in prices)
    s.send("platform", "bid.open", {"tender_id": tender_id, "slots": [slots]})
    opened: dict[str, int | None] = {}
    for name in ("a", "b", "c"):
        r = s.send(name, "bid.reveal", sealed[name].reveal_args())
        got = int(r.events[0]["price_fen"])  # decrypted by the contract, on chain
        opened[name] = got
        say(f"   {name.upper()} revealed: the contract decrypted {got / 100:,.2f} yuan")
    wrong = {**sealed["d"].reveal_args(), "content_key": bytes(len(sealed["d"].content_key))}
    r = s.send("d", "bid.reveal", wrong)
    opened["d"] = None
    say(f"   D gave a wrong key: {r.events[0]['type']} (its guarantee becomes claimable)")
    s.send("platform", "bid.close", {"tender_id": tender_id})
    say("   opening record published:")
    for name, opened_fen in sorted(opened.items()):
        shown = f"{opened_fen / 100:,.2f} yuan" if opened_fen is not None else "decrypt_failed"
        say(f"     {name.upper()} {uscc[name]}  {shown}")

    client.wait_until(client.now_ms() + int(SCENARIO_PARAMS["opening_objection_ms"]) + 1)
    ranked = sorted(("a", "b", "c"), key=lambda n: prices[n])
    s.send(
        "platform",
        "tender.evaluate",
        {
            "tender_id": tender_id,
            "report_hash": suite.hash(b"evaluation report"),
            "committee_size": 5,
            "candidates": [[uscc[n] for n in ranked]],
        },
    )
    names = ", ".join(n.upper() for n in ranked)
    say(f"-- evaluation by a committee of 5: candidates {names}; publicity starts --")
    s.send(
        "c",
        "tender.object",
        {"tender_id": tender_id, "stage": "candidates", "reason_hash": suite.hash(b"q2")},
    )
    say("   C objects to the candidates: the award waits")
    s.send(
        "tenderer",
        "tender.reply",
        {"tender_id": tender_id, "n": 2, "reply_hash": suite.hash(b"a2")},
    )
    say("   the tenderer replies")

    publicity_end = client.now_ms() + 4 * day
    client.wait_until(publicity_end)
    winner = ranked[0]
    s.send("tenderer", "tender.award", {"tender_id": tender_id, "winners": [uscc[winner]]})
    say(f"-- award to {winner.upper()} after the publicity; the losers' guarantees are released --")
    s.send(
        "tenderer",
        "tender.record_contract",
        {"tender_id": tender_id, "contract_hash": suite.hash(b"contract")},
    )
    say("   contract hash recorded; the winner's guarantee is released")
    s.send(
        "tenderer",
        "guarantee.claim",
        {"number": f"BG-{t0}-d", "reason": "decrypt_failed", "amount_fen": required},
    )
    say(f"   the tenderer claims D's guarantee: {required / 100:,.2f} yuan (decryption failed)")
    s.send("platform", "tender.archive", {"tender_id": tender_id})
    r = s.send(
        "platform",
        "tender.amend",
        {"tender_id": tender_id, "doc_hash": H32, "affects_bids": False},
        expect="E_ARCHIVED",
    )
    say(f"-- archived: a later amendment is refused ({r.code}) --")
    slot = bid_slot(suite, chain, tender_id, 1, uscc[winner])
    return {
        "tender_id": tender_id,
        "winner": uscc[winner],
        "claimed": f"BG-{t0}-d",
        "uscc": uscc,
        "deadline_ms": deadline,
        # What the winner needs to prove its sealed bid later (PROTOCOL §7 bundle of this key).
        "winner_bid_key": tender_bid_key(tender_id, 1, slot.hex()),
        "winner_commitment": sealed[winner].commitment,
        "winner_bid_tx": bid_receipts[winner].tx_id,
    }


class InProcessClient:
    """One executor over an in-memory state; each submit is one block at a synthetic time."""

    def __init__(self, suite_name: str = "ed25519-sha256", start_ms: int = 1_709_254_800_000):
        self.suite = get_suite(suite_name)
        self.chain_id = "demo-chain"
        validators = tuple(
            Validator(f"v{i}", self.suite.public_key(actor_secret(self.suite, f"v{i}")))
            for i in range(4)
        )
        doc = GenesisDoc(
            chain_id=self.chain_id,
            suite=suite_name,
            time_ms=start_ms,
            validators=validators,
            committee=[self.suite.public_key(actor_secret(self.suite, "c0"))],
            roles=scenario_roles(self.suite),
            params=dict(SCENARIO_PARAMS),
        )
        self.state = DictState(genesis_state(doc))
        self.executor = default_executor()
        self.height = 0
        self.time_ms = start_ms
        self.block_interval_ms = 500

    def submit(self, tx: SignedTx) -> Receipt:
        self.height += 1
        self.time_ms += self.block_interval_ms
        ctx = BlockContext(self.chain_id, self.suite, self.height, self.time_ms)
        result = self.executor.execute_block(self.state, ctx, [tx])
        self.state.apply(result.writes)
        return result.receipts[0]

    def now_ms(self) -> int:
        return self.time_ms

    def wait_until(self, t_ms: int) -> None:
        self.time_ms = max(self.time_ms, t_ms)

    def get(self, key: str) -> Any:
        raw = self.state.get(key)
        return None if raw is None else encoding.decode(raw)

    def nonce_of(self, pubkey: bytes) -> int:
        raw = self.state.get(f"nonce/{pubkey.hex()}")
        return 0 if raw is None else int(encoding.decode(raw))


if __name__ == "__main__":
    run_scenario(InProcessClient())
