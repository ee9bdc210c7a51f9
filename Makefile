# The two commands of the README: `make demo` and `make test`.
# Both install what is missing (apt), configure and build first.

JOBS    ?= $(shell nproc)
BUILD   ?= build/release
TESTBLD ?= build/test

.PHONY: all deps build demo test test-build bench clean

all: build

deps:
	@scripts/install-deps.sh

# Optimised build: the tool itself, demo and benchmarks.
build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCV_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/src/chunkvault

# The test configuration: AddressSanitizer + UndefinedBehaviorSanitizer,
# warnings are errors, every test suite.
test-build: deps
	@cmake -S . -B $(TESTBLD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCV_SANITIZE=ON -DCV_WERROR=ON >/dev/null
	@cmake --build $(TESTBLD) -j$(JOBS)

# Fails too if a test leaves files in the suite's temporary root.
test: test-build
	@scripts/run-tests.sh $(TESTBLD) $(JOBS)

bench: build
	@cmake -S . -B $(BUILD) -DCV_BUILD_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf build
