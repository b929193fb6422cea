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

# vscsim_add_kernel_module(<name> SOURCES Kbuild a.c b.h ...
#                          [INCLUDE_DIRS dir ...] [HEADERS h ...] [USES other_module ...])
# Copies the sources (one of them the Kbuild file) into the build tree, builds
# <name>.ko with W=1 against the guest kernel headers, and puts it in
# build/modules/. INCLUDE_DIRS are added to the compiler's search path (HEADERS
# lists the files there, so a change rebuilds); USES names project modules whose
# exports this one imports (their Module.symvers gives the symbol CRCs, so the
# module loads without forcing). Target: kmod_<name>; properties KO_FILE (the
# .ko), KBUILD_DIR (where it was built) and KBUILD_ARGS (the make arguments,
# for checks that rebuild it, such as sparse).
function(vscsim_add_kernel_module name)
  cmake_parse_arguments(M "" "" "SOURCES;INCLUDE_DIRS;HEADERS;USES" ${ARGN})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/kbuild_${name})
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
    get_target_property(other_dir kmod_${other} KBUILD_DIR)
    list(APPEND symvers ${other_dir}/Module.symvers)
    get_target_property(other_ko kmod_${other} KO_FILE)
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
  set(ko ${VSCSIM_MODULE_OUTPUT_DIR}/${name}.ko)
  set(copies)
  foreach(src IN LISTS M_SOURCES)
    get_filename_component(abs ${src} ABSOLUTE)
    get_filename_component(base ${src} NAME)
    list(APPEND copies COMMAND ${CMAKE_COMMAND} -E copy_if_different ${abs} ${work}/${base})
    list(APPEND deps ${abs})
  endforeach()
  add_custom_command(
    OUTPUT ${ko}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${work} ${VSCSIM_MODULE_OUTPUT_DIR}
    ${copies}
    # No BTF: the headers package ships no vmlinux to base it on.
    COMMAND env MAKEFLAGS= make -s -C ${VSCSIM_KERNEL_BUILD_DIR} M=${work} ${make_args} modules
    COMMAND ${CMAKE_COMMAND} -E copy ${work}/${name}.ko ${ko}
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/images/guest-kernel.env
    COMMENT "Building kernel module ${name}.ko for ${VSCSIM_KERNEL_RELEASE}"
    VERBATIM)
  add_custom_target(kmod_${name} ALL DEPENDS ${ko})
  # Ordering only: the stamp is a file of another directory's custom command.
  add_dependencies(kmod_${name} guest_kernel)
  foreach(other IN LISTS M_USES)
    add_dependencies(kmod_${name} kmod_${other})
  endforeach()
  set_target_properties(kmod_${name} PROPERTIES KO_FILE ${ko} KBUILD_DIR ${work}
                        KBUILD_ARGS "${make_args}")
  # Every project module goes into the guest initramfs (images/CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULES ${ko})
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULE_TARGETS kmod_${name})
endfunction()
