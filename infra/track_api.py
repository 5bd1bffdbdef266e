"""The track API: its Lambda (the packager's contract), its function URL and its log group.

The function's name, runtime, architecture, handler and code location are the contract with
``make package`` (it reads them from the template); its environment is what
``qdn_api.settings`` reads; its timeout is derived from the API's own S3 bounds.
"""

from __future__ import annotations

import math
from typing import Any

from infra.iam import TRACK_API_LOG_GROUP, role_arn
from infra.intrinsics import get_att, ref
from qdn import config
from qdn_api import settings
from qdn_api.dashboard import MIN_KEY_LENGTH
from qdn_api.s3_reader import ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT

FUNCTION = "TrackApiFunction"
URL = "TrackApiUrl"
RUNTIME = "python3.11"
ARCHITECTURE = "x86_64"
HANDLER = "qdn_api.app.handler"
# Every S3 call the API makes is bounded by its client's timeouts and attempts; a cold track
# lookup makes two in sequence (the token's lookup, then the record), so both in full plus a
# second for the cold start's imports. The Lambda stops anything past it (the URL answers 502).
TIMEOUT_SECONDS = math.ceil(2 * ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT)) + 1
# Half a CPU's share: botocore's import dominates the cold start and runs faster with more
# memory; the handlers themselves need a few tens of MB.
MEMORY_MB = 512
# The function's own logs (each request's errors); audit evidence lives in the audit log group.
LOG_RETENTION_DAYS = 30


def resources() -> dict[str, Any]:
    log_group = f"/aws/lambda/{config.TRACK_API_FUNCTION}"
    return {
        TRACK_API_LOG_GROUP: {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": log_group, "RetentionInDays": LOG_RETENTION_DAYS},
        },
        FUNCTION: {
            "Type": "AWS::Lambda::Function",
            # Its group first: a function that logs before the stack made the group would
            # create one without retention.
            "DependsOn": [TRACK_API_LOG_GROUP],
            "Properties": {
                "FunctionName": config.TRACK_API_FUNCTION,
                "Description": "QuickDumpNow track, book and dashboard API behind /api/*",
                "Runtime": RUNTIME,
                "Architectures": [ARCHITECTURE],
                "Handler": HANDLER,
                "Code": {"S3Bucket": ref("ArtifactBucket"), "S3Key": ref("TrackApiArtifactKey")},
                "Role": role_arn(),
                "Timeout": TIMEOUT_SECONDS,
                "MemorySize": MEMORY_MB,
                "Environment": {
                    "Variables": {
                        settings.BUCKET_ENV: config.BUCKET,
                        settings.DASHBOARD_KEY_ENV: ref("DashboardKey"),
                    }
                },
            },
        },
        # The edge calls it as any client would: the booking form POSTs JSON, which an origin
        # access control would have to sign with the body's hash, and browsers do not.
        URL: {
            "Type": "AWS::Lambda::Url",
            "Properties": {"TargetFunctionArn": get_att(FUNCTION, "Arn"), "AuthType": "NONE"},
        },
        "TrackApiUrlPublicInvoke": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": ref(FUNCTION),
                "Action": "lambda:InvokeFunctionUrl",
                "Principal": "*",
                "FunctionUrlAuthType": "NONE",
            },
        },
        # Function URLs created since October 2025 need InvokeFunction too, only through the URL.
        "TrackApiUrlInvoke": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": ref(FUNCTION),
                "Action": "lambda:InvokeFunction",
                "Principal": "*",
                "InvokedViaFunctionUrl": True,
            },
        },
    }


def parameters() -> dict[str, Any]:
    return {
        "ArtifactBucket": {
            "Type": "String",
            "Description": (
                "The S3 bucket holding the track API's Lambda zip (uploaded after make package)."
            ),
        },
        "TrackApiArtifactKey": {
            "Type": "String",
            "AllowedPattern": r"^lambda/track-api-[0-9a-f]{64}\.zip$",
            "Description": (
                "The zip's key in ArtifactBucket (make package prints it; it names the zip's "
                "SHA-256)."
            ),
            "ConstraintDescription": (
                "must be lambda/track-api-<sha256>.zip as make package prints it"
            ),
        },
        "DashboardKey": {
            "Type": "String",
            "NoEcho": True,
            "MinLength": MIN_KEY_LENGTH,
            "Description": (
                f"The dispatchers' key for /api/jobs (at least {MIN_KEY_LENGTH} random "
                "characters); kept in the function's environment, shown by no stack output."
            ),
            "ConstraintDescription": (
                f"must be at least {MIN_KEY_LENGTH} characters: generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            ),
        },
    }
