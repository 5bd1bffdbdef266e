"""The deployment's Airflow settings, read from the one file that holds them (deploy/airflow.env).

docker-compose.yaml, the deployment test and ``make airflow`` all start from here, so a setting
cannot be right in one and wrong in another: the file names container hosts and paths, and
``localize`` swaps them for the ones a component started on this machine must use. The shared
secrets come from ``.env`` (``python -m localaws.deploy_settings secrets > .env``), never from
the repository; only the rehearsal's published placeholders live in deploy/rehearsal.env.

``python -m localaws.deploy_settings check-secrets`` is the refusal airflow-init runs first.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO_ROOT / "deploy" / "airflow.env"
REHEARSAL_FILE = REPO_ROOT / "deploy" / "rehearsal.env"

# Every component must hold the same three values: a scheduler signing with another JWT secret
# fails every task, an api-server with another secret_key cannot show task logs, and a component
# with another Fernet key cannot read the connections the others encrypted.
SECRET_NAMES = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
)
REHEARSAL_PROFILE = "rehearsal"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose reads them: comments and blanks skipped, one pair of
    surrounding quotes removed (the rehearsal's JSON values are single-quoted)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@dataclass(frozen=True)
class Place:
    """Where the components find each other and the code: the containers' names by default."""

    database: str = "airflow:airflow@postgres:5432/airflow"
    broker: str = "redis:6379/0"
    api: str = "airflow-apiserver:8080"
    public_url: str = "http://localhost:8080"
    repo: str = "/opt/qdn"
    home: str = "/opt/airflow"
    api_port: int = 8080
    worker_log_port: int = 8793
    trigger_log_port: int = 8794


CONTAINERS = Place()


def load(secrets_env: Mapping[str, str], place: Place = CONTAINERS) -> dict[str, str]:
    """The shared settings plus the three secrets, moved to ``place``.

    Raises when a secret is missing: a component started without one would generate its own.
    """
    missing = [name for name in SECRET_NAMES if not secrets_env.get(name)]
    if missing:
        raise ValueError(
            f"missing shared secrets {', '.join(missing)}: generate them with "
            "`python -m localaws.deploy_settings secrets > .env`"
        )
    settings = read_env_file(SETTINGS_FILE)
    settings.update({name: secrets_env[name] for name in SECRET_NAMES})
    return localize(settings, place)


def localize(settings: Mapping[str, str], place: Place) -> dict[str, str]:
    """``settings`` with the container locations replaced by ``place``'s."""
    swaps = [
        (CONTAINERS.database, place.database),
        (CONTAINERS.broker, place.broker),
        (CONTAINERS.api, place.api),
        (CONTAINERS.public_url, place.public_url),
        (CONTAINERS.repo, place.repo),
        (CONTAINERS.home, place.home),
    ]
    ports = {
        "AIRFLOW__API__PORT": place.api_port,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": place.worker_log_port,
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": place.trigger_log_port,
    }
    moved = {}
    for key, value in settings.items():
        if key in ports:
            moved[key] = str(ports[key])
            continue
        for old, new in swaps:
            value = value.replace(old, new)
        moved[key] = value
    return moved


def generate_secrets() -> dict[str, str]:
    """Fresh values for the three shared secrets (the Fernet key in Fernet's own format:
    32 random bytes, url-safe base64)."""
    return {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


def placeholder_secrets() -> dict[str, str]:
    """The rehearsal's published secrets: acceptable only against the local stack."""
    rehearsal = read_env_file(REHEARSAL_FILE)
    return {name: rehearsal[name] for name in SECRET_NAMES}


def secret_problems(env: Mapping[str, str], profiles: str) -> list[str]:
    """Why a deployment must not start with these secrets, or nothing.

    Missing secrets are always refused; the rehearsal's public ones only outside the rehearsal
    profile (anyone can read them in the repository and sign tokens for this Airflow).
    """
    problems = [
        f"{name} is not set: every component would generate its own and tasks would fail "
        "with 'Invalid auth token'"
        for name in SECRET_NAMES
        if not env.get(name)
    ]
    if REHEARSAL_PROFILE in {p.strip() for p in profiles.split(",")}:
        return problems
    public = placeholder_secrets()
    problems += [
        f"{name} is the rehearsal's published placeholder; outside the rehearsal profile "
        "use a generated one"
        for name in SECRET_NAMES
        if env.get(name) and env[name] == public[name]
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["secrets"]:
        for key, value in generate_secrets().items():
            print(f"{key}={value}")
        return 0
    if args == ["check-secrets"]:
        problems = secret_problems(os.environ, os.environ.get("QDN_COMPOSE_PROFILES", ""))
        for problem in problems:
            print(f"refusing to start: {problem}", file=sys.stderr)
        if problems:
            print(
                "generate the secrets with `python -m localaws.deploy_settings secrets >> .env` "
                "(then restart every service), or rehearse on the local stack with "
                "`docker compose --env-file deploy/rehearsal.env up`",
                file=sys.stderr,
            )
            return 1
        print("shared secrets: set and not the rehearsal's placeholders")
        return 0
    print("usage: python -m localaws.deploy_settings secrets|check-secrets", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
