// The verifier's public API, for the portal and for anyone checking credchain offline, in a
// browser or in Node.js, with no dependencies:
//
//   verifyBundle(bundle, anchor, options?) -> Promise<{ok: true, kind, ...what was proven}
//                                                    | {ok: false, kind, reason}>
//
// `bundle`: a §7, §8 or §9 bundle as its JSON form (an object or JSON text) or its binary
// form (CE bytes, a Uint8Array). `anchor`: the anchor file's JSON (object or text) or what
// loadAnchor returned. `options`: {webCrypto: SubtleCrypto | null, ed25519BigInt: boolean}
// (see suites.mjs). What was proven: kind ('bundle', 'inclusion', 'multi'), suite, chain_id,
// height, time_ms (Unix ms, UTC), block_hash (hex), validator_changes (heights walked); for
// 'bundle': key, present, value (decoded), value_ce (hex); for 'inclusion': index, count,
// tx_id, tx {body, sig}, receipt, code, events; for 'multi': entries [{key, present, value,
// value_ce}]. `reason` says what failed, in the Python verifier's words where it has them.

import { decode } from './ce.mjs';
import { InvalidInput } from './errors.mjs';
import { BUNDLE, INCLUSION, MULTI, fromJson } from './json.mjs';
import { loadAnchor as loadAnchorFile } from './anchor.mjs';
import { MAX_BUNDLE_BYTES, kindOf, verifyParsed } from './bundle.mjs';
import { isBytes } from './bytes.mjs';

export { encode, decode } from './ce.mjs';
export { toHex, fromHex } from './bytes.mjs';
export { taggedFromJson, taggedToJsonValue } from './json.mjs';
export { SUITE_NAMES } from './suites.mjs';
export { InvalidInput, ProofError, EncodingError } from './errors.mjs';

const SCHEMAS = { bundle: BUNDLE, inclusion: INCLUSION, multi: MULTI };
const LOADED = Symbol('credchain loaded anchor');

/** Load and check an anchor file once, to verify many bundles against it. */
export async function loadAnchor(anchorJson, options = {}) {
  const anchor = await loadAnchorFile(anchorJson, options);
  return Object.freeze({ ...anchor, [LOADED]: true });
}

function failure(kind, reason) {
  return { ok: false, kind, reason };
}

// `input` as a value of the CE model: decoded CE bytes, or parsed JSON text, or as it is.
function readInput(input) {
  if (isBytes(input)) {
    try {
      return decode(input, MAX_BUNDLE_BYTES);
    } catch (err) {
      if (err instanceof InvalidInput) throw new InvalidInput(`malformed bundle: ${err.message}`);
      throw err;
    }
  }
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (err) {
    throw new InvalidInput(`malformed bundle: not valid JSON: ${err.message}`);
  }
}

// The binary form of what `readInput` gave: JSON's hex fields become bytes per `kind`.
function binaryForm(value, kind, fromBytes) {
  if (fromBytes) return value;
  try {
    return fromJson(value, SCHEMAS[kind], kind);
  } catch (err) {
    if (err instanceof InvalidInput) throw new InvalidInput(`malformed bundle: ${err.message}`);
    throw err;
  }
}

/** Verify a bundle against an anchor; never throws for bad input, only for a bug. */
export async function verifyBundle(bundle, anchor, options = {}) {
  let loaded = anchor;
  if (!(anchor !== null && typeof anchor === 'object' && anchor[LOADED])) {
    try {
      loaded = await loadAnchor(anchor, options);
    } catch (err) {
      if (err instanceof InvalidInput) return failure(null, `bad anchor: ${err.message}`);
      throw err;
    }
  }
  let value;
  try {
    value = readInput(bundle);
  } catch (err) {
    if (err instanceof InvalidInput) return failure(null, err.message);
    throw err;
  }
  const kind = kindOf(value);
  if (kind === null) {
    return failure(null, 'malformed bundle: not a bundle of PROTOCOL §7, §8 or §9 '
      + '(a map with a key, tx or entries field)');
  }
  try {
    const obj = binaryForm(value, kind, isBytes(bundle));
    return { ok: true, ...(await verifyParsed(obj, kind, loaded)) };
  } catch (err) {
    if (err instanceof InvalidInput) return failure(kind, err.message);
    throw err;
  }
}
