"""Each stream item with its proof, built by the node and checked offline by anyone.

- A **chain event** ``H.P.E`` comes with the PROTOCOL §8 inclusion bundle of its
  transaction: the signed transaction and its receipt, certified by block ``H``'s QC. The
  check: the bundle verifies against the genesis anchor (``ledger.verdict``), it is the
  item's transaction (``tx_id``) at the item's height, its receipt is ``OK`` and the
  receipt's event number ``event_index`` is exactly the item's ``event``.
- A **notice** ``H.n.T.TENDER`` comes with two PROTOCOL §7 bundles of the state key
  ``tender/TENDER``, after blocks ``H−1`` and ``H``. The check: both verify, their heights are
  ``H−1`` and ``H``, the record after ``H−1`` has ``deadline_ms = d`` with ``d − before_ms =
  T``, and ``time(H−1) < T ≤ time(H)``: the notice's rule (``shell.notices``), proven from
  two certified headers and one certified record.
- An **objection notice** ``H.o.N.TENDER`` comes with the §7 bundle of the public objection
  record ``tender/TENDER/objection/N`` after block ``H``. The check: it verifies, its height is
  ``H``, the record is present with the item's ``n`` and ``stage``, and its ``at_ms`` is
  block ``H``'s time (block times strictly increase, so the objection was filed in ``H``).

Every kind: the item's ``cursor`` is the one its proven fields make (an event's ``P``, its
rank among the block's public transactions, excepted: the bundle shows the transaction's
index in the block, not which others are public), and its ``tender_id`` is the proven one
(a notice's state key; an event's own ``tender_id`` or its transaction's argument). What
the bundles do not show is listed in ``ProofCheck.unproven``, never passed as proven: the
filter subjects the node adds from other records (``regions``, ``kinds``, the parties in
``entities`` beyond those the event names, an event's tender taken from its guarantee).

``build_proof`` is the node's side (``GET /events/{cursor}``); ``check_proof`` needs only the
document it returned and the anchor: no clock, no network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.disclosure import PUBLIC, tx_disclosed
from contracts.tender_record import objection_key, tender_key
from ledger import inclusion
from ledger.bundle import build_bundle
from ledger.bundle import to_json as bundle_to_json
from ledger.errors import InvalidInput
from ledger.genesis import Anchor
from ledger.verdict import Verdict, verify_any
from shell.eventkit import (
    END,
    EVENT,
    OBJECTION_T,
    Key,
    cursor_text,
    event_key,
    named_tender,
    notice_key,
    objection_notice_key,
    parse_cursor,
    usccs_in,
)
from shell.events import EventHub
from shell.notices import OBJECTION, notice_type


def build_proof(hub: EventHub, key: Key) -> dict[str, Any]:
    """The item at ``key`` with its proof; LookupError when there is no such public item,
    InvalidInput for a block-end cursor."""
    height, kind = key[0], key[1]
    if kind == END:
        raise InvalidInput("a block-end cursor names no item; give an event's or a notice's")
    chain = hub.chain
    if not 1 <= height <= chain.height():
        raise LookupError(f"no committed block {height}")
    bi = hub.block_items(height)
    if kind == EVENT:
        item = next((e for e in bi.events if e.key == key), None)
        if item is None:
            raise LookupError(f"no public event {cursor_text(key)}")
        body = json.loads(item.data)
        tx_id = bytes.fromhex(body["tx_id"])
        tx = chain.store.tx(tx_id)
        head_ms = int(chain.store.head_header().time_ms)
        if tx is None or not tx_disclosed(chain.head_state(), PUBLIC, tx, head_ms,
                                          chain.sender_states(height)):
            # prepared while public, withheld by the policy since (shell.events, point 1)
            raise LookupError(f"no public event {cursor_text(key)}")
        return {"item": body, "inclusion": inclusion.to_json(
            inclusion.build_inclusion(chain.store, tx_id))}
    tender_id, threshold = key[4], key[2]
    store = chain.store
    if threshold == OBJECTION_T:
        found = [n for n in bi.objections if n.key == key]
        if not found:
            raise LookupError(f"no notice {cursor_text(key)}")
        return {"item": json.loads(found[0].data), "at": bundle_to_json(
            build_bundle(store, store.tree, objection_key(tender_id, key[3]), height))}
    if hub.schedule.covered_height < height - 1:
        raise LookupError("this node is still indexing tender deadlines; retry shortly")
    deadline = hub.schedule.deadline_at(tender_id, height - 1)
    if deadline is None or deadline < threshold:
        raise LookupError(f"no notice {cursor_text(key)}")
    found = [n for n in hub.notices(bi, (deadline - threshold,)) if n.key == key]
    if not found:
        raise LookupError(f"no notice {cursor_text(key)}")
    state_key = tender_key(tender_id)
    return {"item": json.loads(found[0].data),
            "before": bundle_to_json(build_bundle(store, store.tree, state_key, height - 1))
            if height > 1 else None,
            "at": bundle_to_json(build_bundle(store, store.tree, state_key, height))}


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of ``check_proof``: ``ok`` or the ``problems`` found, with the bundles'
    verdicts (their heights and Beijing times are what a reader shows)."""

    ok: bool
    problems: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)
    unproven: tuple[str, ...] = ()  # what the item says that the bundles do not show


