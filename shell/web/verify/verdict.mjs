// What a bundle proved, said plainly (ledger/verdict.py's verify_any, for JS): a bundle as it
// arrives — JSON (an object, or text or bytes starting with "{") or CE bytes — its kind told
// by its fields (`key` §7 "state", `tx` §8 "inclusion", `entries` §9 "multi"), verified
// against a loaded anchor, and described: valid with what was proven, or not valid with the
// reason and nothing it claims repeated as if it were proven.

import { fromUtf8, isBytes, toHex, utf8 } from './bytes.mjs';
import { decode } from './ce.mjs';
import { InvalidInput, ProofError } from './errors.mjs';
import { isMap } from './fields.mjs';
import { verifyInclusionBundle, WHAT as INCLUSION_WHAT } from './inclusion.mjs';
import { BUNDLE, INCLUSION, MULTI, duplicateKey, fromJson } from './json.mjs';
import { verifyMultiBundle, WHAT as MULTI_WHAT } from './multi.mjs';
import { headerHash } from './block.mjs';
import { pyRepr } from './pytext.mjs';
import { verifyRecordBundle, WHAT as STATE_WHAT } from './record.mjs';

export const MAX_BUNDLE_BYTES = 8 << 20;
// A JSON bundle writes each byte as two hex digits, plus field names and punctuation.
export const MAX_JSON_BYTES = 3 * MAX_BUNDLE_BYTES;
const KIND_FIELDS = [['key', 'state'], ['tx', 'inclusion'], ['entries', 'multi']];
const KINDS = {
  state: { what: STATE_WHAT, schema: BUNDLE, verify: verifyRecordBundle },
  inclusion: { what: INCLUSION_WHAT, schema: INCLUSION, verify: verifyInclusionBundle },
  multi: { what: MULTI_WHAT, schema: MULTI, verify: verifyMultiBundle },
};
// Python's bytes.lstrip(): ASCII whitespace.
const ASCII_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c]);

function startsWithBrace(bytes) {
  for (const b of bytes) if (!ASCII_SPACE.has(b)) return b === 0x7b;
  return false;
}

/** ['json' | 'binary', the parsed JSON or decoded CE] of `input`; ProofError if neither. */
export function readForm(input) {
  if (!isBytes(input) && typeof input !== 'string') return ['json', input];
  let data = input;
  if (typeof input === 'string') {
    try {
      data = utf8(input);
    } catch (err) {
      throw new ProofError(`not a JSON document: ${err.message}`);
    }
  }
  // A UTF-8 byte order mark, which some editors write, as verdict.py's read_form (0xef starts
  // no bundle's CE: a negative integer).
  if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) {
    data = data.subarray(3);
  }
  if (!startsWithBrace(data)) {
    try {
      return ['binary', decode(data, MAX_BUNDLE_BYTES)];
    } catch (err) {
      if (!(err instanceof InvalidInput)) throw err;
      throw new ProofError(`malformed bundle (not JSON, so read as its CE bytes): ${err.message}`);
    }
  }
  if (data.length > MAX_JSON_BYTES) {
    throw new ProofError(`a JSON bundle is at most ${MAX_JSON_BYTES} bytes, got ${data.length}`);
  }
  let text;
  let parsed;
  try {
    text = fromUtf8(data);
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ProofError(`not a JSON document: ${err.message}`);
  }
  const twice = duplicateKey(text);
  if (twice !== null) {
    throw new ProofError(`not a JSON document: the key ${pyRepr(twice)} appears twice in one object`);
  }
  return ['json', parsed];
}

/** §7 names a `key`, §8 a `tx`, §9 `entries`; anything else is not a bundle. */
export function detectKind(obj) {
  if (isMap(obj)) {
    const kinds = KIND_FIELDS.filter(([name]) => Object.hasOwn(obj, name)).map(([, k]) => k);
    if (kinds.length === 1) return kinds[0];
    const names = Object.keys(obj).sort();
    if (names.length === 2 && names[0] === 'bundle' && names[1] === 'question') {
      throw new ProofError('an eligibility answer, not a proof bundle: `credchain verify '
        + "FILE --anchor ANCHOR` re-applies its rule; its 'bundle' field alone is a §9 bundle "
        + 'of the records the rule reads');
    }
  }
  throw new ProofError("not a proof bundle: a map with one of 'key' (§7), 'tx' (§8) or "
    + "'entries' (§9) was expected");
}

function binaryForm(kind, raw) {
  const { what, schema } = KINDS[kind];
  try {
    return fromJson(raw, schema, what);
  } catch (err) {
    if (err instanceof InvalidInput) throw new ProofError(`malformed ${what}: ${err.message}`);
    throw err;
  }
}

function txOutcome(proven) {
  const { body, sig } = proven.tx;
  return {
    tx: {
      tx_id: toHex(proven.tx_id), sender: toHex(body.sender), nonce: body.nonce,
      call: body.call, args: body.args, chain_id: body.chain_id, index: proven.index,
      count: proven.count, sig: toHex(sig),
    },
    receipt: proven.receipt,
    code: proven.receipt.code,
    events: proven.receipt.events,
  };
}

async function describe(kind, form, anchor, proven) {
  const { header, chain, genesis_hash: genesisHash } = proven.certified;
  const out = {
    ok: true, kind, form, suite: anchor.suite.name, chain_id: header.chain_id,
    genesis_hash: toHex(genesisHash), height: header.height,
    block_hash: toHex(await headerHash(anchor.suite, header)), time_ms: header.time_ms,
    validator_changes: chain.map((e) => e.header.height),
  };
  if (kind === 'inclusion') return { ...out, ...txOutcome(proven) };
  out.entries = proven.entries;
  // A §7 bundle proves one record: its fields at the top too, as a page shows them.
  return kind === 'state' ? { ...out, ...proven.entries[0] } : out;
}

/** Verify a bundle of any kind in either form against a loaded anchor; never throws for a
 * bad bundle (the verdict says why, and which kind and form it looked like). */
export async function verifyAny(input, anchor) {
  let form = null;
  let kind = null;
  try {
    const [readAs, raw] = readForm(input);
    form = readAs;
    kind = detectKind(raw);
    const obj = form === 'json' ? binaryForm(kind, raw) : raw;
    return await describe(kind, form, anchor, await KINDS[kind].verify(obj, anchor));
  } catch (err) {
    // ProofError is an InvalidInput; both mean "this bundle proves nothing".
    if (err instanceof InvalidInput) {
      return { ok: false, kind, form, suite: anchor.suite.name, reason: err.message };
    }
    throw err;
  }
}
