// live.js keeps a page current without a framework: every data-refresh
// milliseconds (set on <body> by the server) it fetches the page again and
// swaps in the new version of every element marked data-live, by id. The
// server stops marking <body> once nothing more can change (a finished
// session), and the polling stops with it. Nothing is built from strings:
// the new elements are the server's own escaped HTML, parsed inertly.
(function () {
  'use strict';
  // Filters apply as soon as they change.
  document.querySelectorAll('form.filters select').forEach(function (sel) {
    sel.addEventListener('change', function () { sel.form.submit(); });
  });

  var every = parseInt(document.body.getAttribute('data-refresh') || '0', 10);
  if (!(every > 0)) { return; }
  var status = document.getElementById('live-status');
  var busy = false;

  function say(text, offline) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle('offline', !!offline);
  }

  function tick() {
    if (busy || document.hidden) { return schedule(); }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } })
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live][id]').forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next) { el.replaceWith(document.importNode(next, true)); }
        });
        busy = false;
        if (fresh.body.hasAttribute('data-refresh')) {
          say('live', false);
          schedule();
        } else {
          say('final', false);
        }
      })
      .catch(function (err) {
        busy = false;
        say('offline (' + err.message + ')', true);
        schedule();
      });
  }

  function schedule() { window.setTimeout(tick, every); }

  schedule();
})();
