"""The bidder's side over a node: what is checked before a reveal, and proving a sealed bid.

``check_reveal`` runs, before a content key leaves the bidder's machine, every check that
can tell a reveal that would mark the bid ``decrypt_failed`` (the bidder's fault: treated as
revoked, its guarantee claimable) from one that opens it:

1. the file is for the node's chain;
2. the key signing the reveal is bound on chain to the file's entity (``id/key/<hex>``);
3. the content key opens the file's own sealed summary (the contract's decryption, done
   locally) and the summary names the file's bid-file hash, with a price;
4. the file's commitment binds its tender, lot, entity, bid-file hash and sealed summary,
   and its slot is the one its bidder secret gives (the slot the opening named);
5. the bid record on chain at the file's slot is this file's version: same commitment,
   same summary hash, still sealed (the client signs as the bidder's key, and the node shows
   a bidder its own record even before the deadline; a node that refuses the read makes
   this check "not checked", with the reason);
6. the tender is in its decryption window.

Each check is ``ok``, ``failed`` or ``not checked`` (with why); the CLI refuses to send when
any check failed, and prints them all either way.

``prove_bid`` fetches two PROTOCOL §7 bundles from any node — the bid's state key (at the
sealed file's slot: only the bidder's secret derives it) and the tender record (its
deadline), both at the head, after the deadline — and (as the bidder's key: the node shows
an enterprise's transactions to it alone) the §8 inclusion bundle of the bid transaction,
writes them to files, then checks them *offline*, from the files and the genesis anchor
alone: all three certified, the proven commitment is the bidder's own, the bid record is
proven at or after the deadline (no bid changes then: it is the version that counted) and
not withdrawn, and the transaction carrying it committed before the deadline with an OK
receipt and a ``bid.sealed`` event naming it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import sealing
from contracts.tender_rules import WITHDRAWN
from ledger import encoding
from ledger.crypto import Suite
from ledger.errors import EncodingError, InvalidInput
from ledger.keyfile import write_new_private
from ledger.verdict import beijing_time
from shell.client import NodeClient, NodeError
from shell.sealedfile import Passphrase, SealedBidFile
from shell.sealedfile import load as load_file

SEALED_FIELDS = ("tender_id", "lot", "uscc", "content_key", "commitment")


def load_sealed(path: str | Path, passphrase: Passphrase | None = None) -> SealedBidFile:
    """The sealed bid file at ``path`` (``shell.sealedfile``), opened with ``passphrase``."""
    return load_file(path, passphrase)


@dataclass(frozen=True)
class Check:
    """One check: ``ok`` True / False, or None when it could not be made (``text`` says why)."""

    text: str
    ok: bool | None

    @property
    def mark(self) -> str:
        return {True: "ok", False: "FAILED", None: "not checked"}[self.ok]


@dataclass(frozen=True)
class RevealCheck:
    checks: list[Check]
    price_fen: int | None
    window_end_ms: int | None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]


def open_summary(suite: Suite, record: SealedBidFile) -> tuple[int | None, str]:
    """What the contract's decryption will find: ``(price_fen, "")``, or ``(None, why)``."""
    if record.content_key is None:
        return None, "the sealed file is locked (no passphrase given)"
    aad = sealing.header(suite, record.chain_id, record.tender_id, record.lot, record.uscc)
    try:
        plain = sealing.open_sealed(suite, record.content_key, record.sealed_summary, aad)
        summary = encoding.decode(plain, max_bytes=sealing.MAX_SUMMARY_BYTES)
    except (sealing.SealError, EncodingError) as exc:
        return None, f"the content key does not open the sealed summary ({exc})"
    if not isinstance(summary, dict) or summary.get("file_hash") != record.file_hash:
        return None, "the sealed summary names another bid-file hash"
    price = summary.get("price_fen")
    if type(price) is not int or price < 0:
        return None, "the sealed summary holds no valid price"
    if record.price_fen is not None and record.price_fen != price:
        return None, "the price kept in the file is not the sealed summary's"
    return price, ""


