// Compiles the test suite's precompiled header (tests/CMakeLists.txt,
// ilpgw_test_pch); every test executable reuses it.
