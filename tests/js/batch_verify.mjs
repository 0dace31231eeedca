// Verifies a batch of items with the JS verifier for tests/test_js_verifier.py, which
// compares each verdict with the Python verifier's. Not a test file itself (node --test
// runs only *.test.mjs): `node tests/js/batch_verify.mjs ITEMS.json` prints one JSON
// document with a verdict per item, form and crypto configuration.
//
// An item is {"id", "type": "bundle", "anchor": <anchor file JSON>, "forms": {"json": <JSON
// form>, "ce": "<hex of the CE form>"}} or {"id", "type": "signature", "suite", "pubkey",
// "message", "signature"} (hex). Every item runs under every configuration: WebCrypto as
// Node has it, Ed25519 in BigInt, and no WebCrypto at all.

import { readFileSync } from 'node:fs';

import { fromHex, loadAnchor, taggedToJsonValue, verifyBundle } from '../../shell/web/verify/index.mjs';
import { makeSuite } from '../../shell/web/verify/suites.mjs';

const CONFIGS = {
  webcrypto: {},
  ed25519_bigint: { ed25519BigInt: true },
  no_webcrypto: { webCrypto: null },
};

// Verdicts as plain JSON: byte strings tagged, BigInts as decimal text.
function plain(verdict) {
  return JSON.parse(JSON.stringify(taggedToJsonValue(verdict),
    (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

async function verifyItem(item, options) {
  if (item.type === 'signature') {
    const suite = await makeSuite(item.suite, options);
    const ok = await suite.verify(fromHex(item.pubkey), fromHex(item.message), fromHex(item.signature));
    return { signature: { ok, path: suite.paths.signature } };
  }
  const anchor = await loadAnchor(item.anchor, options).catch((err) => err);
  const out = {};
  for (const [form, input] of Object.entries(item.forms)) {
    const bundle = form === 'ce' ? fromHex(input) : input;
    const target = anchor instanceof Error ? item.anchor : anchor;
    out[form] = plain(await verifyBundle(bundle, target, options));
  }
  return out;
}

const items = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = {};
for (const item of items) {
  results[item.id] = {};
  for (const [name, options] of Object.entries(CONFIGS)) {
    const started = performance.now();
    results[item.id][name] = await verifyItem(item, options);
    results[item.id][name].ms = performance.now() - started;
  }
}
process.stdout.write(JSON.stringify(results));
