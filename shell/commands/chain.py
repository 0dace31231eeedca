"""``credchain status``, ``tx send``, ``state``, ``proof``, ``verify``: a node's chain; offline
checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ledger.errors import InvalidInput
from shell.client import NodeClient
from shell.commands.common import (
    OUT_FILE,
    committed_json,
    committed_text,
    fail,
    fail_receipt,
    key_options,
    load_key,
    url_option,
)


@click.command()
@url_option
def status(url: str) -> None:
    """A node's height, view, leader, peers and pool size."""
    click.echo(json.dumps(NodeClient(url).status(), indent=2))


# ---- transactions and proofs ----------------------------------------------------------------


@click.group()
def tx() -> None:
    """Transactions."""


@tx.command("send")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@key_options
@click.option("--call", required=True, help="contract.method")
@click.option("--args", "args_json", default="{}", help="JSON map; bytes as {\"$bin\": hex}")
@click.option("--nonce", type=int, help="default: the sender's committed next nonce")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="wait (≤ 30 s) for the receipt; --no-wait only submits (then the exit code "
                   "says only whether the node admitted the transaction)")
@click.option("--json", "as_json", is_flag=True,
              help="print JSON (times in ms and in Beijing time) instead of text")
def tx_send(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
            call: str, args_json: str, nonce: int | None, wait: bool, as_json: bool) -> None:
    """Sign a transaction, submit it to a node and wait for its receipt.

    Exit 0 only when the receipt's code is OK; a failed receipt prints its code and message
    and exits 1 (the transaction is committed; it changed nothing but, at most, its nonce)."""
    from contracts.argnames import ARGUMENTS
    from contracts.runtime import unknown_arguments
    from ledger import jsonform

    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    try:
        args = jsonform.tagged_from_json(jsonform.parse_json(args_json, "--args"))
    except InvalidInput as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"--args is not valid: {exc}")
    if not isinstance(args, dict):
        fail("--args must be a JSON map")
    takes = ARGUMENTS.get(call)
    if takes is not None and not takes.issuperset(args):  # the chain would refuse it too
        fail(f"not sent: {unknown_arguments(call, args, takes)} (contracts/CALLS.md)")
    client = NodeClient(url).as_key(suite, secret)  # it reads its own nonce and receipt
    signed = client.sign(suite, secret, call, args, nonce)
    tx_id = client.submit([signed]).tx_ids()[0]  # strict: a refused admission is a NodeError
    if not wait:
        click.echo(json.dumps({"tx_id": tx_id, "status": "submitted"}, indent=2) if as_json
                   else f"submitted {call} as transaction {tx_id} (not waiting for its receipt)")
        return
    done = client.wait_committed(tx_id)
    time_ms = client.header(done.height).time_ms
    if as_json:
        click.echo(json.dumps(committed_json(done, time_ms), ensure_ascii=False, indent=2))
    else:
        click.echo(committed_text(done, call, time_ms))
    if done.receipt.code != "OK":
        fail_receipt(done)


@click.command("state")
@click.argument("key")
@url_option
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
              help="read as this key: an entity's own private records (its nonce, bidder "
                   "record, sealed bids), a supervisor's reads")
@key_options
def state(key: str, url: str, key_file: str | None, passphrase_env: str | None,
          passphrase_file: str | None) -> None:
    """The head value of state KEY as JSON, e.g. tender/T-1, market/request/R-1,
    expert/E-07 (contracts/STATE_KEYS.md names every key). The node's word, for a quick
    look: `credchain proof KEY` and `credchain verify` prove it. Exit 1 when absent."""
    from ledger.bundle import MAX_KEY_LEN

    if not key or len(key) > MAX_KEY_LEN:
        fail(f"KEY is a state key of 1 to {MAX_KEY_LEN} characters, e.g. tender/T-1 "
             "(contracts/STATE_KEYS.md)")
    client = NodeClient(url)
    if key_file is not None:
        client = client.as_key(*load_key(key_file, passphrase_env, passphrase_file))
    got = client.state_answer(key)
    if got is None:
        fail(f"{key} is absent at the node's head (the node's word; `credchain proof {key} "
             "--out F` and `credchain verify F --anchor A --expect absent` prove it)")
    click.echo(json.dumps(got["value"], ensure_ascii=False, indent=2))
    click.echo(f"({key} at height {got.get('height')}, the node's word: `credchain proof` "
               "proves it)", err=True)


@click.command()
@click.argument("key")
@url_option
@click.option("--height", type=click.IntRange(0),
              help="the committed height to prove at (default: the node's head)")
