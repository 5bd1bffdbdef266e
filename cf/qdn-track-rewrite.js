// qdn-track-rewrite: viewer-request function on the default behaviour of both distributions.
// Runtime cloudfront-js-2.0; CloudFront caps function code at 10 KB, so comments stay short.
//
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
//    slash form with its query string: one URL per view, and the invalidation paths and the
//    shell's router only ever see the slash form.
// 4. Everything else passes through unchanged. Route matching is exact and case sensitive, as
//    CloudFront paths are: /bookkeeping or /Track/x are not routes.
//
// Query string keys and values here are as they appear on the wire (percent-encoded), as
// CloudFront hands them to functions; original_path is therefore encodeURIComponent(uri).

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

// Three rounds undo %2564-style double encoding; more than that is not a real path.
var DECODE_ROUNDS = 3;

function decodeAscii(text) {
  // Only ASCII escapes matter for the check (the names refused are ASCII); decoding them by
  // hand never throws on a malformed escape, unlike decodeURIComponent.
  return text.replace(/%([0-7][0-9a-fA-F])/g, function (m, hex) {
    return String.fromCharCode(parseInt(hex, 16));
  });
}

function normalisedSegments(uri) {
  var path = uri;
  for (var i = 0; i < DECODE_ROUNDS; i++) {
    var next = decodeAscii(path);
    if (next === path) break;
    path = next;
  }
  var parts = path.toLowerCase().replace(/\\/g, '/').split('/');
  var out = [];
  for (var j = 0; j < parts.length; j++) {
    var part = parts[j].split(';')[0].trim();
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

function isPrivate(uri) {
  var segments = normalisedSegments(uri);
  if (segments.length > 0 && segments[0] === PRIVATE_PREFIX) return true;
  for (var i = 0; i < segments.length; i++) {
    if (segments[i].indexOf(PRIVATE_NAME) !== -1) return true;
  }
  return false;
}

function isOriginalPathKey(key) {
  return decodeAscii(key).toLowerCase() === ORIGINAL_PATH;
}

function queryText(querystring) {
  var pairs = [];
  for (var key in querystring) {
    if (isOriginalPathKey(key)) continue;
    var entry = querystring[key];
    var values = entry.multiValue ? entry.multiValue : [entry];
    for (var i = 0; i < values.length; i++) {
      pairs.push(key + '=' + values[i].value);
    }
  }
  return pairs.length ? '?' + pairs.join('&') : '';
}

function notFound() {
  return {
    statusCode: 404,
    statusDescription: 'Not Found',
    headers: {'cache-control': {value: 'no-store'}}
  };
}

function redirect(location) {
  return {
    statusCode: 301,
    statusDescription: 'Moved Permanently',
    headers: {
      location: {value: location},
      // An hour: long enough to spare the edge, short enough to undo a routing mistake.
      'cache-control': {value: 'max-age=3600'}
    }
  };
}

function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var querystring = request.querystring || {};

  if (isPrivate(uri)) return notFound();

  for (var prefix in ROUTES) {
    if (uri.indexOf(prefix) === 0) {
      var kept = {};
      for (var key in querystring) {
        if (!isOriginalPathKey(key)) kept[key] = querystring[key];
      }
      // Save the viewer's path before the URI is replaced (the old function did not).
      kept[ORIGINAL_PATH] = {value: encodeURIComponent(uri)};
      request.querystring = kept;
      request.uri = ROUTES[prefix];
      return request;
    }
    if (uri === prefix.slice(0, -1)) {
      return redirect(prefix + queryText(querystring));
    }
  }
  return request;
}
