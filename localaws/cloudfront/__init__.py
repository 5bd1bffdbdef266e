"""A local CloudFront: the 2020-05-31 API for boto3 and the AWS CLI, and an edge per distribution.

Run it with ``python -m localaws.cloudfront`` (see ``__main__``). The pieces, one job each:

- ``wire``: the REST/XML protocol, driven by botocore's service model through moto's parser and
  serializer; ``kvswire``: the key value store data plane's REST-JSON, the same way; ``errors``:
  the AWS error codes; ``ids``: ids, ETags and ARNs shaped like AWS's.
- ``functions``, ``distributions``, ``invalidations``, ``keyvaluestores``: the account's state and
  the rules AWS applies to it; ``kvsdata``: a store's keys, their ETag and their propagation to
  the edges; ``service``: all of them behind one lock; ``control``: both APIs over HTTP on one
  port; ``state``: the account in a JSON file across restarts (``--state-file``), edge caches
  excepted.
- ``edge``: one distribution's request pipeline, with ``viewer`` (the function event),
  ``policies`` (behaviours, cache keys, TTLs), ``cache``, ``origins`` (S3 through moto, the API
  handler in-process) and ``accesslog``; ``listeners``: the HTTP servers.
- ``runtime``: the cloudfront-js-2.0 runtime in the embedded QuickJS engine, ``cf.kvs()``
  included.
"""
