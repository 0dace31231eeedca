// §7 state bundles, one record proven (ledger/bundle.py's verifier side), and the state
// entry check §9 shares: the envelope (certify.mjs), then the state proof of `key` against
// header.state_root, present with `value` (its CE bytes) or absent when `value` is nil.
//
// BUNDLE = {"version": 1, "chain_id", "genesis_hash", "key": str, "value": bin | nil,
//           "proof": PROOF, "header", "qc", "validator_chain"}

import { toHex } from './bytes.mjs';
import { decode } from './ce.mjs';
import { ENVELOPE_FIELDS, parseCertified, verifyCertified } from './certify.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getBytes, getStr } from './fields.mjs';
import { pyRepr } from './pytext.mjs';
import { parseProof, valueHash, verifyProof } from './smt.mjs';

export const WHAT = 'bundle';
export const MAX_KEY_LEN = 512;
export const MAX_VALUE_BYTES = 1 << 20;
const FIELDS = [...ENVELOPE_FIELDS, 'key', 'value', 'proof'];

/** A record's `value` field: nil, or bytes within the bound. */
export function parseValue(m, where) {
  return m.value === null ? null : getBytes(m, 'value', where, null, MAX_VALUE_BYTES);
}

/** The parsed §7 bundle; a wrong shape is a ProofError ("malformed bundle: …"). */
function parse(obj) {
  try {
    const m = exactMap(obj, WHAT, FIELDS);
    const certified = parseCertified(m, WHAT);
    const value = parseValue(m, WHAT);
    const key = getStr(m, 'key', WHAT, MAX_KEY_LEN);
    return { certified, key, value, proof: parseProof(m.proof) };
  } catch (err) {
    if (err instanceof InvalidInput && !(err instanceof ProofError)) {
      throw new ProofError(`malformed ${WHAT}: ${err.message}`);
    }
    throw err;
  }
}

/** The state proof of `key` against `header.state_root`, its failure named with the key and
 * the block (§7, §9). */
export async function verifyStateEntry(suite, header, key, value, proof) {
  try {
    await verifyProof(suite, header.state_root, key, proof, value);
  } catch (err) {
    if (err instanceof ProofError) {
      throw new ProofError(`state proof of ${pyRepr(key)} at block ${header.height}: `
        + err.message);
    }
    if (err instanceof InvalidInput) {
      throw new ProofError(`malformed state proof of ${pyRepr(key)}: ${err.message}`);
    }
    throw err;
  }
}

/** What a proven entry says: present or not; its record decoded, its CE bytes and value
 * hash. Bytes that are not CE stay shown as bytes, with why they are not decoded: the proof
 * covers them whatever they are, so a valid bundle stays valid. */
export async function describeEntry(suite, key, value) {
  if (value === null) {
    return { key, present: false, value: null, value_ce: null, value_hash: null };
  }
  const out = { key, present: true, value_ce: toHex(value),
    value_hash: toHex(await valueHash(suite, value)) };
  try {
    out.value = decode(value);
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    out.value_error = `the proven value is not canonical CE: ${err.message}`;
  }
  return out;
}

/** Verify a binary-form §7 bundle against a loaded anchor: {header, entries: [one]}. */
export async function verifyRecordBundle(obj, anchor) {
  const b = parse(obj);
  const header = await verifyCertified(b.certified, anchor);
  await verifyStateEntry(anchor.suite, header, b.key, b.value, b.proof);
  return { certified: b.certified, entries: [await describeEntry(anchor.suite, b.key, b.value)] };
}
