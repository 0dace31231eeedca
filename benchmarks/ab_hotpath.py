"""Side-by-side runs of ``bench_hotpath.py``: a baseline commit and this checkout, alternated.

    .venv/bin/python benchmarks/ab_hotpath.py --base REV [--runs 6] [--together]
        [--out FILE] [-- bench_hotpath.py arguments (default: --blocks 15 --rounds 3)]
    .venv/bin/python benchmarks/ab_hotpath.py --base-dir DIR ...

This machine's speed drifts by 10-30 % over minutes (shared cores), more than most changes
move a validator's CPU, so a figure only means something beside its baseline measured in the
same minutes. Each of ``--runs`` rounds runs both sides, in the order base, this, then this,
base (ABBA), so that a steady drift weighs on both alike; each round gives one pair.
``--together`` runs a round's two sides at once instead, each pinned to a core of its own
(``taskset``; the cores swap each round): the host's neighbours then take from both in the
same seconds, and a round takes half the time. In one comparison of six rounds each (the
same change, 2026-12-01) its pairs spread 0.79-1.02 against 0.81-1.12 run one after the
other: a little tighter, not a cure. Components the change cannot touch show the noise of
a run: read the change from those it can.

``--base REV`` checks REV out in a temporary git worktree (removed afterwards) that runs on
this checkout's ``.venv`` and its built C extensions (``ledger/*.so``). That is sound only
when REV's C sources are this checkout's, which is checked: otherwise, or for a baseline
with other dependencies, give ``--base-dir`` a checkout with its own ``.venv``. Either way
each side imports its own Python code (``bench_hotpath.py`` puts its checkout first on the
path; checked before the runs).

Printed: per component, each side's median over the runs and their ratio (this / base);
then the total's ratio in each pair, with their median and range. Read the median of the
pairs: a change is visible when most pairs agree, not when two medians differ by less
than the pairs spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from benchmarks.bench_hotpath import load_average  # noqa: E402

DEFAULT_ARGS = ("--blocks", "15", "--rounds", "3")
C_SOURCES = "ledger/*.c"
RUN_TIMEOUT_S = 900


def order(runs: int) -> list[tuple[int, str]]:
    """``(round, side)`` in the order they run: base first in even rounds, this first in
    odd ones (ABBA)."""
    out: list[tuple[int, str]] = []
    for r in range(runs):
        sides = ("base", "this") if r % 2 == 0 else ("this", "base")
        out += [(r, side) for side in sides]
    return out


def summarise(base: Sequence[dict[str, float]], this: Sequence[dict[str, float]],
              ) -> dict[str, Any]:
    """Medians per component of each side, their ratio, and the totals' pairwise ratios
    (``base[i]`` and ``this[i]`` are one round's pair)."""
    if len(base) != len(this) or not base:
        raise ValueError("one record per side per round, at least one round")
    components = [c for c in base[0] if all(c in r for r in (*base, *this))]
    rows = {}
    for c in components:
        b = statistics.median(r[c] for r in base)
        t = statistics.median(r[c] for r in this)
        rows[c] = {"base": b, "this": t, "ratio": t / b if b else None}
    pairs = [t["total"] / b["total"] for b, t in zip(base, this, strict=True)]
    return {"components": rows, "pairs": pairs, "pair_median": statistics.median(pairs),
            "pair_min": min(pairs), "pair_max": max(pairs)}


def hotpath_record(output: str) -> dict[str, float]:
    """The ``json`` line ``bench_hotpath.py`` prints last."""
    for line in reversed(output.splitlines()):
        if line.startswith("json "):
            record: dict[str, float] = json.loads(line[len("json "):])
            return record
    raise ValueError("bench_hotpath.py printed no json line:\n" + output[-2000:])


def same_c_sources(rev: str) -> bool:
    """Whether ``rev``'s C sources are this checkout's (so its built modules serve both)."""
    return subprocess.run(["git", "diff", "--quiet", rev, "--", C_SOURCES], cwd=HERE,
                          capture_output=True).returncode == 0


def imports_own_code(python: Path, checkout: Path) -> bool:
    """Whether a script of ``checkout`` imports ``ledger`` from ``checkout`` itself."""
    probe = (f"import sys; sys.path.insert(0, {str(checkout)!r}); import ledger; "
             "print(ledger.__file__)")
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                         cwd=checkout, check=True).stdout.strip()
    return Path(out).resolve().is_relative_to(checkout.resolve())


def make_worktree(rev: str, where: Path) -> Path:
    """A worktree of ``rev`` sharing this checkout's ``.venv`` and built extensions."""
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                           cwd=HERE, capture_output=True)
    if known.returncode != 0:
        raise SystemExit(f"{rev} names no commit of this repository")
    if not same_c_sources(rev):
        raise SystemExit(f"{rev}'s C sources differ from this checkout's: build it in its "
                         "own checkout and pass --base-dir")
    path = where / "base"
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), rev], cwd=HERE,
                   check=True, capture_output=True)
    for built in (HERE / "ledger").glob("*.so"):
        shutil.copy2(built, path / "ledger" / built.name)
    (path / ".venv").symlink_to(HERE / ".venv")
    return path