def check_proof(doc: Any, anchor: Anchor) -> ProofCheck:
    """Check ``GET /events/{cursor}``'s answer offline against the genesis anchor."""
    if not isinstance(doc, dict) or not isinstance(doc.get("item"), dict):
        return ProofCheck(False, ("not an item with its proof",))
    item = doc["item"]
    if item.get("source") == "chain":
        verdict = verify_any(json.dumps(doc.get("inclusion")), anchor)
        problems = check_event(item, verdict)
        return _done(problems, (verdict,), _unproven_event(item, verdict))
    if item.get("source") == "derived" and item.get("type") == OBJECTION:
        at = verify_any(json.dumps(doc.get("at")), anchor)
        return _done(check_objection(item, at), (at,), _UNPROVEN_NOTICE)
    if item.get("source") == "derived":
        if doc.get("before") is None:
            return ProofCheck(False, ("a notice needs the bundle after the previous block",))
        before = verify_any(json.dumps(doc["before"]), anchor)
        at = verify_any(json.dumps(doc.get("at")), anchor)
        return _done(check_notice(item, before, at), (before, at), _UNPROVEN_NOTICE)
    return ProofCheck(False, ("the item is neither a chain event nor a notice",))


# A notice's filter subjects are the tender's region, kind and parties, from its record.
_UNPROVEN_NOTICE = ("regions, kinds and entities: the node adds them from the tender's "
                    "record; these bundles do not show them",)


def check_event(item: dict[str, Any], verdict: Verdict) -> list[str]:
    if not verdict.valid or verdict.tx is None:
        return [f"the inclusion bundle does not verify: {verdict.reason or 'not §8'}"]
    tx, problems = verdict.tx, []
    if tx.tx_id.hex() != item.get("tx_id"):
        problems.append("the bundle proves another transaction")
    if verdict.height != item.get("height"):
        problems.append(f"the bundle's block is {verdict.height}, the item says "
                        f"{item.get('height')}")
    if verdict.time_ms != item.get("time_ms"):
        problems.append("the block time differs from the item's")
    if tx.code != "OK":
        problems.append(f"the transaction failed ({tx.code}): it emitted nothing")
    index = item.get("event_index")
    if not isinstance(index, int) or not 0 <= index < len(tx.events):
        problems.append("the receipt has no event at the item's event_index")
    elif tx.events[index] != item.get("event"):
        problems.append("the receipt's event differs from the item's")
    elif item.get("type") != tx.events[index].get("type"):
        problems.append("the item's type is not its event's")
    if item.get("call") != tx.call:
        problems.append(f"the item's call is {item.get('call')!r}, the transaction's "
                        f"{tx.call!r}")
    if isinstance(index, int) and 0 <= index < len(tx.events):
        # the rank counts the block's public transactions before this one: at most its index
        problems += _cursor_problems(item, lambda rank: event_key(
            verdict.height or 0, rank, index) if rank <= tx.index else None)
        event = tx.events[index]
        named = named_tender(event, tx.args)
        if named and item.get("tender_id") != named:
            problems.append(f"the item's tender is {item.get('tender_id')!r}, the event's "
                            f"{named!r}")
        entities = item.get("entities")
        missing = sorted(set(usccs_in(event)) - set(entities if isinstance(entities, list)
                                                    else ()))
        if missing:
            problems.append(f"the item's entities leave out {', '.join(missing)}, whom the "
                            "event names")
    return problems


def _unproven_event(item: dict[str, Any], verdict: Verdict) -> tuple[str, ...]:
    """What a chain event's item says that its inclusion bundle does not show."""
    out = ["the middle number of the cursor (the transaction's rank among the block's "
           "public ones)"]
    tx, index = verdict.tx, item.get("event_index")
    event = (tx.events[index] if tx is not None and isinstance(index, int)
             and 0 <= index < len(tx.events) else {})
    if item.get("tender_id") and tx is not None and not named_tender(event, tx.args):
        out.append(f"the tender {item.get('tender_id')!r}: the node takes it from another "
                   "record (the guarantee's)")
    named = set(usccs_in(event))
    extra = sorted(set(item.get("entities") or ()) - named)
    if item.get("regions") or item.get("kinds") or extra:
        out.append("regions, kinds" + (f" and the entities {', '.join(extra)}" if extra
                                        else "")
                   + ": the node adds them from other records (the tender's, the "
                   "guarantee's, the credit record's)")
    return tuple(out)


