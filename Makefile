# Cerebellum — build, run and test.  `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
BOARD ?= boards/sim-two-rooms.yaml
APT := apt-get -o DPkg::Lock::Timeout=600
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests need (bookworm names).
DEB_PACKAGES := pkg-config libopenblas-dev libv4l-dev libgpiod-dev libi2c-dev zlib1g-dev tmux socat picocom
# For running the ARM int8 kernels and the aarch64 binary under emulation (make test-kernels-arm64, test-arm64),
# and qemu's dynamic build for its plugins (make count-arm64).
CROSS_PACKAGES := qemu-user-static qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# For the hardware-in-the-loop guests (make hil): QEMU, busybox as the guest's PID 1, and what building
# gpio-sim against Debian's kernel headers needs.
HIL_PACKAGES := qemu-system-x86 qemu-system-arm busybox-static cpio kmod xz-utils bc flex bison libelf-dev libssl-dev gcc-12 \
	gcc-aarch64-linux-gnu gcc-12-aarch64-linux-gnu
HIL_DIR ?= .hil
# Python packages the tests use as independent references (numpy fixtures, safetensors round trip,
# MCAP readback, a WebSocket client for the live view, Gymnasium for the bridge's test environments), pinned.
PIP_PACKAGES := numpy==2.4.6 safetensors==0.8.0 mcap==1.6.0 websockets==15.0.1 gymnasium==1.4.0
# The shipped Gymnasium boards' worlds (boards/gym-*.yaml): CarRacing-v3 needs Box2D and pygame; MiniWorld
# renders with pyglet through OpenGL, headless on Mesa's EGL (Debian's packages below).
GYM_PACKAGES := gymnasium==1.4.0 box2d==2.3.10 pygame==2.6.1 miniworld==2.1.0 pyglet==1.5.31
GYM_DEB_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libglu1-mesa
PYTHON ?= python3
CLANG ?= clang
BIN := .build/$(CONFIG)/cerebellum
# What `make run` does: arm and run ten episodes of the default simulated robot.
RUN_ARGS ?= --arm --episodes 10
# The shipped world model and how `make model` reproduces it (two-rooms data, fixed and random walls; byte for
# byte on the CPU class that trained it, a model of the same recipe elsewhere: OpenBLAS's kernels round differently).
MODEL ?= models/two-rooms.safetensors
MODEL_DATA ?= .data
MODEL_FIXED_EPISODES ?= 400
MODEL_RANDOM_EPISODES ?= 800
MODEL_STEPS ?= 100
MODEL_EPOCHS ?= 4
# Chance per exploration step of a held full-effort push (record --pushes). 0 for the shipped model: pushes
# teach the fixed wall but not random doors (docs/world-model.md).
MODEL_PUSHES ?= 0

# The libFuzzer harnesses (Tests/Fuzz): one per parser of untrusted input, FUZZ_SECONDS each.
FUZZ_TARGETS := model png mcap yaml console websocket
FUZZ_SECONDS ?= 60
FUZZ_BIN := .build-fuzz/release/cerebellum-fuzz

.PHONY: test-format format test-readme test-architecture mutation-safety fuzz fuzz-build fuzz-seeds deps deps-python deps-gym model-gym model-gym-carracing model-gym-miniworld test-gym eval-gym deps-cross deps-hil build-arm64 test-arm64 count-arm64 hil hil-amd64 hil-arm64 test-calibrate-tmux test-blas-fallback build run test test-unit test-kernels test-kernels-arm64 test-teleop-tmux coverage-safety \
	bench bench-loop bench-encoder bench-planner bench-stalls deps-peer eval-scaling nn-fixtures model model-data eval-model eval eval-smoke test-drive-train-goal drive-to-goal test-replay replay-reference test-live-view clean help

# Installs whichever of the Debian packages $(1) are missing (idempotent); $(2) names them when none are.
define install-missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) $(APT) update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT) install -y -q --no-install-recommends $$missing; \
	else echo "deps: $(2) present"; fi
endef

