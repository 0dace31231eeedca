"""``credchain tender``: the tender's side: its objections (``objections``, ``reply``) and
its opening (``open``, ``close``).

An objection (DOMAIN.md steps 3, 6 and 8) is answered by the tender's side within
``reply_days`` (3 days under the Bidding Law), else a supervisor rules. ``watch --tender``
shows each one as ``notice.objection`` (number and stage; never who objected, sealed until
the deadline). ``tender objections`` lists a tender's objections with their status and the
instant each reply period ends; ``tender reply`` hashes the written reply, refuses before
sending what the contract would refuse (no such objection, not open, the period over at the
chain's head), and sends ``tender.reply``.

After the bid deadline the platform that announced the tender opens its bids (``bid.open``,
DOMAIN.md step 5). It must name each lot's live slots, which only its node lists to it
(``GET /tenders/{id}/slots?lot=N``, a request signed with the platform's key:
``contracts.disclosure.may_list_slots``). ``tender open`` reads the tender, refuses before
sending anything what the contract would refuse (no such tender, the deadline not passed at
the chain's head, opened already, suspended, an objection open, not the platform's key),
lists the slots lot by lot, sends ``bid.open`` and says what became of each lot: failed
(流标, fewer than ``bid_min_count`` bids) or in its decryption window until when.
``tender close`` ends the window (``bid.close``) and prints the opening record it publishes
(``tender/<id>/opening``: bidders, prices, statuses).

A committed transaction whose receipt is not OK exits 1 with its code and message, as
``tx send`` does; anything refused before sending exits 1 and changes nothing.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any, NoReturn

import click

from shell.client import Committed, NodeClient, NodeError
from shell.commands.common import (
    committed_json,
    committed_text,
    fail,
    fail_receipt,
    hex_arg,
    key_options,
    load_key,
    url_option,
)

if TYPE_CHECKING:
    from contracts.tender_rules import RulePeriods


@click.group()
def tender() -> None:
    """The tender's side: list and reply to objections; open its bids after the deadline,
    close the decryption window."""


@tender.command("objections")
@click.argument("tender_id")
@url_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def tender_objections(tender_id: str, url: str, as_json: bool) -> None:
    """Tender TENDER_ID's objections: number, stage, when filed, status, when the reply
    period ends (Beijing time), the reply's hash and any ruling. Who objected is not shown
    (sealed until the deadline; credchain history tender names them after it)."""
    client = NodeClient(url)
    record = _tender(client, tender_id)
    periods = _periods(client, record)  # the chain's parameters, read once
    rows = [_objection_row(client, record, n, periods)
            for n in range(1, int(record["objections"]) + 1)]
    if as_json:
        click.echo(json.dumps({"tender_id": tender_id, "objections": rows},
                              ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"tender {tender_id}: no objection")
        return
    from contracts.tender_rules import OBJECTION_OPEN
    from ledger.verdict import beijing_time

    open_ = sum(1 for r in rows if r["status"] == OBJECTION_OPEN)
    click.echo(f"tender {tender_id}: {len(rows)} objection(s), {open_} open")
    now_ms = client.head_time_ms()
    for r in rows:
        line = (f"  {r['n']}  {r['stage']:<10}  filed {beijing_time(r['at_ms'])}  "
                f"{r['status']}")
        if r["status"] == OBJECTION_OPEN and now_ms < r["reply_by_ms"]:
            line += f"; reply by {beijing_time(r['reply_by_ms'])}"
        elif r["status"] == OBJECTION_OPEN:  # (user walk: "reply by" a time long past)
            line += (f"; the reply period ended {beijing_time(r['reply_by_ms'])}: a "
                     "supervisor rules now (tender.rule)")
        if r["reply_hash"]:
            line += f"; reply {r['reply_hash'][:16]}…"
        if r["ruling"]:
            line += f"; ruled {r['ruling']}"
        click.echo(line)


@tender.command("reply")
@click.argument("tender_id")
@click.argument("n", type=click.IntRange(min=1))
@click.option("--reply-file", type=click.Path(dir_okay=False, exists=True),
              help="the written reply: its hash (the chain's suite) goes on the chain")
@click.option("--reply-hash", help="or the reply's hash, 64 hex digits")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
@key_options
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key of the tender's side: its platform's, tenderer's or agent's")
@url_option
def tender_reply(tender_id: str, n: int, reply_file: str | None, reply_hash: str | None,
                 as_json: bool, passphrase_env: str | None, passphrase_file: str | None,
                 key_file: str, url: str) -> None:
    """Answer objection N to tender TENDER_ID (tender.reply) within its reply period."""
    from pathlib import Path

    from contracts.tender_rules import OBJECTION_OPEN
    from ledger.verdict import beijing_time

    if (reply_file is None) == (reply_hash is None):
        fail("give the reply as --reply-file FILE or --reply-hash HEX (one of them)")
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    digest = (suite.hash(Path(reply_file).read_bytes()) if reply_file is not None
              else hex_arg(str(reply_hash), "--reply-hash", 32))
    client = NodeClient(url).as_key(suite, secret)
    record = _tender(client, tender_id)
    if not 1 <= n <= int(record["objections"]):
        fail(f"not replied: tender {tender_id} has no objection {n} (it has "
             f"{record['objections']})")
    row = _objection_row(client, record, n, _periods(client, record))
    if row["status"] != OBJECTION_OPEN:
        fail(f"not replied: objection {n} to tender {tender_id} is {row['status']}"
             + (f" (ruled {row['ruling']})" if row["ruling"] else ""))
    head_ms = client.head_time_ms()
    if head_ms >= row["reply_by_ms"]:
        fail(f"not replied: the reply period of objection {n} ended at "
             f"{beijing_time(row['reply_by_ms'])}; a supervisor rules on it now")
    args = {"tender_id": tender_id, "n": n, "reply_hash": digest}
    done = client.send(client.sign(suite, secret, "tender.reply", args))
    time_ms = client.header(done.height).time_ms
    if as_json:
        click.echo(json.dumps(committed_json(done, time_ms), ensure_ascii=False, indent=2))
    else:
        click.echo(committed_text(done, "tender.reply", time_ms))
    if done.receipt.code != "OK":
        fail_receipt(done)


def _periods(client: NodeClient, record: dict[str, Any]) -> RulePeriods:
    """The periods of the tender's rule set, from the chain's parameters at the head."""
    from contracts import keys
    from contracts.tender_rules import load_periods

    return load_periods(record["rules"], lambda name: client.state(keys.param(name)))


def _objection_row(client: NodeClient, record: dict[str, Any], n: int,
                   periods: RulePeriods) -> dict[str, Any]:
    """Objection ``n`` as its public record shows it, with the end of its reply period
    (``reply_days`` of the tender's rule set)."""
    from contracts.tender_record import objection_key
    from ledger import jsonform

    obj = client.state(objection_key(record["tender_id"], n))
    if not isinstance(obj, dict):
        fail(f"the node does not show objection {n} of tender {record['tender_id']}")
    reply = jsonform.tagged_from_json(obj["reply_hash"])
    return {"n": n, "stage": obj["stage"], "at_ms": int(obj["at_ms"]),
            "status": obj["status"], "reply_by_ms": periods.period_end(int(obj["at_ms"]),
                                                                       periods.reply_days),
            "reply_hash": reply.hex() if isinstance(reply, bytes) else "",
            "ruling": obj["ruling"]}


def _platform_options(f: Any) -> Any:
    f = click.option("--json", "as_json", is_flag=True,
                     help="print JSON (times in ms and in Beijing time) instead of text")(f)
    f = key_options(f)
    f = click.option("--key", "key_file", required=True,
                     type=click.Path(dir_okay=False, exists=True),
                     help="the platform key that announced the tender")(f)
    f = url_option(f)
    return click.argument("tender_id")(f)


@tender.command("open")
@_platform_options
def tender_open(tender_id: str, url: str, key_file: str, passphrase_env: str | None,
                passphrase_file: str | None, as_json: bool) -> None:
    """Open tender TENDER_ID's bids (bid.open), at or after its deadline: list each lot's
    live bid slots on the node (a request signed with the platform's key), name them all,
    and say per lot whether it failed (fewer than bid_min_count bids) or its decryption
    window opened, and until when."""
    from contracts import keys
    from contracts.tender_rules import BIDDING

    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)
    record = _tender(client, tender_id)
    if record["state"] != BIDDING:
        fail(f"not opened: tender {tender_id} was opened already (state {record['state']}; "
             f"{_lot_statuses(record)}); a tender's bids are opened once")
    head_ms = _check_deadline(client, record)
    _check_guards(client, record, head_ms, "open", "opened")
    slots = [_live_slots(client, tender_id, lot["lot"]) for lot in record["lots"]]
    _check_platform(record, suite.public_key(secret), "opened")  # a supervisor lists them too
    min_count = client.state(keys.param("bid_min_count"))
    args = {"tender_id": tender_id, "slots": [[bytes.fromhex(s) for s in lot] for lot in slots]}
    done = client.send(client.sign(suite, secret, "bid.open", args))
    time_ms = client.header(done.height).time_ms
    if done.receipt.code != "OK":
        _refused(done, "bid.open", time_ms, as_json)
    after = _tender(client, tender_id)
    failed = {int(e["lot"]) for e in done.receipt.events if e.get("type") == "bid.lot_failed"}
    window_end_ms = int(after["window_end_ms"])
    lots = [{"lot": lot["lot"], "name": lot["name"], "bids": len(named), "slots": named,
             "outcome": "failed" if lot["lot"] in failed else "decrypting"}
            for lot, named in zip(record["lots"], slots, strict=True)]
    if as_json:
        from ledger.verdict import beijing_time

        click.echo(json.dumps({
            **committed_json(done, time_ms), "tender_id": tender_id, "state": after["state"],
            "bid_min_count": min_count, "window_end_ms": window_end_ms,
            "window_end": beijing_time(window_end_ms), "lots": lots},
            ensure_ascii=False, indent=2))
        return
    click.echo(_open_text(tender_id, done, time_ms, after["state"], lots, min_count,
                          window_end_ms, url))