def entity_check(client: NodeClient, pubkey: bytes, uscc: str) -> Check:
    """Is ``pubkey`` bound on chain to ``uscc``, an entity in force and not frozen? (User
    walk: a frozen bidder's bid was refused at admission as an ``unknown_sender``, and a
    revoked one's read failed with an HTTP 401; neither said why.)"""
    try:
        bound = client.key_entity(pubkey)
    except NodeError as exc:
        if exc.status != 401:
            raise
        bound = None  # the node knows the key as no reader: bound to no entity in force
    standing = _standing(NodeClient(client.url, client.timeout_s), pubkey, uscc)
    if bound is None:
        return Check(f"your key {pubkey.hex()[:16]}… is bound to no entity in force on chain "
                     f"(the file's bidder is {uscc}){standing}", False)
    if bound != uscc:
        return Check(f"your key is bound to {bound}, but the sealed file is {uscc}'s", False)
    if standing:
        return Check(f"your key is bound to {uscc}, but{standing[1:]}", False)
    return Check(f"your key is bound to {uscc}, the sealed file's bidder", True)


def _standing(public: NodeClient, pubkey: bytes, uscc: str) -> str:
    """Why ``uscc`` (or this key) may not act on chain, from public records, as ", …"; ""
    when it may as far as they show."""
    from contracts import keys
    from contracts.identity import entity_key

    for subject, what in ((uscc, uscc), (pubkey.hex(), "this key")):
        frozen = public.state(keys.frozen(subject))
        if frozen is not None:
            record = frozen if isinstance(frozen, dict) else {}
            return (f", {what} is frozen by the committee since block {record.get('height')} "
                    f"({record.get('reason')}): no call of it is admitted until the committee "
                    "unfreezes it")
    entity = public.state(entity_key(uscc))
    if not isinstance(entity, dict):
        return f", {uscc} has no attestation on chain"
    revoked = entity.get("revoked_ms")
    if isinstance(revoked, int) and revoked:
        return (f", the attestation of {uscc} was revoked at {beijing_time(revoked)}: it acts "
                "again once attested anew")
    return ""


def check_reveal(client: NodeClient, suite: Suite, chain_id: str, pubkey: bytes,
                 record: SealedBidFile) -> RevealCheck:
    from contracts.tender_record import bid_key, tender_key

    checks = [Check(f"the sealed file is for this node's chain ({chain_id})",
                    record.chain_id == chain_id)]
    if record.chain_id != chain_id:
        checks[0] = Check(f"the sealed file is for chain {record.chain_id}, the node's is "
                          f"{chain_id}", False)
        return RevealCheck(checks, None, None)
    checks.append(entity_check(client, pubkey, record.uscc))
    price, why = open_summary(suite, record)
    checks.append(Check(why or "the content key opens the file's sealed summary: price "
                        f"{price_text(price)}, bid-file hash as committed", price is not None))
    expected = sealing.commitment(suite, chain_id, record.tender_id, record.lot, record.uscc,
                                  record.file_hash, record.sealed_summary)
    checks.append(Check("the file's commitment binds its tender, lot, entity, bid-file hash "
                        "and sealed summary", expected == record.commitment))
    checks.append(_slot_check(suite, record))
    checks.append(_chain_record_check(
        client, suite, bid_key(record.tender_id, record.lot, record.slot.hex()), record))
    tender = client.state(tender_key(record.tender_id))
    window_end: int | None = None
    if not isinstance(tender, dict):
        checks.append(Check(f"no tender {record.tender_id} on chain", False))
    else:
        window_end = int(tender.get("window_end_ms") or 0)
        lots = [x for x in tender.get("lots", []) if x.get("lot") == record.lot]
        lot_status = lots[0].get("status") if lots else None
        now_ms = client.head_time_ms()
        in_window = (tender.get("state") == "decrypting" and lot_status == "decrypting"
                     and now_ms < window_end)
        where = f"tender {record.tender_id} lot {record.lot}"
        checks.append(Check(
            f"{where} is in its decryption window (until {beijing_time(window_end)})"
            if in_window else f"{where} is not in a decryption window: "
            + _why_no_window(tender, lot_status, now_ms, window_end), in_window))
    return RevealCheck(checks, price, window_end)


def _why_no_window(tender: dict[str, Any], lot_status: Any, now_ms: int,
                   window_end: int) -> str:
    """When the decryption window opens or why it is over, for a reveal refused outside it
    (user walk: "not in a decryption window (tender decrypting, lot decrypting)")."""
    state, deadline = tender.get("state"), int(tender.get("deadline_ms", 0))
    if state == "bidding" and now_ms < deadline:
        return (f"it opens when the platform opens the bids, at or after the deadline "
                f"({beijing_time(deadline)})")
    if state == "bidding":
        return (f"the deadline ({beijing_time(deadline)}) has passed; it opens when the "
                "platform opens the bids (bid.open), which it has not yet done")
    if state == "decrypting" and lot_status == "decrypting":
        return (f"it ended at {beijing_time(window_end)}; a bid not revealed then becomes "
                "decrypt_failed when the platform closes the window")
    return f"it is over (tender {state}, lot {lot_status})"


