"""Sealed-bid cryptography: the bid commitment and the summary AEAD, per suite.

Commitment (tag ``ledger.tags.BID_COMMITMENT`` = 0x60), over a fixed-width body of 149 bytes
so that no field can be moved into another or re-split (every field has one width)::

    offset  len  field
    0       1    version = 0x01
    1       32   H(chain_id as UTF-8)            H = the chain suite's hash (SHA-256 or SM3)
    33      32   H(tender_id as UTF-8)
    65      2    lot number, unsigned big-endian (0..65535)
    67      18   entity USCC, ASCII
    85      32   bid-file hash (the hash of the encrypted bid file, computed by the bidder)
    117     32   H(sealed summary)               sealed = nonce ‖ AEAD ciphertext ‖ tag

    commitment = Hd(0x60, body) = H(0x60 ‖ body)

The first 85 bytes (version to entity) are also the AEAD's associated data, so a sealed
summary decrypts only for the tender, lot and entity it was made for.

Where a bid lives: its state slot is keyed with the bidder's secret, so that nobody without
that secret can compute (or test) which entity holds which slot::

    bidder secret     32 random bytes, chosen by the bidder and kept off chain
    enrolment         Hd(0x66, secret)             (tag BID_SECRET; ``bid.enrol`` records it)
    slot              Hd(0x61, header ‖ secret)    (tag BID_SLOT; header = the first 85 bytes)

The contract checks the secret a bid call names against the entity's enrolment, so an entity
has exactly one slot per tender lot ("one bid per entity per lot") though no stranger can
derive it.

Summary AEAD by suite (the content key is chosen by the bidder and revealed after opening):

- ``ed25519-sha256``: XChaCha20-Poly1305 (libsodium via pynacl), key 32 bytes, nonce 24;
- ``sm2-sm3``: SM4-GCM (``cryptography``), key 16 bytes, nonce 12, tag 16.

The summary is the canonical encoding of a map that must hold at least
``{"price_fen": int, "file_hash": bin32}``, at most ``MAX_SUMMARY_BYTES`` (4,094) long. It
is padded to a fixed size before encryption, so the sealed summary's length says nothing
about the price (a price at or above 2**32 fen encodes 4 bytes longer) or any other field.
The AEAD plaintext is always ``SUMMARY_PADDED_BYTES`` (4,096) bytes::

    offset  len      field
    0       2        n = length of the summary, unsigned big-endian (1..4094)
    2       n        the summary: CE({"price_fen": ..., "file_hash": ..., ...})
    2 + n   4094-n   zero bytes

so every sealed summary of a suite has the same length (``sealed_len``: 4,136 bytes with
XChaCha20-Poly1305, 4,124 with SM4-GCM). ``seal`` pads and ``open_sealed`` checks and
strips the padding (a wrong length, a bad ``n`` or a non-zero pad byte is a ``SealError``,
like a wrong key), returning the summary itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ledger import tags
from ledger.crypto import Suite

COMMITMENT_VERSION = 1
BODY_LEN = 149
AAD_LEN = 85
SUMMARY_PADDED_BYTES = 4096
SUMMARY_LEN_BYTES = 2
MAX_SUMMARY_BYTES = SUMMARY_PADDED_BYTES - SUMMARY_LEN_BYTES
USCC_LEN = 18
BID_SECRET_LEN = 32
HASH_LEN = 32


@dataclass(frozen=True)
class AeadSpec:
    """Key and nonce widths of a suite's summary cipher."""

    key_len: int
    nonce_len: int
    tag_len: int


XCHACHA = AeadSpec(32, 24, 16)
SM4_GCM = AeadSpec(16, 12, 16)


class SealError(Exception):
    """A sealed summary does not open under the given key (wrong key, tampered, malformed)."""


def aead_spec(suite: Suite) -> AeadSpec:
    if suite.name == "ed25519-sha256":
        return XCHACHA
    if suite.name == "sm2-sm3":
        return SM4_GCM
    raise ValueError(f"no summary cipher for suite {suite.name!r}")


def sealed_len(suite: Suite) -> int:
    """The length of every sealed summary of ``suite``: nonce, padded plaintext, tag."""
    spec = aead_spec(suite)
    return spec.nonce_len + SUMMARY_PADDED_BYTES + spec.tag_len


def max_sealed_len(suite: Suite) -> int:
    """The bound ``bid.submit`` puts on a sealed summary (one length fits all of them)."""
    return sealed_len(suite)


def pad_summary(summary: bytes) -> bytes:
    """The fixed-size AEAD plaintext of a summary (layout in the module docstring)."""
    if not 1 <= len(summary) <= MAX_SUMMARY_BYTES:
        raise ValueError(f"a bid summary is 1 to {MAX_SUMMARY_BYTES} bytes, got {len(summary)}")
    pad = SUMMARY_PADDED_BYTES - SUMMARY_LEN_BYTES - len(summary)
    return len(summary).to_bytes(SUMMARY_LEN_BYTES, "big") + summary + bytes(pad)


