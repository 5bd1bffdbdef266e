"""The cloudfront-js-1.0 and cloudfront-js-2.0 runtimes, emulated in the embedded QuickJS engine.

The local CloudFront's TestFunction and its edge both call :func:`run_function`; the test suite and
the benchmarks call it directly. It keeps the limits of the real runtime that a function author can
trip over, so a function that works here does not fail on first contact with AWS:

- the code must define ``handler``; it may be ``async`` (2.0 allows it) and is settled by running
  the engine's pending jobs;
- no ``eval``, no ``Function`` constructor (nor the async/generator ones), no timers, network or
  files: the globals simply are not there, or throw when used;
- only the modules and built-ins AWS documents for the function's runtime (its
  ``FunctionConfig.Runtime``, passed as ``runtime``): ``crypto`` and ``querystring`` in both,
  the 1.0 byte strings (``String.bytesFrom``...) in 1.0 only, ``Buffer``, ``import`` and the
  ``cloudfront`` module in 2.0 only. They are JS fragments (``builtins/``, chosen by
  ``runtime_builtins``) installed in a context only when its code names them, so code that uses
  none pays nothing; ``import`` statements become ``const`` bindings (``runtime_imports``);
- code is at most 10 KB, as CloudFront refuses larger functions;
- an infinite loop or runaway allocation errors out instead of hanging the edge;
- what the handler returns is validated and shaped as CloudFront reads it
  (``function_output``): a "validation error" in AWS's metrics otherwise;
- what the function asked of the origin (``cf.selectRequestOriginById`` and the other origin
  helpers) comes back in ``FunctionRun.origin`` for the edge (``origin_choice``).

Cost versus isolation: creating a QuickJS context and parsing a function costs about 300 µs, a
handler call about 10 µs. Real CloudFront gives each request a clean slate. So each distinct code
text (keyed by its SHA-256) gets one cached, locked-down context in which the code is compiled
once as the body of a factory function; every run calls the factory afresh, so the function's
top-level ``var``/``let``/``const`` bindings are new for each request (the top-level statements run
again, which for a routing function is a few object literals: cheap). Around that:

- the built-ins are frozen and the global names they live under are read-only, so a request cannot
  patch ``String.prototype`` or replace ``JSON`` for the next one;
- globals a request creates (an implicit global, ``globalThis.x = ...``) are deleted after the run,
  and if one cannot be deleted the whole context is thrown away;
- after any engine-level failure (time, memory, stack) the context is thrown away too.

QuickJS contexts must only ever be touched from the thread that created them (the engine checks
stack bounds against its creating thread), and the edge serves requests on many threads, so every
engine call runs on one dedicated worker thread. That includes freeing a context: nothing that
holds one (a cache entry, or a traceback whose frame does) ever leaves that thread, which is why
load failures travel as strings rather than exceptions. (A context freed by another thread's
garbage collection while the engine ran crashed the process before this rule.)

Key value stores: a function reads its associated store the documented runtime-2.0 way, ``import
cf from 'cloudfront'; const kvs = cf.kvs();`` then ``await kvs.get(key)`` (``{format: 'json'}``,
``'string'`` or ``'bytes'``), ``await kvs.exists(key)`` and ``await kvs.meta()``; ``cf`` is a
frozen object the prelude installs as the ``cloudfront`` module. The engine cannot call into
Python while its time limit is armed (which is also why the hashes are computed in JS), so reads
work the way they are documented to, asynchronously: each read queues a request and returns a
promise; when the function is left waiting (no pending job), the engine thread answers the queue
from the store view of *this* run (``run_function(..., kvs=...)``, chosen by TestFunction or the
edge) and the function resumes. A context is shared by every store its code runs with, so
nothing of a store stays in it. A missing key makes ``get`` reject with an Error, as on AWS (the
documented pattern is ``try { await kvs.get(k) } catch``); a store that cannot be read makes
every read reject; ``cf.kvs()`` without an association throws. Code that never names
``cloudfront`` pays nothing for this.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import quickjs

from localaws.cloudfront.function_output import normalize_output
from localaws.cloudfront.runtime_builtins import (
    MODULES,
    RUNTIME_1,
    RUNTIME_2,
    builtins_for,
    check_runtime,
    install_script,
)
from localaws.cloudfront.runtime_imports import rewrite_imports
from localaws.cloudfront.runtime_syntax import unsupported_in_1_0

# What a caller that does not say gets: the runtime AWS recommends (and the only one with modules).
DEFAULT_RUNTIME = RUNTIME_2

# CloudFront refuses function code over 10 KB (CreateFunction/UpdateFunction); so do we.
MAX_CODE_BYTES = 10 * 1024

# ComputeUtilization is "the time the function took as a percentage of the maximum allowed time".
# AWS does not publish the maximum; the figure widely measured and quoted for viewer functions is
# about 1 ms of compute. We measure the engine thread's CPU time (not wall time, so a loaded
# machine does not inflate it) and scale it against that 1 ms.
COMPUTE_BUDGET_NS = 1_000_000

# Hard stop for runaway code. QuickJS's limit uses clock(), i.e. CPU time of the whole process, so
# other busy threads count towards it: 50x the budget leaves room for that and still ends an
# infinite loop in a twentieth of a second.
TIME_LIMIT_SECONDS = 0.05

# CloudFront functions get 2 MB of memory. The engine's own baseline (built-ins, the compiled code)
# is a few hundred KB and garbage from earlier runs is collected lazily, so the cap for the whole
# context is 8 MB: far above any sane function, low enough to stop an allocation loop quickly.
MEMORY_LIMIT_BYTES = 8 * 1024 * 1024

# The prelude's code starts at this line, so an error's frames in it are told from the
# function's own (both are "<input>" to the engine): a 10 KB function has at most 10241 lines.
PRELUDE_FIRST_LINE = 20_000

# Deep recursion raises a clean RangeError well before the engine thread's C stack is at risk.
MAX_STACK_BYTES = 512 * 1024

# A settled async handler needs a handful of jobs; a promise chain that never ends is runaway code.
MAX_PENDING_JOBS = 10_000

# CloudFront keeps a function's log lines per request; an unbounded log is a memory leak here.
MAX_LOG_LINES = 1_000

# One cached context per distinct code text; a few are enough (DEVELOPMENT and LIVE of a couple
# of functions), and each holds a JS heap, so the cache is small and least-recently-used.
MAX_CACHED_CODES = 16


@dataclass(frozen=True)
class FunctionRun:
    """The outcome of one function invocation, shaped like TestFunction's result."""

    output: dict | None  # {"request": {...}} or {"response": {...}}
    error: str | None  # message if the handler threw, the code does not compile or output is bad
    logs: list[str]  # console.log lines
    compute_utilization: int  # 0-100
    # What the function asked of the origin through the cloudfront module's helpers:
    # {"originId": id | None, "group": {originIds, statusCodes, selectionCriteria} | None,
    #  "update": {domainName, originPath, customHeaders, ...}}; None when it asked nothing.
    origin: dict | None = None


