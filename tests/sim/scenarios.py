"""Named fault mixes for the simulator, shared by the CI test and ``benchmarks/soak_sim.py``.

Each mix is a function of the seed so that a soak can vary parameters per seed while one
seed still replays exactly. ``f`` faulty at most in every mix that checks liveness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tests.sim.network import LinkModel
from tests.sim.simulator import SIM_CONFIG, Scenario

LOSSY = LinkModel(loss=0.05, duplicate=0.05, delay_min_ticks=1, delay_max_ticks=6)
HEAVY = LinkModel(loss=0.2, duplicate=0.1, delay_min_ticks=1, delay_max_ticks=8)
COMMIT_LOSS = LinkModel(commit_loss=0.6, delay_max_ticks=4)
ALL_PARTITIONS = ("halves", "leader", "ring")

MIXES: dict[str, Callable[[int], Scenario]] = {
    "clean4": lambda s: Scenario(n=4),
    "clean7": lambda s: Scenario(n=7),
    "lossy4": lambda s: Scenario(link=LOSSY),
    "heavy7": lambda s: Scenario(n=7, link=HEAVY),
    "commit_loss4": lambda s: Scenario(link=COMMIT_LOSS),
    "commit_loss7": lambda s: Scenario(n=7, link=COMMIT_LOSS, crash_rate=0.02),
    "partitions4": lambda s: Scenario(partitions=ALL_PARTITIONS, partition_rate=0.03),
    "partitions7": lambda s: Scenario(n=7, link=LOSSY, partitions=ALL_PARTITIONS),
    "crashes4": lambda s: Scenario(crash_rate=0.03),
    "crashes7": lambda s: Scenario(n=7, crash_rate=0.05, link=LOSSY),
    "equivocating_leader4": lambda s: Scenario(byzantine={1 + s % 3: "equivocate"}, link=LOSSY),
    "bad_signatures4": lambda s: Scenario(byzantine={s % 4: "bad_sig"}, crash_rate=0.02),
    "wrong_state_root4": lambda s: Scenario(byzantine={s % 4: "bad_root"}, link=COMMIT_LOSS),
    "silent7": lambda s: Scenario(n=7, byzantine={s % 7: "silent", (s + 3) % 7: "silent"},
                                  partitions=("leader",)),
    "twins4": lambda s: Scenario(twins=(s % 4,), partitions=("halves", "ring"),
                                 partition_rate=0.05),
    "twins7": lambda s: Scenario(n=7, twins=(s % 7, (s + 2) % 7), partitions=ALL_PARTITIONS,
                                 link=LOSSY),
    "everything4": lambda s: Scenario(link=HEAVY, partitions=ALL_PARTITIONS, crash_rate=0.02,
                                      byzantine={s % 4: "equivocate"}),
    "everything7": lambda s: Scenario(n=7, link=LOSSY, partitions=ALL_PARTITIONS,
                                      crash_rate=0.03,
                                      byzantine={s % 7: "bad_root", (s + 1) % 7: "bad_sig"}),
    # Governance seats a fifth validator (an observer until then) and unseats another,
    # while links lose messages, nodes crash and partitions come and go.
    "validators4": lambda s: Scenario(spares=1, link=LOSSY, crash_rate=0.02,
                                      gov=((20, "add"), (110, f"remove:{s % 4}")),
                                      fault_ticks=260),
    "validators7": lambda s: Scenario(n=7, spares=1, partitions=ALL_PARTITIONS,
                                      crash_rate=0.02, fault_ticks=260,
                                      gov=((20, "add"), (120, f"remove:{(s + 1) % 7}"))),
    # One validator silent (passed over as a failed leader) while the others crash and
    # half of their restarts are state syncs from another node's snapshot: the synced store
    # must pass over the same validators (the snapshot carries the blocks decided in a view
    # above 0), or the three left would never agree on a leader at the silent one's turns.
    "resync4": lambda s: Scenario(byzantine={s % 4: "silent"}, crash_rate=0.03,
                                  resync_share=0.5, restart_after_ticks=(5, 30)),
    "resync7": lambda s: Scenario(n=7, byzantine={s % 7: "silent", (s + 4) % 7: "silent"},
                                  crash_rate=0.03, resync_share=0.5, link=LOSSY),
    # A long heartbeat: blocks come when transactions wait (a sparse client here), and the
    # view timers run only while a proposal is owed; faults must still be repaired.
    "heartbeat4": lambda s: Scenario(config=replace(SIM_CONFIG, empty_block_ticks=400),
                                     tx_rate=0.05, link=LOSSY, crash_rate=0.02,
                                     partitions=("leader", "halves")),
    "heartbeat7": lambda s: Scenario(n=7, config=replace(SIM_CONFIG, empty_block_ticks=400),
                                     tx_rate=0.05, link=HEAVY, byzantine={s % 7: "silent"}),
    # The chain's heartbeat (``heartbeat_ms``, 400 ticks of 10 ms) while one validator's own
    # setting is ten times longer: every replica follows the chain's, under the same faults.
    "chain_heartbeat4": lambda s: Scenario(
        params={"heartbeat_ms": 4_000}, tx_rate=0.05, link=LOSSY, crash_rate=0.02,
        own_configs={s % 4: replace(SIM_CONFIG, empty_block_ticks=4_000)},
        partitions=("leader", "halves")),
}


def twins_fork_scenario() -> Scenario:
    """Negative control: f + 1 = 2 twin pairs of 4, split so each side has a quorum."""
    return Scenario(twins=(0, 1), fixed_groups=[["0", "1", "2"], ["0b", "1b", "3"]],
                    check_liveness=False, fault_ticks=100, tx_rate=1.0)
