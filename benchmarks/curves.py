"""Cost curves of the cluster: one command per curve, each point the median of repeated runs,
each curve plotted to a PNG in ``benchmarks/`` and its figures appended as JSON lines.

Curves (``python benchmarks/curves.py CURVE [options]``; ``all`` runs the four in turn):

- ``state``: the realistic mix at one offered rate on networks whose state holds about
  10k, 100k and 1M keys at the start (``--sizes``). The state is pre-populated by the offline
  setup history (``benchmarks/prebuilt.py``): attested entities with 8 bound keys and 2 credit
  records each, ~14 state keys per entity, executed by the real contracts into real blocks
  with QCs — not written around the contracts. Plots committed tx/s and validator CPU per
  transaction per node against the state size.
- ``validators``: the realistic mix at one offered rate with 4 and 7 validators
  (``--validators``). On one shared machine the committed rate falls with more processes
  sharing the cores; CPU per transaction per node is the comparable figure.
- ``txsize``: ``bench.noop`` transactions carrying a padding argument of 0, 1, 4 and 16 KiB
  (``--pads``), so only the size changes; committed tx/s and CPU per tx per node.
- ``latency``: p50 and p99 (submit → committed and applied, by polling) and committed tx/s
  against the offered load of the realistic mix (``--rates``).

Every run is a fresh network (the setup is built once per point and copied for each
repeat). A point is the median of ``--repeat`` runs; the error bars span the runs. The
verification bound of each run is recorded beside it, and the time it was recorded.
``--from-json FILE`` plots a curve again from recorded runs (``--since TIME``: only those
recorded since then, so a rerun is not mixed with older runs of the same point). Needs the
``[bench]`` extra (matplotlib): ``.venv/bin/pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_cluster import RunConfig, run_repeated  # noqa: E402
from benchmarks.cluster_report import print_result  # noqa: E402

HERE = Path(__file__).resolve().parent
Point = dict[str, Any]


def _all_tx_s(r: dict[str, Any]) -> float:
    return float(r["all"]["tx_s"])


def _cpu(r: dict[str, Any]) -> float:
    return float(r["node_cpu_us_per_tx_node"])


def _p99_ms(r: dict[str, Any]) -> float:
    return float(r["all"]["p99_s"]) * 1000


def _p50_ms(r: dict[str, Any]) -> float:
    return float(r["all"]["p50_s"]) * 1000


def _stats(runs: list[dict[str, Any]], f: Callable[[dict[str, Any]], float]) -> list[float]:
    values = [f(r) for r in runs]
    return [statistics.median(values), min(values), max(values)]


def measure(label: str, x: float, cfg: RunConfig, repeat: int, log: Path) -> Point:
    def keep(r: dict[str, Any]) -> None:
        print_result(r)
        with log.open("a") as f:
            stamp = {"recorded": datetime.now(UTC).isoformat(timespec="seconds")}
            f.write(json.dumps({"curve": label, "x": x, **stamp, **r}, default=str) + "\n")

    return point_of(x, run_repeated(cfg, repeat, keep))


def point_of(x: float, runs: list[dict[str, Any]]) -> Point:
    """A curve's point from its runs: medians, and min/max for the bars."""
    return {
        "x": x, "tx_s": _stats(runs, _all_tx_s), "cpu_us": _stats(runs, _cpu),
        "p50_ms": _stats(runs, _p50_ms), "p99_ms": _stats(runs, _p99_ms),
        "bound_tx_s": statistics.median(r["verify_bound_tx_s"] for r in runs),
        "bound_ratio": statistics.median(r["bound_ratio"] for r in runs),
        "state_keys": statistics.median(r["setup"]["state_keys"] for r in runs),
        "failed": sum(r["all"]["failed"] for r in runs),
        "load_avg": [r["load_avg"][0] for r in runs], "runs": len(runs),
    }


Axis = tuple[str, list[tuple[str, str, str]]]  # y label, [(point key, legend, colour)]
TX_S: Axis = ("committed tx/s", [("tx_s", "committed tx/s", "tab:blue")])
CPU: Axis = ("validator CPU per tx per node (µs)", [("cpu_us", "CPU per tx per node", "tab:red")])


