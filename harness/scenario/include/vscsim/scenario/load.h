// Loading scenarios: a .textproto file (or a folder of them) becomes a
// validated vscsim.scenario.Scenario with every default written out, or a
// list of errors that each say file, line, column and field:
//
//   scenarios/x.textproto:12:5: thread[1].step[3].expect.errno_name: unknown errno name "ENODEVV"
//
// Every error of a file is reported, not only the first (a syntax error ends
// the parse, so it comes alone). The rules and the defaults are listed in
// scenarios/README.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/scenario.pb.h"

namespace vscsim::scenario {

// The defaults that complete a scenario after validation.
inline constexpr std::string_view kDefaultDeviceName = "blob0";
inline constexpr std::string_view kDefaultDeviceKind = "blob";
inline constexpr std::string_view kDefaultModules[] = {"vscsim_vmbus", "az_blob"};
inline constexpr std::uint32_t kDefaultStepDeadlineMs = 30000;
inline constexpr std::uint32_t kDefaultScenarioDeadlineMs = 300000;
inline constexpr std::string_view kDefaultProcess = "main";
inline constexpr std::string_view kHostActor = "host";  // the host's lane; no thread may take it

// The closed lists the schema's strings are checked against.
inline constexpr std::string_view kDeviceKinds[] = {"blob", "keyboard", "blob-vpci"};
inline constexpr std::string_view kCheckers[] = {"expectation", "deadline", "console", "quiet",
                                                 "accounting",  "leak",     "data"};
inline constexpr std::string_view kNegativeControlTag = "negative-control";

// One problem in a scenario file, and where it is.
struct LoadError {
  enum class Severity { kError, kWarning };
  std::string path;    // the file, as it was given
  int line = 0;        // 1-based; 0 when the problem has no place in the file
  int column = 0;      // 1-based
  std::string field;   // e.g. "thread[1].step[3].expect.errno_name"; "" for syntax errors
  std::string message;
  Severity severity = Severity::kError;

  // "path:line:column: [warning: ]field: message", leaving out what is unknown.
  std::string str() const;
};
std::ostream& operator<<(std::ostream& out, const LoadError& error);

struct LoadFailure {
  std::vector<LoadError> errors;  // at least one
  std::vector<LoadError> warnings;

  // One line per error, then one per warning.
  std::string str() const;
};

struct LoadedScenario {
  Scenario scenario;  // validated, every default written out
  std::string path;
  std::vector<LoadError> warnings;
};

Result<LoadedScenario, LoadFailure> load_scenario(const std::filesystem::path& path);

// The same for text already in memory: `path` names it in errors, and its base
// name is the name the scenario must have.
Result<LoadedScenario, LoadFailure> parse_scenario(std::string_view text,
                                                   const std::filesystem::path& path);

// Scenarios sorted by name, names unique.
struct Suite {
  std::vector<LoadedScenario> scenarios;

  const LoadedScenario* find(std::string_view name) const;
};

// Every *.textproto directly in `dir`. The errors of all bad files come back
// together, so one run shows every broken file.
Result<Suite, LoadFailure> load_suite(const std::filesystem::path& dir);

// The same over several sources, each a folder or one .textproto file; a name
// that two files share is an error.
Result<Suite, LoadFailure> load_suite(std::span<const std::filesystem::path> sources);

}  // namespace vscsim::scenario
