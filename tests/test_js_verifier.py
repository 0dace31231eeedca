"""The JS verifier (``shell/web/verify/``) agrees with the Python verifier on bundles from live
chains, for both suites and all three kinds.

Chains are built in process: one with validator changes at blocks 3 and 5 and records
written, rewritten and deleted (§7 bundles of present and absent keys at every height), and
``tests.bundlekit``'s chain of signed transactions with receipts, events and failures (§8
inclusion bundles of every committed transaction, §9 multi-key bundles at several heights).
Each bundle, each tampered copy (this module's §7 tamperings and those of
``tests/test_bundle_inclusion.py`` and ``tests/test_bundle_multi.py``) and each case of the
shared vectors is handed, as the same JSON text and the same CE bytes, to
``ledger.verdict.verify_any`` and, in one run of ``node tests/js/batch_verify.mjs``, to the JS
``verifyBundle`` under each of its crypto paths (WebCrypto, Ed25519 in BigInt, no WebCrypto
at all). The verdicts must be the same: valid or not, kind and form, and then either the
very same reason or the same proven facts (chain, block height, hash and time, every entry's
key, presence, CE bytes, value hash and decoded record; the transaction's id, sender, nonce,
call, arguments, position and its receipt's code, message and events). Signatures at the
edges of both suites (libsodium's refusals, SM2's range checks) are compared the same way.

Without ``node`` the test fails and says so: the JS verifier is part of what CI checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import bundle, encoding, inclusion, jsonform, multi, verdict
from ledger.block import Header, Validator, validators_from_obj
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite, get_suite
from ledger.genesis import Anchor, export_anchor
from tests import test_bundle_inclusion, test_bundle_multi
from tests.bundlekit import CREDIT_KEY, KEY, txs_chain
from tests.chainkit import Chain

ROOT = Path(__file__).resolve().parents[1]
BATCH_SCRIPT = ROOT / "tests" / "js" / "batch_verify.mjs"
VECTORS = ROOT.parent / "shared" / "vectors"
SUITES: list[Suite] = [ED25519_SHA256, SM2_SM3]
NODE_TIMEOUT_S = 900

IDENTITY = "identity/91350100M000100Y43"
DEBARMENT = "debarment/91350100M000100Y43"
DELETED = "credit/914400000000000007/rec1"
QUOTED = "credit/o'brien/汕尾某公司"  # a quote and CJK in the key: the reasons repr it
NEVER = "identity/nobody"
KEYS = (IDENTITY, DEBARMENT, DELETED, QUOTED, NEVER)
HEIGHTS = range(1, 8)
MULTI_KEYS = [KEY, CREDIT_KEY, "frozen/91350100M000100Y43", "debarment/91350100M000100Y43"]
SCHEMAS = {"state": jsonform.BUNDLE, "inclusion": jsonform.INCLUSION, "multi": jsonform.MULTI}

_ED_L = 2**252 + 27742317777372353535851937790883648493
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

Item = dict[str, Any]


def v(x: object) -> bytes:
    return encoding.encode(x)


def _records_chain(suite: Suite) -> Chain:
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


# ---- items: one bundle as JSON text or CE bytes, with the Python verdict -------------------


def _hex_form(value: Any) -> Any:
    """Bytes as hex throughout, no schema: the JSON form of whatever shape ``value`` has."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_hex_form(x) for x in value]
    if isinstance(value, dict):
        return {k: _hex_form(x) for k, x in value.items()}
    return value


def _item(item_id: str, anchor: Anchor, data: bytes | str) -> Item:
    """One verification: ``data`` is JSON text or CE bytes, exactly as both verifiers get it."""
    python = verdict.render_json(verdict.verify_any(data, anchor))
    given = {"text": data} if isinstance(data, str) else {"ce": data.hex()}
    return {"id": item_id, "type": "bundle", "anchor": anchor.to_json(), "input": given,
            "python": python, "suite": anchor.suite.name}


