"""``credchain history``: an entity's history and a tender's timeline, read from an export.

Both read an export database (``shell.export``), which the command builds or brings up to
date from the chain first when it is given a node's URL or a data directory: every block is
re-executed and checked on the way, so what is printed is what the certified chain says.

- ``entity_history(db, uscc)``: attestations, key bindings, credit records, consents,
  freezes, guarantees, bids and their outcomes, objections — each change of a record about
  the entity, in block order —, its part in the intermediary services supermarket
  (registrations, requests, responses, selections, confirmations, contracts, ratings: the
  ``market.*`` events of its own calls, of others' naming it, such as its selection by
  another's ``market.select``, and of the requests it posted), and the transactions its
  keys sent that were refused.
- ``tender_timeline(db, tender_id)``: announcement, amendments, the deadline (with the
  number of bids named at opening, once opened), calls the contract refused (a refused bid,
  with who tried, once the deadline has passed), opening, reveals, the opening record,
  evaluation, publicity, objections and rulings, award, contract, guarantees released or
  claimed, archive.

Sealed bids stay sealed here too: for a tender whose deadline is after the export's tip,
an entity's bid or objection shows only that the tender is still sealed, and a timeline
shows no bid and names no objector (a documents objector is likely a bidder).
Times are Beijing time; every line carries its block height.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger.verdict import beijing_time


@dataclass(frozen=True)
class Line:
    time_ms: int
    height: int
    text: str

    def render(self) -> str:
        return f"{beijing_time(self.time_ms)}  #{self.height:<7} {self.text}"


def _value(row: sqlite3.Row) -> Any:
    return None if row["value_json"] is None else json.loads(row["value_json"])


def _yuan(fen: Any) -> str:
    if type(fen) is not int or fen < 0:
        return "-"
    return f"{fen // 100:,}.{fen % 100:02d} yuan"


def _day(ms: Any) -> str:
    return beijing_time(ms)[:10] if type(ms) is int and ms > 0 else "-"


def _hex(tagged: Any) -> str:
    return str(tagged.get("$bin", "")) if isinstance(tagged, dict) else ""


def tip(db: sqlite3.Connection) -> tuple[int, int]:
    """``(height, block time ms)`` of the export's last block."""
    row = db.execute("SELECT height, time_ms FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
    return int(row[0]), int(row[1])


def _deadlines(db: sqlite3.Connection) -> dict[str, int]:
    """Each tender's deadline as of the export's tip."""
    out: dict[str, int] = {}
    for row in db.execute("SELECT key, value_json FROM state_changes WHERE namespace = "
                          "'tender' AND key NOT LIKE 'tender/%/%' ORDER BY height"):
        value = None if row[1] is None else json.loads(row[1])
        if isinstance(value, dict) and type(value.get("deadline_ms")) is int:
            out[row[0].split("/", 1)[1]] = value["deadline_ms"]
    return out


# ---- an entity ----------------------------------------------------------------------------


def _describe_record(key: str, value: Any, deleted: bool, uscc: str,
                     sealed_until: int | None) -> str | None:
    parts = key.split("/")
    v = value if isinstance(value, dict) else {}
    if parts[0] == "id" and parts[1] == "entity":
        revoked = f", REVOKED ({v.get('revoke_reason')})" if v.get("revoked_ms") else ""
        return (f"attestation v{v.get('version')}: {v.get('name')} ({v.get('entity_type')}), "
                f"certificate {v.get('cert_issuer')} {v.get('cert_serial')}, valid "
                f"{_day(v.get('valid_from_ms'))} to {_day(v.get('valid_to_ms'))}, "
                f"{len(v.get('keys', []))} key(s){revoked}")
    if parts[0] == "id" and parts[1] == "key":
        return f"key {parts[2][:16]}… " + ("unbound" if deleted else f"bound to {uscc}")
    if parts[0] == "credit" and parts[1] == "record":
        state = ("ended: " + str(v.get("end_reason"))) if v.get("ended_ms") else (
            "repaired" if v.get("repaired_ms") else "in force from "
            f"{_day(v.get('from_ms'))} to {_day(v.get('to_ms'))}")
        level = f" {v.get('category')} level {v.get('level')}" if v.get("category") else ""
        return (f"credit record {parts[2][:12]}…: {v.get('kind')}{level}, document "
                f"{v.get('document_no')}, {state}")
    if parts[0] == "consent":
        return f"data consent for {parts[3] if len(parts) > 3 else '?'}: " + (
            "revoked" if v.get("revoked_ms") else f"scope {_names(v.get('scope'))} until "
            f"{_day(v.get('to_ms'))}")
    if parts[0] == "frozen":
        return "unfrozen" if deleted else f"FROZEN: {v.get('reason')}"
    if parts[0] == "guarantee" and sealed_until is not None:
        return (f"guarantee activity for tender {v.get('tender_id')}: sealed until its deadline "
                f"{beijing_time(sealed_until)}")
    if parts[0] == "guarantee":
        return (f"guarantee {v.get('number')} for tender {v.get('tender_id')} lot "
                f"{v.get('lot')}, {_yuan(v.get('amount_fen'))}: {_guarantee_status(v)}")
    if parts[0] == "bid":
        if sealed_until is not None:
            return (f"bid activity on tender {parts[1]}: sealed until its deadline "
                    f"{beijing_time(sealed_until)}")
        if len(parts) == 4 and parts[2] == "guarantee":  # written at the opening
            return (f"guarantee {parts[3]} bound to the bid on tender {parts[1]} lot "
                    f"{v.get('lot')}, named at the opening")
        price = f", price {_yuan(v.get('price_fen'))}" if v.get("status") == "revealed" else ""
        return (f"bid on tender {parts[1]} lot {parts[2]}: {v.get('status')} (version "
                f"{v.get('version')}, commitment {_hex(v.get('commitment'))[:16]}…){price}")
    if parts[0] == "objector":  # the objection's own record gives its lines (_objection_lines)
        return None if sealed_until is None else (
            f"objection to tender {parts[1]}: sealed until its deadline "
            f"{beijing_time(sealed_until)}")
    if parts[0] == "tender" and len(parts) >= 4 and parts[2] == "objection":
        ruling = f", ruling {v.get('ruling')}" if v.get("ruling") else ""
        return (f"objection {parts[3]} to tender {parts[1]} ({v.get('stage')}): "
                f"{v.get('status')}{ruling}")
    if parts[0] == "tender" and len(parts) == 4 and parts[2] == "collusion":
        return f"COLLUSION found on tender {parts[1]} by a supervisor"
    return None


def _guarantee_status(g: dict[str, Any]) -> str:
    claim = g.get("claim") or {}
    if claim:
        return f"CLAIMED {_yuan(claim.get('amount_fen'))} ({claim.get('reason')})"
    reason = f" ({g.get('release_reason')})" if g.get("release_reason") else ""
    return f"{g.get('status')}{reason}"


# The supermarket's events (``market.*``, by an index range on the type), with the call's
# sender entity and arguments; ``{who}`` is one of the conditions below.
_MARKET_EVENTS = (
    "SELECT e.height, e.tx_idx, e.event_idx, e.attrs, t.args, t.sender_entity, b.time_ms "
    "FROM events e JOIN transactions t ON t.height = e.height AND t.idx = e.tx_idx "
    "JOIN blocks b ON b.height = e.height "
    "WHERE e.type >= 'market.' AND e.type < 'market/' AND {who}")
_WHO = ("t.sender_entity = ?",  # its own calls
        "e.uscc = ?",  # naming it as the agency (its selection by anyone's market.select)
        "json_extract(e.attrs, '$.owner') = ?")  # every event of a request it posted


def _market_lines(db: sqlite3.Connection, uscc: str) -> list[Line]:
    """The entity's part in the supermarket, each event once: the events of its own calls,
    those naming it as the agency, and those of the requests it owns (every request event
    names its ``owner``: ``contracts.selection``). Read from the events: the export files
    no supermarket record under an entity."""
    rows: dict[tuple[int, int, int], sqlite3.Row] = {}
    for who in _WHO:
        for row in db.execute(_MARKET_EVENTS.format(who=who), (uscc,)):
            rows[(row["height"], row["tx_idx"], row["event_idx"])] = row
    lines = []
    for place in sorted(rows):
        row = rows[place]
        event = _attrs(row)
        args = json.loads(row["args"]) if row["args"] else {}
        request = _market_request(db, str(event.get("request_id", "")), row["height"])
        actor = row["sender_entity"]
        text = _describe_market(event, args, request, uscc,
                                "" if actor == uscc else f"agency {actor} ")
        lines.append(Line(row["time_ms"], row["height"], text))
    return lines


def _attrs(row: sqlite3.Row) -> dict[str, Any]:
    value = json.loads(row["attrs"]) if row["attrs"] else None
    return value if isinstance(value, dict) else {}


def _market_request(db: sqlite3.Connection, request_id: str, height: int) -> dict[str, Any]:
    """A selection request's record as it stood after block ``height`` ({} if none)."""
    row = db.execute("SELECT value_json FROM state_changes WHERE key = ? AND height <= ? "
                     "ORDER BY height DESC LIMIT 1",
                     (f"market/request/{request_id}", height)).fetchone()
    value = json.loads(row[0]) if row is not None and row[0] is not None else None
    return value if isinstance(value, dict) else {}


def _describe_market(event: dict[str, Any], args: dict[str, Any], request: dict[str, Any],
                     uscc: str, sender: str) -> str:
    """One supermarket event as a line of ``uscc``'s history; ``sender`` is "" when the
    entity sent the call, else "agency <USCC> " (a response to its request)."""
    type_, rid, agency = str(event.get("type")), event.get("request_id"), event.get("uscc")
    named = "" if agency == uscc else f"agency {agency} "
    of = f"request {rid} ({request.get('item')}, owner {request.get('owner')})"
    if type_ == "market.registered":
        return f"registered in the intermediary services supermarket for item {event.get('item')}"
    if type_ == "market.requested":
        window = ("" if event.get("method") == "direct" else
                  f", responses until {beijing_time(request.get('window_end_ms', 0))}")
        fiscal = ", fiscal funds" if request.get("fiscal") else ""
        return (f"selection request {rid} posted: item {request.get('item')}, budget "
                f"{_yuan(request.get('budget_fen'))}{fiscal}, {event.get('method')}{window}")
    if type_ == "market.responded":
        return f"{sender}responded to {of} at {_yuan(args.get('price_fen'))}"
    if type_ == "market.selected":
        confirm = f"confirm by {beijing_time(request.get('confirm_by_ms', 0))}"
        return (f"SELECTED for {of}: {confirm}" if not named
                else f"{named}selected for {of}: {confirm}")
    if type_ == "market.failed":
        return f"{of}: selection failed (no response, or no agency in good standing left)"
    if type_ == "market.lapsed":
        return (f"{named}passed over for {of}: not confirmed by "
                f"{beijing_time(event.get('confirm_by_ms', 0))}")
    if type_ == "market.confirmed":
        return f"{named}confirmed its selection for {of}"
    if type_ == "market.contracted":
        return f"service contract for {of} recorded"
    if type_ == "market.rated":
        suspended = "; the agency is SUSPENDED from the supermarket" if event.get(
            "suspended") else ""
        if not named:
            return f"rated {event.get('rating')} by the owner for {of}{suspended}"
        return f"rated {named.strip()}: {event.get('rating')} for {of}{suspended}"
    if type_ == "market.cancelled":
        return f"{of} cancelled"
    return f"{type_} ({of})" if rid else type_


def _objection_lines(db: sqlite3.Connection, objector_key: str, uscc: str) -> list[Line]:
    """Each change of the objection an ``objector/<tender>/<n>`` record names the entity
    for: the objection record itself names no one, so it is filed under no entity."""
    _, tender_id, n = objector_key.split("/", 2)
    return [Line(row["time_ms"], row["height"], text) for row in db.execute(
        "SELECT s.height, s.key, s.value_json, s.deleted, b.time_ms FROM state_changes s "
        "JOIN blocks b ON b.height = s.height WHERE s.key = ? ORDER BY s.height",
        (f"tender/{tender_id}/objection/{n}",))
        if (text := _describe_record(row["key"], _value(row), bool(row["deleted"]), uscc,
                                     None)) is not None]


def entity_history(db: sqlite3.Connection, uscc: str) -> list[str]:
    tip_height, tip_ms = tip(db)
    deadlines = _deadlines(db)
    lines: list[Line] = []
    for row in db.execute(
            "SELECT s.height, s.key, s.value_json, s.deleted, s.tender_id, b.time_ms "
            "FROM state_changes s JOIN blocks b ON b.height = s.height WHERE s.entity = ? "
            "ORDER BY s.height, s.key", (uscc,)):
        key = row["key"]
        # bids, the guarantees bound to them and who objected (likely a bidder) say who
        # bids: sealed until the deadline
        tender = row["tender_id"] if key.startswith(("bid/", "guarantee/", "objector/")) else None
        sealed = (deadlines.get(tender, 0) if tender and deadlines.get(tender, 0) > tip_ms
                  else None)
        text = _describe_record(key, _value(row), bool(row["deleted"]), uscc, sealed)
        if text is not None:
            lines.append(Line(row["time_ms"], row["height"], text))
        if key.startswith("objector/") and sealed is None:
            lines += _objection_lines(db, key, uscc)
    lines += _market_lines(db, uscc)
    for row in db.execute(
            "SELECT t.height, t.call, t.code, t.message, t.tender_id, b.time_ms "
            "FROM transactions t JOIN blocks b ON b.height = t.height "
            "WHERE t.sender_entity = ? AND t.ok = 0 ORDER BY t.height, t.idx", (uscc,)):
        tender = row["tender_id"]
        if (row["call"].startswith(("bid.", "guarantee.", "tender.object")) and tender
                and deadlines.get(tender, 0) > tip_ms):
            continue  # a refused bid (or objection) of a tender still sealed: a likely bidder
        lines.append(Line(row["time_ms"], row["height"],
                          f"REFUSED {row['call']}: {row['code']} {row['message']}"))
    lines.sort(key=lambda x: (x.height, x.time_ms))
    head = [f"entity {uscc}: {len(lines)} entries up to block {tip_height} "
            f"({beijing_time(tip_ms)})"]
    if not lines:
        return [*head, f"  nothing about this entity up to block {tip_height}"]
    return [*head, *("  " + line.render() for line in lines)]


# ---- a tender -----------------------------------------------------------------------------


def _tender_versions(db: sqlite3.Connection, tender_id: str) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for row in db.execute("SELECT height, value_json FROM state_changes WHERE key = ?",
                          (f"tender/{tender_id}",)):
        if row[1] is not None:
            out[int(row[0])] = json.loads(row[1])
    return out


def _lots_text(tender: dict[str, Any]) -> str:
    return "; ".join(f"lot {x.get('lot')}: {x.get('bids')} bid(s), {x.get('status')}"
                     for x in tender.get("lots", []))


def _describe_call(call: str, args: dict[str, Any], events: list[dict[str, Any]],
                   after: dict[str, Any] | None, who: str) -> str | None:
    t = after or {}
    kinds = {e.get("type"): e for e in events}
    if call == "tender.announce":
        return (f"announced by the platform for tenderer {args.get('tenderer')}: "
                f"{args.get('kind')} in region {args.get('region')}, "
                f"{len(args.get('lots', []))} lot(s), documents from "
                f"{beijing_time(args.get('issue_start_ms', 0))}, deadline "
                f"{beijing_time(args.get('deadline_ms', 0))}")
    if call == "tender.amend":
        return (f"amended ({'affects bids' if args.get('affects_bids') else 'clarification'});"
                f" deadline {beijing_time(t.get('deadline_ms', 0))}")
    if call in ("bid.submit", "bid.replace", "bid.withdraw"):
        return None  # counted at the deadline, never listed: who bid stays the bidders' own
    if call == "guarantee.issue":
        return (f"guarantee {args.get('number')} issued to {args.get('principal')} for lot "
                f"{args.get('lot')}, {_yuan(args.get('amount_fen'))}")
    if call == "bid.open":
        return f"opened by the platform: {_lots_text(t)}"
    if call == "bid.reveal":
        if "bid.revealed" in kinds:
            return f"{who} revealed its key: {_yuan(kinds['bid.revealed'].get('price_fen'))}"
        return f"{who} revealed a key that does not open its bid: DECRYPT_FAILED"
    if call == "bid.close":
        return "opening record published (decryption window closed)"
    if call == "bid.revoke":
        return f"{who} revoked its bid after the deadline"
    if call == "draw.request":
        return "evaluation committee draw requested (waiting for the validators' beacon)"
    if call == "draw.seat" and "draw.seated" in kinds:
        seated = kinds["draw.seated"]
        return (f"evaluation committee drawn: {len(seated.get('members', []))} members "
                f"({seated.get('status')})")
    if call == "draw.decline" and "draw.declined" in kinds:
        declined = kinds["draw.declined"]
        by, who_ = declined.get("replaced_by"), declined.get("member") or "an expert"
        # (user walk: who declined was not named)
        return f"{who_} declined; replaced by {by}" if by else f"{who_} declined; none left"
    if call == "evaluation.score":
        return "score sheets submitted"
    if call == "evaluation.close" and "evaluation.closed" in kinds:
        closed = kinds["evaluation.closed"]
        return (f"evaluation closed ({closed.get('outcome')}): candidates "
                f"{_names(closed.get('candidates'))}")
    if call == "evaluation.report":
        return "evaluation report recorded"
    if call == "evaluation.sign":
        signed = kinds.get("evaluation.signed", {})
        if signed.get("complete"):
            return (f"evaluation report signed by every member; publicity of the candidates "
                    f"from {beijing_time(t.get('publicity_start_ms', 0))}")
        return "evaluation report signed by a member"
    if call == "tender.evaluate":
        cands = "; ".join(f"lot {x.get('lot')}: {_names(x.get('candidates'))}"
                          for x in t.get("lots", []))
        return f"evaluated: candidates {cands}; publicity starts"
    if call == "tender.object":
        n = kinds.get("tender.objection", {}).get("n")
        number = f" {n}" if n is not None else ""
        return f"objection{number} ({args.get('stage')}) by {who}"
    if call == "tender.reply":
        return f"objection {args.get('n')} answered by the tender's side ({who})"
    if call == "tender.rule":
        return f"objection {args.get('n')} ruled by a supervisor: {args.get('ruling')}"
    if call == "tender.award":
        given = args.get("winners")
        winners: list[Any] = given if isinstance(given, list) else []
        return "awarded: " + "; ".join(f"lot {i}: {w or 'no winner'}"
                                       for i, w in enumerate(winners, start=1))
    if call == "tender.record_contract":
        released = [e.get("number") for e in events if e.get("type") == "guarantee.released"]
        return ("contract signed (hash recorded); " + (
            f"the winner's guarantee {', '.join(map(str, released))} released" if released
            else "no winner's guarantee left to release"))
    if call == "tender.archive":
        return "ARCHIVED: frozen for good"
    shown = ", ".join(str(e.get("type")) for e in events)
    return f"{call}" + (f" ({shown})" if shown else "")


def _names(value: Any) -> str:
    """A list of USCCs (or of lists of them, per lot) as text, not as Python's repr (user
    walk: "candidates [['…']]")."""
    if isinstance(value, list):
        parts = [_names(v) for v in value]
        return ", ".join(p for p in parts if p) or "none"
    return str(value) if value else ""


def _opening_lines(db: sqlite3.Connection, tender_id: str) -> list[Line]:
    out = []
    for row in db.execute(
            "SELECT s.height, s.value_json, b.time_ms FROM state_changes s JOIN blocks b ON "
            "b.height = s.height WHERE s.key = ?", (f"tender/{tender_id}/opening",)):
        record = json.loads(row["value_json"]) if row["value_json"] else {}
        for lot in record.get("lots", []):
            for bid in lot.get("bids", []):
                out.append(Line(row["time_ms"], row["height"],
                                f"  opening record, lot {lot.get('lot')}: {bid.get('uscc')} "
                                f"{bid.get('status')} {_yuan(bid.get('price_fen'))}"))
    return out


def _collapse(lines: list[Line]) -> list[Line]:
    """Runs of the same line (score sheets, signatures) as one, with the count and the last
    block."""
    out: list[Line] = []
    run = 1
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt is not None and nxt.text == line.text:
            run += 1
            continue
        if run > 1:
            first = lines[i - run + 1]
            out.append(Line(first.time_ms, first.height,
                            f"{line.text} (×{run}, to block {line.height})"))
        else:
            out.append(line)
        run = 1
    return out


def tender_timeline(db: sqlite3.Connection, tender_id: str) -> list[str]:
    """The timeline's lines; ``LookupError`` when the tender is not in the export."""
    tip_height, tip_ms = tip(db)
    versions = _tender_versions(db, tender_id)
    if not versions:
        raise LookupError(f"tender {tender_id}: not on chain up to block {tip_height}")
    latest = versions[max(versions)]
    deadline = int(latest.get("deadline_ms", 0))
    lines: list[Line] = []
    events: dict[bytes, list[dict[str, Any]]] = {}
    for row in db.execute("SELECT tx_id, attrs FROM events WHERE tender_id = ? "
                          "ORDER BY height, tx_idx, event_idx", (tender_id,)):
        events.setdefault(bytes(row[0]), []).append(json.loads(row[1]) if row[1] else {})
    heights = sorted(versions)
    sealed_now = deadline > tip_ms
    for row in db.execute(
            "SELECT t.tx_id, t.height, t.call, t.args, t.code, t.message, t.sender_entity, "
            "b.time_ms FROM transactions t JOIN blocks b ON b.height = t.height "
            "WHERE t.tender_id = ? ORDER BY t.height, t.idx", (tender_id,)):
        if sealed_now and row["call"].startswith(("bid.", "guarantee.")):
            continue  # guarantees name their principals: who bids stays sealed until then
        if row["code"] != "OK":  # (a refused bid shows only once the deadline has passed)
            by = f" by {row['sender_entity']}" if row["sender_entity"] and (
                row["call"].startswith("bid.")) else ""
            lines.append(Line(row["time_ms"], row["height"],
                              f"refused {row['call']}{by}: {row['code']}"))
            continue
        after = max((h for h in heights if h <= row["height"]), default=None)
        args = json.loads(row["args"]) if row["args"] else {}
        who = row["sender_entity"] or "the platform"
        if sealed_now and row["call"] == "tender.object":
            who = "an entity named at the deadline"  # a documents objector: a likely bidder
        text = _describe_call(row["call"], args, events.get(bytes(row["tx_id"]), []),
                              versions.get(after) if after is not None else None, who)
        if text is not None:
            lines.append(Line(row["time_ms"], row["height"], text))
    lines += _opening_lines(db, tender_id)
    for row in db.execute(
            "SELECT s.height, s.value_json, b.time_ms FROM state_changes s JOIN blocks b ON "
            "b.height = s.height WHERE s.namespace = 'guarantee' AND s.tender_id = ?",
            (tender_id,)):
        g = json.loads(row["value_json"]) if row["value_json"] else {}
        if g.get("status") in ("released", "claimed"):
            lines.append(Line(row["time_ms"], row["height"],
                              f"guarantee {g.get('number')} of {g.get('principal')} "
                              f"{_guarantee_status(g)}"))
    if deadline <= tip_ms:
        opened = latest.get("opened_ms") or latest.get("state") not in ("bidding",)
        count = (f"; bids named at opening: {_lots_text(latest)}" if opened and
                 latest.get("state") != "bidding" else "; not opened yet")
        first_after = db.execute("SELECT MIN(height) FROM blocks WHERE time_ms >= ?",
                                 (deadline,)).fetchone()[0]
        lines.append(Line(deadline, int(first_after or tip_height), f"BID DEADLINE{count}"))
    lines.sort(key=lambda x: (x.height, x.time_ms))
    lines = _collapse(lines)
    head = [f"tender {tender_id} ({latest.get('rules')}, {latest.get('kind')}, region "
            f"{latest.get('region')}), now {latest.get('state')}; deadline "
            f"{beijing_time(deadline)}" + ("" if deadline <= tip_ms else
                                           " (not passed: bids are sealed)"),
            f"timeline up to block {tip_height} ({beijing_time(tip_ms)}):"]
    return [*head, *("  " + line.render() for line in lines)]
