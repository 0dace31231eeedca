"""Demo days only on a chain whose genesis declares itself a demo chain (DOMAIN.md, readings
settled; issue 10 item 5): the genesis field, genesis refusing demo days elsewhere, and
governance unable to turn them on elsewhere."""

from __future__ import annotations

import pytest

from contracts import keys
from contracts.genesis import genesis_state
from contracts.governance import E_DEMO_ONLY
from ledger import encoding
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc
from tests.contract_harness import Harness


def _doc_json(**extra: object) -> dict[str, object]:
    h = Harness()
    obj = h.doc.to_json()
    obj.update(extra)
    return obj


def test_the_genesis_field_demo_is_optional_and_absent_when_false() -> None:
    plain = GenesisDoc.from_json(_doc_json())
    assert plain.demo is False and "demo" not in plain.to_obj() and "demo" not in plain.to_json()
    demo = GenesisDoc.from_json(_doc_json(demo=True, params={"demo_day_ms": 2000}))
    assert demo.demo is True and demo.to_json()["demo"] is True
    assert GenesisDoc.from_obj(encoding.decode(encoding.encode(demo.to_obj()))) == demo
    with pytest.raises(InvalidInput):
        GenesisDoc.from_json(_doc_json(demo="yes"))


def test_demo_days_in_a_genesis_that_is_not_a_demo_chain_are_refused() -> None:
    with pytest.raises(ValueError, match="demonstration"):
        genesis_state(GenesisDoc.from_json(_doc_json(params={"demo_day_ms": 2000})))
    state = genesis_state(GenesisDoc.from_json(_doc_json(demo=True, params={"demo_day_ms": 1})))
    assert encoding.decode(state[keys.DEMO_CHAIN]) is True
    assert keys.DEMO_CHAIN not in genesis_state(GenesisDoc.from_json(_doc_json()))


def test_governance_cannot_turn_demo_days_on_elsewhere() -> None:
    h = Harness()
    proposal = {"action": "set_param", "payload": {"name": "demo_day_ms", "value": 2000}}
    h.expect_refused(h.committee[0], "gov.propose", proposal, E_DEMO_ONLY)
    h.govern("set_param", {"name": "demo_day_ms", "value": 0})  # the default stays allowed
    demo = Harness(demo=True)
    demo.govern("set_param", {"name": "demo_day_ms", "value": 2000})
    assert demo.get(keys.param("demo_day_ms")) == 2000
