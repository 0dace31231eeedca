"""The chain application over the real contracts: propose, validate on another node, commit
with the same writes, validator changes from governance, and every refusal."""

from __future__ import annotations

import pytest

from contracts.app import ChainApp
from contracts.registry import default_executor
from ledger.block import Block, validators_hash
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput
from ledger.kv import MemoryKV
from ledger.sigcache import VerifiedSignatures
from ledger.tx import SignedTx
from tests.chainkit import Chain


def _node(suite: Suite, members: tuple[str, ...] = ("alice",)) -> tuple[Chain, ChainApp]:
    """A chain whose committee is ``members`` (the only senders it knows, with the
    validators)."""
    committee = [Chain.new(suite).pubkey(m) for m in members]
    chain = Chain.new(suite, kv=MemoryKV(), committee=committee, contracts_genesis=True)
    store = chain.store
    return chain, ChainApp(store, store.tree, default_executor(), suite, store.chain_id)


def _propose(chain: Chain, app: ChainApp, txs: list[SignedTx], view: int = 0) -> Block:
    head = chain.store.head_header()
    return app.propose(head, head.height + 1, view, 1, head.time_ms + 1000, tuple(txs))


def _add_validator(chain: Chain, nonce: int, label: str) -> SignedTx:
    payload = {"name": label, "pubkey": chain.pubkey(label)}
    return chain.tx("alice", nonce, "gov.propose", {"action": "add_validator", "payload": payload})


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_two_nodes_agree_and_governance_changes_the_next_set(suite: Suite) -> None:
    leader, leader_app = _node(suite)
    follower, follower_app = _node(suite)
    assert leader.store.head() == follower.store.head()
    txs = [_add_validator(leader, 0, "node4"), leader.tx("alice", 1, "gov.vote", {"id": 9})]
    block = _propose(leader, leader_app, txs)
    assert [t.tx_id(suite) for t in block.txs] == [t.tx_id(suite) for t in txs]
    assert follower_app.validate(follower.store.head_header(), block) is None
    nxt = follower_app.next_validators(block)
    assert len(nxt) == 5 and nxt[4].name == "node4"
    assert block.header.next_validators_hash == validators_hash(suite, nxt)
    assert block.header.next_validators_hash != block.header.validators_hash
    qc = leader.sign_qc(block.header)
    runs = (leader_app.executions, follower_app.executions)
    receipts = leader_app.commit(block, qc)
    follower_app.commit(block, qc)
    assert (leader_app.executions, follower_app.executions) == runs  # no re-execution
    assert receipts[0].ok and not receipts[1].ok
    assert leader.store.head() == follower.store.head()
    assert leader.store.validators_at(2) == nxt
    assert leader.store.tree.get("gov/validators") == follower.store.tree.get("gov/validators")


def test_propose_and_validate_write_nothing_and_leave_the_tree_at_the_head() -> None:
    chain, app = _node(ED25519_SHA256)
    kv = chain.store.kv
    assert isinstance(kv, MemoryKV)
    writes, root = kv.writes, chain.store.tree.root
    block = _propose(chain, app, [_add_validator(chain, 0, "node4")])
    other, other_app = _node(ED25519_SHA256)
    assert other_app.validate(other.store.head_header(), block) is None
    assert kv.writes == writes and chain.store.tree.root == root
    assert chain.store.tree.pending == 0 and block.header.state_root != root


def test_propose_leaves_out_committed_and_repeated_transactions() -> None:
    chain, app = _node(ED25519_SHA256)
    first = _add_validator(chain, 0, "node4")
    block = _propose(chain, app, [first, first])
    assert len(block.txs) == 1
    app.commit(block, chain.sign_qc(block.header))
    second = chain.tx("alice", 1, "gov.vote", {"id": 1, "approve": True})
    block = _propose(chain, app, [first, second, second])
    assert [t.tx_id(ED25519_SHA256) for t in block.txs] == [second.tx_id(ED25519_SHA256)]


