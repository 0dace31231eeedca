"""The sealed-bid file a bidder keeps: its layout, passphrase protection, and safe writes.

``credchain bid seal`` writes one file per sealed bid (JSON, mode 0600)::

    {"format": "credchain-sealed-bid", "version": 3,
     "status": "pending" | "live" | "refused" | "replaced" | "withdrawn",
     "chain_id", "tender_id", "lot", "uscc", "guarantee",
     "file_hash", "sealed_summary", "commitment",      # hex; what the chain holds
     "slot",                                           # hex; its key: bid/<tender>/<lot>/<slot>
     "tx_id",                                          # the bid transaction (known before sending)
     "secret": {"content_key": hex, "price_fen": int,  # in clear, or instead:
                "bid_secret": hex},
     "protected": {"kdf": {...}, "cipher": {...}, "ciphertext": hex},
     "height", "time_ms", "time" (once committed: block, Unix ms, Beijing time),
     "refusal": {"code", "message"} (refused), "superseded": {...} (replaced / withdrawn)}

The secret is the content key (whoever holds it can open the sealed summary, so it tells
the price before the opening), the price itself, and the entity's bidder secret
(``shell.biddersecret``: every later call on the bid names it, and whoever holds it can
compute the entity's slot in any tender). The slot is public: it is the bid's key on chain
and says nothing beyond this bid. With a passphrase the secret is encrypted as
``ledger.keyfile`` encrypts a key: scrypt (n = 2^15, r = 8, p = 1) stretches the passphrase
into a ChaCha20-Poly1305 key; the associated data is the canonical encoding of the public
fields that identify the bid (format, version, chain, tender, lot, entity, commitment, slot)
with the kdf and cipher parameters, so a secret moved into another bid's file, or a file
whose bid fields were edited, does not decrypt. A wrong passphrase and a tampered file give
the same one-line error.

Files are created with ``O_EXCL`` and mode 0600, never overwritten in place: an update is a
new file renamed over the old one (``os.replace``), so a crash leaves either version whole.
A file whose secret is in clear and that group or others may read is refused when read.
Files written before bidder secrets (version 2, and version 1 with no ``format``) hold no
slot and no bidder secret, so they can act on no bid: reading one says to seal the bid again.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from contracts.sealing import BID_SECRET_LEN, HASH_LEN, USCC_LEN
from ledger import encoding
from ledger.errors import InvalidInput
from ledger.keyfile import (
    KEY_LEN,
    NONCE_LEN,
    SALT_LEN,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    scrypt_params_in_bounds,
    write_new_private,
)

FORMAT = "credchain-sealed-bid"
VERSION = 3
MAX_FILE_BYTES = 64 * 1024  # a sealed summary is ~4 KiB, 8 KiB as hex
STATUSES = ("pending", "live", "refused", "replaced", "withdrawn")
WRONG = "wrong sealed-file passphrase, or the sealed file was altered"
_PUBLIC = ("chain_id", "tender_id", "lot", "uscc", "guarantee", "file_hash", "sealed_summary",
           "commitment", "slot")

Passphrase = Callable[[], bytes]


@dataclass(frozen=True)
class SealedBidFile:
    """A sealed bid as its file holds it. ``content_key``, ``price_fen`` and ``bid_secret``
    are None while the file is protected and not opened (``locked``)."""

    chain_id: str
    tender_id: str
    lot: int
    uscc: str
    guarantee: str
    file_hash: bytes
    sealed_summary: bytes
    commitment: bytes
    slot: bytes
    status: str = "pending"
    tx_id: str = ""
    content_key: bytes | None = None
    price_fen: int | None = None
    bid_secret: bytes | None = None
    protected: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # height, time_ms, refusal, ...

    @property
    def locked(self) -> bool:
        return self.content_key is None

    def with_status(self, status: str, **extra: Any) -> SealedBidFile:
        if status not in STATUSES:
            raise ValueError(f"unknown sealed-file status {status!r}")
        return replace(self, status=status, extra={**self.extra, **extra})


# ---- reading ----------------------------------------------------------------------------


def load(path: str | Path, passphrase: Passphrase | None = None) -> SealedBidFile:
    """The sealed bid in ``path``; a protected one is opened with ``passphrase()`` when it
    is given (else it stays locked). Every failure is one ``InvalidInput`` line."""
    doc = _read_doc(path)
    _refuse_before_bidder_secrets(path, doc)
    try:
        record = _from_doc(doc)
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal` "
                           f"({exc})") from None
    if record.protected is None:
        _refuse_readable_by_others(path)
    elif passphrase is not None:
        record = unlock(record, passphrase())
    return record


def _read_doc(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read sealed file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal` "
                           "(too large)")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal`: "
                           f"{exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path} is not a sealed bid written by `credchain bid seal`")
    return doc


def _refuse_before_bidder_secrets(path: str | Path, doc: dict[str, Any]) -> None:
    """A sealed file of an earlier version: no slot, no bidder secret, no use on chain."""
    if "format" in doc:
        if doc["format"] != FORMAT or type(doc.get("version")) is not int:
            return  # not a sealed file: _from_doc says so
        version = doc["version"]
    elif "commitment" in doc and "tender_id" in doc:
        version = 1  # written before the format had a name
    else:
        return
    if version < VERSION:
        raise InvalidInput(f"{path} is a sealed file of version {version}, made before bidder "
                           "secrets: it has no bid slot or bidder secret, so it can act on no "
                           "bid; seal the bid again (credchain bid seal --secret-file ...)")


def _refuse_readable_by_others(path: str | Path) -> None:
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if os.name == "posix" and mode & 0o077:
        raise InvalidInput(f"sealed file {path} holds the content key and bidder secret in "
                           f"clear and is accessible by group or others (mode {mode:04o}); run: "
                           f"chmod 600 {path}")


def _hex(doc: dict[str, Any], name: str, length: int | None = None) -> bytes:
    value = bytes.fromhex(doc[name])
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must be {length} bytes")
    return value


def _from_doc(doc: dict[str, Any]) -> SealedBidFile:
    if doc["format"] != FORMAT or doc.get("version") != VERSION:
        raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r} "
                         "is not supported")
    lot = doc["lot"]
    if type(lot) is not int or not 1 <= lot <= 0xFFFF:
        raise ValueError("lot must be a number from 1 to 65535")
    for name in ("chain_id", "tender_id", "uscc"):
        if not isinstance(doc[name], str):
            raise ValueError(f"{name} must be text")
    if not doc["uscc"].isascii() or len(doc["uscc"]) != USCC_LEN:
        raise ValueError(f"uscc must be {USCC_LEN} ASCII characters")
    status = doc.get("status", "pending")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    content_key: bytes | None = None
    price: int | None = None
    bid_secret: bytes | None = None
    protected = None
    if "secret" in doc:
        content_key = _hex(doc["secret"], "content_key")
        price = doc["secret"]["price_fen"]
        if type(price) is not int or price < 0:
            raise ValueError("price_fen must be a non-negative integer")
        bid_secret = _hex(doc["secret"], "bid_secret", BID_SECRET_LEN)
    else:
        protected = doc["protected"]
        if not isinstance(protected, dict):
            raise ValueError("protected must be a map")
    known = {*_PUBLIC, "format", "version", "status", "tx_id", "secret", "protected"}
    return SealedBidFile(
        chain_id=doc["chain_id"], tender_id=doc["tender_id"], lot=lot, uscc=doc["uscc"],
        guarantee=str(doc.get("guarantee", "")), file_hash=_hex(doc, "file_hash", HASH_LEN),
        sealed_summary=_hex(doc, "sealed_summary"),
        commitment=_hex(doc, "commitment", HASH_LEN), slot=_hex(doc, "slot", HASH_LEN),
        status=status, tx_id=str(doc.get("tx_id", "")), content_key=content_key,
        price_fen=price, bid_secret=bid_secret, protected=protected,
        extra={k: v for k, v in doc.items() if k not in known})


# ---- protection -------------------------------------------------------------------------


def _aad(record: SealedBidFile, kdf: dict[str, Any], nonce: bytes) -> bytes:
    return encoding.encode({
        "format": FORMAT, "version": VERSION, "chain_id": record.chain_id,
        "tender_id": record.tender_id, "lot": record.lot, "uscc": record.uscc,
        "commitment": record.commitment, "slot": record.slot, "kdf": kdf, "nonce": nonce})


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise InvalidInput("the sealed-file passphrase must not be empty")
    return Scrypt(salt=salt, length=KEY_LEN, n=n, r=r, p=p).derive(passphrase)


def protect(record: SealedBidFile, passphrase: bytes,
            scrypt_n: int = SCRYPT_N) -> dict[str, Any]:
    """The ``protected`` field holding ``record``'s secret under ``passphrase``."""
    if record.content_key is None or record.price_fen is None or record.bid_secret is None:
        raise ValueError("only an open sealed bid can be protected")
    salt, nonce = os.urandom(SALT_LEN), os.urandom(NONCE_LEN)
    kdf = {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt}
    key = _derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    secret = encoding.encode({"content_key": record.content_key, "price_fen": record.price_fen,
                              "bid_secret": record.bid_secret})
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, secret, _aad(record, kdf, nonce))
    return {"kdf": {**kdf, "salt": salt.hex()},
            "cipher": {"name": "chacha20-poly1305", "nonce": nonce.hex()},
            "ciphertext": ciphertext.hex()}


