"""The hot-path benchmark under other LevelDB options, with LevelDB's compaction figures.

    .venv/bin/python benchmarks/bench_kvopts.py [--opt write_buffer_size=67108864 ...]
        -- [bench_hotpath.py's arguments, e.g. --blocks 30 --rounds 3]

Runs ``benchmarks/bench_hotpath.py`` unchanged, except that every ``plyvel.DB`` that
``ledger.kv.LevelKV`` opens gets each ``--opt NAME=VALUE`` (an int; ``none`` for None) over
the node's own options, so two option sets can be compared on the same code, alternating
runs. Before each store is closed it prints LevelDB's ``leveldb.stats`` (per level: files,
size, compaction seconds, MB read and written by compactions), summed over the two nodes,
and the process's peak RSS: the compactions' bytes do not move with the machine's load, as
the "other threads" CPU does.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plyvel  # noqa: E402

from benchmarks import bench_hotpath  # noqa: E402
from ledger.kv import LevelKV, WriteBatch  # noqa: E402

_level_db = plyvel.DB
_stats: list[str] = []
_written: dict[int, list[list[tuple[bytes, bytes | None]]]] = {}  # id(kv) -> its batches


def _parse(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        name, _, value = item.partition("=")
        options[name] = None if value == "none" else int(value)
    return options


def _compaction_totals(stats: str) -> tuple[float, float, float]:
    """Seconds, MB read and MB written by compactions, summed over the levels."""
    seconds = read_mb = written_mb = 0.0
    for line in stats.splitlines():
        cols = line.split()
        if len(cols) == 6 and cols[0].isdigit():
            seconds += float(cols[3])
            read_mb += float(cols[4])
            written_mb += float(cols[5])
    return seconds, read_mb, written_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--record", metavar="FILE",
                        help="pickle the timed leader's batches here (bench_kvreplay.py)")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    overrides = _parse(args.opt)

    def opened(path: str, **options: Any) -> Any:
        return _level_db(path, **{**options, **overrides})

    plyvel.DB = opened
    close = LevelKV.close

    def closing(self: LevelKV) -> None:
        _stats.append(self._db.get_property(b"leveldb.stats").decode())
        close(self)

    LevelKV.close = closing  # type: ignore[method-assign]
    write = LevelKV.write
    closed: list[list[list[tuple[bytes, bytes | None]]]] = []  # batches, by store closed

    def recording(self: LevelKV, batch: WriteBatch, sync: bool = True) -> None:
        _written.setdefault(id(self), []).append(list(batch.ops))
        write(self, batch, sync)

    def closing_recorded(self: LevelKV) -> None:
        closed.append(_written.pop(id(self), []))
        closing(self)

    if args.record:
        LevelKV.write = recording  # type: ignore[method-assign]
        LevelKV.close = closing_recorded  # type: ignore[method-assign]
    rest = [a for a in args.rest if a != "--"]
    sys.argv = ["bench_hotpath.py", *rest]
    print(f"LevelDB options over the node's: {overrides or 'none'}")
    bench_hotpath.main()
    # The last two stores closed are the timed leader and follower.
    timed = _stats[-2:]
    totals = [_compaction_totals(stats) for stats in timed]
    seconds, read_mb, written_mb = (sum(x) for x in zip(*totals, strict=True))
    print(timed[0])
    print(f"compactions, both nodes, whole run: {seconds:.1f} s, read {read_mb:.0f} MB, "
          f"written {written_mb:.0f} MB")
    if args.record:
        with open(args.record, "wb") as out:
            pickle.dump(closed[-2], out)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
