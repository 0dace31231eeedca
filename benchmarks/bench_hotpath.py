"""A validator's CPU per transaction of the realistic mix, in one process, by component.

    .venv/bin/python benchmarks/bench_hotpath.py [--blocks 15] [--block-txs 300]
        [--rounds 3] [--again 0.5] [--suite ed25519-sha256] [--cprofile N] [--count-io]

Set-up (not timed): the cluster benchmark's workload (``benchmarks/workload.py``, the
realistic template) and its setup history, played by ``benchmarks/prebuilt.play`` into a
leader's store, which is then copied for a follower: two ``shell.chain.Chain`` over LevelDB
in a temporary directory, as a node opens them. Every transaction is signed in advance.

Timed, per block of ``--block-txs`` transactions (the window's requests as the cluster
driver composes them, cut into blocks), on the node's code path without the network:

- each node admits the block's transactions through ``shell.admission.Admission``: one in
  four from a client as hex (``POST /txs``: *http hex*), the others from peers; the strict
  decode, the pool's checks, the sender check and ``TxPool.add`` are *admission, rest*, the
  signatures (on the admission's worker threads) *verify*, the floor. Then ``--again`` of
  them per transaction are offered again while they wait, as the peers' re-gossip of
  waiting transactions does at saturation, and refused (*duplicates*);
- the leader proposes (``ChainApp.propose``) and commits (``Chain.commit``: the store's
  checks, the tree's records and the block's in one synced batch, the pool cleared);
- the follower rebuilds the block from its pool by id (a compact proposal), re-executes it
  (``ChainApp.validate``) and commits it.

Execution and commit are split by timing the calls they make: the contracts
(``Executor.execute_block``), the state tree (``StateTree.stage``, ``adopt``) and the
LevelDB write (``KV.write``); the rest is *execute, rest* and *commit, rest*. Times are the
CPU time of the thread doing the work (``time.thread_time``: the fsync of the synced write
waits, it is not CPU); *other threads* is the rest of the process's CPU (LevelDB's
compactions, the workers' hand-offs), shared by the two nodes. Per-call timers would cost
as much as what they time (a CPU clock read is ~0.4 µs here), so only blocks and batches
are timed; ``--cprofile N`` runs one more round under cProfile for the functions, and
``--count-io`` one more that counts each node's LevelDB reads and puts by key prefix
(``ledger.schema``): counts, not times, so they do not depend on the machine.

Printed: µs per transaction for a validator of four (leader of one block in four) per
round, and per component the median over ``--rounds``, after one round not counted (it
warms the caches), with the load average: run it beside another build and compare the
ratio, not absolute times from different moments.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.prebuilt import BuildReport, _qc, play  # noqa: E402
from benchmarks.workload import (  # noqa: E402
    CHAIN_ID,
    GENESIS_PARAMS,
    REALISTIC,
    Workload,
    actor,
    request_txs,
)
from consensus.pool import R_DUPLICATE, verify_batch  # noqa: E402
from ledger.block import Block, Validator  # noqa: E402
from ledger.crypto import Suite, get_suite  # noqa: E402
from ledger.genesis import GenesisDoc  # noqa: E402
from ledger.jsonform import hex_to_bytes  # noqa: E402
from ledger.kv import LevelKV  # noqa: E402
from ledger.tx import OK, SignedTx  # noqa: E402
from shell import admission  # noqa: E402
from shell.chain import Chain  # noqa: E402
from shell.config import NodeLimits  # noqa: E402
from shell.metrics import Metrics  # noqa: E402
from shell.server import WARM_TREE_NODES  # noqa: E402

VALIDATORS = 4
BLOCK_GAP_MS = 100  # block times in the window: this far apart
COMPONENTS = ("http hex", "verify", "admission, rest", "duplicates", "contracts", "state tree",
              "leveldb write", "execute, rest", "commit, rest")
# Not in the total: LevelDB compacts in bursts, a round may or may not hold one.
BACKGROUND = "other threads"

Times = dict[str, float]  # component -> seconds
_current: Times = defaultdict(float)  # the times of the node admitting now
_verify_lock = threading.Lock()  # verification runs on the admission's worker threads


def _instrument() -> None:
    """Count the admission's ``verify_batch`` (one call per chunk of a batch) into
    ``_current``."""

    def timed_verify(suite: Suite, txs: Iterable[SignedTx]) -> list[bool]:
        t = time.thread_time()
        try:
            return verify_batch(suite, txs)
        finally:
            with _verify_lock:
                _current["verify"] += time.thread_time() - t

    admission.verify_batch = timed_verify  # type: ignore[attr-defined]


def _timed(times: Times, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] += time.thread_time() - t
    return wrapper


class Node:
    """One validator's chain, its inner calls timed into ``times`` (reset per phase)."""

    def __init__(self, path: Path, doc: GenesisDoc) -> None:
        self.kv = LevelKV(str(path))
        self.chain = Chain.open(self.kv, doc)
        # As a node does before it serves (``shell.server._warm_tree``): without it every
        # walk into a part of the tree not yet walked loads a chunk record from LevelDB.
        self.chain.store.tree.warm(WARM_TREE_NODES)
        self.times: Times = defaultdict(float)
        app, tree = self.chain.app, self.chain.store.tree
        app.executor.execute_block = _timed(  # type: ignore[method-assign]
            self.times, "contracts", app.executor.execute_block)
        tree.stage = _timed(self.times, "state tree", tree.stage)  # type: ignore[method-assign]
        tree.adopt = _timed(self.times, "state tree", tree.adopt)  # type: ignore[method-assign]
        self.kv.write = _timed(self.times, "leveldb write", self.kv.write)  # type: ignore
        self.loop = asyncio.new_event_loop()
        self.admission = admission.Admission(self.chain, NodeLimits(), Metrics(),
                                             lambda: None, lambda txs: None)

    def admit(self, txs: list[SignedTx], from_client: list[str], again: list[bytes]) -> None:
        """Admit a block's transactions as the node does: ``from_client`` (hex, as
        ``POST /txs`` carries them) and the rest from peers' gossip, through ``Admission``;
        then ``again`` (copies the peers offer again while they wait) is refused."""
        times = self.times
        t = time.thread_time()
        mine = [hex_to_bytes(item) for item in from_client]
        times["http hex"] += time.thread_time() - t
        gossip = [tx.encode() for tx in txs[len(mine):]]
        results = self._submit(mine, from_peer=False) + self._submit(gossip, from_peer=True)
        refused = [r.reason for r in results if not r.accepted]
        if refused:
            raise RuntimeError(f"admission refused workload transactions: {set(refused)}")
        t = time.thread_time()
        results = self._submit(again, from_peer=True)
        times["duplicates"] += time.thread_time() - t
        times["admission, rest"] -= time.thread_time() - t  # counted in "duplicates"
        if any(r.reason != R_DUPLICATE for r in results):
            raise RuntimeError("a copy of a pooled transaction was not refused as a duplicate")

    def _submit(self, encoded: list[bytes], from_peer: bool) -> list[Any]:
        """``Admission.submit``; its CPU time on this thread (verification runs on the
        admission's workers and counts as "verify") is "admission, rest"."""
        times = self.times
        t = time.thread_time()
        global _current
        _current = times  # noqa: PLW0603 (the instrumented decode and verify add to it)
        results = self.loop.run_until_complete(self.admission.submit(encoded, from_peer))
        times["admission, rest"] += time.thread_time() - t
        return results

    def timed_phase(self, outer: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; what its timed inner calls did not take is ``outer``."""
        inner = sum(self.times[c] for c in ("contracts", "state tree", "leveldb write"))
        t = time.thread_time()
        result = fn()
        spent = time.thread_time() - t
        inner = sum(self.times[c] for c in ("contracts", "state tree", "leveldb write")) - inner
        self.times[outer] += spent - inner
        return result

    def close(self) -> None:
        self.admission.close()
        self.loop.close()
        self.chain.close()


def genesis(suite: Suite, workload: Workload) -> tuple[GenesisDoc, list[bytes]]:
    secrets = [actor(suite, f"validator/{i}").secret for i in range(VALIDATORS)]
    doc = GenesisDoc(
        chain_id=CHAIN_ID, suite=suite.name, time_ms=workload.genesis_ms,
        validators=tuple(Validator(f"v{i}", suite.public_key(s)) for i, s in enumerate(secrets)),
        committee=[suite.public_key(secrets[0])], roles=workload.role_keys(),
        params=dict(GENESIS_PARAMS))
    return doc, secrets


def window_blocks(workload: Workload, block_txs: int) -> Iterator[list[SignedTx]]:
    """The window's transactions in requests as the driver composes them (each request
    whole runs of every call, in the template's proportions), cut into blocks."""
    by_call: dict[str, list[Any]] = defaultdict(list)
    for run in workload.window_runs():
        by_call[run.call].append(run)
    turn = {call: iter(runs) for call, runs in by_call.items()}
    pending: list[SignedTx] = []
    for _ in range(workload.requests):
        for slot in workload.template:
            for _ in range(slot.runs):
                pending.extend(next(turn[slot.call]).txs)
        while len(pending) >= block_txs:
            yield pending[:block_txs]
            pending = pending[block_txs:]
    if pending:
        yield pending


def run_round(nodes: tuple[Node, Node], secrets: list[bytes], blocks: list[list[SignedTx]],
              again_share: float) -> tuple[Times, Times, int]:
    """One pass of ``blocks`` through a leader and a follower; their times and the count."""
    leader, follower = nodes
    for node in nodes:
        node.times.clear()
    suite = leader.chain.suite
    count = 0
    all_threads, this_thread = time.process_time(), time.thread_time()
    for txs in blocks:
        head = leader.chain.store.head_header()
        height, at_ms = head.height + 1, head.time_ms + BLOCK_GAP_MS
        # A node hears from clients one transaction in VALIDATORS, the rest from its peers.
        from_client = [tx.encode().hex() for tx in txs[:len(txs) // VALIDATORS]]
        again = [tx.encode() for tx in txs[:int(len(txs) * again_share)]]
        ids = [tx.tx_id(suite) for tx in txs]
        for node in nodes:
            node.admit(txs, from_client, again)
        pooled = _pooled(leader, ids)
        block = leader.timed_phase("execute, rest", lambda: leader.chain.app.propose(
            head, height, 0, height % VALIDATORS, at_ms, pooled))  # noqa: B023
        if len(block.txs) != len(txs):
            raise RuntimeError(f"block {height} left out {len(txs) - len(block.txs)} txs")
        qc = _qc(suite, block.header, secrets)
        receipts = leader.timed_phase("commit, rest", lambda: leader.chain.commit(
            block, qc))  # noqa: B023
        failed = [r.code for r in receipts if r.code != OK]
        if failed:
            raise RuntimeError(f"block {height}: failed receipts {sorted(set(failed))}")
        # A compact proposal: the follower rebuilds the block from its pool by id.
        rebuilt = Block(block.header, _pooled(follower, ids))
        problem = follower.timed_phase("execute, rest", lambda: follower.chain.app.validate(
            head, rebuilt))  # noqa: B023
        if problem is not None:
            raise RuntimeError(f"the follower refused block {height}: {problem}")
        follower.timed_phase("commit, rest", lambda: follower.chain.commit(
            rebuilt, qc))  # noqa: B023
        count += len(txs)
    # What other threads used besides verification (LevelDB's compactions, the workers'
    # hand-offs), shared evenly by the two nodes.
    others = (time.process_time() - all_threads) - (time.thread_time() - this_thread)
    others -= leader.times["verify"] + follower.times["verify"]
    for node in nodes:
        node.times["other threads"] = others / 2
    return dict(leader.times), dict(follower.times), count


def _pooled(node: Node, ids: list[bytes]) -> tuple[SignedTx, ...]:
    found = [node.chain.pool.get(i) for i in ids]
    txs = tuple(tx for tx in found if tx is not None)
    if len(txs) != len(ids):
        raise RuntimeError("a transaction of the block is missing from the pool")
    return txs


def per_tx_us(times: Times, count: int) -> dict[str, float]:
    return {c: times.get(c, 0.0) * 1e6 / count for c in (*COMPONENTS, BACKGROUND)}


def validator_us(leader: dict[str, float], follower: dict[str, float]) -> dict[str, float]:
    """A validator of four leads one block in four."""
    return {c: (leader[c] + (VALIDATORS - 1) * follower[c]) / VALIDATORS
            for c in (*COMPONENTS, BACKGROUND)}


def _total(us: dict[str, float]) -> float:
    return sum(us[c] for c in COMPONENTS)


def key_kind(key: bytes) -> str:
    """A KV key's prefix as ``ledger.schema`` names it (``sn/``, ``t/``, ``m/head``...)."""
    cut = key.find(b"/", 0, 4)
    return (key[:cut + 1] if cut >= 0 else key[:8]).decode("ascii", "replace")


def count_io(nodes: tuple[Node, Node], secrets: list[bytes], blocks: list[list[SignedTx]],
             again_share: float) -> None:
    """One round with each node's LevelDB reads (found or not) and puts counted by key
    prefix; printed per transaction per node."""
    gets: Counter[str] = Counter()
    found: Counter[str] = Counter()
    puts: Counter[str] = Counter()
    for node in nodes:
        kv_get, kv_write = node.kv.get, node.kv.write

        def get(key: bytes, kv_get: Callable[[bytes], bytes | None] = kv_get) -> bytes | None:
            value = kv_get(key)
            gets[key_kind(key)] += 1
            found[key_kind(key)] += value is not None
            return value

        def write(batch: Any, sync: bool = True, kv_write: Callable[..., None] = kv_write
                  ) -> None:
            puts.update(key_kind(key) for key, value in batch.ops if value is not None)
            kv_write(batch, sync)

        node.kv.get, node.kv.write = get, write  # type: ignore[method-assign]
    _, _, count = run_round(nodes, secrets, blocks, again_share)
    per = 1 / (count * len(nodes))
    print(f"\nLevelDB per transaction per node ({count} transactions):")
    print(f"  gets {sum(gets.values()) * per:.2f}: " + ", ".join(
        f"{kind} {n * per:.2f} ({found[kind] * per:.2f} found)" for kind, n in gets.most_common()))
    print(f"  puts {sum(puts.values()) * per:.2f}: " + ", ".join(
        f"{kind} {n * per:.2f}" for kind, n in puts.most_common()))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="ed25519-sha256")
    parser.add_argument("--blocks", type=int, default=15, help="blocks per round")
    parser.add_argument("--block-txs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--again", type=float, default=0.5, metavar="SHARE",
                        help="copies offered again by peers while waiting, per transaction")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="one more round under cProfile; print its N hottest functions")
    parser.add_argument("--count-io", action="store_true",
                        help="one more round counting LevelDB reads and puts by key prefix")
    opts = parser.parse_args()
    suite = get_suite(opts.suite)
    # The first round warms up; --cprofile and --count-io each run one more.
    rounds = 1 + opts.rounds + (1 if opts.cprofile else 0) + (1 if opts.count_io else 0)
    per_request = request_txs(REALISTIC)
    requests = -(-rounds * opts.blocks * opts.block_txs // per_request)
    workload = Workload(suite, VALIDATORS, REALISTIC, requests, int(time.time() * 1000))
    doc, secrets = genesis(suite, workload)
    work = Path(tempfile.mkdtemp(prefix="bench_hotpath_"))
    try:
        t = time.monotonic()
        leader = Node(work / "leader", doc)
        play(leader.chain, secrets, workload.setup_blocks(), BuildReport())
        leader.close()
        shutil.copytree(work / "leader", work / "follower")
        nodes = (Node(work / "leader", doc), Node(work / "follower", doc))
        blocks = list(window_blocks(workload, opts.block_txs))
        # The pre-signed window and the set-up are the benchmark's objects, not a node's:
        # frozen, so that the collector's full passes do not walk them at every round.
        gc.collect()
        gc.freeze()
        print(f"set-up {time.monotonic() - t:.0f} s; {len(blocks)} blocks of "
              f"{opts.block_txs} txs, {opts.blocks} per round; load average {load_average()}")
        _instrument()
        run_round(nodes, secrets, blocks[:opts.blocks], opts.again)
        results = []
        for r in range(opts.rounds):
            part = blocks[(r + 1) * opts.blocks:(r + 2) * opts.blocks]
            lead, follow, count = run_round(nodes, secrets, part, opts.again)
            v = validator_us(per_tx_us(lead, count), per_tx_us(follow, count))
            results.append(v)
            print(f"round {r + 1}: validator {_total(v):.1f} µs/tx (leader "
                  f"{_total(per_tx_us(lead, count)):.1f}, follower "
                  f"{_total(per_tx_us(follow, count)):.1f}), other threads "
                  f"{v[BACKGROUND]:.1f}; load {load_average()}")
        print("\n| component | µs per tx per validator (median of rounds) |\n|---|---:|")
        medians = {c: statistics.median(v[c] for v in results) for c in (*COMPONENTS, BACKGROUND)}
        for c in COMPONENTS:
            print(f"| {c} | {medians[c]:.1f} |")
        total = statistics.median(_total(v) for v in results)
        print(f"| **total** | **{total:.1f}** |")
        print(f"| {BACKGROUND} (LevelDB compactions; not in the total) | "
              f"{medians[BACKGROUND]:.1f} |")
        print(f"load average after: {load_average()}")
        print("json", json.dumps({"total": total, **medians}))
        extra = opts.rounds + 1
        if opts.cprofile:
            part = blocks[extra * opts.blocks:(extra + 1) * opts.blocks]
            extra += 1
            prof = cProfile.Profile()
            prof.runcall(run_round, nodes, secrets, part, opts.again)
            pstats.Stats(prof).sort_stats("tottime").print_stats(opts.cprofile)
        if opts.count_io:
            part = blocks[extra * opts.blocks:(extra + 1) * opts.blocks]
            count_io(nodes, secrets, part, opts.again)
        for node in nodes:
            node.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
