"""The cluster benchmark's profile summary (``benchmarks/nodeprofile.py``): samples are sorted
into components and waits, and scaled to the CPU /proc measured, per thread when the main
thread's own CPU is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import nodeprofile

MAIN = "_run_module_as_main (<frozen runpy>:198);main (shell/server.py:561)"
WORKER = "Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83)"
RECORDING = "\n".join([
    f"{MAIN};ChainApp._execute (contracts/app.py:280);submit (contracts/bid.py:295) 30",
    f"{MAIN};StateTree.get (ledger/smt.py:254) 20",
    # a main-thread stack py-spy caught without its outer frames
    "StateTree.get (ledger/smt.py:254) 10",
    f"{MAIN};EpollSelector.select (selectors.py:468) 50",  # a wait, not CPU
    f"{MAIN};LevelKV.write (ledger/kv.py:201);ValueLog.append (ledger/valuelog.py:104);"
    "ValueLog._write (ledger/valuelog.py:117) 20",  # mostly a wait in the kernel
    f"{WORKER};verify_batch (consensus/pool.py:555);"
    "crypto_sign_open (nacl/bindings/crypto_sign.py:103) 40",
    f"{WORKER[:WORKER.index(';')]};_worker (concurrent/futures/thread.py:81) 10",  # waits
    "not a sample line",
])


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "profile.txt"
    path.write_text(RECORDING + "\n")
    return path


def _components(p: dict[str, object]) -> dict[str, float]:
    return {name: us for name, us, _share in p["components"]}  # type: ignore[attr-defined]


def _threads(p: dict[str, object]) -> dict[str, Any]:
    return {label: (n, us) for label, n, us in p["threads"]}  # type: ignore[attr-defined]


def test_one_scale_for_every_thread_without_the_main_threads_cpu(recording: Path) -> None:
    p = nodeprofile.summarise(recording, committed_txs=1000, window_s=10.0, cpu_s=3.0)
    assert p["samples"] == 100
    got = _components(p)
    # 3.0 CPU seconds over 100 computing samples and 1,000 transactions: 30 us per sample
    assert got["signature verification"] == pytest.approx(40 * 30)
    assert got["contract execution"] == pytest.approx(30 * 30)
    assert got["state tree"] == pytest.approx(30 * 30)
    assert p["us_per_tx"] == pytest.approx(3000)
    waits = dict(p["waits"])
    assert waits["event loop waiting for I/O (epoll)"] == pytest.approx(50 / 100 / 10)
    assert waits["worker threads waiting for work"] == pytest.approx(10 / 100 / 10)
    assert waits["write of the block's large values (in the kernel)"] == pytest.approx(
        20 / 100 / 10)
    assert dict(p["handlers"]) == {"bid.submit": pytest.approx(900)}


def test_each_threads_samples_are_scaled_to_its_own_cpu(recording: Path) -> None:
    # The main thread used 2.5 of the 3.0 CPU seconds: its 60 samples share 2.5 s and the
    # verification thread's 40 samples the other 0.5 s (not 40 % of 3.0 s).
    p = nodeprofile.summarise(recording, committed_txs=1000, window_s=10.0, cpu_s=3.0,
                              main_cpu_s=2.5)
    got = _components(p)
    assert got["signature verification"] == pytest.approx(500)
    assert got["contract execution"] == pytest.approx(1250)
    assert got["state tree"] == pytest.approx(1250)
    assert p["us_per_tx"] == pytest.approx(3000)
    threads = _threads(p)
    assert threads["main thread"] == (60, pytest.approx(2500))
    assert threads["verification threads"] == (40, pytest.approx(500))
    assert p["unseen_us_per_tx"] == 0
    assert sum(share for _, _, share in p["components"]) == pytest.approx(1.0)


def test_leveldbs_thread_is_kept_out_of_the_verification_threads(recording: Path) -> None:
    # Of the 0.5 s the main thread did not use, the verification threads used 0.3 s; the
    # other 0.2 s were LevelDB's own thread, which py-spy never samples.
    p = nodeprofile.summarise(recording, committed_txs=1000, window_s=10.0, cpu_s=3.0,
                              main_cpu_s=2.5, pool_cpu_s=0.3)
    got = _components(p)
    assert got["signature verification"] == pytest.approx(300)
    assert got["contract execution"] == pytest.approx(1250)
    assert p["unseen_us_per_tx"] == pytest.approx(200)
    assert p["us_per_tx"] == pytest.approx(3000)
    threads = _threads(p)
    assert threads["verification threads"] == (40, pytest.approx(300))


def test_cpu_of_threads_never_sampled_is_reported_apart(tmp_path: Path) -> None:
    path = tmp_path / "profile.txt"
    path.write_text(f"{MAIN};StateTree.get (ledger/smt.py:254) 10\n")
    p = nodeprofile.summarise(path, committed_txs=100, window_s=1.0, cpu_s=1.0, main_cpu_s=0.8)
    assert _components(p) == {"state tree": pytest.approx(8000)}
    assert p["unseen_us_per_tx"] == pytest.approx(2000)
    assert p["us_per_tx"] == pytest.approx(10000)
    nodeprofile.print_summary(p)  # prints without error, both thread lines included
