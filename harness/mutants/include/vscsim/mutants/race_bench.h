// `vsc-harness race-bench`: what a race gate buys. For each gated race (a
// scenario tagged "race" and "item-N", paired with each stock mutant of
// catalogue item N), the mutant runs
//   gated:    the scenario as written, a few times: the gate forces the
//             interleaving, so every run should reproduce the bug;
//   ungated:  the same scenario with the race gate taken out (its module
//             loads and control-file writes removed), every step's outcome
//             left free (the expectations describe the forced
//             interleaving's outcome, not any interleaving's; their time
//             bounds stay), and each sleep drawn from 0..2x its
//             length by the iteration's seed, run again and again until a
//             time budget is spent: random stress.
// A run reproduces the bug when it FAILs (ungated: only the console,
// deadline, accounting, leak and quiet checkers are left to fail it); one
// that could not be judged (ERROR, e.g. a guest process that would not end)
// is counted apart.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "vscsim/mutants/build.h"
#include "vscsim/mutants/mutant.h"
#include "vscsim/scenario/load.h"
#include "vscsim/session/suite_run.h"

namespace vscsim::mutants {

inline constexpr const char* kRaceTag = "race";
inline constexpr const char* kRaceGateModule = "vscsim_race_gate";
inline constexpr const char* kRaceGateControlDir = "/sys/kernel/debug/vscsim_race_gate/";

struct Race {
  scenario::LoadedScenario gated;
  Mutant mutant;
};

// Every (race scenario, mutant) pair of the same catalogue item, in scenario
// then mutant order. Mutants marked Needs: debug-kernel are left out unless
// `debug_kernel`: on another kernel they reproduce by chance, if at all.
std::vector<Race> pair_races(const std::vector<scenario::LoadedScenario>& scenarios,
                             const std::vector<Mutant>& mutants, bool debug_kernel);

// The ungated variant of `gated` for one iteration seeded `seed` (named
// "<name>-ungated"). Pure.
scenario::Scenario ungated(const scenario::Scenario& gated, std::uint64_t seed);

struct RaceBenchOptions {
  std::vector<Race> races;
  session::SuiteConfig suite;  // keep_going is forced on
  BuildPaths build;
  std::uint64_t run_seed = 0;
  unsigned gated_runs = 3;
  double ungated_budget_s = 60;
  unsigned ungated_batch = 8;  // at most this many iterations per boot of the ungated stress
};

struct RaceResult {
  std::string scenario;
  std::string mutant;
  unsigned item = 0;
  bool built = false;
  std::string detail;  // build failure, or the first reproduction's checker and message
  unsigned gated_runs = 0, gated_reproduced = 0, gated_errors = 0;
  double gated_seconds = 0;
  unsigned ungated_runs = 0, ungated_reproduced = 0, ungated_errors = 0;
  double ungated_seconds = 0;
  double ungated_first_s = -1;  // stress time until the first reproduction; -1: none
};

struct RaceBench {
  std::uint64_t run_seed = 0;
  double ungated_budget_s = 0;
  std::vector<RaceResult> results;
  double seconds = 0;
};

RaceBench run_race_bench(const RaceBenchOptions& options, std::ostream& log);

// 0-worthy: every race was built and reproduced in every gated run.
bool race_bench_ok(const RaceBench& bench);
std::string to_table(const RaceBench& bench);
std::string to_json(const RaceBench& bench);

}  // namespace vscsim::mutants
