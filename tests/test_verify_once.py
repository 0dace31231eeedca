"""Each node verifies each signature once: a proposal's transactions are swapped for the
pool's verified copies only when equal, and admission skips only what the app verified
itself (same id AND signature)."""

from __future__ import annotations

from consensus.pool import TxPool
from contracts.app import ChainApp
from contracts.registry import default_executor
from ledger.block import Block
from ledger.crypto import ED25519_SHA256
from ledger.kv import MemoryKV
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.ratelimit import TokenBuckets
from tests.chainkit import Chain
from tests.test_pool import CHAIN, SUITE, add, make_tx


def test_intern_returns_the_pool_copy_only_for_an_equal_transaction() -> None:
    pool = TxPool(SUITE, CHAIN, lambda s: 0)
    secret = SUITE.generate_secret()
    held = make_tx(secret, 0)
    assert add(pool, held) is None
    twin = SignedTx.decode(held.encode())
    assert twin == held and twin is not held
    assert pool.intern(twin) is held
    forged = SignedTx(held.body, bytes(64))  # same body, other signature
    assert pool.intern(forged) is forged
    other_body = make_tx(secret, 0, note="x")  # same sender and nonce, other body
    assert pool.intern(other_body) is other_body
    stranger = make_tx(SUITE.generate_secret(), 0)
    assert pool.intern(stranger) is stranger
    later = make_tx(secret, 1)
    assert pool.intern(later) is later

def test_app_knows_only_the_signatures_it_verified() -> None:
    suite = ED25519_SHA256
    committee = [Chain.new(suite).pubkey("alice")]
    leader = Chain.new(suite, kv=MemoryKV(), committee=committee, contracts_genesis=True)
    follower = Chain.new(suite, kv=MemoryKV(), committee=committee, contracts_genesis=True)
    lapp = ChainApp(leader.store, leader.store.tree, default_executor(), suite,
                    leader.store.chain_id)
    fapp = ChainApp(follower.store, follower.store.tree, default_executor(), suite,
                    follower.store.chain_id)
    tx = follower.tx("alice", 0, "bench.noop", {})  # a sender the chain knows
    head = leader.store.head_header()
    block = lapp.propose(head, head.height + 1, 0, 1, head.time_ms + 1000, (tx,))
    assert not fapp.known_verified(tx)
    assert fapp.validate(follower.store.head_header(), block) is None
    assert fapp.signature_checks == 1
    assert fapp.known_verified(tx)
    assert fapp.known_verified(SignedTx.decode(tx.encode()))
    assert not fapp.known_verified(SignedTx(tx.body, bytes(64)))
    # Validating the same block again (cached) verifies nothing more.
    assert fapp.validate(follower.store.head_header(), Block(block.header, block.txs)) is None
    assert fapp.signature_checks == 1


def test_node_verifies_each_signature_once_across_admission_and_proposals() -> None:
    import asyncio

    from tests.test_api import CHAIN as API_CHAIN
    from tests.test_api import CLIENT as API_CLIENT
    from tests.test_api import SUITE as API_SUITE
    from tests.test_api import make_node

    async def body() -> None:
        n = make_node()
        secret = API_SUITE.generate_secret()
        sender = API_SUITE.public_key(secret)
        txs = [sign_tx(API_SUITE, secret, TxBody(API_CHAIN, sender, i, "bench.noop", {}))
               for i in range(6)]
        forged = SignedTx(txs[5].body, bytes(64))
        # Two overlapping checks at once (a proposal racing its gossip): the shared
        # transactions are verified by one of them only, the other waits for it.
        check = n.admission._verify_once
        first, second = await asyncio.gather(check(txs[:4]), check(txs[2:5] + [forged]))
        assert first == [True] * 4 and second == [True, True, True, False]
        verified = n.metrics.value("signatures_verified_total")
        assert verified == 6  # 5 distinct good signatures + the forged one, once each
        assert all(n.chain.sigs.known(t) for t in txs[:5])
        assert not n.chain.sigs.known(forged)
        again = await check(txs[:5])
        assert again == [True] * 5 and n.metrics.value("signatures_verified_total") == 6
        assert not n.admission._in_flight
        # A source's budget counts transactions (decoded, verified), not requests.
        known = API_SUITE.public_key(API_CLIENT)  # the chain admits only senders it knows
        more = [sign_tx(API_SUITE, API_CLIENT, TxBody(API_CHAIN, known, i, "bench.noop", {}))
                for i in range(50)]
        n.admission._budgets = TokenBuckets(rate_per_s=10)
        allowed = n.admission.take_budget("client-a", len(more))
        assert allowed == 10  # the rest is refused unread by the API
        results = await n.admission.submit([t.encode() for t in more[:allowed]])
        assert [r.accepted for r in results] == [True] * 10
        assert n.metrics.value("signatures_verified_total") == 6 + 10
        n.admission.close()

    asyncio.run(body())
