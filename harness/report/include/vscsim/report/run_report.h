// Helpers around vscsim.report.RunReport that every output format shares:
// totals, the label of an iteration, the command that replays one, and text
// made safe to carry (console excerpts are guest bytes, not always UTF-8).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "vscsim/base/result.h"
#include "vscsim/report.pb.h"

namespace vscsim::report {

// Counts the results by status.
Totals count_totals(const RunReport& report);

// "name" for iteration 0, "name#<i>" after: the same in every output.
std::string result_label(const ScenarioResult& result);

// "PASS", "FAIL", "ERROR", "SKIPPED".
std::string_view status_name(ScenarioResult::Status status);

// The command that replays one iteration alone:
// `vsc-harness run --filter <name> --seed <round seed>` (plus --kernel when
// the run used one): that seed makes it round 0 of a run of its own.
std::string rerun_command(const RunReport& report, const ScenarioResult& result);

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// The last lines of a guest console for a report: at most `max_lines` lines
// and `max_bytes` bytes, carriage returns dropped, valid UTF-8.
std::string console_excerpt(std::string_view console, std::size_t max_lines = 40, std::size_t max_bytes = 8192);

// Writes `text` to `path` (replacing it); the error says why not.
Result<void, std::string> write_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace vscsim::report
