"""The C SM2 verifier (``ledger/_sm2_native.c``) gives Tongsuo's verdict on every input.

Every validator verifies every transaction's signature, so two verifiers that disagree on
one signature would split the validators over a block. These tests compare the two on
valid signatures, on damaged ones (a flipped bit of the signature, the message or the key),
on malformed ones (scalars out of range, keys off the curve or not uncompressed), and on
the cases where the double-scalar multiplication meets its exceptional points (the key is G
or -2G, so [s]G and [t]P share multiples of G, and a signature whose sum is the point at
infinity). gmssl, the pure-Python reference, checks the curve arithmetic independently.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import gm_reference
from ledger.crypto import SM2_NATIVE, SM2_SM3
from ledger.errors import InvalidInput

try:
    from ledger import _sm2_native as native  # type: ignore[attr-defined]
except ImportError:  # the first test fails then: the comparisons need it
    native = None

N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
G = bytes.fromhex(
    "04"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)


B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    """Affine addition by the chord and tangent (a = -3): an independent reference for the
    C arithmetic. Like the C formulas it never uses b, so it also "adds" points that are
    not on the curve, which the off-curve test relies on."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 - 3) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k: int, point: Point) -> Point:
    acc: Point = None
    for bit in bin(k)[2:] if k > 0 else "":
        acc = _add(acc, acc)
        if bit == "1":
            acc = _add(acc, point)
    return acc


def _point(pub: bytes) -> tuple[int, int]:
    return int.from_bytes(pub[1:33], "big"), int.from_bytes(pub[33:], "big")


def _pub(point: Point) -> bytes:
    assert point is not None
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def _sig(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _both(pub: bytes, msg: bytes, sig: bytes) -> bool:
    """The C verdict, after checking that Tongsuo's is the same."""
    assert native is not None
    c = bool(native.verify(pub, msg, sig))
    reference = SM2_SM3.verify_tongsuo(pub, msg, sig)
    assert c == reference, (pub.hex(), msg.hex(), sig.hex(), c, reference)
    return c


def test_the_native_verifier_is_built_and_in_use() -> None:
    # pip install builds it on a machine of this kind (gcc, the Python headers): a missing
    # extension here is a build problem to see, not a reason to skip the comparisons.
    assert SM2_NATIVE, "ledger._sm2_native did not build or import"


def test_base_multiplication_matches_tongsuo_and_gmssl() -> None:
    assert native is not None
    rng = random.Random(7)
    scalars = [1, 2, 3, 31, 32, 63, 64, 65, 127, 128, N - 2, N - 1, 2**255, 2**256 - 1 - N]
    scalars += [rng.randrange(1, N - 1) for _ in range(40)]
    for k in scalars:
        got = native.mul_base(k.to_bytes(32, "big"))
        if 1 <= k <= N - 2:
            assert got == SM2_SM3.public_key(k.to_bytes(32, "big")), k
    for k in scalars[:12]:
        assert native.mul_base(k.to_bytes(32, "big")) == gm_reference.sm2_multiply(k, G), k
    assert native.mul_base(N.to_bytes(32, "big")) is None  # nG is the point at infinity
    assert native.mul_base(bytes(32)) is None
    assert native.mul_base((N + 1).to_bytes(32, "big")) == G


def test_valid_signatures_and_every_single_bit_flip_agree() -> None:
    rng = random.Random(11)
    for i in range(60):
        secret = SM2_SM3.generate_secret()
        pub = SM2_SM3.public_key(secret)
        msg = rng.randbytes(rng.choice([0, 1, 55, 56, 64, 119, 300, 5000]))
        sig = SM2_SM3.sign(secret, msg)
        assert _both(pub, msg, sig), i
        for _ in range(6):
            flipped = bytearray(sig)
            flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)
            assert not _both(pub, msg, bytes(flipped))
            bad_key = bytearray(pub)
            bad_key[rng.randrange(1, 65)] ^= 1 << rng.randrange(8)
            assert not _both(bytes(bad_key), msg, sig)
        assert not _both(pub, msg + b"\x00", sig)
        if msg:
            damaged = bytearray(msg)
            damaged[rng.randrange(len(msg))] ^= 0x80
            assert not _both(pub, bytes(damaged), sig)


def test_signatures_by_gmssl_verify() -> None:
    for i in range(8):
        secret = SM2_SM3.generate_secret()
        pub = SM2_SM3.public_key(secret)
        msg = f"gmssl {i}".encode()
        sig = gm_reference.sm2_sign(secret, pub, msg)
        assert _both(pub, msg, sig)


