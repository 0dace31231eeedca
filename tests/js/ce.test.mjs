// Canonical encoding (PROTOCOL §1): ../shared/vectors/ce.json byte for byte, and the strict
// decoder refusing every non-canonical variant that tests/test_vectors_basic.py refuses.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decode, encode, MAX_DEPTH } from '../../shell/web/verify/ce.mjs';
import { EncodingError } from '../../shell/web/verify/errors.mjs';
import { taggedFromJson } from '../../shell/web/verify/json.mjs';
import { hex, readVectorsExact } from './support.mjs';

const CE = readVectorsExact('ce.json');

test('the ce vectors cover every type CE carries', () => {
  assert.ok(CE.length >= 20);
  const kinds = new Set(CE.map((c) => (c.value === null ? 'null' : Array.isArray(c.value)
    ? 'array' : typeof c.value === 'object' && '$bin' in c.value ? 'bin' : typeof c.value)));
  assert.deepEqual([...kinds].sort(),
    ['array', 'bigint', 'bin', 'boolean', 'null', 'number', 'object', 'string']);
});

for (const c of CE) {
  test(`ce vector ${c.ce}: encode, decode, re-encode`, () => {
    const value = typeof c.value === 'bigint' ? c.value : taggedFromJson(c.value);
    const expected = hex(c.ce);
    assert.deepEqual(encode(value), expected);
    const decoded = decode(expected);
    assert.deepEqual(decoded, value);
    assert.deepEqual(encode(decoded), expected);
  });
}

const NON_CANONICAL = {
  'unsorted keys': '82a16201a16102',
  'duplicate keys': '82a16101a16102',
  'nested unsorted keys': '81a16f82a17a01a17902',
  'int 1 as uint8': 'cc01',
  'int 255 as uint16': 'cd00ff',
  'int 65536 as uint64': 'cf0000000000010000',
  'int -1 as int8': 'd0ff',
  'positive int as int8': 'd005',
  'positive int as int64': 'd30000000100000000',
  float32: 'ca3f800000',
  float64: 'cb3ff8000000000000',
  'float inside a map': '81a178cb3fe0000000000000',
  'trailing bytes': '0102',
  'truncated string': 'a5616263',
  'truncated map': '82a16101',
  'truncated bin': 'c40500',
  'empty input': '',
  'str8 for a short string': 'd90161',
  'bin8 length 0 as bin16': 'c50000',
  'array16 for a short array': 'dc000101',
  'map16 for a short map': 'de0001a16101',
  'bin as str (raw bytes in str type)': 'a2fffe',
  'non-text map key': '810102',
  'ext type': 'd40100',
  'reserved type byte 0xc1': 'c1',
  'array claiming more items than bytes': 'dd7fffffff',
};

for (const [name, data] of Object.entries(NON_CANONICAL)) {
  test(`the decoder refuses ${name}`, () => {
    assert.throws(() => decode(hex(data)), EncodingError);
  });
}

test('the decoder bounds the input size', () => {
  const data = encode('x'.repeat(100));
  assert.equal(decode(data, data.length), 'x'.repeat(100));
  assert.throws(() => decode(data, data.length - 1), /above the bound/);
});

test('nesting is bounded at 32 containers both ways, as ledger/limits.py bounds it', () => {
  assert.equal(MAX_DEPTH, 32);
  const nested = (n) => {
    let value = 0;
    for (let i = 0; i < n; i++) value = i % 2 ? { k: value } : [value];
    return value;
  };
  // 31 containers inside a 32nd: accepted; one more is refused, encoding and decoding.
  const deepest = nested(MAX_DEPTH);
  assert.deepEqual(decode(encode(deepest)), deepest);
  assert.throws(() => encode(nested(MAX_DEPTH + 1)),
    { name: 'TooDeep', message: 'value nested deeper than 32 levels' });
  const tooDeep = Uint8Array.from([...new Array(MAX_DEPTH + 1).fill(0x91), 0x00]);
  assert.throws(() => decode(tooDeep), { name: 'TooDeep', message: 'value nested deeper than 32 levels' });
  // A caller's smaller bound is exact too; scalars have depth 0, `{}` depth 1.
  for (let bound = 1; bound <= 5; bound++) {
    for (let depth = 0; depth <= 6; depth++) {
      const bytes = encode(nested(depth));
      if (depth <= bound) assert.deepEqual(decode(bytes, 1 << 20, bound), nested(depth));
      else assert.throws(() => decode(bytes, 1 << 20, bound), { message: `value nested deeper than ${bound} levels` });
    }
  }
  assert.throws(() => decode(encode(0), 1 << 20, 33), RangeError);
  assert.throws(() => decode(encode(0), 1 << 20, 0), RangeError);
});

