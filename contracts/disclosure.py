"""What the chain may show to whom: the sealed-bid rule, as queries the API asks.

DOMAIN.md step 4: before a tender's bid deadline nobody but the bidder may learn who or how
many have bid. The HTTP shell holds no state-key literal of its own; it asks here, for every
read path, with the head state and the head block's time as "now":

- ``sealed_key_reason(state, key, now_ms)``: why a state key may not be served (records
  under ``bid/<tender>/...`` and ``bidset/<tender>/...`` before that tender's deadline; a key
  of an unknown tender stays refused), or ``None``;
- ``sealed_tx_reason(state, tx, now_ms)``: why a transaction (and so a block holding it) may
  not be shown: a ``bid.*`` call before its tender's deadline, or ``None``.
"""

from __future__ import annotations

from contracts.state import Overlay, StateReader
from contracts.tender import tender_key
from ledger.tx import SignedTx

SEALED_PREFIXES = ("bid/", "bidset/")


def deadline_ms(state: StateReader, tender_id: str) -> int | None:
    """The tender's bid deadline, or None when there is no such tender."""
    if not tender_id or "/" in tender_id:
        return None
    tender = Overlay(state).get(tender_key(tender_id))
    value = tender.get("deadline_ms") if isinstance(tender, dict) else None
    return value if isinstance(value, int) else None


def sealed_key_reason(state: StateReader, key: str, now_ms: int) -> str | None:
    if not key.startswith(SEALED_PREFIXES):
        return None
    parts = key.split("/")
    deadline = deadline_ms(state, parts[1]) if len(parts) > 1 else None
    if deadline is None:
        return f"{key} is a sealed bid record of an unknown tender"
    if now_ms < deadline:
        return f"{key} is a sealed bid record until the bid deadline ({deadline} ms)"
    return None


def sealed_tx_reason(state: StateReader, tx: SignedTx, now_ms: int) -> str | None:
    if not tx.body.call.startswith("bid."):
        return None
    tender_id = tx.body.args.get("tender_id")
    deadline = deadline_ms(state, tender_id) if isinstance(tender_id, str) else None
    if deadline is None:
        return None  # no such tender: the call failed and sealed nothing
    if now_ms < deadline:
        return "the block holds a sealed bid before its tender's deadline"
    return None
