"""The Asset a release produces: what ``qdn_nightly_verify`` waits for besides its clock.

A successful ``qdn_release`` (or ``qdn_rollback``) changes what production serves; the
verification runs minutes after it ends instead of waiting for the night. The URI names the
release history because that object is what every switch of the live pointer rewrites.
"""

from __future__ import annotations

from airflow.sdk import Asset

from qdn import config
from qdn.release_manifest import HISTORY_KEY

LIVE_RELEASE = Asset(
    name="qdn_live_release",
    uri=f"s3://{config.BUCKET}/{HISTORY_KEY}",
    group="quickdumpnow",
)
