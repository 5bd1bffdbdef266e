  // --- querystring: Node.js's parse and stringify, as both runtimes document them --------------
  // Like Node.js: what decodes, decodes; a stray '%' or bad UTF-8 run stays as it is.
  function qsUnescape(text) {
    try {
      return decodeURIComponent(text);
    } catch (e) {
      return text.replace(/(%[0-9a-fA-F]{2})+/g, function (run) {
        try {
          return decodeURIComponent(run);
        } catch (e2) {
          return run;
        }
      });
    }
  }
  function qsValue(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && isFinite(v)) return String(v);
    if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return '';
  }
  var querystring = {
    escape: function (text) { return encodeURIComponent(text); },
    unescape: qsUnescape,
    parse: function (text, sep, eq, options) {
      var out = {};
      if (typeof text !== 'string' || text.length === 0) return out;
      sep = sep || '&';
      eq = eq || '=';
      var decode = options && typeof options.decodeURIComponent === 'function'
        ? options.decodeURIComponent : querystring.unescape;
      var maxKeys = options && typeof options.maxKeys === 'number' ? options.maxKeys : 1000;
      var pairs = text.split(sep);
      if (maxKeys > 0 && pairs.length > maxKeys) pairs = pairs.slice(0, maxKeys);
      for (var i = 0; i < pairs.length; i++) {
        if (pairs[i] === '') continue;
        var at = pairs[i].indexOf(eq);
        var rawKey = at >= 0 ? pairs[i].slice(0, at) : pairs[i];
        var rawValue = at >= 0 ? pairs[i].slice(at + eq.length) : '';
        var key = decode(rawKey.replace(/\+/g, ' '));
        var value = decode(rawValue.replace(/\+/g, ' '));
        if (!Object.prototype.hasOwnProperty.call(out, key)) out[key] = value;
        else if (Array.isArray(out[key])) out[key].push(value);
        else out[key] = [out[key], value];
      }
      return out;
    },
    stringify: function (obj, sep, eq, options) {
      sep = sep || '&';
      eq = eq || '=';
      var encode = options && typeof options.encodeURIComponent === 'function'
        ? options.encodeURIComponent : querystring.escape;
      if (obj === null || typeof obj !== 'object') return '';
      var parts = [];
      Object.keys(obj).forEach(function (key) {
        var k = encode(qsValue(key)) + eq;
        var v = obj[key];
        if (Array.isArray(v)) {
          v.forEach(function (item) { parts.push(k + encode(qsValue(item))); });
        } else {
          parts.push(k + encode(qsValue(v)));
        }
      });
      return parts.join(sep);
    }
  };
  querystring.decode = querystring.parse;
  querystring.encode = querystring.stringify;
  modules.querystring = querystring;
