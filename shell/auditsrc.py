"""Where ``credchain audit replay`` reads a chain from: a node's API or a stopped node's store.

Each source yields ``(block, qc)`` pairs from height 1 up; the replay itself
(``contracts.audit.replay``) trusts none of it and checks every signature, root and QC.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ledger.block import QC, Block
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc
from shell.client import NodeClient, NodeError


def blocks_from_url(url: str, to_height: int | None) -> Iterator[tuple[Block, QC]]:
    client = NodeClient(url)
    head = int(client.status()["height"])
    last = head if to_height is None else min(head, to_height)
    for h in range(1, last + 1):
        try:
            yield client.block(h)
        except NodeError as exc:
            raise InvalidInput(f"the node would not give block {h}: {exc.reason}") from None


def blocks_from_data(data_dir: Path, doc: GenesisDoc,
                     to_height: int | None) -> Iterator[tuple[Block, QC]]:
    from ledger.kv import LevelKV
    from ledger.store import BlockStore

    db_dir = data_dir / "db" if (data_dir / "db" / "CURRENT").exists() else data_dir
    if not (db_dir / "CURRENT").exists():
        raise InvalidInput(f"{data_dir} holds no node database (expected {data_dir}/db)")
    try:
        kv = LevelKV(str(db_dir), create=False)
    except Exception as exc:  # plyvel reports a held lock or a missing DB this way
        raise InvalidInput(f"cannot open {data_dir} (is its node still running?): "
                           f"{str(exc).splitlines()[0]}") from None
    try:
        store = BlockStore(kv, doc.crypto)
        head = store.head()[0]
        last = head if to_height is None else min(head, to_height)
        for h in range(1, last + 1):
            block, qc = store.block(h), store.qc(h)
            if block is None or qc is None:
                raise InvalidInput(f"the data directory has no block or QC at height {h}")
            yield block, qc
    finally:
        kv.close()
