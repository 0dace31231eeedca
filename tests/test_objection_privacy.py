"""Who objected to a tender's documents stays sealed until its bid deadline (DOMAIN.md step 3
and step 4): a documents objector is a prospective bidder. The objection record is public
(the tender's side replies to it, an open objection holds the next step) and names no one;
who made it is ``objector/<tender>/<n>``, served before the deadline only to the objector
itself and supervisors (``contracts.disclosure.key_refusal``), to state and proof reads
alike, and not shown by the portal; from the deadline on anyone reads it.

The chain is built with the contract harness, replayed into a real store and served by an
in-process node (as ``tests/test_privacy.py`` does); ``credchain history`` reads an export
of it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from contracts.objections import objector_key
from contracts.periods import ms_of_beijing
from contracts.tender_rules import E_OBJECTION_OPEN
from shell.api import build_app
from shell.auditrun import run_replay
from shell.export import Export
from shell.history import entity_history, tender_timeline
from shell.readers import sign_request
from shell.server import Node
from tests.storechain import StoreSource
from tests.test_privacy import node_of, replay
from tests.trading_kit import DEADLINE_MS, H32, Trading

OBJECTOR_NAME = "Quibbler Works Ltd"
OBJECTION = "tender/T1/objection/1"
OBJECTOR = "objector/T1/1"


def story() -> Trading:
    """T1 announced; a rival bids; the objector objects to the documents; the tenderer
    replies. All before the deadline."""
    t = Trading()
    t.announce()
    t.entity(OBJECTOR_NAME)
    rival = t.entity("rival")
    t.issue("G-rival", "rival")
    t.h.expect_ok(rival, "bid.submit", t.bid_args(rival, 1_000_000, "G-rival"))
    t.h.expect_ok(t.h.account(OBJECTOR_NAME), "tender.object",
                  {"tender_id": "T1", "stage": "documents", "reason_hash": H32},
                  at_ms=ms_of_beijing(2024, 3, 2, 10))
    t.h.expect_ok(t.tenderer, "tender.reply", {"tender_id": "T1", "n": 1, "reply_hash": H32})
    assert t.h.time_ms < DEADLINE_MS
    return t


def ask(node: Node, t: Trading, targets: list[str],
        signer: str | None = None) -> list[tuple[int, Any]]:
    """Each target's status and body (JSON or text), unsigned or signed by ``signer``."""

    async def run() -> list[tuple[int, Any]]:
        out = []
        async with TestClient(TestServer(build_app(node, node.guard))) as client:
            for target in targets:
                headers = {} if signer is None else sign_request(
                    t.h.suite, t.h.account(signer).secret, t.h.chain_id, "GET", target)
                resp = await client.get(target, headers=headers)
                body = (await resp.json() if resp.content_type == "application/json"
                        else await resp.text())
                out.append((resp.status, body))
        return out

    return asyncio.run(run())


SEALED_READS = [f"/state/{OBJECTOR}", f"/proof/{OBJECTOR}", f"/proofs?key={OBJECTOR}",
                f"/proofs?key={OBJECTION}&key=tender/T1&key={OBJECTOR}"]


def test_the_contract_writes_who_objected_apart_from_the_public_record() -> None:
    t = story()
    record = t.h.get(OBJECTION)
    assert "objector" not in record and record["status"] == "replied"
    assert t.h.get(objector_key("T1", 1)) == {"uscc": t.uscc_of[OBJECTOR_NAME]}


