// §8 inclusion bundles: every case of ../shared/vectors/inclusion.json for both suites, under
// every crypto path and in every form; valid ones prove the signed transaction, its receipt
// and events at the block, invalid ones fail for the reason their name gives. Then
// tamperings the vectors do not have.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decode, encode, toHex, verifyBundle } from '../../shell/web/verify/index.mjs';
import { INCLUSION, taggedFromJson } from '../../shell/web/verify/json.mjs';
import { anchorFileOf, configsFor, forms, hexForm, readVectors } from './support.mjs';

const SUITES = readVectors('inclusion.json');

// The reason each invalid case must give.
const EXPECTED_REASON = {
  'wrong index': /^tx_path in block 7's tx_root: audit path does not lead to the root$/,
  'receipt of another transaction': /^the receipt is for another transaction \([0-9a-f]{64}, not [0-9a-f]{64}\)$/,
  'event changed after commit': /^receipt_path in block 7's receipts_root: audit path does not lead to the root$/,
  'audit path truncated': /^tx_path in block 7's tx_root: audit path is too short for index 4 of 5 leaves$/,
  'transaction signature altered': /^the transaction's signature does not verify under its sender$/,
  'missing validator change': /^missing validator change: block 7 is certified by a validator set that validator_chain does not lead to$/,
  'leaf count too small for the path': /^tx_path in block 7's tx_root: index 1 is outside a tree of 1 leaves$/,
};

test('inclusion.json covers both suites and every kind of case', () => {
  assert.deepEqual(SUITES.map((s) => s.suite).sort(), ['ed25519-sha256', 'sm2-sm3']);
  for (const s of SUITES) {
    assert.deepEqual(new Set(s.cases.filter((c) => !c.valid).map((c) => c.name)),
      new Set(Object.keys(EXPECTED_REASON)));
    assert.equal(s.cases.filter((c) => c.valid).length, 3);
  }
});

for (const entry of SUITES) {
  for (const config of configsFor(entry.suite)) {
    for (const c of entry.cases) {
      test(`${entry.suite}: ${c.name} (${config.label})`, async () => {
        const obj = taggedFromJson(c.inclusion);
        for (const [form, input] of Object.entries(forms(obj, INCLUSION))) {
          const verdict = await verifyBundle(input, anchorFileOf(entry), config.options);
          assert.equal(verdict.kind, 'inclusion', form);
          assert.equal(verdict.form, form === 'CE bytes' ? 'binary' : 'json');
          if (!c.valid) {
            assert.equal(verdict.ok, false, form);
            assert.match(verdict.reason, EXPECTED_REASON[c.name], form);
            continue;
          }
          assert.equal(verdict.ok, true, `${form}: ${verdict.reason}`);
          const tx = decode(obj.tx);
          const receipt = decode(obj.receipt);
          assert.equal(verdict.tx.index, obj.index);
          assert.equal(verdict.tx.count, obj.count);
          assert.equal(verdict.tx.sender, toHex(tx.body.sender));
          assert.equal(verdict.tx.call, tx.body.call);
          assert.deepEqual(verdict.tx.args, tx.body.args);
          assert.equal(verdict.height, obj.header.height);
          assert.equal(verdict.tx.tx_id, toHex(receipt.tx_id));
          assert.equal(verdict.tx.sig, toHex(tx.sig));
          assert.deepEqual(verdict.receipt, receipt);
          assert.equal(verdict.code, receipt.code);
          assert.deepEqual(verdict.events, receipt.events);
          assert.ok(verdict.events.every((e) => typeof e.type === 'string'));
          assert.deepEqual(verdict.validator_changes, [3]);
        }
      });
    }
  }
}

const TAMPERINGS = [
  ['the transaction in a non-canonical encoding', (b) => {
    // The same map with its two keys swapped: decodable, not canonical.
    const tx = b.tx;
    const body = tx.subarray(6, tx.length - 70);
    b.tx = Uint8Array.from([0x82, 0xa3, 0x73, 0x69, 0x67, ...tx.subarray(tx.length - 66),
      0xa4, 0x62, 0x6f, 0x64, 0x79, ...body]);
  }, /^malformed inclusion bundle: tx is not a canonical transaction: encoding is not canonical: map keys unsorted or repeated$/],
  ['a receipt with an extra field', (b) => {
    const receipt = decode(b.receipt);
    receipt.extra = 1;
    b.receipt = encode(receipt);
  }, /^malformed inclusion bundle: receipt is not a canonical receipt: receipt has unknown field\(s\) \['extra'\]$/],
  ['a count of zero', (b) => { b.count = 0; },
    /^tx_path in block 7's tx_root: index 0 is outside a tree of 0 leaves$/],
  ['a path hash of 31 bytes', (b) => { b.receipt_path[0] = b.receipt_path[0].subarray(1); },
    /^malformed inclusion bundle: inclusion bundle.receipt_path\[0\] must be 32 bytes$/],
  ['a path of 65 hashes', (b) => { b.tx_path = new Array(65).fill(b.tx_path[0]); },
    /^malformed inclusion bundle: inclusion bundle.tx_path has 65 items, above the bound of 64$/],
  ['the receipt path swapped with the transaction path', (b) => {
    [b.tx_path, b.receipt_path] = [b.receipt_path, b.tx_path];
  }, /^tx_path in block 7's tx_root: audit path does not lead to the root$/],
  ['the receipts root of another block', (b) => { b.header.receipts_root = new Uint8Array(32); },
    /^block 7: QC for height 7 names another block than its header$/],
  ['a sender key of the wrong length', (b) => {
    const tx = decode(b.tx);
    tx.body.sender = tx.body.sender.subarray(1);
    b.tx = encode(tx);
  }, /^the transaction's signature does not verify under its sender$/],
  ['a path one hash too long', (b) => { b.tx_path.push(b.tx_path[0]); },
    /^tx_path in block 7's tx_root: audit path is longer than a tree of 5 leaves is deep at index 0$/],
];

for (const entry of SUITES) {
  const valid = entry.cases.find((c) => c.valid && c.inclusion.index === 0);
  for (const [label, tamper, reason] of TAMPERINGS) {
    test(`${entry.suite}: ${label} fails`, async () => {
      const obj = taggedFromJson(valid.inclusion);
      tamper(obj);
      for (const input of [encode(obj), hexForm(obj)]) {
        const verdict = await verifyBundle(input, anchorFileOf(entry));
        assert.equal(verdict.ok, false);
        assert.match(verdict.reason, reason);
      }
    });
  }
}