def test_validate_refuses_bad_blocks_with_the_reason() -> None:
    leader, leader_app = _node(ED25519_SHA256)
    follower, app = _node(ED25519_SHA256)
    parent = follower.store.head_header()
    tx = _add_validator(leader, 0, "node4")
    block = _propose(leader, leader_app, [tx])
    h = block.header

    def reason(b: Block) -> str:
        got = app.validate(parent, b)
        assert got is not None
        return got

    assert "state_root mismatch" in reason(Block(h.with_changes(state_root=bytes(32)), block.txs))
    assert "receipts_root mismatch" in reason(
        Block(h.with_changes(receipts_root=bytes(32)), block.txs)
    )
    assert "next_validators_hash mismatch" in reason(
        Block(h.with_changes(next_validators_hash=h.validators_hash), block.txs)
    )
    assert "tx_root mismatch" in reason(Block(h.with_changes(tx_root=bytes(32)), block.txs))
    assert "twice" in reason(Block(h, (tx, tx)))
    forged = SignedTx(tx.body, bytes(64))
    assert "bad signature" in reason(Block(h, (forged,)))
    assert "does not follow the head" in reason(Block(h.with_changes(height=5), block.txs))
    assert "chain" in reason(Block(h.with_changes(chain_id="other"), block.txs))
    # The genuine block still validates and commits; then its tx is "already committed".
    assert app.validate(parent, block) is None
    qc = leader.sign_qc(block.header)
    app.commit(block, qc)
    leader_app.commit(block, qc)
    again = _propose(leader, leader_app, [])
    replay = Block(again.header, (tx,))
    got = app.validate(follower.store.head_header(), replay)
    assert got is not None and "next is 1" in got  # its nonce is used: already committed


def test_a_sender_the_chain_does_not_know_never_gets_into_a_block() -> None:
    """The pool refuses strangers; a leader that lets one through (or a byzantine one) can't
    put its transactions in a block: propose leaves them out, validate refuses the block."""
    leader, leader_app = _node(ED25519_SHA256)
    follower, app = _node(ED25519_SHA256)
    known = _add_validator(leader, 0, "node4")
    stranger = leader.tx("mallory", 0, "gov.vote", {"id": 1, "approve": True})
    # a would-be one-time bid agent whose authorisation names no entity's key: a stranger too
    agent = leader.tx("agent", 0, "bid.submit", {"tender_id": "T", "lot": 1,
                                                 "bidder_key": bytes(32),
                                                 "bidder_signature": bytes(64)})
    block = _propose(leader, leader_app, [stranger, agent, known])
    assert block.txs == (known,)
    # a block built with the stranger's transaction anyway (its roots computed honestly
    # by an app that skips the rule) is refused by every honest validator
    for sneaked in (stranger, agent):
        forced = Block(block.header, (sneaked, known))
        reason = app.validate(follower.store.head_header(), forced)
        assert reason is not None and "not known to the chain" in reason


def test_a_block_whose_nonces_are_not_each_senders_next_is_refused() -> None:
    """Decided from the state alone (a node started from a snapshot judges as an archive
    node does): a gap, a repeat of a used nonce, the same nonce twice."""
    leader, leader_app = _node(ED25519_SHA256, ("alice", "bob"))
    follower, app = _node(ED25519_SHA256, ("alice", "bob"))
    vote = {"id": 1, "approve": True}
    n0, n1, n2 = (leader.tx("bob", n, "gov.vote", vote) for n in (0, 1, 2))
    header = _propose(leader, leader_app, [n0]).header
    parent = follower.store.head_header()
    for txs, why in (((n1,), "has nonce 1; its sender's next is 0"),
                     ((n0, n2), "has nonce 2; its sender's next is 1"),
                     ((n0, leader.tx("bob", 0, "gov.vote", {"id": 2, "approve": True})),
                      "has nonce 0; its sender's next is 1")):
        reason = app.validate(parent, Block(header, txs))
        assert reason is not None and why in reason, reason
    assert app.validate(parent, _propose(leader, leader_app, [n2, n0, n1])) is None


def test_commit_of_an_unvalidated_bad_block_raises_and_writes_nothing() -> None:
    chain, app = _node(ED25519_SHA256)
    block = _propose(chain, app, [_add_validator(chain, 0, "node4")])
    bad = Block(block.header.with_changes(state_root=bytes(32)), block.txs)
    head = chain.store.head()
    with pytest.raises(InvalidInput, match="state_root mismatch"):
        app.commit(bad, chain.sign_qc(bad.header))
    assert chain.store.head() == head


def test_signatures_known_verified_are_not_checked_again() -> None:
    leader, leader_app = _node(ED25519_SHA256)
    follower, _ = _node(ED25519_SHA256)
    tx = _add_validator(leader, 0, "node4")
    block = _propose(leader, leader_app, [tx])
    # A pool that already verified the tx vouches for it: the forged signature would pass
    # signature checks here, so only the vouching decides (roots are signature-free).
    store = follower.store
    forged = Block(block.header, (SignedTx(tx.body, bytes(64)),))
    vouched = VerifiedSignatures(ED25519_SHA256)
    vouched.add(forged.txs[0])
    trusting = ChainApp(store, store.tree, default_executor(), ED25519_SHA256, store.chain_id,
                        vouched)
    assert trusting.validate(store.head_header(), forged) is None


