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

// The binary form of `input` and its kind; InvalidInput with "malformed bundle: …".
function binaryForm(input) {
  if (isBytes(input)) {
    let obj;
    try {
      obj = decode(input, MAX_BUNDLE_BYTES);
    } catch (err) {
      if (err instanceof InvalidInput) throw new InvalidInput(`malformed bundle: ${err.message}`);
      throw err;
    }
    return { obj, kind: kindOf(obj) };
  }
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      throw new InvalidInput(`malformed bundle: not valid JSON: ${err.message}`);
    }
  }
  const kind = kindOf(json);
  if (kind === null) return { obj: json, kind };
  try {
    return { obj: fromJson(json, SCHEMAS[kind], kind), kind };
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
  let form;
  try {
    form = binaryForm(bundle);
  } catch (err) {
    if (err instanceof InvalidInput) return failure(null, err.message);
    throw err;
  }
  if (form.kind === null) {
    return failure(null, 'malformed bundle: not a bundle of PROTOCOL §7, §8 or §9 '
      + '(a map with a key, tx or entries field)');
  }
  try {
    return { ok: true, ...(await verifyParsed(form.obj, form.kind, loaded)) };
  } catch (err) {
    if (err instanceof InvalidInput) return failure(form.kind, err.message);
    throw err;
  }
}
