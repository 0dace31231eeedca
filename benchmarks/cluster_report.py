"""The cluster benchmark's figures: from a run's records to the numbers it reports.

``read_chain`` reads, after the nodes stopped, which block holds each transaction and its
receipt code, and which blocks were decided in a view above 0 (node 0's store);
``summarise`` turns the ``Window`` of ``benchmarks/traffic.py`` (what was sent, when, and
each node's heights as polled), the chain and the nodes' metrics into per-call rates,
latencies, failed receipts, losses, CPU and verifications per transaction;
``print_result`` prints one run, ``median_row`` the medians of repeated runs.
Definitions of every figure: ``benchmarks/bench_cluster.py``'s docstring.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import nodeprofile
from benchmarks.prebuilt import open_store
from benchmarks.traffic import Sent, Window
from ledger.crypto import get_suite
from ledger.tx import OK

STALL_S = 8.0  # no new block this long while transactions wait: the drain gives up
INTENDED_CODES = {"bench.noop": {"E_UNKNOWN_CALL"}}


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def node_histogram_quantile(before: list[dict[str, float]], after: list[dict[str, float]],
                            q: float) -> float:
    """Quantile of the merged ``credchain_commit_latency_seconds`` growth, interpolated."""
    prefix = 'credchain_commit_latency_seconds_bucket{le="'
    merged: dict[float, float] = defaultdict(float)
    for b, a in zip(before, after, strict=True):
        for name, value in a.items():
            if name.startswith(prefix):
                le = name[len(prefix):-2]
                merged[float("inf") if le == "+Inf" else float(le)] += value - b.get(name, 0.0)
    buckets = sorted(merged.items())
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return float("nan")
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= q * total:
            if bound == float("inf"):
                return lo_bound
            return lo_bound + (q * total - lo_count) / max(count - lo_count, 1e-9) * (
                bound - lo_bound)
        lo_bound, lo_count = bound, count
    return lo_bound


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ChainRead(NamedTuple):
    """What node 0's store holds after the setup."""

    txs: dict[bytes, tuple[int, str]]  # tx id → (height, receipt code)
    blocks: int
    late_heights: list[int]  # decided in a view above 0: each cost a view timeout or more


def read_chain(out: Path, suite_name: str, setup_height: int) -> ChainRead:
    """Every block after the setup, from node 0's store."""
    kv, store = open_store(out, 0, suite_name)
    found: dict[bytes, tuple[int, str]] = {}
    late: list[int] = []
    try:
        head = store.head()[0]
        suite = get_suite(suite_name)
        for h in range(setup_height + 1, head + 1):
            block = store.block(h)
            receipts = store.receipts(h) or []
            if block is None:
                continue
            if block.header.view > 0:
                late.append(h)
            for tx_id, r in zip(block.tx_ids(suite), receipts, strict=True):
                found[tx_id] = (h, r.code)
    finally:
        kv.close()
    return ChainRead(found, head - setup_height, late)


def _seen(w: Window, s: Sent, height: int) -> float | None:
    """When the admitting node was first seen at or past ``height`` (else the first node)."""
    seen = w.first_seen[s.node].get(height)
    if seen is None:  # the admitting node's poll missed it: the first node that showed it
        seen = min((fs[height] for fs in w.first_seen if height in fs), default=None)
    return seen


def _behind_refused(w: Window, s: Sent) -> bool:
    """Whether an earlier transaction of the same run (same sender) was refused."""
    prev = s.prev
    while prev is not None:
        before = w.sent[prev]
        if not before.accepted:
            return True
        prev = before.prev
    return False


