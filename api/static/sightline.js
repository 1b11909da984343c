/*!
 * Sightline recording snippet. Plain JavaScript, no build step; served at GET /sightline.js.
 *
 *   <script async src="https://sightline.example.com/sightline.js" data-key="slk_…"></script>
 *
 * It loads rrweb (GET /static/vendor/rrweb-2.2.2.min.js), records the page, and sends batches to
 * POST /ingest?key=… as the README describes. Options are data attributes on the script tag:
 *
 *   data-key            the site's tracking key (required)
 *   data-endpoint       the Sightline API origin; default: the origin this file was loaded from
 *   data-record-inputs  "true" records what visitors type (never passwords); default: masked
 *   data-mask           CSS selector whose text is masked, e.g. ".account, .price"
 *   data-block          CSS selector of elements not recorded at all (replayed as placeholders)
 *   data-respect-dnt    "false" records despite Do Not Track / Global Privacy Control; default:
 *                       honored, nothing is recorded or stored in the browser
 *   data-rrweb          another URL for the rrweb bundle
 *   data-flush-ms       how often a batch is sent, in ms (default 5000)
 *
 * The server applies the site's privacy settings again, whatever the snippet sent.
 *
 * API: sightline.track(name, properties), sightline.identify(traits) (a custom event named
 * "$identify"), sightline.flush(timeoutMs) (sends what is recorded; a Promise of true once
 * the API has answered for every batch, false after `timeoutMs`, default 10 s, or when
 * recording stopped), sightline.state() (ids and status). Calls made before the snippet has loaded are
 * queued with `(window.sightline = window.sightline || []).push(['track', 'signup', {}])`,
 * which also works once it has.
 */
