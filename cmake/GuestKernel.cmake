# The guest kernel tree (Debian packages unpacked into a cache outside the
# source tree, see images/fetch-kernel.sh) and a function that builds an
# out-of-tree kernel module against it.
#
# Cache location: -DVSCSIM_CACHE_DIR=..., else $VSCSIM_CACHE_DIR, else
# $XDG_CACHE_HOME/vscsim, else ~/.cache/vscsim.

if(DEFINED ENV{VSCSIM_CACHE_DIR})
  set(_vscsim_default_cache "$ENV{VSCSIM_CACHE_DIR}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(_vscsim_default_cache "$ENV{XDG_CACHE_HOME}/vscsim")
else()
  set(_vscsim_default_cache "$ENV{HOME}/.cache/vscsim")
endif()
set(VSCSIM_CACHE_DIR "${_vscsim_default_cache}" CACHE PATH "Cache for downloaded guest artifacts")

# Read the pin (KEY=VALUE lines) so the paths below are known at configure time.
file(STRINGS ${CMAKE_SOURCE_DIR}/images/guest-kernel.env _pin_lines REGEX "^[A-Z_]+=")
foreach(_line IN LISTS _pin_lines)
  string(REGEX MATCH "^([A-Z_]+)=(.*)$" _ ${_line})
  set(VSCSIM_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/images/guest-kernel.env)

set(VSCSIM_KERNEL_RELEASE "${VSCSIM_KERNEL_ABI}-${VSCSIM_KERNEL_FLAVOUR}")
set(VSCSIM_KERNEL_ROOT "${VSCSIM_CACHE_DIR}/kernel/${VSCSIM_KERNEL_PKG_VERSION}-${VSCSIM_KERNEL_FLAVOUR}/root")
set(VSCSIM_KERNEL_BUILD_DIR "${VSCSIM_KERNEL_ROOT}/usr/src/linux-headers-${VSCSIM_KERNEL_RELEASE}")
set(VSCSIM_KERNEL_IMAGE "${VSCSIM_KERNEL_ROOT}/boot/vmlinuz-${VSCSIM_KERNEL_RELEASE}")
cmake_path(GET VSCSIM_KERNEL_ROOT PARENT_PATH _kernel_dir)
set(_kernel_stamp "${_kernel_dir}/.ready")

add_custom_command(
  OUTPUT ${_kernel_stamp}
  COMMAND ${CMAKE_SOURCE_DIR}/images/fetch-kernel.sh ${VSCSIM_CACHE_DIR}
  DEPENDS ${CMAKE_SOURCE_DIR}/images/fetch-kernel.sh ${CMAKE_SOURCE_DIR}/images/guest-kernel.env
  COMMENT "Fetching the guest kernel ${VSCSIM_KERNEL_PKG_VERSION} (cached in ${VSCSIM_CACHE_DIR})"
  VERBATIM)
add_custom_target(guest_kernel DEPENDS ${_kernel_stamp})

set(VSCSIM_MODULE_OUTPUT_DIR ${CMAKE_BINARY_DIR}/modules)

# The debug guest kernel (KASAN, lockdep, fault injection; issue 8), built from
# Debian's kernel source by images/build-kernel.sh into a cache folder named by
# the hash of its inputs, the same hash the script takes. Never part of ALL:
# the first build takes tens of minutes; `cmake --build build --target
# debug_guest` builds it, its modules and its initramfs.
set(_debug_inputs ${CMAKE_SOURCE_DIR}/images/guest-kernel.env ${CMAKE_SOURCE_DIR}/images/kernel/debug.config
    ${CMAKE_SOURCE_DIR}/images/kernel/modules ${CMAKE_SOURCE_DIR}/images/build-kernel.sh)
set(_debug_bytes "")
foreach(f IN LISTS _debug_inputs)
  file(READ ${f} _content)
  string(APPEND _debug_bytes "${_content}")
endforeach()
string(SHA256 _debug_hash "${_debug_bytes}")
string(SUBSTRING ${_debug_hash} 0 12 _debug_hash)
string(REGEX MATCH "^[^-]+" _upstream_version "${VSCSIM_KERNEL_PKG_VERSION}")
set(VSCSIM_DEBUG_KERNEL_RELEASE "${_upstream_version}-vscsim-debug")
set(VSCSIM_DEBUG_KERNEL_DIR "${VSCSIM_CACHE_DIR}/kernel-build/${VSCSIM_KERNEL_PKG_VERSION}-debug-${_debug_hash}")
set(VSCSIM_DEBUG_KERNEL_ROOT "${VSCSIM_DEBUG_KERNEL_DIR}/root")
set(VSCSIM_DEBUG_KERNEL_BUILD_DIR "${VSCSIM_DEBUG_KERNEL_DIR}/obj")
set(VSCSIM_DEBUG_KERNEL_IMAGE "${VSCSIM_DEBUG_KERNEL_ROOT}/boot/vmlinuz-${VSCSIM_DEBUG_KERNEL_RELEASE}")
set(VSCSIM_DEBUG_MODULE_OUTPUT_DIR ${CMAKE_BINARY_DIR}/modules-debug)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_debug_inputs})
add_custom_command(
  OUTPUT ${VSCSIM_DEBUG_KERNEL_DIR}/.ready
  COMMAND ${CMAKE_SOURCE_DIR}/images/build-kernel.sh debug ${VSCSIM_CACHE_DIR}
  DEPENDS ${_debug_inputs}
  COMMENT "Building the debug guest kernel ${VSCSIM_DEBUG_KERNEL_RELEASE} (cached in ${VSCSIM_DEBUG_KERNEL_DIR})"
  VERBATIM)
