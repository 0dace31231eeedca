// Hashes (PROTOCOL §2): ../shared/vectors/hash.json for both suites on every path
// (WebCrypto and plain JS), SHA-256/SHA-512 in plain JS against Node's OpenSSL, and SM3
// against GB/T 32905's own examples and OpenSSL's SM3.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { makeDigests } from '../../shell/web/verify/hash.mjs';
import { sha256, sha512 } from '../../shell/web/verify/sha2.mjs';
import { sm3 } from '../../shell/web/verify/sm3.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';
import { CONFIGS, hex, readVectors } from './support.mjs';

const HASH = readVectors('hash.json');
const toHex = (b) => Buffer.from(b).toString('hex');

test('hash.json covers both suites', () => {
  assert.deepEqual([...new Set(HASH.map((c) => c.suite))].sort(), ['ed25519-sha256', 'sm2-sm3']);
});

for (const config of CONFIGS) {
  for (const c of HASH) {
    test(`hash vector ${c.suite} tag ${c.tag} (${config.label})`, async () => {
      const suite = await makeSuite(c.suite, config.options);
      if (c.suite === 'ed25519-sha256') assert.equal(suite.paths.hash, config.hash);
      assert.equal(toHex(await suite.hd(c.tag, hex(c.data))), c.hd);
    });
  }
}

test('GB/T 32905 examples: SM3("abc") and SM3 of 64 bytes "abcd"×16', () => {
  const text = (s) => new TextEncoder().encode(s);
  assert.equal(toHex(sm3(text('abc'))),
    '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  assert.equal(toHex(sm3(text('abcd'.repeat(16)))),
    'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
});

// Lengths around the padding boundaries (55/56/64 bytes for 64-byte blocks, 111/112/128
// for SHA-512's), then a few longer ones.
const LENGTHS = [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 113, 127, 128, 129, 1000, 4097];

test('plain-JS SHA-256, SHA-512 and SM3 agree with OpenSSL at every padding boundary', () => {
  for (const n of LENGTHS) {
    const data = new Uint8Array(randomBytes(n));
    assert.equal(toHex(sha256(data)), createHash('sha256').update(data).digest('hex'), `sha256 ${n}`);
    assert.equal(toHex(sha512(data)), createHash('sha512').update(data).digest('hex'), `sha512 ${n}`);
    assert.equal(toHex(sm3(data)), createHash('sm3').update(data).digest('hex'), `sm3 ${n}`);
  }
});

test('WebCrypto and plain-JS digests give the same bytes', async () => {
  const web = makeDigests(globalThis.crypto.subtle);
  const js = makeDigests(null);
  assert.equal(web.path, 'webcrypto');
  assert.equal(js.path, 'js');
  for (const n of LENGTHS) {
    const data = new Uint8Array(randomBytes(n));
    assert.deepEqual(await web.sha256(data), await js.sha256(data));
    assert.deepEqual(await web.sha512(data), await js.sha512(data));
  }
});

test('a hash of a subarray covers exactly its bytes', async () => {
  // WebCrypto digests a view's bytes; the plain-JS path must not read the whole buffer.
  const whole = new Uint8Array(randomBytes(100));
  const part = whole.subarray(10, 50);
  const copy = whole.slice(10, 50);
  for (const d of [makeDigests(globalThis.crypto.subtle), makeDigests(null)]) {
    assert.deepEqual(await d.sha256(part), await d.sha256(copy));
  }
  assert.deepEqual(sm3(part), sm3(copy));
});
