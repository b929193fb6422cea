#include "vscsim/scenario/plan.h"

#include "vscsim/scenario/random_faults.h"

#include <fnmatch.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string_view>

namespace vscsim::scenario {

namespace {

constexpr std::string_view kTagPrefix = "tag:";

Result<std::uint64_t, std::string> parse_number(std::string_view text, int base) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || stop != end) return Err(std::string("not a number"));
  return value;
}

}  // namespace

Result<Shard, std::string> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto bad = [&] { return Err("--shard wants I/N with 0 <= I < N, got \"" + std::string(text) + "\""); };
  if (slash == std::string_view::npos) return bad();
  const auto index = parse_number(text.substr(0, slash), 10);
  const auto count = parse_number(text.substr(slash + 1), 10);
  if (!index.ok() || !count.ok() || *count == 0 || *index >= *count || *count > UINT32_MAX) return bad();
  return Shard{static_cast<std::uint32_t>(*index), static_cast<std::uint32_t>(*count)};
}

Result<std::uint64_t, std::string> parse_seed(std::string_view text) {
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  const auto value = hex ? parse_number(text.substr(2), 16) : parse_number(text, 10);
  if (!value.ok()) return Err("--seed wants a 64-bit number (decimal or 0x hex), got \"" + std::string(text) + "\"");
  return *value;
}

Result<void, std::string> check_filter(std::string_view filter) {
  if (filter.empty()) return Err(std::string("--filter wants a name glob or tag:<tag>, got \"\""));
  if (filter.starts_with(kTagPrefix) && filter.size() == kTagPrefix.size()) {
    return Err(std::string("--filter tag: wants a tag after the colon"));
  }
  return Ok<std::string>();
}

bool matches_filter(const Scenario& scenario, std::string_view filter) {
  if (filter.starts_with(kTagPrefix)) {
    const auto tag = filter.substr(kTagPrefix.size());
    return std::any_of(scenario.tags().begin(), scenario.tags().end(), [&](const std::string& t) { return t == tag; });
  }
  return fnmatch(std::string(filter).c_str(), scenario.name().c_str(), 0) == 0;
}

std::uint64_t mix64(std::uint64_t x) {
  // splitmix64 (Steele, Lea, Flood 2014): add the golden gamma, then the
  // finaliser. Every bit of the input moves about half of the output's.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t round_seed(std::uint64_t run_seed, std::uint32_t round) {
  std::uint64_t seed = run_seed;
  for (std::uint32_t r = 0; r < round; ++r) seed = mix64(seed);
  return seed;
}

std::uint64_t scenario_seed(std::uint64_t round_seed, std::string_view name) {
  return mix64(round_seed ^ fnv1a64(name));
}

std::uint64_t draw_run_seed() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::uint64_t seed = 0;
  // Bounded: eight zero bytes from /dev/urandom twice in a row do not happen.
  for (int attempt = 0; attempt < 4 && seed == 0; ++attempt) {
    if (!urandom.read(reinterpret_cast<char*>(&seed), sizeof seed)) {
      throw std::runtime_error("cannot read /dev/urandom for a run seed; pass --seed");
    }
  }
  if (seed == 0) throw std::runtime_error("/dev/urandom gave only zeros; pass --seed");
  return seed;
}

Result<Plan, std::string> make_plan(const Suite& suite, const Selection& selection, std::uint64_t run_seed,
                                    bool run_seed_drawn) {
  if (selection.repeat == 0) return Err(std::string("--repeat must be at least 1"));
  if (selection.shard.count == 0 || selection.shard.index >= selection.shard.count) {
    return Err("shard " + std::to_string(selection.shard.index) + "/" + std::to_string(selection.shard.count) +
               " does not exist (0 <= I < N)");
  }
  for (const auto& filter : selection.filters) {
    if (auto ok = check_filter(filter); !ok.ok()) return Err(std::move(ok.error()));
  }
  Plan plan;
  plan.run_seed = run_seed;
  plan.run_seed_drawn = run_seed_drawn;
  plan.selection = selection;

  std::vector<const LoadedScenario*> selected;
  for (const auto& loaded : suite.scenarios) {
    const bool chosen = selection.filters.empty() ||
                        std::any_of(selection.filters.begin(), selection.filters.end(),
                                    [&](const std::string& f) { return matches_filter(loaded.scenario, f); });
    if (chosen) selected.push_back(&loaded);
  }
  // Sharding is by position in the name order, never by hash: the shards of
  // one selection are disjoint, cover it, and stay the same from run to run.
  std::sort(selected.begin(), selected.end(),
            [](const auto* a, const auto* b) { return a->scenario.name() < b->scenario.name(); });
  for (std::size_t k = 0; k < selected.size(); ++k) {
    if (k % selection.shard.count != selection.shard.index) continue;
    if (selected[k]->scenario.needs_debug_kernel() && !selection.debug_kernel) {
      plan.not_run.push_back(selected[k]->scenario.name());
    } else {
      plan.scenarios.push_back(*selected[k]);
    }
  }

  for (std::uint32_t round = 0; round < selection.repeat; ++round) {
    const auto this_round = round_seed(run_seed, round);
    for (std::size_t i = 0; i < plan.scenarios.size(); ++i) {
      const auto& scenario = plan.scenarios[i].scenario;
      PlannedRun run;
      run.scenario = i;
      run.iteration = round;
      run.round_seed = this_round;
      run.seed_fixed = scenario.seed() != 0;
      run.seed = run.seed_fixed ? scenario.seed() : scenario_seed(this_round, scenario.name());
      run.drawn_faults = draw_fault_rules(scenario, run.seed);
      plan.runs.push_back(run);
    }
  }
  return plan;
}

