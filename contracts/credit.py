"""Credit and qualification records (``credit.*``): 资信共享 and 联合惩戒.

A record (``credit/record/<id>``, id = the hex tx id of the transaction that wrote it):
entity (USCC), kind, category and level (qualifications: a higher level is a stronger
grade, e.g. 特级=4, 一级=3, 二级=2, 三级=1), issuer (the sending key, which must hold
``credit_authority``), document number, basis, scope (tender kinds and regions, ``"*"`` for
all; a region matches exactly, e.g. ``"441500"``), effective ``[from_ms, to_ms)``, evidence
hash. Kinds are those of DOMAIN.md plus ``general_breach`` (一般失信), the kind the "general
breach" bounds apply to.

A record is in force when ``from_ms ≤ now < to_ms`` and it was neither repaired nor ended
before ``now``. Duration bounds are checked on write, in months from ``from_ms`` as periods
count them (``periods.end_of_months_ms``):

- general_breach: ``[from + general_breach_min_months, from + general_breach_max_months]``;
- serious_breach, tax_violation: ``serious_breach_min_months … serious_breach_max_months``;
- bid_debarment, gp_debarment: ``bid_debarment_min_months … bid_debarment_max_months``;
- judgment_defaulter: exactly ``judgment_defaulter_months`` (two years): ``to_ms`` must be
  ``end_of_months_ms(from_ms, judgment_defaulter_months)``; ``extend`` moves the end to
  within ``[old + judgment_defaulter_extension_min_months, old +
  judgment_defaulter_extension_max_months]`` (one to three years), counted from the
  current end ``old``'s last day (``periods.extended_end_ms``);
- quality_enterprise (优质企业库): at most ``quality_enterprise_months`` (one year);
- qualification, performance, good_standing, award: any ``to_ms > from_ms``.

Rewards (守信激励): ``good_standing``, ``quality_enterprise`` and ``award`` records; a
tender's evaluation method may grant bonus points for them (``contracts.method``).
Sanctions (kinds in the parameter ``sanction_kinds``: serious breach, judgment defaulter,
debarments, tax violation) are also appended, when written, to the exposure indexes below,
which ``contracts.exposure`` reads to list the sanctions in force by entity, kind and region
(曝光).

Only the issuer of a record may repair (信用修复: negative kinds only, once; the record keeps
its repair decision and stops being in force), extend (judgment defaulters) or end it (e.g.
a qualification certificate withdrawn). Nothing is deleted. The kinds that stop bidding are
the parameter ``debarring_kinds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import args as A
from contracts import lists
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND, E_STATE, ContractError
from contracts.governance import is_frozen, require_unfrozen_sender
from contracts.identity import is_attested
from contracts.params import text_set
from contracts.periods import end_of_months_ms, extended_end_ms, shown
from contracts.runtime import Call, Contract, param
from contracts.state import Overlay
from contracts.uscc import require_uscc, valid_uscc
from ledger.crypto import DIGEST_LEN

E_BOUNDS = "E_BOUNDS"  # the record's duration is outside its kind's bounds
E_NOT_ISSUER = "E_NOT_ISSUER"  # only the record's issuer may repair, extend or end it

KINDS = (
    "qualification",
    "performance",
    "good_standing",
    "quality_enterprise",
    "award",
    "general_breach",
    "serious_breach",
    "judgment_defaulter",
    "bid_debarment",
    "gp_debarment",
    "tax_violation",
)
NEGATIVE_KINDS = frozenset(
    {
        "general_breach",
        "serious_breach",
        "judgment_defaulter",
        "bid_debarment",
        "gp_debarment",
        "tax_violation",
    }
)
# kind → the parameter prefix of its (min, max) month bounds
_BOUNDED = {
    "general_breach": "general_breach",
    "serious_breach": "serious_breach",
    "tax_violation": "serious_breach",
    "bid_debarment": "bid_debarment",
    "gp_debarment": "bid_debarment",
}
REWARD_KINDS = ("good_standing", "quality_enterprise", "award")
ALL = "*"

# Exposure indexes (append-only lists, ``contracts.lists``): every sanction record gets the
# next number n (``credit/sanction/<n>`` → its id); the kind, region and entity indexes list
# those numbers in ascending order. A region is keyed by the hex of its UTF-8 (free text).
SANCTIONS = "credit/sanction"


def record_key(record_id: str) -> str:
    return f"credit/record/{record_id}"


def entity_index_key(uscc: str) -> str:
    """CE array of the ids of every record about the entity, oldest first."""
    return f"credit/entity/{uscc}"


def sanction_kind_index(kind: str) -> str:
    return f"credit/sanction_by/kind/{kind}"


def sanction_region_index(region: str) -> str:
    return f"credit/sanction_by/region/{region.encode().hex()}"


def sanction_entity_index(uscc: str) -> str:
    return f"credit/sanction_by/entity/{uscc}"


def document_key(issuer: bytes, document_no_hash: bytes) -> str:
    """Marks an issuer's document number (hashed: it is free text) as used: ``{"record_id"}``."""
    return f"credit/doc/{issuer.hex()}/{document_no_hash.hex()}"