def test_scalars_out_of_range_and_malformed_keys() -> None:
    secret = SM2_SM3.generate_secret()
    pub = SM2_SM3.public_key(secret)
    msg = b"edge"
    sig = SM2_SM3.sign(secret, msg)
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    for bad in [(0, s), (r, 0), (N, s), (r, N), (r + N, s) if r + N < 2**256 else (N + 1, s),
                (r, s + N) if s + N < 2**256 else (r, N + 1), (2**256 - 1, s), (r, 2**256 - 1),
                (r, N - r)]:  # the last: t = r + s = 0 mod n
        assert not _both(pub, msg, _sig(*bad)), bad
    x, y = int.from_bytes(pub[1:33], "big"), int.from_bytes(pub[33:], "big")
    keys = [
        b"\x02" + pub[1:], b"\x03" + pub[1:], b"\x00" + pub[1:], b"\x06" + pub[1:],
        b"\x04" + (x + P).to_bytes(32, "big") + pub[33:] if x + P < 2**256 else b"\x04" * 65,
        b"\x04" + pub[1:33] + (y + P).to_bytes(32, "big") if y + P < 2**256 else b"\x04" * 65,
        b"\x04" + pub[1:33] + (P - y).to_bytes(32, "big"),  # -P: on the curve, wrong key
        b"\x04" + bytes(64),
        b"\x04" + b"\xff" * 64,
        b"\x04" + P.to_bytes(32, "big") + pub[33:],
    ]
    for key in keys:
        assert not _both(key, msg, sig), key.hex()
    assert native is not None
    assert native.verify(pub[:64], msg, sig) is False
    assert native.verify(pub, msg, sig[:63]) is False
    assert SM2_SM3.verify(pub, msg, sig) is True
    with pytest.raises(TypeError):
        native.verify("text", msg, sig)


def test_keys_sharing_multiples_of_g_meet_the_exceptional_additions() -> None:
    # With P = G (secret 1) or P = -2G (secret n - 2), the interleaved additions of [s]G and
    # [t]P add a multiple of G to itself or to its opposite now and then.
    rng = random.Random(3)
    for secret_int in (1, 2, N - 2, 3):
        secret = secret_int.to_bytes(32, "big")
        pub = SM2_SM3.public_key(secret)
        for i in range(25):
            msg = rng.randbytes(20)
            sig = SM2_SM3.sign(secret, msg)
            assert _both(pub, msg, sig), (secret_int, i)
    # P = G and r = -2s mod n: [s]G + [r + s]G = [0]G, the point at infinity: invalid.
    for _ in range(20):
        s = rng.randrange(1, N)
        r = (-2 * s) % N
        assert not _both(G, b"infinity", _sig(r, s))
    # P = G and t = s (r = n... out of range) is refused earlier; t = -s makes the sum zero
    # only for r = -2s, tested above. Small scalars: the wNAF has a handful of digits.
    for s in (1, 2, 3, 64, 65):
        for r in (1, 2, 3, N - 1):
            _both(G, b"small", _sig(r, s))


def _verify_digest(pub: bytes, e: int, r: int, s: int) -> bool:
    assert native is not None
    return bool(native.verify_digest(pub, e.to_bytes(32, "big"), _sig(r, s)))


def test_the_x_coordinate_at_or_above_n_still_verifies() -> None:
    # x1 lies in [0, p) and the check is (e + x1) mod n == r, so for x1 in [n, p) the C
    # code's second candidate (c + n) decides. No message reaches such an x1 in practice
    # (chance ~2^-128), so the signature is built from the digest on: a point Q with x >= n,
    # any s and t, the key P = t^-1 (Q - [s]G), r = t - s and e = r - x1 (mod n).
    g = _point(G)
    x = N
    while True:
        rhs = (x * x * x - 3 * x + B) % P
        y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
        if y * y % P == rhs:
            break
        x += 1
    assert N <= x < P
    rng = random.Random(5)
    for _ in range(4):
        s, t = rng.randrange(1, N), rng.randrange(1, N)
        r = (t - s) % N
        if r == 0:
            continue
        minus_sg = _mul(s, g)
        assert minus_sg is not None
        key = _mul(pow(t, -1, N), _add((x, y), (minus_sg[0], P - minus_sg[1])))
        pub = _pub(key)
        SM2_SM3.check_pubkey(pub)  # a key of the curve (Tongsuo loads it)
        e = (r - x) % N
        assert _verify_digest(pub, e, r, s)
        if e + N < 2**256:
            assert _verify_digest(pub, e + N, r, s)  # e is taken mod n
        assert not _verify_digest(pub, (e + 1) % N, r, s)
        assert not _verify_digest(pub, (e - (x - N)) % N, r, s)  # as if x1 were x - n
        assert not _verify_digest(pub, e, r, (s + 1) % N or 1)