def _slot_check(suite: Suite, record: SealedBidFile) -> Check:
    if record.bid_secret is None:
        return Check("the file's bidder secret could not be read (the file is locked)", False)
    slot = sealing.slot(suite, record.chain_id, record.tender_id, record.lot, record.uscc,
                        record.bid_secret)
    if slot != record.slot:
        return Check("the file's slot is not the one its bidder secret gives: the file was "
                     "altered", False)
    return Check("the file's slot is the one its bidder secret gives", True)


def chain_state_check(client: NodeClient, record: SealedBidFile) -> Check:
    """Is the bid on chain at the file's slot this file's version, and what is it now
    (``bid status`` of a file named live: the file alone says nothing of a later replace,
    withdrawal or decrypt failure, user walk)? ``client`` reads as the bidder's key."""
    from contracts.tender_record import bid_key

    try:
        bid = client.state(bid_key(record.tender_id, record.lot, record.slot.hex()))
    except NodeError as exc:
        if exc.status == 403:
            return Check(f"the node does not show this bid to this key ({exc.reason}): a bid "
                         "is shown to its entity's keys", None)
        raise
    if not isinstance(bid, dict):
        return Check("on chain there is no bid at this file's slot", False)
    on_chain = _bin(bid.get("commitment"))
    if on_chain != record.commitment:
        return Check(f"on chain the bid is version {bid.get('version')} with another "
                     f"commitment ({(on_chain or b'').hex()[:16]}…): this file is not the live "
                     "version (replaced? use the file of your latest seal or replace)", False)
    status = bid.get("status")
    if status == WITHDRAWN:
        return Check(f"on chain this bid (version {bid.get('version')}) is withdrawn: the "
                     "file bids no more", False)
    return Check(f"on chain the bid is this file's (version {bid.get('version')}), {status}",
                 status != "decrypt_failed")


def _chain_record_check(client: NodeClient, suite: Suite, key: str,
                        record: SealedBidFile) -> Check:
    try:
        bid = client.state(key)
    except NodeError as exc:
        if exc.status == 403:
            return Check(f"the bid record on chain could not be compared: the node refuses "
                         f"it to this reader ({exc.reason})", None)
        raise
    if not isinstance(bid, dict):
        return Check(f"no bid of {record.uscc} on chain for tender {record.tender_id} lot "
                     f"{record.lot}", False)
    on_chain = _bin(bid.get("commitment"))
    if on_chain != record.commitment:
        return Check(f"the live bid on chain (version {bid.get('version')}, commitment "
                     f"{(on_chain or b'').hex()[:16]}…) is not this file's (commitment "
                     f"{record.commitment.hex()[:16]}…): use the file of your latest seal "
                     "or replace", False)
    if _bin(bid.get("summary_hash")) != suite.hash(record.sealed_summary):
        return Check("the sealed summary on chain is not this file's", False)
    if bid.get("status") != "sealed":
        return Check(f"the bid on chain is {bid.get('status')}, not sealed: nothing to reveal",
                     False)
    return Check(f"the bid on chain (version {bid.get('version')}) is this file's: same "
                 "commitment and sealed summary, still sealed", True)


def _bin(value: Any) -> bytes | None:
    if isinstance(value, dict) and isinstance(value.get("$bin"), str):
        return bytes.fromhex(value["$bin"])
    return None


def price_text(price_fen: int | None) -> str:
    if price_fen is None:
        return "unknown"
    return f"{price_fen // 100:,}.{price_fen % 100:02d} yuan ({price_fen} fen)"


# ---- proving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BidProof:
    checks: dict[str, bool]
    key: str
    height: int
    block_ms: int
    deadline_ms: int
    bid_bundle: Path
    tender_bundle: Path
    inclusion_bundle: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def lines(self) -> list[str]:
        """Each check ``[ok]`` or ``[FAILED]``, then what was not checked, for people."""
        return ([f"   [{'ok' if ok else 'FAILED'}] {text}" for text, ok in self.checks.items()]
                + [f"   [not checked] {note}" for note in self.notes])


