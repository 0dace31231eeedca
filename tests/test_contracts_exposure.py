"""Credit rewards and exposure (DOMAIN.md credit paragraph): the reward kinds and their
bounds, and the exposure query — every sanction record in force, listable by entity, kind and
region, paged — as the node's API will call it."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.credit import E_BOUNDS
from contracts.exposure import ExposureQueryError, exposure
from contracts.periods import DAY_MS, end_of_months_ms
from contracts.state import Overlay
from tests.trading_kit import GENESIS_MS, H32, Trading

START = GENESIS_MS - DAY_MS


def sanctioned() -> tuple[Trading, dict[str, str]]:
    """Four entities: a and b with sanctions in several kinds and regions, c with only a
    reward, d with a sanction that has expired."""
    t = Trading()
    for name in ("a", "b", "c", "d"):
        t.entity(name)
    six_months = end_of_months_ms(START, 6)
    t.credit("a", "serious_breach", to_ms=six_months, scope_regions=["441500"])
    t.credit("a", "bid_debarment", to_ms=end_of_months_ms(START, 12), scope_regions=["*"])
    t.credit("b", "tax_violation", to_ms=six_months, scope_regions=["440300"])
    t.credit("b", "general_breach", to_ms=end_of_months_ms(START, 3))  # not a sanction kind
    t.credit("c", "good_standing")
    t.credit("d", "serious_breach", from_ms=START - 400 * DAY_MS,
             to_ms=end_of_months_ms(START - 400 * DAY_MS, 6))
    return t, t.uscc_of


def listed(t: Trading, **query: Any) -> list[tuple[str, str]]:
    page = exposure(Overlay(t.h.state), t.h.time_ms, **query)
    assert page.next_cursor is None
    return [(r["uscc"], r["kind"]) for r in page.records]


def test_every_sanction_in_force_is_listed_and_nothing_else() -> None:
    t, u = sanctioned()
    assert listed(t) == [(u["a"], "serious_breach"), (u["a"], "bid_debarment"),
                         (u["b"], "tax_violation")]


def test_the_listing_filters_by_entity_kind_and_region() -> None:
    t, u = sanctioned()
    assert listed(t, uscc=u["a"]) == [(u["a"], "serious_breach"), (u["a"], "bid_debarment")]
    assert listed(t, uscc=u["c"]) == []
    assert listed(t, kind="tax_violation") == [(u["b"], "tax_violation")]
    # a region lists its own records and the nationwide ones ("*"), once each
    assert listed(t, region="441500") == [(u["a"], "serious_breach"), (u["a"], "bid_debarment")]
    assert listed(t, region="440300") == [(u["a"], "bid_debarment"), (u["b"], "tax_violation")]
    assert listed(t, kind="bid_debarment", region="440300") == [(u["a"], "bid_debarment")]


def test_records_leave_the_listing_when_they_end_by_time_or_by_repair() -> None:
    t, u = sanctioned()
    later = exposure(Overlay(t.h.state), end_of_months_ms(START, 6) + 1)
    assert [(r["uscc"], r["kind"]) for r in later.records] == [(u["a"], "bid_debarment")]
    record_id = t.h.get(f"credit/entity/{u['a']}")[1]
    t.h.expect_ok(t.bureau, "credit.repair",
                  {"id": record_id, "decision_no": "R1", "basis": "fixed", "evidence_hash": H32})
    assert listed(t, uscc=u["a"]) == [(u["a"], "serious_breach")]


def test_the_listing_pages_with_a_cursor() -> None:
    t, u = sanctioned()
    first = exposure(Overlay(t.h.state), t.h.time_ms, limit=2)
    assert len(first.records) == 2 and first.next_cursor is not None
    rest = exposure(Overlay(t.h.state), t.h.time_ms, limit=2, cursor=first.next_cursor)
    assert rest.next_cursor is None
    assert [r["id"] for r in first.records + rest.records] == [
        r["id"] for r in exposure(Overlay(t.h.state), t.h.time_ms).records
    ]
    bounded = exposure(Overlay(t.h.state), t.h.time_ms, scan_max=1)
    assert bounded.scanned == 1 and bounded.next_cursor == 1
    assert first.to_obj()["records"][0]["issuer"] == t.bureau.pubkey


@pytest.mark.parametrize(
    "query",
    [{"uscc": "91350100M000100Y44"}, {"kind": "general_breach"}, {"cursor": -1}, {"limit": 0},
     {"limit": 501}],
)
def test_bad_queries_are_refused(query: dict[str, Any]) -> None:
    t, _ = sanctioned()
    with pytest.raises(ExposureQueryError):
        exposure(Overlay(t.h.state), t.h.time_ms, **query)


def test_reward_kinds_are_records_and_a_quality_listing_lasts_a_year_at_most() -> None:
    t = Trading()
    t.entity("a")
    t.credit("a", "award")
    t.credit("a", "quality_enterprise", to_ms=end_of_months_ms(START, 12))
    args = {
        "uscc": t.uscc_of["a"], "kind": "quality_enterprise", "document_no": "Q-2",
        "basis": "test", "scope_kinds": ["*"], "scope_regions": ["*"], "from_ms": START,
        "to_ms": end_of_months_ms(START, 12) + 1, "evidence_hash": H32,
    }
    t.h.expect_refused(t.bureau, "credit.record", args, E_BOUNDS)
    ids = t.h.get(f"credit/entity/{t.uscc_of['a']}")
    kinds = [t.h.get(f"credit/record/{i}")["kind"] for i in ids]
    assert kinds == ["award", "quality_enterprise"]
    assert exposure(Overlay(t.h.state), t.h.time_ms).records == []  # rewards are not exposed
