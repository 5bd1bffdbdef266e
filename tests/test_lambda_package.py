"""``make package``: the track API's Lambda zip builds to the same bytes twice, holds nothing of
Airflow, and its handler, imported from the unpacked zip alone, answers requests on moto."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from handlers_support import booking_form, event, new_job

from infra import package_lambda
from infra.template import load_template
from localaws import stack
from qdn import config
from qdn.jobs.store import import_job
from qdn_api.dashboard import MIN_KEY_LENGTH

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"^(?P<path>\S+) sha256=(?P<sha>[0-9a-f]{64}) size=(?P<size>\d+) s3_key=(?P<key>\S+)$"
)


@dataclass(frozen=True)
class Builds:
    cli_line: str
    cli_zip: Path
    again: package_lambda.Package


def _no_network(*args: object) -> None:
    raise AssertionError(f"a build with a filled wheel cache downloaded {args[-1]}")


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    """One build by ``python -m infra.package_lambda`` as make runs it, one in-process into another
    directory; both share the wheel cache, as two builds on one machine do."""
    first, second = tmp_path_factory.mktemp("zip-a"), tmp_path_factory.mktemp("zip-b")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [sys.executable, "-m", "infra.package_lambda", "--output", str(first / "track-api.zip")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a clean clone downloads the wheels (about 20 MB) once
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        # The first build filled the wheel cache: the second must not reach for the index.
        patch.setattr(package_lambda, "_download", _no_network)
        again = package_lambda.build(second / "track-api.zip")
    yield Builds(result.stdout.strip(), first / "track-api.zip", again)


def test_two_builds_are_the_same_bytes_and_print_the_key_the_template_accepts(
    builds: Builds,
) -> None:
    match = LINE.match(builds.cli_line)
    assert match, f"unexpected output: {builds.cli_line!r}"
    assert match["sha"] == builds.again.sha256
    assert builds.cli_zip.read_bytes() == builds.again.path.read_bytes()
    assert int(match["size"]) == builds.again.size == builds.cli_zip.stat().st_size
    assert match["key"] == f"lambda/track-api-{match['sha']}.zip"
    pattern = load_template()["Parameters"]["TrackApiArtifactKey"]["AllowedPattern"]
    assert re.fullmatch(pattern, match["key"])


def test_entries_are_sorted_stamped_and_moded_alike_without_bytecode(builds: Builds) -> None:
    with zipfile.ZipFile(builds.again.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for info in infos:
        assert info.date_time == package_lambda.ZIP_EPOCH, info.filename
        mode = package_lambda.DIR_MODE if info.is_dir() else package_lambda.FILE_MODE
        assert info.external_attr >> 16 == mode, info.filename
        assert "__pycache__" not in info.filename and not info.filename.endswith(".pyc")
    # pip install would have left these, naming this machine's paths and its installer.
    assert not [n for n in names if n.endswith(("/INSTALLER", "/direct_url.json", "/REQUESTED"))]


def test_no_airflow_and_no_path_of_this_machine(builds: Builds) -> None:
    local = str(REPO).encode()
    with zipfile.ZipFile(builds.again.path) as archive:
        assert not [n for n in archive.namelist() if n.split("/")[0] == "airflow"]
        assert not [n for n in archive.namelist() if local in archive.read(n)]


def test_within_lambda_limits(builds: Builds) -> None:
    package = builds.again
    assert package.size < package_lambda.MAX_ZIPPED_BYTES
    assert package.unzipped_size < package_lambda.MAX_UNZIPPED_BYTES
    with zipfile.ZipFile(package.path) as archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
    assert len(files) == package.file_count
    assert sum(info.file_size for info in files) == package.unzipped_size


def test_wheels_are_the_runtime_builds_at_the_constraints_pins(builds: Builds) -> None:
    target = package_lambda.target_from_template()
    assert (target.runtime, target.architecture) == ("python3.11", "x86_64")
    assert target.platform == "manylinux2014_x86_64"
    pins = package_lambda.read_pins()
    with zipfile.ZipFile(builds.again.path) as archive:
        names = archive.namelist()
    versions = {
        m[1].lower().replace("_", "-"): m[2]
        for n in names
        if (m := re.fullmatch(r"([^/]+)-([^-/]+)\.dist-info/METADATA", n))
    }
    for dist in ("pydantic", "pydantic-core", "botocore", "typing-extensions", "annotated-types"):
        assert versions[dist] == pins[dist]
    assert {versions[d] for d in versions} == {pins[d] for d in versions}
    # The compiled core for CPython 3.11 on x86_64 Linux, not this machine's installed copy.
    assert "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so" in names


def test_import_analysis_follows_lazy_imports_and_finds_no_airflow() -> None:
    imports = package_lambda.handler_imports("qdn_api.app")
    # Imported inside functions only (app's routes, jobs_store's legacy fallback).
    for lazy in ("qdn_api.book", "qdn_api.dashboard", "qdn.jobs.legacy_document"):
        assert lazy in imports.first_party
    assert "botocore.session" in imports.third_party  # settings.s3_client's lazy import
    assert imports.third_party_packages == {"botocore", "pydantic"}
    # Release logic the API never imports stays out.
    assert "qdn.jobs.store" not in imports.first_party
    assert "qdn.operators" not in imports.first_party


def test_source_date_epoch_stamps_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"b/x.py": b"x = 1\n", "a.py": b""}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")  # 2025-01-01T00:00:00Z
    with zipfile.ZipFile(io.BytesIO(package_lambda.zip_bytes(files))) as archive:
        assert [i.filename for i in archive.infolist()] == ["a.py", "b/", "b/x.py"]
        assert {i.date_time for i in archive.infolist()} == {(2025, 1, 1, 0, 0, 0)}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(package_lambda.PackageError, match="whole seconds since 1970"):
        package_lambda.zip_bytes(files)


def test_wheel_data_purelib_lands_in_the_root_and_scripts_do_not(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "")
        archive.writestr("demo/__pycache__/__init__.cpython-311.pyc", b"")
        archive.writestr("demo-1.0.data/purelib/demo_extra.py", "")
        archive.writestr("demo-1.0.data/scripts/demo", "#!/bin/sh")
        archive.writestr("demo-1.0.dist-info/METADATA", "Name: demo")
    assert sorted(package_lambda.wheel_files(wheel)) == [
        "demo-1.0.dist-info/METADATA",
        "demo/__init__.py",
        "demo_extra.py",
    ]


def test_bad_template_values_are_refused_with_the_reason() -> None:
    with pytest.raises(package_lambda.PackageError, match=r"python3\.N runtimes"):
        package_lambda.Target("nodejs20.x", "x86_64", "qdn_api.app.handler")
    with pytest.raises(package_lambda.PackageError, match=r"offers \['arm64', 'x86_64'\]"):
        package_lambda.Target("python3.11", "sparc", "qdn_api.app.handler")
    with pytest.raises(package_lambda.PackageError, match=r"is not module\.function"):
        package_lambda.Target("python3.11", "x86_64", "handler")


# Runs in `python -I -S`: no site-packages, no PYTHONPATH, no script directory; sys.path is the
# unpacked zip and the standard library, as on Lambda. Imports every name the handler's code
# imports (lazy ones included), then serves the events it reads from stdin.
_CHILD = textwrap.dedent(
    """
    import importlib, json, sys, sysconfig
    root, names = sys.argv[1], sys.argv[2:]
    stdlib = [p for p in sys.path if 'site-packages' not in p]
    sys.path[:] = [root, *stdlib]
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            parent, _, attribute = name.rpartition('.')
            if not parent:
                raise
            assert hasattr(importlib.import_module(parent), attribute), name
    from qdn_api.app import handler
    answers = [handler(e, None) for e in json.load(sys.stdin)]
    prefixes = (root, sysconfig.get_paths()['stdlib'], sysconfig.get_paths()['platstdlib'])
    foreign = sorted(
        f'{n}: {m.__file__}' for n, m in list(sys.modules.items())
        if getattr(m, '__file__', None) and not m.__file__.startswith(prefixes)
    )
    print(json.dumps({'answers': answers, 'foreign': foreign, 'path': sys.path,
                      'airflow': [n for n in sys.modules if n.split('.')[0] == 'airflow']}))
    """
)


def test_handler_from_the_zip_answers_track_book_and_dashboard_on_moto(
    builds: Builds, moto_url: str, tmp_path: Path
) -> None:
    with zipfile.ZipFile(builds.again.path) as archive:
        archive.extractall(tmp_path / "task")
    bucket = f"qdn-zip-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=stack.REGION)
    s3.create_bucket(Bucket=bucket)
    job = new_job()
    import_job(s3, bucket, job)
    key = secrets.token_urlsafe(32)
    booking = booking_form()
    assert len(key) >= MIN_KEY_LENGTH
    events = [
        event("GET", config.TRACK_API_PREFIX + job.token),
        event("GET", config.API_PATH_PREFIX + "jobs", headers={"authorization": f"Bearer {key}"}),
        event("POST", config.API_PATH_PREFIX + "book", body=json.dumps(booking)),
    ]
    imports = package_lambda.handler_imports(package_lambda.target_from_template().handler_module)
    env = {
        **stack.FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": stack.REGION,
        "AWS_REGION": stack.REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "QDN_BUCKET": bucket,
        "QDN_DASHBOARD_KEY": key,
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CHILD, str(tmp_path / "task"),
         *sorted(imports.first_party), *sorted(imports.third_party)],
        input=json.dumps(events),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["foreign"] == [], "modules loaded from outside the zip and the stdlib"
    assert report["airflow"] == []
    assert not [p for p in report["path"] if "site-packages" in p or p.startswith(str(REPO))]
    track, jobs, booked = report["answers"]
    assert track["statusCode"] == 200, track
    assert json.loads(track["body"]) == {"job": job.public_view()}
    assert json.loads(track["body"])["job"]["customer_name"] == "Mark"
    assert jobs["statusCode"] == 200, jobs
    rows = json.loads(jobs["body"])["jobs"]
    assert [row["reference"] for row in rows] == [job.public_view()["reference"]]
    # The booking path writes through the zip's own botocore and validates with its pydantic.
    assert booked["statusCode"] == 201, booked
    stored_key = f"{config.BOOKINGS_PREFIX}{json.loads(booked['body'])['booking_id']}.json"
    stored = json.loads(s3.get_object(Bucket=bucket, Key=stored_key)["Body"].read())
    assert (stored["name"], stored["phone"]) == ("Ana Lopez", "5550100199")
