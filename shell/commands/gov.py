"""``credchain gov``: the committee's proposals and votes (membership, roles, parameters, freezes).

Every argument is checked here, with the contracts' own rules (``contracts.governance``,
``contracts.params``), before anything is signed: a typo is a one-line message, not a failed
transaction on the chain. A proposal executes in the transaction whose vote reaches the
threshold; ``gov show`` says where it stands, in Beijing time.

    credchain gov propose add-validator --name shanwei --pubkey HEX --key k.key ...
    credchain gov propose remove-validator --pubkey HEX ...
    credchain gov propose grant-role --role attestor --member HEX ...
    credchain gov propose set-param --name bid_min_count --value 3 ...
    credchain gov propose freeze --subject USCC_OR_PUBKEY --reason "..." ...
    credchain gov propose set-endpoint --pubkey HEX --host 10.1.2.3 --port 26650 --kind observer
    credchain gov propose rotate-validator --old HEX --new-key new.key ...
    credchain gov vote 7 --approve | --reject ...
    credchain gov list [--status open]
    credchain gov show 7
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from contracts.errors import ContractError
from contracts.governance import COMMITTEE, ROLES, votes_needed
from contracts.params import check_param
from contracts.uscc import valid_uscc
from ledger import jsonform
from ledger.crypto import Suite, get_suite
from ledger.errors import InvalidInput
from ledger.verdict import beijing_time
from shell.client import NodeClient, NodeError
from shell.commands.common import fail, hex_arg, key_options, load_key, url_option

PROPOSAL_SEQ = "gov/proposal_seq"


def proposal_key(proposal_id: int) -> str:
    return f"gov/proposal/{proposal_id}"


@click.group()
def gov() -> None:
    """The committee: propose and vote on validators, roles, parameters and freezes."""


def _pubkey(suite: Suite, text: str, what: str) -> bytes:
    try:
        key = bytes.fromhex(text)
        suite.check_pubkey(key)
    except (ValueError, InvalidInput) as exc:
        fail(f"{what} is not a {suite.name} public key in hex: {exc}")
    return key


def _subject(suite: Suite, text: str) -> str:
    if valid_uscc(text):
        return text
    _pubkey(suite, text, "--subject (a USCC or a public key)")
    return text.lower()


def _send(url: str, key_file: str, env: str | None, file: str | None, call: str,
          args: dict[str, Any], refuse: Callable[[bytes], str | None] | None = None) -> None:
    """Sign and send ``call``; ``refuse``, given the signer's public key, may name a reason
    the contract would refuse it, and then nothing is sent."""
    suite, secret = load_key(key_file, env, file)
    public = NodeClient(url)
    members = jsonform.tagged_from_json(public.state(COMMITTEE) or [])
    mine = suite.public_key(secret)
    if members and mine not in members:
        # said before any signed read, which the node refuses an unknown key with a 401
        # naming no committee (operator walk: client3 of network init is no member)
        fail(f"the key {mine.hex()[:16]}… is not a committee member; proposals and votes come "
             f"from the {len(members)} committee keys (gov/committee: network init makes "
             "its first clients, up to three, the committee: see genesis.json 'committee')")
    client = public.as_key(suite, secret)
    chain_suite = client.status_text("suite")
    if suite.name != chain_suite:
        fail(f"the key is a {suite.name} key; this chain uses {chain_suite}")
    reason = refuse(suite.public_key(secret)) if refuse is not None else None
    if reason is not None:
        fail(reason)
    done = client.send(client.sign(suite, secret, call, args))
    r = done.receipt
    if r.code != "OK":
        fail(f"{call} failed at height {done.height}: {r.code} {r.message}")
    for event in r.events:
        fields = {k: v for k, v in event.items() if k != "type"}
        click.echo(f"{event['type']}: {json.dumps(fields, default=_hex, ensure_ascii=False)}")
    click.echo(f"committed at height {done.height} (tx {done.tx_id})")


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def chain_suite(url: str) -> Suite:
    return get_suite(NodeClient(url).status_text("suite"))


@gov.command("propose")
@click.argument("action", type=click.Choice(
    ["add-validator", "remove-validator", "rotate-validator", "set-endpoint", "clear-endpoint",
     "grant-role", "revoke-role", "set-param", "freeze", "unfreeze"]))
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a committee member's key")
@key_options
@click.option("--name", help="add-validator: the validator's name; set-param: the parameter "
                             "(contracts/params.py lists each with its default and bounds; "
                             "GET /state/param/NAME reads its value now)")
@click.option("--pubkey", help="add-/remove-validator: the validator's public key (hex)")
@click.option("--role", type=click.Choice(ROLES), help="grant-/revoke-role: the role")
@click.option("--member", help="grant-/revoke-role: the member's public key (hex)")
@click.option("--value", help="set-param: the value (an integer or text, by the parameter)")
@click.option("--subject", help="freeze/unfreeze: a USCC or a public key (hex)")
@click.option("--reason", help="freeze: why")
@click.option("--old", help="rotate-validator: the validator's current public key (hex)")
@click.option("--new-key", type=click.Path(dir_okay=False, exists=True),
              help="rotate-validator: the new key's file, which signs the rotation here")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False),
              help="rotate-validator: the new key's passphrase (default: the same options as "
                   "--key's)")
@click.option("--new-pubkey", help="rotate-validator: the new key (hex), with --new-sig from "
                                   "`credchain keys sign-rotation` on the city's machine")
@click.option("--new-sig", help="rotate-validator: the new key's signature of the rotation")
@click.option("--host", help="set-endpoint: the node's peer address (host name or IP)")
@click.option("--port", type=click.IntRange(1, 65535), help="set-endpoint: its peer port")
@click.option("--kind", type=click.Choice(["validator", "observer"]),
              help="set-endpoint: a validator's node, or an observer (a non-voting node)")
def propose(action: str, url: str, key_file: str, passphrase_env: str | None,
            passphrase_file: str | None, name: str | None, pubkey: str | None,
            role: str | None, member: str | None, value: str | None, subject: str | None,
            reason: str | None, old: str | None, new_key: str | None,
            new_passphrase_file: str | None, new_pubkey: str | None, new_sig: str | None,
            host: str | None, port: int | None, kind: str | None) -> None:
    """Propose ACTION; the proposal is your yes vote."""
    suite = chain_suite(url)
    needs = {"add-validator": ("name", "pubkey"), "remove-validator": ("pubkey",),
             "rotate-validator": ("old", "new_key") if new_pubkey is None and new_sig is None
             else ("old", "new_pubkey", "new_sig"),
             "set-endpoint": ("pubkey", "host", "port", "kind"), "clear-endpoint": ("pubkey",),
             "grant-role": ("role", "member"), "revoke-role": ("role", "member"),
             "set-param": ("name", "value"), "freeze": ("subject", "reason"),
             "unfreeze": ("subject",)}[action]
    given = {"name": name, "pubkey": pubkey, "role": role, "member": member, "value": value,
             "subject": subject, "reason": reason, "old": old, "new_key": new_key,
             "new_pubkey": new_pubkey, "new_sig": new_sig, "host": host, "port": port,
             "kind": kind}
    missing = [_flag(n) for n in needs if given[n] is None]
    extra = [_flag(n) for n, v in given.items() if v is not None and n not in needs]
    if missing or extra:
        fail(f"{action} takes {', '.join(_flag(n) for n in needs)}"
             + (f"; missing {', '.join(missing)}" if missing else "")
             + (f"; not {', '.join(extra)}" if extra else ""))
    _check_seats(url, action, suite, pubkey, old)
    payload: dict[str, Any]
    if action == "add-validator":
        payload = {"name": str(name), "pubkey": _pubkey(suite, str(pubkey), "--pubkey")}
    elif action == "remove-validator":
        payload = {"pubkey": _pubkey(suite, str(pubkey), "--pubkey")}
    elif action == "rotate-validator" and new_key is not None:
        payload = rotation(url, suite, str(old), new_key,
                           None if new_passphrase_file else passphrase_env,
                           new_passphrase_file or passphrase_file)
    elif action == "rotate-validator":
        payload = {"old": _pubkey(suite, str(old), "--old"),
                   "new": _pubkey(suite, str(new_pubkey), "--new-pubkey"),
                   "new_sig": hex_arg(str(new_sig), "--new-sig")}
    elif action == "set-endpoint":
        payload = {"pubkey": _pubkey(suite, str(pubkey), "--pubkey"), "host": str(host),
                   "port": int(port or 0), "kind": str(kind)}
    elif action == "clear-endpoint":
        payload = {"pubkey": _pubkey(suite, str(pubkey), "--pubkey")}
    elif action in ("grant-role", "revoke-role"):
        payload = {"role": role, "member": _pubkey(suite, str(member), "--member")}
    elif action == "set-param":
        payload = _param(str(name), str(value))
    elif action == "freeze":
        payload = {"subject": _subject(suite, str(subject)), "reason": str(reason)}
    else:
        payload = {"subject": _subject(suite, str(subject))}
    _send(url, key_file, passphrase_env, passphrase_file, "gov.propose",
          {"action": action.replace("-", "_"), "payload": payload})


def _seated(client: NodeClient) -> list[tuple[str, str]]:
    """The validator set at the node's head: ``(name, public key hex)`` in index order."""
    return [(str(v["name"]), str(v["pubkey"]["$bin"]))
            for v in client.state("gov/validators") or []]


