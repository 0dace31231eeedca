"""Where one validator's time goes per transaction: a py-spy recording summarised by component.

``bench_cluster.py --profile DIR`` records node 0 with ``py-spy record --format raw``
(100 samples per second, every thread that is not idle, so the verification threads count too)
for the measured window. ``summarise(path, committed_txs, window_s)`` assigns each sample to
one component — the innermost frame that matches a rule of ``COMPONENTS``, read from the
leaf towards the root, so a CE encode called by a contract counts as encoding and a hash in
the state tree as the state tree — and turns sample counts into microseconds of that node's
CPU per committed transaction. py-spy counts a thread as busy more often than the kernel
does (a thread blocked in some calls is not seen as idle, nor one that is runnable but
waiting for a core), so the samples are scaled to CPU time read from /proc, after the
samples that wait (``WAITS``) are set apart: each thread's samples to that thread's CPU
seconds over the window (the main thread's from ``/proc/PID/task/PID/stat``, the
verification threads' from the tasks named ``verify``; CPU of threads py-spy never samples,
LevelDB's own, is reported apart), or, without those figures, all to the node's: µs per tx
of a component = its samples × their thread's CPU seconds per sample ÷ transactions
committed. A second table
attributes the samples under each contract handler (``contracts/<module>.py``) to that handler.

Run alone on a recording: ``python benchmarks/nodeprofile.py FILE --txs N``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLES_PER_S = 100
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")

# (component, file pattern, function pattern or None), tried for each frame from the leaf up.
COMPONENTS: list[tuple[str, str, str | None]] = [
    ("signature verification", r"nacl/|tongsuopy|gmssl", None),
    ("signature verification", r"ledger/crypto\.py", r"verify"),
    ("signature verification", r"consensus/pool\.py", r"verify_batch"),
    ("signing (votes)", r"ledger/crypto\.py", r"sign"),
    ("hashing (tx ids, Merkle roots)", r"ledger/crypto\.py|ledger/merkle\.py|hashlib", None),
    ("state tree", r"ledger/smt", None),
    ("store and LevelDB", r"ledger/store\.py|ledger/kv\.py|ledger/valuelog\.py|plyvel", None),
    ("encoding (CE, msgpack, tx and block codecs)",
     r"ledger/encoding\.py|msgpack|ledger/tx\.py|ledger/block\.py|ledger/fields\.py", None),
    ("sealed-bid crypto (AEAD)", r"contracts/sealing\.py|cryptography/", None),
    ("contract execution", r"contracts/", None),
    ("pool and admission", r"consensus/pool\.py|shell/admission\.py|ledger/sigcache\.py", None),
    ("compact proposals (rebuild from the pool)", r"shell/proposals\.py", None),
    ("peer links", r"consensus/securechannel\.py|shell/securelink\.py", None),
    ("consensus replica and messages", r"consensus/", None),
    ("peer links", r"shell/peers\.py", None),
    ("HTTP API and JSON", r"aiohttp/web|shell/api|shell/apikit|shell/httpguard|json/|"
                          r"ledger/jsonform\.py|aiohttp/", None),
    ("chain application and commit", r"shell/chain\.py|shell/driver\.py|shell/server\.py", None),
    ("asyncio event loop (scheduling, transports)", r"asyncio/|selectors\.py", None),
    ("thread pool hand-offs", r"threading\.py|concurrent/", None),
]
# Samples whose innermost frame waits rather than computes (py-spy does not always see these
# threads as idle): counted apart, as thread-seconds per second of the window, and left out
# of the CPU attribution.
WAITS: list[tuple[str, str, str]] = [
    ("synced write of the block's batch (fsync)", r"ledger/kv\.py", r"LevelKV\.write"),
    ("synced append of the block's large values (fdatasync)", r"ledger/valuelog\.py",
     r"ValueLog\._sync"),
    # ~1 ms a block at 1,000 tx/s, of which ~0.18 ms CPU (timed in the node): the rest waits
    ("write of the block's large values (in the kernel)", r"ledger/valuelog\.py",
     r"ValueLog\._write"),
    ("event loop waiting for I/O (epoll)", r"selectors\.py", r"select"),
    ("worker threads waiting for work", r"concurrent/futures/thread\.py|threading\.py",
     r"_worker|wait"),
]
_WAITS = [(name, re.compile(f), re.compile(fn)) for name, f, fn in WAITS]
_RULES = [(name, re.compile(f), re.compile(fn) if fn else None) for name, f, fn in COMPONENTS]
_HANDLER = re.compile(r"contracts/(identity|credit|tender|bid|guarantee|governance|consent)\.py")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = _FRAME.match(part.strip())
        if m:
            out.append((m.group("func"), m.group("file")))
    return out


def waiting(frames: list[tuple[str, str]]) -> str | None:
    if not frames:
        return None
    func, file = frames[-1]
    for name, file_re, func_re in _WAITS:
        if file_re.search(file) and func_re.search(func):
            return name
    return None


def classify(frames: list[tuple[str, str]]) -> str:
    for func, file in reversed(frames):
        for name, file_re, func_re in _RULES:
            if file_re.search(file) and (func_re is None or func_re.search(func)):
                return name
    return "other"


def handler_of(frames: list[tuple[str, str]]) -> str | None:
    """The outermost contract handler frame (``module.function``) of a sample, if any."""
    for func, file in frames:
        m = _HANDLER.search(file)
        if m:
            return f"{m.group(1)}.{func}"
    return None


def on_main_thread(frames: list[tuple[str, str]]) -> bool:
    """Whether a sample is of the node's main thread: every other thread of a node is a
    ``threading.Thread`` (the verification pool), whose stacks start at its bootstrap;
    py-spy sometimes records only the coroutine part of a main-thread stack."""
    return not frames or frames[0][0] != "Thread._bootstrap"


def summarise(path: Path, committed_txs: int, window_s: float, cpu_s: float,
              main_cpu_s: float | None = None,
              pool_cpu_s: float | None = None) -> dict[str, Any]:
    """The profile's figures. With ``main_cpu_s`` (the main thread's CPU seconds over the
    window, from /proc) the main thread's samples are scaled to it, and the other Python
    threads' to ``pool_cpu_s`` (the verification threads', from /proc) or, without it, to
    the rest of ``cpu_s``. What neither accounts for is CPU of threads py-spy never samples
    (LevelDB's own), reported apart. py-spy counts a runnable thread waiting for a core as
    busy, so with fewer cores than busy threads one scale for all would inflate whichever
    thread waits most; and the rest of ``cpu_s`` holds LevelDB's compactions too (~25 µs
    per transaction in the realistic mix at 1,400 tx/s, none in some runs)."""
    by_thread: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    handler_samples: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    by_wait: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = _frames(stack)
        wait = waiting(frames)
        if wait is not None:
            by_wait[wait] += int(count)
            continue
        main = on_main_thread(frames)
        by_thread[main][classify(frames)] += int(count)
        handler = handler_of(frames)
        if handler:
            handler_samples[main][handler] += int(count)
    txs = max(committed_txs, 1)
    samples = {main: sum(c.values()) for main, c in by_thread.items()}
    total = samples[True] + samples[False]
    if main_cpu_s is None:  # one scale for every thread
        scale = {main: cpu_s / max(total, 1) for main in (True, False)}
        unseen_s = 0.0
    else:
        rest_s = max(cpu_s - main_cpu_s, 0.0)
        pool_s = rest_s if pool_cpu_s is None else min(pool_cpu_s, rest_s)
        if samples[False] == 0:  # no verification thread seen: all of it unattributed
            pool_s = 0.0
        scale = {True: main_cpu_s / max(samples[True], 1),
                 False: pool_s / max(samples[False], 1)}
        unseen_s = rest_s - pool_s

    def us(by_main: dict[bool, Counter[str]], name: str) -> float:
        return sum(c[name] * scale[main] for main, c in by_main.items()) * 1e6 / txs

    per_component = {name: us(by_thread, name)
                     for name, _ in (by_thread[True] + by_thread[False]).most_common()}
    attributed_us = sum(per_component.values())
    handlers = (handler_samples[True] + handler_samples[False]).most_common(12)
    return {
        "samples": total, "sampled_busy_s": total / SAMPLES_PER_S, "cpu_s": cpu_s,
        "window_s": window_s, "main_cpu_s": main_cpu_s,
        "txs": committed_txs, "us_per_tx": attributed_us + unseen_s * 1e6 / txs,
        "threads": [(label, samples[main], samples[main] * scale[main] * 1e6 / txs)
                    for label, main in (("main thread", True), ("verification threads", False))],
        "unseen_us_per_tx": unseen_s * 1e6 / txs,
        "components": [(name, value, value / max(attributed_us, 1e-9))
                       for name, value in per_component.items()],
        "handlers": [(name, us(handler_samples, name)) for name, _ in handlers],
        "waits": [(name, n / SAMPLES_PER_S / max(window_s, 1e-9))
                  for name, n in by_wait.most_common()],
    }


def print_summary(p: dict[str, Any]) -> None:
    print(f"node 0 profile: {p['samples']:,} computing samples ({p['sampled_busy_s']:.1f} "
          f"thread-s), {p['cpu_s']:.1f} CPU s (/proc) over {p['window_s']:.1f} s, {p['txs']:,} txs "
          f"committed: {p['us_per_tx']:,.0f} us per tx")
    if p.get("main_cpu_s") is not None:
        print("  scaled per thread to /proc: "
              + ", ".join(f"{label} {us:,.0f} us/tx ({n:,} samples)"
                          for label, n, us in p["threads"])
              + (f", threads py-spy does not see (LevelDB's) {p['unseen_us_per_tx']:,.0f} us/tx"
                 if p["unseen_us_per_tx"] else ""))
    print(f"  {'component':<46}{'us/tx':>8}{'share':>8}")
    for name, us, share in p["components"]:
        print(f"  {name:<46}{us:>8.0f}{share:>8.1%}")
    if p["handlers"]:
        print("  of which under contract handlers (us per tx of the whole mix):")
        for name, us in p["handlers"]:
            print(f"    {name:<44}{us:>8.0f}")
    if p["waits"]:
        print("  waiting (thread-seconds per second of the window, not in the CPU above):")
        for name, per_s in p["waits"]:
            print(f"    {name:<44}{per_s:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--txs", type=int, required=True, help="transactions committed meanwhile")
    ap.add_argument("--cpu-seconds", type=float, required=True,
                    help="the node's CPU seconds over the recording (/proc)")
    ap.add_argument("--main-cpu-seconds", type=float, default=None,
                    help="its main thread's CPU seconds over the recording "
                         "(/proc/PID/task/PID/stat): scale that thread's samples apart")
    ap.add_argument("--pool-cpu-seconds", type=float, default=None,
                    help="its verification threads' CPU seconds (the tasks named 'verify')")
    args = ap.parse_args()
    print_summary(summarise(args.file, args.txs, 0.0, args.cpu_seconds,
                            args.main_cpu_seconds, args.pool_cpu_seconds))


if __name__ == "__main__":
    main()
