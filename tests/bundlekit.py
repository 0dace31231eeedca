"""Test helper: a real chain with a validator change and blocks of signed transactions whose
receipts carry events and failures, for the §7/§8/§9 bundle and verdict tests.

``txs_chain(suite)``: blocks 1..2 write state, block 3 changes the set to five validators,
block 4 holds five bid transactions (receipts: OK with a ``bid.sealed`` event holding bytes,
or ``E_DEADLINE`` with none), block 5 one transaction, block 6 seven, block 7 changes the
set back to four; the identity record is written at 2 and rewritten at 5.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ledger import encoding
from ledger.block import Block, Validator, receipts_root
from ledger.crypto import Suite
from ledger.tx import Receipt, SignedTx
from tests.chainkit import Chain

KEY = "identity/91350100M000100Y43"
RECORD_ACTIVE = {"name": "某公司", "status": "active", "uscc": "91350100M000100Y43"}
RECORD_REVOKED = {**RECORD_ACTIVE, "status": "revoked"}
CREDIT_KEY = "credit/91350100M000100Y43/rec0"
CREDIT = {"issuer": "gd-credit", "level": 3, "digest": hashlib.sha256(b"doc").digest()}


def receipt_for(suite: Suite, tx: SignedTx, i: int) -> Receipt:
    """Every fourth transaction fails (after the deadline); the others seal a bid."""
    tx_id = tx.tx_id(suite)
    if i % 4 == 3:
        return Receipt(tx_id, "E_DEADLINE", "after the deadline")
    commitment = tx.body.args["commitment"]
    return Receipt(tx_id, "OK", "", ({"type": "bid.sealed", "version": 1,
                                      "commitment": commitment},))


def extend_with_receipts(chain: Chain, writes: Mapping[str, bytes | None],
                         txs: Sequence[SignedTx],
                         next_validators: tuple[Validator, ...] | None = None) -> Block:
    """Like ``Chain.extend``, with the receipts of ``receipt_for`` instead of plain OKs."""
    block, _ = chain.make_block(writes, txs, next_validators)
    receipts = [receipt_for(chain.suite, tx, i) for i, tx in enumerate(txs)]
    header = block.header.with_changes(receipts_root=receipts_root(chain.suite, receipts))
    block = Block(header, block.txs)
    nxt = chain.store.validators_at(header.height) if next_validators is None else (
        next_validators)
    chain.store.commit_block(block, chain.sign_qc(header), receipts, dict(writes), nxt)
    return block


def bid_txs(chain: Chain, first_nonce: int, count: int) -> list[SignedTx]:
    return [
        chain.tx("bidder-a", n, "bid.submit", {
            "tender_id": "SW-2026-001", "lot": 1,
            "commitment": hashlib.sha256(f"c{n}".encode()).digest()})
        for n in range(first_nonce, first_nonce + count)
    ]


def txs_chain(suite: Suite) -> Chain:
    chain = Chain.new(suite)
    enc = encoding.encode
    chain.extend({"demo/x": enc(1)})
    chain.extend({KEY: enc(RECORD_ACTIVE), CREDIT_KEY: enc(CREDIT)})
    first = chain.doc.validators
    five = first[:3] + (chain.add_key("node3b"), chain.add_key("node4"))
    chain.extend({"demo/x": enc(2)}, next_validators=five)
    extend_with_receipts(chain, {"demo/x": enc(3)}, bid_txs(chain, 0, 5))
    extend_with_receipts(chain, {KEY: enc(RECORD_REVOKED)}, bid_txs(chain, 5, 1))
    extend_with_receipts(chain, {"demo/x": enc(4)}, bid_txs(chain, 6, 7))
    four: tuple[Validator, ...] = five[1:5]
    chain.extend({"demo/x": enc(5)}, next_validators=four)
    return chain
