"""``credchain bid``: the bidder's side: enrol, seal, replace, withdraw, status, reveal, prove.

An entity enrols once (``bid enrol``): a fresh bidder secret goes to a file of its own
(``shell.biddersecret``) and its commitment to the chain. ``bid seal`` seals with that secret
(it keys the bid's slot) and the sealed file keeps a copy, so the later calls on the bid
(replace, withdraw) take it from the sealed file.

The sealed file (``shell.sealedfile``) is written under a name that does not look live
(``OUT.pending``) before the bid transaction leaves, and renamed to ``OUT`` only once the
transaction committed with an OK receipt; a refused bid's file is renamed
``*.refused.json`` with the reason, a replaced one ``*.replaced.json``, a withdrawn one
``*.withdrawn.json``. What to keep and what losing it costs: the README, "Bidding".
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from shell.client import NodeClient, NodeError
from shell.commands.common import OUT_FILE, fail, hex_arg, key_options, load_key, url_option
from shell.sealedfile import SealedBidFile


@click.group()
def bid() -> None:
    """The bidder's side: enrol, seal, replace or withdraw a bid, reveal its key at opening,
    prove it."""


@bid.command("enrol")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key bound to the bidder's attestation")
@key_options
@click.option("--secret-file", required=True, type=click.Path(dir_okay=False),
              help="where to write the new bidder secret (mode 0600; never overwritten)")
@click.option("--lost", is_flag=True,
              help="the entity enrolled before and lost that secret: enrol a new one (it holds "
                   "for tenders announced from now on)")
def bid_enrol(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
              secret_file: str, lost: bool) -> None:
    """Enrol as a bidder: make a bidder secret, keep it in --secret-file, record its
    commitment on chain. Once per entity; every bid is sealed with it."""
    from contracts import bid as bid_contract
    from contracts.bidder import enrol_args, new_bid_secret
    from ledger.verdict import beijing_time
    from shell import biddersecret

    path = Path(secret_file)
    if path.exists():  # before any network work; checked again, atomically, at creation
        fail(biddersecret.exists_refusal(path))
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)
    pubkey = suite.public_key(secret)
    uscc = client.key_entity(pubkey)
    if uscc is None:
        fail(f"not enrolled: your key {pubkey.hex()[:16]}… is bound to no entity on chain; "
             "the attestor binds it to the entity first")
    enrolled = _enrolments(client, bid_contract.enrolment_key(uscc))
    if enrolled and not lost:
        fail(f"{uscc} has enrolled a bidder secret already ({enrolled} enrolment(s)): seal "
             "with that secret file. Enrol again only for a lost secret (--lost): the new one "
             "holds for tenders announced from now on, earlier tenders keep the old one")
    record = biddersecret.BidderSecretFile(client.chain_id(), uscc, new_bid_secret())
    signed = client.sign(suite, secret, "bid.enrol", enrol_args(suite, record.bid_secret))
    tx_id = signed.tx_id(suite).hex()
    # Written before the transaction leaves: once the chain holds the commitment, this file
    # is the only copy of the secret.
    biddersecret.create(path, record)
    try:
        client.submit([signed])
    except NodeError as exc:
        if exc.status >= 400:  # refused at admission: this transaction will never commit
            biddersecret.remove(path)
            fail(f"enrolment refused: {exc.reason}; {path} removed")
        fail(f"{exc.reason}; whether the enrolment transaction {tx_id} reached the node is "
             f"unknown: {path} is kept (it holds the secret that transaction commits to). "
             f"{_AFTER_UNKNOWN}")
    try:
        done = client.wait_committed(tx_id)
    except NodeError:
        fail(f"the enrolment transaction {tx_id} is not committed yet; {path} is kept (it "
             f"holds the secret that transaction commits to). {_AFTER_UNKNOWN}")
    if done.receipt.code != "OK":
        biddersecret.remove(path)
        fail(f"enrolment refused: {done.receipt.code}: {done.receipt.message}; {path} removed")
    time_ms = client.header(done.height).time_ms
    click.echo(f"bidder secret of {uscc} enrolled in block {done.height} at "
               f"{beijing_time(time_ms)} (tx {tx_id}); keep {path} (mode 0600, secret in "
               "clear) with the key files: every bid is sealed with it "
               f"(credchain bid seal --secret-file {path})")


_AFTER_UNKNOWN = ("Later, run `credchain bid enrol` again with another --secret-file: if it "
                  "says the entity has enrolled already, that file is the enrolled secret")


def _enrolments(client: NodeClient, key: str) -> int:
    """How many bidder secrets the entity has enrolled (0 when the node will not say)."""
    try:
        record = client.state(key)
    except NodeError as exc:
        if exc.status == 403:
            return 0  # the node does not say: --lost is advice, the contract decides
        raise
    return len(record["secrets"]) if isinstance(record, dict) else 0


def sealed_passphrase_options(f: Any) -> Any:
    f = click.option("--sealed-passphrase-file", type=click.Path(dir_okay=False),
                     help="passphrase of the sealed file (mode 0600), not the key's")(f)
    f = click.option("--sealed-passphrase-env",
                     help="environment variable holding the sealed file's passphrase")(f)
    return f


def _sealed_phrase(env: str | None, file: str | None) -> bytes | None:
    from shell.config import read_passphrase

    return read_passphrase(env, file) if env or file else None


def _opener(env: str | None, file: str | None) -> Any:
    """Gives the sealed file's passphrase when the file turns out to be protected."""
    def get() -> bytes:
        given = _sealed_phrase(env, file)
        if given is not None:
            return given
        text: str = click.prompt("sealed-file passphrase", hide_input=True)
        return text.encode()
    return get


