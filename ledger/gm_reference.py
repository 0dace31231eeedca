"""gmssl, the pure-Python SM2/SM3 reference, used only to cross-check Tongsuo in tests and
benchmarks (never on the hot path: ~76 verifications/s)."""

from __future__ import annotations

from gmssl import sm2, sm3


def sm3_digest(data: bytes) -> bytes:
    return bytes.fromhex(sm3.sm3_hash(list(data)))


def _crypt(secret_hex: str, pubkey: bytes) -> sm2.CryptSM2:
    """gmssl's signer/verifier for ``pubkey`` (``04‖X‖Y``). The key is set after the
    constructor, which strips every leading '0' and '4' from a key whose hex starts with
    "04": for the one key in 256 whose X starts with byte 0x04 it would sign and verify with
    a damaged key (tests once failed on such a key, Tongsuo and the C verifier agreeing)."""
    crypt = sm2.CryptSM2(private_key=secret_hex, public_key="", mode=1)
    crypt.public_key = pubkey[1:].hex()
    return crypt


def sm2_sign(secret: bytes, pubkey: bytes, message: bytes) -> bytes:
    """Sign with gmssl (SM3 with Z_A over the default ID); returns ``r‖s``."""
    return bytes.fromhex(_crypt(secret.hex(), pubkey).sign_with_sm3(message))


def sm2_verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    return bool(_crypt("", pubkey).verify_with_sm3(signature.hex(), message))


def sm2_multiply(scalar: int, point: bytes) -> bytes:
    """``scalar·point`` on the SM2 curve, ``04‖X‖Y`` in and out (gmssl's own ladder)."""
    curve = sm2.CryptSM2(private_key="", public_key="")
    return b"\x04" + bytes.fromhex(curve._kg(scalar, point[1:].hex()))
