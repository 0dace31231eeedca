"""The crypto suites: SM2 on Tongsuo interoperates with the gmssl reference both ways (default
user ID, ``r‖s``), SM3 agrees with gmssl, wrong lengths and malformed keys are refused, an
unknown suite is an UnknownSuite error."""

from __future__ import annotations

import hashlib

import pytest

from ledger import gm_reference
from ledger.crypto import (
    ED25519_SHA256,
    SIG_LEN,
    SM2_SM3,
    Suite,
    get_suite,
    require_signature,
)
from ledger.errors import BadSignature, InvalidInput, UnknownSuite

SUITES = [ED25519_SHA256, SM2_SM3]
MESSAGES = [b"", b"abc", bytes(range(256)) * 3, "公共资源交易".encode()]


def test_sm2_signed_by_tongsuo_verifies_with_gmssl() -> None:
    for i, msg in enumerate(MESSAGES):
        secret = SM2_SM3.generate_secret()
        pub = SM2_SM3.public_key(secret)
        sig = SM2_SM3.sign(secret, msg)
        assert len(sig) == SIG_LEN
        assert gm_reference.sm2_verify(pub, msg, sig), f"message {i}"
        assert not gm_reference.sm2_verify(pub, msg + b"x", sig)


def test_sm2_signed_by_gmssl_verifies_with_tongsuo() -> None:
    for i, msg in enumerate(MESSAGES):
        secret = SM2_SM3.generate_secret()
        pub = SM2_SM3.public_key(secret)
        sig = gm_reference.sm2_sign(secret, pub, msg)
        assert SM2_SM3.verify(pub, msg, sig), f"message {i}"
        assert not SM2_SM3.verify(pub, msg + b"x", sig)
        other = SM2_SM3.public_key(SM2_SM3.generate_secret())
        assert not SM2_SM3.verify(other, msg, sig)


def test_sm3_matches_gmssl_and_the_standard_vector() -> None:
    # GB/T 32905 appendix A: SM3("abc").
    assert SM2_SM3.hash(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    for msg in MESSAGES:
        assert SM2_SM3.hash(msg) == gm_reference.sm3_digest(msg)
        assert SM2_SM3.hd(0x13, msg) == gm_reference.sm3_digest(b"\x13" + msg)


def test_sha256_suite_hashes() -> None:
    for msg in MESSAGES:
        assert ED25519_SHA256.hash(msg) == hashlib.sha256(msg).digest()
        assert ED25519_SHA256.hd(0x30, msg) == hashlib.sha256(b"\x30" + msg).digest()


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_sign_verify_and_tampering(suite: Suite) -> None:
    secret = suite.generate_secret()
    pub = suite.public_key(secret)
    assert len(pub) == suite.pubkey_len
    sig = suite.sign(secret, b"vote")
    assert suite.verify(pub, b"vote", sig)
    require_signature(suite, pub, b"vote", sig)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not suite.verify(pub, b"vote", flipped)
    assert not suite.verify(pub, b"votes", sig)
    with pytest.raises(BadSignature, match="does not verify"):
        require_signature(suite, pub, b"vote", flipped)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_wrong_lengths_are_refused(suite: Suite) -> None:
    secret = suite.generate_secret()
    pub = suite.public_key(secret)
    sig = suite.sign(secret, b"m")
    assert not suite.verify(pub, b"m", sig[:-1])
    assert not suite.verify(pub, b"m", sig + b"\x00")
    assert not suite.verify(pub[:-1], b"m", sig)
    assert not suite.verify(b"", b"m", sig)
    with pytest.raises(BadSignature, match="must be 64 bytes"):
        require_signature(suite, pub, b"m", sig[:63])
    with pytest.raises(BadSignature, match="public key must be"):
        require_signature(suite, pub + b"\x00", b"m", sig)
    with pytest.raises(InvalidInput):
        suite.check_pubkey(pub[:-1])
    with pytest.raises(InvalidInput):
        suite.public_key(secret[:31])
    with pytest.raises(InvalidInput):
        suite.sign(secret + b"\x00", b"m")


def test_sm2_malformed_keys_and_signatures() -> None:
    secret = SM2_SM3.generate_secret()
    pub = SM2_SM3.public_key(secret)
    sig = SM2_SM3.sign(secret, b"m")
    not_on_curve = pub[:-1] + bytes([pub[-1] ^ 1])
    with pytest.raises(InvalidInput, match="not a point on the curve"):
        SM2_SM3.check_pubkey(not_on_curve)
    assert not SM2_SM3.verify(not_on_curve, b"m", sig)
    compressed_tag = b"\x02" + pub[1:]
    assert not SM2_SM3.verify(compressed_tag, b"m", sig)
    assert not SM2_SM3.verify(pub, b"m", bytes(64))  # r = s = 0
    assert not SM2_SM3.verify(pub, b"m", b"\xff" * 64)  # r, s ≥ n
    with pytest.raises(InvalidInput, match="out of range"):
        SM2_SM3.public_key(bytes(32))


def test_unknown_suite() -> None:
    assert get_suite("sm2-sm3") is SM2_SM3 and get_suite("ed25519-sha256") is ED25519_SHA256
    for name in ("rsa", "SM2-SM3", "", None):
        with pytest.raises(UnknownSuite, match="unknown crypto suite"):
            get_suite(name)  # type: ignore[arg-type]
