// The transaction limits (ledger/limits.py) as an inclusion bundle's transaction meets
// them: each bound accepted exactly at its value and refused one beyond, with the Python
// words, and the first failure found in the Python walk's order.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { encode } from '../../shell/web/verify/ce.mjs';
import {
  MAX_ARGS_DEPTH, MAX_ARGS_ITEMS, MAX_ARGS_KEY_BYTES, MAX_ARGS_STR_BYTES, TX_DEPTH, checkArgs,
} from '../../shell/web/verify/limits.mjs';
import { decodeSignedTx } from '../../shell/web/verify/tx.mjs';

function nestedArgs(depth) {
  let value = {};
  for (let i = 1; i < depth; i++) value = { x: value };
  return value;
}

function signedTx(args) {
  const body = { chain_id: 'c', sender: new Uint8Array(32), nonce: 0, call: 'a.b', args };
  return encode({ body, sig: new Uint8Array(64) });
}

test('args nest at most 16 levels, the args map itself the first', () => {
  assert.equal(MAX_ARGS_DEPTH, 16);
  assert.doesNotThrow(() => checkArgs(nestedArgs(16)));
  assert.throws(() => checkArgs(nestedArgs(17)),
    { message: 'tx body.args is nested deeper than 16 levels' });
});

test('a map or array holds at most 1024 items', () => {
  const many = (n) => ({ list: new Array(n).fill(0) });
  assert.doesNotThrow(() => checkArgs(many(MAX_ARGS_ITEMS)));
  assert.throws(() => checkArgs(many(MAX_ARGS_ITEMS + 1)),
    { message: 'tx body.args has a map or array of 1025 items, above 1024' });
});

test('keys, texts and byte strings are bounded in UTF-8 bytes', () => {
  assert.doesNotThrow(() => checkArgs({ ['k'.repeat(MAX_ARGS_KEY_BYTES)]: 1 }));
  // 43 three-byte characters are 129 bytes: counted in bytes, not characters.
  assert.throws(() => checkArgs({ ['公'.repeat(43)]: 1 }),
    { message: 'tx body.args has a map key longer than 128 bytes' });
  assert.doesNotThrow(() => checkArgs({ t: 'x'.repeat(MAX_ARGS_STR_BYTES) }));
  assert.throws(() => checkArgs({ t: 'é'.repeat(4097) }),
    { message: 'tx body.args has a text longer than 8192 bytes' });
  assert.doesNotThrow(() => checkArgs({ b: new Uint8Array(MAX_ARGS_STR_BYTES) }));
  assert.throws(() => checkArgs({ b: new Uint8Array(MAX_ARGS_STR_BYTES + 1) }),
    { message: 'tx body.args has a byte string longer than 8192 bytes' });
  assert.throws(() => checkArgs([]), { message: 'tx body.args must be a map' });
});

test('the first failure is the one the Python walk meets first', () => {
  // The walk checks the args map's own entries before any container inside it, and of two
  // containers it opens the one pushed last first.
  const args = { a: { deep: 'x'.repeat(9000) }, b: { key: new Uint8Array(9000) } };
  assert.throws(() => checkArgs(args), { message: 'tx body.args has a byte string longer than 8192 bytes' });
  const flat = { a: { z: 1 }, t: 'x'.repeat(9000) };
  assert.throws(() => checkArgs(flat), { message: 'tx body.args has a text longer than 8192 bytes' });
});

test('a transaction decodes within 18 levels and its args within their limits', () => {
  assert.equal(TX_DEPTH, 18);
  assert.equal(decodeSignedTx(signedTx(nestedArgs(16))).body.call, 'a.b');
  assert.throws(() => decodeSignedTx(signedTx(nestedArgs(17))),
    { name: 'EncodingError', message: 'transaction nested deeper than 18 levels: its args may nest at most 16' });
  assert.throws(() => decodeSignedTx(signedTx({ l: new Array(1025).fill(0) })),
    { message: 'tx body.args has a map or array of 1025 items, above 1024' });
  assert.throws(() => decodeSignedTx(Uint8Array.from([...signedTx({}), 0])),
    { message: 'trailing bytes after the encoded value' });
});