def _bid_options(f: Any) -> Any:
    f = click.option("--out", required=True, type=OUT_FILE,
                     help="where to keep the sealed bid (holds the content key: mode 0600)")(f)
    f = click.option("--price-fen", required=True, type=click.IntRange(0))(f)
    f = click.option("--file", "bid_file", required=True,
                     type=click.Path(dir_okay=False, exists=True),
                     help="the (encrypted) bid file as uploaded to the platform")(f)
    return f


@bid.command("seal")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="a key bound to the bidder's attestation")
@key_options
@sealed_passphrase_options
@click.option("--tender", "tender_id", required=True)
@click.option("--lot", default=1, show_default=True, type=click.IntRange(1, 0xFFFF))
@click.option("--uscc", required=True, help="the bidder's unified social credit code")
@click.option("--secret-file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="the entity's bidder-secret file (credchain bid enrol)")
@_bid_options
@click.option("--guarantee", default="", help="the electronic guarantee's number")
def bid_seal(url: str, key_file: str, passphrase_env: str | None, passphrase_file: str | None,
             sealed_passphrase_env: str | None, sealed_passphrase_file: str | None,
             tender_id: str, lot: int, uscc: str, secret_file: str, bid_file: str,
             price_fen: int, out: str, guarantee: str) -> None:
    """Seal a bid (content key, encrypted summary, file hash, commitment; its slot keyed with
    the bidder secret) and submit it."""
    from shell import biddersecret

    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    phrase = _sealed_phrase(sealed_passphrase_env, sealed_passphrase_file)
    enrolled = biddersecret.load(secret_file)
    if enrolled.uscc is not None and enrolled.uscc != uscc:
        fail(f"not sealed: {secret_file} is the bidder secret of {enrolled.uscc}, not {uscc}")
    client = NodeClient(url).as_key(suite, secret)  # it reads its own nonce and receipt
    if enrolled.chain_id != client.chain_id():
        fail(f"not sealed: {secret_file} was enrolled on chain {enrolled.chain_id}, the node's "
             f"is {client.chain_id()}")
    record = _seal(client, suite, secret, tender_id, lot, uscc, bid_file, price_fen, guarantee,
                   enrolled.bid_secret)
    live = _send_sealed(client, suite, secret, "bid.submit", record, Path(out), phrase)
    _say_live(live, Path(out))


@bid.command("replace")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@key_options
@sealed_passphrase_options
@click.option("--previous", "previous_path", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="the sealed file of the live bid being replaced (renamed *.replaced.json "
                   "once the new version is committed)")
@_bid_options
@click.option("--guarantee", default=None,
              help="the guarantee of the new version (default: the previous version's)")
def bid_replace(url: str, key_file: str, passphrase_env: str | None,
                passphrase_file: str | None, sealed_passphrase_env: str | None,
                sealed_passphrase_file: str | None, previous_path: str, bid_file: str,
                price_fen: int, out: str, guarantee: str | None) -> None:
    """Seal a new version of a live bid and submit it (before the deadline); the latest
    version is the one that counts, and only its file can reveal it."""
    from shell import sealedfile

    previous = sealedfile.load(previous_path)
    if previous.status not in ("live", "pending"):
        fail(f"{previous_path} is a {previous.status} bid, not a live one")
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    phrase = _sealed_phrase(sealed_passphrase_env, sealed_passphrase_file)
    if previous.protected is not None:
        if phrase is None:
            fail(f"{previous_path} is passphrase-protected: protect the new version too "
                 "(--sealed-passphrase-file or --sealed-passphrase-env)")
        previous = sealedfile.unlock(previous, phrase)  # its bidder secret keys the new one
    if previous.bid_secret is None:
        raise AssertionError("an unlocked sealed file holds its bidder secret")
    client = NodeClient(url).as_key(suite, secret)
    record = _seal(client, suite, secret, previous.tender_id, previous.lot, previous.uscc,
                   bid_file, price_fen, previous.guarantee if guarantee is None else guarantee,
                   previous.bid_secret)
    live = _send_sealed(client, suite, secret, "bid.replace", record, Path(out), phrase)
    old = previous.with_status("replaced", superseded={
        "by_tx_id": live.tx_id, "by_commitment": live.commitment.hex(), "file": out})
    moved = sealedfile.rewrite(Path(previous_path), sealedfile.to_doc(old),
                               sealedfile.retired_path(Path(previous_path), "replaced"))
    _say_live(live, Path(out))
    click.echo(f"   the previous version's file is now {moved}: it can no longer reveal "
               "this bid")


@bid.command("withdraw")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@key_options
@sealed_passphrase_options
@click.option("--sealed", "sealed_path", type=click.Path(dir_okay=False, exists=True),
              help="the live bid's sealed file (or, if it is lost: --secret-file, --tender, "
                   "--lot)")
@click.option("--secret-file", type=click.Path(dir_okay=False, exists=True),
              help="the bidder-secret file, to withdraw without the sealed file")
@click.option("--tender", "tender_id", help="with --secret-file: the tender")
@click.option("--lot", default=1, show_default=True, type=click.IntRange(1, 0xFFFF),
              help="with --secret-file: the lot")
def bid_withdraw(url: str, key_file: str, passphrase_env: str | None,
                 passphrase_file: str | None, sealed_passphrase_env: str | None,
                 sealed_passphrase_file: str | None, sealed_path: str | None,
                 secret_file: str | None, tender_id: str | None, lot: int) -> None:
    """Withdraw a live bid before the deadline: it leaves the bid set and no longer holds its
    guarantee; the entity may seal a new bid on the lot before the deadline. A lost sealed
    file is no obstacle: name the bidder-secret file, the tender and the lot instead."""
    from contracts.bidder import agent_tx
    from ledger.verdict import beijing_time
    from shell import biddersecret, sealedfile

    if (sealed_path is None) == (secret_file is None):
        fail("name the bid by --sealed FILE, or by --secret-file FILE --tender T [--lot N]")
    record = None
    sealed = None if sealed_path is None else Path(sealed_path)
    if sealed is not None:
        record = sealedfile.load(sealed, _opener(sealed_passphrase_env, sealed_passphrase_file))
        if record.status not in ("live", "pending"):
            fail(f"{sealed_path} is a {record.status} bid, not a live one")
        tender_id, lot, bid_secret = record.tender_id, record.lot, record.bid_secret
    else:
        if not tender_id:
            fail("--secret-file needs --tender (and --lot, if not lot 1)")
        bid_secret = biddersecret.load(str(secret_file)).bid_secret
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)
    _before_the_deadline(client, tender_id, "withdrawn")
    args = {"tender_id": tender_id, "lot": lot, "bid_secret": bid_secret}
    done = client.send(agent_tx(suite, client.chain_id(), secret, "bid.withdraw", args))
    if done.receipt.code != "OK":
        fail(f"withdrawal refused: {done.receipt.code}: {done.receipt.message}")
    time_ms = client.header(done.height).time_ms
    if record is None or sealed is None:
        click.echo(f"bid on tender {tender_id} lot {lot} withdrawn in block {done.height} at "
                   f"{beijing_time(time_ms)}")
        return
    old = record.with_status("withdrawn", superseded={
        "withdrawn_tx_id": done.tx_id, "height": done.height, "time_ms": time_ms,
        "time": beijing_time(time_ms)})
    moved = sealedfile.rewrite(sealed, sealedfile.to_doc(old),
                               sealedfile.retired_path(sealed, "withdrawn"))
    guarantee = (f"guarantee {record.guarantee} no longer held" if record.guarantee
                 else "no guarantee")
    click.echo(f"bid on tender {record.tender_id} lot {record.lot} withdrawn in block "
               f"{done.height} at {beijing_time(time_ms)} ({guarantee}); its file is now "
               f"{moved}")