def summarise(d: dict[str, Any], chain: dict[bytes, tuple[int, str]], validators: int
              ) -> dict[str, Any]:
    w: Window = d["window"]
    window_s = d["window_s"]
    per: dict[str, dict[str, Any]] = {}
    all_lat: list[float] = []

    def row(call: str) -> dict[str, Any]:
        return per.setdefault(call, {"sent": 0, "accepted": 0, "committed": 0,
                                     "committed_in_window": 0, "lost": 0,
                                     "lost_behind_refused": 0, "latencies": [],
                                     "failed": Counter(), "intended_failures": Counter()})

    after_t0 = 0  # transactions applied after the window opened (warm-up ones included)
    warmup_failed: Counter[str] = Counter()
    for tx_id, s in w.sent.items():
        if s.sent_s < w.t0:  # sent in the warm-up: counted only where it lands in the window
            where = chain.get(tx_id)
            if where is None:
                continue
            seen = _seen(w, s, where[0])
            if where[1] != OK and where[1] not in INTENDED_CODES.get(s.call, ()):
                warmup_failed[f"{s.call} {where[1]}"] += 1
            if seen is not None and seen > w.t0:
                after_t0 += 1
                row(s.call)["committed_in_window"] += seen <= w.t1
            continue
        r = row(s.call)
        r["sent"] += 1
        r["accepted"] += s.accepted
        where = chain.get(tx_id)
        if where is None:
            r["lost"] += s.accepted
            if s.accepted and _behind_refused(w, s):
                r["lost_behind_refused"] += 1  # an earlier nonce of its run was refused
            continue
        height, code = where
        r["committed"] += 1
        if code != OK:
            bucket = "intended_failures" if code in INTENDED_CODES.get(s.call, ()) else "failed"
            r[bucket][code] += 1
        seen = _seen(w, s, height)
        if seen is None:
            continue
        after_t0 += 1
        r["latencies"].append(seen - s.sent_s)
        r["committed_in_window"] += seen <= w.t1
    out_rows: dict[str, Any] = {}
    for call, r in sorted(per.items()):
        lat = r.pop("latencies")
        all_lat.extend(lat)
        out_rows[call] = {**r, "failed": dict(r["failed"]),
                          "intended_failures": dict(r["intended_failures"]),
                          "tx_s": r["committed_in_window"] / window_s,
                          "p50_s": quantile(lat, 0.5), "p99_s": quantile(lat, 0.99)}
    total_in_window = sum(r["committed_in_window"] for r in out_rows.values())
    node_cores = sum(v for k, v in d["cpu_share"].items() if k.startswith("node"))
    threads: dict[str, dict[str, float]] = d.get("thread_share", {})
    n = validators
    before, after = d["metrics_before"], d["metrics_after"]
    # CPU and verifications from the window's start on, over what was applied from then on
    committed_total = after_t0

    def per_tx_node(counter: str) -> float:
        grown = sum(float(a.get(counter, 0.0)) - float(b.get(counter, 0.0))
                    for a, b in zip(after, before, strict=True))
        return float(grown) / max(committed_total * n, 1)

    reads: dict[str, Any] = {}
    for kind in sorted({k for k, _, _, _ in w.reads}):
        lat = [t for k, t, st, _ in w.reads if k == kind and st == 200]
        sizes = [n for k, _, st, n in w.reads if k == kind and st == 200]
        statuses = Counter(str(st) for k, _, st, _ in w.reads if k == kind)
        reads[kind] = {"reads": len(lat), "reads_s": len(lat) / window_s,
                       "p50_s": quantile(lat, 0.5), "p99_s": quantile(lat, 0.99),
                       "statuses": dict(statuses),
                       "mean_bytes": sum(sizes) / len(sizes) if sizes else 0}
    return {
        "window_s": window_s, "drained_s": d["drained_s"], "calls": out_rows, "reads": reads,
        "all": {"sent": sum(r["sent"] for r in out_rows.values()),
                "committed_in_window": total_in_window,
                "committed": sum(r["committed"] for r in out_rows.values()),
                "applied_after_window_start": committed_total,
                "tx_s": total_in_window / window_s,
                "p50_s": quantile(all_lat, 0.5), "p99_s": quantile(all_lat, 0.99),
                "failed": sum(sum(r["failed"].values()) for r in out_rows.values()),
                "lost": sum(r["lost"] for r in out_rows.values()),
                "lost_behind_refused": sum(r["lost_behind_refused"] for r in out_rows.values()),
                "warmup_failed": dict(warmup_failed)},
        "refused": dict(w.refused), "late_requests": w.late_requests, "resent": w.resent,
        "request_errors": w.request_errors, "short_runs": d["short"],
        "cpu_share": d["cpu_share"],
        # each validator's threads by group (main, verify, other: ``thread_cpu_seconds``),
        # cores, and their mean over the validators per transaction committed in the window
        "thread_share": threads,
        "thread_us_per_tx": {
            g: sum(groups.get(g, 0.0) for groups in threads.values())
            * window_s * 1e6 / max(total_in_window, 1) / max(len(threads), 1)
            for g in ("main", "verify", "other")},
        # all the validators' CPU from the window's start to the end of the drain, over every
        # transaction of the window committed by then, per node
        "node_cpu_us_per_tx_node": sum(v for k, v in d["cpu_to_drained_s"].items()
                                       if k.startswith("node")) * 1e6
                                   / max(committed_total, 1) / n,
        # the same less what the idle, polled network used over as long (timers, heartbeat,
        # the status polls): the transactions' own cost
        "node_cpu_us_per_tx_node_net": (
            sum(v for k, v in d["cpu_to_drained_s"].items() if k.startswith("node"))
            - sum(v for k, v in d["idle_cores"].items() if k.startswith("node"))
            * d["to_drained_s"]) * 1e6 / max(committed_total, 1) / n,
        "idle_cores_per_node": sum(v for k, v in d["idle_cores"].items()
                                   if k.startswith("node")) / n,
        "stalled": d["stalled"], "up_s": d["up_s"],
        "node_cores": node_cores,
        "verifies_per_tx_node": per_tx_node("credchain_signatures_verified_total"),
        "node_refused": _grown_by_label(before, after, "credchain_txs_refused_total"),
        "gossip_dropped": _grown_by_label(before, after, "credchain_gossip_dropped_total"),
        "node_hist_p50_s": node_histogram_quantile(before, after, 0.5),
        "node_hist_p99_s": node_histogram_quantile(before, after, 0.99),
    }


