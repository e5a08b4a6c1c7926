// Guard screen: live decisions over Server-Sent Events, status refresh, alarm beep.
// Vanilla and vendored: the LAN may have no internet.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("live").dataset;
  var after = live.after || "0";
  var audio = null;

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
    } catch (err) { /* no audio device: the colours still show it */ }
  }

  function refreshStatus() {
    fetch(live.status, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) { window.location.href = response.url; return null; }
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var status = document.getElementById("status");
        if (status) { status.outerHTML = html; }
        body.classList.remove("offline");
      })
      .catch(function () { body.classList.add("offline"); });
  }

  function onDecision(message) {
    var data = JSON.parse(message.data);
    after = message.lastEventId || after;
    var card = document.getElementById("lane-" + data.lane);
    if (card) { card.outerHTML = data.html; }
    if (data.alarm) { beep(); }
    refreshStatus();
  }

  function connect() {
    var source = new EventSource(live.stream + "?after=" + encodeURIComponent(after));
    source.addEventListener("decision", onDecision);
    source.onopen = function () { body.classList.remove("offline"); body.classList.add("live"); };
    source.onerror = function () {
      body.classList.remove("live");
      body.classList.add("offline");
      if (source.readyState === EventSource.CLOSED) {  // the browser gave up: we don't
        source.close();
        setTimeout(connect, 1000);
      }
    };
  }

  document.addEventListener("pointerdown", function () { if (audio) { audio.resume(); } });
  connect();
  setInterval(refreshStatus, 5000);
})();