def _check_seats(url: str, action: str, suite: Suite, pubkey: str | None,
                 old: str | None) -> None:
    """Refuse, before anything is signed, a validator change the set already makes moot."""
    if action not in ("add-validator", "remove-validator", "rotate-validator"):
        return
    key = (pubkey if action != "rotate-validator" else old) or ""
    _pubkey(suite, key, "--old" if action == "rotate-validator" else "--pubkey")
    seated = {key for _, key in _seated(NodeClient(url))}
    if action == "add-validator" and key.lower() in seated:
        fail(f"{key[:16]}… is a validator already")
    if action != "add-validator" and key.lower() not in seated:
        fail(f"{key[:16]}… is not a validator")


@gov.command("validators")
@url_option
def validators(url: str) -> None:
    """The validator set in force at the node's head: index, name, public key, and the peer
    address the endpoint registry holds for it."""
    from contracts.membership import ENDPOINT_PREFIX
    from ledger.block import quorum

    client = NodeClient(url)
    head = client.status()
    vals = _seated(client)
    click.echo(f"{len(vals)} validators of {head['chain_id']} at height {head['height']}; "
               f"{quorum(len(vals))} votes make a quorum:")
    for i, (name, key) in enumerate(vals):
        entry = client.state(ENDPOINT_PREFIX + key)
        where = (f"{entry['host']}:{entry['port']} ({entry['kind']})"
                 if isinstance(entry, dict) else "no registered endpoint")
        click.echo(f"  {i}  {name:<16} {key}  {where}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def rotation(url: str, suite: Suite, old: str, new_key: str, env: str | None,
             file: str | None) -> dict[str, Any]:
    """The payload of ``rotate_validator``: ``new_key``'s file signs its consent (also what
    ``keys sign-rotation`` prints, on the machine that keeps the key)."""
    from contracts.membership import sign_rotation

    old_key = _pubkey(suite, old, "--old")
    new_suite, new_secret = load_key(new_key, env, file)
    if new_suite.name != suite.name:
        fail(f"--new-key is a {new_suite.name} key; this chain uses {suite.name}")
    sig = sign_rotation(suite, new_secret, NodeClient(url).chain_id(), old_key)
    return {"old": old_key, "new": suite.public_key(new_secret), "new_sig": sig}


