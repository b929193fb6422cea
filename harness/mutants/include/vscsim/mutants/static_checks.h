// az_blob's static checks (catalogue item 18) against a tree of its sources:
// the uapi header compiled alone in user space as C99 and as C++20, and
// sparse over the module build (any warning in the module's files fails).
// The command lines are the unit tests' own (az_blob_uapi_c99,
// az_blob_uapi_cxx20, az_blob_sparse in cmake/KernelLint.cmake), handed over
// by CMake through build_config.h; only the paths they name are moved to the
// tree under test, so a check here and its unit test cannot drift apart.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "vscsim/mutants/score.h"

namespace vscsim::mutants {

// The commands as CMake runs them on the source tree.
struct StaticCheckCommands {
  std::vector<std::string> uapi_c99;
  std::vector<std::string> uapi_cxx20;
  std::vector<std::string> sparse;         // empty: this build has no kernel lint
  std::filesystem::path source_dir;        // vsc/az_blob, which the commands name
  std::filesystem::path sparse_work_dir;   // sparse's scratch folder in its command
};

struct StaticCheck {
  std::string name;     // "uapi-c99", "uapi-cxx20", "sparse"
  std::string checker;  // "uapi", "sparse"
  std::vector<std::string> argv;
};

// Each argument with every occurrence of a `from` folder (followed by the
// argument's end, '/' or ' ', so a longer name is left alone) replaced by
// its `to`, in the order given.
std::vector<std::string> retarget(std::vector<std::string> argv,
                                  const std::vector<std::pair<std::string, std::string>>& moves);

// The checks of the tree at `tree` (the source folder itself for the
// baseline), sparse working in `work`. A check without a command is left out.
std::vector<StaticCheck> static_checks(const StaticCheckCommands& commands, const std::filesystem::path& tree,
                                       const std::filesystem::path& work);

// Why a check failed, from its output: the compiler's and sparse's findings
// ("file:line:col: warning|error: ...") in files under one of `ours` (the
// kernel's own headers have findings that are not the driver's, and the
// lint does not count them either), then kernel-lint's summary line; at most
// `max_lines`. The output's last lines when it has no such finding.
std::string summarize_check_output(const std::string& output, const std::vector<std::filesystem::path>& ours,
                                   std::size_t max_lines = 8);

// Runs each check, its output in `<log_dir>/<name>.log`; a check passes when
// its command exits 0. Findings are summarised for files under `ours`.
std::vector<StaticCheckResult> run_static_checks(const std::vector<StaticCheck>& checks,
                                                 const std::filesystem::path& log_dir,
                                                 const std::vector<std::filesystem::path>& ours);

}  // namespace vscsim::mutants
