// One scenario iteration in a GuestSession, judged by every checker:
//
//   before    the simulator reset (channels offered, faults and stores
//             cleared), the drivers loaded, the fault plan applied, the
//             packet trace cleared
//   steps     runner::run_steps over the agent and the simulator
//             (checkers "expectation", "deadline")
//   after     the agent's processes ended (their files close) and the host's
//             fault rules cleared (what they held back goes out), then
//             "accounting"  the packet trace: no request id reused in flight,
//                           nothing sent on a rescinded channel
//             "leak"        each driver's module reference count is 0, no page
//                           left pinned within 2 s (debugfs az_blob/pinned_pages) unless
//                           the host itself left a request unanswered, and the
//                           driver unloads
//             "console"     the guest console since the iteration began: no
//                           BUG, WARNING, KASAN, oops, hung task, stall,
//                           lockdep report (read after the unload, so removal
//                           is covered)
//
// The iteration's checker is "console" when the kernel reported something
// (its report is the root cause: a step that timed out after an oops in its
// context failed because of the oops), else the first failure in the order
// above; the others are added to its message. A negative control (expect.outcome FAIL) passes
// when its expected checker is the one that failed it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vscsim/report.pb.h"
#include "vscsim/scenario.pb.h"
#include "vscsim/scenario/load.h"
#include "vscsim/scenario/plan.h"
#include "vscsim/session/guest_session.h"

namespace vscsim::session {

struct CheckFailure {
  std::string checker;  // "expectation", "deadline", "console", "accounting", "leak", "data"
  std::string message;
};

struct Verdict {
  report::ScenarioResult::Status status = report::ScenarioResult::PASS;
  std::string checker;
  std::string message;
};

// The verdict from what the checkers found, in order (empty: all passed),
// and a harness error if the iteration could not be run.
Verdict decide(const scenario::Verdict& expect, const std::vector<CheckFailure>& failures,
               const std::string& harness_error);

// The packet trace's JSON lines as timeline events: one instant per packet or
// channel message on lane "channel:<device>" (or "vmbus" for messages about
// no channel), at its time since the trace was cleared. At most `limit`.
Result<std::vector<report::TraceEvent>, std::string> trace_events(std::string_view json_lines,
                                                                  const scenario::Setup& setup,
                                                                  std::size_t limit = 20000);

struct IterationOptions {
  // Timeline events in the result: for iterations that do not pass and for
  // negative controls always; for every iteration with this set.
  bool trace_every_iteration = false;
};

// Runs `run` of `scenario` in `session`. Never throws for anything the guest,
// the driver or the simulator does; a session that can no longer be used is
// marked broken (GuestSession::broken()).
report::ScenarioResult run_iteration(GuestSession& session, const scenario::LoadedScenario& scenario,
                                     const scenario::PlannedRun& run, const IterationOptions& options = {});

}  // namespace vscsim::session
