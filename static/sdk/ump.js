/*
 * UnMoGrowP web SDK: no dependencies, ~3 KB.
 *
 *   <script src="https://track.example.com/static/sdk/ump.js"></script>
 *   <script>
 *     ump.init({ apiKey: "ump_XXXXXXXX_...", endpoint: "https://track.example.com" });
 *     ump.track("sign_up", { properties: { plan: "pro" } });
 *     ump.track("purchase", { revenue: 9.99, currency: "EUR" });
 *   </script>
 *
 * It captures the UTM parameters and the click id (ump_click_id) from the landing URL and keeps the
 * first touch, sends a page view per page, batches events (flush every 5 s or 20 events), retries
 * failed sends with backoff, and sends everything queued or still unanswered with navigator.sendBeacon
 * when the page is hidden or left. Event ids are generated here, so a retried batch is counted once by the server.
 * With ump.init({ ..., consent: false }) no identifier (web id, session id, user id) leaves the browser.
 */
(function (window) {
  "use strict";
  var STORAGE = "ump:v1";
  var MAX_BATCH = 20;
  var FLUSH_MS = 5000;
  var config = null;
  var state = {}; // kept in memory too: storage may be unavailable (private mode, sandboxed frames)
  var queue = [];
  var inFlight = []; // batches posted and not yet answered
  var timer = null;
  var backoff = 1000;
  var listening = false;

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORAGE)) || {}; } catch (e) { return {}; }
  }

  function save(state) {
    try { window.localStorage.setItem(STORAGE, JSON.stringify(state)); } catch (e) { /* private mode: keep in memory */ }
  }

  function touchFromUrl(href) {
    var params = new URL(href).searchParams;
    var touch = {};
    // Lengths as the server's contract allows them: a longer value would get the whole event rejected.
    [["utm_source", "source", 256], ["utm_medium", "medium", 256], ["utm_campaign", "campaign", 256],
     ["utm_content", "content", 256], ["utm_term", "term", 256], ["ump_click_id", "click_id", 128]].forEach(function (field) {
      var value = params.get(field[0]);
      if (value) touch[field[1]] = value.slice(0, field[2]);
    });
    return Object.keys(touch).length ? touch : null;
  }

  function send(events, useBeacon) {
    var url = config.endpoint + "/api/events";
    if (useBeacon && navigator.sendBeacon) {
      // sendBeacon cannot set headers: the key travels in the body, never in the URL (URLs are logged).
      var beacon = JSON.stringify({ api_key: config.apiKey, events: events });
      var blob = new Blob([beacon], { type: "text/plain" }); // a CORS-safelisted type: no preflight
      if (navigator.sendBeacon(url, blob)) return Promise.resolve();
    }
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Api-Key": config.apiKey },
      body: JSON.stringify({ events: events }),
      keepalive: true,
    }).then(function (response) {
      if (response.status >= 500 || response.status === 429) throw new Error("retry " + response.status);
    });
  }

  function flush(leaving) {
    if (!config) return;
    if (leaving) {
      // An unanswered post may yet fail, with no page left to retry it: it goes again in the beacons
      // (same event ids: the server counts them once).
      queue = [].concat.apply([], inFlight).concat(queue);
      inFlight = [];
    }
    do {
      if (!queue.length) return;
      sendBatch(queue.splice(0, MAX_BATCH), leaving);
    } while (leaving); // the page is going away and no timer may run again: everything goes now
  }

  function sendBatch(batch, useBeacon) {
    inFlight.push(batch);
    send(batch, useBeacon).then(function () {
      settle(batch);
      backoff = 1000;
      if (queue.length) schedule(0);
    }, function () {
      // Queued again even if the beacons took it too (the page was only hidden, and a beacon is not
      // sure to arrive): same event ids, so the server counts them once.
      settle(batch);
      queue = batch.concat(queue);
      backoff = Math.min(backoff * 2, 60000);
      schedule(backoff);
    });
  }

  function settle(batch) {
    var at = inFlight.indexOf(batch);
    if (at >= 0) inFlight.splice(at, 1); // else handed to the beacons when the page was hidden
  }

  function schedule(delay) {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(function () { timer = null; flush(false); }, delay);
  }

  function track(name, options) {
    if (!config) throw new Error("ump.init() first");
    options = options || {};
    var consent = config.consent !== false;
    var event = {
      event_id: uuid(),
      event_name: name,
      timestamp: new Date().toISOString(),
      platform: "web",
      locale: navigator.language ? navigator.language.slice(0, 35) : undefined,
      attribution: state.firstTouch || {},
      properties: options.properties || {},
      consent: consent,
    };
    if (consent) {
      event.device_ids = { web_id: state.webId };
      event.session_id = state.sessionId;
      if (options.userId) event.user_id = String(options.userId);
    }
    if (options.revenue != null) { event.revenue = options.revenue; event.currency = options.currency; }
    queue.push(event);
    if (queue.length >= MAX_BATCH) flush(false); else if (!timer) schedule(FLUSH_MS);
  }

  function init(options) {
    config = { apiKey: options.apiKey, endpoint: (options.endpoint || "").replace(/\/$/, ""), consent: options.consent };
    state = load();
    var now = Date.now();
    if (config.consent === false) {
      delete state.webId; // consent withdrawn: forget the identifiers kept from earlier visits
      delete state.sessionId;
    } else {
      state.webId = state.webId || uuid();
      if (!state.sessionId || now - (state.lastSeen || 0) > 30 * 60 * 1000) state.sessionId = uuid();
    }
    state.lastSeen = now;
    var touch = touchFromUrl(window.location.href);
    if (touch && !state.firstTouch) state.firstTouch = touch; // first touch wins, as attribution expects
    save(state);
    if (options.pageViews !== false) track("page_view", { properties: { path: window.location.pathname.slice(0, 1024) } });
    if (listening) return;
    listening = true;
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flush(true);
    });
    window.addEventListener("pagehide", function () { flush(true); }); // where visibilitychange does not fire on unload
  }

  window.ump = { init: init, track: track, flush: function () { flush(false); } };
})(window);
