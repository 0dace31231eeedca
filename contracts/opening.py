"""Opening the sealed bids, after the deadline (``bid.open``, ``bid.reveal``, ``bid.close``,
``bid.revoke``; registered in ``contracts.bid``'s contract, which seals them before it).

The platform opens: it names each lot's live slots, which must be exactly the live bids
(their XOR is the lot's ``bidset/<tender>/<lot>`` digest, ``E_BID_SET``). A lot with fewer
than ``bid_min_count`` live bids fails (流标; its guarantees are released and its bids are
never decrypted); otherwise the decryption window (``decrypt_window_ms``) opens, each bidder
reveals its content key and the contract decrypts the summary, checks the embedded bid-file
hash, and records the price. A wrong key or a mismatch marks ``decrypt_failed`` at once
(final: there is no second try); silence until the window closes does the same. Closing
writes the opening record (``tender/<id>/opening``), the public account of the bids. From
opening on a bidder's calls find its bid by its USCC (``tender/<id>/opened/<lot>/<USCC>``),
so reveal and revoke carry no bidder secret.
"""

from __future__ import annotations

from typing import Any

from contracts import args, guarantee, sealing
from contracts.errors import E_BAD_ARGS, E_NOT_FOUND, E_STATE, ContractError
from contracts.identity import require_entity_sender
from contracts.runtime import Call
from contracts.tender_record import (
    bid_key,
    load,
    load_view,
    lot_view,
    opened_bid_key,
    opened_slots,
    opening_key,
    record_id,
    require_platform,
    save,
    slots_key,
    step,
)
from contracts.tender_rules import BID, EVALUATED, LOT, LOT_DECRYPTING, SEALED, advance
from ledger import encoding
from ledger.crypto import DIGEST_LEN
from ledger.errors import EncodingError

E_BID_SET = "E_BID_SET"  # the slots named at opening are not exactly the live bids

LIVE = SEALED


def is_live(record: Any) -> bool:
    """Whether a ``bid/<tender>/<lot>/<slot>`` record is a live bid: one opening must name."""
    return isinstance(record, dict) and record.get("status") == LIVE


ZERO = bytes(DIGEST_LEN)


def opened_slot_of(call: Call, tender_id: str, lot: int, uscc: str) -> str | None:
    """After opening: the slot of the entity's opened bid on the lot, if it has one."""
    slot = call.state.get(opened_bid_key(tender_id, lot, uscc))
    return None if slot is None else str(slot)


def bidset_key(tender_id: str, lot: int) -> str:
    return f"bidset/{tender_id}/{lot}"


