"""The transaction pool: admission reasons, nonce ordering, limits, take and removal; ready
and future transactions, expiry, eviction and per-sender back-pressure. (The attacks on
the pool, with their property tests, are in ``tests/adversarial/test_pool_attack.py``.)"""

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


def add(pool: TxPool, tx: SignedTx, now_ms: int = 0) -> str | None:
    reason = pool.add(tx, size(tx), signature_ok=True, now_ms=now_ms)
    pool.check_invariants()
    return reason


def test_accepts_verified_tx_and_refuses_unverified(pool: TxPool) -> None:
    secret = SUITE.generate_secret()
    tx = make_tx(secret, 0)
    assert pool.add(tx, size(tx), signature_ok=False, now_ms=0) == p.R_BAD_SIGNATURE
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
    assert pool.add(tx, 10**6, signature_ok=True, now_ms=0) == p.R_TOO_LARGE


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


def test_future_transactions_are_held_apart_and_promoted_when_the_gap_fills(
    pool: TxPool,
) -> None:
    secret = SUITE.generate_secret()
    for n in (3, 1, 2):
        assert add(pool, make_tx(secret, n)) is None
    assert (pool.ready_count, pool.future_count) == (0, 3)
    assert pool.take(10, 10**9) == []
    assert add(pool, make_tx(secret, 0)) is None
    assert (pool.ready_count, pool.future_count) == (4, 0)
    assert [t.body.nonce for t in pool.take(10, 10**9)] == [0, 1, 2, 3]


def test_a_commit_elsewhere_that_reaches_the_futures_makes_them_ready(
    pool: TxPool, committed: dict[bytes, int]
) -> None:
    secret = SUITE.generate_secret()
    sender = SUITE.public_key(secret)
    for n in (2, 3, 5):
        assert add(pool, make_tx(secret, n)) is None
    # nonces 0 and 1 were committed by another validator's proposal we never saw
    committed[sender] = 2
    assert pool.remove_committed([], {sender: 2}) == 0
    pool.check_invariants()
    assert [t.body.nonce for t in pool.take(10, 10**9)] == [2, 3]
    assert (pool.ready_count, pool.future_count) == (2, 1)


def test_future_slots_per_sender_are_capped(committed: dict[bytes, int]) -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(max_future_per_sender=3))
    secret = SUITE.generate_secret()
    assert [add(pool, make_tx(secret, n)) for n in (1, 2, 3, 4)] == [None, None, None,
                                                                     p.R_FUTURE_FULL]
    assert add(pool, make_tx(secret, 0)) is None  # ready ones are not capped by it
    assert add(pool, make_tx(secret, 4)) is None  # and the run now reaches 4
    assert pool.future_count == 0 and pool.ready_count == 5


def test_future_transactions_expire_and_ready_ones_do_not() -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(future_ttl_ms=1_000))
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    assert add(pool, make_tx(a, 0), now_ms=0) is None
    assert add(pool, make_tx(b, 5), now_ms=0) is None
    assert add(pool, make_tx(b, 6), now_ms=600) is None
    assert pool.expire(999) == 0
    assert pool.expire(1_000) == 1  # nonce 5 arrived at 0
    pool.check_invariants()
    assert add(pool, make_tx(b, 7), now_ms=1_600) is None  # add expires too: nonce 6 goes
    assert pool.expired == 2 and pool.future_count == 1 and pool.ready_count == 1
    assert pool.expire(10**9) == 1 and len(pool) == 1  # the ready one stays


def test_a_full_pool_evicts_future_transactions_before_refusing_a_ready_one() -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(max_txs=4))
    gapper, honest = SUITE.generate_secret(), SUITE.generate_secret()
    for n in (1, 2, 3):
        assert add(pool, make_tx(gapper, n)) is None
    assert add(pool, make_tx(honest, 0)) is None
    assert add(pool, make_tx(honest, 1)) is None  # evicts the gapper's highest nonce (3)
    assert pool.evicted == 1 and pool.future_count == 2
    assert add(pool, make_tx(gapper, 3)) == p.R_POOL_FULL  # a future one never evicts
    assert add(pool, make_tx(honest, 2)) is None
    assert add(pool, make_tx(honest, 3)) is None
    assert pool.future_count == 0 and pool.ready_count == 4
    assert add(pool, make_tx(honest, 4)) == p.R_POOL_FULL  # nothing left to evict


