// Finds the guest RAM file of a running QEMU from its memory maps. A QEMU
// started by libvirt or Vagrant creates its file-backed RAM at a path the
// simulator cannot know in advance (libvirt's memory_backing_dir/<id>-<name>/
// <alias>); the QEMU that connects to the ivshmem server is the one whose RAM
// the simulator must map, and its largest shared file mapping is that RAM.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"

namespace vscsim::memory {

struct SharedFileMapping {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
  std::string path;       // as /proc/<pid>/maps shows it, e.g. "/memfd:x (deleted)"
  [[nodiscard]] std::uint64_t size() const { return end - start; }
};

// The largest shared ("s" in the permissions) mapping of a named file in the
// text of a /proc/<pid>/maps; an error if there is none or a line is garbled.
Result<SharedFileMapping, std::string> largest_shared_file_mapping(std::string_view maps);

// A path the simulator can open for `mapping` of process `pid`: the file's
// own path, or /proc/<pid>/map_files/<start>-<end> when it has none that
// names it (a memfd, a deleted file). map_files needs CAP_SYS_ADMIN.
std::string openable_path(pid_t pid, const SharedFileMapping& mapping);

// Both, on the live /proc/<pid>/maps.
Result<std::string, std::string> find_qemu_ram_file(pid_t pid);

}  // namespace vscsim::memory
