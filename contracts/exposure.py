"""Exposure (曝光): every sanction record in force, listable by entity, kind and region — a
pure query over state for the node's HTTP API (DOMAIN.md, credit paragraph).

    page = exposure(Overlay(reader), now_ms, uscc=None, kind=None, region=None,
                    cursor=0, limit=50)
    page.to_obj() == {"records": [RECORD, ...], "next_cursor": int | None, "scanned": int}

- ``now_ms``: the instant asked about; the API passes its head block's ``time_ms`` (the
  chain's "now"), never the node's clock. A record is listed when it is in force then
  (``credit.record_in_force``: ``from ≤ now < to``, not repaired or ended by then) and its kind
  is in the parameter ``sanction_kinds``.
- Filters, all optional and combined with "and": ``uscc`` (the entity), ``kind`` (one of the
  sanction kinds), ``region`` (a record whose scope names the region or ``"*"``, all regions).
- Paging: records come oldest first by their sanction number (the order they were written);
  ``cursor`` is the sanction number to resume from (0 = the start); ``next_cursor`` is where
  the next page starts, ``None`` when the listing is complete. A page holds at most ``limit``
  records and looks at most at ``scan_max`` index entries, so a query over years of expired
  sanctions returns in bounded time and the caller follows ``next_cursor``.
- ``RECORD`` = ``{"id", "uscc", "kind", "issuer": bin, "document_no", "basis",
  "scope_kinds", "scope_regions", "from_ms", "to_ms", "recorded_ms", "evidence_hash": bin,
  "extensions": [...]}`` (the credit record's public fields; bytes are raw, the API writes
  them as hex).
- Bad filters (``ExposureQueryError``, a ``ValueError``): a malformed USCC, a kind that is not
  a sanction kind, a negative cursor, a limit outside ``1..limit_max``.

It reads only the indexes ``credit.record`` writes (``credit/sanction/…``,
``credit/sanction_by/…``, see STATE_KEYS.md) and the records themselves; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from contracts import lists
from contracts.credit import (
    SANCTIONS,
    record_in_force,
    record_key,
    sanction_entity_index,
    sanction_kind_index,
    sanction_region_index,
)
from contracts.params import text_set
from contracts.runtime import param
from contracts.state import Overlay
from contracts.uscc import valid_uscc

LIMIT_MAX = 500
SCAN_MAX = 10_000
ALL_REGIONS = "*"
PUBLIC_FIELDS = (
    "uscc",
    "kind",
    "issuer",
    "document_no",
    "basis",
    "scope_kinds",
    "scope_regions",
    "from_ms",
    "to_ms",
    "recorded_ms",
    "evidence_hash",
    "extensions",
)


class ExposureQueryError(ValueError):
    """A filter or paging argument the query cannot take (the API answers 400)."""


@dataclass(frozen=True)
class ExposurePage:
    records: list[dict[str, Any]]
    next_cursor: int | None
    scanned: int

    def to_obj(self) -> dict[str, Any]:
        return {"records": self.records, "next_cursor": self.next_cursor, "scanned": self.scanned}


def exposure(
    state: Overlay,
    now_ms: int,
    *,
    uscc: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    cursor: int = 0,
    limit: int = 50,
    scan_max: int = SCAN_MAX,
    limit_max: int = LIMIT_MAX,
) -> ExposurePage:
    """The sanction records in force at ``now_ms`` matching every filter given, one page.
    Public (曝光): no reader identity is needed; ``now_ms`` is the head block's ``time_ms``;
    ``page.to_obj()`` is ``{"records", "next_cursor", "scanned"}``; bad filters raise
    ``ExposureQueryError`` (the API answers 400). Details in the module docstring."""
    kinds = text_set(str(param(state, "sanction_kinds")))
    _check(uscc, kind, kinds, cursor, limit, limit_max)
    records: list[dict[str, Any]] = []
    scanned = 0
    for n in _candidates(state.get, uscc, kind, region, cursor):
        if len(records) >= limit or scanned >= scan_max:
            return ExposurePage(records, n, scanned)
        scanned += 1
        record_id = str(lists.item(state.get, SANCTIONS, n))
        rec = state.get(record_key(record_id))
        if rec is None:
            raise KeyError(f"exposure index names missing record {record_id}")
        if _matches(rec, now_ms, kinds, uscc, kind, region):
            records.append({"id": record_id, **{f: rec[f] for f in PUBLIC_FIELDS}})
    return ExposurePage(records, None, scanned)


def _check(
    uscc: str | None,
    kind: str | None,
    kinds: frozenset[str],
    cursor: int,
    limit: int,
    limit_max: int,
) -> None:
    if uscc is not None and not valid_uscc(uscc):
        raise ExposureQueryError(f"{uscc!r} is not a valid unified social credit code")
    if kind is not None and kind not in kinds:
        raise ExposureQueryError(f"kind must be one of the sanction kinds {sorted(kinds)}")
    if cursor < 0:
        raise ExposureQueryError("cursor must be ≥ 0")
    if not 1 <= limit <= limit_max:
        raise ExposureQueryError(f"limit must be in [1, {limit_max}]")


def _matches(
    rec: dict[str, Any],
    now_ms: int,
    kinds: frozenset[str],
    uscc: str | None,
    kind: str | None,
    region: str | None,
) -> bool:
    if rec["kind"] not in kinds or not record_in_force(rec, now_ms):
        return False
    if uscc is not None and rec["uscc"] != uscc:
        return False
    if kind is not None and rec["kind"] != kind:
        return False
    regions = rec["scope_regions"]
    return region is None or ALL_REGIONS in regions or region in regions


def _candidates(
    get: Callable[[str], Any],
    uscc: str | None,
    kind: str | None,
    region: str | None,
    cursor: int,
) -> Iterator[int]:
    """Sanction numbers ≥ cursor, ascending, from the most selective index for the filters."""
    if uscc is not None:
        bases = [sanction_entity_index(uscc)]
    elif kind is not None:
        bases = [sanction_kind_index(kind)]
    elif region is not None:
        bases = [sanction_region_index(region), sanction_region_index(ALL_REGIONS)]
    else:
        yield from range(cursor, lists.length(get, SANCTIONS))
        return
    yield from _merge(get, bases, cursor)


def _merge(get: Callable[[str], Any], bases: list[str], cursor: int) -> Iterator[int]:
    """Merge ascending lists of sanction numbers from ``cursor`` on, each number once."""
    positions = [lists.first_at_least(get, base, cursor) for base in bases]
    lengths = [lists.length(get, base) for base in bases]
    last = -1
    while True:
        heads = [
            (int(lists.item(get, base, pos)), i)
            for i, (base, pos) in enumerate(zip(bases, positions, strict=True))
            if pos < lengths[i]
        ]
        if not heads:
            return
        n, i = min(heads)
        positions[i] += 1
        if n != last:
            last = n
            yield n
