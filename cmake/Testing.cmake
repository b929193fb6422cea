# One-line registration of a Boost.Test executable as a CTest test.
#
#   vscsim_add_test(ring_test SOURCES ring_test.cc LIBS vscsim_ring LABELS unit)
#
# LABELS are CTest labels: `unit` (fast, in-process), `vm` (boots a guest),
# `debug-kernel` (boots the debug kernel, also `vm`: build the debug_guest
# target first), `fuzz`, `libvirt`. `ctest -L unit` runs only the fast ones. TIMEOUT is in
# seconds (default 60); it is a hang guard, not a performance assertion.
set(VSCSIM_TEST_OUTPUT_DIR ${CMAKE_BINARY_DIR}/tests)

function(vscsim_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(NOT T_LABELS)
    message(FATAL_ERROR "vscsim_add_test(${name}): LABELS is required")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE Boost::unit_test_framework ${T_LIBS})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${VSCSIM_TEST_OUTPUT_DIR})
  add_test(NAME ${name} COMMAND ${name} --log_level=test_suite --color_output=false ${T_ARGS})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
