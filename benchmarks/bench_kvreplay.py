"""LevelDB options in the steady state: a node's recorded block batches replayed for long.

    .venv/bin/python benchmarks/bench_kvopts.py --record /tmp/batches.pickle \\
        -- --blocks 30 --rounds 3                       # record once (the timed leader's)
    .venv/bin/python benchmarks/bench_kvreplay.py --trace /tmp/batches.pickle \\
        --blocks 800 [--opt write_buffer_size=67108864 ...]

The in-process hot-path benchmark writes ~300 MB per node, too little for the compactions
of a long-running node: a larger write buffer there mostly *defers* compactions past the
end of the run. This one writes the recorded batches (one per committed block) again and
again into a fresh store through ``ledger.kv.LevelKV`` (synced, as a node writes them),
with ``--opt NAME=VALUE`` over the node's LevelDB options, until ``--blocks`` are written.
Each pass past the first renames what is content-addressed or new per block, so that it
is new data as in a live chain: hash-keyed records (``sn/``, ``sv/``, ``sp/``, ``t/``,
``h/``) get fresh hashes, height-keyed ones later heights; state heads (``sk/``), metadata
and consensus keys are overwritten as recorded.

A block is written every ``--gap-ms`` (default 100 ms, 3,000 tx/s: faster than a node
commits, slow enough for the compactions to keep up; unpaced, level 0 fills and writes
stall). Printed, for the first and the second half of the blocks: per block (and per transaction,
``--block-txs``), the CPU of the writing thread in ``KV.write`` and of the other threads
(LevelDB's compactions), and the wall time; then LevelDB's compaction table, the store's
size, LevelDB's memory estimate and the peak RSS; then point reads of ``sv/`` records
spread over the history (present) and of absent keys, with a cold block cache (the store
reopened) and a warm one: CPU µs per read.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plyvel  # noqa: E402

from ledger import schema  # noqa: E402
from ledger.kv import LevelKV, WriteBatch  # noqa: E402

Ops = list[tuple[bytes, bytes | None]]

HASHED = (schema.STATE_NODE, schema.STATE_VALUE, schema.STATE_KEY_BY_PATH,
          schema.TX_LOCATION, schema.BLOCK_BY_HASH)
BY_HEIGHT = (schema.BLOCK, schema.QC, schema.RECEIPTS, schema.VALIDATORS,
             schema.VALIDATOR_CHANGE, schema.STATE_ROOT, schema.CHANGE_HEADER)
HEIGHT_SHIFT = 1 << 32  # per pass: far above any recorded height


def renamed(key: bytes, cycle: int) -> bytes:
    """``key`` as pass ``cycle`` writes it (pass 0: as recorded)."""
    if cycle == 0:
        return key
    for prefix in HASHED:
        if key.startswith(prefix):
            tail = key[len(prefix):]
            fresh = hashlib.blake2b(tail + cycle.to_bytes(4, "big"),
                                    digest_size=len(tail)).digest()
            return prefix + fresh
    for prefix in BY_HEIGHT:
        if key.startswith(prefix) and len(key) == len(prefix) + 8:
            height = schema.height_from(key[len(prefix):]) + cycle * HEIGHT_SHIFT
            return prefix + schema.height_bytes(height)
    return key


def block_batch(trace: list[Ops], n: int) -> WriteBatch:
    cycle, ops = divmod(n, len(trace))
    batch = WriteBatch()
    batch.ops = [(renamed(k, cycle), v) for k, v in trace[ops]]
    return batch


def compaction_totals(stats: str) -> tuple[float, float]:
    """MB read and written by compactions, summed over the levels."""
    read_mb = written_mb = 0.0
    for line in stats.splitlines():
        cols = line.split()
        if len(cols) == 6 and cols[0].isdigit():
            read_mb += float(cols[4])
            written_mb += float(cols[5])
    return read_mb, written_mb


def write_blocks(kv: LevelKV, trace: list[Ops], blocks: int, block_txs: int,
                 gap_s: float) -> list[tuple[float, float, float]]:
    """Write ``blocks`` batches, one every ``gap_s``; per half: (writer CPU, other threads'
    CPU, wall) µs/tx."""
    halves = []
    due = time.monotonic()
    for part in (range(blocks // 2), range(blocks // 2, blocks)):
        writer = 0.0
        all0, me0, wall0 = time.process_time(), time.thread_time(), time.monotonic()
        for n in part:
            batch = block_batch(trace, n)
            due += gap_s
            time.sleep(max(0.0, due - time.monotonic()))
            t = time.thread_time()
            kv.write(batch, sync=True)
            writer += time.thread_time() - t
        others = (time.process_time() - all0) - (time.thread_time() - me0)
        txs = len(part) * block_txs
        halves.append((writer * 1e6 / txs, others * 1e6 / txs,
                       (time.monotonic() - wall0) * 1e6 / txs))
    return halves


def read_keys(trace: list[Ops], blocks: int, count: int) -> list[bytes]:
    """``count`` ``sv/`` keys written somewhere in the ``blocks`` (spread evenly)."""
    rng = random.Random(7)
    keys = []
    for _ in range(count):
        n = rng.randrange(blocks)
        cycle, i = divmod(n, len(trace))
        values = [k for k, v in trace[i] if k.startswith(schema.STATE_VALUE) and v is not None]
        if values:
            keys.append(renamed(rng.choice(values), cycle))
    return keys


def time_reads(kv: LevelKV, keys: list[bytes], expect: bool) -> float:
    """CPU µs per ``KV.get``; checks each key is (or is not) there."""
    t = time.thread_time()
    for key in keys:
        if (kv.get(key) is not None) != expect:
            raise RuntimeError(f"read of {key!r}: expected {'a value' if expect else 'none'}")
    return (time.thread_time() - t) * 1e6 / len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trace", required=True, help="pickled batches (bench_kvopts.py)")
    parser.add_argument("--blocks", type=int, default=800)
    parser.add_argument("--block-txs", type=int, default=300, help="transactions per batch")
    parser.add_argument("--gap-ms", type=float, default=100.0,
                        help="a block every this often (compactions keep up, as in a node)")
    parser.add_argument("--reads", type=int, default=20000)
    parser.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dir", help="LevelDB directory (default: a temp dir)")
    args = parser.parse_args()
    overrides: dict[str, Any] = {}
    for item in args.opt:
        name, _, value = item.partition("=")
        overrides[name] = None if value == "none" else int(value)
    level_db = plyvel.DB
    plyvel.DB = lambda path, **options: level_db(path, **{**options, **overrides})
    with open(args.trace, "rb") as f:
        trace: list[Ops] = pickle.load(f)
    mb = sum(len(k) + len(v or b"") for ops in trace for k, v in ops) / len(trace) / 1e6
    print(f"LevelDB options over the node's: {overrides or 'none'}; {len(trace)} recorded "
          f"batches of {mb:.2f} MB on average; {args.blocks} blocks; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench_kvreplay_"))
    try:
        kv = LevelKV(str(work / "db"))
        halves = write_blocks(kv, trace, args.blocks, args.block_txs,
                              args.gap_ms / 1000)
        for name, (writer, others, wall) in zip(("first half", "second half"), halves, strict=True):
            print(f"{name}: µs/tx writer CPU {writer:.1f}, other threads {others:.1f}, "
                  f"wall {wall:.1f}")
        stats = kv._db.get_property(b"leveldb.stats").decode()
        memory = int(kv._db.get_property(b"leveldb.approximate-memory-usage"))
        read_mb, written_mb = compaction_totals(stats)
        size = sum(p.stat().st_size for p in (work / "db").iterdir() if p.is_file())
        logged = sum(p.stat().st_size for p in (work / "db").glob("values/*.vlog"))
        print(stats)
        print(f"compactions: read {read_mb:.0f} MB, written {written_mb:.0f} MB; store "
              f"{(size + logged) / 1e6:.0f} MB (LevelDB {size / 1e6:.0f}, value log "
              f"{logged / 1e6:.0f}); LevelDB memory estimate {memory / 2**20:.0f} MiB; "
              f"files {len(list((work / 'db').glob('*.ldb')))}")
        kv.close()
        keys = read_keys(trace, args.blocks, args.reads)
        absent = [schema.state_value_key(hashlib.sha256(k).digest()) for k in keys]
        kv = LevelKV(str(work / "db"))
        cold = time_reads(kv, keys, True)
        warm = statistics.median(time_reads(kv, keys, True) for _ in range(3))
        missing = time_reads(kv, absent, False)
        kv.close()
        print(f"reads, CPU µs per get: present cold {cold:.2f}, warm {warm:.2f}; "
              f"absent {missing:.2f}")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
