"""Build the track API's Lambda zip: ``python -m infra.package_lambda`` (``make package``).

The zip must run on the runtime and architecture ``infra/quickdumpnow.yaml`` gives
``TrackApiFunction``, so those (and the handler) are read from the template, never restated here.
Its content is what the handler imports, found by reading the code: the ``qdn_api`` and ``qdn``
modules reachable from the handler (lazy imports inside functions included), and the wheels of
the third-party packages they import with everything those require, at the pins of
``constraints.txt``. Nothing of Airflow can ride along: ``qdn``'s packages import none of it, and
a zip holding an ``airflow/`` path is refused.

The same inputs give the same bytes, so the zip's SHA-256 names its content (the S3 key the
stack's ``TrackApiArtifactKey`` takes): entries sorted, one timestamp, fixed permissions, no
bytecode, and wheels unpacked as the zips they are rather than installed by pip, which would
leave records of this machine's paths and its own choices behind. Wheels are downloaded once into
a cache, so a second build needs no network.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from infra.template import TEMPLATE, load_template, resource

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "TrackApiFunction"
OUTPUT = ROOT / "artifacts" / "track-api.zip"
WHEELS = ROOT / "artifacts" / "wheels"
CONSTRAINTS = ROOT / "constraints.txt"
# Where the first-party packages live, as Airflow and the tests put them on sys.path.
SOURCE_ROOTS = (ROOT / "site" / "api", ROOT / "plugins")
FIRST_PARTY = ("qdn_api", "qdn")
S3_KEY_FORMAT = "lambda/track-api-{sha256}.zip"

# Lambda's deployment package limits: 50 MB zipped when uploaded directly, 250 MB unzipped
# (function and layers together) however it is uploaded.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# The earliest time a zip entry can carry (DOS dates start in 1980).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
DIR_MODE = 0o040755  # directory, rwxr-xr-x
UNIX = 3  # the zip "made by" system, so Lambda's unzip honours the modes above
# Deflate's default level, named so the bytes do not follow a library default that could move.
COMPRESS_LEVEL = 6

# Lambda architecture -> the manylinux platform its runtime's glibc supports (Amazon Linux 2,
# glibc 2.26, runs manylinux2014 = glibc 2.17 wheels).
_PLATFORMS = {"x86_64": "x86_64", "arm64": "aarch64"}
_MANYLINUX_FLOOR = "manylinux2014"
# manylinux2014 is manylinux_2_17; wheels tagged for any older glibc run too.
_OLDEST_GLIBC_MINOR, _NEWEST_GLIBC_MINOR = 5, 17
_RUNTIME = re.compile(r"^python(3)\.(\d+)$")


class PackageError(Exception):
    """The zip cannot be built as asked; the message says what to change."""


@dataclass(frozen=True)
class Target:
    """The Lambda runtime the zip is for, as the template names it."""

    runtime: str
    architecture: str
    handler: str

    def __post_init__(self) -> None:
        # Each property refuses a value the packager cannot build for; fail at construction.
        _ = (self.python_version, self.machine, self.handler_module)

    @property
    def python_version(self) -> str:
        match = _RUNTIME.match(self.runtime)
        if match is None:
            raise PackageError(
                f"{FUNCTION}'s Runtime is {self.runtime!r}; the packager builds for python3.N "
                "runtimes only"
            )
        return f"{match[1]}.{match[2]}"

    @property
    def machine(self) -> str:
        if self.architecture not in _PLATFORMS:
            raise PackageError(
                f"{FUNCTION}'s architecture is {self.architecture!r}; Lambda offers "
                f"{sorted(_PLATFORMS)}"
            )
        return _PLATFORMS[self.architecture]

    @property
    def platform(self) -> str:
        """pip's ``--platform`` for this architecture."""
        return f"{_MANYLINUX_FLOOR}_{self.machine}"

    @property
    def handler_module(self) -> str:
        module, _, function = self.handler.rpartition(".")
        if not module or not function:
            raise PackageError(f"{FUNCTION}'s Handler {self.handler!r} is not module.function")
        return module

    def tags(self) -> list[Tag]:
        """The wheel tags the runtime accepts, most specific first."""
        major, minor = (int(part) for part in self.python_version.split("."))
        platforms = [
            f"manylinux_2_{glibc}_{self.machine}"
            for glibc in range(_NEWEST_GLIBC_MINOR, _OLDEST_GLIBC_MINOR - 1, -1)
        ] + [f"{legacy}_{self.machine}" for legacy in ("manylinux2014", "manylinux2010")]
        platforms += [f"manylinux1_{self.machine}"]
        interpreter = f"cp{major}{minor}"
        return [
            *cpython_tags((major, minor), abis=[interpreter, "abi3", "none"], platforms=platforms),
            *compatible_tags((major, minor), interpreter=interpreter, platforms=platforms),
        ]

    def marker_environment(self) -> dict[str, str]:
        """What the runtime's interpreter answers to environment markers (PEP 508)."""
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python_version}.0",
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{self.python_version}.0",
            "python_version": self.python_version,
            "sys_platform": "linux",
            "extra": "",
        }


