"""``vectors/smt.json`` (PROTOCOL §6): every state proof case, for both suites.

Valid cases verify and prove presence (value given) or absence (value null); tampered cases
fail. The state the vectors were made from is rebuilt (one identity record and forty credit
records, in the pattern the vectors' values show) so the tree's root and its proofs can be
compared byte for byte with the file, not only verified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.crypto import ZERO_HASH, get_suite
from ledger.encoding import encode
from ledger.errors import ProofError
from ledger.kv import MemoryKV
from ledger.smt import StateTree
from ledger.smt_proof import Proof, verify_proof
from tests.naive_smt import naive_proof, naive_root

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def _unbin(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"$bin"}:
            return bytes.fromhex(obj["$bin"])
        return {k: _unbin(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unbin(v) for v in obj]
    return obj


SUITES: list[dict[str, Any]] = _unbin(json.loads((VECTORS / "smt.json").read_text("utf-8")))
CASES = [(s, i) for s in SUITES for i in range(len(s["cases"]))]


def _case_id(param: tuple[dict[str, Any], int]) -> str:
    suite, index = param
    case = suite["cases"][index]
    return f"{suite['suite']}-{index}-{'valid' if case['valid'] else 'invalid'}"


def _vector_state() -> dict[str, bytes]:
    identity = {"name": "汕尾某建设有限公司", "status": "active"}
    state = {"identity/91440300MA5F00000X": encode(identity)}
    for i in range(40):
        key = f"credit/{914400000000000000 + i:018d}/rec{i % 3}"
        record = {"issuer": "gd-credit", "level": i % 5, "valid_to_ms": 1800000000000 + i}
        state[key] = encode(record)
    return state


def test_both_suites_are_covered() -> None:
    assert sorted(s["suite"] for s in SUITES) == ["ed25519-sha256", "sm2-sm3"]
    for s in SUITES:
        kinds = {(c["valid"], c["value"] is None) for c in s["cases"]}
        assert kinds == {(True, False), (True, True), (False, False), (False, True)}


@pytest.mark.parametrize("vector", SUITES, ids=lambda s: s["suite"])
def test_empty_root(vector: dict[str, Any]) -> None:
    suite = get_suite(vector["suite"])
    assert vector["empty_root"] == ZERO_HASH
    assert StateTree(suite, MemoryKV()).root == vector["empty_root"]
    assert naive_root(suite, {}) == vector["empty_root"]


@pytest.mark.parametrize("vector", SUITES, ids=lambda s: s["suite"])
def test_rebuilt_state_gives_the_vector_root(vector: dict[str, Any]) -> None:
    suite = get_suite(vector["suite"])
    state = _vector_state()
    for case in vector["cases"]:
        if case["valid"] and case["value"] is not None:
            assert state[case["key"]] == case["value"]
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    assert tree.apply(state, kv.batch(), 1) == vector["root"]
    assert naive_root(suite, state) == vector["root"]


@pytest.mark.parametrize("param", CASES, ids=_case_id)
def test_case(param: tuple[dict[str, Any], int]) -> None:
    vector, index = param
    case = vector["cases"][index]
    suite = get_suite(vector["suite"])
    proof = Proof.from_obj(case["proof"])
    assert proof.to_obj() == case["proof"]
    if not case["valid"]:
        with pytest.raises(ProofError):
            verify_proof(suite, vector["root"], case["key"], proof, case["value"])
        return
    verify_proof(suite, vector["root"], case["key"], proof, case["value"])
    # A proof of presence is not one of absence or of another value, and the reverse.
    others = [None, case["value"] + b"\x00"] if case["value"] is not None else [b"\xc0"]
    for other in others:
        with pytest.raises(ProofError):
            verify_proof(suite, vector["root"], case["key"], proof, other)
    state = _vector_state()
    kv = MemoryKV()
    tree = StateTree(suite, kv)
    batch = kv.batch()
    tree.apply(state, batch, 1)
    kv.write(batch)
    tree.confirm_written()
    assert tree.get_with_proof(case["key"]) == (case["value"], proof)
    assert naive_proof(suite, state, case["key"]) == proof
