// The verifier runs unchanged in a browser, served as static files: its modules import only
// each other by relative paths ending in .mjs (no bare package names, no node: built-ins)
// and touch no Node-only global. The index's public API is what the portal loads.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const DIR = new URL('../../shell/web/verify/', import.meta.url);
const MODULES = readdirSync(DIR).filter((f) => f.endsWith('.mjs'));
const NODE_ONLY = /\b(require|process|Buffer|__dirname|__filename|global)\b\s*[.(]/;
const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

test('the verifier directory holds its modules and nothing to build', () => {
  assert.ok(MODULES.includes('index.mjs'));
  assert.deepEqual(readdirSync(DIR).filter((f) => !f.endsWith('.mjs')), []);
});

for (const name of MODULES) {
  test(`${name}: relative .mjs imports only, no Node-only names, a header comment`, () => {
    const source = readFileSync(new URL(name, DIR), 'utf8');
    assert.ok(source.startsWith('// '), 'starts with its header comment');
    for (const match of source.matchAll(IMPORT)) {
      const target = match[1] ?? match[2];
      assert.match(target, /^\.\/[a-z0-9]+\.mjs$/, `${name} imports ${target}`);
      assert.ok(MODULES.includes(target.slice(2)), `${target} exists`);
    }
    const code = source.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    assert.doesNotMatch(code, NODE_ONLY);
    // Regex lookbehind does not even parse in Safari before 16.4: one would break the page.
    assert.doesNotMatch(code, /\(\?<[=!]/);
    assert.doesNotMatch(code, /\b(TODO|FIXME)\b/);
  });
}

test('the public API', async () => {
  const api = await import('../../shell/web/verify/index.mjs');
  assert.deepEqual(Object.keys(api).sort(), [
    'EncodingError', 'InvalidInput', 'ProofError', 'SUITE_NAMES', 'decode', 'encode', 'fromHex',
    'loadAnchor', 'taggedFromJson', 'taggedToJsonValue', 'toHex', 'verifyBundle',
  ]);
});
