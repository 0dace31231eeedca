"""Where auditors read a chain from: a node's API or a stopped node's store.

A ``BlockSource`` gives the head height, the hash of the block at a height (to check that a
resumed replay or export still follows the same chain), and ``(block, qc)`` pairs over a
range of heights; what it gives is trusted by nobody: the replay
(``contracts.audit.replay``) checks every signature, root and QC.

A node shows blocks with their transactions only to supervisors (``contracts.disclosure``:
everyone else gets each block as a header, its QC, the transaction ids and the receipt
hashes, so no block looks different for holding a sealed bid). ``UrlSource`` therefore
signs its requests with the key it is given (a supervisor's, for a replay or an export). A
source meeting a block it may not have raises ``WithheldBlock`` with the height: the tools
stop there, with what came before intact, and say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ledger.block import QC, Block
from ledger.crypto import Suite
from ledger.errors import HistoryPruned, InvalidInput
from ledger.genesis import GenesisDoc
from ledger.kv import LevelKV, open_failure
from ledger.store import BlockStore
from shell.client import NodeClient, NodeError

# Where to read what a node started by state sync does not keep.
ARCHIVE_NODE = "run again with --url of a node that keeps the whole history (an archive node)"


class WithheldBlock(InvalidInput):
    """The node withholds block ``height``'s transactions from this reader: the replay stops
    there (PARTIAL), and says what the node did and where to go."""

    did = "withholds that block"
    advice = ("a node shows whole blocks to supervisors only: run again with a supervisor's "
              "--key{keyed}; with --state-dir the heights verified before it are kept. "
              "Without such a key, `credchain audit headers` checks the certified chain of "
              "headers")

    def __init__(self, height: int, reason: str, keyed: bool = False) -> None:
        # (auditor walk: "a key given here is not one" was said when none was given)
        advice = self.advice.format(keyed=" (the key given is not one)" if keyed else "")
        super().__init__(f"stopped at height {height}: the node {self.did} ({reason}); "
                         f"{advice}")
        self.height = height
        self.reason = reason


class BlockNotKept(WithheldBlock):
    """The node keeps no block at ``height``: its history starts later (a node started from
    a state snapshot, or one keeping recent heights only). Not a discrepancy in the chain."""

    did = "does not keep that block"
    advice = (f"{ARCHIVE_NODE}, or --data of such a node's data directory, stopped (with "
              "--state-dir, the heights verified before it are kept)")


class BlockSource(Protocol):
    def head(self) -> int: ...

    def block_hash(self, height: int) -> bytes | None: ...

    def blocks(self, first: int, last: int) -> Iterator[tuple[Block, QC]]: ...

    def close(self) -> None: ...


class UrlSource:
    """A node's HTTP API (``GET /status``, ``/headers/{h}``, ``/blocks/{h}``), read as the
    key given (``secret`` of ``suite``), or as the public. A node serving another chain than
    ``chain_id`` is refused at once, by name (its blocks would fail every check)."""

    def __init__(self, url: str, suite: Suite, chain_id: str,
                 secret: bytes | None = None) -> None:
        self.client = NodeClient(url)
        self.keyed = secret is not None
        if secret is not None:
            self.client = self.client.as_key(suite, secret)
        served = self.client.chain_id()  # kept by the client: signed requests need it too
        if served != chain_id:
            raise InvalidInput(f"the node at {url} serves chain {served!r}, not {chain_id!r} "
                               f"(the genesis document's)")
        self.suite = suite

    def head(self) -> int:
        return self.client.head_height()

    def block_hash(self, height: int) -> bytes | None:
        try:
            return self.client.header(height).hash(self.suite)
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise

    def blocks(self, first: int, last: int) -> Iterator[tuple[Block, QC]]:
        for h in range(first, last + 1):
            try:
                yield self.client.block(h)
            except NodeError as exc:
                if exc.status == 403:
                    raise WithheldBlock(h, exc.reason, getattr(self, "keyed", False)) from None
                if exc.status == 410:  # below the oldest height the node keeps
                    raise BlockNotKept(h, exc.reason) from None
                raise InvalidInput(f"the node would not give block {h}: {exc.reason}") from None

    def close(self) -> None:
        pass


class DataSource:
    """A STOPPED node's data directory (its LevelDB under ``db/``), read directly."""

    def __init__(self, data_dir: Path, doc: GenesisDoc) -> None:
        db_dir = data_dir / "db" if (data_dir / "db" / "CURRENT").exists() else data_dir
        if not (db_dir / "CURRENT").exists():
            raise InvalidInput(f"{data_dir} holds no node database (expected {data_dir}/db)")
        try:
            self.kv = LevelKV(str(db_dir), create=False)
        except Exception as exc:  # plyvel reports a held lock or a missing DB this way
            raise InvalidInput(open_failure(db_dir, exc)) from None
        self.store = BlockStore(self.kv, doc.crypto)
        if self.store.empty:
            self.kv.close()
            raise InvalidInput(f"{data_dir} holds no chain")

    def head(self) -> int:
        return self.store.head()[0]

    def block_hash(self, height: int) -> bytes | None:
        header = self.store.header(height)
        return None if header is None else header.hash(self.store.suite)

    def blocks(self, first: int, last: int) -> Iterator[tuple[Block, QC]]:
        for h in range(first, last + 1):
            try:
                block, qc = self.store.block(h), self.store.qc(h)
            except HistoryPruned as exc:  # a state-synced node's (auditor walk: it exited 1,
                raise BlockNotKept(h, str(exc)) from None  # as for a discrepancy)
            if block is None or qc is None:
                raise InvalidInput(f"the data directory has no block or QC at height {h}")
            yield block, qc

    def close(self) -> None:
        self.kv.close()


def open_source(url: str | None, data_dir: str | Path | None, doc: GenesisDoc,
                secret: bytes | None = None) -> BlockSource:
    """The source a command names: exactly one of a node's URL (read as the key ``secret``
    when given) and a data directory."""
    if (url is None) == (data_dir is None):
        raise InvalidInput("give exactly one of --url and --data")
    if url is not None:
        return UrlSource(url, doc.crypto, doc.chain_id, secret)
    return DataSource(Path(str(data_dir)), doc)

