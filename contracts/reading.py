"""What a proven record means, in one line, as of its block: for ``credchain verify``.

A verdict (``ledger.verdict``) proves bytes under a key; another city's verifier wants the
answer those bytes give: is the guarantee still good, is the attestation in force, does the
credit record still bind. ``reading`` says it for the records a verifier asks about most,
judged at the proving block's time (never this computer's clock: a later block may say
otherwise, and the verdict shows the block's time). Other keys get no reading.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contracts.credit import record_in_force, record_key
from contracts.guarantee import guarantee_key
from contracts.identity import entity_key, in_force
from ledger.verdict import beijing_time


def reading(key: str, record: Any, at_ms: int) -> str | None:
    """One line on what ``record`` (the decoded value under ``key``) means at ``at_ms``,
    or None for a key it has nothing to say about (or a record of an unexpected shape)."""
    if not isinstance(record, Mapping):
        return None
    for prefix, read in _READERS:
        if key.startswith(prefix):
            try:
                return read(record, at_ms)
            except (KeyError, TypeError, ValueError):
                return None  # not the shape this chain writes: say nothing rather than guess
    return None


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _guarantee(g: Mapping[str, Any], at_ms: int) -> str:
    status = str(g["status"])
    valid = g["valid_from_ms"] <= at_ms < g["valid_to_ms"]
    line = (f"guarantee: {status}; {g['amount_fen'] / 100:,.2f} yuan for tender "
            f"{g['tender_id']} lot {g['lot']}; within its validity at this block: {_yes(valid)} "
            f"(valid {beijing_time(g['valid_from_ms'])} to {beijing_time(g['valid_to_ms'])})")
    if status == "released":
        line += f"; released {beijing_time(g['released_ms'])} ({g['release_reason']})"
    if status == "claimed":
        claim = g["claim"]
        line += (f"; claimed {beijing_time(claim['at_ms'])}: {claim['amount_fen'] / 100:,.2f} "
                 f"yuan ({claim['reason']})")
    return line


def _attestation(att: Mapping[str, Any], at_ms: int) -> str:
    line = (f"attestation of {att['uscc']} ({att['name']}): in force at this block: "
            f"{_yes(in_force(att, at_ms))} (valid {beijing_time(att['valid_from_ms'])} to "
            f"{beijing_time(att['valid_to_ms'])}")
    if att["revoked_ms"]:
        line += f"; revoked {beijing_time(att['revoked_ms'])}"
    return line + ")"


def _credit(rec: Mapping[str, Any], at_ms: int) -> str:
    line = (f"credit record ({rec['kind']}) about {rec['uscc']}: in force at this block: "
            f"{_yes(record_in_force(dict(rec), at_ms))} (from {beijing_time(rec['from_ms'])} "
            f"to {beijing_time(rec['to_ms'])}")
    for stop, word in (("repaired_ms", "repaired"), ("ended_ms", "ended")):
        if rec[stop]:
            line += f"; {word} {beijing_time(rec[stop])}"
    return line + ")"


_READERS: tuple[tuple[str, Callable[[Mapping[str, Any], int], str]], ...] = (
    (guarantee_key(""), _guarantee),
    (entity_key(""), _attestation),
    (record_key(""), _credit),
)
