/* The field app's service worker (scope /field/): keeps the app shell, its scripts,
   styles, icons and words in a cache named for this release; answers them from the cache
   (network for the API, never cached). Version {{ version }}. */
const CACHE = "cowin-field-{{ version }}";
const FILES = {{ files|safe }};
const SHELL = {{ shell|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(FILES.map((url) => new Request(url, {cache: "reload"}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("cowin-field-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SHELL)) return;
  if (url.pathname === SHELL + "sw.js") return;
  const key = request.mode === "navigate" ? SHELL : url.pathname;
  event.respondWith(caches.open(CACHE).then((cache) => cache.match(key)).then(
    (hit) => hit || fetch(request)));
});
