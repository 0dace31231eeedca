"""One test per PBFT rule (Castro & Liskov, adapted to a chain), as raft_paper_test.go does.

Each test drives a hand-held cluster (``tests/sim/harness.py``) through the few events
the rule needs and checks the effects, in their order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from consensus import durable, messages
from consensus.api import (
    BlocksFetched,
    CommitBlock,
    Effect,
    FetchBlocks,
    Log,
    MessageIn,
    Persist,
    ReplicaConfig,
    Send,
    StoreState,
    Tick,
    WakeAt,
)
from consensus.messages import Commit, Message, NewView, Prepare, PrePrepare, ViewChange
from consensus.quorum import leader, quorum, weak_quorum
from contracts.errors import E_BAD_ARGS
from ledger import schema
from ledger.block import Block, verify_qc
from ledger.limits import LEADER_MEMORY_MAX
from ledger.snapshot import Manifest
from tests.sim.harness import RULES_CONFIG, Cluster
from tests.sim.nodes import CHAIN_ID, GENESIS_TIME_MS, TICK_MS
from tests.snapshotkit import synced_kv


def sent(effects: list[Effect], kind: type) -> list[Message]:
    return [e.message for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def first_index(effects: list[Effect], pred: type, kind: type | None = None) -> int:
    for k, e in enumerate(effects):
        if isinstance(e, pred) and (kind is None or isinstance(getattr(e, "message", None),
                                                                kind)):
            return k
    return -1


def propose(c: Cluster, with_tx: bool = True) -> PrePrepare:
    """Let the leader of height 1 view 0 (replica 1 of 4) propose; return its pre-prepare."""
    c.tick_all(1, only=[0, 2, 3])  # the others' clocks (inputs, from their ticks)
    if with_tx:
        c.submit(c.tx(), to=[1])
    effects = c.step(1, Tick(c.now_ms()))
    pps = sent(effects, PrePrepare)
    assert len(pps) == 1
    c.queue.clear()
    pp = pps[0]
    assert isinstance(pp, PrePrepare)
    return pp


def forged(c: Cluster, pp: PrePrepare, **header_changes: object) -> PrePrepare:
    block = Block(pp.block.header.with_changes(**header_changes), pp.block.txs)
    return messages.sign(c.suite, c.keys[pp.sender][0], CHAIN_ID, replace(pp, block=block))


# ---- quorum arithmetic and leaders ----------------------------------------------------------


def test_quorum_is_n_plus_f_halved_plus_one_and_weak_quorum_is_f_plus_one() -> None:
    assert [quorum(n) for n in (4, 5, 6, 7)] == [3, 4, 4, 5]
    assert [weak_quorum(n) for n in (4, 5, 6, 7)] == [2, 2, 2, 3]


def test_leader_of_a_view_is_view_plus_height_mod_n() -> None:
    assert [leader(1, v, 4) for v in range(5)] == [1, 2, 3, 0, 1]
    assert leader(6, 0, 7) == 6 and leader(6, 1, 7) == 0


def _header(height: int, view: int, proposer: int, vh: bytes = b"v" * 32) -> Any:
    from ledger.block import Header

    return Header(chain_id=CHAIN_ID, height=height, prev_hash=bytes(32), time_ms=height,
                  view=view, proposer=proposer, tx_root=bytes(32), receipts_root=bytes(32),
                  state_root=bytes(32), validators_hash=vh, next_validators_hash=vh)


def test_a_validator_that_failed_to_lead_is_passed_over_then_leads_last() -> None:
    from consensus.quorum import failed_leaders

    vh = b"v" * 32
    # Height 9's order is 1 2 3 0; the block committed in view 1 by 2: 1 was passed over.
    recent = [_header(8, 0, 0), _header(9, 1, 2), _header(10, 0, 2)]
    assert failed_leaders(recent, 11, 4, vh, window=100) == {1}
    assert [leader(13, v, 4, frozenset({1})) for v in range(4)] == [2, 3, 0, 1]
    assert [leader(13, v, 4) for v in range(4)] == [1, 2, 3, 0]
    # from view n on, the plain rotation, whoever is passed over
    assert [leader(13, v, 4, frozenset({1})) for v in range(4, 9)] == [1, 2, 3, 0, 1]
    assert failed_leaders(recent, 11, 4, vh, window=1) == frozenset()  # 9 is out of it
    assert failed_leaders(recent, 11, 4, b"w" * 32, window=100) == frozenset()  # other set
    # At most f: of 7 validators (f = 2) the most recent failures count.
    # height 21 (order 0 1 …): 0 passed over; height 20 (order 6 0 1 2 3 …): 6 0 1 2
    many = [_header(20, 3, 3), _header(21, 1, 1)]
    assert failed_leaders(many, 22, 7, vh, window=100) == {0, 6}
    assert failed_leaders([_header(30, 2, 3)], 31, 4, vh, window=0) == frozenset()


def test_a_crashed_validator_costs_one_view_change_per_window_not_one_per_round() -> None:
    """3 of 4 running: with leader memory the dead validator's turns are skipped after its
    first failure; without it, every fourth height waits a whole view timeout."""
    def run(memory: int) -> tuple[int, int]:
        c = Cluster(params={"leader_memory_heights": memory})
        drop: Any = lambda s, d, m: 3 in (s, d)  # noqa: E731 (node 3 is down)
        c.run_until(24, max_ticks=2000, drop=drop, only=[0, 1, 2])
        views = sum(1 for h in range(1, 25) if c.block(0, h).header.view > 0)  # type: ignore
        return c.ticks, views

    ticks_memory, views_memory = run(100)
    ticks_plain, views_plain = run(0)
    assert views_memory == 1 and views_plain >= 5, (views_memory, views_plain)
    # each view change skipped saves about a view timeout
    saved = (views_plain - views_memory) * RULES_CONFIG.view_timeout_ticks
    assert ticks_memory + saved * 0.8 <= ticks_plain, (ticks_memory, ticks_plain, saved)


def test_leader_memory_is_a_chain_parameter_that_a_vote_changes_for_every_replica_alike() -> None:
    """The memory is the chain parameter ``leader_memory_heights``: a vote changes it from the
    block after the one executing it, on every replica at once. Turned off, the dead
    validator's turns cost view changes again. Turned back on, the failures committed while
    it was off count at once: every replica keeps the failed heights of the largest window
    (``LEADER_MEMORY_MAX``), not of the current one, as a replica restarted from its store
    reads them; so the two pass over the same validators."""
    c = Cluster()  # the genesis default: 1,000 heights
    down: Any = lambda s, d, m: 3 in (s, d)  # noqa: E731 (node 3 is down)
    up = [0, 1, 2]

    def vote(value: int) -> int:
        """Submit the vote and run until a block holds it; returns that block's height."""
        tx = c.client.propose("set_param", {"name": "leader_memory_heights", "value": value})
        c.submit(tx, to=up)
        tx_id = tx.tx_id(c.suite)
        for h in range(c.heights()[0] + 1, c.heights()[0] + 4):
            c.run_until(h, max_ticks=2000, drop=down, only=up)
            if any(t.tx_id(c.suite) == tx_id for t in c.block(0, h).txs):  # type: ignore
                return h
        raise AssertionError("the vote did not commit")

    def failed_views(low: int, high: int) -> int:
        return sum(1 for h in range(low, high + 1) if c.block(0, h).header.view > 0)  # type: ignore

    def passed_over() -> list[frozenset[int]]:
        return [r.passed_over for r in c.replicas[:3]]

    c.run_until(8, max_ticks=2000, drop=down, only=up)
    assert passed_over() == [frozenset({3})] * 3
    assert c.replicas[0].status().passed_over == (3,)  # what /status shows an operator
    assert failed_views(1, 8) == 1

    off = vote(0)
    assert [n.chain.app.leader_memory_at_head() for n in c.nodes[:3]] == [0, 0, 0]  # type: ignore
    assert passed_over() == [frozenset()] * 3
    c.run_until(off + 12, max_ticks=4000, drop=down, only=up)
    assert failed_views(off + 1, off + 12) >= 2  # node 3's turns: every fourth height
    # Vote when the next heights are not node 3's turn (it leads view 0 at heights 3 mod 4),
    # so that no failure lies within one height of the vote: the failures that count next
    # are older than any window of the last few heights.
    while c.heights()[0] % 4 != 0:
        c.run_until(c.heights()[0] + 1, max_ticks=2000, drop=down, only=up)
    c.restart(1)  # it reads the failures from its store, though no window counts them now
    on = vote(50)
    assert on % 4 != 3 and failed_views(on - 1, on) == 0, on
    assert passed_over() == [frozenset({3})] * 3
    c.restart(0)
    assert c.store_state(0).leader_memory == 50
    assert passed_over() == [frozenset({3})] * 3
    c.run_until(on + 8, max_ticks=2000, drop=down, only=up)
    assert failed_views(on + 1, on + 8) == 0


