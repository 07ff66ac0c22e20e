/* The checkout page's live part: copy buttons, the countdown, and the status it polls from
   /pay/<token>/status every few seconds (no reload). Without this script the page works as
   served: a <noscript> refresh and a reload link stand in for the live updates. */
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  if (!root || !root.dataset.statusUrl) { return; }
  var statusUrl = root.dataset.statusUrl;
  var interval = (parseInt(root.dataset.poll, 10) || 4) * 1000;
  var OPEN = ["choose", "waiting", "partial", "confirming"];
  var deadline = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setSecondsLeft(value) {
    deadline = (value === null || value === undefined || value === "") ? null : Date.now() + Number(value) * 1000;
  }

  function tick() {
    var el = document.getElementById("countdown");
    if (!el || deadline === null) { return; }
    var s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    el.textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(r);
  }

  function show(phase) {
    var parts = document.querySelectorAll("[data-phases]");
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = parts[i].dataset.phases.split(" ").indexOf(phase) < 0;
    }
    root.dataset.phase = phase;
    var status = document.getElementById("status");
    if (status) { status.className = "status phase-" + phase; }
  }

  function apply(state) {
    var fields = document.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var value = state[fields[i].dataset.field];
      if (value !== undefined && value !== null && fields[i].textContent !== String(value)) {
        fields[i].textContent = value;
      }
    }
    var qr = document.getElementById("qr");
    if (qr && state.qr_svg_url && qr.getAttribute("src") !== state.qr_svg_url) { qr.setAttribute("src", state.qr_svg_url); }
    var wallet = document.getElementById("wallet");
    if (wallet && state.payment_uri) { wallet.setAttribute("href", state.payment_uri); }
    setSecondsLeft(state.seconds_left);
    if (state.phase !== "choose") { show(state.phase); }
  }

  function poll() {
    fetch(statusUrl, { headers: { "Accept": "application/json" }, credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (response.status === 429) { return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (state) { if (state) { apply(state); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () {
        var open = OPEN.indexOf(root.dataset.phase) >= 0;
        window.setTimeout(poll, open ? interval : interval * 4);  // an expired order may still be paid late
      });
  }

  function copy(button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) { return; }
    var text = target.textContent.trim();
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    var done = function () {
      button.textContent = root.dataset.copied || "\u2713";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
    }
  }

  function select(target) {
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) { copy(event.currentTarget); });
  }
  setSecondsLeft(root.dataset.secondsLeft);
  tick();
  window.setInterval(tick, 1000);
  window.setTimeout(poll, interval);
})();
