"""The local CloudFront Functions runtime against what AWS documents for each runtime.

Every documented built-in gets a case whose expected value comes from outside the runtime: the
hash and HMAC vectors of the standards the algorithms come from (RFC 1321, FIPS 180-4, RFC 2202,
RFC 4231), cross-checked with Python's hashlib/hmac on further inputs; base64/base64url/hex round
trips checked with Python's codecs; query strings with the examples AWS's runtime page gives.
What a runtime lacks must stay missing there, with an error that says so. Then the envelope
TestFunction returns and the return shapes CloudFront accepts, over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import unique, viewer_event

from localaws.cloudfront import runtime_builtins
from localaws.cloudfront.runtime import TEST_FACTS, EdgeFacts, FunctionRun, run_function
from localaws.cloudfront.runtime_builtins import RUNTIME_1, RUNTIME_2

EVENT = json.loads(viewer_event("/conformance"))
ALGORITHMS_1 = ("md5", "sha1", "sha256")  # runtime 1.0 documents these
ALGORITHMS_2 = (*ALGORITHMS_1, "sha512")
# Messages hashed per run when many are checked.
BATCH = 10


def _logged(body: str, runtime: str = RUNTIME_2, prologue: str = "", data: Any = None) -> list[Any]:
    """Run a handler whose body logs JSON values; return them parsed (the run must succeed).

    ``data`` reaches the handler as ``event.data``: inputs too big for 10 KB of code.
    """
    code = f"{prologue}\nfunction handler(event) {{\n{body}\nreturn event.request;\n}}"
    event = EVENT if data is None else {**EVENT, "data": data}
    run = run_function(code, event, runtime=runtime)
    assert run.error is None, run.error
    return [json.loads(line) for line in run.logs]


def _import(runtime: str) -> str:
    return (
        "import crypto from 'crypto';"
        if runtime == RUNTIME_2
        else "var crypto = require('crypto');"
    )


def _bytes_js(data: bytes, runtime: str) -> str:
    """A JS expression for these bytes in the runtime's own way: Buffer, or a 1.0 byte string."""
    if runtime == RUNTIME_2:
        return f"Buffer.from('{data.hex()}', 'hex')"
    return f"String.bytesFrom('{data.hex()}', 'hex')"


# --- hashes ---------------------------------------------------------------------------------------

