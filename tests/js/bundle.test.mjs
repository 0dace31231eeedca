// §7 proof bundles: every case of ../shared/vectors/bundle.json for both suites, under every
// crypto path and in every form (JSON object, JSON text, CE bytes); valid ones prove what
// they carry, invalid ones fail for the named reason (tests/test_vectors_bundle.py's
// reasons). Then the tamperings of tests/test_bundle.py on the vector's valid bundle, and the
// anchor's own checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decode, encode, loadAnchor, toHex, verifyBundle } from '../../shell/web/verify/index.mjs';
import { BUNDLE, taggedFromJson, toJson } from '../../shell/web/verify/json.mjs';
import { anchorFileOf, configsFor, forms, hexForm, readVectors } from './support.mjs';

const SUITES = readVectors('bundle.json');

// What the reason must say for each invalid case (as tests/test_vectors_bundle.py has it).
const EXPECTED_REASON = {
  'missing validator change': 'missing validator change',
  'QC below quorum (3 of 5)': 'below the quorum of 4',
  'vote attributed to the wrong validator': 'does not verify',
  'forged value': 'another value',
  'header changed after signing': 'names another block',
};

test('bundle.json covers both suites and every kind of case', () => {
  assert.deepEqual(SUITES.map((s) => s.suite).sort(), ['ed25519-sha256', 'sm2-sm3']);
  for (const s of SUITES) {
    assert.deepEqual(new Set(s.cases.filter((c) => !c.valid).map((c) => c.name)),
      new Set(Object.keys(EXPECTED_REASON)));
    assert.equal(s.cases.filter((c) => c.valid).length, 2);
  }
});

for (const entry of SUITES) {
  for (const config of configsFor(entry.suite)) {
    for (const c of entry.cases) {
      test(`${entry.suite}: ${c.name} (${config.label})`, async () => {
        const anchor = anchorFileOf(entry);
        const obj = taggedFromJson(c.bundle);
        for (const [form, input] of Object.entries(forms(obj, BUNDLE))) {
          const verdict = await verifyBundle(input, anchor, config.options);
          assert.equal(verdict.kind, 'state', form);
          assert.equal(verdict.form, form === 'CE bytes' ? 'binary' : 'json');
          if (!c.valid) {
            assert.equal(verdict.ok, false, form);
            assert.ok(verdict.reason.includes(EXPECTED_REASON[c.name]), `${form}: ${verdict.reason}`);
            continue;
          }
          assert.equal(verdict.ok, true, `${form}: ${verdict.reason}`);
          assert.equal(verdict.suite, entry.suite);
          assert.equal(verdict.key, obj.key);
          assert.equal(verdict.chain_id, obj.chain_id);
          assert.equal(verdict.height, obj.header.height);
          assert.equal(verdict.time_ms, obj.header.time_ms);
          assert.deepEqual(verdict.validator_changes, obj.validator_chain.map((e) => e.header.height));
          assert.equal(verdict.block_hash, toHex(obj.qc.block_hash));
          assert.equal(verdict.present, obj.value !== null);
          assert.equal(verdict.value_ce, obj.value === null ? null : toHex(obj.value));
          assert.equal(verdict.value_hash, obj.value === null ? null : toHex(obj.proof.leaf.value_hash));
          assert.deepEqual(verdict.entries.map((e) => e.key), [obj.key]);
          assert.equal(verdict.genesis_hash, toHex(obj.genesis_hash));
          assert.deepEqual(verdict.value, obj.value === null ? null : decode(obj.value));
        }
      });
    }
  }
}

test('a valid membership proves a decoded record across the validator change', async () => {
  for (const entry of SUITES) {
    const c = entry.cases.find((x) => x.valid && x.bundle.value !== null);
    const verdict = await verifyBundle(toJson(taggedFromJson(c.bundle), BUNDLE), anchorFileOf(entry));
    assert.equal(verdict.ok, true);
    assert.deepEqual(verdict.validator_changes, [3]);
    assert.equal(typeof verdict.value, 'object');
    assert.equal(typeof verdict.value.name, 'string');
  }
});

// ---- tamperings (tests/test_bundle.py's, on the vectors' valid membership bundle) --------

