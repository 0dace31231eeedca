"""View change: checking view-change and new-view messages, and tracking who moved where.

A replica that times out in view ``v`` moves to ``v + 1`` and broadcasts a ``ViewChange``
with its highest prepared certificate (and that block). The leader of ``v + 1`` collects a
quorum of them for exactly ``v + 1`` and broadcasts a ``NewView`` carrying them and a block:
the block of the highest prepared certificate among them if there is one (that block may
have been committed somewhere, since a commit quorum and this quorum share an honest
replica that prepared it), else a fresh proposal. Every replica re-checks all of it.

Liveness rules (PBFT §4.5.2): a replica joins a higher view seen from ``f + 1`` others (one
of them is honest); while waiting for a new view, its timer runs only once a quorum has
moved to its view or beyond, so an isolated replica does not race through views alone; it
re-broadcasts its view change meanwhile, so that lost messages are repaired.
"""

from __future__ import annotations

from consensus import messages
from consensus.messages import NewView, PreparedCert, ViewChange
from consensus.quorum import leader, quorum
from ledger.block import ValidatorSet
from ledger.crypto import Suite


def check_prepared_cert(suite: Suite, chain_id: str, validators: ValidatorSet,
                        cert: PreparedCert, height: int) -> str | None:
    if cert.height != height:
        return f"prepared certificate is for height {cert.height}, not {height}"
    need = quorum(len(validators))
    if len(cert.votes) < need:
        return f"prepared certificate has {len(cert.votes)} votes, below {need}"
    last = -1
    for index, sig in cert.votes:
        if index <= last or index >= len(validators):
            return "prepared certificate votes are unsorted, repeated or out of range"
        last = index
        msg = messages.prepare_bytes(suite, chain_id, height, cert.view, index, cert.block_hash)
        if not suite.verify(validators[index].pubkey, msg, sig):
            return f"prepared certificate vote of {index} does not verify"
    return None


def check_view_change(suite: Suite, chain_id: str, validators: ValidatorSet, vc: ViewChange,
                      height: int, *, need_block: bool) -> str | None:
    if vc.height != height:
        return f"view change is for height {vc.height}, not {height}"
    if not 0 <= vc.sender < len(validators):
        return f"view change sender {vc.sender} is not a validator"
    if not messages.verify(suite, chain_id, validators[vc.sender].pubkey, vc):
        return f"view change of {vc.sender} has a bad signature"
    cert = vc.prepared
    if cert is None:
        return None if vc.block is None else "view change carries a block but no certificate"
    if cert.view >= vc.view:
        return "view change reports a certificate from its own or a later view"
    reason = check_prepared_cert(suite, chain_id, validators, cert, height)
    if reason is not None:
        return reason
    if vc.block is None:
        return "view change with a certificate lacks its block" if need_block else None
    if vc.block.hash(suite) != cert.block_hash:
        return "view change block does not match its certificate"
    return None


def highest_prepared(vcs: list[ViewChange] | tuple[ViewChange, ...]) -> ViewChange | None:
    """The view change carrying the prepared certificate of the highest view, if any."""
    best: ViewChange | None = None
    for vc in vcs:
        if vc.prepared is not None and (best is None or best.prepared is None
                                        or vc.prepared.view > best.prepared.view):
            best = vc
    return best


def check_new_view(suite: Suite, chain_id: str, validators: ValidatorSet, nv: NewView,
                   height: int, passed_over: frozenset[int] = frozenset(),
                   ) -> tuple[str | None, bool]:
    """Check everything but the block's execution. Returns ``(reason, fresh)``: ``fresh``
    when no certificate binds the view, so the block must be a new proposal of this view."""
    n = len(validators)
    if nv.height != height:
        return f"new view is for height {nv.height}", False
    if nv.sender != leader(height, nv.view, n, passed_over):
        return f"new view from {nv.sender}, who does not lead view {nv.view}", False
    if not messages.verify(suite, chain_id, validators[nv.sender].pubkey, nv):
        return "new view has a bad signature", False
    senders = {vc.sender for vc in nv.view_changes}
    if len(senders) != len(nv.view_changes) or len(senders) < quorum(n):
        return "new view lacks a quorum of distinct view changes", False
    for vc in nv.view_changes:
        if vc.view != nv.view:
            return f"new view includes a view change to view {vc.view}", False
        reason = check_view_change(suite, chain_id, validators, vc, height, need_block=False)
        if reason is not None:
            return f"new view: {reason}", False
    best = highest_prepared(nv.view_changes)
    block_hash = nv.block.hash(suite)
    if best is not None and best.prepared is not None:
        if block_hash != best.prepared.block_hash:
            return "new view does not re-propose the highest prepared block", False
        return None, False
    h = nv.block.header
    if h.view != nv.view or h.proposer != nv.sender:
        return "new view's fresh block is not proposed in this view by its leader", False
    return None, True


class ViewChanges:
    """The valid view changes seen at one height, by target view and by sender."""

    __slots__ = ("by_view", "latest")

    def __init__(self) -> None:
        self.by_view: dict[int, dict[int, ViewChange]] = {}
        self.latest: dict[int, int] = {}  # sender -> highest view it moved to

    def add(self, vc: ViewChange) -> None:
        self.by_view.setdefault(vc.view, {})[vc.sender] = vc
        if vc.view > self.latest.get(vc.sender, -1):
            self.latest[vc.sender] = vc.view

    def moved_at_least(self, view: int) -> int:
        """How many validators moved to ``view`` or beyond."""
        return sum(1 for v in self.latest.values() if v >= view)

    def join_target(self, current_view: int, me: int | None, weak: int) -> int | None:
        """The view to join when ``weak`` others are beyond ours: the ``weak``-th highest."""
        higher = sorted((v for s, v in self.latest.items() if v > current_view and s != me),
                        reverse=True)
        return higher[weak - 1] if len(higher) >= weak else None

    def for_view(self, view: int) -> list[ViewChange]:
        return [vc for _, vc in sorted(self.by_view.get(view, {}).items())]

    def prune_below(self, view: int) -> None:
        for v in [v for v in self.by_view if v < view]:
            del self.by_view[v]
