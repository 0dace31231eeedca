// State proofs (PROTOCOL §6), as ledger/smt_proof.py verifies them.
//
// A key sits at path = Hd(0x13, utf8(key)); an empty subtree hashes to ZERO, a subtree
// holding one key to its leaf hash Hd(0x10, path ‖ Hd(0x12, CE(value))) at any depth, any
// other to Hd(0x11, left ‖ right). PROOF = {"leaf": nil | {"path", "value_hash"},
// "siblings": [...]}, siblings[i] being the sibling subtree's hash at depth i + 1. The fold
// starts from the leaf's hash (ZERO without a leaf), requires the leaf's path to share the
// key's first len(siblings) bits, and goes up bit by bit of the key's path. It proves
// presence when the leaf's path is the key's, absence otherwise.

import { concat, equal, isBytes, utf8 } from './bytes.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getBytes, getList } from './fields.mjs';
import { pyRepr, pyTypeName } from './pytext.mjs';
import { DIGEST_LEN } from './suites.mjs';
import * as tags from './tags.mjs';

export const PATH_BITS = 256;
// A path has 256 bits, so no proof can carry more siblings than that.
export const MAX_PROOF_SIBLINGS = PATH_BITS;
export const ZERO_HASH = new Uint8Array(DIGEST_LEN);

/** Hd(0x13, utf8(key)): where `key` sits in the tree. */
export function keyPath(suite, key) {
  if (typeof key !== 'string') {
    throw new InvalidInput(`state key must be text, got ${pyTypeName(key)}`);
  }
  let raw;
  try {
    raw = utf8(key);
  } catch {
    throw new InvalidInput('state key is not valid UTF-8 text: it holds a lone surrogate');
  }
  return suite.hd(tags.STATE_PATH, raw);
}

/** Hd(0x12, value): `value` is already the canonical encoding of the record. */
export function valueHash(suite, value) {
  return suite.hd(tags.STATE_VALUE, value);
}

export function leafHash(suite, path, valueDigest) {
  return suite.hd(tags.STATE_LEAF, concat(path, valueDigest));
}

/** Bit `depth` of `path`; bit 0 is the most significant bit of byte 0. */
export function pathBit(path, depth) {
  return (path[depth >> 3] >> (7 - (depth & 7))) & 1;
}

export function samePrefix(a, b, bits) {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole] & mask) === (b[whole] & mask);
}

/** A proof of the binary form, strictly typed: exact fields, 32-byte hashes, ≤ 256 siblings. */
export function parseProof(obj) {
  const m = exactMap(obj, 'proof', ['leaf', 'siblings']);
  let leaf = null;
  if (m.leaf !== null) {
    const l = exactMap(m.leaf, 'proof.leaf', ['path', 'value_hash']);
    leaf = {
      path: getBytes(l, 'path', 'proof.leaf', DIGEST_LEN),
      value_hash: getBytes(l, 'value_hash', 'proof.leaf', DIGEST_LEN),
    };
  }
  const siblings = getList(m, 'siblings', 'proof', MAX_PROOF_SIBLINGS).map((sibling, i) => {
    if (!isBytes(sibling) || sibling.length !== DIGEST_LEN) {
      throw new InvalidInput(`proof.siblings[${i}] must be ${DIGEST_LEN} bytes`);
    }
    return sibling;
  });
  return { leaf, siblings };
}

async function fold(suite, path, proof) {
  const { leaf, siblings } = proof;
  let cur = ZERO_HASH;
  if (leaf !== null) {
    if (!samePrefix(leaf.path, path, siblings.length)) {
      throw new ProofError('proof leaf is not in the subtree the siblings lead to');
    }
    cur = await leafHash(suite, leaf.path, leaf.value_hash);
  }
  for (let depth = siblings.length - 1; depth >= 0; depth--) {
    const sibling = siblings[depth];
    const pair = pathBit(path, depth) ? concat(sibling, cur) : concat(cur, sibling);
    cur = await suite.hd(tags.STATE_NODE, pair);
  }
  return cur;
}

/** The root `proof` folds up to for `key`. */
export async function proofRoot(suite, key, proof) {
  return fold(suite, await keyPath(suite, key), proof);
}

/**
 * Throw ProofError unless `proof` shows `key` holding `value` under `root`: `value` is the
 * CE bytes of the record for a proof of presence, null for one of absence; a proof of
 * presence never passes as one of absence, nor the reverse.
 */
export async function verifyProof(suite, root, key, proof, value) {
  const path = await keyPath(suite, key);
  if (!equal(await fold(suite, path, proof), root)) {
    throw new ProofError('state proof does not lead to the state root');
  }
  const { leaf } = proof;
  if (leaf === null || !equal(leaf.path, path)) {
    if (value !== null) throw new ProofError(`state proof shows ${pyRepr(key)} absent`);
    return;
  }
  if (value === null) throw new ProofError(`state proof shows ${pyRepr(key)} present, not absent`);
  if (!equal(leaf.value_hash, await valueHash(suite, value))) {
    throw new ProofError(`state proof holds another value for ${pyRepr(key)}`);
  }
}
