# Makefile -- entry points of the project. `make test` is the whole run
# from a fresh Debian 12 machine (what CI runs); `make up` / `make down`
# bring the local stack (servers under var/ + the services) up and down.

SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Exports REDIS_URL, MONGO_URL, AMQP_URI, MOTO_URL, ABACO_API from abaco.conf/env.
TEST_ENV := . scripts/lib.sh && export_test_env
# ctest against the live servers (see run_unit_tests in scripts/lib.sh).
UNIT := . scripts/lib.sh && run_unit_tests

.PHONY: build deps up down images compose-up compose-down compose-test compose-v2-test samples unit functional test bench asan clean distclean deb ansible-test

build:
	@[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build build -j$(JOBS)

deps:
	bash scripts/deps.sh

up:
	bash scripts/deps.sh
	bash scripts/up.sh

down:
	bash scripts/down.sh

# The platform's images (abaco/core:$ABACO_IMAGE_TAG, default dev): scripts/images.sh.
images:
	bash scripts/images.sh

# The compose stack (compose/compose.yaml, settings in compose/.env):
# scripts/compose.sh. MONITORING=1 adds Prometheus; VOLUMES=1 makes
# compose-down delete the data volumes too.
compose-up:
	bash scripts/compose.sh up $(if $(filter 1,$(MONITORING)),--monitoring)

compose-down:
	bash scripts/compose.sh down $(if $(filter 1,$(VOLUMES)),--volumes)

# Images, then a throw-away stack (own project, free ports) through
# tests/compose, torn down to nothing.
compose-test:
	bash scripts/deps.sh
	bash scripts/compose.sh test

# The same test with Compose v2+ (ABACO_COMPOSE=v2): the Compose CLI pinned
# in scripts/lib.sh (COMPOSE_V2_VERSION), built once from the Go module
# proxy and cached in var/tools/compose/<version>/ (Debian 12 packages only
# docker-compose 1.29, which compose-test uses). CI runs it after make test.
compose-v2-test:
	bash scripts/deps.sh
	ABACO_COMPOSE=v2 bash scripts/compose.sh test

samples:
	$(TEST_ENV) && bash scripts/samples.sh

unit: build
	$(UNIT) build

functional:
	$(TEST_ENV) && python3 -m pytest -q tests/functional

test:
	bash scripts/test.sh

# Debian packages of the platform and of FerretDB, under var/deb/.
deb:
	bash scripts/build_deb.sh

# Deploys with ansible/ onto four test hosts made on this machine (network
# namespaces + systemd-nspawn), end to end, then tears them down. Several
# minutes; needs root. CI runs it after `make test` (.ci/run).
ansible-test:
	bash scripts/ansible_test.sh

bench: build
	@if [ -f bench/run.sh ]; then bash bench/run.sh; \
	else echo "==> no bench/run.sh yet: nothing to run"; fi

asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DABACO_ASAN=ON -DABACO_UBSAN=ON
	cmake --build build-asan -j$(JOBS)
	$(UNIT) build-asan

clean:
	rm -rf build build-asan

# Also drops var/ (server data, logs, the FerretDB build) after stopping ours.
distclean: down clean
	rm -rf var