# The published digests of the standards' own examples.
STANDARD_DIGESTS = [
    ("md5", b"", "d41d8cd98f00b204e9800998ecf8427e"),  # RFC 1321, A.5
    ("md5", b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("md5", b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ("sha1", b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),  # FIPS 180 examples
    (
        "sha1",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    ),
    ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        "sha256",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (
        "sha512",
        b"abc",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
]


@pytest.mark.parametrize("runtime", [RUNTIME_1, RUNTIME_2])
@pytest.mark.parametrize(("algorithm", "message", "digest"), STANDARD_DIGESTS)
def test_hash_matches_the_standard_s_vector(
    runtime: str, algorithm: str, message: bytes, digest: str
) -> None:
    assert hashlib.new(algorithm, message).hexdigest() == digest  # the vector is right
    body = (
        f"console.log(JSON.stringify(crypto.createHash('{algorithm}')"
        f".update('{message.decode()}').digest('hex')));"
    )
    if runtime == RUNTIME_1 and algorithm not in ALGORITHMS_1:
        # What 1.0 does not document stays missing there.
        code = f"{_import(runtime)}\nfunction handler(event) {{ {body} return event.request; }}"
        refused = run_function(code, EVENT, runtime=runtime)
        assert "Digest method not supported" in refused.error
        return
    [got] = _logged(body, runtime, _import(runtime))
    assert got == digest


@pytest.mark.parametrize("algorithm", ALGORITHMS_2)
def test_hash_of_every_length_around_the_block_size_and_every_encoding(algorithm: str) -> None:
    # Padding bugs live at the block boundary: lengths 0..130 cover both 64- and 128-byte
    # blocks; the bytes go in as a Buffer, and in two update() calls.
    rng = random.Random(algorithm)  # noqa: S311 (test data, not a secret)
    messages = [bytes(rng.getrandbits(8) for _ in range(n)) for n in range(131)]
    body = (
        "event.data.forEach(function (hex) {"
        "  var b = Buffer.from(hex, 'hex');"
        "  var half = b.length >> 1;"
        f"  var d = crypto.createHash('{algorithm}').update(b.subarray(0, half))"
        "    .update(b.subarray(half)).digest();"
        "  console.log(JSON.stringify([d.toString('hex'), d.toString('base64'),"
        "    d.toString('base64url')]));"
        "});"
    )
    # A few per run: a run is stopped after 50 ms of engine time, like runaway code.
    logged = []
    for at in range(0, len(messages), BATCH):
        batch = [m.hex() for m in messages[at : at + BATCH]]
        logged += _logged(body, RUNTIME_2, "import crypto from 'crypto';", batch)
    for message, (hex_digest, b64, b64url) in zip(messages, logged, strict=True):
        want = hashlib.new(algorithm, message).digest()
        assert hex_digest == want.hex(), len(message)
        assert b64 == base64.b64encode(want).decode()
        assert b64url == base64.urlsafe_b64encode(want).decode().rstrip("=")


def test_a_string_is_hashed_as_utf8_and_digest_encodings_match() -> None:
    text = "café ☕ 𝄞"
    [got] = _logged(
        "var h = (a) => crypto.createHash(a).update('café ☕ 𝄞');"
        "console.log(JSON.stringify([h('sha256').digest('hex'), h('sha256').digest('base64'),"
        " h('sha256').digest('base64url'), h('md5').digest('hex')]));",
        RUNTIME_2,
        "import crypto from 'crypto';",
    )
    want = hashlib.sha256(text.encode()).digest()
    assert got == [
        want.hex(),
        base64.b64encode(want).decode(),
        base64.urlsafe_b64encode(want).decode().rstrip("="),
        hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 (a test vector, not security)
    ]


# --- HMAC -----------------------------------------------------------------------------------------

# (key, data) of the RFCs' test cases; the digests they publish are checked below.
RFC_4231 = {
    1: (b"\x0b" * 20, b"Hi There"),
    2: (b"Jefe", b"what do ya want for nothing?"),
    3: (b"\xaa" * 20, b"\xdd" * 50),
    6: (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
}
RFC_4231_SHA256 = {
    1: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    2: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
}
RFC_2202 = {  # HMAC-MD5 and HMAC-SHA1 test case 1 and 2
    ("md5", 1): (b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
    ("md5", 2): (b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
    ("sha1", 1): (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    ("sha1", 2): (
        b"Jefe",
        b"what do ya want for nothing?",
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    ),
}


def _hmac_cases() -> list[tuple[str, bytes, bytes]]:
    cases = [(alg, key, data) for (alg, _), (key, data, _) in RFC_2202.items()]
    cases += [(alg, key, data) for alg in ("sha256", "sha512") for key, data in RFC_4231.values()]
    return cases


def test_the_rfc_vectors_are_what_the_rfcs_publish() -> None:
    for n, digest in RFC_4231_SHA256.items():
        key, data = RFC_4231[n]
        assert hmac.new(key, data, "sha256").hexdigest() == digest
    for (alg, _), (key, data, digest) in RFC_2202.items():
        assert hmac.new(key, data, alg).hexdigest() == digest


@pytest.mark.parametrize("runtime", [RUNTIME_1, RUNTIME_2])
def test_hmac_matches_the_rfc_test_cases(runtime: str) -> None:
    cases = [c for c in _hmac_cases() if runtime == RUNTIME_2 or c[0] in ALGORITHMS_1]
    body = "\n".join(
        f"console.log(JSON.stringify(crypto.createHmac('{alg}', {_bytes_js(key, runtime)})"
        f".update({_bytes_js(data, runtime)}).digest('hex')));"
        for alg, key, data in cases
    )
    logged = _logged(body, runtime, _import(runtime))
    assert logged == [hmac.new(key, data, alg).hexdigest() for alg, key, data in cases]


def test_a_jwt_signed_with_hs256_verifies_with_a_string_key() -> None:
    # The shape of AWS's JWT examples: createHmac('sha256', key).update(input).digest('base64url')
    # compared with the token's signature, and the payload read with Buffer.from(..., 'base64url').
    key = "secret-key-for-the-test"
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":"job-7","n":"\xc3\xa9"}').rstrip(b"=").decode()
    signature = (
        base64.urlsafe_b64encode(
            hmac.new(key.encode(), f"{header}.{payload}".encode(), "sha256").digest()
        )
        .rstrip(b"=")
        .decode()
    )
    token = f"{header}.{payload}.{signature}"
    code = f"""import crypto from 'crypto';
function handler(event) {{
  const [h, p, s] = event.request.querystring.jwt.value.split('.');
  const expected = crypto.createHmac('sha256', '{key}').update(h + '.' + p).digest('base64url');
  if (expected !== s) return {{statusCode: 401, statusDescription: 'Unauthorized'}};
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  event.request.headers['x-sub'] = {{value: claims.sub + ':' + claims.n}};
  delete event.request.querystring.jwt;
  return event.request;
}}"""
    event = json.loads(viewer_event("/track/x"))
    event["request"]["querystring"] = {"jwt": {"value": token}}
    run = run_function(code, event)
    assert run.error is None, run.error
    assert run.output["request"]["headers"]["x-sub"] == {"value": "job-7:é"}
    assert run.output["request"]["querystring"] == {}
    event["request"]["querystring"] = {"jwt": {"value": token[:-2] + "AA"}}
    assert run_function(code, event).output == {
        "response": {"statusCode": 401, "statusDescription": "Unauthorized"}
    }


def test_digest_without_encoding_is_a_buffer_in_2_0_and_a_byte_string_in_1_0() -> None:
    want = hashlib.sha256(b"abc").digest()
    [two] = _logged(
        "var d = crypto.createHash('sha256').update('abc').digest();"
        "console.log(JSON.stringify([Buffer.isBuffer(d), d.length, d.toString('hex')]));",
        RUNTIME_2,
        "import crypto from 'crypto';",
    )
    assert two == [True, 32, want.hex()]
    [one] = _logged(
        "var d = crypto.createHash('sha256').update('abc').digest();"
        "console.log(JSON.stringify([typeof d, d.length, d.toString('hex'),"
        " Array.from(d).map(c => c.charCodeAt(0))]));",
        RUNTIME_1,
        "var crypto = require('crypto');",
    )
    assert one == ["string", 32, want.hex(), list(want)]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("crypto.createHash('sha384')", "Digest method not supported"),
        ("crypto.createHash('md5').digest('utf16')", "Unknown digest encoding"),
        ("var h = crypto.createHash('md5'); h.digest('hex'); h.digest('hex')", "already called"),
        ("crypto.createHash('md5').update(42)", 'The "data" argument must be'),
    ],
)
def test_crypto_misuse_is_a_clear_error(body: str, fragment: str) -> None:
    code = f"import crypto from 'crypto';\nfunction handler(e) {{ {body}; return e.request; }}"
    run = run_function(code, EVENT)
    assert run.output is None
    assert fragment in run.error


# --- Buffer (2.0) and byte strings (1.0) ----------------------------------------------------------


def test_buffer_round_trips_every_encoding() -> None:
    rng = random.Random(12)  # noqa: S311 (test data, not a secret)
    samples = [bytes(rng.getrandbits(8) for _ in range(n)) for n in (0, 1, 2, 3, 4, 5, 31, 64)]
    body = "\n".join(
        f"var b = Buffer.from('{s.hex()}', 'hex');"
        "console.log(JSON.stringify([b.toString('base64'), b.toString('base64url'),"
        " b.toString('hex'), b.toString('latin1'),"
        " Buffer.from(b.toString('base64'), 'base64').equals(b),"
        " Buffer.from(b.toString('base64url'), 'base64url').equals(b),"
        " Buffer.from(b.toString('latin1'), 'latin1').equals(b), b.length]));"
        for s in samples
    )
    for sample, got in zip(samples, _logged(body), strict=True):
        assert got == [
            base64.b64encode(sample).decode(),
            base64.urlsafe_b64encode(sample).decode().rstrip("="),
            sample.hex(),
            sample.decode("latin-1"),
            True,
            True,
            True,
            len(sample),
        ]


def test_buffer_utf8_and_the_node_api_functions_rely_on() -> None:
    text = "naïve ☕ 𝄞"
    [got] = _logged(
        f"var b = Buffer.from('{text}');"
        "var c = Buffer.concat([b.slice(0, 3), Buffer.alloc(2, 'ab'), Buffer.from([1, 2])]);"
        "var w = Buffer.alloc(8); w.writeUInt32BE(0xdeadbeef, 0); w.writeInt16LE(-2, 4);"
        "console.log(JSON.stringify([b.length, Buffer.byteLength('" + text + "'), b.toString(),"
        " b.toString('utf8', 0, 5), c.toString('hex'), w.readUInt32BE(0), w.readInt16LE(4),"
        " JSON.stringify(Buffer.from('hi')), Buffer.compare(Buffer.from('a'), Buffer.from('b')),"
        " b.indexOf('☕'), Buffer.isEncoding('base64url'), Buffer.isEncoding('nope'),"
        " Buffer.from('aGk', 'base64').toString(), Buffer.from([0xff, 0xfe]).toString()]));",
    )
    encoded = text.encode()
    assert got == [
        len(encoded),
        len(encoded),
        text,
        encoded[:5].decode("utf-8", errors="replace"),
        encoded[:3].hex() + "6162" + "0102",
        0xDEADBEEF,
        -2,
        json.dumps({"type": "Buffer", "data": list(b"hi")}, separators=(",", ":")),
        -1,
        encoded.index("☕".encode()),
        True,
        False,
        "hi",
        "\ufffd\ufffd",  # bad UTF-8 decodes to U+FFFD, as in Node.js
    ]


def test_buffer_integer_float_and_double_access_matches_struct() -> None:
    """Every documented read/write of numbers, checked against Python's struct and int."""
    data = bytes([0x80, 0x01, 0xFE, 0x7F, 0x00, 0xFF, 0x12, 0x34])
    doubles = [1.5, -0.1, 3.0e300, -2.5e-308]
    floats = [1.5, -0.25, 3.0e38, 1.0e-30]
    body = (
        f"var b = Buffer.from('{data.hex()}', 'hex');"
        "var widths = [1, 2, 3, 4, 5, 6];"
        "console.log(JSON.stringify(widths.map(function (n) {"
        "  return [b.readIntBE(0, n), b.readIntLE(0, n), b.readUIntBE(1, n), b.readUIntLE(1, n)];"
        "})));"
        "var w = Buffer.alloc(12);"
        "w.writeIntBE(-123456, 0, 3); w.writeUIntLE(0xabcdef123456, 3, 6); w.writeIntLE(-2, 9, 3);"
        "console.log(JSON.stringify(w.toString('hex')));"
        f"var ds = {json.dumps(doubles)}, fs = {json.dumps(floats)};"
        "var d = Buffer.alloc(16), f = Buffer.alloc(8);"
        "console.log(JSON.stringify(ds.map(function (x) {"
        "  d.writeDoubleBE(x, 0); d.writeDoubleLE(x, 8);"
        "  return [d.toString('hex'), d.readDoubleBE(0), d.readDoubleLE(8)];"
        "})));"
        "console.log(JSON.stringify(fs.map(function (x) {"
        "  f.writeFloatBE(x, 0); f.writeFloatLE(x, 4);"
        "  return [f.toString('hex'), f.readFloatBE(0), f.readFloatLE(4)];"
        "})));"
        # A view into a bigger buffer: reads start at the view, not at the memory's start.
        "var view = Buffer.from('00000000' + d.toString('hex'), 'hex').subarray(4);"
        "console.log(JSON.stringify(view.readDoubleBE(0)));"
    )
    ints, written, got_doubles, got_floats, in_view = _logged(body)
    for n, row in zip(range(1, 7), ints, strict=True):
        assert row == [
            int.from_bytes(data[:n], "big", signed=True),
            int.from_bytes(data[:n], "little", signed=True),
            int.from_bytes(data[1 : 1 + n], "big"),
            int.from_bytes(data[1 : 1 + n], "little"),
        ]
    assert (
        written
        == (
            (-123456).to_bytes(3, "big", signed=True)
            + (0xABCDEF123456).to_bytes(6, "little")
            + (-2).to_bytes(3, "little", signed=True)
        ).hex()
    )
    for x, row in zip(doubles, got_doubles, strict=True):
        assert row == [(struct.pack(">d", x) + struct.pack("<d", x)).hex(), x, x]
    for x, row in zip(floats, got_floats, strict=True):
        rounded = struct.unpack(">f", struct.pack(">f", x))[0]  # a float32 loses precision
        assert row == [(struct.pack(">f", x) + struct.pack("<f", x)).hex(), rounded, rounded]
    assert in_view == doubles[-1]


def test_buffer_swaps_last_index_and_range_errors() -> None:
    data = bytes(range(16))
    body = (
        "var out = [];"
        "[16, 32, 64].forEach(function (bits) {"
        f"  out.push(Buffer.from('{data.hex()}', 'hex')['swap' + bits]().toString('hex'));"
        "});"
        "var hay = Buffer.from('abcabcab');"
        "out.push([hay.lastIndexOf('ab'), hay.lastIndexOf('ab', 5), hay.lastIndexOf(99),"
        " hay.lastIndexOf(Buffer.from('ca')), hay.lastIndexOf('zz')]);"
        "function error(f) { try { f(); return null; } catch (e) { return String(e); } }"
        "var three = Buffer.alloc(3);"
        "out.push([error(function () { three.swap16(); }),"
        " error(function () { three.readUInt32BE(0); }),"
        " error(function () { three.readIntBE(0, 7); }),"
        " error(function () { three.writeDoubleLE(1, 0); })]);"
        "console.log(JSON.stringify(out));"
    )
    [[swap16, swap32, swap64, last, errors]] = _logged(body)
    for got, size in ((swap16, 2), (swap32, 4), (swap64, 8)):
        units = [data[i : i + size][::-1] for i in range(0, len(data), size)]
        assert got == b"".join(units).hex()
    hay = b"abcabcab"
    assert last == [hay.rfind(b"ab"), hay.rfind(b"ab", 0, 5 + 2), hay.rfind(b"c"), 5, -1]
    assert errors[0] == "RangeError: Buffer size must be a multiple of 16-bits"
    assert errors[1].startswith('RangeError: The value of "offset" is out of range. It must be')
    assert errors[2].startswith('RangeError: The value of "byteLength" is out of range.')
    assert errors[3].startswith('RangeError: The value of "offset" is out of range.')


# --- atob/btoa and TextEncoder/TextDecoder (2.0 globals) ----------------------------------------


def test_atob_and_btoa_follow_the_web_s_base64() -> None:
    binary = "".join(map(chr, range(256)))
    body = (
        "function error(f) { try { return f(); } catch (e) { return String(e); } }"
        f"var all = {json.dumps(binary)};"
        "console.log(JSON.stringify([btoa(all), atob(btoa(all)) === all, atob('aGk'),"
        " atob(' aG k= '), btoa(''), atob(''),"
        " error(function () { return btoa('\\u0100'); }),"
        " error(function () { return atob('a'); }),"
        " error(function () { return atob('aGk-'); }),"
        " error(function () { return atob('aG=k'); })]));"
    )
    [got] = _logged(body)
    assert got == [
        base64.b64encode(binary.encode("latin-1")).decode(),
        True,
        "hi",
        "hi",
        "",
        "",
        "InvalidCharacterError: Invalid character",
        "InvalidCharacterError: The string to be decoded is not correctly encoded.",
        "InvalidCharacterError: The string to be decoded is not correctly encoded.",
        "InvalidCharacterError: The string to be decoded is not correctly encoded.",
    ]


def test_text_encoder_and_decoder_are_utf_8() -> None:
    text = "naïve ☕ 𝄞 €"
    encoded = text.encode()
    body = (
        "function error(f) { try { return f(); } catch (e) { return String(e); } }"
        f"var text = {json.dumps(text)};"
        "var enc = new TextEncoder(), dec = new TextDecoder();"
        "var bytes = enc.encode(text);"
        "var into = [];"
        "[0, 1, 3, 6, 7, 64].forEach(function (n) {"
        "  var r = enc.encodeInto(text, new Uint8Array(n)); into.push([r.read, r.written]);"
        "});"
        "var bom = Buffer.from('efbbbf6869', 'hex');"
        "console.log(JSON.stringify([enc.encoding, Buffer.from(bytes).toString('hex'),"
        " bytes instanceof Uint8Array, into, dec.decode(bytes), dec.decode(bytes.buffer),"
        " dec.decode(), dec.decode(bom), new TextDecoder('utf-8', {ignoreBOM: true}).decode(bom),"
        " dec.decode(new Uint8Array([0x68, 0xff, 0x69])), dec.encoding, dec.fatal, dec.ignoreBOM,"
        " error(function () {"
        "   return new TextDecoder('utf8', {fatal: true}).decode(new Uint8Array([0xc3]));"
        " }),"
        " error(function () { return new TextDecoder('latin1'); })]));"
    )
    [got] = _logged(body)
    into = []
    for room in (0, 1, 3, 6, 7, 64):  # whole characters only, as many as fit
        read = written = 0
        for ch in text:
            size = len(ch.encode())
            if written + size > room:
                break
            read, written = read + len(ch.encode("utf-16-le")) // 2, written + size
        into.append([read, written])
    assert got == [
        "utf-8",
        encoded.hex(),
        True,
        into,
        text,
        text,
        "",
        "hi",
        "\ufeffhi",
        "h\ufffdi",
        "utf-8",
        False,
        False,
        "TypeError: The encoded data was not valid for encoding utf-8",
        'RangeError: TextDecoder: the "latin1" encoding is not supported; CloudFront Functions '
        "decode utf-8 only",
    ]


# --- general helpers (2.0): request.rawQueryString() and cf.edgeLocation -------------------------

GENERAL_HELPERS_JS = """import cf from 'cloudfront';
function handler(event) {
  var raw = event.request.rawQueryString();
  console.log(JSON.stringify([typeof raw, raw === undefined ? null : raw, cf.edgeLocation,
                              Object.keys(event.request).indexOf('rawQueryString')]));
  return event.request;
}"""


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # TestFunction: a test event has no URL, and AWS's console answers "".
        (TEST_FACTS, ["string", "", {}, -1]),
        (EdgeFacts(raw_query="a=1&&b=%20c"), ["string", "a=1&&b=%20c", {}, -1]),
        (EdgeFacts(raw_query=None), ["undefined", None, {}, -1]),
        (
            EdgeFacts(location={"name": "SEA", "serverIp": "1.2.3.4", "region": "us-west-2"}),
            ["string", "", {"name": "SEA", "serverIp": "1.2.3.4", "region": "us-west-2"}, -1],
        ),
    ],
)
def test_general_helpers_answer_from_the_run_s_facts(facts: EdgeFacts, expected: list) -> None:
    run = run_function(GENERAL_HELPERS_JS, EVENT, runtime=RUNTIME_2, facts=facts)
    assert run.error is None, run.error
    assert [json.loads(line) for line in run.logs] == [expected]
    # A method, not data: the returned request does not carry it.
    assert "rawQueryString" not in run.output["request"]


def test_raw_query_string_is_a_2_0_helper() -> None:
    code = "function handler(e) { return e.request.rawQueryString(); }"
    one = run_function(code, EVENT, runtime=RUNTIME_1)
    assert one.error is not None and "not a function" in one.error


def test_runtime_1_0_has_none_of_2_0_s_globals() -> None:
    [got] = _logged(
        "console.log(JSON.stringify(['atob', 'btoa', 'TextEncoder', 'TextDecoder', 'Buffer']"
        ".map(function (n) { return typeof globalThis[n]; })));",
        RUNTIME_1,
    )
    assert got == ["undefined"] * 5


def test_byte_string_methods_of_runtime_1_0() -> None:
    data = bytes(range(256))
    [got] = _logged(
        f"var s = String.bytesFrom('{base64.urlsafe_b64encode(data).decode().rstrip('=')}',"
        " 'base64url');"
        f"var t = String.bytesFrom('{base64.b64encode(data).decode()}', 'base64');"
        "console.log(JSON.stringify([s.length, s === t, s.toString('hex'),"
        " String.bytesFrom([104, 105, 360]), 'é☕'.toUTF8().length,"
        " 'é☕'.toUTF8().fromUTF8(), String.bytesFrom('ff', 'hex').fromUTF8(), '☕'.toBytes(),"
        " 'abc'.toBytes(1), 'abcdef'.fromBytes(1, 3), String.bytesFrom('6869', 'hex')]));",
        RUNTIME_1,
    )
    assert got == [
        256,
        True,
        data.hex(),
        "hih",  # each octet & 255, as byte strings hold bytes
        len("é☕".encode()),
        "é☕",
        None,  # not UTF-8: null, as documented
        None,  # outside 0-255: null, as documented
        "bc",
        "bc",
        "hi",
    ]


@pytest.mark.parametrize(
    ("runtime", "body", "fragment"),
    [
        (RUNTIME_1, "Buffer.from('x')", "Buffer"),
        (RUNTIME_1, "require('buffer')", "Cannot find module 'buffer'"),
        (RUNTIME_1, "require('cloudfront')", "Cannot find module 'cloudfront'"),
        (RUNTIME_2, "String.bytesFrom('aGk', 'base64url')", "not a function"),
        (RUNTIME_2, "'x'.toUTF8()", "not a function"),
        (RUNTIME_2, "require('fs')", "Cannot find module 'fs'"),
    ],
)
def test_what_a_runtime_lacks_stays_missing(runtime: str, body: str, fragment: str) -> None:
    run = run_function(
        f"function handler(e) {{ {body}; return e.request; }}", EVENT, runtime=runtime
    )
    assert run.output is None
    assert fragment in run.error


def test_import_is_a_syntax_error_in_runtime_1_0() -> None:
    run = run_function(
        "import crypto from 'crypto';\nfunction handler(e) { return e.request; }",
        EVENT,
        runtime=RUNTIME_1,
    )
    assert run.error.startswith("SyntaxError")
    assert "require('crypto')" in run.error


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        ("const b = 2;", True),
        ("let x = 1;", True),
        ("let [a] = [1];", True),
        ("const {length} = 'ab';", True),
        ("var t = `${'}'}`; const q = 1;", True),
        ("var s = 'const x = 1';", False),
        ("// const x", False),
        ("/* let y = 2 */", False),
        ("var o = {let: 1, const: 2}; o.let = o.const;", False),
        ("var t = `const ${1} let x`;", False),
        ("var r = /const x/.test('let');", False),
        ("var letter = 1, constant = 2;", False),
        ("async function f() { return await 1; }", True),
        ("var f = async () => 1;", True),
        ("var g = async(a, b) => a;", True),
        ("var h = async x => x;", True),
        ("var o = {async: 1}; o.async = 2; var async = o.async;", False),
        ("var s = 'async function f() {}';", False),
    ],
)
def test_const_let_and_async_are_refused_in_runtime_1_0_only(statement: str, refused: bool) -> None:
    code = f"function handler(e) {{\n  {statement}\n  return e.request;\n}}"
    one = run_function(code, EVENT, runtime=RUNTIME_1)
    if refused:
        assert one.output is None
        assert one.error.startswith("SyntaxError")
        assert "not supported in cloudfront-js-1.0 (line 2)" in one.error
    else:
        assert one.error is None, one.error
    assert run_function(code, EVENT, runtime=RUNTIME_2).error is None


# --- modules and imports --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imports", "expression"),
    [
        ("import crypto from 'crypto';", "crypto.createHash"),
        ('import crypto from "crypto"', "crypto.createHash"),
        ("import {createHash} from 'crypto';", "createHash"),
        ("import { createHash as h, createHmac } from 'crypto';", "h"),
        ("import * as c from 'crypto';", "c.createHash"),
        ("import crypto, {createHash} from 'crypto';", "createHash"),
        ("import {\n  createHash,\n  createHmac\n} from 'crypto';", "createHash"),
        ("import 'crypto';\nconst crypto = require('crypto');", "crypto.createHash"),
        ("const {createHash} = require('crypto');", "createHash"),
    ],
)
def test_every_import_form(imports: str, expression: str) -> None:
    code = (
        f"{imports}\nfunction handler(e) {{\n"
        "  if (e.request.method === 'BOOM') null.x;\n"
        f"  e.request.uri = '/' + {expression}('md5').update('abc').digest('hex');\n"
        "  return e.request;\n}"
    )
    run = run_function(code, EVENT)
    assert run.error is None, run.error
    assert run.output["request"]["uri"] == "/" + hashlib.md5(b"abc").hexdigest()  # noqa: S324
    # Line numbers stay the author's after the rewrite.
    boom = {**EVENT, "request": {**EVENT["request"], "method": "BOOM"}}
    assert f"<input>:{imports.count(chr(10)) + 3}" in run_function(code, boom).error


