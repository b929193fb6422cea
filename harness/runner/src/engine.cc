#include "vscsim/runner/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "vscsim/runner/expectation.h"
#include "vscsim/scenario/plan.h"

namespace vscsim::runner {

namespace {

constexpr std::uint32_t kFallbackStepDeadlineMs = 30000;
constexpr std::uint32_t kFallbackScenarioDeadlineMs = 300000;
// How often the guest loop looks up from the agent to see barriers the host opened.
constexpr auto kBarrierPoll = std::chrono::milliseconds(20);
constexpr const char* kHostActor = "host";

using report::StepResult;

std::string kind_name(const google::protobuf::Message& m, int kind_case) {
  const auto* field = m.GetDescriptor()->FindFieldByNumber(kind_case);
  return field != nullptr ? field->name() : "none";
}

// Shared by the guest loop and the host thread: barriers, the abort flag and
// the first failure.
class Shared {
 public:
  explicit Shared(std::map<std::string, std::set<std::string>> parties) : parties_(std::move(parties)) {}

  // Records `actor` at `barrier`; true if that opened it.
  bool arrive(const std::string& barrier, const std::string& actor) {
    std::lock_guard lock(mu_);
    arrived_[barrier].insert(actor);
    const bool open = open_locked(barrier);
    if (open) cv_.notify_all();
    return open;
  }
  bool is_open(const std::string& barrier) {
    std::lock_guard lock(mu_);
    return open_locked(barrier);
  }
  // Host side: blocks until the barrier opens or the run is aborted.
  bool wait_open(const std::string& barrier) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || open_locked(barrier); });
    return !aborted_;
  }
  void fail(Failure f, bool abort) {
    std::lock_guard lock(mu_);
    const bool empty = f.checker.empty() && f.message.empty();
    if (!failure_ && !empty) failure_ = std::move(f);
    if (abort) {
      aborted_ = true;
      cv_.notify_all();
    }
  }
  bool aborted() {
    std::lock_guard lock(mu_);
    return aborted_;
  }
  std::optional<Failure> failure() {
    std::lock_guard lock(mu_);
    return failure_;
  }

 private:
  bool open_locked(const std::string& barrier) {
    return arrived_[barrier] == parties_[barrier];
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::set<std::string>> parties_;
  std::map<std::string, std::set<std::string>> arrived_;
  bool aborted_ = false;
  std::optional<Failure> failure_;
};

struct GuestActor {
  const scenario::Thread* thread = nullptr;
  std::size_t first_result = 0;  // index of its step 0 in Outcome::steps
  int total = 0;                 // steps over every round (thread.repeat)
  int next = 0;                  // the step to run next, counting through the rounds
  std::optional<std::uint64_t> in_flight;
  Clock::time_point deadline{};
  std::optional<std::string> waiting_at;

  [[nodiscard]] const scenario::GuestStep& step(int i) const { return thread->step(i % thread->step_size()); }
  [[nodiscard]] bool done() const { return next >= total && !in_flight && !waiting_at; }
};

int rounds_of(const scenario::Thread& t) { return t.repeat() > 1 ? static_cast<int>(t.repeat()) : 1; }

std::uint32_t step_deadline_ms(const scenario::Scenario& s, std::uint32_t own) {
  if (own != 0) return own;
  return s.limits().step_deadline_ms() != 0 ? s.limits().step_deadline_ms() : kFallbackStepDeadlineMs;
}