def unlock(record: SealedBidFile, passphrase: bytes) -> SealedBidFile:
    """``record`` with its secret decrypted from ``protected``."""
    p = record.protected
    if p is None:
        return record
    try:
        kdf, cipher = dict(p["kdf"]), p["cipher"]
        n, r, pp = kdf["n"], kdf["r"], kdf["p"]
        if kdf["name"] != "scrypt" or cipher["name"] != "chacha20-poly1305":
            raise ValueError("unknown kdf or cipher")
        if not scrypt_params_in_bounds(n, r, pp):
            raise ValueError("scrypt parameters out of bounds")
        salt, nonce = bytes.fromhex(kdf["salt"]), bytes.fromhex(cipher["nonce"])
        ciphertext = bytes.fromhex(p["ciphertext"])
        if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
            raise ValueError("salt or nonce of the wrong length")
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{WRONG} ({exc})") from None
    key = _derive(passphrase, salt, n, r, pp)
    try:
        plain = ChaCha20Poly1305(key).decrypt(nonce, ciphertext,
                                              _aad(record, {**kdf, "salt": salt}, nonce))
        secret = encoding.decode(plain)
        content_key, price = secret["content_key"], secret["price_fen"]
        bid_secret = secret["bid_secret"]
    except (InvalidTag, InvalidInput, KeyError, TypeError):
        raise InvalidInput(WRONG) from None
    if (type(content_key) is not bytes or type(price) is not int
            or type(bid_secret) is not bytes or len(bid_secret) != BID_SECRET_LEN):
        raise InvalidInput(WRONG)
    return replace(record, content_key=content_key, price_fen=price, bid_secret=bid_secret)


