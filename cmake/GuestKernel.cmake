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

# Guest kernels built from Debian's kernel source by images/build-kernel.sh
# VARIANT (config fragment images/kernel/VARIANT.config) into a cache folder
# named by the hash of its inputs, the same hash the script takes. Never part
# of ALL: the first build takes about ten minutes on 2 cores.
#   debug: KASAN, lockdep, fault injection (issue 8). `cmake --build build
#          --target debug_guest` builds it, its modules and its initramfs.
#   fast:  trimmed for boot time (issue 10); booted as the uncompressed PVH
#          vmlinux. `cmake --build build --target fast_guest`.
# Sets VSCSIM_<VARIANT>_KERNEL_{RELEASE,DIR,ROOT,BUILD_DIR,IMAGE} and
# VSCSIM_<VARIANT>_MODULE_OUTPUT_DIR, and the target <variant>_kernel.
string(REGEX MATCH "^[^-]+" _upstream_version "${VSCSIM_KERNEL_PKG_VERSION}")
function(_vscsim_built_kernel variant)
  string(TOUPPER ${variant} V)
  set(inputs ${CMAKE_SOURCE_DIR}/images/guest-kernel.env ${CMAKE_SOURCE_DIR}/images/kernel/${variant}.config
      ${CMAKE_SOURCE_DIR}/images/kernel/modules ${CMAKE_SOURCE_DIR}/images/build-kernel.sh)
  set(bytes "")
  foreach(f IN LISTS inputs)
    file(READ ${f} content)
    string(APPEND bytes "${content}")
  endforeach()
  string(SHA256 hash "${bytes}")
  string(SUBSTRING ${hash} 0 12 hash)
  set(release "${_upstream_version}-vscsim-${variant}")
  set(dir "${VSCSIM_CACHE_DIR}/kernel-build/${VSCSIM_KERNEL_PKG_VERSION}-${variant}-${hash}")
  set(VSCSIM_${V}_KERNEL_RELEASE "${release}" PARENT_SCOPE)
  set(VSCSIM_${V}_KERNEL_DIR "${dir}" PARENT_SCOPE)
  set(VSCSIM_${V}_KERNEL_ROOT "${dir}/root" PARENT_SCOPE)
  set(VSCSIM_${V}_KERNEL_BUILD_DIR "${dir}/obj" PARENT_SCOPE)
  set(VSCSIM_${V}_KERNEL_IMAGE "${dir}/root/boot/vmlinuz-${release}" PARENT_SCOPE)
  set(VSCSIM_${V}_MODULE_OUTPUT_DIR ${CMAKE_BINARY_DIR}/modules-${variant} PARENT_SCOPE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${inputs})
  add_custom_command(
    OUTPUT ${dir}/.ready
    COMMAND ${CMAKE_SOURCE_DIR}/images/build-kernel.sh ${variant} ${VSCSIM_CACHE_DIR}
    DEPENDS ${inputs}
    COMMENT "Building the ${variant} guest kernel ${release} (cached in ${dir})"
    VERBATIM)
  add_custom_target(${variant}_kernel DEPENDS ${dir}/.ready)
endfunction()
_vscsim_built_kernel(debug)
_vscsim_built_kernel(fast)

# The fast kernel boots as its uncompressed vmlinux through the PVH entry
# point (no decompressor, no real-mode setup), symbols stripped.
set(VSCSIM_FAST_KERNEL_IMAGE ${CMAKE_BINARY_DIR}/images/fast/vmlinux-${VSCSIM_FAST_KERNEL_RELEASE})
add_custom_command(
  OUTPUT ${VSCSIM_FAST_KERNEL_IMAGE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/images/fast
  COMMAND objcopy --strip-all ${VSCSIM_FAST_KERNEL_BUILD_DIR}/vmlinux ${VSCSIM_FAST_KERNEL_IMAGE}
  DEPENDS ${VSCSIM_FAST_KERNEL_DIR}/.ready
  COMMENT "Stripping the fast kernel's vmlinux for a PVH boot"
  VERBATIM)
add_custom_target(fast_kernel_image DEPENDS ${VSCSIM_FAST_KERNEL_IMAGE})

# One build of a project module against one kernel tree. Variant "" is the
# stock kernel (target kmod_<name>, in ALL, output in build/modules/);
# "debug" or "fast" a kernel built from source (kmod_<variant>_<name>, built
# on request, output in build/modules-<variant>/).
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
    string(TOUPPER ${variant} V)
    set(kernel_dir ${VSCSIM_${V}_KERNEL_BUILD_DIR})
    set(out_dir ${VSCSIM_${V}_MODULE_OUTPUT_DIR})
    set(kernel_target ${variant}_kernel)
    set(release ${VSCSIM_${V}_KERNEL_RELEASE})
    set(all "")
  endif()
  set(make_args W=1 CONFIG_DEBUG_INFO_BTF_MODULES=)
  # The kernels built from source have DEBUG_INFO off, so kbuild would build
  # their modules without DWARF; -g gives gdb their sources and types
  # (docs/gdb.md). It leaves the code as it is (the same .text, measured), and
  # the initramfs packs stripped copies. The stock kernel's config has -g.
  if(NOT variant STREQUAL "")
    list(APPEND make_args KCFLAGS=-g)
  endif()
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
# for the debug and fast kernels on request: targets kmod_debug_<name> and
# kmod_fast_<name>, same properties, output in build/modules-<variant>/.
function(vscsim_add_kernel_module name)
  _vscsim_kernel_module_variant(${name} "" ${ARGN})
  _vscsim_kernel_module_variant(${name} debug ${ARGN})
  _vscsim_kernel_module_variant(${name} fast ${ARGN})
endfunction()
