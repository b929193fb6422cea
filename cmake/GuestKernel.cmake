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

# vscsim_add_kernel_module(<name> SOURCES Kbuild a.c b.h ...)
# Copies the sources (one of them the Kbuild file) into the build tree, builds
# <name>.ko with W=1 against the guest kernel headers, and puts it in
# build/modules/. Target: kmod_<name>; property KO_FILE holds the .ko path.
function(vscsim_add_kernel_module name)
  cmake_parse_arguments(M "" "" "SOURCES" ${ARGN})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/kbuild_${name})
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
    COMMAND env MAKEFLAGS= make -s -C ${VSCSIM_KERNEL_BUILD_DIR} M=${work} W=1 CONFIG_DEBUG_INFO_BTF_MODULES= modules
    COMMAND ${CMAKE_COMMAND} -E copy ${work}/${name}.ko ${ko}
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/images/guest-kernel.env
    COMMENT "Building kernel module ${name}.ko for ${VSCSIM_KERNEL_RELEASE}"
    VERBATIM)
  add_custom_target(kmod_${name} ALL DEPENDS ${ko})
  # Ordering only: the stamp is a file of another directory's custom command.
  add_dependencies(kmod_${name} guest_kernel)
  set_target_properties(kmod_${name} PROPERTIES KO_FILE ${ko})
  # Every project module goes into the guest initramfs (images/CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULES ${ko})
  set_property(GLOBAL APPEND PROPERTY VSCSIM_GUEST_MODULE_TARGETS kmod_${name})
endfunction()
