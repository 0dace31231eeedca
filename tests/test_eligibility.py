"""The eligibility answer: one rule (``contracts.eligibility.decide``) that agrees with what
the ``bid`` contract does, applied at the node to a §9 bundle of every record it reads, and
re-applied offline by a verifier who trusts no node."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contracts.eligibility import (
    IncompleteRecords,
    answer_at_head,
    decide,
    eligibility_keys,
    verify_answer,
)
from contracts.periods import DAY_MS
from contracts.scenario import _Story
from contracts.state import Overlay
from ledger import encoding
from ledger.errors import InvalidInput, ProofError
from ledger.tx import OK
from tests.storechain import StoreChainClient
from tests.trading_kit import DEADLINE_MS, Trading

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _records(t: Trading, uscc: str, tender_id: str = "T1") -> dict[str, bytes | None]:
    found = eligibility_keys(Overlay(t.h.state), uscc, tender_id)
    return {k: t.h.state.get(k) for k in found}


def _try_bid(t: Trading, name: str) -> str:
    """The contract's own verdict: submit a real bid (its guarantee first) and return the
    receipt code."""
    who = t.h.account(name)
    number = f"G-{name}-probe-{len(t.h.receipts)}"
    valid_to = int(t.tender()["deadline_ms"]) + 200 * DAY_MS
    issued = t.h.call(t.bank, "guarantee.issue",
                      t.guarantee_args(number, name, valid_to_ms=valid_to))
    if issued.code != OK:  # the bank may not issue to an unattested entity
        number = ""
    return t.h.call(who, "bid.submit", t.bid_args(who, 90_000_000, number)).code


def _case_world() -> Trading:
    t = Trading()
    t.announce()
    t.entity("clean")
    t.entity("debarred")
    t.credit("debarred", "bid_debarment")
    t.entity("frozen")
    t.h.put(f"frozen/{t.uscc_of['frozen']}", {"reason": "test", "since_ms": 0})
    return t


@pytest.mark.parametrize("name,reason", [
    ("clean", None), ("debarred", "debarred"), ("frozen", "frozen"),
])
def test_the_rule_agrees_with_the_bid_contract(name: str, reason: str | None) -> None:
    t = _case_world()
    now = t.h.time_ms + 1000  # the time of the block the probe bid runs in
    answer = decide(_records(t, t.uscc_of[name]), t.uscc_of[name], "T1", 1, now)
    code = _try_bid(t, name)
    assert answer.eligible == (code == OK), (answer, code)
    assert [r["reason"] for r in answer.reasons] == ([] if reason is None else [reason])


def test_a_stranger_and_a_missing_tender_and_after_the_deadline() -> None:
    t = _case_world()
    from tests.trading_kit import uscc

    stranger = uscc(999)
    a = decide(_records(t, stranger), stranger, "T1", 1, t.h.time_ms)
    assert [r["reason"] for r in a.reasons] == ["not_attested"]
    a = decide(_records(t, t.uscc_of["clean"], "NOPE"), t.uscc_of["clean"], "NOPE", 1,
               t.h.time_ms)
    assert [r["reason"] for r in a.reasons] == ["no_such_tender"]
    a = decide(_records(t, t.uscc_of["clean"]), t.uscc_of["clean"], "T1", 1, DEADLINE_MS)
    assert [r["reason"] for r in a.reasons] == ["after_deadline"]
    a = decide(_records(t, t.uscc_of["clean"]), t.uscc_of["clean"], "T1", 2, t.h.time_ms)
    assert [r["reason"] for r in a.reasons] == ["no_such_lot"]


def test_a_conflict_says_who_the_entity_is_to_the_tender() -> None:
    """The platform operator, its related parties, the tenderer and its agent may not bid;
    the answer says which one the entity is (a clerk read only "conflict: tender/T1")."""
    from tests.trading_kit import uscc

    t = Trading()
    agent = t.entity("agent")
    t.announce(agent=t.uscc_of[agent.name])
    for who, role in ((t.operator_uscc, "the platform operator"),
                      (t.uscc_of["tenderer"], "the tenderer"),
                      (t.uscc_of["agent"], "the tenderer's agent"),
                      (uscc(3), "a related party of the platform operator")):
        a = decide(_records(t, who), who, "T1", 1, t.h.time_ms)
        conflict = [r for r in a.reasons if r["reason"] == "conflict"]
        assert conflict and conflict[0]["as"] == role, (who, a.reasons)


def test_a_debarment_that_has_ended_no_longer_blocks() -> None:
    t = Trading()
    t.entity("lapsed")
    t.credit("lapsed", "bid_debarment")  # in force until genesis + 400 days
    t.h.advance(days=401)
    issue = t.h.time_ms + 3_600_000
    t.announce(issue_start_ms=issue, doc_sale_end_ms=issue + 7 * DAY_MS,
               deadline_ms=issue + 30 * DAY_MS)
    code = t.uscc_of["lapsed"]
    answer = decide(_records(t, code), code, "T1", 1, t.h.time_ms + 1000)
    assert answer.eligible and _try_bid(t, "lapsed") == OK
    ended = [k for k in _records(t, code) if k.startswith("credit/record/")]
    assert ended, "the ended record is still read (and proven), it just does not block"


def test_a_missing_qualification_is_named() -> None:
    t = Trading()
    t.announce(qualifications=[{"category": "A010101", "min_level": 2}])
    t.entity("plain")
    a = decide(_records(t, t.uscc_of["plain"]), t.uscc_of["plain"], "T1", 1, t.h.time_ms)
    assert not a.eligible
    (reason,) = a.reasons
    assert reason["missing"] == [{"category": "A010101", "level": 2}]
    assert _try_bid(t, "plain") == "E_UNQUALIFIED"


def test_records_the_rule_reads_but_the_set_lacks_are_an_error_not_absent() -> None:
    t = _case_world()
    records = _records(t, t.uscc_of["debarred"])
    record_keys = [k for k in records if k.startswith("credit/record/")]
    assert record_keys, "the debarred entity has a credit record"
    del records[record_keys[0]]
    with pytest.raises(IncompleteRecords):
        decide(records, t.uscc_of["debarred"], "T1", 1, t.h.time_ms)


# --- at the node and offline, on a real certified chain ---

@pytest.fixture(scope="module")
def story() -> tuple[StoreChainClient, dict[str, Any]]:
    client = StoreChainClient()
    summary = client.story()
    return client, summary


def _announce_open_tender(client: StoreChainClient, like: str, tender_id: str = "OPEN-1") -> str:
    """A second tender like the story's ``like`` whose deadline is still ahead (the story's
    has passed)."""
    tender = client.get(f"tender/{like}")
    args = {k: tender[k] for k in ("rules", "kind", "region", "tenderer", "agent",
                                   "platform_uscc", "related_parties", "doc_hash",
                                   "validity_days", "qualifications")}
    issue = client.now_ms() + 60_000
    args.update(tender_id=tender_id, issue_start_ms=issue, doc_sale_end_ms=issue + 5 * DAY_MS,
                deadline_ms=issue + 21 * DAY_MS)
    args["lots"] = [{k: lot[k] for k in ("name", "estimated_price_fen", "guarantee_fen")}
                    for lot in tender["lots"]]
    _Story(client, lambda line: None, {}).send("platform", "tender.announce", args)
    return tender_id


def test_the_node_answer_verifies_offline_and_names_the_debarment(
        story: tuple[StoreChainClient, dict[str, Any]]) -> None:
    client, summary = story
    tender_id = _announce_open_tender(client, summary["tender_id"])
    anchor = client.anchor()
    for name, eligible in (("b", True), ("e", False)):
        uscc = summary["uscc"][name]
        got = answer_at_head(client.store, uscc, tender_id, 1)
        node_answer = got.pop("answer")
        proved, offline = verify_answer(got, anchor)
        assert offline.to_obj() == node_answer
        assert offline.eligible is eligible
        assert proved.height == client.store.head()[0]
    debarred = answer_at_head(client.store, summary["uscc"]["e"], tender_id, 1)["answer"]
    (reason,) = debarred["reasons"]
    assert reason["reason"] == "debarred"
    (blocking,) = reason["blocking"]
    record = client.get(blocking["record"])
    assert blocking["kind"] == "bid_debarment" and blocking["until_ms"] == record["to_ms"]
    assert blocking["until_ms"] > client.now_ms()


def test_a_tampered_or_trimmed_answer_proves_nothing(
        story: tuple[StoreChainClient, dict[str, Any]]) -> None:
    client, summary = story
    anchor = client.anchor()
    uscc = summary["uscc"]["e"]
    got = answer_at_head(client.store, uscc, summary["tender_id"], 1)
    got.pop("answer")
    entries = got["bundle"]["entries"]
    i = next(i for i, e in enumerate(entries) if e["key"].startswith("credit/record/"))
    # flip the debarment's end into the past: the record no longer hashes to its leaf
    tampered = copy.deepcopy(got)
    value = encoding.decode(bytes.fromhex(tampered["bundle"]["entries"][i]["value"]))
    value["to_ms"] = 0
    tampered["bundle"]["entries"][i]["value"] = encoding.encode(value).hex()
    with pytest.raises(ProofError):
        verify_answer(tampered, anchor)
    # drop the debarment from the bundle: the bundle is still valid, the answer is not
    trimmed = copy.deepcopy(got)
    del trimmed["bundle"]["entries"][i]
    with pytest.raises(IncompleteRecords):
        verify_answer(trimmed, anchor)
    # another question over the same records: re-decided offline, not taken from the node
    other = copy.deepcopy(got)
    other["question"]["uscc"] = summary["uscc"]["b"]
    with pytest.raises(IncompleteRecords):
        verify_answer(other, anchor)
    with pytest.raises(InvalidInput):
        verify_answer({"question": {"uscc": uscc}, "bundle": got["bundle"]}, anchor)


def test_credchain_verify_re_decides_an_answer_file(
        tmp_path: Path, story: tuple[StoreChainClient, dict[str, Any]]) -> None:
    from cli import main

    client, summary = story
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(json.dumps(client.anchor().to_json()))
    runner = CliRunner()
    for name, code, word in (("b", 2, "after_deadline"), ("e", 2, "debarred")):
        got = answer_at_head(client.store, summary["uscc"][name], summary["tender_id"], 1)
        got.pop("answer")
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(got))
        out = runner.invoke(main, ["verify", str(f), "--anchor", str(anchor_file)])
        assert out.exit_code == code, out.output
        assert out.output.startswith("VALID:") and word in out.output
    # an open tender: B may bid (exit 0)
    got = answer_at_head(client.store, summary["uscc"]["b"],
                         _announce_open_tender(client, summary["tender_id"], "OPEN-2"), 1)
    got.pop("answer")
    (tmp_path / "ok.json").write_text(json.dumps(got))
    out = runner.invoke(main, ["verify", str(tmp_path / "ok.json"), "--anchor", str(anchor_file)])
    assert out.exit_code == 0 and "ELIGIBLE" in out.output, out.output
    got["bundle"]["entries"][0]["proof"] = got["bundle"]["entries"][1]["proof"]
    (tmp_path / "bad.json").write_text(json.dumps(got))
    out = runner.invoke(main, ["verify", str(tmp_path / "bad.json"), "--anchor",
                               str(anchor_file)])
    assert out.exit_code == 1 and out.output.startswith("NOT VALID"), out.output
    # user walk: --json printed text, --expect was ignored in silence, an extra question
    # field verified unread, and no age was said of an old block
    ok = str(tmp_path / "ok.json")
    out = runner.invoke(main, ["verify", ok, "--anchor", str(anchor_file), "--json"])
    said = json.loads(out.output)
    assert out.exit_code == 0 and said["valid"] and said["eligible"] and "+08:00" in said["time"]
    out = runner.invoke(main, ["verify", str(tmp_path / "bad.json"), "--anchor",
                               str(anchor_file), "--json"])
    assert out.exit_code == 1 and json.loads(out.output)["valid"] is False
    out = runner.invoke(main, ["verify", ok, "--anchor", str(anchor_file), "--expect",
                               "present"])
    assert out.exit_code == 1 and "exit code is its answer" in out.output, out.output
    extra = json.loads((tmp_path / "ok.json").read_text())
    extra["question"]["extra"] = 1
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    out = runner.invoke(main, ["verify", str(tmp_path / "extra.json"), "--anchor",
                               str(anchor_file)])
    assert out.exit_code == 1 and "names exactly lot, tender_id, uscc" in out.output, out.output
    out = runner.invoke(main, ["verify", ok, "--anchor", str(anchor_file)])
    assert out.exit_code == 0 and "days ago by this computer's clock" in out.output, out.output
