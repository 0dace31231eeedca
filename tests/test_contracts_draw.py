"""Expert pool and committee draw (DOMAIN.md "Evaluation committees, expert draw and remote
evaluation"): every rule and refusal with its code (and nothing but the nonce changed), the
committee recomputed from committed data alone, and a hypothesis state machine over draws
(no conflicted expert seated, the cross-region quota held, recomputation equal)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts import committee, experts
from contracts.beacon import seed_from
from contracts.draw import E_COMMITTEE, E_DRAW_TIMING, drawn_of
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE
from contracts.periods import DAY_MS, MINUTE_MS
from contracts.state import DictState, Overlay
from contracts.tender_rules import E_LIFECYCLE, E_TOO_EARLY
from ledger import encoding
from tests.contract_harness import Harness
from tests.trading_kit import OTHER_REGION, REGION, ROLES, SPECIALTY, Trading, uscc

T = {"tender_id": "T1"}


def opened(count: int = 3, **announce: Any) -> tuple[Trading, list[Any]]:
    t = Trading()
    t.announce(**announce)
    bidders = t.bidders(count)
    for i, b in enumerate(bidders):
        t.bid(b, 900_000_000 + i)
    t.open()
    for b in bidders:
        t.reveal(b)
    t.close()
    t.h.advance(ms=31 * MINUTE_MS)
    return t, bidders


def experts_seated(t: Trading) -> list[dict[str, Any]]:
    return [m for m in t.current_draw()["members"] if m["kind"] == "expert"]


def replay_until(t: Trading, call: str) -> tuple[DictState, int]:
    """Replay the committed blocks on a fresh state up to (not including) the last block
    holding ``call``: the state that block ran on, and the block's index."""
    index = max(i for i, (txs, _) in enumerate(t.blocks) if any(x.body.call == call for x in txs))
    replay = Harness(roles=ROLES)
    for txs, at_ms in t.blocks[:index]:
        replay.run_block(txs, at_ms=at_ms)
    return replay.state, index


# --- the expert pool ---


def test_an_experts_key_is_its_own_never_an_entitys() -> None:
    """User walk: an expert registered with the tenderer's key was seated as an independent
    expert and scored its own tender (and took the representative's seat). Neither way
    round: an entity's key is no expert's, and an expert's key is bound to no entity."""
    t = Trading()
    tenderer = t.tenderer.pubkey
    args = {"code": "E9", "pubkey": tenderer, "specialties": [SPECIALTY], "region": REGION,
            "employer": uscc(5)}
    refused = t.h.expect_refused(t.pool, "expert.register", args, E_EXISTS)
    assert f"bound to entity {t.uscc_of['tenderer']}" in refused.message
    (code,) = t.register_experts(1)
    refused = t.h.expect_refused(t.attestor, "identity.bind_key", {
        "uscc": t.uscc_of["tenderer"], "pubkey": t.expert(code).pubkey}, E_EXISTS)
    assert "an evaluation expert's" in refused.message


def test_experts_are_registered_by_the_pool_role_under_unique_codes_and_keys() -> None:
    t = Trading()
    (code,) = t.register_experts(1)
    rec = t.h.get(experts.expert_key(code))
    assert rec["status"] == "active" and rec["version"] == 1 and "name" not in rec
    assert t.h.get(experts.key_index(t.expert(code).pubkey)) == {"code": code}
    args = {"code": "E9", "pubkey": t.expert("E9").pubkey, "specialties": [SPECIALTY],
            "region": REGION, "employer": uscc(5)}
    t.h.expect_refused(t.platform, "expert.register", args, "E_FORBIDDEN")
    t.h.expect_refused(t.pool, "expert.register", {**args, "code": code}, E_EXISTS)
    t.h.expect_refused(t.pool, "expert.register", {**args, "pubkey": t.expert(code).pubkey},
                       E_EXISTS)
    t.h.expect_refused(t.pool, "expert.register", {**args, "code": "a/b"}, E_BAD_ARGS)
    t.h.expect_refused(t.pool, "expert.register", {**args, "employer": "X"}, "E_BAD_USCC")
    t.h.expect_refused(t.pool, "expert.register", {**args, "specialties": []}, E_BAD_ARGS)


