# The fuzz targets' smoke tests in `make test` (included from tests/CMakeLists.txt).
# fuzz.build configures and builds fuzz/ with clang into <build>/fuzz (a fixture; the main
# build may be g++, and only the sources the targets need are compiled); then each
# fuzz.<target> runs its whole committed corpus and at most 10 s of fuzzing
# (scripts/fuzz-smoke.sh). Without clang every one of them is skipped (exit 77, with a message).
set(PYLON_FUZZ_BUILD ${CMAKE_BINARY_DIR}/fuzz)
add_test(NAME fuzz.build COMMAND ${CMAKE_SOURCE_DIR}/scripts/fuzz-build.sh ${PYLON_FUZZ_BUILD})
set_tests_properties(fuzz.build PROPERTIES FIXTURES_SETUP pylon_fuzz_build SKIP_RETURN_CODE 77 TIMEOUT 900)
file(GLOB PYLON_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cc)
foreach(src ${PYLON_FUZZ_TARGETS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" target ${name})
  add_test(NAME fuzz.${target} COMMAND ${CMAKE_SOURCE_DIR}/scripts/fuzz-smoke.sh ${PYLON_FUZZ_BUILD} ${target})
  set_tests_properties(fuzz.${target} PROPERTIES FIXTURES_REQUIRED pylon_fuzz_build SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
