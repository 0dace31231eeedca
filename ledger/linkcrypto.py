"""Secure-link primitives per crypto suite: ephemeral key agreement, key derivation, AEAD.

The peer link protocol (``consensus.securechannel``) is written once over this interface; a
chain's suite (PROTOCOL §2) picks the primitives, so an ``sm2-sm3`` chain uses only
Chinese-standard algorithms end to end:

- ``ed25519-sha256``: X25519 (RFC 7748) with 32-byte public keys; HKDF-SHA256 (RFC 5869);
  ChaCha20-Poly1305 (RFC 8439) with 32-byte keys.
- ``sm2-sm3``: ECDH on the SM2 curve (GB/T 32918.5 parameters) with 65-byte public keys
  ``04‖X‖Y``, the shared secret being the X coordinate of ``d·P``; HKDF (RFC 5869) over
  HMAC-SM3; SM4-GCM (GB/T 36624, RFC 8998) with 16-byte keys.

Both AEADs take a 12-byte nonce and append a 16-byte tag. An ephemeral key is made from
caller-supplied random bytes (``ephemeral_seed_len`` of them) so that a test can replay a
session exactly; the node passes ``os.urandom``.

SM2 scalar multiplication runs in Tongsuo (C), through tongsuopy's own binding of the
library: tongsuopy's ``exchange()`` refuses SM2 keys ("operation not supported for this
keytype": Tongsuo's SM2 key type has no derive), so the point is multiplied with
``EC_POINT_mul`` directly (a constant-time ladder for a secret scalar flagged
``BN_FLG_CONSTTIME``). gmssl's pure-Python multiplication cross-checks it in the tests.
"""

from __future__ import annotations

from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tongsuopy.backends.tongsuo.backend import backend as _tongsuo

from ledger.crypto import Suite
from ledger.errors import InvalidInput

AEAD_NONCE_LEN = 12
AEAD_TAG_LEN = 16
SHARED_SECRET_LEN = 32

# SM2 curve order n (GB/T 32918.5); an ephemeral scalar lies in [1, n-1].
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_SM2_POINT_LEN = 65
_SM2_COORD_LEN = 32
# 64 bits more than the order's 256, so reducing modulo n-1 leaves a bias below 2^-64
# (FIPS 186-5 A.2.1, "extra random bits").
_SM2_SEED_LEN = 40


class LinkCryptoError(InvalidInput):
    """A peer's ephemeral key is refused, or a sealed record does not open."""


class Ephemeral(Protocol):
    """One side's ephemeral key pair; ``agree`` is called once, then the object is dropped."""

    public: bytes

    def agree(self, peer_public: bytes) -> bytes: ...


class Aead(Protocol):
    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...
    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...


