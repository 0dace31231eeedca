"""The cluster benchmark's workload runs clean through a real chain, in process.

``benchmarks/workload.py`` builds the setup history and the measured window's transactions;
``benchmarks/prebuilt.py`` plays blocks through the chain application with QCs. Here a small
workload (a few requests of each call type, a little filler) is played into an in-memory
chain, setup then window, and every receipt must be ``OK``: a contract change that breaks
the benchmark's transactions fails CI instead of a benchmark run. The benchmark itself is a
separate command, never part of CI.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from benchmarks.prebuilt import BuildReport, play
from benchmarks.workload import (
    CHAIN_ID,
    GENESIS_PARAMS,
    NOOP,
    REALISTIC,
    Workload,
    actor,
    mixes,
    request_txs,
    template_of,
)
from contracts.agents import AGENT_CALLS
from ledger.block import Validator
from ledger.crypto import get_suite
from ledger.genesis import GenesisDoc
from ledger.kv import MemoryKV
from ledger.tx import OK, SignedTx
from shell.chain import Chain

N_VALIDATORS = 4


def _chain(workload: Workload) -> tuple[Chain, list[bytes]]:
    suite = workload.suite
    nodes = [actor(suite, f"validator/{i}") for i in range(N_VALIDATORS)]
    doc = GenesisDoc(CHAIN_ID, suite.name, workload.genesis_ms,
                     tuple(Validator(f"node{i}", a.pubkey) for i, a in enumerate(nodes)),
                     [nodes[0].pubkey], workload.role_keys(), dict(GENESIS_PARAMS))
    return Chain.open(MemoryKV(), doc), [a.secret for a in nodes]


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_realistic_mix_commits_without_a_failed_receipt(suite_name: str) -> None:
    suite = get_suite(suite_name)
    now_ms = time.time_ns() // 1_000_000
    workload = Workload(suite, N_VALIDATORS, REALISTIC, requests=2, now_ms=now_ms,
                        filler_keys=300)
    chain, secrets = _chain(workload)
    report = BuildReport()
    play(chain, secrets, workload.setup_blocks(), report)
    assert report.failed == {}, report.failed

    runs = workload.window_runs()
    calls = Counter(run.call for run in runs for _ in run.txs)
    assert calls == {s.call: 2 * s.runs * s.run_txs for s in REALISTIC}
    assert sum(calls.values()) == 2 * request_txs(REALISTIC)
    # each sender's runs in nonce order, every run to one node
    last: dict[bytes, int] = {}
    for run in runs:
        nonces = [tx.body.nonce for tx in run.txs]
        if run.call in AGENT_CALLS:  # sealed calls: each from its own one-time agent
            assert set(nonces) == {0} and run.sender not in {tx.body.sender for tx in run.txs}
            assert len({tx.body.sender for tx in run.txs}) == len(run.txs)
            continue
        assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))
        assert all(tx.body.sender == run.sender for tx in run.txs)
        assert nonces[0] == last.get(run.sender, nonces[0] - 1) + 1 or run.sender not in last
        last[run.sender] = nonces[-1]
    window = [tx for run in runs for tx in run.txs]
    done = play(chain, secrets, iter([(now_ms + 1_000, window)]), report)
    assert len(done) == len(window)
    failed = Counter(f"{tx.body.call} {r.code}" for tx, r in done if r.code != OK)
    assert failed == Counter(), failed
    assert report.failed == {}


@pytest.mark.parametrize("pad_bytes", [0, 64, 16_384])
def test_noop_mix_fails_only_as_intended(pad_bytes: int) -> None:
    suite = get_suite("ed25519-sha256")
    workload = Workload(suite, N_VALIDATORS, NOOP, requests=1,
                        now_ms=time.time_ns() // 1_000_000, pad_bytes=pad_bytes)
    chain, secrets = _chain(workload)
    report = BuildReport()
    play(chain, secrets, workload.setup_blocks(), report)
    window = [tx for run in workload.window_runs() for tx in run.txs]
    done = play(chain, secrets, iter([(workload.now_ms + 1_000, window)]), report)
    assert {r.code for _, r in done} == {"E_UNKNOWN_CALL"}
    assert len(done) == request_txs(NOOP)
    for tx, _ in done:  # what the node's admission checks first (a malformed tx is refused)
        assert SignedTx.decode(tx.encode()) == tx
        assert len(tx.encode()) >= pad_bytes


def test_read_targets_name_setup_records() -> None:
    suite = get_suite("ed25519-sha256")
    workload = Workload(suite, N_VALIDATORS, REALISTIC, requests=1,
                        now_ms=time.time_ns() // 1_000_000)
    chain, secrets = _chain(workload)
    play(chain, secrets, workload.setup_blocks(), BuildReport())
    targets = workload.read_targets()
    assert {kind for kind, _ in targets} == {"read.guarantee_proof", "read.eligibility"}
    for kind, path in targets[:6]:
        key = (path.removeprefix("/proof/") if kind == "read.guarantee_proof"
               else path.split("key=")[1].rstrip("&"))
        assert chain.store.tree.get(key) is not None, key


@pytest.mark.parametrize("mix", [m for m in mixes() if m.startswith("call:")])
def test_each_call_alone_commits_without_a_failed_receipt(mix: str) -> None:
    suite = get_suite("ed25519-sha256")
    template = template_of(mix)
    workload = Workload(suite, N_VALIDATORS, template, requests=1,
                        now_ms=time.time_ns() // 1_000_000)
    chain, secrets = _chain(workload)
    report = BuildReport()
    play(chain, secrets, workload.setup_blocks(), report)
    window = [tx for run in workload.window_runs() for tx in run.txs]
    assert {tx.body.call for tx in window} == {template[0].call}
    done = play(chain, secrets, iter([(workload.now_ms + 1_000, window)]), report)
    assert [r.code for _, r in done if r.code != OK] == []
    assert report.failed == {}
