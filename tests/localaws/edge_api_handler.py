"""A small Lambda function-URL handler the edge tests put behind the ``/api/*`` behaviour.

It echoes what the edge sent it (so tests can check the payload 2.0 event) and has a few paths
with fixed behaviour: a 404 that can be "fixed" by a file, a handler that raises, a header echo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = event["rawPath"]
    if path == "/api/boom":
        raise RuntimeError("the handler failed on purpose")
    if path.startswith("/api/job/"):
        # Found only once a test has written the job's marker file: the "job added after a 404 was
        # cached" story of the seed, on the API path.
        job = path.rsplit("/", 1)[-1]
        marker = Path(os.environ.get("EDGE_TEST_JOBS_DIR", "/nonexistent")) / job
        if marker.exists():
            return {"statusCode": 200, "body": json.dumps({"job": job, "found": True})}
        return {"statusCode": 404, "body": json.dumps({"job": job, "found": False})}
    if path == "/api/plain":
        return {"hello": "world"}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "cookies": ["seen=1; Path=/"],
        "body": json.dumps(
            {
                "event": event,
                "context": {
                    "function_name": context.function_name,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "request_id": context.aws_request_id,
                },
            }
        ),
    }
