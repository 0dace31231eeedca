"""Quorum arithmetic and leader choice, on top of ``ledger.block.quorum/max_faulty``.

With ``n`` validators: ``f = (n - 1) // 3`` may be byzantine; a quorum is
``(n + f) // 2 + 1`` votes (any two quorums share at least ``f + 1`` validators, so at
least one honest one); ``f + 1`` votes (a weak quorum) always include an honest validator.
"""

from __future__ import annotations

from ledger.block import max_faulty, quorum


def weak_quorum(n: int) -> int:
    """``f + 1``: enough senders that one of them is honest."""
    return max_faulty(n) + 1


def leader(height: int, view: int, n: int) -> int:
    """The proposer of ``view`` at ``height``: ``(view + height) mod n``."""
    return (view + height) % n


__all__ = ["leader", "max_faulty", "quorum", "weak_quorum"]
