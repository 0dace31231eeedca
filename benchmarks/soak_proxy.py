"""Soak real validator processes behind the fault proxy over many seeded schedules.

    .venv/bin/python benchmarks/soak_proxy.py --seeds 30 --start 1000
    .venv/bin/python benchmarks/soak_proxy.py --seeds 1 --start 1017     # replay one

Seed ``s`` plays ``tests.faultproxy.Schedule.from_seed(s)`` on a fresh 4-validator network
(``tests.faultnet.run_schedule``: nodes in network namespaces when this process can make
them, else on loopback; ``--loopback`` forces it) under load, heals, and checks safety
(identical block hashes, QCs of a quorum for those blocks, no transaction twice), that no
accepted transaction is lost, and liveness after the heal. One line per schedule, then a
summary; a failure prints its reason, the seed, how to replay it, and keeps the network
directory (logs, data) for a look. Exit status 1 if any schedule failed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faultnet import Outcome, netns_unavailable, run_schedule  # noqa: E402
from tests.faultproxy import Schedule  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="how many schedules")
    ap.add_argument("--start", type=int, default=0, help="the first seed")
    ap.add_argument("--loopback", action="store_true",
                    help="all nodes on 127.0.0.1 (default: network namespaces if possible)")
    ap.add_argument("--phases-max", type=int, default=4)
    ap.add_argument("--phase-max-ms", type=int, default=5_000,
                    help="longest phase (shortest: 2,000 ms)")
    ap.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long")
    args = ap.parse_args()
    netns = not args.loopback
    if netns and (reason := netns_unavailable()):
        print(f"network namespaces unavailable ({reason}): running on loopback")
        netns = False
    extra = "".join([" --loopback" if not netns else "",
                     f" --phases-max {args.phases_max}" if args.phases_max != 4 else "",
                     f" --phase-max-ms {args.phase_max_ms}" if args.phase_max_ms != 5_000
                     else ""])
    started = time.monotonic()
    outcomes: list[Outcome] = []
    failures: list[tuple[int, str, Path]] = []
    for seed in range(args.start, args.start + args.seeds):
        if args.max_seconds and time.monotonic() - started > args.max_seconds:
            break
        schedule = Schedule.from_seed(seed, phases_max=args.phases_max,
                                      phase_ms=(2_000, max(2_000, args.phase_max_ms)))
        workdir = Path(tempfile.mkdtemp(prefix=f"soak-proxy-{seed}-"))
        try:
            outcome = asyncio.run(run_schedule(schedule, workdir, netns, log=lambda _: None))
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
        except AssertionError as exc:
            failures.append((seed, str(exc), workdir))
            print(f"seed={seed} FAILED: {exc}\nreplay: .venv/bin/python "
                  f"benchmarks/soak_proxy.py --seeds 1 --start {seed}{extra}\n"
                  f"kept: {workdir}", flush=True)
    elapsed = time.monotonic() - started
    print(summary(outcomes, failures, elapsed, "namespaces" if netns else "loopback"))
    return 1 if failures else 0


def summary(outcomes: list[Outcome], failures: list[tuple[int, str, Path]], elapsed: float,
            where: str) -> str:
    ran = len(outcomes) + len(failures)
    totals: Counter[str] = Counter()
    for o in outcomes:
        totals.update(o.stats)
    lines = [f"{ran} schedules ({where}), {len(failures)} failed, {elapsed:.0f} s"]
    if outcomes:
        secs = sorted(o.seconds for o in outcomes)
        live = max(outcomes, key=lambda o: o.heal_to_progress_s)
        lines += [
            f"per schedule: median {secs[len(secs) // 2]:.1f} s, max {secs[-1]:.1f} s",
            f"committed: {sum(o.height_end for o in outcomes)} blocks, "
            f"{sum(o.accepted for o in outcomes)} txs (every accepted one, once each)",
            f"heal to progress: max {live.heal_to_progress_s:.1f} s (seed={live.seed})",
            "faults injected: " + " ".join(f"{k}={v}" for k, v in sorted(totals.items())),
        ]
    lines += [f"FAILED seed={seed}: {text.splitlines()[0]}" for seed, text, _ in failures]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
