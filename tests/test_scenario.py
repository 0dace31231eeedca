"""The end-to-end trading story runs in-process on both suites and ends as it says."""

from __future__ import annotations

import pytest

from contracts.scenario import InProcessClient, run_scenario


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_the_whole_scenario_passes_in_process(suite_name: str) -> None:
    client = InProcessClient(suite_name)
    lines: list[str] = []
    summary = run_scenario(client, lines.append)
    text = "\n".join(lines)
    assert "SHORTENED" in text and "E_DEBARRED" in text and "E_DEADLINE" in text
    tender = client.get(f"tender/{summary['tender_id']}")
    assert tender["state"] == "archived"
    assert tender["lots"][0]["winner"] == summary["winner"]
    claimed = client.get(f"guarantee/{summary['claimed']}")
    assert claimed["status"] == "claimed" and claimed["claim"]["reason"] == "decrypt_failed"
    record = client.get(f"tender/{summary['tender_id']}/opening")
    statuses = sorted(b["status"] for b in record["lots"][0]["bids"])
    assert statuses == ["decrypt_failed", "revealed", "revealed", "revealed"]
    released = [
        client.get(f"guarantee/BG-{summary['tender_id'].rsplit('-', 1)[1]}-{n}")["status"]
        for n in "abc"
    ]
    assert released == ["released"] * 3


def test_the_scenario_runs_twice_on_the_same_chain() -> None:
    client = InProcessClient()
    first = run_scenario(client, lambda _line: None)
    client.wait_until(client.now_ms() + 1)
    second = run_scenario(client, lambda _line: None)
    assert first["tender_id"] != second["tender_id"]
    assert client.get(f"tender/{second['tender_id']}")["state"] == "archived"
