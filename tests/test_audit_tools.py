"""The auditor's tools on the trading story's chain (``tests.storechain``): replay progress
and resume, the SQLite export (its state changes rebuild the certified state root), its
incremental runs and their refusals, the Parquet mirror, and the history commands."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from contracts.audit import AuditFailure
from ledger import keyfile
from ledger.crypto import SM2_SM3
from ledger.genesis import state_root_of
from shell.auditrun import CHECKPOINT, run_replay
from shell.export import Export
from shell.progress import Progress
from tests.storechain import StoreChainClient, StoreSource, story_in_data_dir


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole story on a chain in a LevelDB directory (a stopped node's), with its
    genesis document and anchor beside it."""
    root = tmp_path_factory.mktemp("story")
    client, kv, summary = story_in_data_dir(root)
    head = client.store.head()
    root_hash = client.store.head_header().state_root
    refused = []
    for h in range(1, head[0] + 1):
        block, receipts = client.store.block(h), client.store.receipts(h)
        assert block is not None and receipts is not None
        refused += [(t.body.call, r.code) for t, r in zip(block.txs, receipts, strict=True)
                    if not r.ok]
    kv.close()
    assert len(refused) >= 3  # the story's refusals: a debarred bid, a late one, and more
    return {"root": root, "summary": summary, "head": head, "state_root": root_hash,
            "refused": refused}


def cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of a message: {result.exception!r}")
    return result


def source_args(story: dict[str, Any]) -> list[str]:
    root = story["root"]
    return ["--genesis", str(root / "genesis.json"), "--anchor", str(root / "anchor.json"),
            "--data", str(root / "data")]


# ---- progress -----------------------------------------------------------------------------


def test_progress_lines_say_height_rate_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    p = Progress("replay", 1, 300, out, every_blocks=100, tty=False, clock=lambda: now[0])
    for h in range(1, 301):
        now[0] = h / 50  # 50 blocks/s
        p.update(h)
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "replay: height 100 of 300 (33%), 50.0 blocks/s, ETA 4 s"
    assert lines[-1] == "replay: height 300 of 300 (100%), 50.0 blocks/s, ETA done"
    assert len(lines) == 3  # no repeated last line


def test_progress_on_a_terminal_redraws_one_line() -> None:
    now = [0.0]
    out = io.StringIO()
    p = Progress("export", 11, 20, out, tty=True, clock=lambda: now[0])
    for h in range(11, 21):
        now[0] += 0.1
        p.update(h, rows=5)
    p.finish()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.count("\r") >= 5
    assert "[########################] export: height 20 of 20 (100%)" in text
    assert "50 rows" in text


# ---- replay: resume, checkpoint, sealed stop ----------------------------------------------


def _open(story: dict[str, Any]) -> tuple[Any, Any, Any]:
    from ledger.genesis import Anchor, GenesisDoc
    from shell.auditsrc import DataSource

    doc = GenesisDoc.load(story["root"] / "genesis.json")
    return doc, DataSource(story["root"] / "data", doc), Anchor.load(
        story["root"] / "anchor.json")


def test_a_resumed_replay_ends_where_a_whole_one_does(story: dict[str, Any],
                                                      tmp_path: Path) -> None:
    doc, source, anchor = _open(story)
    try:
        whole = run_replay(doc, anchor, source, None, None, None)
        state = tmp_path / "state"
        first = run_replay(doc, anchor, source, state, 15, None, every_blocks=4)
        assert first.head_height == 15 and first.report.resumed_from == 0
        ckpt = json.loads((state / CHECKPOINT).read_text())
        assert ckpt["height"] == 15 and ckpt["block_hash"] == first.head_hash.hex()
        second = run_replay(doc, anchor, source, state, None, None)
        assert second.report.resumed_from == 15
        assert [b.height for b in second.report.blocks][0] == 16
        assert (second.head_height, second.head_hash) == story["head"]
        assert second.state_root == story["state_root"] == whole.state_root
        assert second.totals == whole.totals
        assert whole.totals.failed_transactions == len(story["refused"])
        # the checkpoint is a cache: without it the totals are recounted from the store
        (state / CHECKPOINT).unlink()
        again = run_replay(doc, anchor, source, state, None, None)
        assert again.totals == whole.totals and again.report.blocks == []
        # a damaged or changed one is recounted too, never printed nor a traceback (auditor
        # walk: one crashed the replay, one put 999999 transactions in its summary)
        ckpt = json.loads((state / CHECKPOINT).read_text())
        for field, bad in (("totals", {"foo": 1}), ("signatures_checked", "lots"),
                           ("transactions", 999_999), ("validator_changes", [7]),
                           ("blocks", 3)):
            changed = json.loads(json.dumps(ckpt))
            if field == "totals":
                changed["totals"] = bad
            else:
                changed["totals"][field] = bad
            (state / CHECKPOINT).write_text(json.dumps(changed))
            again = run_replay(doc, anchor, source, state, None, None)
            assert again.totals == whole.totals, field
    finally:
        source.close()


