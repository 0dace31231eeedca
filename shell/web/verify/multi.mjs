// §9 multi-key bundles: several state records at one height (ledger/multi.py's verifier
// side). Entries are not empty, their keys distinct and sorted by their UTF-8 bytes; then the
// envelope (certify.mjs) and every entry's state proof as in §7, naming the first failure.
//
// MULTI = {"version": 1, "chain_id", "genesis_hash",
//          "entries": [{"key": str, "value": bin | nil, "proof": PROOF}, ...],
//          "header", "qc", "validator_chain"}

import { compare, utf8 } from './bytes.mjs';
import { ENVELOPE_FIELDS, parseCertified, verifyCertified } from './certify.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { exactMap, getList, getStr } from './fields.mjs';
import { pyRepr } from './pytext.mjs';
import { MAX_KEY_LEN, describeEntry, parseValue, verifyStateEntry } from './record.mjs';
import { parseProof } from './smt.mjs';

export const WHAT = 'multi-key bundle';
// The eligibility rule reads a handful of records; the bound keeps a bundle's proofs small.
export const MAX_ENTRIES = 256;
const FIELDS = [...ENVELOPE_FIELDS, 'entries'];

function parseEntries(m) {
  return getList(m, 'entries', WHAT, MAX_ENTRIES).map((item, i) => {
    const where = `${WHAT}.entries[${i}]`;
    const e = exactMap(item, where, ['key', 'value', 'proof']);
    const value = parseValue(e, where);
    return { key: getStr(e, 'key', where, MAX_KEY_LEN), value, proof: parseProof(e.proof) };
  });
}

function checkOrder(keys) {
  let encoded;
  try {
    encoded = keys.map(utf8);
  } catch (err) {
    throw new ProofError(`malformed ${WHAT}: a key is not valid UTF-8 text: ${err.message}`);
  }
  for (let i = 1; i < encoded.length; i++) {
    const order = compare(encoded[i], encoded[i - 1]);
    if (order === 0) throw new ProofError(`${WHAT} lists key ${pyRepr(keys[i])} twice`);
    if (order < 0) {
      throw new ProofError(`${WHAT} entries are not sorted by key: ${pyRepr(keys[i])} comes `
        + `after ${pyRepr(keys[i - 1])}`);
    }
  }
}

function parse(obj) {
  let certified;
  let entries;
  try {
    const m = exactMap(obj, WHAT, FIELDS);
    certified = parseCertified(m, WHAT);
    entries = parseEntries(m);
  } catch (err) {
    if (err instanceof InvalidInput && !(err instanceof ProofError)) {
      throw new ProofError(`malformed ${WHAT}: ${err.message}`);
    }
    throw err;
  }
  if (entries.length === 0) throw new ProofError(`malformed ${WHAT}: entries is empty`);
  checkOrder(entries.map((e) => e.key));
  return { certified, entries };
}

/** Verify a binary-form §9 bundle against a loaded anchor: {certified, entries}. */
export async function verifyMultiBundle(obj, anchor) {
  const b = parse(obj);
  const header = await verifyCertified(b.certified, anchor);
  const entries = [];
  for (const e of b.entries) {
    await verifyStateEntry(anchor.suite, header, e.key, e.value, e.proof);
    entries.push(await describeEntry(anchor.suite, e.key, e.value));
  }
  return { certified: b.certified, entries };
}
