"""The cluster benchmark's verification bound with every core busy at once
(``benchmarks/bench_cluster.py``): the processes start together and the rate is per core."""

from __future__ import annotations

import time

from benchmarks import bench_cluster
from ledger.crypto import get_suite


def test_each_process_waits_for_the_common_start() -> None:
    started = time.time()
    rate = bench_cluster._verify_rate_from("ed25519-sha256", started + 0.3, 0.05)
    assert time.time() - started >= 0.3
    assert rate > 0


def test_the_rate_together_is_per_core_and_near_one_core_alone() -> None:
    suite = get_suite("ed25519-sha256")
    alone = bench_cluster.verifies_per_second(suite, 0.2)
    together = bench_cluster.verifies_per_core_together(suite, 2, 0.2)
    # Per core, not the sum of the two: a summed figure would be near twice one core's, and
    # two busy cores never verify faster each than one alone (beyond noise).
    assert 0 < together < 1.5 * alone
