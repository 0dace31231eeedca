"""Export throughput and size: ``credchain audit export`` on a chain built in process.

    .venv/bin/python benchmarks/bench_export.py [--suite ed25519-sha256] [--blocks 2000]

Set-up (not timed): the trading story (``contracts.scenario``: attestations, a debarment, a
tender with guarantees, sealed bids, opening, reveals, evaluation, objections, award,
claim, archive) run again and again on one chain in a ``BlockStore`` until it holds at
least ``--blocks`` blocks, each block one transaction with a QC of 3 of 4 validators
(``tests/storechain.py``).

Timed, in one run, each over the same blocks:
1. baseline: ``audit replay`` with its state in memory (every signature, root and QC checked,
   every block re-executed);
2. ``audit replay`` with its state on disk (``--state-dir``: LevelDB, one synced batch per
   block), what the export runs on;
3. ``audit export`` to SQLite (2. plus one SQLite transaction per block, WAL, synchronous=FULL);
4. the Parquet mirror of that export (zstd).
Prints rows/s, blocks/s and the bytes per 1,000 blocks of the SQLite file and the Parquet
directory, with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shell.auditrun import run_replay  # noqa: E402
from shell.export import Export  # noqa: E402
from tests.storechain import StoreChainClient, StoreSource  # noqa: E402


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="ed25519-sha256")
    ap.add_argument("--blocks", type=int, default=2000)
    a = ap.parse_args()
    load_before = os.getloadavg()
    client = StoreChainClient(a.suite)
    runs = 0
    while client.store.head()[0] < a.blocks:
        client.wait_until(client.now_ms() + 1)
        client.story()
        runs += 1
    blocks = client.store.head()[0]
    anchor = client.anchor()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        results = []

        t = time.perf_counter()
        run_replay(client.doc, anchor, StoreSource(client.store), None, None, None)
        results.append(("replay, state in memory (baseline)", time.perf_counter() - t, 0))

        t = time.perf_counter()
        run_replay(client.doc, anchor, StoreSource(client.store), work / "state", None, None)
        results.append(("replay, state on disk", time.perf_counter() - t, 0))

        out = work / "chain.sqlite"
        export = Export(out, client.doc)
        t = time.perf_counter()
        run_replay(client.doc, anchor, StoreSource(client.store), work / "export-state", None,
                   None, before_commit=export.record)
        seconds = time.perf_counter() - t
        rows = sum(export.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                   for table in ("blocks", "transactions", "events", "state_changes"))
        export.close()
        results.append(("export to SQLite (replay on disk + rows)", seconds, rows))
        sqlite_bytes = _size(out)

        from shell.parquet import mirror

        t = time.perf_counter()
        _, _, copied = mirror(out, work / "parquet")
        results.append(("Parquet mirror of the export", time.perf_counter() - t, copied))
        parquet_bytes = _size(work / "parquet")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    print(f"## Export ({a.suite}; {blocks} blocks from {runs} runs of the trading story, one "
          "transaction per block)\n")
    print("| step | seconds | blocks/s | rows | rows/s |")
    print("|---|---|---|---|---|")
    for name, secs, n_rows in results:
        per = f"{n_rows / secs:,.0f}" if n_rows else "-"
        print(f"| {name} | {secs:.2f} | {blocks / secs:,.0f} | {n_rows or '-'} | {per} |")
    per_k = 1000 / blocks
    print(f"\nSize per 1,000 blocks: SQLite {sqlite_bytes * per_k / 1e6:.2f} MB "
          f"({sqlite_bytes / 1e6:.2f} MB in all, indexes included), Parquet (zstd) "
          f"{parquet_bytes * per_k / 1e6:.2f} MB ({parquet_bytes / 1e6:.2f} MB in all).")
    print(f"Rows per block: {rows / blocks:.1f}. Load average (1, 5, 15 min) before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after "
          f"{load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
