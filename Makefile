# ScissionLite in C: the user's entry point.
#   make        install missing Debian packages (as root), configure and build
#   make test   build and run the whole test suite (ctest)
#   make demo   build and run the pipeline on the bundled default product line
#   make asan   build and test under -fsanitize=address,undefined (build-asan/)
#   make bench  run the benchmarks in bench/ (slow; results go to docs/benchmarks.md by hand)
#   make pipeline PRODUCT=casting       the pipeline of one product line (configs/casting.json)
#   make -j2 pipeline PRODUCTS="casting pcb"   several product lines at once
#   make device-arm64   the device's commands cross-built for 64-bit ARM (build-arm64/)
#   make test ARM64=1   the suite with the arm64 tests under qemu-user (makes device-arm64 first)

BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

PACKAGES := build-essential cmake pkg-config libtorch-dev libhdf5-dev libpng-dev libturbojpeg0-dev libcjson-dev \
            libzstd-dev libssl-dev zlib1g-dev python3 python3-torch python3-torchvision python3-h5py \
            python3-numpy python3-pil iproute2 protobuf-c-compiler libprotobuf-c-dev libonnx-dev haproxy time

.PHONY: all build deps test demo asan bench clean pipeline

PRODUCT  ?= casting
PRODUCTS ?= $(PRODUCT)

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

# A build folder copied with its checkout (cp -a) still names the original sources and folder:
# building it would compile the original tree into the original build folder. Refuse that.
build: deps $(BUILD)/CMakeCache.txt
	@home=$$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' $(BUILD)/CMakeCache.txt); \
	cache=$$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' $(BUILD)/CMakeCache.txt); \
	if [ "$$(cd "$$home" 2>/dev/null && pwd -P)" != "$$(pwd -P)" ] || \
	   [ "$$(cd "$$cache" 2>/dev/null && pwd -P)" != "$$(cd $(BUILD) && pwd -P)" ]; then \
	  echo "make: $(BUILD)/ was configured for the sources in $$home (build folder $$cache)," >&2; \
	  echo "  not for this checkout, $$(pwd -P): a copied checkout? Remove $(BUILD)/ (or give" >&2; \
	  echo "  BUILD=another-folder) and run make again." >&2; exit 1; fi
	cmake --build $(BUILD) -j $(JOBS)

# TEST_JOBS: tests run at once (default JOBS). ctest -j3 on the 2-core machine was not faster
# than -j2 beyond the shared machine's noise (docs/benchmarks.md, "Test suite time", session 7);
# `make test TEST_JOBS=3` measures it again without building at -j3.
TEST_JOBS ?= $(JOBS)
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) --timeout 900

demo: build
	@scripts/demo.sh $(BUILD)

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0:protect_shadow_gap=0 ctest --output-on-failure -j $(JOBS) -LE slow

bench: build
	@bench/run-all.sh $(BUILD)

pipeline: build
	$(MAKE) --no-print-directory $(addprefix pipeline-,$(PRODUCTS))

pipeline-%:
	$(MAKE) --no-print-directory -f pipeline.mk PRODUCT=$* BUILD=$(BUILD) pipeline

# make device-arm64: the device's commands for 64-bit ARM Linux in $(ARM64_BUILD)/
# (bin/sl-offload, bin/sl-preprocess, lib/libsl_torch.so), cross-compiled with Debian's aarch64
# compilers against Debian's arm64 packages, which cmake/arm64-sysroot.sh unpacks into
# $(ARM64_SYSROOT) (it says why not multiarch: that would remove the native libtorch). The
# arm64 packages are the -dev packages of PACKAGES and their dependencies. Then
# lib/torch-stubs/: empty stand-ins for the libraries libtorch names but never calls
# (cmake/torch-stubs.py), which the device loads instead (deploy/sl-device.service). Then
# `cd build && ctest -L arm64` runs them under qemu-user (through proot, which starts a program's
# own children through qemu too); docs/offloader.md deploys them.
ARM64_BUILD    ?= build-arm64
ARM64_SYSROOT  ?= $(CURDIR)/$(ARM64_BUILD)/sysroot
ARM64_TOOLS    := gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static proot binutils
ARM64_PACKAGES := $(filter lib%-dev zlib1g-dev,$(PACKAGES)) libc6-dev

.PHONY: device-arm64
device-arm64: deps
	@$(MAKE) --no-print-directory deps PACKAGES="$(ARM64_TOOLS)"
	cmake/arm64-sysroot.sh $(ARM64_SYSROOT) $(ARM64_PACKAGES)
	cmake -S . -B $(ARM64_BUILD) -DCMAKE_BUILD_TYPE=Release -DSL_BUILD_TESTS=OFF \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake -DSL_ARM64_SYSROOT=$(ARM64_SYSROOT)
	cmake --build $(ARM64_BUILD) -j $(JOBS) --target sl-offload sl-preprocess sl_torch
	@stubs=$(ARM64_BUILD)/lib/torch-stubs; elfs="$(addprefix $(ARM64_BUILD)/,bin/sl-offload \
	  bin/sl-preprocess lib/libsl_torch.so)"; \
	if [ -f $$stubs/README ] && [ -z "$$(find $$elfs cmake/torch-stubs.py \
	     $(ARM64_SYSROOT)/.sl-sysroot -newer $$stubs/README)" ]; then \
	  echo "$$stubs is up to date"; \
	else \
	  (set -x; python3 cmake/torch-stubs.py --root $(ARM64_SYSROOT) --cc aarch64-linux-gnu-gcc \
	    --out $$stubs $$elfs); \
	fi

# make test ARM64=1: the suite with the arm64 tests run, not skipped: makes device-arm64 first
# and sets SL_REQUIRE_ARM64=1, so that a missing qemu, PRoot or arm64 build fails them. They
# look for the arm64 build where $(BUILD) was configured to (-DSL_ARM64_BUILD, by default
# build-arm64/, ARM64_BUILD's default). What it costs a clean machine: docs/benchmarks.md, arm64.
ifeq ($(ARM64),1)
test: device-arm64
test: export SL_REQUIRE_ARM64 = 1
endif

clean:
	rm -rf $(BUILD) build-asan