def test_querystring_module_as_aws_documents_it() -> None:
    [parsed, stringified, escaped, custom] = _logged(
        "console.log(JSON.stringify(qs.parse('name=value&abc=xyz&abc=123')));"
        "console.log(JSON.stringify(qs.stringify({name: 'value', abc: ['xyz', '123'],"
        " anotherName: ''})));"
        "console.log(JSON.stringify([qs.escape('a b&c/é'), qs.unescape('a%20b+c%zz')]));"
        "console.log(JSON.stringify(qs.decode('a:1;b:2', ';', ':')));",
        RUNTIME_1,
        "var qs = require('querystring');",
    )
    assert parsed == {"name": "value", "abc": ["xyz", "123"]}  # AWS's example
    assert stringified == "name=value&abc=xyz&abc=123&anotherName="  # AWS's example
    assert escaped == ["a%20b%26c%2F%C3%A9", "a b+c%zz"]
    assert custom == {"a": "1", "b": "2"}


# --- return shapes --------------------------------------------------------------------------------


def _returned(body: str) -> FunctionRun:
    return run_function(f"function handler(event) {{ {body} }}", EVENT)


def test_a_query_string_returned_as_text_is_accepted() -> None:
    # AWS's "normalize query string" example returns the sorted query as one string.
    run = _returned(
        "var r = event.request; r.querystring = {b: {value: '2'}, a: {value: '1',"
        " multiValue: [{value: '1'}, {value: '3'}]}};"
        "var qs = []; for (var k in r.querystring) { var e = r.querystring[k];"
        " (e.multiValue || [e]).forEach(v => qs.push(k + '=' + v.value)); }"
        "r.querystring = qs.sort().join('&'); return r;"
    )
    assert run.error is None, run.error
    assert run.output["request"]["querystring"] == "a=1&a=3&b=2"


