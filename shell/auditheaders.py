"""What an auditor without a supervisor's key can check: the certified chain of headers.

A node shows whole blocks (transactions, receipts) to supervisors only
(``contracts.disclosure.full_blocks``), so ``audit replay`` stops at block 1 for anyone else.
Headers and their commit certificates are public. ``check_headers`` walks them from the
genesis anchor to a height and checks, block by block:

- the header is the block asked for, of this chain, and its ``prev_hash`` is the hash of
  the header before it (genesis: the anchor's): one unbroken chain, not a rewritten one;
- its QC verifies under the validator set in force (PROTOCOL §5), the set whose hash the
  header names;
- where a block hands over to another set (``next_validators_hash``), the new set is the one
  a PROTOCOL §7 bundle's ``validator_chain`` proves from the anchor (the bundle of
  ``gov/validators`` at the last height, checked first), and that change's header is the
  header walked.

What it can't check: what the blocks hold. Transactions, receipts and every state root are
taken as certified by the validators' signatures, not recomputed; that is ``audit replay``,
with a supervisor's key or a stopped node's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.block import QC, Header
from ledger.bundle import Certified, check_certified, verify_certified
from ledger.errors import ProofError
from ledger.genesis import Anchor


@dataclass
class HeaderReport:
    """What the walk checked: heights ``1..head_height``."""

    head_height: int = 0
    head_hash: bytes = b""
    votes_checked: int = 0
    validator_changes: list[int] = field(default_factory=list)


def check_headers(anchor: Anchor, certified: Certified, header_at: Callable[[int], tuple[
        Header, QC]], to_height: int,
        on_header: Callable[[int], None] | None = None) -> HeaderReport:
    """Walk heights ``1..to_height`` (at most ``certified``'s height, whose bundle proves the
    validator changes below it); ProofError naming the first height that fails."""
    try:
        verify_certified(certified, anchor)
    except ProofError as exc:  # (its words are a verifier's: "the bundle" is the node's)
        raise ProofError(f"the node's chain does not start from this anchor: its validator "
                         f"bundle fails against it ({exc}); is the anchor this network's?"
                         ) from None
    if not 0 <= to_height <= certified.header.height:
        raise ProofError(f"the validator bundle is at height {certified.header.height}; it "
                         f"can't vouch for the sets up to {to_height}")
    suite = anchor.suite
    changes = {e.header.height: e for e in certified.chain}
    current = anchor.validators
    prev_hash = anchor.genesis_hash()
    report = HeaderReport()
    for h in range(1, to_height + 1):
        header, qc = header_at(h)
        where = f"block {h}"
        if header.height != h:
            raise ProofError(f"{where}: the node sent the header of block {header.height}")
        if header.chain_id != anchor.header.chain_id:
            raise ProofError(f"{where}: a header of chain {header.chain_id!r}")
        if header.prev_hash != prev_hash:
            raise ProofError(f"{where}: prev_hash is not block {h - 1}'s hash: the chain is "
                             "broken or rewritten here")
        check_certified(suite, header, qc, current, where,
                        "a validator set the chain does not reach")
        report.votes_checked += len(qc.votes)
        block_hash = header.hash(suite)
        if header.next_validators_hash != header.validators_hash and h < to_height:
            entry = changes.get(h)
            if entry is None or entry.header.hash(suite) != block_hash:
                raise ProofError(f"{where} hands over to another validator set, which the "
                                 "bundle's validator_chain does not show")
            current = entry.next_validators
            report.validator_changes.append(h)
        prev_hash = block_hash
        if on_header is not None:
            on_header(h)
    if to_height == certified.header.height and to_height and prev_hash != (
            certified.header.hash(suite)):
        raise ProofError(f"block {to_height}: not the header the validator bundle certifies")
    report.head_height, report.head_hash = to_height, prev_hash
    return report