void run_host(const scenario::Scenario& s, HostPort& host, Shared& shared, std::vector<StepResult>& results,
              std::size_t first, Clock::time_point start, Clock::time_point scenario_deadline) {
  const auto since = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  for (int i = 0; i < s.host().step_size(); ++i) {
    if (shared.aborted()) return;
    const scenario::HostStep& step = s.host().step(i);
    StepResult& r = results[first + static_cast<std::size_t>(i)];
    r.set_start_s(since());
    r.set_verdict(StepResult::NO_EXPECTATION);
    if (step.kind_case() == scenario::HostStep::kBarrier) {
      shared.arrive(step.barrier(), kHostActor);
      if (!shared.wait_open(step.barrier())) {
        r.set_verdict(StepResult::NOT_RUN);
        return;
      }
      r.set_end_s(since());
      continue;
    }
    const auto deadline =
        std::min(Clock::now() + std::chrono::milliseconds(step_deadline_ms(s, step.deadline_ms())), scenario_deadline);
    auto done = host.run(step, deadline);
    r.set_end_s(since());
    if (!done.ok()) {
      r.set_verdict(StepResult::NOT_MET);
      r.set_detail(done.error());
      // A state the device never reached is the scenario's failure; anything
      // else (the simulator refusing, gone) is the harness's.
      const bool scenario_fault = step.kind_case() == scenario::HostStep::kWaitState;
      shared.fail({scenario_fault ? "expectation" : "", fmt::format("host step {}: {}", r.name(), done.error()),
                   !scenario_fault},
                  true);
      return;
    }
  }
}

}  // namespace