# --- queries other contracts and the API call ---


def record_in_force(rec: dict[str, Any], now_ms: int) -> bool:
    if not rec["from_ms"] <= now_ms < rec["to_ms"]:
        return False
    # a repair or an end stops the record from its own block on
    return all(rec[stop] == 0 or now_ms < rec[stop] for stop in ("repaired_ms", "ended_ms"))


def records_of(state: Overlay, uscc: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record about the entity, oldest first, with its id."""
    ids = state.get(entity_index_key(uscc)) or []
    out = []
    for record_id in ids:
        rec = state.get(record_key(record_id))
        if rec is None:
            raise KeyError(f"credit index names missing record {record_id}")
        out.append((str(record_id), dict(rec)))
    return out


def in_scope(rec: dict[str, Any], tender_kind: str, region: str) -> bool:
    """The record's scope covers this tender kind and region."""
    kinds, regions = rec["scope_kinds"], rec["scope_regions"]
    return (ALL in kinds or tender_kind in kinds) and (ALL in regions or region in regions)


def bid_blockers(
    state: Overlay, uscc: str, tender_kind: str, region: str, now_ms: int
) -> list[str]:
    """Ids of debarring records in force that cover this tender kind and region."""
    debarring = text_set(str(param(state, "debarring_kinds")))
    return [
        record_id
        for record_id, rec in records_of(state, uscc)
        if rec["kind"] in debarring
        and record_in_force(rec, now_ms)
        and in_scope(rec, tender_kind, region)
    ]


def has_qualification(
    state: Overlay, uscc: str, category: str, min_level: int, now_ms: int
) -> bool:
    """True when a qualification of the category at ``min_level`` or stronger is in force."""
    return any(
        rec["kind"] == "qualification"
        and rec["category"] == category
        and rec["level"] >= min_level
        and record_in_force(rec, now_ms)
        for _, rec in records_of(state, uscc)
    )


def required_qualifications(
    raw: Any, name: str, limit: int, item: str = "a qualification"
) -> list[dict[str, Any]]:
    """An argument naming the qualifications a tender or a service item requires: an array
    of at most ``limit`` ``{category, min_level}`` (levels 0–100), as ``has_qualification``
    checks them. ``item`` names an element in the refusal: a receipt's message is hashed
    into the block, so each caller keeps the words its calls have always answered with."""
    if type(raw) is not list or len(raw) > limit:
        raise ContractError(E_BAD_ARGS, f"{name} must be an array of at most {limit}")
    out = []
    for q in raw:
        if type(q) is not dict or set(q) != {"category", "min_level"}:
            raise ContractError(E_BAD_ARGS, f"{item} is {{category, min_level}}")
        out.append(
            {
                "category": A.text(q, "category", max_len=64),
                "min_level": A.integer(q, "min_level", 0, 100),
            }
        )
    return out


@dataclass(frozen=True)
class Eligibility:
    """May this entity bid: ``eligible``, or the reasons it may not."""

    eligible: bool
    reasons: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)  # ids of debarring records in force
    missing_qualifications: list[tuple[str, int]] = field(default_factory=list)

    def to_obj(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "reasons": list(self.reasons),
            "blockers": list(self.blockers),
            "missing_qualifications": [
                {"category": c, "level": lvl} for c, lvl in self.missing_qualifications
            ],
        }


