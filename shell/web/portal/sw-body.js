// The portal's service worker, so the offline check page opens again with no network. The
// node serves it as /portal/sw.js with two constants put before this text: VERSION (a hash
// of the assets, so a new release replaces the old cache) and ASSETS (the offline page, its
// stylesheet, its modules and the verifier's). Only those URLs are handled: network first
// (a reader gets a newer release when there is one), the cached copy when the network is
// gone. Pages with chain data are never cached: offline, they would show a stale chain.

const CACHE = `credchain-portal-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('credchain-portal-') && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin
      || !ASSETS.includes(url.pathname)) return;
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
    }
    return response;
  }).catch(() => caches.open(CACHE).then((cache) => cache.match(url.pathname))
    .then((hit) => hit ?? Response.error())));
});
