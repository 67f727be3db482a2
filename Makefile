# Pylon — the two commands a newcomer needs: `make run` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test bench scale soak sanitize fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Starts the 3-node cluster of examples/cluster in the foreground; Ctrl-C stops it.
run: build
	./scripts/run-cluster.sh

# Unit, integration and interop tests; ends with CTest's summary.
test: build
	./scripts/test.sh $(BUILD)

# Side-by-side benchmark against nats-server (issue 14's matrix, TLS rows, the TLS connect
# storm, and our client library against nats.c's); prints medians and ratios. Rows: BENCH_ARGS="--only tls" (or --skip, --quick;
# see scripts/bench.sh --help).
bench: build
	BUILD_DIR=$(BUILD) ./scripts/bench.sh $(BENCH_ARGS)

# Memory at scale beside nats-server: 15,000 idle clients and 1M subscriptions on one node,
# RSS per connection and per subscription (SCALE_ARGS="--clients 5000"; scripts/scale.sh --help).
scale: build
	BUILD_DIR=$(BUILD) ./scripts/scale.sh $(SCALE_ARGS)

# A 3-node cluster under mixed load and injected faults for SOAK_MINUTES (default 10);
# fails when RSS or descriptors do not end flat or a canary check fails. Not in `make test`.
soak: build
	BUILD_DIR=$(BUILD) ./scripts/soak.sh

# Every test again under ASan+UBSan, then TSan (build-asan/, build-tsan/); fails on any report.
sanitize: deps
	./scripts/sanitize.sh

# libFuzzer targets (fuzz/, clang) for FUZZ_SECONDS (default 60) each, the JSON check against
# Go, then the network fuzzer against an ASan server (build-fuzz/, build-asan/); fails on any crash.
fuzz: deps
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) ./scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