def _both_forms(item_id: str, anchor: Anchor, obj: Any) -> Iterator[Item]:
    """``obj`` (binary form, any shape) as JSON text and as CE bytes."""
    yield _item(f"{item_id} [json]", anchor, json.dumps(_hex_form(obj), ensure_ascii=False))
    yield _item(f"{item_id} [ce]", anchor, encoding.encode(obj))


def state_items(chain: Chain) -> Iterator[Item]:
    """§7: each key of ``KEYS`` at each height, present or absent, before, between and
    after the validator changes."""
    anchor = export_anchor(chain.store)
    for height in HEIGHTS:
        for key in KEYS:
            obj = bundle.build_bundle(chain.store, chain.store.tree, key, height)
            yield from _both_forms(f"{chain.suite.name}/state {key}@{height}", anchor, obj)


def inclusion_items(chain: Chain) -> Iterator[Item]:
    """§8: every committed transaction of ``txs_chain``, OK and failed receipts alike."""
    anchor = export_anchor(chain.store)
    for height in range(1, chain.store.head()[0] + 1):
        block = chain.store.block(height)
        assert block is not None
        for index, tx in enumerate(block.txs):
            obj = inclusion.build_inclusion(chain.store, tx.tx_id(chain.suite))
            yield from _both_forms(f"{chain.suite.name}/inclusion {height}:{index}", anchor, obj)


def multi_items(chain: Chain) -> Iterator[Item]:
    """§9: ``MULTI_KEYS`` (present, absent, rewritten) at every height."""
    anchor = export_anchor(chain.store)
    for height in range(1, chain.store.head()[0] + 1):
        obj = multi.build_multi(chain.store, chain.store.tree, MULTI_KEYS, height)
        yield from _both_forms(f"{chain.suite.name}/multi @{height}", anchor, obj)


def live_items(records: Chain, txs: Chain) -> Iterator[Item]:
    """Every untampered bundle of the two chains of one suite: all must verify."""
    yield from state_items(records)
    yield from inclusion_items(txs)
    yield from multi_items(txs)


# ---- tampered copies: all must fail, with the same reason ----------------------------------


def _set_vote_index(index: int) -> Callable[[Any], None]:
    def tamper(b: Any) -> None:
        b["qc"]["votes"][-1][0] = index
    return tamper


def _repeat_chain_entry(b: Any) -> None:
    b["validator_chain"].insert(1, b["validator_chain"][0])


def _copy_chain_vote_signature(b: Any) -> None:
    votes = b["validator_chain"][0]["qc"]["votes"]
    votes[0][1] = votes[1][1]


def _vote_not_a_pair(b: Any) -> None:
    b["qc"]["votes"][0] = [0]


def _flip_leaf_path(b: Any) -> None:
    path = bytearray(b["proof"]["leaf"]["path"])
    path[31] ^= 1
    b["proof"]["leaf"]["path"] = bytes(path)


