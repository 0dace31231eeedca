"""Bidder safety, against a live one-validator node over loopback HTTP: enrolment keeps the
bidder secret safe (a new 0600 file, never overwritten, removed when the chain refuses it) and
a seal with a secret not enrolled is refused by the chain, clearly; the sealed file is
checked before a reveal (entity, itself, the bid on chain, the window) and a mismatch is
refused before anything is sent; refused seals leave no live-looking file; replace and
withdraw retire the old file; a passphrase protects the secret (the bidder secret with it);
a sealed file made before bidder secrets says to seal again; ``decrypt_failed`` is loud and
non-zero; ``bid prove`` adds the §8 inclusion bundle; ``tx send`` fails on a failed
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
from contracts.bid import enrolment_key
from contracts.bidder import SealedBid, enrol_args, new_bid_secret, seal_bid
from contracts.scenario import _Story, actor_secret, demo_uscc
from ledger import keyfile
from shell import biddersecret, sealedfile
from shell.client import NodeClient
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

    def secret_file(self, who: str) -> Path:
        """``who``'s bidder-secret file, enrolled with ``credchain bid enrol`` on first use."""
        path = self.tmp / f"{who}.secret.json"
        if not path.exists():
            got = self.cli("bid", "enrol", *self.key(who), "--secret-file", str(path))
            assert got.exit_code == 0, got.output
        return path

    def seal(self, who: str, out: Path, price: str = "88800000", uscc: str | None = None,
             *extra: str, secret: Path | None = None) -> Result:
        return self.cli("bid", "seal", *self.key(who), "--tender", self.tender, "--uscc",
                        uscc or self.uscc[who], "--file", str(self.tmp / "bid.pdf"),
                        "--price-fen", price, "--guarantee", f"G-{who}", "--secret-file",
                        str(secret or self.secret_file(who)), "--out", str(out), *extra)

    def helper_bid(self, name: str, price_fen: int) -> SealedBid:
        """A bid of ``name`` through the Python helper (enrolling it first)."""
        secret = new_bid_secret()
        self.story.send(name, "bid.enrol", enrol_args(SUITE, secret))
        sealed = seal_bid(SUITE, CHAIN, self.tender, 1, self.uscc[name], name.encode(),
                          price_fen, secret)
        self.story.send(name, "bid.submit", sealed.submit_args(f"G-{name}"))
        return sealed

    def protected(self) -> list[str]:
        return ["--sealed-passphrase-file", str(self.tmp / "sealed-pass")]

    def open_bids(self, *slots: bytes) -> None:
        """Open after the deadline, naming the live slots (the sealed bids' own)."""
        self.client.wait_until(self.deadline)
        self.story.send("platform", "bid.open",
                        {"tender_id": self.tender, "slots": [sorted(slots)]})


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
    # the bidder secret is encrypted with the content key: not in the clear JSON
    bid_secret = bytes.fromhex(json.loads(b.secret_file("a").read_text())["bid_secret"])
    assert bid_secret.hex() not in a_v1.read_text() and len(doc["slot"]) == 64
    assert sealedfile.load(a_v1, lambda: SEALED_PASS).bid_secret == bid_secret

    # another entity's USCC with A's key: refused before anything is sent
    got = b.seal("a", tmp / "x.json", "1", b.uscc["b"])
    assert got.exit_code != 0 and "is the bidder secret of" in got.output
    got = b.seal("a", tmp / "x.json", "1", b.uscc["b"], secret=b.secret_file("b"))
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
    assert got.exit_code == 0 and "G-b no longer held" in got.output, got.output
    assert json.loads((tmp / "b.sealed.withdrawn.json").read_text())["status"] == "withdrawn"
    got = b.seal("b", b_v2, "91000000")
    assert got.exit_code == 0, got.output
    sealed_c = b.helper_bid("c", 95_000_000)

    # bid status of a live file asks the chain (user walk: "live bid" from the file alone)
    got = b.cli("bid", "status", *b.key("a"), "--sealed", str(a_v2))
    assert got.exit_code == 0 and "[ok] on chain the bid is this file's (version 2), sealed" \
        in got.output, got.output
    stale = tmp / "a.stale.sealed.json"  # the replaced version, its status edited to live
    stale.write_text(json.dumps({**json.loads(replaced.read_text()), "status": "live"}))
    stale.chmod(0o600)
    got = b.cli("bid", "status", *b.key("a"), "--sealed", str(stale))
    assert got.exit_code == 1 and "this file is not the live version" in got.output, got.output
    got = b.cli("bid", "status", *b.key("b"), "--sealed", str(a_v2))  # another entity's key
    assert got.exit_code != 0 and "but the sealed file is" in got.output, got.output

    # before the deadline: the bidder reads its own bid (the live version 2), but the window
    # is not open: refused
    got = b.cli("bid", "reveal", *b.key("a"), *b.protected(), "--sealed", str(a_v2))
    assert got.exit_code != 0 and "not revealed" in got.output
    assert "[ok] the bid on chain (version 2) is this file's" in got.output
    assert "[FAILED] tender" in got.output and "is not in a decryption window" in got.output
    assert "it opens when the platform opens the bids, at or after the deadline" in got.output
    assert "nothing was sent" in got.output

    b.open_bids(sealedfile.load(a_v2).slot, sealedfile.load(b_v2).slot, sealed_c.slot)
    # past the deadline a withdrawal is refused before it is sent, saying why (user walk: a
    # committed E_LIFECYCLE "'bid' is not possible in state 'decrypting'")
    got = b.cli("bid", "withdraw", *b.key("b"), "--secret-file", str(b.secret_file("b")),
                "--tender", b.tender)
    assert got.exit_code != 0 and "bid deadline" in got.output and "has passed; no bid is " \
        "withdrawn after it" in got.output, got.output
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

    # the proof of A's live version: the state bundles are public past the deadline, the
    # inclusion bundle of its transaction (which names A's bidder secret) is A's for good
    out = tmp / "proof.json"
    prove = ["bid", "prove", "--sealed", str(a_v2), "--anchor", str(b.anchor), "--out",
             str(out)]
    got = b.cli(*prove, "--url", b.url)
    assert got.exit_code == 0, got.output
    assert got.output.count("[ok]") == 5 and "FAILED" not in got.output
    assert "[not checked]" in got.output and "give the bidder's --key" in got.output
    got = b.cli(*prove, *b.key("a"))
    assert got.exit_code == 0, got.output
    assert got.output.count("[ok]") == 9 and "FAILED" not in got.output
    assert "bid.replace" in got.output and "+08:00" in got.output
    # the replaced version's file, its status edited back to "live" (user walk: it proved
    # PROVED for the version that did not count): the record after the deadline holds the
    # new commitment, so it is not proved
    doctored = tmp / "a.doctored.sealed.json"
    old_version = json.loads(replaced.read_text())
    doctored.write_text(json.dumps({**old_version, "status": "live"}))
    doctored.chmod(0o600)
    got = b.cli("bid", "prove", "--sealed", str(doctored), "--anchor", str(b.anchor),
                "--out", str(tmp / "doctored.proof.json"), *b.key("a"))
    assert got.exit_code != 0 and "[FAILED] the bid record" in got.output, got.output
    # it names the bidder secret: the owner's alone, also when an earlier file was wider
    assert stat.S_IMODE((tmp / "proof.inclusion.json").stat().st_mode) == 0o600
    assert "mode 0600" in got.output
    (tmp / "proof.inclusion.json").chmod(0o644)
    got = b.cli(*prove, *b.key("a"))
    assert got.exit_code == 0, got.output
    assert stat.S_IMODE((tmp / "proof.inclusion.json").stat().st_mode) == 0o600
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
    others = [b.helper_bid(name, 90_000_000).slot for name in ("b", "c")]
    record = sealedfile.load(a_file)
    b.open_bids(record.slot, *others)
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


