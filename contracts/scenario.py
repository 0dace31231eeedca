"""The end-to-end trading story, driven through any client that submits signed transactions.

``run_scenario(client, printer, nonces=None, beacon_hook=None)`` attests a tenderer and
bidders, records a debarment and a reward, registers experts in the provincial pool,
announces a cross-region tender with its evaluation method, takes sealed bids with
guarantees (one too late, one from a debarred bidder: both refused), opens them with one
decryption failure, draws the evaluation committee with the validators' beacon (a
conflicted expert is never seated, a declining one is replaced by the same draw), has every
member score every valid bid (a sheet above a maximum is refused), lets the contract compute
the candidates, has the members sign the report, runs the publicity with an objection and its
reply, awards to the first candidate, records the contract, lets the tenderer claim the
failed bidder's guarantee, and archives — printing the story as it goes.

The client, the actors, the demo genesis (``scenario_roles``, ``SCENARIO_PARAMS``, and the
genesis field ``demo: true``) and the beacon hook are ``contracts.scenario_kit``. While the
draw waits for the validators' beacon, the story calls ``beacon_hook()`` (if given) before
each attempt to seat the committee: a hook submits the validators' ``beacon.commit`` /
``beacon.reveal`` transactions (``scenario_kit.validator_beacon_hook``); once the nodes run
``beacon.beacon_actions`` themselves, no hook is needed. Without either the beacon fails and
the story stops with a ScenarioError saying so. Run it in-process with
``python -m contracts.scenario``. The periods are SHORTENED (``demo_day_ms``: a "day" is
``DEMO_DAY_MS`` ms) and the story says so when it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.beacon import E_BEACON_PENDING
from contracts.bidder import SealedBid, enrol_args, seal_bid
from contracts.errors import E_EXISTS
from contracts.evaluation import E_SCORE_MAX
from contracts.periods import DAY_MS, end_of_months_ms
from contracts.scenario_kit import (
    DEMO_DAY_MS,
    SCENARIO_PARAMS,
    BeaconHook,
    InProcessClient,
    Printer,
    ScenarioClient,
    ScenarioError,
    _Story,
    actor_secret,
    bidder_secret,
    demo_uscc,
    scenario_roles,
    validator_beacon_hook,
)
from ledger.tx import OK, Receipt

__all__ = [
    "DEMO_DAY_MS",
    "SCENARIO_PARAMS",
    "BeaconHook",
    "InProcessClient",
    "ScenarioClient",
    "ScenarioError",
    "_Story",
    "actor_secret",
    "bidder_secret",
    "demo_uscc",
    "run_scenario",
    "scenario_roles",
    "validator_beacon_hook",
]

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
REGION = "441502"  # 汕尾市城区
TECH, ECON = "A010101", "B020101"  # 房屋建筑 and 工程造价 specialties
POOL = [  # (specialty, region, conflicted): the experts the provincial pool registers
    (TECH, REGION, False), (TECH, REGION, False), (TECH, REGION, True),
    (TECH, "440300", False), (TECH, "440100", False), (TECH, "440300", False),
    (TECH, "440100", False), (ECON, REGION, False), (ECON, "440300", False),
]
METHOD = {
    "formula": "lowest_price_ratio",
    "price_points": 40,
    "criteria": [{"name": "technical", "max_points": 40}, {"name": "business", "max_points": 18}],
    "bonus": {"max_points": 2, "points": {"good_standing": 1, "quality_enterprise": 2}},
}
PRICES = {"a": 468_000_000, "b": 455_500_000, "c": 479_900_000, "d": 430_000_000}
SHEETS = {"a": (36, 15), "b": (30, 15), "c": (33, 14)}  # technical, business (members ±1)
H32 = bytes(32)
# the issue start must not be before the announcing block: leave it time to commit
ANNOUNCE_MARGIN_MS = 5_000
SEAT_TIMEOUT_MS = 120_000


@dataclass
class _Demo:
    s: _Story
    client: ScenarioClient
    t0: int
    uscc: dict[str, str]
    tender_id: str = ""
    deadline_ms: int = 0
    sealed: dict[str, SealedBid] = field(default_factory=dict)
    bid_receipts: dict[str, Receipt] = field(default_factory=dict)
    experts: list[str] = field(default_factory=list)
    opened_ms: int = 0  # at or after the opening record's block

    def send(self, who: str, call: str, args: dict[str, Any], expect: Any = OK) -> Receipt:
        return self.s.send(who, call, args, expect)

    def say(self, line: str) -> None:
        self.s.say(line)

    def expert_actor(self, code: str) -> str:
        return f"expert-{code}"


def run_scenario(
    client: ScenarioClient,
    printer: Printer = print,
    nonces: Mapping[bytes, int] | None = None,
    beacon_hook: BeaconHook | None = None,
) -> dict[str, Any]:
    """Run the whole story; returns a summary (winner, committee, guarantee outcomes)."""
    s = _Story(client, printer, nonces or {})
    t0 = client.now_ms()
    d = _Demo(s, client, t0, {n: demo_uscc(serial) for n, (serial, _) in ENTITIES.items()})
    d.say(f"== credchain trading story on chain {client.chain_id!r} ({s.suite.name}) ==")
    d.say(
        "NOTE: periods are SHORTENED for this demonstration by genesis parameters (a demo "
        f"chain): one 'day' is {DEMO_DAY_MS} ms and the opening objection window "
        f"{SCENARIO_PARAMS['opening_objection_ms']} ms."
    )
    _identities(d)
    _credit(d)
    _expert_pool(d)
    _announce(d)
    _guarantees(d)
    _bids(d)
    _deadline_and_opening(d)
    members, start_ms = _draw(d, beacon_hook)
    candidates = _evaluate(d, members, start_ms)
    winner = _publicity_and_award(d, candidates)
    _close(d)
    return {
        "tender_id": d.tender_id,
        "winner": d.uscc[winner],
        "claimed": f"BG-{t0}-d",
        "uscc": d.uscc,
        "deadline_ms": d.deadline_ms,
        "committee": members,
        "candidates": candidates,
        # What the winner needs to prove its sealed bid later (its sealed file's slot: the
        # PROTOCOL §7 bundle of bid/<tender>/1/<slot>).
        "winner_slot": d.sealed[winner].slot,
        "winner_commitment": d.sealed[winner].commitment,
        "winner_bid_tx": d.bid_receipts[winner].tx_id,
    }


def _identities(d: _Demo) -> None:
    d.say("-- identity: the attestor attests the tenderer and six bidders (身份互认) --")
    for name in ("tenderer", "a", "b", "c", "d", "e", "f"):
        keys = [d.s.actor(name).pubkey]
        if name == "tenderer":  # its representative on the evaluation committee
            keys.append(d.s.actor("tenderer-rep").pubkey)
        d.send("attestor", "identity.attest", {
            "uscc": d.uscc[name], "name": ENTITIES[name][1], "entity_type": "company",
            "cert_issuer": "GDCA", "cert_serial": f"DEMO-{ENTITIES[name][0]}",
            "valid_from_ms": d.t0 - DAY_MS, "valid_to_ms": d.t0 + 365 * DAY_MS, "keys": keys,
        })
        d.say(f"   attested {ENTITIES[name][1]} {d.uscc[name]}")
    for name in ("a", "b", "c", "d", "e", "f"):  # E_EXISTS: a story run before on this chain
        d.send(name, "bid.enrol", enrol_args(d.s.suite, bidder_secret(name)),
               expect=(OK, E_EXISTS))
    d.say("   each bidder enrolled the commitment to its bidder secret (it keys its bid slots)")


def _credit_args(d: _Demo, name: str, kind: str, to_ms: int) -> dict[str, Any]:
    return {
        "uscc": d.uscc[name], "kind": kind, "document_no": f"DEMO-{kind}-{d.t0}",
        "basis": "demo", "scope_kinds": ["*"], "scope_regions": ["*"],
        "from_ms": d.t0 - DAY_MS, "to_ms": to_ms, "evidence_hash": H32,
    }


def _credit(d: _Demo) -> None:
    d.say("-- credit: E debarred (一处失信、处处受限), B in good standing (守信激励) --")
    d.send("bureau", "credit.record",
           _credit_args(d, "e", "bid_debarment", end_of_months_ms(d.t0, 12)))
    d.send("bureau", "credit.record",
           _credit_args(d, "b", "good_standing", d.t0 + 365 * DAY_MS))


def _expert_pool(d: _Demo) -> None:
    d.say("-- the provincial expert pool registers experts under opaque codes --")
    for i, (specialty, region, conflicted) in enumerate(POOL, start=1):
        code = f"X{d.t0}-{i}"
        d.send("expert-pool", "expert.register", {
            "code": code, "pubkey": d.s.actor(d.expert_actor(code)).pubkey,
            "specialties": [specialty], "region": region,
            "employer": d.uscc["a"] if conflicted else demo_uscc(500 + i),
        })
        d.experts.append(code)
        note = " (employed by bidder A: never seated on its tenders)" if conflicted else ""
        d.say(f"   {code}: {specialty} in {region}{note}")


def _announce(d: _Demo) -> None:
    suite, day = d.s.suite, DEMO_DAY_MS
    d.tender_id = f"SW-DEMO-{d.t0}"
    issue = d.client.now_ms() + ANNOUNCE_MARGIN_MS
    d.deadline_ms = issue + 21 * day
    d.say(f"-- tender {d.tender_id}: the platform announces it for the tenderer --")
    d.send("platform", "tender.announce", {
        "tender_id": d.tender_id, "rules": "bidding-law", "kind": "works", "region": REGION,
        "tenderer": d.uscc["tenderer"], "agent": "", "platform_uscc": d.uscc["operator"],
        "related_parties": [], "doc_hash": suite.hash(b"tender documents v1"),
        "issue_start_ms": issue, "doc_sale_end_ms": issue + 5 * day,
        "deadline_ms": d.deadline_ms, "validity_days": 90, "qualifications": [],
        "lots": [{"name": "城区道路改造", "estimated_price_fen": 500_000_000,
                  "guarantee_fen": 5_000_000}],
        "method": METHOD, "cross_region": True,
    })
    d.say("   deadline in 21 demo days; a 50000 yuan guarantee per bid; method: price 40, "
          "technical 40, business 18, reward bonus 2; remote cross-region evaluation")


def _guarantees(d: _Demo) -> None:
    d.say("-- guarantees: the bank issues electronic guarantees (电子保函) --")
    for name in ("a", "b", "c", "d", "e", "f"):
        d.send("bank", "guarantee.issue", {
            "number": f"BG-{d.t0}-{name}", "principal": d.uscc[name],
            "beneficiary": d.uscc["tenderer"], "tender_id": d.tender_id, "lot": 1,
            "amount_fen": 5_000_000, "valid_from_ms": d.t0 - DAY_MS,
            "valid_to_ms": d.deadline_ms + 200 * DEMO_DAY_MS + 200 * DAY_MS,
            "file_hash": d.s.suite.hash(f"guarantee {name}".encode()),
        })


def _seal(d: _Demo, name: str, price: int) -> SealedBid:
    return seal_bid(d.s.suite, d.client.chain_id, d.tender_id, 1, d.uscc[name],
                    f"bid file of {name}".encode(), price, bidder_secret(name))


def _bids(d: _Demo) -> None:
    d.say("-- sealed bids --")
    for name, price in PRICES.items():
        d.sealed[name] = _seal(d, name, price)
        d.bid_receipts[name] = d.send(
            name, "bid.submit", d.sealed[name].submit_args(f"BG-{d.t0}-{name}")
        )
        d.say(f"   {name.upper()} sealed its bid "
              f"(commitment {d.sealed[name].commitment.hex()[:16]}…)")
    debarred = _seal(d, "e", 400_000_000)
    r = d.send("e", "bid.submit", debarred.submit_args(f"BG-{d.t0}-e"), expect="E_DEBARRED")
    d.say(f"   E refused: {r.code} ({r.message})")
    d.say("-- objection to the documents and its reply --")
    # the salt keeps B's name in its sealed objector record from being guessed (only B and
    # supervisors read it before the deadline); B derives it from its own secret
    objection = {"tender_id": d.tender_id, "stage": "documents",
                 "reason_hash": d.s.suite.hash(b"q1"),
                 "salt": d.s.suite.hash(bidder_secret("b") + b"objection salt")}
    d.send("b", "tender.object", objection)
    d.send("tenderer", "tender.reply",
           {"tender_id": d.tender_id, "n": 1, "reply_hash": d.s.suite.hash(b"a1")})
    d.say("   B asked about the documents; the tenderer replied within 3 days")


def _deadline_and_opening(d: _Demo) -> None:
    d.client.wait_until(d.deadline_ms)
    late = _seal(d, "f", 410_000_000)
    r = d.send("f", "bid.submit", late.submit_args(f"BG-{d.t0}-f"), expect="E_DEADLINE")
    d.say(f"-- the deadline passed: F's late bid refused: {r.code} --")
    d.say("-- opening: the platform names the live bids, the window for content keys opens --")
    # the platform's node lists these from its state (GET /tenders/{id}/slots): only the
    # bidders' secrets derive them
    slots = sorted(d.sealed[n].slot for n in PRICES)
    d.send("platform", "bid.open", {"tender_id": d.tender_id, "slots": [slots]})
    for name in ("a", "b", "c"):
        r = d.send(name, "bid.reveal", d.sealed[name].reveal_args())
        got = int(r.events[0]["price_fen"])  # decrypted by the contract, on chain
        d.say(f"   {name.upper()} revealed: the contract decrypted {got / 100:,.2f} yuan")
    wrong = {**d.sealed["d"].reveal_args(), "content_key": bytes(len(d.sealed["d"].content_key))}
    r = d.send("d", "bid.reveal", wrong)
    d.say(f"   D gave a wrong key: {r.events[0]['type']} (its guarantee becomes claimable)")
    d.send("platform", "bid.close", {"tender_id": d.tender_id})
    d.opened_ms = d.client.now_ms()
    d.say("   opening record published: A, B, C revealed; D decrypt_failed")


def _draw(d: _Demo, hook: BeaconHook | None) -> tuple[list[str], int]:
    """Request, seat (the beacon runs meanwhile), one decline; the members and the start."""
    day = DEMO_DAY_MS
    start = d.client.now_ms() + day + day // 2  # within 2 demo days of the draw
    d.say("-- the committee: 3 technical + 1 economic expert drawn, 1 tenderer representative --")
    d.send("platform", "draw.request", {
        "tender_id": d.tender_id, "evaluation_start_ms": start,
        "evaluation_end_ms": start + 30 * day, "size": 5,
        "groups": [{"specialty": TECH, "count": 3}, {"specialty": ECON, "count": 1}],
        "representatives": [d.s.actor("tenderer-rep").pubkey],
    })
    d.say("   the draw is requested; the validators commit to values, then reveal them "
          "(no single party can choose the seed)")
    members = _seat(d, hook)
    d.say(f"   seated: {', '.join(members)} (at least 2 of the 4 experts from other regions)")
    decliner = members[0]
    r = d.send(d.expert_actor(decliner), "draw.decline", {"tender_id": d.tender_id})
    replacement = str(r.events[0]["replaced_by"])
    d.say(f"   {decliner} declines: the same draw seats {replacement}")
    return [replacement if m == decliner else m for m in members], start


def _seat(d: _Demo, hook: BeaconHook | None) -> list[str]:
    give_up_ms = d.client.now_ms() + SEAT_TIMEOUT_MS
    while True:
        if hook is not None:
            hook()
        r = d.send("platform", "draw.seat", {"tender_id": d.tender_id},
                   expect=(OK, E_BEACON_PENDING))
        if r.code == OK:
            event = r.events[-1]
            if event["status"] != "seated":
                raise ScenarioError(
                    f"the draw ended {event['status']}: the validators did not take part in "
                    "the beacon (wire contracts.beacon.beacon_actions into the nodes, or pass "
                    "run_scenario(beacon_hook=...))"
                )
            return [str(m) for m in event["members"]]
        if d.client.now_ms() > give_up_ms:
            raise ScenarioError("the validators' beacon did not become final in time")
        d.client.wait_until(d.client.now_ms() + 500)


def _member_actor(d: _Demo, member: str) -> str:
    return "tenderer-rep" if member.startswith("rep-") else d.expert_actor(member)


def _evaluate(d: _Demo, members: list[str], start_ms: int) -> list[str]:
    d.client.wait_until(start_ms)
    d.say("-- remote evaluation: every member signs a score sheet per valid bid --")
    tid = d.tender_id
    over = {"tender_id": tid, "lot": 1, "bidder": d.uscc["a"],
            "points": {"technical": 41, "business": 10}}
    r = d.send(_member_actor(d, members[0]), "evaluation.score", over, expect=E_SCORE_MAX)
    d.say(f"   a sheet above a criterion's maximum is refused: {r.code}")
    for i, member in enumerate(members):
        for name, (tech, business) in SHEETS.items():
            points = {"technical": tech + i % 3 - 1, "business": business}
            d.send(_member_actor(d, member), "evaluation.score",
                   {"tender_id": tid, "lot": 1, "bidder": d.uscc[name], "points": points})
    # objections to the opening may come for a while: the evaluation closes after them
    d.client.wait_until(d.opened_ms + int(SCENARIO_PARAMS["opening_objection_ms"]) + 1)
    r = d.send("platform", "evaluation.close", {"tender_id": tid})
    candidates = [str(c) for c in r.events[-1]["candidates"][0]]
    by_uscc = {u: n.upper() for n, u in d.uscc.items()}
    d.say("   the contract computed the totals (price score + reward bonus + members' mean): "
          f"candidates {', '.join(by_uscc[c] for c in candidates)}")
    report = d.s.suite.hash(b"evaluation report")
    d.send("platform", "evaluation.report", {"tender_id": tid, "report_hash": report})
    for member in members:
        d.send(_member_actor(d, member), "evaluation.sign",
               {"tender_id": tid, "report_hash": report})
    d.say("   every member signed the report's hash: publicity starts")
    return [next(n for n, u in d.uscc.items() if u == c) for c in candidates]


def _publicity_and_award(d: _Demo, candidates: list[str]) -> str:
    suite, tid = d.s.suite, d.tender_id
    d.send("c", "tender.object",
           {"tender_id": tid, "stage": "candidates", "reason_hash": suite.hash(b"q2")})
    d.say("   C objects to the candidates: the award waits")
    d.send("tenderer", "tender.reply", {"tender_id": tid, "n": 2, "reply_hash": suite.hash(b"a2")})
    d.say("   the tenderer replies")
    d.client.wait_until(d.client.now_ms() + 4 * DEMO_DAY_MS)
    winner = candidates[0]
    d.send("tenderer", "tender.award", {"tender_id": tid, "winners": [d.uscc[winner]]})
    d.say(f"-- award to {winner.upper()}, the first candidate, after the publicity; "
          "the losers' guarantees are released --")
    return winner


def _close(d: _Demo) -> None:
    tid = d.tender_id
    d.send("tenderer", "tender.record_contract",
           {"tender_id": tid, "contract_hash": d.s.suite.hash(b"contract")})
    d.say("   contract hash recorded; the winner's guarantee is released")
    d.send("tenderer", "guarantee.claim",
           {"number": f"BG-{d.t0}-d", "reason": "decrypt_failed", "amount_fen": 5_000_000})
    d.say("   the tenderer claims D's guarantee: 50,000.00 yuan (decryption failed)")
    d.send("platform", "tender.archive", {"tender_id": tid})
    r = d.send("platform", "tender.amend",
               {"tender_id": tid, "doc_hash": H32, "affects_bids": False}, expect="E_ARCHIVED")
    d.say(f"-- archived: a later amendment is refused ({r.code}) --")


if __name__ == "__main__":
    demo_client = InProcessClient()
    run_scenario(demo_client, beacon_hook=demo_client.validator_hook())