def test_updates_keep_every_version_and_relations_only_grow() -> None:
    t = Trading()
    (code,) = t.register_experts(1)
    registered_ms = t.h.time_ms
    t.h.expect_ok(t.pool, "expert.update", {"code": code, "status": "suspended"})
    t.h.expect_ok(t.expert(code), "expert.declare", {"uscc": uscc(77)})
    t.h.expect_refused(t.expert(code), "expert.declare", {"uscc": uscc(77)}, E_EXISTS)
    t.h.expect_refused(t.platform, "expert.declare", {"uscc": uscc(78)}, E_FORBIDDEN)
    t.h.expect_refused(t.pool, "expert.update", {"code": "nobody"}, E_NOT_FOUND)
    t.h.expect_refused(t.pool, "expert.update", {"code": code, "status": "gone"}, E_BAD_ARGS)
    rec = t.h.get(experts.expert_key(code))
    assert rec is not None
    assert rec["version"] == 3 and rec["relations"] == [uscc(77)]
    then = experts.as_of(t.h.get, code, registered_ms)
    assert then is not None and then["status"] == "active"
    assert experts.as_of(t.h.get, code, registered_ms - 1) is None
    assert t.h.get(experts.version_key(code, 1))["until_ms"] > registered_ms


# --- the request ---


def test_an_expert_draw_before_the_deadline_or_the_opening_is_refused() -> None:
    t = Trading()
    t.announce()
    t.register_experts(7)
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(), E_TOO_EARLY)
    t.h.time_ms = t.tender()["deadline_ms"]
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(), E_LIFECYCLE)


def test_the_draw_comes_at_most_two_days_before_the_evaluation() -> None:
    t, _ = opened()
    t.register_experts(7)
    now = t.h.time_ms + 1000
    late: dict[str, Any] = {"evaluation_start_ms": now + 3 * DAY_MS,
                            "evaluation_end_ms": now + 4 * DAY_MS}
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(**late), E_DRAW_TIMING)
    past: dict[str, Any] = {"evaluation_start_ms": now - 1, "evaluation_end_ms": now + DAY_MS}
    refused = t.h.expect_refused(t.platform, "draw.request", t.draw_args(**past), E_DRAW_TIMING)
    assert "has passed" in refused.message  # (user walk: it said "at most 2 days before")
    soon = t.h.time_ms + 60_000
    backwards: dict[str, Any] = {"evaluation_start_ms": soon, "evaluation_end_ms": soon}
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(**backwards), E_BAD_ARGS)
    t.h.expect_refused(t.entity("stranger"), "draw.request", t.draw_args(), E_FORBIDDEN)
    t.h.expect_ok(t.tenderer, "draw.request", t.draw_args())  # the tenderer's own key
    t.h.expect_refused(t.platform, "draw.request", t.draw_args(), E_STATE)  # one at a time


@pytest.mark.parametrize(
    ("size", "count", "reps", "code"),
    [
        (4, 4, 0, E_COMMITTEE),  # even
        (3, 3, 0, E_COMMITTEE),  # under 5
        (5, 3, 2, E_COMMITTEE),  # experts 3 of 5 < 2/3
        (7, 5, 1, E_COMMITTEE),  # one representative named for two seats
        (7, 5, 3, E_COMMITTEE),  # more representatives than seats left
    ],
)
def test_the_committee_is_odd_at_least_5_and_two_thirds_experts(
    size: int, count: int, reps: int, code: str
) -> None:
    t, _ = opened()
    t.register_experts(9)
    keys = [t.h.account(f"rep{i}").pubkey for i in range(reps)]
    args = t.draw_args(size, count, keys)
    t.h.expect_refused(t.platform, "draw.request", args, code)


