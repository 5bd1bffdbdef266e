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

.PHONY: venv browser test lint demo up down bootstrap stage bench compose-config clean

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

up: venv
	$(PY) -m localaws up

down: venv
	$(PY) -m localaws down

bootstrap: venv
	$(PY) -m localaws bootstrap

stage: venv
	eval "$$($(PY) -m localaws env)" && $(PY) -m qdn.cli stage

demo: venv
	$(PY) -m localaws.demo

# Every benchmark runs, even after one misses its target; the last line names those that did.
bench: venv
	@failed=""; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "missed a target:$$failed"; exit 1; fi; echo "every target met"

compose-config: venv
	$(VENV)/bin/docker-compose -f docker-compose.yaml config --quiet && echo "docker-compose.yaml is valid"

clean: down
	rm -rf .stack artifacts
