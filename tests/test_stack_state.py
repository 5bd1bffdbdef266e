"""The stack keeps its state across a stop and a start: moto's services and our CloudFront."""

from __future__ import annotations

import pytest

from localaws import stack


def test_state_survives_down_and_up(tmp_path):
    cfg = stack.StackConfig.with_free_ports(tmp_path)
    stack.start(cfg, services=("moto",))
    try:
        s3 = stack.client(cfg, "s3")
        s3.create_bucket(Bucket="kept")
        s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="kept", Key="a", Body=b"one", CacheControl="max-age=5")
        second = s3.put_object(Bucket="kept", Key="a", Body=b"two")
        stack.client(cfg, "logs").create_log_group(logGroupName="/kept")
        topic = stack.client(cfg, "sns").create_topic(Name="kept")["TopicArn"]
    finally:
        stack.stop(tmp_path)
    assert cfg.moto_state_file.exists()

    stack.start(cfg, services=("moto",))
    try:
        s3 = stack.client(cfg, "s3")
        assert s3.get_object(Bucket="kept", Key="a")["Body"].read() == b"two"
        old = s3.get_object(Bucket="kept", Key="a", VersionId=first["VersionId"])
        assert old["Body"].read() == b"one" and old["CacheControl"] == "max-age=5"
        versions = s3.list_object_versions(Bucket="kept")["Versions"]
        assert {v["VersionId"] for v in versions} == {first["VersionId"], second["VersionId"]}
        groups = stack.client(cfg, "logs").describe_log_groups()["logGroups"]
        assert [g["logGroupName"] for g in groups] == ["/kept"]
        topics = stack.client(cfg, "sns").list_topics()["Topics"]
        assert topic in [t["TopicArn"] for t in topics]
    finally:
        stack.stop(tmp_path)


def test_unreadable_state_file_is_refused_with_advice(tmp_path):
    cfg = stack.StackConfig.with_free_ports(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    cfg.moto_state_file.write_bytes(b"not a pickle")
    with pytest.raises(stack.StackError, match="moto"):
        stack.start(cfg, services=("moto",))
    assert "delete it to start the stack empty" in (tmp_path / "moto.log").read_text()


def test_a_bootstrapped_stack_comes_back_whole(tmp_path):
    from localaws.bootstrap import bootstrap
    from qdn import config
    from qdn.smoke import http_get

    cfg = stack.StackConfig.with_free_ports(tmp_path)
    stack.start(cfg)
    try:
        bootstrap(lambda service: stack.client(cfg, service))
        shell = http_get(cfg.edge_url(config.DISTRIBUTION_ALIASES[0]) + "/book/")
        assert shell.status == 200
        live = stack.client(cfg, "cloudfront").describe_function(
            Name=config.FUNCTION_NAME, Stage="LIVE"
        )["ETag"]
    finally:
        stack.stop(tmp_path)

    stack.start(cfg)
    try:
        report = bootstrap(lambda service: stack.client(cfg, service))
        assert report.changed == 0, report.lines
        cf = stack.client(cfg, "cloudfront")
        assert cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")["ETag"] == live
        again = http_get(cfg.edge_url(config.DISTRIBUTION_ALIASES[0]) + "/book/")
        assert again.status == 200 and again.body == shell.body
        assert again.headers["x-cache"].startswith("Miss")  # caches start cold
    finally:
        stack.stop(tmp_path)
