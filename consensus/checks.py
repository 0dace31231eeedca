"""Checks a replica runs on a block before it votes for it or applies it.

A proposal (pre-prepare or new-view) must extend the head, be proposed by the right leader,
carry a ``time_ms`` strictly after the parent's and — when freshly proposed — within
``max_clock_skew_ms`` of the replica's clock (an input, never read), be certified by the
current validator set, and re-execute to the same roots (``Application.validate``). A
fetched block instead carries a QC that must verify (``verify_qc``) under the current set;
it is re-executed all the same. Each check returns ``None`` or the reason it failed.
"""

from __future__ import annotations

from consensus.api import Application
from consensus.quorum import leader
from ledger.block import (
    QC,
    Block,
    Header,
    ValidatorSet,
    extends_problem,
    validators_hash,
    verify_qc,
)
from ledger.crypto import Suite
from ledger.errors import InvalidInput


def check_extends(suite: Suite, chain_id: str, head: Header, validators: ValidatorSet,
                  block: Block) -> str | None:
    """Structural checks shared by proposals and fetched blocks: the ledger's rule for a
    block extending the head (``ledger.block.extends_problem``), and the validator set."""
    problem = extends_problem(suite, chain_id, head, block)
    if problem is not None:
        return problem
    if block.header.validators_hash != validators_hash(suite, validators):
        return "block names another validator set"
    try:
        block.check_tx_root(suite)
    except InvalidInput as exc:
        return str(exc)
    return None


def execute(suite: Suite, app: Application, head: Header,
            block: Block) -> tuple[str | None, ValidatorSet]:
    """Re-execute through the application; also checks ``next_validators_hash``."""
    reason = app.validate(head, block)
    if reason is not None:
        return f"application rejects block: {reason}", ()
    nxt = app.next_validators(block)
    if validators_hash(suite, nxt) != block.header.next_validators_hash:
        return "block next_validators_hash differs from the application's next set", ()
    return None, nxt


def check_proposal(suite: Suite, chain_id: str, head: Header, validators: ValidatorSet,
                   block: Block, app: Application, *, now_ms: int, max_clock_skew_ms: int,
                   fresh: bool, passed_over: frozenset[int] = frozenset(),
                   ) -> tuple[str | None, ValidatorSet]:
    """``fresh``: proposed in this view (checks time against our clock and the proposer);
    otherwise re-proposed under a prepared certificate, whose quorum checked it already.
    ``passed_over``: the height's ``consensus.quorum.failed_leaders``."""
    reason = check_extends(suite, chain_id, head, validators, block)
    if reason is not None:
        return reason, ()
    h = block.header
    if h.proposer != leader(h.height, h.view, len(validators), passed_over):
        return f"block proposer {h.proposer} is not the leader of view {h.view}", ()
    if fresh and abs(h.time_ms - now_ms) > max_clock_skew_ms:
        return f"block time_ms {h.time_ms} is over {max_clock_skew_ms} ms from {now_ms}", ()
    return execute(suite, app, head, block)


def check_fetched(suite: Suite, chain_id: str, head: Header, validators: ValidatorSet,
                  block: Block, qc: QC, app: Application) -> tuple[str | None, ValidatorSet]:
    reason = check_extends(suite, chain_id, head, validators, block)
    if reason is not None:
        return reason, ()
    try:
        verify_qc(suite, qc, block.header, validators)
    except InvalidInput as exc:
        return f"fetched block {block.header.height}: {exc}", ()
    return execute(suite, app, head, block)
