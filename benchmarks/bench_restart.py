"""What a validator's start reads to choose leaders: the late-block index against whole blocks.

A replica starts with the committed headers of the last ``LEADER_MEMORY_MAX`` heights decided
in a view above 0 (``shell.chain.Chain.store_state``, ``consensus.quorum.failed_leaders``).
It used to find them by loading the block of every height in that window (decode, ``tx_root``
check) to look at its view; it now scans the ``lv/`` index (``BlockStore.late_heights``,
``late_entry``). This builds a store of ``--blocks`` blocks of ``--txs`` transactions
(every ``--late-every``-th decided in view 1), then times, alternately in each round on a
freshly opened store (no header cache), the two ways over the same heights, checks they
find the same headers, and prints both and their ratio. Usage::

    .venv/bin/python benchmarks/bench_restart.py                  # 600 blocks of 300 txs
    .venv/bin/python benchmarks/bench_restart.py --blocks 2000 --txs 50 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import encoding  # noqa: E402
from ledger.block import Header  # noqa: E402
from ledger.crypto import get_suite  # noqa: E402
from ledger.store import BlockStore  # noqa: E402
from tests.chainkit import Chain  # noqa: E402


def by_blocks(store: BlockStore, high: int) -> list[Header]:
    """The way before the index: every height's block loaded, its view looked at."""
    headers = (store.header(h) for h in range(1, high + 1))
    return [h for h in headers if h is not None and h.view > 0]


def by_index(store: BlockStore, high: int) -> list[Header]:
    return [store.late_entry(h)[0] for h in store.late_heights(1, high)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="ed25519-sha256")
    parser.add_argument("--blocks", type=int, default=600)
    parser.add_argument("--txs", type=int, default=300, help="transactions per block")
    parser.add_argument("--pad", type=int, default=1000, help="bytes of padding per tx")
    parser.add_argument("--late-every", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    suite = get_suite(opts.suite)
    chain = Chain.new(suite, 4)
    started = time.perf_counter()
    for b in range(opts.blocks):
        txs = [chain.tx(f"u{i}", b, args={"n": b, "pad": "x" * opts.pad})
               for i in range(opts.txs)]
        chain.extend({f"demo/b{b}": encoding.encode(b)}, txs,
                     view=1 if b % opts.late_every == opts.late_every - 1 else 0)
    print(f"store: {opts.blocks} blocks of {opts.txs} txs ({opts.suite}), every "
          f"{opts.late_every}th late, built in {time.perf_counter() - started:.0f} s; load "
          f"average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    kv = chain.store.kv
    before, after = [], []
    for rnd in range(opts.rounds):
        timed = {}
        for name, way in (("blocks", by_blocks), ("index", by_index))[::1 if rnd % 2 else -1]:
            store = BlockStore(kv, suite)
            t = time.perf_counter()
            found = way(store, opts.blocks)
            timed[name] = (time.perf_counter() - t, found)
        assert timed["blocks"][1] == timed["index"][1], "the two ways found other headers"
        before.append(timed["blocks"][0])
        after.append(timed["index"][0])
        print(f"round {rnd + 1}: {len(timed['index'][1])} late blocks in {opts.blocks} "
              f"heights: whole blocks {before[-1] * 1000:.1f} ms, index "
              f"{after[-1] * 1000:.2f} ms ({before[-1] / after[-1]:.0f}x)")
    per = statistics.median(before) / opts.blocks
    print(f"median: whole blocks {statistics.median(before) * 1000:.1f} ms "
          f"({per * 1e6:.0f} µs a height, {per * 10_000:.1f} s for a 10,000-height window), "
          f"index {statistics.median(after) * 1000:.2f} ms; ratio "
          f"{statistics.median(before) / statistics.median(after):.0f}x")


if __name__ == "__main__":
    main()
