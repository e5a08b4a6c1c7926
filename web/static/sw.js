// Service worker: when a page cannot be loaded (server down, cable out), show the kept offline
// page, which retries by itself, instead of Chromium's own error page.
"use strict";
var CACHE = "kiosk-offline-v1";
var OFFLINE = "/screen/offline";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE)
    .then(function (cache) { return cache.addAll([OFFLINE, "/static/style.css", "/static/offline.js"]); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  if (event.request.mode !== "navigate") { return; }
  event.respondWith(fetch(event.request).catch(function () { return caches.match(OFFLINE); }));
});
