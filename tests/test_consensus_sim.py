"""Seeded simulation of whole clusters under faults (``tests/sim``): safety after every
step, liveness after healing. A failure names its seed: rerun it with
``.venv/bin/python benchmarks/soak_sim.py --mix NAME --start SEED --seeds 1``."""

from __future__ import annotations

import pytest

from tests.sim.checker import SafetyViolation
from tests.sim.scenarios import LOSSY, MIXES, twins_fork_scenario
from tests.sim.simulator import Scenario, Simulator

SEEDS_PER_MIX = 15


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_cluster_stays_safe_and_recovers_under_fault_mix(mix: str) -> None:
    grew = 0
    for seed in range(SEEDS_PER_MIX):
        sim = Simulator(seed, MIXES[mix](seed))
        heights = sim.run()  # raises SafetyViolation / LivenessFailure with the seed
        assert len(set(heights.values())) >= 1 and min(heights.values()) >= 2
        grew += sim.checker.commits > 0
    assert grew == SEEDS_PER_MIX


def test_f_plus_one_twins_make_the_checker_report_a_fork() -> None:
    """Negative control: the checker is able to see a fork when safety cannot hold."""
    forks = 0
    for seed in range(3):
        with pytest.raises(SafetyViolation, match=r"fork at height .*reproduce with seed="):
            Simulator(seed, twins_fork_scenario()).run()
        forks += 1
    assert forks == 3


def test_f_twins_split_the_same_way_cannot_fork() -> None:
    sc = Scenario(twins=(0,), fixed_groups=[["0", "1", "2"], ["0b", "3"]], fault_ticks=100,
                  tx_rate=1.0)
    heights = Simulator(7, sc).run()
    assert min(heights.values()) >= 2


def test_a_seed_replays_exactly() -> None:
    runs = []
    for _ in range(2):
        sim = Simulator(11, MIXES["everything4"](11))
        heights = sim.run()
        runs.append((heights, dict(sim.stats), sim.checker.decided, sim.net.sent))
    assert runs[0] == runs[1]


def test_faults_really_happen_in_the_fault_mixes() -> None:
    """The mixes are not vacuous: crashes, view changes, partitions, rejected proposals."""
    sim = Simulator(3, MIXES["everything4"](3))
    sim.run()
    assert sim.stats["crashes"] >= 1 and sim.stats["partitions"] >= 1
    assert sim.stats["ViewChange"] >= 1 and sim.stats["NewView"] >= 1
    assert sim.net.dropped >= 1
    bad = Simulator(0, MIXES["wrong_state_root4"](0))
    bad.run()
    assert bad.stats["warnings"] >= 1


def test_an_sm2_cluster_under_faults_stays_safe_and_live() -> None:
    sc = Scenario(suite="sm2-sm3", link=LOSSY, crash_rate=0.02, fault_ticks=120)
    sim = Simulator(5, sc)
    heights = sim.run()
    assert min(heights.values()) >= 2 and sim.checker.commits >= 8


@pytest.mark.parametrize("mix, seed", [("twins4", 102975)])
def test_seeds_the_soak_once_failed_on_now_pass(mix: str, seed: int) -> None:
    """Regressions found by ``benchmarks/soak_sim.py`` (a leader re-sent a stale new view
    for a view it had left: caught by the persist-then-send check)."""
    heights = Simulator(seed, MIXES[mix](seed)).run()
    assert min(heights.values()) >= 2


@pytest.mark.parametrize("mix", ["validators4", "validators7"])
def test_governance_mixes_seat_and_unseat_validators_during_faults(mix: str) -> None:
    sim = Simulator(2, MIXES[mix](2))
    heights = sim.run()
    honest = sum(m.honest for m in sim.members)
    # Both changes (seat a spare, unseat a validator) were committed by every honest node.
    assert sim.stats["validator_changes"] == 2 * honest
    assert sim.stats["crashes"] >= 1 and min(heights.values()) >= 2
    spare = next(m for m in sim.members if m.ident == "s0")
    assert spare.node.driver is not None and spare.node.driver.replica.index is not None


