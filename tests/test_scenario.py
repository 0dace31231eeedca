"""The end-to-end trading story runs in-process on both suites and ends as it says, with
the drawn committee and its score sheets (the harness plays the validators' beacon)."""

from __future__ import annotations

import pytest

from contracts.scenario import InProcessClient, ScenarioError, run_scenario


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_the_whole_scenario_passes_in_process(suite_name: str) -> None:
    client = InProcessClient(suite_name)
    lines: list[str] = []
    summary = run_scenario(client, lines.append, beacon_hook=client.validator_hook())
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
    hook = client.validator_hook()
    first = run_scenario(client, lambda _line: None, beacon_hook=hook)
    client.wait_until(client.now_ms() + 1)
    second = run_scenario(client, lambda _line: None, beacon_hook=hook)
    assert first["tender_id"] != second["tender_id"]
    assert client.get(f"tender/{second['tender_id']}")["state"] == "archived"


def test_the_story_stops_with_a_clear_error_when_no_validator_submits_the_beacon() -> None:
    client = InProcessClient()
    with pytest.raises(ScenarioError, match="beacon_actions"):
        run_scenario(client, lambda _line: None)  # no hook and no node taking part


def test_the_story_uses_the_drawn_committee_and_its_score_sheets() -> None:
    client = InProcessClient()
    summary = run_scenario(client, lambda _line: None, beacon_hook=client.validator_hook())
    tender = client.get(f"tender/{summary['tender_id']}")
    draw = client.get(f"draw/{summary['tender_id']}/{tender['eval_round']}")
    assert sorted(summary["committee"]) == sorted(m["member"] for m in draw["members"])
    assert len(draw["declined"]) == 1 and draw["status"] == "seated"
    result = client.get(f"eval/{summary['tender_id']}/{tender['eval_round']}/result")
    assert result["lots"][0]["candidates"] == tender["lots"][0]["candidates"]
    assert summary["winner"] == result["lots"][0]["candidates"][0]
    conflicted = [m for m in draw["members"] if m["kind"] == "expert"
                  and client.get(f"expert/{m['member']}")["employer"] == summary["uscc"]["a"]]
    assert conflicted == []
