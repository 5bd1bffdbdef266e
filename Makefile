# The two commands that set everything up on a fresh machine:
#   make demo   a full release rehearsal on the local AWS stack
#   make test   the whole test suite
# Both create the virtualenv (and install Chromium for the browser tests) when missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR):$(CURDIR)/site/api

.PHONY: venv browser test lint demo up down bootstrap stage bench compose-config airflow secrets clean \
	infra infra-lint package

venv: $(STAMP)

# Re-installs only when the pins change; pip alone decides nothing (constraints.txt locks it all).
$(STAMP): requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

# Browser tests drive Debian's Chromium; Playwright's own browser download is never used.
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium >/dev/null; }

test: venv browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# infra/quickdumpnow.yaml is rendered from qdn.* and cf/ (docs/production.md); never edit it.
infra: venv
	$(PY) -m infra.render

infra-lint: venv
	$(PY) -m infra.render --check
	$(VENV)/bin/cfn-lint infra/quickdumpnow.yaml

# The track API's Lambda zip, artifacts/track-api.zip, for the runtime the template names; prints
# its SHA-256 and the S3 key to upload it as (docs/production.md). Wheels are cached in
# artifacts/wheels, so a rebuild needs no network.
package: venv
	$(PY) -m infra.package_lambda

up: venv
	$(PY) -m localaws up

# Stops the stack and the Airflow `make airflow` started (process groups recorded in .stack/).
down: venv
	$(PY) -m localaws down

bootstrap: venv
	$(PY) -m localaws bootstrap

stage: venv
	eval "$$($(PY) -m localaws env)" && $(PY) -m qdn.cli stage

demo: venv
	$(PY) -m localaws.demo

# Airflow's UI on the local stack (LocalExecutor, SQLite in .stack/airflow-ui): starts the stack if
# needed, bootstraps it, sets aws_default and the Variables, prints the URL and the login.
# PORT=8081 make airflow for another port; make down stops it.
airflow: venv
	$(PY) -m localaws airflow --port $(or $(PORT),8080)

# The deployment's three shared secrets, appended to .env (docker compose reads it); refuses to
# overwrite secrets already there, which would lock out every running component.
secrets: venv
	@if grep -qs '^AIRFLOW__API_AUTH__JWT_SECRET=' .env; then \
	  echo ".env already has the shared secrets; to rotate them see docs/operations.md"; exit 1; fi
	$(PY) -m localaws.deploy_settings secrets >> .env && chmod 600 .env && echo "secrets written to .env"

# Every benchmark runs, even after one misses its target; the last line names those that did.
bench: venv
	@failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "missed a target:$$failed"; exit 1; fi; echo "every target met"

# Both ways to run it: production (.env, real AWS) and the rehearsal profile (local AWS).
compose-config: venv
	$(VENV)/bin/docker-compose -f docker-compose.yaml config --quiet && \
	$(VENV)/bin/docker-compose -f docker-compose.yaml --env-file deploy/rehearsal.env config --quiet && \
	echo "docker-compose.yaml is valid (with and without the rehearsal profile)"

clean: down
	rm -rf .stack artifacts
