// The JSON and binary forms at the edge of verifyBundle: strict lowercase hex, fields only
// from the schema, integers JSON can carry exactly, CE that is canonical, a kind told by its
// fields; every bad input is a verdict with a reason, never an exception.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeEntry } from '../../shell/web/verify/record.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';
import { encode, toHex, verifyBundle } from '../../shell/web/verify/index.mjs';
import { BUNDLE, fromJson, taggedFromJson, taggedToJsonValue, toJson } from '../../shell/web/verify/json.mjs';
import { anchorFileOf, readVectors } from './support.mjs';

const ENTRY = readVectors('bundle.json')[0];
const ANCHOR = anchorFileOf(ENTRY);
const VALID = taggedFromJson(ENTRY.cases.find((c) => c.valid).bundle);

function validJson() {
  return toJson(VALID, BUNDLE);
}

async function reasonFor(input) {
  const verdict = await verifyBundle(input, ANCHOR);
  assert.equal(verdict.ok, false);
  return verdict.reason;
}

test('hex must be lowercase and of even length', async () => {
  const upper = { ...validJson(), genesis_hash: validJson().genesis_hash.toUpperCase() };
  assert.equal(await reasonFor(upper),
    'malformed bundle: bundle.genesis_hash must be lowercase hex of even length');
  const odd = validJson();
  odd.header.state_root = odd.header.state_root.slice(1);
  assert.equal(await reasonFor(odd),
    'malformed bundle: bundle.header.state_root must be lowercase hex of even length');
  const notText = { ...validJson(), value: 12 };
  assert.equal(await reasonFor(notText), 'malformed bundle: bundle.value must be a lowercase hex string, got int');
});

test('a field the schema does not know is refused where it is', async () => {
  const nested = validJson();
  nested.header.extra = 1;
  assert.equal(await reasonFor(nested), "malformed bundle: bundle.header has unknown field 'extra'");
});

test('a missing field and a field of the wrong type are named', async () => {
  const missing = validJson();
  delete missing.qc;
  assert.equal(await reasonFor(missing), "malformed bundle: bundle is missing field(s) ['qc']");
  const text = validJson();
  text.header.height = '7';
  assert.equal(await reasonFor(text), 'malformed bundle: header.height must be an integer, got str');
  const negative = validJson();
  negative.header.view = -1;
  assert.equal(await reasonFor(negative), 'malformed bundle: header.view must be ≥ 0, got -1');
});

test('numbers must be integers that JSON in JS carries exactly', async () => {
  const fraction = validJson();
  fraction.header.time_ms = 1.5;
  assert.equal(await reasonFor(fraction),
    'malformed bundle: bundle.header.time_ms must be text, an integer, a boolean or null');
  const huge = validJson();
  huge.header.time_ms = 2 ** 60;
  assert.match(await reasonFor(huge), /bundle.header.time_ms is an integer beyond 2\^53/);
});

test('CE input must be canonical and within the bound', async () => {
  const bytes = encode(VALID);
  assert.equal((await verifyBundle(bytes, ANCHOR)).ok, true);
  const trailing = Uint8Array.from([...bytes, 0]);
  assert.equal(await reasonFor(trailing),
    'malformed bundle (not JSON, so read as its CE bytes): trailing bytes after the encoded value');
  // version 1 written as uint8 (cc 01) where the positive fixint 01 is canonical.
  const at = toHex(bytes).indexOf(toHex(encode('version')) + '01') / 2 + 8;
  const widened = Uint8Array.from([...bytes.subarray(0, at), 0xcc, ...bytes.subarray(at)]);
  assert.equal(await reasonFor(widened),
    'malformed bundle (not JSON, so read as its CE bytes): encoding is not canonical');
});

test('what is not a bundle, or not JSON, gets a reason, and the form it was read in', async () => {
  const notBundle = "not a proof bundle: a map with one of 'key' (§7), 'tx' (§8) or "
    + "'entries' (§9) was expected";
  const both = { ...validJson(), tx: '00' };
  for (const [input, form] of [[{}, 'json'], [[], 'json'], ['{}', 'json'], [both, 'json'],
    ['7', 'binary'], [encode({ height: 1 }), 'binary'], [encode([1, 2]), 'binary']]) {
    assert.deepEqual(await verifyBundle(input, ANCHOR),
      { ok: false, kind: null, form, suite: 'ed25519-sha256', reason: notBundle });
  }
  // an eligibility answer (credchain eligibility) is named, as ledger/verdict.py names it
  assert.match(await reasonFor({ question: {}, bundle: {} }),
    /^an eligibility answer, not a proof bundle: `credchain verify FILE --anchor ANCHOR`/);
  // Text or bytes that do not start with "{" are read as CE bytes, as ledger/verdict.py does.
  assert.equal(await reasonFor('null'), 'malformed bundle (not JSON, so read as its CE bytes): '
    + 'trailing bytes after the encoded value');
  assert.match(await reasonFor('{"key": '), /^not a JSON document: /);
  assert.match(await reasonFor(Uint8Array.from([0x20, 0x7b, 0xff])), /^not a JSON document: /);
  assert.equal(await reasonFor(new Uint8Array(0)),
    'malformed bundle (not JSON, so read as its CE bytes): malformed encoding: empty input');
});