@dataclass(frozen=True)
class KvsView:
    """The key value store associated with a function, as one run reads it.

    ``items`` is None when the store cannot be read (gone, or made unreadable on purpose): every
    read then rejects, so the function's fallback path runs. ``store_id`` is what ``cf.kvs(id)``
    must name; empty accepts any id (a view made from a bare mapping). The mapping is only read,
    and only while the run lasts.
    """

    items: Mapping[str, str] | None
    store_id: str = ""
    created: datetime | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class EdgeFacts:
    """What a run knows beyond its event: the query string as the viewer sent it, for
    ``request.rawQueryString()``, and the edge location, for ``cf.edgeLocation`` (both 2.0 only).

    AWS documents ``rawQueryString()`` as the text after ``?`` (``""`` when the URL ends in a
    bare ``?``, undefined without one), and TestFunction answering ``""``, since a test event has
    no URL. ``cf.edgeLocation`` is ``{name, serverIp, region}`` in a viewer request and empty
    otherwise; what TestFunction shows for it is not documented, so it is empty there too.
    """

    raw_query: str | None = ""  # None: the viewer's URL had no '?'
    location: Mapping[str, str] = field(default_factory=dict)


# What TestFunction's runs see: no URL, no edge.
TEST_FACTS = EdgeFacts()


