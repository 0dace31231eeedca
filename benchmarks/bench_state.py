"""State tree benchmark: block updates, compute-once commits, proofs.

Builds a state of ``--keys`` keys in a LevelDB on disk (in batches, with progress), then
measures, on that state:

- updates: ``--rounds`` blocks of ``--batch`` random existing keys with new values, each
  block one ``apply`` into a batch, one synced ``KV.write`` and ``confirm_written``; the
  median block and the mean, wall and CPU of the updating thread;
- compute once (issue 8 item 5): a block validated then committed, alternating the old way
  (stage to get the root, discard it, apply the same writes again on commit) and the new
  one (stage once, adopt the staged update on commit), median ms per block each;
- proofs: sibling counts, build rate (warm cache and from a cold tree), verification rate.

Side by side, in the same run, baselines that move with the machine's load: the raw rate of
the suite's hash over as many hashes as one block's update performs (the hashing-only
bound), the rate of a synced LevelDB batch of as many puts, and the naive recursion from
the definition against ``StateTree`` on a small state. The load average is printed at the
start and the end. ``--kernel pure`` runs the pure-Python kernel; ``--ab`` builds the state
twice and alternates blocks between the C and the pure kernel (same writes, roots checked
equal). Usage::

    .venv/bin/python benchmarks/bench_state.py                 # 1,000,000 keys
    .venv/bin/python benchmarks/bench_state.py --keys 100000 --suite sm2-sm3
    .venv/bin/python benchmarks/bench_state.py --ab            # C vs pure, interleaved
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
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
from ledger.smt_native import NATIVE  # noqa: E402
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


class Updates:
    """Per-block figures of a run of synced update blocks."""

    def __init__(self) -> None:
        self.wall_s: list[float] = []
        self.thread_s: list[float] = []
        self.process_s = 0.0
        self.nodes_written = self.puts = self.loads = self.inner_nodes = 0

    def keys_per_s(self, batch_keys: int) -> float:
        """The rate of the median block, by wall time."""
        return batch_keys / statistics.median(self.wall_s)

    def summary(self, batch_keys: int) -> str:
        rounds = len(self.wall_s)
        return (f"{self.keys_per_s(batch_keys):,.0f} keys/s (median block "
                f"{statistics.median(self.wall_s) * 1000:.1f} ms, mean "
                f"{statistics.fmean(self.wall_s) * 1000:.1f} ms; updating thread "
                f"{batch_keys / statistics.median(self.thread_s):,.0f} keys per CPU-second, "
                f"process {batch_keys * rounds / self.process_s:,.0f}; "
                f"{self.nodes_written // rounds:,} node records, {self.puts // rounds:,} puts, "
                f"{self.loads // rounds:,} chunk reads from LevelDB per block)")


def update_block(tree: StateTree, kv: LevelKV, writes: dict[str, bytes | None], height: int,
                 out: Updates) -> None:
    """One synced block: apply, write, confirm, timed as a whole."""
    loads = tree.node_loads
    batch = kv.batch()
    started, cpu_started = time.perf_counter(), time.process_time()
    thread_started = time.thread_time()
    staged = tree.stage(writes, height)
    tree.adopt(staged, batch)
    kv.write(batch, sync=True)
    tree.confirm_written()
    out.inner_nodes += len(staged.layer.nodes)
    out.wall_s.append(time.perf_counter() - started)
    out.thread_s.append(time.thread_time() - thread_started)
    out.process_s += time.process_time() - cpu_started
    out.puts += len(batch)
    out.nodes_written += sum(1 for k, _ in batch.ops if k.startswith(schema.STATE_NODE))
    out.loads += tree.node_loads - loads


def random_writes(keys: int, batch_keys: int, version: int,
                  rng: random.Random) -> dict[str, bytes | None]:
    return {_key(i): _value(i, version) for i in rng.sample(range(keys), batch_keys)}


def bench_updates(trees: list[tuple[StateTree, LevelKV]], keys: int, batch_keys: int,
                  rounds: int, height: int, rng: random.Random) -> list[Updates]:
    """``rounds`` synced blocks on each tree, the trees taking turns block by block with the
    same writes (their roots must agree)."""
    results = [Updates() for _ in trees]
    for r in range(rounds):
        writes = random_writes(keys, batch_keys, r + 1, rng)
        for (tree, kv), out in zip(trees, results, strict=True):
            update_block(tree, kv, writes, height + r + 1, out)
        assert len({tree.root for tree, _ in trees}) == 1
    return results


def bench_compute_once(tree: StateTree, kv: LevelKV, keys: int, batch_keys: int, rounds: int,
                       height: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Validate-then-commit per block, the old way and the new one taking turns: ms lists."""
    twice: list[float] = []
    once: list[float] = []
    for r in range(2 * rounds):
        writes = random_writes(keys, batch_keys, 1000 + r, rng)
        batch = kv.batch()
        started = time.perf_counter()
        staged = tree.stage(writes, height + r + 1)  # validation: the root to compare
        if r % 2 == 0:  # before: the root computed and thrown away, the update redone
            tree.apply(writes, batch, height + r + 1)
        else:
            tree.adopt(staged, batch)
        kv.write(batch, sync=True)
        tree.confirm_written()
        (twice if r % 2 == 0 else once).append((time.perf_counter() - started) * 1000)
    return twice, once


