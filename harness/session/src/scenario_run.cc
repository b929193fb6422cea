#include "vscsim/session/scenario_run.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "vscsim/checkers/console_scanner.h"
#include "vscsim/checkers/quiet.h"
#include "vscsim/checkers/request_accounting.h"
#include "vscsim/report/run_report.h"
#include "vscsim/runner/engine.h"
#include "vscsim/session/ports.h"

namespace vscsim::session {

using namespace std::chrono_literals;

namespace {

constexpr auto kControlTimeout = 10s;
constexpr auto kShutdownTimeout = 20s;
constexpr auto kUnloadTimeout = 60s;
constexpr std::chrono::milliseconds kQuiesce{2000};

double seconds_since(runner::Clock::time_point t0) {
  return std::chrono::duration<double>(runner::Clock::now() - t0).count();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The module is loaded when /sys/module/<m>/refcnt exists (a built-in
// module has no refcnt and cannot be unloaded anyway).
struct LeakCheck {
  GuestSession& session;
  const scenario::Setup& setup;
  bool host_left_requests_open = false;
  std::vector<CheckFailure>& failures;

  void fail(std::string message) { failures.push_back({"leak", std::move(message)}); }

  // False if the session cannot go on (the agent failed).
  bool run() {
    const auto drivers = driver_modules(setup);
    for (const auto& m : drivers) {
      auto refcnt = session.read_guest_file(fmt::format("/sys/module/{}/refcnt", m));
      if (!refcnt.ok()) return false;
      if (!refcnt->has_value()) continue;  // the scenario left it unloaded
      if (trim(**refcnt) != "0") {
        fail(fmt::format("{}: module reference count {} after every guest process ended", m, trim(**refcnt)));
      }
      if (m == "az_blob" && !host_left_requests_open) {
        // The host's faults were cleared (held answers and signals went
        // out); the driver may still be taking the last answers off its
        // ring, so the count has a moment to reach 0.
        std::string last;
        const auto until = runner::Clock::now() + kQuiesce;
        for (;;) {
          auto pinned = session.read_guest_file("/sys/kernel/debug/az_blob/pinned_pages");
          if (!pinned.ok()) return false;
          last = pinned->has_value() ? trim(**pinned) : "0";
          if (last == "0" || runner::Clock::now() >= until) break;
          std::this_thread::sleep_for(50ms);
        }
        if (last != "0") {
          fail(fmt::format("az_blob: {} pages still pinned {} ms after every request was answered, the host's "
                           "faults were cleared and every process ended",
                           last, kQuiesce.count()));
        }
      }
    }
    // Unload in reverse order; the removal path runs here.
    for (auto it = drivers.rbegin(); it != drivers.rend(); ++it) {
      agent::Op op;
      op.mutable_unload_module()->set_name(*it);
      auto r = session.run_op(op, kUnloadTimeout);
      if (!r.ok()) return false;
      if (r->err() != 0 && r->errno_name() != "ENOENT") {
        fail(fmt::format("rmmod {}: {} {}", *it, r->errno_name(), r->detail()));
        session.mark_broken(fmt::format("{} could not be unloaded", *it));
      }
    }
    return true;
  }
};

std::set<std::uint32_t> blob_relids(const scenario::Setup& setup) {
  std::set<std::uint32_t> out;
  for (int i = 0; i < setup.device_size(); ++i) {
    if (setup.device(i).kind() == "blob") out.insert(static_cast<std::uint32_t>(i + 1));
  }
  return out;
}

std::string lane_of(const scenario::Setup& setup, std::uint32_t relid) {
  if (relid == 0) return "vmbus";
  if (relid <= static_cast<std::uint32_t>(setup.device_size())) return "channel:" + setup.device(relid - 1).name();
  return fmt::format("channel:relid{}", relid);
}

}  // namespace

Verdict decide(const scenario::Verdict& expect, const std::vector<CheckFailure>& failures,
               const std::string& harness_error) {
  Verdict v;
  if (!harness_error.empty()) {
    v.status = report::ScenarioResult::ERROR;
    v.message = harness_error;
    return v;
  }
  // The first failure's message, then the others with their checkers.
  std::string all = failures.empty() ? std::string() : failures.front().message;
  for (std::size_t i = 1; i < failures.size(); ++i) {
    all += fmt::format("\nalso {}: {}", failures[i].checker, failures[i].message);
  }
  if (expect.outcome() == scenario::Verdict::FAIL) {
    if (failures.empty()) {
      v.status = report::ScenarioResult::FAIL;
      v.message = fmt::format("negative control not caught: every checker passed, but {} had to fail it",
                              expect.checker());
    } else if (failures.front().checker != expect.checker()) {
      v.status = report::ScenarioResult::FAIL;
      v.checker = failures.front().checker;
      v.message = fmt::format("negative control failed by the wrong checker: {} had to fail it first\n{}: {}",
                              expect.checker(), failures.front().checker, all);
    } else {
      v.status = report::ScenarioResult::PASS;
      v.checker = failures.front().checker;
      v.message = fmt::format("caught as designed by {}: {}", v.checker, all);
    }
    return v;
  }
  if (!failures.empty()) {
    v.status = report::ScenarioResult::FAIL;
    v.checker = failures.front().checker;
    v.message = all;
  }
  return v;
}

Result<std::vector<report::TraceEvent>, std::string> trace_events(std::string_view json_lines,
                                                                  const scenario::Setup& setup, std::size_t limit) {
  std::vector<report::TraceEvent> out;
  std::size_t line_number = 0;
  while (!json_lines.empty() && out.size() < limit) {
    const auto nl = json_lines.find('\n');
    const std::string_view line = json_lines.substr(0, nl);
    json_lines = nl == std::string_view::npos ? std::string_view() : json_lines.substr(nl + 1);
    ++line_number;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Err(fmt::format("trace line {}: not a JSON object", line_number));
    if (j.contains("end")) break;
    report::TraceEvent e;
    const auto relid = j.value("relid", 0u);
    const std::string kind = j.value("kind", std::string("?"));
    e.set_lane(lane_of(setup, relid));
    e.set_category(kind);
    e.set_instant(true);
    e.set_start_s(static_cast<double>(j.value("t_ns", std::uint64_t{0})) / 1e9);
    std::string name = j.value("type_name", kind);
    if (kind == "fault") name = "fault " + j.value("fault", std::string("?"));
    e.set_name(name);
    auto& args = *e.mutable_args();
    for (const auto& [k, v] : j.items()) {
      if (k == "t_ns") continue;
      args[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    out.push_back(std::move(e));
  }
  return out;
}

report::ScenarioResult run_iteration(GuestSession& session, const scenario::LoadedScenario& loaded,
                                     const scenario::PlannedRun& run, const IterationOptions& options) {
  scenario::Scenario s = loaded.scenario;
  s.set_seed(run.seed);
  // A scenario that loads an overridden driver itself (module_reload) gets
  // the override too, not the initramfs's copy.
  for (auto& thread : *s.mutable_thread()) {
    for (auto& step : *thread.mutable_step()) {
      if (!step.op().has_load_module()) continue;
      const std::filesystem::path path = step.op().load_module().path();
      if (path.parent_path() == kGuestModuleDir && path.extension() == ".ko" &&
          session.overridden(path.stem().string())) {
        step.mutable_op()->mutable_load_module()->set_path(override_guest_path(path.stem().string()));
      }
    }
  }
  // The drawn rules join the scenario's own (the plan printed them).
  for (const auto& rule : run.drawn_faults) *s.mutable_faults()->add_rule() = rule;
  s.mutable_faults()->set_random_rules(0);
  report::ScenarioResult result;
  result.set_name(s.name());
  result.set_iteration(run.iteration);
  result.set_seed(run.seed);
  result.set_round_seed(run.round_seed);
  result.set_seed_fixed(run.seed_fixed);
  result.set_path(loaded.path);
  for (const auto& t : s.tags()) result.add_tags(t);
  if (s.expect().outcome() == scenario::Verdict::FAIL) result.set_expected_checker(s.expect().checker());

  const auto t0 = runner::Clock::now();
  std::vector<CheckFailure> failures;
  std::string harness_error;
  const std::size_t console_from = session.guest().console().size();
  std::string trace_text;

  const auto finish = [&]() -> report::ScenarioResult {
    const Verdict v = decide(s.expect(), failures, harness_error);
    result.set_status(v.status);
    result.set_checker(v.checker);
    result.set_message(report::valid_utf8(v.message));
    result.set_duration_s(seconds_since(t0));
    const std::string console = session.guest().console();
    result.set_console_excerpt(
        report::console_excerpt(std::string_view(console).substr(std::min(console_from, console.size()))));
    const bool want_trace = options.trace_every_iteration || v.status != report::ScenarioResult::PASS ||
                            s.expect().outcome() == scenario::Verdict::FAIL;
    if (want_trace && !trace_text.empty()) {
      auto events = trace_events(trace_text, s.setup());
      if (events.ok()) {
        for (auto& e : *events) *result.add_event() = std::move(e);
      }
    }
    return result;
  };

  // Before: a fresh simulator, the drivers loaded, the faults set.
  auto faults = fault_requests(s);
  if (!faults.ok()) {
    harness_error = faults.error();
    return finish();
  }
  if (auto r = session.reset_host(s.setup()); !r.ok()) {
    harness_error = "resetting vsp-sim: " + r.error();
    session.mark_broken(harness_error);
    return finish();
  }
  if (auto r = session.load_drivers(s.setup()); !r.ok()) {
    // A driver that does not load or bind is the driver's failure, seen on
    // the console too; the session may still be usable.
    failures.push_back({"expectation", "loading the drivers: " + r.error()});
    session.mark_broken("the drivers did not load");
    return finish();
  }
  for (const auto& req : *faults) {
    if (auto r = session.control().must(req, kControlTimeout); !r.ok()) {
      harness_error = "setting the fault plan: " + r.error();
      return finish();
    }
  }
  {
    control::Request clear;
    clear.mutable_trace_clear();
    if (auto r = session.control().must(clear, kControlTimeout); !r.ok()) {
      harness_error = "clearing the packet trace: " + r.error();
      return finish();
    }
  }

  // The steps.
  AgentGuestPort guest_port(session.agent());
  SimHostPort host_port(session.control(), s.setup());
  runner::Outcome outcome = runner::run_steps(s, guest_port, host_port);
  for (auto& step : outcome.steps) *result.add_step() = std::move(step);
  if (outcome.failure) {
    if (outcome.failure->harness_error) {
      harness_error = outcome.failure->message;
    } else {
      failures.push_back({outcome.failure->checker, outcome.failure->message});
    }
  }

  // After: end the guest processes, then account, check for leaks, unload, read the console.
  if (!session.healthy()) {
    const auto findings = checkers::scan_console(std::string_view(session.guest().console()).substr(console_from));
    if (!findings.empty()) {
      // The kernel said why the guest stopped: that is the verdict, and the
      // harness error it caused (the agent gone) is only its consequence.
      failures.insert(failures.begin(), {"console", checkers::describe(findings) + "(then: " + session.broken() + ")"});
      harness_error.clear();
    } else if (harness_error.empty() && failures.empty()) {
      harness_error = "the guest stopped answering: " + session.broken();
    }
    return finish();
  }
  bool processes_stuck = false;
  if (auto r = session.agent().shutdown(kShutdownTimeout); !r.ok() || r->err() != 0) {
    failures.push_back({"leak", "the agent could not end the scenario's processes: " +
                                    (r.ok() ? r->detail() : r.error().message)});
    session.mark_broken("guest processes would not end");
    processes_stuck = true;
  }

  // The host lets go of what its faults hold (answers, signals, rings)
  // before the driver is asked to have let go of everything.
  {
    control::Request clear;
    clear.mutable_clear_faults();
    if (auto r = session.control().must(clear, kControlTimeout); !r.ok()) {
      harness_error = "clearing the fault rules: " + r.error();
      session.mark_broken(harness_error);
      return finish();
    }
  }
  const auto dump_path = session.guest().run_dir() / fmt::format("trace-{}-{}.jsonl", s.name(), run.iteration);
  control::Request dump;
  dump.mutable_trace_dump()->set_path(dump_path.string());
  bool host_left_requests_open = false;
  if (auto r = session.control().must(dump, kControlTimeout); !r.ok()) {
    harness_error = "dumping the packet trace: " + r.error();
  } else {
    trace_text = read_file(dump_path);
    auto acc = checkers::account_requests(trace_text, blob_relids(s.setup()));
    if (!acc.ok()) {
      harness_error = "reading the packet trace: " + acc.error();
    } else {
      host_left_requests_open = acc->unanswered != 0 || acc->unanswered_at_rescind != 0 || acc->dropped_by_host != 0;
      if (!acc->guest_clean()) failures.push_back({"accounting", acc->summary()});
    }
  }

  LeakCheck leak{session, s.setup(), host_left_requests_open, failures};
  // After processes that would not end (a `leak` failure already) the agent
  // is marked broken, and the leak checks failing is only its consequence.
  if (!leak.run() && !processes_stuck) {
    harness_error = harness_error.empty() ? "the guest agent failed during the leak checks: " + session.broken()
                                          : harness_error;
  }

  // Let the console catch up with what the unload printed.
  std::this_thread::sleep_for(100ms);
  const std::string console = session.guest().console();
  const auto findings = checkers::scan_console(std::string_view(console).substr(std::min(console_from, console.size())));
  // The kernel's own report is the root cause when there is one (a step that
  // timed out after an oops in its context failed because of the oops).
  if (!findings.empty()) {
    failures.insert(failures.begin(), {"console", checkers::describe(findings)});
    // As for a guest that stopped answering: what the harness could not do
    // after the kernel's report is its consequence, not the verdict.
    harness_error.clear();
    // A kernel that has reported a problem is not trusted with the next
    // iteration: its state may be corrupt, lockdep switches itself off after
    // its first report and KASAN prints only its first. The next one boots afresh.
    session.mark_broken("the kernel reported a problem; the next iteration boots a fresh guest");
  }
  // The same window: from before the drivers loaded to after they unloaded,
  // so a probe or a removal that talks is seen.
  if (s.has_quiet()) {
    const std::vector<std::string> modules(s.quiet().module().begin(), s.quiet().module().end());
    const auto noisy = checkers::check_quiet(std::string_view(console).substr(std::min(console_from, console.size())),
                                             modules, s.quiet().max_lines());
    if (!noisy.empty()) failures.push_back({"quiet", checkers::describe(noisy, s.quiet().max_lines())});
  }
  return finish();
}

}  // namespace vscsim::session