help:
	@echo "make run              build and run the default simulated robot"
	@echo "make test             install what is missing, build, run every test suite"
	@echo "make test-format      swift-format lint (140 columns) over Sources and Tests; make format rewrites them"
	@echo "make test-readme      every cerebellum command and flag the README and docs show exists (--help)"
	@echo "make test-architecture  docs/architecture.md's module graph against Package.swift, every arrow down"
	@echo "make deps             install missing Debian packages (idempotent)"
	@echo "make build            release build of the cerebellum tool"
	@echo "make bench            all benchmarks (table and JSON under .bench/)"
	@echo "make coverage-safety  Safety module line coverage, fails below 100 %"
	@echo "make test-kernels-arm64  the int8 kernels' ARM variant under qemu-aarch64, against portable"
	@echo "make build-arm64      an aarch64 cerebellum (release), cross-compiled with Debian sid's Swift 6.2 (docs/arm64.md)"
	@echo "make test-arm64       the unit tests built for aarch64 (optimized), run under qemu-aarch64 -cpu max and -cpu cortex-a72"
	@echo "make count-arm64      instructions per tick phase on a Cortex-A72 and A76 (qemu plugin), the time range on a Pi 4 and Pi 5"
	@echo "make nn-fixtures      regenerate the numpy reference outputs for the layer tests"
	@echo "make model            record the two-rooms data and train the shipped model (≤ 20 min on 2 cores)"
	@echo "make eval-model       k-step prediction error and the position probe of the shipped model"
	@echo "make model-car        record drives in the car-rooms house, train models/car-rooms, build its place memory (model-diffdrive: the base's)"
	@echo "make model-gym        record CarRacing and MiniWorld through the Gymnasium bridge, train models/gym-*"
	@echo "make test-gym         the Gymnasium bridge on the real worlds: run CarRacing, record/train/eval both"
	@echo "make mutation-safety  mutation testing of Sources/Safety (MUTANTS=N: a deterministic sample)"
	@echo "make fuzz             every parser of untrusted input under libFuzzer + ASan, FUZZ_SECONDS (60) each"
	@echo "make hil              driver tests against the kernel's vivid, gpio-sim and i2c-stub in QEMU guests (x86_64, arm64)"
	@echo "make eval-scaling     goal reaching at planning budgets 4.5 … 0.55 ms, and beside a busy process (reports/eval-scaling*)"
	@echo "make bench-planner    the planner's predictor kernels against this core's peak and ONNX Runtime"
	@echo "make eval             goal reaching, 200 episodes per scenario (two-rooms, car, diffdrive), with baselines (reports/)"
	@echo "make drive-to-goal    drive from the console while recording, train on it, run toward a captured goal (5 min drive)"
	@echo "make replay-reference record the committed run that make test replays (after a change meant to alter decisions)"

deps:
	$(call install-missing,$(DEB_PACKAGES),all Debian packages)

deps-python:
	@$(PYTHON) -c "import numpy, safetensors, mcap, websockets, gymnasium" 2>/dev/null && echo "deps: python packages present" || \
	  $(PYTHON) -m pip install -q --root-user-action=ignore $(PIP_PACKAGES)

# The Python side of the Gymnasium bridge for the shipped worlds (scripts/gym_host.py runs them).
deps-gym: deps-python
	$(call install-missing,$(GYM_DEB_PACKAGES),OpenGL (EGL) packages)
	@$(PYTHON) -c "import gymnasium, Box2D, pygame, miniworld, pyglet" 2>/dev/null && echo "deps: gymnasium worlds present" || \
	  $(PYTHON) -m pip install -q --root-user-action=ignore $(GYM_PACKAGES)

# ONNX Runtime as the planner benchmark's peer (pinned).
PEER_PACKAGES := onnxruntime==1.31.1 onnx==1.23.2
deps-peer: deps-python
	@$(PYTHON) -c "import onnxruntime, onnx" 2>/dev/null && echo "deps: onnxruntime present" || \
	  $(PYTHON) -m pip install -q --root-user-action=ignore $(PEER_PACKAGES)

deps-cross:
	$(call install-missing,$(CROSS_PACKAGES),cross tools)

deps-hil:
	$(call install-missing,$(HIL_PACKAGES),hil tools)

build: deps
	$(SWIFT) build -c $(CONFIG) --product cerebellum

run: build $(if $(findstring gym-,$(BOARD)),deps-gym)
	$(BIN) run --board $(BOARD) $(RUN_ARGS)

test: deps deps-python test-format test-architecture test-readme test-unit test-kernels test-kernels-arm64 test-teleop-tmux test-calibrate-tmux \
	test-drive-train-goal test-replay test-live-view coverage-safety eval-smoke test-blas-fallback

