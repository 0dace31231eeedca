// The canonical-data limits a transaction's decoder applies (ledger/limits.py), so that an
// inclusion bundle's transaction is judged as the Python verifier judges it: at most
// 64 KiB and TX_DEPTH levels of nesting, and `args` within `checkArgs` — nesting, items per
// map or array, map key and text or byte-string lengths. Every transaction a node admits
// meets them; a bundle whose transaction does not is refused with the reason.

import { compare, isBytes, utf8 } from './bytes.mjs';
import { InvalidInput } from './errors.mjs';
import { isMap } from './fields.mjs';

export const MAX_ARGS_DEPTH = 16;
export const TX_DEPTH = 2 + MAX_ARGS_DEPTH; // {"body": {"args": ARGS}}
export const MAX_ARGS_ITEMS = 1024;
export const MAX_ARGS_KEY_BYTES = 128;
export const MAX_ARGS_STR_BYTES = 8 * 1024;
export const MAX_TX_BYTES = 64 * 1024;

function utf8Length(text, what) {
  try {
    return utf8(text).length;
  } catch {
    throw new InvalidInput(`${what} has a text that is not valid Unicode`);
  }
}

// A map's entries in the order a decoded Python dict holds them (CE order: by UTF-8
// bytes); a JS object would list integer-like keys first.
function entriesInCeOrder(map) {
  return Object.keys(map)
    .map((key) => [utf8(key), key])
    .sort((a, b) => compare(a[0], b[0]))
    .map(([, key]) => [key, map[key]]);
}

function checkValue(value, depth, stack, what) {
  if (Array.isArray(value) || isMap(value)) {
    stack.push([value, depth + 1]);
  } else if (typeof value === 'string') {
    if (utf8Length(value, what) > MAX_ARGS_STR_BYTES) {
      throw new InvalidInput(`${what} has a text longer than ${MAX_ARGS_STR_BYTES} bytes`);
    }
  } else if (isBytes(value)) {
    if (value.length > MAX_ARGS_STR_BYTES) {
      throw new InvalidInput(`${what} has a byte string longer than ${MAX_ARGS_STR_BYTES} bytes`);
    }
  }
  // Decoded CE holds nothing else than null, booleans and 64-bit integers here.
}

/** Throw InvalidInput unless `args` is a map within the args limits; the same walk as
 * ledger/limits.py's check_args (a stack, last pushed first), so the same first failure. */
export function checkArgs(args, what = 'tx body.args') {
  if (!isMap(args)) throw new InvalidInput(`${what} must be a map`);
  const stack = [[args, 1]];
  while (stack.length) {
    const [container, depth] = stack.pop();
    if (depth > MAX_ARGS_DEPTH) {
      throw new InvalidInput(`${what} is nested deeper than ${MAX_ARGS_DEPTH} levels`);
    }
    const isArray = Array.isArray(container);
    const size = isArray ? container.length : Object.keys(container).length;
    if (size > MAX_ARGS_ITEMS) {
      throw new InvalidInput(
        `${what} has a map or array of ${size} items, above ${MAX_ARGS_ITEMS}`);
    }
    if (isArray) {
      for (const value of container) checkValue(value, depth, stack, what);
      continue;
    }
    for (const [key, value] of entriesInCeOrder(container)) {
      if (utf8Length(key, what) > MAX_ARGS_KEY_BYTES) {
        throw new InvalidInput(`${what} has a map key longer than ${MAX_ARGS_KEY_BYTES} bytes`);
      }
      checkValue(value, depth, stack, what);
    }
  }
}
