"""``contracts.reading``: one line on what a proven record means at its block's time."""

from __future__ import annotations

from contracts.reading import reading

DAY = 86_400_000
T = 1_800_000_000_000


def test_each_record_kind_is_read_at_the_blocks_time() -> None:
    g = {"status": "released", "amount_fen": 5_000_000, "tender_id": "T1", "lot": 1,
         "valid_from_ms": T - DAY, "valid_to_ms": T + DAY, "released_ms": T - 5,
         "release_reason": "award", "claim": {}}
    said = reading("guarantee/G-1", g, T)
    assert said is not None and said.startswith("guarantee: released; 50,000.00 yuan")
    assert "within its validity at this block: yes" in said and "(award)" in said
    assert "within its validity at this block: NO" in str(reading("guarantee/G-1", g, T + DAY))
    att = {"uscc": "91441500MA0000011C", "name": "A", "valid_from_ms": T - DAY,
           "valid_to_ms": T + DAY, "revoked_ms": T - 1}
    said = reading("id/entity/91441500MA0000011C", att, T)
    assert said is not None and "in force at this block: NO" in said and "revoked" in said
    rec = {"kind": "debarment", "uscc": "91441500MA0000011C", "from_ms": T - DAY,
           "to_ms": T + DAY, "repaired_ms": 0, "ended_ms": 0}
    assert "in force at this block: yes" in str(reading("credit/record/r1", rec, T))
    assert "ended" in str(reading("credit/record/r1", {**rec, "ended_ms": T - 2}, T))


def test_other_keys_and_other_shapes_get_no_reading() -> None:
    assert reading("tender/T1", {"state": "bidding"}, T) is None
    assert reading("guarantee/G-1", {"status": "issued"}, T) is None  # not this chain's shape
    assert reading("guarantee/G-1", b"raw", T) is None