@click.option("--out", required=True, type=OUT_FILE, help="where to write the bundle (JSON)")
def proof(key: str, url: str, height: int | None, out: str) -> None:
    """Fetch the proof bundle of state KEY (JSON form) into OUT."""
    from ledger.bundle import MAX_KEY_LEN

    if not key:
        fail("KEY is a state key, e.g. id/entity/<USCC> (contracts/STATE_KEYS.md)")
    if len(key) > MAX_KEY_LEN:  # the node refuses it too; said before a long URL is sent
        fail(f"KEY is a state key of at most {MAX_KEY_LEN} characters, got {len(key)}")
    res = NodeClient(url).proof(key, height)
    got_key = res.get("key") if isinstance(res, dict) else None
    header = res.get("header") if isinstance(res, dict) else None
    got_height = header.get("height") if isinstance(header, dict) else None
    if got_key != key or (height is not None and got_height != height):
        # a node that answers another question must not leave a file that verifies
        fail(f"not written: the node at {url} answered with a bundle for {got_key!r} at height "
             f"{got_height}, not for {key!r}"
             + (f" at height {height}" if height is not None else ""))
    Path(out).write_text(json.dumps(res, indent=2) + "\n")
    shown = "present" if res.get("value") is not None else "absent"
    click.echo(f"bundle for {key!r} at height {got_height} written to {out} (the node says "
               f"{shown}); check it offline: credchain verify {out} --anchor ANCHOR --key "
               f"{key} --expect {shown}")


@click.command()
@click.argument("uscc")
@url_option
@click.option("--tender", "tender_id", required=True, help="the tender")
@click.option("--lot", default=1, show_default=True, type=click.IntRange(1))
@click.option("--out", required=True, type=OUT_FILE,
              help="where to keep the answer with its proof (credchain verify checks it)")
def eligibility(uscc: str, url: str, tender_id: str, lot: int, out: str) -> None:
    """May entity USCC bid on a tender now? The node's answer, with a PROTOCOL §9 bundle
    of every record the rule reads: `credchain verify OUT --anchor A` re-applies the rule
    offline, trusting no node. Exit 0 eligible, 2 not eligible, 1 on an error."""
    import urllib.parse

    got = NodeClient(url).get(f"/eligibility/{urllib.parse.quote(uscc)}?"
                              f"tender={urllib.parse.quote(tender_id)}&lot={lot}")
    answer = got.pop("answer")
    question = got.get("question") if isinstance(got.get("question"), dict) else {}
    if (question.get("uscc"), question.get("tender_id"), question.get("lot")) != (
            uscc, tender_id, lot):
        fail(f"not written: the node at {url} answered another question ({question}), not "
             f"whether {uscc} may bid on {tender_id} lot {lot}")
    Path(out).write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    click.echo(_answer_text(answer, got["question"]))
    click.echo(f"answer and proof written to {out}; check it offline: "
               f"credchain verify {out} --anchor ANCHOR")
    sys.exit(0 if answer["eligible"] else 2)


def _answer_text(answer: dict[str, Any], question: dict[str, Any]) -> str:
    from ledger.verdict import beijing_time

    who = f"{question['uscc']} on {question['tender_id']} lot {question['lot']}"
    at = beijing_time(int(answer["at_ms"]))
    if answer["eligible"]:
        return f"ELIGIBLE: {who}, at {at}"
    lines = [f"NOT ELIGIBLE: {who}, at {at}"]
    for r in answer["reasons"]:
        line = f"  {r['reason']}: {', '.join(r['records']) or '-'}"
        if r.get("as"):
            line += f" (it is {r['as']}: it may not bid)"
        for b in r.get("blocking", []):
            until = beijing_time(b['until_ms'])
            line += f"\n    {b['record']} ({b['kind']}) in force until {until}"
        if r.get("missing"):
            line += "\n    missing " + ", ".join(f"{m['category']} level {m['level']}"
                                             for m in r["missing"])
        lines.append(line)
    return "\n".join(lines)


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="the consortium's anchor file (genesis header and validator set)")
@click.option("--expect", type=click.Choice(["present", "absent"]),
              help="exit 0 only if the key (every key of a multi-key bundle, or --key) is so")
@click.option("--key", "expect_key",
              help="with --expect: the key the question is about; a bundle that does not "
                   "prove that key fails (any bundle, the one key of a multi-key bundle)")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
def verify(bundle: str, anchor_path: str, expect: str | None, expect_key: str | None,
           as_json: bool) -> None:
    """Check a proof BUNDLE offline against the genesis anchor and say what it proves.

    Any PROTOCOL bundle, JSON or binary: a state record present or absent (§7), a committed
    transaction with its outcome (§8), several records at one height (§9). Exit 0 only when
    the bundle is valid (and, with --expect, says what was expected); 1 otherwise.
    An eligibility answer (`credchain eligibility`) is re-decided offline: exit 0 eligible,
    2 valid but not eligible, 1 not valid. An event item with its proof (`GET
    /events/{cursor}`, what `watch --verify` checks) is checked whole: its bundles, and that
    they prove what the item says."""
    from ledger import verdict
    from ledger.genesis import Anchor

    if expect_key is not None and expect is None:
        fail("--key goes with --expect")
    anchor = Anchor.load(anchor_path)
    try:
        data = Path(bundle).read_bytes()
    except OSError as exc:
        fail(f"cannot read bundle: {exc.strerror}")
    if _verify_eligibility(data, anchor, as_json, expect):
        return
    if _verify_event_item(data, anchor, as_json):
        return
    result = verdict.verify_any(data, anchor)
    expectation = verdict.check_expect(result, expect, expect_key) if expect else None
    if as_json:
        click.echo(json.dumps(verdict.render_json(result, expectation), ensure_ascii=False,
                              indent=2))
    else:
        click.echo(verdict.render_text(result, expectation), nl=False)
        if result.valid:
            for line in _meaning(result):
                click.echo(line)
    if not result.valid or (expectation is not None and not expectation.met):
        sys.exit(1)