def eligibility(
    state: Overlay,
    uscc: str,
    tender_kind: str,
    region: str,
    required_qualifications: Sequence[tuple[str, int]],
    now_ms: int,
) -> Eligibility:
    """The answer to "may this entity bid here now — and if not, what stops it".

    Reasons, in this order: ``bad_uscc`` (nothing else is checked), ``not_attested``,
    ``frozen``, ``debarred`` (see ``blockers``), ``missing_qualification`` (see
    ``missing_qualifications``). Pure: reads state, writes nothing; the node's API calls it
    over the committed state as ``eligibility(Overlay(reader), ...)``.
    """
    if not valid_uscc(uscc):
        return Eligibility(False, ["bad_uscc"])
    reasons: list[str] = []
    if not is_attested(state, uscc, now_ms):
        reasons.append("not_attested")
    if is_frozen(state, uscc):
        reasons.append("frozen")
    blockers = bid_blockers(state, uscc, tender_kind, region, now_ms)
    if blockers:
        reasons.append("debarred")
    missing = [
        (category, level)
        for category, level in required_qualifications
        if not has_qualification(state, uscc, category, level, now_ms)
    ]
    if missing:
        reasons.append("missing_qualification")
    return Eligibility(not reasons, reasons, blockers, missing)


# --- handlers ---


def _require_authority(call: Call) -> None:
    call.require_role("credit_authority")
    require_unfrozen_sender(call.state, call.sender)


def _check_bounds(call: Call, kind: str, from_ms: int, to_ms: int) -> None:
    if to_ms <= from_ms:
        raise ContractError(E_BAD_ARGS, "to_ms must be after from_ms")
    prefix = _BOUNDED.get(kind)
    if prefix is not None:
        low = end_of_months_ms(from_ms, int(call.param(f"{prefix}_min_months")))
        high = end_of_months_ms(from_ms, int(call.param(f"{prefix}_max_months")))
        if not low <= to_ms <= high:
            raise ContractError(
                E_BOUNDS, f"a {kind} record must end within [{shown(low)}, {shown(high)}]")
    elif kind == "judgment_defaulter":
        months = int(call.param("judgment_defaulter_months"))
        end = end_of_months_ms(from_ms, months)
        if to_ms != end:
            raise ContractError(
                E_BOUNDS,
                f"a judgment_defaulter record must end at exactly {shown(end)}, "
                f"{months} months from from_ms",
            )
    elif kind == "quality_enterprise":
        high = end_of_months_ms(from_ms, int(call.param(f"{kind}_months")))
        if to_ms > high:
            raise ContractError(E_BOUNDS, f"a {kind} record must end by {shown(high)}")


def _scope(call: Call, name: str) -> list[str]:
    items = A.text_list(call.args, name, max_items=64, max_len=64)
    if not items:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must not be empty")
    if len(set(items)) != len(items):
        raise ContractError(E_BAD_ARGS, f"argument {name!r} lists an item twice")
    return sorted(items)


