// qdn-track-rewrite: viewer-request function on the default behaviour of both distributions.
// Runtime cloudfront-js-2.0; CloudFront caps function code at 10 KB, so comments stay short.
//
// 0. Every path is served from the live build: the key 'live' of the KeyValueStore associated
//    with this function names it (build-<12 hex>), and the path is rewritten into that build's
//    folder (origin path /builds). CloudFront computes the cache key after this function, so each
//    build has its own cache keys: a release is one write of 'live', with no invalidation, and no
//    response ever mixes two builds. Should the store be unreadable, FALLBACK_BUILD (compiled in
//    at publish time, a build retention never expires) is served, never an error page.
// 0b. A path pinned to a build, /_b/<build-id>/..., is served from that build whatever the
//    pointer says: pages reference their assets so, and a page loaded before a switch keeps
//    getting its own assets after it. Anything else under /_b/ is 404.
// 1. Private data never reaches the origin: any path naming jobs.json (in any case, in any
//    folder) or starting with the data prefix is answered here with 404. The check runs on a
//    normalised copy of the path (percent-decoding repeated, case folded, backslashes, empty,
//    "." and ".." segments resolved), so /%64ata/, /JOBS.JSON, //data/ and /site/../data are
//    refused too. 404 rather than 403: the edge does not confirm that anything is there.
// 2. The shell routes (ROUTES) are rewritten to the single-page shell. The viewer's own path
//    goes to the origin in the query parameter original_path, replacing any value the viewer
//    sent; every other parameter is kept as it came, repeats included. The browser keeps its
//    URL, so the shell reads location.pathname; original_path is for the origin's logs.
// 3. A route without its trailing slash (/track, /book, /dashboard) is redirected (301) to the
//    slash form with its query string: one URL per view, and the shell's router only ever sees
//    the slash form.
// 4. Everything else is served from the live build as it is ('/' and any path ending in '/'
//    get index.html, as the distribution's DefaultRootObject would). Route matching is exact
//    and case sensitive, as CloudFront paths are: /bookkeeping or /Track/x are not routes.
//
// Query string keys and values here are as they appear on the wire (percent-encoded), as
// CloudFront hands them to functions; original_path is therefore encodeURIComponent(uri).

import cf from 'cloudfront';

// Each request runs this file's top level afresh, so it declares only two functions: every
// function object costs time on every request.

// One table: plugins/qdn/routes.py holds the same one and tests/test_routes_agree.py proves it.
var ROUTES = {
  '/track/': '/index.html',
  '/book/': '/index.html',
  '/dashboard/': '/index.html'
};

// The bucket's private prefix (qdn.config.DATA_PREFIX) and the job records' file name.
var PRIVATE_PREFIX = 'data';
var PRIVATE_NAME = 'jobs.json';
var ORIGINAL_PATH = 'original_path';
// The live pointer (qdn.config.LIVE_POINTER_KEY) and the shape of a build id, 'build-' and 12
// hex digits (qdn.staging): checked by prefix and length, since a regular expression literal
// would be compiled again on every request. The pointer is only ever written by the release,
// which validates it in full.
var LIVE_KEY = 'live';
var BUILD_PREFIX = 'build-';
var BUILD_ID_LENGTH = 18;
// qdn.config.BUILD_PIN_PREFIX: assets pinned to the build they belong to.
var PIN_PREFIX = '/_b/';
// Replaced by qdn.function_release when publishing: the build live at that moment.
var FALLBACK_BUILD = '__QDN_FALLBACK_BUILD__';

// Three rounds undo %2564-style double encoding; more than that is not a real path.
var DECODE_ROUNDS = 3;

// The rare paths' helpers (percent-decoding, normalising an odd path), made on first use: a
// function declared at the top level is created on every request, and most requests need neither.
var rare = null;
function rareHelpers() {
  if (rare !== null) return rare;

  // Only ASCII escapes matter (the names refused are ASCII); decoding them by hand never throws
  // on a malformed escape, unlike decodeURIComponent.
  function decodeAscii(text) {
    return text.replace(/%([0-7][0-9a-fA-F])/g, function (m, hex) {
      return String.fromCharCode(parseInt(hex, 16));
    });
  }

  // Decode until stable, fold case, treat backslashes as slashes, resolve the segments.
  function isPrivate(uri) {
    var lower = uri;
    for (var round = 0; round < DECODE_ROUNDS; round++) {
      var next = decodeAscii(lower);
      if (next === lower) break;
      lower = next;
    }
    var parts = lower.toLowerCase().replace(/\\/g, '/').split('/');
    var segments = [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].split(';')[0].trim();
      if (part === '..') segments.pop();
      else if (part !== '' && part !== '.') segments.push(part);
    }
    if (segments.length > 0 && segments[0] === PRIVATE_PREFIX) return true;
    for (var j = 0; j < segments.length; j++) {
      if (segments[j].indexOf(PRIVATE_NAME) !== -1) return true;
    }
    return false;
  }

  rare = {decodeAscii: decodeAscii, isPrivate: isPrivate};
  return rare;
}

