// For tests that drive the project's programs as a user would: run a command
// line (its exit status and everything it printed, stdout and stderr), read a
// file it wrote, and a scratch folder that is removed afterwards.
#pragma once

#include <filesystem>
#include <string>

namespace vscsim::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string output;
};

// `command` goes to /bin/sh -c; stderr is merged into stdout.
CommandResult run_command(const std::string& command);

bool has(const std::string& text, const std::string& part);
// The whole file; empty if it cannot be read.
std::string slurp(const std::filesystem::path& path);

// "" when a kernel built from source (debug, fast) is there; else what is
// missing and the build target that makes it, for a failing test to say.
std::string missing_built_kernel(const std::filesystem::path& kernel, const std::filesystem::path& initrd,
                                 const std::string& name, const std::string& target);

// <tmp>/<prefix>-<pid>, created now, removed with everything in it at scope end.
struct TempDir {
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

}  // namespace vscsim::testing
