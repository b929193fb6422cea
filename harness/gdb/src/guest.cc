#include "vscsim/gdb/guest.h"

#include <fmt/format.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>

#include "vscsim/agent/client.h"

namespace vscsim::gdb {

namespace fs = std::filesystem;

Result<KernelSymbols, std::string> debian_dbg_symbols(const fs::path& cache_dir, const fs::path& source_tree) {
  // The script prints progress on stderr (passed through) and the path on stdout.
  const std::string cmd = fmt::format("{} {}", shell_quote(VSCSIM_FETCH_KERNEL_DBG_SCRIPT), shell_quote(cache_dir.string()));
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return Err(fmt::format("cannot run {}", VSCSIM_FETCH_KERNEL_DBG_SCRIPT));
  std::string out;
  std::array<char, 4096> buf{};
  while (const auto n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (status != 0 || out.empty()) {
    return Err(fmt::format("{} failed (exit status {}): no debug symbols for the stock kernel",
                           VSCSIM_FETCH_KERNEL_DBG_SCRIPT, WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  KernelSymbols k;
  k.vmlinux = out;
  k.notes.push_back("Kernel: the pinned Debian kernel's vmlinux with DWARF (its -dbg package, " +
                    k.vmlinux.filename().string() + ")");
  std::error_code ec;
  if (!source_tree.empty() && fs::is_directory(source_tree / "kernel", ec)) {
    k.source_dirs.push_back(source_tree);
    k.notes.push_back("Kernel sources: " + source_tree.string());
  } else {
    k.notes.push_back("Kernel sources: not on this host (line numbers only); `cmake --build <build> --target "
                      "debug_guest` fetches them");
  }
  return k;
}

Result<KernelSymbols, std::string> build_tree_symbols(const fs::path& build_dir, std::string_view kernel_name) {
  KernelSymbols k;
  k.vmlinux = build_dir / "vmlinux";
  std::error_code ec;
  if (!fs::is_regular_file(k.vmlinux, ec)) {
    return Err(fmt::format("the {} kernel's vmlinux ({}) is missing: build the kernel first", kernel_name,
                           k.vmlinux.string()));
  }
  k.notes.push_back(fmt::format("Kernel: the {} kernel's build-tree vmlinux: symbols only, no line numbers or types "
                                "(built without DEBUG_INFO); the project's modules have full DWARF",
                                kernel_name));
  return k;
}

namespace {

Result<agent::OpResult, std::string> run_op(agent::AgentClient& client, agent::Op op, std::chrono::milliseconds timeout,
                                            std::string_view what) {
  agent::Run run;
  run.set_thread("gdb-symbols");
  *run.mutable_op() = std::move(op);
  auto r = client.run(run, timeout);
  if (!r.ok()) return Err(fmt::format("{}: the guest agent: {}", what, r.error().message));
  if (r->err() != 0) return Err(fmt::format("{}: {} {}", what, r->errno_name(), r->detail()));
  return std::move(r.value());
}

}  // namespace

Result<std::vector<ModuleLoad>, std::string> read_module_loads(const fs::path& agent_socket, const fs::path& module_dir,
                                                                std::chrono::milliseconds timeout) {
  auto connected = agent::AgentClient::connect(agent_socket, timeout);
  if (!connected.ok()) return Err(fmt::format("cannot reach the guest agent at {}: {}", agent_socket.string(),
                                              connected.error().message));
  auto& client = *connected.value();
  if (auto hello = client.hello(timeout); !hello.ok()) {
    return Err(fmt::format("the guest agent does not answer ({}); it runs with vscsim.agent=1", hello.error().message));
  }
  agent::Op op;
  op.mutable_read_file()->set_path("/proc/modules");
  auto modules = run_op(client, op, timeout, "reading /proc/modules");
  if (!modules.ok()) return Err(std::move(modules.error()));
  auto names = module_names(modules->data());
  std::reverse(names.begin(), names.end());  // /proc/modules lists the newest first
  std::vector<ModuleLoad> out;
  for (const auto& name : names) {
    const fs::path object = module_dir / (name + ".ko");
    std::error_code ec;
    if (!fs::is_regular_file(object, ec)) continue;  // not one of the project's
    // One line per section: "<name> <address>" (the files are root-only; the agent is root).
    agent::Op list;
    auto* exec = list.mutable_exec();
    exec->add_argv("/bin/sh");
    exec->add_argv("-c");
    exec->add_argv("cd \"/sys/module/$1/sections\" && for f in .* *; do [ -f \"$f\" ] && echo \"$f $(cat \"$f\")\"; done; true");
    exec->add_argv("sh");
    exec->add_argv(name);
    auto listed = run_op(client, list, timeout, fmt::format("listing {}'s sections", name));
    if (!listed.ok()) return Err(std::move(listed.error()));
    if (listed->value() != 0) {
      return Err(fmt::format("listing {}'s sections: exit status {}: {}", name, listed->value(), listed->detail()));
    }
    auto sections = parse_sections(listed->data());
    if (!sections.ok()) return Err(fmt::format("{}'s sections: {}", name, sections.error()));
    out.push_back({name, object, std::move(sections.value())});
  }
  client.close();
  return out;
}

Result<void, std::string> write_file_atomically(const fs::path& path, std::string_view text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) return Err(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Err(fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message()));
  return {};
}

}  // namespace vscsim::gdb
