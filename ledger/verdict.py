"""What a bundle proved, said plainly: verify any §7, §8 or §9 bundle and describe the result.

``verify_any(data, anchor)`` takes a bundle as it arrives (its JSON form or its CE bytes;
the form and the kind are detected) and returns a ``Verdict``: valid or not and why; the
kind (``state`` §7, ``inclusion`` §8, ``multi`` §9); the chain id and genesis hash; the block
(height, hash, time in ms and in Beijing time); for state bundles each key present or absent
with its decoded record and value hash; for inclusion bundles the transaction (sender, nonce,
call, decoded args) and its receipt (code, message, events). A bundle that fails says only
why: nothing it claims is repeated as if it were proven.

``check_expect(verdict, "present" | "absent", key=None)`` answers "is this what I asked?"
for state bundles (the whole §7 bundle; every §9 entry, or the one named by ``key``), so a
command's exit code can answer the question asked. ``render_text`` is for people,
``render_json`` for programs. JSON follows ``ledger.jsonform``'s convention: hashes and other
schema-typed bytes as lowercase hex; untyped values (records, args, events) tagged,
``{"$bin": "<hex>"}`` for a byte string. A proven value with no JSON form (bytes that are
not canonical encoding) is shown as ``UNREADABLE``; it does not make a valid bundle
invalid. Nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from ledger import bundle, encoding, inclusion, jsonform, multi, tags
from ledger.block import Header
from ledger.errors import InvalidInput, ProofError
from ledger.genesis import Anchor

Kind = Literal["state", "inclusion", "multi"]
Form = Literal["json", "binary"]
Expect = Literal["present", "absent"]
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# datetime reaches year 9999; later (or negative) times are shown as raw milliseconds only.
_MAX_TIME_MS = 253_402_300_799_999
# A JSON bundle writes each byte as two hex digits, plus field names and punctuation.
MAX_JSON_BYTES = 3 * bundle.MAX_BUNDLE_BYTES
_TITLES = {"state": "state bundle (PROTOCOL §7)", "inclusion": "inclusion bundle (PROTOCOL §8)",
           "multi": "multi-key bundle (PROTOCOL §9)"}


@dataclass(frozen=True)
class Entry:
    """One key of a state bundle: present with ``record`` (decoded, JSON-friendly, bytes
    tagged) and ``value`` (its CE bytes), or absent."""

    key: str
    present: bool
    record: Any = None
    value: bytes | None = None
    value_hash: bytes | None = None


@dataclass(frozen=True)
class TxOutcome:
    """The transaction an inclusion bundle proves, and its receipt (args, events tagged).
    ``index`` and ``count`` are as the bundle states them: the tx and receipt paths agree
    with them, but a header does not commit to its block's transaction count (§8)."""

    tx_id: bytes
    sender: bytes
    nonce: int
    call: str
    args: Any
    chain_id: str
    index: int
    count: int
    code: str
    message: str
    events: list[Any]


@dataclass(frozen=True)
class Verdict:
    """What a bundle proved against one anchor (``valid``), or why it proves nothing."""

    valid: bool
    kind: Kind | None
    form: Form | None
    suite: str
    reason: str | None = None
    chain_id: str | None = None
    genesis_hash: bytes | None = None
    height: int | None = None
    block_hash: bytes | None = None
    time_ms: int | None = None
    entries: tuple[Entry, ...] = field(default_factory=tuple)
    tx: TxOutcome | None = None

    @property
    def time_beijing(self) -> str | None:
        return None if self.time_ms is None else beijing_time(self.time_ms)


@dataclass(frozen=True)
class Expectation:
    """Whether a verdict answers ``expect`` for ``key`` (None: every key) with yes."""

    expect: Expect
    key: str | None
    met: bool
    message: str


def beijing_time(time_ms: int) -> str:
    """``time_ms`` (Unix ms, UTC) as Beijing time, ``2026-11-30 15:35:05 +08:00``."""
    if not 0 <= time_ms <= _MAX_TIME_MS:
        return f"{time_ms} ms (outside the calendar)"
    moment = (_EPOCH + timedelta(milliseconds=time_ms)).astimezone(BEIJING)
    return f"{moment:%Y-%m-%d %H:%M:%S} +08:00"


# ---- reading and verifying ---------------------------------------------------------------


_KIND_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("key", "state"), ("tx", "inclusion"), ("entries", "multi"))