class FunctionRunner(Protocol):
    """What TestFunction and the edge call: :func:`run_function` or a stand-in for it."""

    def __call__(
        self,
        code: str,
        event: dict,
        *,
        kvs: KvsView | Mapping[str, str] | None = None,
        runtime: str = DEFAULT_RUNTIME,
        facts: EdgeFacts = TEST_FACTS,
    ) -> FunctionRun: ...


def run_function(
    code: str,
    event: dict,
    *,
    kvs: KvsView | Mapping[str, str] | None = None,
    runtime: str = DEFAULT_RUNTIME,
    facts: EdgeFacts = TEST_FACTS,
) -> FunctionRun:
    """Run ``handler(event)`` of a function in ``runtime`` and return what it did.

    ``kvs`` is the function's associated key value store as this run sees it (a bare mapping is a
    readable store of those items); None: the function has no association. ``runtime`` is the
    function's ``FunctionConfig.Runtime``: it decides which built-ins exist. ``facts`` is what
    the edge knows of the request beyond the event (TestFunction's by default).
    """
    check_runtime(runtime)
    event_json = json.dumps(event)
    facts_json = json.dumps({"rawQuery": facts.raw_query, "location": dict(facts.location)})
    view = kvs if kvs is None or isinstance(kvs, KvsView) else KvsView(kvs)
    return _ENGINE.submit(
        _run_on_engine_thread, code, event_json, view, runtime, facts_json
    ).result()


def check_code(code: str, runtime: str = DEFAULT_RUNTIME) -> str | None:
    """Return why ``code`` cannot be a function (size, syntax, no handler), or None if it can."""
    check_runtime(runtime)
    return _ENGINE.submit(_check_on_engine_thread, code, runtime).result()


# --- engine thread ------------------------------------------------------------------------------

_ENGINE = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cf-function")
_CACHE: OrderedDict[str, _Compiled] = OrderedDict()
_CACHE_LOCK = threading.Lock()  # the cache is only touched on the engine thread; belt and braces

# Installed once per context before the function code is compiled. It removes what the runtime
# does not offer, adds console.log, freezes the built-ins and exposes the run/settle entry points.
# Everything it keeps lives in closures, so the function code cannot reach it.
_PRELUDE_HEAD = r"""
(function (global) {
  'use strict';
  var MAX_LOG_LINES = %(max_log_lines)d;
  var PRELUDE_FIRST_LINE = %(prelude_first_line)d;
  var RUNTIME = %(runtime)s;
  var MODULE_NAMES = %(module_names)s;  // what this runtime documents
  var GENERAL_HELPERS = %(general_helpers)s;  // request.rawQueryString(): 2.0 only
  var modules = {};  // what this context loaded: the built-in fragments register here
  var runHooks = [];  // reset per-run state of the fragments
  // A global a fragment provides (Buffer): frozen and made read-only with the built-ins below.
  function defineGlobal(name, value) { global[name] = value; }
  var logs = [];
  var settled = null;
  var factory = null;

  var refusals = [];
  function refuse(what) {
    return function () {
      var e = new EvalError(what + ' is not allowed in ' + RUNTIME);
      refusals.push(e);
      throw e;
    };
  }
  function fmt(v) {
    if (typeof v === 'string') return v;
    try {
      var s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  }
  function describe(e) {
    if (refusals.indexOf(e) !== -1) return String(e);
    // QuickJS cannot allocate an error object once the heap is exhausted and throws null.
    if (e === null) return 'InternalError: out of memory (or the function threw null)';
    if (e instanceof Error) {
      // The innermost frame in the function's own code: the prelude and the built-ins start at
      // line PRELUDE_FIRST_LINE, past any line a 10 KB function can have.
      var frames = typeof e.stack === 'string' ? e.stack.split('\n') : [];
      var where = '';
      for (var fi = 0; fi < frames.length && !where; fi++) {
        var line = /:(\d+)\)?\s*$/.exec(frames[fi]);
        if (line && Number(line[1]) < PRELUDE_FIRST_LINE) where = frames[fi].trim();
      }
      return String(e) + (where ? ' (' + where + ')' : '');
    }
    return 'Uncaught ' + fmt(e);
  }
  function log() {
    if (logs.length < MAX_LOG_LINES) {
      logs.push(Array.prototype.map.call(arguments, fmt).join(' '));
    }
  }
  function finish(ok, value) {
    var out = {ok: ok, logs: logs, origin: originChange};
    if (ok) {
      try {
        out.value = JSON.stringify(value === undefined ? null : value);
      } catch (e) {
        out = {ok: false, logs: logs, error: 'The function returned a value that is not JSON: ' +
               describe(e)};
      }
    } else {
      out.error = value;
    }
    return JSON.stringify(out);
  }

  // Constructors that compile code from strings, reached through any function's prototype.
  var ctorOwners = [
    Function.prototype,
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function* () {})
  ];
  for (var i = 0; i < ctorOwners.length; i++) {
    Object.defineProperty(ctorOwners[i], 'constructor', {
      value: refuse('Function constructor'), writable: false, configurable: false
    });
  }
  Object.defineProperty(global, 'Function', {
    value: refuse('Function constructor'), writable: false, configurable: false
  });
  Object.defineProperty(global, 'eval', {
    value: refuse('eval'), writable: false, configurable: false
  });
  delete global.__date_clock;
  global.console = {log: log, info: log, warn: log, error: log, debug: log};
  function loadModule(name, Kind) {
    name = String(name);
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    if (MODULE_NAMES.indexOf(name) !== -1) {
      throw new Kind("The module '" + name + "' is only loaded for code that names it as a " +
                     "string literal, as in require('" + name + "')");
    }
    throw new Kind("Cannot find module '" + name + "': " + RUNTIME + ' offers ' +
                   MODULE_NAMES.join(', '));
  }
  global.require = function (name) { return loadModule(name, Error); };
  // What an import statement becomes (see runtime_imports); an unknown module fails the load.
  function importModule(name) { return loadModule(name, SyntaxError); }
"""