def _cursor_problems(item: dict[str, Any], make: Callable[[int], Key | None]) -> list[str]:
    """The item's cursor against the key its proven fields make (``make(rank)``, the rank
    taken from the cursor itself: an event's is not provable)."""
    cursor = item.get("cursor")
    try:
        key = parse_cursor(cursor) if isinstance(cursor, str) else None
    except InvalidInput:
        key = None
    if key is None or key != make(key[2]):
        return [f"the item's cursor {cursor!r} is not the one its proven fields make"]
    return []


def check_notice(item: dict[str, Any], before: Verdict, at: Verdict) -> list[str]:
    height = item.get("height")
    state_key = tender_key(str(item.get("tender_id")))
    problems = [f"the bundle after block {name} does not verify: {v.reason}"
                for name, v in (("H-1", before), ("H", at)) if not v.valid]
    if problems:
        return problems
    if not isinstance(height, int) or before.height != height - 1 or at.height != height:
        return [f"the bundles are after blocks {before.height} and {at.height}, the notice "
                f"needs {height} - 1 and {height}"]
    record = _proven_record(before, state_key)
    if record is None:
        return [f"the first bundle does not show {state_key} present"]
    deadline, before_ms = record.get("deadline_ms"), item.get("before_ms")
    threshold = item.get("threshold_ms")
    if deadline != item.get("deadline_ms"):
        problems.append(f"the record's deadline is {deadline}, the notice says "
                        f"{item.get('deadline_ms')}")
    if not isinstance(before_ms, int) or not isinstance(deadline, int) or (
            deadline - before_ms != threshold):
        problems.append("threshold_ms is not deadline_ms - before_ms")
    elif not (before.time_ms is not None and at.time_ms is not None
              and before.time_ms < threshold <= at.time_ms):
        problems.append(f"the threshold {threshold} was not crossed between the blocks' "
                        f"times {before.time_ms} and {at.time_ms}")
    if at.time_ms != item.get("time_ms"):
        problems.append("the block time differs from the notice's")
    if isinstance(before_ms, int) and item.get("type") != notice_type(before_ms):
        problems.append("the notice's type does not match before_ms")
    if isinstance(threshold, int):
        problems += _cursor_problems(item, lambda _: notice_key(
            height, threshold, str(item.get("tender_id"))))
    return problems


def check_objection(item: dict[str, Any], at: Verdict) -> list[str]:
    height, n = item.get("height"), item.get("n")
    if not isinstance(n, int) or isinstance(n, bool):
        return ["the notice names no objection number"]
    state_key = objection_key(str(item.get("tender_id")), n)
    if not at.valid:
        return [f"the bundle after block H does not verify: {at.reason}"]
    if at.height != height:
        return [f"the bundle is after block {at.height}, the notice says {height}"]
    record = _proven_record(at, state_key)
    if record is None:
        return [f"the bundle does not show {state_key} present"]
    problems = []
    if record.get("n") != n or record.get("stage") != item.get("stage"):
        problems.append(f"the record is objection {record.get('n')} at stage "
                        f"{record.get('stage')!r}, the notice says {n} at {item.get('stage')!r}")
    if at.time_ms != item.get("time_ms"):
        problems.append("the block time differs from the notice's")
    elif record.get("at_ms") != at.time_ms:
        problems.append(f"the objection was filed at {record.get('at_ms')}, not in block "
                        f"{height} ({at.time_ms})")
    problems += _cursor_problems(item, lambda _: objection_notice_key(
        at.height or 0, n, str(item.get("tender_id"))))
    return problems


def _proven_record(verdict: Verdict, state_key: str) -> dict[str, Any] | None:
    """The record a valid §7 verdict shows present under ``state_key``, else None."""
    entry = verdict.entries[0] if verdict.entries else None
    if entry is None or entry.key != state_key or not entry.present:
        return None
    return entry.record if isinstance(entry.record, dict) else {}


def _done(problems: list[str], verdicts: tuple[Verdict, ...],
          unproven: tuple[str, ...] = ()) -> ProofCheck:
    return ProofCheck(not problems, tuple(problems), verdicts, unproven)