def _sealed_record(price_fen: int) -> tuple[SealedBid, sealedfile.SealedBidFile]:
    sealed = seal_bid(SUITE, CHAIN, "T-1", 1, demo_uscc(3), b"f", price_fen, new_bid_secret())
    return sealed, sealedfile.SealedBidFile(
        chain_id=CHAIN, tender_id="T-1", lot=1, uscc=demo_uscc(3), guarantee="",
        file_hash=sealed.file_hash, sealed_summary=sealed.sealed_summary,
        commitment=sealed.commitment, slot=sealed.slot, content_key=sealed.content_key,
        price_fen=price_fen, bid_secret=sealed.bid_secret)


def test_a_sealed_file_with_a_clear_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    sealed, record = _sealed_record(5)
    path = tmp_path / "s.json"
    sealedfile.create(path, sealedfile.to_doc(record))
    opened = sealedfile.load(path)
    assert (opened.content_key, opened.bid_secret, opened.slot) == (
        sealed.content_key, sealed.bid_secret, sealed.slot)
    path.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        sealedfile.load(path)
    protected = tmp_path / "p.json"
    sealedfile.create(protected, sealedfile.to_doc(record, b"pw"))
    protected.chmod(0o644)  # the secret is encrypted: readable is no leak of the key
    text = protected.read_text()
    assert sealed.bid_secret.hex() not in text and sealed.content_key.hex() not in text
    assert json.loads(text)["slot"] == sealed.slot.hex()  # public: the bid's key on chain
    locked = sealedfile.load(protected)
    assert locked.locked and locked.bid_secret is None and locked.slot == sealed.slot
    opened = sealedfile.unlock(locked, b"pw")
    assert (opened.price_fen, opened.bid_secret) == (5, sealed.bid_secret)
    # the secret does not open under another slot (the public fields are its associated data)
    doc = json.loads(text)
    doc["slot"] = "00" * 32
    moved = tmp_path / "q.json"
    moved.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="wrong sealed-file passphrase"):
        sealedfile.load(moved, lambda: b"pw")
    # the secret moved into another bid's file does not open there
    doc = json.loads(protected.read_text())
    doc["tender_id"] = "T-2"
    protected.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="wrong sealed-file passphrase"):
        sealedfile.load(protected, lambda: b"pw")


