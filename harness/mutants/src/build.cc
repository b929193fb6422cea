#include "vscsim/mutants/build.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <vector>

#include "logged_command.h"

namespace vscsim::mutants {

namespace fs = std::filesystem;
using detail::run_logged;
using detail::tail;

namespace {

// The driver's sources: the top-level files but the README, include/ and
// tests/ (the uapi check compiles the copy's tests/uapi_check.c against the
// copy's header; kbuild ignores the folder). Not mutants/.
Result<void, std::string> copy_sources(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to, ec);
  if (ec) return Err(fmt::format("cannot create {}: {}", to.string(), ec.message()));
  for (const auto& e : fs::directory_iterator(from, ec)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name != "README.md") {
      fs::copy_file(e.path(), to / name, ec);
    } else if (e.is_directory() && (name == "include" || name == "tests")) {
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
