#include "vscsim/mutants/static_checks.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>

#include "logged_command.h"

namespace vscsim::mutants {

namespace fs = std::filesystem;

std::vector<std::string> retarget(std::vector<std::string> argv,
                                  const std::vector<std::pair<std::string, std::string>>& moves) {
  for (auto& arg : argv) {
    for (const auto& [from, to] : moves) {
      if (from.empty()) continue;
      for (std::size_t at = arg.find(from); at != std::string::npos; at = arg.find(from, at)) {
        const std::size_t end = at + from.size();
        if (end != arg.size() && arg[end] != '/' && arg[end] != ' ') {
          at = end;
          continue;
        }
        arg.replace(at, from.size(), to);
        at += to.size();  // never rescan the replacement
      }
    }
  }
  return argv;
}

std::vector<StaticCheck> static_checks(const StaticCheckCommands& commands, const fs::path& tree,
                                       const fs::path& work) {
  const std::vector<std::pair<std::string, std::string>> moves = {
      {commands.source_dir.string(), tree.string()},
      {commands.sparse_work_dir.string(), work.string()},
  };
  std::vector<StaticCheck> out;
  for (const auto& [name, checker, argv] : {std::tuple{"uapi-c99", "uapi", &commands.uapi_c99},
                                            std::tuple{"uapi-cxx20", "uapi", &commands.uapi_cxx20},
                                            std::tuple{"sparse", "sparse", &commands.sparse}}) {
    if (!argv->empty()) out.push_back({name, checker, retarget(*argv, moves)});
  }
  return out;
}

namespace {

// "path:line:col: warning: ..." or "...: error: ..." (gcc, clang, sparse).
bool is_finding(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (int field = 0; field < 2; ++field) {  // line, then column
    const std::size_t next = line.find(':', colon + 1);
    if (next == std::string_view::npos || next == colon + 1) return false;
    for (std::size_t i = colon + 1; i < next; ++i) {
      if (line[i] < '0' || line[i] > '9') return false;
    }
    colon = next;
  }
  const auto rest = line.substr(colon + 1);
  return rest.starts_with(" warning:") || rest.starts_with(" error:");
}

bool under(std::string_view line, const std::vector<fs::path>& ours) {
  for (const auto& dir : ours) {
    const std::string prefix = dir.string() + "/";
    if (line.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

std::string summarize_check_output(const std::string& output, const std::vector<fs::path>& ours,
                                   std::size_t max_lines) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  std::vector<std::string> picked;
  std::size_t findings = 0;
  for (const auto& l : lines) {
    if (!is_finding(l) || !under(l, ours)) continue;
    if (++findings <= max_lines) picked.push_back(l);
  }
  if (findings > max_lines) picked.push_back(fmt::format("... {} more", findings - max_lines));
  if (picked.empty()) {
    // No finding of ours: whatever the command said last (a missing tool, a
    // failed build) is the reason.
    for (std::size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i) {
      picked.push_back(lines[i]);
    }
  } else {
    for (const auto& l : lines) {
      if (l.starts_with("kernel-lint: ")) picked.push_back(l);
    }
  }
  std::string out;
  for (const auto& l : picked) out += (out.empty() ? "" : "\n") + l;
  return out;
}

std::vector<StaticCheckResult> run_static_checks(const std::vector<StaticCheck>& checks, const fs::path& log_dir,
                                                 const std::vector<fs::path>& ours) {
  std::vector<StaticCheckResult> out;
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  for (const auto& check : checks) {
    const auto t0 = std::chrono::steady_clock::now();
    StaticCheckResult r;
    r.name = check.name;
    r.checker = check.checker;
    const fs::path log = log_dir / (check.name + ".log");
    r.log = log.string();
    { std::ofstream truncate(log, std::ios::trunc); }
    const auto rc = detail::run_logged(check.argv, log_dir, log);
    std::ifstream in(log);
    const std::string output{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!rc.ok()) {
      r.message = rc.error();
    } else if (*rc != 0) {
      r.message = fmt::format("exit {}: {}", *rc, summarize_check_output(output, ours));
    } else {
      r.passed = true;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vscsim::mutants
