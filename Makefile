# ScissionLite in C: the user's entry point.
#   make        install missing Debian packages (as root), configure and build
#   make test   build and run the whole test suite (ctest)
#   make demo   build and run the pipeline on the bundled default product line
#   make asan   build and test under -fsanitize=address,undefined (build-asan/)
#   make bench  run the benchmarks in bench/ (slow; results go to docs/benchmarks.md by hand)
#   make pipeline PRODUCT=casting       the pipeline of one product line (configs/casting.json)
#   make -j2 pipeline PRODUCTS="casting pcb"   several product lines at once

BUILD     ?= build
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

PACKAGES := build-essential cmake pkg-config libtorch-dev libhdf5-dev libpng-dev libturbojpeg0-dev libcjson-dev \
            libzstd-dev libssl-dev zlib1g-dev python3 python3-torch python3-torchvision python3-h5py \
            python3-numpy python3-pil iproute2

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

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

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

clean:
	rm -rf $(BUILD) build-asan