test('the kind is told by the fields: key, tx or entries, exactly one', async () => {
  const asInclusion = { ...validJson(), tx: '00' };
  delete asInclusion.key;
  const verdict = await verifyBundle(asInclusion, ANCHOR);
  assert.equal(verdict.kind, 'inclusion');
  assert.equal(verdict.form, 'json');
  assert.match(verdict.reason,
    /^malformed inclusion bundle: inclusion bundle has unknown field '(value|proof)'$/);
});

test('the tagged form round-trips byte strings, and escapes a map whose only key is a tag', () => {
  const value = { a: [new Uint8Array([1, 2]), 'x', 3, null, true], b: { c: new Uint8Array(0) } };
  const json = taggedToJsonValue(value);
  assert.deepEqual(json, { a: [{ $bin: '0102' }, 'x', 3, null, true], b: { c: { $bin: '' } } });
  assert.deepEqual(taggedFromJson(json), value);
  // ledger/jsonform.py writes the same (tests/test_verdict.py has these values too)
  const lone = { k: { $bin: new Uint8Array([1]) }, m: { $map: 5 } };
  const escaped = { k: { $map: { $bin: { $bin: '01' } } }, m: { $map: { $map: 5 } } };
  assert.deepEqual(taggedToJsonValue(lone), escaped);
  assert.deepEqual(taggedFromJson(escaped), lone);
  assert.throws(() => taggedFromJson({ $map: { a: 1 } }), /\$map must be a map whose only key/);
  assert.throws(() => taggedFromJson({ $map: 5 }), /\$map must be a map whose only key/);
  assert.deepEqual(taggedToJsonValue({ $bin: 'x', other: 1 }), { $bin: 'x', other: 1 });
  assert.throws(() => taggedFromJson({ $bin: 'ABCD' }), /lowercase hex/);
});

test('JSON form and binary form are each other\'s image', () => {
  assert.deepEqual(fromJson(validJson(), BUNDLE, 'bundle'), VALID);
  assert.deepEqual(toJson(fromJson(validJson(), BUNDLE, 'bundle'), BUNDLE), validJson());
});

test('nesting deeper than the JSON bound is refused', () => {
  let deep = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  assert.throws(() => taggedFromJson(deep), /nested deeper than 32/);
});

test('text is well-formed unless a surrogate half stands alone', async () => {
  const { isWellFormedText } = await import('../../shell/web/verify/bytes.mjs');
  for (const text of ['', 'abc', '公共资源', '\u{1F600}', 'a\u{10000}b']) {
    assert.equal(isWellFormedText(text), true, JSON.stringify(text));
  }
  for (const text of ['\ud800', '\udc00', 'a\ud800b', '\udc00\ud800', '\u{1F600}'.slice(0, 1)]) {
    assert.equal(isWellFormedText(text), false, JSON.stringify(text));
  }
});

test('a proven value that is not canonical CE is shown as bytes, with why it is not decoded', async () => {
  const suite = await makeSuite('ed25519-sha256');
  assert.deepEqual(await describeEntry(suite, 'k', null),
    { key: 'k', present: false, value: null, value_ce: null, value_hash: null });
  const record = await describeEntry(suite, 'k', encode({ a: 1 }));
  assert.deepEqual(record.value, { a: 1 });
  assert.equal(record.value_ce, '81a16101');
  assert.equal(record.value_hash, toHex(await suite.hd(0x12, encode({ a: 1 }))));
  const odd = await describeEntry(suite, 'k', Uint8Array.of(0xcc, 0x01));
  assert.equal(odd.present, true);
  assert.equal(odd.value_ce, 'cc01');
  assert.equal('value' in odd, false);
  assert.equal(odd.value_error, 'the proven value is not canonical CE: encoding is not canonical');
});