const TAMPERINGS = [
  ['a validator change left out', (b) => { b.validator_chain = []; }, /missing validator change/],
  ['a validator change repeated', (b) => { b.validator_chain.push(b.validator_chain[0]); },
    /ascending heights/],
  ['votes cut below the quorum', (b) => { b.qc.votes = b.qc.votes.slice(0, 2); }, /below the quorum/],
  ['a chain vote with another vote\'s signature',
    (b) => { const v = b.validator_chain[0].qc.votes; v[0][1] = v[1][1]; },
    /validator_chain\[0\].*does not verify/],
  ['a next validator renamed', (b) => { b.validator_chain[0].next_validators[0].name = 'evil'; },
    /next_validators do not hash/],
  ['another value', (b) => { b.value = encode({ name: 'x', status: 'active' }); }, /another value/],
  ['the value dropped', (b) => { b.value = null; }, /present, not absent/],
  ['the header time moved', (b) => { b.header.time_ms += 1; }, /names another block/],
  ['another key', (b) => { b.key = 'identity/other'; }, /state proof/],
  ['another chain id', (b) => { b.chain_id = 'elsewhere'; }, /wrong chain id/],
  ['a zero genesis hash', (b) => { b.genesis_hash = new Uint8Array(32); }, /bad genesis hash/],
  ['version 2', (b) => { b.version = 2; }, /version 2/],
  // The CE form meets the field in the strict parse, the JSON form already in its schema.
  ['an extra field', (b) => { b.extra = 1; },
    /^malformed bundle: bundle has unknown field(\(s\) \['extra'\]| 'extra')$/],
  ['a sibling cut', (b) => { b.proof.siblings.pop(); }, /state proof/],
  ['a vote index outside the set', (b) => { b.qc.votes[3][0] = 9; },
    /^block 7: QC vote index 9 is outside the validator set$/],
  ['votes out of order', (b) => { b.qc.votes.reverse(); },
    /^block 7: QC votes are not sorted by index or list an index twice$/],
  ['the record at height 0', (b) => { b.header.height = 0; },
    /^validator_chain\[0\] \(block 3\): validator changes must be at ascending heights below the bundle's block 0$/],
  ['a header of another chain', (b) => { b.header.chain_id = 'elsewhere'; },
    /^wrong chain id in the header of block 7: 'elsewhere'$/],
  ['a QC for another height', (b) => { b.qc.height = 6; }, /names another block|differs/],
  ['a 31-byte state root', (b) => { b.header.state_root = b.header.state_root.subarray(1); },
    /^malformed bundle: header.state_root must be 32 bytes, got 31$/],
  ['a vote that is not a pair', (b) => { b.qc.votes[0] = [0]; },
    /^malformed bundle: (qc.votes must be \[index, 64-byte signature\] pairs|bundle.qc.votes\[0\] must be an array of 2 items)$/],
];

for (const entry of SUITES) {
  const valid = entry.cases.find((c) => c.valid && c.bundle.value !== null);
  for (const [label, tamper, reason] of TAMPERINGS) {
    test(`${entry.suite}: ${label} fails`, async () => {
      const obj = taggedFromJson(valid.bundle);
      tamper(obj);
      for (const input of [encode(obj), hexForm(obj)]) {
        const verdict = await verifyBundle(input, anchorFileOf(entry));
        assert.equal(verdict.ok, false);
        assert.match(verdict.reason, reason);
      }
    });
  }
}

// ---- the anchor ------------------------------------------------------------------------

test('an anchor of another chain, and a bundle naming another genesis, fail', async () => {
  const entry = SUITES[0];
  const bundle = toJson(taggedFromJson(entry.cases[0].bundle), BUNDLE);
  const other = anchorFileOf(entry);
  other.genesis_header.chain_id = 'another-chain';
  const verdict = await verifyBundle(bundle, other);
  assert.equal(verdict.reason,
    "wrong chain id: the bundle is for 'shanwei-test-ed25519-sha256', the anchor for 'another-chain'");
  const zeroGenesis = { ...bundle, genesis_hash: '00'.repeat(32) };
  assert.equal((await verifyBundle(zeroGenesis, anchorFileOf(entry))).reason,
    "bad genesis hash: the bundle's genesis_hash is not the anchor's header");
});

test('an anchor that is not a genesis anchor is refused before any bundle is read', async () => {
  const entry = SUITES[1];
  const bundle = toJson(taggedFromJson(entry.cases[0].bundle), BUNDLE);
  const cases = [
    [(a) => { a.genesis_header.height = 1; }, 'bad anchor: anchor header is not a genesis header (height 0, zero prev_hash)'],
    [(a) => { a.validators[0].name = 'other'; }, 'bad anchor: anchor validators do not hash to the genesis validators_hash'],
    [(a) => { a.suite = 'rsa'; }, "bad anchor: unknown crypto suite 'rsa'; known: ['ed25519-sha256', 'sm2-sm3']"],
    [(a) => { a.extra = 1; }, "bad anchor: anchor has unknown field 'extra'"],
    [(a) => { delete a.validators; }, "bad anchor: anchor is missing field(s) ['validators']"],
    [(a) => { a.validators = []; }, 'bad anchor: a validator set must be a non-empty array'],
  ];
  for (const [tamper, reason] of cases) {
    const anchor = anchorFileOf(entry);
    tamper(anchor);
    assert.deepEqual(await verifyBundle(bundle, anchor), { ok: false, kind: null, form: null, reason });
  }
  assert.match((await verifyBundle(bundle, '{not json')).reason, /^bad anchor: anchor file is not valid JSON/);
});

test('an anchor as JSON text, or loaded once for many bundles, gives the same verdicts', async () => {
  for (const entry of SUITES) {
    const loaded = await loadAnchor(anchorFileOf(entry));
    const text = JSON.stringify(anchorFileOf(entry));
    for (const c of entry.cases) {
      const bundle = toJson(taggedFromJson(c.bundle), BUNDLE);
      const a = await verifyBundle(bundle, loaded);
      const b = await verifyBundle(bundle, text);
      assert.deepEqual(a, b);
      assert.equal(a.ok, c.valid);
    }
  }
});
