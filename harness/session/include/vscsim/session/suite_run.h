// A whole planned run: boots a session for each boot key as the plan needs
// it (one boot for scenarios that share devices), runs every iteration in
// plan order, boots a fresh guest after one that crashed or broke, and
// collects the RunReport. Without keep_going the run stops at the first
// iteration that does not pass and the rest are SKIPPED.
#pragma once

#include <functional>
#include <string>

#include "vscsim/report.pb.h"
#include "vscsim/report/progress.h"
#include "vscsim/scenario/plan.h"
#include "vscsim/session/guest_session.h"
#include "vscsim/session/scenario_run.h"

namespace vscsim::session {

struct SuiteConfig {
  SessionConfig session;
  IterationOptions iteration;
  bool keep_going = false;
  // A boot that fails this many times in a row ends the run (the rest ERROR).
  unsigned max_boot_failures = 2;
};

// `report` comes filled with what the caller knows (command line, options,
// host); this adds the kernel, the results and the totals.
void run_plan(const scenario::Plan& plan, const SuiteConfig& config, report::ProgressLine& progress,
              report::RunReport& report);

// The same for commands that run many plans (mutants, race-bench): a report
// with the plan's seed, the start time and `command_line`, a progress line on
// stderr.
report::RunReport run_plan_with_progress(const scenario::Plan& plan, const SuiteConfig& config,
                                         const std::string& command_line = {});

}  // namespace vscsim::session
