// Verifies a batch of items with the JS verifier for tests/test_js_verifier.py, which
// compares each verdict with the Python verifier's. Not a test file itself (node --test
// runs only *.test.mjs): `node tests/js/batch_verify.mjs ITEMS.json` prints one JSON
// document: item id -> configuration -> {verdict | signature, ms}.
//
// An item is {"id", "type": "bundle", "suite", "anchor": <anchor file JSON>, "input":
// {"text": "<JSON text>"} | {"ce": "<hex of the CE bytes>"}} — the very input the Python
// verifier got — or {"id", "type": "signature", "suite", "pubkey", "message", "signature"}
// (hex). ed25519-sha256 items run under every configuration (WebCrypto as Node has it,
// Ed25519 in BigInt, no WebCrypto at all); sm2-sm3 ones under WebCrypto and none (SM2 and
// SM3 are plain JS on every path, only the unused digests differ).

import { readFileSync } from 'node:fs';

import {
  fromHex, loadAnchor, taggedToJsonValue, verifyBundle,
} from '../../shell/web/verify/index.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';

const CONFIGS = {
  'ed25519-sha256': {
    webcrypto: {}, ed25519_bigint: { ed25519BigInt: true }, no_webcrypto: { webCrypto: null },
  },
  'sm2-sm3': { webcrypto: {}, no_webcrypto: { webCrypto: null } },
};

// A verdict as plain JSON: byte strings tagged {"$bin": hex}, as Python renders records.
function plain(verdict) {
  return JSON.parse(JSON.stringify(taggedToJsonValue(verdict),
    (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

async function verifyItem(item, options) {
  if (item.type === 'signature') {
    const suite = await makeSuite(item.suite, options);
    const ok = await suite.verify(fromHex(item.pubkey), fromHex(item.message),
      fromHex(item.signature));
    return { signature: { ok, path: suite.paths.signature } };
  }
  const anchor = await loadAnchor(item.anchor, options);
  const input = 'text' in item.input ? item.input.text : fromHex(item.input.ce);
  return { verdict: plain(await verifyBundle(input, anchor)) };
}

const items = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = {};
for (const item of items) {
  results[item.id] = {};
  for (const [name, options] of Object.entries(CONFIGS[item.suite])) {
    const started = performance.now();
    results[item.id][name] = await verifyItem(item, options);
    results[item.id][name].ms = performance.now() - started;
  }
}
process.stdout.write(JSON.stringify(results));
