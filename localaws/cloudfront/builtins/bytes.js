  // --- bytes: the conversions Buffer, crypto and the 1.0 byte strings share -------------------
  // Text and its encodings to and from Uint8Array, written the way Node.js behaves (a lone
  // surrogate encodes as U+FFFD, bad UTF-8 decodes to U+FFFD, base64 skips what is not base64).
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var B64_VALUE = {'-': 62, '_': 63};  // both alphabets decode
  for (var bv = 0; bv < 64; bv++) B64_VALUE[B64.charAt(bv)] = bv;

  function utf8Encode(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;  // a lone surrogate
      if (c < 0x80) {
        out.push(c);
      } else if (c < 0x800) {
        out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      } else if (c < 0x10000) {
        out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      } else {
        out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63),
                 0x80 | (c & 63));
      }
    }
    return new Uint8Array(out);
  }
  // UTF-8 to text; bad sequences become U+FFFD, or make the result null when strict.
  function utf8Decode(bytes, strict) {
    var out = '';
    var i = 0;
    while (i < bytes.length) {
      var b = bytes[i];
      var need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 :
                 b >= 0xf0 && b < 0xf5 ? 3 : -1;
      var c = need === 0 ? b : need === 1 ? b & 31 : need === 2 ? b & 15 : b & 7;
      var ok = need >= 0 && i + need < bytes.length;
      for (var k = 1; ok && k <= need; k++) {
        var n = bytes[i + k];
        if ((n & 0xc0) !== 0x80) ok = false; else c = (c << 6) | (n & 63);
      }
      if (ok && ((need === 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
                 (need === 3 && (c < 0x10000 || c > 0x10ffff)))) {
        ok = false;
      }
      if (!ok) {
        if (strict) return null;
        out += '\ufffd';
        i++;
        continue;
      }
      out += String.fromCodePoint(c);
      i += need + 1;
    }
    return out;
  }
  function latin1Encode(text) {
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 255;
    return out;
  }
  function latin1Decode(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i += 4096) {
      out += String.fromCharCode.apply(null, Array.prototype.slice.call(bytes, i, i + 4096));
    }
    return out;
  }
  function hexEncode(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return out;
  }
  // Node.js stops at the first pair that is not hex.
  function hexDecode(text) {
    var out = [];
    for (var i = 0; i + 1 < text.length; i += 2) {
      var pair = text.substr(i, 2);
      if (!/^[0-9a-fA-F]{2}$/.test(pair)) break;
      out.push(parseInt(pair, 16));
    }
    return new Uint8Array(out);
  }
  function base64Encode(bytes, url) {
    var out = '';
    for (var i = 0; i < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) +
             (i + 1 < bytes.length ? B64.charAt((n >> 6) & 63) : '=') +
             (i + 2 < bytes.length ? B64.charAt(n & 63) : '=');
    }
    if (url) out = out.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    return out;
  }
  // Either alphabet, padding optional; characters outside it are skipped, '=' ends the data.
  function base64Decode(text) {
    var out = [];
    var acc = 0;
    var bits = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (ch === '=') break;
      var v = B64_VALUE[ch];
      if (v === undefined) continue;
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 255);
      }
    }
    return new Uint8Array(out);
  }
  function utf16leEncode(text) {
    var out = new Uint8Array(text.length * 2);
    for (var i = 0; i < text.length; i++) {
      out[2 * i] = text.charCodeAt(i) & 255;
      out[2 * i + 1] = text.charCodeAt(i) >> 8;
    }
    return out;
  }
  function utf16leDecode(bytes) {
    var out = '';
    for (var i = 0; i + 1 < bytes.length; i += 2) {
      out += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
    }
    return out;
  }
  // Encoding names as Node.js spells them, to one canonical name; undefined when unknown.
  var ENCODINGS = {
    'utf8': 'utf8', 'utf-8': 'utf8', 'hex': 'hex', 'base64': 'base64', 'base64url': 'base64url',
    'latin1': 'latin1', 'binary': 'latin1', 'ascii': 'ascii', 'ucs2': 'utf16le',
    'ucs-2': 'utf16le', 'utf16le': 'utf16le', 'utf-16le': 'utf16le'
  };
  function encodingName(encoding, fallback) {
    if (encoding === undefined || encoding === null) return fallback;
    var name = ENCODINGS[String(encoding).toLowerCase()];
    if (name === undefined) throw new TypeError('Unknown encoding: ' + encoding);
    return name;
  }
  function encodeText(text, encoding) {
    switch (encoding) {
      case 'hex': return hexDecode(text);
      case 'base64': case 'base64url': return base64Decode(text);
      case 'latin1': case 'ascii': return latin1Encode(text);
      case 'utf16le': return utf16leEncode(text);
      default: return utf8Encode(text);
    }
  }
  function decodeBytes(bytes, encoding) {
    switch (encoding) {
      case 'hex': return hexEncode(bytes);
      case 'base64': return base64Encode(bytes, false);
      case 'base64url': return base64Encode(bytes, true);
      case 'latin1': return latin1Decode(bytes);
      case 'ascii': return latin1Decode(bytes.map(function (b) { return b & 127; }));
      case 'utf16le': return utf16leDecode(bytes);
      default: return utf8Decode(bytes, false);
    }
  }

  // cloudfront-js-1.0 has byte strings: strings whose characters are bytes (String.bytesFrom,
  // toUTF8, a digest without encoding). Hashing one must use those bytes, not their UTF-8, so
  // each run remembers the non-ASCII byte strings it made (ASCII is the same bytes either way).
  var byteStrings = Object.create(null);
  runHooks.push(function () { byteStrings = Object.create(null); });
  function byteString(bytes) {
    var text = latin1Decode(bytes);
    if (/[\x80-\xff]/.test(text)) byteStrings[text] = true;
    return text;
  }
  // What hash.update, Buffer.from and friends accept, as bytes.
  function dataBytes(data, encoding, what) {
    if (typeof data === 'string') {
      if (encoding === undefined && byteStrings[data] === true) return latin1Encode(data);
      return encodeText(data, encodingName(encoding, 'utf8'));
    }
    if (ArrayBuffer.isView(data)) {
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    }
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    throw new TypeError('The "' + what + '" argument must be of type string or an instance ' +
                        'of Buffer, TypedArray, or DataView. Received ' + fmt(data));
  }
