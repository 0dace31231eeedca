"""``ledger.verdict``: any bundle in either form, verified and described; the expectation
check; the text and JSON renderings for present, absent, inclusion and multi-key bundles."""

from __future__ import annotations

import calendar
import json
from typing import Any

import pytest

from ledger import bundle, encoding, inclusion, multi
from ledger.crypto import ED25519_SHA256, SM2_SM3
from ledger.errors import InvalidInput
from ledger.genesis import Anchor, export_anchor
from ledger.verdict import beijing_time, check_expect, render_json, render_text, verify_any
from tests.bundlekit import CREDIT, CREDIT_KEY, KEY, RECORD_REVOKED, txs_chain
from tests.chainkit import Chain

ABSENT_KEY = "debarment/91350100M000100Y43"


@pytest.fixture(scope="module", params=[ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def chain(request: pytest.FixtureRequest) -> Chain:
    return txs_chain(request.param)


def _forms(obj: Any, to_json: Any) -> list[tuple[str, bytes | str]]:
    return [("json", json.dumps(to_json(obj), ensure_ascii=False)),
            ("binary", encoding.encode(obj))]


def _anchor(chain: Chain) -> Anchor:
    return export_anchor(chain.store)


def test_beijing_time_is_utc_plus_eight_with_the_date_rolling_over() -> None:
    ms = calendar.timegm((2026, 11, 30, 7, 35, 5)) * 1000 + 999
    assert beijing_time(ms) == "2026-11-30 15:35:05 +08:00"
    assert beijing_time(calendar.timegm((2026, 12, 31, 16, 0, 0)) * 1000) == (
        "2027-01-01 00:00:00 +08:00")
    assert beijing_time(0) == "1970-01-01 08:00:00 +08:00"
    assert "outside the calendar" in beijing_time(1 << 62)


def test_present_record_in_both_forms(chain: Chain) -> None:
    obj = bundle.build_bundle(chain.store, chain.store.tree, KEY, 5)
    header = chain.store.header(5)
    assert header is not None
    for form, data in _forms(obj, bundle.to_json):
        v = verify_any(data, _anchor(chain))
        assert (v.valid, v.kind, v.form, v.height) == (True, "state", form, 5)
        assert v.chain_id == "test-chain" and v.time_ms == header.time_ms
        assert v.block_hash == header.hash(chain.suite)
        assert v.genesis_hash == _anchor(chain).genesis_hash()
        (entry,) = v.entries
        assert (entry.key, entry.present, entry.record) == (KEY, True, RECORD_REVOKED)
        assert entry.value_hash == chain.suite.hd(0x12, encoding.encode(RECORD_REVOKED))
        assert check_expect(v, "present").met
        assert not check_expect(v, "absent").met
    text = render_text(v, check_expect(v, "present"))
    assert text.startswith("VALID: state bundle (PROTOCOL §7)")
    assert f"PRESENT {KEY}" in text and '"status": "revoked"' in text
    assert f"committed {beijing_time(header.time_ms)}" in text
    assert text.rstrip().endswith(f"YES: as expected, {KEY} is present")


def test_absent_record_says_absent_and_fails_an_expectation_of_present(chain: Chain) -> None:
    obj = bundle.build_bundle(chain.store, chain.store.tree, ABSENT_KEY)
    v = verify_any(json.dumps(bundle.to_json(obj)), _anchor(chain))
    assert v.valid and [(e.key, e.present) for e in v.entries] == [(ABSENT_KEY, False)]
    wrong = check_expect(v, "present")
    assert not wrong.met and wrong.message == f"expected present, but {ABSENT_KEY} is absent"
    assert check_expect(v, "absent").met
    text = render_text(v, wrong)
    assert f"ABSENT  {ABSENT_KEY}: no record under this key as of block 7" in text
    assert "PRESENT" not in text and text.rstrip().endswith("is absent")
    out = render_json(v, wrong)
    assert out["entries"] == [{"key": ABSENT_KEY, "present": False, "record": None,
                               "value": None, "value_hash": None}]
    assert out["expect"]["met"] is False


def test_multi_records_with_bytes_are_tagged_in_json(chain: Chain) -> None:
    obj = multi.build_multi(chain.store, chain.store.tree, [KEY, CREDIT_KEY, ABSENT_KEY], 6)
    for form, data in _forms(obj, multi.to_json):
        v = verify_any(data, _anchor(chain))
        assert (v.valid, v.kind, v.form) == (True, "multi", form)
    assert [(e.key, e.present) for e in v.entries] == [
        (CREDIT_KEY, True), (ABSENT_KEY, False), (KEY, True)]
    assert check_expect(v, "present", KEY).met and check_expect(v, "absent", ABSENT_KEY).met
    everything = check_expect(v, "present")
    assert not everything.met and ABSENT_KEY in everything.message
    with pytest.raises(InvalidInput, match="does not cover key"):
        check_expect(v, "present", "identity/other")
    out = json.loads(json.dumps(render_json(v)))
    credit = out["entries"][0]
    digest = CREDIT["digest"]
    assert isinstance(digest, bytes)
    assert credit["record"]["digest"] == {"$bin": digest.hex()}
    assert credit["value_hash"] == v.entries[0].value_hash.hex()  # type: ignore[union-attr]
    assert out["block"]["height"] == 6 and out["block"]["time"].endswith("+08:00")
    text = render_text(v)
    assert text.count("PRESENT") == 2 and text.count("ABSENT") == 1


def test_inclusion_shows_the_transaction_and_its_outcome(chain: Chain) -> None:
    block = chain.store.block(4)
    assert block is not None
    tx = block.txs[3]
    obj = inclusion.build_inclusion(chain.store, tx.tx_id(chain.suite))
    for form, data in _forms(obj, inclusion.to_json):
        v = verify_any(data, _anchor(chain))
        assert (v.valid, v.kind, v.form, v.height) == (True, "inclusion", form, 4)
    assert v.tx is not None and v.entries == ()
    assert (v.tx.sender, v.tx.nonce, v.tx.call) == (tx.body.sender, 3, "bid.submit")
    assert v.tx.args["commitment"] == {"$bin": tx.body.args["commitment"].hex()}
    assert (v.tx.code, v.tx.message, v.tx.events) == ("E_DEADLINE", "after the deadline", [])
    with pytest.raises(InvalidInput, match="not to an inclusion bundle"):
        check_expect(v, "present")
    text = render_text(v)
    assert f"transaction {tx.tx_id(chain.suite).hex()}" in text
    assert "outcome E_DEADLINE: after the deadline" in text and "call bid.submit" in text
    out = json.loads(json.dumps(render_json(v)))
    assert out["transaction"]["receipt"] == {"code": "E_DEADLINE",
                                             "message": "after the deadline", "events": []}
    ok = inclusion.build_inclusion(chain.store, block.txs[0].tx_id(chain.suite))
    v_ok = verify_any(encoding.encode(ok), _anchor(chain))
    assert v_ok.tx is not None and v_ok.tx.events[0]["type"] == "bid.sealed"
    assert "event {" in render_text(v_ok)


def test_a_failing_bundle_says_why_and_claims_nothing(chain: Chain) -> None:
    obj = bundle.build_bundle(chain.store, chain.store.tree, KEY)
    obj["value"] = encoding.encode({"name": "冒名"})
    v = verify_any(json.dumps(bundle.to_json(obj)), _anchor(chain))
    assert not v.valid and v.kind == "state" and "another value" in (v.reason or "")
    assert v.entries == () and v.height is None and v.chain_id is None
    assert not check_expect(v, "present").met
    text = render_text(v)
    assert text.startswith("NOT VALID: state bundle") and "Nothing in this bundle is proven" in text
    assert "冒名" not in text
    assert render_json(v) == {"valid": False, "kind": "state", "form": "json",
                              "suite": chain.suite.name, "reason": v.reason}


@pytest.mark.parametrize(("data", "reason"), [
    (b"{not json", "not a JSON document"),
    (b"\xc1", "not JSON, so read as its CE bytes"),
    (json.dumps({"hello": 1}), "not a proof bundle"),
    (json.dumps({"question": {}, "bundle": {}}), "an eligibility answer, not a proof bundle"),
    (json.dumps({"key": "k", "tx": "00"}), "not a proof bundle"),
    (encoding.encode([1, 2]), "not a proof bundle"),
    (b"{\"a\":" * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    (b'{"key": "' + b"x" * (25 << 20) + b'"}', "a JSON bundle is at most"),
    (json.dumps({"key": "k", "value": "ABCD"}), "lowercase hex"),
])
def test_what_is_not_a_bundle_is_refused_with_a_reason(
    chain: Chain, data: bytes | str, reason: str
) -> None:
    v = verify_any(data, _anchor(chain))
    assert not v.valid and reason in (v.reason or "")


def test_expect_accepts_only_present_or_absent(chain: Chain) -> None:
    v = verify_any(encoding.encode(bundle.build_bundle(chain.store, chain.store.tree, KEY)),
                   _anchor(chain))
    with pytest.raises(InvalidInput, match="'present' or 'absent'"):
        check_expect(v, "maybe")


def test_proven_values_without_a_json_form_stay_valid_and_are_marked() -> None:
    """A record that is not canonical encoding is still proven: the verdict is valid,
    marks it unreadable and keeps the CE bytes. Args holding a map whose only key is "$bin"
    (tagged JSON would read it back as bytes) are shown escaped, ``{"$map": …}``."""
    from ledger.verdict import UNREADABLE

    chain = Chain.new(ED25519_SHA256)
    odd = chain.tx("bidder-a", 0, "demo.put", {"odd": {"$bin": b"\x01"}, "n": 1})
    chain.extend({"demo/raw": b"\xc1", "demo/odd": encoding.encode({"$bin": "x", "k": b"\x02"})},
                 [odd])
    anchor = export_anchor(chain.store)
    v = verify_any(encoding.encode(multi.build_multi(chain.store, chain.store.tree,
                                                     ["demo/raw", "demo/odd"])), anchor)
    assert v.valid
    raw, other = {e.key: e for e in v.entries}["demo/raw"], {e.key: e for e in v.entries}[
        "demo/odd"]
    assert raw.record == UNREADABLE and raw.value == b"\xc1"
    # "$bin" beside another key stays a map, so it has a tagged form.
    assert other.record == {"$bin": "x", "k": {"$bin": "02"}}
    v_tx = verify_any(encoding.encode(inclusion.build_inclusion(chain.store,
                                                                odd.tx_id(chain.suite))), anchor)
    assert v_tx.valid and v_tx.tx is not None
    assert v_tx.tx.args == {"odd": {"$map": {"$bin": {"$bin": "01"}}}, "n": 1}


def test_tagged_json_round_trips_a_map_with_a_bin_key_beside_others() -> None:
    from ledger import jsonform

    value = {"$bin": "aa", "x": [b"\x00", {"$bin": 1, "y": None}]}
    assert jsonform.tagged_from_json(json.loads(json.dumps(jsonform.tagged_to_json(value)))) == (
        value)
    # a map whose only key is a tag is escaped, and reads back as it was (the JS verifier's
    # tests/js/forms.test.mjs writes these same values)
    lone = {"k": {"$bin": b"\x01"}, "m": {"$map": 5}}
    escaped = {"k": {"$map": {"$bin": {"$bin": "01"}}}, "m": {"$map": {"$map": 5}}}
    assert jsonform.tagged_to_json(lone) == escaped
    assert jsonform.tagged_from_json(escaped) == lone
    for bad in ({"$map": {"a": 1}}, {"$map": 5}):
        with pytest.raises(InvalidInput, match="\\$map must be a map whose only key"):
            jsonform.tagged_from_json(bad)


def test_a_json_bundle_with_bad_hex_is_refused_as_its_kind(chain: Chain) -> None:
    as_json = multi.to_json(multi.build_multi(chain.store, chain.store.tree, [KEY]))
    as_json["genesis_hash"] = as_json["genesis_hash"].upper()
    v = verify_any(json.dumps(as_json), _anchor(chain))
    assert (v.valid, v.kind, v.form) == (False, "multi", "json")
    assert "malformed multi-key bundle" in (v.reason or "") and "lowercase hex" in (v.reason or "")
    lone_surrogate = verify_any('{"key": "\ud800"}', _anchor(chain))
    assert not lone_surrogate.valid and "not a JSON document" in (lone_surrogate.reason or "")


def test_long_byte_strings_are_shortened_in_text_only() -> None:
    from ledger.verdict import SHOWN_HEX_CHARS, _compact

    record: dict[str, Any] = {"sealed": {"$bin": "ab" * 4136}, "hash": {"$bin": "cd" * 32},
              "list": [{"$bin": "ef" * 100}]}
    text = _compact(record)
    assert "(4136 bytes)" in text and "(100 bytes)" in text and "cd" * 32 in text
    assert "ab" * (SHOWN_HEX_CHARS // 2 + 1) not in text
    assert record["sealed"]["$bin"] == "ab" * 4136  # the value itself is left whole


def test_an_answer_about_many_keys_names_a_few_and_counts_the_rest(chain: Chain) -> None:
    """The verdict lists every key; the one-line answer to --expect names three and counts
    the others (walk: a 256-key bundle's answer was one line of 128 kB)."""
    absent = [f"debarment/absent-{i:03d}" for i in range(40)]
    v = verify_any(encoding.encode(multi.build_multi(chain.store, chain.store.tree, absent)),
                   _anchor(chain))
    yes = check_expect(v, "absent")
    assert yes.met and yes.message == "as expected, each of the 40 keys is absent"
    no = check_expect(v, "present")
    assert not no.met and no.message == (
        f"expected present, but {', '.join(sorted(absent)[:3])} and 37 more are absent")
    few = verify_any(encoding.encode(multi.build_multi(chain.store, chain.store.tree,
                                                       absent[:2])), _anchor(chain))
    assert check_expect(few, "absent").message == (
        f"as expected, {absent[0]}, {absent[1]} are absent")
