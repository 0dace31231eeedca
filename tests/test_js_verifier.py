"""The JS verifier (``shell/web/verify/``) agrees with the Python verifier on bundles from a
live chain, for both suites.

One chain per suite is built in process (validator changes at blocks 3 and 5, records
written, rewritten and deleted); its §7 bundles for present and absent keys at every height,
and tampered copies of them, are verified by ``ledger.bundle.verify_bundle`` and, in one run
of ``node tests/js/batch_verify.mjs``, by the JS verifier under each of its crypto paths
(WebCrypto, Ed25519 in BigInt, no WebCrypto at all) and in both forms (JSON and CE). Every
verdict must be the same: ok or not, and what was proven (key, present, value, height,
time) or, for a failure, the very same reason. Signatures at the edges of both suites
(libsodium's refusals, SM2's range checks) are compared the same way.

Without ``node`` the test fails and says so: the JS verifier is part of what CI checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger import bundle, encoding
from ledger.block import Validator
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import ProofError
from ledger.genesis import Anchor, export_anchor
from tests.chainkit import Chain

ROOT = Path(__file__).resolve().parents[1]
BATCH_SCRIPT = ROOT / "tests" / "js" / "batch_verify.mjs"
SUITES: list[Suite] = [ED25519_SHA256, SM2_SM3]
CONFIGS = ("webcrypto", "ed25519_bigint", "no_webcrypto")
NODE_TIMEOUT_S = 600

IDENTITY = "identity/91350100M000100Y43"
DEBARMENT = "debarment/91350100M000100Y43"
DELETED = "credit/914400000000000007/rec1"
QUOTED = "credit/o'brien/汕尾某公司"  # a quote and CJK in the key: the reasons repr it
NEVER = "identity/nobody"
KEYS = (IDENTITY, DEBARMENT, DELETED, QUOTED, NEVER)
HEIGHTS = range(1, 8)

_ED_L = 2**252 + 27742317777372353535851937790883648493
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def v(x: object) -> bytes:
    return encoding.encode(x)


def _live_chain(suite: Suite) -> Chain:
    """Blocks 1..7: 24 credit records and the quoted key at 1, the identity at 2, a change
    to five validators at 3, the identity revoked and a debarment at 4, back to four at 5,
    a credit record deleted at 6, an unrelated write at 7."""
    chain = Chain.new(suite)
    credits = {
        f"credit/{914400000000000000 + i:018d}/rec{i % 3}": v({"level": i % 5, "issuer": "gd"})
        for i in range(24)
    }
    chain.extend({**credits, QUOTED: v({"level": 1, "note": "引号'"})})
    chain.extend({IDENTITY: v({"name": "某公司", "status": "active"})})
    first = chain.doc.validators
    five = first[:3] + (chain.add_key("node3b"), chain.add_key("node4"), chain.add_key("node5"))
    chain.extend({"demo/x": v(2)}, next_validators=five)
    chain.extend({IDENTITY: v({"name": "某公司", "status": "revoked"}),
                  DEBARMENT: v({"until_ms": 1_800_000_000_000})})
    four: tuple[Validator, ...] = five[1:5]
    chain.extend({"demo/x": v(3)}, next_validators=four)
    chain.extend({DELETED: None})
    chain.extend({"demo/x": v(4)})
    return chain


# ---- the items: a bundle in its forms with the Python verdict of each ----------------------


@dataclass
class Item:
    id: str
    anchor_json: Any
    forms: dict[str, Any]  # "json": the JSON form, "ce": hex of the CE form
    python: dict[str, dict[str, Any]]  # form -> Python verdict


def _hex_form(value: Any) -> Any:
    """Bytes as hex throughout, no schema: the JSON form of whatever shape ``value`` has."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_hex_form(x) for x in value]
    if isinstance(value, dict):
        return {k: _hex_form(x) for k, x in value.items()}
    return value


def _python_verdict(form: str, payload: Any, anchor: Anchor) -> dict[str, Any]:
    try:
        obj = (bundle.from_json(payload) if form == "json"
               else bundle.decode_bundle(bytes.fromhex(payload)))
        record = bundle.verify_bundle(obj, anchor)
    except ProofError as exc:
        return {"ok": False, "reason": str(exc)}
    return {
        "ok": True,
        "key": record.key,
        "present": record.value is not None,
        "value_ce": None if record.value is None else record.value.hex(),
        "height": record.height,
        "time_ms": record.header.time_ms,
    }