@tender.command("close")
@_platform_options
def tender_close(tender_id: str, url: str, key_file: str, passphrase_env: str | None,
                 passphrase_file: str | None, as_json: bool) -> None:
    """Close tender TENDER_ID's decryption window (bid.close), once it has ended or every
    bid is revealed, and print the opening record it publishes: per lot, the bidders, their
    prices and statuses (a bid silent until then becomes decrypt_failed)."""
    from contracts.tender_record import opening_key
    from contracts.tender_rules import BIDDING, DECRYPTING, FAILED
    from ledger import jsonform

    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)
    record = _tender(client, tender_id)
    _check_platform(record, suite.public_key(secret), "closed")
    state = record["state"]
    if state == BIDDING:
        fail(f"not closed: tender {tender_id} has not been opened (credchain tender open "
             f"{tender_id})")
    if state == FAILED:  # reached only from an opening where every lot failed
        fail(f"not closed: every lot of tender {tender_id} failed at its opening "
             f"({_lot_statuses(record)}): no bid was decrypted, there is no window to close")
    if state != DECRYPTING:
        fail(f"not closed: tender {tender_id}'s decryption window was closed already (state "
             f"{state}); its opening record is the state key {opening_key(tender_id)}")
    _check_window(client, record)
    done = client.send(client.sign(suite, secret, "bid.close", {"tender_id": tender_id}))
    time_ms = client.header(done.height).time_ms
    if done.receipt.code != "OK":
        _refused(done, "bid.close", time_ms, as_json)
    opening = client.state(opening_key(tender_id))
    if not isinstance(opening, dict):
        fail(f"bid.close committed in block {done.height}, but the node does not show the "
             f"opening record {opening_key(tender_id)}")
    if as_json:
        click.echo(json.dumps({**committed_json(done, time_ms), "tender_id": tender_id,
                               "opening": opening}, ensure_ascii=False, indent=2))
        return
    names = {lot["lot"]: lot["name"] for lot in record["lots"]}
    click.echo(_close_text(tender_id, done, time_ms, jsonform.tagged_from_json(opening), names))