@bid.command("status")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="the bidder's key: a bid's receipt is shown to its entity only")
@key_options
@click.option("--sealed", "sealed_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
def bid_status(url: str, key_file: str, passphrase_env: str | None,
               passphrase_file: str | None, sealed_path: str) -> None:
    """What a sealed file is and what the chain says of it: for a live file, whether the bid
    on chain is still this version and its status (exit 1 if replaced, withdrawn or
    decrypt_failed); for a pending one, what became of its transaction: a committed OK bid
    is renamed to its live name, a refused one to *.refused.json."""
    from shell import sealedfile
    from shell.bidding import chain_state_check, entity_check

    record = sealedfile.load(sealed_path)
    click.echo(f"{sealed_path}: {record.status} bid of {record.uscc} on tender "
               f"{record.tender_id} lot {record.lot}, commitment {record.commitment.hex()}")
    if record.status not in ("pending", "live"):
        return  # retired: replaced, withdrawn or refused, as its name says
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)
    if record.status == "live":  # the file says live: what does the chain say?
        mine = entity_check(client, suite.public_key(secret), record.uscc)
        if not mine.ok:
            fail(f"   {mine.text}")
        said = chain_state_check(client, record)
        click.echo(f"   [{said.mark}] {said.text}")
        if not said.ok:
            sys.exit(1)
        return
    got = client.tx_status(record.tx_id)
    if got.get("status") != "committed":
        click.echo(f"   its transaction {record.tx_id} is {got.get('status')} at {url}; if it "
                   "never commits, this file is not a live bid")
        return
    path = Path(sealed_path)
    out = path.with_name(path.name[: -len(".pending")]) if path.name.endswith(".pending") \
        else path
    done = client.wait_committed(record.tx_id)
    _finish(client, record, path, out, done.height, done.receipt.code, done.receipt.message)
    click.echo(f"   committed in block {done.height}: {done.receipt.code}; the file is now "
               f"{out if done.receipt.code == 'OK' else 'retired'}")