def record(call: Call) -> None:
    """Write a credit or qualification record about an entity; its id is this transaction's
    id (hex). A sanction kind (``sanction_kinds``) is also added to the exposure indexes.

    Who: a key holding the role `credit_authority`, not frozen: the record's issuer.

    Args:
        uscc: the entity the record is about.
        kind: one of ``KINDS``: qualification, performance, good_standing,
            quality_enterprise, award, general_breach, serious_breach, judgment_defaulter,
            bid_debarment, gp_debarment, tax_violation.
        category (optional): a qualification's category; only a qualification has one.
        level (optional): a qualification's level (a higher level is a stronger grade);
            0 or absent for other kinds.
        document_no: the issuer's document number, once per issuer.
        basis: the legal basis (free text).
        scope_kinds: tender kinds covered, distinct (``"*"``: all).
        scope_regions: region codes covered, distinct (``"*"``: all).
        from_ms: start of effect.
        to_ms: end of effect (excluded), after ``from_ms`` and within the kind's bounds
            (``E_BOUNDS``: see the module docstring; a judgment_defaulter's is exactly
            ``judgment_defaulter_months`` after ``from_ms``).
        evidence_hash: hash of the source evidence.
    """
    _require_authority(call)
    a = call.args
    uscc = require_uscc(a.get("uscc"))
    kind = A.text(a, "kind", max_len=32)
    if kind not in KINDS:
        raise ContractError(E_BAD_ARGS, f"unknown record kind {kind!r}")
    if kind == "qualification":
        category = A.text(a, "category", max_len=64)
        level = A.integer(a, "level", minimum=1, maximum=100)
    else:
        category = A.text(a, "category", max_len=64, optional=True)
        level = A.integer(a, "level", maximum=0) if "level" in a else 0
        if category:
            raise ContractError(E_BAD_ARGS, "only a qualification has a category")
    from_ms = A.integer(a, "from_ms")
    to_ms = A.integer(a, "to_ms")
    _check_bounds(call, kind, from_ms, to_ms)
    document_no = A.text(a, "document_no", max_len=128)
    doc_key = document_key(call.sender, call.block.suite.hash(document_no.encode()))
    if call.state.exists(doc_key):
        raise ContractError(E_EXISTS, f"document {document_no!r} is already recorded")
    index = list(call.state.get(entity_index_key(uscc)) or [])
    if len(index) >= int(call.param("credit_records_per_entity_max")):
        raise ContractError(E_STATE, f"entity {uscc} has the most records allowed")
    record_id = call.tx_id.hex()
    rec: dict[str, Any] = {
        "uscc": uscc,
        "kind": kind,
        "category": category,
        "level": level,
        "issuer": call.sender,
        "document_no": document_no,
        "basis": A.text(a, "basis"),
        "scope_kinds": _scope(call, "scope_kinds"),
        "scope_regions": _scope(call, "scope_regions"),
        "from_ms": from_ms,
        "to_ms": to_ms,
        "evidence_hash": A.blob(a, "evidence_hash", length=DIGEST_LEN),
        "recorded_ms": call.now_ms,
        "repaired_ms": 0,
        "repair": {},
        "ended_ms": 0,
        "end_reason": "",
        "extensions": [],
    }
    call.state.put(record_key(record_id), rec)
    call.state.put(entity_index_key(uscc), [*index, record_id])
    call.state.put(doc_key, {"record_id": record_id})
    if kind in text_set(str(call.param("sanction_kinds"))):
        _index_sanction(call, record_id, rec)
    call.emit("credit.recorded", id=record_id, uscc=uscc, kind=kind)


def _index_sanction(call: Call, record_id: str, rec: dict[str, Any]) -> None:
    """Append a sanction to the exposure indexes (global, kind, each scope region, entity)."""
    state = call.state
    n = lists.append(state, SANCTIONS, record_id)
    lists.append(state, sanction_kind_index(rec["kind"]), n)
    for region in rec["scope_regions"]:
        lists.append(state, sanction_region_index(region), n)
    lists.append(state, sanction_entity_index(rec["uscc"]), n)


