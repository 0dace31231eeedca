// State proofs (PROTOCOL §6): every case of ../shared/vectors/smt.json for both suites (valid
// ones prove presence with the value given or absence, tampered ones fail; a proof of
// presence never passes as one of absence or of another value), and the whole state of each
// vector rebuilt into its root by the definition, so the hashes and not only the fold agree.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { concat, utf8 } from '../../shell/web/verify/bytes.mjs';
import { ProofError } from '../../shell/web/verify/errors.mjs';
import { taggedFromJson } from '../../shell/web/verify/json.mjs';
import { parseProof, pathBit, verifyProof, ZERO_HASH } from '../../shell/web/verify/smt.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';
import { readVectors } from './support.mjs';

const SMT = readVectors('smt.json').map(taggedFromJson);

test('smt.json covers both suites and every kind of case', () => {
  assert.deepEqual(SMT.map((s) => s.suite).sort(), ['ed25519-sha256', 'sm2-sm3']);
  for (const s of SMT) {
    const kinds = new Set(s.cases.map((c) => `${c.valid}/${c.value === null}`));
    assert.deepEqual([...kinds].sort(), ['false/false', 'false/true', 'true/false', 'true/true']);
  }
});

// The root of a state by PROTOCOL §6's recursive definition, with no tree code shared with
// the verifier: split the keys by the bit at each depth until a subtree holds one or none.
async function definitionRoot(suite, leaves, depth) {
  if (leaves.length === 0) return ZERO_HASH;
  if (leaves.length === 1) {
    const [{ path, value }] = leaves;
    return suite.hd(0x10, concat(path, await suite.hd(0x12, value)));
  }
  const left = leaves.filter((l) => pathBit(l.path, depth) === 0);
  const right = leaves.filter((l) => pathBit(l.path, depth) === 1);
  return suite.hd(0x11, concat(await definitionRoot(suite, left, depth + 1),
    await definitionRoot(suite, right, depth + 1)));
}

for (const vector of SMT) {
  test(`the state of smt.json rebuilds its root (${vector.suite})`, async () => {
    const suite = await makeSuite(vector.suite);
    assert.deepEqual(vector.empty_root, ZERO_HASH);
    assert.deepEqual(await definitionRoot(suite, [], 0), vector.empty_root);
    const leaves = await Promise.all(Object.entries(vector.state).map(async ([key, value]) => (
      { path: await suite.hd(0x13, utf8(key)), value })));
    assert.ok(leaves.length >= 40);
    assert.deepEqual(await definitionRoot(suite, leaves, 0), vector.root);
    for (const c of vector.cases.filter((x) => x.valid && x.value !== null)) {
      assert.deepEqual(vector.state[c.key], c.value);
    }
  });

  vector.cases.forEach((c, i) => {
    const label = `${vector.suite} case ${i}: ${c.valid ? 'valid' : 'tampered'} `
      + `${c.value === null ? 'absence' : 'presence'} of ${c.key}`;
    test(label, async () => {
      const suite = await makeSuite(vector.suite);
      const proof = parseProof(c.proof);
      if (!c.valid) {
        await assert.rejects(verifyProof(suite, vector.root, c.key, proof, c.value), ProofError);
        return;
      }
      await verifyProof(suite, vector.root, c.key, proof, c.value);
      const others = c.value !== null ? [null, concat(c.value, Uint8Array.of(0))] : [Uint8Array.of(0xc0)];
      for (const other of others) {
        await assert.rejects(verifyProof(suite, vector.root, c.key, proof, other), ProofError);
      }
      // Under any other root the same proof fails.
      const otherRoot = Uint8Array.from(vector.root);
      otherRoot[0] ^= 1;
      await assert.rejects(verifyProof(suite, otherRoot, c.key, proof, c.value),
        /does not lead to the state root/);
    });
  });
}

test('a proof of presence and of absence say which, in the Python words', async () => {
  const vector = SMT[0];
  const suite = await makeSuite(vector.suite);
  const present = vector.cases.find((c) => c.valid && c.value !== null);
  const absent = vector.cases.find((c) => c.valid && c.value === null);
  await assert.rejects(verifyProof(suite, vector.root, present.key, parseProof(present.proof), null),
    { message: `state proof shows '${present.key}' present, not absent` });
  await assert.rejects(verifyProof(suite, vector.root, absent.key, parseProof(absent.proof), Uint8Array.of(1)),
    { message: `state proof shows '${absent.key}' absent` });
  await assert.rejects(
    verifyProof(suite, vector.root, present.key, parseProof(present.proof), Uint8Array.of(1)),
    { message: `state proof holds another value for '${present.key}'` });
});

test('a leaf outside the subtree the siblings lead to is refused', async () => {
  const vector = SMT[0];
  const suite = await makeSuite(vector.suite);
  const c = vector.cases.find((x) => x.valid && x.value !== null);
  const proof = parseProof(c.proof);
  const path = Uint8Array.from(proof.leaf.path);
  path[0] ^= 0x80; // differs in bit 0, which every proof with a sibling covers
  await assert.rejects(
    verifyProof(suite, vector.root, c.key, { ...proof, leaf: { ...proof.leaf, path } }, c.value),
    /not in the subtree the siblings lead to/);
});

test('proofs are parsed strictly', () => {
  const good = SMT[0].cases[0].proof;
  assert.throws(() => parseProof({ ...good, extra: 1 }), /unknown field\(s\) \['extra'\]/);
  assert.throws(() => parseProof({ leaf: null }), /missing field\(s\) \['siblings'\]/);
  assert.throws(() => parseProof({ ...good, siblings: [new Uint8Array(31)] }),
    /proof.siblings\[0\] must be 32 bytes/);
  assert.throws(() => parseProof({ ...good, siblings: new Array(257).fill(new Uint8Array(32)) }),
    /above the bound of 256/);
  assert.throws(() => parseProof({ ...good, leaf: { path: new Uint8Array(32) } }),
    /proof.leaf is missing field\(s\) \['value_hash'\]/);
});