# §7 tamperings, on the identity's bundle at height 6 (two validator changes carried).
STATE_TAMPERS: dict[str, Callable[[Any], None]] = {
    "validator change left out": lambda b: b["validator_chain"].pop(0),
    "validator changes swapped": lambda b: b["validator_chain"].reverse(),
    "validator change repeated": _repeat_chain_entry,
    "votes below the quorum": lambda b: b["qc"].update(votes=b["qc"]["votes"][:2]),
    "chain vote signature of another vote": _copy_chain_vote_signature,
    "next validator renamed": lambda b: b["validator_chain"][0]["next_validators"][0]
    .update(name="evil"),
    "vote index outside the set": _set_vote_index(9),
    "vote index repeated": _set_vote_index(0),
    "another value": lambda b: b.update(value=v({"name": "某公司", "status": "active"})),
    "value dropped": lambda b: b.update(value=None),
    "header time moved": lambda b: b["header"].update(time_ms=b["header"]["time_ms"] + 1),
    "header of height 0": lambda b: b["header"].update(height=0),
    "header of another chain": lambda b: b["header"].update(chain_id="elsewhere"),
    "qc of another height": lambda b: b["qc"].update(height=5),
    "another key": lambda b: b.update(key=QUOTED),
    "bundle of another chain": lambda b: b.update(chain_id="elsewhere"),
    "zero genesis hash": lambda b: b.update(genesis_hash=bytes(32)),
    "version 2": lambda b: b.update(version=2),
    "extra field": lambda b: b.update(extra=1),
    "missing field": lambda b: b.pop("qc"),
    "sibling cut": lambda b: b["proof"]["siblings"].pop(),
    "leaf path flipped": _flip_leaf_path,
    "31-byte state root": lambda b: b["header"].update(state_root=bytes(31)),
    "vote that is not a pair": _vote_not_a_pair,
    "text height": lambda b: b["header"].update(height="7"),
    "negative view": lambda b: b["qc"].update(view=-1),
    "key and tx both": lambda b: b.update(tx=b"\x00"),
}

def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _with_args(args: dict[str, Any]) -> Callable[[Any], None]:
    def tamper(b: Any) -> None:
        tx = encoding.decode(b["tx"])
        tx["body"]["args"] = args
        b["tx"] = encoding.encode(tx)
    return tamper


# §8 tamperings at the transaction limits (ledger/limits.py), beside test_bundle_inclusion's.
LIMIT_TAMPERS: dict[str, Callable[[Any], None]] = {
    "args nested 17 levels": _with_args(_nested(17)),
    "args list of 1025 items": _with_args({"l": [0] * 1025}),
    "args key of 129 bytes": _with_args({"公" * 43: 1}),
    "args text of 8193 bytes": _with_args({"t": "x" * 8193}),
    "args not a map": _with_args([]),  # type: ignore[arg-type]
}

# Tamperings only the JSON text can carry: (label, header field, new value from the old).
JSON_TAMPERS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("upper-case hex", "state_root", lambda old: old.upper()),
    ("odd-length hex", "state_root", lambda old: old[1:]),
    ("hex field as a number", "tx_root", lambda old: 12),
    ("time as a fraction", "time_ms", lambda old: old + 0.5),
    ("height as text", "height", lambda old: str(old)),
]


def tampered_items(records: Chain, txs: Chain) -> Iterator[Item]:
    """Every tampering, in both forms, and bundles checked against other chains' anchors."""
    suite = records.suite.name
    anchor = export_anchor(records.store)
    for label, tamper in STATE_TAMPERS.items():
        obj = bundle.build_bundle(records.store, records.store.tree, IDENTITY, 6)
        tamper(obj)
        yield from _both_forms(f"{suite}/state tampered: {label}", anchor, obj)
    fresh = bundle.build_bundle(records.store, records.store.tree, IDENTITY, 6)
    for label, field, bad in JSON_TAMPERS:
        as_json = _hex_form(fresh)
        as_json["header"][field] = bad(as_json["header"][field])
        yield _item(f"{suite}/state tampered JSON: {label}", anchor, json.dumps(as_json))
    other_id = Chain.new(records.suite, chain_id="other-chain")
    yield from _both_forms(f"{suite}/anchor of another chain id",
                           export_anchor(other_id.store), fresh)
    same_id = Chain.new(records.suite, n=5)  # same chain id, another genesis
    yield from _both_forms(f"{suite}/anchor of another genesis",
                           export_anchor(same_id.store), fresh)
    txs_anchor = export_anchor(txs.store)
    block = txs.store.block(4)
    assert block is not None
    for label, (tamper, _) in test_bundle_inclusion.TAMPERS.items():
        obj = inclusion.build_inclusion(txs.store, block.txs[2].tx_id(txs.suite))
        tamper(obj)
        yield from _both_forms(f"{suite}/inclusion tampered: {label}", txs_anchor, obj)
    for label, limit_tamper in LIMIT_TAMPERS.items():
        obj = inclusion.build_inclusion(txs.store, block.txs[2].tx_id(txs.suite))
        limit_tamper(obj)
        yield from _both_forms(f"{suite}/inclusion at the limits: {label}", txs_anchor, obj)
    for label, (tamper, _) in test_bundle_multi.TAMPERS.items():
        obj = multi.build_multi(txs.store, txs.store.tree, test_bundle_multi.KEYS, 5)
        tamper(obj)
        yield from _both_forms(f"{suite}/multi tampered: {label}", txs_anchor, obj)


