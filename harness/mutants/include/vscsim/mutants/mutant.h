// A mutant: a patch that puts one defect of the design's catalogue (DESIGN.md
// section 6) back into the hardened az_blob, with a header that `patch`
// ignores (vsc/az_blob/mutants/README.md):
//
//   Mutant: wait-forever
//   Item: 1
//   Needs: stock                 (or debug-kernel)
//   Caught-by: wait_timeout (deadline)
//   Description: one or two sentences; continuation lines start
//    with a space.
//
// The file is named NN-<Mutant>.patch (NN: the item, two digits), or
// NN-<Mutant>-<suffix>.patch for a further mutant of the same kind; its stem
// (without .patch) is the name reports and --filter use.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"

namespace vscsim::mutants {

enum class Needs {
  Stock,        // the stock kernel shows the bug
  DebugKernel,  // only KASAN, lockdep or fault injection would show it
};

std::string_view to_string(Needs needs);

struct Mutant {
  std::string name;  // the file's stem, e.g. "01-wait-forever"
  std::filesystem::path patch;
  std::string mutant;  // the header's "Mutant:"
  unsigned item = 0;   // 1..20
  Needs needs = Needs::Stock;
  std::string caught_by;  // what the author expects, e.g. "wait_timeout (deadline)"
  std::string description;
};

// The header fields of a patch's text (everything before its first "diff " or
// "--- " line). `stem` is the file's stem, checked against Item and Mutant.
// Errors name the line.
Result<Mutant, std::string> parse_mutant(std::string_view text, std::string_view stem);

// Reads and parses one .patch file.
Result<Mutant, std::string> load_mutant(const std::filesystem::path& patch);

// Every *.patch of `dir` whose stem matches one of `globs` (fnmatch; none:
// all), sorted by name. Every bad file's error, one per line, or the list.
Result<std::vector<Mutant>, std::string> load_mutants(const std::filesystem::path& dir,
                                                      const std::vector<std::string>& globs);

}  // namespace vscsim::mutants