namespace {

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

std::string describe_scenario(const LoadedScenario& loaded) {
  const auto& s = loaded.scenario;
  std::string out = "scenario " + s.name() + " (" + loaded.path + ")";
  if (s.tags_size() > 0) out += " tags: " + joined(s.tags(), ", ");
  out += "\n";
  if (!s.description().empty()) out += "  " + s.description() + "\n";
  out += "  devices:";
  for (int i = 0; i < s.setup().device_size(); ++i) {
    const auto& d = s.setup().device(i);
    out += (i ? ", " : " ") + d.name() + " (" + d.kind() + ", relid " + std::to_string(i + 1) + ")";
  }
  out += "\n  modules: " + joined(s.setup().module(), ", ") + "\n";
  if (!s.setup().param().empty()) {
    const std::map<std::string, std::string> sorted(s.setup().param().begin(), s.setup().param().end());
    out += "  params:";
    for (const auto& [key, value] : sorted) out += " " + key + "=" + value;
    out += "\n";
  }
  out += "  limits: step " + std::to_string(s.limits().step_deadline_ms()) + " ms, scenario " +
         std::to_string(s.limits().scenario_deadline_ms()) + " ms\n";
  out += "  expect: " + std::string(s.expect().outcome() == Verdict::FAIL ? "FAIL by " + s.expect().checker() : "PASS") +
         "\n";
  if (s.has_quiet()) {
    out += "  quiet: " + joined(s.quiet().module(), ", ") + " (at most " + std::to_string(s.quiet().max_lines()) +
           " console lines each)\n";
  }
  if (s.faults().rule_size() == 0 && s.faults().random_rules() == 0) {
    out += "  faults: none\n";
  } else {
    std::string text;
    google::protobuf::TextFormat::Printer printer;
    printer.SetInitialIndentLevel(2);  // two spaces a level: under "faults:"
    printer.PrintToString(s.faults(), &text);
    out += "  faults:\n" + text;
    if (s.faults().random_rules() > 0) {
      out += "    (the " + std::to_string(s.faults().random_rules()) +
             " random rules are drawn from each iteration's seed)\n";
    }
  }
  return out;
}

}  // namespace

std::string describe_plan(const Plan& plan) {
  const auto& sel = plan.selection;
  std::string out = "plan: " + std::to_string(plan.runs.size()) + " runs (" + std::to_string(plan.scenarios.size()) +
                    " scenarios x " + std::to_string(sel.repeat) + "); run seed " + std::to_string(plan.run_seed) +
                    (plan.run_seed_drawn ? " (drawn from /dev/urandom)" : " (given)") + "; replay with --seed " +
                    std::to_string(plan.run_seed) + "\n";
  std::string filters;
  for (const auto& f : sel.filters) filters += (filters.empty() ? "" : ", ") + f;
  out += "selection: filter " + (filters.empty() ? std::string("(all)") : filters) + "; shard " +
         std::to_string(sel.shard.index) + "/" + std::to_string(sel.shard.count) + "; repeat " +
         std::to_string(sel.repeat) + "\n";
  if (!plan.not_run.empty()) {
    std::string names;
    for (const auto& n : plan.not_run) names += (names.empty() ? "" : ", ") + n;
    out += "not run: " + std::to_string(plan.not_run.size()) + " scenario(s) that need the debug kernel (--kernel "
           "debug): " + names + "\n";
  }
  if (plan.scenarios.empty()) return out + "no scenario is selected\n";
  for (std::size_t i = 0; i < plan.scenarios.size(); ++i) {
    out += "\n" + describe_scenario(plan.scenarios[i]);
    for (const auto& run : plan.runs) {
      if (run.scenario != i) continue;
      out += "  iteration " + std::to_string(run.iteration) + ": seed " + std::to_string(run.seed) +
             (run.seed_fixed ? " (fixed by the scenario)" : "") + ", round seed " + std::to_string(run.round_seed) +
             "\n";
      for (const auto& rule : run.drawn_faults) out += "    drawn fault: rule { " + rule.ShortDebugString() + " }\n";
    }
  }
  return out;
}

}  // namespace vscsim::scenario
