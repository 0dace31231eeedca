"""The exposure list's query (曝光): ``contracts.exposure.exposure`` — the sanction records in
force by entity, kind and region, paged through the indexes ``credit.record`` keeps — asked at
the portal's instant (the head state, the head block's time), and the sanction kinds it
lists (the chain parameter ``sanction_kinds``). It reads credit records and their indexes,
which are public; the page asks nothing else through it.
"""

from __future__ import annotations

from contracts.exposure import ExposurePage, ExposureQueryError, exposure
from contracts.params import text_set
from shell.portal.reads import PortalReader

__all__ = ["ExposurePage", "ExposureQueryError", "exposure_page", "sanction_kinds"]


def sanction_kinds(reader: PortalReader) -> tuple[str, ...]:
    return tuple(sorted(text_set(str(reader.param("sanction_kinds")))))


def exposure_page(reader: PortalReader, *, uscc: str | None = None, kind: str | None = None,
                  region: str | None = None, cursor: int = 0, limit: int = 30) -> ExposurePage:
    """One page of sanction records in force matching every filter given."""
    return exposure(reader.overlay, reader.now_ms, uscc=uscc, kind=kind, region=region,
                    cursor=cursor, limit=limit)
