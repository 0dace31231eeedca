"""Multi-key bundles (PROTOCOL §9) built from a real chain: records present and absent at
one height verify through JSON and CE; tampering any field fails with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ledger import encoding, multi
from ledger.crypto import ED25519_SHA256, SM2_SM3
from ledger.errors import InvalidInput, ProofError
from ledger.genesis import export_anchor
from tests.bundlekit import CREDIT, CREDIT_KEY, KEY, RECORD_ACTIVE, RECORD_REVOKED, txs_chain
from tests.chainkit import Chain

SUITES = [ED25519_SHA256, SM2_SM3]
FROZEN = "frozen/91350100M000100Y43"
KEYS = [KEY, FROZEN, CREDIT_KEY, "debarment/91350100M000100Y43"]


@pytest.fixture(scope="module", params=SUITES, ids=lambda s: s.name)
def chain(request: pytest.FixtureRequest) -> Chain:
    return txs_chain(request.param)


def test_records_present_and_absent_at_each_height(chain: Chain) -> None:
    anchor = export_anchor(chain.store)
    identity = {1: None, 2: RECORD_ACTIVE, 4: RECORD_ACTIVE, 5: RECORD_REVOKED,
                7: RECORD_REVOKED}
    for height, record in identity.items():
        obj = multi.build_multi(chain.store, chain.store.tree, KEYS + [KEY], height)
        got = multi.verify_multi(obj, anchor)
        as_json = json.loads(json.dumps(multi.to_json(obj)))
        assert multi.verify_multi(multi.from_json(as_json), anchor) == got
        assert multi.verify_multi(multi.decode_multi(multi.encode_multi(obj)), anchor) == got
        assert got.height == height
        # Sorted by UTF-8 bytes, the duplicate proven once.
        assert [e.key for e in got.entries] == sorted(set(KEYS))
        values = {e.key: e.value for e in got.entries}
        assert values[FROZEN] is None and values["debarment/91350100M000100Y43"] is None
        expected_identity = None if record is None else encoding.encode(record)
        assert values[KEY] == expected_identity
        assert values[CREDIT_KEY] == (None if height < 2 else encoding.encode(CREDIT))


def test_keys_sort_by_utf8_bytes_not_by_code_units() -> None:
    # U+FF21 (3 UTF-8 bytes, ef bc a1) sorts after U+00E9 (c3 a9) and both after ASCII.
    assert multi.sorted_keys(["ｂ/x", "é/x", "z/x", "é/x"]) == ["z/x", "é/x", "ｂ/x"]


def _fresh(chain: Chain) -> Any:
    return multi.build_multi(chain.store, chain.store.tree, KEYS, 5)


def _entry(key: str) -> Callable[[Any], dict[str, Any]]:
    def pick(obj: Any) -> dict[str, Any]:
        found: dict[str, Any] = next(e for e in obj["entries"] if e["key"] == key)
        return found
    return pick


TAMPERS: dict[str, tuple[Callable[[Any], None], str]] = {
    "value forged": (lambda o: _entry(KEY)(o).update(value=encoding.encode(RECORD_ACTIVE)),
                     f"state proof of {KEY!r} at block 5: state proof holds another value"),
    "present claimed absent": (lambda o: _entry(KEY)(o).update(value=None),
                               "present, not absent"),
    "absent claimed present": (lambda o: _entry(FROZEN)(o).update(value=encoding.encode(1)),
                               f"shows {FROZEN!r} absent"),
    "proof sibling dropped": (lambda o: _entry(KEY)(o)["proof"]["siblings"].pop(),
                              "state proof"),
    "key renamed": (lambda o: _entry(FROZEN)(o).update(key="frozen/zzz"), "state proof"),
    "entries reversed": (lambda o: o["entries"].reverse(), "entries are not sorted by key"),
    "key twice": (lambda o: o["entries"].append(o["entries"][-1]), "twice"),
    "entries empty": (lambda o: o.update(entries=[]), "entries is empty"),
    "header": (lambda o: o["header"].update(time_ms=o["header"]["time_ms"] + 1),
               "names another block"),
    "qc below quorum": (lambda o: o["qc"].update(votes=o["qc"]["votes"][:3]),
                        "below the quorum"),
    "validator chain dropped": (lambda o: o.update(validator_chain=[]),
                                "missing validator change"),
    "chain id": (lambda o: o.update(chain_id="elsewhere"), "wrong chain id"),
    "genesis hash": (lambda o: o.update(genesis_hash=bytes(32)), "bad genesis hash"),
    "version": (lambda o: o.update(version=3), "multi-key bundle version 3"),
    "entry field": (lambda o: o["entries"][0].update(extra=1), "malformed multi-key bundle"),
}


@pytest.mark.parametrize("name", TAMPERS)
def test_tampered_multi_fails_with_the_reason(chain: Chain, name: str) -> None:
    tamper, reason = TAMPERS[name]
    obj = _fresh(chain)
    multi.verify_multi(obj, export_anchor(chain.store))
    tamper(obj)
    with pytest.raises(ProofError) as err:
        multi.verify_multi(obj, export_anchor(chain.store))
    assert reason in str(err.value)


def test_build_refuses_no_keys_too_many_keys_and_bad_heights(chain: Chain) -> None:
    tree = chain.store.tree
    with pytest.raises(InvalidInput, match="1..256 keys"):
        multi.build_multi(chain.store, tree, [])
    with pytest.raises(InvalidInput, match="1..256 keys"):
        multi.build_multi(chain.store, tree, [f"k/{i}" for i in range(257)])
    for height in (0, 99):
        with pytest.raises(InvalidInput, match="committed height"):
            multi.build_multi(chain.store, tree, [KEY], height)
    with pytest.raises(InvalidInput, match="state key"):
        multi.build_multi(chain.store, tree, ["x" * 513])
