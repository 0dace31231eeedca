"""Every case of ``../shared/vectors/inclusion.json`` (PROTOCOL §8) and ``multi.json``
(PROTOCOL §9), for both suites: valid bundles verify (binary form, JSON form and a CE round
trip) and prove what the case says; each invalid one fails with a ProofError naming what
is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import encoding, inclusion, jsonform, multi
from ledger.block import Header, validators_from_obj
from ledger.crypto import get_suite
from ledger.errors import ProofError
from ledger.genesis import Anchor
from ledger.tx import SignedTx

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
INCLUSION = json.loads((VECTORS / "inclusion.json").read_text("utf-8"))
MULTI = json.loads((VECTORS / "multi.json").read_text("utf-8"))

# What the ProofError must say for each invalid case (a substring of its message).
INCLUSION_REASON = {
    "wrong index": "tx_path in block 7's tx_root: audit path does not lead to the root",
    "receipt of another transaction": "the receipt is for another transaction",
    "event changed after commit": "receipt_path in block 7's receipts_root: audit path does "
                                  "not lead to the root",
    "audit path truncated": "tx_path in block 7's tx_root: audit path is too short for "
                            "index 4 of 5 leaves",
    "transaction signature altered": "signature does not verify",
    "missing validator change": "missing validator change: block 7 is certified by",
    "leaf count too small for the path": "index 1 is outside a tree of 1 leaves",
}
MULTI_REASON = {
    "entries not sorted by key": "entries are not sorted by key",
    "a key twice": "lists key 'identity/91440300MA5F00000X' twice",
    "a present record claimed absent": "present, not absent",
    "header changed after signing": "names another block",
}


def anchor_of(entry: dict[str, Any]) -> Anchor:
    raw = jsonform.tagged_from_json(entry["anchor"])
    return Anchor.of(get_suite(entry["suite"]), Header.from_obj(raw["header"]),
                     validators_from_obj(raw["validators"]))


def _cases(entries: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(s, c, id=f"{s['suite']}: {c['name']}")
            for s in entries for c in s["cases"]]


def test_vectors_cover_both_suites_and_every_named_case() -> None:
    for entries, reasons in ((INCLUSION, INCLUSION_REASON), (MULTI, MULTI_REASON)):
        assert {s["suite"] for s in entries} == {"ed25519-sha256", "sm2-sm3"}
        for s in entries:
            assert {c["name"] for c in s["cases"] if not c["valid"]} == set(reasons)
            assert any(c["valid"] for c in s["cases"])


@pytest.mark.parametrize(("entry", "case"), _cases(INCLUSION))
def test_inclusion_vector(entry: dict[str, Any], case: dict[str, Any]) -> None:
    anchor = anchor_of(entry)
    obj = jsonform.tagged_from_json(case["inclusion"])
    if not case["valid"]:
        with pytest.raises(ProofError) as err:
            inclusion.verify_inclusion_bundle(obj, anchor)
        assert INCLUSION_REASON[case["name"]] in str(err.value)
        return
    got = inclusion.verify_inclusion_bundle(obj, anchor)
    tx = SignedTx.decode(obj["tx"])
    assert got.tx == tx and got.tx_id == tx.tx_id(anchor.suite)
    assert got.receipt.tx_id == got.tx_id
    assert (got.index, got.count, got.height) == (obj["index"], obj["count"], 7)
    # The case's name says which transaction it proves; its outcome is in the receipt.
    assert case["name"].startswith(f"valid: transaction {got.index} of {got.count}")
    assert got.receipt.code in ("OK", "E_DEADLINE")
    assert bool(got.receipt.events) == (got.receipt.code == "OK")
    as_json = json.loads(json.dumps(inclusion.to_json(obj)))
    assert as_json["tx"] == obj["tx"].hex()
    assert inclusion.verify_inclusion_bundle(inclusion.from_json(as_json), anchor) == got
    data = inclusion.encode_inclusion(obj)
    assert encoding.decode(data) == obj
    assert inclusion.verify_inclusion_bundle(inclusion.decode_inclusion(data), anchor) == got


@pytest.mark.parametrize(("entry", "case"), _cases(MULTI))
def test_multi_vector(entry: dict[str, Any], case: dict[str, Any]) -> None:
    anchor = anchor_of(entry)
    obj = jsonform.tagged_from_json(case["multi"])
    if not case["valid"]:
        with pytest.raises(ProofError) as err:
            multi.verify_multi(obj, anchor)
        assert MULTI_REASON[case["name"]] in str(err.value)
        return
    got = multi.verify_multi(obj, anchor)
    assert [(e.key, e.value) for e in got.entries] == [
        (e["key"], e["value"]) for e in obj["entries"]
    ]
    present = [e.key for e in got.entries if e.value is not None]
    absent = [e.key for e in got.entries if e.value is None]
    assert len(present) == 2 and len(absent) == 2
    as_json = json.loads(json.dumps(multi.to_json(obj)))
    assert multi.verify_multi(multi.from_json(as_json), anchor) == got
    assert multi.verify_multi(multi.decode_multi(multi.encode_multi(obj)), anchor) == got