def _state_sync(c: Cluster, i: int, change: Callable[[Manifest], Manifest] | None = None,
                ) -> int:
    """Node ``i`` starts again from a snapshot of node 0's head, with its consensus records
    carried over (``node resync --state-sync``); returns the snapshot's height."""
    source = c.nodes[0].chain.store  # type: ignore[union-attr]
    height = source.head()[0]
    c.nodes[i].kv = synced_kv(source, c.doc, height, dict(c.nodes[i].kv.scan(schema.CONSENSUS)),
                              change)
    c.restart(i)
    assert c.nodes[i].chain.store.base == height  # type: ignore[union-attr]
    return height


def test_a_validator_state_synced_while_another_is_down_chooses_the_same_leaders() -> None:
    """Node 3 is down, so the others pass it over; node 2 then starts from a snapshot. The
    snapshot carries the blocks decided in a view above 0, so node 2 passes node 3 over too
    and the three go on without a view change (all three must vote: 3 of 4)."""
    c = Cluster()
    down: Any = lambda s, d, m: 3 in (s, d)  # noqa: E731 (node 3 is down)
    c.run_until(8, max_ticks=2000, drop=down, only=[0, 1, 2])
    height = _state_sync(c, 2)
    assert [r.passed_over for r in c.replicas[:3]] == [frozenset({3})] * 3
    c.run_until(height + 8, max_ticks=2000, drop=down, only=[0, 1, 2])
    assert [c.block(0, h).header.view for h in range(height + 1, height + 9)] == [0] * 8  # type: ignore


def test_replicas_that_disagree_about_who_failed_agree_again_from_view_n() -> None:
    """The same, with a snapshot that left its late blocks out (an older peer, or one that
    withheld them): node 2 passes nobody over, so at node 3's turn the two orders differ in
    every view below n. From view n on the leader is ``(view + height) mod n`` for all, so
    that height is decided after a few view changes instead of never; after it node 2 has
    a failure of its own to read and agrees again."""
    c = Cluster()
    down: Any = lambda s, d, m: 3 in (s, d)  # noqa: E731 (node 3 is down)
    c.run_until(8, max_ticks=2000, drop=down, only=[0, 1, 2])
    height = _state_sync(c, 2, lambda m: replace(m, late=()))
    assert [r.passed_over for r in c.replicas[:3]] == [frozenset({3})] * 2 + [frozenset()]
    c.run_until(height + 8, max_ticks=3000, drop=down, only=[0, 1, 2])
    views = [c.block(0, h).header.view for h in range(height + 1, height + 9)]  # type: ignore
    turn = next(h for h in range(height + 1, height + 9) if h % 4 == 3)  # node 3's view 0
    assert views[turn - height - 1] >= 4, views
    assert [v for h, v in enumerate(views, height + 1) if h != turn] == [0] * 7, views
    assert [r.passed_over for r in c.replicas[:3]] == [frozenset({3})] * 3


