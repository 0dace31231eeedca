"""``credchain committee check`` against a real node: the trading story's committee (drawn
with the validator's beacon, one expert declining and replaced) recomputed from the chain,
every value read through a proof bundle at the height the seat read it (DOMAIN.md
"Evaluation committees": anyone can recompute the committee from the chain).

The chain is ``tests.browser.demochain``'s, served by a one-validator node on loopback; the
CLI runs in-process (``CliRunner``) and reads it over HTTP like any outsider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from contracts import beacon, committee, draw
from ledger.crypto import Suite
from shell.client import NodeClient
from tests.browser.demochain import DemoChain, Served, build_demo_chain, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    demo: DemoChain = build_demo_chain()
    with serve(demo, tmp_path_factory.mktemp("committee") / "anchor.json") as s:
        yield s


def check(served: Served, *more: str, anchored: bool = True) -> Result:
    tender_id = served.demo.summary["tender_id"]
    anchor = ["--anchor", str(served.anchor_path)] if anchored else []
    return CliRunner().invoke(main, ["committee", "check", tender_id, "--url", served.url,
                                     *anchor, *more])


def test_the_seated_committee_is_recomputed_from_proven_past_state(served: Served) -> None:
    result = check(served)
    assert result.exit_code == 0, result.output
    out = result.output
    # the seat is found, the beacon's seed rechecked, the decline replayed, the members named
    assert "seated in block" in out and "seed_from(the reveals)" in out
    assert "declined in block" in out
    assert "equal to the committee seated in block" in out
    assert "each proven from the anchor" in out
    assert out.rstrip().endswith("MATCH: the committee recomputed from the chain equals the "
                                 "seated one")
    # the committee printed last is the one the chain holds now, in its order (the story's
    # own list, which puts the replacement in the decliner's place, as a set)
    now = out.split("the committee now, recomputed:")[1].splitlines()
    printed = [line.split()[1] for line in now if re.match(r"  \d+\. ", line)]
    record = NodeClient(served.url).state(f"draw/{served.demo.summary['tender_id']}/1")
    assert printed == [m["member"] for m in record["members"]]
    assert sorted(printed) == sorted(served.demo.summary["committee"])


def test_without_an_anchor_it_says_the_headers_are_the_nodes_word(served: Served) -> None:
    result = check(served, anchored=False)
    assert result.exit_code == 0, result.output
    assert "NOT anchored" in result.output


def test_a_round_that_does_not_exist_is_a_clear_error(served: Served) -> None:
    result = check(served, "--round", "2")
    assert result.exit_code == 2
    assert "has draw rounds 1..1; there is no round 2" in result.output
    assert "Traceback" not in result.output


def test_a_missing_tender_an_undrawn_one_and_an_unreachable_node_cannot_be_checked(
        served: Served) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["committee", "check", "NO-SUCH", "--url", served.url])
    assert missing.exit_code == 2 and "no tender 'NO-SUCH'" in missing.output
    undrawn = runner.invoke(main, ["committee", "check", served.demo.open_tender,
                                   "--url", served.url])
    assert undrawn.exit_code == 2 and "no committee has been drawn" in undrawn.output
    gone = runner.invoke(main, ["committee", "check", "T", "--url", "http://127.0.0.1:9"])
    assert gone.exit_code == 2 and "cannot reach the node" in gone.output


def test_a_recomputation_from_another_seed_differs_and_names_the_seat(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    real = committee.draw_committee

    def from_another_seed(get: Any, suite: Suite, seed: bytes,
                          spec: committee.DrawSpec) -> committee.Drawn:
        honest = real(get, suite, seed, spec)
        for n in range(1, 64):  # the first other seed that seats someone else
            other = real(get, suite, suite.hash(seed + bytes([n])), spec)
            if other.seats != honest.seats:
                return other
        raise AssertionError("no other seed draws another committee")

    monkeypatch.setattr(committee, "draw_committee", from_another_seed)
    result = check(served)
    assert result.exit_code == 1, result.output
    assert "MISMATCH: seating in block" in result.output
    assert "expert seat" in result.output and "the chain holds" in result.output


def test_a_doctored_seated_list_is_caught(served: Served,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = draw.drawn_of

    def reversed_seats(record: dict[str, Any]) -> committee.Drawn:
        drawn = real(record)
        return committee.Drawn(drawn.seats[::-1], drawn.cursors, drawn.short, drawn.declined)

    monkeypatch.setattr(draw, "drawn_of", reversed_seats)
    result = check(served)
    assert result.exit_code == 1, result.output
    first = result.output.split("recomputed over the state")[1].splitlines()[1].split()[1]
    assert f"expert seat 1: recomputed {first} (group" in result.output


def test_a_seed_the_beacon_does_not_give_is_caught(served: Served,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beacon, "seed_from", lambda *args: bytes(32))
    result = check(served)
    assert result.exit_code == 1
    assert "MISMATCH: the seed the record holds is not the one the beacon's reveals give" \
        in result.output


def test_a_node_that_alters_a_value_is_refused(served: Served,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = NodeClient.proof

    def altered(self: NodeClient, key: str, height: int | None = None) -> dict[str, Any]:
        got = real(self, key, height)
        if key.startswith("expert/") and isinstance(got.get("value"), str):
            last = got["value"][-1]
            got["value"] = got["value"][:-1] + ("0" if last != "0" else "1")
        return got

    monkeypatch.setattr(NodeClient, "proof", altered)
    result = check(served)
    assert result.exit_code == 2, result.output
    assert "cannot check:" in result.output and "state proof of 'expert/" in result.output


def test_the_command_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "credchain committee check" in readme


def test_a_short_draw_is_said_to_seat_no_committee(served: Served,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """User walk of 2026-12-03: a round whose draw came out short ended "MATCH: the
    committee recomputed from the chain equals the seated one", exit 0, as if a committee
    sat. The draw is right (exit 0), and both the first and the last line now say SHORT."""
    from shell.commands import committee as command

    real = command._locate

    def as_short(*args: Any) -> Any:
        found = real(*args)
        found.now = {**found.now, "status": draw.SHORT}
        return found

    monkeypatch.setattr(command, "_locate", as_short)
    monkeypatch.setattr(command, "_recompute", lambda *args: None)
    result = check(served)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "round 1: drawn SHORT in block" in lines[0], result.output
    assert lines[-1].startswith("MATCH: the draw recomputed from the chain equals the recorded "
                                "one: SHORT, no committee is seated"), result.output


def test_credchain_state_reads_a_record_and_says_when_it_is_absent(served: Served) -> None:
    """User walk of 2026-12-03: reading a draw, a request or a score sheet needed a state
    key and curl. ``credchain state KEY`` prints the value; an absent key exits 1 saying so
    (never an empty success), and names how to prove either."""
    tender_id = served.demo.summary["tender_id"]
    got = CliRunner().invoke(main, ["state", f"draw/{tender_id}/1", "--url", served.url])
    assert got.exit_code == 0, got.output
    value = json.loads(got.stdout)
    assert sorted(m["member"] for m in value["members"]) == sorted(
        served.demo.summary["committee"])
    assert "the node's word" in got.stderr
    got = CliRunner().invoke(main, ["state", "tender/NO-SUCH", "--url", served.url])
    assert got.exit_code == 1 and "tender/NO-SUCH is absent at the node's head" in got.output
