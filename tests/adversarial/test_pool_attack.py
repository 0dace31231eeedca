"""Attack: one key jams every pool (review finding 2).

Before: a fresh key sent 2,000 transactions with nonces 1..2,000 and withheld nonce 0;
gossip filled all four pools (each admitted all 2,000: they never commit) and every honest
client got 503 "busy" until every node restarted. Now, at unit level on one pool (gossip
makes every pool the same): the attacker holds ``max_future_per_sender`` slots, which
expire; honest senders are admitted throughout and their transactions are the first
``take`` offers. Properties: under any interleaving of adversarial and honest submissions,
takes and commits, an honest ready transaction is offered within a bound fixed when it
became ready, every bound of the pool holds after every step, and one adversarial sender
never makes the pool refuse an honest sender that holds less than its share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import pool as p
from consensus.pool import PoolLimits, TxPool
from ledger.crypto import ED25519_SHA256
from ledger.tx import SignedTx, TxBody

SUITE = ED25519_SHA256
CHAIN = "attack-chain"


def fake_tx(sender: bytes, nonce: int, note: int = 0) -> SignedTx:
    """A transaction the pool is told verified (the pool never checks signatures itself)."""
    return SignedTx(TxBody(CHAIN, sender, nonce, "sys.noop", {"n": note}), bytes(64))


def key(name: str) -> bytes:
    return SUITE.hash(name.encode())


def submit(pool: TxPool, tx: SignedTx, now_ms: int = 0) -> str | None:
    return pool.add(tx, len(tx.encode()), True, now_ms=now_ms)


def honest_round(pool: TxPool, senders: int, txs_each: int, now_ms: int) -> list[str | None]:
    return [submit(pool, fake_tx(key(f"honest{h}"), n), now_ms)
            for n in range(txs_each) for h in range(senders)]


def test_two_thousand_future_nonces_leave_honest_admission_working() -> None:
    limits = PoolLimits()
    committed: dict[bytes, int] = {}
    pool = TxPool(SUITE, CHAIN, lambda s: committed.get(s, 0), limits)
    before = honest_round(pool, 50, 10, now_ms=0)
    assert before == [None] * 500
    first = pool.take(1000, 1 << 30)
    pool.remove_committed([t.tx_id(SUITE) for t in first],
                          {t.body.sender: t.body.nonce + 1 for t in first})
    committed.update({t.body.sender: t.body.nonce + 1 for t in first})
    assert len(pool) == 0

    attacker = key("attacker")
    during_attack = [submit(pool, fake_tx(attacker, n), now_ms=1_000) for n in range(1, 2001)]
    assert during_attack[:16] == [None] * 16
    assert set(during_attack[16:]) == {p.R_FUTURE_FULL}
    assert len(pool) == pool.future_count == limits.max_future_per_sender
    assert not pool.busy

    during = [submit(pool, fake_tx(key(f"honest{h}"), n), 2_000)
              for n in range(10, 20) for h in range(50)]
    assert during == [None] * 500  # every honest client still admitted
    offered = pool.take(1000, 1 << 30)
    assert len(offered) == 500 and attacker not in {t.body.sender for t in offered}

    # the attacker's slots expire; honest admission never stopped
    assert pool.expire(1_000 + limits.future_ttl_ms) == 16
    assert pool.future_count == 0 and pool.ready_count == 500
    pool.check_invariants()


def test_the_same_key_sending_its_nonce_zero_too_is_held_to_its_share() -> None:
    limits = PoolLimits()
    pool = TxPool(SUITE, CHAIN, lambda s: 0, limits)
    attacker = key("attacker")
    results = [submit(pool, fake_tx(attacker, n)) for n in range(2001)]
    share = limits.backlog_txs // 2
    assert results[:share] == [None] * share and set(results[share:]) == {p.R_SENDER_BUSY}
    assert not pool.busy
    assert honest_round(pool, 50, 10, now_ms=0) == [None] * 500


def test_many_gapping_keys_cannot_hold_the_future_slots_against_an_honest_one() -> None:
    limits = PoolLimits()
    pool = TxPool(SUITE, CHAIN, lambda s: 0, limits)
    for k in range(300):  # 300 keys x 16 gapped nonces: more than the 4,096 future slots
        for n in range(1, 17):
            submit(pool, fake_tx(key(f"sybil{k}"), n))
    assert pool.future_count == limits.max_future_txs
    honest = key("honest")
    assert submit(pool, fake_tx(honest, 2)) is None  # out of order: it takes a slot
    assert submit(pool, fake_tx(honest, 1)) is None
    assert submit(pool, fake_tx(honest, 0)) is None
    assert [t.body.nonce for t in pool.take(10, 1 << 30)] == [0, 1, 2]
    pool.check_invariants()


# ---- properties under any interleaving ------------------------------------------------------

SMALL = PoolLimits(max_txs=60, max_bytes=60 * 160, max_per_sender=50, max_nonce_gap=40,
                   backlog_txs=40, sender_share_min=3, max_future_per_sender=3,
                   max_future_txs=10, future_ttl_ms=100)
TAKE_MAX = 5

_ops = st.one_of(
    st.tuples(st.just("adversary"), st.integers(0, 7), st.integers(1, 12),
              st.lists(st.integers(-2, 45), min_size=1, max_size=12)),
    st.tuples(st.just("run"), st.integers(0, 7), st.integers(1, 25)),
    st.tuples(st.just("honest"), st.integers(0, 2)),
    st.tuples(st.just("round")),
    st.tuples(st.just("elsewhere"), st.integers(0, 7), st.integers(1, 6)),
    st.tuples(st.just("tick"), st.integers(0, 60)),
)


@dataclass
class World:
    """One pool, the chain's committed nonces, and what the honest senders are owed."""

    adversaries: int
    committed: dict[bytes, int] = field(default_factory=dict)
    pool: TxPool = field(init=False)
    now_ms: int = 0
    rounds: int = 0
    honest_next: list[int] = field(default_factory=lambda: [0, 0, 0])
    owed: dict[bytes, int] = field(default_factory=dict)  # honest tx id -> round it is due by
    taken: set[bytes] = field(default_factory=set)
    honest_refusals: list[tuple[str, int]] = field(default_factory=list)
    adversary_next: dict[bytes, int] = field(default_factory=dict)
    note: int = 0

    def __post_init__(self) -> None:
        self.pool = TxPool(SUITE, CHAIN, lambda s: self.committed.get(s, 0), SMALL)

    def base(self, sender: bytes) -> int:
        return self.committed.get(sender, 0)

    def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "adversary":
            sender = key(f"adversary{op[1] % self.adversaries}")
            for offset in op[3][: op[2]]:
                self.note += 1  # a fresh body each time: never a duplicate id
                submit(self.pool, fake_tx(sender, max(0, self.base(sender) + offset),
                                          self.note), self.now_ms)
        elif kind == "run":  # consecutive nonces, continuing its last run
            sender = key(f"adversary{op[1] % self.adversaries}")
            nonce = max(self.base(sender), self.adversary_next.get(sender, 0))
            for _ in range(op[2]):
                self.note += 1
                if submit(self.pool, fake_tx(sender, nonce, self.note), self.now_ms) in (
                        p.R_SENDER_BUSY, p.R_BUSY, p.R_POOL_FULL, p.R_SENDER_FULL):
                    break
                nonce += 1
            self.adversary_next[sender] = nonce
        elif kind == "honest":
            self.honest(op[1])
        elif kind == "round":
            self.round()
        elif kind == "elsewhere":  # another validator's block moved an adversary's nonce
            sender = key(f"adversary{op[1] % self.adversaries}")
            self.committed[sender] = self.base(sender) + op[2]
            self.pool.remove_committed([], {sender: self.committed[sender]})
        else:
            self.now_ms += op[1]
            self.pool.expire(self.now_ms)
        self.pool.check_invariants()

    def honest(self, h: int) -> None:
        sender = key(f"honest{h}")
        tx = fake_tx(sender, self.honest_next[h])
        held = sum(1 for t in self.pool.take(10**6, 1 << 40) if t.body.sender == sender)
        reason = submit(self.pool, tx, self.now_ms)
        if reason is not None:
            self.honest_refusals.append((reason, held))
            return  # an honest client retries the same nonce later
        self.honest_next[h] += 1
        # It joined the ready run last: everything ahead of it leaves a round at a time.
        due = self.rounds + math.ceil(self.pool.ready_count / TAKE_MAX)
        self.owed[tx.tx_id(SUITE)] = due

    def round(self) -> None:
        """A proposal of ``take``'s transactions commits; what it names leaves the pool."""
        block = self.pool.take(TAKE_MAX, 1 << 40)
        for tx in block:
            assert tx.body.nonce == self.base(tx.body.sender)  # consecutive from the base
            self.committed[tx.body.sender] = tx.body.nonce + 1
        ids = [t.tx_id(SUITE) for t in block]
        self.taken.update(ids)
        self.pool.remove_committed(ids, {t.body.sender: self.base(t.body.sender)
                                         for t in block})
        self.rounds += 1
        late = [i for i, due in self.owed.items() if due <= self.rounds and i not in self.taken]
        assert not late, f"honest transactions not offered by their bound: {len(late)}"


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8), st.lists(_ops, min_size=20, max_size=150))
def test_no_interleaving_keeps_an_honest_ready_transaction_out_of_take(
    adversaries: int, ops: list[tuple[Any, ...]]
) -> None:
    world = World(adversaries)
    for op in ops:
        world.step(op)
    for _ in range(math.ceil(SMALL.max_txs / TAKE_MAX) + 1):  # the bound of the last one
        world.round()
    assert set(world.owed) <= world.taken
    # an honest sender is refused only as back-pressure: its own share, or a full backlog
    assert {r for r, _ in world.honest_refusals} <= {p.R_SENDER_BUSY, p.R_BUSY}


@settings(max_examples=150, deadline=None)
@given(st.lists(_ops, min_size=20, max_size=150))
def test_one_adversarial_sender_never_gets_an_honest_one_refused(
    ops: list[tuple[Any, ...]]
) -> None:
    world = World(adversaries=1)
    for op in ops:
        world.step(op)
    # Only an honest sender's own share stops it, and never below sender_share_min.
    for reason, held in world.honest_refusals:
        assert reason == p.R_SENDER_BUSY and held >= SMALL.sender_share_min


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.lists(_ops, min_size=50, max_size=200))
def test_memory_stays_within_the_pool_limits(adversaries: int,
                                             ops: list[tuple[Any, ...]]) -> None:
    world = World(adversaries)
    for op in ops:
        world.step(op)  # check_invariants after each step: every count and bound
        assert len(world.pool) <= SMALL.max_txs
        assert world.pool.size_bytes <= SMALL.max_bytes
        assert world.pool.future_count <= SMALL.max_future_txs
    world.now_ms += SMALL.future_ttl_ms
    world.pool.expire(world.now_ms)
    assert world.pool.future_count == 0  # nothing behind a gap outlives its expiry