def unpad_summary(plain: bytes) -> bytes:
    """The summary inside a padded plaintext; ``SealError`` unless the padding is exact."""
    if len(plain) != SUMMARY_PADDED_BYTES:
        raise SealError(f"summary plaintext is {len(plain)} bytes, not {SUMMARY_PADDED_BYTES}")
    n = int.from_bytes(plain[:SUMMARY_LEN_BYTES], "big")
    end = SUMMARY_LEN_BYTES + n
    if not 1 <= n <= MAX_SUMMARY_BYTES or plain[end:] != bytes(SUMMARY_PADDED_BYTES - end):
        raise SealError("summary padding is malformed")
    return plain[SUMMARY_LEN_BYTES:end]


def header(suite: Suite, chain_id: str, tender_id: str, lot: int, uscc: str) -> bytes:
    """The first 85 bytes of the commitment body: also the AEAD associated data."""
    if not 0 <= lot <= 0xFFFF:
        raise ValueError(f"lot {lot} does not fit in two bytes")
    entity = uscc.encode("ascii")
    if len(entity) != USCC_LEN:
        raise ValueError(f"a USCC is {USCC_LEN} characters, got {len(entity)}")
    out = (
        bytes((COMMITMENT_VERSION,))
        + suite.hash(chain_id.encode("utf-8"))
        + suite.hash(tender_id.encode("utf-8"))
        + lot.to_bytes(2, "big")
        + entity
    )
    assert len(out) == AAD_LEN
    return out


def commitment_body(
    suite: Suite,
    chain_id: str,
    tender_id: str,
    lot: int,
    uscc: str,
    file_hash: bytes,
    summary_hash: bytes,
) -> bytes:
    if len(file_hash) != HASH_LEN or len(summary_hash) != HASH_LEN:
        raise ValueError("bid-file and summary hashes are 32 bytes")
    body = header(suite, chain_id, tender_id, lot, uscc) + file_hash + summary_hash
    assert len(body) == BODY_LEN
    return body


def commitment(
    suite: Suite,
    chain_id: str,
    tender_id: str,
    lot: int,
    uscc: str,
    file_hash: bytes,
    sealed_summary: bytes,
) -> bytes:
    """``Hd(0x60, body)`` for a sealed summary (its hash is taken here)."""
    return commitment_of_hashes(
        suite, chain_id, tender_id, lot, uscc, file_hash, suite.hash(sealed_summary)
    )


def commitment_of_hashes(
    suite: Suite,
    chain_id: str,
    tender_id: str,
    lot: int,
    uscc: str,
    file_hash: bytes,
    summary_hash: bytes,
) -> bytes:
    """``Hd(0x60, body)`` when the caller has the sealed summary's hash already (the
    contract keeps it in the bid record: one hash of the 4 KiB summary, not two)."""
    body = commitment_body(suite, chain_id, tender_id, lot, uscc, file_hash, summary_hash)
    return suite.hd(tags.BID_COMMITMENT, body)


def secret_commitment(suite: Suite, bid_secret: bytes) -> bytes:
    """``Hd(0x66, secret)``: what ``bid.enrol`` records of a bidder secret."""
    return suite.hd(tags.BID_SECRET, _secret(bid_secret))


def slot(suite: Suite, chain_id: str, tender_id: str, lot: int, uscc: str,
         bid_secret: bytes) -> bytes:
    """``Hd(0x61, header ‖ secret)``: the state slot of an entity's bid on a tender lot."""
    return suite.hd(tags.BID_SLOT,
                    header(suite, chain_id, tender_id, lot, uscc) + _secret(bid_secret))


def _secret(bid_secret: bytes) -> bytes:
    if len(bid_secret) != BID_SECRET_LEN:
        raise ValueError(f"a bidder secret is {BID_SECRET_LEN} bytes")
    return bid_secret


def seal(suite: Suite, key: bytes, nonce: bytes, summary: bytes, aad: bytes) -> bytes:
    """``nonce ‖ ciphertext ‖ tag`` of the padded ``summary`` (always ``sealed_len``
    bytes). The caller supplies a fresh random nonce."""
    spec = aead_spec(suite)
    if len(key) != spec.key_len or len(nonce) != spec.nonce_len:
        raise ValueError(f"key must be {spec.key_len} bytes and nonce {spec.nonce_len}")
    plaintext = pad_summary(summary)
    if spec is XCHACHA:
        ct: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
        return nonce + ct
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    body = enc.update(plaintext) + enc.finalize()
    return nonce + body + enc.tag


def open_sealed(suite: Suite, key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Decrypt a sealed summary and strip its padding: the summary (CE bytes).
    ``SealError`` for a wrong key, tampering, a wrong length or malformed padding."""
    spec = aead_spec(suite)
    if len(key) != spec.key_len:
        raise SealError(f"content key must be {spec.key_len} bytes")
    if len(sealed) != sealed_len(suite):
        raise SealError(f"a sealed summary is {sealed_len(suite)} bytes, got {len(sealed)}")
    nonce, rest = sealed[: spec.nonce_len], sealed[spec.nonce_len :]
    if spec is XCHACHA:
        try:
            plain: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(rest, aad, nonce, key)
        except nacl.exceptions.CryptoError as exc:
            raise SealError("summary does not decrypt under this key") from exc
        return unpad_summary(plain)
    ct, tag = rest[: -spec.tag_len], rest[-spec.tag_len :]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        plain = dec.update(ct) + dec.finalize()
    except InvalidTag as exc:
        raise SealError("summary does not decrypt under this key") from exc
    return unpad_summary(plain)
