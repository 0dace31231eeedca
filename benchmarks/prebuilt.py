"""A local network whose validators start from a history built offline.

``build_network(out, workload, n_validators, suite_name)`` writes a ``network init``
directory (``shell.localnet.init_network``: keys, configs, genesis, anchor), dates its
genesis ``GENESIS_DAYS_AGO`` days back with the workload's parameters, and then plays the
workload's setup history into node 0's store *without consensus*: each block is proposed and
executed by the real chain application (``contracts.app.ChainApp``: the contracts, the state
tree, the store's checks), its QC signed by a quorum of the validators' own keys (the
benchmark created them), and committed in one synced batch — exactly the records a live
network would have written. The store is then copied to every other validator's data
directory and marked as its own (``Chain.votes_are_mine(..., confirm_lost=True)``: the
validators cast no vote the copies could not account for). The nodes start at the setup's
head and check it as at any start (the head's state root, the last 64 blocks' QCs).

Why offline: a live setup of 1M state keys would take tens of minutes through the API on
this machine; executed in-process it takes about a minute, and every block is still a valid
block of the chain (any node or auditor replaying it gets the same roots).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.workload import CHAIN_ID, GENESIS_PARAMS, Workload
from ledger import schema
from ledger.block import QC, commit_vote_bytes, quorum
from ledger.crypto import get_suite
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block
from ledger.keyfile import load_key, read_passphrase_file
from ledger.kv import LevelKV
from ledger.limits import MAX_BLOCK_TX_BYTES
from ledger.store import BlockStore
from ledger.tx import OK, Receipt, SignedTx
from shell.chain import Chain
from shell.localnet import NETWORK_PASSPHRASE_FILE, init_network, load_manifest

SETUP_BLOCK_TXS = 5_000  # offline blocks: fewer, larger blocks than the replica's 1,000


@dataclasses.dataclass
class BuildReport:
    blocks: int = 0
    txs: int = 0
    state_keys: int = 0  # keys in the state at the setup's head
    failed: dict[str, int] = dataclasses.field(default_factory=dict)  # "call code" -> count
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def build_network(out: Path, workload: Workload, n_validators: int, suite_name: str,
                  heartbeat_ms: int | None = None,
                  params: dict[str, int | str] | None = None) -> BuildReport:
    """``params``: chain parameters for genesis beside the workload's own."""
    report = BuildReport()
    t = time.monotonic()
    init_network(out, n_validators, suite_name, CHAIN_ID, clients=0,
                 extra_roles=workload.role_keys(), heartbeat_ms=heartbeat_ms)
    doc = _redate_genesis(out, workload, params or {})
    report.seconds["init"] = time.monotonic() - t
    manifest = load_manifest(out)
    db0 = _db_dir(out, 0)
    kv = LevelKV(str(db0))
    try:
        chain = Chain.open(kv, doc)
        _play(chain, out, doc, workload, report)
    finally:
        kv.close()
    t = time.monotonic()
    for i in range(1, len(manifest["nodes"])):
        shutil.copytree(db0, _db_dir(out, i))
    for i, v in enumerate(doc.validators):
        kv = LevelKV(str(_db_dir(out, i)))
        try:
            Chain.open(kv, doc).votes_are_mine(v.pubkey, confirm_lost=True)
        finally:
            kv.close()
    report.seconds["copy"] = time.monotonic() - t
    return report


def _db_dir(out: Path, i: int) -> Path:
    return out / "data" / f"node{i}" / "db"  # node{i}.toml: data_dir = "data/node{i}"


def _redate_genesis(out: Path, workload: Workload,
                    params: dict[str, int | str]) -> GenesisDoc:
    """Genesis ``GENESIS_DAYS_AGO`` days back, with the workload's parameters and
    ``params``; the anchor follows (``init_network`` wrote both for a genesis dated now)."""
    doc = GenesisDoc.load(out / "genesis.json")
    doc = dataclasses.replace(doc, time_ms=workload.genesis_ms,
                              params={**doc.params, **GENESIS_PARAMS, **params})
    doc.save(out / "genesis.json")
    block = genesis_block(doc, default_state(doc))
    Anchor.of(doc.crypto, block.header, doc.validators).save(out / "anchor.json")
    return doc


def _play(chain: Chain, out: Path, doc: GenesisDoc, workload: Workload,
          report: BuildReport) -> None:
    phrase = read_passphrase_file(out / NETWORK_PASSPHRASE_FILE)
    secrets = [load_key(out / f"node{i}.key", phrase).secret
               for i in range(len(doc.validators))]
    play(chain, secrets, workload.setup_blocks(), report)
    report.state_keys = sum(1 for _ in chain.kv.scan(schema.STATE_HEAD))


def play(chain: Chain, secrets: list[bytes], steps: Iterator[tuple[int, list[SignedTx]]],
         report: BuildReport) -> list[tuple[SignedTx, Receipt]]:
    """Execute and commit ``steps`` (``(time_ms, txs)``) as blocks over the chain's head, each
    certified by a quorum of ``secrets`` (the validators' keys, in validator order); failed
    receipts are counted in ``report.failed`` by call and code. Returns every transaction with
    its receipt, in order."""
    suite = chain.suite
    app = chain.app
    n = len(secrets)
    done: list[tuple[SignedTx, Receipt]] = []
    sign_s = exec_s = 0.0
    while True:
        t = time.monotonic()
        step = next(steps, None)
        sign_s += time.monotonic() - t
        if step is None:
            break
        at_ms, txs = step
        t = time.monotonic()
        for offset, part in enumerate(_blocks_of(txs)):
            head = chain.store.head_header()
            height = head.height + 1
            block = app.propose(head, height, 0, height % n,
                                max(at_ms + offset, head.time_ms + 1), tuple(part))
            if len(block.txs) != len(part):
                raise RuntimeError(f"block {height} left out {len(part) - len(block.txs)} "
                                   "transactions (nonce order broken)")
            receipts = app.commit(block, _qc(suite, block.header, secrets))
            for tx, r in zip(block.txs, receipts, strict=True):
                done.append((tx, r))
                if r.code != OK:
                    name = f"{tx.body.call} {r.code}"
                    report.failed[name] = report.failed.get(name, 0) + 1
            report.blocks += 1
            report.txs += len(block.txs)
        exec_s += time.monotonic() - t
    report.seconds["sign"] = report.seconds.get("sign", 0.0) + sign_s
    report.seconds["execute_commit"] = report.seconds.get("execute_commit", 0.0) + exec_s
    return done


def _blocks_of(txs: list[SignedTx]) -> Iterable[list[SignedTx]]:
    part: list[SignedTx] = []
    size = 0
    for tx in txs:
        n = len(tx.encode())
        if part and (len(part) >= SETUP_BLOCK_TXS or size + n > MAX_BLOCK_TX_BYTES // 2):
            yield part
            part, size = [], 0
        part.append(tx)
        size += n
    if part:
        yield part


def _qc(suite: Any, header: Any, secrets: list[bytes]) -> QC:
    block_hash = header.hash(suite)
    msg = commit_vote_bytes(header.chain_id, header.height, header.view, block_hash)
    voters = range(quorum(len(secrets)))
    return QC(header.height, header.view, block_hash,
              tuple((i, suite.sign(secrets[i], msg)) for i in voters))


def open_store(out: Path, i: int, suite_name: str) -> tuple[LevelKV, BlockStore]:
    """Node ``i``'s store, read-only use after the nodes stopped (the caller closes the KV)."""
    kv = LevelKV(str(_db_dir(out, i)), create=False)
    return kv, BlockStore(kv, get_suite(suite_name))