def test_a_leader_memory_out_of_bounds_is_refused_in_genesis_and_by_a_vote() -> None:
    with pytest.raises(ValueError, match="leader_memory_heights"):
        Cluster(params={"leader_memory_heights": LEADER_MEMORY_MAX + 1})
    c = Cluster()
    tx = c.client.propose("set_param", {"name": "leader_memory_heights", "value": -1})
    c.submit(tx)
    c.run_until(3)
    found = c.nodes[0].chain.receipt(tx.tx_id(c.suite))  # type: ignore
    assert found is not None and found[2].code == E_BAD_ARGS, found
    assert c.nodes[0].chain.app.leader_memory_at_head() == 1000  # type: ignore


# ---- normal case ----------------------------------------------------------------------------


def test_primary_batches_client_txs_and_persists_its_prepare_before_the_pre_prepare() -> None:
    c = Cluster()
    tx = c.tx()
    c.submit(tx, to=[1])
    effects = c.step(1, Tick(c.now_ms()))
    persist = first_index(effects, Persist)
    assert 0 <= persist < first_index(effects, Send, PrePrepare) < first_index(effects, Send,
                                                                                  Prepare)
    (pp,) = sent(effects, PrePrepare)
    assert isinstance(pp, PrePrepare) and pp.block.txs == (tx,)
    assert pp.block.header.proposer == 1 and pp.height == 1 and pp.view == 0


def test_primary_without_txs_proposes_an_empty_block_only_after_empty_block_ticks() -> None:
    c = Cluster()
    early = c.tick_all(RULES_CONFIG.empty_block_ticks - 1, only=[1])
    assert sent(early, PrePrepare) == []
    (pp,) = sent(c.tick_all(1, only=[1]), PrePrepare)
    assert isinstance(pp, PrePrepare) and pp.block.txs == ()


def test_a_leader_woken_for_a_deadline_proposes_an_empty_block_then_and_not_before() -> None:
    """``WakeAt``: a tender's deadline wants a block whose time reaches it (the opening is at
    the deadline); the leader proposes one as soon as its clock is there, long before the
    heartbeat. A follower's wake owes nothing; a wake the head has reached does nothing."""
    slow = replace(RULES_CONFIG, empty_block_ticks=10_000)
    c = Cluster(config=slow)
    wake = c.now_ms() + 20 * TICK_MS
    for i in range(4):
        c.step(i, WakeAt(wake))
    assert sent(c.tick_all(19), PrePrepare) == []
    (pp,) = sent(c.tick_all(1), PrePrepare)
    assert isinstance(pp, PrePrepare) and pp.block.txs == () and pp.sender == 1
    assert pp.block.header.time_ms >= wake
    # a wake at or below the head's time asks for nothing; nor one taken back (None)
    c2 = Cluster(config=slow)
    c2.step(1, WakeAt(c2.now_ms() - 1))
    assert sent(c2.tick_all(100, only=[1]), PrePrepare) == []
    c3 = Cluster(config=slow)
    c3.step(1, WakeAt(c3.now_ms() + TICK_MS))
    c3.step(1, WakeAt(None))  # the tender's deadline moved away: forgotten
    assert sent(c3.tick_all(100, only=[1]), PrePrepare) == []


def test_backup_accepts_a_valid_pre_prepare_and_persists_its_prepare_before_sending() -> None:
    c = Cluster()
    pp = propose(c)
    effects = c.step(2, MessageIn(c.key(1), pp))
    k_persist, k_send = first_index(effects, Persist), first_index(effects, Send, Prepare)
    assert 0 <= k_persist < k_send
    (vote,) = sent(effects, Prepare)
    assert isinstance(vote, Prepare) and vote.block_hash == pp.block.hash(c.suite)
    rec = durable.RoundRecord.decode(c.kvs[2].get(durable.ROUND_KEY) or b"")
    assert rec.prepare == vote.block_hash and rec.view == 0 and rec.height == 1


@pytest.mark.parametrize("change, reason", [
    ({"state_root": b"\x07" * 32}, "state_root mismatch"),
    ({"time_ms": GENESIS_TIME_MS}, "not after the parent"),
    ({"time_ms": GENESIS_TIME_MS + 10_000_000}, "ms from"),
    ({"proposer": 2}, "not the leader"),
    ({"prev_hash": b"\x01" * 32}, "prev_hash"),
])
def test_backup_rejects_a_pre_prepare_that_fails_re_execution_or_header_checks(
        change: dict[str, object], reason: str) -> None:
    c = Cluster()
    bad = forged(c, propose(c), **change)
    effects = c.step(2, MessageIn(c.key(1), bad))
    assert sent(effects, Prepare) == []
    if change.get("proposer") != 2:
        logs = [e.text for e in effects if isinstance(e, Log)]
        assert any(reason in t for t in logs), logs


