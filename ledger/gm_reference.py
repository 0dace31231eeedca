"""gmssl, the pure-Python SM2/SM3 reference, used only to cross-check Tongsuo in tests and
benchmarks (never on the hot path: ~76 verifications/s)."""

from __future__ import annotations

from gmssl import sm2, sm3


def sm3_digest(data: bytes) -> bytes:
    return bytes.fromhex(sm3.sm3_hash(list(data)))


def sm2_sign(secret: bytes, pubkey: bytes, message: bytes) -> bytes:
    """Sign with gmssl (SM3 with Z_A over the default ID); returns ``r‖s``."""
    signer = sm2.CryptSM2(private_key=secret.hex(), public_key=pubkey[1:].hex(), mode=1)
    return bytes.fromhex(signer.sign_with_sm3(message))


def sm2_verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    verifier = sm2.CryptSM2(private_key="", public_key=pubkey[1:].hex(), mode=1)
    return bool(verifier.verify_with_sm3(signature.hex(), message))


def sm2_multiply(scalar: int, point: bytes) -> bytes:
    """``scalar·point`` on the SM2 curve, ``04‖X‖Y`` in and out (gmssl's own ladder)."""
    curve = sm2.CryptSM2(private_key="", public_key="")
    return b"\x04" + bytes.fromhex(curve._kg(scalar, point[1:].hex()))
