#include "vscsim/mutants/score.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>

namespace vscsim::mutants {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::Caught: return "caught";
    case Outcome::Missed: return "missed";
    case Outcome::NeedsDebugKernel: return "needs-debug-kernel";
    case Outcome::BuildFailed: return "build-failed";
    case Outcome::Error: return "error";
  }
  return "?";
}

std::vector<Catch> failed_static_checks(const std::vector<StaticCheckResult>& checks) {
  std::vector<Catch> out;
  for (const auto& c : checks) {
    if (!c.passed) out.push_back({c.name, 0, c.checker, c.message});
  }
  return out;
}

MutantResult classify(const Mutant& mutant, const report::RunReport& run,
                      const std::vector<StaticCheckResult>& static_checks, bool debug_kernel) {
  MutantResult r;
  r.mutant = mutant;
  r.static_checks = static_checks;
  r.caught_by = failed_static_checks(static_checks);
  const bool caught_statically = !r.caught_by.empty();
  std::string errors;
  for (const auto& it : run.result()) {
    ++r.runs;
    switch (it.status()) {
      case report::ScenarioResult::PASS: ++r.passed; break;
      case report::ScenarioResult::FAIL:
        ++r.failed;
        r.caught_by.push_back({it.name(), it.iteration(), it.checker(), it.message()});
        break;
      default:  // ERROR; SKIPPED cannot happen with keep-going, and counts as not run
        ++r.errors;
        if (errors.empty()) errors = fmt::format("{}: {}", it.name(), it.message());
        break;
    }
  }
  if (caught_statically) {
    r.outcome = Outcome::Caught;
  } else if (mutant.needs == Needs::DebugKernel && !debug_kernel) {
    r.outcome = Outcome::NeedsDebugKernel;
    if (r.failed > 0) {
      r.detail = fmt::format("failed {} iteration(s) on this kernel (first: {} by {}), by chance: not counted as "
                             "caught until the debug kernel runs it",
                             r.failed, r.caught_by.front().scenario, r.caught_by.front().checker);
    }
  } else if (r.failed > 0) {
    r.outcome = Outcome::Caught;
  } else if (r.errors > 0 || r.runs == 0) {
    r.outcome = Outcome::Error;
    r.detail = r.runs == 0 ? "no iteration ran" : fmt::format("{} iteration(s) could not run; first: {}", r.errors, errors);
  } else {
    r.outcome = Outcome::Missed;
  }
  return r;
}

MutantResult build_failed(const Mutant& mutant, std::string detail) {
  MutantResult r;
  r.mutant = mutant;
  r.outcome = Outcome::BuildFailed;
  r.detail = std::move(detail);
  return r;
}

Score score(const std::vector<MutantResult>& results) {
  Score s;
  for (const auto& r : results) {
    ++s.total;
    switch (r.outcome) {
      case Outcome::Caught: ++s.caught; break;
      case Outcome::Missed: ++s.missed; break;
      case Outcome::NeedsDebugKernel: ++s.needs_debug_kernel; break;
      case Outcome::BuildFailed: ++s.build_failed; break;
      case Outcome::Error: ++s.error; break;
    }
  }
  return s;
}

bool campaign_ok(const Campaign& campaign) {
  if (!campaign.baseline_passed) return false;
  for (const auto& r : campaign.results) {
    if (r.outcome == Outcome::Caught) continue;
    if (r.outcome == Outcome::NeedsDebugKernel) continue;
    return false;
  }
  return true;
}

