  // --- atob/btoa, TextEncoder/TextDecoder (cloudfront-js-2.0 globals) -----------------------------
  // AWS lists these for 2.0 only. They follow the web's definitions: atob/btoa work on "binary
  // strings" (one character per byte), TextEncoder/TextDecoder on UTF-8, the only encoding
  // CloudFront documents.
  function invalidCharacter(what) {
    var e = new Error(what);
    // Error.prototype is frozen, so a plain assignment of name would throw.
    Object.defineProperty(e, 'name', {value: 'InvalidCharacterError'});
    return e;
  }
  function needsArgument(name, args) {
    if (args.length === 0) throw new TypeError(name + ': 1 argument required, but only 0 present');
  }
  function btoa(data) {
    needsArgument('btoa', arguments);
    var text = String(data);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c > 255) throw invalidCharacter('Invalid character');
      bytes[i] = c;
    }
    return base64Encode(bytes, false);
  }
  // The web's "forgiving base64": ASCII whitespace is dropped, padding is optional but must be
  // right, and anything outside the standard alphabet (including base64url's - and _) is an error.
  function atob(data) {
    needsArgument('atob', arguments);
    var text = String(data).replace(/[\t\n\f\r ]/g, '');
    if (text.length % 4 === 0) text = text.replace(/==?$/, '');
    if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) {
      throw invalidCharacter('The string to be decoded is not correctly encoded.');
    }
    var bytes = base64Decode(text);
    var out = '';
    for (var i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
    return out;
  }
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input) { return utf8Encode(input === undefined ? '' : String(input)); }
    // Writes whole characters only, as many as fit; read counts UTF-16 code units.
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) {
        throw new TypeError('TextEncoder.encodeInto: destination must be a Uint8Array');
      }
      var text = String(source);
      var read = 0;
      var written = 0;
      while (read < text.length) {
        var c = text.codePointAt(read);
        var units = c > 0xffff ? 2 : 1;
        var bytes = utf8Encode(text.substr(read, units));
        if (written + bytes.length > destination.length) break;
        destination.set(bytes, written);
        written += bytes.length;
        read += units;
      }
      return {read: read, written: written};
    }
  }
  var UTF8_LABELS = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
                     'x-unicode20utf8'];
  class TextDecoder {
    constructor(label, options) {
      var name = label === undefined ? 'utf-8' : String(label).trim().toLowerCase();
      if (UTF8_LABELS.indexOf(name) === -1) {
        throw new RangeError('TextDecoder: the "' + String(label) + '" encoding is not ' +
                             'supported; CloudFront Functions decode utf-8 only');
      }
      var opts = options === undefined || options === null ? {} : options;
      var fatal = Boolean(opts.fatal);
      var ignoreBOM = Boolean(opts.ignoreBOM);
      Object.defineProperty(this, 'fatal', {get: function () { return fatal; }});
      Object.defineProperty(this, 'ignoreBOM', {get: function () { return ignoreBOM; }});
    }
    get encoding() { return 'utf-8'; }
    decode(input) {
      var bytes;
      if (input === undefined) {
        bytes = new Uint8Array(0);
      } else if (input instanceof ArrayBuffer) {
        bytes = new Uint8Array(input);
      } else if (ArrayBuffer.isView(input)) {
        bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      } else {
        throw new TypeError('TextDecoder.decode: the input must be an ArrayBuffer or a view ' +
                            'of one (Buffer, Uint8Array, DataView...)');
      }
      if (!this.ignoreBOM && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb &&
          bytes[2] === 0xbf) {
        bytes = bytes.subarray(3);
      }
      var text = utf8Decode(bytes, this.fatal);
      if (text === null) throw new TypeError('The encoded data was not valid for encoding utf-8');
      return text;
    }
  }
  defineGlobal('atob', atob);
  defineGlobal('btoa', btoa);
  defineGlobal('TextEncoder', TextEncoder);
  defineGlobal('TextDecoder', TextDecoder);
