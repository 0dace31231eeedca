"""Audit replay: a chain built by one node replays on the auditor's fresh state, and each
kind of tampering stops the replay at the right height with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from contracts.app import ChainApp
from contracts.audit import AuditFailure, replay
from contracts.registry import default_executor
from ledger.block import QC, Block
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.genesis import Anchor, export_anchor
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.tx import SignedTx, TxBody
from tests.chainkit import Chain


def build_chain(suite: Suite, kv: KV | None = None) -> tuple[Chain, list[tuple[Block, QC]]]:
    committee = [Chain.new(suite).pubkey("alice")]
    chain = Chain.new(suite, kv=kv or MemoryKV(), committee=committee, contracts_genesis=True)
    app = ChainApp(chain.store, chain.store.tree, default_executor(), suite, chain.store.chain_id)
    add = {"name": "node4", "pubkey": chain.pubkey("node4")}
    batches = [
        [chain.tx("alice", 0, "gov.propose", {"action": "add_validator", "payload": add})],
        [chain.tx("alice", 1, "gov.vote", {"id": 9})],  # refused: stays a failed receipt
        [],
    ]
    history = []
    for txs in batches:
        head = chain.store.head_header()
        block = app.propose(head, head.height + 1, 0, 1, head.time_ms + 1000, tuple(txs))
        qc = chain.sign_qc(block.header)
        app.commit(block, qc)
        history.append((block, qc))
    return chain, history


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_an_honest_chain_replays_to_the_same_head(suite: Suite) -> None:
    chain, history = build_chain(suite)
    anchor = export_anchor(chain.store)
    report = replay(chain.doc, history, anchor)
    summary = report.to_json()
    assert summary["head_height"] == 3
    assert summary["head_hash"] == chain.store.head()[1].hex()
    assert summary["state_root"] == chain.store.head_header().state_root.hex()
    assert summary["transactions"] == 2 and summary["failed_transactions"] == 1
    assert summary["validator_changes"] == [1]
    # Block 2 onward is certified by the five-validator set the governance call made.
    assert [b.qc_votes for b in report.blocks] == [3, 4, 4]


def test_a_forged_signature_is_found() -> None:
    chain, history = build_chain(ED25519_SHA256)
    block, qc = history[0]
    tx = block.txs[0]
    forged = Block(block.header, (SignedTx(tx.body, bytes(64)),))
    with pytest.raises(AuditFailure, match="height 1: transaction 0 has a signature"):
        replay(chain.doc, [(forged, qc), *history[1:]])


def test_a_rewritten_transaction_is_found() -> None:
    chain, history = build_chain(ED25519_SHA256)
    block, qc = history[1]
    body = block.txs[0].body
    other = TxBody(body.chain_id, body.sender, body.nonce, body.call, {"id": 1, "approve": True})
    signed = chain.tx("alice", 1, "gov.vote", {"id": 1, "approve": True})
    assert signed.body == other
    with pytest.raises(AuditFailure, match="height 2"):
        replay(chain.doc, [history[0], (Block(block.header, (signed,)), qc), history[2]])


def test_a_missing_block_and_a_bad_certificate_are_found() -> None:
    chain, history = build_chain(ED25519_SHA256)
    with pytest.raises(AuditFailure, match="height 2: expected height 1"):
        replay(chain.doc, history[1:])
    block, qc = history[2]
    thin = QC(qc.height, qc.view, qc.block_hash, qc.votes[:2])
    with pytest.raises(AuditFailure, match="height 3: commit certificate"):
        replay(chain.doc, [*history[:2], (block, thin)])


def test_a_genesis_that_is_not_the_anchor_is_refused() -> None:
    chain, history = build_chain(ED25519_SHA256)
    other, _ = build_chain(SM2_SM3)
    foreign = export_anchor(other.store)
    assert isinstance(foreign, Anchor)
    with pytest.raises(AuditFailure, match="anchor"):
        replay(chain.doc, history, foreign)


def test_blocks_of_another_chain_with_the_same_id_are_named_so() -> None:
    """A genesis made again under the same chain id: block 1 of the source does not follow
    the document's genesis (verifier walk: "block prev_hash is not the head's hash")."""
    from dataclasses import replace as with_field

    chain, history = build_chain(ED25519_SHA256)
    other_doc = with_field(chain.doc, time_ms=chain.doc.time_ms + 1)  # the same id, remade
    with pytest.raises(AuditFailure, match="block 1 does not follow this genesis: the source "
                                           "holds another chain"):
        replay(other_doc, history, None)


def test_the_cli_replays_a_stopped_nodes_data_and_writes_the_report(tmp_path: Path) -> None:
    kv = LevelKV(str(tmp_path / "data" / "db"))
    chain, _ = build_chain(ED25519_SHA256, kv)
    head_hash = chain.store.head()[1].hex()
    export_anchor(chain.store).save(tmp_path / "anchor.json")
    chain.doc.save(tmp_path / "genesis.json")
    kv.close()
    args = [
        "audit",
        "replay",
        "--genesis",
        str(tmp_path / "genesis.json"),
        "--anchor",
        str(tmp_path / "anchor.json"),
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "report.json"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "replayed heights 1..3" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["head_hash"] == head_hash and report["validator_changes"] == [1]
    empty = CliRunner().invoke(main, [*args[:6], "--data", str(tmp_path)])
    assert empty.exit_code != 0 and "no node database" in empty.output


def test_a_damaged_data_directory_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A stopped node's store damaged on disk (a byte of a block in its value log) stops the
    replay with one line naming the damage and what to do (user walk: a traceback ending
    in ``CorruptStore``)."""
    kv = LevelKV(str(tmp_path / "data" / "db"))
    chain, history = build_chain(ED25519_SHA256, kv)
    export_anchor(chain.store).save(tmp_path / "anchor.json")
    chain.doc.save(tmp_path / "genesis.json")
    kv.close()
    (segment,) = (tmp_path / "data" / "db" / "values").glob("*.vlog")
    data = bytearray(segment.read_bytes())
    at = data.find(history[0][0].encode()[-40:])  # inside block 1, logged: > 256 bytes
    assert at > 0
    data[at] ^= 0x01
    segment.write_bytes(bytes(data))
    result = CliRunner().invoke(main, [
        "audit", "replay", "--genesis", str(tmp_path / "genesis.json"), "--anchor",
        str(tmp_path / "anchor.json"), "--data", str(tmp_path / "data"),
        "--out", str(tmp_path / "report.json")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "the store is damaged" in result.output and "node resync" in result.output
    assert "Traceback" not in result.output
