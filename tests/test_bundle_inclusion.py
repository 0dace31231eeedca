"""Inclusion bundles (PROTOCOL §8) built from a real chain: every committed transaction
verifies with its receipt through JSON and CE; tampering any field fails with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ledger import encoding, inclusion
from ledger.crypto import ED25519_SHA256, SM2_SM3
from ledger.errors import InvalidInput, ProofError
from ledger.genesis import Anchor, export_anchor
from tests.bundlekit import txs_chain
from tests.chainkit import Chain

SUITES = [ED25519_SHA256, SM2_SM3]


@pytest.fixture(scope="module", params=SUITES, ids=lambda s: s.name)
def chain(request: pytest.FixtureRequest) -> Chain:
    return txs_chain(request.param)


def _round_trips(obj: Any, anchor: Anchor) -> inclusion.VerifiedInclusion:
    got = inclusion.verify_inclusion_bundle(obj, anchor)
    as_json = json.loads(json.dumps(inclusion.to_json(obj)))
    assert inclusion.verify_inclusion_bundle(inclusion.from_json(as_json), anchor) == got
    data = inclusion.encode_inclusion(obj)
    assert inclusion.verify_inclusion_bundle(inclusion.decode_inclusion(data), anchor) == got
    return got


def test_every_committed_transaction_verifies_with_its_receipt(chain: Chain) -> None:
    anchor = export_anchor(chain.store)
    proven = 0
    for height in range(1, chain.store.head()[0] + 1):
        block = chain.store.block(height)
        receipts = chain.store.receipts(height)
        assert block is not None and receipts is not None
        for index, tx in enumerate(block.txs):
            obj = inclusion.build_inclusion(chain.store, tx.tx_id(chain.suite))
            got = _round_trips(obj, anchor)
            assert (got.height, got.index, got.count) == (height, index, len(block.txs))
            assert got.tx == tx and got.receipt == receipts[index]
            # Changes strictly below the block are carried: block 3 only (7 is above).
            assert [e["header"]["height"] for e in obj["validator_chain"]] == [3]
            proven += 1
    assert proven == 5 + 1 + 7


def test_receipt_outcome_and_events_are_proven(chain: Chain) -> None:
    anchor = export_anchor(chain.store)
    block = chain.store.block(4)
    assert block is not None
    ok = inclusion.verify_inclusion_bundle(
        inclusion.build_inclusion(chain.store, block.txs[0].tx_id(chain.suite)), anchor)
    assert ok.receipt.code == "OK"
    assert ok.receipt.events[0]["commitment"] == block.txs[0].body.args["commitment"]
    failed = inclusion.verify_inclusion_bundle(
        inclusion.build_inclusion(chain.store, block.txs[3].tx_id(chain.suite)), anchor)
    assert (failed.receipt.code, failed.receipt.events) == ("E_DEADLINE", ())


def _fresh(chain: Chain, height: int = 4, index: int = 2) -> Any:
    block = chain.store.block(height)
    assert block is not None
    return inclusion.build_inclusion(chain.store, block.txs[index].tx_id(chain.suite))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def _with_receipt(obj: Any, change: Callable[[dict[str, Any]], None]) -> None:
    receipt = encoding.decode(obj["receipt"])
    change(receipt)
    obj["receipt"] = encoding.encode(receipt)


def _with_tx(obj: Any, change: Callable[[dict[str, Any]], None]) -> None:
    tx = encoding.decode(obj["tx"])
    change(tx)
    obj["tx"] = encoding.encode(tx)


TAMPERS: dict[str, tuple[Callable[[Any], None], str]] = {
    "signature": (lambda o: _with_tx(o, lambda t: t.update(sig=_flip(t["sig"], 5))),
                  "signature does not verify"),
    "tx body": (lambda o: _with_tx(o, lambda t: t["body"].update(nonce=99)),
                "signature does not verify"),
    "tx_path entry": (lambda o: o["tx_path"].__setitem__(0, bytes(32)),
                      "tx_path in block 4's tx_root: audit path does not lead to the root"),
    "tx_path truncated": (lambda o: o["tx_path"].pop(), "tx_path in block 4's tx_root: "
                          "audit path is too short"),
    "tx_path extended": (lambda o: o["tx_path"].append(bytes(32)), "longer than a tree"),
    "receipt_path entry": (lambda o: o["receipt_path"].__setitem__(1, bytes(32)),
                           "receipt_path in block 4's receipts_root"),
    "receipt_path swapped for tx_path": (lambda o: o.update(receipt_path=o["tx_path"]),
                                         "receipt_path in block 4's receipts_root"),
    "index": (lambda o: o.update(index=o["index"] + 1), "tx_path"),
    "index outside": (lambda o: o.update(index=5), "index 5 is outside a tree of 5 leaves"),
    "count smaller": (lambda o: o.update(count=2), "index 2 is outside a tree of 2 leaves"),
    "count larger": (lambda o: o.update(count=9), "tx_path"),
    "receipt code": (lambda o: _with_receipt(o, lambda r: r.update(code="E_LATE")),
                     "receipt_path"),
    "receipt event": (lambda o: _with_receipt(o, lambda r: r["events"][0].update(version=2)),
                      "receipt_path"),
    "receipt tx_id": (lambda o: _with_receipt(o, lambda r: r.update(tx_id=bytes(32))),
                      "the receipt is for another transaction"),
    "header": (lambda o: o["header"].update(time_ms=o["header"]["time_ms"] + 1),
               "names another block"),
    "header state_root": (lambda o: o["header"].update(state_root=bytes(32)),
                          "names another block"),
    "qc below quorum": (lambda o: o["qc"].update(votes=o["qc"]["votes"][:3]),
                        "below the quorum of 4"),
    "qc vote": (lambda o: o["qc"]["votes"][0].__setitem__(1, _flip(o["qc"]["votes"][0][1], 9)),
                "QC vote of validator 0 does not verify"),
    "validator chain dropped": (lambda o: o.update(validator_chain=[]),
                                "missing validator change"),
    "validator chain next set": (
        lambda o: o["validator_chain"][0]["next_validators"][0].update(name="evil"),
        "next_validators do not hash"),
    "chain id": (lambda o: o.update(chain_id="elsewhere"), "wrong chain id"),
    "genesis hash": (lambda o: o.update(genesis_hash=bytes(32)), "bad genesis hash"),
    "version": (lambda o: o.update(version=2), "inclusion bundle version 2"),
    "unknown field": (lambda o: o.update(extra=1), "malformed inclusion bundle"),
    "tx not canonical": (lambda o: o.update(tx=o["tx"] + b"\x00"),
                         "tx is not a canonical transaction"),
    "receipt not canonical": (lambda o: o.update(receipt=b"\xcc\x01"),
                              "receipt is not a canonical receipt"),
    "path entry length": (lambda o: o["tx_path"].__setitem__(0, b"short"),
                          "tx_path[0] must be 32 bytes"),
}


@pytest.mark.parametrize("name", TAMPERS)
def test_tampered_inclusion_fails_with_the_reason(chain: Chain, name: str) -> None:
    tamper, reason = TAMPERS[name]
    obj = _fresh(chain)
    tamper(obj)
    with pytest.raises(ProofError) as err:
        inclusion.verify_inclusion_bundle(obj, export_anchor(chain.store))
    assert reason in str(err.value)


def test_receipt_of_another_transaction_with_its_own_path_fails(chain: Chain) -> None:
    obj, other = _fresh(chain, 4, 1), _fresh(chain, 4, 2)
    obj["receipt"], obj["receipt_path"] = other["receipt"], other["receipt_path"]
    with pytest.raises(ProofError, match="the receipt is for another transaction"):
        inclusion.verify_inclusion_bundle(obj, export_anchor(chain.store))


def test_count_is_not_committed_so_some_other_counts_verify(chain: Chain) -> None:
    """PROTOCOL §8: the header does not commit to ``count``. Index 0 of 5 folds exactly as
    index 0 of 6, so that bundle verifies: it proves inclusion, not the block's size."""
    obj = _fresh(chain, 4, 0)
    obj["count"] = 6
    assert inclusion.verify_inclusion_bundle(obj, export_anchor(chain.store)).count == 6


def test_build_refuses_unknown_and_malformed_ids(chain: Chain) -> None:
    with pytest.raises(LookupError, match="not committed"):
        inclusion.build_inclusion(chain.store, bytes(32))
    with pytest.raises(InvalidInput, match="32 bytes"):
        inclusion.build_inclusion(chain.store, b"\x01")


def test_json_form_writes_bytes_as_hex_and_refuses_bad_hex(chain: Chain) -> None:
    obj = _fresh(chain)
    as_json = inclusion.to_json(obj)
    assert as_json["tx"] == obj["tx"].hex()
    assert as_json["tx_path"] == [p.hex() for p in obj["tx_path"]]
    as_json["receipt"] = as_json["receipt"].upper()
    with pytest.raises(ProofError, match="malformed inclusion bundle.*lowercase hex"):
        inclusion.from_json(as_json)
