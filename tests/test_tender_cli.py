"""``credchain tender open`` and ``tender close`` against a real node: the platform lists each
lot's live slots through the signed route, names them in ``bid.open`` and reads the lots'
outcomes from the receipt (DOMAIN.md step 5: fewer than 3 bids fail the lot, otherwise a
decryption window opens); closing publishes the opening record. What the contract would
refuse is refused before anything is sent: too early (with the deadline in Beijing time),
another key than the platform's (the node's own reason), a tender opened already.

The chain is ``tests.browser.demochain``'s (its open tender's deadline is an hour ahead)
with three more tenders whose deadlines have passed, bids sealed before: ``past`` with a
lot of three bids and a lot of two, ``three`` with one lot of three bids, ``few`` with one
lot of two bids. A one-validator node serves it on loopback; the CLI runs in-process
(``CliRunner``) and signs as the platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from contracts.bidder import seal_bid
from contracts.periods import DAY_MS
from contracts.scenario_kit import DEMO_DAY_MS, _Story, actor_secret, bidder_secret
from ledger import keyfile
from ledger.verdict import beijing_time
from shell.client import NodeClient
from shell.demo import HttpScenarioClient
from tests.browser.demochain import ChainClient, DemoChain, Served, build_demo_chain, serve

PASSPHRASE = b"tender cli test"
PRICES_FEN = {"a": 88_800_000, "b": 91_000_000, "c": 95_500_000}


@dataclass
class Past:
    """A tender whose deadline has passed, its bids' content keys by (lot, bidder)."""

    tender_id: str
    lots: dict[int, list[str]]
    content_keys: dict[tuple[int, str], bytes]
    slots: dict[int, list[str]]


@dataclass
class World:
    served: Served
    past: Past
    three: Past
    few: Past
    keys: dict[str, list[str]]  # actor → the CLI's key options


def _past_tender(client: ChainClient, story: _Story, uscc: dict[str, str], label: str,
                 lots: dict[int, list[str]]) -> Past:
    """Announce a tender, seal its bids (each with its guarantee) and let its deadline pass,
    all at synthetic block times in the past."""
    suite = client.suite
    issue = client.now_ms() + 10_000  # after the announcing block
    deadline = issue + 21 * DEMO_DAY_MS
    tender_id = f"SW-{label}-{issue}"
    story.send("platform", "tender.announce", {
        "tender_id": tender_id, "rules": "bidding-law", "kind": "goods", "region": "441500",
        "tenderer": uscc["tenderer"], "agent": "", "platform_uscc": uscc["operator"],
        "related_parties": [], "doc_hash": suite.hash(label.encode()),
        "issue_start_ms": issue, "doc_sale_end_ms": issue + 5 * DEMO_DAY_MS,
        "deadline_ms": deadline, "validity_days": 60, "qualifications": [],
        "lots": [{"name": f"{label} lot {n}", "estimated_price_fen": 100_000_000,
                  "guarantee_fen": 1_000_000} for n in lots]})
    client.wait_until(issue)
    content_keys: dict[tuple[int, str], bytes] = {}
    slots: dict[int, list[str]] = {}
    for lot, names in lots.items():
        for name in names:
            number = f"BG-{label}-{issue}-{lot}-{name}"
            story.send("bank", "guarantee.issue", {
                "number": number, "principal": uscc[name], "beneficiary": uscc["tenderer"],
                "tender_id": tender_id, "lot": lot, "amount_fen": 1_000_000,
                "valid_from_ms": issue - DAY_MS, "valid_to_ms": issue + 400 * DAY_MS,
                "file_hash": suite.hash(number.encode())})
            sealed = seal_bid(suite, client.chain_id, tender_id, lot, uscc[name],
                              f"{label} bid {name}".encode(), PRICES_FEN[name],
                              bidder_secret(name))  # enrolled in the story
            story.send(name, "bid.submit", sealed.submit_args(number))
            content_keys[(lot, name)] = sealed.content_key
            slots.setdefault(lot, []).append(sealed.slot.hex())
    client.wait_until(deadline)
    return Past(tender_id, lots, content_keys, {n: sorted(s) for n, s in slots.items()})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    demo: DemoChain = build_demo_chain()
    client = ChainClient(demo.chain, demo.secret, demo.chain.store.head_header().time_ms)
    story = _Story(client, lambda _line: None, {})
    uscc = demo.summary["uscc"]
    past = _past_tender(client, story, uscc, "PAST", {1: ["a", "b", "c"], 2: ["a", "b"]})
    three = _past_tender(client, story, uscc, "THREE", {1: ["a", "b", "c"]})
    few = _past_tender(client, story, uscc, "FEW", {1: ["a", "b"]})
    # a block after both deadlines: the node judges "after the deadline" by its head's time
    story.send("bank", "guarantee.issue", {
        "number": "BG-AFTER", "principal": uscc["d"], "beneficiary": uscc["tenderer"],
        "tender_id": few.tender_id, "lot": 1, "amount_fen": 1_000_000,
        "valid_from_ms": client.now_ms() - DAY_MS, "valid_to_ms": client.now_ms() + DAY_MS,
        "file_hash": bytes(32)})
    tmp = tmp_path_factory.mktemp("tender")
    phrase = tmp / "pass"
    phrase.write_bytes(PASSPHRASE)
    phrase.chmod(0o600)
    keys = {}
    for actor in ("platform", "tenderer", "supervisor"):
        path = tmp / f"{actor}.key"
        keyfile.save_key(path, client.suite, actor_secret(client.suite, actor), PASSPHRASE)
        keys[actor] = ["--key", str(path), "--passphrase-file", str(phrase)]
    with serve(demo, tmp / "anchor.json") as served:
        yield World(served, past, three, few, keys)


