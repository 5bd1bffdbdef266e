"""IAM in the template: the documents ``qdn.iam`` writes, rendered for this stack's account.

``qdn.iam`` builds each policy from ``qdn.config`` and prints it for ``aws iam``; here the same
functions are called with CloudFormation's pseudo parameters in place of the account and Region,
so the template carries exactly the statements ``python -m qdn.iam pipeline|track-api|stage``
prints. The one statement added is the Lambda's permission to write its own log stream, which
is CloudWatch's to need, not the API's code.
"""

from __future__ import annotations

from typing import Any

from infra.intrinsics import ACCOUNT_ID, REGION, get_att, sub, sub_all
from qdn import config, iam

TRACK_API_ROLE = "TrackApiRole"
TRACK_API_LOG_GROUP = "TrackApiLogGroup"
PIPELINE_POLICY = "ReleasePipelinePolicy"
STAGE_POLICY = "StagePolicy"


def rendered(name: str) -> dict[str, Any]:
    """``python -m qdn.iam <name>``'s document with ``${AWS::AccountId}``/``${AWS::Region}``."""
    build = iam.POLICIES[name]
    document = build(ACCOUNT_ID, REGION) if build is iam.pipeline_policy else build()
    return sub_all(document)


def resources() -> dict[str, Any]:
    lambda_logs = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/"
    return {
        TRACK_API_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"{config.TRACK_API_FUNCTION}: python -m qdn.iam track-api",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {"PolicyName": "track-api", "PolicyDocument": rendered("track-api")},
                    {
                        "PolicyName": "write-its-own-logs",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                # The group exists (the stack creates it): streams and events only.
                                {
                                    "Sid": "WriteItsOwnLogs",
                                    "Effect": "Allow",
                                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                    "Resource": sub(f"{lambda_logs}{config.TRACK_API_FUNCTION}:*"),
                                }
                            ],
                        },
                    },
                ],
            },
        },
        PIPELINE_POLICY: {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": (
                    "qdn_release, qdn_rollback and qdn_nightly_verify (python -m qdn.iam "
                    "pipeline): attach to the identity Airflow's aws_default uses"
                ),
                "PolicyDocument": rendered("pipeline"),
            },
        },
        STAGE_POLICY: {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": (
                    "python -m qdn.cli stage (python -m qdn.iam stage): attach to whoever "
                    "stages builds (a workstation's role, CI)"
                ),
                "PolicyDocument": rendered("stage"),
            },
        },
    }


def role_arn() -> dict[str, Any]:
    return get_att(TRACK_API_ROLE, "Arn")
