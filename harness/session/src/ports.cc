#include "vscsim/session/ports.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "vscsim/session/guest_session.h"

namespace vscsim::session {

using namespace std::chrono_literals;

Result<std::uint64_t, std::string> AgentGuestPort::submit(const agent::Run& run) {
  auto r = client_.submit(run);
  if (!r.ok()) return Err(r.error().message);
  return *r;
}

Result<std::optional<std::pair<std::uint64_t, agent::OpResult>>, std::string> AgentGuestPort::next(
    runner::Clock::time_point deadline) {
  using Answer = std::optional<std::pair<std::uint64_t, agent::OpResult>>;
  auto r = client_.next(deadline);
  if (r.ok()) return Answer(std::make_pair(r->id, std::move(r->result)));
  switch (r.error().kind) {
    case agent::ClientErrorKind::kTimeout:
      return Answer();
    case agent::ClientErrorKind::kNotPending:
      // Nothing outstanding: nothing can come before the deadline.
      std::this_thread::sleep_until(std::min(deadline, runner::Clock::now() + 10ms));
      return Answer();
    default:
      return Err(r.error().message);
  }
}

Result<std::uint32_t, std::string> SimHostPort::relid(const std::string& device) const {
  const std::uint32_t r = relid_of(setup_, device);
  if (r == 0) return Err(fmt::format("no device named '{}' in the setup", device));
  return r;
}

Result<control::Response, std::string> SimHostPort::call(const control::Request& request,
                                                         runner::Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - runner::Clock::now());
  return control_.must(request, std::clamp<std::chrono::milliseconds>(left, 1ms, 10s));
}

Result<void, std::string> SimHostPort::run(const scenario::HostStep& step, runner::Clock::time_point deadline) {
  control::Request req;
  switch (step.kind_case()) {
    case scenario::HostStep::kRescind:
    case scenario::HostStep::kReoffer:
    case scenario::HostStep::kFailNextOpen: {
      const auto& ref = step.kind_case() == scenario::HostStep::kRescind   ? step.rescind()
                        : step.kind_case() == scenario::HostStep::kReoffer ? step.reoffer()
                                                                            : step.fail_next_open();
      auto r = relid(ref.device());
      if (!r.ok()) return Err(r.error());
      auto* target = step.kind_case() == scenario::HostStep::kRescind   ? req.mutable_rescind()
                     : step.kind_case() == scenario::HostStep::kReoffer ? req.mutable_reoffer()
                                                                         : req.mutable_fail_open();
      target->set_relid(*r);
      break;
    }
    case scenario::HostStep::kBlobDelay: {
      auto r = relid(step.blob_delay().device());
      if (!r.ok()) return Err(r.error());
      req.mutable_blob_delay()->set_relid(*r);
      req.mutable_blob_delay()->set_ms(step.blob_delay().ms());
      req.mutable_blob_delay()->set_late(step.blob_delay().late());
      break;
    }
    case scenario::HostStep::kBlobInject: {
      auto r = relid(step.blob_inject().device());
      if (!r.ok()) return Err(r.error());
      auto& inject = *req.mutable_blob_inject();
      inject.set_relid(*r);
      inject.set_trans_id(step.blob_inject().trans_id());
      if (step.blob_inject().has_payload_bytes()) inject.set_payload_bytes(step.blob_inject().payload_bytes());
      break;
    }
    case scenario::HostStep::kSleepMs: {
      const auto until = runner::Clock::now() + std::chrono::milliseconds(step.sleep_ms());
      if (until > deadline) {
        std::this_thread::sleep_until(deadline);
        return Err(fmt::format("sleep of {} ms goes past the step's deadline", step.sleep_ms()));
      }
      std::this_thread::sleep_until(until);
      return {};
    }
    case scenario::HostStep::kWaitState: {
      auto r = relid(step.wait_state().device());
      if (!r.ok()) return Err(r.error());
      const std::vector<std::string> words(step.wait_state().word().begin(), step.wait_state().word().end());
      std::string last;
      for (;;) {
        control::Request q;
        q.mutable_state();
        auto st = call(q, deadline);
        if (!st.ok()) return Err(st.error());
        // One channel per device, in setup order.
        const int index = static_cast<int>(*r) - 1;
        if (index < st->state().channel_size()) last = st->state().channel(index).text();
        bool all = !last.empty();
        for (const auto& w : words) all = all && last.find(w) != std::string::npos;
        if (all) return {};
        if (runner::Clock::now() >= deadline) {
          return Err(fmt::format("{} never reached '{}'; last state: {}", step.wait_state().device(),
                                 fmt::join(words, " "), last));
        }
        std::this_thread::sleep_for(20ms);
      }
    }
    default:
      return Err(fmt::format("host step '{}' of a kind the harness does not know", step.name()));
  }
  auto r = call(req, deadline);
  if (!r.ok()) return Err(r.error());
  return {};
}

