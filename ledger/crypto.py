"""The two crypto suites of PROTOCOL §2, behind one interface.

``ed25519-sha256``: SHA-256 and Ed25519 (pynacl). ``sm2-sm3``: SM3 and SM2 with SM3 and the
default user ID ``1234567812345678``; SM2 runs on Tongsuo (tongsuopy, C) because pure-Python
gmssl verifies ~76 signatures/s here. gmssl stays the reference (``ledger.gm_reference``)
that the tests cross-check against. Hashing never goes through gmssl.

SM2 *verification*, which every validator does for every transaction, runs in the C
extension ``ledger._sm2_native`` (``ledger/_sm2_native.c``: arithmetic made for the SM2
curve, ~3x faster than Tongsuo's generic code) when it is built; Tongsuo verifies otherwise,
and the tests check that both give the same verdict on valid, damaged and malformed
signatures and keys. ``CREDCHAIN_SM2_TONGSUO=1`` forces Tongsuo (A/B benchmarks, tests of
the fallback); ``SM2_NATIVE`` says which one runs. SM3 digests use the state-tree
kernel's SM3 in C when it is built, else ``cryptography``'s.

Signatures are always raw bytes of fixed length (Ed25519 64 bytes, SM2 ``r‖s`` 64 bytes);
public keys are raw (Ed25519 32 bytes, SM2 65 bytes ``04‖X‖Y``); secret keys are 32 bytes
(the Ed25519 seed, the SM2 scalar).
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from types import ModuleType
from typing import Any, Protocol

import nacl.bindings
import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives import hashes as _chashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from tongsuopy.crypto import hashes as _thashes
from tongsuopy.crypto import serialization as _tser
from tongsuopy.crypto.asymciphers import ec as _tec
from tongsuopy.crypto.exceptions import InvalidSignature as _TInvalidSignature

from ledger.errors import BadSignature, InvalidInput, UnknownSuite

DIGEST_LEN = 32
SECRET_LEN = 32
SIG_LEN = 64
ZERO_HASH = bytes(DIGEST_LEN)

# SM2 curve order n (GB/T 32918.5): secret scalars lie in [1, n-2].
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def _import_sm2_native() -> ModuleType | None:
    if os.environ.get("CREDCHAIN_SM2_TONGSUO", "") not in ("", "0"):
        return None
    try:
        from ledger import _sm2_native  # type: ignore[attr-defined]
    except ImportError as exc:
        logging.getLogger("credchain.crypto").warning(
            "SM2: ledger._sm2_native did not import (%s); Tongsuo verifies, ~3x slower", exc)
        return None
    module: ModuleType = _sm2_native
    return module


_sm2_native = _import_sm2_native()
SM2_NATIVE = _sm2_native is not None


def _import_sm3_native() -> Any:
    """The state-tree kernel's SM3 (``hash(1, data)``, tested against OpenSSL's): about half
    the cost of a ``cryptography`` hash object a call. None without the extension."""
    try:
        from ledger import _smt_native  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _smt_native.hash


_sm3_native = _import_sm3_native()


class Suite(Protocol):
    """A crypto suite: hash, domain-tagged hash, keys and signatures."""

    name: str
    pubkey_len: int

    def hash(self, data: bytes) -> bytes: ...
    def hd(self, tag: int, data: bytes) -> bytes: ...
    def generate_secret(self) -> bytes: ...
    def public_key(self, secret: bytes) -> bytes: ...
    def sign(self, secret: bytes, message: bytes) -> bytes: ...
    def verify(self, pubkey: bytes, message: bytes, signature: bytes) -> bool: ...
    def check_pubkey(self, pubkey: bytes) -> None: ...


class Ed25519Sha256:
    """``ed25519-sha256``: SHA-256 digests, Ed25519 (RFC 8032) signatures."""

    name = "ed25519-sha256"
    pubkey_len = 32

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hd(self, tag: int, data: bytes) -> bytes:
        return hashlib.sha256(bytes((tag,)) + data).digest()

    def generate_secret(self) -> bytes:
        return bytes(nacl.signing.SigningKey.generate())

    def public_key(self, secret: bytes) -> bytes:
        _check_len("secret key", secret, SECRET_LEN)
        return bytes(nacl.signing.SigningKey(secret).verify_key)

    def sign(self, secret: bytes, message: bytes) -> bytes:
        return _ed_signing_key(secret).sign(message).signature

    def verify(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        if len(pubkey) != 32 or len(signature) != SIG_LEN:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, pubkey)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True

    def check_pubkey(self, pubkey: bytes) -> None:
        _check_len("Ed25519 public key", pubkey, 32)


class Sm2Sm3:
    """``sm2-sm3``: SM3 digests, SM2 signatures with SM3 and the default user ID."""

    name = "sm2-sm3"
    pubkey_len = 65

    def hash(self, data: bytes) -> bytes:
        if _sm3_native is not None:
            return _sm3_native(1, data)  # type: ignore[no-any-return]
        h = _chashes.Hash(_chashes.SM3())
        h.update(data)
        return h.finalize()

    def hd(self, tag: int, data: bytes) -> bytes:
        if _sm3_native is not None:
            return _sm3_native(1, bytes((tag,)) + data)  # type: ignore[no-any-return]
        h = _chashes.Hash(_chashes.SM3())
        h.update(bytes((tag,)))
        h.update(data)
        return h.finalize()

    def generate_secret(self) -> bytes:
        key = _tec.generate_private_key(_tec.SM2())
        return int(key.private_numbers().private_value).to_bytes(SECRET_LEN, "big")

    def public_key(self, secret: bytes) -> bytes:
        return bytes(
            _sm2_private_key(secret)
            .public_key()
            .public_bytes(_tser.Encoding.X962, _tser.PublicFormat.UncompressedPoint)
        )

    def sign(self, secret: bytes, message: bytes) -> bytes:
        der = _sm2_private_key(secret).sign(message, _tec.ECDSA(_thashes.SM3()))
        r, s = decode_dss_signature(bytes(der))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        if _sm2_native is None:
            return self.verify_tongsuo(pubkey, message, signature)
        if len(pubkey) != 65 or len(signature) != SIG_LEN:
            return False
        return bool(_sm2_native.verify(bytes(pubkey), bytes(message), bytes(signature)))

    def verify_tongsuo(self, pubkey: bytes, message: bytes, signature: bytes) -> bool:
        """``verify`` on Tongsuo: the fallback, and the reference the C verifier is tested
        against."""
        if len(pubkey) != 65 or len(signature) != SIG_LEN:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _SM2_N and 0 < s < _SM2_N):
            return False
        try:
            key = _sm2_public_key(pubkey)
            key.verify(encode_dss_signature(r, s), message, _tec.ECDSA(_thashes.SM3()))
        except (_TInvalidSignature, ValueError):
            return False
        return True

    def check_pubkey(self, pubkey: bytes) -> None:
        _check_len("SM2 public key", pubkey, 65)
        try:
            _sm2_public_key(pubkey)
        except ValueError as exc:
            raise InvalidInput(f"SM2 public key is not a point on the curve: {exc}") from exc


def _check_len(what: str, value: bytes, expected: int) -> None:
    if not isinstance(value, bytes) or len(value) != expected:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise InvalidInput(f"{what} must be {expected} bytes, got {got}")


@lru_cache(maxsize=4096)
def _ed_signing_key(secret: bytes) -> nacl.signing.SigningKey:
    _check_len("secret key", secret, SECRET_LEN)
    return nacl.signing.SigningKey(secret)


@lru_cache(maxsize=4096)
def _sm2_private_key(secret: bytes) -> _tec.EllipticCurvePrivateKey:
    _check_len("secret key", secret, SECRET_LEN)
    d = int.from_bytes(secret, "big")
    if not 1 <= d <= _SM2_N - 2:
        raise InvalidInput("SM2 secret scalar out of range")
    return _tec.derive_private_key(d, _tec.SM2())


@lru_cache(maxsize=65536)
def _sm2_public_key(pubkey: bytes) -> _tec.EllipticCurvePublicKey:
    # Loading a point costs ~50 µs, a third of a verification: cache it per key.
    if pubkey[:1] != b"\x04":
        raise ValueError("SM2 public key must be uncompressed (04‖X‖Y)")
    return _tec.EllipticCurvePublicKey.from_encoded_point(_tec.SM2(), pubkey)


ED25519_SHA256 = Ed25519Sha256()
SM2_SM3 = Sm2Sm3()
SUITES: dict[str, Suite] = {ED25519_SHA256.name: ED25519_SHA256, SM2_SM3.name: SM2_SM3}


def get_suite(name: str) -> Suite:
    """Return the suite called ``name``; an unknown name is an UnknownSuite error."""
    try:
        return SUITES[name]
    except (KeyError, TypeError):
        raise UnknownSuite(f"unknown crypto suite {name!r}; known: {sorted(SUITES)}") from None


def require_signature(suite: Suite, pubkey: bytes, message: bytes, signature: bytes) -> None:
    """Raise BadSignature unless ``signature`` verifies; says which check failed."""
    if len(signature) != SIG_LEN:
        raise BadSignature(f"signature must be {SIG_LEN} bytes, got {len(signature)}")
    if len(pubkey) != suite.pubkey_len:
        raise BadSignature(f"{suite.name} public key must be {suite.pubkey_len} bytes")
    if not suite.verify(pubkey, message, signature):
        raise BadSignature("signature does not verify")
