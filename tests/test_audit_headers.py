"""``audit headers``: what an auditor without a supervisor's key checks (``shell.auditheaders``):
the headers form one chain from the anchor, each certified by the validator set in force,
through a validator change. A broken link, a bad certificate, a header from elsewhere and a
set change the bundle does not show are each found at their height."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from ledger.block import QC, Header
from ledger.bundle import certified_at
from ledger.crypto import ED25519_SHA256
from ledger.errors import ProofError
from ledger.genesis import export_anchor
from shell.auditheaders import check_headers
from tests.chainkit import Chain
from tests.test_audit import build_chain

Change = Callable[[int, Header, QC], tuple[Header, QC]]


def _fetch(chain: Chain, changed: Change | None = None) -> Callable[[int], tuple[Header, QC]]:
    store = chain.store

    def header_at(h: int) -> tuple[Header, QC]:
        header, qc = store.header(h), store.qc(h)
        assert header is not None and qc is not None
        return changed(h, header, qc) if changed else (header, qc)

    return header_at


def test_an_honest_header_chain_checks_through_a_validator_change() -> None:
    chain, _ = build_chain(ED25519_SHA256)  # block 1 adds a fifth validator
    anchor = export_anchor(chain.store)
    certified = certified_at(chain.store)
    seen: list[int] = []
    report = check_headers(anchor, certified, _fetch(chain), 3, seen.append)
    assert seen == [1, 2, 3] and report.validator_changes == [1]
    assert report.votes_checked == 3 + 4 + 4 and report.head_hash == chain.store.head()[1]
    assert check_headers(anchor, certified, _fetch(chain), 1).head_height == 1


def test_each_kind_of_bad_header_is_found_at_its_height() -> None:
    chain, _ = build_chain(ED25519_SHA256)
    anchor = export_anchor(chain.store)
    certified = certified_at(chain.store)

    def bad_link(h: int, header: Header, qc: QC) -> tuple[Header, QC]:
        return (replace(header, prev_hash=bytes(32)), qc) if h == 2 else (header, qc)

    def bad_votes(h: int, header: Header, qc: QC) -> tuple[Header, QC]:
        return (header, replace(qc, votes=qc.votes[:1])) if h == 3 else (header, qc)

    def elsewhere(h: int, header: Header, qc: QC) -> tuple[Header, QC]:
        return (replace(header, chain_id="other"), qc) if h == 2 else (header, qc)

    for changed, reason in ((bad_link, "block 2: prev_hash is not block 1's hash"),
                            (bad_votes, "block 3"), (elsewhere, "block 2: a header of chain")):
        with pytest.raises(ProofError, match=reason):
            check_headers(anchor, certified, _fetch(chain, changed), 3)
    hidden = replace(certified, chain=())  # a bundle that leaves out the change at block 1
    with pytest.raises(ProofError):
        check_headers(anchor, hidden, _fetch(chain), 3)
    with pytest.raises(ProofError, match="can't vouch"):
        check_headers(anchor, certified_at(chain.store, 2), _fetch(chain), 3)


def test_an_anchor_of_another_chain_is_named_as_the_anchor_not_a_bundle() -> None:
    """``audit headers --anchor`` of another network (the same chain id, another genesis):
    the refusal speaks of the node's chain and the anchor, not of a "bundle" the auditor
    never gave (user walk)."""
    chain, _ = build_chain(ED25519_SHA256)
    other = Chain.new(ED25519_SHA256, chain_id=chain.store.chain_id, committee=[bytes(32)])
    with pytest.raises(ProofError, match=r"^the node's chain does not start from this anchor"
                                         r".*bad genesis hash.*is the anchor this network's\?$"):
        check_headers(export_anchor(other.store), certified_at(chain.store), _fetch(chain), 3)