def test_the_output_keeps_only_what_cloudfront_reads() -> None:
    run = _returned(
        "return {uri: '/x', method: 'GET', extra: 1, headers: {h: {value: 'v'}}, body: 'no'};"
    )
    assert run.output == {
        "request": {
            "method": "GET",
            "uri": "/x",
            "querystring": {},
            "headers": {"h": {"value": "v"}},
            "cookies": {},
        }
    }


@pytest.mark.parametrize(
    "response",
    [
        "{statusCode: 302, headers: {location: {value: '/a'}}}",
        "{statusCode: 200, cookies: {id: {value: '1', attributes: 'Path=/; Secure'}}}",
        "{statusCode: 200, cookies: {id: {value: '1', multiValue: [{value: '1', attributes:"
        " 'Path=/'}, {value: '2'}]}}}",
        "{statusCode: 200, body: {data: 'aGk=', encoding: 'base64'}}",
        "{statusCode: 200, body: 'text'}",
        "{statusCode: 200, headers: {vary: {value: 'a', multiValue: [{value: 'a'},"
        " {value: 'b'}]}}}",
    ],
)
def test_every_documented_response_shape_is_accepted(response: str) -> None:
    run = _returned(f"return {response};")
    assert run.error is None, run.error
    assert "response" in run.output


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("{uri: '/x', querystring: 5}", "request.querystring must be an object or a string"),
        ("{statusCode: 200, body: {data: 'x', encoding: 'utf16'}}", "response.body"),
        ("{statusCode: 200, cookies: {a: {value: '1', attributes: 3}}}", "response.cookies.a"),
    ],
)
def test_shapes_cloudfront_refuses(returned: str, fragment: str) -> None:
    run = _returned(f"return {returned};")
    assert run.output is None
    assert fragment in run.error