@bid.command("reveal")
@url_option
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, exists=True))
@key_options
@sealed_passphrase_options
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False))
def bid_reveal(url: str, key_file: str, passphrase_env: str | None,
               passphrase_file: str | None, sealed_passphrase_env: str | None,
               sealed_passphrase_file: str | None, sealed_path: str) -> None:
    """Reveal the content key in the decryption window; the contract decrypts on chain.

    Before sending, the file is checked against your key's entity, against itself (the key
    opens its summary) and against the bid on chain; any mismatch refuses to send, because
    a wrong key marks the bid decrypt_failed for good."""
    from ledger.verdict import beijing_time
    from shell.bidding import check_reveal, load_sealed, price_text

    record = load_sealed(sealed_path, _opener(sealed_passphrase_env, sealed_passphrase_file))
    suite, secret = load_key(key_file, passphrase_env, passphrase_file)
    client = NodeClient(url).as_key(suite, secret)  # its own bid record, even before the deadline
    chain_id = client.chain_id()
    checked = check_reveal(client, suite, chain_id, suite.public_key(secret), record)
    click.echo(f"before revealing the bid of {record.uscc} on tender {record.tender_id} lot "
               f"{record.lot}:")
    for c in checked.checks:
        click.echo(f"   [{c.mark}] {c.text}")
    if checked.failed or record.content_key is None:
        fail("not revealed (nothing was sent): the checks above failed. They are made "
             "because a content key that does not open the bid on chain would mark it "
             "decrypt_failed (treated as revoked, guarantee claimable)")
    # no bidder secret: the contract finds the bid among the slots named at opening, and the
    # reveal is public business (a call carrying the secret would stay private for good)
    args = {"tender_id": record.tender_id, "lot": record.lot, "content_key": record.content_key}
    done = client.send(client.sign(suite, secret, "bid.reveal", args))
    receipt = done.receipt
    if receipt.code != "OK":
        fail(f"reveal refused: {receipt.code}: {receipt.message} (nothing changed)")
    time_ms = client.header(done.height).time_ms
    kinds = {e.get("type"): e for e in receipt.events}
    if "bid.revealed" in kinds:
        price = int(kinds["bid.revealed"]["price_fen"])
        click.echo(f"revealed in block {done.height} at {beijing_time(time_ms)}: the contract "
                   f"decrypted your price, {price_text(price)}")
        return
    guarantee = record.guarantee or "(none bound)"
    click.echo("\n".join([
        "!" * 78,
        "!!! DECRYPTION FAILED: the contract could not open your bid with this content key.",
        f"!!! Your bid on tender {record.tender_id} lot {record.lot} is now decrypt_failed, "
        "for good:",
        "!!! it is treated as REVOKED, takes no part in the evaluation, and the tenderer may",
        f"!!! CLAIM your electronic guarantee {guarantee}. There is no second try.",
        "!" * 78]), err=True)
    click.echo(f"decrypt_failed in block {done.height} at {beijing_time(time_ms)}", err=True)
    sys.exit(3)


