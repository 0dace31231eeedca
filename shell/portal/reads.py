"""Every read the portal makes, in one place, each asked of ``contracts.disclosure`` first.

The portal is the public's view: it reads as ``contracts.disclosure.PUBLIC`` (an unsigned
request), whoever asks — a signed request does not make a page show more.
``PortalReader(chain)`` fixes one instant for a whole page: the head state, its height and
the head block's time as "now" (the chain's clock, as the API's). Pages read only through
it:

- ``get(key)`` / ``raw(key)``: a record, after ``key_refusal`` — a refused key raises
  ``SealedRecord`` (the portal never asks for one; if it did, the page is refused rather
  than shown);
- ``tx_shown(tx, height)``: whether a transaction committed at ``height`` may be shown
  (``tx_disclosed``: bidders' acts before their tender's deadline and an enterprise's acts
  that name no tender are not public);
- ``scan(prefix, after, limit, scan_max)``: the head values under a key prefix in key order
  (``StateTree.scan``: the head index gives the keys in order, each value is the tree's
  checked read, and an entry the tree does not bear out is a store fault), bounded twice:
  at most ``limit`` records returned and ``scan_max`` keys looked at per call, with the cursor to go
  on from; sealed keys are skipped, each asked;
- ``withheld(key, record)``: the fields of a public record the portal does not show before
  a bid deadline: a tender's per-lot ``bids``, 0 until opening — shown, it would read as
  "nobody has bid". ``guarantee_listable``: whether a guarantee may be *listed* (on its
  principal's page): not while its tender takes bids, since its existence names a likely
  bidder — the reading ``contracts.disclosure`` applies to a guarantee's issue. Checked by
  its number (验真) a guarantee is shown whenever: whoever has the number knows that much.
  Both are the portal's own display rules; the policy stays in ``contracts.disclosure``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contracts.disclosure import PUBLIC, deadline_ms, key_refusal, tx_disclosed
from contracts.guarantee import status_of
from contracts.runtime import param
from contracts.state import Overlay
from ledger.encoding import decode_trusted
from ledger.tx import SignedTx
from shell.chain import Chain

TENDER_WITHHELD_BEFORE_DEADLINE = ("lots.*.bids",)


class NotFound(Exception):
    """What the page is about is not on the chain (answered 404 with this text)."""


class SealedRecord(Exception):
    """A key the disclosure rule keeps sealed now; ``str()`` is its reason."""


@dataclass(frozen=True)
class ScanPage:
    """Records under a prefix, in key order: ``items`` ``(key, value)``; ``next_after`` is
    the key to go on after (None: nothing more); ``scanned`` keys were looked at."""

    items: list[tuple[str, Any]]
    next_after: str | None
    scanned: int


class PortalReader:
    """The head state at one instant, read the way the disclosure rule allows."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.state = chain.head_state()
        self.height = chain.height()
        self.now_ms = int(chain.store.head_header().time_ms)
        self._overlay = Overlay(self.state)

    def sealed(self, key: str) -> str | None:
        return key_refusal(self.state, PUBLIC, key, self.now_ms)

    def tx_shown(self, tx: SignedTx, height: int) -> bool:
        """May ``tx``, committed in block ``height``, be shown to anyone?"""
        return tx_disclosed(self.state, PUBLIC, tx, self.now_ms,
                            self.chain.sender_states(height))

    @property
    def overlay(self) -> Overlay:
        """The head state for the contracts' own queries (they ask nothing sealed)."""
        return self._overlay

    def raw(self, key: str) -> bytes | None:
        reason = self.sealed(key)
        if reason:
            raise SealedRecord(reason)
        return self.state.get(key)

    def get(self, key: str) -> Any:
        raw = self.raw(key)
        return None if raw is None else decode_trusted(raw)

    def param(self, name: str) -> Any:
        return param(self._overlay, name)

    def guarantee_status(self, g: dict[str, Any]) -> str:
        """A guarantee's state as ``contracts.guarantee.status_of`` names it, read the way
        the public may: "bound" once its binding is on chain (written at opening), its
        record's status while the binding key is sealed."""
        try:
            return status_of(self, g)
        except SealedRecord:
            return str(g["status"])

    def deadline_passed(self, tender_id: str) -> bool:
        """True once the tender's bid deadline is at or before "now"; False before it and for
        a tender that does not exist (nothing about it is known to be public)."""
        deadline = deadline_ms(self.state, tender_id)
        return deadline is not None and deadline <= self.now_ms

    def scan(self, prefix: str, after: str | None, limit: int,
             scan_max: int) -> ScanPage:
        items: list[tuple[str, Any]] = []
        scanned = 0
        last: str | None = None
        for key, raw in self._head_values(prefix, after):
            if scanned >= scan_max or len(items) >= limit:
                return ScanPage(items, last, scanned)
            scanned += 1
            last = key
            if self.sealed(key):
                continue
            items.append((key, decode_trusted(raw)))
        return ScanPage(items, None, scanned)

    def scan_keys(self, prefix: str, after: str | None, scan_max: int,
                  ) -> Iterator[tuple[str, bytes]]:
        """Raw ``(key, CE value)`` under ``prefix`` after ``after``, at most ``scan_max``,
        sealed keys left out (for callers that filter before decoding)."""
        for n, (key, raw) in enumerate(self._head_values(prefix, after)):
            if n >= scan_max:
                return
            if not self.sealed(key):
                yield key, raw

    def _head_values(self, prefix: str, after: str | None) -> Iterator[tuple[str, bytes]]:
        return self.chain.store.tree.scan(prefix, after)

    # ---- the portal's own withholding before a deadline (see the module docstring) ----------

    def withheld(self, key: str, record: Any) -> tuple[str, ...]:
        if not isinstance(record, dict):
            return ()
        parts = key.split("/")
        if len(parts) == 2 and parts[0] == "tender":
            return () if self.deadline_passed(parts[1]) else TENDER_WITHHELD_BEFORE_DEADLINE
        return ()

    def guarantee_listable(self, record: Any) -> bool:
        tender_id = record.get("tender_id") if isinstance(record, dict) else None
        return isinstance(tender_id, str) and self.deadline_passed(tender_id)