def _item(item_id: str, anchor: Anchor, obj: Any, json_form: Any = None) -> Item:
    forms = {"json": _hex_form(obj) if json_form is None else json_form}
    if obj is not None:
        forms["ce"] = encoding.encode(obj).hex()
    python = {form: _python_verdict(form, payload, anchor) for form, payload in forms.items()}
    return Item(item_id, anchor.to_json(), forms, python)


def live_items(chain: Chain) -> Iterator[Item]:
    """Every untampered bundle the cross-check exports from one live chain.

    §7 bundles today: each key of ``KEYS`` at each height, present or absent, before,
    between and after the validator changes. §8 inclusion and §9 multi-key bundles belong
    here too once ``ledger`` builds and verifies them (issue 11): yield an ``Item`` built
    from the bundle with ``_python_verdict`` extended to that kind, and extend
    ``_assert_same`` with the fields that kind proves (the JS verdict carries ``tx_id``,
    ``code``, ``events`` for §8 and ``entries`` for §9). The shared vectors cover §8 and §9
    in ``tests/js/inclusion.test.mjs`` and ``tests/js/multi.test.mjs`` meanwhile.
    """
    anchor = export_anchor(chain.store)
    for height in HEIGHTS:
        for key in KEYS:
            obj = bundle.build_bundle(chain.store, chain.store.tree, key, height)
            yield _item(f"{chain.suite.name}/{key}@{height}", anchor, obj)


Tamper = Callable[[Any, Chain], None]


def _set_vote_index(index: int) -> Tamper:
    def tamper(b: Any, _: Chain) -> None:
        b["qc"]["votes"][-1][0] = index
    return tamper


def _swap_chain_entries(b: Any, _: Chain) -> None:
    b["validator_chain"].reverse()


def _add_future_change(b: Any, chain: Chain) -> None:
    later = bundle.build_bundle(chain.store, chain.store.tree, IDENTITY, 7)
    b["validator_chain"].append(later["validator_chain"][-1])


def _repeat_chain_entry(b: Any, _: Chain) -> None:
    b["validator_chain"].insert(1, b["validator_chain"][0])


def _copy_chain_vote_signature(b: Any, _: Chain) -> None:
    votes = b["validator_chain"][0]["qc"]["votes"]
    votes[0][1] = votes[1][1]


def _vote_not_a_pair(b: Any, _: Chain) -> None:
    b["qc"]["votes"][0] = [0]


def _flip_leaf_path(b: Any, _: Chain) -> None:
    path = bytearray(b["proof"]["leaf"]["path"])
    path[31] ^= 1
    b["proof"]["leaf"]["path"] = bytes(path)


TAMPERS: dict[str, Tamper] = {
    "validator change left out": lambda b, _: b["validator_chain"].pop(0),
    "validator changes swapped": _swap_chain_entries,
    "validator change repeated": _repeat_chain_entry,
    "votes below the quorum": lambda b, _: b["qc"].update(votes=b["qc"]["votes"][:2]),
    "chain vote signature of another vote": _copy_chain_vote_signature,
    "next validator renamed": lambda b, _: b["validator_chain"][0]["next_validators"][0]
    .update(name="evil"),
    "vote index outside the set": _set_vote_index(9),
    "vote index repeated": _set_vote_index(0),
    "another value": lambda b, _: b.update(value=v({"name": "某公司", "status": "active"})),
    "value dropped": lambda b, _: b.update(value=None),
    "header time moved": lambda b, _: b["header"].update(time_ms=b["header"]["time_ms"] + 1),
    "header of height 0": lambda b, _: b["header"].update(height=0),
    "header of another chain": lambda b, _: b["header"].update(chain_id="elsewhere"),
    "qc of another height": lambda b, _: b["qc"].update(height=5),
    "another key": lambda b, _: b.update(key=QUOTED),
    "bundle of another chain": lambda b, _: b.update(chain_id="elsewhere"),
    "zero genesis hash": lambda b, _: b.update(genesis_hash=bytes(32)),
    "version 2": lambda b, _: b.update(version=2),
    "extra field": lambda b, _: b.update(extra=1),
    "missing field": lambda b, _: b.pop("qc"),
    "sibling cut": lambda b, _: b["proof"]["siblings"].pop(),
    "leaf path flipped": _flip_leaf_path,
    "31-byte state root": lambda b, _: b["header"].update(state_root=bytes(31)),
    "vote that is not a pair": _vote_not_a_pair,
    "text height": lambda b, _: b["header"].update(height="7"),
    "negative view": lambda b, _: b["qc"].update(view=-1),
}