(function () {
  'use strict';
  if (window.sightline && window.sightline.version) return; // loaded twice

  var RRWEB_VERSION = '2.2.2';
  var IDLE_MS = 30 * 60 * 1000; // a new session after 30 minutes without interaction
  var MAX_SESSION_MS = 12 * 60 * 60 * 1000; // and after 12 hours in any case
  var MAX_BATCH_EVENTS = 1000;
  var MAX_BATCH_CHARS = 512 * 1024;
  var MAX_CUSTOM = 500; // per batch, as the server accepts
  var MAX_ERRORS_PER_PAGE = 100;
  var MAX_QUEUE = 100; // batches kept while the API cannot be reached
  var BEACON_MAX_BYTES = 60 * 1024; // browsers cap beacon and keepalive bodies at 64 KiB
  var STORED_MAX_CHARS = 2 * 1024 * 1024; // unsent batches kept in sessionStorage at unload
  var RETRY_BASE_MS = 1000;
  var RETRY_MAX_MS = 60 * 1000;
  var ID = /^[A-Za-z0-9_-]{8,64}$/;
  var PREFIX = 'sightline:';

  // --- settings from the script tag -------------------------------------------------------

  var script =
    document.currentScript || document.querySelector('script[data-key][src*="sightline"]');
  function attr(name) {
    var value = script && script.getAttribute('data-' + name);
    return value ? value.trim() : '';
  }
  function flag(name, fallback) {
    var value = attr(name).toLowerCase();
    if (!value) return fallback;
    return value !== 'false' && value !== '0' && value !== 'no' && value !== 'off';
  }
  var key = attr('key');
  var endpoint = (
    attr('endpoint') ||
    (script && script.src ? new URL(script.src, location.href).origin : location.origin)
  ).replace(/\/+$/, '');
  var config = {
    recordInputs: flag('record-inputs', false),
    mask: attr('mask') || null,
    block: attr('block') || null,
    respectDnt: flag('respect-dnt', true),
    rrweb: attr('rrweb') || endpoint + '/static/vendor/rrweb-' + RRWEB_VERSION + '.min.js',
    flushMs: Math.max(1000, parseInt(attr('flush-ms'), 10) || 5000),
  };
  var ingestUrl = endpoint + '/ingest?key=' + encodeURIComponent(key);

  var earlyCalls = Array.isArray(window.sightline) ? window.sightline : [];
  function noop() {}
  function validSelector(selector) {
    try {
      if (selector) document.createDocumentFragment().querySelector(selector);
      return true;
    } catch (e) {
      return false;
    }
  }
  var api = {
    version: 1,
    track: noop,
    identify: noop,
    flush: function () {
      return Promise.resolve(true);
    },
    state: function () {
      return { recording: false };
    },
    // `sightline.push(['track', name, properties])` works before and after loading.
    push: function (call) {
      if (call && typeof api[call[0]] === 'function') api[call[0]].apply(api, call.slice(1));
    },
  };
  window.sightline = api;

  var declined =
    navigator.doNotTrack === '1' ||
    window.doNotTrack === '1' ||
    navigator.globalPrivacyControl === true;
  if (!key) {
    console.warn('Sightline: the script tag has no data-key; nothing is recorded.');
    return;
  }
  if (config.respectDnt && declined) return; // no ids stored, nothing sent
  if (!validSelector(config.mask) || !validSelector(config.block)) {
    console.warn('Sightline: data-mask or data-block is not a valid CSS selector; nothing is recorded.');
    return; // recording without the masking the site asked for is not an option
  }

  // --- visitor and session ids ------------------------------------------------------------

  function storage(name) {
    try {
      return window[name] || null;
    } catch (e) {
      return null; // storage blocked by the browser's settings
    }
  }
  var local = storage('localStorage');
  var perTab = storage('sessionStorage');
  function load(store, name) {
    try {
      var text = store && store.getItem(PREFIX + name);
      return text ? JSON.parse(text) : null;
    } catch (e) {
      return null;
    }
  }
  function save(store, name, value) {
    try {
      if (!store) return;
      if (value === null) store.removeItem(PREFIX + name);
      else store.setItem(PREFIX + name, JSON.stringify(value));
    } catch (e) {
      /* full or blocked: the ids then last as long as the page */
    }
  }
  function randomId(prefix) {
    var bytes = new Uint8Array(12);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return prefix + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? '0' : '') + b.toString(16);
    }).join('');
  }

  var visitorId = load(local, 'visitor');
  if (typeof visitorId !== 'string' || !ID.test(visitorId)) {
    visitorId = randomId('v-');
    save(local, 'visitor', visitorId);
  }
  // {id, seq: the next batch number, start, last: the last interaction}, per tab.
  var session = load(perTab, 'session');
  function expired(s, now) {
    return now - s.start >= MAX_SESSION_MS || now - s.last >= IDLE_MS;
  }
  function newSession(now) {
    session = { id: randomId('s-'), seq: 0, start: now, last: now };
    save(perTab, 'session', session);
  }
  if (!session || !ID.test(session.id) || typeof session.seq !== 'number' ||
      typeof session.start !== 'number' || typeof session.last !== 'number' ||
      expired(session, Date.now())) {
    newSession(Date.now());
  } else {
    session.last = Date.now(); // a page load is activity
  }

  // --- batches ----------------------------------------------------------------------------

  var events = []; // JSON texts of rrweb events, serialized once when emitted
  var eventChars = 0;
  var custom = [];
  var errors = [];
  var errorsThisPage = 0;
  // Batches waiting to be sent, oldest first: {seq, body}. Unsent ones saved at unload come first.
  var stored = load(perTab, 'pending');
  var queue = (Array.isArray(stored) ? stored : []).filter(function (batch) {
    return batch && typeof batch.body === 'string';
  });
  save(perTab, 'pending', null);
  var sending = false;
  var attempt = 0;
  var retryTimer = 0;
  var stopped = false;
  var recording = false;
  var stopRecorder = null;
  var waiters = [];

  function clip(text, length) {
    return typeof text === 'string' ? text.slice(0, length) : null;
  }

  // Closes the current batch: numbers it and queues its body, ready to send.
  function cut() {
    if (!events.length && (custom.length || errors.length)) {
      addCustomEvent('sightline.flush', {}); // a batch needs one rrweb event
    }
    if (!events.length) return;
    var page = {
      url: clip(location.href, 4096),
      title: clip(document.title, 1024) || null,
      referrer: clip(document.referrer, 4096) || null,
    };
    var body =
      '{"key":' + JSON.stringify(key) +
      ',"visitor_id":' + JSON.stringify(visitorId) +
      ',"session_id":' + JSON.stringify(session.id) +
      ',"seq":' + session.seq +
      ',"page":' + JSON.stringify(page) +
      ',"events":[' + events.join(',') + ']' +
      ',"custom":' + JSON.stringify(custom) +
      ',"errors":' + JSON.stringify(errors) + '}';
    queue.push({ seq: session.seq, body: body });
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    session.seq += 1;
    save(perTab, 'session', session);
    events = [];
    eventChars = 0;
    custom = [];
    errors = [];
  }

  // Sends the oldest batch, gzip-compressed where the browser can, then the next one.
  function send() {
    if (sending || retryTimer || stopped) return;
    if (!queue.length) return settle(true);
    sending = true;
    var batch = queue[0];
    compress(batch.body)
      .then(function (encoded) {
        var headers = { 'Content-Type': 'application/json' };
        if (encoded.gzip) headers['Content-Encoding'] = 'gzip';
        return fetch(ingestUrl, {
          method: 'POST',
          body: encoded.body,
          headers: headers,
          credentials: 'omit',
        });
      })
      .then(function (response) {
        if (response.status === 429 || response.status >= 500) {
          return retry(response.headers.get('Retry-After'));
        }
        done(batch);
        if (response.status === 401 || response.status === 403) {
          return stop('the API refused this key or this origin (' + response.status + ')');
        }
        if (!response.ok) return next(); // another 4xx: this batch can never be stored
        return response.json().then(function (answer) {
          if (answer && answer.status === 'ignored') return stop('the site declined recording');
          next();
        }, next);
      }, function () {
        retry(null); // a network error
      });
  }

  function compress(text) {
    if (typeof CompressionStream !== 'function') return Promise.resolve({ body: text });
    var stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return { body: buffer, gzip: true };
    }, function () {
      return { body: text };
    });
  }

  function done(batch) {
    var index = queue.indexOf(batch);
    if (index >= 0) queue.splice(index, 1);
    attempt = 0;
  }

  function next() {
    sending = false;
    send();
  }

  // 429, 5xx and network errors: again after Retry-After, or 1 s, 2 s, 4 s… up to a minute.
  function retry(retryAfter) {
    sending = false;
    attempt += 1;
    var seconds = parseInt(retryAfter, 10);
    var delay = seconds > 0
      ? seconds * 1000
      : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, attempt - 1)) * (0.5 + Math.random() / 2);
    retryTimer = setTimeout(function () {
      retryTimer = 0;
      send();
    }, delay);
  }

  function stop(reason) {
    if (stopped) return;
    stopped = true;
    console.warn('Sightline: recording stopped: ' + reason + '.');
    if (stopRecorder) stopRecorder();
    recording = false;
    queue = [];
    settle(false);
  }

  function settle(result) {
    var pending = waiters;
    waiters = [];
    pending.forEach(function (resolve) {
      resolve(result);
    });
  }

  // The page may be going away: no time to compress or wait for answers. Beacons take what
  // fits; what does not is kept in sessionStorage and sent by the next page of the visit.
  function flushNow() {
    if (stopped) return;
    cut();
    var left = queue.filter(function (batch) {
      return !beacon(batch.body);
    });
    var kept = [];
    var chars = 0;
    left.forEach(function (batch) {
      chars += batch.body.length;
      if (chars <= STORED_MAX_CHARS) kept.push(batch);
    });
    queue = left;
    save(perTab, 'pending', kept.length ? kept : null);
    save(perTab, 'session', session);
  }

  // Whether the browser took the batch to send even if the page goes away.
  function beacon(body) {
    // text/plain keeps the request simple (no CORS preflight); the API reads the JSON anyway.
    var blob = new Blob([body], { type: 'text/plain' });
    if (blob.size > BEACON_MAX_BYTES) return false;
    try {
      if (navigator.sendBeacon) return navigator.sendBeacon(ingestUrl, blob);
      fetch(ingestUrl, { method: 'POST', body: blob, keepalive: true, credentials: 'omit' })
        .catch(noop);
      return true;
    } catch (e) {
      return false;
    }
  }

  // The page is visible again (or back from the back-forward cache): carry on as usual.
  function resume() {
    save(perTab, 'pending', null);
    send();
  }

  // --- the recorder -----------------------------------------------------------------------

  var lastHref = location.href;

  function onEvent(event) {
    var now = event.timestamp || Date.now();
    var data = event.data || {};
    // Mouse moves, clicks, scrolls, resizes and typing (rrweb's own "user interaction").
    var interaction = event.type === 3 && data.source >= 1 && data.source <= 5;
    if (now - session.start >= MAX_SESSION_MS ||
        (now - session.last >= IDLE_MS && interaction)) {
      rotate(now, event.type !== 4); // a Meta event starts a snapshot of its own
    } else if (now - session.last >= IDLE_MS) {
      return; // nobody is there: keep nothing until the visitor is back
    }
    if (interaction) session.last = now;
    var text = JSON.stringify(event);
    events.push(text);
    eventChars += text.length + 1;
    if (event.type === 4) lastHref = data.href || lastHref;
    if (event.type === 2) {
      recording = true;
      setTimeout(function () {
        reportHeight(true); // every page view needs the page's height, once snapshotted
      }, 0);
    }
    if (events.length >= MAX_BATCH_EVENTS || eventChars >= MAX_BATCH_CHARS) {
      cut();
      send();
    }
  }

  // A new session: what was recorded goes out under the old one, and the new one starts with
  // a full snapshot, so it can be replayed on its own.
  function rotate(now, snapshot) {
    cut();
    send();
    newSession(now);
    if (snapshot && window.rrweb && rrweb.record.takeFullSnapshot) rrweb.record.takeFullSnapshot(true);
  }

  function addCustomEvent(tag, payload) {
    if (!recording) return;
    try {
      rrweb.record.addCustomEvent(tag, payload);
    } catch (e) {
      /* not recording (yet) */
    }
  }

  // The document's height, so scroll depth can be a share of the page: after each snapshot,
  // after single-page navigations, and whenever it changes.
  var reportedHeight = -1;
  var heightTimer = 0;
  function reportHeight(force) {
    var root = document.documentElement;
    var height = Math.max(root ? root.scrollHeight : 0, document.body ? document.body.scrollHeight : 0);
    if (!force && height === reportedHeight) return;
    reportedHeight = height;
    addCustomEvent('sightline.page', { scrollHeight: height, href: clip(location.href, 4096) });
  }
  function heightMayHaveChanged() {
    clearTimeout(heightTimer);
    heightTimer = setTimeout(function () {
      reportHeight(false);
    }, 300);
  }

  // Single-page-app navigations: history.pushState/replaceState, back/forward and anchors.
  function navigated() {
    var href = location.href;
    if (href === lastHref) return;
    lastHref = href;
    addCustomEvent('sightline.navigation', { href: clip(href, 4096) });
    setTimeout(function () {
      reportHeight(true);
    }, 300);
  }
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    if (typeof original !== 'function') return;
    history[name] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  });
  window.addEventListener('popstate', navigated);
  window.addEventListener('hashchange', navigated);

  function start() {
    if (stopped) return;
    if (!window.rrweb || !rrweb.record) {
      console.warn('Sightline: rrweb could not be loaded from ' + config.rrweb + '.');
      return;
    }
    stopRecorder = rrweb.record({
      emit: onEvent,
      maskAllInputs: !config.recordInputs,
      maskInputOptions: config.recordInputs ? { password: true } : undefined,
      maskTextSelector: config.mask,
      blockSelector: config.block,
      userTriggeredOnInput: true,
    });
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(heightMayHaveChanged);
      observer.observe(document.documentElement);
      if (document.body) observer.observe(document.body);
    }
  }

  // --- errors and custom events -----------------------------------------------------------

  function addError(message, stack, source, line, column) {
    if (errorsThisPage >= MAX_ERRORS_PER_PAGE || errors.length >= MAX_CUSTOM) return;
    errorsThisPage += 1;
    errors.push({
      message: clip(String(message || 'Unknown error'), 2000),
      timestamp: Date.now(),
      stack: clip(stack, 10000),
      source: clip(source, 4096),
      line: typeof line === 'number' ? line : null,
      column: typeof column === 'number' ? column : null,
    });
  }
  window.addEventListener('error', function (event) {
    var error = event.error;
    addError(event.message || (error && error.message), error && error.stack,
      event.filename, event.lineno, event.colno);
  });
  window.addEventListener('unhandledrejection', function (event) {
    var reason = event.reason;
    var message = reason && reason.message ? reason.message : String(reason);
    addError('Unhandled rejection: ' + message, reason && reason.stack);
  });

  // At most 50 properties, as the API accepts, and only what JSON can carry.
  function properties(value) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    var kept = {};
    Object.keys(value).slice(0, 50).forEach(function (name) {
      kept[name] = value[name];
    });
    try {
      return JSON.parse(JSON.stringify(kept));
    } catch (e) {
      return {};
    }
  }

  api.track = function (name, props) {
    if (stopped || typeof name !== 'string' || !name.trim() || custom.length >= MAX_CUSTOM) return;
    custom.push({ name: name.trim().slice(0, 200), timestamp: Date.now(), properties: properties(props) });
  };
  api.identify = function (traits) {
    api.track('$identify', traits);
  };
  api.flush = function (timeoutMs) {
    cut();
    if (stopped) return Promise.resolve(false);
    if (!queue.length && !sending) return Promise.resolve(true);
    return new Promise(function (resolve) {
      waiters.push(resolve);
      setTimeout(function () {
        resolve(false);
      }, timeoutMs || 10000);
      send();
    });
  };
  api.state = function () {
    return {
      recording: recording,
      visitorId: visitorId,
      sessionId: session.id,
      nextSeq: session.seq,
      queued: queue.length,
    };
  };
  earlyCalls.forEach(api.push);

  // --- wiring -----------------------------------------------------------------------------

  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') flushNow();
    else resume();
  });
  window.addEventListener('pagehide', flushNow);
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) resume();
  });
  setInterval(function () {
    cut();
    send();
  }, config.flushMs);
  send(); // batches the previous page left

  if (window.rrweb && window.rrweb.record) {
    start();
  } else {
    var loader = document.createElement('script');
    loader.src = config.rrweb;
    loader.async = true;
    loader.crossOrigin = 'anonymous';
    loader.onload = start;
    loader.onerror = function () {
      console.warn('Sightline: rrweb could not be loaded from ' + config.rrweb + '.');
    };
    (document.head || document.documentElement).appendChild(loader);
  }
})();