def test_backup_ignores_a_pre_prepare_from_a_replica_that_is_not_the_primary() -> None:
    c = Cluster()
    pp = propose(c)
    by_other = messages.sign(c.suite, c.keys[3][0], CHAIN_ID, replace(pp, sender=3))
    assert sent(c.step(2, MessageIn(c.key(3), by_other)), Prepare) == []


def test_messages_with_bad_signatures_are_ignored() -> None:
    c = Cluster()
    pp = propose(c)
    bad = replace(pp, sig=bytes(64))
    assert c.step(2, MessageIn(c.key(1), bad)) == []
    vote = messages.sign(c.suite, c.keys[3][0], CHAIN_ID,
                         Prepare(1, 0, 3, pp.block.hash(c.suite)))
    # flip a bit: setting a byte to zero leaves the signature valid when it already was zero
    c.step(2, MessageIn(c.key(3), replace(vote, sig=vote.sig[:-1] + bytes([vote.sig[-1] ^ 1]))))
    assert c.replicas[2].prepares.count(0, pp.block.hash(c.suite)) == 0


def test_a_relayed_message_whose_sender_differs_from_the_link_is_dropped() -> None:
    c = Cluster()
    pp = propose(c)
    effects = c.step(2, MessageIn(c.key(3), pp))
    assert sent(effects, Prepare) == [] and any(isinstance(e, Log) for e in effects)


def test_backup_prepares_at_most_one_block_per_view() -> None:
    c = Cluster()
    pp = propose(c)
    assert len(sent(c.step(2, MessageIn(c.key(1), pp)), Prepare)) == 1
    other = forged(c, pp, time_ms=pp.block.header.time_ms + 1)
    assert sent(c.step(2, MessageIn(c.key(1), other)), Prepare) == []


def test_prepared_replica_persists_its_certificate_then_multicasts_a_commit() -> None:
    c = Cluster()
    pp = propose(c)
    h = pp.block.hash(c.suite)
    c.step(2, MessageIn(c.key(1), pp))
    votes = [messages.sign(c.suite, c.keys[i][0], CHAIN_ID, Prepare(1, 0, i, h)) for i in (1, 3)]
    assert sent(c.step(2, MessageIn(c.key(1), votes[0])), Commit) == []  # 2 of 3 so far
    effects = c.step(2, MessageIn(c.key(3), votes[1]))
    assert 0 <= first_index(effects, Persist) < first_index(effects, Send, Commit)
    prep = durable.PreparedRecord.decode(c.kvs[2].get(durable.PREPARED_KEY) or b"")
    assert prep.cert.block_hash == h and len(prep.cert.votes) == 3


def test_a_commit_quorum_becomes_a_qc_that_verifies_and_the_block_is_committed() -> None:
    c = Cluster()
    c.run_until(3)
    for i in range(4):
        for height in (1, 2, 3):
            block, qc = c.block(i, height), c.qc(i, height)
            assert block is not None and qc is not None
            verify_qc(c.suite, qc, block.header, c.validators)
    assert len({c.block(i, 3) for i in range(4)}) == 1


def test_the_next_leader_proposes_what_waits_as_soon_as_it_applied_the_block() -> None:
    """No tick between heights: the leader of height 2 holding transactions proposes in the
    very step that applied height 1 (they waited a whole round already)."""
    c = Cluster()
    propose_first = propose(c)
    c.submit(c.tx(), to=[2])  # the leader of height 2 view 0
    c.queue.clear()
    for i in range(4):
        if i != 1:
            c.step(i, MessageIn(c.key(1), propose_first))
    applied_with_proposal = []
    while c.queue:
        q = c.queue.popleft()
        effects = c.step(q.dst, MessageIn(c.key(q.sender), q.message))
        if any(isinstance(e, CommitBlock) for e in effects):
            applied_with_proposal.append((q.dst, [m.height for m in sent(effects, PrePrepare)]))
    assert (2, [2]) in applied_with_proposal, applied_with_proposal
    assert all(pps == [] for i, pps in applied_with_proposal if i != 2)


def commit_quorum_at_3(c: Cluster, pp: PrePrepare) -> list[Effect]:
    """Replica 3 gets ``pp``, then the commit votes of 0, 1 and 2 (no prepare): its effects."""
    h = pp.block.hash(c.suite)
    c.step(3, MessageIn(c.key(1), pp))
    c.queue.clear()
    effects: list[Effect] = []
    for i in (0, 1, 2):
        vote = messages.sign(c.suite, c.keys[i][0], CHAIN_ID, Commit(1, 0, i, h))
        effects += c.step(3, MessageIn(c.key(i), vote))
    return effects


def test_a_replica_that_missed_every_prepare_still_commits_on_a_commit_quorum() -> None:
    c = Cluster()
    pp = propose(c)
    effects = commit_quorum_at_3(c, pp)
    (commit,) = [e for e in effects if isinstance(e, CommitBlock)]
    assert commit.block.hash(c.suite) == pp.block.hash(c.suite)
    assert [i for i, _ in commit.qc.votes] == [0, 1, 2]


@pytest.mark.parametrize("with_tx, level", [(True, "info"), (False, "debug")])
def test_an_idle_chain_s_heartbeat_blocks_are_logged_at_debug(with_tx: bool, level: str) -> None:
    """Operator walk: at a 1 s heartbeat every empty block was an INFO line, ~86,400 a day
    saying nothing. A block with transactions (or decided after a view change) stays INFO."""
    c = Cluster()
    if with_tx:
        pp = propose(c)
    else:  # the heartbeat's empty block
        c.tick_all(RULES_CONFIG.empty_block_ticks - 1, only=[1])
        (heartbeat,) = sent(c.tick_all(1, only=[1]), PrePrepare)
        assert isinstance(heartbeat, PrePrepare)
        pp = heartbeat
        c.step(3, Tick(c.now_ms()))  # the follower's clock, as the leader's
        c.queue.clear()
    assert bool(pp.block.txs) is with_tx
    effects = commit_quorum_at_3(c, pp)
    (said,) = [e for e in effects if isinstance(e, Log) and "committed height 1" in e.text]
    assert said.level == level, said


