#!/usr/bin/env bash
# Side-by-side runs of bench_cluster.py: a baseline checkout and this one, alternated, so that
# both see the same machine (on a shared machine compare their ratios, not absolute figures).
#
#   benchmarks/ab_cluster.sh BASE_DIR OUT N [bench_cluster.py arguments...]
#
# BASE_DIR is another checkout with its own .venv (e.g. `git worktree add ../base <commit>`,
# then `python3 -m venv .venv && .venv/bin/pip install -e .` in it). Each of N rounds runs
# the baseline, then this checkout; OUT gets each run's summary lines and the load average.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 BASE_DIR OUT N [bench_cluster.py arguments...]" >&2
    exit 2
fi
base="$(cd "$1" && pwd)"; out="$2"; rounds="$3"; shift 3
here="$(cd "$(dirname "$0")/.." && pwd)"
for dir in "$base" "$here"; do
    [ -x "$dir/.venv/bin/python" ] || { echo "$dir has no .venv" >&2; exit 2; }
done
: > "$out"
for i in $(seq 1 "$rounds"); do
    for side in base this; do
        dir="$base"; [ "$side" = this ] && dir="$here"
        echo "== $side run $i ($(git -C "$dir" rev-parse --short HEAD)) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
        (cd "$dir" && timeout 900 .venv/bin/python benchmarks/bench_cluster.py "$@" 2>&1 \
            | grep -E "^== |all writes|validator CPU|verify bound|node histograms") >> "$out" || true
    done
done
echo "finished $(date -u +%H:%M) UTC" >> "$out"