def target_from_template(path: Path = TEMPLATE) -> Target:
    """The function's Runtime, its one Architecture and its Handler, from the template."""
    properties = resource(load_template(path), FUNCTION)
    architectures = properties.get("Architectures", ["x86_64"])  # Lambda's default
    if len(architectures) != 1:
        raise PackageError(f"{FUNCTION} must name one architecture; it names {architectures}")
    try:
        target = Target(properties["Runtime"], architectures[0], properties["Handler"])
    except KeyError as missing:
        raise PackageError(f"{path}: {FUNCTION} has no {missing.args[0]}") from None
    return target


# --- what the handler imports -------------------------------------------------------------------


@dataclass(frozen=True)
class Imports:
    """The first-party modules the handler reaches (name -> file), and every other name their
    import statements give (``pkg.module`` or ``pkg.module.attribute``; the standard library's
    left out)."""

    first_party: dict[str, Path]
    third_party: frozenset[str]

    @property
    def third_party_packages(self) -> frozenset[str]:
        return frozenset(name.split(".")[0] for name in self.third_party)


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    for root in SOURCE_ROOTS:
        package = root.joinpath(*parts) / "__init__.py"
        if package.is_file():
            return package
        module = root.joinpath(*parts[:-1], parts[-1] + ".py")
        if module.is_file():
            return module
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module an import statement in ``path`` names, anywhere but under TYPE_CHECKING."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            # "from package import module" imports a module, not only a name.
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        pending.extend(ast.iter_child_nodes(node))
    return names - {"__future__"}


def handler_imports(handler_module: str) -> Imports:
    """Follow imports from the handler's module through every first-party module it reaches."""
    first_party: dict[str, Path] = {}
    third_party: set[str] = set()
    pending = [handler_module]
    while pending:
        name = pending.pop()
        if name in first_party:
            continue
        path = _module_file(name)
        if path is None:
            top = name.split(".")[0]
            if top in FIRST_PARTY:
                # A name imported from a module (a class, a constant), or a module that is missing:
                # the parent module is followed either way, and the import test catches the rest.
                continue
            if top not in sys.stdlib_module_names:
                third_party.add(name)
            continue
        first_party[name] = path
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        pending.extend(_imported_names(path, name))
    if handler_module not in first_party:
        raise PackageError(f"the handler's module {handler_module} is not under {SOURCE_ROOTS}")
    return Imports(first_party, frozenset(third_party))


# --- the wheels they need ------------------------------------------------------------------------


def read_pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``name==version`` lines of the constraints file, by canonical name."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0].strip())] = version.strip()
    return pins


def distributions_for(top_level: Iterable[str]) -> set[str]:
    """The installed distributions that provide these import names (canonical names)."""
    provided = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for name in sorted(top_level):
        if name not in provided:
            raise PackageError(
                f"the handler imports {name!r}, which no installed distribution provides; "
                "add its distribution to requirements.txt and constraints.txt and reinstall"
            )
        found.update(canonicalize_name(dist) for dist in provided[name])
    return found


def _cached_wheel(cache: Path, name: str, version: str, tags: list[Tag]) -> Path | None:
    rank = {tag: i for i, tag in enumerate(tags)}
    best: tuple[int, Path] | None = None
    for wheel in cache.glob("*.whl"):
        wheel_name, wheel_version, _, wheel_tags = parse_wheel_filename(wheel.name)
        if wheel_name != name or str(wheel_version) != version:
            continue
        ranks = [rank[tag] for tag in wheel_tags if tag in rank]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), wheel)
    return best[1] if best else None


def _download(cache: Path, target: Target, pins: dict[str, str]) -> None:
    """Fetch wheels for the runtime from the index into the cache; pip resolves nothing here."""
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp",
        "--platform", target.platform, "--python-version", target.python_version,
        "--dest", str(cache), *(f"{name}=={version}" for name, version in sorted(pins.items())),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(
            f"pip could not download {sorted(pins)} for {target.platform}: "
            f"{result.stderr.strip()[-2000:]}"
        )


def wheels_for(
    distributions: Iterable[str], target: Target, pins: dict[str, str], cache: Path = WHEELS
) -> dict[str, Path]:
    """Each distribution and everything it requires on the runtime, as a cached wheel."""
    cache.mkdir(parents=True, exist_ok=True)
    tags, environment = target.tags(), target.marker_environment()
    wheels: dict[str, Path] = {}
    pending = set(distributions)
    while pending:
        for name in sorted(pending):
            if name not in pins:
                raise PackageError(
                    f"{name} goes into the Lambda zip but constraints.txt pins no version of it; "
                    "pin it there (name==version)"
                )
        missing = {n: pins[n] for n in pending if not _cached_wheel(cache, n, pins[n], tags)}
        if missing:
            _download(cache, target, missing)
        required: set[str] = set()
        for name in sorted(pending):
            wheel = _cached_wheel(cache, name, pins[name], tags)
            if wheel is None:
                raise PackageError(
                    f"no wheel of {name}=={pins[name]} runs on {target.runtime} "
                    f"{target.architecture}; the zip needs a binary wheel of every dependency"
                )
            wheels[name] = wheel
            required |= _requirements(wheel, environment)
        pending = required - wheels.keys()
    return dict(sorted(wheels.items()))