def test_equivocating_votes_are_kept_as_evidence_and_counted_once() -> None:
    c = Cluster()
    pp = propose(c)
    c.step(2, MessageIn(c.key(1), pp))
    a = messages.sign(c.suite, c.keys[3][0], CHAIN_ID, Prepare(1, 0, 3, b"\x01" * 32))
    b = messages.sign(c.suite, c.keys[3][0], CHAIN_ID, Prepare(1, 0, 3, b"\x02" * 32))
    c.step(2, MessageIn(c.key(3), a))
    effects = c.step(2, MessageIn(c.key(3), b))
    (ev,) = c.replicas[2].evidence
    assert ev.index == 3 and {ev.first[0], ev.second[0]} == {b"\x01" * 32, b"\x02" * 32}
    assert any(isinstance(e, Log) and "equivocated" in e.text for e in effects)
    assert c.replicas[2].prepares.count(0, b"\x02" * 32) == 0


# ---- view change ----------------------------------------------------------------------------


def test_view_timeout_doubles_with_each_view_up_to_the_cap() -> None:
    r = Cluster().replicas[0]
    assert [r.timeout_ticks(v) for v in range(6)] == [10, 20, 40, 80, 80, 80]


def test_a_timed_out_replica_persists_then_multicasts_a_view_change() -> None:
    c = Cluster()
    # Idle, a proposal is owed once the heartbeat is due: then the leader has its timeout.
    effects = c.tick_all(RULES_CONFIG.empty_block_ticks + RULES_CONFIG.view_timeout_ticks,
                         only=[2])
    k = first_index(effects, Send, ViewChange)
    assert k > 0 and isinstance(effects[k - 1], Persist)
    (vc,) = sent(effects, ViewChange)
    assert isinstance(vc, ViewChange) and vc.view == 1 and vc.prepared is None


def test_an_idle_chain_writes_no_block_before_the_heartbeat_and_changes_no_view() -> None:
    c = Cluster(config=replace(RULES_CONFIG, empty_block_ticks=200))
    effects = c.tick_all(199)
    c.deliver()
    assert sent(effects, PrePrepare) == [] and sent(effects, ViewChange) == []
    assert c.heights() == [0, 0, 0, 0]
    c.run_until(1, max_ticks=20)  # the heartbeat block
    assert c.block(0, 1) is not None and c.block(0, 1).txs == ()  # type: ignore[union-attr]


def test_a_replica_holding_ready_transactions_times_out_a_leader_that_does_not_propose(
) -> None:
    c = Cluster(config=replace(RULES_CONFIG, empty_block_ticks=10_000))
    c.submit(c.tx(), to=[2])  # the leader (1) never hears of it
    effects = c.tick_all(RULES_CONFIG.view_timeout_ticks, only=[2])
    (vc,) = sent(effects, ViewChange)
    assert isinstance(vc, ViewChange) and vc.view == 1


def test_view_change_carries_the_prepared_certificate_and_the_new_primary_reproposes_it() -> None:
    c = Cluster()
    c.submit(c.tx())
    # Every commit vote is lost: all replicas prepare the block, nobody commits it.
    no_commits = lambda s, d, m: isinstance(m, Commit)  # noqa: E731
    c.tick_all(2)
    c.deliver(no_commits)
    prepared_hash = c.replicas[0].prepared.cert.block_hash  # type: ignore[union-attr]
    assert c.heights() == [0, 0, 0, 0]
    c.run_until(1)  # the network heals: view change, new view, commit
    block = c.block(0, 1)
    assert block is not None and block.hash(c.suite) == prepared_hash
    qc = c.qc(0, 1)
    assert qc is not None and qc.view >= 1 and block.header.view == 0


def test_a_block_refused_for_its_time_is_still_prepared_when_re_proposed_under_a_cert() -> None:
    c = Cluster()
    c.tick_all(1, only=[0, 1, 2])
    c.step(3, Tick(c.now_ms() - 100_000))  # replica 3's clock is far behind
    (pp,) = sent(c.submit(c.tx(), to=[1]) + c.step(1, Tick(c.now_ms())), PrePrepare)
    h = pp.block.hash(c.suite)  # type: ignore[union-attr]
    no_commits = lambda s, d, m: isinstance(m, Commit)  # noqa: E731
    c.deliver(no_commits)
    assert c.replicas[3].my_prepare is None and c.replicas[0].prepared is not None
    prepares_by_3: list[Message] = []
    for _ in range(3 * RULES_CONFIG.view_timeout_ticks):
        prepares_by_3 += sent(c.tick_all(1, only=[3]), Prepare)
        c.tick_all(1, only=[0, 1, 2])
        while c.queue:
            q = c.queue.popleft()
            if isinstance(q.message, Commit):
                continue
            effects = c.step(q.dst, MessageIn(c.key(q.sender), q.message))
            if q.dst == 3:
                prepares_by_3 += sent(effects, Prepare)
        if prepares_by_3:
            break
    assert [(m.view, m.block_hash) for m in prepares_by_3][:1] == [(1, h)]  # type: ignore