def test_a_resumed_replay_refuses_a_source_that_is_another_chain(story: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    doc, source, anchor = _open(story)
    state = tmp_path / "state"
    try:
        run_replay(doc, anchor, source, state, 12, None)
    finally:
        source.close()
    other = StoreChainClient()  # same genesis, other blocks
    for _ in range(14):
        other.block(())
    with pytest.raises(AuditFailure, match="height 12: the source's block at this height is "
                                           "not the one this replay state verified"):
        run_replay(doc, anchor, StoreSource(other.store), state, None, None)


def test_a_sealed_block_stops_the_replay_cleanly(story: dict[str, Any], tmp_path: Path) -> None:
    client = StoreChainClient()
    client.story()
    state = tmp_path / "state"
    got = run_replay(client.doc, client.anchor(), StoreSource(client.store, sealed_from=16),
                     state, None, None)
    assert got.stopped is not None and got.stopped.height == 16 and got.head_height == 15
    assert "run again" in str(got.stopped)
    done = run_replay(client.doc, client.anchor(), StoreSource(client.store), state, None, None)
    assert done.stopped is None and done.head_height == client.store.head()[0]


def test_a_node_that_keeps_no_early_blocks_stops_the_replay_as_partial_not_as_a_discrepancy(
        tmp_path: Path) -> None:
    """A node started from a state snapshot answers 410 for the blocks below its base. A
    replay from it stops there as PARTIAL (exit 3), naming where to go, and keeps what came
    before: it is not a discrepancy in the chain (exit 1). User walk: it said "the node
    would not give block 1" and exited 1."""
    from shell.auditsrc import BlockNotKept, UrlSource
    from shell.client import NodeError

    client = StoreChainClient()
    client.story()
    store = client.store
    base = 6  # the synced node keeps heights 6.. only

    class SyncedNode:
        def head_height(self) -> int:
            return store.head()[0]

        def header(self, h: int) -> Any:
            return store.header(h)

        def block(self, h: int) -> Any:
            if h < base:
                raise NodeError(410, f"block {h} is below the oldest height this node keeps "
                                     f"({base}): ask an archive node", "http://synced")
            return store.block(h), store.qc(h)

    source = UrlSource.__new__(UrlSource)
    source.client, source.suite = SyncedNode(), store.suite  # type: ignore[assignment]
    state = tmp_path / "state"
    got = run_replay(client.doc, client.anchor(), source, state, None, None)
    assert isinstance(got.stopped, BlockNotKept), got.stopped
    assert got.stopped.height == 1 and got.head_height == 0
    assert "does not keep that block" in str(got.stopped) and "archive node" in str(got.stopped)
    done = run_replay(client.doc, client.anchor(), StoreSource(store), state, None, None)
    assert done.stopped is None and done.head_height == store.head()[0]
    # the same node's data directory, read with --data (auditor walk: "not found", exit 1)
    from ledger.errors import HistoryPruned
    from shell.auditsrc import DataSource

    class SyncedStore:
        suite = store.suite

        def head(self) -> Any:
            return store.head()

        def header(self, h: int) -> Any:
            return store.header(h)

        def block(self, h: int) -> Any:
            if h < base:
                raise HistoryPruned(h, base)
            return store.block(h)

        def qc(self, h: int) -> Any:
            return store.qc(h)

    data = DataSource.__new__(DataSource)
    data.store = SyncedStore()  # type: ignore[assignment]
    got = run_replay(client.doc, client.anchor(), data, None, None, None)
    assert isinstance(got.stopped, BlockNotKept) and got.stopped.height == 1, got.stopped


def test_the_replay_command_resumes_and_reports(story: dict[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "state"
    got = cli("audit", "replay", *source_args(story), "--state-dir", str(state),
              "--to-height", "10", "--progress-every", "5")
    assert got.exit_code == 0, got.output
    assert "replay: height 5 of 10 (50%)" in got.output and "ETA" in got.output
    got = cli("audit", "replay", *source_args(story), "--to-height", "99999")
    assert got.exit_code == 1 and "--to-height 99999 is above the source's head" in got.output
    got = cli("audit", "replay", *source_args(story), "--state-dir", str(state), "--out",
              str(tmp_path / "r.json"))
    assert got.exit_code == 0, got.output
    assert f"replayed heights 1..{story['head'][0]}" in got.output
    assert "resumed at 10" in got.output
    changes = ", ".join(map(str, json.loads((tmp_path / "r.json").read_text())[
        "validator_changes"])) or "none"
    assert f"validator changes at {changes}\n" in got.output  # (auditor walk: "[7]")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["head_hash"] == story["head"][1].hex() and report["resumed_from"] == 10
    assert report["transactions"] == story["head"][0]  # one transaction per block


# ---- export -------------------------------------------------------------------------------


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall()
                for t in ("blocks", "transactions", "events", "state_changes")}
    finally:
        db.close()


def test_the_export_holds_the_whole_history(story: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "chain.sqlite"
    umask_before = os.umask(0o022)
    os.umask(umask_before)
    got = cli("audit", "export", *source_args(story), "--out", str(out))
    assert got.exit_code == 0, got.output
    # it holds bidders' secrets and identities: the owner's alone (user walk: 0644), and
    # the replay state beside it too; the caller's umask is its own again after
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    replay = tmp_path / "chain.sqlite.replay"
    assert stat.S_IMODE(replay.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in replay.rglob("*"))
    umask_after = os.umask(0o022)
    os.umask(umask_after)
    assert umask_after == umask_before
    head = story["head"][0]
    db = sqlite3.connect(out)
    assert db.execute("SELECT COUNT(*), MAX(height) FROM blocks").fetchone() == (head + 1, head)
    assert db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (head,)
    refused = db.execute("SELECT call, code FROM transactions WHERE ok = 0 ORDER BY height")
    assert refused.fetchall() == story["refused"]
    assert ("bid.submit", "E_DEBARRED") in story["refused"]
    args = json.loads(db.execute("SELECT args FROM transactions WHERE call = 'bid.reveal' "
                                 "LIMIT 1").fetchone()[0])
    assert set(args) == {"tender_id", "lot", "content_key"} and "$bin" in args["content_key"]
    sealed = json.loads(db.execute("SELECT args FROM transactions WHERE call = 'bid.submit' "
                                   "LIMIT 1").fetchone()[0])["sealed_summary"]
    assert sealed == {"$bin_omitted": 4136}  # too long for JSON; the raw column holds it
    types = {r[0] for r in db.execute("SELECT DISTINCT type FROM events")}
    assert {"bid.revealed", "bid.decrypt_failed", "tender.awarded"} <= types
    # the state at the tip, rebuilt from the changes alone, is the certified state root
    state: dict[str, bytes] = {}
    for key, value in db.execute("SELECT key, value FROM state_changes ORDER BY height"):
        if value is None:
            state.pop(key, None)
        else:
            state[key] = bytes(value)
    from ledger.crypto import ED25519_SHA256

    assert state_root_of(ED25519_SHA256, state) == story["state_root"]
    winner = story["summary"]["winner"]
    bids = [r[0] for r in db.execute("SELECT key FROM state_changes WHERE entity = ? AND "
                                     "namespace = 'bid' ORDER BY height", (winner,))]
    # sealed, its guarantee's (sealed) binding, then revealed
    assert len(bids) == 3 and "/guarantee/" in bids[1] and bids[0] == bids[2], bids
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM state_changes WHERE entity = ? ORDER BY height",
        (winner,)))
    assert "sc_entity" in plan  # the history's question uses its index
    db.close()


def test_the_export_appends_and_checks_its_tip(story: dict[str, Any], tmp_path: Path) -> None:
    whole, part = tmp_path / "whole.sqlite", tmp_path / "part.sqlite"
    assert cli("audit", "export", *source_args(story), "--out", str(whole)).exit_code == 0
    got = cli("audit", "export", *source_args(story), "--out", str(part), "--to-height", "20")
    assert got.exit_code == 0 and "exported heights 1..20" in got.output, got.output
    got = cli("audit", "export", *source_args(story), "--out", str(part))
    assert got.exit_code == 0 and f"exported heights 21..{story['head'][0]}" in got.output
    assert _dump(part) == _dump(whole)
    got = cli("audit", "export", *source_args(story), "--out", str(part))
    assert got.exit_code == 0 and "nothing new to export" in got.output
    # the replay state lost: rebuilt from genesis, nothing written twice
    shutil.rmtree(tmp_path / "part.sqlite.replay")
    assert cli("audit", "export", *source_args(story), "--out", str(part)).exit_code == 0
    assert _dump(part) == _dump(whole)


def test_an_export_refuses_another_chain_and_a_state_ahead_of_it(story: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    from ledger.genesis import GenesisDoc

    doc = GenesisDoc.load(story["root"] / "genesis.json")
    other = StoreChainClient()
    for _ in range(8):
        other.block(())
    out = tmp_path / "x.sqlite"
    export = Export(out, doc)
    run_replay(doc, None, StoreSource(other.store), tmp_path / "state", None, None,
               before_commit=export.record)
    tip = export.tip()
    export.close()
    assert tip.height == 8
    got = cli("audit", "export", *source_args(story), "--out", str(out), "--state-dir",
              str(tmp_path / "state"))
    assert got.exit_code != 0 and "follows another chain" in got.output
    # a replay state past the export's tip: the blocks between could not be recorded
    fresh = tmp_path / "fresh.sqlite"
    got = cli("audit", "export", *source_args(story), "--out", str(fresh), "--state-dir",
              str(tmp_path / "state2"), "--to-height", "5")
    assert got.exit_code == 0
    cli("audit", "replay", *source_args(story), "--state-dir", str(tmp_path / "state2"))
    got = cli("audit", "export", *source_args(story), "--out", str(fresh), "--state-dir",
              str(tmp_path / "state2"))
    assert got.exit_code != 0 and "past the export's tip 5" in got.output


def test_inputs_of_two_chains_are_refused_first_and_said_so(story: dict[str, Any],
                                                             tmp_path: Path) -> None:
    """A genesis that is not the anchor's is named as such before anything is read or any
    key is loaded (a supervisor's key of another suite used to be the first complaint)."""
    root = story["root"]
    other = json.loads((root / "genesis.json").read_text())
    other["chain_id"] = "another-chain"
    (tmp_path / "other.json").write_text(json.dumps(other))
    (tmp_path / "phrase").write_text("phrase\n")
    (tmp_path / "phrase").chmod(0o600)
    keyfile.save_key(tmp_path / "sm2.key", SM2_SM3, SM2_SM3.generate_secret(), b"phrase")
    key = ["--key", str(tmp_path / "sm2.key"), "--passphrase-file", str(tmp_path / "phrase")]
    for command in (["audit", "replay"], ["audit", "export", "--out", str(tmp_path / "x.db")],
                    ["history", "entity", "91350100M000100Y43"]):
        got = cli(*command, "--genesis", str(tmp_path / "other.json"), "--anchor",
                  str(root / "anchor.json"), "--data", str(root / "data"), *key)
        assert got.exit_code != 0, got.output
        assert "does not hash to the anchor's genesis: they are not the same chain's" in (
            got.output), got.output
    assert not (tmp_path / "x.db").exists()


def test_the_parquet_mirror_matches_the_export(story: dict[str, Any], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out, pdir = tmp_path / "c.sqlite", tmp_path / "pq"
    got = cli("audit", "export", *source_args(story), "--out", str(out), "--parquet", str(pdir),
              "--to-height", "12")
    assert got.exit_code == 0 and "Parquet: heights 0..12" in got.output, got.output
    (pdir / "events" / "part-000000000013-000000000099.parquet").write_bytes(b"orphan")
    got = cli("audit", "export", *source_args(story), "--out", str(out), "--parquet", str(pdir))
    assert got.exit_code == 0, got.output
    assert not (pdir / "events" / "part-000000000013-000000000099.parquet").exists()
    db = sqlite3.connect(out)
    for table in ("blocks", "transactions", "events", "state_changes"):
        parts = sorted((pdir / table).glob("part-*.parquet"))
        assert len(parts) == 2
        rows = sum(pq.read_table(p).num_rows for p in parts)
        assert rows == db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    calls = pq.read_table(pdir / "transactions").column("call").to_pylist()
    assert sorted(calls) == sorted(r[0] for r in db.execute("SELECT call FROM transactions"))
    assert json.loads((pdir / "_tip.json").read_text())["height"] == story["head"][0]


# ---- history ------------------------------------------------------------------------------


def test_history_of_entities_and_the_tender(story: dict[str, Any], tmp_path: Path) -> None:
    summary = story["summary"]
    uscc, tender = summary["uscc"], summary["tender_id"]
    db = tmp_path / "h.sqlite"
    assert cli("audit", "export", *source_args(story), "--out", str(db)).exit_code == 0
    got = cli("history", "entity", uscc["e"], "--db", str(db))
    assert got.exit_code == 0, got.output
    assert "bid_debarment" in got.output and "REFUSED bid.submit: E_DEBARRED" in got.output
    assert "+08:00" in got.output
    got = cli("history", "entity", uscc["d"], "--db", str(db))
    assert "decrypt_failed" in got.output and "CLAIMED 50,000.00 yuan (decrypt_failed)" in \
        got.output
    # the guarantee's binding, written at the opening, reads as that, not as a bid
    assert f"guarantee {summary['claimed']} bound to the bid on tender {tender} lot 1" in \
        got.output and "lot guarantee" not in got.output
    got = cli("history", "tender", tender, "--db", str(db))
    assert got.exit_code == 0, got.output
    order = ["announced", "objection 1 (documents) by",
             "BID DEADLINE; bids named at opening: lot 1: 4 bid(s)",
             "opened by the platform", "revealed its key", "DECRYPT_FAILED",
             "opening record published", "evaluation committee drawn",
             "score sheets submitted (×", "evaluation closed (decided)",
             "signed by every member; publicity", "awarded: lot 1: ", "contract signed",
             "CLAIMED 50,000.00 yuan (decrypt_failed)", "ARCHIVED",
             "refused tender.amend: E_ARCHIVED"]
    positions = [got.output.index(word) for word in order]
    assert positions == sorted(positions)
    # lists as text, not as Python's repr (user walk: "candidates [['…']]")
    assert "[[" not in got.output and "['" not in got.output
    # bids are counted, never listed; a bid the contract refused is listed after the
    # deadline, with who tried (verifier walk: a debarred entity's attempt was missing)
    assert f"refused bid.submit by {uscc['e']}: E_DEBARRED" in got.output
    assert got.output.count("bid.submit") == got.output.count("refused bid.submit")
    # straight from the chain (a stopped node's data), through a temporary export
    got = cli("history", "tender", tender, *source_args(story))
    assert got.exit_code == 0 and "ARCHIVED" in got.output
    got = cli("history", "tender", "NO-SUCH", "--db", str(db))  # exit 1: scripts can tell
    assert got.exit_code == 1 and "tender NO-SUCH: not on chain up to block" in got.output
    got = cli("history", "entity", "91350100M000100Y44", "--db", str(db))
    assert got.exit_code != 0 and "not a valid unified social credit code" in got.output
    got = cli("history", "entity", uscc["a"])
    assert got.exit_code != 0 and "give an export" in got.output


def test_history_keeps_bids_sealed_before_the_deadline(tmp_path: Path) -> None:
    from contracts.scenario import ScenarioError

    client = StoreChainClient()
    original = client.wait_until

    def stop_at_deadline(t_ms: int) -> None:
        raise ScenarioError("stop the story before its deadline")

    client.wait_until = stop_at_deadline  # type: ignore[method-assign]
    with pytest.raises(ScenarioError):
        client.story()
    client.wait_until = original  # type: ignore[method-assign]
    out = tmp_path / "open.sqlite"
    export = Export(out, client.doc)
    run_replay(client.doc, None, StoreSource(client.store), None, None, None,
               before_commit=export.record)
    tender = export.db.execute("SELECT DISTINCT tender_id FROM transactions WHERE tender_id "
                               "IS NOT NULL").fetchone()[0]
    export.close()
    got = cli("history", "entity", "91441500MA0000011C", "--db", str(out))
    assert got.exit_code == 0, got.output
    assert "sealed until its deadline" in got.output and "commitment" not in got.output
    got = cli("history", "tender", tender, "--db", str(out))
    assert "(not passed: bids are sealed)" in got.output and "guarantee" not in got.output
    assert "BID DEADLINE" not in got.output


def test_history_lines_name_who_and_read_as_text() -> None:
    """User walks: a decline did not name who declined; candidates and winners were
    printed as Python lists."""
    from shell.history import _describe_call

    declined = [{"type": "draw.declined", "member": "E09", "replaced_by": "E05"}]
    assert _describe_call("draw.decline", {}, declined, None, "") == \
        "E09 declined; replaced by E05"
    short = [{"type": "draw.declined", "member": "E09", "replaced_by": ""}]
    assert _describe_call("draw.decline", {}, short, None, "") == "E09 declined; none left"
    awarded = _describe_call("tender.award", {"winners": ["91441500MA0000011C", ""]}, [],
                             None, "")
    assert awarded == "awarded: lot 1: 91441500MA0000011C; lot 2: no winner"
    released = [{"type": "guarantee.released", "number": "BG-1"}]
    contract = "contract signed (hash recorded); "
    assert _describe_call("tender.record_contract", {}, released, None, "") == \
        contract + "the winner's guarantee BG-1 released"
    assert _describe_call("tender.record_contract", {}, [], None, "") == \
        contract + "no winner's guarantee left to release"
