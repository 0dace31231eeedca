// The trust anchor the reader chose, pinned in this browser (localStorage), never taken from
// the node that serves the portal: the reader loads it from another source (the platform's
// published anchor file, or the one `credchain network init` / `credchain demo` wrote) and
// compares its genesis hash with one published elsewhere.
//
//   readAnchorText(file | text) -> text       pinAnchor(text) -> loaded anchor (checked first)
//   pinnedAnchor() -> {text, anchor} | null   unpinAnchor()    describeAnchor(anchor) -> facts

import { loadAnchor, toHex } from './verify/index.mjs';

const STORAGE_KEY = 'credchain.anchor.v1';
const MAX_ANCHOR_BYTES = 1 << 20;
let cache = null; // {text, anchor}: loading checks hashes, so do it once per page

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage switched off: an anchor can still be used for this page only
  }
}

/** The text of an anchor file (a File/Blob from a picker or a drop) or pasted text. */
export async function readAnchorText(source) {
  if (typeof source === 'string') return source;
  if (source.size > MAX_ANCHOR_BYTES) throw new Error(`an anchor file is at most ${MAX_ANCHOR_BYTES} bytes`);
  return source.text();
}

/** Check an anchor (loadAnchor throws with the reason if it is not one) and pin it. */
export async function pinAnchor(text) {
  const anchor = await loadAnchor(text);
  storage()?.setItem(STORAGE_KEY, text);
  cache = { text, anchor };
  return anchor;
}

/** The pinned anchor, checked, or null when none is pinned (or the pinned text is bad). */
export async function pinnedAnchor() {
  const text = storage()?.getItem(STORAGE_KEY) ?? null;
  if (text === null) return null;
  if (cache !== null && cache.text === text) return cache;
  try {
    cache = { text, anchor: await loadAnchor(text) };
    return cache;
  } catch {
    return null;
  }
}

export function unpinAnchor() {
  storage()?.removeItem(STORAGE_KEY);
  cache = null;
}

/** What identifies an anchor to a person: chain, suite, genesis hash, validators. */
export function describeAnchor(anchor) {
  return {
    chainId: anchor.header.chain_id,
    suite: anchor.suite.name,
    genesisHash: toHex(anchor.genesisHash),
    validators: anchor.validators.map((v) => ({ name: v.name, pubkey: toHex(v.pubkey) })),
  };
}
