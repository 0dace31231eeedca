"""The exposure list (曝光): sanction records in force, by entity, kind and region — one
function, ``exposure``, that the exposure page calls and nothing else.

Issue 13 adds ``contracts.exposure.exposure`` (indexes written by ``credit.record``, the kinds
from the chain parameter ``sanction_kinds``). Until it is on main, this computes the same
answer from the records themselves: a bounded scan of ``credit/record/…`` in key order,
keeping the records in force at ``now_ms`` (``contracts.credit.record_in_force``) whose kind
is a sanction kind (DOMAIN.md: serious breach, judgment defaulter, debarments, tax
violation). Swapping in the contract's query changes this module only: same filters, same
page shape (records with ``id`` and the record's public fields, a cursor to go on from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.credit import record_in_force
from shell.portal.reads import PortalReader

SANCTION_KINDS = ("serious_breach", "judgment_defaulter", "bid_debarment", "gp_debarment",
                  "tax_violation")
ALL_REGIONS = "*"
RECORD_PREFIX = "credit/record/"
SCAN_MAX = 5_000
LIMIT_MAX = 200
PUBLIC_FIELDS = ("uscc", "kind", "issuer", "document_no", "basis", "scope_kinds",
                 "scope_regions", "from_ms", "to_ms", "recorded_ms", "evidence_hash",
                 "extensions")


class ExposureQueryError(ValueError):
    """A filter the query cannot take (the page answers 400 with this text)."""


@dataclass(frozen=True)
class ExposurePage:
    """``records`` in force matching the filters; ``next_cursor``: where the next page
    starts (None: complete); ``scanned``: records looked at for this page."""

    records: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int


def exposure(reader: PortalReader, *, uscc: str | None = None, kind: str | None = None,
             region: str | None = None, cursor: str | None = None,
             limit: int = 50) -> ExposurePage:
    """The sanction records in force at the reader's "now" matching every filter given."""
    if kind is not None and kind not in SANCTION_KINDS:
        raise ExposureQueryError(f"kind must be one of the sanction kinds {list(SANCTION_KINDS)}")
    if not 1 <= limit <= LIMIT_MAX:
        raise ExposureQueryError(f"limit must be in [1, {LIMIT_MAX}]")
    after = RECORD_PREFIX + cursor if cursor else None
    page = reader.scan(RECORD_PREFIX, after, limit=SCAN_MAX, scan_max=SCAN_MAX)
    records: list[dict[str, Any]] = []
    for i, (key, rec) in enumerate(page.items):
        if isinstance(rec, dict) and _matches(rec, reader.now_ms, uscc, kind, region):
            records.append({"id": key[len(RECORD_PREFIX):],
                            **{f: rec.get(f) for f in PUBLIC_FIELDS}})
        if len(records) >= limit:
            more = i + 1 < len(page.items) or page.next_after is not None
            return ExposurePage(records, key[len(RECORD_PREFIX):] if more else None, i + 1)
    next_cursor = None if page.next_after is None else page.next_after[len(RECORD_PREFIX):]
    return ExposurePage(records, next_cursor, page.scanned)


def _matches(rec: dict[str, Any], now_ms: int, uscc: str | None, kind: str | None,
             region: str | None) -> bool:
    if rec.get("kind") not in SANCTION_KINDS or not record_in_force(rec, now_ms):
        return False
    if uscc is not None and rec.get("uscc") != uscc:
        return False
    if kind is not None and rec.get("kind") != kind:
        return False
    regions = rec.get("scope_regions") or []
    return region is None or ALL_REGIONS in regions or region in regions
