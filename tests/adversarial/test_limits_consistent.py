"""The limits are consistent: anything admitted can be encoded, proposed, stored, served and
decoded again. A block of worst-case admitted transactions (every args limit at once,
each within bytes of ``MAX_TX_BYTES``), as many as a proposal may carry, goes through the
block's CE and JSON forms, every consensus message that carries a block, and a peer frame.
"""

from __future__ import annotations

import pytest

from consensus import wire
from consensus.api import ReplicaConfig
from consensus.durable import PreparedRecord
from consensus.messages import (
    MAX_MESSAGE_BYTES,
    NewView,
    PreparedCert,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
)
from consensus.pool import PoolLimits, TxPool
from contracts import sealing
from ledger import jsonform, limits
from ledger.block import Block, Header, tx_root
from ledger.crypto import ED25519_SHA256, SM2_SM3, ZERO_HASH
from ledger.tx import SignedTx
from tests.adversarial.attacks import CHAIN, worst_case_tx

SUITE = ED25519_SHA256


def test_the_bounds_nest() -> None:
    assert jsonform.MAX_DEPTH == limits.JSON_MAX_DEPTH
    assert limits.MESSAGE_DEPTH <= limits.MAX_CE_DEPTH
    assert limits.MAX_BLOCK_BYTES + limits.BLOCK_ENVELOPE_BYTES <= MAX_MESSAGE_BYTES
    assert MAX_MESSAGE_BYTES <= limits.MAX_CE_BYTES
    assert MAX_MESSAGE_BYTES + 64 <= wire.DEFAULT_MAX_FRAME_BYTES  # frame header, body map
    assert PoolLimits().max_tx_bytes <= limits.MAX_TX_BYTES
    cfg = ReplicaConfig()
    assert cfg.batch_tx_max <= limits.MAX_BLOCK_TXS
    assert cfg.batch_bytes_max <= limits.MAX_BLOCK_TX_BYTES
    for suite in (ED25519_SHA256, SM2_SM3):  # the largest field a contract takes fits
        assert sealing.max_sealed_len(suite) <= limits.MAX_ARGS_STR_BYTES


def _header(txs: tuple[SignedTx, ...]) -> Header:
    return Header(
        chain_id="c" * 256,  # the longest chain id a header may carry
        height=(1 << 64) - 1, prev_hash=ZERO_HASH, time_ms=(1 << 64) - 1, view=(1 << 64) - 1,
        proposer=(1 << 64) - 1, tx_root=tx_root(SUITE, txs), receipts_root=ZERO_HASH,
        state_root=ZERO_HASH, validators_hash=ZERO_HASH, next_validators_hash=ZERO_HASH)


@pytest.fixture(scope="module")
def full_block() -> Block:
    """As many worst-case transactions as the pool's ``take`` hands a proposal, each
    admitted by the strict decoder and the pool."""
    pool = TxPool(SUITE, CHAIN, lambda sender: 0,
                  PoolLimits(max_per_sender=1000, backlog_txs=1000))
    secret = SUITE.generate_secret()
    for nonce in range(300):
        tx = SignedTx.decode(worst_case_tx(SUITE, secret, nonce).encode())
        assert pool.add(tx, len(tx.encode()), True, now_ms=0) is None
    txs = tuple(pool.take(limits.MAX_BLOCK_TXS, 1 << 40))
    assert sum(len(t.encode()) for t in txs) <= limits.MAX_BLOCK_TX_BYTES
    assert len(txs) > 200  # the take stopped at the byte bound, not for want of txs
    return Block(_header(txs), txs)


def test_a_full_block_of_worst_case_transactions_encodes_and_decodes(full_block: Block) -> None:
    data = full_block.encode()
    assert limits.MAX_BLOCK_BYTES - 70 * 1024 < len(data) <= limits.MAX_BLOCK_BYTES
    again = Block.decode(data)
    assert again == full_block and again.encode() == data
    again.check_tx_root(SUITE)


def test_its_json_form_is_served_and_read_back(full_block: Block) -> None:
    as_json = jsonform.to_json(full_block.to_obj(), jsonform.BLOCK)
    back = Block.from_obj(jsonform.from_json(as_json, jsonform.BLOCK))
    assert back == full_block


def test_every_message_carrying_it_fits_a_message_and_a_frame(full_block: Block) -> None:
    h = full_block.hash(SUITE)
    votes = tuple((i, bytes(64)) for i in range(3))
    cert = PreparedCert(1, 0, h, votes)
    vcs = tuple(ViewChange(1, 1, i, cert, full_block, bytes(64)) for i in range(3))
    for msg in (PrePrepare(1, 0, 0, full_block, bytes(64)), vcs[0],
                NewView(1, 1, 1, tuple(vc.stripped() for vc in vcs), full_block, bytes(64))):
        data = encode_message(msg)
        assert len(data) <= MAX_MESSAGE_BYTES
        assert decode_message(data) == msg
        frame = wire.encode_frame(wire.CONSENSUS, 7, {"msg": data})
        assert wire.decode_frame(frame).body["msg"] == data
    # what a replica persists once prepared, and reads back after a restart
    record = PreparedRecord(1, PreparedCert(1, 0, h, tuple((i, bytes(64)) for i in range(256))),
                            full_block)
    assert PreparedRecord.decode(record.encode()) == record
