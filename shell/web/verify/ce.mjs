// Canonical encoding, CE (PROTOCOL §1): MessagePack with exactly one encoding per value.
//
// Integers in their shortest form (positive ones unsigned, as msgpack-python packs them), no
// floats, text as `str`, bytes as `bin`, maps with text keys sorted by their UTF-8 bytes.
// `decode` is strict the way ledger/encoding.py is: it refuses floats, ext types, non-text
// map keys, keys out of order or repeated, malformed UTF-8, truncated or trailing input, then
// re-encodes what it read and refuses the input unless the bytes are the same (that catches
// non-shortest integers and lengths, and str8 where fixstr would do).
//
// Values in JS: null, booleans, integers (a Number when it is a safe integer, a BigInt
// otherwise, so each integer has one representation), strings, Uint8Array, arrays, and plain
// objects for maps.

import { compare, equal, fromUtf8, isBytes, utf8 } from './bytes.mjs';
import { EncodingError, InvalidInput, TooDeep } from './errors.mjs';

// ledger/limits.py: MAX_CE_BYTES (a block of 16 MiB and what wraps it) and MAX_CE_DEPTH.
export const MAX_ENCODED_BYTES = 17 * 1024 * 1024;
// At most 32 nested containers (a scalar has depth 0, `{}` depth 1), in both directions.
export const MAX_DEPTH = 32;
const INT_MIN = -(1n << 63n);
const UINT_MAX = (1n << 64n) - 1n;

// ---- encoding ------------------------------------------------------------------------------

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.length = 0;
  }

  reserve(n) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  byte(b) {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  // `head` followed by `value` as an unsigned big-endian integer of `width` bytes.
  headed(head, width, value) {
    this.reserve(1 + width);
    this.buf[this.length++] = head;
    if (width === 1) this.view.setUint8(this.length, value);
    else if (width === 2) this.view.setUint16(this.length, value);
    else if (width === 4) this.view.setUint32(this.length, value);
    else this.view.setBigUint64(this.length, BigInt.asUintN(64, BigInt(value)));
    this.length += width;
  }

  bytes(b) {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result() {
    return this.buf.slice(0, this.length);
  }
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function writeInt(w, value) {
  const big = BigInt(value);
  if (big < INT_MIN || big > UINT_MAX) {
    throw new EncodingError(`integer out of the 64-bit range: ${big}`);
  }
  if (big >= 0n) {
    if (big <= 0x7fn) w.byte(Number(big));
    else if (big <= 0xffn) w.headed(0xcc, 1, Number(big));
    else if (big <= 0xffffn) w.headed(0xcd, 2, Number(big));
    else if (big <= 0xffffffffn) w.headed(0xce, 4, Number(big));
    else w.headed(0xcf, 8, big);
  } else if (big >= -32n) {
    w.byte(Number(big) & 0xff);
  } else if (big >= -0x80n) {
    w.headed(0xd0, 1, Number(big) & 0xff);
  } else if (big >= -0x8000n) {
    w.headed(0xd1, 2, Number(big) & 0xffff);
  } else if (big >= -0x80000000n) {
    w.headed(0xd2, 4, Number(big) >>> 0);
  } else {
    w.headed(0xd3, 8, big);
  }
}

// A length header: the fix form when the length fits in `fixMax`, else 8/16/32-bit forms.
function writeLength(w, length, fixBase, fixMax, head8, head16, head32) {
  if (length <= fixMax) w.byte(fixBase | length);
  else if (head8 !== null && length <= 0xff) w.headed(head8, 1, length);
  else if (length <= 0xffff) w.headed(head16, 2, length);
  else if (length <= 0xffffffff) w.headed(head32, 4, length);
  else throw new EncodingError(`length ${length} is above what msgpack can carry`);
}

function writeStr(w, text) {
  let raw;
  try {
    raw = utf8(text);
  } catch {
    throw new EncodingError('cannot encode: text holds a lone UTF-16 surrogate');
  }
  writeLength(w, raw.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
  w.bytes(raw);
}

function tooDeep(maxDepth) {
  return new TooDeep(`value nested deeper than ${maxDepth} levels`);
}

// `depth`: how many containers enclose `value`.
function writeValue(w, value, depth) {
  if (value === null) return w.byte(0xc0);
  if (value === false) return w.byte(0xc2);
  if (value === true) return w.byte(0xc3);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new EncodingError(`number ${value} has no canonical encoding (integers only, `
        + 'and beyond 2^53 as BigInt)');
    }
    return writeInt(w, value);
  }
  if (typeof value === 'bigint') return writeInt(w, value);
  if (typeof value === 'string') return writeStr(w, value);
  if (isBytes(value)) {
    if (value.length <= 0xff) w.headed(0xc4, 1, value.length);
    else if (value.length <= 0xffff) w.headed(0xc5, 2, value.length);
    else w.headed(0xc6, 4, value.length);
    return w.bytes(value);
  }
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) throw tooDeep(MAX_DEPTH);
    writeLength(w, value.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const item of value) writeValue(w, item, depth + 1);
    return undefined;
  }
  if (isPlainObject(value)) {
    if (depth >= MAX_DEPTH) throw tooDeep(MAX_DEPTH);
    return writeMap(w, value, depth);
  }
  throw new EncodingError(`type ${describe(value)} has no canonical encoding`);
}

