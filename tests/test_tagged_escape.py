"""A transaction whose args hold a map with ``"$bin"`` (or ``"$map"``) as its only key is
valid CE, and anyone with a known key can commit one (it fails, here with ``E_FORBIDDEN``). Tagged
JSON would read such a map back as bytes, so the node once refused to show the transaction
and its whole block (400), and HTTP audit replay stopped at that height for good. The JSON
form now escapes it (``{"$map": …}``, ledger/PROTOCOL.md §10): the transaction and the block
are shown, and the block read back from JSON is the block, hash for hash."""

from __future__ import annotations

from contracts.errors import E_FORBIDDEN
from ledger import jsonform
from ledger.block import QC, Block
from tests.test_objection_privacy import ask
from tests.test_privacy import node_of, replay
from tests.trading_kit import Trading

ODD = {"action": "set_endpoint",
       "payload": {"pubkey": {"$bin": "00"}, "host": "a b", "port": 99999999, "kind": "x",
                   "also": {"$map": {"$bin": b"\x01"}}}}


def test_a_block_holding_a_lone_bin_key_is_shown_and_reads_back_exactly() -> None:
    t = Trading()
    t.announce()
    receipt = t.h.expect_refused(t.supervisor, "gov.propose", ODD, E_FORBIDDEN)
    chain = replay(t)
    height = chain.height()
    block = chain.store.block(height)
    assert block is not None and [tx.body.args for tx in block.txs] == [ODD]
    tx_id = receipt.tx_id.hex()
    node = node_of(chain, t)
    try:
        (status, tx), (bstatus, got) = ask(node, t, [f"/txs/{tx_id}", f"/blocks/{height}"],
                                           "supervisor")
        assert status == 200, tx
        assert tx["tx"]["body"]["args"]["payload"]["pubkey"] == {"$map": {"$bin": "00"}}
        assert bstatus == 200, got
        back = Block.from_obj(jsonform.from_json(got["block"], jsonform.BLOCK))
        assert back.txs[0].body.args == ODD
        assert back.header.hash(t.h.suite) == block.header.hash(t.h.suite)
        assert back.tx_ids(t.h.suite) == block.tx_ids(t.h.suite)
        QC.from_obj(jsonform.from_json(got["qc"], jsonform.QC))
    finally:
        node.admission.close()
