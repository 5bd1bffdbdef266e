"""A thin hook over the CloudFront KeyValueStore data plane: the live pointer's reads and writes.

The data plane (``cloudfront-keyvaluestore``) is its own service: botocore signs it with SigV4A
(``botocore[crt]``) and its endpoint rules put the account id in front of the endpoint's host.
Against AWS nothing needs configuring. The local stack answers for a made-up host through a
proxy, so the connection's ``service_config["cloudfront-keyvaluestore"]`` may carry
``proxy_url`` beside ``endpoint_url``; this hook turns it into botocore's ``proxies`` for this
one client, leaving every other client of the connection direct.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

SERVICE = "cloudfront-keyvaluestore"
PROXY_URL_KEY = "proxy_url"


class KeyValueStoreHook(AwsBaseHook):
    """A client for a CloudFront KeyValueStore's keys (``qdn.live_pointer`` makes the calls)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = SERVICE
        super().__init__(*args, **kwargs)

    @property
    def config(self) -> Config:
        base = super().config
        proxy = self.service_config.get(PROXY_URL_KEY)
        if not proxy:
            return base
        return base.merge(Config(proxies={"http": proxy, "https": proxy}))
