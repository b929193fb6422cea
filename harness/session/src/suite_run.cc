#include "vscsim/session/suite_run.h"

#include <fmt/format.h>

#include <ctime>
#include <iostream>

#include "vscsim/launcher/stop_signal.h"
#include "vscsim/report/run_report.h"

namespace vscsim::session {

namespace {

report::ScenarioResult not_run(const scenario::Plan& plan, const scenario::PlannedRun& run,
                               report::ScenarioResult::Status status, const std::string& message) {
  const auto& loaded = plan.scenario_of(run);
  report::ScenarioResult r;
  r.set_name(loaded.scenario.name());
  r.set_iteration(run.iteration);
  r.set_seed(run.seed);
  r.set_round_seed(run.round_seed);
  r.set_seed_fixed(run.seed_fixed);
  r.set_path(loaded.path);
  for (const auto& t : loaded.scenario.tags()) r.add_tags(t);
  if (loaded.scenario.expect().outcome() == scenario::Verdict::FAIL) {
    r.set_expected_checker(loaded.scenario.expect().checker());
  }
  r.set_status(status);
  r.set_message(message);
  return r;
}

}  // namespace

void run_plan(const scenario::Plan& plan, const SuiteConfig& config, report::ProgressLine& progress,
              report::RunReport& report) {
  using Clock = std::chrono::steady_clock;
  const auto run_start = Clock::now();
  std::unique_ptr<GuestSession> session;
  unsigned boot_failures = 0;
  std::string stop_reason;

  for (const auto& run : plan.runs) {
    const auto& loaded = plan.scenario_of(run);
    const std::string label = fmt::format("{}#{}", loaded.scenario.name(), run.iteration);
    if (stop_reason.empty() && launcher::stop_requested()) stop_reason = "stopped by signal";
    if (!stop_reason.empty()) {
      auto r = not_run(plan, run, report::ScenarioResult::SKIPPED, stop_reason);
      progress.finished(r, Clock::now());
      *report.add_result() = std::move(r);
      continue;
    }
    progress.started(label, Clock::now());
    const double start_s = std::chrono::duration<double>(Clock::now() - run_start).count();

    const std::string key = boot_key(loaded.scenario.setup());
    if (session && (session->key() != key || !session->broken().empty())) {
      if (!session->broken().empty()) session->keep_run_dir();
      session.reset();
    }
    if (!session) {
      auto started = GuestSession::start(config.session, loaded.scenario.setup());
      if (!started.ok()) {
        auto r = not_run(plan, run, report::ScenarioResult::ERROR, "booting the guest: " + started.error());
        r.set_start_s(start_s);
        progress.finished(r, Clock::now());
        *report.add_result() = std::move(r);
        if (++boot_failures >= config.max_boot_failures) {
          stop_reason = fmt::format("not run: the guest failed to boot {} times in a row", boot_failures);
        } else if (!config.keep_going) {
          stop_reason = "not run: an earlier iteration did not pass (use --keep-going to run everything)";
        }
        continue;
      }
      boot_failures = 0;
      session = std::move(started).value();
      report.mutable_kernel()->set_release(session->kernel_release());
      report.mutable_kernel()->set_image(config.session.kernel.string());
    }

    auto r = run_iteration(*session, loaded, run, config.iteration);
    r.set_start_s(start_s);
    if (r.status() != report::ScenarioResult::PASS) session->keep_run_dir();
    progress.finished(r, Clock::now());
    const bool passed = r.status() == report::ScenarioResult::PASS;
    *report.add_result() = std::move(r);
    if (!passed && !config.keep_going) {
      stop_reason = "not run: an earlier iteration did not pass (use --keep-going to run everything)";
    }
  }
  session.reset();
  progress.done();
  *report.mutable_totals() = report::count_totals(report);
  report.set_duration_s(std::chrono::duration<double>(Clock::now() - run_start).count());
}

report::RunReport run_plan_with_progress(const scenario::Plan& plan, const SuiteConfig& config,
                                         const std::string& command_line) {
  report::RunReport rep;
  rep.set_run_seed(plan.run_seed);
  rep.set_run_seed_drawn(plan.run_seed_drawn);
  rep.mutable_start_time()->set_seconds(std::time(nullptr));
  rep.set_command_line(command_line);
  report::ProgressLine progress(std::cerr, report::ProgressLine::mode_for(2), plan.runs.size());
  run_plan(plan, config, progress, rep);
  return rep;
}

}  // namespace vscsim::session