def test_representatives_are_the_tenderers_own_keys_up_to_the_rest() -> None:
    t, bidders = opened()
    t.register_experts(9)
    stranger = t.h.account("stranger").pubkey
    t.h.expect_refused(
        t.platform, "draw.request", t.draw_args(7, 5, [t.tenderer.pubkey, stranger]), E_COMMITTEE
    )
    rep = t.h.account("tenderer-rep")
    t.h.expect_ok(t.attestor, "identity.bind_key",
                  {"uscc": t.uscc_of["tenderer"], "pubkey": rep.pubkey})
    draw = t.draw(7, count=5, reps=[t.tenderer.pubkey, rep.pubkey])
    kinds = [m["kind"] for m in draw["members"]]
    assert kinds.count("expert") == 5 and kinds.count("representative") == 2



def test_a_representative_named_twice_is_refused_as_a_duplicate_not_a_miscount() -> None:
    t, _ = opened()
    t.register_experts(9)
    twice = t.draw_args(7, 5, [t.tenderer.pubkey, t.tenderer.pubkey])
    refused = t.h.expect_refused(t.platform, "draw.request", twice, E_COMMITTEE)
    assert refused.message == "the representatives' keys must be distinct"
    # checked before the count: three copies for two seats are a duplicate too
    thrice = t.draw_args(7, 5, [t.tenderer.pubkey] * 3)
    refused = t.h.expect_refused(t.platform, "draw.request", thrice, E_COMMITTEE)
    assert refused.message == "the representatives' keys must be distinct"
    one = t.draw_args(7, 5, [t.tenderer.pubkey])
    refused = t.h.expect_refused(t.platform, "draw.request", one, E_COMMITTEE)
    assert refused.message == "the tenderer seats exactly 2 representatives"


# --- seating ---


def test_conflicted_experts_are_never_seated_and_a_short_pool_is_recorded() -> None:
    t, bidders = opened(agent=uscc(4))
    clean = t.register_experts(5)
    t.register_experts(2, employer=t.uscc_of[bidders[0].name])  # a bidder's employees
    t.register_experts(1, relations=[t.uscc_of["tenderer"]])
    t.register_experts(1, relations=[uscc(4)])  # related to the agent
    draw = t.draw(5)
    assert sorted(m["member"] for m in experts_seated(t)) == clean
    assert draw["status"] == "seated"
    assert t.tender()["state"] == "evaluating"
    # a sixth seat cannot be filled: every other expert is conflicted
    t2, _ = opened()
    t2.register_experts(4)
    t2.register_experts(3, relations=[t2.uscc_of["tenderer"]])
    assert t2.draw(5)["status"] == "short" and t2.tender()["state"] == "drawing"


def test_experts_are_drawn_for_the_specialty_each_group_names() -> None:
    t, _ = opened()
    civil = t.register_experts(6, specialty="A01")
    cost = t.register_experts(6, specialty="B02")
    t.draw(5, groups=[{"specialty": "A01", "count": 3}, {"specialty": "B02", "count": 2}])
    seated = [m["member"] for m in experts_seated(t)]
    assert len(seated) == 5
    assert sum(1 for m in seated if m in civil) == 3 and sum(1 for m in seated if m in cost) == 2
    for m in seated:
        current = experts.current(t.h.get, m)
        assert current is not None
        assert ("A01" if m in civil else "B02") in current["specialties"]
    # a group of a specialty the pool lacks is not filled from another specialty
    t2, _ = opened()
    t2.register_experts(9, specialty="A01")
    assert t2.draw(5, groups=[{"specialty": "C03", "count": 5}])["status"] == "short"


def test_a_cross_region_tender_draws_a_third_of_its_experts_from_other_regions() -> None:
    t, _ = opened(cross_region=True)
    t.register_experts(12, region=REGION)
    t.register_experts(3, region=OTHER_REGION)
    draw = t.draw(7)  # 7 experts: at least 3 from other regions
    seated = experts_seated(t)
    assert sum(1 for m in seated if not m["local"]) >= 3 and draw["local_max"] == 4
    for m in seated:
        current = experts.current(t.h.get, m["member"])
        assert current is not None
        region = current["region"]
        assert m["local"] == (region == REGION)
    t2, _ = opened(cross_region=True)
    t2.register_experts(12, region=REGION)
    t2.register_experts(1, region=OTHER_REGION)
    assert t2.draw(5)["status"] == "short"  # 2 of 5 must come from elsewhere, 1 exists