def _requirements(wheel: Path, environment: dict[str, str]) -> set[str]:
    """The distributions a wheel's metadata requires on the runtime (no extras)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(
            name for name in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", name)
        )
        metadata = archive.read(metadata_name).decode("utf-8")
    required: set[str] = set()
    for line in metadata.splitlines():
        if not line:
            break  # the headers end at the first blank line; the description follows
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            marker: Marker | None = requirement.marker
            if marker is None or marker.evaluate(environment):
                required.add(canonicalize_name(requirement.name))
    return required


# --- the zip -------------------------------------------------------------------------------------


def _skipped(path: str) -> bool:
    return "__pycache__" in path.split("/") or path.endswith((".pyc", ".pyo"))


def wheel_files(wheel: Path) -> dict[str, bytes]:
    """A wheel's files as they land in the Lambda's root (``.data/purelib`` and ``platlib``
    are site-packages too; scripts, headers and data files have no place on Lambda)."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir() or _skipped(info.filename):
                continue
            path = info.filename
            top, _, rest = path.partition("/")
            if top.endswith(".data"):
                scheme, _, rest = rest.partition("/")
                if scheme not in ("purelib", "platlib"):
                    continue
                path = rest
            files[path] = archive.read(info)
    return files


def source_files(imports: Imports) -> dict[str, bytes]:
    """The first-party modules, at their import paths."""
    return {
        "/".join([*name.split(".")[:-1], path.name])
        if path.name != "__init__.py"
        else "/".join([*name.split("."), "__init__.py"]): path.read_bytes()
        for name, path in imports.first_party.items()
    }


def _timestamp() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH when the build sets it (reproducible-builds.org), else 1980-01-01."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return ZIP_EPOCH
    if not epoch.isdigit():
        raise PackageError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970; got {epoch!r}")
    stamp = time.gmtime(int(epoch))[:6]
    return max(stamp, ZIP_EPOCH)  # type: ignore[return-value]


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """The archive: directories and files sorted by path, every entry stamped and moded alike."""
    directories = {
        "/".join(path.split("/")[:i]) + "/" for path in files for i in range(1, path.count("/") + 1)
    }
    stamp = _timestamp()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(directories | files.keys()):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = UNIX
            if name in directories:
                info.external_attr = (DIR_MODE << 16) | 0x10  # 0x10: the MS-DOS directory flag
                archive.writestr(info, b"")
            else:
                info.external_attr = FILE_MODE << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, files[name], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


@dataclass(frozen=True)
class Package:
    path: Path
    sha256: str
    size: int
    unzipped_size: int
    file_count: int
    wheels: tuple[str, ...]

    @property
    def s3_key(self) -> str:
        return S3_KEY_FORMAT.format(sha256=self.sha256)


def build(output: Path = OUTPUT, *, template: Path = TEMPLATE, cache: Path = WHEELS) -> Package:
    """Build the zip at ``output`` and say what it is."""
    target = target_from_template(template)
    imports = handler_imports(target.handler_module)
    pins = read_pins()
    wheels = wheels_for(distributions_for(imports.third_party_packages), target, pins, cache)
    files = source_files(imports)
    for wheel in wheels.values():
        for path, data in wheel_files(wheel).items():
            if path in files:
                raise PackageError(f"{wheel.name} and another part of the zip both hold {path}")
            files[path] = data
    airflow = sorted(path for path in files if path.split("/")[0] == "airflow")
    if airflow:
        raise PackageError(f"the zip would hold Airflow ({airflow[0]}); find what pulls it in")
    unzipped = sum(len(data) for data in files.values())
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PackageError(
            f"the zip unpacks to {unzipped} bytes, over Lambda's {MAX_UNZIPPED_BYTES}"
        )
    data = zip_bytes(files)
    if len(data) > MAX_ZIPPED_BYTES:
        raise PackageError(f"the zip is {len(data)} bytes, over Lambda's {MAX_ZIPPED_BYTES}")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)  # a reader never sees half a zip
    return Package(
        path=output,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        unzipped_size=unzipped,
        file_count=len(files),
        wheels=tuple(wheel.name for wheel in wheels.values()),
    )


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package_lambda", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the zip")
    parser.add_argument("--wheels", type=Path, default=WHEELS, help="the wheel download cache")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    try:
        package = build(args.output, template=args.template, cache=args.wheels)
    except PackageError as exc:
        print(f"make package: {exc}", file=sys.stderr)
        return 1
    print(
        f"{_shown(package.path)} sha256={package.sha256} size={package.size} "
        f"s3_key={package.s3_key}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
