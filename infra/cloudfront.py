"""The CloudFront resources: the live pointer's store, the rewrite function, both distributions.

Each distribution is rendered from ``qdn.distribution_spec.distribution_config``, the document the
local bootstrap creates the distributions from and the nightly check compares them with, turned
from the API's shape into CloudFormation's. Only what the rehearsal cannot have is added here:
the certificate, the origin access control that signs requests to the private bucket, the
function URL's real domain, and how long errors are cached.
"""

from __future__ import annotations

from typing import Any

from infra.intrinsics import REGION, get_att, logical_id, ref, replace_value, sub_all
from qdn import config
from qdn.distribution_spec import distribution_config
from qdn.routes import SHELL_KEY

STORE = "LivePointerStore"
FUNCTION = "RewriteFunction"
ORIGIN_ACCESS = "SiteOriginAccessControl"
API_URL = "TrackApiUrl"
FUNCTION_SOURCE_PATH = f"cf/{config.FUNCTION_NAME}.js"
# What the spec is called with in place of the function's ARN, swapped for the resource's.
_FUNCTION_ARN_MARK = "<function-arn>"

# CloudFront caches error responses by itself (ten seconds unless told). Seconds per status:
# a 404 under a build stays true (builds are immutable; a release changes the cache key), so a
# minute spares the origin, as long as the track API's own 404 is kept; a 403 or a 5xx is a
# fault being fixed (a bucket policy, a Lambda deploy) whose fix must be seen at once.
ERROR_CACHING_SECONDS = {403: 0, 404: 60, 500: 0, 502: 0, 503: 0, 504: 0}
# What the template adds to the spec's document: settings the local CloudFront does not model.
PRODUCTION_ONLY = frozenset(
    {"ViewerCertificate", "HttpVersion", "IPV6Enabled", "CustomErrorResponses"}
)
# TLS 1.2 or newer with the current cipher suites; SNI, which every browser sends.
MINIMUM_TLS = "TLSv1.2_2021"


def domain_parameter(alias: str) -> str:
    return "Domain" + logical_id(alias)


def distribution_id(alias: str) -> str:
    return "Distribution" + logical_id(alias)


def cfn_shape(value: Any) -> Any:
    """CloudFront's API document as CloudFormation writes it: ``{Quantity, Items}`` wrappers
    become lists, and ``CachedMethods`` moves from inside ``AllowedMethods`` to beside it."""
    if isinstance(value, list):
        return [cfn_shape(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Quantity", "Items"}:
        if value["Quantity"] != len(value["Items"]):
            raise ValueError(f"Quantity {value['Quantity']} but {len(value['Items'])} Items")
        return cfn_shape(value["Items"])
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "AllowedMethods":
            out[key] = cfn_shape({k: item[k] for k in ("Quantity", "Items")})
            out["CachedMethods"] = cfn_shape(item["CachedMethods"])
        else:
            out[key] = cfn_shape(item)
    return out


def api_origin_domain() -> dict[str, Any]:
    """The function URL's host: its URL is https://<id>.lambda-url.<region>.on.aws/."""
    return {"Fn::Select": [2, {"Fn::Split": ["/", get_att(API_URL, "FunctionUrl")]}]}


def distribution_config_cfn(alias: str) -> dict[str, Any]:
    """``qdn.distribution_spec``'s document for ``alias`` in CloudFormation's shape, with this
    stack's function, bucket region, domain parameter and function URL in it."""
    spec = distribution_config(alias, _FUNCTION_ARN_MARK, config.BUCKET, REGION)
    # Fixed by CloudFormation itself; the spec's is the bootstrap's idempotency token.
    spec.pop("CallerReference")
    shaped = cfn_shape(spec)
    shaped = replace_value(shaped, _FUNCTION_ARN_MARK, get_att(FUNCTION, "FunctionARN"))
    shaped = replace_value(shaped, config.TRACK_API_ORIGIN_DOMAIN, api_origin_domain())
    shaped["Aliases"] = [ref(domain_parameter(alias))]
    for origin in shaped["Origins"]:
        if origin["Id"] == config.SITE_ORIGIN_ID:
            origin["OriginAccessControlId"] = get_att(ORIGIN_ACCESS, "Id")
    shaped["ViewerCertificate"] = {
        "AcmCertificateArn": ref("CertificateArn"),
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": MINIMUM_TLS,
    }
    shaped["HttpVersion"] = "http2and3"
    shaped["IPV6Enabled"] = True
    shaped["CustomErrorResponses"] = [
        {"ErrorCode": code, "ErrorCachingMinTTL": seconds}
        for code, seconds in ERROR_CACHING_SECONDS.items()
    ]
    return sub_all(shaped)


def resources(function_code: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        STORE: {
            "Type": "AWS::CloudFront::KeyValueStore",
            "Properties": {
                "Name": config.KVS_NAME,
                "Comment": "QuickDumpNow live build pointer",
            },
        },
        FUNCTION: {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": config.FUNCTION_NAME,
                # A distribution can only run a published function; later code comes through
                # the release's gate (docs/production.md).
                "AutoPublish": True,
                "FunctionConfig": {
                    "Comment": "QuickDumpNow routes, served from the live build",
                    "Runtime": config.FUNCTION_RUNTIME,
                    "KeyValueStoreAssociations": [{"KeyValueStoreARN": get_att(STORE, "Arn")}],
                },
                "FunctionCode": function_code,
            },
        },
        ORIGIN_ACCESS: {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": "qdn-site-bucket",
                    "Description": f"Both distributions read s3://{config.BUCKET} signed",
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
    }
    for alias in config.DISTRIBUTION_ALIASES:
        out[distribution_id(alias)] = {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": distribution_config_cfn(alias)},
        }
    return out


def parameters() -> dict[str, Any]:
    """One domain parameter per alias, held to ``qdn.config``'s names: the release, the smoke
    check and the nightly check find each distribution by that name."""
    out: dict[str, Any] = {}
    for alias in config.DISTRIBUTION_ALIASES:
        out[domain_parameter(alias)] = {
            "Type": "String",
            "Default": alias,
            "AllowedValues": [alias],
            "Description": (
                f"A name the site answers at (a distribution alias, with {SHELL_KEY} at its "
                "root). The pipeline finds the distribution by it: to serve another name, "
                "change qdn.config.DISTRIBUTION_ALIASES and run make infra."
            ),
            "ConstraintDescription": (
                f"must be {alias}, as in qdn.config.DISTRIBUTION_ALIASES (change it there and "
                "run make infra)"
            ),
        }
    out["CertificateArn"] = {
        "Type": "String",
        "AllowedPattern": r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+$",
        "Description": (
            "The ACM certificate for every domain name above, issued in us-east-1 (the only "
            "Region CloudFront takes certificates from)."
        ),
        "ConstraintDescription": (
            "must be an ACM certificate ARN in us-east-1: request or import it there first"
        ),
    }
    return out