def _own_record(call: Call) -> tuple[str, dict[str, Any]]:
    _require_authority(call)
    record_id = A.text(call.args, "id", max_len=64)
    rec = call.state.get(record_key(record_id))
    if rec is None:
        raise ContractError(E_NOT_FOUND, f"no credit record {record_id}")
    if rec["issuer"] != call.sender:
        raise ContractError(E_NOT_ISSUER, "only the record's issuer may")
    if rec["repaired_ms"] != 0 or rec["ended_ms"] != 0:
        raise ContractError(E_STATE, "the record was already repaired or ended")
    return record_id, dict(rec)


def repair(call: Call) -> None:
    """Repair (信用修复) a negative record: it stops being in force and keeps its repair
    decision; once only.

    Who: the record's issuer (role `credit_authority`, not frozen).

    Args:
        id: the record (hex tx id).
        decision_no: the repair decision's document number.
        basis: its basis (free text).
        evidence_hash: hash of the decision.
    """
    record_id, rec = _own_record(call)
    if rec["kind"] not in NEGATIVE_KINDS:
        raise ContractError(E_STATE, f"a {rec['kind']} record cannot be repaired")
    rec["repaired_ms"] = call.now_ms
    rec["repair"] = {
        "decision_no": A.text(call.args, "decision_no", max_len=128),
        "basis": A.text(call.args, "basis"),
        "evidence_hash": A.blob(call.args, "evidence_hash", length=DIGEST_LEN),
    }
    call.state.put(record_key(record_id), rec)
    call.emit("credit.repaired", id=record_id, uscc=rec["uscc"])


def extend(call: Call) -> None:
    """Extend a judgment-defaulter record, by ``judgment_defaulter_extension_min_months`` to
    ``judgment_defaulter_extension_max_months`` (one to three years) from its current end.

    Who: the record's issuer (role `credit_authority`, not frozen).

    Args:
        id: the record (hex tx id).
        to_ms: the new end: later than the current one ``old`` (``E_BAD_ARGS``), and within
            ``[extended_end_ms(old, judgment_defaulter_extension_min_months),
            extended_end_ms(old, judgment_defaulter_extension_max_months)]``
            (``E_BOUNDS``): 24:00 of the old end's last day, that many months on.
        document_no: the extending decision's document number.
    """
    record_id, rec = _own_record(call)
    if rec["kind"] != "judgment_defaulter":
        raise ContractError(E_STATE, "only a judgment_defaulter record can be extended")
    to_ms, old_to_ms = A.integer(call.args, "to_ms"), int(rec["to_ms"])
    if to_ms <= old_to_ms:
        raise ContractError(E_BAD_ARGS, "an extension must move to_ms later")
    low = extended_end_ms(old_to_ms, int(call.param("judgment_defaulter_extension_min_months")))
    high = extended_end_ms(old_to_ms, int(call.param("judgment_defaulter_extension_max_months")))
    if not low <= to_ms <= high:
        raise ContractError(
            E_BOUNDS, f"an extension must end within [{shown(low)}, {shown(high)}]")
    document_no = A.text(call.args, "document_no", max_len=128)
    extension = {"document_no": document_no, "old_to_ms": old_to_ms}
    rec["extensions"] = [*rec["extensions"], extension]
    rec["to_ms"] = to_ms
    call.state.put(record_key(record_id), rec)
    call.emit("credit.extended", id=record_id, uscc=rec["uscc"])


def end(call: Call) -> None:
    """End a record now (e.g. a qualification certificate withdrawn); it stays in history.

    Who: the record's issuer (role `credit_authority`, not frozen).

    Args:
        id: the record (hex tx id).
        reason: why (free text).
    """
    record_id, rec = _own_record(call)
    rec["ended_ms"] = call.now_ms
    rec["end_reason"] = A.text(call.args, "reason")
    call.state.put(record_key(record_id), rec)
    call.emit("credit.ended", id=record_id, uscc=rec["uscc"])


CONTRACT = Contract("credit", {"record": record, "repair": repair, "extend": extend, "end": end})
