"""The tender transactions of a chain, by tender: what a timeline needs that state does not
keep (when an objection was answered or ruled, when the contract was recorded, suspensions)
and the transaction each step can be verified by (PROTOCOL §8 inclusion bundle).

``TxIndex.for_chain(chain)`` is one index per open chain, kept in memory and brought up to
the head a bounded number of blocks at a time (``catch_up``): a page never waits for a scan
of the whole chain, and says how far behind the index is when it is. Only successful calls
of the tender's side (``tender.*``, the opening calls ``bid.open``/``bid.close``, and the
committee's ``draw.*``/``evaluation.*`` once those contracts land) are indexed — never a
bidder's ``bid.submit``/``replace``/``withdraw``/``reveal``/``revoke``, so the index holds
nothing of sealed bids. Pages still ask ``contracts.disclosure.sealed_tx_reason`` before
showing any entry. Bounded: ``MAX_ENTRIES`` in all and ``MAX_PER_TENDER`` per tender; past
them the index says it is full rather than growing.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from shell.chain import Chain

MAX_BLOCKS_PER_CALL = 2_000
MAX_ENTRIES = 100_000
MAX_PER_TENDER = 512
INDEXED_NAMESPACES = ("tender.", "draw.", "evaluation.")
INDEXED_CALLS = frozenset({"bid.open", "bid.close"})
_KEPT_ARGS = ("n", "stage", "ruling", "winners", "affects_bids", "deadline_ms", "uscc", "round")
_MAX_ARG_TEXT = 128


@dataclass(frozen=True)
class TxEntry:
    """One committed, successful tender transaction."""

    height: int
    index: int
    time_ms: int
    tx_id: bytes
    call: str
    args: dict[str, Any]


def indexed_call(call: str) -> bool:
    return call.startswith(INDEXED_NAMESPACES) or call in INDEXED_CALLS


def _small_args(args: dict[str, Any]) -> dict[str, Any]:
    """The few arguments a timeline shows, each bounded in size."""
    out: dict[str, Any] = {}
    for name in _KEPT_ARGS:
        value = args.get(name)
        if isinstance(value, (bool, int)) or (isinstance(value, str)
                                               and len(value) <= _MAX_ARG_TEXT):
            out[name] = value
        elif isinstance(value, list) and len(value) <= 16:
            out[name] = [v for v in value if isinstance(v, (str, list))][:16]
    return out


_INDEXES: weakref.WeakKeyDictionary[Chain, TxIndex] = weakref.WeakKeyDictionary()


class TxIndex:
    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._next_height = 1
        self._by_tender: dict[str, list[TxEntry]] = {}
        self._entries = 0
        self.full = False

    @classmethod
    def for_chain(cls, chain: Chain) -> TxIndex:
        index = _INDEXES.get(chain)
        if index is None:
            index = cls(chain)
            _INDEXES[chain] = index
        return index

    def behind(self) -> int:
        """Blocks not indexed yet."""
        return max(0, self._chain.height() + 1 - self._next_height)

    def catch_up(self, max_blocks: int = MAX_BLOCKS_PER_CALL) -> int:
        """Index up to ``max_blocks`` more blocks; returns the blocks still behind."""
        store, suite = self._chain.store, self._chain.suite
        head = self._chain.height()
        stop = min(head, self._next_height + max_blocks - 1)
        for height in range(self._next_height, stop + 1):
            block = store.block(height)
            if block is None:
                break
            self._next_height = height + 1
            wanted = [(i, tx) for i, tx in enumerate(block.txs) if indexed_call(tx.body.call)
                      and isinstance(tx.body.args.get("tender_id"), str)]
            if not wanted or self.full:
                continue
            receipts = store.receipts(height) or []
            for i, tx in wanted:
                if i < len(receipts) and receipts[i].ok:
                    self._add(str(tx.body.args["tender_id"]), TxEntry(
                        height, i, int(block.header.time_ms), tx.tx_id(suite), tx.body.call,
                        _small_args(tx.body.args)))
        return self.behind()

    def _add(self, tender_id: str, entry: TxEntry) -> None:
        if self._entries >= MAX_ENTRIES:
            self.full = True
            return
        entries = self._by_tender.setdefault(tender_id, [])
        if len(entries) < MAX_PER_TENDER:
            entries.append(entry)
            self._entries += 1

    def of_tender(self, tender_id: str) -> list[TxEntry]:
        """The tender's indexed transactions, in chain order."""
        return list(self._by_tender.get(tender_id, ()))
