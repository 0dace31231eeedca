// A verdict of the JS verifier (verify/index.mjs `verifyBundle`) shown to a person: exactly
// what was proven, or why nothing was.
//
//   showVerdict(container, verdict, {bundle, anchor, expect, withhold, verifyMs})
//
// Proven: each key PRESENT with its record (decoded from the proven bytes, never from the
// page), or ABSENT ("the chain holds no record under this key" — never called "verified");
// for a transaction, its call, sender, nonce, outcome and events; the block (height, Beijing
// time, hash), the chain and genesis, and the validator set that certified the block with
// the members whose votes the certificate holds. `expect` is what the page asked for: a
// bundle proving something else (another key, another transaction) is refused as such.
// `withhold`: {key: [field path]} the page does not show before a deadline; the panel says
// which fields it left out and why. Not proven: the reason, and "nothing in this bundle is
// proven". Text only ever goes in through textContent.

import { decode, toHex } from './verify/index.mjs';

const MAX_DEPTH = 8;
const MAX_ITEMS = 200;

// ---- small DOM helpers ----------------------------------------------------------------------

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Chinese first, then English marked as such. */
export function bi(zh, en) {
  return [zh, ' ', h('span', { lang: 'en', class: 'en' }, en)];
}

/** Unix ms (UTC) as Beijing time, as ledger.verdict.beijing_time writes it. */
export function beijing(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n) || n < 0 || n > 253402300799999) return `${ms} ms (outside the calendar)`;
  const d = new Date(n + 8 * 3600 * 1000);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} `
    + `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +08:00`;
}

const short = (hex, n = 16) => (hex.length <= n ? hex : `${hex.slice(0, n)}…`);

// ---- a decoded record ----------------------------------------------------------------------

function isBytes(v) {
  return v instanceof Uint8Array;
}

/** A decoded value as nested lists; times (`*_ms` fields) also in Beijing time. */
export function valueView(value, depth = 0, name = '') {
  if (depth > MAX_DEPTH) return h('span', { class: 'deep' }, '…');
  if (value === null || value === undefined) return h('span', { class: 'nil' }, 'nil');
  if (isBytes(value)) return h('code', { title: toHex(value) }, short(toHex(value), 64));
  if (typeof value === 'bigint' || typeof value === 'number') {
    const text = String(value);
    if (name.endsWith('_ms') && Number(value) > 0) {
      return h('span', {}, text, ' ', h('small', {}, `(${beijing(value)})`));
    }
    return h('span', {}, text);
  }
  if (typeof value === 'boolean') return h('span', {}, String(value));
  if (typeof value === 'string') return h('span', { class: 'str' }, value);
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { class: 'nil' }, '[]');
    const items = value.slice(0, MAX_ITEMS).map((v) => h('li', {}, valueView(v, depth + 1, name)));
    if (value.length > MAX_ITEMS) items.push(h('li', {}, `… ${value.length - MAX_ITEMS} more`));
    return h('ol', { class: 'val-list', start: 0 }, items);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return h('span', { class: 'nil' }, '{}');
  return h('dl', { class: 'val-map' }, entries.slice(0, MAX_ITEMS).flatMap(([k, v]) => [
    h('dt', {}, k), h('dd', {}, valueView(v, depth + 1, k)),
  ]));
}

/** A copy of `value` without the fields at `paths` ("a.b", "lots.*.bids"); also returns
 * the paths that were there and left out. */
export function withholdFields(value, paths) {
  const removed = [];
  const strip = (v, parts, shown) => {
    if (parts.length === 0 || v === null || typeof v !== 'object' || isBytes(v)) return v;
    const [head, ...rest] = parts;
    if (Array.isArray(v)) {
      if (head !== '*') return v;
      return v.map((item, i) => strip(item, rest, `${shown}[${i}]`));
    }
    const out = { ...v };
    if (!Object.hasOwn(out, head)) return out;
    if (rest.length === 0) {
      delete out[head];
      removed.push(`${shown}${shown ? '.' : ''}${head}`);
    } else {
      out[head] = strip(out[head], rest, `${shown}${shown ? '.' : ''}${head}`);
    }
    return out;
  };
  let out = value;
  for (const path of paths) out = strip(out, path.split('.'), '');
  return { value: out, removed };
}

// ---- the certifying validator set ----------------------------------------------------------

/** The bundle object as the verifier read it (JSON text, JSON object or CE bytes). */
export function bundleObject(input) {
  if (isBytes(input)) {
    const first = input.find((b) => ![0x20, 0x09, 0x0a, 0x0d].includes(b));
    if (first !== 0x7b) return decode(input);
    return JSON.parse(new TextDecoder().decode(input));
  }
  return typeof input === 'string' ? JSON.parse(input) : input;
}

const hexOf = (v) => (isBytes(v) ? toHex(v) : String(v));

/** The set that certified the proven block (the last validator_chain entry's next set, or
 * the anchor's) and the indexes whose votes the block's QC holds. Read only after the
 * verdict holds: the verifier has checked exactly these. */
export function certifiers(bundle, anchor) {
  const chain = Array.isArray(bundle.validator_chain) ? bundle.validator_chain : [];
  const set = chain.length > 0
    ? chain[chain.length - 1].next_validators.map((v) => ({ name: v.name, pubkey: hexOf(v.pubkey) }))
    : anchor.validators.map((v) => ({ name: v.name, pubkey: toHex(v.pubkey) }));
  const voted = new Set((bundle.qc?.votes ?? []).map((vote) => Number(vote[0])));
  return { set, voted };
}

// ---- the verdict ---------------------------------------------------------------------------

function expectationProblem(verdict, expect) {
  if (!expect) return null;
  if (verdict.kind !== expect.kind) {
    return `the bundle is a ${verdict.kind} bundle, but a ${expect.kind} bundle was asked for`;
  }
  if (verdict.kind === 'state' && verdict.key !== expect.keys[0]) {
    return `the bundle proves key ${JSON.stringify(verdict.key)}, not ${JSON.stringify(expect.keys[0])}`;
  }
  if (verdict.kind === 'multi') {
    const got = verdict.entries.map((e) => e.key).join('\n');
    if (got !== expect.keys.join('\n')) return 'the bundle proves other keys than the ones asked for';
  }
  if (verdict.kind === 'inclusion' && verdict.tx.tx_id !== expect.txId) {
    return `the bundle proves transaction ${verdict.tx.tx_id}, not ${expect.txId}`;
  }
  return null;
}

function failure(reason, kind) {
  return h('div', { class: 'verdict-body fail' },
    h('p', { class: 'headline' }, '✗ ', bi('未通过核验', 'NOT VALID'), kind ? ` (${kind})` : ''),
    h('p', { class: 'reason' }, bi('原因：', 'Reason: '), h('span', { class: 'reason-text' }, reason)),
    h('p', {}, bi('此证明未能证明任何内容。', 'Nothing in this bundle is proven.')));
}

function entryView(entry, withhold) {
  if (!entry.present) {
    return h('div', { class: 'entry absent', 'data-present': 'false' },
      h('p', { class: 'headline' }, '○ ', bi('已证明不存在', 'Proven ABSENT'), ': ', h('code', {}, entry.key)),
      h('p', {}, bi('该区块的状态中没有此键的记录（这是“不存在”的证明，不是对某条记录的核验）。',
        'The chain holds no record under this key at this block (a proof of absence, not of a record).')));
  }
  const paths = withhold?.[entry.key] ?? [];
  let shown = entry.value;
  let removed = [];
  if (entry.value_error === undefined && paths.length) ({ value: shown, removed } = withholdFields(entry.value, paths));
  return h('div', { class: 'entry present', 'data-present': 'true' },
    h('p', { class: 'headline' }, '✓ ', bi('已核验：记录存在', 'Verified PRESENT'), ': ', h('code', {}, entry.key)),
    entry.value_error !== undefined
      ? h('p', {}, entry.value_error)
      : h('details', { open: '' }, h('summary', {}, bi('链上记录（由证明给出）', 'The record as proven')), valueView(shown)),
    removed.length ? h('p', { class: 'withheld' }, bi('投标截止前本页不显示以下字段：', 'Not shown before the bid deadline: '),
      removed.join(', ')) : null,
    h('p', { class: 'small' }, bi('值哈希', 'value hash'), ' ', h('code', {}, entry.value_hash)));
}

function txView(verdict) {
  const { tx, receipt } = verdict;
  const ok = receipt.code === 'OK';
  return h('div', { class: 'entry tx' },
    h('p', { class: 'headline' }, '✓ ', bi('已核验：交易已上链', 'Verified: transaction committed'), ' ',
      h('code', {}, short(tx.tx_id, 24))),
    h('dl', { class: 'facts' },
      h('dt', {}, bi('调用', 'Call')), h('dd', {}, h('code', {}, tx.call)),
      h('dt', {}, bi('发送方公钥', 'Sender key')), h('dd', {}, h('code', {}, short(tx.sender, 32))),
      h('dt', {}, bi('序号', 'Nonce')), h('dd', {}, String(tx.nonce)),
      h('dt', {}, bi('执行结果', 'Outcome')), h('dd', { class: ok ? 'ok' : 'bad' },
        ok ? 'OK' : `${receipt.code}: ${receipt.message}`),
      h('dt', {}, bi('参数', 'Arguments')), h('dd', {}, valueView(tx.args)),
      h('dt', {}, bi('事件', 'Events')), h('dd', {}, valueView(receipt.events))));
}

function blockView(verdict, cert, anchorFacts) {
  const signers = cert.set.filter((_, i) => cert.voted.has(i)).map((v) => v.name);
  return h('dl', { class: 'facts block-facts' },
    h('dt', {}, bi('区块高度', 'Block height')), h('dd', { class: 'height' }, String(verdict.height)),
    h('dt', {}, bi('出块时间（北京时间）', 'Block time (Beijing)')), h('dd', { class: 'time' }, beijing(verdict.time_ms)),
    h('dt', {}, bi('区块哈希', 'Block hash')), h('dd', {}, h('code', {}, short(verdict.block_hash, 32))),
    h('dt', {}, bi('链', 'Chain')), h('dd', {}, `${verdict.chain_id} (${verdict.suite})`),
    h('dt', {}, bi('创世哈希（信任锚）', 'Genesis hash (anchor)')), h('dd', {}, h('code', {}, short(verdict.genesis_hash, 32))),
    h('dt', {}, bi('验证者集合', 'Validator set')),
    h('dd', { class: 'validators' },
      h('ul', {}, cert.set.map((v, i) => h('li', {}, `${v.name} `, h('code', {}, short(v.pubkey)),
        cert.voted.has(i) ? h('span', { class: 'signed' }, ' ✓ ', bi('已签名', 'signed')) : null))),
      h('p', {}, bi(`${signers.length} / ${cert.set.length} 个验证者签署了该区块`,
        `${signers.length} of ${cert.set.length} validators signed this block`)),
      verdict.validator_changes.length
        ? h('p', {}, bi('验证者变更于区块', 'Set changed at blocks'), ' ', verdict.validator_changes.join(', '))
        : h('p', {}, bi('自创世以来验证者未变更', 'Unchanged since genesis'))),
    anchorFacts ? h('dt', {}, bi('信任锚', 'Trust anchor')) : null,
    anchorFacts ? h('dd', {}, anchorFacts) : null);
}

/** Fill `container` with what `verdict` proved; returns the state it shows:
 * 'present' | 'absent' | 'multi' | 'tx' | 'fail'. */
export function showVerdict(container, verdict, ctx = {}) {
  container.replaceChildren();
  let state;
  let body;
  const problem = verdict.ok ? expectationProblem(verdict, ctx.expect) : null;
  if (!verdict.ok || problem) {
    state = 'fail';
    body = failure(problem ?? verdict.reason, verdict.kind);
  } else {
    const cert = certifiers(bundleObject(ctx.bundle), ctx.anchor);
    const parts = verdict.kind === 'inclusion'
      ? [txView(verdict)]
      : verdict.entries.map((e) => entryView(e, ctx.withhold));
    if (verdict.kind === 'inclusion') state = 'tx';
    else if (verdict.kind === 'multi') state = 'multi';
    else state = verdict.present ? 'present' : 'absent';
    body = h('div', { class: `verdict-body ok ${state}` }, parts,
      blockView(verdict, cert, ctx.anchorFacts ?? null),
      h('p', { class: 'small' }, bi('以上内容在本浏览器中依据您的信任锚核验', 'Checked in this browser against your trust anchor'),
        ctx.verifyMs !== undefined ? ` · ${ctx.verifyMs.toFixed(1)} ms` : ''));
  }
  container.append(body);
  return state;
}