_PRELUDE_TAIL = r"""
  // Freeze every built-in reachable from the global object, then make the global names
  // themselves read-only: one request must not change what the next one runs against.
  var seen = new Set();  // thousands of objects: a list's indexOf made this quadratic
  function freeze(o) {
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null) return;
    if (seen.has(o)) return;
    seen.add(o);
    Object.freeze(o);
    var names = Object.getOwnPropertyNames(o);
    for (var j = 0; j < names.length; j++) {
      var d = Object.getOwnPropertyDescriptor(o, names[j]);
      if ('value' in d) freeze(d.value);
      if (d.get) freeze(d.get);
      if (d.set) freeze(d.set);
    }
    freeze(Object.getPrototypeOf(o));
  }
  var baseline = Object.getOwnPropertyNames(global);
  for (var k = 0; k < baseline.length; k++) {
    if (baseline[k] === 'globalThis') continue;
    freeze(global[baseline[k]]);
    Object.defineProperty(global, baseline[k], {writable: false, configurable: false});
  }
  freeze(Object.getPrototypeOf(async function () {}));
  freeze(Object.getPrototypeOf(function* () {}));
  freeze(Object.getPrototypeOf(async function* () {}));
  var baselineSet = {};
  for (var b = 0; b < baseline.length; b++) baselineSet[baseline[b]] = true;
  var nameList = ['__qdn_install', '__qdn_run', '__qdn_settle', '__qdn_clean', '__qdn_import',
                  '__qdn_kvs_wanted', '__qdn_kvs_answer'];
  for (var n = 0; n < nameList.length; n++) baselineSet[nameList[n]] = true;

  function install(f) {
    factory = f;
  }
  function run(eventJson, store, factsJson) {
    logs = [];
    refusals = [];
    settled = null;
    kvsStore = store;
    kvsQueue = [];
    originChange = null;
    var facts = JSON.parse(factsJson);
    edgeLocation = Object.freeze(facts.location);
    for (var h = 0; h < runHooks.length; h++) runHooks[h]();
    var result;
    try {
      var handler = factory();
      if (typeof handler !== 'function') {
        return finish(false, 'The function code does not define a function named handler');
      }
      var event = JSON.parse(eventJson);
      if (GENERAL_HELPERS && event !== null && typeof event.request === 'object' &&
          event.request !== null) {
        // A method, not data: it never shows in the returned request.
        var rawQuery = facts.rawQuery === null ? undefined : facts.rawQuery;
        Object.defineProperty(event.request, 'rawQueryString', {
          value: function rawQueryString() { return rawQuery; },
          writable: true, configurable: true, enumerable: false
        });
      }
      result = handler(event);
    } catch (e) {
      return finish(false, describe(e));
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      Promise.resolve(result).then(
        function (v) { settled = finish(true, v); },
        function (e) { settled = finish(false, describe(e)); }
      );
      return null;
    }
    return finish(true, result);
  }
  function settle() {
    return settled === null
      ? finish(false, 'The handler returned a promise that never settled') : settled;
  }
  // Deletes the globals a run created; false when one refuses to go (the context is discarded).
  function clean() {
    var now = Object.getOwnPropertyNames(global);
    var ok = true;
    for (var c = 0; c < now.length; c++) {
      if (baselineSet[now[c]]) continue;
      try {
        delete global[now[c]];  // strict mode: throws when the property is not configurable
      } catch (e) {
        ok = false;
      }
    }
    return ok;
  }

  // The 'cloudfront' module. cf.kvs() hands out the one handle; its reads queue a request and
  // return a promise, which the engine thread settles from the run's store (see _kvs_answers).
  var UNREADABLE = 'The key value store associated with this function could not be read';
  var kvsStore = null;  // per run: '' without an association, else the store id ('*': any id)
  var kvsQueue = [];
  function kvsRequest(op, key, format) {
    return new Promise(function (resolve, reject) {
      kvsQueue.push({op: op, key: key, format: format, resolve: resolve, reject: reject});
    });
  }
  function utf8Bytes(text) {
    var bin = unescape(encodeURIComponent(text));
    var out = new Uint8Array(bin.length);
    for (var u = 0; u < bin.length; u++) out[u] = bin.charCodeAt(u);
    return out;
  }
  var kvsHandle = {
    get: function (key, options) {
      var format = options != null && options.format !== undefined ? options.format : 'string';
      if (format !== 'string' && format !== 'json' && format !== 'bytes') {
        return Promise.reject(new TypeError(
          "kvs.get: format must be 'string', 'json' or 'bytes', not " + fmt(format)));
      }
      return kvsRequest('get', String(key), format);
    },
    exists: function (key) { return kvsRequest('exists', String(key), null); },
    meta: function () { return kvsRequest('meta', '', null); }
  };
  var cf = {
    kvs: function (id) {
      if (kvsStore === '') {
        throw new Error('This function has no key value store association (cf.kvs())');
      }
      if (id !== undefined && kvsStore !== null && kvsStore !== '*' && String(id) !== kvsStore) {
        throw new Error('The key value store ' + String(id) + ' is not associated with this ' +
                        'function');
      }
      return kvsHandle;
    },
    updateRequestOrigin: function (params) {
      var update = originParams(params, 'updateRequestOrigin');
      var change = originChange || {originId: null, group: null, update: {}};
      for (var key in update) change.update[key] = update[key];
      originChange = change;
    },
    selectRequestOriginById: function (originId, params) {
      if (typeof originId !== 'string' || originId === '') {
        throw new TypeError('selectRequestOriginById: the origin id must be a non-empty ' +
                            'string (an origin Id of the distribution), not ' + fmt(originId));
      }
      originChange = {originId: originId, group: null,
                      update: params === undefined ? {} :
                        originParams(params, 'selectRequestOriginById')};
    },
    createRequestOriginGroup: function (params) {
      if (params === null || typeof params !== 'object') {
        throw new TypeError('createRequestOriginGroup takes {originIds: [primary, secondary], ' +
                            'failoverCriteria: {statusCodes: [...]}}, not ' + fmt(params));
      }
      var ids = params.originIds;
      if (!Array.isArray(ids) || ids.length !== 2 ||
          !ids.every(function (i) { return typeof i === 'string' && i !== ''; })) {
        throw new TypeError('createRequestOriginGroup: originIds must be two origin ids ' +
                            '(primary, then secondary), not ' + fmt(ids));
      }
      var codes = params.failoverCriteria && params.failoverCriteria.statusCodes;
      if (!Array.isArray(codes) || codes.length === 0 || !codes.every(function (c) {
        return typeof c === 'number' && c % 1 === 0 && c >= 400 && c <= 599;
      })) {
        throw new TypeError('createRequestOriginGroup: failoverCriteria.statusCodes must be a ' +
                            'non-empty list of 4xx/5xx status codes, not ' + fmt(codes));
      }
      var selection = params.selectionCriteria === undefined ? 'default' : params.selectionCriteria;
      if (ORIGIN_SELECTION.indexOf(selection) === -1) {
        throw new TypeError('createRequestOriginGroup: selectionCriteria must be one of ' +
                            ORIGIN_SELECTION.join(', ') + ', not ' + fmt(selection));
      }
      originChange = {originId: null, update: {},
                      group: {originIds: ids.slice(), statusCodes: codes.slice(),
                              selectionCriteria: selection}};
    }
  };
  // What updateRequestOrigin (and selectRequestOriginById's second argument) may set, with the
  // type each must have; AWS refuses anything else.
  var ORIGIN_FIELDS = {
    domainName: 'string', originPath: 'string', customHeaders: 'object',
    connectionAttempts: 'number', originShield: 'object', originAccessControlConfig: 'object',
    timeouts: 'object', customOriginConfig: 'object', hostHeader: 'string', sni: 'string',
    allowedCertificateNames: 'object'
  };
  var ORIGIN_SELECTION = ['default', 'media-quality-based'];
  var originChange = null;  // per run: what the function asked of the origin, for the edge
  function originParams(params, where) {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new TypeError(where + ' takes an object of origin settings, not ' + fmt(params));
    }
    var out = {};
    for (var key in params) {
      if (!Object.prototype.hasOwnProperty.call(ORIGIN_FIELDS, key)) {
        throw new TypeError(where + ": unknown origin setting '" + key + "' (known: " +
                            Object.keys(ORIGIN_FIELDS).join(', ') + ')');
      }
      if (typeof params[key] !== ORIGIN_FIELDS[key] || params[key] === null) {
        throw new TypeError(where + ': ' + key + ' must be a ' + ORIGIN_FIELDS[key] + ', not ' +
                            fmt(params[key]));
      }
      out[key] = params[key];
    }
    if (out.originPath !== undefined && out.originPath !== '' &&
        (out.originPath.charAt(0) !== '/' || out.originPath.slice(-1) === '/')) {
      throw new TypeError(where + ": originPath must start with '/' and not end with one, not " +
                          fmt(out.originPath));
    }
    if (out.customHeaders !== undefined) {
      for (var h in out.customHeaders) {
        if (typeof out.customHeaders[h] !== 'string') {
          throw new TypeError(where + ': customHeaders.' + h + ' must be a string');
        }
      }
    }
    return JSON.parse(JSON.stringify(out));
  }
  // cf.edgeLocation: {name, serverIp, region} in a viewer request, empty otherwise (per run).
  var edgeLocation = Object.freeze({});
  Object.defineProperty(cf, 'edgeLocation', {
    get: function () { return edgeLocation; }, enumerable: true
  });
  freeze(kvsHandle);
  freeze(cf);
  // [op, key] of each read the function waits on, as JSON; null when there is none.
  function kvsWanted() {
    if (kvsQueue.length === 0) return null;
    return JSON.stringify(kvsQueue.map(function (r) { return [r.op, r.key]; }));
  }
  // Settles the queued reads in order: [0, value] found, [1] no such key, [2] unreadable store.
  function kvsAnswer(answersJson) {
    var queue = kvsQueue;
    var answers = JSON.parse(answersJson);
    kvsQueue = [];
    for (var q = 0; q < queue.length; q++) {
      var r = queue[q];
      var a = answers[q];
      if (a[0] === 2) {
        r.reject(new Error(UNREADABLE));
      } else if (a[0] === 1) {
        r.reject(new Error('The key ' + JSON.stringify(r.key) +
                           ' does not exist in the key value store'));
      } else if (r.format === 'json') {
        try {
          r.resolve(JSON.parse(a[1]));
        } catch (e) {
          r.reject(e);
        }
      } else {
        r.resolve(r.format === 'bytes' ? utf8Bytes(a[1]) : a[1]);
      }
    }
  }

  if (MODULE_NAMES.indexOf('cloudfront') !== -1) modules.cloudfront = cf;
  var entry = {__qdn_install: install, __qdn_run: run, __qdn_settle: settle, __qdn_clean: clean,
               __qdn_import: importModule, __qdn_kvs_wanted: kvsWanted,
               __qdn_kvs_answer: kvsAnswer};
  for (var name in entry) {
    Object.defineProperty(global, name, {value: entry[name], writable: false,
                                         configurable: false, enumerable: false});
  }
})(globalThis);
"""