def test_the_committee_is_recomputed_from_committed_data_alone() -> None:
    """An outsider replays the committed blocks, recomputes the seed from the reveals and
    the request's subject, and the committee from the state the seating block ran on."""
    t, bidders = opened(cross_region=True)
    t.register_experts(9)
    t.register_experts(4, region=OTHER_REGION)
    t.register_experts(2, employer=t.uscc_of[bidders[1].name])
    t.draw(7)
    before, index = replay_until(t, "draw.seat")
    after = Harness(roles=ROLES)
    for txs, at_ms in t.blocks:
        after.run_block(txs, at_ms=at_ms)
    record = after.get("draw/T1/1")
    request = after.get("beacon/draw/T1/1")
    core = {k: record[k] for k in ("tender_id", "round", "request_ms", "request_height", "size",
                                    "groups", "representatives", "home_region", "cross_region",
                                    "local_max", "parties", "evaluation_start_ms",
                                    "evaluation_end_ms")}
    assert after.suite.hash(encoding.encode(core)) == request["subject"] == record["subject"]
    seed = seed_from(after.suite, after.chain_id, "draw/T1/1", request["subject"],
                     request["reveals"])
    assert seed == record["seed"]
    drawn = committee.draw_committee(
        Overlay(before).get, after.suite, seed, committee.spec_of(record)
    )
    assert [s.code for s in drawn.seats] == [
        m["member"] for m in record["members"] if m["kind"] == "expert"
    ]
    assert drawn.cursors == record["cursors"] and not drawn.short


def test_pool_changes_after_the_request_can_take_experts_out_but_never_bring_one_in() -> None:
    t, _ = opened()
    codes = t.register_experts(6)
    t.h.expect_ok(t.pool, "expert.update", {"code": codes[0], "status": "suspended"})
    t.h.expect_ok(t.platform, "draw.request", t.draw_args())
    t.h.expect_ok(t.pool, "expert.update", {"code": codes[0], "status": "active"})  # in again?
    t.h.expect_ok(t.pool, "expert.update", {"code": codes[1], "status": "suspended"})  # out
    late = t.register_experts(3)  # registered after the request: positions never reached
    t.run_beacon()
    t.h.expect_ok(t.platform, "draw.seat", T)
    assert t.current_draw()["status"] == "short"  # 4 eligible for 5 seats
    assert not {codes[0], codes[1], *late} & {m["member"] for m in t.current_draw()["members"]}


def test_a_decline_is_replaced_by_the_same_draw() -> None:
    t, _ = opened()
    t.register_experts(8)
    before_decline = t.draw(5)
    first = experts_seated(t)[0]["member"]
    pre = Overlay(DictState(dict(t.h.state.values)))
    t.h.expect_ok(t.expert(first), "draw.decline", T)
    draw = t.current_draw()
    # the same shuffle of the same group, continued from its cursor, on the state the
    # decline ran on
    drawn = drawn_of(before_decline)
    spec = committee.spec_of(before_decline)
    replacement = committee.replace_seat(pre.get, t.h.suite, draw["seed"], spec, drawn, first)
    assert replacement is not None
    assert [m["member"] for m in experts_seated(t)] == [s.code for s in drawn.seats]
    assert replacement.code not in [m["member"] for m in before_decline["members"]]
    assert draw["cursors"][0] > before_decline["cursors"][0]
    assert draw["declined"][0]["member"] == first and t.tender()["state"] == "evaluating"
    t.h.expect_refused(t.expert(first), "draw.decline", T, E_FORBIDDEN)  # not a member now


