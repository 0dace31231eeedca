// Verification time per bundle of the JS verifier (shell/web/verify/) in Node, for both suites
// and every crypto path, over the valid bundles of ../shared/vectors/:
//
//   node benchmarks/bench_js_verify.mjs [--runs 30] [--warmup 5]
//
// §7: bundle.json's membership across one validator change (2 QCs, 7 signatures); §8:
// inclusion.json's transaction 0 of 5 (the same 2 QCs, plus the transaction's signature and
// two audit paths); §9: multi.json's four records (1 QC, 3 signatures, 4 state proofs). Each
// is verified from its JSON form against an anchor loaded once (as a page that checks many
// records does), `--warmup` times unmeasured, then `--runs` times; the median, the minimum
// (the floor while other processes take the CPU) and the 90th percentile are printed in ms,
// with the first verification of the process apart (it pays for JIT warm-up and for loading
// each validator key once). Paths: WebCrypto (SHA-256 and
// Ed25519 as Node has them), Ed25519 forced to BigInt (WebCrypto digests), and no WebCrypto
// at all (a page over plain HTTP); SM2 and SM3 are plain JS on every path. The load average
// is printed before and after: the machine is shared.

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { loadAnchor, verifyBundle } from '../shell/web/verify/index.mjs';
import {
  BUNDLE, HEADER, INCLUSION, MULTI, VALIDATORS, taggedFromJson, toJson,
} from '../shell/web/verify/json.mjs';

const VECTORS = new URL('../../shared/vectors/', import.meta.url);
const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' } },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);

// SM2 and SM3 are plain JS on every path, so sm2-sm3 has one row per bundle.
const PATHS = {
  'ed25519-sha256': [
    ['WebCrypto', {}],
    ['Ed25519 BigInt', { ed25519BigInt: true }],
    ['no WebCrypto', { webCrypto: null }],
  ],
  'sm2-sm3': [['plain JS', {}]],
};
const KINDS = [
  ['§7 record', 'bundle.json', 'bundle', BUNDLE, (c) => c.valid && c.bundle.value !== null],
  ['§8 inclusion', 'inclusion.json', 'inclusion', INCLUSION,
    (c) => c.valid && c.inclusion.index === 0],
  ['§9 multi', 'multi.json', 'multi', MULTI, (c) => c.valid],
];

function anchorFile(entry) {
  const anchor = taggedFromJson(entry.anchor);
  return {
    suite: entry.suite,
    genesis_header: toJson(anchor.header, HEADER),
    validators: toJson(anchor.validators, VALIDATORS),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function timeOne(bundle, anchor, options) {
  const started = performance.now();
  const verdict = await verifyBundle(bundle, anchor, options);
  const ms = performance.now() - started;
  if (!verdict.ok) throw new Error(`a valid vector failed: ${verdict.reason}`);
  return ms;
}

async function measure(bundle, anchorJson, options) {
  const anchor = await loadAnchor(anchorJson, options);
  const first = await timeOne(bundle, anchor, options);
  for (let i = 0; i < WARMUP; i++) await timeOne(bundle, anchor, options);
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await timeOne(bundle, anchor, options));
  samples.sort((a, b) => a - b);
  const median = percentile(samples, 0.5);
  return { first, min: samples[0], median, p90: percentile(samples, 0.9) };
}

const fmt = (ms) => ms.toFixed(1);
const loadBefore = loadavg();
console.log(`Node ${process.version}, ${availableParallelism()} CPUs, ${RUNS} runs after ${WARMUP} `
  + `warm-up; load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
console.log('');
console.log('| bundle | suite | path | median ms | min ms | p90 ms | first ms |');
console.log('|---|---|---|---:|---:|---:|---:|');
const rows = [];
for (const [label, file, field, schema, pick] of KINDS) {
  for (const entry of JSON.parse(readFileSync(new URL(file, VECTORS), 'utf8'))) {
    const bundle = toJson(taggedFromJson(entry.cases.find(pick)[field]), schema);
    for (const [path, options] of PATHS[entry.suite]) {
      const r = await measure(bundle, anchorFile(entry), options);
      rows.push({ bundle: label, suite: entry.suite, path, ...r });
      console.log(`| ${label} | ${entry.suite} | ${path} | ${fmt(r.median)} | ${fmt(r.min)} `
        + `| ${fmt(r.p90)} | ${fmt(r.first)} |`);
    }
  }
}
const loadAfter = loadavg();
console.log('');
console.log(`load average after: ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
console.log(JSON.stringify({ node: process.version, runs: RUNS, loadBefore, loadAfter, rows }));
