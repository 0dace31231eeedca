// The offline check page: drop (or pick, or paste) a bundle file — §7, §8 or §9, JSON or CE
// bytes — and an anchor file, and get the verdict computed in this browser. Nothing is sent
// anywhere: every module this page needs was loaded with it, so it works with the network
// gone; a service worker (sw.js) also keeps the page and its modules so it opens again
// offline (where the browser allows service workers: https, or http on localhost).

import { loadAnchor, verifyBundle } from './verify/index.mjs';
import { describeAnchor, pinAnchor, pinnedAnchor } from './anchor-store.mjs';
import { bi, h, showVerdict } from './verdict-view.mjs';

const MAX_FILE_BYTES = 24 << 20;
const $ = (id) => document.getElementById(id);
const picked = { anchorText: null, anchorName: null, bundle: null, bundleName: null };
globalThis.credchainTimings = globalThis.credchainTimings ?? [];

function looksLikeAnchor(bytes) {
  try {
    const obj = JSON.parse(new TextDecoder().decode(bytes));
    return obj !== null && typeof obj === 'object' && 'genesis_header' in obj && 'validators' in obj;
  } catch {
    return false;
  }
}

async function readFile(file) {
  if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name}: larger than ${MAX_FILE_BYTES} bytes`);
  return new Uint8Array(await file.arrayBuffer());
}

function say(id, ...children) {
  $(id).replaceChildren(...children);
}

async function currentAnchor() {
  const pasted = $('o-anchor-text').value.trim();
  const text = pasted || picked.anchorText;
  if (text) {
    const anchor = await loadAnchor(text);
    if ($('o-pin').checked) await pinAnchor(text);
    return anchor;
  }
  return (await pinnedAnchor())?.anchor ?? null;
}

async function showAnchorChoice() {
  const pasted = $('o-anchor-text').value.trim();
  if (picked.anchorText || pasted) {
    say('o-anchor-state', ...bi('将使用：', 'Using: '), pasted ? bi('粘贴的锚', 'the pasted anchor') : picked.anchorName);
    return;
  }
  const pinned = await pinnedAnchor();
  if (pinned) {
    const d = describeAnchor(pinned.anchor);
    say('o-anchor-state', ...bi('将使用本浏览器固定的信任锚：', 'Using the anchor pinned in this browser: '),
      `${d.chainId} · ${d.suite} · genesis `, h('code', {}, `${d.genesisHash.slice(0, 16)}…`));
  } else {
    say('o-anchor-state', ...bi('尚未选择信任锚。', 'No anchor chosen yet.'));
  }
}

async function run() {
  const out = $('o-result');
  out.dataset.state = 'running';
  try {
    const anchor = await currentAnchor();
    if (anchor === null) {
      out.dataset.state = 'no-anchor';
      out.replaceChildren(h('p', { class: 'verdict-body fail' }, ...bi('请先选择信任锚文件。', 'Choose an anchor file first.')));
      return;
    }
    const pasted = $('o-bundle-text').value.trim();
    const bundle = pasted || picked.bundle;
    if (!bundle) {
      out.dataset.state = 'no-bundle';
      out.replaceChildren(h('p', { class: 'verdict-body fail' }, ...bi('请选择或粘贴证明文件。', 'Choose or paste a bundle.')));
      return;
    }
    const start = performance.now();
    const verdict = await verifyBundle(bundle, anchor);
    const verifyMs = performance.now() - start;
    const d = describeAnchor(anchor);
    out.dataset.state = showVerdict(out, verdict, { bundle, anchor, verifyMs,
      anchorFacts: [`${d.chainId} · genesis `, h('code', {}, `${d.genesisHash.slice(0, 16)}…`)] });
    out.dataset.verifyMs = verifyMs.toFixed(2);
    globalThis.credchainTimings.push({ kind: verdict.kind, verifyMs, ok: verdict.ok, offline: true });
  } catch (err) {
    out.dataset.state = 'fail';
    out.replaceChildren(h('div', { class: 'verdict-body fail' },
      h('p', { class: 'headline' }, '✗ ', ...bi('未通过核验', 'NOT VALID')),
      h('p', { class: 'reason' }, ...bi('原因：', 'Reason: '), h('span', { class: 'reason-text' }, `bad anchor: ${err.message ?? err}`)),
      h('p', {}, ...bi('此证明未能证明任何内容。', 'Nothing in this bundle is proven.'))));
  }
}

async function takeFiles(files) {
  let gotBundle = false;
  for (const file of files) {
    const bytes = await readFile(file);
    if (looksLikeAnchor(bytes)) {
      picked.anchorText = new TextDecoder().decode(bytes);
      picked.anchorName = file.name;
    } else {
      picked.bundle = bytes;
      picked.bundleName = file.name;
      gotBundle = true;
    }
  }
  say('o-bundle-state', ...(picked.bundleName ? [...bi('证明文件：', 'Bundle file: '), picked.bundleName]
    : bi('尚未选择证明文件。', 'No bundle file chosen yet.')));
  await showAnchorChoice();
  if (gotBundle) await run(); // a new anchor alone waits for the Verify button or a bundle
}

function wire() {
  $('o-anchor-file').addEventListener('change', (e) => takeFiles([...e.target.files]));
  $('o-bundle-file').addEventListener('change', (e) => takeFiles([...e.target.files]));
  $('o-anchor-text').addEventListener('input', showAnchorChoice);
  $('o-verify').addEventListener('click', run);
  const zone = $('o-drop');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    takeFiles([...e.dataTransfer.files]);
  });
  // The zone is a pointer target; by keyboard it opens the bundle file picker.
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      $('o-bundle-file').click();
    }
  });
  showAnchorChoice();
  document.body.dataset.offlineReady = 'true';
}

async function keepForOffline() {
  const state = $('o-sw-state');
  if (!('serviceWorker' in navigator) || !globalThis.isSecureContext) {
    say('o-sw-state', ...bi('本浏览器不支持离线缓存：请保持此页打开，断网后仍可使用。',
      'This browser cannot keep the page for later: keep it open; it works with the network gone.'));
    return;
  }
  try {
    await navigator.serviceWorker.register('/portal/sw.js', { scope: '/portal/' });
    await navigator.serviceWorker.ready;
    say('o-sw-state', ...bi('已缓存，断网后可重新打开此页。', 'Kept for offline use: this page opens again without a network.'));
    state.dataset.cached = 'true';
  } catch (err) {
    say('o-sw-state', ...bi('离线缓存失败：', 'Could not keep the page offline: '), String(err.message ?? err));
  }
}

wire();
keepForOffline();