def test_chain_app_is_the_consensus_application_and_its_chain_proves_records() -> None:
    from consensus.api import Application
    from ledger import bundle
    from ledger.genesis import export_anchor

    chain, chain_app = _node(ED25519_SHA256)
    app: Application = chain_app
    head = chain.store.head_header()
    block = app.propose(head, 1, 0, 1, head.time_ms + 1000, (_add_validator(chain, 0, "node4"),))
    assert app.validate(head, block) is None
    assert len(app.next_validators(block)) == 5
    chain_app.commit(block, chain.sign_qc(block.header))
    for _ in range(2):  # the next blocks are certified by the new set of five
        head = chain.store.head_header()
        block = app.propose(head, head.height + 1, 0, 0, head.time_ms + 1000, ())
        chain_app.commit(block, chain.sign_qc(block.header))
    assert len(chain.store.validators_at(3)) == 5
    obj = bundle.build_bundle(chain.store, chain.store.tree, "gov/validators")
    record = bundle.verify_bundle(obj, export_anchor(chain.store))
    assert record.height == 3 and record.value == chain.store.tree.get("gov/validators")
    assert [e["header"]["height"] for e in obj["validator_chain"]] == [1]


def test_propose_runs_each_senders_nonces_in_order_and_holds_back_a_gap() -> None:
    chain, app = _node(ED25519_SHA256, ("alice", "bob", "carol"))
    suite = ED25519_SHA256
    vote = {"id": 1, "approve": True}
    n0, n1, n3 = (chain.tx("bob", n, "gov.vote", vote) for n in (0, 1, 3))
    other = chain.tx("carol", 0, "gov.vote", vote)
    block = _propose(chain, app, [n1, other, n3, n0])
    # bob's 0 then 1 (arrival order does not matter), carol's 0; bob's 3 waits for 2.
    assert [t.tx_id(suite) for t in block.txs] == [
        n0.tx_id(suite),
        n1.tx_id(suite),
        other.tx_id(suite),
    ]
    app.commit(block, chain.sign_qc(block.header))
    stale = chain.tx("bob", 1, "gov.vote", {"id": 2, "approve": True})
    n2 = chain.tx("bob", 2, "gov.vote", vote)
    block = _propose(chain, app, [n3, stale, n2])
    assert [t.tx_id(suite) for t in block.txs] == [n2.tx_id(suite), n3.tx_id(suite)]


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_commit_adopts_the_tree_update_its_execution_staged(suite: Suite) -> None:
    """Issue 8 item 5: a block's state-tree update is computed once, on propose or validate."""
    leader, leader_app = _node(suite)
    follower, follower_app = _node(suite)
    block = _propose(leader, leader_app, [_add_validator(leader, 0, "node4")])
    assert follower_app.validate(follower.store.head_header(), block) is None
    stages = (leader.store.tree.stages, follower.store.tree.stages)
    qc = leader.sign_qc(block.header)
    leader_app.commit(block, qc)
    follower_app.commit(block, qc, qc_verified=True)
    assert (leader.store.tree.stages, follower.store.tree.stages) == stages
    assert leader.store.tree.root == follower.store.tree.root == block.header.state_root
    assert follower.store.tree.get("gov/validators") == leader.store.tree.get("gov/validators")


def test_the_staged_update_is_adopted_only_on_its_parent_root() -> None:
    chain, app = _node(ED25519_SHA256)
    first = _propose(chain, app, [_add_validator(chain, 0, "node4")])
    app.commit(first, chain.sign_qc(first.header))
    second = _propose(chain, app, [chain.tx("alice", 1, "gov.vote", {"id": 1})])
    staged = app._executed[second.hash(ED25519_SHA256)].staged
    tree = chain.store.tree
    assert staged.parent_root == first.header.state_root and tree.can_adopt(staged)
    tree.apply({"demo/x": b"\x01"}, chain.store.kv.batch(), 99)  # the tree moves
    assert not tree.can_adopt(staged)
    tree.discard_pending()
    stages = tree.stages
    app.commit(second, chain.sign_qc(second.header))
    assert tree.stages == stages and tree.root == second.header.state_root