def test_tx_send_fails_on_a_failed_receipt_and_shows_events(bidding: Bidding) -> None:
    b = bidding
    secret = json.loads(b.secret_file("a").read_text())["bid_secret"]
    args = json.dumps({"tender_id": b.tender, "lot": 1, "bid_secret": {"$bin": secret}})
    # a sealed bid call from the entity's own key is refused: its nonce would show the bid
    got = b.cli("tx", "send", *b.key("a"), "--call", "bid.withdraw", "--args", args)
    assert got.exit_code == 1, got.output
    assert "receipt E_FORBIDDEN" in got.output and "transaction failed: E_FORBIDDEN" in got.output
    assert "one-time agent key" in got.output.replace("\n", " ")
    assert "+08:00" in got.output
    fresh = json.dumps({"commitment": {"$bin": "07" * 32}})  # a second secret (a lost one)
    got = b.cli("tx", "send", *b.key("a"), "--call", "bid.enrol", "--args", fresh, "--json")
    assert got.exit_code == 0, got.output
    shown = json.loads(got.output)
    assert shown["receipt"]["code"] == "OK" and shown["time"].endswith("+08:00")
    assert isinstance(shown["time_ms"], int)
    assert [e["type"] for e in shown["receipt"]["events"]] == ["bid.enrolled"]


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
    assert "the key given is not one" not in got.output  # none was given (auditor walk)
    got = b.cli(*args, *b.key("a")[2:])  # an enterprise's key is no supervisor's
    assert got.exit_code == 3 and "the key given is not one" in got.output, got.output
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
    # a genesis of another chain than the node's: said so, not a withheld block or a 401
    other = json.loads(node_doc.read_text())
    other["chain_id"] = "another-chain"
    (tmp / "other.json").write_text(json.dumps(other))
    got = b.cli("audit", "replay", "--genesis", str(tmp / "other.json"), "--url", b.url,
                *supervisor)
    assert got.exit_code != 0
    assert "serves chain" in got.output and "not 'another-chain'" in got.output, got.output
    # as the public: the node withholds the blocks, so the answer is PARTIAL (exit 3), never
    # "nothing about this entity" alone
    for what in (("tender", b.tender), ("entity", b.uscc["a"])):
        got = b.cli("history", *what, "--genesis", str(node_doc), "--url", b.url)
        assert got.exit_code == 3, got.output
        assert "PARTIAL: the history ends at block 0" in got.output
        assert "a supervisor's --key" in got.output
        # the line above it does not read as "there is no such tender" (user walk)
        if "tender" in what:
            assert "block 0, the last this reader was shown: later blocks may hold it" \
                in got.output, got.output


def test_a_sealed_file_made_before_bidder_secrets_says_to_seal_again(tmp_path: Path) -> None:
    """Files of version 2 (and version 1, before the format had a name) hold no slot and no
    bidder secret: they can act on no bid, and reading one says so in one line."""
    sealed, record = _sealed_record(777)
    v3 = sealedfile.to_doc(record)
    v2 = {k: v for k, v in v3.items() if k != "slot"}
    v2["version"] = 2
    v2["secret"] = {"content_key": sealed.content_key.hex(), "price_fen": 777}
    v1 = {k: v for k, v in v2.items() if k not in ("format", "version", "status", "secret")}
    v1.update(content_key=sealed.content_key.hex(), summary=sealed.summary.hex())
    for version, doc in ((2, v2), (1, v1)):
        path = tmp_path / f"v{version}.sealed.json"
        sealedfile.create(path, doc)
        with pytest.raises(Exception, match=f"version {version}, made before bidder secrets") \
                as caught:
            sealedfile.load(path)
        assert "seal the bid again" in str(caught.value) and "\n" not in str(caught.value)
    key = tmp_path / "a.key"
    keyfile.save_key(key, SUITE, actor_secret(SUITE, "a"), PASSPHRASE)
    got = CliRunner().invoke(main, ["bid", "status", "--key", str(key), "--sealed",
                                    str(tmp_path / "v2.sealed.json")])
    assert got.exit_code == 1 and "seal the bid again" in got.output, got.output


