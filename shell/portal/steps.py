"""What a tender's timeline is made of: ``Step`` (a time, a title, what it shows, the verify
actions of what it shows) and ``TenderTxs``, the tender's indexed transactions
(``shell.portal.txindex``) as a page may use them.

A transaction's own content and its §8 proof are shown only when
``contracts.disclosure.tx_disclosed`` allows (``PortalReader.tx_shown``): before the
tender's deadline a bidder's acts (and an objector's) are not public business; the tender's
own side's acts are, and from the deadline on everything naming the tender is. Where a
transaction is not shown its *time* may still place a step whose fact public state already
fixes, because the block that holds the transaction is the block where that public record
changed (a reply: the objection record; the contract: the tender record), which anyone can
find from the records' proofs at each height: ``time_of`` is for such steps only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shell.portal.layout import Proof, tx_proof
from shell.portal.markup import Markup
from shell.portal.reads import PortalReader
from shell.portal.txindex import TxEntry

Names = Callable[[str], Markup]  # a USCC as a link with the entity's name


@dataclass(frozen=True)
class Step:
    at_ms: int
    title: Markup
    body: Markup
    proofs: Sequence[tuple[Proof, str]] = field(default_factory=tuple)
    upcoming: bool = False


class TenderTxs:
    """The tender's indexed transactions by call, in chain order."""

    def __init__(self, reader: PortalReader, entries: list[TxEntry]) -> None:
        self._reader = reader
        self._entries = entries
        self._asked: dict[bytes, bool] = {}  # each transaction read and asked once a page

    def shown(self, call: str) -> list[TxEntry]:
        """The transactions of ``call`` disclosure lets anyone see."""
        return [e for e in self._entries if e.call == call and self._shown(e)]

    def nth(self, call: str, n: int) -> TxEntry | None:
        """The ``n``-th (from 1) transaction of ``call``, shown or not."""
        found = [e for e in self._entries if e.call == call]
        return found[n - 1] if 1 <= n <= len(found) else None

    def first(self, call: str, **args: object) -> TxEntry | None:
        """The first transaction of ``call`` with these arguments, shown or not."""
        for e in self._entries:
            if e.call == call and all(e.args.get(k) == v for k, v in args.items()):
                return e
        return None

    def time_of(self, entry: TxEntry | None, fallback_ms: int) -> int:
        """The block time of a step public state fixes (see the module docstring)."""
        return entry.time_ms if entry is not None else fallback_ms

    def proof(self, entry: TxEntry | None, what: str) -> list[tuple[Proof, str]]:
        """The §8 verify action of ``entry``, when anyone may see it."""
        if entry is None or not self._shown(entry):
            return []
        return [(tx_proof(entry.tx_id), what)]

    def _shown(self, entry: TxEntry) -> bool:
        if entry.tx_id not in self._asked:
            tx = self._reader.chain.store.tx(entry.tx_id)
            self._asked[entry.tx_id] = tx is not None and self._reader.tx_shown(tx, entry.height)
        return self._asked[entry.tx_id]
