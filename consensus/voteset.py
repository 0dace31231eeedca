"""Vote sets: who voted for what, per (view, block hash), at one height.

Like CometBFT's ``VoteSet``: add signed votes (already verified by the caller), ask
"quorum for this block in this view?", and get the sorted signatures that make the
certificate. A validator that signs two different block hashes in one view is an
equivocator: the first vote stays counted, and ``add`` returns both signed votes as
``Evidence`` (once per validator and view); the caller keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two votes of one kind by one validator at one height and view, for different blocks."""

    kind: str  # "prepare" | "commit"
    height: int
    view: int
    index: int
    first: tuple[bytes, bytes]   # (block_hash, sig)
    second: tuple[bytes, bytes]


class VoteSet:
    """Votes of one kind (prepare or commit) at one height, across views."""

    __slots__ = ("kind", "height", "_by_view", "_equivocated")

    def __init__(self, kind: str, height: int) -> None:
        self.kind = kind
        self.height = height
        # view -> index -> (block_hash, sig): one counted vote per validator and view.
        self._by_view: dict[int, dict[int, tuple[bytes, bytes]]] = {}
        self._equivocated: set[tuple[int, int]] = set()  # (view, index) already reported

    def add(self, view: int, index: int, block_hash: bytes, sig: bytes) -> Evidence | None:
        """Count the vote (a repeat or a second vote of the validator in the view is not
        counted again); return ``Evidence`` the first time it contradicts the counted one."""
        votes = self._by_view.setdefault(view, {})
        prior = votes.get(index)
        if prior is None:
            votes[index] = (block_hash, sig)
            return None
        if prior[0] == block_hash or (view, index) in self._equivocated:
            return None
        self._equivocated.add((view, index))
        return Evidence(self.kind, self.height, view, index, prior, (block_hash, sig))

    def count(self, view: int, block_hash: bytes) -> int:
        votes = self._by_view.get(view, {})
        return sum(1 for h, _ in votes.values() if h == block_hash)

    def has_quorum(self, view: int, block_hash: bytes, need: int) -> bool:
        return self.count(view, block_hash) >= need

    def signatures(self, view: int, block_hash: bytes) -> tuple[tuple[int, bytes], ...]:
        """The ``(index, sig)`` votes for ``block_hash`` in ``view``, sorted by index."""
        votes = self._by_view.get(view, {})
        return tuple(sorted((i, s) for i, (h, s) in votes.items() if h == block_hash))

    def quorum_blocks(self, need: int) -> list[tuple[int, bytes]]:
        """Every ``(view, block_hash)`` with at least ``need`` votes."""
        out: list[tuple[int, bytes]] = []
        for view, votes in self._by_view.items():
            tally: dict[bytes, int] = {}
            for h, _ in votes.values():
                tally[h] = tally.get(h, 0) + 1
            out.extend((view, h) for h, c in tally.items() if c >= need)
        return out

    def voted(self, view: int, index: int) -> bytes | None:
        vote = self._by_view.get(view, {}).get(index)
        return None if vote is None else vote[0]
