# Cross-compiling for Linux/arm64 with Debian's g++-aarch64-linux-gnu.
# Used by tests/arm (the kernel tests run under qemu-aarch64); works for any
# project that needs nothing from the target beyond libc/libstdc++.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Run target binaries (try_run, ctest) through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-cpu;max)
