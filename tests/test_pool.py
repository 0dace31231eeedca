"""The transaction pool: admission reasons, nonce ordering, limits, take and removal."""

from __future__ import annotations

import pytest

from consensus import pool as p
from consensus.pool import PoolLimits, TxPool, verify_batch
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.tx import SignedTx, TxBody, sign_tx

CHAIN = "test-chain"
SUITE = ED25519_SHA256


def make_tx(secret: bytes, nonce: int, suite: Suite = SUITE, note: str = "") -> SignedTx:
    body = TxBody(CHAIN, suite.public_key(secret), nonce, "sys.noop", {"note": note})
    return sign_tx(suite, secret, body)


def size(tx: SignedTx) -> int:
    return len(tx.encode())


@pytest.fixture()
def committed() -> dict[bytes, int]:
    return {}


@pytest.fixture()
def pool(committed: dict[bytes, int]) -> TxPool:
    return TxPool(SUITE, CHAIN, lambda s: committed.get(s, 0))


def add(pool: TxPool, tx: SignedTx) -> str | None:
    return pool.add(tx, size(tx), signature_ok=True)


def test_accepts_verified_tx_and_refuses_unverified(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    tx = make_tx(secret, 0)
    assert pool.add(tx, size(tx), signature_ok=False) == p.R_BAD_SIGNATURE
    assert len(pool) == 0
    assert add(pool, tx) is None
    assert len(pool) == 1 and tx.tx_id(SUITE) in pool
    assert pool.is_verified(tx)


def test_same_body_other_signature_is_not_marked_verified(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    tx = make_tx(secret, 0)
    add(pool, tx)
    forged = SignedTx(tx.body, bytes(64))
    assert forged.tx_id(SUITE) == tx.tx_id(SUITE)
    assert not pool.is_verified(forged)


def test_duplicate_refused(pool: TxPool) -> None:
    tx = make_tx(SUITE.generate_secret(), 0)
    assert add(pool, tx) is None
    assert add(pool, tx) == p.R_DUPLICATE
    assert len(pool) == 1


def test_stale_nonce_refused(pool: TxPool, committed: dict[bytes, int]) -> None:
    secret = SUITE.generate_secret()
    committed[SUITE.public_key(secret)] = 5
    assert add(pool, make_tx(secret, 4)) == p.R_STALE_NONCE
    assert add(pool, make_tx(secret, 5)) is None


def test_second_body_for_pending_nonce_refused(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    assert add(pool, make_tx(secret, 0, note="a")) is None
    assert add(pool, make_tx(secret, 0, note="b")) == p.R_NONCE_PENDING


def test_wrong_chain_and_oversize_refused(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    body = TxBody("other", SUITE.public_key(secret), 0, "sys.noop", {})
    other = sign_tx(SUITE, secret, body)
    assert add(pool, other) == p.R_WRONG_CHAIN
    tx = make_tx(secret, 0)
    assert pool.add(tx, 10**6, signature_ok=True) == p.R_TOO_LARGE


def test_limits_per_sender_total_and_gap(committed: dict[bytes, int]) -> None:
    limits = PoolLimits(max_txs=3, max_per_sender=2, max_nonce_gap=10)
    pool = TxPool(SUITE, CHAIN, lambda s: committed.get(s, 0), limits)
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    assert add(pool, make_tx(a, 11)) == p.R_NONCE_GAP
    assert add(pool, make_tx(a, 0)) is None
    assert add(pool, make_tx(a, 1)) is None
    assert add(pool, make_tx(a, 2)) == p.R_SENDER_FULL
    assert add(pool, make_tx(b, 0)) is None
    assert add(pool, make_tx(b, 1)) == p.R_POOL_FULL
    assert len(pool) == 3


def test_byte_limit(committed: dict[bytes, int]) -> None:
    tx0 = make_tx(SUITE.generate_secret(), 0)
    pool = TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(max_bytes=size(tx0) + 10))
    assert add(pool, tx0) is None
    assert add(pool, make_tx(SUITE.generate_secret(), 0)) == p.R_POOL_FULL
    assert pool.size_bytes == size(tx0)


def test_take_orders_by_nonce_and_stops_at_gap(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    for n in (2, 0, 4, 1):
        assert add(pool, make_tx(secret, n)) is None
    taken = pool.take(100, 10**9)
    assert [t.body.nonce for t in taken] == [0, 1, 2]
    assert len(pool) == 4  # take removes nothing


def test_take_respects_count_bytes_and_exclude(pool: TxPool) -> None:
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    txs = [make_tx(a, n) for n in range(3)] + [make_tx(b, n) for n in range(3)]
    for tx in txs:
        add(pool, tx)
    assert [t.body.nonce for t in pool.take(2, 10**9)] == [0, 1]
    one = size(txs[0])
    assert len(pool.take(100, one * 4 + 1)) == 4
    rest = pool.take(100, 10**9, exclude=[txs[0].tx_id(SUITE), txs[1].tx_id(SUITE)])
    assert [(t.body.sender, t.body.nonce) for t in rest] == [
        (txs[2].body.sender, 2),
        *((t.body.sender, t.body.nonce) for t in txs[3:]),
    ]


def test_remove_committed_drops_ids_and_stale_nonces(
    pool: TxPool, committed: dict[bytes, int]
) -> None:
    a = SUITE.generate_secret()
    txs = [make_tx(a, n) for n in range(4)]
    for tx in txs:
        add(pool, tx)
    sender = txs[0].body.sender
    committed[sender] = 2
    # nonce 1 was committed under a different body by someone else's proposal: still stale
    removed = pool.remove_committed([txs[0].tx_id(SUITE)], {sender: 2})
    assert removed == 2
    assert len(pool) == 2
    assert [t.body.nonce for t in pool.take(10, 10**9)] == [2, 3]
    assert pool.remove_committed([txs[2].tx_id(SUITE), txs[3].tx_id(SUITE)], {}) == 2
    assert len(pool) == 0 and pool.size_bytes == 0


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_verify_batch_flags_bad_signature(suite: Suite) -> None:
    secret = suite.generate_secret()
    good = make_tx(secret, 0, suite)
    bad = SignedTx(make_tx(secret, 1, suite).body, good.sig)
    assert verify_batch(suite, [good, bad]) == [True, False]
