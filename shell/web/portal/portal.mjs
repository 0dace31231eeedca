// Every portal page: the header's trust-anchor status, and the "verify" action of each record.
//
// A verify action is a `div.verify` the server rendered with `data-kind` (state | multi |
// inclusion), `data-url` (the bundle: /proof/{key}, /proofs?key=…, /txs/{id}/inclusion),
// `data-expect` (the key, the keys one per line, or the tx id) and `data-withhold` (JSON
// {key: [field path]}). Clicking its button fetches the bundle, verifies it here with the JS
// verifier against the anchor this browser pinned, and shows the verdict (verdict-view.mjs).
// Its `data-state` then says what was shown (present, absent, multi, tx, fail, error) and
// `data-verify-ms` how long the check took; `window.credchainTimings` keeps every timing.
// A record's bundle is asked at the block the page was read at (the footer's
// `#page-height`), so the check is of what the page showed, not of a later head (user walk:
// "Read at block 188", verified at 189).

import { verifyBundle } from './verify/index.mjs';
import { describeAnchor, pinnedAnchor } from './anchor-store.mjs';
import { bi, h, showVerdict } from './verdict-view.mjs';

const MAX_BUNDLE_TEXT = 24 << 20;
globalThis.credchainTimings = globalThis.credchainTimings ?? [];

export function anchorFacts(anchor) {
  const d = describeAnchor(anchor);
  return [`${d.chainId} · ${d.suite} · genesis `, h('code', {}, d.genesisHash.slice(0, 16) + '…')];
}

async function showAnchorStatus() {
  const status = document.getElementById('anchor-status');
  if (!status) return;
  const pinned = await pinnedAnchor();
  if (pinned === null) return; // the server's text already says none is loaded
  status.replaceChildren(...bi('信任锚：', 'Trust anchor: '), ...anchorFacts(pinned.anchor), ' ',
    h('a', { href: '/portal/anchor' }, ...bi('更换', 'change')));
  status.classList.add('pinned');
}

function expectOf(box) {
  const kind = box.dataset.kind;
  const expect = box.dataset.expect ?? '';
  return kind === 'inclusion' ? { kind, txId: expect } : { kind, keys: expect.split('\n') };
}

function message(out, state, ...children) {
  out.replaceChildren(h('div', { class: `verdict-body ${state}` }, h('p', {}, ...children)));
}

/** `url` asked at the page's block: state and multi bundles (a transaction's is its own). */
export function atPageHeight(url, kind, pageHeight) {
  if (kind === 'inclusion' || !/^[0-9]+$/.test(pageHeight ?? '')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}height=${pageHeight}`;
}

async function fetchBundle(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  const text = await response.text();
  if (text.length > MAX_BUNDLE_TEXT) throw new Error('the bundle is too large');
  if (!response.ok) {
    let reason = text.slice(0, 300);
    try {
      reason = JSON.parse(text).error ?? reason;
    } catch { /* not JSON: show the text as it came */ }
    throw new Error(`HTTP ${response.status}: ${reason}`);
  }
  return text;
}

async function verifyAction(box, button) {
  const out = box.querySelector('.verdict');
  box.dataset.state = 'running';
  button.disabled = true;
  try {
    const pinned = await pinnedAnchor();
    if (pinned === null) {
      box.dataset.state = 'no-anchor';
      message(out, 'fail', ...bi('请先载入信任锚：', 'Load a trust anchor first: '),
        h('a', { href: '/portal/anchor' }, ...bi('信任锚', 'trust anchor')));
      return;
    }
    let text;
    const fetchStart = performance.now();
    try {
      const pageHeight = document.getElementById('page-height')?.textContent?.trim();
      text = await fetchBundle(atPageHeight(box.dataset.url, box.dataset.kind, pageHeight));
    } catch (err) {
      box.dataset.state = 'error';
      message(out, 'fail', ...bi('无法取得证明：', 'Could not fetch the proof: '), String(err.message ?? err));
      return;
    }
    const fetchMs = performance.now() - fetchStart;
    const start = performance.now();
    const verdict = await verifyBundle(text, pinned.anchor);
    const verifyMs = performance.now() - start;
    let withhold = {};
    try {
      withhold = box.dataset.withhold ? JSON.parse(box.dataset.withhold) : {};
    } catch { /* a page bug would show more, never less: keep none */ }
    const state = showVerdict(out, verdict, {
      bundle: text, anchor: pinned.anchor, expect: expectOf(box), withhold, verifyMs,
      anchorFacts: anchorFacts(pinned.anchor),
    });
    box.dataset.state = state;
    box.dataset.verifyMs = verifyMs.toFixed(2);
    globalThis.credchainTimings.push({ kind: box.dataset.kind, url: box.dataset.url, verifyMs, fetchMs,
      bytes: text.length, ok: verdict.ok });
  } catch (err) {
    box.dataset.state = 'error';
    message(out, 'fail', ...bi('核验出错：', 'The check failed to run: '), String(err?.message ?? err));
  } finally {
    button.disabled = false;
  }
}

for (const box of document.querySelectorAll('div.verify')) {
  const button = box.querySelector('button.verify-btn');
  button?.addEventListener('click', () => verifyAction(box, button));
}
showAnchorStatus();