def _command(checkout: Path, args: Sequence[str], core: int | None) -> list[str]:
    python = checkout / ".venv" / "bin" / "python"
    pin = [] if core is None else ["taskset", "-c", str(core)]
    return [*pin, str(python), "benchmarks/bench_hotpath.py", *args]


def _record(checkout: Path, done: subprocess.CompletedProcess[str]) -> dict[str, float]:
    if done.returncode != 0:
        raise SystemExit(f"bench_hotpath.py failed in {checkout}:\n{done.stderr[-2000:]}")
    return hotpath_record(done.stdout)


def run_side(checkout: Path, args: Sequence[str]) -> dict[str, float]:
    done = subprocess.run(_command(checkout, args, None), cwd=checkout, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    return _record(checkout, done)


def run_together(base: Path, this: Path, args: Sequence[str], swap: bool,
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """Both sides at once, each on a core of its own (cores 0 and 1, swapped when ``swap``):
    what the host's neighbours take in those minutes they take from both."""
    cores = (1, 0) if swap else (0, 1)
    procs = [subprocess.Popen(_command(side, args, core), cwd=side, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for side, core in zip((base, this), cores, strict=True)]
    outs = [p.communicate(timeout=RUN_TIMEOUT_S) for p in procs]
    base_run, this_run = (subprocess.CompletedProcess(p.args, p.returncode, out, err)
                          for p, (out, err) in zip(procs, outs, strict=True))
    return _record(base, base_run), _record(this, this_run)


def report(summary: dict[str, Any], base_name: str) -> str:
    lines = [f"\n| component (µs per tx per validator, median of runs) | base {base_name} "
             "| this | this / base |", "|---|---:|---:|---:|"]
    for c, row in summary["components"].items():
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.3f}"
        lines.append(f"| {c} | {row['base']:.1f} | {row['this']:.1f} | {ratio} |")
    pairs = ", ".join(f"{p:.3f}" for p in summary["pairs"])
    lines.append(f"\ntotal, this / base in each round: {pairs}")
    lines.append(f"median of the pairs {summary['pair_median']:.3f} "
                 f"(range {summary['pair_min']:.3f}-{summary['pair_max']:.3f})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", metavar="REV", help="a commit of this repository")
    which.add_argument("--base-dir", type=Path, help="a checkout with its own .venv")
    parser.add_argument("--runs", type=int, default=6, help="rounds (pairs of runs)")
    parser.add_argument("--together", action="store_true",
                        help="run the two sides at once, one per core (swapped each round)")
    parser.add_argument("--out", type=Path, help="also append each run's record here (JSON)")
    parser.add_argument("hotpath_args", nargs="*", help="after --: bench_hotpath.py's")
    opts = parser.parse_args()
    args = opts.hotpath_args or list(DEFAULT_ARGS)
    if opts.runs < 1:
        parser.error("--runs must be at least 1")
    if opts.together and ((os.cpu_count() or 1) < 2 or shutil.which("taskset") is None):
        parser.error("--together needs two cores and taskset (util-linux)")
    scratch = Path(tempfile.mkdtemp(prefix="ab_hotpath_"))
    try:
        base = opts.base_dir.resolve() if opts.base_dir else make_worktree(opts.base, scratch)
        name = opts.base or str(base)
        for side in (base, HERE):
            if not imports_own_code(side / ".venv" / "bin" / "python", side):
                raise SystemExit(f"{side} does not import its own code: see --help")
        checkouts = {"base": base, "this": HERE}
        records: dict[str, dict[int, dict[str, float]]] = {"base": {}, "this": {}}
        steps = ([(r, ("base", "this")) for r in range(opts.runs)] if opts.together
                 else [(r, (side,)) for r, side in order(opts.runs)])
        for r, sides in steps:
            if opts.together:
                done = dict(zip(sides, run_together(base, HERE, args, swap=r % 2 == 1),
                                strict=True))
            else:
                done = {side: run_side(checkouts[side], args) for side in sides}
            for side, record in done.items():
                records[side][r] = record
                print(f"round {r + 1} {side}: {record['total']:.1f} µs/tx; "
                      f"load {load_average()}", flush=True)
                if opts.out:
                    with opts.out.open("a") as f:
                        f.write(json.dumps({"round": r + 1, "side": side, **record}) + "\n")
        kept = {side: [recs[r] for r in range(opts.runs)] for side, recs in records.items()}
        print(report(summarise(kept["base"], kept["this"]), name))
    finally:
        if opts.base:
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "base")],
                           cwd=HERE, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