def test_before_the_deadline_only_the_objector_and_supervisors_learn_who_objected() -> None:
    t = story()
    uscc = t.uscc_of[OBJECTOR_NAME]
    node = node_of(replay(t), t)
    try:
        for reader in (None, "rival"):  # a stranger, a competitor
            (status, body), *sealed = ask(node, t, [f"/state/{OBJECTION}", *SEALED_READS],
                                          reader)
            assert status == 200 and body["value"]["status"] == "replied"
            assert "objector" not in body["value"] and uscc not in json.dumps(body)
            assert [s for s, _ in sealed] == [403] * len(SEALED_READS), (reader, sealed)
            assert all(uscc not in json.dumps(b) for _, b in sealed)
        for reader in (OBJECTOR_NAME, "supervisor"):
            got = ask(node, t, SEALED_READS, reader)
            assert [s for s, _ in got] == [200] * len(SEALED_READS), (reader, got)
            assert got[0][1]["value"] == {"uscc": uscc}
        # the portal reads as the public, whoever asks: no name, no USCC
        for reader in (None, OBJECTOR_NAME):
            [(status, html)] = ask(node, t, ["/portal/tender/T1"], reader)
            assert status == 200 and "Objection 1" in html and "Reply to objection 1" in html
            assert uscc not in html and OBJECTOR_NAME not in html
            assert "Made public at the bid deadline" in html
    finally:
        node.admission.close()


def test_from_the_deadline_anyone_reads_who_objected() -> None:
    t = story()
    t.h.run_block([], at_ms=DEADLINE_MS)
    uscc = t.uscc_of[OBJECTOR_NAME]
    node = node_of(replay(t), t)
    try:
        got = ask(node, t, SEALED_READS)
        assert [s for s, _ in got] == [200] * len(SEALED_READS), got
        assert got[0][1]["value"] == {"uscc": uscc}
        [(status, html)] = ask(node, t, ["/portal/tender/T1"])
        assert status == 200 and uscc in html and OBJECTOR_NAME in html
        assert f'data-expect="{OBJECTOR}"' in html  # with its proof
    finally:
        node.admission.close()


def test_an_open_documents_objection_still_holds_the_opening_until_ruled() -> None:
    t = Trading()
    t.announce()
    bidder = t.entity("b")
    t.bid(bidder, 100)
    t.h.expect_ok(t.entity("o"), "tender.object",
                  {"tender_id": "T1", "stage": "documents", "reason_hash": H32})
    t.h.expect_refused(t.platform, "bid.open", {"tender_id": "T1", "slots": t.slots()},
                       E_OBJECTION_OPEN, at_ms=DEADLINE_MS)
    t.h.expect_ok(t.supervisor, "tender.rule", {"tender_id": "T1", "n": 1, "ruling": "upheld"})
    assert t.h.get(OBJECTION)["ruling"] == "upheld"
    assert t.h.get(OBJECTOR) == {"uscc": t.uscc_of["o"]}  # a ruling leaves it as it was
    t.open()  # once ruled, the opening goes ahead (one bid: the lot fails)
    assert t.tender()["state"] != "bidding"


def history_of(t: Trading, tmp_path: Path) -> tuple[str, str]:
    """``credchain history`` of the objector and of T1, from an export of the chain."""
    tmp_path.mkdir()
    export = Export(tmp_path / "export.sqlite", t.h.doc)
    run_replay(t.h.doc, None, StoreSource(replay(t).store), None, None, None,
               before_commit=export.record)
    export.close()
    db = sqlite3.connect(tmp_path / "export.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return ("\n".join(entity_history(db, t.uscc_of[OBJECTOR_NAME])),
                "\n".join(tender_timeline(db, "T1")))
    finally:
        db.close()


def test_history_names_the_objector_only_from_the_deadline(tmp_path: Path) -> None:
    t = story()
    uscc = t.uscc_of[OBJECTOR_NAME]
    entity, tender = history_of(t, tmp_path / "before")
    assert "objection to tender T1: sealed until its deadline" in entity
    assert "objection 1 to tender T1" not in entity
    assert "objection 1 (documents) by an entity named at the deadline" in tender
    assert uscc not in tender
    t.h.run_block([], at_ms=DEADLINE_MS)
    entity, tender = history_of(t, tmp_path / "after")
    assert "objection 1 to tender T1 (documents): open" in entity
    assert "objection 1 to tender T1 (documents): replied" in entity
    assert f"objection 1 (documents) by {uscc}" in tender