# swift-format (it ships with the toolchain) at 140 columns, 4-space indents (.swift-format): any finding
# fails, and so does a line over 140 columns that it cannot break (a string literal, a comment: scripts/
# check-line-length.py). `make format` rewrites the sources in that style.
test-format:
	$(SWIFT) format lint --strict --recursive Sources Tests
	$(PYTHON) scripts/check-line-length.py

format:
	$(SWIFT) format --in-place --recursive Sources Tests

# Every `cerebellum …` command the README and docs show, run with --help: the command and each flag exist.
test-readme: build
	$(PYTHON) scripts/check-readme-commands.py $(BIN) README.md docs/*.md hil/README.md

# docs/architecture.md's module table against Package.swift: the same graph, every arrow to a lower layer.
test-architecture:
	$(PYTHON) scripts/check-architecture.py

# Every test target but the shipped model's quality checks (eval-smoke runs those).
test-unit: deps deps-python
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip ShippedModelQualityTests

# An operator session as a person would have it: picocom on one end of a socat pty pair, the
# controller on the other, keys through tmux send-keys, screens checked (debug build from test-unit).
test-teleop-tmux: test-unit
	./scripts/teleop-tmux-test.sh .build/debug/cerebellum

# A robot owner's path on the simulated board: drive from the console while recording, data info, train on
# the recording, goal capture, run --goal with the new model (scripts/drive-train-goal-test.sh; a short drive
# and a few training steps: it checks that the path works, not how well the model does).
test-drive-train-goal: test-unit
	./scripts/drive-train-goal-test.sh .build/debug/cerebellum

# The same path at a size that learns something: a 5-minute drive, 3000 training steps (release build);
# it prints how close the run with the new model came to the goal, then evaluates the model on
# DRIVE_EVAL_EPISODES goals against an exploration-trained model of the same data size (fails under 60 %).
DRIVE_EVAL_EPISODES ?= 40
drive-to-goal: build
	DRIVE_SECONDS=300 TRAIN_STEPS=3000 EVAL_EPISODES=$(DRIVE_EVAL_EPISODES) ./scripts/drive-train-goal-test.sh $(BIN)

# A bench calibration session as a person would have it: tmux, keystrokes, screens checked, the saved file
# checked and used by check-board and run (scripts/calibrate-tmux-test.sh; debug build from test-unit).
test-calibrate-tmux: test-unit
	./scripts/calibrate-tmux-test.sh .build/debug/cerebellum

# Every int8 GEMM variant this CPU runs, bit-for-bit against the portable one, and every fp32 dense
# variant (the planner's rollouts) against a double-precision reference (plain C, -O2).
test-kernels:
	@mkdir -p .build-kernels
	$(CLANG) -O2 -ffp-contract=off Sources/CKernels/kernels.c Sources/CKernels/dense.c Tests/KernelCheck/check_kernels.c \
	  -I Sources/CKernels/include -lm -o .build-kernels/check-native
	.build-kernels/check-native
	$(CLANG) -O2 -ffp-contract=off Sources/CKernels/dense.c Tests/KernelCheck/check_dense.c \
	  -I Sources/CKernels/include -lm -o .build-kernels/check-dense-native
	.build-kernels/check-dense-native

# The NEON SDOT variant, cross-compiled and run under qemu-aarch64 as a CPU with dot product.
test-kernels-arm64: deps-cross
	@mkdir -p .build-kernels
	$(CLANG) --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -fuse-ld=lld -static -O2 -ffp-contract=off \
	  -B/usr/lib/gcc-cross/aarch64-linux-gnu/12 -L/usr/lib/gcc-cross/aarch64-linux-gnu/12 \
	  Sources/CKernels/kernels.c Sources/CKernels/dense.c Tests/KernelCheck/check_kernels.c -I Sources/CKernels/include -lm \
	  -o .build-kernels/check-arm64
	qemu-aarch64-static -cpu max .build-kernels/check-arm64 neon-dot neon
	qemu-aarch64-static -cpu cortex-a72 .build-kernels/check-arm64 neon
	$(CLANG) --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -fuse-ld=lld -static -O2 -ffp-contract=off \
	  -B/usr/lib/gcc-cross/aarch64-linux-gnu/12 -L/usr/lib/gcc-cross/aarch64-linux-gnu/12 \
	  Sources/CKernels/dense.c Tests/KernelCheck/check_dense.c -I Sources/CKernels/include -lm \
	  -o .build-kernels/check-dense-arm64
	qemu-aarch64-static -cpu max .build-kernels/check-dense-arm64 neon
	qemu-aarch64-static -cpu cortex-a72 .build-kernels/check-dense-arm64 neon

nn-fixtures: deps-python
	$(PYTHON) scripts/nn-fixtures.py

coverage-safety: deps
	./scripts/coverage-safety.sh

bench: build bench-loop bench-encoder bench-planner bench-stalls

bench-loop:
	@mkdir -p .bench
	$(BIN) bench loop --json .bench/loop.json

bench-encoder:
	@mkdir -p .bench
	$(BIN) bench encoder --json .bench/encoder.json

# The planner's predictor passes and MPPI iterations per dense kernel, against this core's peak and
# ONNX Runtime on the same weights (one thread; skipped with a message where onnxruntime is missing).
bench-planner: deps-peer
	@mkdir -p .bench
	$(BIN) bench planner --peer onnxruntime --json .bench/planner.json

# This machine's own stalls (30 s of one CPU): what no timed figure here can be shorter than.
bench-stalls:
	@mkdir -p .bench
	$(BIN) bench stalls --seconds 30 --json .bench/stalls.json

# Exploration data through the loop (governor in the path), MCAP under $(MODEL_DATA)/ (not committed).
model-data: build
	rm -rf $(MODEL_DATA)/two-rooms $(MODEL_DATA)/two-rooms-random
	$(BIN) record --world two-rooms --episodes $(MODEL_FIXED_EPISODES) --steps $(MODEL_STEPS) --pushes $(MODEL_PUSHES) --seed 1 --out $(MODEL_DATA)/two-rooms
	$(BIN) record --world two-rooms-random --episodes $(MODEL_RANDOM_EPISODES) --steps $(MODEL_STEPS) --pushes $(MODEL_PUSHES) --seed 2 --out $(MODEL_DATA)/two-rooms-random

# The shipped model: record, train (both cores), export int8, then check it on fresh held-out episodes.
model: model-data
	$(BIN) train $(MODEL_DATA)/two-rooms $(MODEL_DATA)/two-rooms-random --out $(MODEL) --epochs $(MODEL_EPOCHS) --threads 2 --seed 1
	$(BIN) eval-model $(MODEL) --require-r2 0.95 --json $(basename $(MODEL)).eval.json

eval-model: build
	$(BIN) eval-model $(MODEL) --require-r2 0.95

# The rooms worlds' shipped models (car-rooms, diffdrive-rooms): drives by the map-knowing route driver to random
# places through the house (effort noise 0.3) and a little random exploration, trained (both cores); then a place
# memory of further drives (seed 3, held apart from the training data), and eval-model on fresh drives (seed 900001).
ROOMS_ROUTE_EPISODES ?= 180
ROOMS_RANDOM_EPISODES ?= 60
ROOMS_MEMORY_EPISODES ?= 30
ROOMS_EPOCHS ?= 3
model-car: build
	$(MAKE) --no-print-directory rooms-model ROOMS=car-rooms ROOMS_BOARD=boards/sim-car.yaml
model-diffdrive: build
	$(MAKE) --no-print-directory rooms-model ROOMS=diffdrive-rooms ROOMS_BOARD=boards/sim-diffdrive.yaml
rooms-model:
	rm -rf $(MODEL_DATA)/$(ROOMS)
	$(BIN) record --board $(ROOMS_BOARD) --driver route --noise 0.3 --episodes $(ROOMS_ROUTE_EPISODES) --steps 400 --seed 1 \
	  --out $(MODEL_DATA)/$(ROOMS)/route
	$(BIN) record --board $(ROOMS_BOARD) --episodes $(ROOMS_RANDOM_EPISODES) --steps 100 --seed 2 --out $(MODEL_DATA)/$(ROOMS)/random
	$(BIN) record --board $(ROOMS_BOARD) --driver route --noise 0.2 --episodes $(ROOMS_MEMORY_EPISODES) --steps 400 --seed 3 \
	  --out $(MODEL_DATA)/$(ROOMS)/memory
	$(BIN) train $(MODEL_DATA)/$(ROOMS)/route $(MODEL_DATA)/$(ROOMS)/random --out models/$(ROOMS).safetensors \
	  --epochs $(ROOMS_EPOCHS) --threads 2 --seed 1
	$(BIN) memory build $(MODEL_DATA)/$(ROOMS)/memory --model models/$(ROOMS).safetensors --out models/$(ROOMS).memory.safetensors
	$(BIN) eval-model models/$(ROOMS).safetensors --board $(ROOMS_BOARD) --episodes 40 --steps 200 --json models/$(ROOMS).eval.json

# The Gymnasium worlds' shipped models (boards/gym-*.yaml): random exploration recorded through the bridge
# (CarRacing: held pushes in one half, slower-changing efforts in the other), `train`, then `eval-model`.
GYM_EPOCHS ?= 6
model-gym: model-gym-carracing model-gym-miniworld
model-gym-carracing: build deps-gym
	rm -rf $(MODEL_DATA)/gym-carracing
	$(BIN) record --board boards/gym-carracing.yaml --episodes 80 --steps 150 --seed 1 --pushes 0.05 --out $(MODEL_DATA)/gym-carracing/a
	$(BIN) record --board boards/gym-carracing.yaml --episodes 80 --steps 150 --seed 2 --persistence 0.9 --out $(MODEL_DATA)/gym-carracing/b
	$(BIN) train $(MODEL_DATA)/gym-carracing/a $(MODEL_DATA)/gym-carracing/b --out models/gym-carracing.safetensors \
	  --epochs $(GYM_EPOCHS) --threads 2 --seed 1
	$(BIN) eval-model models/gym-carracing.safetensors --board boards/gym-carracing.yaml --episodes 20 --steps 150 --seed 7 \
	  --json models/gym-carracing.eval.json
model-gym-miniworld: build deps-gym
	rm -rf $(MODEL_DATA)/gym-miniworld
	$(BIN) record --board boards/gym-miniworld.yaml --episodes 200 --steps 150 --seed 1 --out $(MODEL_DATA)/gym-miniworld/explore
	$(BIN) train $(MODEL_DATA)/gym-miniworld/explore --out models/gym-miniworld.safetensors --epochs $(GYM_EPOCHS) --threads 2 --seed 1
	$(BIN) eval-model models/gym-miniworld.safetensors --board boards/gym-miniworld.yaml --episodes 20 --steps 150 --seed 7 \
	  --json models/gym-miniworld.eval.json

# The bridge on the real worlds (CI runs it): `run` drives CarRacing paced in real time with the shipped model and
# must not fault; a short record → train → eval goes through the bridge on both worlds; the reports are checked.
test-gym: build deps-gym
	$(BIN) run --board boards/gym-carracing.yaml --arm --duration 6 --trajectory none --json .build/gym-run.json
	python3 -c "import json; r = json.load(open('.build/gym-run.json')); print('test-gym: run', r['loop']['ticks'], 'ticks'); \
	  assert r['loop']['ticks'] >= 100 and r['actuator_writes'] >= 100 and r['latched_faults'] == 'none' and r['fault_events'] == 0, r"
	rm -rf .build/gym-data
	for b in carracing miniworld; do \
	  $(BIN) record --board boards/gym-$$b.yaml --episodes 4 --steps 40 --seed 9 --out .build/gym-data/$$b && \
	  $(BIN) train .build/gym-data/$$b --out .build/gym-data/$$b.safetensors --max-steps 30 --batch 16 --threads 2 && \
	  $(BIN) eval --scenario gymnasium --board boards/gym-$$b.yaml --model .build/gym-data/$$b.safetensors --episodes 2 \
	    --png .build/gym-data/$$b.png --json .build/gym-data/$$b.json && \
	  python3 -c "import json, sys; r = json.load(open(sys.argv[1])); p = r['policies']; \
	    assert [q['policy'] for q in p] == ['planner (mppi)', 'greedy horizon-1', 'random'] and all(len(q['episodes']) == 2 for q in p), r; \
	    print('test-gym: eval', sys.argv[1], [q['successes'] for q in p])" .build/gym-data/$$b.json || exit 1; \
	done

EVAL_EPISODES ?= 200
eval: build
	$(BIN) eval --scenario two-rooms --episodes $(EVAL_EPISODES) --model $(MODEL) --json reports/eval-two-rooms.json
	$(BIN) eval --scenario two-rooms-random --episodes $(EVAL_EPISODES) --model $(MODEL) --json reports/eval-two-rooms-random.json
	$(BIN) eval --scenario car-rooms --episodes $(EVAL_EPISODES) --json reports/eval-car-rooms.json
	$(BIN) eval --scenario diffdrive-rooms --episodes $(EVAL_EPISODES) --json reports/eval-diffdrive-rooms.json
	$(MAKE) --no-print-directory eval-gym

# Goal reaching through the Gymnasium bridge on the shipped worlds (GYM_EVAL_EPISODES each).
GYM_EVAL_EPISODES ?= 50
eval-gym: build deps-gym
	$(BIN) eval --scenario gymnasium --board boards/gym-carracing.yaml --episodes $(GYM_EVAL_EPISODES) \
	  --png reports/eval-gym-carracing.png --json reports/eval-gym-carracing.json
	$(BIN) eval --scenario gymnasium --board boards/gym-miniworld.yaml --episodes $(GYM_EVAL_EPISODES) \
	  --png reports/eval-gym-miniworld.png --json reports/eval-gym-miniworld.json

# Goal reaching against the planning budget (4.5, 2.25, 1.1, 0.55 ms per tick: cores with 1, 1/2, 1/4, 1/8
# of this one's compute), both scenarios; then the same on a core shared with a busy process (taskset),
# and a real-time run beside it: the loop keeps its rate, the planner does less and says so.
BUSY_CPU ?= 0
eval-scaling: build
	$(BIN) eval-scaling --episodes $(EVAL_EPISODES) --model $(MODEL) --json reports/eval-scaling.json --png reports/eval-scaling.png
	@taskset -c $(BUSY_CPU) sh -c 'while :; do :; done' & busy=$$!; trap "kill $$busy" EXIT; \
	  taskset -c $(BUSY_CPU) $(BIN) eval-scaling --episodes $(EVAL_EPISODES) --model $(MODEL) --budgets 4.5 1.1 --label "core shared with a busy process" \
	    --json reports/eval-scaling-busy.json --png reports/eval-scaling-busy.png && \
	  taskset -c $(BUSY_CPU) $(BIN) run --board $(BOARD) --arm --episodes 10 --no-realtime --json reports/run-busy.json

# An OpenBLAS that falls back to generic kernels on this AVX2 CPU (forced with OPENBLAS_CORETYPE=Prescott):
# doctor says so, and train restarts itself on the AVX2 core type after checking it against the portable
# kernel. (Only where the CPU has AVX2 + FMA; elsewhere there is nothing to fall back from.) Two training
# steps leave the latent collapsed, which train reports with exit status 3: the check reads its output.
test-blas-fallback: build
	@if grep -q ' avx2 ' /proc/cpuinfo && grep -q ' fma ' /proc/cpuinfo; then \
	  rm -rf .build/blas-check && \
	  OPENBLAS_CORETYPE=Prescott $(BIN) doctor | grep -q "WARNING: OpenBLAS runs its Prescott kernels" && \
	  $(BIN) record --world two-rooms --episodes 3 --steps 20 --seed 1 --out .build/blas-check/data > /dev/null && \
	  OPENBLAS_CORETYPE=Prescott $(BIN) train .build/blas-check/data --out .build/blas-check/m.safetensors \
	    --batch 8 --max-steps 2 > .build/blas-check/train.log 2>&1; \
	  head -1 .build/blas-check/train.log | grep -q "Haswell kernels (chosen by cerebellum" && \
	  grep -q "^wrote .build/blas-check/m.safetensors" .build/blas-check/train.log && \
	  echo "test-blas-fallback: doctor warns, train runs on Haswell kernels checked against the portable one" || \
	  { echo "test-blas-fallback: FAILED"; tail -5 .build/blas-check/train.log; exit 1; }; \
	else echo "test-blas-fallback: no AVX2 + FMA on this CPU, nothing to fall back from"; fi

# The live view with real clients (scripts/live-view-test.sh): a Foxglove WebSocket client in Python subscribes
# and decodes image, commands and plan while a client that never reads is dropped (debug build from test-unit).
test-live-view: test-unit deps-python
	./scripts/live-view-test.sh .build/debug/cerebellum

# Process replay: the committed run (two episodes of sim-two-rooms, `run --fixed-work`) through today's encoder,
# planner and governor; a tick decided otherwise than recorded fails. When a change is meant to alter the
# controller's decisions, `make replay-reference` records the run anew (commit it with the change, and say why).
REPLAY_REFERENCE := Tests/EvaluationTests/Fixtures/two-rooms-run.mcap
test-replay: build
	$(BIN) replay $(REPLAY_REFERENCE)

replay-reference: build
	rm -rf .build/replay-reference
	$(BIN) run --board boards/sim-two-rooms.yaml --arm --fixed-work --episodes 2 --no-realtime --trajectory none \
	  --record .build/replay-reference
	cp .build/replay-reference/run-0000.mcap $(REPLAY_REFERENCE)
	$(BIN) replay $(REPLAY_REFERENCE)

# The evaluation end to end on a few episodes (part of make test): the command, its report and pictures work.
# The shipped model's quality checks (EvaluationTests' ShippedModelQualityTests), then a short evaluation run.
eval-smoke: build deps-python
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter ShippedModelQualityTests
	$(BIN) eval --scenario two-rooms --episodes 6 --model $(MODEL) --max-idle-share 0.02 --png .build/eval-smoke.png --json .build/eval-smoke.json
	python3 -c "import json; r = json.load(open('.build/eval-smoke.json')); assert [p['policy'] for p in r['policies']] == ['planner (mppi)', 'greedy horizon-1', 'random'], r; print('eval-smoke: report ok')"
	$(BIN) eval --scenario car-rooms --episodes 3 --png .build/eval-smoke-car.png --json .build/eval-smoke-car.json
	python3 -c "import json; r = json.load(open('.build/eval-smoke-car.json')); p = r['policies']; \
	  assert [q['policy'] for q in p] == ['planner + memory (mppi)', 'planner (mppi)', 'greedy horizon-1', 'random'], [q['policy'] for q in p]; \
	  assert all('mean_collisions' in q for q in p) and 0 <= p[0]['subgoal_share'] <= 1 and len(p[0]['localization_error']) == 3, p[0]['policy']; \
	  print('eval-smoke: car-rooms report ok (the place memory loads, localizes and routes)')"

# Mutation testing of Sources/Safety (scripts/mutation-safety.py): every mutant, or MUTANTS=N of them
# (a deterministic sample, as CI runs); fails on a survivor not explained as equivalent beside its line.
MUTANTS ?=
mutation-safety: deps
	$(PYTHON) scripts/mutation-safety.py $(if $(MUTANTS),--sample $(MUTANTS))

# Every parser of untrusted input (model file, PNG, MCAP recording, board and calibration YAML, the
# serial console) under libFuzzer with AddressSanitizer, from the committed seed corpus; fails on any
# crash. The harness is built only here (CEREBELLUM_FUZZ=1 adds it to the package).
fuzz: deps fuzz-build
	scripts/fuzz.sh $(FUZZ_BIN) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build:
	set -o pipefail; CEREBELLUM_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --product cerebellum-fuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | { grep -v "Cannot export local symbol" || true; }

# Regenerates the seed corpus (Tests/Fuzz/corpus, committed) from a fresh two-step recording.
fuzz-seeds: build deps-python
	rm -rf .build/fuzz-seed && $(BIN) record --episodes 1 --steps 2 --out .build/fuzz-seed > /dev/null
	$(PYTHON) scripts/fuzz-seeds.py Tests/Fuzz/corpus .build/fuzz-seed/episodes-0000.mcap

# aarch64 (docs/arm64.md): Debian sid's Swift 6.2 (swiftlang) cross-compiles for the board through a Swift SDK
# bundle over an arm64 sysroot; both are unpacked once into SID_CACHE (scripts/sid-root.sh), nothing is
# installed on the host. It is linked against bookworm's C libraries: it runs on a board OS with glibc >= 2.35.
SID_CACHE ?= $(HOME)/.cache/cerebellum/swift-sid
SWIFT_SID := CACHE=$(SID_CACHE) scripts/swift-sid.sh --arm64 swift
ARM64_SDK := --swift-sdks-path /sysroot-arm64/swift-sdks --swift-sdk aarch64-unknown-linux-gnu --scratch-path $(CURDIR)/.build-arm64
ARM64_BIN := .build-arm64/release/cerebellum
# The tests build optimized (-enable-testing for @testable), as the board's binary is: a debug build's unspecialized
# generics allocate on aarch64 (a Range iterator's next() on every call), so the allocation tests would measure
# the debug build, and under emulation it runs many times slower. sid's package has the cross-import module
# _Testing_Foundation but not its library: the tests build without it. They link sid's shared Swift runtime, which asks
# for glibc 2.38 symbols the sysroot's bookworm C library lacks: they are resolved when the tests run, on trixie's
# (scripts/test-arm64.sh).
ARM64_TEST_FLAGS := -c release -Xlinker --allow-shlib-undefined -Xswiftc -enable-testing -Xswiftc -Xfrontend -Xswiftc -disable-cross-import-overlays

# The oldest board OS it runs on: glibc 2.35 and GCC 12's libstdc++ (Ubuntu 22.04, Debian bookworm); checked.
ARM64_MAX_GLIBC := 2.35
ARM64_MAX_GLIBCXX := 3.4.30

build-arm64:
	$(SWIFT_SID) build -c release --product cerebellum --static-swift-stdlib $(ARM64_SDK)
	@file -L $(ARM64_BIN) | cut -d, -f1-2
	@scripts/check-elf-versions.sh $(ARM64_BIN) $(ARM64_MAX_GLIBC) $(ARM64_MAX_GLIBCXX)

# The unit tests built for aarch64 (optimized) and run under qemu-aarch64 as -cpu max and -cpu cortex-a72 (scripts/test-arm64.sh).
# The build shares build-arm64's scratch directory and relinks the cerebellum product with the shared runtime:
# build-arm64 links it back (its check refuses a binary that loads the runtime), and what uses it depends on it.
test-arm64: deps-cross deps-python
	$(SWIFT_SID) build --build-tests $(ARM64_SDK) $(ARM64_TEST_FLAGS)
	scripts/test-arm64.sh .build-arm64/release/CerebellumPackageTests.xctest $(SID_CACHE)/sysroot-arm64

# Instructions per tick phase of the aarch64 binary under qemu-aarch64 with an instruction-counting plugin, as a
# Cortex-A72 (Pi 4) and a Cortex-A76 (Pi 5), and the time range on each board (docs/performance.md).
count-arm64: deps-cross build-arm64
	scripts/count-instructions.sh $(ARM64_BIN) $(SID_CACHE)/sysroot-arm64 .build-arm64/instructions.json

# Hardware in the loop (hil/README.md): Debian's kernel under QEMU TCG with the kernel's own simulated
# devices; the real drivers, `cerebellum hil-check` and `cerebellum run` inside the guest.
hil: hil-amd64 hil-arm64

HIL_BIN_AMD64 := .build-hil/release/cerebellum
$(HIL_BIN_AMD64): deps $(shell find Sources Package.swift -type f)
	$(SWIFT) build -c release --product cerebellum --scratch-path .build-hil -Xswiftc -static-stdlib

hil-amd64: deps-hil $(HIL_BIN_AMD64)
	hil/fetch-kernel.sh amd64 $(HIL_DIR)/amd64
	hil/build-modules.sh amd64 $(HIL_DIR)/amd64/root
	hil/make-initramfs.sh amd64 $(HIL_DIR)/amd64/root $(HIL_BIN_AMD64) $(HIL_DIR)/amd64/initramfs.cpio.gz
	hil/run-guest.sh amd64 $(HIL_DIR)/amd64/root $(HIL_DIR)/amd64/initramfs.cpio.gz $(HIL_DIR)/amd64/console.log

# arm64: Debian's arm64 kernel under qemu-system-aarch64 (virt) with the aarch64 cerebellum of build-arm64 and the
# libraries of the sysroot it was linked against; gpio-sim and i2c-stub cross-built out of tree (the arm64 kbuild
# helpers are arm64 programs: the amd64 kbuild tree stands in for them). The same checks as the x86_64 guest.
hil-arm64: deps-hil deps-cross build-arm64
	hil/fetch-kernel.sh arm64 $(HIL_DIR)/arm64
	hil/fetch-kernel.sh amd64 $(HIL_DIR)/amd64
	HOST_KBUILD=$(HIL_DIR)/amd64/root/usr/lib/linux-kbuild-6.1 hil/build-modules.sh arm64 $(HIL_DIR)/arm64/root
	hil/make-initramfs.sh arm64 $(HIL_DIR)/arm64/root $(ARM64_BIN) $(HIL_DIR)/arm64/initramfs.cpio.gz $(SID_CACHE)/sysroot-arm64
	hil/run-guest.sh arm64 $(HIL_DIR)/arm64/root $(HIL_DIR)/arm64/initramfs.cpio.gz $(HIL_DIR)/arm64/console.log

clean:
	rm -rf .build .bench .build-kernels .build-hil .build-fuzz .build-mutation .fuzz .hil