def test_who_may_decline_and_a_decline_with_no_replacement() -> None:
    t, bidders = opened()
    t.register_experts(5)
    t.draw(5)
    seated = experts_seated(t)
    t.to_evaluation_start()
    acct = t.expert(seated[0]["member"])
    sheet = {"tender_id": "T1", "lot": 1, "bidder": t.uscc_of[bidders[0].name], "points": {}}
    t.h.expect_ok(acct, "evaluation.score", sheet)
    t.h.expect_refused(acct, "draw.decline", T, E_STATE)  # it has scored
    t.h.expect_refused(t.tenderer, "draw.decline", T, E_FORBIDDEN)
    t.h.expect_ok(t.expert(seated[1]["member"]), "draw.decline", T)
    assert t.current_draw()["status"] == "short" and t.tender()["state"] == "drawing"
    t.register_experts(3)
    t.draw(5)
    assert t.tender()["eval_round"] == 2 and t.current_draw()["status"] == "seated"


def test_a_relation_declared_after_the_seat_stops_the_expert_scoring() -> None:
    """User walk of 2026-12-03: a seated expert declared a relation to a bidder and its
    sheet for that bidder was still receipt OK. DOMAIN.md excludes anyone with a declared
    relation to any bidder: it may not score (``E_CONFLICT``); it declines the seat and the
    same draw seats the next expert. An expert who changed employer to the tenderer is
    refused the same way; the others score as before."""
    t, bidders = opened()
    t.register_experts(8)
    t.draw(5)
    seated = [m["member"] for m in experts_seated(t)]
    t.to_evaluation_start()
    bidder = t.uscc_of[bidders[0].name]
    sheet = {"tender_id": "T1", "lot": 1, "bidder": bidder, "points": {}}
    related, moved, clean = (t.expert(code) for code in seated[:3])
    t.h.expect_ok(related, "expert.declare", {"uscc": bidder})
    receipt = t.h.expect_refused(related, "evaluation.score", sheet, "E_CONFLICT")
    assert seated[0] in receipt.message and "draw.decline" in receipt.message
    t.h.expect_ok(t.pool, "expert.update",
                  {"code": seated[1], "employer": t.uscc_of["tenderer"]})
    t.h.expect_refused(moved, "evaluation.score", sheet, "E_CONFLICT")
    t.h.expect_ok(clean, "evaluation.score", sheet)
    t.h.expect_ok(related, "draw.decline", T)
    now = [m["member"] for m in experts_seated(t)]
    assert seated[0] not in now and len(now) == 5


# --- a state machine over draws ---