for (const [name, value] of [
  ['a float', 1.5], ['NaN', NaN], ['an unsafe Number', 2 ** 60], ['2^64', 1n << 64n],
  ['below -2^63', -(1n << 63n) - 1n], ['undefined', undefined], ['a Map', new Map()],
  ['a Date', new Date(0)], ['text with a lone surrogate', '\ud800'],
  ['a map key with a lone surrogate', { '\udc00': 1 }],
]) {
  test(`the encoder refuses ${name}`, () => {
    assert.throws(() => encode(value), EncodingError);
  });
}

test('integers take their shortest form at every boundary, positives unsigned', () => {
  const cases = [
    [127, '7f'], [128, 'cc80'], [-32, 'e0'], [-33, 'd0df'], [-128, 'd080'], [-129, 'd1ff7f'],
    [-32768, 'd18000'], [-32769, 'd2ffff7fff'], [4294967295, 'ceffffffff'],
    [-2147483649, 'd3ffffffff7fffffff'], [(1n << 64n) - 1n, 'cfffffffffffffffff'],
    [-(1n << 63n), 'd38000000000000000'], [Number.MAX_SAFE_INTEGER, 'cf001fffffffffffff'],
  ];
  for (const [value, expected] of cases) {
    assert.equal(Buffer.from(encode(value)).toString('hex'), expected, String(value));
    assert.equal(decode(hex(expected)), typeof value === 'bigint' && value >= -(2n ** 53n)
      && value < 2n ** 53n ? Number(value) : value);
  }
  // One representation per integer: a BigInt that fits a Number decodes as a Number.
  assert.equal(decode(encode(5n)), 5);
  assert.equal(decode(hex('cf0020000000000000')), 2n ** 53n);
});

test('map keys sort by UTF-8 bytes, not by UTF-16 code units', () => {
  // U+FFFF is EF BF BF in UTF-8 and sorts before U+10000 (F0 90 80 80); in UTF-16 the
  // astral key starts with the surrogate D800 and would sort first.
  const value = { '\u{10000}': 1, '\uffff': 2 };
  const bytes = encode(value);
  assert.equal(Buffer.from(bytes).toString('hex'), '82a3efbfbf02a4f090808001');
  assert.deepEqual(decode(bytes), value);
  assert.throws(() => decode(hex('82a4f090808001a3efbfbf02')), /unsorted or repeated/);
});

test('"__proto__" is an ordinary map key', () => {
  const bytes = hex('81a95f5f70726f746f5f5f01');
  const value = decode(bytes);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ['__proto__']);
  assert.deepEqual(encode(value), bytes);
});

test('long strings, bytes, arrays and maps take the 16- and 32-bit length forms', () => {
  const cases = [
    ['a'.repeat(32), 'd920'], ['a'.repeat(256), 'da0100'], ['a'.repeat(65536), 'db00010000'],
    [new Uint8Array(256), 'c50100'], [new Uint8Array(65536), 'c600010000'],
    [new Array(16).fill(0), 'dc0010'], [new Array(65536).fill(0), 'dd00010000'],
  ];
  for (const [value, head] of cases) {
    const bytes = encode(value);
    assert.equal(Buffer.from(bytes.subarray(0, head.length / 2)).toString('hex'), head);
    assert.deepEqual(decode(bytes), value);
  }
  const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]));
  const bytes = encode(sixteen);
  assert.equal(Buffer.from(bytes.subarray(0, 3)).toString('hex'), 'de0010');
  assert.deepEqual(decode(bytes), sixteen);
});

test('a Node Buffer decodes to the same plain values as a Uint8Array', () => {
  const bytes = encode({ b: new Uint8Array([1, 2, 3]), list: [new Uint8Array([4])] });
  const fromBuffer = decode(Buffer.concat([Buffer.from('ff', 'hex'), Buffer.from(bytes)]).subarray(1));
  assert.deepEqual(fromBuffer, decode(bytes));
  assert.equal(fromBuffer.b.constructor, Uint8Array);
});