def xor(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b``, bytewise, as 32-byte values (both are digests of ``DIGEST_LEN``)."""
    if len(a) != len(b):
        raise ValueError("XOR of values of different lengths")
    # As big integers: one C operation instead of a generator over 32 byte pairs.
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def load_bid(call: Call, tender_id: str, lot: int, slot: str) -> dict[str, Any]:
    bid = call.state.get(bid_key(tender_id, lot, slot))
    if bid is None:
        raise ContractError(E_NOT_FOUND, "no bid in that slot")
    assert isinstance(bid, dict)
    return bid


def open_(call: Call) -> None:
    """Open the bids at or after the deadline: the platform names each lot's live slots,
    checked against the lot's bid-set digest (``E_BID_SET``). A lot with fewer than
    ``bid_min_count`` live bids fails (流标; receipt OK, guarantees released); the others
    enter the decryption window of ``decrypt_window_ms``.

    Who: the platform key that announced the tender (role `platform`, not frozen).

    Args:
        tender_id: the tender.
        slots (array per lot of arrays of bytes[32]): each lot's live slots, distinct
            (``contracts.bidder.open_slots`` reads them from state).
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_platform(call, tender)
    step(call, tender, "open")
    named = call.args.get("slots")
    if type(named) is not list or len(named) != len(tender["lots"]):
        raise ContractError(E_BAD_ARGS, "slots must be one array per lot")
    min_count = call.param("bid_min_count")
    any_open = False
    for lot, slots in zip(tender["lots"], named, strict=True):
        live = _check_bid_set(call, tender["tender_id"], lot["lot"], slots)
        call.state.put(slots_key(tender["tender_id"], lot["lot"]), list(live))
        for slot, bid in live.items():  # from now on a bidder's calls find its bid by its USCC
            call.state.put(opened_bid_key(tender["tender_id"], lot["lot"], bid["uscc"]), slot)
            guarantee.record_binding(call, bid, slot)
        lot["bids"] = len(live)
        if len(live) < min_count:
            LOT.advance(lot, "open", "too_few")
            for bid in live.values():
                guarantee.release_if_bound(call, bid["guarantee"], "lot failed")
            call.emit("bid.lot_failed", lot=lot["lot"], bids=len(live))
        else:
            LOT.advance(lot, "open", "opening")
            any_open = True
    advance(tender, "open", "opening" if any_open else "all_failed")
    tender["window_end_ms"] = call.now_ms + call.param("decrypt_window_ms")
    save(call, tender)
    call.emit("bid.opened", tender_id=tender["tender_id"], state=tender["state"])


def _check_bid_set(call: Call, tender_id: str, lot: int,
                   slots: Any) -> dict[str, dict[str, Any]]:
    """The live bids the opening names for a lot, by slot in sorted order, once they are
    checked to be exactly the lot's live bids (``E_BID_SET``)."""
    if type(slots) is not list or len(slots) > call.param("bids_per_lot_max"):
        raise ContractError(E_BAD_ARGS, f"lot {lot}: slots must be an array within the bid limit")
    live: dict[str, dict[str, Any]] = {}
    digest = ZERO
    for raw in slots:
        if type(raw) is not bytes or len(raw) != DIGEST_LEN or raw.hex() in live:
            raise ContractError(E_BID_SET, f"lot {lot}: slots must be distinct 32-byte values")
        slot = raw.hex()
        bid = call.state.get(bid_key(tender_id, lot, slot))
        if not is_live(bid):
            raise ContractError(E_BID_SET, f"lot {lot}: slot {slot} is not a live bid")
        live[slot] = bid
        digest = xor(digest, raw)
    if digest != (call.state.get(bidset_key(tender_id, lot)) or ZERO):
        raise ContractError(E_BID_SET, f"lot {lot}: the slots named are not all the live bids")
    return dict(sorted(live.items()))


def reveal(call: Call) -> None:
    """Reveal the bid's content key in the decryption window; the contract decrypts the
    summary and checks the bid-file hash, once. A wrong key or a mismatch is a recorded
    outcome (receipt OK, bid ``decrypt_failed``), not a refusal.

    Who: a key bound to the bidding entity (attestation in force; key and entity not frozen).

    Args:
        tender_id: the tender.
        lot: the lot number (a lot being opened).
        content_key: the AEAD key of the sealed summary.

    No bidder secret: the slot is found among those named at opening, so the call (like
    ``bid.revoke``) is public business once the deadline has passed.
    """
    tender = load_view(call, record_id(call.args, "tender_id"))
    step(call, tender, "reveal")
    lot = args.integer(call.args, "lot", 1, 0xFFFF)
    lot_record = lot_view(tender, lot)
    uscc = require_entity_sender(call)
    # a live bid of a lot being decrypted was named at opening: the set check is exact and
    # no bid can arrive after the deadline
    if lot_record["status"] != LOT_DECRYPTING:
        raise ContractError(E_NOT_FOUND, f"lot {lot} is not being opened")
    slot = opened_slot_of(call, tender["tender_id"], lot, uscc)
    if slot is None:
        raise ContractError(E_NOT_FOUND, "no bid of this entity was named at the opening")
    bid = load_bid(call, tender["tender_id"], lot, slot)
    if bid["status"] != LIVE:
        raise ContractError(E_STATE, f"the bid was already decided: {bid['status']}")
    key = args.blob(call.args, "content_key", max_len=64)
    price = _decrypt(call, tender["tender_id"], lot, uscc, bid, key)
    if price is None:
        BID.advance(bid, "reveal", "failed")
        call.emit("bid.decrypt_failed", lot=lot, uscc=uscc)
    else:
        BID.advance(bid, "reveal", "decrypted")
        bid["price_fen"] = price
        call.emit("bid.revealed", lot=lot, uscc=uscc, price_fen=price)
    bid["content_key"] = key
    call.state.put(bid_key(tender["tender_id"], lot, slot), bid)


def _decrypt(
    call: Call, tender_id: str, lot: int, uscc: str, bid: dict[str, Any], key: bytes
) -> int | None:
    """The summary's price, or None for a wrong key, a bad summary or a hash mismatch."""
    suite = call.block.suite
    aad = sealing.header(suite, call.block.chain_id, tender_id, lot, uscc)
    if suite.hash(bid["sealed"]) != bid["summary_hash"]:
        return None
    try:
        plain = sealing.open_sealed(suite, key, bid["sealed"], aad)
        summary = encoding.decode(plain, max_bytes=sealing.MAX_SUMMARY_BYTES)
    except (sealing.SealError, EncodingError):
        return None
    if type(summary) is not dict or summary.get("file_hash") != bid["file_hash"]:
        return None
    price = summary.get("price_fen")
    if type(price) is not int or price < 0:
        return None
    bid["summary"] = plain
    return price


def close(call: Call) -> None:
    """Close the decryption window once it is over or every bid is decided, and publish the
    opening record (bidders, prices, statuses); silent bids become ``decrypt_failed``.

    Who: the platform key that announced the tender (role `platform`, not frozen).

    Args:
        tender_id: the tender.
    """
    tender = load(call, record_id(call.args, "tender_id"))
    require_platform(call, tender)
    bids_by_lot = [
        [
            (s, load_bid(call, tender["tender_id"], lot["lot"], s))
            for s in opened_slots(call, tender["tender_id"], lot["lot"])
        ]
        for lot in tender["lots"]
    ]
    # A lot that failed at opening decrypts nothing: its bids stay sealed and wait on no one.
    decided = all(b["status"] != LIVE
                  for lot, lot_bids in zip(tender["lots"], bids_by_lot, strict=True)
                  if lot["status"] == LOT_DECRYPTING for _, b in lot_bids)
    step(call, tender, "close", all_decided=decided)
    record_lots = []
    for lot, lot_bids in zip(tender["lots"], bids_by_lot, strict=True):
        entries = []
        for slot, b in lot_bids:
            if lot["status"] == LOT_DECRYPTING and b["status"] == LIVE:
                BID.advance(b, "close", "silent")
                call.state.put(bid_key(tender["tender_id"], lot["lot"], slot), b)
            entries.append(
                {
                    "uscc": b["uscc"],
                    "price_fen": b["price_fen"],
                    "status": b["status"],
                    "commitment": b["commitment"],
                }
            )
        if lot["status"] == LOT_DECRYPTING:
            LOT.advance(lot, "close")
        record_lots.append({"lot": lot["lot"], "status": lot["status"], "bids": entries})
    call.state.put(
        opening_key(tender["tender_id"]), {"closed_ms": call.now_ms, "lots": record_lots}
    )
    advance(tender, "close")
    tender["opened_ms"] = call.now_ms
    save(call, tender)
    call.emit("bid.opening_record", tender_id=tender["tender_id"])


def revoke(call: Call) -> None:
    """Abandon the entity's bid after the deadline: a fault, its guarantee becomes claimable
    (reason ``revoked_after_deadline``); a revoked candidate can no longer win.

    Who: a key bound to the bidding entity (attestation in force; key and entity not frozen).

    Args:
        tender_id: the tender.
        lot: the lot number.

    No bidder secret: the slot is found among those named at opening.
    """
    tender = load_view(call, record_id(call.args, "tender_id"))
    step(call, tender, "revoke_bid")
    lot = args.integer(call.args, "lot", 1, 0xFFFF)
    lot_view(tender, lot)
    uscc = require_entity_sender(call)
    slot = opened_slot_of(call, tender["tender_id"], lot, uscc) or ""
    bid = call.state.get(bid_key(tender["tender_id"], lot, slot)) if slot else None
    if bid is None or BID.row(bid["status"], "revoke") is None:
        raise ContractError(E_NOT_FOUND, "no standing bid of this entity on this lot")
    if uscc in lot_view(tender, lot)["candidates"] and tender["state"] == EVALUATED:
        call.emit("bid.candidate_revoked", lot=lot, uscc=uscc)
    BID.advance(bid, "revoke")
    bid["revoked_ms"] = call.now_ms
    call.state.put(bid_key(tender["tender_id"], lot, slot), bid)
    call.emit("bid.revoked", lot=lot, uscc=uscc)