# Tamperings only the JSON form can carry: (label, header field, new value from the old).
JSON_TAMPERS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("upper-case hex", "state_root", lambda old: old.upper()),
    ("odd-length hex", "state_root", lambda old: old[1:]),
    ("hex field as a number", "tx_root", lambda old: 12),
    ("time as a fraction", "time_ms", lambda old: old + 0.5),
    ("height as text", "height", lambda old: str(old)),
]


def tampered_items(chain: Chain) -> Iterator[Item]:
    """Each tampering of ``TAMPERS`` on the identity's bundle at height 6 (two validator
    changes carried, the record present), each of ``JSON_TAMPERS`` on its JSON form, and the
    bundle against the anchors of other chains."""
    anchor = export_anchor(chain.store)
    name = chain.suite.name
    for label, tamper in TAMPERS.items():
        obj = bundle.build_bundle(chain.store, chain.store.tree, IDENTITY, 6)
        tamper(obj, chain)
        yield _item(f"{name}/tampered: {label}", anchor, obj)
    fresh = bundle.build_bundle(chain.store, chain.store.tree, IDENTITY, 6)
    for label, field, bad in JSON_TAMPERS:
        json_form = _hex_form(fresh)
        json_form["header"][field] = bad(json_form["header"][field])
        yield _item(f"{name}/tampered JSON: {label}", anchor, None, json_form=json_form)
    other_id = Chain.new(chain.suite, chain_id="other-chain")
    other_id.extend({IDENTITY: v("x")})
    yield _item(f"{name}/anchor of another chain id", export_anchor(other_id.store), fresh)
    same_id = Chain.new(chain.suite, n=5)  # same chain id, another genesis
    yield _item(f"{name}/anchor of another genesis", export_anchor(same_id.store), fresh)


# ---- signatures at the edges of both suites ------------------------------------------------


def _ed25519_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def _ed25519_cases() -> Iterator[tuple[str, bytes, bytes, bytes]]:
    suite = ED25519_SHA256
    identity = (1).to_bytes(32, "little")
    for i in range(4):
        seed = hashlib.sha256(f"edge/{i}".encode()).digest()
        pub = suite.public_key(seed)
        msg = bytes(range(i * 9))
        sig = suite.sign(seed, msg)
        yield f"valid {i}", pub, msg, sig
        yield f"flipped signature {i}", pub, msg, sig[:7] + bytes([sig[7] ^ 4]) + sig[8:]
        yield f"other message {i}", pub, msg + b"!", sig
        s_plus_l = (int.from_bytes(sig[32:], "little") + _ED_L).to_bytes(32, "little")
        yield f"S + L {i}", pub, msg, sig[:32] + s_plus_l
        k = int.from_bytes(hashlib.sha512(identity + pub + msg).digest(), "little") % _ED_L
        crafted = (k * _ed25519_scalar(seed)) % _ED_L
        yield f"R the identity, S = k·a {i}", pub, msg, identity + crafted.to_bytes(32, "little")
    yield "public key the identity", identity, b"any", identity + bytes(32)
    p = 2**255 - 19
    yield "public key y = p + 3", (p + 3).to_bytes(32, "little"), b"m", identity + bytes(32)


def _sm2_cases() -> Iterator[tuple[str, bytes, bytes, bytes]]:
    suite = SM2_SM3
    for i in range(4):
        secret = hashlib.sha256(f"edge/{i}".encode()).digest()
        pub = suite.public_key(secret)
        msg = bytes(range(i * 9))
        sig = suite.sign(secret, msg)
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:], "big")

        def rs(rr: int, ss: int) -> bytes:
            return rr.to_bytes(32, "big") + ss.to_bytes(32, "big")

        yield f"valid {i}", pub, msg, sig
        yield f"flipped signature {i}", pub, msg, sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]
        yield f"other message {i}", pub, msg + b"!", sig
        yield f"r = 0 {i}", pub, msg, rs(0, s)
        yield f"s = n {i}", pub, msg, rs(r, _SM2_N)
        yield f"t = 0 {i}", pub, msg, rs(r, _SM2_N - r)
        yield f"key off the curve {i}", pub[:64] + bytes([pub[64] ^ 1]), msg, sig
        yield f"key with prefix 02 {i}", b"\x02" + pub[1:], msg, sig


