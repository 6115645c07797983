# ScissionLite in C: the user's entry point.
#   make        install missing Debian packages (as root), configure and build
#   make test   build and run the whole test suite (ctest), the arm64 tests under qemu-user
#               with it (installs the cross tools and arm64 packages and makes device-arm64)
#   make demo   build and run the pipeline on the bundled default product line
#   make asan   build and test under -fsanitize=address,undefined (build-asan/)
#   make bench  run the benchmarks in bench/ (slow; results go to docs/benchmarks.md by hand)
#   make pipeline PRODUCT=casting       the pipeline of one product line (configs/casting.json)
#   make -j2 pipeline PRODUCTS="casting pcb"   several product lines at once
#   make device-arm64   the device's commands cross-built for 64-bit ARM (build-arm64/)
#   make test ARM64=0   the suite without the arm64 tests (skipped): a quicker local run

BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

# binutils (readelf): cmake/torch-stubs.py, which makes lib/torch-stubs (CMakeLists.txt).
PACKAGES := build-essential binutils cmake pkg-config libtorch-dev libhdf5-dev libpng-dev libturbojpeg0-dev libcjson-dev \
            libzstd-dev libssl-dev zlib1g-dev python3 python3-torch python3-torchvision python3-h5py \
            python3-numpy python3-pil iproute2 protobuf-c-compiler libprotobuf-c-dev libonnx-dev haproxy time \
            ninja-build

.PHONY: all build deps test demo asan bench clean pipeline

PRODUCT  ?= casting
PRODUCTS ?= $(PRODUCT)

all: build

# One dpkg-query for all of them (one each took about 1.2 s, twice in make test).
deps:
	@installed=" $$(dpkg-query -W -f='$${db:Status-Abbrev}$${Package}\n' $(PACKAGES) 2>/dev/null | \
	  sed -n 's/^ii *//p' | tr '\n' ' ') "; \
	missing=""; for p in $(PACKAGES); do \
	  case "$$installed" in *" $$p "*) ;; *) missing="$$missing $$p";; esac; \
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

# A new build folder uses Ninja, which starts any object whose sources are ready; CMake's Makefiles
# compile a target's objects only once the libraries it links are built and scan each target's
# dependencies in a make of its own: about 20 s more CPU for this tree (docs/benchmarks.md, "Test
# suite time", session 10). A folder that has a cache keeps its generator (CMake refuses another
# one): $(call GENERATOR,folder).
GENERATOR = $(if $(wildcard $(1)/CMakeCache.txt),,-G Ninja)
$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(call GENERATOR,$(BUILD)) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

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
# ARM64: below (make device-arm64).
ARM64 ?= auto
ARM64_UNAVAILABLE = $(BUILD)/arm64-unavailable.txt
# The arm64 preparation (install, sysroot, cross build: test-arm64-prepare) runs in the
# background at nice 19 beside the native build and then beside the native tests, which leave
# part of the two cores idle (waits, single-threaded steps); its log is ARM64_PREPARE.log and,
# when it ends, ARM64_PREPARE.status says "ok", "skip: WHY" or "failed: ...". The two qemu
# tests, scheduled last in the pool (their COST), wait for that file (tests/arm64/lib.sh), so
# the serial lane (RUN_SERIAL) starts only after it ended. It runs in a process group of its own,
# named in ARM64_PREPARE.pgid: a qemu test that has to wait raises it to the tests' own priority
# (as root), since nothing else in the pool then needs the CPU. When make test is interrupted
# (Ctrl-C, SIGTERM, hang-up), its recipe stops that process group before it exits.
ARM64_PREPARE = $(BUILD)/arm64-prepare
test: $(if $(filter 0,$(ARM64)),build,deps)
	@if [ "$(ARM64)" = 0 ]; then status=; unavailable="the arm64 tests are left out (ARM64=0)"; \
	else \
	  status=$(abspath $(ARM64_PREPARE)).status; unavailable=; mkdir -p $(BUILD); \
	  rm -f $$status $(ARM64_PREPARE).pgid; \
	  echo "make test: the arm64 device build is made beside the native build and tests (nice 19, log $(ARM64_PREPARE).log)"; \
	  (nice -n 19 setsid sh -c 'echo $$$$ >$(ARM64_PREPARE).pgid; exec $(MAKE) --no-print-directory test-arm64-prepare' \
	     >$(ARM64_PREPARE).log 2>&1; rc=$$?; \
	   why=$$(cat $(ARM64_UNAVAILABLE) 2>/dev/null); \
	   if [ $$rc != 0 ]; then st="failed: making the arm64 device build exited $$rc (log $(ARM64_PREPARE).log)"; \
	   elif [ -n "$$why" ]; then st="skip: $$why"; else st=ok; fi; \
	   echo "$$st" >$$status.tmp && mv $$status.tmp $$status) & \
	  trap 'pg=$$(cat $(ARM64_PREPARE).pgid 2>/dev/null) && kill -TERM -$$pg 2>/dev/null && \
	    echo "make test: interrupted: the arm64 preparation (process group $$pg) is stopped" >&2; \
	    exit 130' INT TERM HUP; \
	  $(MAKE) --no-print-directory build || { echo "make test: waiting for the arm64 preparation to end" >&2; wait; exit 1; }; \
	fi; \
	(set -x; cd $(BUILD) && SL_ARM64_PREPARE=$$status SL_ARM64_UNAVAILABLE="$$unavailable" \
	  ctest --output-on-failure -j $(TEST_JOBS) --timeout 900); rc=$$?; \
	wait; \
	if [ -n "$$status" ]; then st=$$(cat $$status 2>/dev/null || echo "failed: no status"); \
	  case "$$st" in ok) ;; \
	    skip:*) unavailable="$${st#skip: }";; \
	    *) tail -n 40 $(ARM64_PREPARE).log >&2; echo "make test: arm64: $$st" >&2; rc=1;; esac; fi; \
	[ -z "$$unavailable" ] || echo "make test: $$unavailable" >&2; \
	exit $$rc

