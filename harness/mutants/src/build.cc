#include "vscsim/mutants/build.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

namespace vscsim::mutants {

namespace fs = std::filesystem;

namespace {

// Runs argv in `cwd` with stdout and stderr appended to `log`; the exit
// status, or a description of how it did not exit.
Result<int, std::string> run_logged(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log) {
  {
    std::ofstream note(log, std::ios::app);
    note << "$";
    for (const auto& a : argv) note << " " << a;
    note << "\n";
  }
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Err(fmt::format("cannot open {}", log.string()));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return Err("fork failed");
  }
  if (pid == 0) {
    // The child: no inherited make jobserver (vsc-harness may run under make or ctest).
    ::unsetenv("MAKEFLAGS");
    ::unsetenv("MFLAGS");
    ::unsetenv("MAKELEVEL");
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Err("waitpid failed");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return Err(fmt::format("{} ended by signal {}", argv[0], WTERMSIG(status)));
}

std::string tail(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// The driver's sources: the top-level files but the README, and include/.
// (mutants/ and tests/ are not part of the module.)
Result<void, std::string> copy_sources(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to, ec);
  if (ec) return Err(fmt::format("cannot create {}: {}", to.string(), ec.message()));
  for (const auto& e : fs::directory_iterator(from, ec)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name != "README.md") {
      fs::copy_file(e.path(), to / name, ec);
    } else if (e.is_directory() && name == "include") {
      fs::copy(e.path(), to / name, fs::copy_options::recursive, ec);
    }
    if (ec) return Err(fmt::format("copying {}: {}", e.path().string(), ec.message()));
  }
  if (ec) return Err(fmt::format("{}: {}", from.string(), ec.message()));
  return {};
}

}  // namespace

BuildOutcome build_mutant(const BuildPaths& paths, const Mutant& mutant) {
  const auto t0 = std::chrono::steady_clock::now();
  BuildOutcome out;
  const fs::path dir = paths.out_root / mutant.name;
  const fs::path src = dir / "src";
  out.log = dir / "build.log";
  auto finish = [&](std::string message) {
    out.message = std::move(message);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  };
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return finish(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  { std::ofstream truncate(out.log, std::ios::trunc); }
  if (auto r = copy_sources(paths.source_dir, src); !r.ok()) return finish(r.error());

  auto p = run_logged({"patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i",
                       fs::absolute(mutant.patch).string()},
                      src, out.log);
  if (!p.ok()) return finish("patch: " + p.error());
  if (*p != 0) {
    return finish(fmt::format("{} does not apply (patch exit {}); patch said:\n{}", mutant.patch.string(), *p,
                              tail(out.log, 20)));
  }
  std::string cppflags = "-I" + (src / "include").string();
  for (const auto& extra : paths.include_dirs) cppflags += " -I" + extra.string();
  auto m = run_logged({"make", "-C", paths.kernel_build_dir.string(), fmt::format("M={}", src.string()), "W=1",
                       "CONFIG_DEBUG_INFO_BTF_MODULES=", "KCPPFLAGS=" + cppflags,
                       fmt::format("KBUILD_EXTRA_SYMBOLS={}", paths.extra_symbols.string()), "modules"},
                      src, out.log);
  if (!m.ok()) return finish("make: " + m.error());
  if (*m != 0) return finish(fmt::format("make failed (exit {}); see {}:\n{}", *m, out.log.string(), tail(out.log, 20)));
  out.ko = src / "az_blob.ko";
  if (!fs::is_regular_file(out.ko)) return finish(fmt::format("make made no {}", out.ko.string()));
  out.ok = true;
  return finish({});
}

}  // namespace vscsim::mutants
