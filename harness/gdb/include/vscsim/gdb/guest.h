// What the gdb script needs from outside: the guest kernel's symbols on this
// host (Debian's -dbg vmlinux for the stock kernel, fetched into the cache;
// the build tree's vmlinux for the kernels built from source) and, through
// the guest agent, which project modules the guest has loaded and where their
// sections sit (/proc/modules, /sys/module/<name>/sections/).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/gdb/script.h"

namespace vscsim::gdb {

struct KernelSymbols {
  std::filesystem::path vmlinux;
  std::vector<std::string> notes;                   // for the script's comment lines
  std::vector<std::filesystem::path> source_dirs;   // where the kernel's sources are, if here
};

// The stock kernel's: runs images/fetch-kernel-dbg.sh (a download of about
// 280 MB the first time) and uses the kernel sources of `source_tree` when
// that folder exists (the debug kernel's build fetches them).
[[nodiscard]] Result<KernelSymbols, std::string> debian_dbg_symbols(const std::filesystem::path& cache_dir,
                                                                    const std::filesystem::path& source_tree);
// A kernel built here from source (debug, fast): its build tree's vmlinux,
// which has the symbol table but no DWARF (the configs leave DEBUG_INFO off).
[[nodiscard]] Result<KernelSymbols, std::string> build_tree_symbols(const std::filesystem::path& build_dir,
                                                                    std::string_view kernel_name);

// The loaded modules that have a .ko in `module_dir`, in load order, with
// their sections' addresses. `agent_socket` is the launcher's agent.sock;
// the guest must run the agent (vscsim.agent=1). The connection is closed
// before returning, so another host tool may connect next.
[[nodiscard]] Result<std::vector<ModuleLoad>, std::string> read_module_loads(
    const std::filesystem::path& agent_socket, const std::filesystem::path& module_dir,
    std::chrono::milliseconds timeout);

// Writes `text` to `path` whole or not at all (a temporary file renamed).
[[nodiscard]] Result<void, std::string> write_file_atomically(const std::filesystem::path& path,
                                                              std::string_view text);

}  // namespace vscsim::gdb
