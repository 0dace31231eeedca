""""May this entity bid on this tender now?" — the question, the records that answer it, and
the same rule applied anywhere: in the contract, at the node, and offline by a verifier.

``eligibility_keys(state, uscc, tender_id)`` names every state key the bidding rule reads
for an entity and a tender: the entity's attestation and freeze, the parameter naming the
debarring kinds, the entity's credit index and every record it lists, and the tender. A
node answers with one PROTOCOL §9 bundle of exactly those keys, so the records are proven
at one instant (one certified block).

``decide(records, uscc, tender_id, lot, now_ms)`` applies the rule to such a set of records
(``records``: key → CE bytes, or None when proven absent) through the very functions the
``bid`` contract calls (``credit.eligibility``, ``tender_record.bidder_conflict``), over a state
view of those records alone: one definition of the rule, whoever applies it. A record the
rule needs but the set lacks is an error (an incomplete bundle proves nothing), not "absent".

The answer (``Answer``): eligible, or each reason with the records that decide it and, for a
sanction, until when it holds. Whether the entity has already bid is not part of it: that is
sealed until the deadline (DOMAIN.md), and the contract alone refuses a second bid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import credit, keys
from contracts.identity import entity_key
from contracts.state import Overlay
from contracts.tender_record import bidder_conflict, lot_of, tender_key
from contracts.uscc import valid_uscc
from ledger.errors import InvalidInput

DEBARRING_PARAM = keys.param("debarring_kinds")


class IncompleteRecords(InvalidInput):
    """The rule needs a record the given set does not hold (so it decides nothing)."""


@dataclass(frozen=True)
class Answer:
    eligible: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)  # {"reason", "records", ...}
    at_ms: int = 0

    def to_obj(self) -> dict[str, Any]:
        return {"eligible": self.eligible, "reasons": list(self.reasons), "at_ms": self.at_ms}


def eligibility_keys(state: Overlay, uscc: str, tender_id: str) -> list[str]:
    """Every key the rule reads for ``uscc`` on ``tender_id`` (sorted, no duplicates)."""
    found = {entity_key(uscc), keys.frozen(uscc), DEBARRING_PARAM,
             credit.entity_index_key(uscc), tender_key(tender_id)}
    for record_id in state.get(credit.entity_index_key(uscc)) or []:
        found.add(credit.record_key(str(record_id)))
    return sorted(found, key=lambda k: k.encode("utf-8"))


class _Records:
    """A state reader over exactly the given records; anything else is missing."""

    def __init__(self, records: Mapping[str, bytes | None]) -> None:
        self._records = records

    def get(self, key: str) -> bytes | None:
        if key not in self._records:
            raise IncompleteRecords(f"the records do not include {key!r}, which the rule reads")
        return self._records[key]


def decide(records: Mapping[str, bytes | None], uscc: str, tender_id: str, lot: int,
           now_ms: int) -> Answer:
    """The bidding rule of DOMAIN.md on these records at ``now_ms``."""
    if not valid_uscc(uscc):
        return Answer(False, [{"reason": "bad_uscc", "records": []}], now_ms)
    state = Overlay(_Records(records))
    tender = state.get(tender_key(tender_id))
    if tender is None:
        return Answer(False, [{"reason": "no_such_tender", "records": [tender_key(tender_id)]}],
                      now_ms)
    reasons: list[dict[str, Any]] = []
    try:
        lot_of(tender, lot)
    except Exception:  # a ContractError: the tender has no such lot
        reasons.append({"reason": "no_such_lot", "records": [tender_key(tender_id)]})
    if now_ms >= int(tender["deadline_ms"]):
        reasons.append({"reason": "after_deadline", "records": [tender_key(tender_id)],
                        "deadline_ms": int(tender["deadline_ms"])})
    if bidder_conflict(tender, uscc):
        reasons.append({"reason": "conflict", "records": [tender_key(tender_id)],
                        "as": _conflict_as(tender, uscc)})
    quals = [(q["category"], int(q["min_level"])) for q in tender["qualifications"]]
    found = credit.eligibility(state, uscc, tender["kind"], tender["region"], quals, now_ms)
    for reason in found.reasons:
        reasons.append(_explain(state, reason, uscc, found))
    return Answer(not reasons, reasons, now_ms)


def _conflict_as(tender: Mapping[str, Any], uscc: str) -> str:
    """Why the entity may not bid on the tender (``tender_record.bidder_conflict``)."""
    if uscc == tender["platform_uscc"]:
        return "the platform operator"
    if uscc == tender["tenderer"]:
        return "the tenderer"
    if uscc == tender["agent"]:
        return "the tenderer's agent"
    return "a related party of the platform operator"


def _explain(state: Overlay, reason: str, uscc: str, found: credit.Eligibility) -> dict[str, Any]:
    if reason == "not_attested":
        return {"reason": reason, "records": [entity_key(uscc)]}
    if reason == "frozen":
        return {"reason": reason, "records": [keys.frozen(uscc)]}
    if reason == "debarred":
        blocking = []
        for record_id in found.blockers:
            rec = state.get(credit.record_key(record_id))
            blocking.append({"record": credit.record_key(record_id), "kind": rec["kind"],
                             "until_ms": int(rec["to_ms"])})
        return {"reason": reason, "records": [b["record"] for b in blocking],
                "blocking": blocking}
    return {"reason": reason, "records": [credit.entity_index_key(uscc)],
            "missing": [{"category": c, "level": lvl} for c, lvl in found.missing_qualifications]}


# --- the answer a verifier checks offline ---

ENVELOPE_FIELDS = {"question", "bundle"}
QUESTION_FIELDS = {"uscc", "tender_id", "lot"}


def envelope(uscc: str, tender_id: str, lot: int, bundle_json: Any) -> dict[str, Any]:
    """What a node hands out: the question and the §9 bundle (JSON form) of its records."""
    return {"question": {"uscc": uscc, "tender_id": tender_id, "lot": lot},
            "bundle": bundle_json}


def answer_at_head(store: Any, uscc: str, tender_id: str, lot: int) -> dict[str, Any]:
    """A node's answer: the envelope (question + §9 bundle of every record the rule reads,
    at the head) and ``answer``, the rule applied to those records at the head block's time,
    exactly as ``verify_answer`` will apply it offline. ``store``: a ``ledger.store.BlockStore``."""
    from ledger import multi

    head = store.head_header()
    found = eligibility_keys(Overlay(store.tree), uscc, tender_id)
    bundle = multi.build_multi(store, store.tree, found, head.height)
    records = {k: store.tree.get(k) for k in found}
    answer = decide(records, uscc, tender_id, lot, head.time_ms)
    return {**envelope(uscc, tender_id, lot, multi.to_json(bundle)), "answer": answer.to_obj()}


def is_envelope(obj: Any) -> bool:
    return isinstance(obj, dict) and set(obj) == ENVELOPE_FIELDS


def verify_answer(obj: Any, anchor: Any) -> tuple[Any, Answer]:
    """Verify an eligibility envelope offline against ``anchor``: the bundle proves its
    records at one certified block, then the rule is applied to them at that block's time.
    Returns the verified bundle (``ledger.multi.VerifiedMulti``) and the answer; raises
    ``ProofError``/``InvalidInput`` when the bundle proves nothing or lacks a record."""
    from ledger import multi

    if not is_envelope(obj) or not isinstance(obj["question"], dict):
        raise InvalidInput("not an eligibility answer: {question, bundle} expected")
    q = obj["question"]
    if set(q) != QUESTION_FIELDS:  # (user walk: an extra field verified, unread)
        raise InvalidInput(f"the question names exactly {', '.join(sorted(QUESTION_FIELDS))}; "
                           f"this one names {', '.join(sorted(map(str, q))) or 'nothing'}")
    uscc, tender_id, lot = q.get("uscc"), q.get("tender_id"), q.get("lot")
    if not (isinstance(uscc, str) and isinstance(tender_id, str) and type(lot) is int):
        raise InvalidInput("the question names uscc, tender_id (text) and lot (an integer)")
    proved = multi.verify_multi(multi.from_json(obj["bundle"]), anchor)
    records = {e.key: e.value for e in proved.entries}
    return proved, decide(records, uscc, tender_id, lot, proved.header.time_ms)