# Text-level forms of one valid JSON bundle: (label, the text made of it, valid?). A byte order
# mark is read past by both verifiers (user walk: the JS one read such a file as CE); a key
# twice in one object is refused by both, escaped or not (JSON.parse keeps the last value,
# another reader could take the first).
TEXT_FORMS: list[tuple[str, Callable[[str], str], bool]] = [
    ("a byte order mark first", lambda text: "\ufeff" + text, True),
    ("a top-level key twice", lambda text: '{"chain_id": "other", ' + text[1:], False),
    ("a header key twice", lambda text: text.replace('"header": {',
                                                     '"header": {"height": 1, ', 1), False),
    ("a key twice, one escaped", lambda text: '{"\\u0076ersion": 1, ' + text[1:], False),
]


def text_items(records: Chain) -> Iterator[tuple[Item, bool]]:
    anchor = export_anchor(records.store)
    fresh = bundle.build_bundle(records.store, records.store.tree, IDENTITY, 6)
    text = json.dumps(_hex_form(fresh))
    for label, make, valid in TEXT_FORMS:
        made = make(text)
        assert made != text, label
        yield _item(f"{records.suite.name}/text: {label}", anchor, made), valid


# ---- the shared vectors ------------------------------------------------------------------


def vector_items() -> Iterator[Item]:
    """Every case of bundle.json, inclusion.json and multi.json, both suites, both forms."""
    for file, field, kind in (("bundle.json", "bundle", "state"),
                              ("inclusion.json", "inclusion", "inclusion"),
                              ("multi.json", "multi", "multi")):
        for entry in json.loads((VECTORS / file).read_text("utf-8")):
            raw = jsonform.tagged_from_json(entry["anchor"])
            anchor = Anchor.of(get_suite(entry["suite"]), Header.from_obj(raw["header"]),
                               validators_from_obj(raw["validators"]))
            for case in entry["cases"]:
                obj = jsonform.tagged_from_json(case[field])
                item_id = f"{entry['suite']}/vector {file}: {case['name']}"
                text = json.dumps(jsonform.to_json(obj, SCHEMAS[kind]), ensure_ascii=False)
                yield {**_item(f"{item_id} [json]", anchor, text), "valid": case["valid"]}
                ce = encoding.encode(obj)
                yield {**_item(f"{item_id} [ce]", anchor, ce), "valid": case["valid"]}


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


def signature_items() -> Iterator[Item]:
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


def _run_node(items: list[Item], tmp_path: Path) -> dict[str, Any]:
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


def _same_entries(where: str, py: list[Any], js: list[Any]) -> None:
    assert [e["key"] for e in js] == [e["key"] for e in py], where
    for p, j in zip(py, js, strict=True):
        assert j["present"] == p["present"], f"{where}: {p['key']}"
        assert j["value_ce"] == p["value"], f"{where}: {p['key']} CE bytes"
        assert j["value_hash"] == p["value_hash"], f"{where}: {p['key']} value hash"
        if p["present"]:
            assert j["value"] == p["record"], f"{where}: {p['key']} decoded record"