def signature_items() -> Iterator[dict[str, Any]]:
    for suite, cases in ((ED25519_SHA256, _ed25519_cases()), (SM2_SM3, _sm2_cases())):
        for label, pub, msg, sig in cases:
            yield {
                "id": f"{suite.name}/signature: {label}",
                "type": "signature",
                "suite": suite.name,
                "pubkey": pub.hex(),
                "message": msg.hex(),
                "signature": sig.hex(),
                "python": suite.verify(pub, msg, sig),
            }


# ---- running node and comparing ------------------------------------------------------------


def _run_node(items: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JS verifier (shell/web/verify/) needs Node.js "
                    "20 or later to be checked against the Python verifier")
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items, ensure_ascii=False))
    done = subprocess.run([node, str(BATCH_SCRIPT), str(path)], capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_S, cwd=ROOT, check=False)
    assert done.returncode == 0, f"node failed:\n{done.stderr}"
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def _assert_same(item_id: str, form: str, config: str, py: dict[str, Any],
                 js: dict[str, Any]) -> None:
    where = f"{item_id} [{form}, {config}]"
    assert js["ok"] == py["ok"], f"{where}: JS {js}, Python {py}"
    if not py["ok"]:
        assert js["reason"] == py["reason"], f"{where}: reasons differ"
        return
    assert js["kind"] == "bundle", where
    for field in ("key", "present", "value_ce", "height", "time_ms"):
        assert js[field] == py[field], f"{where}: {field} {js[field]!r} != {py[field]!r}"


@pytest.fixture(scope="module")
def chains() -> list[Chain]:
    return [_live_chain(suite) for suite in SUITES]


def test_js_and_python_verdicts_agree_on_live_bundles(chains: list[Chain],
                                                      tmp_path: Path) -> None:
    items = [item for chain in chains for item in (*live_items(chain), *tampered_items(chain))]
    results = _run_node(
        [{"id": i.id, "type": "bundle", "anchor": i.anchor_json, "forms": i.forms} for i in items],
        tmp_path,
    )
    kinds = {"valid": 0, "present": 0, "absent": 0, "refused": 0}
    for item in items:
        for config in CONFIGS:
            for form, py in item.python.items():
                _assert_same(item.id, form, config, py, results[item.id][config][form])
        verdict = item.python["json"]
        kinds["valid" if verdict["ok"] else "refused"] += 1
        if verdict["ok"]:
            kinds["present" if verdict["present"] else "absent"] += 1
    # The set is what it claims to be: every live bundle verifies, presences and absences
    # both occur, every tampered one is refused.
    assert kinds["valid"] == len(SUITES) * len(HEIGHTS) * len(KEYS)
    assert kinds["present"] > 20 and kinds["absent"] > 20
    assert kinds["refused"] == len(SUITES) * (len(TAMPERS) + len(JSON_TAMPERS) + 2)


def test_js_and_python_agree_on_signatures_at_the_edges(tmp_path: Path) -> None:
    items = list(signature_items())
    results = _run_node(items, tmp_path)
    for item in items:
        for config in CONFIGS:
            got = results[item["id"]][config]["signature"]
            assert got["ok"] == item["python"], f"{item['id']} [{config}]: JS {got['ok']}"
    # Each suite has signatures both verifiers accept and ones both refuse, and the
    # configurations took the paths they name.
    for suite in SUITES:
        verdicts = {i["python"] for i in items if i["suite"] == suite.name}
        assert verdicts == {True, False}
    ed = results[f"{ED25519_SHA256.name}/signature: valid 0"]
    assert ed["webcrypto"]["signature"]["path"] == "webcrypto"
    assert ed["ed25519_bigint"]["signature"]["path"] == "bigint"
    assert ed["no_webcrypto"]["signature"]["path"] == "bigint"
