"""Who may hold a peer link (``shell.peers.link_refusal``). A link carries whole blocks, so
every transaction in them, sealed bids too: an attested enterprise's key once joined as an
"observer" and read every block the API withholds from it (walk report). Now only the
validators, a node the committee registered, and a supervisor's node are admitted."""

from __future__ import annotations

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
