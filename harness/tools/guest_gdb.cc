#include "guest_gdb.h"

#include <fmt/format.h>

#include "vscsim/build_config.h"
#include "vscsim/gdb/script.h"

namespace vscsim::tools {

namespace fs = std::filesystem;

fs::path default_gdb_script_path(std::uint16_t port) {
  return fs::temp_directory_path() / fmt::format("vscsim-gdb-{}.gdb", port);
}

Result<GdbScriptWritten, std::string> write_gdb_script(const GdbScriptRequest& req) {
  GdbScriptWritten w;
  fs::path module_dir;
  Result<gdb::KernelSymbols, std::string> symbols = Err(std::string("--kernel must be stock, debug or fast for symbols"));
  if (req.kernel == "stock") {
    symbols = gdb::debian_dbg_symbols(build_config::kCacheDir,
                                      fs::path(build_config::kCacheDir) / "kernel-tree" / build_config::kKernelPackageVersion);
    module_dir = build_config::kModuleDir;
  } else if (req.kernel == "debug") {
    symbols = gdb::build_tree_symbols(build_config::kDebugKernelBuildDir, "debug");
    module_dir = VSCSIM_DEBUG_MODULE_DIR;
  } else if (req.kernel == "fast") {
    symbols = gdb::build_tree_symbols(build_config::kFastKernelBuildDir, "fast");
    module_dir = VSCSIM_FAST_MODULE_DIR;
  }
  if (!symbols.ok()) return Err(std::move(symbols.error()));
  w.symbols = std::move(symbols.value());

  auto modules = gdb::read_module_loads(req.agent_socket, module_dir, req.timeout);
  if (!modules.ok()) return Err(std::move(modules.error()));
  w.modules = std::move(modules.value());

  gdb::ScriptInput in;
  in.vmlinux = w.symbols.vmlinux;
  in.notes = w.symbols.notes;
  in.notes.push_back(fmt::format("Modules: {} (from the guest's /sys/module/<name>/sections)", module_dir.string()));
  in.source_dirs = w.symbols.source_dirs;
  in.port = req.port;
  in.modules = w.modules;
  in.self = fs::absolute(req.out);
  in.regenerate_command = fmt::format("{} --kernel {} --agent {} --port {} --out {}", VSC_GDB_SCRIPT_BINARY,
                                      gdb::shell_quote(req.kernel), gdb::shell_quote(req.agent_socket.string()),
                                      req.port, gdb::shell_quote(in.self.string()));
  auto text = gdb::render_script(in);
  if (!text.ok()) return Err(std::move(text.error()));
  if (auto r = gdb::write_file_atomically(in.self, text.value()); !r.ok()) return Err(std::move(r.error()));
  return w;
}

}  // namespace vscsim::tools
