// teamctl serve: a live page fetches its live part again when its event stream says the
// journal (or, on an agent's page, its log) moved. Nothing polls: the server pushes.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) return;
  var pending = false, missed = false;
  // Typing in a form of the live part is never lost to an update: it waits.
  function busy() {
    var a = document.activeElement;
    if (a && live.contains(a) && (a.tagName === "TEXTAREA" || a.tagName === "INPUT")) return true;
    var fields = live.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < fields.length; i++) if (fields[i].value !== "") return true;
    return false;
  }
  function refresh() {
    // An event while a fetch is out may be newer than what the fetch brings back: one
    // more fetch after it.
    if (pending) { missed = true; return; }
    pending = true;
    setTimeout(function again() {
      if (busy()) { setTimeout(again, 1000); return; }
      missed = false;
      fetch(live.dataset.live, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          pending = false;
          // Typing began while the fetch was out: keep it, fetch again later.
          if (busy()) { refresh(); return; }
          if (missed) refresh();
          var follow = live.dataset.follow !== undefined &&
            window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
          live.innerHTML = html;
          document.body.dataset.updated = String(Date.now());
          if (follow) window.scrollTo(0, document.body.scrollHeight);
        })
        .catch(function () { pending = false; if (missed) refresh(); });
    }, 20);
  }
  var es = new EventSource(live.dataset.events);
  es.addEventListener("journal", refresh);
  es.addEventListener("log", refresh);
  es.onopen = function () { document.body.dataset.stream = "open"; };
  es.onerror = function () { document.body.dataset.stream = "lost"; };
})();
