# Kernel-style lint of the project's modules as CTest tests (label unit):
# checkpatch.pl --strict from the pinned kernel's source package (fetched by
# images/fetch-kernel-source.sh into the cache) and sparse (Debian package).
#
#   vscsim_add_kernel_lint(vsc_smoke SOURCES smoke/Kbuild smoke/vsc_smoke.c)
#
# registers <name>_checkpatch (every .c and .h; any ERROR, WARNING or CHECK
# fails) and <name>_sparse (builds the module with C=2 in a scratch copy; any
# sparse or compiler warning fails). Call it after vscsim_add_kernel_module():
# SOURCES are what that got (Kbuild included; headers of its INCLUDE_DIRS may
# be added for checkpatch), and the sparse build reuses its make arguments
# (include paths, KBUILD_EXTRA_SYMBOLS). The lint looks at C sources only, so
# sanitizer builds (which build the same modules) leave it to the plain build.
# Needs GuestKernel.cmake (the pin, the cache, the guest_kernel target).

set(VSCSIM_KERNEL_SOURCE_DIR "${VSCSIM_CACHE_DIR}/kernel-source/${VSCSIM_KERNEL_PKG_VERSION}")
set(VSCSIM_CHECKPATCH "${VSCSIM_KERNEL_SOURCE_DIR}/scripts/checkpatch.pl")
set(VSCSIM_KERNEL_LINT_ENABLED ON)
if(VSCSIM_SANITIZE)
  set(VSCSIM_KERNEL_LINT_ENABLED OFF)
  message(STATUS "kernel lint: not in this sanitizer build (VSCSIM_SANITIZE=${VSCSIM_SANITIZE}); the plain build runs it")
else()
  add_custom_command(
    OUTPUT ${VSCSIM_KERNEL_SOURCE_DIR}/.ready
    COMMAND ${CMAKE_SOURCE_DIR}/images/fetch-kernel-source.sh ${VSCSIM_CACHE_DIR}
    DEPENDS ${CMAKE_SOURCE_DIR}/images/fetch-kernel-source.sh ${CMAKE_SOURCE_DIR}/images/guest-kernel.env
    COMMENT "Fetching checkpatch.pl from linux-source ${VSCSIM_KERNEL_PKG_VERSION} (cached in ${VSCSIM_CACHE_DIR})"
    VERBATIM)
  add_custom_target(kernel_lint_tools ALL DEPENDS ${VSCSIM_KERNEL_SOURCE_DIR}/.ready)
endif()

function(vscsim_add_kernel_lint name)
  cmake_parse_arguments(L "" "" "SOURCES" ${ARGN})
  if(NOT VSCSIM_KERNEL_LINT_ENABLED)
    return()
  endif()
  set(all)
  set(c_files)
  foreach(src IN LISTS L_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    list(APPEND all ${abs})
    if(abs MATCHES "\\.[ch]$")
      list(APPEND c_files ${abs})
    endif()
  endforeach()
  if(NOT TARGET kmod_${name})
    message(FATAL_ERROR "vscsim_add_kernel_lint(${name}): call vscsim_add_kernel_module(${name} ...) first")
  endif()
  get_target_property(make_args kmod_${name} KBUILD_ARGS)
  if(NOT make_args)
    set(make_args W=1 CONFIG_DEBUG_INFO_BTF_MODULES=)
  endif()
  set(lint ${CMAKE_SOURCE_DIR}/cmake/kernel-lint.sh)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/sparse_${name})
  set(sparse ${lint} sparse ${VSCSIM_KERNEL_BUILD_DIR} ${work} ${make_args} -- ${all})
  add_test(NAME ${name}_checkpatch COMMAND ${lint} checkpatch ${VSCSIM_CHECKPATCH} ${c_files})
  add_test(NAME ${name}_sparse COMMAND ${sparse})
  # The exact command, for checks of copies of the sources (vsc-harness
  # mutants, through harness/build_config.h): the paths are its to retarget.
  set_property(GLOBAL PROPERTY VSCSIM_SPARSE_COMMAND_${name} ${sparse})
  set_property(GLOBAL PROPERTY VSCSIM_SPARSE_WORK_DIR_${name} ${work})
  set_tests_properties(${name}_checkpatch ${name}_sparse PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

# vscsim_add_uapi_check(<name> INCLUDE_DIR dir CHECK file.c)
# A uapi header must compile alone in user space with only the includes it
# makes itself. CHECK includes it first and pins its layout with static
# checks; tests <name>_c99 and <name>_cxx20 compile it (syntax only) as C99
# and as C++20 with warnings as errors, so a broken header fails a test, not
# the build.
function(vscsim_add_uapi_check name)
  cmake_parse_arguments(U "" "INCLUDE_DIR;CHECK" "" ${ARGN})
  get_filename_component(dir ${U_INCLUDE_DIR} ABSOLUTE)
  get_filename_component(check ${U_CHECK} ABSOLUTE)
  set(flags -Wall -Wextra -Werror -pedantic -I${dir} -fsyntax-only)
  set(c99 ${CMAKE_C_COMPILER} -std=c99 ${flags} -x c ${check})
  set(cxx20 ${CMAKE_CXX_COMPILER} -std=c++20 ${flags} -x c++ ${check})
  add_test(NAME ${name}_c99 COMMAND ${c99})
  add_test(NAME ${name}_cxx20 COMMAND ${cxx20})
  # As for sparse above: the exact commands, for checks of copies.
  set_property(GLOBAL PROPERTY VSCSIM_UAPI_C99_COMMAND_${name} ${c99})
  set_property(GLOBAL PROPERTY VSCSIM_UAPI_CXX20_COMMAND_${name} ${cxx20})
  set_tests_properties(${name}_c99 ${name}_cxx20 PROPERTIES LABELS unit TIMEOUT 60)
endfunction()