@bid.command("prove")
@url_option
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True),
              help="the bidder's key: the node shows a bid transaction's inclusion bundle "
                   "to its entity (without it the proof has the two state bundles only)")
@key_options
@click.option("--sealed", "sealed_path", required=True, type=click.Path(dir_okay=False),
              help="the bid's sealed file; only its public fields are read, so a protected "
                   "one needs no passphrase here")
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=OUT_FILE)
def bid_prove(url: str, key_file: str | None, passphrase_env: str | None,
              passphrase_file: str | None, sealed_path: str, anchor_path: str,
              out: str) -> None:
    """After the deadline, prove the sealed bid's commitment is the version that counted: two
    §7 bundles at the head (the bid record, the tender) and the §8 inclusion bundle of the
    bid transaction (placed before the deadline), checked offline."""
    from ledger.verdict import beijing_time
    from shell.bidding import load_sealed, prove_bid

    record = load_sealed(sealed_path)  # public fields only: a protected file stays locked
    if not record.tx_id or record.status not in ("live", "pending"):
        fail(f"{sealed_path} holds no committed live bid ({record.status})")
    public = NodeClient(url)  # the state bundles as anyone gets them: after the deadline
    keyed = (public.as_key(*load_key(key_file, passphrase_env, passphrase_file))
             if key_file else None)
    result = prove_bid(public, Path(anchor_path), record.tender_id, record.lot, record.slot,
                       record.commitment, record.tx_id, Path(out), keyed)
    for line in result.lines():
        click.echo(line)
    click.echo(f"   bid bundle: {result.bid_bundle} (key {result.key}, height {result.height},"
               f" block time {beijing_time(result.block_ms)}, deadline "
               f"{beijing_time(result.deadline_ms)}); tender bundle: {result.tender_bundle};"
               f" inclusion bundle: {result.inclusion_bundle}")
    if result.inclusion_bundle is not None:
        click.echo(f"   {result.inclusion_bundle} holds the bid transaction, so the bidder "
                   "secret too: it is written mode 0600; hand it only to whom you would show "
                   "the secret")
    click.echo(f"   anyone checks it with these files and the anchor: credchain bid check-proof "
               f"{out} --anchor {anchor_path} --commitment {record.commitment.hex()}")
    if not result.ok:
        fail("the commitment could not be proved")


