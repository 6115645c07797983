# aarch64-linux-gnu.cmake: CMake toolchain file for the device build on 64-bit ARM Linux
# (Raspberry Pi 4/5 with a 64-bit OS, Jetson, arm64 gateways), with Debian's cross compilers
# (gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu) against Debian's arm64 libraries unpacked into
# a sysroot by cmake/arm64-sysroot.sh (see there why not multiarch). `make device-arm64` does
# all of it; by hand:
#
#   cmake/arm64-sysroot.sh build-arm64/sysroot libtorch-dev libhdf5-dev ...
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DSL_ARM64_SYSROOT=$PWD/build-arm64/sysroot -DSL_BUILD_TESTS=OFF
#   cmake --build build-arm64 --target sl-offload sl-preprocess sl_torch
#
# Programs that the build runs (gen_forward.py, protoc-c, python3) are the build machine's;
# headers, libraries, CMake packages (Torch) and pkg-config files come from the sysroot only.
# With qemu-user installed, CMAKE_CROSSCOMPILING_EMULATOR runs the arm64 programs
# (qemu-aarch64-static -L <sysroot>), but not the programs they start: `run` and `device` start
# themselves again to check their model, which needs proot -q without binfmt_misc (the tests in
# tests/arm64/ run them so, see lib.sh there).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(SL_ARM64_SYSROOT "$ENV{SL_ARM64_SYSROOT}" CACHE PATH
    "Root of Debian's arm64 packages (made by cmake/arm64-sysroot.sh)")
if(NOT SL_ARM64_SYSROOT OR NOT EXISTS "${SL_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR "SL_ARM64_SYSROOT (${SL_ARM64_SYSROOT}) is not an arm64 sysroot: make one "
                      "with cmake/arm64-sysroot.sh (or `make device-arm64`) and pass "
                      "-DSL_ARM64_SYSROOT=<its absolute path>")
endif()
# try_compile projects re-read this file: hand them the sysroot too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SL_ARM64_SYSROOT)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_SYSROOT "${SL_ARM64_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH "${SL_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads the sysroot's .pc files only, and prefixes their paths with the sysroot.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${SL_ARM64_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${SL_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${SL_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(SL_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64
             DOC "qemu-user for aarch64 (Debian's qemu-user-static), to run the arm64 programs")
if(SL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${SL_QEMU_AARCH64};-L;${SL_ARM64_SYSROOT}")
endif()
