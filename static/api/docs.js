/* fluxa API docs: Swagger UI whose "Try it out" requests are signed in this page.
 *
 * The key id and secret are asked for once. The secret is imported at once as a
 * non-extractable Web Crypto HMAC-SHA256 key and the field is cleared: no copy of the text is
 * kept, and nothing here writes to localStorage, sessionStorage, cookies or the URL. Each request
 * Swagger UI sends to /api/v1/ gets the three headers of README.md, "Signing requests":
 *   X-Signature = hex(HMAC-SHA256(secret, timestamp "\n" METHOD "\n" path?query "\n" hex(SHA-256(body))))
 * over the path and query exactly as sent. POST, PUT, PATCH and DELETE signatures are accepted
 * once, so such a request is never signed twice with the same timestamp.
 */
(function () {
  "use strict";

  var UNSAFE = { POST: true, PUT: true, PATCH: true, DELETE: true };
  var API_PREFIX = "/api/v1/";
  var encoder = new TextEncoder();
  var $ = function (id) { return document.getElementById(id); };

  // Everything the page knows about the key: the id, the mode its prefix names, and a CryptoKey
  // that can sign but cannot be read back.
  var state = { keyId: null, mode: null, hmacKey: null, clockOffsetMs: 0, recent: new Map() };

  var form = $("fx-key-form");
  var keyIdInput = $("fx-key-id");
  var secretInput = $("fx-secret");
  var allowLive = $("fx-allow-live");
  var forgetButton = $("fx-forget");
  var statusLine = $("fx-key-status");
  var modeBadge = $("fx-mode");

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function sha256Hex(text) {
    return crypto.subtle.digest("SHA-256", encoder.encode(text)).then(hex);
  }

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "fx-status" + (kind ? " fx-" + kind : "");
  }

  function showMode(mode) {
    document.body.classList.remove("fx-no-key", "fx-mode-test", "fx-mode-live");
    document.body.classList.add(mode ? "fx-mode-" + mode : "fx-no-key");
    modeBadge.textContent = mode === "live" ? "live mode: real funds" : mode === "test" ? "test mode" : "no key";
  }

  function modeOf(keyId) {
    if (/^fk_test_[A-Za-z0-9]+$/.test(keyId)) return "test";
    if (/^fk_live_[A-Za-z0-9]+$/.test(keyId)) return "live";
    return null;
  }

  // The three headers for one request. An unsafe request whose signature this page already
  // used (same second, same method, target and body) moves one second on: a replay is refused.
  async function signedHeaders(method, target, body) {
    var bodyHash = await sha256Hex(body);
    var ts = Math.floor((Date.now() + state.clockOffsetMs) / 1000);
    var signature;
    for (;;) {
      var message = ts + "\n" + method + "\n" + target + "\n" + bodyHash;
      signature = hex(await crypto.subtle.sign("HMAC", state.hmacKey, encoder.encode(message)));
      if (!UNSAFE[method] || !state.recent.has(signature)) break;
      ts += 1;
    }
    if (UNSAFE[method]) {
      state.recent.set(signature, ts);
      state.recent.forEach(function (at, sig) { if (at < ts - 600) state.recent.delete(sig); });
    }
    return { "X-Api-Key": state.keyId, "X-Timestamp": String(ts), "X-Signature": signature };
  }

  function isApiRequest(url) {
    return url.origin === window.location.origin && url.pathname.indexOf(API_PREFIX) === 0;
  }

  // Swagger UI awaits this for every request it sends ("Try it out" and the schema itself).
  async function requestInterceptor(req) {
    if (req.loadSpec || !state.hmacKey) return req;
    var url = new URL(req.url, document.baseURI);
    if (!isApiRequest(url)) return req;
    var body = req.body === undefined || req.body === null ? "" : req.body;
    if (typeof body !== "string") {
      say("This request's body is not JSON text, so the page cannot sign it.", "err");
      return req;
    }
    var method = String(req.method || "GET").toUpperCase();
    // Sign the target exactly as fetch will send it: the URL as the browser serialises it.
    req.url = url.href;
    var headers = await signedHeaders(method, url.pathname + url.search, body);
    req.headers = Object.assign({}, req.headers || {}, headers);
    return req;
  }

  // One signed request of the page's own (the key check), through the same signing code.
  async function signedFetch(method, target) {
    return fetch(target, {
      method: method,
      headers: Object.assign({ Accept: "application/json" }, await signedHeaders(method, target, "")),
      credentials: "omit",
      cache: "no-store",
    });
  }

  async function checkKey(retried) {
    var response = await signedFetch("GET", API_PREFIX + "account");
    var body = await response.json().catch(function () { return null; });
    var code = body && body.error && body.error.code;
    var serverDate = Date.parse(response.headers.get("Date") || "");
    if (code === "timestamp_out_of_window" && !retried && !isNaN(serverDate)) {
      // This computer's clock is off: sign with the server's time instead, and try once more.
      state.clockOffsetMs = serverDate - Date.now();
      return checkKey(true);
    }
    return { status: response.status, body: body, code: code };
  }

  function forget(message) {
    state.keyId = null;
    state.mode = null;
    state.hmacKey = null;
    state.recent.clear();
    forgetButton.disabled = true;
    showMode(null);
    say(message || "Key forgotten. Enter a key pair to sign requests.");
  }

  async function useKey(event) {
    event.preventDefault();
    var keyId = keyIdInput.value.trim();
    var secret = secretInput.value;
    secretInput.value = "";  // the field keeps no copy either
    var mode = modeOf(keyId);
    if (!mode) {
      forget("That is not a fluxa key id: it starts with fk_test_ (or fk_live_).");
      statusLine.className = "fx-status fx-err";
      return;
    }
    if (mode === "live" && !allowLive.checked) {
      forget('A live key moves real funds: tick "allow a live key" to use it here, or use a test key.');
      statusLine.className = "fx-status fx-err";
      return;
    }
    if (!secret) {
      say("Enter the key's secret too.", "err");
      return;
    }
    state.keyId = keyId;
    state.mode = mode;
    state.hmacKey = await crypto.subtle.importKey(
      "raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    secret = null;
    state.recent.clear();
    forgetButton.disabled = false;
    showMode(mode);
    say("Checking " + keyId + " with a signed GET /api/v1/account ...");
    try {
      var result = await checkKey();
      if (result.status === 200) {
        say("Signing as " + keyId + " (" + result.body.mode + " mode) for " + result.body.name + " (" +
            result.body.merchant_id + "). \"Try it out\" requests are signed in this page.", "ok");
      } else {
        say("The API refused the key check: " + result.status + " " + (result.code || "") +
            (result.body && result.body.error ? ": " + result.body.error.message : "") +
            " Requests are still signed with this key; enter another to replace it.", "err");
      }
    } catch (err) {
      say("Could not reach the API to check the key: " + err, "err");
    }
  }

  // A "Copy" button on every example in the operations' descriptions.
  function addCopyButtons(root) {
    root.querySelectorAll(".opblock-description-wrapper pre, .info .description pre").forEach(function (pre) {
      if (pre.dataset.fxCopy) return;
      pre.dataset.fxCopy = "1";
      pre.classList.add("fx-copyable");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "fx-copy";
      button.textContent = "Copy";
      button.addEventListener("click", function () {
        var text = (pre.querySelector("code") || pre).textContent;
        navigator.clipboard.writeText(text).then(
          function () { button.textContent = "Copied"; },
          function () { button.textContent = "Select and copy"; });
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
      pre.appendChild(button);
    });
  }

  if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
    form.querySelectorAll("input, button").forEach(function (el) { el.disabled = true; });
    say("Signing needs Web Crypto, which browsers offer only on https:// pages (and on " +
        "http://127.0.0.1 or localhost). Open this page over https to try requests.", "err");
  } else {
    form.addEventListener("submit", useKey);
    forgetButton.addEventListener("click", function () { forget(); });
  }

  var root = $("swagger-ui");
  SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    persistAuthorization: false,
    validatorUrl: null,
    requestInterceptor: requestInterceptor,
  });
  new MutationObserver(function () { addCopyButtons(root); }).observe(root, { childList: true, subtree: true });
})();
