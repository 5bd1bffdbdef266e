// The rewrite function as the manual release process shipped it, kept ONLY so
// bench/bench_function.py can compare costs on the same request mix. It is wrong on purpose,
// reproduced faithfully: each block overwrites request.uri before saving it, so original_path
// is always "/index.html", and it assigns a bare string where CloudFront expects {value: ...}
// (CloudFront refuses that output). Never publish this file.
function handler(event) {
  var request = event.request;

  if (request.uri.startsWith('/track/')) {
    request.uri = '/index.html';
    request.querystring.original_path = request.uri;
  }

  if (request.uri.startsWith('/book/')) {
    request.uri = '/index.html';
    request.querystring.original_path = request.uri;
  }

  return request;
}
