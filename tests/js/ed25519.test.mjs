// Ed25519 (RFC 8032) on both paths, WebCrypto and the BigInt fallback, which must agree with
// each other and with libsodium (the Python node's verifier): RFC 8032 §7.1's examples,
// keys and signatures made by OpenSSL, and the signatures libsodium refuses although raw
// WebCrypto accepts them (small-order keys and R, S not below L).

import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';

import { bigFromBytesLE, bigToBytesLE, concat } from '../../shell/web/verify/bytes.mjs';
import {
  L, ORDER8_Y, decodePoint, hasSmallOrder, scalarMultBase, scalarMultEncoded,
} from '../../shell/web/verify/ed25519.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';
import { CONFIGS, hex } from './support.mjs';

const P = (1n << 255n) - 19n;
const IDENTITY = bigToBytesLE(1n, 32);

// RFC 8032 §7.1, TEST 1 to 3: public key, message, signature.
const RFC8032 = [
  ['d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
  ['3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
  ['fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
];

function flip(bytes, index) {
  const out = Uint8Array.from(bytes);
  out[index] ^= 1;
  return out;
}

/** A key pair made by OpenSSL, with its clamped secret scalar for crafting signatures. */
function opensslKey() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d, 'base64url');
  const h = createHash('sha512').update(seed).digest();
  const clamped = new Uint8Array(h.subarray(0, 32));
  clamped[0] &= 248;
  clamped[31] &= 127;
  clamped[31] |= 64;
  return { privateKey, pubkey: new Uint8Array(Buffer.from(jwk.x, 'base64url')), scalar: bigFromBytesLE(clamped) };
}

function challenge(r, pubkey, message) {
  return bigFromBytesLE(createHash('sha512').update(concat(r, pubkey, message)).digest()) % L;
}

for (const config of CONFIGS) {
  test(`RFC 8032 examples verify, altered ones do not (${config.label})`, async () => {
    const suite = await makeSuite('ed25519-sha256', config.options);
    assert.equal(suite.paths.signature, config.signature);
    for (const [pk, msg, sig] of RFC8032) {
      assert.equal(await suite.verify(hex(pk), hex(msg), hex(sig)), true);
      assert.equal(await suite.verify(hex(pk), concat(hex(msg), Uint8Array.of(0)), hex(sig)), false);
      assert.equal(await suite.verify(hex(pk), hex(msg), flip(hex(sig), 10)), false);
      assert.equal(await suite.verify(hex(pk), hex(msg), flip(hex(sig), 40)), false);
      assert.equal(await suite.verify(flip(hex(pk), 3), hex(msg), hex(sig)), false);
    }
  });

  test(`OpenSSL's signatures verify, with any bit flipped they do not (${config.label})`, async () => {
    const suite = await makeSuite('ed25519-sha256', config.options);
    for (let i = 0; i < 8; i++) {
      const { privateKey, pubkey } = opensslKey();
      const message = new Uint8Array(createHash('sha256').update(String(i)).digest().subarray(0, i * 4));
      const signature = new Uint8Array(sign(null, message, privateKey));
      assert.equal(await suite.verify(pubkey, message, signature), true);
      assert.equal(await suite.verify(pubkey, message, flip(signature, (i * 7) % 64)), false);
      assert.equal(await suite.verify(pubkey, message, signature.subarray(0, 63)), false);
      assert.equal(await suite.verify(pubkey.subarray(0, 31), message, signature), false);
    }
  });

  test(`libsodium's refusals hold on this path too (${config.label})`, async () => {
    const suite = await makeSuite('ed25519-sha256', config.options);
    const { privateKey, pubkey, scalar } = opensslKey();
    const message = new TextEncoder().encode('commit vote');
    const good = new Uint8Array(sign(null, message, privateKey));
    // S + L satisfies the group equation but is not S's canonical form.
    const sPlusL = concat(good.subarray(0, 32), bigToBytesLE(bigFromBytesLE(good.subarray(32)) + L, 32));
    assert.equal(await suite.verify(pubkey, message, sPlusL), false);
    // R the identity (small order) with S = k·a: [S]B - [k]A is the identity, so the
    // cofactorless equation holds.
    const craftedS = bigToBytesLE((challenge(IDENTITY, pubkey, message) * scalar) % L, 32);
    assert.equal(await suite.verify(pubkey, message, concat(IDENTITY, craftedS)), false);
    // The identity as a public key, R the identity and S = 0 would "sign" every message.
    assert.equal(await suite.verify(IDENTITY, message, concat(IDENTITY, new Uint8Array(32))), false);
    // A public key whose y is not below p.
    const nonCanonical = bigToBytesLE(P + 3n, 32);
    assert.equal(await suite.verify(nonCanonical, message, good), false);
  });
}

test('raw WebCrypto accepts the small-order signatures that the precheck refuses', async () => {
  // Why precheck exists: without it the WebCrypto path would accept votes that the Python
  // node (libsodium) and the BigInt path refuse.
  const subtle = globalThis.crypto.subtle;
  const alg = { name: 'Ed25519' };
  const message = new TextEncoder().encode('commit vote');
  const identityKey = await subtle.importKey('raw', IDENTITY, alg, false, ['verify']);
  assert.equal(await subtle.verify(alg, identityKey, concat(IDENTITY, new Uint8Array(32)), message), true);
  const { pubkey, scalar } = opensslKey();
  const key = await subtle.importKey('raw', pubkey, alg, false, ['verify']);
  const craftedS = bigToBytesLE((challenge(IDENTITY, pubkey, message) * scalar) % L, 32);
  assert.equal(await subtle.verify(alg, key, concat(IDENTITY, craftedS), message), true);
});

test('the clamped secret scalar of an OpenSSL key gives its public key', () => {
  const { pubkey, scalar } = opensslKey();
  assert.deepEqual(scalarMultBase(scalar), pubkey);
});

test('the small-order y values are exactly those of points of order 1, 2, 4 and 8', () => {
  const order = (bytes) => {
    for (const k of [1n, 2n, 4n, 8n]) {
      const multiple = scalarMultEncoded(k, bytes);
      if (multiple !== null && multiple.every((b, i) => b === IDENTITY[i])) return k;
    }
    return null;
  };
  assert.equal(order(bigToBytesLE(ORDER8_Y, 32)), 8n);
  assert.equal(order(bigToBytesLE(P - ORDER8_Y, 32)), 8n);
  assert.equal(order(bigToBytesLE(0n, 32)), 4n);
  assert.equal(order(bigToBytesLE(P - 1n, 32)), 2n);
  assert.equal(order(IDENTITY), 1n);
  for (const y of [ORDER8_Y, P - ORDER8_Y, 0n, 1n, P - 1n, P, P + 1n]) {
    assert.equal(hasSmallOrder(bigToBytesLE(y, 32)), true, String(y));
    // The sign bit is ignored, as libsodium ignores it.
    assert.equal(hasSmallOrder(bigToBytesLE(y | (1n << 255n), 32)), true);
  }
  // The base point has the large prime order L.
  const base = hex('5866666666666666666666666666666666666666666666666666666666666666');
  assert.equal(hasSmallOrder(base), false);
  assert.equal(order(base), null);
  assert.deepEqual(scalarMultEncoded(L, base), IDENTITY);
});

test('point decoding refuses y ≥ p, points off the curve and x = 0 with the sign bit', () => {
  assert.equal(decodePoint(bigToBytesLE(P, 32)), null);
  assert.equal(decodePoint(bigToBytesLE(1n | (1n << 255n), 32)), null);
  // y = 2 is not the y of any point: (y² - 1)/(d y² + 1) is not a square.
  assert.equal(decodePoint(bigToBytesLE(2n, 32)), null);
  assert.notEqual(decodePoint(hex('5866666666666666666666666666666666666666666666666666666666666666')), null);
});