def _same_transaction(where: str, py: dict[str, Any], js: dict[str, Any]) -> None:
    tx = js["tx"]
    for field in ("tx_id", "sender", "nonce", "call", "args", "chain_id", "index", "count"):
        assert tx[field] == py[field], f"{where}: tx {field} {tx[field]!r} != {py[field]!r}"
    for field in ("code", "message", "events"):
        got = js["receipt"][field]
        assert got == py["receipt"][field], f"{where}: receipt {field} {got!r}"


def _assert_same(where: str, py: dict[str, Any], js: dict[str, Any]) -> None:
    """The Python verdict (``verdict.render_json``) and the JS one say the same."""
    assert (js["ok"], js["kind"], js["form"], js["suite"]) == (
        py["valid"], py["kind"], py["form"], py["suite"]), f"{where}: JS {js}, Python {py}"
    if not py["valid"]:
        assert js["reason"] == py["reason"], f"{where}: reasons differ"
        return
    block = py["block"]
    assert (js["chain_id"], js["genesis_hash"]) == (py["chain_id"], py["genesis_hash"]), where
    assert (js["height"], js["block_hash"], js["time_ms"]) == (
        block["height"], block["hash"], block["time_ms"]), where
    if py["kind"] == "inclusion":
        _same_transaction(where, py["transaction"], js)
    else:
        _same_entries(where, py["entries"], js["entries"])


@pytest.fixture(scope="module")
def chains() -> list[tuple[Chain, Chain]]:
    return [(_records_chain(suite), txs_chain(suite)) for suite in SUITES]


def test_js_and_python_verdicts_agree_on_live_and_vector_bundles(
        chains: list[tuple[Chain, Chain]], tmp_path: Path) -> None:
    live = [item for records, txs in chains for item in live_items(records, txs)]
    tampered = [item for records, txs in chains for item in tampered_items(records, txs)]
    vectors = list(vector_items())
    texts = [pair for records, _ in chains for pair in text_items(records)]
    items = live + tampered + vectors + [item for item, _ in texts]
    results = _run_node([{k: i[k] for k in ("id", "type", "suite", "anchor", "input")}
                         for i in items], tmp_path)
    for item in items:
        runs = results[item["id"]]
        assert runs, item["id"]
        for config, js in runs.items():
            _assert_same(f"{item['id']} ({config})", item["python"], js["verdict"])
    # The sets are what they claim to be: every live bundle verifies, with presences,
    # absences, OK and failed receipts among them; every tampered one is refused; the
    # vectors are judged as their files say.
    assert all(i["python"]["valid"] for i in live)
    assert not any(i["python"]["valid"] for i in tampered)
    assert all(i["python"]["valid"] == i["valid"] for i in vectors)
    assert all(i["python"]["valid"] == valid for i, valid in texts), [
        (i["id"], i["python"].get("reason")) for i, _ in texts]
    assert all("appears twice in one object" in i["python"]["reason"]
               for i, valid in texts if not valid)
    kinds = {i["python"]["kind"] for i in live}
    assert kinds == {"state", "inclusion", "multi"}
    presences = {e["present"] for i in live if i["python"]["kind"] == "state"
                 for e in i["python"]["entries"]}
    codes = {i["python"]["transaction"]["receipt"]["code"] for i in live
             if i["python"]["kind"] == "inclusion"}
    assert presences == {True, False} and codes == {"OK", "E_DEADLINE"}
    assert len(tampered) == 2 * len(SUITES) * (
        len(STATE_TAMPERS) + 2 + len(test_bundle_inclusion.TAMPERS) + len(LIMIT_TAMPERS)
        + len(test_bundle_multi.TAMPERS)) + len(SUITES) * len(JSON_TAMPERS)


def test_js_and_python_agree_on_signatures_at_the_edges(tmp_path: Path) -> None:
    items = list(signature_items())
    results = _run_node([{k: v for k, v in i.items() if k != "python"} for i in items],
                        tmp_path)
    for item in items:
        for config, js in results[item["id"]].items():
            got = js["signature"]
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
