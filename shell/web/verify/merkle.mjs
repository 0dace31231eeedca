// RFC 6962 Merkle tree hashes over 32-byte items (PROTOCOL §4) and audit paths (§8).
//
// Leaf Hd(0x00, item), inner node Hd(0x01, left ‖ right), the empty tree H(""); a tree of
// n > 1 items splits at the largest power of two below n. `verifyInclusion` is RFC 9162
// §2.1.3.2 as PROTOCOL §8 spells it, with ledger/merkle.py's messages.

import { concat, equal } from './bytes.mjs';
import { ProofError } from './errors.mjs';
import * as tags from './tags.mjs';

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

/** Throw ProofError unless `item` is leaf `index` of a tree of `size` leaves with `root`. */
export async function verifyInclusion(suite, item, index, size, path, root) {
  if (!(index >= 0 && index < size)) {
    throw new ProofError(`index ${index} outside a tree of ${size}`);
  }
  let cur = await suite.hd(tags.TX_LEAF, item);
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  for (const sibling of path) {
    if (sn === 0n) throw new ProofError('inclusion path is longer than the tree is deep');
    if (fn % 2n === 1n || fn === sn) {
      cur = await node(suite, sibling, cur);
      while (fn % 2n === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      cur = await node(suite, cur, sibling);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n || !equal(cur, root)) {
    throw new ProofError('inclusion path does not lead to the root');
  }
}