# ---- reading and checking before sending ----------------------------------------------------


def _tender(client: NodeClient, tender_id: str) -> dict[str, Any]:
    from contracts.tender_record import ID_CHARS, tender_key

    if not 1 <= len(tender_id) <= 64 or not set(tender_id) <= ID_CHARS:
        fail(f"{tender_id!r} is not a tender id (1–64 of A-Z a-z 0-9 . _ -)")
    record = client.state(tender_key(tender_id))
    if not isinstance(record, dict):
        fail(f"no tender {tender_id!r} on the chain at {client.url}")
    return record


def _lot_statuses(record: dict[str, Any]) -> str:
    return ", ".join(f"lot {lot['lot']} {lot['status']}" for lot in record["lots"])


def _check_deadline(client: NodeClient, record: dict[str, Any]) -> int:
    """The node judges "after the deadline" by its latest block's time, as the contract
    judges by the block that holds the opening: both must have reached the deadline."""
    import time

    from ledger.verdict import beijing_time

    deadline_ms = int(record["deadline_ms"])
    head_ms = client.head_time_ms()
    if head_ms >= deadline_ms:
        return head_ms
    if time.time_ns() // 1_000_000 < deadline_ms:
        fail(f"not opened: tender {record['tender_id']}'s bid deadline has not passed; it "
             f"passes at {beijing_time(deadline_ms)} (Beijing time): open at or after it")
    fail(f"not opened yet: tender {record['tender_id']}'s bid deadline passed at "
         f"{beijing_time(deadline_ms)}, but the chain's latest block is at "
         f"{beijing_time(head_ms)}: the node lists the bid slots once a block at or after the "
         "deadline is committed (the leader proposes one at each tender's deadline, within "
         "about a second); try again shortly")


