// Strict field readers for typed values read from CE maps or JSON, with the messages of
// ledger/fields.py: anything missing, extra, or of the wrong type or length is an
// InvalidInput naming the field.

import { isBytes } from './bytes.mjs';
import { InvalidInput } from './errors.mjs';
import { pyLen, pyRepr, pySorted, pyTypeName } from './pytext.mjs';

export function isMap(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isBytes(value);
}

export function isInt(value) {
  return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint';
}

/** `obj` as a map with exactly the `required` fields (plus any of `optional`). */
export function exactMap(obj, what, required, optional = []) {
  if (!isMap(obj)) throw new InvalidInput(`${what} must be a map, got ${pyTypeName(obj)}`);
  const keys = Object.keys(obj);
  const missing = required.filter((k) => !Object.hasOwn(obj, k));
  if (missing.length) {
    throw new InvalidInput(`${what} is missing field(s) ${pyRepr(pySorted(missing))}`);
  }
  const extra = keys.filter((k) => !required.includes(k) && !optional.includes(k));
  if (extra.length) {
    throw new InvalidInput(`${what} has unknown field(s) ${pyRepr(pySorted(extra))}`);
  }
  return obj;
}

export function getInt(obj, key, what, minimum = 0) {
  const v = obj[key];
  if (!isInt(v)) throw new InvalidInput(`${what}.${key} must be an integer, got ${pyTypeName(v)}`);
  if (v < minimum) throw new InvalidInput(`${what}.${key} must be ≥ ${minimum}, got ${v}`);
  return v;
}

export function getStr(obj, key, what, maxLen = 256) {
  const v = obj[key];
  if (typeof v !== 'string') {
    throw new InvalidInput(`${what}.${key} must be text, got ${pyTypeName(v)}`);
  }
  if (pyLen(v) > maxLen) {
    throw new InvalidInput(`${what}.${key} is longer than ${maxLen} characters`);
  }
  return v;
}

export function getBytes(obj, key, what, length = null, maxLen = 1 << 20) {
  const v = obj[key];
  if (!isBytes(v)) throw new InvalidInput(`${what}.${key} must be bytes, got ${pyTypeName(v)}`);
  if (length !== null && v.length !== length) {
    throw new InvalidInput(`${what}.${key} must be ${length} bytes, got ${v.length}`);
  }
  if (v.length > maxLen) throw new InvalidInput(`${what}.${key} is longer than ${maxLen} bytes`);
  return v;
}

export function getList(obj, key, what, maxLen) {
  const v = obj[key];
  if (!Array.isArray(v)) {
    throw new InvalidInput(`${what}.${key} must be an array, got ${pyTypeName(v)}`);
  }
  if (v.length > maxLen) {
    throw new InvalidInput(`${what}.${key} has ${v.length} items, above the bound of ${maxLen}`);
  }
  return v;
}
