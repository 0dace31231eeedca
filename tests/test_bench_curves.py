"""``benchmarks/curves.py --from-json --since``: a replot takes only the runs recorded since
a time, so rerunning a curve does not mix the new runs with older runs of the same point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.curves import recorded_runs


def test_since_keeps_only_runs_recorded_at_or_after_it(tmp_path: Path) -> None:
    records = tmp_path / "curves.jsonl"
    rows = [
        {"curve": "state", "x": 10000.0, "all": {"tx_s": 1}},  # before stamps existed
        {"curve": "state", "x": 10000.0, "recorded": "2026-11-29T10:00:00+00:00", "all": {}},
        {"curve": "state", "x": 10000.0, "recorded": "2026-11-30T21:00:00+00:00", "all": {}},
        {"curve": "state", "x": 1e6, "recorded": "2026-11-30T22:30:00+00:00", "all": {}},
        {"curve": "latency", "x": 200.0, "recorded": "2026-11-30T22:00:00+00:00", "all": {}},
    ]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    everything = recorded_runs("state", records)
    assert {x: len(rs) for x, rs in everything.items()} == {10000.0: 3, 1e6: 1}
    recent = recorded_runs("state", records, "2026-11-30T21:00")  # no zone: UTC
    assert {x: [r["recorded"] for r in rs] for x, rs in recent.items()} == {
        10000.0: ["2026-11-30T21:00:00+00:00"], 1e6: ["2026-11-30T22:30:00+00:00"]}
    assert recorded_runs("state", records, "2026-11-30T23:00:00+01:00").keys() == {1e6}
    assert recorded_runs("latency", records, "2026-12-01") == {}
    with pytest.raises(SystemExit, match="not an ISO 8601 time"):
        recorded_runs("state", records, "yesterday")
