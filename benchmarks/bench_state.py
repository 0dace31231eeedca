"""State tree benchmark: block updates, proof size, proof build and verification rates.

Builds a state of ``--keys`` keys in a LevelDB on disk (in batches, with progress), then
measures, on that state:

- updates: ``--rounds`` blocks of ``--batch`` random existing keys with new values, each
  block one ``apply`` into a batch, one synced ``KV.write`` and ``confirm_written``;
- proofs: sibling counts, build rate (warm cache and from a cold tree), verification rate.

Side by side, in the same run, baselines that move with the machine's load: the raw rate of
the suite's hash over as many hashes as one block's update performs, the rate of a synced
LevelDB batch of as many puts, and the naive recursion from the definition against
``StateTree`` on a small state. Usage::

    .venv/bin/python benchmarks/bench_state.py                 # 1,000,000 keys
    .venv/bin/python benchmarks/bench_state.py --keys 100000 --suite sm2-sm3
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger import schema  # noqa: E402
from ledger.crypto import Suite, get_suite  # noqa: E402
from ledger.encoding import encode  # noqa: E402
from ledger.kv import LevelKV, MemoryKV  # noqa: E402
from ledger.smt import DEFAULT_PINNED_DEPTH, StateTree  # noqa: E402
from ledger.smt_proof import key_path, verify_proof  # noqa: E402
from tests.naive_smt import naive_root  # noqa: E402


def _key(i: int) -> str:
    return f"credit/{914400000000000000 + i:018d}/rec{i % 3}"


def _value(i: int, version: int) -> bytes:
    return encode({"issuer": "bench", "level": i % 5, "version": version})


def build(tree: StateTree, kv: LevelKV, keys: int, build_batch: int) -> int:
    """Insert ``keys`` keys in batches; returns the last height written.

    The keys go in the order of their paths, so that each batch fills a fresh subtree: the
    set-up then costs about one hash per node instead of a random update per key.
    """
    suite = tree.suite
    order = sorted(range(keys), key=lambda i: key_path(suite, _key(i)))
    height = 0
    started = time.perf_counter()
    next_report = 0.1
    for lo in range(0, keys, build_batch):
        height += 1
        batch = kv.batch()
        tree.apply({_key(i): _value(i, 0) for i in order[lo:lo + build_batch]}, batch, height)
        kv.write(batch, sync=True)
        tree.confirm_written()
        done = min(keys, lo + build_batch) / keys
        if done >= next_report or done == 1.0:
            elapsed = time.perf_counter() - started
            print(f"  built {done:4.0%} ({int(done * keys):,} keys) in {elapsed:6.1f} s",
                  flush=True)
            next_report += 0.1
    return height


def bench_updates(tree: StateTree, kv: LevelKV, keys: int, batch_keys: int, rounds: int,
                  height: int, rng: random.Random) -> tuple[float, float, float, int, int, int]:
    """Keys/s over ``rounds`` synced blocks by wall time, process CPU and this thread's CPU
    (LevelDB compacts on its own threads); nodes, puts and node reads per block."""
    elapsed = cpu = thread_cpu = 0.0
    nodes_written = puts = 0
    loads_before = tree.node_loads
    for r in range(rounds):
        picked = rng.sample(range(keys), batch_keys)
        writes: dict[str, bytes | None] = {_key(i): _value(i, r + 1) for i in picked}
        batch = kv.batch()
        started, cpu_started = time.perf_counter(), time.process_time()
        thread_started = time.thread_time()
        tree.apply(writes, batch, height + r + 1)
        kv.write(batch, sync=True)
        tree.confirm_written()
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        thread_cpu += time.thread_time() - thread_started
        puts += len(batch)
        nodes_written += sum(1 for k, _ in batch.ops if k.startswith(schema.STATE_NODE))
    loads = tree.node_loads - loads_before
    keys = rounds * batch_keys
    return (keys / elapsed, keys / cpu, keys / thread_cpu, nodes_written // rounds,
            puts // rounds, loads // rounds)


def baseline_hash_rate(suite: Suite, count: int) -> float:
    data = [bytes((0x11,)) + i.to_bytes(64, "big") for i in range(count)]
    started = time.perf_counter()
    for raw in data:
        suite.hash(raw)
    return count / (time.perf_counter() - started)


def baseline_leveldb_rate(kv: LevelKV, puts: int, rounds: int) -> float:
    """Puts/s of synced batches of ``puts`` random 65-byte values (what a block writes)."""
    rng = random.Random(7)
    elapsed = 0.0
    for _ in range(rounds):
        batch = kv.batch()
        for _ in range(puts):
            batch.put(b"bench/" + rng.randbytes(32), rng.randbytes(65))
        started = time.perf_counter()
        kv.write(batch, sync=True)
        elapsed += time.perf_counter() - started
    return puts * rounds / elapsed


def bench_proofs(tree: StateTree, keys: int, count: int,
                 rng: random.Random) -> tuple[float, float, float, int]:
    """Proof build rate, verification rate, mean and max siblings over present and absent keys."""
    present = [_key(i) for i in rng.sample(range(keys), count)]
    absent = [f"absent/{i}" for i in range(count // 4)]
    wanted = present + absent
    started = time.perf_counter()
    proofs = [tree.get_with_proof(key) for key in wanted]
    build_rate = len(wanted) / (time.perf_counter() - started)
    root = tree.root
    suite = tree.suite
    started = time.perf_counter()
    for key, (value, proof) in zip(wanted, proofs, strict=True):
        verify_proof(suite, root, key, proof, value)
    verify_rate = len(wanted) / (time.perf_counter() - started)
    sizes = [len(proof.siblings) for _, proof in proofs]
    assert all(value is not None for value, _ in proofs[:count])
    assert all(value is None for value, _ in proofs[count:])
    return build_rate, verify_rate, sum(sizes) / len(sizes), max(sizes)


def bench_small(suite: Suite, keys: int) -> tuple[float, float]:
    """Roots/s of the naive recursion and of StateTree.apply on a ``keys``-key state."""
    state = {_key(i): _value(i, 0) for i in range(keys)}
    started = time.perf_counter()
    naive = naive_root(suite, state)
    naive_s = time.perf_counter() - started
    kv = MemoryKV()
    started = time.perf_counter()
    root = StateTree(suite, kv).apply(state, kv.batch(), 1)
    tree_s = time.perf_counter() - started
    assert root == naive
    return keys / naive_s, keys / tree_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="keys per block update")
    parser.add_argument("--rounds", type=int, default=30, help="blocks measured")
    parser.add_argument("--build-batch", type=int, default=20_000)
    parser.add_argument("--proofs", type=int, default=4000)
    parser.add_argument("--suite", default="ed25519-sha256")
    parser.add_argument("--pinned-depth", type=int, default=DEFAULT_PINNED_DEPTH)
    parser.add_argument("--dir", default=None, help="LevelDB directory (default: a temp dir)")
    args = parser.parse_args()
    suite = get_suite(args.suite)
    rng = random.Random(1)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench_state_"))
    print(f"state tree benchmark: suite {suite.name}, {args.keys:,} keys, LevelDB in {workdir}")
    try:
        kv = LevelKV(str(workdir / "db"))
        tree = StateTree(suite, kv, pinned_depth=args.pinned_depth)
        started = time.perf_counter()
        height = build(tree, kv, args.keys, args.build_batch)
        build_s = time.perf_counter() - started
        print(f"build: {args.keys / build_s:,.0f} keys/s ({build_s:.1f} s)")
        # The bulk load leaves LevelDB a compaction debt far above what the measured blocks
        # write; settle it first so that it does not land in the update figures.
        started = time.perf_counter()
        kv._db.compact_range()
        print(f"LevelDB compaction after the build: {time.perf_counter() - started:.1f} s")

        rate, cpu_rate, thread_rate, nodes, puts, loads = bench_updates(
            tree, kv, args.keys, args.batch, args.rounds, height, rng)
        hashes = nodes + 2 * args.batch  # node hashes, plus a path and a value hash per key
        hash_rate = baseline_hash_rate(suite, hashes * 5)
        db_rate = baseline_leveldb_rate(kv, puts, 5)
        floor_s = hashes / hash_rate + puts / db_rate
        print(f"updates: {rate:,.0f} keys/s in synced blocks of {args.batch:,} "
              f"({cpu_rate:,.0f} per process CPU-second, {thread_rate:,.0f} per CPU-second of "
              f"the updating thread; "
              f"{args.batch / rate * 1000:.1f} ms/block; {nodes:,} node records written, "
              f"{puts:,} puts, {loads:,} node reads from LevelDB per block)")
        print(f"  baseline: {suite.name} hash {hash_rate:,.0f}/s, synced LevelDB batch "
              f"{db_rate:,.0f} puts/s -> hashing + writing alone {floor_s * 1000:.1f} ms/block "
              f"({args.batch / floor_s:,.0f} keys/s)")

        build_rate, verify_rate, mean_sib, max_sib = bench_proofs(tree, args.keys, args.proofs,
                                                                 rng)
        print(f"proofs (warm cache): build {build_rate:,.0f}/s, verify {verify_rate:,.0f}/s, "
              f"siblings mean {mean_sib:.1f} max {max_sib}")
        cold = StateTree(suite, kv, tree.root, pinned_depth=args.pinned_depth)
        cold_rate = bench_proofs(cold, args.keys, args.proofs // 4, rng)[0]
        print(f"proofs (cold tree, nodes from LevelDB): build {cold_rate:,.0f}/s")
        verify_floor = hash_rate / (mean_sib + 3)
        print(f"  baseline: {mean_sib + 3:.0f} hashes per verification at the raw hash rate "
              f"-> {verify_floor:,.0f}/s")
        naive_rate, tree_rate = bench_small(suite, 5000)
        print(f"small state (5,000 keys, one batch, memory): naive recursion {naive_rate:,.0f} "
              f"keys/s, StateTree {tree_rate:,.0f} keys/s ({tree_rate / naive_rate:.1f}x)")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        page_mb = resource.getpagesize() / (1 << 20)
        rss_mb = int(Path("/proc/self/statm").read_text().split()[1]) * page_mb
        print(f"memory of the benchmark process: {rss_mb:,.0f} MB now, {peak_mb:,.0f} MB peak "
              f"(the build); {tree.pinned_nodes:,} state nodes pinned")
        kv.close()
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