# The code becomes the body of a factory, opened on the same line as the code's first line so
# error line numbers stay the author's. ``typeof`` keeps a missing handler from being a
# ReferenceError.
_FACTORY_HEAD = "__qdn_install(function () {"
_FACTORY_TAIL = "\n;return typeof handler === 'function' ? handler : undefined;\n});"

# What ``run`` is told about the store: none, or one whose id cf.kvs(id) need not match.
_NO_STORE = ""
_ANY_STORE_ID = "*"
# How ``__qdn_kvs_answer`` reads each answer: found, no such key, unreadable store.
_FOUND, _NO_SUCH_KEY, _UNREADABLE = 0, 1, 2


@dataclass
class _Compiled:
    context: quickjs.Context
    run: quickjs.Object
    settle: quickjs.Object
    clean: quickjs.Object
    kvs_wanted: quickjs.Object
    kvs_answer: quickjs.Object
    uses_cf: bool  # names 'cloudfront': only then can a run wait on the store


def _new_context(prelude: str) -> quickjs.Context:
    """A context with the prelude installed and the limits armed for the function's code.

    The time limit is armed after the prelude: it is our code, bounded, and the limit counts the
    whole process's CPU time, so on a busy machine it could stop the prelude half-way.
    """
    context = quickjs.Context()
    context.set_memory_limit(MEMORY_LIMIT_BYTES)
    context.set_max_stack_size(MAX_STACK_BYTES)
    context.eval(prelude)
    context.set_time_limit(TIME_LIMIT_SECONDS)
    return context


