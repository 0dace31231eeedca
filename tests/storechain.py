"""Test and benchmark helper: the trading story on a real chain in a ``BlockStore``.

``StoreChainClient`` is a ``contracts.scenario`` client whose every ``submit`` is one
certified block: ``ChainApp.propose`` executes the transaction over the store's state, the
four demo validators sign the QC, ``ChainApp.commit`` writes it (one batch). The store is
then what a node's data directory holds, so audit replay, export and history can be run
on it (``store_source``) or on a ``LevelKV`` directory like a stopped node's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.app import ChainApp
from contracts.registry import default_executor
from contracts.scenario import SCENARIO_PARAMS, actor_secret, scenario_roles
from contracts.scenario_kit import BeaconHook, validator_beacon_hook
from ledger.block import QC, Block, Validator, commit_vote_bytes, quorum
from ledger.crypto import get_suite
from ledger.genesis import Anchor, GenesisDoc, export_anchor, init_store
from ledger.kv import KV, LevelKV, MemoryKV
from ledger.store import BlockStore
from ledger.tx import Receipt, SignedTx

START_MS = 1_709_254_800_000
VALIDATORS = 4


def demo_doc(suite_name: str = "ed25519-sha256", chain_id: str = "store-chain") -> GenesisDoc:
    suite = get_suite(suite_name)
    validators = tuple(Validator(f"v{i}", suite.public_key(actor_secret(suite, f"v{i}")))
                       for i in range(VALIDATORS))
    return GenesisDoc(chain_id=chain_id, suite=suite_name, time_ms=START_MS,
                      validators=validators,
                      committee=[suite.public_key(actor_secret(suite, "c0"))],
                      roles=scenario_roles(suite), params=dict(SCENARIO_PARAMS), demo=True)


class StoreChainClient:
    def __init__(self, suite_name: str = "ed25519-sha256", kv: KV | None = None,
                 block_interval_ms: int = 500) -> None:
        self.doc = demo_doc(suite_name)
        self.suite = self.doc.crypto
        self.chain_id = self.doc.chain_id
        self.store = BlockStore(kv if kv is not None else MemoryKV(), self.suite)
        init_store(self.store, self.doc)
        self.app = ChainApp(self.store, self.store.tree, default_executor(), self.suite,
                            self.chain_id)
        self.secrets = {self.suite.public_key(actor_secret(self.suite, f"v{i}")):
                        actor_secret(self.suite, f"v{i}") for i in range(VALIDATORS)}
        self.time_ms = START_MS
        self.block_interval_ms = block_interval_ms

    def anchor(self) -> Anchor:
        return export_anchor(self.store)

    def block(self, txs: tuple[SignedTx, ...]) -> list[Receipt]:
        """Commit one block holding ``txs`` (possibly none)."""
        self.time_ms += self.block_interval_ms
        head = self.store.head_header()
        height = head.height + 1
        block = self.app.propose(head, height, 0, height % VALIDATORS, self.time_ms, txs)
        validators = self.store.validators_at(height)
        block_hash = block.header.hash(self.suite)
        msg = commit_vote_bytes(self.chain_id, height, 0, block_hash)
        votes = tuple((i, self.suite.sign(self.secrets[validators[i].pubkey], msg))
                      for i in range(quorum(len(validators))))
        return self.app.commit(block, QC(height, 0, block_hash, votes))

    def submit(self, tx: SignedTx) -> Receipt:
        receipts = self.block((tx,))
        if len(receipts) != 1:
            raise RuntimeError("the transaction was not taken into the block")
        return receipts[0]

    def now_ms(self) -> int:
        return self.time_ms

    def wait_until(self, t_ms: int) -> None:
        self.time_ms = max(self.time_ms, t_ms)

    def get(self, key: str) -> Any:
        from ledger import encoding

        raw = self.store.tree.get(key)
        return None if raw is None else encoding.decode(raw)

    def nonce_of(self, pubkey: bytes) -> int:
        value = self.get(f"nonce/{pubkey.hex()}")
        return 0 if value is None else int(value)

    def validator_hook(self) -> BeaconHook:
        """The validators' beacon transactions, played with their known demo keys (the
        story's committee draw waits for them)."""
        return validator_beacon_hook(self, self.get, lambda: self.store.head()[0],
                                     list(self.secrets.values()))

    def story(self) -> dict[str, Any]:
        """Run the whole trading story once more on this chain."""
        from contracts.scenario import run_scenario

        self.time_ms += 1  # a new story's ids come from the time
        return run_scenario(self, lambda line: None, beacon_hook=self.validator_hook())


class StoreSource:
    """A ``shell.auditsrc.BlockSource`` over a live store (as a stopped node's would be)."""

    def __init__(self, store: BlockStore, head: int | None = None,
                 sealed_from: int | None = None) -> None:
        self.store = store
        self.fixed_head = head
        self.sealed_from = sealed_from  # refuse this height on, as a node does sealed blocks

    def head(self) -> int:
        return self.store.head()[0] if self.fixed_head is None else self.fixed_head

    def block_hash(self, height: int) -> bytes | None:
        header = self.store.header(height)
        return None if header is None else header.hash(self.store.suite)

    def blocks(self, first: int, last: int) -> Iterator[tuple[Block, QC]]:
        from shell.auditsrc import WithheldBlock

        for h in range(first, last + 1):
            if self.sealed_from is not None and h >= self.sealed_from:
                raise WithheldBlock(h, "the block holds a sealed bid before its tender's deadline")
            block, qc = self.store.block(h), self.store.qc(h)
            assert block is not None and qc is not None
            yield block, qc

    def close(self) -> None:
        pass


def story_in_data_dir(root: Path) -> tuple[StoreChainClient, LevelKV, dict[str, Any]]:
    """The whole story on a chain in ``root/data/db`` (a stopped node's LevelDB), its
    genesis document and anchor saved beside it: the client, its open store (the caller
    closes it) and the story's summary."""
    kv = LevelKV(str(root / "data" / "db"))
    client = StoreChainClient(kv=kv)
    summary = client.story()
    client.doc.save(root / "genesis.json")
    client.anchor().save(root / "anchor.json")
    return client, kv, summary
