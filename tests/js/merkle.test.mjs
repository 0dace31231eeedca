// RFC 6962 roots (../shared/vectors/merkle.json, both suites) and RFC 9162 audit paths as
// PROTOCOL §8 verifies them: every leaf of trees of 1 to 17 leaves verifies with the path
// the RFC's PATH definition gives; a wrong leaf, index, size, a truncated or extended path
// fail with ledger/merkle.py's messages.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { concat } from '../../shell/web/verify/bytes.mjs';
import { ProofError } from '../../shell/web/verify/errors.mjs';
import { merkleRoot, verifyInclusion } from '../../shell/web/verify/merkle.mjs';
import { makeSuite, SUITE_NAMES } from '../../shell/web/verify/suites.mjs';
import { hex, readVectors } from './support.mjs';

const MERKLE = readVectors('merkle.json');

test('merkle.json covers both suites and 0 to 7 leaves', () => {
  for (const name of SUITE_NAMES) {
    const sizes = MERKLE.filter((c) => c.suite === name).map((c) => c.leaves.length);
    assert.deepEqual(sizes.sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  }
});

for (const c of MERKLE) {
  test(`merkle vector ${c.suite}, ${c.leaves.length} leaves`, async () => {
    const suite = await makeSuite(c.suite);
    const root = await merkleRoot(suite, c.leaves.map(hex));
    assert.equal(Buffer.from(root).toString('hex'), c.root);
  });
}

// RFC 6962 §2.1: MTH by splitting at the largest power of two below n, and PATH(m, D[n]).
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

async function mth(suite, leaves) {
  if (leaves.length === 1) return suite.hd(0x00, leaves[0]);
  const k = split(leaves.length);
  return suite.hd(0x01, concat(await mth(suite, leaves.slice(0, k)), await mth(suite, leaves.slice(k))));
}

async function auditPath(suite, leaves, m) {
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  if (m < k) return [...(await auditPath(suite, leaves.slice(0, k), m)), await mth(suite, leaves.slice(k))];
  return [...(await auditPath(suite, leaves.slice(k), m - k)), await mth(suite, leaves.slice(0, k))];
}

for (const name of SUITE_NAMES) {
  test(`every audit path of trees of 1 to 17 leaves verifies, and tampering fails (${name})`, async () => {
    const suite = await makeSuite(name);
    for (let n = 1; n <= 17; n++) {
      const leaves = await Promise.all(Array.from({ length: n }, (_, i) => suite.hash(Uint8Array.of(i))));
      const root = await merkleRoot(suite, leaves);
      const other = await suite.hash(Uint8Array.of(0xff));
      assert.deepEqual(root, await mth(suite, leaves), `iterative root = recursive root, n=${n}`);
      for (let i = 0; i < n; i++) {
        const path = await auditPath(suite, leaves, i);
        await verifyInclusion(suite, leaves[i], i, n, path, root);
        await assert.rejects(verifyInclusion(suite, other, i, n, path, root),
          /audit path does not lead to the root/);
        if (n > 1) {
          // A path proves a leaf's place for a given count: every other index fails.
          for (let j = 0; j < n; j++) {
            if (j === i) continue;
            await assert.rejects(verifyInclusion(suite, leaves[i], j, n, path, root), ProofError);
          }
          await assert.rejects(verifyInclusion(suite, leaves[i], i, n, path.slice(0, -1), root),
            { message: /^audit path is too short for index \d+ of \d+ leaves$/ });
        }
        await assert.rejects(verifyInclusion(suite, leaves[i], i, n, [...path, root], root),
          /audit path is longer than a tree of \d+ leaves is deep|audit path does not lead to the root/);
      }
    }
  });
}

test('an index outside the tree and a path longer than the tree fail with their reasons', async () => {
  const suite = await makeSuite('ed25519-sha256');
  const leaf = new Uint8Array(32).fill(7);
  const zero = new Uint8Array(32);
  await assert.rejects(verifyInclusion(suite, leaf, 3, 3, [], zero),
    { message: /^index 3 is outside a tree of 3 leaves$/ });
  await assert.rejects(verifyInclusion(suite, leaf, -1, 3, [], zero),
    { message: /^index -1 is outside a tree of 3 leaves$/ });
  const root = await suite.hd(0x00, leaf);
  await verifyInclusion(suite, leaf, 0, 1, [], root);
  await assert.rejects(verifyInclusion(suite, leaf, 0, 1, [root], root),
    { message: /^audit path is longer than a tree of 1 leaves is deep at index 0$/ });
});

test('a path above 64 hashes, or with a hash that is not 32 bytes, is refused', async () => {
  const suite = await makeSuite('ed25519-sha256');
  const leaf = new Uint8Array(32);
  const hash = new Uint8Array(32);
  await assert.rejects(verifyInclusion(suite, leaf, 0, 2 ** 40, new Array(65).fill(hash), hash),
    { message: /^audit path has 65 entries, above 64$/ });
  await assert.rejects(verifyInclusion(suite, leaf, 0, 2, [new Uint8Array(31)], hash),
    { message: /^every audit path entry must be 32 bytes$/ });
});