def test_a_ready_transaction_never_evicts_its_own_senders_futures() -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(max_txs=3))
    a = SUITE.generate_secret()
    for n in (0, 2, 3):
        assert add(pool, make_tx(a, n)) is None
    assert add(pool, make_tx(a, 1)) == p.R_POOL_FULL
    assert len(pool) == 3 and pool.evicted == 0


def test_full_future_slots_go_to_the_sender_holding_fewest() -> None:
    limits = PoolLimits(max_future_txs=4, max_future_per_sender=4)
    pool = TxPool(SUITE, CHAIN, lambda s: 0, limits)
    hog, other = SUITE.generate_secret(), SUITE.generate_secret()
    for n in (1, 2, 3, 4):
        assert add(pool, make_tx(hog, n)) is None
    assert add(pool, make_tx(other, 1)) is None  # takes the hog's nonce 4
    assert add(pool, make_tx(other, 2)) is None  # takes nonce 3: hog 2, other 2
    assert add(pool, make_tx(other, 3)) == p.R_FUTURE_FULL  # even now: no slot taken
    assert add(pool, make_tx(hog, 3)) == p.R_FUTURE_FULL
    assert pool.evicted == 2 and pool.future_count == 4


def test_back_pressure_is_per_sender_before_it_is_global() -> None:
    limits = PoolLimits(backlog_txs=40, sender_share_min=4)
    pool = TxPool(SUITE, CHAIN, lambda s: 0, limits)
    heavy = SUITE.generate_secret()
    results = [add(pool, make_tx(heavy, n)) for n in range(60)]
    # alone, it reaches half the backlog, then holds its share (40 / 2) and is told so
    assert results[:20] == [None] * 20 and set(results[20:]) == {p.R_SENDER_BUSY}
    assert not pool.busy
    lights = [SUITE.generate_secret() for _ in range(3)]
    got = [[add(pool, make_tx(light, n)) for light in lights] for n in range(7)]
    # four senders with ready transactions: a share of 40 / 8 = 5 each
    assert got[:5] == [[None] * 3] * 5 and got[5:] == [[p.R_SENDER_BUSY] * 3] * 2
    assert pool.ready_count == 35 and not pool.busy
    assert add(pool, make_tx(heavy, 20)) == p.R_SENDER_BUSY
    # newcomers still get in (at least sender_share_min each) until the backlog is full
    newcomers = [SUITE.generate_secret() for _ in range(2)]
    assert [add(pool, make_tx(newcomers[0], n)) for n in range(5)] == [None] * 4 + [
        p.R_SENDER_BUSY]
    assert add(pool, make_tx(newcomers[1], 0)) is None
    assert pool.ready_count == 40 and pool.busy
    assert add(pool, make_tx(SUITE.generate_secret(), 0)) == p.R_BUSY


def test_busy_when_the_ready_backlog_is_full() -> None:
    limits = PoolLimits(backlog_txs=8, sender_share_min=2)
    pool = TxPool(SUITE, CHAIN, lambda s: 0, limits)
    senders = [SUITE.generate_secret() for _ in range(8)]
    for secret in senders:
        assert add(pool, make_tx(secret, 0)) is None
    assert pool.busy
    newcomer = SUITE.generate_secret()
    assert add(pool, make_tx(newcomer, 0)) == p.R_BUSY
    # nor a later nonce: it would wait behind a gap its client was just told to resend
    assert add(pool, make_tx(newcomer, 1)) == p.R_BUSY
    pool.remove_committed([pool.take(1, 10**9)[0].tx_id(SUITE)], {})
    assert not pool.busy and add(pool, make_tx(newcomer, 0)) is None
    pool.remove_committed([pool.take(1, 10**9)[0].tx_id(SUITE)], {})
    assert add(pool, make_tx(newcomer, 3)) is None  # room again: a future one waits apart