def baseline_hash_rate(suite: Suite, count: int) -> float:
    data = [bytes((0x11,)) + i.to_bytes(64, "big") for i in range(count)]
    started = time.perf_counter()
    for raw in data:
        suite.hash(raw)
    return count / (time.perf_counter() - started)


def kernel_hash_rate(tree: StateTree, count: int) -> float:
    """Hashes/s of the tree kernel's own hash (C when native) over inner-node preimages."""
    data = [i.to_bytes(64, "big") for i in range(count)]
    started = time.perf_counter()
    tree.kernel.digests(0x11, data)
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


def bench_head_reads(tree: StateTree, kv: LevelKV, keys: int, count: int,
                     rng: random.Random) -> tuple[float, float]:
    """Reads/s of head values checked against the root, and of the same reads unchecked
    (the index entry, then the value under the hash it holds)."""
    wanted = [_key(i) for i in rng.sample(range(keys), count)]
    started = time.perf_counter()
    for key in wanted:
        tree.get(key)
    checked = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for key in wanted:
        digest = kv.get(schema.state_head_key(key))
        assert digest is not None
        kv.get(schema.state_value_key(digest))
    return checked, count / (time.perf_counter() - started)


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


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build_tree(suite: Suite, path: Path, args: argparse.Namespace,
               native: bool) -> tuple[StateTree, LevelKV, int]:
    kv = LevelKV(str(path))
    tree = StateTree(suite, kv, pinned_depth=args.pinned_depth, native=native)
    started = time.perf_counter()
    height = build(tree, kv, args.keys, args.build_batch)
    build_s = time.perf_counter() - started
    print(f"build ({'C' if tree.kernel.native else 'pure'} kernel): "
          f"{args.keys / build_s:,.0f} keys/s ({build_s:.1f} s)")
    # The bulk load leaves LevelDB a compaction debt far above what the measured blocks
    # write; settle it first so that it does not land in the update figures.
    started = time.perf_counter()
    kv._db.compact_range()
    print(f"LevelDB compaction after the build: {time.perf_counter() - started:.1f} s")
    return tree, kv, height


