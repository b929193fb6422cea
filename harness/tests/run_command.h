// Runs a command line for tests that drive the project's programs as a user
// would: its exit status and everything it printed (stdout and stderr).
#pragma once

#include <string>

namespace vscsim::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string output;
};

// `command` goes to /bin/sh -c; stderr is merged into stdout.
CommandResult run_command(const std::string& command);

}  // namespace vscsim::testing