def test_a_new_view_that_drops_a_prepared_block_is_rejected() -> None:
    c = Cluster()
    pp = propose(c)
    h = pp.block.hash(c.suite)
    for i in range(4):  # everyone prepared ``pp`` in view 0
        if i != 1:
            c.step(i, MessageIn(c.key(1), pp))
    c.deliver(lambda s, d, m: isinstance(m, Commit))
    vcs = []
    for i in range(4):
        effects = c.tick_all(RULES_CONFIG.view_timeout_ticks, only=[i])
        vcs += [m for m in sent(effects, ViewChange)]
    c.queue.clear()
    assert all(isinstance(v, ViewChange) and v.prepared and v.prepared.block_hash == h
               for v in vcs)
    new_leader = leader(1, 1, 4)
    app = c.nodes[new_leader].chain.app  # type: ignore[union-attr]
    fresh = app.propose(c.replicas[new_leader].head, 1, 1, new_leader, c.now_ms(), ())
    bad_nv = messages.sign(c.suite, c.keys[new_leader][0], CHAIN_ID, NewView(
        1, 1, new_leader, tuple(v.stripped() for v in vcs[:3]), fresh))  # type: ignore[union-attr]
    effects = c.step(0, MessageIn(c.key(new_leader), bad_nv))
    assert sent(effects, Prepare) == []
    assert any(isinstance(e, Log) and "highest prepared" in e.text for e in effects)


def test_a_replica_joins_a_higher_view_seen_from_f_plus_one_others() -> None:
    c = Cluster()
    vcs = [messages.sign(c.suite, c.keys[i][0], CHAIN_ID, ViewChange(1, 3, i, None, None))
           for i in (1, 2)]
    assert sent(c.step(0, MessageIn(c.key(1), vcs[0])), ViewChange) == []  # f = 1 is not enough
    (vc,) = sent(c.step(0, MessageIn(c.key(2), vcs[1])), ViewChange)
    assert isinstance(vc, ViewChange) and vc.view == 3 and c.replicas[0].view == 3


def test_an_isolated_replica_does_not_race_through_views_without_a_quorum() -> None:
    c = Cluster()
    effects = c.tick_all(300, only=[2])  # it hears nobody: far beyond several timeouts
    views = [m.view for m in sent(effects, ViewChange)]
    assert set(views) == {1}, "it re-sends its view change but does not move on alone"
    assert len(views) > 3


def test_the_leader_repeats_its_new_view_to_a_replica_that_missed_it() -> None:
    c = Cluster()
    no_nv_to_3 = lambda s, d, m: d == 3 and isinstance(m, NewView)  # noqa: E731
    c.tick_all(RULES_CONFIG.empty_block_ticks + RULES_CONFIG.view_timeout_ticks, only=[0, 2, 3])
    c.deliver(no_nv_to_3)
    assert c.replicas[3].in_view_change and c.replicas[0].view == 1
    c.run_until(1, only=[0, 2, 3])
    assert c.heights()[3] == 1


# ---- durability and restart -----------------------------------------------------------------


def test_a_restarted_replica_never_prepares_a_different_block_in_the_same_view() -> None:
    c = Cluster()
    pp = propose(c)
    c.step(2, MessageIn(c.key(1), pp))
    r = c.restart(2)
    assert r.my_prepare == pp.block.hash(c.suite) and r.view == 0
    c.step(2, Tick(c.now_ms()))  # its clock is back: both blocks are well-timed
    other = forged(c, pp, time_ms=pp.block.header.time_ms + 1)
    effects = c.step(2, MessageIn(c.key(1), other))
    assert sent(effects, Prepare) == [] and any(isinstance(e, Log) for e in effects)
    again = sent(c.step(2, MessageIn(c.key(1), pp)), Prepare)
    assert [m.block_hash for m in again] == [pp.block.hash(c.suite)]  # type: ignore[union-attr]


def test_a_restarted_primary_does_not_propose_a_second_block_in_its_view() -> None:
    c = Cluster()
    propose(c)
    c.restart(1)
    c.submit(c.tx(), to=[1])
    effects = c.tick_all(RULES_CONFIG.empty_block_ticks + 1, only=[1])
    assert sent(effects, PrePrepare) == []


def test_a_restarted_replica_resumes_its_view_change_and_keeps_its_certificate() -> None:
    c = Cluster()
    pp = propose(c)
    for i in (0, 2, 3):
        c.step(i, MessageIn(c.key(1), pp))
    c.deliver(lambda s, d, m: isinstance(m, Commit))
    c.tick_all(RULES_CONFIG.view_timeout_ticks, only=[2])
    r = c.restart(2)
    assert r.in_view_change and r.view == 1
    assert r.prepared is not None and r.prepared.cert.block_hash == pp.block.hash(c.suite)


def test_head_and_consensus_records_from_the_store_are_what_a_replica_restores() -> None:
    c = Cluster()
    c.run_until(2)
    state = c.store_state(0)
    assert isinstance(state, StoreState) and state.head.height == 2 and state.head_qc
    r = c.restart(0)
    assert r.height == 3 and r.head == state.head and r.head_qc == state.head_qc


def test_a_replica_whose_key_is_not_in_the_set_follows_as_an_observer_and_never_votes() -> None:
    c = Cluster(n=4, observers=1)
    assert c.replicas[4].index is None
    sent_by_observer: list[Message] = []
    for _ in range(60):
        c.tick_all()
        while c.queue:
            q = c.queue.popleft()
            effects = c.step(q.dst, MessageIn(c.key(q.sender), q.message))
            if q.dst == 4:
                sent_by_observer += [e.message for e in effects if isinstance(e, Send)]
    assert sent_by_observer == []
    assert c.heights()[4] >= 2 and c.block(4, 2) == c.block(0, 2), "it follows the chain"