def _meaning(result: Any) -> list[str]:
    """What the proven records mean as of the bundle's block (``contracts.reading``), and
    how old that block is by this computer's clock: a bundle proves the past, not now."""

    from contracts.reading import reading
    from ledger import jsonform
    from ledger.verdict import UNREADABLE

    lines = []
    for e in result.entries:
        if e.present and e.record != UNREADABLE:
            said = reading(e.key, jsonform.tagged_from_json(e.record), int(result.time_ms))
            if said:
                lines.append(f"  meaning {e.key}: {said}")
    if result.time_ms is not None:
        age = _age_line(result.height, int(result.time_ms))
        if age:
            lines.append(age)
    return lines


def _age_line(height: int | None, time_ms: int) -> str:
    """How old block ``height`` is by this computer's clock, when a minute or more: a
    bundle proves the past, not now; "" for a fresher one."""
    import time as time_module

    age_s = time_module.time() - time_ms / 1000
    if age_s < 60:
        return ""
    return (f"  as of block {height}, {_age(age_s)} ago by this computer's clock: a later "
            "block may say otherwise (fetch a new proof to know now)")


def _age(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def _verify_event_item(data: bytes, anchor: Any, as_json: bool) -> bool:
    """An event item with its proof (``GET /events/{cursor}``): its bundles verified and
    tied to the item's fields (``shell.eventproof.check_proof``; a deadline notice needs both
    of its bundles together), exit 0 or 1; False if the document is not one (user walk: a
    platform handed one item by webhook could check it only by taking it apart)."""
    from shell.eventproof import check_proof

    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):  # read_form then says what the file is not
        return False
    if not (isinstance(obj, dict) and isinstance(obj.get("item"), dict)
            and {"inclusion", "at"} & set(obj)):
        return False
    item = obj["item"]
    check = check_proof(obj, anchor)
    what = f"{item.get('type')} #{item.get('cursor')}"
    if as_json:
        click.echo(json.dumps({"valid": check.ok, "item": item,
                               "problems": list(check.problems),
                               "unproven": list(check.unproven),
                               "heights": [v.height for v in check.verdicts]}, indent=2,
                              ensure_ascii=False))
    elif check.ok:
        heights = " and ".join(str(v.height) for v in check.verdicts)
        click.echo(f"VALID: event item {what}\n  proven by its bundle(s) at block {heights}, "
                   "and they say what the item says, except:")
        for note in check.unproven:
            click.echo(f"  [not proven] {note}")
    else:
        click.echo(f"NOT VALID: event item {what}\n  reason: {'; '.join(check.problems)}\n"
                   "  Nothing is proven.")
    if not check.ok:
        sys.exit(1)
    return True


def _verify_eligibility(data: bytes, anchor: Any, as_json: bool, expect: str | None) -> bool:
    """An eligibility answer (``credchain eligibility``): verify its bundle, re-apply the
    rule offline at the bundle's block and print the verdict (``--json`` as JSON, with the
    block's age as for any proof); False if it is not one. Its exit code is the answer
    (0 eligible, 2 not): ``--expect`` asks of a record bundle, and is refused here."""
    from contracts.eligibility import is_envelope, verify_answer
    from ledger.errors import ProofError
    from ledger.verdict import beijing_time

    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):  # read_form then says what the file is not
        return False
    if not is_envelope(obj):
        return False
    if expect is not None:  # (user walk: ignored in silence)
        fail("--expect asks whether a record bundle shows a key present or absent; an "
             "eligibility answer's exit code is its answer (0 eligible, 2 not)")
    try:
        proved, answer = verify_answer(obj, anchor)
    except (ProofError, InvalidInput) as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "reason": str(exc)}, indent=2))
        else:
            click.echo(f"NOT VALID: eligibility answer\n  reason: {exc}\n  Nothing is "
                       "proven.")
        sys.exit(1)
    time_ms = int(proved.header.time_ms)
    age = _age_line(proved.height, time_ms)
    if as_json:
        click.echo(json.dumps({"valid": True, "height": proved.height, "time_ms": time_ms,
                               "time": beijing_time(time_ms), **answer.to_obj(),
                               "question": obj["question"]}, indent=2, ensure_ascii=False))
    else:
        click.echo(f"VALID: {len(proved.entries)} records proven at block {proved.height} "
                   f"({beijing_time(time_ms)}), the rule applied offline to them:")
        click.echo(_answer_text(answer.to_obj(), obj["question"]))
        if age:
            click.echo(age)
    sys.exit(0 if answer.eligible else 2)
