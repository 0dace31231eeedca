"""Soak the consensus simulator over many seeds and print a summary.

    .venv/bin/python benchmarks/soak_sim.py --seeds 10000 --start 0
    .venv/bin/python benchmarks/soak_sim.py --mix twins4 --start 123 --seeds 1   # replay one

Seed ``s`` runs mix ``MIXES[sorted(MIXES)[s % len(MIXES)]]`` unless ``--mix`` names one.
Failures are listed with their mix and seed; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sim.scenarios import MIXES  # noqa: E402
from tests.sim.simulator import Simulator  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--mix", choices=sorted(MIXES))
    ap.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long")
    args = ap.parse_args()
    names = sorted(MIXES)
    started = time.monotonic()
    failures: list[tuple[str, int, str]] = []
    ran = 0
    per_mix: Counter[str] = Counter()
    blocks = 0
    worst_recovery = (0, "", -1)
    for seed in range(args.start, args.start + args.seeds):
        if args.max_seconds and time.monotonic() - started > args.max_seconds:
            break
        mix = args.mix or names[seed % len(names)]
        try:
            sim = Simulator(seed, MIXES[mix](seed))
            heights = sim.run()
            blocks += min(heights.values())
            worst_recovery = max(worst_recovery, (sim.recovery_ticks, mix, seed))
        except Exception as exc:  # a checker failure, or any crash of the real code
            text = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            exc = AssertionError(f"{text}; reproduce with seed={seed}")
            failures.append((mix, seed, str(exc)))
            print(f"FAIL mix={mix} seed={seed}: {exc}", flush=True)
        ran += 1
        per_mix[mix] += 1
        if ran % 100 == 0:
            print(f"... {ran} seeds, {len(failures)} failures, "
                  f"{time.monotonic() - started:.0f}s", flush=True)
    elapsed = time.monotonic() - started
    print(f"ran {ran} seeds ({args.start}..{args.start + ran - 1}) over {len(per_mix)} mixes "
          f"in {elapsed:.1f}s ({elapsed / max(ran, 1):.2f}s/seed); honest blocks committed "
          f"(min per run, summed): {blocks}; failures: {len(failures)}")
    ticks, mix_w, seed_w = worst_recovery
    print(f"slowest recovery after healing: {ticks} ticks (mix={mix_w} seed={seed_w}; "
          "bound 1200)")
    for mix, seed, text in failures:
        print(f"  reproduce: --mix {mix} --start {seed} --seeds 1  ({text[:160]})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