def test_config_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        ReplicaConfig(view_timeout_ticks=5, batch_wait_ticks=3).check()
    with pytest.raises(ValueError):
        ReplicaConfig(batch_tx_max=0).check()


# ---- catch-up -------------------------------------------------------------------------------


def test_a_lagging_replica_fetches_blocks_and_checks_each_qc_before_applying() -> None:
    c = Cluster()
    cut = lambda s, d, m: 3 in (s, d)  # noqa: E731
    c.run_until(4, drop=cut, only=[0, 1, 2])
    assert c.heights()[3] == 0
    c.fetches.clear()
    # Any message from height 5 tells replica 3 that it is behind.
    c.tick_all(RULES_CONFIG.empty_block_ticks + 1, only=[0, 1, 2])
    msg = next(q.message for q in c.queue if q.dst == 3 and q.message.height >= 5)
    c.queue.clear()
    effects = c.step(3, MessageIn(c.key(msg.sender), msg))
    (fetch,) = [e for e in effects if isinstance(e, FetchBlocks)]
    assert fetch.from_height == 1
    blocks = []
    for h in (1, 2, 3):
        b, q = c.block(0, h), c.qc(0, h)
        assert b is not None and q is not None
        blocks.append((b, q))
    tampered = tuple((b, replace(q, votes=tuple((i, bytes(64)) for i, _ in q.votes)))
                     for b, q in blocks)
    effects = c.step(3, BlocksFetched(c.key(0), tampered))
    assert not any(isinstance(e, CommitBlock) for e in effects)
    assert any(isinstance(e, Log) and "does not verify" in e.text for e in effects)
    effects = c.step(3, BlocksFetched(c.key(0), tuple(blocks)))
    assert [e.block.header.height for e in effects if isinstance(e, CommitBlock)] == [1, 2, 3]
    assert c.heights()[3] == 3


# ---- validator set changes ------------------------------------------------------------------


def test_a_validator_set_change_takes_effect_at_the_next_height() -> None:
    c = Cluster(n=5)
    c.submit(c.client.propose("remove_validator", {"pubkey": c.keys[4][1]}))
    c.run_until(1)
    block = c.block(0, 1)
    assert block is not None and len(block.txs) == 1
    assert block.header.next_validators_hash != block.header.validators_hash
    assert [len(r.validators) for r in c.replicas] == [4, 4, 4, 4, 4]
    assert c.replicas[4].index is None
    c.run_until(3, only=[0, 1, 2, 3])
    b3, qc3 = c.block(0, 3), c.qc(0, 3)
    assert b3 is not None and qc3 is not None
    verify_qc(c.suite, qc3, b3.header, c.validators[:4])
    assert all(i < 4 for i, _ in qc3.votes)


def test_messages_for_the_next_height_are_buffered_and_replayed_after_the_commit() -> None:
    c = Cluster()
    late = lambda s, d, m: d == 3 and m.height == 1  # noqa: E731
    c.run_until(1, drop=late, only=[0, 1, 2])
    c.tick_all(RULES_CONFIG.empty_block_ticks + 1, only=[0, 1, 2])
    ahead = [q for q in c.queue if q.dst == 3 and isinstance(q.message, PrePrepare)]
    assert ahead and ahead[0].message.height == 2
    for q in ahead:  # height 2's proposal reaches 3 while it still sits at height 1
        assert sent(c.step(3, MessageIn(c.key(q.sender), q.message)), Prepare) == []
    c.queue.clear()
    c.step(3, Tick(c.now_ms()))
    blocks = (c.block(0, 1), c.qc(0, 1))
    assert blocks[0] is not None and blocks[1] is not None
    effects = c.step(3, BlocksFetched(c.key(0), (blocks,)))  # type: ignore[arg-type]
    assert [e.block.header.height for e in effects if isinstance(e, CommitBlock)] == [1]
    votes = [m for m in sent(effects, Prepare) if m.height == 2]
    proposal = ahead[0].message
    assert isinstance(proposal, PrePrepare) and len(votes) == 1
    assert votes[0].block_hash == proposal.block.hash(c.suite)  # type: ignore[union-attr]


def test_a_clock_stepped_forward_and_back_judges_proposals_by_the_latest_reading() -> None:
    """The replica's "now" is its clock's latest reading, not the highest one it ever saw: a
    validator whose clock jumped an hour ahead and was set right votes again at once."""
    c = Cluster()
    c.step(2, Tick(c.now_ms() + 3_600_000))  # the clock jumps an hour ahead ...
    c.step(2, Tick(c.now_ms()))  # ... and is set right
    pp = propose(c)
    (vote,) = sent(c.step(2, MessageIn(c.key(1), pp)), Prepare)
    assert isinstance(vote, Prepare) and vote.block_hash == pp.block.hash(c.suite)


def test_a_replica_whose_store_is_behind_its_own_vote_records_abstains_up_to_them() -> None:
    """Blocks restored from an older copy (or fetched again after a resync) with the round
    record of a later height: the replica can't know every vote it sent in between, so it
    follows without voting until it is past that height."""
    c = Cluster()
    c.run_until(3)
    ahead = durable.RoundRecord(10, 0, False, b"\x01" * 32, None)
    for i in (2,):
        batch = c.kvs[i].batch()
        batch.put(durable.ROUND_KEY, ahead.encode())
        c.kvs[i].write(batch)
    r = c.restart(2)
    assert r.vote_floor == 10 and r.index is None
    c.run_until(11, only=[0, 1, 3], drop=lambda s, d, m: 2 in (s, d))
    sent_by_2: list[Message] = []
    for lo in range(4, 11, 4):  # it fetches the blocks it lacks: no vote on the way
        blocks = tuple((c.block(0, h), c.qc(0, h)) for h in range(lo, min(lo + 4, 12)))
        effects = c.step(2, BlocksFetched(c.key(0), blocks))  # type: ignore[arg-type]
        sent_by_2 += [e.message for e in effects if isinstance(e, Send)]
    assert c.heights()[2] == 11 and sent_by_2 == []
    assert c.replicas[2].height == 12 and c.replicas[2].index == 2  # above the floor: votes