def _check_guards(client: NodeClient, record: dict[str, Any], head_ms: int, action: str,
                  done: str) -> None:
    """The lifecycle table's guards for ``action`` at the chain's head, as the contract will
    check them (``contracts.tender_rules.require``): suspended, an objection open…"""
    from contracts.errors import ContractError
    from contracts.tender_rules import GuardView, require

    view = GuardView(record, head_ms, lambda: _periods(client, record))
    try:
        require(view, action)
    except ContractError as exc:
        fail(f"not {done}: tender {record['tender_id']}: {exc.message} ({exc.code})")


def _check_platform(record: dict[str, Any], pubkey: bytes, done: str) -> None:
    from ledger import jsonform

    if jsonform.tagged_from_json(record["platform_key"]) != pubkey:
        fail(f"not {done}: the key {pubkey.hex()[:16]}… is not the platform key that "
             f"announced tender {record['tender_id']}; only that key may")


def _live_slots(client: NodeClient, tender_id: str, lot: int) -> list[str]:
    """The lot's live bid slots (hex), as the node lists them to the tender's platform."""
    path = f"/tenders/{urllib.parse.quote(tender_id)}/slots?lot={lot}"
    try:
        got = client.get(path)
    except NodeError as exc:
        if exc.status == 403:
            fail(f"not opened: the node does not list the bid slots of tender {tender_id} to "
                 f"this key: {exc.reason}")
        raise
    return [str(s) for s in got["slots"]]