function writeMap(w, map, depth) {
  const entries = Object.keys(map).map((key) => {
    let raw;
    try {
      raw = utf8(key);
    } catch {
      throw new EncodingError('cannot encode: a map key holds a lone UTF-16 surrogate');
    }
    return [raw, map[key]];
  });
  // UTF-8 byte order, not JS string order (which is UTF-16 code unit order).
  entries.sort((a, b) => compare(a[0], b[0]));
  writeLength(w, entries.length, 0x80, 15, null, 0xde, 0xdf);
  for (const [raw, item] of entries) {
    writeLength(w, raw.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    w.bytes(raw);
    writeValue(w, item, depth + 1);
  }
}

function describe(value) {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return value.constructor ? value.constructor.name : 'object';
  return typeof value;
}

/** CE bytes of `value`; EncodingError for anything CE cannot carry. */
export function encode(value) {
  const w = new Writer();
  writeValue(w, value, 0);
  return w.result();
}

// ---- decoding ------------------------------------------------------------------------------

class Reader {
  constructor(bytes, maxDepth) {
    this.bytes = bytes;
    this.maxDepth = maxDepth;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw new EncodingError('malformed encoding: truncated');
  }

  uint(width) {
    this.need(width);
    const at = this.pos;
    this.pos += width;
    if (width === 1) return this.view.getUint8(at);
    if (width === 2) return this.view.getUint16(at);
    if (width === 4) return this.view.getUint32(at);
    return this.view.getBigUint64(at);
  }

  int(width) {
    this.need(width);
    const at = this.pos;
    this.pos += width;
    if (width === 1) return this.view.getInt8(at);
    if (width === 2) return this.view.getInt16(at);
    if (width === 4) return this.view.getInt32(at);
    return this.view.getBigInt64(at);
  }

  take(n) {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  // A container of `count` items needs at least one byte per item: refuse a length the
  // input cannot hold before building anything.
  items(count) {
    if (count > this.bytes.length - this.pos) {
      throw new EncodingError('malformed encoding: truncated');
    }
    return count;
  }
}

// One integer representation per value: a Number when exact, a BigInt beyond 2^53.
function normalInt(value) {
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER)
      && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value);
  }
  return value;
}

function readStrBody(r, length) {
  try {
    return fromUtf8(r.take(length));
  } catch (err) {
    if (err instanceof EncodingError) throw err;
    throw new EncodingError('malformed encoding: str is not valid UTF-8');
  }
}

// The length of a str whose head byte is `head`, or -1 when `head` does not start a str.
function strLength(r, head) {
  if (head >= 0xa0 && head <= 0xbf) return head & 0x1f;
  if (head === 0xd9) return r.uint(1);
  if (head === 0xda) return r.uint(2);
  if (head === 0xdb) return r.uint(4);
  return -1;
}

