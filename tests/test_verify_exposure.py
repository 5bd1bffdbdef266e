"""The nightly exposure check against the session's released stack: private paths refused on
both edges and the bucket private pass it; a public access block turned off fails it, naming the
settings; an edge answering a private path (a corner no stack fault reaches) is named too."""

from __future__ import annotations

from qdn import config
from qdn.smoke import Response, http_get
from qdn.verify.exposure import PRIVATE_PATHS, check_exposure


def _urls(site) -> dict[str, str]:
    return {alias: site.url(alias) for alias in config.DISTRIBUTION_ALIASES}


def test_the_released_site_passes(released_site) -> None:
    result = check_exposure(released_site.stack.client("s3"), config.BUCKET, _urls(released_site))
    assert result.passed, result.summary()


def test_a_public_access_block_turned_off_is_named(released_site) -> None:
    s3 = released_site.stack.client("s3")
    saved = s3.get_public_access_block(Bucket=config.BUCKET)["PublicAccessBlockConfiguration"]
    s3.put_public_access_block(
        Bucket=config.BUCKET,
        PublicAccessBlockConfiguration={**saved, "BlockPublicPolicy": False},
    )
    try:
        result = check_exposure(s3, config.BUCKET, _urls(released_site))
    finally:
        s3.put_public_access_block(Bucket=config.BUCKET, PublicAccessBlockConfiguration=saved)
    assert result.problems == [
        f"s3://{config.BUCKET}'s public access block is off for BlockPublicPolicy: turn it back "
        "on (the bootstrap sets all four)"
    ]


def test_private_data_served_by_an_edge_is_named(released_site) -> None:
    leaked = "/" + config.JOBS_KEY

    def get(url: str) -> Response:
        answer = http_get(url)
        if url.endswith(leaked):
            return Response(200, answer.headers, b'{"jobs": []}')
        return answer

    result = check_exposure(
        released_site.stack.client("s3"), config.BUCKET, _urls(released_site), get=get
    )
    assert len(result.problems) == len(config.DISTRIBUTION_ALIASES)
    assert all(f"GET {leaked}: expected 403 or 404" in p for p in result.problems)
    assert leaked in PRIVATE_PATHS
