# winepipe: `make run` runs the pipeline on generated sample data, `make test` runs the test suite.
# Both set everything up first: system packages, the virtual environment and the local stack.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATE ?= $(shell date +%F)
SCALE ?= 1.0
SEED ?= 42
WORKERS ?= 3
SFTP_ROOT := .stack/sftp
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help system-packages venv up down status sample run test bench clean

help:
	@echo "make run     set up, start the local stack, generate today's sample batch, run LoadWine"
	@echo "make test    set up, start the local stack, run the whole test suite"
	@echo "make up|down|status   the local stack (sshd, S3, MariaDB, Redis, luigid) on loopback"
	@echo "make sample  generate the sample batch for DATE=$(DATE) at SCALE=$(SCALE)"
	@echo "make bench SCALE=1    the benchmark (bench/RESULTS.md)"

system-packages:
	@bash devstack/install-system-packages.sh

# The stamp is rebuilt whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	@$(MAKE) --no-print-directory system-packages
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@# The project's packages on the venv's path: `luigi --module tasks` then works from cron and anywhere.
	$(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' | xargs -I{} sh -c 'echo "$(CURDIR)" > {}/winepipe.pth'
	touch $@

venv: $(VENV)/.installed

up: venv
	$(PY) -m devstack up

down:
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "no virtual environment: nothing was started"; fi

status:
	$(PY) -m devstack status

# Skipped when the batch is already there: the generator is deterministic and writes files atomically.
$(SFTP_ROOT)/$(DATE)/winemag-data_first150k.csv: | venv
	$(PY) -m tasks.sample --date $(DATE) --scale $(SCALE) --seed $(SEED) --out $(SFTP_ROOT)/$(DATE)

sample: $(SFTP_ROOT)/$(DATE)/winemag-data_first150k.csv

run: up sample
	$(VENV)/bin/luigi --module tasks LoadWine --date $(DATE) --workers $(WORKERS)
	@$(PY) -m tasks.summary --date $(DATE)

test: up
	$(PY) -m pytest $(PYTEST_ARGS)

# BENCH_ARGS passes options through, e.g. BENCH_ARGS="--repeat 5 --only pipeline".
bench: up
	$(PY) -m bench --scale $(SCALE) $(BENCH_ARGS)

clean: down
	rm -rf .stack