Outcome run_steps(const scenario::Scenario& s, GuestPort& guest, HostPort& host) {
  Outcome out;
  const auto start = Clock::now();
  const std::uint32_t scenario_ms =
      s.limits().scenario_deadline_ms() != 0 ? s.limits().scenario_deadline_ms() : kFallbackScenarioDeadlineMs;
  const auto scenario_deadline = start + std::chrono::milliseconds(scenario_ms);
  const auto since = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  // Every step's result, NOT_RUN until it runs; who waits at which barrier.
  std::map<std::string, std::set<std::string>> parties;
  std::vector<GuestActor> actors;
  for (const scenario::Thread& t : s.thread()) {
    GuestActor a;
    a.thread = &t;
    a.first_result = out.steps.size();
    a.total = t.step_size() * rounds_of(t);
    for (int round = 0; round < rounds_of(t); ++round) {
      for (const scenario::GuestStep& step : t.step()) {
        StepResult& r = out.steps.emplace_back();
        r.set_name(rounds_of(t) > 1 ? fmt::format("{}[{}]", step.name(), round) : step.name());
        r.set_actor(t.name());
        r.set_process(t.process());
        r.set_verdict(StepResult::NOT_RUN);
        if (step.kind_case() == scenario::GuestStep::kBarrier) {
          r.set_kind("barrier");
          parties[step.barrier()].insert(t.name());
        } else {
          r.set_kind(kind_name(step.op(), step.op().kind_case()));
        }
      }
    }
    actors.push_back(a);
  }
  const std::size_t host_first = out.steps.size();
  for (const scenario::HostStep& step : s.host().step()) {
    StepResult& r = out.steps.emplace_back();
    r.set_name(step.name());
    r.set_actor(kHostActor);
    r.set_verdict(StepResult::NOT_RUN);
    r.set_kind(kind_name(step, step.kind_case()));
    if (step.kind_case() == scenario::HostStep::kBarrier) parties[step.barrier()].insert(kHostActor);
  }

  Shared shared(std::move(parties));
  // From here on the vector does not grow: the host thread writes its own
  // entries, this thread the threads' entries.
  std::vector<StepResult>& results = out.steps;
  std::thread host_thread(run_host, std::cref(s), std::ref(host), std::ref(shared), std::ref(results), host_first,
                          start, scenario_deadline);
  std::map<std::uint64_t, std::size_t> by_id;     // in-flight op id -> actor
  std::map<std::string, std::string> digests;    // step name -> its result's digest

  while (!shared.aborted()) {
    // Move every actor as far as it can go without waiting.
    for (std::size_t ai = 0; ai < actors.size(); ++ai) {
      GuestActor& a = actors[ai];
      if (a.waiting_at) {
        if (!shared.is_open(*a.waiting_at)) continue;
        results[a.first_result + static_cast<std::size_t>(a.next)].set_end_s(since());
        a.waiting_at.reset();
        ++a.next;
      }
      while (!a.in_flight && !a.waiting_at && a.next < a.total) {
        const scenario::GuestStep& step = a.step(a.next);
        StepResult& r = results[a.first_result + static_cast<std::size_t>(a.next)];
        r.set_start_s(since());
        if (step.kind_case() == scenario::GuestStep::kBarrier) {
          r.set_verdict(StepResult::NO_EXPECTATION);
          if (shared.arrive(step.barrier(), a.thread->name())) {
            r.set_end_s(since());
            ++a.next;
          } else {
            a.waiting_at = step.barrier();
          }
          continue;
        }
        agent::Run run;
        run.set_process(a.thread->process());
        run.set_thread(a.thread->name());
        *run.mutable_op() = step.op();
        // A generated put without its own fill seed draws it from the
        // scenario's seed, so the run seed decides the bytes written.
        if (run.op().has_blob() && run.op().blob().fill_length() != 0 && run.op().blob().fill_seed() == 0) {
          run.mutable_op()->mutable_blob()->set_fill_seed(scenario::scenario_seed(s.seed(), r.name()));
        }
        auto id = guest.submit(run);
        if (!id.ok()) {
          shared.fail({"", fmt::format("agent: {} not sent: {}", r.name(), id.error()), true}, true);
          break;
        }
        a.in_flight = *id;
        a.deadline = Clock::now() + std::chrono::milliseconds(step_deadline_ms(s, step.deadline_ms()));
        by_id[*id] = ai;
      }
    }
    if (shared.aborted()) break;
    if (std::all_of(actors.begin(), actors.end(), [](const GuestActor& a) { return a.done(); })) break;

    // Wait for the next answer, the next deadline, or a barrier poll.
    auto until = std::min(Clock::now() + kBarrierPoll, scenario_deadline);
    for (const GuestActor& a : actors) {
      if (a.in_flight) until = std::min(until, a.deadline);
    }
    auto answer = guest.next(until);
    if (!answer.ok()) {
      shared.fail({"", "agent: " + answer.error(), true}, true);
      break;
    }
    if (answer->has_value()) {
      const auto& [id, result] = **answer;
      const auto it = by_id.find(id);
      if (it != by_id.end()) {
        GuestActor& a = actors[it->second];
        by_id.erase(it);
        const scenario::GuestStep& step = a.step(a.next);
        StepResult& r = results[a.first_result + static_cast<std::size_t>(a.next)];
        r.set_end_s(since());
        r.set_err(result.err());
        r.set_errno_name(result.errno_name());
        r.set_value(result.value());
        const Verdict v = judge(step.expect(), step.op(), result, digests);
        r.set_verdict(v.met ? StepResult::MET : StepResult::NOT_MET);
        r.set_detail(v.detail);
        if (!v.met) shared.fail({"expectation", fmt::format("{} on {}: {}", r.name(), r.actor(), v.detail)}, false);
        if (!result.digest().empty()) digests[step.name()] = result.digest();
        a.in_flight.reset();
        ++a.next;
      }
    }
    const auto now = Clock::now();
    for (GuestActor& a : actors) {
      if (!a.in_flight || now < a.deadline) continue;
      StepResult& r = results[a.first_result + static_cast<std::size_t>(a.next)];
      r.set_verdict(StepResult::NOT_MET);
      r.set_detail("no answer within its deadline");
      shared.fail({"deadline", fmt::format("{} on {}: no answer within {} ms", r.name(), r.actor(),
                                           step_deadline_ms(s, a.step(a.next).deadline_ms()))},
                  true);
    }
    if (now >= scenario_deadline) {
      shared.fail({"deadline", fmt::format("the scenario did not end within {} ms", scenario_ms)}, true);
    }
  }
  // The guest side is done (or stopped): the host finishes its steps, unless aborted.
  if (shared.aborted()) {
    for (GuestActor& a : actors) {
      if (a.waiting_at) results[a.first_result + static_cast<std::size_t>(a.next)].set_verdict(StepResult::NOT_RUN);
    }
  }
  host_thread.join();
  out.failure = shared.failure();
  out.duration_s = since();
  return out;
}

}  // namespace vscsim::runner
