// Every guard page: live decisions over Server-Sent Events, the alarm strip, the alarm beep,
// and the offline state (the whole screen dimmed, large text, how long since the last update).
// Vanilla and vendored: the LAN may have no internet. No inline script: a strict CSP holds.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("live").dataset;
  var after = live.after || "0";
  var audio = null;
  var lastContact = Date.now();
  var offlineAge = document.getElementById("offline-age");

  function beep() {
    // Three loud square-wave beeps: a fever or an isolated person must not go unnoticed.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      audio.resume();
      [0, 0.3, 0.6].forEach(function (start) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = 880;
        gain.gain.value = 0.4;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + start);
        osc.stop(audio.currentTime + start + 0.2);
      });
    } catch (err) { /* no audio device: the strip and the colours still show it */ }
  }

  function online() {
    lastContact = Date.now();
    body.classList.remove("offline");
    document.getElementById("offline").hidden = true;
  }

  function offline() {
    body.classList.add("offline");
    document.getElementById("offline").hidden = false;
    showAge();
  }

  function showAge() {
    var seconds = Math.round((Date.now() - lastContact) / 1000);
    offlineAge.textContent = offlineAge.dataset.template.replace("{s}", seconds);
  }

  function replace(id, url) {
    // Swap a server-rendered fragment in; a failure is the offline state, a redirect a lost session.
    return fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) { window.location.href = response.url; return null; }
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var old = document.getElementById(id);
        if (old) { old.outerHTML = html; }
        online();
      })
      .catch(offline);
  }

  function refresh() {
    if (document.getElementById("status")) { replace("status", live.status); }
    replace("alarms", live.alarms + "?next=" + encodeURIComponent(location.pathname + location.search));
  }

  function onDecision(message) {
    var data = JSON.parse(message.data);
    after = message.lastEventId || after;
    var card = document.getElementById("lane-" + data.lane);
    if (card) { card.outerHTML = data.html; }
    if (data.alarm) { beep(); }
    refresh();
  }

  var current = null;  // the newest EventSource

  function connect() {
    var source = current = new EventSource(live.stream + "?after=" + encodeURIComponent(after));
    source.addEventListener("decision", onDecision);
    source.onopen = function () { online(); body.classList.add("live"); };
    source.onerror = function () {
      body.classList.remove("live");
      // The stream ends every two minutes by design and reconnects within a second:
      // only a connection still not back after three seconds is the offline state.
      setTimeout(function () { if (current.readyState !== EventSource.OPEN) { offline(); } }, 3000);
      if (source.readyState === EventSource.CLOSED) {  // the browser gave up: we don't
        source.close();
        setTimeout(connect, 1000);
      }
    };
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(live.worker, { scope: "/" }).catch(function () { /* http off localhost */ });
  }
  document.addEventListener("pointerdown", function () { if (audio) { audio.resume(); } });
  connect();
  setInterval(refresh, 5000);
  setInterval(function () { if (body.classList.contains("offline")) { showAge(); } }, 1000);
})();