demo: build
	@scripts/demo.sh $(BUILD)

asan: deps
	cmake -S . -B build-asan $(call GENERATOR,build-asan) -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=ON $(CMAKE_FLAGS)
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
# $(ARM64_SYSROOT) (it says why not multiarch: that would remove the native libtorch), with
# lib/torch-stubs/: empty stand-ins for the libraries libtorch names but never calls
# (cmake/torch-stubs.py, the target sl_torch_stubs as natively, proved against the programs
# built: SL_STUB_TARGETS), which the shim's loader loads instead, finding them next to
# lib/libsl_torch.so (shim/loader.c). Then
# `cd build && ctest -L arm64` runs them under qemu-user (through proot, which starts a program's
# own children through qemu too); docs/offloader.md deploys them.
#
# ARM64_PACKAGES is every arm64 package the cross build and the device's programs use, listed,
# not resolved: the sysroot holds exactly these (arm64-sysroot.sh downloads no dependency).
# Configure and link: the -dev packages (headers, .so links, .pc files; libtorch-dev's CMake
# package needs gflags', glog's and protobuf's too, and model/ needs libonnx-dev's onnx.proto).
# Run: the libraries that sl-offload, sl-preprocess and the shim load with the stand-ins in
# place, each one's package (torch-stubs.py refuses, and the arm64 tests fail, if one is
# missing). The dependency closure of the -dev packages instead is 404 packages and 211 MB,
# mostly what the stand-ins replace (OpenCV, FFmpeg, GDAL, Qt...).
ARM64_BUILD    ?= build-arm64
ARM64_SYSROOT  ?= $(CURDIR)/$(ARM64_BUILD)/sysroot
# ninja-build: the cross build uses Ninja, which builds the shim (one long C++ file) and the C
# programs side by side; CMake's Makefiles build the targets given one after the other.
ARM64_TOOLS    := gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static proot binutils ninja-build
# The C library and the C++ runtime (the cross compilers bring their own headers and link-time
# libc; these are what the programs load).
ARM64_PACKAGES := libc6 libgcc-s1 libstdc++6
# libtorch: its CMake package (which wants gflags, glog and protobuf) and what it loads.
ARM64_PACKAGES += libtorch-dev libtorch1.13 libgflags-dev libgflags2.2 libgoogle-glog-dev \
                  libgoogle-glog0v6 libprotobuf-dev libprotobuf32 libprotobuf-lite32 libblas3 \
                  liblapack3 libgfortran5 libgomp1 libcpuinfo0 libdnnl2 libfmt9 libgloo0 \
                  libhiredis0.14 libibverbs1 libnl-3-200 libnl-route-3-200 libnuma1 libonnx1 \
                  libpthreadpool0 libtensorpipe0 libuv1 libxnnpack0
# HDF5, and libcurl's stack, which HDF5 loads (its read-only S3 driver).
ARM64_PACKAGES += libhdf5-dev libhdf5-103-1 libaec0 libsz2 libcurl4 libbrotli1 libcom-err2 \
                  libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 libidn2-0 \
                  libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 \
                  libnghttp2-14 libp11-kit0 libpsl5 librtmp1 libsasl2-2 libssh2-1 libtasn1-6 \
                  libunistring2
