// SM2 verification (GB/T 32918.2 §7.1, recommended curve, default ID): the commit votes of
// ../shared/vectors/bundle.json (signed by Tongsuo) verify, and each of the standard's
// refusals holds — r or s outside [1, n-1], t = 0, another message, a public key that is
// not an uncompressed point with coordinates below p on the curve.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bigToBytesBE, bigFromBytesBE, concat } from '../../shell/web/verify/bytes.mjs';
import { commitVoteBytes, headerHash } from '../../shell/web/verify/block.mjs';
import { taggedFromJson } from '../../shell/web/verify/json.mjs';
import { mod, modPow } from '../../shell/web/verify/modular.mjs';
import { CURVE, decodePublicKey, isOnCurve, verifySm2, zA } from '../../shell/web/verify/sm2.mjs';
import { sm3 } from '../../shell/web/verify/sm3.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';
import { readVectors } from './support.mjs';

const { n: N, p: P } = CURVE;

/** [pubkey, message, signature] of every commit vote in the sm2-sm3 bundle vectors. */
async function vectorVotes() {
  const entry = readVectors('bundle.json').find((s) => s.suite === 'sm2-sm3');
  const suite = await makeSuite('sm2-sm3');
  const anchor = taggedFromJson(entry.anchor);
  const bundle = taggedFromJson(entry.cases.find((c) => c.valid).bundle);
  const signed = [];
  let validators = anchor.validators;
  const certified = [...bundle.validator_chain, { header: bundle.header, qc: bundle.qc }];
  for (const { header, qc, next_validators: next } of certified) {
    const message = commitVoteBytes(header.chain_id, qc.height, qc.view, await headerHash(suite, header));
    for (const [index, sig] of qc.votes) signed.push([validators[index].pubkey, message, sig]);
    if (next) validators = next;
  }
  return signed;
}

const VOTES = await vectorVotes();

function withRS(r, s) {
  return concat(bigToBytesBE(r, 32), bigToBytesBE(s, 32));
}

test('the recommended curve: G is on it, p ≡ 3 (mod 4) and a = p - 3', () => {
  assert.equal(isOnCurve(CURVE.gx, CURVE.gy), true);
  assert.equal(P % 4n, 3n);
  assert.equal(CURVE.a, P - 3n);
});

test('every commit vote of the sm2-sm3 bundle vectors verifies', () => {
  assert.ok(VOTES.length >= 7);
  for (const [pubkey, message, sig] of VOTES) assert.equal(verifySm2(pubkey, message, sig), true);
});

test('another message, another key or an altered r or s does not verify', () => {
  const [[pubkey, message, sig], [otherKey]] = [VOTES[0], VOTES.find((v) => v[0] !== VOTES[0][0])];
  assert.equal(verifySm2(pubkey, concat(message, Uint8Array.of(0)), sig), false);
  assert.equal(verifySm2(otherKey, message, sig), false);
  for (const at of [0, 31, 32, 63]) {
    const altered = Uint8Array.from(sig);
    altered[at] ^= 0x10;
    assert.equal(verifySm2(pubkey, message, altered), false, `byte ${at}`);
  }
});

test('r and s must lie in [1, n-1], and t = (r + s) mod n must not be 0', () => {
  const [pubkey, message, sig] = VOTES[0];
  const r = bigFromBytesBE(sig.subarray(0, 32));
  const s = bigFromBytesBE(sig.subarray(32));
  for (const [label, rr, ss] of [
    ['r = 0', 0n, s], ['s = 0', r, 0n], ['r = n', N, s], ['s = n', r, N],
    ['r + n', r + N < 1n << 256n ? r + N : N, s], ['t = 0', r, N - r],
  ]) {
    assert.equal(verifySm2(pubkey, message, withRS(rr, ss)), false, label);
  }
  assert.equal(verifySm2(pubkey, message, sig.subarray(0, 63)), false);
});

test('Z_A binds the default ID, the curve and the key, as GB/T 32918.2 §5.5 orders them', () => {
  const [pubkey] = VOTES[0];
  const fields = [CURVE.a, CURVE.b, CURVE.gx, CURVE.gy].map((v) => bigToBytesBE(v, 32));
  const id = new TextEncoder().encode('1234567812345678');
  const expected = sm3(concat(Uint8Array.of(0x00, 0x80), id, ...fields, pubkey.subarray(1)));
  assert.deepEqual(zA(pubkey), expected);
  assert.notDeepEqual(zA(pubkey, 'ALICE123@YAHOO.COM'), expected);
});

// A curve point with a small x, so that x + p still fits in 32 bytes.
function smallXPoint() {
  for (let x = 0n; ; x++) {
    const rhs = mod(x * x * x + CURVE.a * x + CURVE.b, P);
    const y = modPow(rhs, (P + 1n) / 4n, P);
    if ((y * y) % P === rhs) return [x, y];
  }
}

test('public keys: 65 bytes, 04 first, X and Y below p, on the curve', () => {
  const [pubkey, message, sig] = VOTES[0];
  assert.notEqual(decodePublicKey(pubkey), null);
  const compressed = concat(Uint8Array.of(0x02 + Number(pubkey[64] & 1)), pubkey.subarray(1, 33));
  assert.equal(decodePublicKey(compressed), null);
  assert.equal(verifySm2(compressed, message, sig), false);
  const hybrid = Uint8Array.from(pubkey);
  hybrid[0] = 0x06;
  assert.equal(decodePublicKey(hybrid), null);
  const offCurve = Uint8Array.from(pubkey);
  offCurve[64] ^= 1;
  assert.equal(decodePublicKey(offCurve), null);
  assert.equal(verifySm2(offCurve, message, sig), false);
  const [x, y] = smallXPoint();
  const point = concat(Uint8Array.of(4), bigToBytesBE(x, 32), bigToBytesBE(y, 32));
  assert.notEqual(decodePublicKey(point), null);
  // The same point with X written as x + p is on the curve modulo p, but not a key.
  const unreduced = concat(Uint8Array.of(4), bigToBytesBE(x + P, 32), bigToBytesBE(y, 32));
  assert.equal(isOnCurve(x + P, y), true);
  assert.equal(decodePublicKey(unreduced), null);
});

test('the suite refuses a malformed key when an anchor is loaded', async () => {
  const suite = await makeSuite('sm2-sm3');
  const [pubkey] = VOTES[0];
  assert.doesNotThrow(() => suite.checkPubkey(pubkey));
  assert.throws(() => suite.checkPubkey(pubkey.subarray(1)), /must be 65 bytes, got 64/);
  const offCurve = Uint8Array.from(pubkey);
  offCurve[64] ^= 1;
  assert.throws(() => suite.checkPubkey(offCurve), /not a point on the curve/);
});