def plot(name: str, title: str, xlabel: str, points: list[Point], axes_spec: list[Axis],
         log_x: bool = False) -> Path:
    """One PNG, one panel per axis spec; each series a median line with min–max bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(axes_spec), figsize=(5.2 * len(axes_spec), 4.0))
    axes = [axes] if len(axes_spec) == 1 else list(axes)
    xs = [p["x"] for p in points]
    for ax, (label, series) in zip(axes, axes_spec, strict=True):
        for k, lab, col in series:
            med = [p[k][0] for p in points]
            err = [[p[k][0] - p[k][1] for p in points], [p[k][2] - p[k][0] for p in points]]
            ax.errorbar(xs, med, yerr=err, marker="o", capsize=4, color=col, label=lab)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
        if log_x:
            ax.set_xscale("log")
        else:
            ax.set_xticks(xs)
        ax.legend(fontsize=8)
    load = [a for p in points for a in p["load_avg"]]
    fig.suptitle(f"{title}\nmedian of {points[0]['runs']} runs per point (bars: min–max); "
                 f"load average {min(load):.1f}–{max(load):.1f} on {os.cpu_count()} shared cores",
                 fontsize=9)
    fig.tight_layout()
    out = HERE / f"curve_{name}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def curve_state(args: argparse.Namespace, log: Path) -> Path:
    base = RunConfig(suite=args.suite, mix="realistic", rate_tx_s=args.rate, seconds=args.seconds,
                     read_share=args.read_share, warmup_s=args.warmup)
    points = [measure("state", float(n), replace(base, filler_keys=n), args.repeat, log)
              for n in (int(v) for v in args.sizes.split(","))]
    return plot_state(args, points)


def plot_state(args: argparse.Namespace, points: list[Point]) -> Path:
    for p in points:
        p["x"] = p["state_keys"]
    return plot("state", f"realistic mix, {args.suite}, 4 validators, {args.rate:.0f} tx/s offered",
                "state keys at the start (log)", points,
                [TX_S, CPU], log_x=True)


def curve_validators(args: argparse.Namespace, log: Path) -> Path:
    base = RunConfig(suite=args.suite, mix="realistic", rate_tx_s=args.rate, seconds=args.seconds,
                     read_share=args.read_share, warmup_s=args.warmup)
    points = [measure("validators", float(n), replace(base, validators=n), args.repeat, log)
              for n in (int(v) for v in args.validators.split(","))]
    return plot_validators(args, points)


def plot_validators(args: argparse.Namespace, points: list[Point]) -> Path:
    return plot("validators", f"realistic mix, {args.suite}, {args.rate:.0f} tx/s offered",
                "validators", points,
                [TX_S, CPU])


def curve_txsize(args: argparse.Namespace, log: Path) -> Path:
    base = RunConfig(suite=args.suite, mix="noop", rate_tx_s=args.rate, seconds=args.seconds,
                     read_share=0.0, warmup_s=args.warmup)
    points = [measure("txsize", float(pad), replace(base, pad_bytes=pad), args.repeat, log)
              for pad in (int(v) for v in args.pads.split(","))]
    return plot_txsize(args, points)


def plot_txsize(args: argparse.Namespace, points: list[Point]) -> Path:
    return plot("txsize", f"bench.noop with padding, {args.suite}, 4 validators, "
                f"{args.rate:.0f} tx/s offered", "padding argument (bytes)", points,
                [TX_S, CPU])


def curve_latency(args: argparse.Namespace, log: Path) -> Path:
    base = RunConfig(suite=args.suite, mix="realistic", seconds=args.seconds,
                     read_share=args.read_share, warmup_s=args.warmup)
    points = [measure("latency", rate, replace(base, rate_tx_s=rate), args.repeat, log)
              for rate in (float(v) for v in args.rates.split(","))]
    return plot_latency(args, points)


def plot_latency(args: argparse.Namespace, points: list[Point]) -> Path:
    return plot("latency", f"realistic mix, {args.suite}, 4 validators", "offered tx/s", points,
                [("submit → applied latency (ms)",
                  [("p50_ms", "p50", "tab:green"), ("p99_ms", "p99", "tab:red")]), TX_S])


CURVES = {"state": curve_state, "validators": curve_validators, "txsize": curve_txsize,
          "latency": curve_latency}
PLOTS = {"state": plot_state, "validators": plot_validators, "txsize": plot_txsize,
         "latency": plot_latency}


def recorded_runs(name: str, records: Path, since: str | None = None) -> dict[float,
                                                                         list[dict[str, Any]]]:
    """The runs of curve ``name`` recorded in ``records`` (JSON lines), by x; with ``since``
    (ISO time, UTC without a zone), only those recorded at or after it (runs recorded before
    the stamp existed have none and are left out), so a rerun is not mixed with older runs
    of the same x."""
    after = _utc(since) if since else None
    runs: dict[float, list[dict[str, Any]]] = {}
    for line in records.read_text().splitlines():
        r = json.loads(line)
        if r.get("curve") != name:
            continue
        if after is not None and ("recorded" not in r or _utc(r["recorded"]) < after):
            continue
        runs.setdefault(float(r["x"]), []).append(r)
    return runs


def replot(name: str, args: argparse.Namespace, records: Path) -> Path:
    """Plot a curve again from the runs recorded in ``records`` (``--since``: see
    ``recorded_runs``)."""
    runs = recorded_runs(name, records, args.since)
    if not runs:
        after = f" recorded since {args.since}" if args.since else ""
        raise SystemExit(f"no runs of curve {name!r}{after} in {records}")
    args.suite = next(iter(runs.values()))[0]["config"]["suite"]
    args.rate = next(iter(runs.values()))[0]["config"]["rate_tx_s"]
    return PLOTS[name](args, [point_of(x, rs) for x, rs in sorted(runs.items())])


def _utc(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is taken as UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-30T21:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("curve", choices=[*CURVES, "all"])
    ap.add_argument("--suite", choices=["ed25519-sha256", "sm2-sm3"], default="ed25519-sha256")
    ap.add_argument("--rate", type=float, default=400.0,
                    help="offered tx/s of the state, validators and txsize curves")
    ap.add_argument("--rates", default="100,200,300,400,600",
                    help="offered tx/s of the latency curve")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--validators", default="4,7")
    ap.add_argument("--pads", default="0,1024,4096,16384")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds of load before each measured window")
    ap.add_argument("--read-share", type=float, default=0.02)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out", type=Path, default=HERE / "curves.jsonl")
    ap.add_argument("--from-json", type=Path, default=None,
                    help="plot again from recorded runs (JSON lines) instead of running")
    ap.add_argument("--since", default=None,
                    help="with --from-json: only runs recorded at or after this ISO time (UTC)")
    args = ap.parse_args()
    names = list(CURVES) if args.curve == "all" else [args.curve]
    for name in names:
        started = time.monotonic()
        png = (replot(name, args, args.from_json) if args.from_json is not None
               else CURVES[name](args, args.json_out))
        print(f"curve {name}: {png} ({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