# The rest of the native build's libraries, and the ONNX reader's (onnx.proto, libprotobuf-c).
ARM64_PACKAGES += libpng-dev libpng16-16 libturbojpeg0-dev libturbojpeg0 libcjson-dev libcjson1 \
                  libzstd-dev libzstd1 libssl-dev libssl3 zlib1g-dev zlib1g libprotobuf-c-dev \
                  libprotobuf-c1 libonnx-dev
# What device-arm64 builds; make test builds only what tests/arm64 runs (ARM64_TEST_TARGETS).
ARM64_TARGETS      ?= sl_torch sl-offload sl-preprocess
ARM64_TEST_TARGETS ?= sl_torch sl-offload

.PHONY: device-arm64 arm64-install arm64-tools arm64-sysroot arm64-build test-arm64-prepare \
        arm64-packages
arm64-packages:
	@echo $(ARM64_PACKAGES)
device-arm64: deps
	@$(MAKE) --no-print-directory -j2 arm64-install
	@$(MAKE) --no-print-directory arm64-build

# The tools (apt, into the system) and the sysroot (a private apt, into the build folder) at
# once: one waits on dpkg, the other on the mirror and dpkg-deb.
arm64-install: arm64-tools arm64-sysroot
# When apt cannot install them, each says so in $(ARM64_UNAVAILABLE), which make test reads.
arm64-tools:
	@$(MAKE) --no-print-directory deps PACKAGES="$(ARM64_TOOLS)" || { mkdir -p $(BUILD); \
	  echo "the cross tools could not be installed ($(ARM64_TOOLS))" >>$(ARM64_UNAVAILABLE); exit 1; }
arm64-sysroot:
	@echo "cmake/arm64-sysroot.sh $(ARM64_SYSROOT) ARM64_PACKAGES ($(words $(ARM64_PACKAGES)) packages)"
	@cmake/arm64-sysroot.sh $(ARM64_SYSROOT) $(ARM64_PACKAGES) || { rc=$$?; \
	  if [ $$rc = 75 ]; then mkdir -p $(BUILD); \
	    echo "the arm64 packages could not be downloaded (cmake/arm64-sysroot.sh)" >>$(ARM64_UNAVAILABLE); fi; \
	  exit $$rc; }

arm64-build:
	@[ -f $(ARM64_BUILD)/CMakeCache.txt ] || (set -x; cmake -S . -B $(ARM64_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release -DSL_BUILD_TESTS=OFF -DSL_STUB_TARGETS="$(ARM64_TARGETS)" \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake -DSL_ARM64_SYSROOT=$(ARM64_SYSROOT))
	@grep -qxF 'SL_STUB_TARGETS:STRING=$(ARM64_TARGETS)' $(ARM64_BUILD)/CMakeCache.txt || \
	  cmake -S . -B $(ARM64_BUILD) -DSL_STUB_TARGETS="$(ARM64_TARGETS)" >/dev/null
	cmake --build $(ARM64_BUILD) -j $(JOBS) --target $(ARM64_TARGETS) sl_torch_stubs

# make test runs the arm64 tests too (tests/arm64: the arm64 sl-offload under qemu-user against
# the native build): it installs the tools and the arm64 packages and makes device-arm64 in the
# background while the native build and then the native tests run (2 cores: each waits on
# something the other does not; ARM64_PREPARE above), and the arm64 tests wait for it and then
# run as with SL_REQUIRE_ARM64=1, so that a missing piece fails them. Only when the tools or the
# packages cannot be installed (not root, no network, apt failing) are they skipped (exit 77),
# and make says so after ctest; a cross build that fails fails make test. ARM64=0 leaves
# them out (skipped) for a quick local run; ARM64=1 makes an install failure fail too. They look
# for the arm64 build where $(BUILD) was configured to (-DSL_ARM64_BUILD, by default
# build-arm64/, ARM64_BUILD's default). What it costs: docs/benchmarks.md, arm64.
test-arm64-prepare:
	@rm -f $(ARM64_UNAVAILABLE); \
	if $(MAKE) --no-print-directory -j2 arm64-install; then \
	  $(MAKE) --no-print-directory arm64-build ARM64_TARGETS="$(ARM64_TEST_TARGETS)"; \
	elif [ ! -s $(ARM64_UNAVAILABLE) ] || [ "$(ARM64)" = 1 ]; then \
	  echo "make test: making the arm64 device build failed (above)" >&2; exit 1; \
	else \
	  why=$$(paste -sd ';' $(ARM64_UNAVAILABLE)); \
	  echo "the arm64 tests are SKIPPED: $$why (see the errors above: it needs root and Debian's mirror; ARM64=0 leaves them out)" >$(ARM64_UNAVAILABLE); \
	  echo "make test: $$(cat $(ARM64_UNAVAILABLE))" >&2; \
	fi

clean:
	rm -rf $(BUILD) build-asan