def _prelude(code: str, runtime: str) -> str:
    """The prelude for this code: the runtime's rules plus the built-ins the code names."""
    # %-formatting, not str.format: the JS is full of braces.
    head = _PRELUDE_HEAD % {
        "max_log_lines": MAX_LOG_LINES,
        "prelude_first_line": PRELUDE_FIRST_LINE,
        "runtime": json.dumps(runtime),
        "module_names": json.dumps(list(MODULES[runtime])),
        "general_helpers": json.dumps(runtime == RUNTIME_2),
    }
    padding = "\n" * (PRELUDE_FIRST_LINE - 1)
    return padding + head + install_script(builtins_for(code, runtime)) + _PRELUDE_TAIL


def _kvs_answers(view: KvsView | None, wanted: str) -> str:
    """The answers to the reads ``__qdn_kvs_wanted`` listed, for ``__qdn_kvs_answer``."""
    answers: list[list[Any]] = []
    for op, key in json.loads(wanted):
        if view is None or view.items is None:
            answers.append([_UNREADABLE])
        elif op == "get":
            value = view.items.get(key)
            answers.append([_NO_SUCH_KEY] if value is None else [_FOUND, value])
        elif op == "exists":
            answers.append([_FOUND, key in view.items])
        else:  # meta, with the fields AWS documents for it
            meta = {
                "creationDateTime": view.created.isoformat() if view.created else None,
                "lastUpdatedDateTime": (
                    view.last_modified.isoformat() if view.last_modified else None
                ),
                "keyCount": len(view.items),
            }
            answers.append([_FOUND, meta])
    return json.dumps(answers)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _probe(prelude: str, script: str) -> str | None:
    """Why the code is not a loadable function, or None.

    It is checked as the script CloudFront runs (not as a function body, which would accept a
    top-level ``return`` or a stray ``});``) in a throwaway context, which also runs its top
    level. Errors come back as text, never as exceptions: a traceback would carry this frame,
    and with it the context, out of the engine thread.
    """
    probe = _new_context(prelude)
    try:
        probe.eval(script)
        has_handler = probe.eval("typeof handler === 'function'")
    except quickjs.JSException as exc:
        return _first_line(exc)
    if not has_handler:
        return "The function code does not define a function named handler"
    return None