def proof_files(bid_bundle: Path) -> tuple[Path, Path]:
    """Where the tender's bundle and the bid transaction's inclusion bundle go beside a bid
    proof's bundle (``bid prove`` writes them, ``bid check-proof`` reads them)."""
    return (bid_bundle.with_name(bid_bundle.stem + ".tender.json"),
            bid_bundle.with_name(bid_bundle.stem + ".inclusion.json"))


def prove_bid(client: NodeClient, anchor_path: Path, tender_id: str, lot: int, slot: bytes,
              commitment: bytes, bid_tx_id: str, out: Path,
              bidder: NodeClient | None = None) -> BidProof:
    """Prove the bid at ``slot`` (the sealed file's: ``contracts.sealing.slot``) of tender
    ``tender_id`` lot ``lot``. ``client`` fetches the state bundles (as the public, after the
    deadline); ``bidder`` (a client signing as the bidder's key) the inclusion bundle, which
    the node shows only to the bidder and supervisors: without it that part is left out and
    ``notes`` says so. The files are then checked offline, as anyone checks them
    (``check_bid_proof``)."""
    from contracts.tender_record import bid_key, tender_key

    where = client.tx_status(bid_tx_id)
    if where.get("status") != "committed":
        raise InvalidInput(f"the bid transaction {bid_tx_id} is not committed "
                           f"({where.get('status')})")

    def fetch(state_key: str, at: int | None, path: Path) -> None:
        try:
            bundle = client.proof(state_key, at)
        except NodeError as exc:
            raise InvalidInput(f"the node refused the proof of {state_key}: "
                               f"{exc.reason}") from None
        path.write_text(json.dumps(bundle, indent=2) + "\n")

    # The bid record at the head, not at the bid transaction's block: after the deadline no
    # bid changes, so the head's record is the version that counted (user walk: a proof at
    # the transaction's block said PROVED for a version replaced or withdrawn later).
    fetch(bid_key(tender_id, lot, slot.hex()), None, out)
    tender_path, inclusion_file = proof_files(out)
    fetch(tender_key(tender_id), None, tender_path)
    inclusion_path: Path | None = inclusion_file
    notes = []
    try:
        bundle = (bidder or client).inclusion(bid_tx_id)
    except NodeError as exc:
        if exc.status != 403:
            raise InvalidInput(f"the node refused the inclusion bundle of {bid_tx_id}: "
                               f"{exc.reason}") from None
        notes.append(f"the inclusion bundle of the bid transaction: the node shows it to the "
                     f"bidder and supervisors only ({exc.reason}); give the bidder's --key")
        inclusion_path = None
    if inclusion_path is not None:
        _write_owner_only(inclusion_path, json.dumps(bundle, indent=2) + "\n")
    # Offline from here on: only the bundle files and the anchor file.
    proof = check_bid_proof(anchor_path, out, tender_path, inclusion_path, commitment)
    return BidProof(proof.checks, proof.key, proof.height, proof.block_ms, proof.deadline_ms,
                    out, tender_path, inclusion_path, [*notes, *proof.notes])