@bid.command("check-proof")
@click.argument("bid_bundle", type=click.Path(dir_okay=False, exists=True))
@click.option("--anchor", "anchor_path", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="the consortium's anchor file")
@click.option("--commitment", help="the commitment the bidder claims (hex, from its receipt). "
              "Optional: without it, what is proved is whichever commitment the bid record "
              "holds, which the output shows; with it, that the record holds this one")
def bid_check_proof(bid_bundle: str, anchor_path: str, commitment: str | None) -> None:
    """Check a bidder's proof (the files `bid prove` wrote: BID_BUNDLE, and beside it
    .tender.json and, if the bidder gave it, .inclusion.json) offline against the anchor:
    the bid record holds the commitment at or after the tender's deadline (the version that
    counted: no bid changes then) and was not withdrawn, and the transaction that placed it
    came before the deadline. For the third party a bidder shows its proof to; no key, no
    node. Exit 0 proved, 1 not."""
    from ledger.verdict import beijing_time
    from shell.bidding import check_bid_proof, proof_files

    path = Path(bid_bundle)
    tender_path, inclusion_path = proof_files(path)
    if not tender_path.exists():
        fail(f"{tender_path} is missing: the tender's bundle (its deadline) goes with the bid's")
    claimed = hex_arg(commitment, "--commitment") if commitment is not None else None
    result = check_bid_proof(Path(anchor_path), path, tender_path,
                             inclusion_path if inclusion_path.exists() else None, claimed)
    for line in result.lines():
        click.echo(line)
    if not result.ok:
        fail("not proved: the commitment was not shown to be the bid's at the deadline")
    click.echo(f"PROVED: {result.key} holds the commitment in block {result.height} "
               f"({beijing_time(result.block_ms)}), after the deadline "
               f"({beijing_time(result.deadline_ms)}): the version of the bid that counted")


# ---- the shared steps ---------------------------------------------------------------------


def _before_the_deadline(client: NodeClient, tender_id: str, done: str) -> None:
    """Refuse before sending what the chain refuses once the tender's deadline has passed
    (a generic "'bid' is not possible in state 'decrypting'", committed, was all the bidder
    got: user walk). The chain decides; this only spares a transaction that must fail."""
    from contracts.tender_record import tender_key
    from ledger.verdict import beijing_time

    tender = client.state(tender_key(tender_id))
    if not isinstance(tender, dict):
        fail(f"not sent: there is no tender {tender_id!r} on chain")
    deadline = int(tender.get("deadline_ms", 0))
    if client.head_time_ms() >= deadline:
        fail(f"not sent: tender {tender_id}'s bid deadline ({beijing_time(deadline)}) has "
             f"passed; no bid is {done} after it")


def _seal(client: NodeClient, suite: Any, secret: bytes, tender_id: str, lot: int, uscc: str,
          bid_file: str, price_fen: int, guarantee: str, bid_secret: bytes) -> SealedBidFile:
    """Seal a bid for the key's own entity (refusing another entity's USCC before sending)
    with its bidder secret."""
    from contracts.bidder import seal_bid
    from shell.bidding import entity_check

    check = entity_check(client, suite.public_key(secret), uscc)
    if not check.ok:
        fail(f"not sealed: {check.text}")
    chain_id = client.status_text("chain_id")
    try:
        sealed = seal_bid(suite, chain_id, tender_id, lot, uscc, Path(bid_file).read_bytes(),
                          price_fen, bid_secret)
    except ValueError as exc:
        fail(f"cannot seal: {exc}")
    return SealedBidFile(
        chain_id=chain_id, tender_id=tender_id, lot=lot, uscc=uscc, guarantee=guarantee,
        file_hash=sealed.file_hash, sealed_summary=sealed.sealed_summary,
        commitment=sealed.commitment, slot=sealed.slot, content_key=sealed.content_key,
        price_fen=price_fen, bid_secret=sealed.bid_secret)


