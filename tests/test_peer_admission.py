"""Who may hold a peer link (``shell.peers.link_refusal``). A link carries whole blocks, so
every transaction in them, sealed bids too: an attested enterprise's key once joined as an
"observer" and read every block the API withholds from it (walk report). Now only the
validators, a node the committee registered, and a supervisor's node are admitted."""

from __future__ import annotations

import pytest

from shell.peers import link_refusal
from tests.test_privacy import replay
from tests.trading_kit import Trading


def test_only_validators_registered_nodes_and_supervisors_hold_links() -> None:
    t = Trading()
    t.announce()
    enterprise = t.entity("an enterprise")
    city = t.h.account("a city's observer node")
    t.h.govern("set_endpoint", {"pubkey": city.pubkey, "host": "10.0.0.5", "port": 26670,
                                "kind": "observer"})
    chain = replay(t)
    vals = chain.store.validators_at(chain.height() + 1)
    assert link_refusal(chain, vals, vals[1].pubkey, 1) is None
    assert link_refusal(chain, vals, vals[1].pubkey, None) is None  # a set just changed
    assert "another key" in str(link_refusal(chain, vals, city.pubkey, 1))
    assert link_refusal(chain, vals, city.pubkey, None) is None  # registered
    assert link_refusal(chain, vals, t.supervisor.pubkey, None) is None  # reads whole blocks
    for known in (enterprise, t.platform, t.tenderer):  # the chain knows them: not enough
        refused = link_refusal(chain, vals, known.pubkey, None)
        assert refused is not None and "has not registered" in refused, known.name
    stranger = t.h.account("nobody")
    assert "has not registered" in str(link_refusal(chain, vals, stranger.pubkey, None))


def test_second_links_again_and_again_are_a_warning_once_a_minute(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A second link while one is up is usually two dials crossing (INFO). Three within a
    minute mean a second process holds that key; an operator must hear of it (operator walk:
    a validator's copy on another machine showed only as INFO every 6 s)."""
    import logging
    import time
    import types

    from shell.peers import PeerNet

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    stub = types.SimpleNamespace(_second_links={}, _second_link_warned={})

    def refuse(after_s: float) -> None:
        clock[0] += after_s
        PeerNet._say_second_link(stub, b"k" * 32, "validator 1")  # type: ignore[arg-type]

    caplog.set_level(logging.INFO, logger="credchain")
    refuse(0)
    refuse(70)  # far apart: crossing dials, never a warning
    refuse(70)
    assert [r.levelname for r in caplog.records] == ["INFO"] * 3
    caplog.clear()
    for _ in range(6):  # every 6 s, as the walk saw: warned once within the minute
        refuse(6)
    levels = [r.levelname for r in caplog.records]
    assert levels.count("WARNING") == 1 and "two machines" in caplog.text, levels
    caplog.clear()
    for _ in range(10):  # a minute later, still going: said again
        refuse(6)
    assert [r.levelname for r in caplog.records].count("WARNING") == 1
