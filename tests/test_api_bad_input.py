"""Bad input a walk through the API found answered wrongly: each is now a 4xx with the
reason, the same on every read path."""

from __future__ import annotations

from tests.test_objection_privacy import ask
from tests.test_privacy import node_of, replay
from tests.trading_kit import Trading


def test_a_key_no_state_can_hold_is_a_400_on_state_and_proof_alike() -> None:
    """``/state`` once answered 404 ``{"value": null}`` ("absent") for a key of 8,000
    characters, while ``/proof`` refused it: a key beyond 512 characters is not absent, it
    is not a key."""
    t = Trading()
    t.announce()
    node = node_of(replay(t), t)
    long_key = "a" * 8_000
    try:
        got = ask(node, t, [f"/state/{long_key}", f"/proof/{long_key}",
                            f"/proofs?key={long_key}", "/state/" + "a" * 512])
        for status, body in got[:3]:
            assert status == 400 and "at most 512 characters" in body["error"], body
        assert got[3][0] == 404 and got[3][1]["value"] is None  # a key, absent
    finally:
        node.admission.close()