class DrawMachine(RuleBasedStateMachine):
    """Random pools (regions, employers, relations, statuses), random requests, pool changes
    between request and seat, declines; after every step no seated expert is conflicted or
    inactive (as of the request and now), the quota holds, and a seat recomputed from the
    state it ran on gives the same committee."""

    def __init__(self) -> None:
        super().__init__()
        self.t, self.bidders = opened(cross_region=True)
        self.parties = [self.t.uscc_of["tenderer"], *(self.t.uscc_of[b.name] for b in self.bidders)]

    @initialize(local=st.integers(3, 8), other=st.integers(1, 4))
    def base_pool(self, local: int, other: int) -> None:
        self.t.register_experts(local, region=REGION)
        self.t.register_experts(other, region=OTHER_REGION)

    @rule(local=st.booleans(), conflict=st.sampled_from(["none", "employer", "relation"]))
    def register(self, local: bool, conflict: str) -> None:
        over: dict[str, Any] = {"region": REGION if local else OTHER_REGION}
        if conflict == "employer":
            over["employer"] = self.parties[len(self.t.expert_codes) % len(self.parties)]
        elif conflict == "relation":
            over["relations"] = [self.parties[0]]
        self.t.register_experts(1, **over)

    @rule(i=st.integers(0, 40), status=st.sampled_from(["active", "suspended", "retired"]))
    def set_status(self, i: int, status: str) -> None:
        if self.t.expert_codes:
            code = self.t.expert_codes[i % len(self.t.expert_codes)]
            self.t.h.expect_ok(self.t.pool, "expert.update", {"code": code, "status": status})

    @rule(i=st.integers(0, 40))
    def declare(self, i: int) -> None:
        if self.t.expert_codes:
            code = self.t.expert_codes[i % len(self.t.expert_codes)]
            self.t.h.call(self.t.expert(code), "expert.declare", {"uscc": self.parties[-1]})

    @rule(size=st.sampled_from([5, 7]))
    def request(self, size: int) -> None:
        self.t.h.call(self.t.platform, "draw.request", self.t.draw_args(size))

    @rule()
    def seat(self) -> None:
        t = self.t
        t.run_beacon()
        pre = DictState(dict(t.h.state.values))
        receipt = t.h.call(t.platform, "draw.seat", T)
        event(f"seat: {receipt.code}")
        if receipt.code != "OK":
            return
        draw = t.current_draw()
        event(f"draw {draw['status']}")
        if draw["status"] in ("seated", "short"):
            again = committee.draw_committee(
                Overlay(pre).get, t.h.suite, draw["seed"], committee.spec_of(draw)
            )
            seated = [m["member"] for m in draw["members"] if m["kind"] == "expert"]
            assert [s.code for s in again.seats] == seated and again.short == (
                draw["status"] == "short"
            )

    @rule(i=st.integers(0, 10))
    def decline(self, i: int) -> None:
        if self.t.tender()["state"] != "evaluating":
            return
        seated = experts_seated(self.t)
        self.t.h.expect_ok(self.t.expert(seated[i % len(seated)]["member"]), "draw.decline", T)

    @invariant()
    def seated_experts_obey_every_rule(self) -> None:
        tender = self.t.tender()
        if tender["eval_round"] == 0:
            return
        draw = self.t.current_draw()
        parties = frozenset(draw["parties"])
        assert set(self.parties) <= parties
        seated = [m for m in draw["members"] if m["kind"] == "expert"]
        codes = [m["member"] for m in seated]
        assert len(codes) == len(set(codes))
        assert not set(codes) & {d["member"] for d in draw["declined"]}
        for m in seated:
            for rec in (experts.as_of(self.t.h.get, m["member"], draw["request_ms"]),):
                assert rec is not None and rec["status"] == "active"
                assert not experts.conflicted(rec, parties)
        if draw["status"] == "seated":
            assert sum(1 for m in seated if m["local"]) <= draw["local_max"]
            assert len(seated) == sum(g["count"] for g in draw["groups"])


DrawMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_draw_machine = DrawMachine.TestCase


def test_experts_validators_and_role_holders_are_known_senders() -> None:
    """The permissioned admission (``contracts.senders``) lets an expert sign its sheets and
    a validator send the beacon; a key that is none of these stays out."""
    from contracts.senders import sender_known

    t = Trading()
    (code,) = t.register_experts(1)
    now = t.h.time_ms
    assert sender_known(t.h.state, t.expert(code).pubkey, now)
    assert sender_known(t.h.state, t.validator_accounts()[0].pubkey, now)
    assert sender_known(t.h.state, t.pool.pubkey, now)  # the expert_pool role
    assert not sender_known(t.h.state, t.h.account("nobody").pubkey, now)
    fresh = t.h.account("expert-new-key")
    t.h.expect_ok(t.pool, "expert.update", {"code": code, "pubkey": fresh.pubkey})
    assert sender_known(t.h.state, fresh.pubkey, now)
    assert not sender_known(t.h.state, t.expert(code).pubkey, now)  # the old key is gone


