"""Crypto and encoding rates: each raw library beside our ``Suite`` API, in one run.

    .venv/bin/python benchmarks/bench_crypto.py [--seconds 1.0] [--block-txs 100]

Measures, each for about ``--seconds`` (time-bounded loops, so the whole run takes ~15 s):
signature verifications/s for Ed25519 (raw pynacl vs ``ED25519_SHA256.verify``) and SM2 (raw
tongsuopy, our API on Tongsuo, pure-Python gmssl, and ``SM2_SM3.verify``, which is the C
verifier when built); signing; hashing 200-byte messages
(hashlib SHA-256, SM3 through ``cryptography`` and through gmssl, and ``Suite.hd``); block
encode and strict decode (``Block.encode`` / ``Block.decode``) for blocks of ``--block-txs``
signed transactions; proof bundles (PROTOCOL §7) built and verified per suite, and their
size. Prints a Markdown table and the ratio the project targets: SM2
verification through our API ≥ 20× the pure-gmssl rate measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nacl.signing  # noqa: E402
from cryptography.hazmat.primitives import hashes as chashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402
from tongsuopy.crypto import hashes as thashes  # noqa: E402
from tongsuopy.crypto.asymciphers import ec as tec  # noqa: E402

from ledger import gm_reference  # noqa: E402
from ledger.block import Block, Header  # noqa: E402
from ledger.crypto import ED25519_SHA256, SM2_NATIVE, SM2_SM3, Suite  # noqa: E402
from ledger.tx import TxBody, sign_tx  # noqa: E402


def rate(fn: Callable[[int], object], seconds: float, batch: int = 1) -> float:
    """Calls of ``fn`` per second: ``fn(i)`` runs for about ``seconds`` (at least once)."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn(done)
            done += 1
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def bench_ed25519(seconds: float) -> list[tuple[str, float]]:
    secret = ED25519_SHA256.generate_secret()
    pub = ED25519_SHA256.public_key(secret)
    msgs = [os.urandom(200) for _ in range(64)]
    sigs = [ED25519_SHA256.sign(secret, m) for m in msgs]
    vk = nacl.signing.VerifyKey(pub)
    sk = nacl.signing.SigningKey(secret)

    def raw_verify(i: int) -> None:
        vk.verify(msgs[i % 64], sigs[i % 64])

    def api_verify(i: int) -> None:
        assert ED25519_SHA256.verify(pub, msgs[i % 64], sigs[i % 64])

    return [
        ("Ed25519 verify, raw pynacl", rate(raw_verify, seconds, 100)),
        ("Ed25519 verify, ED25519_SHA256.verify", rate(api_verify, seconds, 100)),
        ("Ed25519 sign, raw pynacl", rate(lambda i: sk.sign(msgs[i % 64]), seconds, 100)),
        ("Ed25519 sign, ED25519_SHA256.sign",
         rate(lambda i: ED25519_SHA256.sign(secret, msgs[i % 64]), seconds, 100)),
    ]


def bench_sm2(seconds: float) -> tuple[list[tuple[str, float]], float, float]:
    secret = SM2_SM3.generate_secret()
    pub = SM2_SM3.public_key(secret)
    msgs = [os.urandom(200) for _ in range(16)]
    sigs = [SM2_SM3.sign(secret, m) for m in msgs]
    ders = [
        encode_dss_signature(int.from_bytes(s[:32], "big"), int.from_bytes(s[32:], "big"))
        for s in sigs
    ]
    key = tec.EllipticCurvePublicKey.from_encoded_point(tec.SM2(), pub)
    algo = tec.ECDSA(thashes.SM3())

    def raw_verify(i: int) -> None:
        key.verify(ders[i % 16], msgs[i % 16], algo)

    def api_verify(i: int) -> None:
        assert SM2_SM3.verify(pub, msgs[i % 16], sigs[i % 16])

    def gmssl_verify(i: int) -> None:
        assert gm_reference.sm2_verify(pub, msgs[i % 16], sigs[i % 16])

    api = rate(api_verify, seconds, 20)
    gm = rate(gmssl_verify, seconds)
    def tongsuo_api_verify(i: int) -> None:
        assert SM2_SM3.verify_tongsuo(pub, msgs[i % 16], sigs[i % 16])

    label = "C, ledger/_sm2_native.c" if SM2_NATIVE else "Tongsuo: the C verifier is MISSING"
    rows = [
        ("SM2 verify, raw tongsuopy (key loaded once)", rate(raw_verify, seconds, 20)),
        ("SM2 verify, SM2_SM3.verify_tongsuo", rate(tongsuo_api_verify, seconds, 20)),
        (f"SM2 verify, SM2_SM3.verify ({label})", api),
        ("SM2 verify, gmssl (pure Python)", gm),
        ("SM2 sign, SM2_SM3.sign", rate(lambda i: SM2_SM3.sign(secret, msgs[i % 16]), seconds, 20)),
    ]
    return rows, api, gm


