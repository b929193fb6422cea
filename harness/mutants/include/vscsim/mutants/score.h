// What the suite did to each mutant, and the mutation score. Pure: from run
// reports to outcomes, a table and JSON; nothing here runs a guest.
//
// Outcomes, decided in this order:
//   build-failed        the patch did not apply or the module did not build
//   caught              a static check failed (static_checks.h: checkers
//                       "uapi", "sparse"; deterministic, so this holds for
//                       debug-kernel mutants too), or at least one iteration
//                       FAILed (every failing check and scenario recorded)
//   needs-debug-kernel  not caught, and the header says Needs: debug-kernel
//   error               not caught, and some iteration could not run (ERROR):
//                       the scenarios that errored might have caught it, so
//                       it is not called missed
//   missed              every iteration passed
//
// Score: caught / total, every mutant in the total (needs-debug-kernel ones
// too: they count as not caught until a debug kernel catches them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vscsim/mutants/mutant.h"
#include "vscsim/report.pb.h"

namespace vscsim::mutants {

enum class Outcome { Caught, Missed, NeedsDebugKernel, BuildFailed, Error };

std::string_view to_string(Outcome outcome);

struct Catch {
  std::string scenario;
  unsigned iteration = 0;
  std::string checker;
  std::string message;
};

// One static check of a tree of az_blob's sources (static_checks.h).
struct StaticCheckResult {
  std::string name;     // "uapi-c99", "uapi-cxx20", "sparse": a catch's scenario column
  std::string checker;  // "uapi" or "sparse"
  bool passed = false;
  std::string message;  // why not: the findings, or the output's tail
  std::string log;      // path
  double seconds = 0;
};

struct MutantResult {
  Mutant mutant;
  Outcome outcome = Outcome::Missed;
  std::vector<StaticCheckResult> static_checks;
  std::vector<Catch> caught_by;  // the failed static checks first, then the failed iterations
  unsigned runs = 0, passed = 0, failed = 0, errors = 0;
  std::string detail;      // build failure or errors, for people
  std::string build_log;   // path
  std::string ko;          // path of the mutated module
  std::string report;      // path of the suite's RunReport JSON for this mutant
  double build_seconds = 0;
  double run_seconds = 0;
};

// The outcome of `mutant` from its static checks and the suite's report
// against it. A mutant marked `Needs: debug-kernel` run on another kernel is
// needs-debug-kernel even when an iteration failed (caught_by still lists
// it): on the stock kernel its bug shows by chance, if at all, and a score
// must not count luck. A failed static check is no luck: caught.
MutantResult classify(const Mutant& mutant, const report::RunReport& run,
                      const std::vector<StaticCheckResult>& static_checks = {}, bool debug_kernel = false);
// The static checks that did not pass, as catches (iteration 0).
std::vector<Catch> failed_static_checks(const std::vector<StaticCheckResult>& checks);
// A mutant whose build failed.
MutantResult build_failed(const Mutant& mutant, std::string detail);

struct Score {
  unsigned total = 0, caught = 0, missed = 0, needs_debug_kernel = 0, build_failed = 0, error = 0;
};
Score score(const std::vector<MutantResult>& results);

struct Campaign {
  std::string command_line;
  std::uint64_t run_seed = 0;
  bool debug_kernel = false;  // the suite ran on the debug kernel
  bool baseline_passed = false;
  unsigned baseline_runs = 0;
  std::vector<StaticCheckResult> baseline_static_checks;
  // Static checks, then iterations, that did not pass on the unmutated driver.
  std::vector<Catch> baseline_failures;
  double baseline_seconds = 0;
  std::vector<MutantResult> results;
  double seconds = 0;
};

// Exit status 0 only if this holds: the baseline passed and every mutant
// not marked debug-kernel was caught.
bool campaign_ok(const Campaign& campaign);

// The table (mutant, item, needs, outcome, caught by) and the score line.
std::string to_table(const Campaign& campaign);
// The campaign as JSON (shape: harness/mutants/README.md).
std::string to_json(const Campaign& campaign);

}  // namespace vscsim::mutants
