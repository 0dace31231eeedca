// RFC 6962 Merkle tree hashes over 32-byte items (PROTOCOL §4) and RFC 9162 audit paths (§8),
// as ledger/merkle.py has them.
//
// Leaf Hd(0x00, item), inner node Hd(0x01, left ‖ right), the empty tree H(""); a tree of
// n > 1 items splits at the largest power of two below n. `verifyInclusion` is RFC 9162
// §2.1.3.2 as PROTOCOL §8 spells it, naming what failed in the Python words: an index
// outside the tree, a path longer or shorter than the tree is deep, or another root.

import { concat, equal, isBytes } from './bytes.mjs';
import { ProofError } from './errors.mjs';
import { DIGEST_LEN } from './suites.mjs';
import * as tags from './tags.mjs';

// A tree of 2^64 leaves is 64 levels deep: no path can be longer.
export const MAX_PATH_LEN = 64;

function node(suite, left, right) {
  return suite.hd(tags.TX_NODE, concat(left, right));
}

/** The tree hash of `items` (tx ids or receipt hashes). */
export async function merkleRoot(suite, items) {
  if (items.length === 0) return suite.hash(new Uint8Array(0));
  let level = await Promise.all(items.map((item) => suite.hd(tags.TX_LEAF, item)));
  // Pairing left to right and carrying an odd last node up unchanged gives the same tree as
  // splitting at the largest power of two below n.
  while (level.length > 1) {
    const pairs = [];
    for (let i = 0; i + 1 < level.length; i += 2) pairs.push(node(suite, level[i], level[i + 1]));
    const next = await Promise.all(pairs);
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

/** Throw ProofError unless `path` shows `item` at leaf `index` of a tree of `size` leaves
 * with `root`. */
export async function verifyInclusion(suite, item, index, size, path, root) {
  if (!(index >= 0 && index < size)) {
    throw new ProofError(`index ${index} is outside a tree of ${size} leaves`);
  }
  if (path.length > MAX_PATH_LEN) {
    throw new ProofError(`audit path has ${path.length} entries, above ${MAX_PATH_LEN}`);
  }
  if (path.some((p) => !isBytes(p) || p.length !== DIGEST_LEN)) {
    throw new ProofError(`every audit path entry must be ${DIGEST_LEN} bytes`);
  }
  let cur = await suite.hd(tags.TX_LEAF, item);
  // BigInt: `index` and `size` may be any integer the bundle states.
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  for (const sibling of path) {
    if (sn === 0n) {
      throw new ProofError(
        `audit path is longer than a tree of ${size} leaves is deep at index ${index}`);
    }
    if ((fn & 1n) === 1n || fn === sn) {
      cur = await node(suite, sibling, cur);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      cur = await node(suite, cur, sibling);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) {
    throw new ProofError(`audit path is too short for index ${index} of ${size} leaves`);
  }
  if (!equal(cur, root)) throw new ProofError('audit path does not lead to the root');
}
