"""RFC 6962 roots and RFC 9162 §2.1.3 audit paths (the roots are also checked against
``../shared/vectors/merkle.json`` in test_vectors_basic, the paths against inclusion.json)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import tags
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import ProofError
from ledger.merkle import audit_path, merkle_root, verify_inclusion

SUITES = [ED25519_SHA256, SM2_SM3]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def recursive_root(suite: Suite, items: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written as the recursion, to check the iterative implementation."""
    if not items:
        return suite.hash(b"")
    if len(items) == 1:
        return suite.hd(tags.TX_LEAF, items[0])
    k = _k(len(items))
    return suite.hd(
        tags.TX_NODE, recursive_root(suite, items[:k]) + recursive_root(suite, items[k:])
    )


def recursive_path(suite: Suite, m: int, items: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 ``PATH(m, D[n])`` as written there."""
    n = len(items)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return recursive_path(suite, m, items[:k]) + [recursive_root(suite, items[k:])]
    return recursive_path(suite, m - k, items[k:]) + [recursive_root(suite, items[:k])]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@given(n=st.integers(min_value=0, max_value=70))
@settings(max_examples=40, deadline=None)
def test_root_equals_the_rfc6962_recursion(suite: Suite, n: int) -> None:
    items = [suite.hash(i.to_bytes(4, "big")) for i in range(n)]
    assert merkle_root(suite, items) == recursive_root(suite, items)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_audit_paths_equal_the_rfc9162_definition_and_verify(suite: Suite) -> None:
    for n in range(1, 34):
        items = [suite.hash(bytes([i])) for i in range(n)]
        root = merkle_root(suite, items)
        for i in range(n):
            path = audit_path(suite, items, i)
            assert path == recursive_path(suite, i, items)
            verify_inclusion(suite, items[i], i, n, path, root)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_every_wrong_path_fails_with_its_reason(suite: Suite) -> None:
    for n in (1, 2, 3, 5, 8, 13):
        items = [suite.hash(bytes([i])) for i in range(n)]
        root = merkle_root(suite, items)
        for i in range(n):
            path = audit_path(suite, items, i)
            with pytest.raises(ProofError, match="does not lead to the root"):
                verify_inclusion(suite, suite.hash(b"other"), i, n, path, root)
            with pytest.raises(ProofError, match="longer than a tree"):
                verify_inclusion(suite, items[i], i, n, [*path, root], root)
            if n > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(suite, items[i], (i + 1) % n, n, path, root)
                with pytest.raises(ProofError, match="too short"):
                    verify_inclusion(suite, items[i], i, n, path[:-1], root)
                altered = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
                with pytest.raises(ProofError, match="does not lead to the root"):
                    verify_inclusion(suite, items[i], i, n, altered, root)


def test_index_outside_the_tree_and_malformed_entries_are_refused() -> None:
    with pytest.raises(ProofError, match="index 3 is outside a tree of 3 leaves"):
        verify_inclusion(ED25519_SHA256, b"x" * 32, 3, 3, [], b"\0" * 32)
    with pytest.raises(ProofError, match="outside a tree of 0"):
        verify_inclusion(ED25519_SHA256, b"x" * 32, 0, 0, [], b"\0" * 32)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(ED25519_SHA256, b"x" * 32, 0, 2, [b"short"], b"\0" * 32)
    with pytest.raises(ProofError, match="above 64"):
        verify_inclusion(ED25519_SHA256, b"x" * 32, 0, 2, [b"\0" * 32] * 65, b"\0" * 32)
    with pytest.raises(IndexError):
        audit_path(ED25519_SHA256, [b"x" * 32], 1)
