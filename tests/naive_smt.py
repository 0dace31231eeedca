"""A deliberately naive state tree, straight from PROTOCOL §6, used only by the tests.

Roots and proofs are recomputed from the whole state each time by recursion over the sorted
paths, with the tags written out as numbers and bits read from a string of '0'/'1', so that
it shares nothing with ``ledger.smt`` but the suite's hash function and the ``Proof`` type.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.crypto import Suite
from ledger.smt_proof import Proof, ProofLeaf

ZERO = bytes(32)

_Leaf = tuple[str, bytes, bytes]  # (path as a string of 256 bits, path, value hash)


def _leaves(suite: Suite, state: Mapping[str, bytes]) -> list[_Leaf]:
    leaves = []
    for key, value in state.items():
        path = suite.hd(0x13, key.encode("utf-8"))
        bits = "".join(format(byte, "08b") for byte in path)
        leaves.append((bits, path, suite.hd(0x12, value)))
    return sorted(leaves)


def _subtree(suite: Suite, leaves: list[_Leaf], depth: int) -> bytes:
    if not leaves:
        return ZERO
    if len(leaves) == 1:
        _, path, digest = leaves[0]
        return suite.hd(0x10, path + digest)
    left = [leaf for leaf in leaves if leaf[0][depth] == "0"]
    right = [leaf for leaf in leaves if leaf[0][depth] == "1"]
    return suite.hd(0x11, _subtree(suite, left, depth + 1) + _subtree(suite, right, depth + 1))


def naive_root(suite: Suite, state: Mapping[str, bytes]) -> bytes:
    """The root of ``state`` (key → CE bytes of the value)."""
    return _subtree(suite, _leaves(suite, state), 0)


def naive_proof(suite: Suite, state: Mapping[str, bytes], key: str) -> Proof:
    """The proof of ``key`` in ``state``: siblings down to the first subtree with ≤ 1 key."""
    path = suite.hd(0x13, key.encode("utf-8"))
    bits = "".join(format(byte, "08b") for byte in path)
    here = _leaves(suite, state)
    siblings = []
    depth = 0
    while len(here) > 1:
        siblings.append(
            _subtree(suite, [leaf for leaf in here if leaf[0][depth] != bits[depth]], depth + 1)
        )
        here = [leaf for leaf in here if leaf[0][depth] == bits[depth]]
        depth += 1
    leaf = ProofLeaf(here[0][1], here[0][2]) if here else None
    return Proof(leaf, tuple(siblings))


def naive_inner_nodes(suite: Suite, state: Mapping[str, bytes], every: int = 1) -> int:
    """How many subtrees of ``state`` hold two keys or more (the tree's inner nodes), only
    counting those at depths that are multiples of ``every``."""

    def count(leaves: list[_Leaf], depth: int) -> int:
        if len(leaves) < 2:
            return 0
        left = [leaf for leaf in leaves if leaf[0][depth] == "0"]
        right = [leaf for leaf in leaves if leaf[0][depth] == "1"]
        here = 1 if depth % every == 0 else 0
        return here + count(left, depth + 1) + count(right, depth + 1)

    return count(_leaves(suite, state), 0)
