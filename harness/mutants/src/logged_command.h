// Running a host command with its output in a log file: what a mutant's
// build and its static checks do. Private to vscsim_mutants.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::mutants::detail {

// Runs argv in `cwd` with stdout and stderr appended to `log` (after a
// "$ argv..." line); the exit status, or a description of how it did not exit.
Result<int, std::string> run_logged(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                                    const std::filesystem::path& log);

// The last `lines` lines of a file.
std::string tail(const std::filesystem::path& file, std::size_t lines);

}  // namespace vscsim::mutants::detail