# ---- writing ----------------------------------------------------------------------------


def to_doc(record: SealedBidFile, passphrase: bytes | None = None) -> dict[str, Any]:
    """The JSON document of ``record``: the secret encrypted under ``passphrase`` when one is
    given, kept as protected when the record was read protected, else in clear."""
    doc: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "status": record.status,
        "chain_id": record.chain_id, "tender_id": record.tender_id, "lot": record.lot,
        "uscc": record.uscc, "guarantee": record.guarantee, "file_hash": record.file_hash.hex(),
        "sealed_summary": record.sealed_summary.hex(), "commitment": record.commitment.hex(),
        "slot": record.slot.hex(), "tx_id": record.tx_id}
    if passphrase is not None:
        doc["protected"] = protect(record, passphrase)
    elif record.protected is not None:
        doc["protected"] = record.protected
    else:
        if record.content_key is None or record.price_fen is None or record.bid_secret is None:
            raise ValueError("a sealed file needs its secret, in clear or protected")
        doc["secret"] = {"content_key": record.content_key.hex(), "price_fen": record.price_fen,
                         "bid_secret": record.bid_secret.hex()}
    return {**doc, **record.extra}


def _write_exclusive(path: Path, doc: dict[str, Any]) -> None:
    write_new_private(path, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode(),
                      "sealed file", f"{path} exists already; a sealed file is never "
                      "overwritten (it may hold the only copy of a content key)")


def create(path: Path, doc: dict[str, Any]) -> None:
    """Write a new sealed file (mode 0600), refusing to overwrite anything."""
    _write_exclusive(path, doc)


def rewrite(path: Path, doc: dict[str, Any], new_path: Path | None = None) -> Path:
    """Replace ``path`` by ``doc``, atomically, at ``new_path`` (default: the same place;
    an existing ``new_path`` other than ``path`` is never overwritten). Returns where the
    file now is."""
    target = new_path or path
    if target != path and target.exists():
        raise InvalidInput(f"{target} exists already; not overwriting it")
    temp = path.with_name(path.name + ".tmp")
    if temp.exists():
        temp.unlink()  # a previous write that crashed before its rename: never the live copy
    _write_exclusive(temp, doc)
    os.replace(temp, target)
    if target != path:
        path.unlink()
    return target


def pending_path(out: Path) -> Path:
    """Where a sealed bid waits for its receipt: a name that does not look live."""
    return out.with_name(out.name + ".pending")


def retired_path(out: Path, status: str) -> Path:
    """``a.sealed.json`` → ``a.sealed.refused.json`` (``-2``, ``-3``, ... if taken)."""
    stem = out.name[: -len(".json")] if out.name.endswith(".json") else out.name
    if stem.endswith(".pending"):
        stem = stem[: -len(".pending")]
    if stem.endswith(".json"):
        stem = stem[: -len(".json")]
    candidate = out.with_name(f"{stem}.{status}.json")
    n = 2
    while candidate.exists():
        candidate = out.with_name(f"{stem}.{status}-{n}.json")
        n += 1
    return candidate
