"""Quorum arithmetic and leader choice, on top of ``ledger.block.quorum/max_faulty``.

With ``n`` validators: ``f = (n - 1) // 3`` may be byzantine; a quorum is
``(n + f) // 2 + 1`` votes (any two quorums share at least ``f + 1`` validators, so at
least one honest one); ``f + 1`` votes (a weak quorum) always include an honest validator.

Leaders rotate with the height: at height ``h`` the order starts at ``h mod n``. A validator
that recently failed to lead (a crashed city's node) would cost one view change, a whole
view timeout, every ``n`` heights; instead it goes to the end of the order for a while.
``failed_leaders`` reads that from the committed headers alone: header ``k`` committed in a
view above 0 by proposer ``p`` means every validator before ``p`` in height ``k``'s order
was passed over (a failed leader, or one already at the end). The headers of the last
``window`` heights certified by the same validator set give at most ``f`` such validators,
the most recent first. ``window`` is the chain parameter ``leader_memory_heights`` (state
key ``param/leader_memory_heights``, set in genesis and by a governance vote) as the block
below the height left it (``Application.leader_memory``); 0 turns the memory off. Every
honest replica at a height holds the same committed headers and the same state, so all
agree on the order; safety never depends on who leads, only liveness does, and the order
still reaches every validator (those passed over come last, not never). Should replicas
still disagree (a bug, a store that lost headers), views ``n`` and above follow the plain
rotation ``(view + height) mod n``, which needs no history: they agree again after ``n``
view changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.block import Header, max_faulty, quorum


def weak_quorum(n: int) -> int:
    """``f + 1``: enough senders that one of them is honest."""
    return max_faulty(n) + 1


def rotation(height: int, n: int) -> list[int]:
    """Height ``height``'s base order of the ``n`` validator indexes."""
    return [(height + i) % n for i in range(n)]


def leader(height: int, view: int, n: int, passed_over: frozenset[int] = frozenset()) -> int:
    """The proposer of ``view`` at ``height``: in views ``0 .. n - 1``, the height's rotation
    with the validators in ``passed_over`` (``failed_leaders``) moved to its end; from view
    ``n`` on, and with none passed over, ``(view + height) mod n``. The first ``n`` views
    give every validator one turn; after them the order no longer depends on history, so
    replicas that disagree about ``passed_over`` (a store missing failed-leader headers,
    say) still agree on a leader after ``n`` view changes instead of never."""
    order = rotation(height, n)
    if passed_over and view < n:
        order = [i for i in order if i not in passed_over] + \
            [i for i in order if i in passed_over]
    return order[view % n]


def failed_leaders(recent: Iterable[Header], height: int, n: int, validators_hash: bytes,
                   window: int) -> frozenset[int]:
    """The validators to pass over at ``height``: from the committed headers ``recent`` of
    heights ``height - window .. height - 1`` certified by the same set (``validators_hash``),
    newest first, those passed over before a block committed in a view above 0; at most
    ``f``. See the module docstring."""
    cap = max_faulty(n)
    found: list[int] = []
    if window <= 0 or cap == 0:
        return frozenset()
    for header in sorted(recent, key=lambda h: -h.height):
        if not height - window <= header.height < height or len(found) >= cap:
            continue
        if header.view == 0 or header.validators_hash != validators_hash:
            continue
        order = rotation(header.height, n)
        if not 0 <= header.proposer < n:
            continue
        for i in order[:order.index(header.proposer)]:
            if i not in found and len(found) < cap:
                found.append(i)
    return frozenset(found)


__all__ = ["failed_leaders", "leader", "max_faulty", "quorum", "rotation", "weak_quorum"]
