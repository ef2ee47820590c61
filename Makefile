# secure-api — the two commands a new user needs:
#   make api    provision the stack (local emulator unless .env points at AWS)
#   make test   run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

SWIFT        ?= swift
PYTHON       ?= python3
VENV         := .venv
VPY          := $(VENV)/bin/python
BIN          := .build/debug/secure-api
RELEASE_BIN  := .build/release/secure-api
# The local emulator's port (MOTO_PORT, its old name, is still read); one pid/log per port.
MOTO_PORT    ?= 5000
EMULATOR_PORT ?= $(MOTO_PORT)
EMULATOR_PID  = .emulator-$(EMULATOR_PORT).pid
EMULATOR_LOG  = .emulator-$(EMULATOR_PORT).log

# .env holds the user's target (tutorial variable names); read it when present.
-include .env
export

.PHONY: help deps build release venv test test-swift test-py bench emulator emulator-stop clean doctor \
        api delete status plan request verify _verify aws-env ensure-emulator embed

# A local endpoint in .env means the emulator must be running for the stack commands.
IS_LOCAL := $(if $(findstring 127.0.0.1,$(AWS_ENDPOINT_URL))$(findstring localhost,$(AWS_ENDPOINT_URL)),yes,)

help:
	@echo "make api          provision the stack (local emulator unless .env targets AWS)"
	@echo "make aws-env      write .env for your AWS account (asks for profile, region, password)"
	@echo "make delete       tear it down (reverse order of state.json)"
	@echo "make status|plan  show the stack's state / the calls create would make"
	@echo "make request      the demo: call the API without a token (401), with a token lacking the scope (403), with the right one (200)"
	@echo "make verify       prove the authorization matrix: every route x {no token, forged, expired, ..., right scope} -> expected status"
	@echo "make test         build, lint and run every test (crash sweeps on a seeded sample of kill points)"
	@echo "make test-crash   the crash sweeps at every kill point (before resolving executor/state/resource changes)"
	@echo "make bench        benchmarks (release build)"
	@echo "make emulator     start the local AWS emulator (moto + our extensions) on port $(EMULATOR_PORT); emulator-stop stops it"
	@echo "make doctor       show credentials source, region, endpoints and account"

