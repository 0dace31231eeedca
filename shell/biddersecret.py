"""The bidder-secret file: an entity's bidder secret, kept with its key files.

``credchain bid enrol`` makes a fresh 32-byte secret (``contracts.bidder.new_bid_secret``),
writes it here, then records its commitment ``Hd(0x66, secret)`` on chain (``bid.enrol``,
``contracts.bid``). Every bid of the entity is sealed with it (``credchain bid seal
--secret-file``): it keys the bid's slot, so that nobody without it can tell which slot is the
entity's, and submit, replace and withdraw name it (the sealed file keeps a copy). JSON, mode
0600::

    {"format": "credchain-bidder-secret", "version": 1,
     "chain_id", "uscc" (null if not known), "bid_secret": hex}

What it costs: whoever holds the secret can compute the entity's slot in every tender (the
privacy of who bid is gone; acting on a bid still needs a key bound to the entity). Losing it
costs no bid already sealed (its sealed file keeps the secret), but no new bid can be sealed
for a tender announced before a new enrolment: a second ``bid.enrol`` (``--lost``) holds for
tenders announced after it.

The secret is in clear, like a sealed file without a passphrase: the file is created with
``O_EXCL`` and mode 0600, never overwritten, and refused when read if group or others may
access it (the check of ``ledger.keyfile`` for key files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.sealing import BID_SECRET_LEN, USCC_LEN
from ledger.errors import InvalidInput
from ledger.keyfile import read_private, write_new_private

FORMAT = "credchain-bidder-secret"
VERSION = 1
MAX_FILE_BYTES = 4096  # the document is ~200 bytes


@dataclass(frozen=True)
class BidderSecretFile:
    """A bidder secret as its file holds it."""

    chain_id: str
    uscc: str | None
    bid_secret: bytes


def to_doc(record: BidderSecretFile) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "chain_id": record.chain_id,
            "uscc": record.uscc, "bid_secret": record.bid_secret.hex()}


def exists_refusal(path: Path) -> str:
    return (f"{path} exists already; a bidder-secret file is never overwritten (it may hold "
            "the only copy of an enrolled secret)")


def create(path: Path, record: BidderSecretFile) -> None:
    """Write a new bidder-secret file (mode 0600), refusing to overwrite anything."""
    if len(record.bid_secret) != BID_SECRET_LEN:
        raise ValueError(f"a bidder secret is {BID_SECRET_LEN} bytes")
    write_new_private(path, (json.dumps(to_doc(record), indent=2) + "\n").encode(),
                      "bidder-secret file", exists_refusal(path))


def load(path: str | Path) -> BidderSecretFile:
    """The bidder secret in ``path``. Every failure is one ``InvalidInput`` line."""
    raw = read_private(path, "bidder-secret file", MAX_FILE_BYTES)
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput(f"{path} is not a bidder-secret file (too large)")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON map")
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r} "
                             "is not supported")
        chain_id, uscc = doc["chain_id"], doc["uscc"]
        if not isinstance(chain_id, str):
            raise ValueError("chain_id must be text")
        if uscc is not None and (not isinstance(uscc, str) or not uscc.isascii()
                                 or len(uscc) != USCC_LEN):
            raise ValueError(f"uscc must be {USCC_LEN} ASCII characters or null")
        secret = bytes.fromhex(doc["bid_secret"])
        if len(secret) != BID_SECRET_LEN:
            raise ValueError(f"bid_secret must be {BID_SECRET_LEN} bytes")
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"{path} is not a bidder-secret file written by `credchain bid "
                           f"enrol` ({exc})") from None
    return BidderSecretFile(chain_id, uscc, secret)


def remove(path: Path) -> None:
    """Delete a file ``create`` made whose secret the chain refused (it holds nothing)."""
    path.unlink(missing_ok=True)