def tender(world: World, command: str, tender_id: str, *more: str,
           actor: str = "platform") -> Result:
    return CliRunner().invoke(main, ["tender", command, tender_id, "--url", world.served.url,
                                     *world.keys[actor], *more])


def platform_nonce(world: World) -> int:
    suite = world.served.demo.chain.suite
    return NodeClient(world.served.url).nonce(suite.public_key(actor_secret(suite, "platform")))


def state(world: World, key: str) -> Any:
    return NodeClient(world.served.url).state(key)


def test_open_before_the_deadline_is_refused_with_the_deadline_in_beijing_time(
        world: World) -> None:
    tender_id = world.served.demo.open_tender
    sent_before = platform_nonce(world)
    result = tender(world, "open", tender_id)
    assert result.exit_code == 1, result.output
    deadline = beijing_time(int(state(world, f"tender/{tender_id}")["deadline_ms"]))
    assert "bid deadline has not passed" in result.output
    assert f"passes at {deadline} (Beijing time)" in result.output
    assert platform_nonce(world) == sent_before  # nothing was sent
    assert state(world, f"tender/{tender_id}")["state"] == "bidding"


def test_a_key_that_is_not_the_platforms_is_refused_with_the_nodes_reason(
        world: World) -> None:
    tender_id = world.past.tender_id
    result = tender(world, "open", tender_id, actor="tenderer")
    assert result.exit_code == 1, result.output
    assert "does not list the bid slots" in result.output
    assert "only the tender's platform (or a supervisor) lists its bid slots" in result.output
    # a supervisor may list the slots, but only the platform may open
    result = tender(world, "open", tender_id, actor="supervisor")
    assert result.exit_code == 1, result.output
    assert "is not the platform key that announced tender" in result.output
    closing = tender(world, "close", tender_id, actor="tenderer")
    assert closing.exit_code == 1 and "is not the platform key" in closing.output
    assert state(world, f"tender/{tender_id}")["state"] == "bidding"


def test_a_missing_tender_and_one_opened_already_are_refused(world: World) -> None:
    missing = tender(world, "open", "NO-SUCH")
    assert missing.exit_code == 1 and "no tender 'NO-SUCH'" in missing.output
    bad = tender(world, "open", "T/opening")
    assert bad.exit_code == 1 and "is not a tender id" in bad.output
    story_tender = world.served.demo.summary["tender_id"]  # opened, evaluated, awarded...
    opened = tender(world, "open", story_tender)
    assert opened.exit_code == 1, opened.output
    assert f"tender {story_tender} was opened already" in opened.output
    closed = tender(world, "close", story_tender)
    assert closed.exit_code == 1 and "was closed already" in closed.output
    not_yet = tender(world, "close", world.served.demo.open_tender)
    assert not_yet.exit_code == 1 and "has not been opened" in not_yet.output
    assert "Traceback" not in opened.output + closed.output + not_yet.output


