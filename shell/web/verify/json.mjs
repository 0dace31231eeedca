// The JSON forms of bundles and anchors (ledger/jsonform.py, ledger/PROTOCOL.md §10): the
// same fields as the binary (CE) form, each field typed `bin` in PROTOCOL written as lowercase
// hex. JSON has no byte strings, so the schemas below say which fields are bytes; `fromJson`
// turns their hex into Uint8Array and refuses anything else (upper case, odd length, a field
// the schema does not know), with jsonform.py's messages. Untyped values (transaction args,
// receipt events, decoded records, the test vectors) use the tagged form: a byte string is
// {"$bin": "<hex>"}, and a map whose only key is "$bin" or "$map" (which would read back as a
// tag) is {"$map": {<its key>: <its value, tagged>}}.
//
// JSON parsed in JS holds numbers as doubles: an integer beyond 2^53 has already lost its
// value, so it is refused here rather than hashed wrongly.

import { fromHex, isBytes, toHex } from './bytes.mjs';
import { InvalidInput } from './errors.mjs';
import { isMap } from './fields.mjs';
import { pyRepr, pyTypeName } from './pytext.mjs';

// Free-form values are bounded in depth so a hostile document cannot exhaust the stack.
export const MAX_DEPTH = 32;

export const BIN = Object.freeze({ kind: 'bin' });
export const PLAIN = Object.freeze({ kind: 'plain' });
export const TAGGED = Object.freeze({ kind: 'tagged' });
export const listOf = (item) => Object.freeze({ kind: 'list', item });
export const fixed = (...items) => Object.freeze({ kind: 'fixed', items });
export const nullable = (inner) => Object.freeze({ kind: 'nullable', inner });
/** A map with exactly these fields (any of them may be absent here: parsers check that). */
export const record = (fields) => Object.freeze({ kind: 'record', fields });

export const HEADER = record({
  chain_id: PLAIN, height: PLAIN, prev_hash: BIN, time_ms: PLAIN, view: PLAIN, proposer: PLAIN,
  tx_root: BIN, receipts_root: BIN, state_root: BIN, validators_hash: BIN,
  next_validators_hash: BIN,
});
export const QC = record({
  height: PLAIN, view: PLAIN, block_hash: BIN, votes: listOf(fixed(PLAIN, BIN)),
});
export const VALIDATORS = listOf(record({ name: PLAIN, pubkey: BIN }));
export const PROOF = record({
  leaf: nullable(record({ path: BIN, value_hash: BIN })), siblings: listOf(BIN),
});
const VALIDATOR_CHAIN = listOf(record({ header: HEADER, qc: QC, next_validators: VALIDATORS }));
const CERTIFIED = {
  version: PLAIN, chain_id: PLAIN, genesis_hash: BIN, header: HEADER, qc: QC,
  validator_chain: VALIDATOR_CHAIN,
};
/** PROTOCOL §7. */
export const BUNDLE = record({ ...CERTIFIED, key: PLAIN, value: nullable(BIN), proof: PROOF });
/** PROTOCOL §8: the transaction and receipt are CE bytes, the paths lists of hashes. */
export const INCLUSION = record({
  ...CERTIFIED, index: PLAIN, count: PLAIN, tx: BIN, tx_path: listOf(BIN), receipt: BIN,
  receipt_path: listOf(BIN),
});
/** PROTOCOL §9. */
export const MULTI = record({
  ...CERTIFIED,
  entries: listOf(record({ key: PLAIN, value: nullable(BIN), proof: PROOF })),
});
/** The verifier's anchor file (ledger/genesis.py). */
export const ANCHOR = record({ suite: PLAIN, genesis_header: HEADER, validators: VALIDATORS });

