# The two commands of the README: `make run` (the whole stack on loopback, REST on
# 127.0.0.1:8080) and `make test` (every test with real servers, plus an ASan+UBSan pass; ctest
# runs two tests at a time: the integration tests share one stack per fixture).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
METRO_FUZZ_SECONDS ?= 600
CMAKE_GEN  ?= Ninja
CTEST_ARGS ?= --output-on-failure --parallel 2
export ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: run run-providers test deps test-deps build build-asan unit fuzz clean

run: deps build
	@bash scripts/run.sh $(BUILD)

# `make run` with the payment-provider emulators (VNPay, PayPal, Sepay at the wire).
run-providers: deps build
	@METRO_STACK_PROVIDERS=1 bash scripts/run.sh $(BUILD)

test: test-deps build build-asan
	ctest --test-dir $(BUILD) $(CTEST_ARGS)
	ctest --test-dir $(ASAN_BUILD) $(CTEST_ARGS)
	@$(MAKE) --no-print-directory fuzz METRO_FUZZ_SECONDS=60 METRO_FUZZ_SEED=1 METRO_FUZZ_RUNS=1000000

deps:
	@bash scripts/install-deps.sh
	@bash scripts/tools.sh >/dev/null

test-deps:
	@bash scripts/install-deps.sh --test
	@bash scripts/tools.sh --test >/dev/null
	@bash scripts/openapi-tools.sh >/dev/null

build:
	@cmake -S . -B $(BUILD) -G $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)

build-asan:
	@cmake -S . -B $(ASAN_BUILD) -G $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DMETRO_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD)

# libFuzzer over the REST request path (test/fuzz), bounded by METRO_FUZZ_SECONDS. `make test`
# runs a fixed seed and a fixed number of inputs, the same run on every machine (a crash it finds
# is reproducible, not luck); `make fuzz` alone explores with a new seed each time.
fuzz:
	@METRO_FUZZ_SEED=$(METRO_FUZZ_SEED) METRO_FUZZ_RUNS=$(METRO_FUZZ_RUNS) bash scripts/fuzz.sh $(FUZZ_BUILD) $(METRO_FUZZ_SECONDS)

unit: build
	ctest --test-dir $(BUILD) -L unit $(CTEST_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
