"""RFC 6962 roots and inclusion proofs (the roots themselves are also checked against
``../shared/vectors/merkle.json`` in test_vectors_basic)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import tags
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import ProofError
from ledger.merkle import audit_path, merkle_root, verify_inclusion

SUITES = [ED25519_SHA256, SM2_SM3]


def recursive_root(suite: Suite, items: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written as the recursion, to check the iterative implementation."""
    if not items:
        return suite.hash(b"")
    if len(items) == 1:
        return suite.hd(tags.TX_LEAF, items[0])
    k = 1
    while k * 2 < len(items):
        k *= 2
    return suite.hd(
        tags.TX_NODE, recursive_root(suite, items[:k]) + recursive_root(suite, items[k:])
    )


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(n=st.integers(min_value=0, max_value=70))
@settings(max_examples=40, deadline=None)
def test_root_equals_the_rfc6962_recursion(suite: Suite, n: int) -> None:
    items = [suite.hash(i.to_bytes(4, "big")) for i in range(n)]
    assert merkle_root(suite, items) == recursive_root(suite, items)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_every_audit_path_verifies_and_a_wrong_one_fails(suite: Suite) -> None:
    for n in (1, 2, 3, 5, 8, 13):
        items = [suite.hash(bytes([i])) for i in range(n)]
        root = merkle_root(suite, items)
        for i in range(n):
            path = audit_path(suite, items, i)
            verify_inclusion(suite, items[i], i, n, path, root)
            with pytest.raises(ProofError):
                verify_inclusion(suite, suite.hash(b"other"), i, n, path, root)
            if n > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(suite, items[i], (i + 1) % n, n, path, root)
                with pytest.raises(ProofError):
                    verify_inclusion(suite, items[i], i, n, path[:-1], root)
            with pytest.raises(ProofError):
                verify_inclusion(suite, items[i], i, n, [*path, root], root)


def test_index_outside_the_tree_is_refused() -> None:
    with pytest.raises(ProofError):
        verify_inclusion(ED25519_SHA256, b"x" * 32, 3, 3, [], b"\0" * 32)
    with pytest.raises(IndexError):
        audit_path(ED25519_SHA256, [b"x" * 32], 1)