function plain(value, where, depth) {
  if (depth > MAX_DEPTH) throw new InvalidInput(`${where}: nested deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidInput(`${where} is an integer beyond 2^53, which JSON in JS cannot `
        + 'carry exactly');
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => plain(v, `${where}[${i}]`, depth + 1));
  if (isMap(value)) {
    return mapEntries(value, (k, v) => plain(v, `${where}.${k}`, depth + 1));
  }
  throw new InvalidInput(`${where} must be text, an integer, a boolean or null`);
}

// A fresh map with the same keys (defineProperty, so "__proto__" stays an ordinary key).
function mapEntries(obj, convert) {
  const out = {};
  for (const key of Object.keys(obj)) {
    Object.defineProperty(out, key, {
      value: convert(key, obj[key]), enumerable: true, writable: true, configurable: true,
    });
  }
  return out;
}

function walk(value, schema, where, depth) {
  if (depth > MAX_DEPTH) throw new InvalidInput(`${where}: nested deeper than ${MAX_DEPTH}`);
  switch (schema.kind) {
    case 'bin':
      return fromHex(value, where);
    case 'plain':
      return plain(value, where, depth);
    case 'tagged':
      return tagged(value, where, depth);
    case 'nullable':
      return value === null ? null : walk(value, schema.inner, where, depth);
    case 'list':
      if (!Array.isArray(value)) {
        throw new InvalidInput(`${where} must be an array, got ${pyTypeName(value)}`);
      }
      return value.map((v, i) => walk(v, schema.item, `${where}[${i}]`, depth + 1));
    case 'fixed':
      if (!Array.isArray(value) || value.length !== schema.items.length) {
        throw new InvalidInput(`${where} must be an array of ${schema.items.length} items`);
      }
      return value.map((v, i) => walk(v, schema.items[i], `${where}[${i}]`, depth + 1));
    default:
      if (!isMap(value)) throw new InvalidInput(`${where} must be a map, got ${pyTypeName(value)}`);
      return mapEntries(value, (key, item) => {
        if (!Object.hasOwn(schema.fields, key)) {
          throw new InvalidInput(`${where} has unknown field ${pyRepr(key)}`);
        }
        return walk(item, schema.fields[key], `${where}.${key}`, depth + 1);
      });
  }
}

/** The binary form of a JSON-form `obj` (hex → Uint8Array) following `schema`. */
export function fromJson(obj, schema, where = '$') {
  return walk(obj, schema, where, 0);
}

/** The JSON form of a binary-form value (Uint8Array → hex) following `schema`. */
export function toJson(value, schema, where = '$') {
  return walkOut(value, schema, where, 0);
}

function walkOut(value, schema, where, depth) {
  if (depth > MAX_DEPTH) throw new InvalidInput(`${where}: nested deeper than ${MAX_DEPTH}`);
  switch (schema.kind) {
    case 'bin':
      if (!isBytes(value)) {
        throw new InvalidInput(`${where} must be bytes, got ${pyTypeName(value)}`);
      }
      return toHex(value);
    case 'plain':
      return plain(value, where, depth);
    case 'tagged':
      return taggedToJson(value, where, depth);
    case 'nullable':
      return value === null ? null : walkOut(value, schema.inner, where, depth);
    case 'list':
    case 'fixed':
      if (!Array.isArray(value)) throw new InvalidInput(`${where} must be an array`);
      return value.map((v, i) => walkOut(v, schema.kind === 'list' ? schema.item : schema.items[i],
        `${where}[${i}]`, depth + 1));
    default:
      if (!isMap(value)) throw new InvalidInput(`${where} must be a map, got ${pyTypeName(value)}`);
      return mapEntries(value, (key, item) => {
        if (!Object.hasOwn(schema.fields, key)) {
          throw new InvalidInput(`${where} has unknown field ${pyRepr(key)}`);
        }
        return walkOut(item, schema.fields[key], `${where}.${key}`, depth + 1);
      });
  }
}

function tagged(value, where, depth) {
  if (depth > MAX_DEPTH) throw new InvalidInput(`${where}: nested deeper than ${MAX_DEPTH}`);
  if (isBytes(value)) throw new InvalidInput(`${where}: raw bytes in a JSON document`);
  if (Array.isArray(value)) return value.map((v, i) => tagged(v, `${where}[${i}]`, depth + 1));
  if (isMap(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$bin') return fromHex(value.$bin, `${where}.$bin`);
    if (isEscaped(value)) { // {"$map": M}: the map M, as it is
      const inner = value.$map;
      if (!isMap(inner) || !isEscaped(inner)) {
        throw new InvalidInput(`${where}.$map must be a map whose only key is '$bin' or '$map'`);
      }
      return mapEntries(inner, (k, v) => tagged(v, `${where}.${k}`, depth + 1));
    }
    return mapEntries(value, (k, v) => tagged(v, `${where}.${k}`, depth + 1));
  }
  return plain(value, where, depth);
}

/** A map whose only key is "$bin" or "$map": alone, its key would read back as a tag. */
function isEscaped(map) {
  const keys = Object.keys(map);
  return keys.length === 1 && (keys[0] === '$bin' || keys[0] === '$map');
}

/** JSON with {"$bin": hex} tags → a value with Uint8Array byte strings. */
export function taggedFromJson(obj) {
  return tagged(obj, '$', 0);
}

function taggedToJson(value, where, depth) {
  if (depth > MAX_DEPTH) throw new InvalidInput(`${where}: nested deeper than ${MAX_DEPTH}`);
  if (isBytes(value)) return { $bin: toHex(value) };
  if (typeof value === 'bigint') return value; // beyond 2^53: the caller decides how to print it
  if (Array.isArray(value)) {
    return value.map((v, i) => taggedToJson(v, `${where}[${i}]`, depth + 1));
  }
  if (isMap(value)) {
    const out = mapEntries(value, (k, v) => taggedToJson(v, `${where}.${k}`, depth + 1));
    return isEscaped(value) ? { $map: out } : out;
  }
  return plain(value, where, depth);
}

/** A value with byte strings → the tagged JSON form ({"$bin": hex}). */
export function taggedToJsonValue(value) {
  return taggedToJson(value, '$', 0);
}

/**
 * The first key that appears twice in one object of `text` (a JSON document JSON.parse has
 * read, which keeps the last value), or null: such a document is refused, as jsonform.py's
 * unique_keys does, since another reader could take the first value.
 */
export function duplicateKey(text) {
  const objects = []; // per open container: a Set of its keys (an object) or null (an array)
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const keys = objects[objects.length - 1];
        const key = JSON.parse(text.slice(i, j + 1));
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      objects.push(null);
    } else if (c === '}' || c === ']') {
      objects.pop();
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] !== null;
    }
  }
  return null;
}