def test_open_names_every_live_slot_and_reports_each_lot(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    past = world.past
    tid = past.tender_id
    # a wrong set of slots is a failed receipt: its code and message, exit 1, nothing opened
    from shell.commands import tender as tender_cmd

    real = tender_cmd._live_slots
    monkeypatch.setattr(tender_cmd, "_live_slots",
                        lambda client, t, lot: real(client, t, lot)[1:])
    wrong = tender(world, "open", tid)
    assert wrong.exit_code == 1, wrong.output
    assert "receipt E_BID_SET" in wrong.output and "transaction failed: E_BID_SET" in wrong.output
    monkeypatch.undo()
    assert state(world, f"tender/{tid}")["state"] == "bidding"

    opened = tender(world, "open", tid)
    assert opened.exit_code == 0, opened.output
    record = state(world, f"tender/{tid}")
    assert record["state"] == "decrypting"
    window_end = beijing_time(int(record["window_end_ms"]))
    lines = opened.output.splitlines()
    assert f"tender {tid} opened in block" in lines[0] and "now decrypting" in lines[0]
    assert lines[1] == (f"  lot 1 (PAST lot 1): 3 bid(s) named; decryption window open until "
                        f"{window_end}: each bidder reveals its content key (credchain bid "
                        "reveal)")
    assert lines[2].startswith("  lot 2 (PAST lot 2): 2 bid(s) named; FAILED (流标): fewer "
                               "than 3 bids (bid_min_count)")
    assert lines[3].startswith(f"close the window after {window_end}, or once every bid is "
                               "revealed: credchain tender close")
    # the slots named are exactly the sealed bids', as the contract checked and recorded
    for lot in (1, 2):
        assert state(world, f"tender/{tid}/slots/{lot}") == past.slots[lot]
    assert [lot["status"] for lot in record["lots"]] == ["decrypting", "failed"]

    again = tender(world, "open", tid)
    assert again.exit_code == 1 and "was opened already" in again.output
    # one bid of lot 1 still sealed: too early; the failed lot's bids wait on no one
    for name in ("a", "b"):
        _reveal(world, tid, name, past.content_keys[(1, name)])
    early = tender(world, "close", tid)
    assert early.exit_code == 1, early.output
    assert f"open until {window_end}; 1 bid(s) are not revealed yet (lot 1 " in early.output
    assert state(world, f"tender/{tid}")["state"] == "decrypting"
    _reveal(world, tid, "c", past.content_keys[(1, "c")])
    closed = tender(world, "close", tid)
    assert closed.exit_code == 0, closed.output
    opening = state(world, f"tender/{tid}/opening")
    assert [lot["status"] for lot in opening["lots"]] == ["opened", "failed"]


def _reveal(world: World, tender_id: str, name: str, content_key: bytes) -> None:
    bidder = _Story(HttpScenarioClient(world.served.url), lambda _line: None, {})
    bidder.send(name, "bid.reveal", {"tender_id": tender_id, "lot": 1,
                                     "content_key": content_key})


def test_close_waits_for_every_bid_then_publishes_the_opening_record(world: World) -> None:
    three = world.three
    tid = three.tender_id
    opened = tender(world, "open", tid)
    assert opened.exit_code == 0, opened.output
    assert "or once every bid is revealed" in opened.output
    window_end = beijing_time(int(state(world, f"tender/{tid}")["window_end_ms"]))
    early = tender(world, "close", tid)
    assert early.exit_code == 1, early.output
    assert f"open until {window_end}; 3 bid(s) are not revealed yet" in early.output

    for name in ("a", "b"):
        _reveal(world, tid, name, three.content_keys[(1, name)])
    _reveal(world, tid, "c", bytes(32))  # a wrong key: decrypt_failed, for good

    closed = tender(world, "close", tid)
    assert closed.exit_code == 0, closed.output
    out = closed.output
    uscc = world.served.demo.summary["uscc"]
    assert f"tender {tid}: decryption window closed in block" in out
    assert "  lot 1 (THREE lot 1): opened, 3 bid(s)" in out
    assert f"{uscc['a']}  revealed" in out and "888,000.00 yuan (88800000 fen)" in out
    assert f"{uscc['b']}  revealed" in out and "910,000.00 yuan" in out
    assert f"{uscc['c']}  decrypt_failed  no price (not revealed)" in out
    opening = state(world, f"tender/{tid}/opening")
    assert [b["status"] for b in opening["lots"][0]["bids"]].count("revealed") == 2
    assert state(world, f"tender/{tid}")["state"] == "opened"
    again = tender(world, "close", tid)
    assert again.exit_code == 1 and "was closed already" in again.output


def test_a_lot_with_fewer_than_three_bids_fails_and_leaves_no_window_to_close(
        world: World) -> None:
    import json

    tid = world.few.tender_id
    opened = tender(world, "open", tid, "--json")
    assert opened.exit_code == 0, opened.output
    got = json.loads(opened.output)
    assert got["receipt"]["code"] == "OK" and got["state"] == "failed"
    assert got["bid_min_count"] == 3
    assert got["lots"] == [{"lot": 1, "name": "FEW lot 1", "bids": 2,
                            "slots": world.few.slots[1], "outcome": "failed"}]
    events = {e["type"] for e in got["receipt"]["events"]}
    assert {"bid.lot_failed", "bid.opened", "guarantee.released"} <= events
    closing = tender(world, "close", tid)
    assert closing.exit_code == 1 and "failed at its opening" in closing.output


def test_the_commands_are_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "credchain tender open" in readme and "credchain tender close" in readme


def test_the_tender_side_lists_and_answers_an_objection_within_its_period(
        world: World, tmp_path: Path) -> None:
    """An enterprise objects to the open tender's documents; ``tender objections`` lists it
    (not who objected) with the end of its reply period; ``tender reply`` hashes the written
    reply and answers it; a second reply, an objection that does not exist and one whose
    period is over (3 demo days: 6 s) are refused before anything is sent."""
    import time

    url, suite = world.served.url, world.served.demo.chain.suite
    tid = world.served.demo.open_tender
    secret = actor_secret(suite, "d")
    objector = NodeClient(url).as_key(suite, secret)

    def object_() -> int:
        done = objector.send(objector.sign(suite, secret, "tender.object", {
            "tender_id": tid, "stage": "documents", "reason_hash": suite.hash(b"why")}))
        assert done.receipt.code == "OK", done.receipt
        return int(state(world, f"tender/{tid}")["objections"])

    n = object_()
    listed = CliRunner().invoke(main, ["tender", "objections", tid, "--url", url])
    assert listed.exit_code == 0, listed.output
    assert f"  {n}  documents" in listed.output and "open; reply by" in listed.output
    assert world.served.demo.summary["uscc"]["d"] not in listed.output
    reply = tmp_path / "reply.txt"
    reply.write_text("the documents are clear on this point")
    answered = tender(world, "reply", tid, str(n), "--reply-file", str(reply),
                      actor="tenderer")
    assert answered.exit_code == 0, answered.output
    assert "tender.replied" in answered.output
    assert state(world, f"tender/{tid}/objection/{n}")["reply_hash"] == {
        "$bin": suite.hash(reply.read_bytes()).hex()}
    tenderer = NodeClient(url).as_key(suite, actor_secret(suite, "tenderer"))  # its own nonce
    sent = tenderer.nonce(suite.public_key(actor_secret(suite, "tenderer")))
    again = tender(world, "reply", tid, str(n), "--reply-file", str(reply), actor="tenderer")
    assert again.exit_code == 1 and f"objection {n} to tender {tid} is replied" in again.output
    missing = tender(world, "reply", tid, str(n + 5), "--reply-hash", "00" * 32,
                     actor="tenderer")
    assert missing.exit_code == 1 and f"has no objection {n + 5}" in missing.output
    late = object_()
    reply_by = next(o for o in _objections(url, tid) if o["n"] == late)["reply_by_ms"]
    started = time.monotonic()
    while NodeClient(url).head_time_ms() < reply_by:  # bounded: 3 demo days are 6 s
        assert time.monotonic() < started + 30, "the chain's time did not pass the period"
        time.sleep(0.5)
        objector.send(objector.sign(suite, secret, "tender.object", {
            "tender_id": tid, "stage": "documents", "reason_hash": suite.hash(b"tick")}))
    over = tender(world, "reply", tid, str(late), "--reply-hash", "11" * 32, actor="tenderer")
    assert over.exit_code == 1 and "a supervisor rules on it now" in over.output
    assert tenderer.nonce(suite.public_key(actor_secret(suite, "tenderer"))) == sent
    # the listing says so too, not "reply by" a time past (user walk)
    listed = CliRunner().invoke(main, ["tender", "objections", tid, "--url", url])
    row = next(line for line in listed.output.splitlines() if line.startswith(f"  {late}  "))
    assert "reply by" not in row and "a supervisor rules now" in row, row


def _objections(url: str, tender_id: str) -> list[dict[str, Any]]:
    import json

    got = CliRunner().invoke(main, ["tender", "objections", tender_id, "--url", url, "--json"])
    assert got.exit_code == 0, got.output
    objections: list[dict[str, Any]] = json.loads(got.output)["objections"]
    return objections


def test_an_auditor_without_a_key_checks_the_certified_header_chain(world: World) -> None:
    """``audit replay`` stops at block 1 for anyone but a supervisor (blocks' contents are
    theirs): ``audit headers`` is what such an auditor can check, from the anchor alone."""
    url, anchor = world.served.url, str(world.served.anchor_path)
    head = NodeClient(url).status()["height"]
    done = CliRunner().invoke(main, ["audit", "headers", "--anchor", anchor, "--url", url])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("VALID: headers 1..") and "not checked: what the blocks " \
        "hold" in done.output
    top = int(done.output.split("headers 1..")[1].split()[0])
    assert top >= head
    part = CliRunner().invoke(main, ["audit", "headers", "--anchor", anchor, "--url", url,
                                     "--to-height", "5", "--json"])
    assert part.exit_code == 0 and '"head_height": 5' in part.output
    above = CliRunner().invoke(main, ["audit", "headers", "--anchor", anchor, "--url", url,
                                      "--to-height", "99999"])  # (walk: it named a bundle URL)
    assert above.exit_code != 0 and "--to-height 99999 is above the node's head" in above.output


def test_verify_says_what_a_proven_record_means_and_how_old_the_proof_is(
        world: World, tmp_path: Path) -> None:
    """A verifier read "VALID … PRESENT" for a claimed guarantee, with "claimed" buried in a
    JSON line, and no word on a proof's age (verifier walk)."""
    url, anchor = world.served.url, str(world.served.anchor_path)
    summary = world.served.demo.summary
    claimed, debarred = summary["claimed"], summary["uscc"]["d"]
    for key, meaning in ((f"guarantee/{claimed}", "guarantee: claimed; 50,000.00 yuan"),
                         (f"id/entity/{debarred}", "in force at this block: yes")):
        out = tmp_path / "b.json"
        got = CliRunner().invoke(main, ["proof", key, "--url", url, "--out", str(out)])
        assert got.exit_code == 0, got.output
        shown = CliRunner().invoke(main, ["verify", str(out), "--anchor", anchor])
        assert shown.exit_code == 0 and f"  meaning {key}: " in shown.output, shown.output
        assert meaning in shown.output, shown.output
    old = CliRunner().invoke(main, ["proof", f"guarantee/{claimed}", "--height", "3", "--url",
                                    url, "--out", str(tmp_path / "old.json")])
    assert old.exit_code == 0, old.output
    shown = CliRunner().invoke(main, ["verify", str(tmp_path / "old.json"), "--anchor", anchor])
    assert "ABSENT" in shown.output and "meaning" not in shown.output
    assert "ago by this computer's clock: a later block may say otherwise" in shown.output
