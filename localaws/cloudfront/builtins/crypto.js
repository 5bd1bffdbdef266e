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
  // The compression loops inline their rotations: the engine is an interpreter, and a call per
  // rotation doubled the cost of an HMAC.
  function md5(msg) {
    var m = padded(msg, 64, 8, true);
    var h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0, h3 = 0x10325476;
    for (var blk = 0; blk < m.length; blk += 16) {
      var a = h0, b = h1, c = h2, d = h3;
      for (var i = 0; i < 64; i++) {
        var f, g, round = i >> 4;
        if (round === 0) { f = (b & c) | (~b & d); g = i; }
        else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
        else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
        else { f = c ^ (b | ~d); g = (7 * i) & 15; }
        f = (f + a + MD5_T[i] + m[blk + g]) | 0;
        var s = MD5_SHIFT[round * 4 + (i & 3)];
        a = d; d = c; c = b;
        b = (b + ((f << s) | (f >>> (32 - s)))) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    }
    return wordsOut([h0, h1, h2, h3], true);
  }

  function sha1(msg) {
    var m = padded(msg, 64, 8, false);
    var h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0, h3 = 0x10325476,
        h4 = 0xc3d2e1f0 | 0;
    var w = new Int32Array(80);
    for (var blk = 0; blk < m.length; blk += 16) {
      for (var t = 0; t < 80; t++) {
        if (t < 16) {
          w[t] = m[blk + t];
        } else {
          var x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
          w[t] = (x << 1) | (x >>> 31);
        }
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4;
      for (t = 0; t < 80; t++) {
        var f, k;
        if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc | 0; }
        else { f = b ^ c ^ d; k = 0xca62c1d6 | 0; }
        var temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = temp;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0; h4 = (h4 + e) | 0;
    }
    return wordsOut([h0, h1, h2, h3, h4], false);
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
          var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
          var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
          w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
        }
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[t] + w[t]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0;
      h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    return wordsOut(h, false);
  }

  // SHA-512 on 64-bit words held as high and low 32-bit halves (names ending h and l); a
  // rotation right by n >= 32 swaps the halves and rotates by n - 32. Sums add the unsigned
  // low halves exactly (a double holds them) and carry into the high half.
  var K512H = new Int32Array(80), K512L = new Int32Array(80);
  for (var ki = 0; ki < 80; ki++) { K512H[ki] = K512[ki][0]; K512L[ki] = K512[ki][1]; }
  var CARRY = 4294967296;  // 2^32
  function sha512(msg) {
    var m = padded(msg, 128, 16, false);
    var sh = new Int32Array(8), sl = new Int32Array(8);
    for (var i = 0; i < 8; i++) { sh[i] = H512[i][0]; sl[i] = H512[i][1]; }
    var wh = new Int32Array(80), wl = new Int32Array(80);
    for (var blk = 0; blk < m.length; blk += 32) {
      var t, xh, xl, lo;
      for (t = 0; t < 80; t++) {
        if (t < 16) {
          wh[t] = m[blk + 2 * t];
          wl[t] = m[blk + 2 * t + 1];
          continue;
        }
        xh = wh[t - 15]; xl = wl[t - 15];  // sigma0: rotr 1, rotr 8, shr 7
        var s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
        var s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^
                  ((xl >>> 7) | (xh << 25));
        xh = wh[t - 2]; xl = wl[t - 2];  // sigma1: rotr 19, rotr 61, shr 6
        var s1h = ((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6);
        var s1l = ((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^
                  ((xl >>> 6) | (xh << 26));
        lo = (wl[t - 16] >>> 0) + (s0l >>> 0) + (wl[t - 7] >>> 0) + (s1l >>> 0);
        wh[t] = wh[t - 16] + s0h + wh[t - 7] + s1h + ((lo / CARRY) | 0);
        wl[t] = lo;
      }
      var ah = sh[0], al = sl[0], bh = sh[1], bl = sl[1], ch = sh[2], cl = sl[2];
      var dh = sh[3], dl = sl[3], eh = sh[4], el = sl[4], fh = sh[5], fl = sl[5];
      var gh = sh[6], gl = sl[6], hh = sh[7], hl = sl[7];
      for (t = 0; t < 80; t++) {
        // Sigma1(e): rotr 14, rotr 18, rotr 41
        var S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^
                  ((el >>> 9) | (eh << 23));
        var S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^
                  ((eh >>> 9) | (el << 23));
        var chh = (eh & fh) ^ (~eh & gh), chl = (el & fl) ^ (~el & gl);
        lo = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K512L[t] >>> 0) + (wl[t] >>> 0);
        var t1h = (hh + S1h + chh + K512H[t] + wh[t] + ((lo / CARRY) | 0)) | 0;
        var t1l = lo | 0;
        // Sigma0(a): rotr 28, rotr 34, rotr 39
        var S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^
                  ((al >>> 7) | (ah << 25));
        var S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^
                  ((ah >>> 7) | (al << 25));
        var majh = (ah & bh) ^ (ah & ch) ^ (bh & ch), majl = (al & bl) ^ (al & cl) ^ (bl & cl);
        lo = (S0l >>> 0) + (majl >>> 0);
        var t2h = (S0h + majh + ((lo / CARRY) | 0)) | 0;
        var t2l = lo | 0;
        hh = gh; hl = gl; gh = fh; gl = fl; fh = eh; fl = el;
        lo = (dl >>> 0) + (t1l >>> 0);
        eh = (dh + t1h + ((lo / CARRY) | 0)) | 0; el = lo | 0;
        dh = ch; dl = cl; ch = bh; cl = bl; bh = ah; bl = al;
        lo = (t1l >>> 0) + (t2l >>> 0);
        ah = (t1h + t2h + ((lo / CARRY) | 0)) | 0; al = lo | 0;
      }
      var vh = [ah, bh, ch, dh, eh, fh, gh, hh], vl = [al, bl, cl, dl, el, fl, gl, hl];
      for (i = 0; i < 8; i++) {
        lo = (sl[i] >>> 0) + (vl[i] >>> 0);
        sh[i] = sh[i] + vh[i] + ((lo / CARRY) | 0);
        sl[i] = lo;
      }
    }
    var words = [];
    for (i = 0; i < 8; i++) words.push(sh[i], sl[i]);
    return wordsOut(words, false);
  }

  // Block size in bytes, which HMAC needs (RFC 2104).
  var DIGESTS = {
    md5: {fn: md5, block: 64}, sha1: {fn: sha1, block: 64}, sha256: {fn: sha256, block: 64}
  };
  // Runtime 1.0 documents md5, sha1 and sha256 only.
  if (RUNTIME !== 'cloudfront-js-1.0') DIGESTS.sha512 = {fn: sha512, block: 128};
  var DIGEST_ENCODINGS = RUNTIME === 'cloudfront-js-1.0'
    ? {hex: 'hex', base64: 'base64', base64url: 'base64url'} : ENCODINGS;
  function digestAlgorithm(name) {
    var algo = DIGESTS[String(name).toLowerCase()];
    if (algo === undefined) {
      throw new Error('Digest method not supported: ' + fmt(name) + ' (' + RUNTIME +
                      ' has ' + Object.keys(DIGESTS).join(', ') + ')');
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