async function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var querystring = request.querystring || {};
  var key;

  // Private data: a plain path's first segment and name are checked as they are; anything odd is
  // normalised first. A refusal is an object literal where it is returned: built only when needed.
  var lower = uri.toLowerCase();
  var end = uri.indexOf('/', 1);
  // A path without escapes, odd separators, dot segments or blanks needs no normalising. Plain
  // indexOf checks: a regular expression costs this function a tenth of its time. (A request
  // line cannot carry other whitespace raw.)
  var odd = uri.indexOf('%') !== -1 || uri.indexOf('\\') !== -1 || uri.indexOf(';') !== -1 ||
    uri.indexOf('//') !== -1 || uri.indexOf('/.') !== -1 || uri.indexOf(' ') !== -1 ||
    uri.indexOf('\t') !== -1;
  if (odd
    ? rareHelpers().isPrivate(uri)
    : (end === -1 ? lower.slice(1) : lower.slice(1, end)) === PRIVATE_PREFIX ||
      lower.indexOf(PRIVATE_NAME) !== -1) {
    return {
      statusCode: 404,
      statusDescription: 'Not Found',
      headers: {'cache-control': {value: 'no-store'}}
    };
  }

  if (uri.startsWith(PIN_PREFIX)) {
    var pinned = uri.slice(PIN_PREFIX.length);
    var slash = pinned.indexOf('/');
    if (slash !== BUILD_ID_LENGTH || !pinned.startsWith(BUILD_PREFIX)) {
      return {
        statusCode: 404,
        statusDescription: 'Not Found',
        headers: {'cache-control': {value: 'no-store'}}
      };
    }
    request.uri = '/' + pinned;
    return request;
  }

  // Every route is one segment, '/name/': the path's first segment finds it in one lookup.
  // (Keys start with '/', which no inherited property name does.)
  var prefix = end === -1 ? uri + '/' : uri.slice(0, end + 1);
  var target = ROUTES[prefix];
  var path = uri.endsWith('/') ? uri + 'index.html' : uri;
  if (target !== undefined) {
    // Every query parameter but any spelling of original_path, in one pass.
    var kept = {};
    var pairs = [];
    for (key in querystring) {
      var name = key.indexOf('%') === -1 ? key : rareHelpers().decodeAscii(key);
      if (name.length === ORIGINAL_PATH.length && name.toLowerCase() === ORIGINAL_PATH) continue;
      var entry = querystring[key];
      kept[key] = entry;
      if (end !== -1) continue;
      var values = entry.multiValue || [entry];
      for (var v = 0; v < values.length; v++) pairs.push(key + '=' + values[v].value);
    }
    if (end === -1) {
      // The route without its trailing slash.
      return {
        statusCode: 301,
        statusDescription: 'Moved Permanently',
        headers: {
          location: {value: prefix + (pairs.length ? '?' + pairs.join('&') : '')},
          // An hour: long enough to spare the edge, short enough to undo a routing mistake.
          'cache-control': {value: 'max-age=3600'}
        }
      };
    }
    // Save the viewer's path before the URI is replaced (the old function did not).
    kept[ORIGINAL_PATH] = {value: encodeURIComponent(uri)};
    request.querystring = kept;
    path = target;
  }

  // One read of the pointer; one that cannot be read, is missing or names no build never
  // breaks the site.
  var build = FALLBACK_BUILD;
  try {
    var id = await cf.kvs().get(LIVE_KEY);
    if (typeof id === 'string' && id.length === BUILD_ID_LENGTH && id.startsWith(BUILD_PREFIX)) {
      build = id;
    } else console.log('live pointer holds no build id; serving ' + FALLBACK_BUILD);
  } catch (e) {
    console.log('live pointer unreadable (' + e + '); serving ' + FALLBACK_BUILD);
  }
  request.uri = '/' + build + path;
  return request;
}