class LinkSuite(Protocol):
    """A chain suite's link primitives; ``code`` is the suite's byte in the link's HELLO."""

    name: str
    code: int
    ephemeral_pub_len: int
    ephemeral_seed_len: int
    aead_key_len: int

    def ephemeral(self, seed: bytes) -> Ephemeral: ...
    def kdf(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes: ...
    def aead(self, key: bytes) -> Aead: ...


# ---- ed25519-sha256: X25519, HKDF-SHA256, ChaCha20-Poly1305 ---------------------------------


class _X25519Ephemeral:
    def __init__(self, seed: bytes) -> None:
        _check_len("X25519 seed", seed, 32)
        self._key = X25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def agree(self, peer_public: bytes) -> bytes:
        if len(peer_public) != 32:
            raise LinkCryptoError(f"X25519 public key must be 32 bytes, got {len(peer_public)}")
        try:
            return self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError as exc:
            # An all-zero result: the peer sent a low-order point to force a known secret.
            raise LinkCryptoError("peer's X25519 key is a low-order point") from exc


class _ChaChaAead:
    def __init__(self, key: bytes) -> None:
        _check_len("ChaCha20-Poly1305 key", key, 32)
        self._cipher = ChaCha20Poly1305(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._cipher.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._cipher.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise LinkCryptoError("sealed record does not authenticate") from None


class X25519Link:
    name = "ed25519-sha256"
    code = 0x01
    ephemeral_pub_len = 32
    ephemeral_seed_len = 32
    aead_key_len = 32

    def ephemeral(self, seed: bytes) -> Ephemeral:
        return _X25519Ephemeral(seed)

    def kdf(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
        return HKDF(hashes.SHA256(), length, salt, info).derive(secret)

    def aead(self, key: bytes) -> Aead:
        return _ChaChaAead(key)


# ---- sm2-sm3: ECDH on the SM2 curve, HKDF over HMAC-SM3, SM4-GCM -----------------------------


class _Sm2Curve:
    """The SM2 group in Tongsuo, and the one operation the link needs: ``k·P``."""

    def __init__(self) -> None:
        lib = _tongsuo._lib
        self._lib = lib
        self._ffi = _tongsuo._ffi
        nid = lib.OBJ_sn2nid(b"SM2")
        group = lib.EC_GROUP_new_by_curve_name(nid)
        if nid == lib.NID_undef or group == self._ffi.NULL:
            raise RuntimeError("Tongsuo has no SM2 curve")
        self._group = self._ffi.gc(group, lib.EC_GROUP_free)

    def multiply(self, scalar: int, point: bytes | None) -> bytes:
        """``scalar·point`` (the generator when ``point`` is None) as ``04‖X‖Y``; a point
        that is not on the curve is a ``LinkCryptoError``."""
        lib, ffi = self._lib, self._ffi
        try:
            return self._multiply(lib, ffi, scalar, point)
        finally:
            # A refused point leaves an entry on OpenSSL's error queue; tongsuopy's next
            # call would take it for its own failure.
            _tongsuo._consume_errors()

    def _multiply(self, lib: Any, ffi: Any, scalar: int, point: bytes | None) -> bytes:
        ctx = ffi.gc(lib.BN_CTX_new(), lib.BN_CTX_free)
        k_bytes = scalar.to_bytes(_SM2_COORD_LEN, "big")
        k = ffi.gc(lib.BN_bin2bn(k_bytes, len(k_bytes), ffi.NULL), lib.BN_clear_free)
        lib.BN_set_flags(k, lib.BN_FLG_CONSTTIME)
        out = ffi.gc(lib.EC_POINT_new(self._group), lib.EC_POINT_clear_free)
        if point is None:
            ok = lib.EC_POINT_mul(self._group, out, k, ffi.NULL, ffi.NULL, ctx)
        else:
            p = ffi.gc(lib.EC_POINT_new(self._group), lib.EC_POINT_free)
            if (
                lib.EC_POINT_oct2point(self._group, p, point, len(point), ctx) != 1
                or lib.EC_POINT_is_on_curve(self._group, p, ctx) != 1
                or lib.EC_POINT_is_at_infinity(self._group, p) == 1
            ):
                raise LinkCryptoError("peer's SM2 ephemeral key is not a point on the curve")
            ok = lib.EC_POINT_mul(self._group, out, ffi.NULL, p, k, ctx)
        if ok != 1 or lib.EC_POINT_is_at_infinity(self._group, out) == 1:
            raise LinkCryptoError("SM2 scalar multiplication failed")
        buf = ffi.new("unsigned char[]", _SM2_POINT_LEN)
        written = lib.EC_POINT_point2oct(
            self._group, out, lib.POINT_CONVERSION_UNCOMPRESSED, buf, _SM2_POINT_LEN, ctx
        )
        if written != _SM2_POINT_LEN:
            raise RuntimeError("Tongsuo wrote an SM2 point of the wrong length")
        return bytes(ffi.buffer(buf, _SM2_POINT_LEN))


_SM2_CURVE = _Sm2Curve()


def sm2_scalar(seed: bytes) -> int:
    """The ephemeral scalar in [1, n-1] that ``seed`` (40 random bytes) stands for."""
    _check_len("SM2 ephemeral seed", seed, _SM2_SEED_LEN)
    return int.from_bytes(seed, "big") % (_SM2_N - 1) + 1


class _Sm2Ephemeral:
    def __init__(self, seed: bytes) -> None:
        self._scalar = sm2_scalar(seed)
        self.public = _SM2_CURVE.multiply(self._scalar, None)

    def agree(self, peer_public: bytes) -> bytes:
        if len(peer_public) != _SM2_POINT_LEN or peer_public[0] != 0x04:
            raise LinkCryptoError("SM2 ephemeral key must be 65 bytes, 04‖X‖Y")
        # The SM2 group has prime order (cofactor 1), so any point on the curve other than
        # infinity is a full-order point: no small-subgroup key to check for.
        shared = _SM2_CURVE.multiply(self._scalar, peer_public)
        return shared[1 : 1 + _SM2_COORD_LEN]


class _Sm4GcmAead:
    def __init__(self, key: bytes) -> None:
        _check_len("SM4 key", key, 16)
        self._algorithm = algorithms.SM4(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        enc = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(plaintext) + enc.finalize() + enc.tag

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < AEAD_TAG_LEN:
            raise LinkCryptoError("sealed record shorter than its tag")
        body, tag = sealed[:-AEAD_TAG_LEN], sealed[-AEAD_TAG_LEN:]
        dec = Cipher(self._algorithm, modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag:
            raise LinkCryptoError("sealed record does not authenticate") from None


class Sm2Link:
    name = "sm2-sm3"
    code = 0x02
    ephemeral_pub_len = _SM2_POINT_LEN
    ephemeral_seed_len = _SM2_SEED_LEN
    aead_key_len = 16

    def ephemeral(self, seed: bytes) -> Ephemeral:
        return _Sm2Ephemeral(seed)

    def kdf(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
        return HKDF(hashes.SM3(), length, salt, info).derive(secret)

    def aead(self, key: bytes) -> Aead:
        return _Sm4GcmAead(key)


X25519_LINK = X25519Link()
SM2_LINK = Sm2Link()
_BY_SUITE: dict[str, LinkSuite] = {X25519_LINK.name: X25519_LINK, SM2_LINK.name: SM2_LINK}


def link_suite(suite: Suite) -> LinkSuite:
    """The link primitives of a chain suite."""
    try:
        return _BY_SUITE[suite.name]
    except KeyError:
        raise ValueError(f"no secure-link primitives for suite {suite.name!r}") from None


def _check_len(what: str, value: bytes, expected: int) -> None:
    if len(value) != expected:
        raise ValueError(f"{what} must be {expected} bytes, got {len(value)}")