namespace {

// "scenario (checker)" for each distinct pair, in order.
std::string catchers(const MutantResult& r) {
  std::set<std::string> seen;
  std::string out;
  for (const auto& c : r.caught_by) {
    auto s = fmt::format("{} ({})", c.scenario, c.checker);
    if (!seen.insert(s).second) continue;
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

std::string to_table(const Campaign& c) {
  std::string out;
  if (!c.baseline_passed) {
    const auto statics = failed_static_checks(c.baseline_static_checks).size();
    out += fmt::format("baseline: FAILED ({} of {} static checks and {} of {} iterations did not pass); no mutant "
                       "was run\n",
                       statics, c.baseline_static_checks.size(), c.baseline_failures.size() - statics,
                       c.baseline_runs);
    for (const auto& f : c.baseline_failures) {
      out += fmt::format("  {} #{}: {} {}\n", f.scenario, f.iteration, f.checker.empty() ? "error" : f.checker,
                         f.message);
    }
    return out;
  }
  out += fmt::format("baseline: passed ({} static checks, {} iterations, {:.1f} s) on the {} kernel\n\n",
                     c.baseline_static_checks.size(), c.baseline_runs, c.baseline_seconds,
                     c.debug_kernel ? "debug" : "stock");
  std::size_t w = 6;
  for (const auto& r : c.results) w = std::max(w, r.mutant.name.size());
  out += fmt::format("{:<{}}  item  {:<12}  {:<18}  {:>6}  caught by\n", "mutant", w, "needs", "outcome", "time");
  for (const auto& r : c.results) {
    std::string by = r.outcome == Outcome::Caught ? catchers(r) : r.detail.substr(0, r.detail.find('\n'));
    out += fmt::format("{:<{}}  {:>4}  {:<12}  {:<18}  {:>5.1f}s  {}\n", r.mutant.name, w, r.mutant.item,
                       to_string(r.mutant.needs), to_string(r.outcome), r.build_seconds + r.run_seconds, by);
  }
  const auto s = score(c.results);
  out += fmt::format(
      "\nmutation score: {}/{} caught ({} missed, {} needs-debug-kernel, {} build-failed, {} error; "
      "needs-debug-kernel mutants count in the total as not caught)\n",
      s.caught, s.total, s.missed, s.needs_debug_kernel, s.build_failed, s.error);
  out += fmt::format("total time {:.1f} s\n", c.seconds);
  return out;
}

std::string to_json(const Campaign& c) {
  using nlohmann::json;
  auto catches = [](const std::vector<Catch>& v) {
    json a = json::array();
    for (const auto& x : v) {
      a.push_back({{"scenario", x.scenario}, {"iteration", x.iteration}, {"checker", x.checker}, {"message", x.message}});
    }
    return a;
  };
  json j;
  j["command_line"] = c.command_line;
  j["run_seed"] = std::to_string(c.run_seed);
  j["kernel"] = c.debug_kernel ? "debug" : "stock";
  auto checks = [](const std::vector<StaticCheckResult>& v) {
    json a = json::array();
    for (const auto& x : v) {
      a.push_back({{"name", x.name},
                   {"checker", x.checker},
                   {"passed", x.passed},
                   {"message", x.message},
                   {"log", x.log},
                   {"seconds", x.seconds}});
    }
    return a;
  };
  j["baseline"] = {{"passed", c.baseline_passed},
                   {"static_checks", checks(c.baseline_static_checks)},
                   {"runs", c.baseline_runs},
                   {"failures", catches(c.baseline_failures)},
                   {"seconds", c.baseline_seconds}};
  json ms = json::array();
  for (const auto& r : c.results) {
    ms.push_back({{"name", r.mutant.name},
                  {"mutant", r.mutant.mutant},
                  {"item", r.mutant.item},
                  {"needs", std::string(to_string(r.mutant.needs))},
                  {"expected_caught_by", r.mutant.caught_by},
                  {"description", r.mutant.description},
                  {"patch", r.mutant.patch.string()},
                  {"outcome", std::string(to_string(r.outcome))},
                  {"static_checks", checks(r.static_checks)},
                  {"caught_by", catches(r.caught_by)},
                  {"runs", r.runs},
                  {"passed", r.passed},
                  {"failed", r.failed},
                  {"errors", r.errors},
                  {"detail", r.detail},
                  {"build_log", r.build_log},
                  {"ko", r.ko},
                  {"report", r.report},
                  {"build_seconds", r.build_seconds},
                  {"run_seconds", r.run_seconds}});
  }
  j["mutants"] = ms;
  const auto s = score(c.results);
  j["score"] = {{"caught", s.caught},
                {"total", s.total},
                {"missed", s.missed},
                {"needs_debug_kernel", s.needs_debug_kernel},
                {"build_failed", s.build_failed},
                {"error", s.error}};
  j["ok"] = campaign_ok(c);
  j["seconds"] = c.seconds;
  // Scenario messages may carry console bytes that are not UTF-8.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace vscsim::mutants
