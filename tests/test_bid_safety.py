"""Bidder safety, against a live one-validator node over loopback HTTP: the sealed file is
checked before a reveal (entity, itself, the bid on chain, the window) and a mismatch is
refused before anything is sent; refused seals leave no live-looking file; replace and
withdraw retire the old file; a passphrase protects the secret; ``decrypt_failed`` is loud
and non-zero; ``bid prove`` adds the §8 inclusion bundle; ``tx send`` fails on a failed
receipt. The node is the fixture of ``tests/test_bid_cli.py``."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from contracts.bidder import seal_bid
from contracts.scenario import _Story, actor_secret, bid_slot, demo_uscc
from ledger import keyfile
from shell import sealedfile
from shell.demo import HttpScenarioClient
from tests.test_bid_cli import CHAIN, DAY_MS, PASSPHRASE, SUITE, live_node

__all__ = ["live_node"]
NAMES = ("tenderer", "operator", "a", "b", "c")
SEALED_PASS = b"sealed-file words"


class Bidding:
    """A tender open for bids on the live node, and the CLI run as bidder A (or another)."""

    def __init__(self, url: str, anchor: Path, tmp: Path) -> None:
        self.url, self.anchor, self.tmp = url, anchor, tmp
        self.client = HttpScenarioClient(url)
        self.story = _Story(self.client, lambda line: None, {})
        self.uscc = {n: demo_uscc(i + 1) for i, n in enumerate(NAMES)}
        t0 = self.client.now_ms()
        for name in ("tenderer", "a", "b", "c"):
            self.story.send("attestor", "identity.attest", {
                "uscc": self.uscc[name], "name": name, "entity_type": "company",
                "cert_issuer": "CA", "cert_serial": name, "valid_from_ms": t0 - 86_400_000,
                "valid_to_ms": t0 + 365 * 86_400_000,
                "keys": [self.story.actor(name).pubkey]})
        self.tender = f"T-{t0}"
        issue = self.client.now_ms() + 3_000  # never before the announcing block
        # 100 demo days (10 s): the bidder's steps before the deadline take a few seconds,
        # more on a loaded machine (21 days, 2.1 s, was too short there)
        self.deadline = issue + 100 * DAY_MS
        self.story.send("platform", "tender.announce", {
            "tender_id": self.tender, "rules": "bidding-law", "kind": "works",
            "region": "441502", "tenderer": self.uscc["tenderer"], "agent": "",
            "platform_uscc": self.uscc["operator"], "related_parties": [],
            "doc_hash": SUITE.hash(b"docs"), "issue_start_ms": issue,
            "doc_sale_end_ms": issue + 5 * DAY_MS, "deadline_ms": self.deadline,
            "validity_days": 90, "qualifications": [],
            "lots": [{"name": "lot", "estimated_price_fen": 100_000_000,
                      "guarantee_fen": 1_000_000}]})
        for name in ("a", "b", "c"):
            self.story.send("bank", "guarantee.issue", {
                "number": f"G-{name}", "principal": self.uscc[name],
                "beneficiary": self.uscc["tenderer"], "tender_id": self.tender, "lot": 1,
                "amount_fen": 1_000_000, "valid_from_ms": t0 - 86_400_000,
                "valid_to_ms": self.deadline + 400 * 86_400_000,
                "file_hash": SUITE.hash(name.encode())})
        (tmp / "pass").write_bytes(PASSPHRASE)
        (tmp / "sealed-pass").write_bytes(SEALED_PASS)
        for f in ("pass", "sealed-pass"):
            (tmp / f).chmod(0o600)
        (tmp / "bid.pdf").write_bytes(b"the encrypted bid file")

    def key(self, name: str) -> list[str]:
        path = self.tmp / f"{name}.key"
        if not path.exists():
            keyfile.save_key(path, SUITE, actor_secret(SUITE, name), PASSPHRASE)
        return ["--url", self.url, "--key", str(path), "--passphrase-file",
                str(self.tmp / "pass")]

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(main, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"traceback instead of a message: {result.exception!r}")
        return result

    def seal(self, who: str, out: Path, price: str = "88800000", uscc: str | None = None,
             *extra: str) -> Result:
        return self.cli("bid", "seal", *self.key(who), "--tender", self.tender, "--uscc",
                        uscc or self.uscc[who], "--file", str(self.tmp / "bid.pdf"),
                        "--price-fen", price, "--guarantee", f"G-{who}", "--out", str(out),
                        *extra)

    def protected(self) -> list[str]:
        return ["--sealed-passphrase-file", str(self.tmp / "sealed-pass")]

    def open_bids(self, bidders: tuple[str, ...]) -> None:
        self.client.wait_until(self.deadline)
        slots = sorted(bid_slot(SUITE, CHAIN, self.tender, 1, self.uscc[n]) for n in bidders)
        self.story.send("platform", "bid.open", {"tender_id": self.tender, "slots": [slots]})


@pytest.fixture
def bidding(live_node: tuple[str, Path], tmp_path: Path) -> Bidding:
    url, anchor = live_node
    return Bidding(url, anchor, tmp_path)


def test_the_bidders_whole_path_with_every_refusal(bidding: Bidding) -> None:
    b, tmp = bidding, bidding.tmp
    a_v1 = tmp / "a.sealed.json"
    got = b.seal("a", a_v1, "88800000", None, *b.protected())
    assert got.exit_code == 0, got.output
    assert "+08:00" in got.output and "passphrase-protected" in got.output
    assert stat.S_IMODE(os.stat(a_v1).st_mode) == 0o600
    doc = json.loads(a_v1.read_text())
    assert doc["status"] == "live" and "secret" not in doc and "protected" in doc
    assert not (tmp / "a.sealed.json.pending").exists()

    # another entity's USCC with A's key: refused before anything is sent
    got = b.seal("a", tmp / "x.json", "1", b.uscc["b"])
    assert got.exit_code != 0 and "bound to" in got.output and not (tmp / "x.json").exists()
    # a second bid on the lot: the contract refuses; no file looks live
    second = tmp / "second.json"
    got = b.seal("a", second, "1")
    assert got.exit_code != 0 and "E_EXISTS" in got.output
    refused = tmp / "second.refused.json"
    assert not second.exists() and not (tmp / "second.json.pending").exists()
    assert json.loads(refused.read_text())["refusal"]["code"] == "E_EXISTS"

    # replace: the new version is live, the old file retired
    a_v2 = tmp / "a.v2.sealed.json"
    replace_args = ["bid", "replace", *b.key("a"), "--previous", str(a_v1), "--file",
                    str(tmp / "bid.pdf"), "--price-fen", "87700000", "--out", str(a_v2)]
    got = b.cli(*replace_args)
    assert got.exit_code != 0 and "protect the new version too" in got.output
    got = b.cli(*replace_args, *b.protected())
    assert got.exit_code == 0, got.output
    replaced = tmp / "a.sealed.replaced.json"
    assert not a_v1.exists() and json.loads(replaced.read_text())["status"] == "replaced"
    assert json.loads(a_v2.read_text())["guarantee"] == "G-a"  # kept from the previous one

    # B seals, withdraws (its file retired), and seals again
    b_v1, b_v2 = tmp / "b.sealed.json", tmp / "b2.sealed.json"
    got = b.seal("b", b_v1, "90000000")
    assert got.exit_code == 0, got.output
    got = b.cli("bid", "withdraw", *b.key("b"), "--sealed", str(b_v1))
    assert got.exit_code == 0 and "G-b unbound" in got.output, got.output
    assert json.loads((tmp / "b.sealed.withdrawn.json").read_text())["status"] == "withdrawn"
    got = b.seal("b", b_v2, "91000000")
    assert got.exit_code == 0, got.output
    sealed_c = seal_bid(SUITE, CHAIN, b.tender, 1, b.uscc["c"], b"c", 95_000_000)
    b.story.send("c", "bid.submit", sealed_c.submit_args("G-c"))

    # before the deadline: the bidder reads its own bid (the live version 2), but the window
    # is not open: refused
    got = b.cli("bid", "reveal", *b.key("a"), *b.protected(), "--sealed", str(a_v2))
    assert got.exit_code != 0 and "not revealed" in got.output
    assert "[ok] the bid on chain (version 2) is this file's" in got.output
    assert "[FAILED] tender" in got.output and "is not in a decryption window" in got.output

    b.open_bids(("a", "b", "c"))
    # the replaced version's file would destroy the bid: refused, naming the live version
    got = b.cli("bid", "reveal", *b.key("a"), *b.protected(), "--sealed", str(replaced))
    assert got.exit_code != 0 and "is not this file's" in got.output, got.output
    # B's file with A's key
    got = b.cli("bid", "reveal", *b.key("a"), "--sealed", str(b_v2))
    assert got.exit_code != 0 and "but the sealed file is" in got.output
    # the wrong sealed-file passphrase
    (tmp / "wrong").write_bytes(b"not it")
    (tmp / "wrong").chmod(0o600)
    got = b.cli("bid", "reveal", *b.key("a"), "--sealed-passphrase-file", str(tmp / "wrong"),
                "--sealed", str(a_v2))
    assert got.exit_code != 0 and "wrong sealed-file passphrase" in got.output
    # the right file: every check passes and the contract decrypts the new price
    got = b.cli("bid", "reveal", *b.key("a"), *b.protected(), "--sealed", str(a_v2))
    assert got.exit_code == 0, got.output
    assert "FAILED" not in got.output and "877,000.00 yuan (87700000 fen)" in got.output
    # a second reveal is refused by the checks: the bid is no longer sealed
    got = b.cli("bid", "reveal", *b.key("a"), *b.protected(), "--sealed", str(a_v2))
    assert got.exit_code != 0 and "revealed, not sealed" in got.output

    # the proof of A's live version; past the deadline the inclusion bundle of its
    # transaction is public like everything naming the tender, signed or not
    out = tmp / "proof.json"
    prove = ["bid", "prove", "--sealed", str(a_v2), "--anchor", str(b.anchor), "--out",
             str(out)]
    got = b.cli(*prove, "--url", b.url)
    assert got.exit_code == 0, got.output
    assert got.output.count("[ok]") == 7 and "FAILED" not in got.output
    got = b.cli(*prove, *b.key("a"))
    assert got.exit_code == 0, got.output
    assert got.output.count("[ok]") == 7 and "FAILED" not in got.output
    assert "bid.replace" in got.output and "+08:00" in got.output
    verify = b.cli("verify", str(tmp / "proof.inclusion.json"), "--anchor", str(b.anchor))
    assert verify.exit_code == 0 and "inclusion bundle (PROTOCOL §8)" in verify.output
    assert "call bid.replace" in verify.output


def test_decrypt_failed_is_loud_and_not_zero(bidding: Bidding,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """If a reveal ever ends in decrypt_failed (the checks let it through), the command
    says what it costs and exits 3. The checks are switched off here to get there."""
    import shell.bidding

    b, tmp = bidding, bidding.tmp
    a_file = tmp / "a.sealed.json"
    assert b.seal("a", a_file).exit_code == 0
    for name in ("b", "c"):
        sealed = seal_bid(SUITE, CHAIN, b.tender, 1, b.uscc[name], name.encode(), 90_000_000)
        b.story.send(name, "bid.submit", sealed.submit_args(f"G-{name}"))
    b.open_bids(("a", "b", "c"))
    record = sealedfile.load(a_file)
    wrong = replace(record, content_key=bytes(32))
    a_file.unlink()
    sealedfile.create(a_file, sealedfile.to_doc(wrong))
    got = b.cli("bid", "reveal", *b.key("a"), "--sealed", str(a_file))
    assert got.exit_code != 0 and "not revealed" in got.output  # the checks catch it

    original = shell.bidding.check_reveal

    def blind(*args: Any) -> Any:
        checked = original(*args)
        return shell.bidding.RevealCheck([], checked.price_fen, checked.window_end_ms)

    monkeypatch.setattr(shell.bidding, "check_reveal", blind)
    got = b.cli("bid", "reveal", *b.key("a"), "--sealed", str(a_file))
    assert got.exit_code == 3, got.output
    assert "DECRYPTION FAILED" in got.output and "REVOKED" in got.output
    assert "CLAIM your electronic guarantee G-a" in got.output


def test_a_sealed_file_with_a_clear_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    sealed = seal_bid(SUITE, CHAIN, "T-1", 1, demo_uscc(3), b"f", 5)
    record = sealedfile.SealedBidFile(
        chain_id=CHAIN, tender_id="T-1", lot=1, uscc=demo_uscc(3), guarantee="",
        file_hash=sealed.file_hash, sealed_summary=sealed.sealed_summary,
        commitment=sealed.commitment, content_key=sealed.content_key, price_fen=5)
    path = tmp_path / "s.json"
    sealedfile.create(path, sealedfile.to_doc(record))
    assert sealedfile.load(path).content_key == sealed.content_key
    path.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        sealedfile.load(path)
    protected = tmp_path / "p.json"
    sealedfile.create(protected, sealedfile.to_doc(record, b"pw"))
    protected.chmod(0o644)  # the secret is encrypted: readable is no leak of the key
    locked = sealedfile.load(protected)
    assert locked.locked and sealedfile.unlock(locked, b"pw").price_fen == 5
    # the secret moved into another bid's file does not open there
    doc = json.loads(protected.read_text())
    doc["tender_id"] = "T-2"
    protected.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="wrong sealed-file passphrase"):
        sealedfile.load(protected, lambda: b"pw")


def test_tx_send_fails_on_a_failed_receipt_and_shows_events(bidding: Bidding) -> None:
    b = bidding
    args = json.dumps({"tender_id": b.tender, "lot": 1})
    got = b.cli("tx", "send", *b.key("a"), "--call", "bid.withdraw", "--args", args)
    assert got.exit_code == 1, got.output
    assert "receipt E_NOT_FOUND" in got.output and "transaction failed: E_NOT_FOUND" in got.output
    assert "+08:00" in got.output
    assert b.seal("a", b.tmp / "a.json").exit_code == 0
    got = b.cli("tx", "send", *b.key("a"), "--call", "bid.withdraw", "--args", args, "--json")
    assert got.exit_code == 0, got.output
    shown = json.loads(got.output)
    assert shown["receipt"]["code"] == "OK" and shown["time"].endswith("+08:00")
    assert isinstance(shown["time_ms"], int)
    assert [e["type"] for e in shown["receipt"]["events"]] == ["bid.withdrawn"]


def test_export_and_history_over_a_nodes_api_need_a_supervisor(bidding: Bidding) -> None:
    """Over a node's API: the node shows whole blocks to supervisors only, so an export as
    the public stops at block 1 (exit 3, nothing lost); as a supervisor it has every block,
    sealed bids included, and the history still keeps them sealed until the deadline; after
    the deadline the same command appends the rest and the history shows the bids."""
    b, tmp = bidding, bidding.tmp
    assert b.seal("a", tmp / "a.json").exit_code == 0
    node_doc = b.anchor.with_name("genesis.json")  # written by the live_node fixture
    out = tmp / "x.sqlite"
    args = ["audit", "export", "--genesis", str(node_doc), "--anchor", str(b.anchor),
            "--url", b.url, "--out", str(out)]
    got = b.cli(*args)
    assert got.exit_code == 3, got.output
    assert "stopped at height 1: the node withholds that block" in got.output
    assert "a supervisor's --key" in got.output
    supervisor = b.key("supervisor")[2:]  # --key FILE --passphrase-file FILE
    got = b.cli(*args, *supervisor)
    assert got.exit_code == 0, got.output
    got = b.cli("history", "tender", b.tender, "--db", str(out))
    assert got.exit_code == 0 and "bids are sealed" in got.output
    got = b.cli("history", "entity", b.uscc["a"], "--db", str(out))
    assert "sealed until its deadline" in got.output and "commitment" not in got.output
    b.client.wait_until(b.deadline)
    got = b.cli(*args, *supervisor)
    assert got.exit_code == 0 and "exported heights" in got.output, got.output
    got = b.cli("history", "entity", b.uscc["a"], "--db", str(out))
    assert "bid on tender" in got.output and "sealed (version 1" in got.output
    # straight from the node, as a supervisor, through a temporary export
    got = b.cli("history", "tender", b.tender, "--genesis", str(node_doc), "--url", b.url,
                *supervisor)
    assert got.exit_code == 0 and "BID DEADLINE" in got.output, got.output


def test_a_sealed_file_of_the_first_format_still_loads_and_retires(tmp_path: Path) -> None:
    """Files written before the format had a version: secret fields at the top level."""
    sealed = seal_bid(SUITE, CHAIN, "T-1", 1, demo_uscc(3), b"f", 777)
    old = {"chain_id": CHAIN, "tender_id": "T-1", "lot": 1, "uscc": demo_uscc(3),
           "content_key": sealed.content_key.hex(), "file_hash": sealed.file_hash.hex(),
           "sealed_summary": sealed.sealed_summary.hex(),
           "commitment": sealed.commitment.hex(), "summary": sealed.summary.hex(),
           "guarantee": "G-1", "tx_id": "ab" * 32, "height": 9}
    path = tmp_path / "old.sealed.json"
    sealedfile.create(path, old)
    record = sealedfile.load(path)
    assert (record.status, record.price_fen, record.content_key) == (
        "live", 777, sealed.content_key)
    moved = sealedfile.rewrite(path, sealedfile.to_doc(record.with_status("withdrawn")),
                               sealedfile.retired_path(path, "withdrawn"))
    assert moved.name == "old.sealed.withdrawn.json" and not path.exists()
    again = sealedfile.load(moved)
    assert again.status == "withdrawn" and again.extra["height"] == 9
