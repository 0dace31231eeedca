"""RFC 6962 Merkle tree hashes over a list of 32-byte items (PROTOCOL §4).

Leaf ``Hd(0x00, item)``, inner node ``Hd(0x01, left ‖ right)``, the empty tree ``H(b"")``;
a tree of ``n > 1`` items splits at the largest power of two below ``n``. Used for
``tx_root`` (over tx ids) and ``receipts_root`` (over receipt hashes). Inclusion proofs let a
bidder show that its transaction is in a block without the whole block.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import tags
from ledger.crypto import Suite
from ledger.errors import ProofError


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(suite: Suite, items: Sequence[bytes]) -> bytes:
    if not items:
        return suite.hash(b"")
    level = [suite.hd(tags.TX_LEAF, item) for item in items]
    return _root_of_hashes(suite, level)


def _root_of_hashes(suite: Suite, hashes: Sequence[bytes]) -> bytes:
    # Iterative form of the RFC 6962 recursion: pairing left to right and carrying an odd
    # last node up unchanged gives the same tree as splitting at the largest power of two.
    level = list(hashes)
    while len(level) > 1:
        nxt = [suite.hd(tags.TX_NODE, level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof(suite: Suite, items: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path for ``items[index]`` (RFC 6962 §2.1.1), bottom up."""
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} outside 0..{len(items) - 1}")
    leaves = [suite.hd(tags.TX_LEAF, item) for item in items]
    return _path(suite, leaves, index)


def _path(suite: Suite, hashes: Sequence[bytes], index: int) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return _path(suite, hashes[:k], index) + [_root_of_hashes(suite, hashes[k:])]
    return _path(suite, hashes[k:], index - k) + [_root_of_hashes(suite, hashes[:k])]


def verify_inclusion(
    suite: Suite, item: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``item`` is at ``index`` of a tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} outside a tree of {size}")
    cur = suite.hd(tags.TX_LEAF, item)
    fn, sn = index, size - 1
    for sibling in path:
        if sn == 0:
            raise ProofError("inclusion path is longer than the tree is deep")
        if fn % 2 == 1 or fn == sn:
            cur = suite.hd(tags.TX_NODE, sibling + cur)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            cur = suite.hd(tags.TX_NODE, cur + sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or cur != root:
        raise ProofError("inclusion path does not lead to the root")