def _grown_by_label(before: list[dict[str, float]], after: list[dict[str, float]],
                    metric: str) -> dict[str, float]:
    """Growth of a labelled counter summed over the nodes, by label set (client and peer
    submissions alike: a peer's gossip refused as busy shows here, not in the client's)."""
    out: dict[str, float] = defaultdict(float)
    for b, a in zip(before, after, strict=True):
        for name, value in a.items():
            if name.startswith(metric):
                grown = value - b.get(name, 0.0)
                if grown:
                    out[name[len(metric):] or "total"] += grown
    return dict(out)


# ---- printing ------------------------------------------------------------------------------


def ms_text(s: float) -> str:
    return "—" if s != s else f"{s * 1000:,.0f}"


def print_result(r: dict[str, Any]) -> None:
    c = r["config"]
    killed = (f" (node {c['kill_node']} killed: {c['validators'] - 1} running)"
              if c.get("kill_node", -1) >= 0 else "")
    print(f"\n== {c['mix']} mix, {c['suite']}, {c['validators']} validators{killed}, offered "
          f"{c['rate_tx_s']:.0f} tx/s for {r['window_s']:.1f} s, state "
          f"{r['setup']['state_keys']:,} keys at start (setup {r['setup']['blocks']} blocks / "
          f"{r['setup']['txs']:,} txs), "
          f"load avg {r['load_avg'][0]:.1f}; nodes up in {r['up_s']:.1f} s ==")
    print(f"{'call':<18}{'sent':>8}{'committed':>10}{'tx/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'lost':>6}  failed receipts")
    for call, row in r["calls"].items():
        failed = ", ".join(f"{k} {v}" for k, v in row["failed"].items()) or "0"
        intended = ", ".join(f"{k} {v}" for k, v in row["intended_failures"].items())
        print(f"{call:<18}{row['sent']:>8}{row['committed']:>10}{row['tx_s']:>8.0f}"
              f"{ms_text(row['p50_s']):>8}{ms_text(row['p99_s']):>8}{row['lost']:>6}  {failed}"
              + (f" (intended: {intended})" if intended else ""))
    a = r["all"]
    print(f"{'all writes':<18}{a['sent']:>8}{a['committed']:>10}{a['tx_s']:>8.0f}"
          f"{ms_text(a['p50_s']):>8}{ms_text(a['p99_s']):>8}{a['lost']:>6}  {a['failed']}"
          + (f"  ({a['lost_behind_refused']} lost behind a refused earlier nonce: gaps)"
             if a["lost_behind_refused"] else ""))
    for kind, row in r["reads"].items():
        print(f"{kind:<18}{row['reads']:>8}{'':>10}{row['reads_s']:>8.1f}{ms_text(row['p50_s']):>8}"
              f"{ms_text(row['p99_s']):>8}        HTTP {row['statuses']}, "
              f"{row['mean_bytes']:,.0f} B each")
    if "late_heights" in r:
        memory = c.get("leader_memory")
        print(f"blocks after the setup {r['blocks']}, decided in a view above 0: "
              f"{len(r['late_heights'])} {r['late_heights'][:12]} (leader memory "
              f"{'the default' if memory is None else memory})")
    print(f"verify bound {r['verify_bound_tx_s']:,.0f} tx/s "
          f"({r['verify_per_s_1core']:,.0f}/s/core x {r['cores']} cores / {c['validators']}); "
          f"committed = {r['bound_ratio']:.1%} of it"
          + (f"; with all {r['cores']} cores verifying at once "
             f"{r['verify_per_s_core_together']:,.0f}/s/core, a bound of "
             f"{r['verify_bound_together_tx_s']:,.0f} tx/s, committed = "
             f"{r['bound_together_ratio']:.1%} of that"
             if "verify_bound_together_tx_s" in r else ""))
    print(f"validator CPU per tx per node {r['node_cpu_us_per_tx_node']:,.0f} us "
          f"({r['node_cpu_us_per_tx_node_net']:,.0f} us net of the idle polled network's "
          f"{r['idle_cores_per_node']:.3f} cores per node); cores used: "
          + " ".join(f"{k} {v:.2f}" for k, v in r["cpu_share"].items())
          + f"; verifications per tx per node {r['verifies_per_tx_node']:.2f} of transactions"
          # (a sealed bid call's agent authorisation is one more, not counted here: a node
          # publishes no count of them, it would tell how many bids ran)
          )
    if r.get("thread_share"):
        t = r["thread_us_per_tx"]
        print(f"validator threads per committed tx (mean of the nodes): main {t['main']:,.0f} us"
              f" (everything but the two below; cores: "
              + " ".join(f"{k} {g['main']:.2f}" for k, g in r["thread_share"].items())
              + f"), signature verification {t['verify']:,.0f} us, LevelDB's own "
              f"{t['other']:,.0f} us")
    print(f"node histograms (all calls): p50 {ms_text(r['node_hist_p50_s'])} ms, p99 "
          f"{ms_text(r['node_hist_p99_s'])} ms; drained in {r['drained_s']:.1f} s; late requests "
          f"{r['late_requests']}; runs short {r['short_runs'] or 0}; refusals {r['refused'] or 0}"
          f" (transactions sent again after them: {r['resent']})"
          + ("; STALLED: transactions left in a pool, no block for "
             f"{STALL_S:.0f} s: {r['stalled']}" if r["stalled"] else ""))
    if r["node_refused"] or r["gossip_dropped"]:
        print(f"refused at the nodes (clients and peers): {r['node_refused']}; gossip dropped: "
              f"{r['gossip_dropped'] or 0}")
    if "profile" in r:
        nodeprofile.print_summary(r["profile"])


def median_row(results: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over repeated runs of the figures the curves and RESULTS.md use."""
    def med(f: Any) -> float:
        return float(statistics.median(float(f(r)) for r in results))
    return {"tx_s": med(lambda r: r["all"]["tx_s"]), "p50_s": med(lambda r: r["all"]["p50_s"]),
            "p99_s": med(lambda r: r["all"]["p99_s"]),
            "cpu_us_per_tx_node": med(lambda r: r["node_cpu_us_per_tx_node"]),
            "cpu_us_per_tx_node_net": med(lambda r: r["node_cpu_us_per_tx_node_net"]),
            "bound_tx_s": med(lambda r: r["verify_bound_tx_s"]),
            "bound_ratio": med(lambda r: r["bound_ratio"]),
            "bound_together_ratio": med(lambda r: r["bound_together_ratio"]),
            "verifies_per_tx_node": med(lambda r: r["verifies_per_tx_node"]),
            "node_cores": med(lambda r: r["node_cores"]), "runs": len(results)}


def jsonable(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(r, default=str))
    return out
