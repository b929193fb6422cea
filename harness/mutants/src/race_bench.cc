#include "vscsim/mutants/race_bench.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <ostream>

#include "vscsim/launcher/stop_signal.h"
#include "vscsim/mutants/campaign.h"
#include "vscsim/report/progress.h"
#include "vscsim/scenario/plan.h"

namespace vscsim::mutants {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The catalogue item a scenario's "item-N" tag names; 0 if none.
unsigned item_of(const scenario::Scenario& s) {
  for (const auto& tag : s.tags()) {
    unsigned n = 0;
    if (std::sscanf(tag.c_str(), "item-%u", &n) == 1 && n > 0) return n;
  }
  return 0;
}

bool has_tag(const scenario::Scenario& s, std::string_view tag) {
  for (const auto& t : s.tags()) {
    if (t == tag) return true;
  }
  return false;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// A step that only drives the race gate: its module's load and unload, and
// the reads and writes of its control files.
bool drives_gate(const agent::Op& op) {
  if (op.has_load_module()) return op.load_module().path().find(kRaceGateModule) != std::string::npos;
  if (op.has_unload_module()) return op.unload_module().name() == kRaceGateModule;
  if (op.has_write_file()) return starts_with(op.write_file().path(), kRaceGateControlDir);
  if (op.has_read_file()) return starts_with(op.read_file().path(), kRaceGateControlDir);
  return false;
}

struct Tally {
  unsigned runs = 0, reproduced = 0, errors = 0;
  std::string first;  // the first reproduction: scenario, checker, message
};

// Runs `copies` (each its own scenario, one iteration, seeded `seeds[i]`) in
// one boot, with the mutant in place of az_blob, and counts.
Tally run_copies(std::vector<scenario::LoadedScenario> copies, const std::vector<std::uint64_t>& seeds,
                 std::uint64_t run_seed, const session::SuiteConfig& config) {
  scenario::Plan plan;
  plan.run_seed = run_seed;
  plan.scenarios = std::move(copies);
  for (std::size_t i = 0; i < plan.scenarios.size(); ++i) {
    scenario::PlannedRun run;
    run.scenario = i;
    run.round_seed = run_seed;
    run.seed = seeds[i];
    plan.runs.push_back(run);
  }
  const report::RunReport rep = session::run_plan_with_progress(plan, config);
  Tally t;
  for (const auto& it : rep.result()) {
    ++t.runs;
    if (it.status() == report::ScenarioResult::FAIL) {
      if (t.reproduced++ == 0) t.first = fmt::format("{} ({}): {}", it.name(), it.checker(), it.message());
    } else if (it.status() != report::ScenarioResult::PASS) {
      ++t.errors;
    }
  }
  return t;
}

void bench_one(const RaceBenchOptions& o, const Race& race, const session::SuiteConfig& config, RaceResult& r,
               std::ostream& log) {
  const auto& name = race.gated.scenario.name();
  // Gated: the scenario as written, a few times.
  {
    std::vector<scenario::LoadedScenario> copies;
    std::vector<std::uint64_t> seeds;
    for (unsigned k = 0; k < o.gated_runs; ++k) {
      copies.push_back(race.gated);
      seeds.push_back(scenario::scenario_seed(scenario::round_seed(o.run_seed, k), name));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto t = run_copies(std::move(copies), seeds, o.run_seed, config);
    r.gated_seconds = since(t0);
    r.gated_runs = t.runs;
    r.gated_reproduced = t.reproduced;
    r.gated_errors = t.errors;
    if (!t.first.empty()) r.detail = "gated: " + t.first;
    log << fmt::format("race-bench: {} x {}: gated: reproduced in {} of {} runs ({:.1f} s)\n", name,
                       race.mutant.name, t.reproduced, t.runs, r.gated_seconds)
        << std::flush;
  }
  // Ungated: batches of stress iterations until the budget is spent; the
  // first batch is small, the next ones sized from the time a run took so
  // far (a run that hangs until its deadlines may take a minute).
  const auto t0 = std::chrono::steady_clock::now();
  std::uint32_t drawn = 0;
  for (unsigned batch = std::min(2u, o.ungated_batch); since(t0) < o.ungated_budget_s && !launcher::stop_requested();) {
    std::vector<scenario::LoadedScenario> copies;
    std::vector<std::uint64_t> seeds;
    for (unsigned k = 0; k < batch; ++k) {
      const auto seed = scenario::scenario_seed(scenario::round_seed(o.run_seed, drawn++), name + "-ungated");
      scenario::LoadedScenario copy = race.gated;
      copy.scenario = ungated(race.gated.scenario, seed);
      copies.push_back(std::move(copy));
      seeds.push_back(seed);
    }
    const auto t = run_copies(std::move(copies), seeds, o.run_seed, config);
    r.ungated_runs += t.runs;
    r.ungated_errors += t.errors;
    if (t.reproduced > 0 && r.ungated_reproduced == 0) {
      // The batch's end: an upper bound, the batch's runs are not timed apart.
      r.ungated_first_s = since(t0);
      if (r.detail.empty()) r.detail = "ungated: " + t.first;
    }
    r.ungated_reproduced += t.reproduced;
    const double per_run = since(t0) / std::max(r.ungated_runs, 1u);
    const double left = o.ungated_budget_s - since(t0);
    batch = static_cast<unsigned>(std::clamp(left / std::max(per_run, 0.1), 1.0, double(o.ungated_batch)));
  }
  r.ungated_seconds = since(t0);
  log << fmt::format("race-bench: {} x {}: ungated: reproduced in {} of {} runs ({:.1f} s)\n", name,
                     race.mutant.name, r.ungated_reproduced, r.ungated_runs, r.ungated_seconds)
      << std::flush;
}

}  // namespace

std::vector<Race> pair_races(const std::vector<scenario::LoadedScenario>& scenarios,
                             const std::vector<Mutant>& mutants, bool debug_kernel) {
  std::vector<Race> out;
  for (const auto& s : scenarios) {
    const unsigned item = item_of(s.scenario);
    if (item == 0 || !has_tag(s.scenario, kRaceTag)) continue;
    for (const auto& m : mutants) {
      if (m.item != item || (m.needs == Needs::DebugKernel && !debug_kernel)) continue;
      out.push_back({s, m});
    }
  }
  return out;
}

scenario::Scenario ungated(const scenario::Scenario& gated, std::uint64_t seed) {
  scenario::Scenario s = gated;
  s.set_name(gated.name() + "-ungated");
  s.set_seed(seed);
  for (auto& thread : *s.mutable_thread()) {
    auto* steps = thread.mutable_step();
    for (int i = steps->size() - 1; i >= 0; --i) {
      if ((*steps)[i].has_op() && drives_gate((*steps)[i].op())) steps->DeleteSubrange(i, 1);
    }
    for (auto& step : *steps) {
      if (step.has_op()) {
        const auto within = step.has_expect() ? step.expect().within_ms() : 0;
        step.clear_expect();
        step.mutable_expect()->set_any_outcome(true);
        step.mutable_expect()->set_within_ms(within);
      }
      if (step.has_op() && step.op().has_sleep()) {
        // Each sleep its own draw: 0 .. twice the written length.
        const auto ms = step.op().sleep().ms();
        const auto draw = scenario::mix64(seed ^ scenario::fnv1a64(step.name()));
        step.mutable_op()->mutable_sleep()->set_ms(static_cast<std::uint32_t>(draw % (2ull * ms + 1)));
      }
    }
  }
  return s;
}

RaceBench run_race_bench(const RaceBenchOptions& o, std::ostream& log) {
  const auto t0 = std::chrono::steady_clock::now();
  RaceBench bench;
  bench.run_seed = o.run_seed;
  bench.ungated_budget_s = o.ungated_budget_s;
  for (const auto& race : o.races) {
    if (launcher::stop_requested()) break;
    RaceResult r;
    r.scenario = race.gated.scenario.name();
    r.mutant = race.mutant.name;
    r.item = race.mutant.item;
    log << fmt::format("race-bench: {} x {}: building the mutant\n", r.scenario, r.mutant) << std::flush;
    const auto built = build_mutant(o.build, race.mutant);
    r.built = built.ok;
    if (!built.ok) {
      r.detail = built.message;
      log << fmt::format("race-bench: {}: build failed: {}\n", r.mutant, built.message) << std::flush;
    } else {
      session::SuiteConfig config = o.suite;
      config.keep_going = true;
      config.session.module_override[kMutatedModule] = built.ko;
      bench_one(o, race, config, r, log);
    }
    bench.results.push_back(std::move(r));
  }
  bench.seconds = since(t0);
  return bench;
}

bool race_bench_ok(const RaceBench& bench) {
  if (bench.results.empty()) return false;
  for (const auto& r : bench.results) {
    if (!r.built || r.gated_runs == 0 || r.gated_reproduced != r.gated_runs) return false;
  }
  return true;
}

std::string to_table(const RaceBench& bench) {
  std::string out = fmt::format("{:<24} {:>4}  {:<30} {:<22} {}\n", "race", "item", "mutant", "gated",
                                fmt::format("ungated (budget {:.0f} s)", bench.ungated_budget_s));
  for (const auto& r : bench.results) {
    if (!r.built) {
      out += fmt::format("{:<24} {:>4}  {:<30} build failed\n", r.scenario, r.item, r.mutant);
      continue;
    }
    std::string gated = fmt::format("{} of {} ({:.1f} s)", r.gated_reproduced, r.gated_runs, r.gated_seconds);
    if (r.gated_errors > 0) gated += fmt::format(", {} error(s)", r.gated_errors);
    std::string ungated = fmt::format("{} of {} in {:.0f} s", r.ungated_reproduced, r.ungated_runs, r.ungated_seconds);
    if (r.ungated_first_s >= 0) ungated += fmt::format(", first within {:.0f} s", r.ungated_first_s);
    if (r.ungated_errors > 0) ungated += fmt::format(", {} error(s)", r.ungated_errors);
    out += fmt::format("{:<24} {:>4}  {:<30} {:<22} {}\n", r.scenario, r.item, r.mutant, gated, ungated);
  }
  out += fmt::format("total time {:.1f} s (run seed {})\n", bench.seconds, bench.run_seed);
  return out;
}

std::string to_json(const RaceBench& bench) {
  using nlohmann::json;
  json races = json::array();
  for (const auto& r : bench.results) {
    races.push_back({{"scenario", r.scenario},
                     {"mutant", r.mutant},
                     {"item", r.item},
                     {"built", r.built},
                     {"detail", r.detail},
                     {"gated", {{"runs", r.gated_runs},
                                {"reproduced", r.gated_reproduced},
                                {"errors", r.gated_errors},
                                {"seconds", r.gated_seconds}}},
                     {"ungated", {{"runs", r.ungated_runs},
                                  {"reproduced", r.ungated_reproduced},
                                  {"errors", r.ungated_errors},
                                  {"seconds", r.ungated_seconds},
                                  {"first_reproduction_s", r.ungated_first_s}}}});
  }
  json j{{"run_seed", std::to_string(bench.run_seed)},
         {"ungated_budget_s", bench.ungated_budget_s},
         {"ok", race_bench_ok(bench)},
         {"seconds", bench.seconds},
         {"races", races}};
  return j.dump(2) + "\n";
}

}  // namespace vscsim::mutants