def print_updates(suite: Suite, tree: StateTree, kv: LevelKV, batch_keys: int,
                  results: list[tuple[str, Updates]]) -> float:
    """The update lines and the bounds measured now; returns the raw hash rate."""
    first = results[0][1]
    rounds = len(first.wall_s)
    # Node hashes, plus a path, a value and a leaf hash per key.
    hashes = first.inner_nodes // rounds + 3 * batch_keys
    hash_rate = baseline_hash_rate(suite, hashes * 5)
    db_rate = baseline_leveldb_rate(kv, first.puts // rounds, 5)
    hash_s = hashes / hash_rate
    floor_s = hash_s + (first.puts // rounds) / db_rate
    for name, out in results:
        rate = out.keys_per_s(batch_keys)
        print(f"updates, {name}: {out.summary(batch_keys)}")
        print(f"  = {rate / (batch_keys / hash_s):.0%} of the hashing-only bound, "
              f"{rate / (batch_keys / floor_s):.0%} of hashing + writing")
    print(f"  bounds: {hashes:,} hashes per block at the raw {suite.name} rate "
          f"{hash_rate:,.0f}/s -> hashing only {hash_s * 1000:.1f} ms/block "
          f"({batch_keys / hash_s:,.0f} keys/s); synced LevelDB batch {db_rate:,.0f} puts/s -> "
          f"hashing + writing {floor_s * 1000:.1f} ms/block ({batch_keys / floor_s:,.0f} keys/s)")
    if tree.kernel.native:
        own_rate = kernel_hash_rate(tree, hashes * 5)
        own_s = hashes / own_rate
        print(f"  with the C kernel's own hash ({own_rate:,.0f}/s): hashing only "
              f"{own_s * 1000:.1f} ms/block ({batch_keys / own_s:,.0f} keys/s; the median block "
              f"is {first.keys_per_s(batch_keys) / (batch_keys / own_s):.0%} of it)")
    return hash_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="keys per block update")
    parser.add_argument("--rounds", type=int, default=30, help="blocks measured")
    parser.add_argument("--build-batch", type=int, default=20_000)
    parser.add_argument("--proofs", type=int, default=4000)
    parser.add_argument("--suite", default="ed25519-sha256")
    parser.add_argument("--pinned-depth", type=int, default=DEFAULT_PINNED_DEPTH)
    parser.add_argument("--kernel", choices=["c", "pure"], default="c")
    parser.add_argument("--ab", action="store_true",
                        help="two stores, blocks alternating between the C and pure kernels")
    parser.add_argument("--dir", default=None, help="LevelDB directory (default: a temp dir)")
    args = parser.parse_args()
    suite = get_suite(args.suite)
    rng = random.Random(1)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="bench_state_"))
    print(f"state tree benchmark: suite {suite.name}, {args.keys:,} keys, LevelDB in {workdir}; "
          f"{load_average()}; C kernel {'available' if NATIVE else 'MISSING'}")
    try:
        tree, kv, height = build_tree(suite, workdir / "db", args, args.kernel == "c")
        trees = [(tree, kv)]
        names = ["C kernel" if tree.kernel.native else "pure kernel"]
        if args.ab:
            trees.append(build_tree(suite, workdir / "db_pure", args, False)[:2])
            names.append("pure kernel")
        results = bench_updates(trees, args.keys, args.batch, args.rounds, height, rng)
        hash_rate = print_updates(suite, tree, kv, args.batch,
                                  list(zip(names, results, strict=True)))
        height += args.rounds
        for _, other_kv in trees[1:]:
            other_kv.close()
        del trees[1:]  # the pure tree's memory back before the next figures
        twice, once = bench_compute_once(tree, kv, args.keys, args.batch, args.rounds // 2,
                                         height, rng)
        print(f"validate + commit a block ({names[0]}): update computed twice "
              f"{statistics.median(twice):.1f} ms, once {statistics.median(once):.1f} ms "
              f"(medians of {len(once)} interleaved blocks each)")
        print_proofs(suite, tree, kv, args, hash_rate, rng)
        checked, raw = bench_head_reads(tree, kv, args.keys, args.proofs, rng)
        print(f"head reads: checked against the root (StateTree.get) {checked:,.0f}/s, "
              f"the bare index read {raw:,.0f}/s")
        naive_rate, tree_rate = bench_small(suite, 5000)
        print(f"small state (5,000 keys, one batch, memory): naive recursion {naive_rate:,.0f} "
              f"keys/s, StateTree {tree_rate:,.0f} keys/s ({tree_rate / naive_rate:.1f}x)")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        page_mb = resource.getpagesize() / (1 << 20)
        rss_mb = int(Path("/proc/self/statm").read_text().split()[1]) * page_mb
        print(f"memory of the benchmark process: {rss_mb:,.0f} MB now, {peak_mb:,.0f} MB peak; "
              f"{tree.pinned_nodes:,} state nodes pinned; {load_average()}")
        kv.close()
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_proofs(suite: Suite, tree: StateTree, kv: LevelKV, args: argparse.Namespace,
                 hash_rate: float, rng: random.Random) -> None:
    build_rate, verify_rate, mean_sib, max_sib = bench_proofs(tree, args.keys, args.proofs, rng)
    print(f"proofs (warm cache): build {build_rate:,.0f}/s, verify {verify_rate:,.0f}/s, "
          f"siblings mean {mean_sib:.1f} max {max_sib}")
    cold = StateTree(suite, kv, tree.root, pinned_depth=args.pinned_depth)
    cold_rate = bench_proofs(cold, args.keys, args.proofs // 4, rng)[0]
    print(f"proofs (cold tree, nodes from LevelDB): build {cold_rate:,.0f}/s")
    print(f"  baseline: {mean_sib + 3:.0f} hashes per verification at the raw hash rate "
          f"-> {hash_rate / (mean_sib + 3):,.0f}/s")


if __name__ == "__main__":
    main()