def check_bid_proof(anchor_path: Path, bid_path: Path, tender_path: Path,
                    inclusion_path: Path | None, commitment: bytes | None = None) -> BidProof:
    """Check a bid's proof offline, as the bidder's third party does (``credchain bid
    check-proof``): the §7 bundle of ``bid/<tender>/<lot>/<slot>`` (the record holding the
    commitment), the §7 bundle of ``tender/<tender>`` (its deadline) and, when given, the §8
    inclusion bundle of the bid transaction. ``commitment``: the one the bidder claims (its
    receipt); without it the proven record's is shown and checked against the rest."""
    from contracts.tender_record import tender_key
    from ledger import inclusion
    from ledger.bundle import from_json, verify_bundle
    from ledger.errors import ProofError
    from ledger.genesis import Anchor
    from ledger.jsonform import parse_json

    anchor = Anchor.load(anchor_path)

    def verified(path: Path) -> Any:
        try:
            record = verify_bundle(from_json(parse_json(path.read_bytes(), "the file")), anchor)
        except (OSError, ValueError, ProofError, InvalidInput) as exc:
            raise InvalidInput(f"{path}: not a valid proof bundle: {exc}") from None
        if record.value is None:
            raise InvalidInput(f"{path} proves {record.key} absent")
        return record

    bid_record = verified(bid_path)
    parts = bid_record.key.split("/")
    if len(parts) != 4 or parts[0] != "bid" or not parts[2].isdigit():
        raise InvalidInput(f"{bid_path} proves {bid_record.key}, not a bid record "
                           "(bid/<tender>/<lot>/<slot>)")
    tender_id, lot = parts[1], int(parts[2])
    tender_record = verified(tender_path)
    if tender_record.key != tender_key(tender_id):
        raise InvalidInput(f"{tender_path} proves {tender_record.key}, not the bid's tender "
                           f"{tender_key(tender_id)}")
    bid = encoding.decode(bid_record.value)
    proven = bid["commitment"]
    deadline_ms = int(encoding.decode(tender_record.value)["deadline_ms"])
    block_ms = bid_record.header.time_ms
    claimed = proven if commitment is None else commitment
    checks = {
        "both state bundles verify against the genesis anchor (QC chain, state proofs)": True,
        # A deadline read before the bid record's block may have been extended since (an
        # amendment before it): a replace between the old and the new deadline would then
        # pass for the version that counted (user walk). Read at or after the bid's block,
        # the deadline is final if it has passed there, as no amendment follows a deadline.
        f"the tender's deadline is read at block {tender_record.height}, at or after the bid "
        f"record's block {bid_record.height}"
        + ("" if tender_record.height >= bid_record.height else " (an earlier deadline may "
           "have been extended since: prove the tender again)"):
            tender_record.height >= bid_record.height,
        f"the bid record {bid_record.key} holds the commitment {claimed.hex()}"
        + ("" if commitment is not None else " (none was given to compare: this is it)"):
            proven == claimed,
        # No bid is placed, replaced or withdrawn at or after the deadline: a record proven
        # then is the version that counted, and it was placed before the deadline.
        f"the record is proven at block {bid_record.height} ({beijing_time(block_ms)}), at "
        f"or after the tender's deadline ({beijing_time(deadline_ms)}), when no bid changes "
        f"any more: the version that counted"
        + ("" if block_ms >= deadline_ms else " (prove it again after the deadline: a replace "
           "or withdrawal before it would not show here)"): block_ms >= deadline_ms,
        f"the bid was not withdrawn (its status there: {bid.get('status')})":
            bid.get("status") != WITHDRAWN,
    }
    notes = []
    if inclusion_path is None:
        notes.append("no inclusion bundle: who sent the bid is not shown (the bidder holds it)")
        return BidProof(checks, bid_record.key, bid_record.height, block_ms, deadline_ms,
                        bid_path, tender_path, None, notes)
    try:
        included = inclusion.verify_inclusion_bundle(
            inclusion.from_json(parse_json(inclusion_path.read_bytes(), "the file")), anchor)
    except (OSError, ValueError, ProofError, InvalidInput) as exc:
        raise InvalidInput(f"{inclusion_path}: not a valid inclusion bundle: {exc}") from None
    body, receipt = included.tx.body, included.receipt
    sealed_events = [e for e in receipt.events
                     if e.get("type") == "bid.sealed" and e.get("commitment") == claimed]
    checks.update({
        "the bid transaction's inclusion bundle verifies (signature, tx and receipt paths)":
            True,
        f"that transaction ({body.call}) carries this commitment for tender {tender_id} lot "
        f"{lot}": (body.call in ("bid.submit", "bid.replace")
                   and body.args.get("commitment") == claimed
                   and body.args.get("tender_id") == tender_id and body.args.get("lot") == lot),
        f"its receipt is {receipt.code} with a bid.sealed event naming the commitment":
            receipt.code == "OK" and bool(sealed_events),
        f"it was committed in block {included.height} "
        f"({beijing_time(included.header.time_ms)}), before the deadline":
            included.header.time_ms < deadline_ms,
    })
    return BidProof(checks, bid_record.key, bid_record.height, block_ms, deadline_ms,
                    bid_path, tender_path, inclusion_path, notes)


def _write_owner_only(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (a new file of mode 0600 renamed over any
    older one, whatever its mode): the inclusion bundle of a bid transaction names the
    bidder secret."""
    temp = path.with_name(path.name + ".tmp")
    temp.unlink(missing_ok=True)  # a write that crashed before its rename
    write_new_private(temp, text.encode(), "inclusion bundle", f"{temp} exists already")
    os.replace(temp, path)