# --- TestFunction over HTTP -----------------------------------------------------------------------


def _tested(cf: Any, code: str, runtime: str, event: bytes | None = None) -> dict[str, Any]:
    name = unique("conf")
    etag = cf.create_function(
        Name=name,
        FunctionConfig={"Comment": "conformance", "Runtime": runtime},
        FunctionCode=code.encode(),
    )["ETag"]
    try:
        return cf.test_function(
            Name=name, IfMatch=etag, EventObject=event or viewer_event("/conformance")
        )["TestResult"]
    finally:
        cf.delete_function(Name=name, IfMatch=etag)


def test_test_function_envelope_is_shaped_like_aws(cf: Any) -> None:
    ok = _tested(cf, "function handler(e) { e.extra = 1; return e.request; }", RUNTIME_2)
    assert set(ok) >= {
        "FunctionSummary",
        "ComputeUtilization",
        "FunctionExecutionLogs",
        "FunctionErrorMessage",
        "FunctionOutput",
    }
    assert ok["FunctionErrorMessage"] == ""
    assert json.loads(ok["FunctionOutput"]) == {
        "request": {
            "method": "GET",
            "uri": "/conformance",
            "querystring": {},
            "headers": {"host": {"value": "quickdumpnow.com"}},
            "cookies": {},
        }
    }
    failed = _tested(cf, "function handler(e) { throw new Error('no'); }", RUNTIME_2)
    assert failed["FunctionOutput"] == ""
    assert "no" in failed["FunctionErrorMessage"]


