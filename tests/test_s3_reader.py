"""The track API's own S3 reader: signed exactly as botocore signs, and answering like botocore."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

from qdn.s3_errors import is_missing_key, is_not_modified
from qdn_api.s3_reader import S3Reader

NOW = datetime(2026, 12, 1, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN//+="])
@pytest.mark.parametrize(
    ("endpoint", "key"),
    [
        (None, "data/tokens/" + "ab" * 32 + ".json"),
        ("http://127.0.0.1:4566", "data/jobs/QDN-ABCDEFGHIJ.json"),
        ("https://s3.eu-west-1.amazonaws.com", "odd key/with spaces+plus~tilde.json"),
    ],
)
def test_the_signature_is_botocore_s(
    monkeypatch: pytest.MonkeyPatch, token: str | None, endpoint: str | None, key: str
) -> None:
    reader = S3Reader(
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token,
        region="eu-west-1",
        endpoint=endpoint,
    )
    path = reader._base + "/" + "quickdumpnow.com/" + key
    from urllib.parse import quote

    path = quote(path, safe="/-_.~")
    ours = reader.signed_headers("GET", path, NOW)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    host = ours["host"]
    scheme = "https" if endpoint is None or endpoint.startswith("https") else "http"
    request = AWSRequest(method="GET", url=f"{scheme}://{host}{path}")
    request.headers["x-amz-content-sha256"] = ours["x-amz-content-sha256"]
    signer = botocore.auth.S3SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "s3",
        "eu-west-1",
    )
    signer.add_auth(request)
    assert request.headers["X-Amz-Date"] == ours["x-amz-date"]
    assert request.headers["Authorization"] == ours["authorization"]


def test_it_reads_like_botocore_against_moto(moto_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_url)
    bucket = f"qdn-reader-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key="a/b.json", Body=b"{}", Metadata={"qdn-export": "x"})
    reader = S3Reader(
        access_key="testing", secret_key="testing", session_token=None, region="us-east-1",
        endpoint=moto_url,
    )  # fmt: skip
    sent: list[str] = []
    reader.on_send(lambda operation, _: sent.append(operation))

    got = reader.get_object(Bucket=bucket, Key="a/b.json")
    assert got["Body"].read() == b"{}" and got["ETag"] == put["ETag"]
    assert reader.head_object(Bucket=bucket, Key="a/b.json")["Metadata"] == {"qdn-export": "x"}
    with pytest.raises(ClientError) as unchanged:
        reader.get_object(Bucket=bucket, Key="a/b.json", IfNoneMatch=put["ETag"])
    assert is_not_modified(unchanged.value)
    with pytest.raises(ClientError) as missing:
        reader.get_object(Bucket=bucket, Key="nope.json")
    assert is_missing_key(missing.value) and missing.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as no_bucket:
        reader.get_object(Bucket=bucket + "-gone", Key="a/b.json")
    assert not is_missing_key(no_bucket.value)
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"
    assert sent == ["GetObject", "HeadObject", "GetObject", "GetObject", "GetObject"]

    refused = S3Reader(
        access_key="x", secret_key="x", session_token=None, region="us-east-1",
        endpoint="http://127.0.0.1:9",
    )  # fmt: skip
    with pytest.raises(EndpointConnectionError):
        refused.get_object(Bucket=bucket, Key="a/b.json")