def test_remove_committed_moves_the_base_past_a_committed_transaction(pool: TxPool) -> None:
    a = SUITE.generate_secret()
    txs = [make_tx(a, n) for n in range(3)]
    for tx in txs:
        add(pool, tx)
    # told only the id of nonce 1: nonce 0 must have committed before it
    assert pool.remove_committed([txs[1].tx_id(SUITE)], {}) == 2
    pool.check_invariants()
    assert [t.body.nonce for t in pool.take(10, 10**9)] == [2]
    assert add(pool, make_tx(a, 1, note="again")) == p.R_STALE_NONCE


def test_take_is_in_readiness_order_across_senders(pool: TxPool) -> None:
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    add(pool, make_tx(a, 0))
    add(pool, make_tx(b, 1))  # b's gap
    add(pool, make_tx(a, 1))
    add(pool, make_tx(b, 0))  # b is ready from now: after a's two
    add(pool, make_tx(a, 2))
    order = [(t.body.sender == SUITE.public_key(a), t.body.nonce) for t in pool.take(10, 10**9)]
    assert order == [(True, 0), (True, 1), (False, 0), (False, 1), (True, 2)]


def test_take_never_returns_more_than_a_block_carries(pool: TxPool) -> None:
    from ledger import limits

    secret = SUITE.generate_secret()
    for n in range(3):
        add(pool, make_tx(secret, n))
    assert len(pool.take(10**9, 10**12)) == 3
    assert pool.take(10**9, 10**12) == pool.take(limits.MAX_BLOCK_TXS, limits.MAX_BLOCK_TX_BYTES)


def test_a_wrong_size_is_a_caller_bug_and_changes_nothing(pool: TxPool) -> None:
    tx = make_tx(SUITE.generate_secret(), 0)
    with pytest.raises(ValueError, match="encoded length"):
        pool.add(tx, size(tx) - 1, True, now_ms=0)
    assert len(pool) == 0
    pool.check_invariants()


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="backlog_txs"):
        TxPool(SUITE, CHAIN, lambda s: 0, PoolLimits(backlog_txs=0))
    with pytest.raises(ValueError, match="MAX_TX_BYTES"):
        PoolLimits(max_tx_bytes=1 << 20).check()


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_verify_batch_flags_bad_signature(suite: Suite) -> None:
    secret = suite.generate_secret()
    good = make_tx(secret, 0, suite)
    bad = SignedTx(make_tx(secret, 1, suite).body, good.sig)
    assert verify_batch(suite, [good, bad]) == [True, False]


def test_drop_forgets_a_transaction_and_its_senders_later_nonces_without_moving_the_base(
) -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0)
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    txs = [make_tx(a, n) for n in (0, 1, 2, 5)] + [make_tx(b, 0)]
    for t in txs:
        assert add(pool, t) is None
    assert pool.ready_count == 4 and pool.future_count == 1
    assert pool.drop([txs[1].tx_id(SUITE), bytes(32)]) == 3  # nonces 1, 2 and future 5
    pool.check_invariants()
    assert [t.body.nonce for t in pool.take(10, 1 << 20)] == [0, 0]
    assert add(pool, make_tx(a, 1)) is None  # the base did not move: nonce 1 is welcome
    pool.check_invariants()


def test_waiting_offers_the_oldest_ready_transactions_again(pool: TxPool) -> None:
    a, b = SUITE.generate_secret(), SUITE.generate_secret()
    old = [make_tx(a, n) for n in range(3)]
    for tx in old:
        assert add(pool, tx, now_ms=1_000) is None
    assert add(pool, make_tx(b, 0), now_ms=5_000) is None
    assert add(pool, make_tx(a, 7), now_ms=1_000) is None  # future: never offered
    assert pool.waiting(3_000, 10) == old
    assert pool.waiting(3_000, 2) == old[:2]
    assert pool.waiting(1_000, 10) == []  # nothing arrived before then
    assert len(pool.waiting(6_000, 10)) == 4
