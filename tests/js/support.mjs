// Shared by the JS verifier's tests: the vectors of ../shared/vectors/ (found from this
// file's place in the repository, whatever the working directory), the anchor file of a
// vector entry, and the crypto configurations every signature test runs under.

import { readFileSync } from 'node:fs';

import { encode } from '../../shell/web/verify/ce.mjs';
import { toHex } from '../../shell/web/verify/bytes.mjs';
import { HEADER, VALIDATORS, taggedFromJson, toJson } from '../../shell/web/verify/json.mjs';

export const VECTORS_DIR = new URL('../../../shared/vectors/', import.meta.url);

export function readVectors(name) {
  return JSON.parse(readFileSync(new URL(name, VECTORS_DIR), 'utf8'));
}

/** The anchor file ({suite, genesis_header, validators}, hex) of a bundle/inclusion/multi
 * vector entry, whose anchor is written in the tagged form. */
export function anchorFileOf(entry) {
  const anchor = taggedFromJson(entry.anchor);
  return {
    suite: entry.suite,
    genesis_header: toJson(anchor.header, HEADER),
    validators: toJson(anchor.validators, VALIDATORS),
  };
}

/** A SubtleCrypto that digests but has no Ed25519, as in browsers that lack it. */
export function subtleWithoutEd25519() {
  const real = globalThis.crypto.subtle;
  const refuse = async () => {
    throw new DOMException('Unrecognized algorithm name', 'NotSupportedError');
  };
  return {
    digest: (...args) => real.digest(...args),
    importKey: refuse,
    verify: refuse,
  };
}

/** Every way the verifier can run: options for makeSuite/verifyBundle and the paths the
 * ed25519-sha256 suite must then take. */
export const CONFIGS = [
  { label: 'WebCrypto', options: {}, hash: 'webcrypto', signature: 'webcrypto' },
  { label: 'WebCrypto without Ed25519', options: { webCrypto: subtleWithoutEd25519() },
    hash: 'webcrypto', signature: 'bigint' },
  { label: 'Ed25519 forced to BigInt', options: { ed25519BigInt: true },
    hash: 'webcrypto', signature: 'bigint' },
  { label: 'no WebCrypto at all', options: { webCrypto: null }, hash: 'js', signature: 'bigint' },
];

export function hex(text) {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

// JSON.parse holds numbers as doubles; ce.json has integers up to 2^63 - 1. Integer
// literals of 16 digits or more are read as {"$bigint": "<digits>"} and then as BigInt (a
// Number when it is safe, as the decoder gives them).
const LONG_INT = /([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g;

function withExactInts(value) {
  if (Array.isArray(value)) return value.map(withExactInts);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$bigint') {
      const big = BigInt(value.$bigint);
      return Number.isSafeInteger(Number(big)) && BigInt(Number(big)) === big ? Number(big) : big;
    }
    return Object.fromEntries(keys.map((k) => [k, withExactInts(value[k])]));
  }
  return value;
}

export function readVectorsExact(name) {
  const text = readFileSync(new URL(name, VECTORS_DIR), 'utf8');
  return withExactInts(JSON.parse(text.replace(LONG_INT, '$1{"$bigint": "$2"}')));
}

/** The configurations a suite's signature tests run under: the Ed25519 paths matter only
 * to ed25519-sha256; sm2-sm3 runs with and without WebCrypto (its digests then differ). */
export function configsFor(suiteName) {
  return suiteName === 'ed25519-sha256' ? CONFIGS : [CONFIGS[0], CONFIGS[CONFIGS.length - 1]];
}

/** A binary-form bundle in each form verifyBundle takes (`schema` gives its JSON form): the
 * JSON form as an object, as text and as the bytes of a file; the CE bytes. */
export function forms(obj, schema) {
  const json = toJson(obj, schema);
  const text = JSON.stringify(json);
  return {
    'JSON object': json, 'JSON text': text, 'JSON bytes': new TextEncoder().encode(text),
    'CE bytes': encode(obj),
  };
}

/** Byte strings as hex throughout, with no schema: the JSON form of whatever `value` is,
 * so that a tampered shape reaches the verifier's own checks. */
export function hexForm(value) {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(hexForm);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hexForm(v)]));
  }
  return value;
}