def test_one_sender_check_answers_a_batch_as_the_single_questions_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``contracts.agents.SenderCheck`` (admission's batches, a block's proposal and check)
    gives each transaction the verdict ``sender_known`` / ``authorised_agent`` give alone,
    and decodes an entity's records once for all its agents' calls."""
    from contracts import agents as agents_module
    from contracts.agents import SenderCheck, authorised_agent
    from contracts.bidder import agent_tx
    from contracts.senders import sender_known
    from ledger.tx import SignedTx

    t = Trading()
    (code,) = t.register_experts(1)
    bidder = t.entity("E1")
    h, now = t.h, t.h.time_ms
    args = {"tender_id": "T1", "lot": 1}
    agents = [agent_tx(h.suite, h.chain_id, bidder.secret, "bid.submit", args,
                       h.account(f"agent-{i}").secret) for i in range(20)]
    forged = agent_tx(h.suite, h.chain_id, h.account("nobody").secret, "bid.submit",
                      {**args, "bidder_key": bidder.pubkey}, h.account("agent-x").secret)
    plain = [h.tx(a, "expert.decline", {}, nonce=0) for a in (
        t.expert(code), t.validator_accounts()[0], t.pool, h.account("nobody"), bidder)]
    batch: list[SignedTx] = [*plain, *agents, forged, plain[3], plain[0]]
    alone = [authorised_agent(h.state, h.suite, h.chain_id, tx, now)
             if tx.body.call == "bid.submit" and tx.body.sender != bidder.pubkey
             else sender_known(h.state, tx.body.sender, now) for tx in batch]
    assert alone == [True, True, True, False, True, *[True] * 20, False, False, True]
    decoded: list[bytes] = []
    real = encoding.decode_trusted

    def counting(raw: bytes) -> Any:
        decoded.append(raw)
        return real(raw)

    monkeypatch.setattr(encoding, "decode_trusted", counting)
    check = SenderCheck(h.state, h.suite, h.chain_id, now)
    assert [check(tx) for tx in batch] == alone
    # The validator set, the bidder's key binding and its attestation; 47 with a view made
    # afresh for each question.
    assert len(decoded) <= 5, f"{len(decoded)} decodes for a batch of 20 agents of one entity"
    # Its answers per sender are bounded (a flood of strangers' keys): forgetting them
    # changes no verdict.
    monkeypatch.setattr(agents_module, "SENDERS_REMEMBERED", 2)
    small = SenderCheck(h.state, h.suite, h.chain_id, now)
    assert [small(tx) for tx in batch] == alone and len(small._known) <= 2


def test_a_sender_check_asks_about_an_entity_key_once_and_only_for_its_own_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty agents' calls naming one entity key: one ``SenderCheck`` looks the entity up
    once, and a second check of the same calls builds no authorisation message again (the
    verdict is kept by the fields it is made of). The answer lives as long as its check: a
    check made after the entity is frozen refuses every agent the earlier one let in."""
    import contracts.identity
    from contracts import agents as agents_module
    from contracts.agents import SenderCheck
    from contracts.bidder import agent_tx

    t = Trading()
    bidder = t.entity("E1")
    h, now = t.h, t.h.time_ms
    args = {"tender_id": "T1", "lot": 1}
    calls = [agent_tx(h.suite, h.chain_id, bidder.secret, "bid.submit", args,
                      h.account(f"agent-{i}").secret) for i in range(20)]
    looked_up: list[bytes] = []
    messages: list[bytes] = []
    real_lookup, real_message = contracts.identity.entity_of_key, agents_module.agent_message

    def lookup(view: Any, key: bytes, at_ms: int) -> str | None:
        looked_up.append(key)
        return real_lookup(view, key, at_ms)

    def message(*a: Any) -> bytes:
        messages.append(a[-1])
        return real_message(*a)

    monkeypatch.setattr(agents_module, "entity_of_key", lookup)
    monkeypatch.setattr(agents_module, "agent_message", message)
    monkeypatch.setattr(agents_module, "_verdicts", OrderedDict())  # (other tests' agents)
    first = SenderCheck(h.state, h.suite, h.chain_id, now)
    assert all(first(tx) for tx in calls)
    assert looked_up == [bidder.pubkey]
    assert len(messages) == 20
    second = SenderCheck(h.state, h.suite, h.chain_id, now)
    assert all(second(tx) for tx in calls)
    assert len(looked_up) == 2 and len(messages) == 20
    h.govern("freeze", {"subject": t.uscc_of["E1"], "reason": "investigation"})
    after = SenderCheck(h.state, h.suite, h.chain_id, h.time_ms)
    assert not any(after(tx) for tx in calls)