def _param(name: str, text: str) -> dict[str, Any]:
    from contracts.params import DEFAULTS

    value: int | str = text
    if isinstance(DEFAULTS.get(name), int):
        try:
            value = int(text)
        except ValueError:
            fail(f"parameter {name!r} takes an integer, not {text!r}")
    try:
        checked_name, checked = check_param(name, value)
    except ContractError as exc:
        fail(exc.message)
    return {"name": checked_name, "value": checked}


@gov.command("vote")
@click.argument("proposal_id", type=click.IntRange(0))
@click.option("--approve/--reject", required=True, help="your vote")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a committee member's key")
@key_options
def vote(proposal_id: int, approve: bool, url: str, key_file: str, passphrase_env: str | None,
         passphrase_file: str | None) -> None:
    """Vote on proposal PROPOSAL_ID."""
    proposal = NodeClient(url).state(proposal_key(proposal_id))
    if proposal is None:
        fail(f"there is no proposal {proposal_id}")
    if proposal.get("status") != "open":  # the contract would refuse it: send nothing
        fail(f"proposal {proposal_id} is {proposal.get('status')} already; a vote on it would "
             "be refused")

    def voted(pubkey: bytes) -> str | None:
        for side in ("yes", "no"):
            if pubkey in jsonform.tagged_from_json(proposal.get(side, [])):
                return (f"this key voted {side} on proposal {proposal_id} already (a proposer "
                        "votes yes by proposing); a second vote would be refused (E_VOTED)")
        return None

    _send(url, key_file, passphrase_env, passphrase_file, "gov.vote",
          {"id": proposal_id, "approve": approve}, refuse=voted)


