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
  'wrong index': /^transaction path at index 2 of 5 in block 7: inclusion path does not lead to the root$/,
  'receipt of another transaction': /^the receipt is of another transaction/,
  'event changed after commit': /^receipt path at index 0 of 5 in block 7: inclusion path does not lead to the root$/,
  'audit path truncated': /^transaction path at index \d of 5 in block 7: inclusion path does not lead to the root$/,
  'transaction signature altered': /^transaction signature: signature does not verify$/,
  'missing validator change': /^missing validator change: block 7 is certified by a validator set that validator_chain does not lead to$/,
  'leaf count too small for the path': /^transaction path at index 1 of 1 in block 7: index 1 outside a tree of 1$/,
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
          if (!c.valid) {
            assert.equal(verdict.ok, false, form);
            assert.match(verdict.reason, EXPECTED_REASON[c.name], form);
            continue;
          }
          assert.equal(verdict.ok, true, `${form}: ${verdict.reason}`);
          const tx = decode(obj.tx);
          const receipt = decode(obj.receipt);
          assert.equal(verdict.index, obj.index);
          assert.equal(verdict.count, obj.count);
          assert.equal(verdict.height, obj.header.height);
          assert.equal(verdict.tx_id, toHex(receipt.tx_id));
          assert.deepEqual(verdict.tx, tx);
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
  ['a transaction of another chain', (b) => {
    const tx = decode(b.tx);
    tx.body.chain_id = 'elsewhere';
    b.tx = encode(tx);
  }, /^the transaction is for chain 'elsewhere', not 'shanwei-test-/],
  ['the transaction in a non-canonical encoding', (b) => {
    // The same map with its two keys swapped: decodable, not canonical.
    const tx = b.tx;
    const body = tx.subarray(6, tx.length - 70);
    b.tx = Uint8Array.from([0x82, 0xa3, 0x73, 0x69, 0x67, ...tx.subarray(tx.length - 66),
      0xa4, 0x62, 0x6f, 0x64, 0x79, ...body]);
  }, /^malformed bundle: inclusion.tx: encoding is not canonical: map keys unsorted or repeated$/],
  ['a receipt with an extra field', (b) => {
    const receipt = decode(b.receipt);
    receipt.extra = 1;
    b.receipt = encode(receipt);
  }, /^malformed bundle: receipt has unknown field\(s\) \['extra'\]$/],
  ['a count of zero', (b) => { b.count = 0; },
    /^malformed bundle: inclusion.count must be ≥ 1, got 0$/],
  ['a count above a block\'s bound', (b) => { b.count = 10001; },
    /^malformed bundle: inclusion.count is above 10000$/],
  ['a sender key of the wrong length', (b) => {
    const tx = decode(b.tx);
    tx.body.sender = tx.body.sender.subarray(1);
    b.tx = encode(tx);
  }, /^transaction signature: (ed25519-sha256|sm2-sm3) public key must be (32|65) bytes$/],
  ['a path hash of 31 bytes', (b) => { b.receipt_path[0] = b.receipt_path[0].subarray(1); },
    /^malformed bundle: inclusion.receipt_path\[0\] must be 32 bytes$/],
  ['the receipt path swapped with the transaction path', (b) => {
    [b.tx_path, b.receipt_path] = [b.receipt_path, b.tx_path];
  }, /^transaction path at index 0 of 5 in block 7: inclusion path does not lead to the root$/],
  ['the receipts root of another block', (b) => { b.header.receipts_root = new Uint8Array(32); },
    /^block 7: QC for height 7 names another block than its header$/],
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
