// What a run will do, decided before it starts: which scenarios (filters and
// shard), how often (repeat), and each iteration's seed. The same suite,
// selection and run seed give the same plan, and describe_plan() prints all
// of it (seeds, devices, modules, the fault plan) before anything runs.
//
// Seeds. A run has one run seed (--seed, or drawn from /dev/urandom and
// printed). Round r of a run (iteration r of every scenario) has its own
// round seed: round 0 uses the run seed, round r+1 uses mix64(round r's). A
// scenario's seed in a round is mix64(round seed XOR fnv1a64(name)), unless
// the scenario fixes its own `seed`, which every iteration then uses. So
// `--filter <name> --seed <round seed>` replays one iteration exactly: it is
// round 0 of that run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/scenario/load.h"

namespace vscsim::scenario {

// --shard I/N: of the selected scenarios, sorted by name, the k-th (from 0)
// goes to shard k mod N; I counts from 0. Every iteration of a scenario runs
// in the same shard.
struct Shard {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
};

struct Selection {
  // Each a glob on the name (fnmatch: *, ?, [...]) or "tag:<t>"; a scenario
  // matching any one is selected. None: every scenario.
  std::vector<std::string> filters;
  Shard shard;
  std::uint32_t repeat = 1;  // iterations of each scenario
  // The run boots the debug kernel; without it, scenarios that need it are
  // left out of the plan (Plan::not_run) whatever the filters say.
  bool debug_kernel = false;
};

// Parsers for the command line; the error says what was expected.
Result<Shard, std::string> parse_shard(std::string_view text);  // "I/N"
Result<std::uint64_t, std::string> parse_seed(std::string_view text);  // decimal, or 0x hex
Result<void, std::string> check_filter(std::string_view filter);

bool matches_filter(const Scenario& scenario, std::string_view filter);

// The seed arithmetic described above.
std::uint64_t mix64(std::uint64_t x);              // the splitmix64 step
std::uint64_t fnv1a64(std::string_view bytes);     // a stable hash of a name
std::uint64_t round_seed(std::uint64_t run_seed, std::uint32_t round);
std::uint64_t scenario_seed(std::uint64_t round_seed, std::string_view name);

// A run seed from /dev/urandom (never 0, so it cannot be mistaken for "unset").
std::uint64_t draw_run_seed();

struct PlannedRun {
  std::size_t scenario = 0;  // index into Plan::scenarios
  std::uint32_t iteration = 0;
  std::uint64_t round_seed = 0;  // the --seed that replays this iteration
  std::uint64_t seed = 0;        // the seed the scenario runs with
  bool seed_fixed = false;       // the scenario's own `seed`
  // faults.random_rules drawn from `seed` (random_faults.h); run with the
  // scenario's own rules, after them.
  std::vector<FaultRule> drawn_faults;
};

struct Plan {
  std::uint64_t run_seed = 0;
  bool run_seed_drawn = false;  // from /dev/urandom rather than --seed
  Selection selection;
  std::vector<LoadedScenario> scenarios;  // the selected ones, by name
  // Selected by the filters and the shard but left out: needs_debug_kernel
  // scenarios on another kernel. Names, sorted.
  std::vector<std::string> not_run;
  // Round by round: iteration 0 of every scenario, then iteration 1, ... so
  // that a run stopped early has covered every scenario as evenly as it can.
  std::vector<PlannedRun> runs;

  const LoadedScenario& scenario_of(const PlannedRun& run) const { return scenarios[run.scenario]; }
};

// Fails on a bad selection (a shard index not below its count, repeat 0, a
// malformed filter). Selecting nothing is not an error; the plan is empty.
Result<Plan, std::string> make_plan(const Suite& suite, const Selection& selection, std::uint64_t run_seed,
                                    bool run_seed_drawn = false);

// The whole plan in text, for printing before the run starts.
std::string describe_plan(const Plan& plan);

}  // namespace vscsim::scenario