def test_a_zero_t_is_refused_even_when_the_rest_would_match() -> None:
    # t = r + s = 0 mod n leaves [s]G alone; with e chosen so that (e + x(sG)) mod n = r
    # everything else would pass, and GB/T 32918.2 still says invalid.
    g = _point(G)
    rng = random.Random(9)
    pub = SM2_SM3.public_key(SM2_SM3.generate_secret())
    for _ in range(4):
        s = rng.randrange(1, N)
        r = N - s
        sg = _mul(s, g)
        assert sg is not None
        assert not _verify_digest(pub, (r - sg[0]) % N, r, s)
        assert _verify_digest(pub, 0, r, s) is False


def test_keys_off_the_curve_are_refused_before_any_arithmetic() -> None:
    # The addition formulas never use b, so on a key off the curve they compute on another
    # curve; a signature made to fit that arithmetic must still be refused.
    assert native is not None
    g = _point(G)
    rng = random.Random(13)
    for _ in range(4):
        good = _point(SM2_SM3.public_key(SM2_SM3.generate_secret()))
        off = (good[0], (good[1] + 1) % P)
        pub = _pub(off)
        assert not native.valid_public_key(pub)
        s, t = rng.randrange(1, N), rng.randrange(1, N)
        r = (t - s) % N or 1
        t = (r + s) % N
        q = _add(_mul(s, g), _mul(t, off))
        assert q is not None
        assert not _verify_digest(pub, (r - q[0]) % N, r, s)
    for _ in range(30):
        key = bytearray(SM2_SM3.public_key(SM2_SM3.generate_secret()))
        assert native.valid_public_key(bytes(key))
        key[rng.randrange(1, 65)] ^= 1 << rng.randrange(8)
        try:
            SM2_SM3.check_pubkey(bytes(key))
            tongsuo = True
        except InvalidInput:
            tongsuo = False
        assert native.valid_public_key(bytes(key)) == tongsuo


@settings(max_examples=150, deadline=None)
@given(pub_seed=st.integers(1, N - 2), msg=st.binary(max_size=300),
       r=st.integers(0, 2**256 - 1), s=st.integers(0, 2**256 - 1))
def test_arbitrary_signatures_agree(pub_seed: int, msg: bytes, r: int, s: int) -> None:
    pub = SM2_SM3.public_key(pub_seed.to_bytes(32, "big"))
    assert not _both(pub, msg, _sig(r, s))  # a random (r, s) verifies with negligible chance


def test_threads_verify_at_once() -> None:
    # The GIL is released while a verification computes: threads verifying together still
    # each get the right verdict.
    items = []
    for i in range(24):
        secret = SM2_SM3.generate_secret()
        pub = SM2_SM3.public_key(secret)
        msg = os.urandom(100 + i)
        sig = SM2_SM3.sign(secret, msg)
        items.append((pub, msg, sig, i % 3 != 0))
    wrong: list[int] = []

    def work(offset: int) -> None:
        for _ in range(20):
            for j, (pub, msg, sig, good) in enumerate(items):
                used = sig if good else sig[:32] + bytes(31) + b"\x01"
                if SM2_SM3.verify(pub, msg, used) != good:
                    wrong.append(offset * 1000 + j)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_tongsuo_fallback_when_forced() -> None:
    code = ("from ledger.crypto import SM2_NATIVE, SM2_SM3\n"
            "s = SM2_SM3.generate_secret(); p = SM2_SM3.public_key(s)\n"
            "sig = SM2_SM3.sign(s, b'm')\n"
            "print(SM2_NATIVE, SM2_SM3.verify(p, b'm', sig), SM2_SM3.verify(p, b'n', sig))\n")
    env = dict(os.environ, CREDCHAIN_SM2_TONGSUO="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["False", "True", "False"]


def test_gmssl_reference_keys_whose_x_starts_with_04() -> None:
    # gmssl's constructor strips leading '0'/'4' characters from a key whose hex starts with
    # "04"; ``gm_reference`` sets the key after it. A key whose X begins with byte 0x04 (and
    # with 0x40, 0x44, 0x00 after it) signs and verifies like any other.
    found: list[tuple[int, bytes]] = []
    k = 1
    while len(found) < 2:
        k += 1
        pub = native.mul_base(k.to_bytes(32, "big")) if native else None
        if pub is not None and pub[1] == 0x04:
            found.append((k, pub))
    for k, pub in found:
        secret = k.to_bytes(32, "big")
        assert SM2_SM3.public_key(secret) == pub
        sig = gm_reference.sm2_sign(secret, pub, b"leading 04")
        assert gm_reference.sm2_verify(pub, b"leading 04", sig)
        assert _both(pub, b"leading 04", sig)
