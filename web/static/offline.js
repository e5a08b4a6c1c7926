// The offline page: try the page the guard wanted every 2 seconds; show it as soon as it answers.
(function () {
  "use strict";
  var since = Date.now();
  var age = document.getElementById("offline-age");
  if (location.pathname === "/screen/offline") { return; }  // opened directly: nothing to retry
  setInterval(function () {
    age.textContent = age.dataset.template.replace("{s}", Math.round((Date.now() - since) / 1000));
    fetch(location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { if (response.ok || response.redirected) { location.reload(); } })
      .catch(function () { /* still down */ });
  }, 2000);
})();
