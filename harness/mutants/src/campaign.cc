#include "vscsim/mutants/campaign.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <ostream>

#include "vscsim/launcher/stop_signal.h"
#include "vscsim/report/json.h"
#include "vscsim/report/progress.h"
#include "vscsim/report/run_report.h"

namespace vscsim::mutants {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

report::RunReport run_suite(const CampaignOptions& o, const session::SuiteConfig& config) {
  return session::run_plan_with_progress(o.plan, config, o.command_line);
}

// The static checks of `tree`, their logs and sparse's scratch in `dir`.
std::vector<StaticCheckResult> check_tree(const CampaignOptions& o, const std::filesystem::path& tree,
                                          const std::filesystem::path& dir, std::ostream& log,
                                          const std::string& what) {
  const auto work = dir / "sparse";
  auto results = run_static_checks(static_checks(o.static_checks, tree, work), dir, {tree, work});
  std::string line;
  for (const auto& r : results) {
    line += fmt::format("{}{} {} ({:.1f} s)", line.empty() ? "" : ", ", r.name, r.passed ? "passed" : "FAILED",
                        r.seconds);
  }
  if (o.static_checks.sparse.empty()) line += "; no sparse in this build (no kernel lint)";
  log << fmt::format("mutants: {}: static checks: {}\n", what, line) << std::flush;
  return results;
}

}  // namespace

Campaign run_campaign(const CampaignOptions& o, std::ostream& log) {
  const auto t0 = std::chrono::steady_clock::now();
  Campaign c;
  c.command_line = o.command_line;
  c.run_seed = o.plan.run_seed;
  c.debug_kernel = o.debug_kernel;
  session::SuiteConfig config = o.suite;
  config.keep_going = true;

  {
    const auto tb = std::chrono::steady_clock::now();
    // Seconds, and a failure here is most likely the host's (no sparse):
    // before the suite, which would take minutes to say nothing new.
    c.baseline_static_checks = check_tree(o, o.static_checks.source_dir, o.build.out_root / "baseline", log,
                                          "baseline");
    c.baseline_failures = failed_static_checks(c.baseline_static_checks);
    if (c.baseline_failures.empty()) {
      log << fmt::format("mutants: baseline: {} iterations against the unmutated driver\n", o.plan.runs.size())
          << std::flush;
      const auto rep = run_suite(o, config);
      c.baseline_runs = static_cast<unsigned>(rep.result_size());
      for (const auto& it : rep.result()) {
        if (it.status() != report::ScenarioResult::PASS) {
          c.baseline_failures.push_back({it.name(), it.iteration(), it.checker(), it.message()});
        }
      }
    }
    c.baseline_seconds = since(tb);
    c.baseline_passed = c.baseline_failures.empty() && c.baseline_runs > 0;
  }
  if (!c.baseline_passed || launcher::stop_requested()) {
    c.seconds = since(t0);
    return c;
  }

  for (const auto& m : o.mutants) {
    if (launcher::stop_requested()) break;
    log << fmt::format("mutants: {} (item {}): building\n", m.name, m.item) << std::flush;
    const auto built = build_mutant(o.build, m);
    if (!built.ok) {
      auto r = build_failed(m, built.message);
      r.build_log = built.log.string();
      r.build_seconds = built.seconds;
      log << fmt::format("mutants: {}: build-failed: {}\n", m.name, built.message) << std::flush;
      c.results.push_back(std::move(r));
      continue;
    }
    log << fmt::format("mutants: {}: built in {:.1f} s\n", m.name, built.seconds) << std::flush;
    const auto tr = std::chrono::steady_clock::now();
    // Every mutant, whatever its patch touches: the checks take seconds, and
    // sparse also sees byte-order mistakes made in the .c files.
    const auto statics = check_tree(o, built.ko.parent_path(), o.build.out_root / m.name, log, m.name);
    // The suite runs even when a static check caught the mutant: the table
    // then says whether a scenario catches it too.
    session::SuiteConfig mc = config;
    mc.session.module_override[kMutatedModule] = built.ko;
    const auto rep = run_suite(o, mc);
    auto r = classify(m, rep, statics, o.debug_kernel);
    r.run_seconds = since(tr);
    r.build_seconds = built.seconds;
    r.build_log = built.log.string();
    r.ko = built.ko.string();
    const auto report_path = o.build.out_root / m.name / "report.json";
    if (report::write_text_file(report_path.string(), report::to_json(rep)).ok()) r.report = report_path.string();
    log << fmt::format("mutants: {}: {} ({} of {} static checks and {} of {} iterations failed)\n", m.name,
                       to_string(r.outcome), failed_static_checks(statics).size(), statics.size(), r.failed, r.runs)
        << std::flush;
    c.results.push_back(std::move(r));
  }
  c.seconds = since(t0);
  return c;
}

}  // namespace vscsim::mutants