def _compile(code: str, runtime: str) -> _Compiled | str:
    size = len(code.encode("utf-8"))
    if size > MAX_CODE_BYTES:
        return f"The function code is {size} bytes; CloudFront allows at most {MAX_CODE_BYTES}"
    if runtime == RUNTIME_1 and (unsupported := unsupported_in_1_0(code)) is not None:
        return unsupported
    script = rewrite_imports(code, runtime)
    prelude = _prelude(code, runtime)
    problem = _probe(prelude, script)
    if problem is not None:
        return problem
    context = _new_context(prelude)
    try:
        context.eval(_FACTORY_HEAD + script + _FACTORY_TAIL)
    except quickjs.JSException as exc:
        return _first_line(exc)
    return _Compiled(
        context=context,
        run=context.get("__qdn_run"),
        settle=context.get("__qdn_settle"),
        clean=context.get("__qdn_clean"),
        kvs_wanted=context.get("__qdn_kvs_wanted"),
        kvs_answer=context.get("__qdn_kvs_answer"),
        uses_cf="cloudfront" in code,
    )


def _cache_key(code: str, runtime: str) -> str:
    return runtime + ":" + hashlib.sha256(code.encode("utf-8")).hexdigest()


def _compiled_for(code: str, runtime: str) -> _Compiled | str:
    """The cached context for this code, compiling it on first use; or why it cannot load."""
    key = _cache_key(code, runtime)
    with _CACHE_LOCK:
        compiled = _CACHE.get(key)
        if compiled is not None:
            _CACHE.move_to_end(key)
            return compiled
    compiled = _compile(code, runtime)
    if isinstance(compiled, str):
        return compiled
    with _CACHE_LOCK:
        _CACHE[key] = compiled
        while len(_CACHE) > MAX_CACHED_CODES:
            _CACHE.popitem(last=False)
    return compiled


