"""The side-by-side hot-path benchmark (``benchmarks/ab_hotpath.py``): runs alternate ABBA,
and a change is read from the pairs of one round, not from two medians taken apart."""

from __future__ import annotations

import json

import pytest

from benchmarks import ab_hotpath


def test_the_sides_alternate_abba() -> None:
    assert ab_hotpath.order(3) == [(0, "base"), (0, "this"), (1, "this"), (1, "base"),
                                   (2, "base"), (2, "this")]
    assert ab_hotpath.order(1) == [(0, "base"), (0, "this")]


def _rec(total: float, contracts: float) -> dict[str, float]:
    return {"total": total, "contracts": contracts}


def test_pairs_are_taken_within_a_round() -> None:
    # The machine slows in round 2: each round's pair says 0.9 and 1.1, while the medians
    # of the sides taken apart (150 and 155) would say 1.033.
    base = [_rec(100, 40), _rec(200, 80)]
    this = [_rec(90, 30), _rec(220, 70)]
    s = ab_hotpath.summarise(base, this)
    assert s["pairs"] == pytest.approx([0.9, 1.1])
    assert s["pair_median"] == pytest.approx(1.0)
    assert (s["pair_min"], s["pair_max"]) == (pytest.approx(0.9), pytest.approx(1.1))
    row = s["components"]["contracts"]
    assert (row["base"], row["this"]) == (60, 50)
    assert row["ratio"] == pytest.approx(50 / 60)
    assert s["components"]["total"]["ratio"] == pytest.approx(155 / 150)


def test_pairs_keep_their_rounds_when_the_sides_sort_differently() -> None:
    s = ab_hotpath.summarise([_rec(100, 1), _rec(200, 1)], [_rec(210, 1), _rec(190, 1)])
    assert s["pairs"] == pytest.approx([2.1, 0.95])  # not 190/100 and 210/200


def test_a_component_missing_on_one_side_is_left_out() -> None:
    base = [{"total": 100.0, "old": 5.0}]
    this = [{"total": 90.0}]
    assert list(ab_hotpath.summarise(base, this)["components"]) == ["total"]


def test_unpaired_records_are_refused() -> None:
    with pytest.raises(ValueError):
        ab_hotpath.summarise([_rec(1, 1)], [])
    with pytest.raises(ValueError):
        ab_hotpath.summarise([], [])


def test_the_record_is_the_last_json_line() -> None:
    out = "round 1: ...\njson " + json.dumps({"total": 1.5}) + "\nload average after\n"
    assert ab_hotpath.hotpath_record(out) == {"total": 1.5}
    with pytest.raises(ValueError, match="no json line"):
        ab_hotpath.hotpath_record("round 1: validator 500 µs/tx\n")


def test_the_report_names_both_sides_and_the_pairs() -> None:
    text = ab_hotpath.report(ab_hotpath.summarise([_rec(100, 40)], [_rec(90, 30)]), "abc123")
    assert "base abc123" in text
    assert "| contracts | 40.0 | 30.0 | 0.750 |" in text
    assert "median of the pairs 0.900" in text
