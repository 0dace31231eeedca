// The verifier's public API, for the portal and for anyone checking credchain offline, in a
// browser or in Node.js, with no dependencies:
//
//   verifyBundle(bundle, anchor, options?) -> Promise<verdict>
//
// `bundle`: a §7, §8 or §9 bundle in its JSON form (an object, or JSON text or bytes) or its
// binary form (CE bytes, a Uint8Array); the form and the kind are detected as
// ledger/verdict.py detects them. `anchor`: the anchor file's JSON (object or text) or what
// loadAnchor returned. `options` (used when the anchor is loaded here): {webCrypto:
// SubtleCrypto | null, ed25519BigInt: boolean} (see suites.mjs).
//
// A verdict that fails: {ok: false, kind, form, suite?, reason}; `kind` and `form` are what
// the bundle looked like (null when not even that was told), `reason` is the Python
// verifier's. A verdict that holds: {ok: true, kind ('state' §7, 'inclusion' §8, 'multi' §9),
// form ('json' | 'binary'), suite, chain_id, genesis_hash, height, block_hash, time_ms (Unix
// ms, UTC), validator_changes (the heights walked)}, and
//   state and multi: entries [{key, present, value (decoded), value_ce, value_hash}], and for
//                    state the one entry's fields at the top as well;
//   inclusion:       tx {tx_id, sender, nonce, call, args, chain_id, index, count, sig},
//                    receipt {tx_id, code, message, events}, code, events.
// Byte strings inside decoded values are Uint8Array; hashes and keys are lowercase hex.

import { loadAnchor as loadAnchorFile } from './anchor.mjs';
import { InvalidInput } from './errors.mjs';
import { verifyAny } from './verdict.mjs';

export { encode, decode } from './ce.mjs';
export { toHex, fromHex } from './bytes.mjs';
export { taggedFromJson, taggedToJsonValue } from './json.mjs';
export { SUITE_NAMES } from './suites.mjs';
export { InvalidInput, ProofError, EncodingError } from './errors.mjs';

const LOADED = Symbol('credchain loaded anchor');

/** Load and check an anchor file once, to verify many bundles against it. */
export async function loadAnchor(anchorJson, options = {}) {
  const anchor = await loadAnchorFile(anchorJson, options);
  return Object.freeze({ ...anchor, [LOADED]: true });
}

/** Verify a bundle against an anchor; never throws for bad input, only for a bug. */
export async function verifyBundle(bundle, anchor, options = {}) {
  let loaded = anchor;
  if (!(anchor !== null && typeof anchor === 'object' && anchor[LOADED])) {
    try {
      loaded = await loadAnchor(anchor, options);
    } catch (err) {
      if (err instanceof InvalidInput) {
        return { ok: false, kind: null, form: null, reason: `bad anchor: ${err.message}` };
      }
      throw err;
    }
  }
  return verifyAny(bundle, loaded);
}