def _votes_needed(client: NodeClient) -> int | None:
    """Yes votes an open proposal needs now: of the committee at the head, at the head's
    ``gov_threshold_pct`` (None when the node does not say)."""
    try:
        members, pct = client.state(COMMITTEE), client.state("param/gov_threshold_pct")
    except NodeError:
        return None
    if not isinstance(members, list) or type(pct) is not int:
        return None
    return votes_needed(len(members), pct)


def _shown(p: dict[str, Any], needed: int | None = None) -> str:
    def key(v: Any) -> str:
        return str(v.get("$bin", v))[:16] if isinstance(v, dict) else str(v)[:16]

    def whole(name: str, v: Any) -> Any:
        """A key in the payload in full (a voter checks every digit); a signature short."""
        if not isinstance(v, dict) or "$bin" not in v:
            return v
        return f"{key(v)}…" if name.endswith("sig") else str(v["$bin"])

    payload = {k: whole(k, v) for k, v in p["payload"].items()}
    decided = f", decided {beijing_time(p['decided_ms'])}" if p.get("decided_ms") else ""
    return (f"#{p['id']} {p['status']:<8} {p['action']} {json.dumps(payload, ensure_ascii=False)}"
            f"\n    proposed {beijing_time(p['created_ms'])} by {key(p['proposer'])}…, expires "
            f"{beijing_time(p['expires_ms'])}{decided}; yes {len(p['yes'])}"
            f"{_of_needed(p, needed)}, no {len(p['no'])}")


def _of_needed(p: dict[str, Any], needed: int | None) -> str:
    """`` of N needed`` for an open proposal (a decided one was judged by its own votes)."""
    return f" of {needed} needed" if needed is not None and p["status"] == "open" else ""


@gov.command("list")
@url_option
@click.option("--status", type=click.Choice(["open", "executed", "rejected", "all"]),
              default="all", show_default=True)
@click.option("--last", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="how many of the latest proposals to look at")
def list_(url: str, status: str, last: int) -> None:
    """The latest proposals, newest first."""
    client = NodeClient(url)
    count = int(client.state(PROPOSAL_SEQ) or 0)
    needed = _votes_needed(client) if count else None
    shown = 0
    for pid in range(count - 1, max(-1, count - 1 - last), -1):
        p = client.state(proposal_key(pid))
        if p is not None and status in ("all", p["status"]):
            click.echo(_shown(p, needed))
            shown += 1
    if not count:
        click.echo("no proposal yet on this chain")
    elif not shown:
        click.echo(f"no {'' if status == 'all' else status + ' '}proposal among the last "
                   f"{min(last, count)}")


@gov.command("show")
@click.argument("proposal_id", type=click.IntRange(0))
@url_option
@click.option("--json", "as_json", is_flag=True, help="the record as the chain holds it")
def show(proposal_id: int, url: str, as_json: bool) -> None:
    """One proposal: its action, votes and where it stands."""
    client = NodeClient(url)
    p = client.state(proposal_key(proposal_id))
    if p is None:
        fail(f"there is no proposal {proposal_id}")
    click.echo(json.dumps(p, indent=2, ensure_ascii=False) if as_json
               else _shown(p, _votes_needed(client)))
