"""The node's one record of transaction signatures it has verified.

A transaction id does not cover the signature (PROTOCOL §3), so a record is keyed by id AND
signature. Admission adds what it verified on its worker threads; the chain application asks
before it would verify a proposed block's transaction itself. One instance per node, given to
both when they are built (no second cache to keep in step). Bounded: the oldest records go
first, and a forgotten one only costs a second verification.
"""

from __future__ import annotations

from collections import OrderedDict

from ledger.crypto import Suite
from ledger.tx import SignedTx

DEFAULT_MAX_ENTRIES = 200_000


class VerifiedSignatures:
    """A bounded set of ``(tx id, signature)`` pairs known to verify."""

    def __init__(self, suite: Suite, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be ≥ 1")
        self._suite = suite
        self._max = max_entries
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _key(self, tx: SignedTx) -> bytes:
        return tx.tx_id(self._suite) + tx.sig

    def known(self, tx: SignedTx) -> bool:
        return self._key(tx) in self._seen

    def add(self, tx: SignedTx) -> None:
        """Record that ``tx``'s signature verified (the caller checked it)."""
        key = self._key(tx)
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
