# Cerebellum — build, run and test.  `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
BOARD ?= boards/sim-two-rooms.yaml
APT := apt-get -o DPkg::Lock::Timeout=600
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests need (bookworm names).
DEB_PACKAGES := pkg-config libopenblas-dev libv4l-dev libgpiod-dev libi2c-dev tmux
BIN := .build/$(CONFIG)/cerebellum
# What `make run` does: arm and run ten episodes of the default simulated robot.
RUN_ARGS ?= --arm --episodes 10

.PHONY: deps build run test test-unit coverage-safety bench bench-loop clean help

help:
	@echo "make run              build and run the default simulated robot"
	@echo "make test             install what is missing, build, run every test suite"
	@echo "make deps             install missing Debian packages (idempotent)"
	@echo "make build            release build of the cerebellum tool"
	@echo "make bench            all benchmarks (table and JSON under .bench/)"
	@echo "make coverage-safety  Safety module line coverage, fails below 100 %"

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) $(APT) update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT) install -y -q --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

build: deps
	$(SWIFT) build -c $(CONFIG) --product cerebellum

run: build
	$(BIN) run --board $(BOARD) $(RUN_ARGS)

test: deps test-unit coverage-safety

test-unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

coverage-safety: deps
	./scripts/coverage-safety.sh

bench: build bench-loop

bench-loop:
	@mkdir -p .bench
	$(BIN) bench loop --json .bench/loop.json

clean:
	rm -rf .build .bench