def _json_number(text: str) -> int | float:
    """A JSON number with a fraction or exponent: the integer it equals when it is whole
    (``1.0``, ``6.63e2``), as JSON itself and the browser's verifier (``JSON.parse``) read
    it, so that both give one verdict; else a float, which no bundle field accepts. A whole
    number past 20 digits stays a float: no field holds one, and an exponent of a billion
    would make a giant integer."""
    number = Decimal(text)
    if number.is_finite() and number == number.to_integral_value() and number.adjusted() < 20:
        return int(number)
    return float(text)


def read_form(data: bytes | str) -> tuple[Form, Any]:
    """``("json", parsed JSON)`` when ``data`` starts with ``{`` (after a UTF-8 byte order
    mark, which some editors write), else ``("binary", decoded CE)``; ProofError when it is
    neither."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProofError(f"not a JSON document: {exc}") from None
    if data.startswith(codecs.BOM_UTF8):  # (0xef starts no bundle's CE: a negative integer)
        data = data[len(codecs.BOM_UTF8):]
    first = data.lstrip()[:1]
    # No bundle's CE starts with "[" or '"' (a map header is 0x80-0x8f, 0xde-0xdf): such a
    # document is read as JSON too, to say what it is instead.
    if first not in (b"{", b"[", b'"'):
        return "binary", bundle.decode_form(data, "bundle (not JSON, so read as its CE bytes)")
    if len(data) > MAX_JSON_BYTES:
        raise ProofError(f"a JSON bundle is at most {MAX_JSON_BYTES} bytes, got {len(data)}")
    try:
        obj = json.loads(data, parse_float=_json_number, object_pairs_hook=jsonform.unique_keys)
    except (ValueError, UnicodeDecodeError) as exc:
        if first != b"{":
            return "binary", bundle.decode_form(data, "bundle (not JSON, so read as its CE "
                                                      "bytes)")
        raise ProofError(f"not a JSON document: {exc}") from None
    except RecursionError:
        raise ProofError("not a bundle: the JSON document is nested too deeply") from None
    if first != b"{":
        kind = "an array" if isinstance(obj, list) else "a string"
        raise ProofError(f"not a bundle: a bundle is a JSON object, this is {kind}")
    return "json", obj


def detect_kind(obj: Any) -> Kind:
    """§7 names a ``key``, §8 a ``tx``, §9 ``entries``; anything else is not a bundle."""
    if isinstance(obj, Mapping):
        kinds = [kind for name, kind in _KIND_FIELDS if name in obj]
        if len(kinds) == 1:
            return kinds[0]
        if set(obj) == {"question", "bundle"}:  # contracts.eligibility's envelope
            raise ProofError("an eligibility answer, not a proof bundle: `credchain verify "
                             "FILE --anchor ANCHOR` re-applies its rule; its 'bundle' field "
                             "alone is a §9 bundle of the records the rule reads")
    raise ProofError("not a proof bundle: a map with one of 'key' (§7), 'tx' (§8) or "
                     "'entries' (§9) was expected")


_FROM_JSON = {"state": bundle.from_json, "inclusion": inclusion.from_json,
              "multi": multi.from_json}


def load(data: bytes | str) -> tuple[Form, Kind, Any]:
    """The form, the kind and the binary-form object of a bundle as it arrives; ProofError
    when it is neither form, no bundle kind, or (JSON) has bytes that are not hex."""
    form, raw = read_form(data)
    kind = detect_kind(raw)
    return form, kind, _FROM_JSON[kind](raw) if form == "json" else raw


def verify_any(data: bytes | str, anchor: Anchor) -> Verdict:
    """Verify a bundle of any kind in either form against ``anchor``; never raises for a bad
    bundle (the verdict says why it is not valid, and which kind it looked like)."""
    form: Form | None = None
    kind: Kind | None = None
    try:
        form, raw = read_form(data)
        kind = detect_kind(raw)
        obj = _FROM_JSON[kind](raw) if form == "json" else raw
        return _verified(kind, form, obj, anchor)
    except InvalidInput as exc:
        # ProofError is an InvalidInput; both mean "this bundle proves nothing".
        return Verdict(False, kind, form, anchor.suite.name, reason=str(exc))


def _verified(kind: Kind, form: Form, obj: Any, anchor: Anchor) -> Verdict:
    if kind == "state":
        record = bundle.verify_bundle(obj, anchor)
        return _block(kind, form, anchor, record.header,
                      entries=(_entry(anchor, record.key, record.value),))
    if kind == "multi":
        proven = multi.verify_multi(obj, anchor)
        entries = tuple(_entry(anchor, e.key, e.value) for e in proven.entries)
        return _block(kind, form, anchor, proven.header, entries=entries)
    inc = inclusion.verify_inclusion_bundle(obj, anchor)
    body, receipt = inc.tx.body, inc.receipt
    outcome = TxOutcome(
        tx_id=inc.tx_id, sender=body.sender, nonce=body.nonce, call=body.call,
        args=_tagged(body.args), chain_id=body.chain_id,
        index=inc.index, count=inc.count, code=receipt.code, message=receipt.message,
        events=[_tagged(e) for e in receipt.events],
    )
    return _block(kind, form, anchor, inc.header, tx=outcome)


def _block(kind: Kind, form: Form, anchor: Anchor, header: Header,
           entries: tuple[Entry, ...] = (), tx: TxOutcome | None = None) -> Verdict:
    return Verdict(True, kind, form, anchor.suite.name, chain_id=header.chain_id,
                   genesis_hash=anchor.genesis_hash(), height=header.height,
                   block_hash=header.hash(anchor.suite), time_ms=header.time_ms,
                   entries=entries, tx=tx)


def _entry(anchor: Anchor, key: str, value: bytes | None) -> Entry:
    if value is None:
        return Entry(key, False)
    try:
        record = _tagged(encoding.decode(value))
    except InvalidInput:
        # The proof covers the bytes whatever they hold; ``value`` still shows them.
        record = UNREADABLE
    return Entry(key, True, record, value, anchor.suite.hd(tags.STATE_VALUE, value))


# What a verdict shows for a proven value with no JSON form (bytes that are not canonical
# encoding).
UNREADABLE = {"unreadable": "this value has no JSON form; its CE bytes are in 'value'"}


def _tagged(value: Any) -> Any:
    try:
        return jsonform.tagged_to_json(value)
    except InvalidInput:
        return UNREADABLE


# ---- the question asked ------------------------------------------------------------------


def check_expect(verdict: Verdict, expect: str, key: str | None = None) -> Expectation:
    """Does ``verdict`` show ``key`` (every key when None) ``expect``ed, present or absent?
    InvalidInput for an inclusion bundle (it proves a transaction, not a record), an
    ``expect`` other than the two words, or a key the bundle does not cover."""
    if expect not in ("present", "absent"):
        raise InvalidInput(f"expect must be 'present' or 'absent', got {expect!r}")
    want: Expect = "present" if expect == "present" else "absent"
    if verdict.kind == "inclusion":
        raise InvalidInput("present/absent applies to state bundles (§7, §9), "
                           "not to an inclusion bundle")
    if not verdict.valid:
        return Expectation(want, key, False, f"expected {want}, but the bundle is not valid")
    entries = verdict.entries
    if key is not None:
        entries = tuple(e for e in verdict.entries if e.key == key)
        if not entries:
            raise InvalidInput(f"the bundle does not cover key {key!r}")
    wrong = [e.key for e in entries if e.present != (want == "present")]
    if wrong:
        other = "absent" if want == "present" else "present"
        return Expectation(want, key, False, f"expected {want}, but {_named(wrong)} {other}")
    keys = [e.key for e in entries]
    what = (_named(keys) if len(keys) <= NAMED_KEYS_MAX
            else f"each of the {len(keys)} keys is")
    return Expectation(want, key, True, f"as expected, {what} {want}")


NAMED_KEYS_MAX = 3  # keys an answer names; the verdict above it lists every one


def _named(keys: list[str]) -> str:
    """The keys an answer names, with their verb: a few in full, then how many more (a
    bundle holds up to 256 keys of up to 512 characters: one answer line of 128 kB)."""
    shown = ", ".join(keys[:NAMED_KEYS_MAX])
    more = len(keys) - NAMED_KEYS_MAX
    return (f"{shown} and {more} more" if more > 0 else shown) + (
        " is" if len(keys) == 1 else " are")


# ---- rendering ---------------------------------------------------------------------------


def render_json(verdict: Verdict, expectation: Expectation | None = None) -> dict[str, Any]:
    """The verdict as a JSON-ready map (hashes hex; records, args and events tagged)."""
    out: dict[str, Any] = {"valid": verdict.valid, "kind": verdict.kind, "form": verdict.form,
                           "suite": verdict.suite}
    if not verdict.valid:
        out["reason"] = verdict.reason
    else:
        out["chain_id"] = verdict.chain_id
        out["genesis_hash"] = _hex(verdict.genesis_hash)
        out["block"] = {"height": verdict.height, "hash": _hex(verdict.block_hash),
                        "time_ms": verdict.time_ms, "time": verdict.time_beijing}
        if verdict.kind in ("state", "multi"):
            out["entries"] = [_entry_json(e) for e in verdict.entries]
        if verdict.tx is not None:
            out["transaction"] = _tx_json(verdict.tx)
    if expectation is not None:
        out["expect"] = {"expect": expectation.expect, "key": expectation.key,
                         "met": expectation.met, "message": expectation.message}
    return out


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def _entry_json(e: Entry) -> dict[str, Any]:
    return {"key": e.key, "present": e.present, "record": e.record, "value": _hex(e.value),
            "value_hash": _hex(e.value_hash)}


def _tx_json(t: TxOutcome) -> dict[str, Any]:
    return {"tx_id": t.tx_id.hex(), "sender": t.sender.hex(), "nonce": t.nonce,
            "call": t.call, "args": t.args, "chain_id": t.chain_id, "index": t.index,
            "count": t.count,
            "receipt": {"code": t.code, "message": t.message, "events": t.events}}


def render_text(verdict: Verdict, expectation: Expectation | None = None) -> str:
    """The verdict for a person to read, one fact per line."""
    title = _TITLES[verdict.kind] if verdict.kind else "bundle"
    if not verdict.valid:
        lines = [f"NOT VALID: {title}", f"  reason: {verdict.reason}",
                 "  Nothing in this bundle is proven."]
    else:
        lines = [
            f"VALID: {title}, checked against the genesis anchor ({verdict.suite})",
            f"  chain:  {verdict.chain_id} (genesis {_hex(verdict.genesis_hash)})",
            f"  block:  {verdict.height}, committed {verdict.time_beijing} "
            f"({verdict.time_ms} ms), hash {_hex(verdict.block_hash)}",
        ]
        for e in verdict.entries:
            lines += _entry_text(e, verdict.height)
        if verdict.tx is not None:
            lines += _tx_text(verdict.tx, verdict.height)
    if expectation is not None:
        verdict_word = "YES" if expectation.met else "NO"
        lines.append(f"{verdict_word}: {expectation.message}")
    return "\n".join(lines) + "\n"


SHOWN_HEX_CHARS = 64  # longer byte strings are shortened in text (``--json`` has them whole)


def _compact(value: Any) -> str:
    return json.dumps(_shortened(value), ensure_ascii=False, sort_keys=True,
                      separators=(", ", ": "))


def _shortened(value: Any) -> Any:
    """Tagged JSON with each long ``{"$bin": hex}`` cut to its start and its length, for a
    person reading text (an encrypted bid summary is kilobytes of hex)."""
    if isinstance(value, dict):
        if set(value) == {"$bin"} and isinstance(value["$bin"], str) and \
                len(value["$bin"]) > SHOWN_HEX_CHARS:
            hex_text = value["$bin"]
            return {"$bin": f"{hex_text[:SHOWN_HEX_CHARS]}… ({len(hex_text) // 2} bytes)"}
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value


def _entry_text(e: Entry, height: int | None) -> list[str]:
    if not e.present:
        return [f"  ABSENT  {e.key}: no record under this key as of block {height}"]
    return [f"  PRESENT {e.key}",
            f"          record {_compact(e.record)}",
            f"          value hash {_hex(e.value_hash)}"]


def _tx_text(t: TxOutcome, height: int | None) -> list[str]:
    lines = [
        f"  transaction {t.tx_id.hex()}",
        f"          committed in block {height} (index {t.index} of {t.count} as the bundle "
        "states; a header does not fix its block's size)",
        f"          sender {t.sender.hex()}, nonce {t.nonce}, call {t.call}",
        f"          args {_compact(t.args)}",
        f"  outcome {t.code}" + (f": {t.message}" if t.message else ""),
    ]
    lines += [f"          event {_compact(ev)}" for ev in t.events]
    return lines