def bench_hash(seconds: float) -> list[tuple[str, float]]:
    data = os.urandom(200)

    def sm3_cryptography(i: int) -> None:
        h = chashes.Hash(chashes.SM3())
        h.update(data)
        h.finalize()

    return [
        ("SHA-256 200 B, hashlib", rate(lambda i: hashlib.sha256(data).digest(), seconds, 1000)),
        ("SHA-256 200 B, ED25519_SHA256.hd", rate(lambda i: ED25519_SHA256.hd(0x20, data),
                                                  seconds, 1000)),
        ("SM3 200 B, cryptography", rate(sm3_cryptography, seconds, 1000)),
        ("SM3 200 B, SM2_SM3.hd", rate(lambda i: SM2_SM3.hd(0x20, data), seconds, 1000)),
        ("SM3 200 B, gmssl (pure Python)", rate(lambda i: gm_reference.sm3_digest(data),
                                                seconds, 10)),
    ]


def _block(suite: Suite, n_txs: int) -> Block:
    secret = suite.generate_secret()
    sender = suite.public_key(secret)
    txs = tuple(
        sign_tx(suite, secret, TxBody("bench", sender, i, "identity.attest",
                                      {"uscc": "91350100M000100Y43", "name": "某公司", "n": i}))
        for i in range(n_txs)
    )
    header = Header("bench", 1, bytes(32), 1, 0, 0, *(bytes(32),) * 5)
    return Block(header, txs)


def bench_block(seconds: float, n_txs: int) -> list[tuple[str, float]]:
    block = _block(ED25519_SHA256, n_txs)
    data = block.encode()
    rows = [
        (f"block encode ({n_txs} txs, {len(data)} B), blocks/s",
         rate(lambda i: block.encode(), seconds)),
        (f"block strict decode ({n_txs} txs), blocks/s",
         rate(lambda i: Block.decode(data), seconds)),
    ]
    return rows


def bench_bundle(seconds: float, suite: Suite) -> tuple[list[tuple[str, float]], str]:
    """Build and verify a proof bundle carrying one validator change (5 blocks, 200 keys)."""
    from ledger import bundle, encoding
    from ledger.genesis import export_anchor
    from tests.chainkit import Chain

    chain = Chain.new(suite)
    chain.extend({f"identity/{i:04d}": encoding.encode({"n": i}) for i in range(200)})
    five = chain.doc.validators + (chain.add_key("node4"),)
    chain.extend({"demo/x": encoding.encode(1)}, next_validators=five)
    for i in range(3):
        chain.extend({"demo/x": encoding.encode(i + 2)})
    store, anchor, key = chain.store, export_anchor(chain.store), "identity/0042"
    obj = bundle.build_bundle(store, store.tree, key)
    size_ce = len(bundle.encode_bundle(obj))
    size_json = len(json.dumps(bundle.to_json(obj)))
    rows = [
        (f"{suite.name} bundle build (head, 1 change), bundles/s",
         rate(lambda i: bundle.build_bundle(store, store.tree, key), seconds)),
        (f"{suite.name} bundle verify (2 QCs), bundles/s",
         rate(lambda i: bundle.verify_bundle(obj, anchor), seconds)),
    ]
    return rows, f"{suite.name} bundle size: {size_ce:,} B CE, {size_json:,} B JSON"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--block-txs", type=int, default=100, help="transactions per block")
    args = parser.parse_args()
    seconds = max(0.05, min(args.seconds, 10.0))
    rows = bench_ed25519(seconds)
    sm2_rows, api, gm = bench_sm2(seconds)
    rows += sm2_rows + bench_hash(seconds) + bench_block(seconds, max(1, args.block_txs))
    sizes = []
    for suite in (ED25519_SHA256, SM2_SM3):
        bundle_rows, size = bench_bundle(seconds, suite)
        rows += bundle_rows
        sizes.append(size)
    print("| operation | per second |")
    print("|---|---:|")
    for name, per_s in rows:
        print(f"| {name} | {per_s:,.0f} |")
    print()
    for size in sizes:
        print(size)
    ratio = api / gm
    verdict = "meets" if ratio >= 20 else "MISSES"
    print(f"\nSM2 verify through SM2_SM3.verify / gmssl = {ratio:.1f}x ({verdict} the 20x target)")


if __name__ == "__main__":
    main()
