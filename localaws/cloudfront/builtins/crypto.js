  // --- crypto: createHash and createHmac over md5, sha1, sha256 and sha512 ----------------------
  // Written here in plain JS because the engine cannot call Python while a run's time limit is
  // armed. Only a context whose code names crypto loads it.

  // SHA-2's constants are the fractional parts of roots of the first primes (FIPS 180-4, 4.2.3
  // and 5.3.5); exact integer roots with BigInt give every bit of them.
  function rootBits(n, degree, bits) {
    // floor(root(n * 2^(bits * degree))), by Newton's method from above
    var target = BigInt(n) << BigInt(bits * degree);
    var x = BigInt(1) << BigInt(Math.ceil(target.toString(2).length / degree) + 1);
    var d = BigInt(degree);
    for (;;) {
      var y = ((d - BigInt(1)) * x + target / (x ** (d - BigInt(1)))) / d;
      if (y >= x) return x;
      x = y;
    }
  }
  var PRIMES = [];
  for (var cand = 2; PRIMES.length < 80; cand++) {
    var prime = true;
    for (var pi = 0; pi < PRIMES.length && PRIMES[pi] * PRIMES[pi] <= cand; pi++) {
      if (cand % PRIMES[pi] === 0) { prime = false; break; }
    }
    if (prime) PRIMES.push(cand);
  }
  var MASK64 = (BigInt(1) << BigInt(64)) - BigInt(1);
  function hiLo(big) {  // the 64-bit fraction as two unsigned 32-bit halves
    var v = big & MASK64;
    return [Number(v >> BigInt(32)), Number(v & BigInt(0xffffffff))];
  }
  var K512 = PRIMES.map(function (p) { return hiLo(rootBits(p, 3, 64)); });
  var H512 = PRIMES.slice(0, 8).map(function (p) { return hiLo(rootBits(p, 2, 64)); });
  // SHA-256 uses the first 32 bits of the same fractions.
  var K256 = K512.slice(0, 64).map(function (k) { return k[0] | 0; });
  var H256 = H512.map(function (h) { return h[0] | 0; });
  // MD5's table is floor(2^32 * |sin(i + 1)|) (RFC 1321, 3.4).
  var MD5_T = [];
  for (var ti = 0; ti < 64; ti++) MD5_T.push((Math.abs(Math.sin(ti + 1)) * 4294967296) | 0);
  var MD5_SHIFT = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

  // The message with its padding and bit length appended, as 32-bit words.
  function padded(msg, block, lengthBytes, little) {
    var total = Math.ceil((msg.length + 1 + lengthBytes) / block) * block;
    var bytes = new Uint8Array(total);
    bytes.set(msg);
    bytes[msg.length] = 0x80;
    var bitsLow = (msg.length * 8) >>> 0;
    var bitsHigh = Math.floor(msg.length / 0x20000000);
    var words = new Int32Array(total / 4);
    if (little) {
      bytes[total - 8] = bitsLow & 255; bytes[total - 7] = (bitsLow >>> 8) & 255;
      bytes[total - 6] = (bitsLow >>> 16) & 255; bytes[total - 5] = bitsLow >>> 24;
      bytes[total - 4] = bitsHigh & 255;
    } else {
      bytes[total - 5] = bitsHigh & 255;
      bytes[total - 4] = bitsLow >>> 24; bytes[total - 3] = (bitsLow >>> 16) & 255;
      bytes[total - 2] = (bitsLow >>> 8) & 255; bytes[total - 1] = bitsLow & 255;
    }
    for (var i = 0; i < words.length; i++) {
      var j = 4 * i;
      words[i] = little
        ? bytes[j] | (bytes[j + 1] << 8) | (bytes[j + 2] << 16) | (bytes[j + 3] << 24)
        : (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    return words;
  }
  function wordsOut(words, little) {
    var out = new Uint8Array(words.length * 4);
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      for (var k = 0; k < 4; k++) out[4 * i + (little ? k : 3 - k)] = (w >>> (8 * k)) & 255;
    }
    return out;
  }
  function rotl(x, n) { return (x << n) | (x >>> (32 - n)); }
  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  function md5(msg) {
    var m = padded(msg, 64, 8, true);
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
    for (var blk = 0; blk < m.length; blk += 16) {
      var a = h[0], b = h[1], c = h[2], d = h[3];
      for (var i = 0; i < 64; i++) {
        var f, g, round = i >> 4;
        if (round === 0) { f = (b & c) | (~b & d); g = i; }
        else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
        else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
        else { f = c ^ (b | ~d); g = (7 * i) & 15; }
        f = (f + a + MD5_T[i] + m[blk + g]) | 0;
        a = d; d = c; c = b;
        b = (b + rotl(f, MD5_SHIFT[round * 4 + (i & 3)])) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    }
    return wordsOut(h, true);
  }

  function sha1(msg) {
    var m = padded(msg, 64, 8, false);
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
    var w = new Int32Array(80);
    for (var blk = 0; blk < m.length; blk += 16) {
      for (var t = 0; t < 80; t++) {
        w[t] = t < 16 ? m[blk + t] : rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
      for (t = 0; t < 80; t++) {
        var f, k;
        if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc | 0; }
        else { f = b ^ c ^ d; k = 0xca62c1d6 | 0; }
        var temp = (rotl(a, 5) + f + e + k + w[t]) | 0;
        e = d; d = c; c = rotl(b, 30); b = a; a = temp;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0;
    }
    return wordsOut(h, false);
  }

  function sha256(msg) {
    var m = padded(msg, 64, 8, false);
    var h = H256.slice();
    var w = new Int32Array(64);
    for (var blk = 0; blk < m.length; blk += 16) {
      for (var t = 0; t < 64; t++) {
        if (t < 16) {
          w[t] = m[blk + t];
        } else {
          var x = w[t - 15], y = w[t - 2];
          var s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
          var s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
          w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
        }
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + S1 + ch + K256[t] + w[t]) | 0;
        var S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0;
      h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    return wordsOut(h, false);
  }

  // SHA-512 on 64-bit words kept as [high, low] pairs of 32-bit numbers.
  function rotr64(x, n) {
    var hi = x[0], lo = x[1];
    if (n >= 32) { var s = hi; hi = lo; lo = s; n -= 32; }
    if (n === 0) return [hi, lo];
    return [(hi >>> n) | (lo << (32 - n)), (lo >>> n) | (hi << (32 - n))];
  }
  function shr64(x, n) {  // n < 32
    return [x[0] >>> n, (x[1] >>> n) | (x[0] << (32 - n))];
  }
  function xor64(a, b, c) { return [a[0] ^ b[0] ^ c[0], a[1] ^ b[1] ^ c[1]]; }
  function add64() {  // any number of pairs, modulo 2^64
    var hi = 0, lo = 0;
    for (var i = 0; i < arguments.length; i++) {
      hi += arguments[i][0] >>> 0;
      lo += arguments[i][1] >>> 0;
    }
    hi += Math.floor(lo / 4294967296);
    return [hi >>> 0, lo >>> 0];
  }
  function sha512(msg) {
    var m = padded(msg, 128, 16, false);
    var h = H512.map(function (x) { return x.slice(); });
    var w = new Array(80);
    for (var blk = 0; blk < m.length; blk += 32) {
      for (var t = 0; t < 80; t++) {
        if (t < 16) {
          w[t] = [m[blk + 2 * t] >>> 0, m[blk + 2 * t + 1] >>> 0];
        } else {
          var s0 = xor64(rotr64(w[t - 15], 1), rotr64(w[t - 15], 8), shr64(w[t - 15], 7));
          var s1 = xor64(rotr64(w[t - 2], 19), rotr64(w[t - 2], 61), shr64(w[t - 2], 6));
          w[t] = add64(w[t - 16], s0, w[t - 7], s1);
        }
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (t = 0; t < 80; t++) {
        var S1 = xor64(rotr64(e, 14), rotr64(e, 18), rotr64(e, 41));
        var ch = [(e[0] & f[0]) ^ (~e[0] & g[0]), (e[1] & f[1]) ^ (~e[1] & g[1])];
        var t1 = add64(hh, S1, ch, K512[t], w[t]);
        var S0 = xor64(rotr64(a, 28), rotr64(a, 34), rotr64(a, 39));
        var maj = [(a[0] & b[0]) ^ (a[0] & c[0]) ^ (b[0] & c[0]),
                   (a[1] & b[1]) ^ (a[1] & c[1]) ^ (b[1] & c[1])];
        var t2 = add64(S0, maj);
        hh = g; g = f; f = e; e = add64(d, t1); d = c; c = b; b = a; a = add64(t1, t2);
      }
      var vars = [a, b, c, d, e, f, g, hh];
      for (var v = 0; v < 8; v++) h[v] = add64(h[v], vars[v]);
    }
    var words = [];
    for (var o = 0; o < 8; o++) words.push(h[o][0], h[o][1]);
    return wordsOut(words, false);
  }

  // Block size in bytes, which HMAC needs (RFC 2104).
  var DIGESTS = {
    md5: {fn: md5, block: 64}, sha1: {fn: sha1, block: 64},
    sha256: {fn: sha256, block: 64}, sha512: {fn: sha512, block: 128}
  };
  var DIGEST_ENCODINGS = RUNTIME === 'cloudfront-js-1.0'
    ? {hex: 'hex', base64: 'base64', base64url: 'base64url'} : ENCODINGS;
  function digestAlgorithm(name) {
    var algo = DIGESTS[String(name).toLowerCase()];
    if (algo === undefined) {
      throw new Error('Digest method not supported: ' + fmt(name) +
                      " (use 'md5', 'sha1', 'sha256' or 'sha512')");
    }
    return algo;
  }
  function concatBytes(parts) {
    var total = 0;
    for (var i = 0; i < parts.length; i++) total += parts[i].length;
    var out = new Uint8Array(total);
    for (var j = 0, at = 0; j < parts.length; at += parts[j].length, j++) out.set(parts[j], at);
    return out;
  }
  // 2.0 returns a Buffer without an encoding, 1.0 a byte string.
  function digestOutput(bytes, encoding) {
    if (encoding === undefined) {
      return RUNTIME === 'cloudfront-js-1.0' ? byteString(bytes) : Buffer.from(bytes);
    }
    var name = DIGEST_ENCODINGS[String(encoding).toLowerCase()];
    if (name === undefined) {
      throw new TypeError('Unknown digest encoding: ' + fmt(encoding) +
                          " (use 'hex', 'base64' or 'base64url')");
    }
    return decodeBytes(bytes, name);
  }
  function Digest(algo, key) {
    var parts = [];
    var done = false;
    var self = this;
    this.update = function (data, inputEncoding) {
      if (done) throw new Error('Digest already called');
      parts.push(new Uint8Array(dataBytes(data, inputEncoding, 'data')));
      return self;
    };
    this.digest = function (encoding) {
      if (done) throw new Error('Digest already called');
      done = true;
      var msg = concatBytes(parts);
      if (key === undefined) return digestOutput(algo.fn(msg), encoding);
      var k = key.length > algo.block ? algo.fn(key) : key;
      var ipad = new Uint8Array(algo.block);
      var opad = new Uint8Array(algo.block);
      for (var i = 0; i < algo.block; i++) {
        ipad[i] = (k[i] || 0) ^ 0x36;
        opad[i] = (k[i] || 0) ^ 0x5c;
      }
      var inner = algo.fn(concatBytes([ipad, msg]));
      return digestOutput(algo.fn(concatBytes([opad, inner])), encoding);
    };
  }
  modules.crypto = {
    createHash: function (algorithm) { return new Digest(digestAlgorithm(algorithm)); },
    createHmac: function (algorithm, key) {
      var algo = digestAlgorithm(algorithm);
      return new Digest(algo, new Uint8Array(dataBytes(key, undefined, 'key')));
    },
    getHashes: function () { return Object.keys(DIGESTS); }
  };