Result<std::vector<control::Request>, std::string> fault_requests(const scenario::Scenario& s) {
  if (s.faults().random_rules() != 0) {
    return Err(fmt::format("faults.random_rules: {} rules are still to be drawn (the plan draws them from the "
                           "iteration's seed; run the PlannedRun's drawn_faults)",
                           s.faults().random_rules()));
  }
  using R = scenario::FaultRule;
  std::vector<control::Request> out;
  for (int i = 0; i < s.faults().rule_size(); ++i) {
    const auto& rule = s.faults().rule(i);
    const std::uint32_t relid = relid_of(s.setup(), rule.device());
    if (relid == 0) return Err(fmt::format("faults.rule[{}]: no device named '{}'", i, rule.device()));
    const std::string kind = s.setup().device(static_cast<int>(relid - 1)).kind();
    control::Request req;
    control::FaultRule& f = *req.mutable_add_fault();
    f.set_relid(relid);
    f.set_after(rule.after_requests());
    f.set_count(rule.count());
    if (rule.has_trans_id()) f.set_trans_id(rule.trans_id());
    f.set_operation(rule.operation());
    const auto a = rule.action_case();
    const bool on_completions = a == R::kDelayMs || a == R::kDropCompletion || a == R::kDuplicateCompletion ||
                                a == R::kReorderCompletion || a == R::kWrongId || a == R::kTruncate ||
                                a == R::kCorrupt || a == R::kOversizeResponseLen || a == R::kSprayInterrupts ||
                                a == R::kFloodMs;
    if (on_completions && kind != "blob") {
      return Err(fmt::format("faults.rule[{}]: acts on completions, which only a blob device sends ('{}' is a {})", i,
                             rule.device(), kind));
    }
    switch (rule.action_case()) {
      case R::kDelayMs: f.set_delay_ms(rule.delay_ms()); break;
      case R::kDropCompletion: f.mutable_drop(); break;
      case R::kDuplicateCompletion: f.mutable_duplicate(); break;
      case R::kReorderCompletion: f.mutable_reorder(); break;
      case R::kWrongId: *f.mutable_wrong_id() = rule.wrong_id(); break;
      case R::kTruncate: f.set_truncate(rule.truncate()); break;
      case R::kCorrupt: *f.mutable_corrupt() = rule.corrupt(); break;
      case R::kOversizeResponseLen: *f.mutable_oversize_response_len() = rule.oversize_response_len(); break;
      case R::kSprayInterrupts: f.set_spray_interrupts(rule.spray_interrupts()); break;
      case R::kFloodMs: f.set_flood_ms(rule.flood_ms()); break;
      case R::kFailOpen: f.mutable_fail_open(); break;
      case R::kFailGpadl: f.mutable_fail_gpadl(); break;
      case R::kRescindAfterInFlight: f.set_rescind_after_in_flight(rule.rescind_after_in_flight()); break;
      case R::kRescindOnClose: f.mutable_rescind_on_close(); break;
      case R::kStopDraining: *f.mutable_stop_draining() = rule.stop_draining(); break;
      case R::kWithholdInterrupts: *f.mutable_withhold_interrupts() = rule.withhold_interrupts(); break;
      case R::kRescind:
        return Err(fmt::format("faults.rule[{}]: `rescind` does not say when; use rescind_after_in_flight, "
                               "rescind_on_close, or a host step `rescind` at a barrier",
                               i));
      case R::ACTION_NOT_SET:
        return Err(fmt::format("faults.rule[{}]: no action", i));
    }
    out.push_back(std::move(req));
  }
  return out;
}

}  // namespace vscsim::session