deps:
	@if [ ! -f /usr/include/curl/curl.h ] && [ ! -f /usr/include/x86_64-linux-gnu/curl/curl.h ] && [ ! -f /usr/include/aarch64-linux-gnu/curl/curl.h ] || [ ! -f /usr/include/openssl/evp.h ]; then \
	  echo "missing system libraries: run 'sudo apt-get install -y libcurl4-openssl-dev libssl-dev'" >&2; exit 1; fi
	@command -v $(SWIFT) >/dev/null || { echo "missing Swift 6 toolchain: install it from swift.org (swift must be on PATH)" >&2; exit 1; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

$(VENV)/.installed: requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "missing $(PYTHON): install Python 3 (the tests and the emulator run in a venv of it)" >&2; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "python3 venv support missing: run 'sudo apt-get install -y python3-venv'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

.PHONY: lint test-crash

test: build venv lint test-swift test-py

# ruff (pinned in requirements-dev.txt, configured in ruff.toml) over the project's Python.
lint: venv
	$(VENV)/bin/ruff check tests tools lambda emulator

test-swift:
	$(SWIFT) test --no-parallel

# Each crash sweep runs a seeded sample of its kill points (the seed is printed;
# SECURE_API_CRASH_SEED=<seed> replays it); test-crash runs every kill point.
test-py:
	$(VPY) -m pytest -q -s tests

test-crash: build venv
	SECURE_API_CRASH_ALL=1 $(VPY) -m pytest -q -s -m crash tests

# Benchmarks (not tests): process start, create+delete on the emulator (0/50 ms latency,
# concurrent vs serial), and create+delete under 20 % faults. --write updates BENCHMARKS.md.
bench: release venv
	SECURE_API_BIN=$(CURDIR)/$(RELEASE_BIN) $(VPY) tools/bench_startup.py
	SECURE_API_BIN=$(CURDIR)/$(RELEASE_BIN) $(VPY) tools/bench_stack.py --write
	SECURE_API_BIN=$(CURDIR)/$(RELEASE_BIN) $(VPY) tools/bench_faults.py --write
	SECURE_API_BIN=$(CURDIR)/$(RELEASE_BIN) $(VPY) tools/bench_resume.py --write

doctor: build
	$(BIN) doctor

emulator: venv
	@if [ -f $(EMULATOR_PID) ] && kill -0 $$(cat $(EMULATOR_PID)) 2>/dev/null; then \
	  echo "local emulator already running at http://127.0.0.1:$(EMULATOR_PORT) (pid $$(cat $(EMULATOR_PID)))"; \
	else \
	  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup $(VPY) -m emulator -H 127.0.0.1 -p $(EMULATOR_PORT) >$(EMULATOR_LOG) 2>&1 & echo $$! > $(EMULATOR_PID); \
	  for i in $$(seq 1 100); do curl -sf http://127.0.0.1:$(EMULATOR_PORT)/moto-api/ >/dev/null && break; sleep 0.1; done; \
	  curl -sf http://127.0.0.1:$(EMULATOR_PORT)/moto-api/ >/dev/null && kill -0 $$(cat $(EMULATOR_PID)) 2>/dev/null || \
	    { rm -f $(EMULATOR_PID); echo "emulator failed to start on port $(EMULATOR_PORT) (in use?): see $(EMULATOR_LOG)" >&2; exit 1; }; \
	  echo "local emulator started at http://127.0.0.1:$(EMULATOR_PORT) (pid $$(cat $(EMULATOR_PID)), log $(EMULATOR_LOG))"; \
	fi

emulator-stop:
	@if [ -f $(EMULATOR_PID) ]; then pid=$$(cat $(EMULATOR_PID)); kill $$pid 2>/dev/null || true; \
	  for i in $$(seq 1 50); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	  rm -f $(EMULATOR_PID); echo "local emulator on port $(EMULATOR_PORT) stopped"; \
	else echo "local emulator not running on port $(EMULATOR_PORT)"; fi

# --- the stack -------------------------------------------------------------------------
# `make api` on a machine with no .env writes one for the local emulator and says so, then
# re-runs itself so the new .env is read.
api: build
	@if [ ! -f .env ]; then tools/env-setup.sh local $(EMULATOR_PORT); fi
	@$(MAKE) --no-print-directory _api

_api: ensure-emulator
	$(BIN) create

delete: build
	@if [ ! -f .env ]; then echo "No .env: nothing was provisioned with make api here."; \
	  if [ -f state.json ]; then echo "state.json exists: run 'secure-api delete' with the settings it was created with." >&2; exit 1; fi; \
	else $(MAKE) --no-print-directory _delete; fi

_delete: ensure-emulator
	$(BIN) delete

status: build
	@$(MAKE) --no-print-directory _status

_status: ensure-emulator
	$(BIN) status

plan: build
	$(BIN) plan

# The tutorial's demo: no token (401), then a token (the answer depends on its scopes).
request: build
	@$(MAKE) --no-print-directory _request

_request: ensure-emulator
	-$(BIN) request GET /hello --no-token
	-$(BIN) request GET /hello --password
	-$(BIN) request POST /hello --password
	$(BIN) request GET /hello --client-credentials --scope HelloAPI/hello.read
	-$(BIN) request POST /hello --client-credentials --scope HelloAPI/hello.read
	$(BIN) request POST /hello --client-credentials --scope HelloAPI/hello.write

# The authorization matrix: every route x every kind of token -> the status API Gateway must answer.
verify: build
	@$(MAKE) --no-print-directory _verify

_verify: ensure-emulator
	$(BIN) verify

aws-env:
	@tools/env-setup.sh aws

# Re-embed lambda/authorizer/authorizer.py into the Swift sources after editing it.
embed:
	$(PYTHON) tools/embed_authorizer.py

ensure-emulator:
	@if [ -n "$(IS_LOCAL)" ]; then \
	  port=$$(echo "$(AWS_ENDPOINT_URL)" | sed -nE 's#^https?://[^/:]+:([0-9]+).*#\1#p'); \
	  [ -n "$$port" ] || { echo "AWS_ENDPOINT_URL=$(AWS_ENDPOINT_URL) names no port: write it as http://127.0.0.1:PORT" >&2; exit 1; }; \
	  $(MAKE) --no-print-directory emulator EMULATOR_PORT=$$port; fi

clean:
	rm -rf .build $(VENV) .emulator-*.pid .emulator-*.log
