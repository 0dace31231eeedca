// Byte strings as Uint8Array: lowercase hex, UTF-8, concatenation, comparison, big-endian
// and little-endian integers. Small helpers every other module of the verifier shares.

import { InvalidInput } from './errors.mjs';
import { pyTypeName } from './pytext.mjs';

const HEX_DIGITS = '0123456789abcdef';
const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;
const utf8Encoder = new TextEncoder();
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function toHex(bytes) {
  let out = '';
  for (const b of bytes) out += HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  return out;
}

/** Strict lowercase hex of even length to bytes; `where` names the field in the error. */
export function fromHex(text, where = 'value') {
  if (typeof text !== 'string') {
    throw new InvalidInput(`${where} must be a lowercase hex string, got ${pyTypeName(text)}`);
  }
  if (!LOWER_HEX.test(text)) {
    throw new InvalidInput(`${where} must be lowercase hex of even length`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

/** Whether `text` has no UTF-16 surrogate half without its partner (such text has no UTF-8
 * form). A loop, not a lookbehind regex: Safari before 16.4 cannot even parse those. */
export function isWellFormedText(text) {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** UTF-8 bytes of `text`; text with a lone surrogate has none and is refused. */
export function utf8(text) {
  if (!isWellFormedText(text)) throw new InvalidInput('text holds a lone UTF-16 surrogate');
  return utf8Encoder.encode(text);
}

/** Text from UTF-8 bytes; malformed UTF-8 is refused, never repaired. */
export function fromUtf8(bytes) {
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    throw new InvalidInput('text is not valid UTF-8');
  }
}

export function concat(...parts) {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte-wise order: negative, zero or positive as `a` sorts before, with or after `b`. */
export function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function bigFromBytesBE(bytes) {
  return bytes.length === 0 ? 0n : BigInt('0x' + toHex(bytes));
}

export function bigFromBytesLE(bytes) {
  return bigFromBytesBE(Uint8Array.from(bytes).reverse());
}

/** `value` as exactly `length` big-endian bytes (value must fit). */
export function bigToBytesBE(value, length) {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`integer does not fit in ${length} bytes`);
  return out;
}

export function bigToBytesLE(value, length) {
  return bigToBytesBE(value, length).reverse();
}

export function isBytes(value) {
  return value instanceof Uint8Array;
}
