"""Retained history: the oldest height a node serves blocks, headers and proofs of.

Two things bound it (``[sync]`` in the node config, ``configs/node.example.toml``):

- what the store holds: a store started from a snapshot at height ``B`` holds genesis and
  ``B``..head (``BlockStore.base``); a read below ``B`` is ``HistoryPruned`` in the store
  itself;
- ``retain_heights = N`` (0, the default, is an archive node): only the last ``N`` heights
  are served, ``head - N + 1``..head. This is a serving policy: nothing is deleted (the state
  tree is content-addressed, so old roots share most of their records with new ones and
  pruning them needs a mark-and-sweep this node does not do yet).

Below the oldest height served, blocks, headers, proof bundles (§7, §9) and inclusion
bundles (§8) are refused with ``HistoryPruned`` naming the oldest height, which the HTTP API
answers ``410 Gone``: never a 500, never an answer about another height. Genesis (height 0,
the verifiers' anchor) is always served. Snapshots are offered within the same range.
Peers catching up by block sync are served whatever the store holds (``retain_heights``
deletes nothing, so refusing them would only push them to state sync sooner).
"""

from __future__ import annotations

from ledger.errors import HistoryPruned
from ledger.store import BlockStore


class History:
    """The retained range of one node's store."""

    def __init__(self, store: BlockStore, retain_heights: int) -> None:
        if retain_heights < 0:
            raise ValueError("retain_heights must be 0 (archive) or more")
        self.store = store
        self.retain_heights = retain_heights

    @property
    def archive(self) -> bool:
        return self.retain_heights == 0 and self.store.base == 0

    def oldest(self) -> int:
        """The oldest height served besides genesis (1 on an archive node from genesis)."""
        head = self.store.head()[0]
        oldest = max(1, self.store.base)
        if self.retain_heights:
            oldest = max(oldest, head - self.retain_heights + 1)
        return min(oldest, max(head, 1))

    def check(self, height: int, what: str = "height") -> None:
        """Raise ``HistoryPruned`` for a height between genesis and the oldest served."""
        oldest = self.oldest()
        if 0 < height < oldest:
            raise HistoryPruned(height, oldest, what)
