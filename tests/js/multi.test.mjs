// §9 multi-key bundles: every case of ../shared/vectors/multi.json for both suites, under
// every crypto path and in every form; the valid one proves each record present or absent
// at one height, invalid ones fail for the reason their name gives. Then tamperings the
// vectors do not have.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decode, encode, toHex, verifyBundle } from '../../shell/web/verify/index.mjs';
import { MULTI, taggedFromJson } from '../../shell/web/verify/json.mjs';
import { anchorFileOf, configsFor, forms, hexForm, readVectors } from './support.mjs';

const SUITES = readVectors('multi.json');

const EXPECTED_REASON = {
  'entries not sorted by key': /^multi-key bundle entries are not sorted by key: 'frozen\/91440300MA5F00000X' comes after 'identity\/91440300MA5F00000X'$/,
  'a key twice': /^multi-key bundle lists key 'identity\/91440300MA5F00000X' twice$/,
  'a present record claimed absent': /^state proof of 'credit\/914400000000000003\/rec0' at block 5: state proof shows 'credit\/914400000000000003\/rec0' present, not absent$/,
  'header changed after signing': /^block 5: QC for height 5 names another block than its header$/,
};

test('multi.json covers both suites and every kind of case', () => {
  assert.deepEqual(SUITES.map((s) => s.suite).sort(), ['ed25519-sha256', 'sm2-sm3']);
  for (const s of SUITES) {
    assert.deepEqual(new Set(s.cases.filter((c) => !c.valid).map((c) => c.name)),
      new Set(Object.keys(EXPECTED_REASON)));
    assert.equal(s.cases.filter((c) => c.valid).length, 1);
  }
});

for (const entry of SUITES) {
  for (const config of configsFor(entry.suite)) {
    for (const c of entry.cases) {
      test(`${entry.suite}: ${c.name} (${config.label})`, async () => {
        const obj = taggedFromJson(c.multi);
        for (const [form, input] of Object.entries(forms(obj, MULTI))) {
          const verdict = await verifyBundle(input, anchorFileOf(entry), config.options);
          assert.equal(verdict.kind, 'multi', form);
          assert.equal(verdict.form, form === 'CE bytes' ? 'binary' : 'json');
          if (!c.valid) {
            assert.equal(verdict.ok, false, form);
            assert.match(verdict.reason, EXPECTED_REASON[c.name], form);
            continue;
          }
          assert.equal(verdict.ok, true, `${form}: ${verdict.reason}`);
          assert.equal(verdict.height, obj.header.height);
          assert.deepEqual(verdict.entries.map((e) => e.key), obj.entries.map((e) => e.key));
          for (const [i, e] of obj.entries.entries()) {
            const proven = verdict.entries[i];
            assert.equal(proven.present, e.value !== null);
            assert.equal(proven.value_ce, e.value === null ? null : toHex(e.value));
            assert.deepEqual(proven.value, e.value === null ? null : decode(e.value));
            assert.equal(proven.value_hash, e.value === null ? null : toHex(e.proof.leaf.value_hash));
          }
          // Two present, two absent, as the case's name says.
          assert.deepEqual(verdict.entries.map((e) => e.present).sort(), [false, false, true, true]);
        }
      });
    }
  }
}

const TAMPERINGS = [
  ['no entries', (b) => { b.entries = []; }, /^malformed multi-key bundle: entries is empty$/],
  ['an absent record claimed present', (b) => {
    const absent = b.entries.find((e) => e.value === null);
    absent.value = encode({ frozen: true });
  }, /state proof shows '.*' absent$/],
  ['a record with another value', (b) => {
    const present = b.entries.find((e) => e.value !== null);
    present.value = encode('other');
  }, /state proof holds another value for/],
  ['an entry with an extra field', (b) => { b.entries[0].extra = 1; },
    /^malformed multi-key bundle: multi-key bundle.entries\[0\] has unknown field/],
  ['a proof of another entry', (b) => { b.entries[0].proof = b.entries[3].proof; },
    /^state proof of '.*' at block 5: /],
];

for (const entry of SUITES) {
  const valid = entry.cases.find((c) => c.valid);
  for (const [label, tamper, reason] of TAMPERINGS) {
    test(`${entry.suite}: ${label} fails`, async () => {
      const obj = taggedFromJson(valid.multi);
      tamper(obj);
      for (const input of [encode(obj), hexForm(obj)]) {
        const verdict = await verifyBundle(input, anchorFileOf(entry));
        assert.equal(verdict.ok, false);
        assert.match(verdict.reason, reason);
      }
    });
  }
}
