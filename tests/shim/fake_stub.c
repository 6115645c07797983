/* fake_stub.c: an empty library that test_stubs.c puts in a stand-ins folder under libc10's
 * soname (tests/shim/CMakeLists.txt), a library libtorch does call: the shim cannot load with it. */
typedef int sl_fake_stub_unused;