def _check_on_engine_thread(code: str, runtime: str) -> str | None:
    compiled = _compiled_for(code, runtime)
    return compiled if isinstance(compiled, str) else None


def _discard(code: str, runtime: str) -> None:
    with _CACHE_LOCK:
        _CACHE.pop(_cache_key(code, runtime), None)


def _utilization(cpu_ns: int) -> int:
    # At least 1: a run that did anything used some of its budget, as AWS reports it.
    return max(1, min(100, math.ceil(cpu_ns * 100 / COMPUTE_BUDGET_NS)))


def _run_on_engine_thread(
    code: str, event_json: str, kvs: KvsView | None, runtime: str, facts_json: str
) -> FunctionRun:
    compiled = _compiled_for(code, runtime)
    if isinstance(compiled, str):
        return FunctionRun(output=None, error=compiled, logs=[], compute_utilization=0)

    store = _NO_STORE if kvs is None else (kvs.store_id or _ANY_STORE_ID)
    started = time.thread_time_ns()
    try:
        raw = compiled.run(event_json, store, facts_json)
        if raw is None:  # an async handler: run the promise jobs until it settles
            jobs = 0
            while True:
                while compiled.context.execute_pending_job():
                    jobs += 1
                    if jobs >= MAX_PENDING_JOBS:
                        raise quickjs.JSException("InternalError: too many pending jobs")
                # Nothing left to run: the function may be waiting on store reads.
                wanted = compiled.kvs_wanted() if compiled.uses_cf else None
                if wanted is None:
                    break
                compiled.kvs_answer(_kvs_answers(kvs, wanted))
                jobs += 1  # a read answered is a job: a function reading forever ends too
            raw = compiled.settle()
        if not compiled.clean():
            _discard(code, runtime)
    except (quickjs.JSException, quickjs.StackOverflow, MemoryError) as exc:
        # The engine itself stopped the code (time, memory, stack): start clean next time.
        cpu_ns = time.thread_time_ns() - started
        _discard(code, runtime)
        return FunctionRun(
            output=None,
            error=_first_line(exc),
            logs=[],
            compute_utilization=_utilization(cpu_ns),
        )
    cpu_ns = time.thread_time_ns() - started

    result = json.loads(raw)
    logs = [str(line) for line in result.get("logs", [])]
    utilization = _utilization(cpu_ns)
    if not result["ok"]:
        if str(result["error"]).startswith("InternalError: out of memory"):
            _discard(code, runtime)
        return FunctionRun(
            output=None, error=str(result["error"]), logs=logs, compute_utilization=utilization
        )
    output, problem = normalize_output(json.loads(result["value"]))
    return FunctionRun(
        output=output,
        error=problem,
        logs=logs,
        compute_utilization=utilization,
        origin=result.get("origin") if problem is None else None,
    )
