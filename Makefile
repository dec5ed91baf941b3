# Thin wrapper over scripts/ and CMake. `make test` and `make run` work as the first
# command on a fresh machine: each runs setup itself.
.PHONY: setup model build build-test test fuzz run bench clean

JOBS        ?= $(shell nproc)
GENERATOR   := -G Ninja
RELEASE_DIR := build/release
TEST_DIR    := build/test
FUZZ_DIR    := build/fuzz
FUZZ_SECONDS ?= 20
MODEL       ?= models/SmolLM2-135M-Instruct.Q4_1.gguf

setup:
	@bash scripts/setup.sh

model: setup
	@bash scripts/fetch_model.sh

build: setup
	@cmake -S . -B $(RELEASE_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS)

# Tests run in an ASan+UBSan build.
build-test: setup
	@cmake -S . -B $(TEST_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRADIXSERVE_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_DIR) -j $(JOBS)

# The Release build runs too, so a warning only -O3 raises can't break `make run` unseen.
test: model build-test build
	@cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# libFuzzer targets (clang) for every parser of untrusted bytes; a short run each.
fuzz: setup
	@cmake -S . -B $(FUZZ_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRADIXSERVE_FUZZ=ON \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)
	@bash scripts/run_fuzzers.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

run: build model
	@bash scripts/run.sh $(RELEASE_DIR) $(MODEL)

bench: build model
	@bash scripts/bench.sh $(RELEASE_DIR) $(MODEL)

clean:
	rm -rf build
