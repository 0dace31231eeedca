"""The repository's own vectors (``ledger/vectors``, made by ``ledger.vectorgen``) equal the
shared ones byte for byte, the committed copy is current, and what the generator takes from
the shared files is only what it says it takes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ledger import jsonform
from ledger.vectorgen import FILES, OWN_DIR, SHARED_DIR, dump, generate
from ledger.vectorgen.taken import Taken


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return generate(Taken(SHARED_DIR))


@pytest.mark.parametrize("name", FILES)
def test_generated_vectors_equal_the_shared_ones(generated: dict[str, Any], name: str) -> None:
    shared = (SHARED_DIR / f"{name}.json").read_text("utf-8")
    assert generated[name] == json.loads(shared)
    assert dump(generated[name]) == shared


@pytest.mark.parametrize("name", FILES)
def test_committed_copy_is_what_the_generator_writes(generated: dict[str, Any],
                                                     name: str) -> None:
    assert (OWN_DIR / f"{name}.json").read_text("utf-8") == dump(generated[name])


def test_every_shared_vector_file_has_an_own_copy() -> None:
    assert sorted(p.stem for p in SHARED_DIR.glob("*.json")) == sorted(FILES)


def _altered_copy(tmp_path: Path, name: str, suite: str, change: Any) -> Taken:
    for p in SHARED_DIR.glob("*.json"):
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / f"{name}.json"
    data = json.loads(path.read_text("utf-8"))
    for entry in data:
        if entry["suite"] == suite:
            for case in entry["cases"]:
                change(case[name])
    path.write_text(json.dumps(data), "utf-8")
    return Taken(tmp_path)


def _zero_votes(b: dict[str, Any]) -> None:
    for qc in [b["qc"], *(e["qc"] for e in b["validator_chain"])]:
        for vote in qc["votes"]:
            vote[1] = {"$bin": "00" * 64}


def test_ed25519_signatures_are_made_afresh_not_taken(generated: dict[str, Any],
                                                      tmp_path: Path) -> None:
    taken = _altered_copy(tmp_path, "bundle", "ed25519-sha256", _zero_votes)
    assert generate(taken)["bundle"] == generated["bundle"]


def test_an_sm2_signature_that_does_not_verify_is_not_taken(tmp_path: Path) -> None:
    taken = _altered_copy(tmp_path, "multi", "sm2-sm3", _zero_votes)
    with pytest.raises(LookupError, match="no sm2-sm3 signature"):
        generate(taken)


def test_a_taken_block_hash_must_agree_across_cases(tmp_path: Path) -> None:
    shutil.copytree(SHARED_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "multi.json"
    data = json.loads(path.read_text("utf-8"))
    cases = data[0]["cases"]
    cases.append(json.loads(json.dumps(cases[0])))
    cases[-1]["multi"]["header"]["prev_hash"] = {"$bin": "22" * 32}
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(LookupError, match="2 values of prev_hash"):
        generate(Taken(tmp_path))


def test_the_own_vectors_verify_with_the_library() -> None:
    """A reader of ``ledger/vectors`` alone (no shared folder) gets the same verdicts."""
    from ledger.verdict import verify_any
    from tests.test_vectors_inclusion import anchor_of

    for name, field in (("bundle", "bundle"), ("inclusion", "inclusion"), ("multi", "multi")):
        for entry in json.loads((OWN_DIR / f"{name}.json").read_text("utf-8")):
            anchor = anchor_of(entry)
            for case in entry["cases"]:
                data = json.dumps(jsonform.tagged_from_json(case[field]), default=bytes.hex)
                assert verify_any(data, anchor).valid == case["valid"], case["name"]
