"""Every read the portal makes, in one place, each asked of ``contracts.disclosure`` first.

``PortalReader(chain)`` fixes one instant for a whole page: the head state, its height and
the head block's time as "now" (the chain's clock, as the API's). Pages read only through
it:

- ``get(key)`` / ``raw(key)``: a record, after ``sealed_key_reason`` — a sealed key raises
  ``SealedRecord`` (the portal never asks for one; if it did, the page is refused rather
  than shown);
- ``scan(prefix, after, limit, scan_max)``: the head values under a key prefix in key order
  (the KV keeps them under ``ledger.schema.state_head_key``), bounded twice: at most
  ``limit`` records returned and ``scan_max`` keys looked at per call, with the cursor to go
  on from; sealed keys are skipped, each asked;
- ``withheld(key, record)``: the fields of a public record the portal does not show before
  a bid deadline, because they would tell something about bids. This is the portal's own
  reading of DOMAIN.md step 4 for two records ``contracts.disclosure`` does not cover yet
  (issue 10 moves such rules there): a tender's per-lot ``bids`` (0 until opening — shown
  it would read as "nobody has bid") and a guarantee's ``status`` and ``bound_slot`` (they
  change when a bid binds it). ``guarantee_listable`` says whether a guarantee may be listed
  at all: not while its tender takes bids (its existence names a likely bidder).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contracts.disclosure import deadline_ms, sealed_key_reason
from contracts.runtime import param
from contracts.state import Overlay
from ledger import schema
from ledger.encoding import decode_trusted
from shell.chain import Chain

TENDER_WITHHELD_BEFORE_DEADLINE = ("lots.*.bids",)
GUARANTEE_WITHHELD_BEFORE_DEADLINE = ("status", "bound_slot")


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
        return sealed_key_reason(self.state, key, self.now_ms)

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
        head = schema.state_head_key(prefix)
        start = schema.state_head_key(after) + b"\x00" if after is not None else None
        cut = len(schema.STATE_HEAD)
        for k, v in self.chain.kv.scan(head, start=start):
            yield k[cut:].decode("utf-8"), v

    # ---- the portal's own withholding before a deadline (see the module docstring) ----------

    def withheld(self, key: str, record: Any) -> tuple[str, ...]:
        if not isinstance(record, dict):
            return ()
        parts = key.split("/")
        if len(parts) == 2 and parts[0] == "tender":
            return () if self.deadline_passed(parts[1]) else TENDER_WITHHELD_BEFORE_DEADLINE
        if len(parts) == 2 and parts[0] == "guarantee":
            return () if self.guarantee_listable(record) else GUARANTEE_WITHHELD_BEFORE_DEADLINE
        return ()

    def guarantee_listable(self, record: Any) -> bool:
        tender_id = record.get("tender_id") if isinstance(record, dict) else None
        return isinstance(tender_id, str) and self.deadline_passed(tender_id)