def test_a_salt_keeps_the_objector_from_being_found_by_trying_each_entity() -> None:
    """A §6 neighbour proof shows the value hash of ``objector/T1/<n>``; without a salt the
    value is one USCC, so hashing each entity's record finds the objector. With the
    objector's salt no entity's record matches; a salt out of bounds is refused."""
    from contracts.objections import objector_key
    from ledger import encoding
    from tests.trading_kit import Trading

    t = Trading()
    t.announce()
    names = [t.entity(f"e{i}").name for i in range(4)]
    a, b = t.h.account(names[0]), t.h.account(names[1])
    base = {"tender_id": "T1", "stage": "documents", "reason_hash": bytes(32)}
    t.h.expect_ok(a, "tender.object", base)
    t.h.expect_ok(b, "tender.object", {**base, "salt": bytes(range(16))})
    for short in (bytes(15), bytes(65)):
        t.h.expect_refused(b, "tender.object", {**base, "salt": short}, "E_BAD_ARGS")

    def guessed(n: int) -> list[str]:
        value = t.h.state.values[objector_key("T1", n)]  # the stored bytes (CE)
        return [name for name in names
                if encoding.encode({"uscc": t.uscc_of[name]}) == value]

    assert guessed(1) == [names[0]]  # no salt: found among four
    assert guessed(2) == []  # salted: no entity's record matches
    assert encoding.decode(t.h.state.values[objector_key("T1", 2)])["uscc"] == t.uscc_of[names[1]]


def test_the_tender_side_is_told_of_a_documents_objection_without_who_made_it() -> None:
    """The objection's transaction stays out of the public lane, yet every reader (the
    tenderer among them, with its 3 days to reply) gets ``notice.objection`` in the block
    that filed it: tender, number and stage, no objector; its proof (the public objection
    record after that block) checks offline, and a changed notice fails it."""
    from shell.eventkit import parse_cursor
    from shell.eventproof import build_proof, check_proof
    from tests.test_events_kit import anchor_of

    t = story()
    uscc = t.uscc_of[OBJECTOR_NAME]
    node = node_of(replay(t), t)
    try:
        for signer in (None, "tenderer"):
            [(status, page)] = ask(node, t, ["/events?from_height=1&limit=500"], signer)
            assert status == 200, page
            types = [i["type"] for i in page["items"]]
            assert "tender.replied" in types  # the tender's side's reply: a public act
            assert "tender.objection" not in types  # the objector's transaction: not public
            [notice] = [i for i in page["items"] if i["type"] == "notice.objection"]
            assert (notice["tender_id"], notice["n"], notice["stage"]) == ("T1", 1, "documents")
            assert notice["cursor"].endswith(".o.1.T1")
            assert uscc not in json.dumps(notice)  # (its attestation is public, as always)
            assert [i for i in page["items"] if uscc in json.dumps(i)] == [
                i for i in page["items"] if i["type"] == "identity.attested"
                and i["event"]["uscc"] == uscc]
            assert t.uscc_of[t.tenderer.name] in notice["entities"]  # entity= finds it
        tenderer = t.uscc_of[t.tenderer.name]
        [(status, filtered)] = ask(
            node, t, [f"/events?from_height=1&type=notice.objection&entity={tenderer}"])
        assert status == 200 and [i["n"] for i in filtered["items"]] == [1]
        anchor = anchor_of(t.h.doc)
        doc = json.loads(json.dumps(build_proof(node.event_hub, parse_cursor(notice["cursor"]))))
        assert doc["item"] == notice and uscc not in json.dumps(doc)
        assert check_proof(doc, anchor).ok, check_proof(doc, anchor).problems
        for field, value in (("stage", "opening"), ("n", 2), ("time_ms", 1), ("height", 1)):
            bad = json.loads(json.dumps(doc))
            bad["item"][field] = value
            assert not check_proof(bad, anchor).ok, field
        [(status, served)] = ask(node, t, [f"/events/{notice['cursor']}"])
        assert status == 200 and served["item"] == notice
    finally:
        node.admission.close()