def test_enrolment_keeps_the_secret_safe_and_a_seal_needs_it(bidding: Bidding) -> None:
    """``bid enrol`` never overwrites a file, enrols a second secret only with --lost, keeps
    no file when the chain refuses; a seal with a secret never enrolled is refused by the
    chain (E_BID_SECRET) and the message says to enrol first."""
    b, tmp = bidding, bidding.tmp
    # a secret file of A's that was never enrolled: the chain refuses the bid, clearly
    stray = tmp / "stray.secret.json"
    biddersecret.create(stray, biddersecret.BidderSecretFile(CHAIN, b.uscc["a"],
                                                             new_bid_secret()))
    got = b.seal("a", tmp / "a.json", secret=stray)
    assert got.exit_code == 1 and "bid refused: E_BID_SECRET" in got.output, got.output
    assert "credchain bid enrol" in got.output and not (tmp / "a.json").exists()

    path = b.secret_file("a")  # enrolled through the CLI
    before = path.read_bytes()
    enrol = ["bid", "enrol", *b.key("a"), "--secret-file"]
    got = b.cli(*enrol, str(path), "--lost")
    assert got.exit_code == 1 and "exists already" in got.output
    assert path.read_bytes() == before  # never overwritten
    got = b.cli(*enrol, str(tmp / "again.json"))
    assert got.exit_code == 1 and "enrolled a bidder secret already" in got.output
    assert not (tmp / "again.json").exists()
    as_a = NodeClient(b.url).as_key(SUITE, actor_secret(SUITE, "a"))
    assert len(as_a.state(enrolment_key(b.uscc["a"]))["secrets"]) == 1
    # a key bound to no entity: refused before any file is made
    got = b.cli("bid", "enrol", *b.key("operator"), "--secret-file", str(tmp / "op.json"))
    assert got.exit_code == 1 and "not bound to an entity" in got.output
    assert not (tmp / "op.json").exists()
    # a file others may read is refused, like a key file
    path.chmod(0o644)
    got = b.seal("a", tmp / "a.json", secret=path)
    assert got.exit_code == 1 and "chmod 600" in got.output
    path.chmod(0o600)
    got = b.seal("a", tmp / "a.json", secret=path)
    assert got.exit_code == 0, got.output


def test_a_lost_sealed_file_does_not_stop_a_withdrawal(bidding: Bidding) -> None:
    """Before the deadline the bidder-secret file, the tender and the lot are enough to
    withdraw; the withdrawal goes from a one-time agent key, so the entity's own nonce does
    not move (nothing a stranger could watch ties it to the bid)."""
    b = bidding
    sealed = b.tmp / "a.json"
    assert b.seal("a", sealed).exit_code == 0, "sealed"
    both = b.cli("bid", "withdraw", *b.key("a"), "--sealed", str(sealed), "--secret-file",
                 str(b.secret_file("a")))
    assert both.exit_code != 0 and "--sealed FILE, or by --secret-file" in both.output
    no_tender = b.cli("bid", "withdraw", *b.key("a"), "--secret-file", str(b.secret_file("a")))
    assert no_tender.exit_code != 0 and "needs --tender" in no_tender.output
    sealed.unlink()  # lost
    reader = NodeClient(b.url).as_key(SUITE, actor_secret(SUITE, "a"))
    nonce_before = reader.nonce(SUITE.public_key(actor_secret(SUITE, "a")))
    got = b.cli("bid", "withdraw", *b.key("a"), "--secret-file", str(b.secret_file("a")),
                "--tender", b.tender, "--lot", "1")
    assert got.exit_code == 0, got.output
    assert f"bid on tender {b.tender} lot 1 withdrawn in block" in got.output
    again = b.cli("bid", "withdraw", *b.key("a"), "--secret-file", str(b.secret_file("a")),
                  "--tender", b.tender)
    assert again.exit_code != 0 and "E_NOT_FOUND" in again.output
    assert reader.nonce(SUITE.public_key(actor_secret(SUITE, "a"))) == nonce_before