def test_test_function_runs_the_function_s_own_runtime(cf: Any) -> None:
    code = (
        "var crypto = require('crypto');\n"
        "function handler(e) {\n"
        "  console.log(typeof Buffer, typeof String.bytesFrom,"
        " crypto.createHash('sha1').update('abc').digest('hex'));\n"
        "  return e.request;\n}"
    )
    sha1 = hashlib.sha1(b"abc").hexdigest()  # noqa: S324 (a test vector, not security)
    one = _tested(cf, code, RUNTIME_1)
    assert one["FunctionExecutionLogs"] == [f"undefined function {sha1}"]
    two = _tested(cf, code, RUNTIME_2)
    assert two["FunctionErrorMessage"] == ""
    # 2.0 has Buffer, not the byte-string methods.
    assert two["FunctionExecutionLogs"] == [f"function undefined {sha1}"]


# --- the documented limits agree with the code ----------------------------------------------------


def test_the_readme_table_and_the_builtin_fragments_agree_with_the_runtime() -> None:
    readme = (Path(runtime_builtins.__file__).with_name("README.md")).read_text(encoding="utf-8")
    for runtime, modules in runtime_builtins.MODULES.items():
        assert runtime in readme
        for module in modules:
            assert f"'{module}'" in readme, f"the README does not mention module {module!r}"
    fragments = {p.stem for p in Path(runtime_builtins.__file__).with_name("builtins").glob("*.js")}
    assert fragments == {b.name for b in runtime_builtins.BUILTINS}