def _check_window(client: NodeClient, record: dict[str, Any]) -> None:
    """Before the window ends the contract closes only once no bid of a lot being decrypted
    is still sealed (a failed lot's bids are never decrypted and wait on no one)."""
    from contracts.tender_record import bid_key, slots_key
    from contracts.tender_rules import LOT_DECRYPTING, SEALED
    from ledger.verdict import beijing_time

    window_end_ms = int(record["window_end_ms"])
    if client.head_time_ms() >= window_end_ms:
        return
    tender_id = record["tender_id"]
    silent = []
    for lot in record["lots"]:
        if lot["status"] != LOT_DECRYPTING:
            continue
        for slot in client.state(slots_key(tender_id, lot["lot"])) or []:
            bid = client.state(bid_key(tender_id, lot["lot"], str(slot)))
            if isinstance(bid, dict) and bid.get("status") == SEALED:
                silent.append(f"lot {lot['lot']} {bid.get('uscc')}")
    if not silent:
        return
    fail(f"not closed: the decryption window of tender {tender_id} is open until "
         f"{beijing_time(window_end_ms)}; {len(silent)} bid(s) are not revealed yet "
         f"({', '.join(silent)}): close once every bid is revealed, or once the window has "
         "ended (a silent bid then becomes decrypt_failed)")


# ---- after the receipt --------------------------------------------------------------------


def _refused(done: Committed, call: str, time_ms: int, as_json: bool) -> NoReturn:
    """A committed transaction whose receipt is not OK: say so and exit 1 (as ``tx send``)."""
    click.echo(json.dumps(committed_json(done, time_ms), ensure_ascii=False, indent=2)
               if as_json else committed_text(done, call, time_ms))
    fail_receipt(done)


def _open_text(tender_id: str, done: Committed, time_ms: int, state: str,
               lots: list[dict[str, Any]], min_count: Any, window_end_ms: int, url: str) -> str:
    from ledger.verdict import beijing_time

    lines = [f"tender {tender_id} opened in block {done.height} at {beijing_time(time_ms)} "
             f"(transaction {done.tx_id}); the tender is now {state}"]
    for lot in lots:
        head = f"  lot {lot['lot']} ({lot['name']}): {lot['bids']} bid(s) named; "
        if lot["outcome"] == "failed":
            lines.append(head + f"FAILED (流标): fewer than {min_count} bids (bid_min_count);"
                                " its bids are never decrypted, their guarantees released")
        else:
            lines.append(head + "decryption window open until "
                                f"{beijing_time(window_end_ms)}: each bidder reveals its "
                                "content key (credchain bid reveal)")
    failed = [lot for lot in lots if lot["outcome"] == "failed"]
    if len(failed) == len(lots):
        lines.append("every lot failed: nothing is decrypted, there is no window to close")
        return "\n".join(lines)
    lines.append(f"close the window after {beijing_time(window_end_ms)}, or once every bid "
                 f"is revealed: credchain tender close {tender_id} --url {url} --key ...")
    return "\n".join(lines)


def _close_text(tender_id: str, done: Committed, time_ms: int, opening: dict[str, Any],
                names: dict[int, str]) -> str:
    from contracts.tender_record import opening_key
    from ledger.verdict import beijing_time
    from shell.bidding import price_text

    lines = [f"tender {tender_id}: decryption window closed in block {done.height} at "
             f"{beijing_time(time_ms)} (transaction {done.tx_id}); the opening record "
             f"({opening_key(tender_id)}):"]
    for lot in opening["lots"]:
        lines.append(f"  lot {lot['lot']} ({names.get(lot['lot'], '')}): {lot['status']}, "
                     f"{len(lot['bids'])} bid(s)")
        for b in lot["bids"]:
            price = int(b["price_fen"])
            shown = price_text(price) if price >= 0 else "no price (not revealed)"
            lines.append(f"    {b['uscc']}  {b['status']:<14}  {shown}")
    return "\n".join(lines)
