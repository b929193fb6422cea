// `vsc-guest --gdb`'s script for a kernel choice: which symbols (stock: the
// Debian -dbg vmlinux; debug, fast: their build tree's vmlinux), which module
// files (this build's, for that kernel), the loaded modules' addresses from
// the guest agent, and the command that writes it all again (vsc-gdb-script,
// which the script's vsc-reload-modules runs). docs/gdb.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/gdb/guest.h"

namespace vscsim::tools {

struct GdbScriptRequest {
  std::string kernel;  // stock, debug or fast (--kernel)
  std::filesystem::path agent_socket;
  std::uint16_t port = 0;
  std::filesystem::path out;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

struct GdbScriptWritten {
  gdb::KernelSymbols symbols;
  std::vector<gdb::ModuleLoad> modules;
};

// Where vsc-guest writes the script when --gdb-script is not given.
[[nodiscard]] std::filesystem::path default_gdb_script_path(std::uint16_t port);

// Fetches the symbols if need be, reads the modules' sections and writes
// `out`. Errors say what is missing.
[[nodiscard]] Result<GdbScriptWritten, std::string> write_gdb_script(const GdbScriptRequest& request);

}  // namespace vscsim::tools