def _send_sealed(client: NodeClient, suite: Any, secret: bytes, call: str,
                 record: SealedBidFile, out: Path, phrase: bytes | None) -> SealedBidFile:
    """Write the sealed file as ``OUT.pending``, send, and make it live or retire it."""
    from contracts.bidder import agent_tx
    from shell import sealedfile

    pending = sealedfile.pending_path(out)
    for taken in (out, pending):
        if taken.exists():
            fail(f"{taken} exists already; a sealed file is never overwritten")
    args = {"tender_id": record.tender_id, "lot": record.lot, "file_hash": record.file_hash,
            "sealed_summary": record.sealed_summary, "commitment": record.commitment,
            "guarantee": record.guarantee, "bid_secret": record.bid_secret}
    signed = agent_tx(suite, client.chain_id(), secret, call, args)  # a one-time agent sends it
    record = replace(record, tx_id=signed.tx_id(suite).hex())
    doc = sealedfile.to_doc(record, phrase)
    record = replace(record, protected=doc.get("protected"))
    # Written before the transaction leaves: the content key must never be lost, and until
    # the receipt says OK the file must not look like a live bid.
    sealedfile.create(pending, doc)
    try:
        client.submit([signed])
    except NodeError as exc:
        if exc.status >= 400:  # refused at admission: this transaction will never commit
            _retire(record, pending, "ADMISSION", exc.reason)
        fail(f"{exc.reason}; whether the bid transaction {record.tx_id} reached the node is "
             f"unknown: its sealed file stays at {pending} (not live): run `credchain bid "
             f"status --sealed {pending}` later")
    try:
        done = client.wait_committed(record.tx_id)
    except NodeError:
        fail(f"the bid transaction {record.tx_id} is not committed yet; its sealed file stays "
             f"at {pending} (not live): run `credchain bid status --sealed {pending}` later")
    return _finish(client, record, pending, out, done.height, done.receipt.code,
                   done.receipt.message)


def _finish(client: NodeClient, record: SealedBidFile, pending: Path, out: Path, height: int,
            code: str, message: str) -> SealedBidFile:
    from ledger.verdict import beijing_time
    from shell import sealedfile

    if code != "OK":
        _retire(record, pending, code, message, height)
    time_ms = client.header(height).time_ms
    live = record.with_status("live", height=height, time_ms=time_ms, time=beijing_time(time_ms))
    sealedfile.rewrite(pending, sealedfile.to_doc(live), out)
    return live


def _retire(record: SealedBidFile, pending: Path, code: str, message: str,
            height: int | None = None) -> NoReturn:
    from shell import sealedfile

    refused = record.with_status("refused", refusal={"code": code, "message": message,
                                                     "height": height})
    moved = sealedfile.rewrite(pending, sealedfile.to_doc(refused),
                               sealedfile.retired_path(pending, "refused"))
    fail(f"bid refused: {code}: {message}; its sealed file was moved to {moved} "
         f"(not a live bid){_HINTS.get(code, '')}")


_HINTS = {
    "E_BID_SECRET": ". The secret file is not the bidder secret the entity enrolled for this "
                    "tender: enrol first (credchain bid enrol --key KEY --secret-file FILE), "
                    "or seal with the file of the enrolment in force when the tender was "
                    "announced",
}


def _say_live(live: SealedBidFile, out: Path) -> None:
    protected = "passphrase-protected" if live.protected else "mode 0600, key in clear"
    click.echo(f"sealed bid committed in block {live.extra.get('height')} at "
               f"{live.extra.get('time')} (tx {live.tx_id}); commitment "
               f"{live.commitment.hex()}; keep {out} ({protected}) until the opening")

