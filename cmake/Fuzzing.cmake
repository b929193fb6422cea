# libFuzzer targets. Configure a separate build with clang to get them:
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DVSCSIM_FUZZ=ON
# Everything is then built with ASan + UBSan and libFuzzer's coverage
# instrumentation. Each target becomes a CTest test (label `fuzz`) that runs
# for VSCSIM_FUZZ_SECONDS (default 1) from its seed corpus; ci/fuzz.sh runs
# one for as long as asked.
#
#   vscsim_add_fuzz(ring_packet_fuzz SOURCES ring_packet_fuzz.cc LIBS vscsim_ring)
option(VSCSIM_FUZZ "Build libFuzzer targets (needs clang)" OFF)
set(VSCSIM_FUZZ_SECONDS 1 CACHE STRING "Seconds each fuzz target runs under ctest")

if(VSCSIM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VSCSIM_FUZZ needs clang: CC=clang CXX=clang++ cmake ... -DVSCSIM_FUZZ=ON")
  endif()
  if(NOT VSCSIM_SANITIZE)
    set(VSCSIM_SANITIZE "address,undefined" CACHE STRING "" FORCE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=address,undefined)
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_custom_target(vscsim_fuzzers)
endif()

function(vscsim_add_fuzz name)
  if(NOT VSCSIM_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_dependencies(vscsim_fuzzers ${name})
  # Seeds live beside the source in <name>_corpus/ (may be empty); new inputs
  # found during the ctest run go to a scratch folder, not the source tree.
  set(seeds ${CMAKE_CURRENT_SOURCE_DIR}/src/${name}_corpus)
  set(scratch ${CMAKE_BINARY_DIR}/fuzz/${name}_new)
  file(MAKE_DIRECTORY ${scratch})
  set(corpus_args ${scratch})
  if(EXISTS ${seeds})
    list(APPEND corpus_args ${seeds})
  endif()
  add_test(NAME ${name}
           COMMAND ${name} -max_total_time=${VSCSIM_FUZZ_SECONDS} -print_final_stats=1 ${corpus_args})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
