  // --- byte strings (cloudfront-js-1.0 only; 2.0 has Buffer instead) ---------------------------
  function checkedRange(text, start, end) {
    var s = start === undefined ? 0 : start;
    var e = end === undefined ? text.length : end;
    return String.prototype.slice.call(text, s, e);
  }
  var BYTE_ENCODINGS = {hex: 'hex', base64: 'base64', base64url: 'base64url'};
  function bytesFrom(source, encoding) {
    if (typeof source === 'string') {
      var name = BYTE_ENCODINGS[String(encoding).toLowerCase()];
      if (name === undefined) {
        throw new TypeError('Unknown encoding: ' + fmt(encoding) +
                            " (use 'hex', 'base64' or 'base64url')");
      }
      return byteString(encodeText(source, name));
    }
    if (Array.isArray(source) || ArrayBuffer.isView(source)) {
      return byteString(Uint8Array.from(source, function (b) { return Number(b) & 255; }));
    }
    throw new TypeError('String.bytesFrom takes an array of octets or an encoded string, not ' +
                        fmt(source));
  }
  var nativeToString = String.prototype.toString;
  var byteStringMethods = {
    fromBytes: function (start, end) { return checkedRange(String(this), start, end); },
    fromUTF8: function (start, end) {
      return utf8Decode(latin1Encode(checkedRange(String(this), start, end)), true);
    },
    toBytes: function (start, end) {
      var text = checkedRange(String(this), start, end);
      return /[^\x00-\xff]/.test(text) ? null : byteString(latin1Encode(text));
    },
    toUTF8: function (start, end) {
      return byteString(utf8Encode(checkedRange(String(this), start, end)));
    },
    bytesFrom: function (source, encoding) { return bytesFrom(source, encoding); },
    // A byte string prints in an encoding: digest().toString('hex') and the like.
    toString: function (encoding) {
      var text = nativeToString.call(this);
      if (encoding === undefined) return text;
      var name = BYTE_ENCODINGS[String(encoding).toLowerCase()];
      if (name === undefined) throw new TypeError('Unknown encoding: ' + fmt(encoding));
      if (/[^\x00-\xff]/.test(text)) throw new TypeError('The string is not a byte string');
      return decodeBytes(latin1Encode(text), name);
    }
  };
  Object.keys(byteStringMethods).forEach(function (name) {
    Object.defineProperty(String.prototype, name, {value: byteStringMethods[name],
                                                   writable: true, configurable: true});
  });
  Object.defineProperty(String, 'bytesFrom', {value: bytesFrom, writable: true,
                                              configurable: true});
