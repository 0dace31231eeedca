"""Secure-link primitives per suite, checked against published vectors and independent
implementations: X25519 (RFC 7748), HKDF-SHA256 (RFC 5869), HKDF over HMAC-SM3 (gmssl's SM3),
SM2 ECDH (gmssl's scalar multiplication), ChaCha20-Poly1305 (libsodium), SM4-GCM (Tongsuo)."""

from __future__ import annotations

import hashlib

import nacl.bindings
import pytest
from tongsuopy.crypto.ciphers.aead import SM4GCM

from ledger import gm_reference
from ledger.crypto import ED25519_SHA256, SM2_SM3
from ledger.linkcrypto import (
    SM2_LINK,
    X25519_LINK,
    LinkCryptoError,
    LinkSuite,
    link_suite,
    sm2_scalar,
)

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def seed(label: str, n: int) -> bytes:
    return hashlib.shake_256(label.encode()).digest(n)


def test_x25519_agrees_with_rfc7748_section_6_1() -> None:
    alice = X25519_LINK.ephemeral(bytes.fromhex(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert alice.public == bytes.fromhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert alice.agree(bob_public) == bytes.fromhex(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def test_x25519_refuses_a_low_order_point_and_a_short_key() -> None:
    mine = X25519_LINK.ephemeral(seed("x", 32))
    with pytest.raises(LinkCryptoError, match="low-order"):
        mine.agree(bytes(32))
    with pytest.raises(LinkCryptoError, match="32 bytes"):
        mine.agree(bytes(31))


def test_hkdf_sha256_matches_rfc5869_case_1() -> None:
    okm = X25519_LINK.kdf(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm == bytes.fromhex(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def _hmac_sm3_reference(key: bytes, message: bytes) -> bytes:
    block = 64
    key = key.ljust(block, b"\0")
    inner = gm_reference.sm3_digest(bytes(k ^ 0x36 for k in key) + message)
    return gm_reference.sm3_digest(bytes(k ^ 0x5C for k in key) + inner)


def test_hkdf_sm3_is_rfc5869_over_hmac_sm3() -> None:
    ikm, salt, info = seed("ikm", 32), seed("salt", 32), b"credchain secure link v1"
    prk = _hmac_sm3_reference(salt, ikm)
    okm, previous = b"", b""
    for i in range(1, 4):
        previous = _hmac_sm3_reference(prk, previous + info + bytes((i,)))
        okm += previous
    assert SM2_LINK.kdf(ikm, salt, info, 64) == okm[:64]
    assert SM2_LINK.kdf(ikm, salt, info, 96) == okm


def test_sm2_ecdh_agrees_both_ways_and_with_gmssl() -> None:
    a = SM2_LINK.ephemeral(seed("a", 40))
    b = SM2_LINK.ephemeral(seed("b", 40))
    shared = a.agree(b.public)
    assert shared == b.agree(a.public) and len(shared) == 32
    reference = gm_reference.sm2_multiply(sm2_scalar(seed("a", 40)), b.public)
    assert shared == reference[1:33]


def test_sm2_ephemeral_public_key_is_the_scalar_times_the_generator() -> None:
    s = seed("g", 40)
    scalar = sm2_scalar(s)
    assert SM2_LINK.ephemeral(s).public == SM2_SM3.public_key(scalar.to_bytes(32, "big"))


def test_sm2_scalar_stays_in_range_at_the_seed_extremes() -> None:
    assert sm2_scalar(bytes(40)) == 1
    assert 1 <= sm2_scalar(b"\xff" * 40) <= SM2_N - 1


def test_sm2_ecdh_refuses_points_off_the_curve_and_leaves_tongsuo_clean() -> None:
    mine = SM2_LINK.ephemeral(seed("m", 40))
    good = SM2_LINK.ephemeral(seed("p", 40)).public
    off_curve = good[:-1] + bytes((good[-1] ^ 1,))
    for bad, reason in ((off_curve, "not a point"), (b"\x04" + bytes(64), "not a point"),
                        (b"\x02" + good[1:], "04‖X‖Y"), (good[:33], "65 bytes")):
        with pytest.raises(LinkCryptoError, match=reason):
            mine.agree(bad)
    # A refusal must not leave an error on OpenSSL's queue for tongsuopy's next call.
    secret = SM2_SM3.generate_secret()
    sig = SM2_SM3.sign(secret, b"m")
    assert SM2_SM3.verify(SM2_SM3.public_key(secret), b"m", sig)


def test_chacha20_poly1305_matches_libsodium() -> None:
    key, nonce, aad, msg = seed("k", 32), seed("n", 12), b"\0\0\0\x15", b"frame bytes"
    sealed = X25519_LINK.aead(key).seal(nonce, msg, aad)
    assert sealed == nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(msg, aad, nonce, key)
    assert X25519_LINK.aead(key).open(nonce, sealed, aad) == msg


def test_sm4_gcm_matches_tongsuo() -> None:
    key, nonce, aad, msg = seed("k", 16), seed("n", 12), b"\0\0\0\x15", b"frame bytes"
    sealed = SM2_LINK.aead(key).seal(nonce, msg, aad)
    assert sealed == SM4GCM(key).encrypt(nonce, msg, aad)
    assert SM2_LINK.aead(key).open(nonce, sealed, aad) == msg


@pytest.mark.parametrize("link", [X25519_LINK, SM2_LINK], ids=lambda s: s.name)
def test_aead_refuses_altered_bytes_aad_or_nonce(link: LinkSuite) -> None:
    key, nonce, aad = seed("k", link.aead_key_len), seed("n", 12), b"\0\0\0\x15"
    aead = link.aead(key)
    sealed = aead.seal(nonce, b"x" * 5, aad)
    for args in ((nonce, sealed[:-1] + bytes((sealed[-1] ^ 1,)), aad),
                 (nonce, bytes((sealed[0] ^ 1,)) + sealed[1:], aad),
                 (nonce, sealed, b"\0\0\0\x16"),
                 (seed("other", 12), sealed, aad),
                 (nonce, sealed[:10], aad)):
        with pytest.raises(LinkCryptoError):
            aead.open(*args)


def test_each_chain_suite_has_its_link_primitives() -> None:
    assert link_suite(ED25519_SHA256) is X25519_LINK
    assert link_suite(SM2_SM3) is SM2_LINK
