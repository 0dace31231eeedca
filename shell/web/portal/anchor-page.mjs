// The trust anchor page: load an anchor from a file or pasted text, check it, pin it in this
// browser (every verify action then uses it), show what is pinned, or unpin it.

import { describeAnchor, pinAnchor, pinnedAnchor, readAnchorText, unpinAnchor } from './anchor-store.mjs';
import { bi, h } from './verdict-view.mjs';

const $ = (id) => document.getElementById(id);

async function showPinned() {
  const out = $('a-pinned');
  const pinned = await pinnedAnchor();
  if (pinned === null) {
    out.dataset.state = 'none';
    out.replaceChildren(h('p', {}, ...bi('本浏览器尚未固定信任锚。', 'No anchor is pinned in this browser.')));
    return;
  }
  const d = describeAnchor(pinned.anchor);
  out.dataset.state = 'pinned';
  out.replaceChildren(h('dl', { class: 'facts' },
    h('dt', {}, ...bi('链', 'Chain')), h('dd', { class: 'chain-id' }, d.chainId),
    h('dt', {}, ...bi('密码套件', 'Suite')), h('dd', {}, d.suite),
    h('dt', {}, ...bi('创世区块哈希', 'Genesis hash')), h('dd', {}, h('code', { class: 'genesis' }, d.genesisHash)),
    h('dt', {}, ...bi('创世验证者', 'Genesis validators')),
    h('dd', {}, h('ul', {}, d.validators.map((v) => h('li', {}, `${v.name} `, h('code', {}, v.pubkey)))))));
}

async function pin(source) {
  const status = $('a-status');
  try {
    const text = await readAnchorText(source);
    await pinAnchor(text);
    status.dataset.state = 'ok';
    status.replaceChildren(...bi('信任锚已检查并固定。请与其他渠道公布的创世哈希比对。',
      'Anchor checked and pinned. Compare its genesis hash with one published elsewhere.'));
  } catch (err) {
    status.dataset.state = 'fail';
    status.replaceChildren(...bi('不是有效的信任锚：', 'Not a valid anchor: '), String(err.message ?? err));
  }
  await showPinned();
}

$('a-file').addEventListener('change', (e) => {
  if (e.target.files.length) pin(e.target.files[0]);
});
$('a-pin').addEventListener('click', () => pin($('a-text').value));
$('a-clear').addEventListener('click', async () => {
  unpinAnchor();
  $('a-status').dataset.state = 'cleared';
  $('a-status').replaceChildren(...bi('已移除。', 'Removed.'));
  await showPinned();
});
showPinned();
