"""``bid seal``'s first check says why an entity may not bid before anything is sent (user
walk: a frozen bidder's bid was refused at admission as ``unknown_sender``, and a revoked
one's got an HTTP 401 from a read; neither said why)."""

from __future__ import annotations

from typing import Any

import pytest

from shell import bidding
from shell.client import NodeClient, NodeError

KEY = bytes([7]) * 32
USCC = "91441500MA00000113"


def _node(monkeypatch: pytest.MonkeyPatch, records: dict[str, Any],
          bound: str | None | NodeError) -> None:
    def key_entity(self: NodeClient, pubkey: bytes) -> str | None:
        if isinstance(bound, NodeError):
            raise bound
        return bound

    monkeypatch.setattr(NodeClient, "key_entity", key_entity)
    monkeypatch.setattr(NodeClient, "state", lambda self, key: records.get(key))


IN_FORCE = {f"id/entity/{USCC}": {"uscc": USCC, "revoked_ms": 0}}


def test_an_entity_in_force_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    _node(monkeypatch, IN_FORCE, USCC)
    check = bidding.entity_check(NodeClient("http://127.0.0.1:9"), KEY, USCC)
    assert check.ok and "the sealed file's bidder" in check.text


def test_a_frozen_entity_or_key_is_named_with_the_block_and_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for subject, what in ((USCC, USCC), (KEY.hex(), "this key")):
        frozen = {**IN_FORCE, f"frozen/{subject}": {"reason": "collusion", "height": 41}}
        _node(monkeypatch, frozen, USCC)
        check = bidding.entity_check(NodeClient("http://127.0.0.1:9"), KEY, USCC)
        assert not check.ok
        assert f"{what} is frozen by the committee since block 41 (collusion)" in check.text


def test_a_revoked_attestation_is_named_not_an_http_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    revoked = {f"id/entity/{USCC}": {"uscc": USCC, "revoked_ms": 1_796_000_000_000}}
    _node(monkeypatch, revoked, NodeError(401, "the key is not bound to an entity", "u"))
    check = bidding.entity_check(NodeClient("http://127.0.0.1:9"), KEY, USCC)
    assert not check.ok and "bound to no entity in force" in check.text
    assert f"the attestation of {USCC} was revoked at 2026-" in check.text
    _node(monkeypatch, revoked, NodeError(500, "boom", "u"))
    with pytest.raises(NodeError):  # any other failure is not taken for an answer
        bidding.entity_check(NodeClient("http://127.0.0.1:9"), KEY, USCC)