add_custom_target(debug_kernel DEPENDS ${VSCSIM_DEBUG_KERNEL_DIR}/.ready)

# One build of a project module against one kernel tree. Variant "" is the
# stock kernel (target kmod_<name>, in ALL, output in build/modules/);
# "debug" the debug kernel (kmod_debug_<name>, built on request, output in
# build/modules-debug/).
function(_vscsim_kernel_module_variant name variant)
  cmake_parse_arguments(M "" "" "SOURCES;INCLUDE_DIRS;HEADERS;USES" ${ARGN})
  if(variant STREQUAL "")
    set(target kmod_${name})
    set(prefix kmod_)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/kbuild_${name})
    set(kernel_dir ${VSCSIM_KERNEL_BUILD_DIR})
    set(out_dir ${VSCSIM_MODULE_OUTPUT_DIR})
    set(kernel_target guest_kernel)
    set(release ${VSCSIM_KERNEL_RELEASE})
    set(all ALL)
  else()
    set(target kmod_${variant}_${name})
    set(prefix kmod_${variant}_)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/kbuild_${variant}_${name})
    set(kernel_dir ${VSCSIM_DEBUG_KERNEL_BUILD_DIR})
    set(out_dir ${VSCSIM_DEBUG_MODULE_OUTPUT_DIR})
    set(kernel_target debug_kernel)
    set(release ${VSCSIM_DEBUG_KERNEL_RELEASE})
    set(all "")
  endif()
  set(make_args W=1 CONFIG_DEBUG_INFO_BTF_MODULES=)
  set(cppflags)
  foreach(dir IN LISTS M_INCLUDE_DIRS)
    get_filename_component(abs ${dir} ABSOLUTE)
    list(APPEND cppflags -I${abs})
  endforeach()
  if(cppflags)
    list(JOIN cppflags " " cppflags)
    list(APPEND make_args "KCPPFLAGS=${cppflags}")
  endif()
  set(symvers)
  set(deps)
  foreach(other IN LISTS M_USES)
    get_target_property(other_dir ${prefix}${other} KBUILD_DIR)
    list(APPEND symvers ${other_dir}/Module.symvers)
    get_target_property(other_ko ${prefix}${other} KO_FILE)
    list(APPEND deps ${other_ko})
  endforeach()
  if(symvers)
    list(JOIN symvers " " symvers)
    list(APPEND make_args "KBUILD_EXTRA_SYMBOLS=${symvers}")
  endif()
  foreach(h IN LISTS M_HEADERS)
    get_filename_component(abs ${h} ABSOLUTE)
    list(APPEND deps ${abs})
  endforeach()
  set(ko ${out_dir}/${name}.ko)
  set(copies)
  foreach(src IN LISTS M_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(base ${src} NAME)
    list(APPEND copies COMMAND ${CMAKE_COMMAND} -E copy_if_different ${abs} ${work}/${base})
    list(APPEND deps ${abs})
  endforeach()
  add_custom_command(
    OUTPUT ${ko}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${work} ${out_dir}
    ${copies}
    # No BTF: the headers package ships no vmlinux to base it on.
    COMMAND env MAKEFLAGS= make -s -C ${kernel_dir} M=${work} ${make_args} modules
    COMMAND ${CMAKE_COMMAND} -E copy ${work}/${name}.ko ${ko}
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/images/guest-kernel.env
    COMMENT "Building kernel module ${name}.ko for ${release}"
    VERBATIM)
  add_custom_target(${target} ${all} DEPENDS ${ko})
  # Ordering only: the kernel's stamp is a file of another directory's custom command.
  add_dependencies(${target} ${kernel_target})
  foreach(other IN LISTS M_USES)
    add_dependencies(${target} ${prefix}${other})
  endforeach()
  set_target_properties(${target} PROPERTIES KO_FILE ${ko} KBUILD_DIR ${work} KBUILD_ARGS "${make_args}")
  # Every project module goes into the guest initramfs of its kernel (images/CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULES${variant} ${ko})
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULE_TARGETS${variant} ${target})
endfunction()

# vscsim_add_kernel_module(<name> SOURCES Kbuild a.c b.h ...
#                          [INCLUDE_DIRS dir ...] [HEADERS h ...] [USES other_module ...])
# Copies the sources (one of them the Kbuild file) into the build tree, builds
# <name>.ko with W=1 against the guest kernel headers, and puts it in
# build/modules/. INCLUDE_DIRS are added to the compiler's search path (HEADERS
# lists the files there, so a change rebuilds); USES names project modules whose
# exports this one imports (their Module.symvers gives the symbol CRCs, so the
# module loads without forcing). Target: kmod_<name>; properties KO_FILE (the
# .ko), KBUILD_DIR (where it was built) and KBUILD_ARGS (the make arguments,
# for checks that rebuild it, such as sparse). The same module is also built
# for the debug kernel on request: target kmod_debug_<name>, same properties,
# output in build/modules-debug/.
function(vscsim_add_kernel_module name)
  _vscsim_kernel_module_variant(${name} "" ${ARGN})
  _vscsim_kernel_module_variant(${name} debug ${ARGN})
endfunction()
