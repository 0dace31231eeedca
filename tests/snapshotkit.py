"""Test helper: a store started from a snapshot of another, as a joining node builds it.

The pieces go from one store to the other through the functions a node uses on each side
(``build_manifest`` / ``verify_manifest``, ``export_pieces`` / ``TreeImport.accept``,
``install``), with no network in between: ``shell.statesync`` only moves these bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.genesis import GenesisDoc, export_anchor
from ledger.kv import MemoryKV
from ledger.snapshot import (
    Manifest,
    TreeImport,
    build_manifest,
    export_pieces,
    install,
    verify_manifest,
)
from ledger.store import BlockStore

Answer = Callable[[list[bytes]], Any]


def honest(store: BlockStore, budget: int = 1 << 20) -> Answer:
    return lambda tops: export_pieces(store.kv, store.suite, tops, budget)


def fetch_tree(suite: Any, kv: MemoryKV, root: bytes, answer: Answer, per_request: int = 16,
               ) -> TreeImport:
    tree = TreeImport(suite, kv, root)
    while not tree.done:
        asked = tree.take(per_request)
        got = tree.accept(asked, answer(asked))
        assert got > 0, "an honest archive store serves every piece"
    return tree


def synced_kv(source: BlockStore, doc: GenesisDoc, height: int,
              extra: Mapping[bytes, bytes] | None = None,
              change: Callable[[Manifest], Manifest] | None = None) -> MemoryKV:
    """A new KV holding a store started at ``height`` from ``source``; ``extra`` goes into
    the install batch (a validator's consensus records), ``change`` alters the verified
    manifest before the install (what a peer that leaves something out would cause)."""
    manifest = verify_manifest(build_manifest(source, height), export_anchor(source))
    if change is not None:
        manifest = change(manifest)
    kv = MemoryKV()
    tree = fetch_tree(source.suite, kv, manifest.header.state_root, honest(source))
    # A node builds genesis from its own genesis file (``Chain.open`` checks it the same
    # way); chainkit's test chains have a genesis state of their own, so take the source's.
    genesis = source.block(0)
    assert genesis is not None
    install(kv, doc.to_obj(), genesis, doc.validators, manifest, tree, extra)
    return kv


def state_sync(source: BlockStore, doc: GenesisDoc, height: int) -> BlockStore:
    """A new store started at ``height`` from ``source``."""
    return BlockStore(synced_kv(source, doc, height), source.suite)