// `depth`: how many containers enclose the value read; a container read at depth d is the
// (d + 1)-th level, refused beyond `r.maxDepth`.
function readValue(r, depth) {
  const head = r.uint(1);
  if (head <= 0x7f) return head;
  if (head >= 0xe0) return head - 0x100;
  if (head >= 0x80 && head <= 0x8f) return readMap(r, head & 0x0f, depth);
  if (head >= 0x90 && head <= 0x9f) return readArray(r, head & 0x0f, depth);
  const length = strLength(r, head);
  if (length >= 0) return readStrBody(r, length);
  switch (head) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return r.take(r.uint(1)).slice();
    case 0xc5: return r.take(r.uint(2)).slice();
    case 0xc6: return r.take(r.uint(4)).slice();
    case 0xcc: return r.uint(1);
    case 0xcd: return r.uint(2);
    case 0xce: return r.uint(4);
    case 0xcf: return normalInt(r.uint(8));
    case 0xd0: return r.int(1);
    case 0xd1: return r.int(2);
    case 0xd2: return r.int(4);
    case 0xd3: return normalInt(r.int(8));
    case 0xdc: return readArray(r, r.uint(2), depth);
    case 0xdd: return readArray(r, r.uint(4), depth);
    case 0xde: return readMap(r, r.uint(2), depth);
    case 0xdf: return readMap(r, r.uint(4), depth);
    case 0xca: case 0xcb:
      throw new EncodingError('type float has no canonical encoding');
    default:
      // 0xc1 (never used) and the ext types 0xc7-0xc9, 0xd4-0xd8.
      throw new EncodingError(`malformed encoding: type byte 0x${head.toString(16)} is not CE`);
  }
}

function readArray(r, count, depth) {
  if (depth >= r.maxDepth) throw tooDeep(r.maxDepth);
  const out = new Array(r.items(count));
  for (let i = 0; i < count; i++) out[i] = readValue(r, depth + 1);
  return out;
}

function readMap(r, count, depth) {
  if (depth >= r.maxDepth) throw tooDeep(r.maxDepth);
  r.items(count);
  const out = {};
  let previous = null;
  for (let i = 0; i < count; i++) {
    const length = strLength(r, r.uint(1));
    if (length < 0) throw new EncodingError('map key is not text');
    const raw = r.take(length);
    // Keys strictly increasing in UTF-8 byte order: sorted, and none twice.
    if (previous !== null && compare(previous, raw) >= 0) {
      throw new EncodingError('encoding is not canonical: map keys unsorted or repeated');
    }
    previous = raw;
    let key;
    try {
      key = fromUtf8(raw);
    } catch {
      throw new EncodingError('malformed encoding: map key is not valid UTF-8');
    }
    // defineProperty, so that a key such as "__proto__" is an ordinary field.
    Object.defineProperty(out, key, {
      value: readValue(r, depth + 1), enumerable: true, writable: true, configurable: true,
    });
  }
  return out;
}

/** Decode CE bytes, refusing anything non-canonical, truncated, trailing, above `maxBytes`
 * or nested deeper than `maxDepth` (at most MAX_DEPTH: deeper could not be encoded again). */
export function decode(data, maxBytes = MAX_ENCODED_BYTES, maxDepth = MAX_DEPTH) {
  if (!isBytes(data)) throw new EncodingError(`expected bytes, got ${describe(data)}`);
  if (!(maxDepth >= 1 && maxDepth <= MAX_DEPTH)) {
    throw new RangeError(`maxDepth must be in 1..${MAX_DEPTH}, got ${maxDepth}`);
  }
  if (data.length > maxBytes) {
    throw new EncodingError(`encoding is ${data.length} bytes, above the bound of ${maxBytes}`);
  }
  // A subclass such as Node's Buffer has other slice() semantics: read a plain view of it.
  const r = new Reader(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), maxDepth);
  if (data.length === 0) throw new EncodingError('malformed encoding: empty input');
  const value = readValue(r, 0);
  if (r.pos !== data.length) throw new EncodingError('trailing bytes after the encoded value');
  let again;
  try {
    again = encode(value);
  } catch (err) {
    if (err instanceof InvalidInput) throw new EncodingError(`cannot encode: ${err.message}`);
    throw err;
  }
  if (!equal(again, data)) throw new EncodingError('encoding is not canonical');
  return value;
}