def test_a_restart_at_the_height_of_its_round_record_votes_as_before() -> None:
    c = Cluster()
    pp = propose(c)
    c.step(2, MessageIn(c.key(1), pp))
    r = c.restart(2)
    assert r.vote_floor == 0 and r.index == 2 and r.my_prepare == pp.block.hash(c.suite)


def test_a_replica_behind_a_validator_change_fetches_from_the_peer_that_spoke() -> None:
    """Regression (soak seed validators4/102117): a message from a peer already under a new
    validator set names its sender by an index of that set; the lagging replica must fetch
    from the peer whose link it came over, not from whoever holds that index in its old set."""
    c = Cluster(n=5)
    c.submit(c.client.propose("remove_validator", {"pubkey": c.keys[1][1]}))
    c.run_until(1, only=[0, 1, 2, 3], drop=lambda s, d, m: d == 4)
    assert c.heights()[4] == 0 and c.replicas[0].validators[1].pubkey == c.keys[2][1]
    c.run_until(3, only=[0, 2, 3], drop=lambda s, d, m: 4 in (s, d) or 1 in (s, d))
    c.tick_all(RULES_CONFIG.fetch_timeout_ticks, only=[4])
    c.tick_all(RULES_CONFIG.empty_block_ticks + 1, only=[0, 2, 3])  # height 4 is proposed
    for q in [q for q in c.queue if q.dst == 2]:
        c.step(2, MessageIn(c.key(q.sender), q.message))
    ahead = next(q.message for q in c.queue if q.sender == 2 and q.message.height >= 4)
    assert ahead.sender == 1  # index 1 of the new set is validator 2
    c.queue.clear()
    effects = c.step(4, MessageIn(c.key(2), ahead))
    (fetch,) = [e for e in effects if isinstance(e, FetchBlocks)]
    assert fetch.peer == c.key(2) and fetch.from_height == 1


def test_the_heartbeat_is_the_chains_so_a_validator_with_a_longer_one_keeps_its_turns() -> None:
    """A validator whose own heartbeat is far longer than the others' (a city's node that
    kept the default) fails its turns as leader on an idle chain while each replica keeps
    its own: the others expect the empty block on theirs and time it out (user walk). With
    the chain parameter ``heartbeat_ms`` every replica proposes, and expects, the idle
    chain's block on the chain's heartbeat: every idle height is decided in view 0."""
    def run(params: dict[str, int | str]) -> tuple[Cluster, list[int]]:
        c = Cluster(params=params)
        c.nodes[1].config = replace(RULES_CONFIG, empty_block_ticks=10_000)
        c.restart(1)
        c.run_until(8, max_ticks=3000)
        return c, [c.block(0, h).header.view for h in range(1, 9)]  # type: ignore[union-attr]

    own, views = run({})
    assert [r.heartbeat_ticks for r in own.replicas] == [5, 10_000, 5, 5]
    assert views[0] > 0, views  # height 1 is node 1's turn: timed out
    chain, views = run({"heartbeat_ms": 12 * TICK_MS})
    assert [r.heartbeat_ticks for r in chain.replicas] == [12] * 4
    assert views == [0] * 8, views
    # The blocks come on the chain's heartbeat, whatever a replica's own setting says.
    times = [chain.block(0, h).header.time_ms for h in range(2, 9)]  # type: ignore[union-attr]
    assert all(b - a >= 12 * TICK_MS for a, b in itertools.pairwise(times)), times


def test_a_vote_changes_the_heartbeat_for_every_replica_at_the_same_height() -> None:
    """``heartbeat_ms`` is a chain parameter: a vote changes it from the block after the one
    executing it, on every replica alike, and a replica restarted from its store reads the
    value in force (``StoreState.heartbeat_ms``). A vote may not set 0 (each replica's own:
    a genesis setting only) nor less than 100 ms."""
    c = Cluster(params={"heartbeat_ms": 10 * TICK_MS})
    c.run_until(2, max_ticks=500)

    def vote(value: int) -> str:
        """The vote's receipt code, once a block holds it."""
        tx = c.client.propose("set_param", {"name": "heartbeat_ms", "value": value})
        c.submit(tx)
        tx_id = tx.tx_id(c.suite)
        for h in range(c.heights()[0] + 1, c.heights()[0] + 4):
            c.run_until(h, max_ticks=2000)
            found = c.nodes[0].chain.receipt(tx_id)  # type: ignore[union-attr]
            if found is not None:
                return str(found[2].code)
        raise AssertionError("the vote did not commit")

    assert vote(12 * TICK_MS + 1) == "OK"  # not a whole number of ticks: rounded up
    assert [r.heartbeat_ticks for r in c.replicas] == [13] * 4
    assert c.store_state(2).heartbeat_ms == 12 * TICK_MS + 1
    assert c.restart(2).heartbeat_ticks == 13
    for refused in (0, 99, 86_400_000 + 1):  # each replica's own; an idle block a tick; a day
        assert vote(refused) == E_BAD_ARGS, refused
    assert [r.heartbeat_ticks for r in c.replicas] == [13] * 4
