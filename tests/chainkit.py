"""Test helper: real chains in a store, with validator keys and QCs signed by them.

``Chain.new(suite, n)`` creates a genesis with ``n`` deterministic validator keys;
``chain.extend(writes, ...)`` builds the next block over the head (state root computed by the
store's own tree on a throwaway batch), signs its QC with a quorum of the current validators
and commits it through ``BlockStore.commit_block``. Used by the store, bundle and app tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger import encoding
from ledger.block import (
    QC,
    Block,
    Header,
    Validator,
    ValidatorSet,
    commit_vote_bytes,
    quorum,
    receipts_root,
    tx_root,
    validators_hash,
)
from ledger.crypto import Suite
from ledger.genesis import GenesisDoc, init_store
from ledger.kv import KV, MemoryKV
from ledger.store import BlockStore
from ledger.tx import OK, Receipt, SignedTx, TxBody, sign_tx

GENESIS_TIME_MS = 1_760_000_000_000
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def secret_for(suite: Suite, label: str) -> bytes:
    """A deterministic secret key for ``label`` (valid for both suites)."""
    digest = hashlib.sha256(f"{suite.name}/{label}".encode()).digest()
    if suite.name == "sm2-sm3":
        return (int.from_bytes(digest, "big") % (_SM2_N - 2) + 1).to_bytes(32, "big")
    return digest


@dataclass
class Chain:
    suite: Suite
    store: BlockStore
    doc: GenesisDoc
    secrets: dict[bytes, bytes] = field(default_factory=dict)  # pubkey -> secret

    @classmethod
    def new(
        cls,
        suite: Suite,
        n: int = 4,
        kv: KV | None = None,
        state: Mapping[str, bytes] | None = None,
        chain_id: str = "test-chain",
        committee: Sequence[bytes] = (),
        contracts_genesis: bool = False,
    ) -> Chain:
        """``contracts_genesis``: the genesis state is the contracts' ``genesis_state``
        (parameters, ``gov/validators``, roles) instead of a one-key demo state."""
        secrets = {}
        vals = []
        for i in range(n):
            secret = secret_for(suite, f"node{i}")
            pub = suite.public_key(secret)
            secrets[pub] = secret
            vals.append(Validator(f"node{i}", pub))
        members = list(committee) or [vals[0].pubkey]
        doc = GenesisDoc(chain_id, suite.name, GENESIS_TIME_MS, tuple(vals), members)
        store = BlockStore(kv if kv is not None else MemoryKV(), suite)
        if contracts_genesis:
            init_store(store, doc)
        else:
            init_store(store, doc, dict(state or {"demo/genesis": encoding.encode("hello")}))
        return cls(suite, store, doc, secrets)

    def add_key(self, label: str) -> Validator:
        secret = secret_for(self.suite, label)
        pub = self.suite.public_key(secret)
        self.secrets[pub] = secret
        return Validator(label, pub)

    def make_block(
        self,
        writes: Mapping[str, bytes | None],
        txs: Sequence[SignedTx] = (),
        next_validators: ValidatorSet | None = None,
        view: int = 0,
    ) -> tuple[Block, list[Receipt]]:
        store = self.store
        head = store.head_header()
        height = head.height + 1
        current = store.validators_at(height)
        nxt = current if next_validators is None else next_validators
        receipts = [Receipt(t.tx_id(self.suite), OK) for t in txs]
        tree = store.tree
        root = tree.apply(dict(writes), store.kv.batch(), height)
        tree.discard_pending()
        header = Header(
            chain_id=head.chain_id,
            height=height,
            prev_hash=head.hash(self.suite),
            time_ms=head.time_ms + 1000,
            view=view,
            proposer=(height + view) % len(current),
            tx_root=tx_root(self.suite, txs),
            receipts_root=receipts_root(self.suite, receipts),
            state_root=root,
            validators_hash=validators_hash(self.suite, current),
            next_validators_hash=validators_hash(self.suite, nxt),
        )
        return Block(header, tuple(txs)), receipts

    def sign_qc(self, header: Header, voters: Sequence[int] | None = None) -> QC:
        # A header at a wrong height is still signed by the set of the next height.
        current = self.store.validators_at(min(header.height, self.store.head()[0] + 1))
        if voters is None:
            voters = range(quorum(len(current)))
        block_hash = header.hash(self.suite)
        msg = commit_vote_bytes(header.chain_id, header.height, header.view, block_hash)
        votes = tuple(
            (i, self.suite.sign(self.secrets[current[i].pubkey], msg)) for i in sorted(voters)
        )
        return QC(header.height, header.view, block_hash, votes)

    def extend(
        self,
        writes: Mapping[str, bytes | None],
        txs: Sequence[SignedTx] = (),
        next_validators: ValidatorSet | None = None,
        view: int = 0,
    ) -> Block:
        """``view``: the block was decided in that view (its leaders below it failed)."""
        block, receipts = self.make_block(writes, txs, next_validators, view)
        qc = self.sign_qc(block.header)
        nxt = self.store.validators_at(block.header.height) if next_validators is None else (
            next_validators
        )
        self.store.commit_block(block, qc, receipts, dict(writes), nxt)
        return block

    def tx(self, label: str, nonce: int, call: str = "demo.put",
           args: Mapping[str, object] | None = None) -> SignedTx:
        secret = secret_for(self.suite, label)
        body = TxBody(self.doc.chain_id, self.suite.public_key(secret), nonce, call,
                      dict(args) if args is not None else {"n": nonce})
        return sign_tx(self.suite, secret, body)

    def pubkey(self, label: str) -> bytes:
        return self.suite.public_key(secret_for(self.suite, label))
