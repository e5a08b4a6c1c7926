// Service worker: when a page cannot be loaded (server down, cable out), show the kept offline
// page, which retries by itself, instead of Chromium's own error page.
"use strict";
var CACHE = "kiosk-offline-v1";
var OFFLINE = "/screen/offline";
var KEPT = [OFFLINE, "/static/style.css", "/static/offline.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE)
    .then(function (cache) { return cache.addAll(KEPT); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE); }));
  } else if (request.method === "GET" && KEPT.indexOf(new URL(request.url).pathname) >= 0) {
    // the offline page's own style and script, from the network while it answers
    event.respondWith(fetch(request).catch(function () { return caches.match(request); }));
  }
});
