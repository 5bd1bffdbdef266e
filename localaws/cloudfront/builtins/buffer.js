  // --- Buffer (cloudfront-js-2.0): Node.js's Buffer, a Uint8Array with encodings ----------------
  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === 'string') {
        return toBuffer(encodeText(value, encodingName(encodingOrOffset, 'utf8')));
      }
      if (value instanceof ArrayBuffer) {
        var offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset);
        return new Buffer(value, offset,
                          length === undefined ? value.byteLength - offset : Number(length));
      }
      if (ArrayBuffer.isView(value) || Array.isArray(value)) return toBuffer(value);
      if (value !== null && typeof value === 'object' && value.type === 'Buffer' &&
          Array.isArray(value.data)) {
        return toBuffer(value.data);
      }
      throw new TypeError('The first argument must be of type string or an instance of Buffer, ' +
                          'ArrayBuffer, or Array or an Array-like Object. Received ' + fmt(value));
    }
    static alloc(size, fill, encoding) {
      var buf = new Buffer(checkSize(size));
      if (fill !== undefined && fill !== 0 && size > 0) buf.fill(fill, 0, size, encoding);
      return buf;
    }
    static allocUnsafe(size) { return new Buffer(checkSize(size)); }
    static allocUnsafeSlow(size) { return new Buffer(checkSize(size)); }
    static byteLength(value, encoding) {
      return typeof value === 'string'
        ? encodeText(value, encodingName(encoding, 'utf8')).length : value.byteLength;
    }
    static concat(list, totalLength) {
      if (!Array.isArray(list)) throw new TypeError('The "list" argument must be an Array');
      var total = 0;
      for (var i = 0; i < list.length; i++) total += list[i].length;
      if (totalLength !== undefined) total = totalLength;
      var out = new Buffer(total);
      var at = 0;
      for (var j = 0; j < list.length && at < total; j++) {
        var part = list[j].subarray(0, Math.min(list[j].length, total - at));
        out.set(part, at);
        at += part.length;
      }
      return out;
    }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(encoding) {
      return typeof encoding === 'string' && ENCODINGS[encoding.toLowerCase()] !== undefined;
    }
    static compare(a, b) { return compareBytes(a, b); }

    toString(encoding, start, end) {
      var s = start === undefined ? 0 : Math.max(0, start | 0);
      var e = end === undefined ? this.length : Math.min(this.length, end | 0);
      return decodeBytes(e > s ? this.subarray(s, e) : new Uint8Array(0),
                         encodingName(encoding, 'utf8'));
    }
    toJSON() { return {type: 'Buffer', data: Array.prototype.slice.call(this)}; }
    equals(other) { return compareBytes(this, other) === 0; }
    compare(other) { return compareBytes(this, other); }
    // Node.js: slice is a view, like subarray, not a copy.
    slice(start, end) { return this.subarray(start, end); }
    subarray(start, end) {
      var view = Uint8Array.prototype.subarray.call(this, start, end);
      return new Buffer(view.buffer, view.byteOffset, view.length);
    }
    write(text, offset, length, encoding) {
      if (typeof offset === 'string') { encoding = offset; offset = 0; length = undefined; }
      if (typeof length === 'string') { encoding = length; length = undefined; }
      var at = offset === undefined ? 0 : offset | 0;
      var bytes = encodeText(String(text), encodingName(encoding, 'utf8'));
      var n = Math.min(bytes.length, this.length - at, length === undefined ? Infinity : length);
      this.set(bytes.subarray(0, Math.max(0, n)), at);
      return Math.max(0, n);
    }
    copy(target, targetStart, sourceStart, sourceEnd) {
      var ts = targetStart === undefined ? 0 : targetStart | 0;
      var part = this.subarray(sourceStart === undefined ? 0 : sourceStart | 0,
                               sourceEnd === undefined ? this.length : sourceEnd | 0);
      part = part.subarray(0, Math.max(0, Math.min(part.length, target.length - ts)));
      target.set(part, ts);
      return part.length;
    }
    fill(value, offset, end, encoding) {
      if (typeof offset === 'string') { encoding = offset; offset = 0; end = this.length; }
      var s = offset === undefined ? 0 : offset | 0;
      var e = end === undefined ? this.length : end | 0;
      if (typeof value === 'number') return Uint8Array.prototype.fill.call(this, value, s, e);
      var pattern = dataBytes(value, encoding, 'value');
      if (pattern.length === 0) return Uint8Array.prototype.fill.call(this, 0, s, e);
      for (var i = s; i < e; i++) this[i] = pattern[(i - s) % pattern.length];
      return this;
    }
    indexOf(value, byteOffset, encoding) {
      if (typeof value === 'number') return Uint8Array.prototype.indexOf.call(this, value, byteOffset);
      var needle = dataBytes(value, encoding, 'value');
      var from = byteOffset === undefined ? 0 : byteOffset | 0;
      if (from < 0) from = Math.max(0, this.length + from);
      outer:
      for (var i = from; i + needle.length <= this.length; i++) {
        for (var j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    lastIndexOf(value, byteOffset, encoding) {
      if (typeof value === 'number') {
        return byteOffset === undefined
          ? Uint8Array.prototype.lastIndexOf.call(this, value)
          : Uint8Array.prototype.lastIndexOf.call(this, value, byteOffset);
      }
      var needle = dataBytes(value, encoding, 'value');
      var from = byteOffset === undefined ? this.length : byteOffset | 0;
      if (from < 0) from = this.length + from;
      outer:
      for (var i = Math.min(from, this.length - needle.length); i >= 0; i--) {
        for (var j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    includes(value, byteOffset, encoding) { return this.indexOf(value, byteOffset, encoding) !== -1; }
  }
  function toBuffer(arrayLike) {
    var buf = new Buffer(arrayLike.length);
    for (var i = 0; i < arrayLike.length; i++) buf[i] = arrayLike[i];
    return buf;
  }
  function checkSize(size) {
    if (typeof size !== 'number' || !(size >= 0) || size > 0x7fffffff) {
      throw new RangeError('The "size" argument must be a number between 0 and 2147483647. ' +
                           'Received ' + fmt(size));
    }
    return size | 0;
  }
  function compareBytes(a, b) {
    var n = Math.min(a.length, b.length);
    for (var i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }
  // Integer, float and double reads and writes, both byte orders, as Node.js names them.
  function offsetIn(buf, offset, size) {
    var at = offset === undefined ? 0 : offset;
    if (typeof at !== 'number' || at !== Math.floor(at) || at < 0 || at + size > buf.length) {
      throw new RangeError('The value of "offset" is out of range. It must be >= 0 and <= ' +
                           (buf.length - size) + '. Received ' + fmt(at));
    }
    return at;
  }
  function widthOf(byteLength) {
    // Node.js reads and writes integers of 1 to 6 bytes: 48 bits stay exact in a double.
    if (typeof byteLength !== 'number' || byteLength !== Math.floor(byteLength) ||
        byteLength < 1 || byteLength > 6) {
      throw new RangeError('The value of "byteLength" is out of range. It must be >= 1 and ' +
                           '<= 6. Received ' + fmt(byteLength));
    }
    return byteLength;
  }
  function readInt(buf, offset, size, little, signed) {
    var at = offsetIn(buf, offset, size);
    var v = 0;
    for (var i = 0; i < size; i++) v = v * 256 + buf[at + (little ? size - 1 - i : i)];
    var top = Math.pow(2, 8 * size);
    return signed && v >= top / 2 ? v - top : v;
  }
  function writeInt(buf, value, offset, size, little) {
    var at = offsetIn(buf, offset, size);
    var top = Math.pow(2, 8 * size);
    var v = ((Number(value) % top) + top) % top;
    for (var i = size - 1; i >= 0; i--) {
      buf[at + (little ? size - 1 - i : i)] = v % 256;
      v = Math.floor(v / 256);
    }
    return at + size;
  }
  var INT_ACCESS = [['UInt8', 1, false], ['Int8', 1, true], ['UInt16', 2, false],
                    ['Int16', 2, true], ['UInt32', 4, false], ['Int32', 4, true]];
  INT_ACCESS.forEach(function (spec) {
    var name = spec[0], size = spec[1], signed = spec[2];
    (size === 1 ? [''] : ['BE', 'LE']).forEach(function (order) {
      var little = order === 'LE';
      Buffer.prototype['read' + name + order] = function (offset) {
        return readInt(this, offset, size, little, signed);
      };
      Buffer.prototype['write' + name + order] = function (value, offset) {
        return writeInt(this, value, offset, size, little);
      };
    });
  });
  ['BE', 'LE'].forEach(function (order) {
    var little = order === 'LE';
    Buffer.prototype['readInt' + order] = function (offset, byteLength) {
      return readInt(this, offset, widthOf(byteLength), little, true);
    };
    Buffer.prototype['readUInt' + order] = function (offset, byteLength) {
      return readInt(this, offset, widthOf(byteLength), little, false);
    };
    Buffer.prototype['writeInt' + order] = function (value, offset, byteLength) {
      return writeInt(this, value, offset, widthOf(byteLength), little);
    };
    Buffer.prototype['writeUInt' + order] = Buffer.prototype['writeInt' + order];
    // IEEE 754 through a DataView over the same memory.
    [['Float', 4, 'Float32'], ['Double', 8, 'Float64']].forEach(function (spec) {
      var name = spec[0], size = spec[1], kind = spec[2];
      Buffer.prototype['read' + name + order] = function (offset) {
        var at = offsetIn(this, offset, size);
        return new DataView(this.buffer, this.byteOffset, this.length)['get' + kind](at, little);
      };
      Buffer.prototype['write' + name + order] = function (value, offset) {
        var at = offsetIn(this, offset, size);
        new DataView(this.buffer, this.byteOffset, this.length)['set' + kind](at, +value, little);
        return at + size;
      };
    });
  });
  // swap16/32/64: reverse the byte order of each 2-, 4- or 8-byte unit, in place.
  [2, 4, 8].forEach(function (size) {
    Buffer.prototype['swap' + 8 * size] = function () {
      if (this.length % size !== 0) {
        throw new RangeError('Buffer size must be a multiple of ' + 8 * size + '-bits');
      }
      for (var at = 0; at < this.length; at += size) {
        for (var i = 0, j = size - 1; i < j; i++, j--) {
          var b = this[at + i];
          this[at + i] = this[at + j];
          this[at + j] = b;
        }
      }
      return this;
    };
  });
  // Node.js spells the unsigned ones both ways.
  Object.getOwnPropertyNames(Buffer.prototype).forEach(function (name) {
    if (/^(read|write)UInt/.test(name)) {
      Buffer.prototype[name.replace('UInt', 'Uint')] = Buffer.prototype[name];
    }
  });
  defineGlobal('Buffer', Buffer);
  modules.buffer = {Buffer: Buffer};