def test_the_checker_reports_a_store_that_reopens_below_its_last_complete_block() -> None:
    """Negative control for the reopen check: a node whose store lost a block."""
    sim = Simulator(0, Scenario(fault_ticks=40, check_liveness=False))
    sim.run()
    m = sim.members[0]
    assert m.node.chain is not None and m.node.chain.height() >= 1
    sim.checker.max_height[m.ident] += 1
    with pytest.raises(SafetyViolation, match=r"reopened at height .*reproduce with seed=0"):
        sim.checker.on_reopen(m.ident, m.node.chain)


def test_an_idle_cluster_writes_only_heartbeat_blocks_and_changes_no_view() -> None:
    from dataclasses import replace

    from tests.sim.simulator import SIM_CONFIG

    sc = Scenario(config=replace(SIM_CONFIG, empty_block_ticks=300), tx_rate=0.0,
                  fault_ticks=1000, check_liveness=False)
    sim = Simulator(4, sc)
    heights = sim.run()
    # 1,000 ticks, a heartbeat every 300 at a height (plus a few ticks to commit it).
    assert set(heights.values()) == {3}, heights
    assert sim.stats["ViewChange"] == 0 and sim.stats["PrePrepare"] == 3


def test_an_idle_cluster_keeps_the_chains_heartbeat_whatever_a_validators_own_says() -> None:
    """Validators whose own heartbeats differ (one 10× longer, one 10× shorter) on a chain
    whose parameter ``heartbeat_ms`` is 3,000 ms (300 ticks): the same blocks as the
    all-alike cluster above, and no view change (with each its own, the longest one's turns
    were timed out)."""
    from dataclasses import replace

    from tests.sim.simulator import SIM_CONFIG

    own = {1: replace(SIM_CONFIG, empty_block_ticks=3000),
           2: replace(SIM_CONFIG, empty_block_ticks=30)}
    sc = Scenario(own_configs=own, params={"heartbeat_ms": 3_000}, tx_rate=0.0,
                  fault_ticks=1000, check_liveness=False)
    sim = Simulator(4, sc)
    heights = sim.run()
    assert set(heights.values()) == {3}, heights
    assert sim.stats["ViewChange"] == 0 and sim.stats["PrePrepare"] == 3
    # Without the parameter, each keeps its own: node 2 expects the heartbeat after 30
    # ticks and, with the others, times out the leaders that wait longer.
    alone = Simulator(4, replace(sc, params={}))
    alone.run()
    assert alone.stats["ViewChange"] > 0, alone.stats


def test_the_resync_mix_starts_validators_from_snapshots_over_failed_leaders() -> None:
    """The mix does what it is for: some restarts are state syncs, and some synced stores
    hold blocks decided in a view above 0 below their base (the silent validator's turns),
    which their leader choice reads."""
    resyncs = carried = 0
    for seed in range(4):
        sim = Simulator(seed, MIXES["resync4"](seed))
        sim.run()
        resyncs += sim.stats["resyncs"]
        for m in sim.members:
            store = m.node.chain.store if m.node.chain is not None else None
            if store is not None and store.base > 0:
                carried += len(store.late_heights(1, store.base - 1))
    assert resyncs >= 2 and carried >= 1, (resyncs, carried)


def test_the_checker_reports_a_resync_to_a_block_no_honest_node_committed() -> None:
    """Negative control for the resync check: a snapshot whose head is not the decided block
    at its height (here the record of what was decided is changed instead)."""
    sim = Simulator(0, Scenario(fault_ticks=40, check_liveness=False))
    sim.run()
    m = sim.members[0]
    assert m.node.chain is not None
    height = m.node.chain.height()
    assert height >= 1
    sim.checker.on_resync(m.ident, m.node.chain)  # the decided block: accepted
    sim.checker.decided[height] = (bytes(32), "1")
    with pytest.raises(SafetyViolation, match=r"state-synced to a block at height .*seed=0"):
        sim.checker.on_resync(m.ident, m.node.chain)
