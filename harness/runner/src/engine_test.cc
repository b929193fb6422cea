// The step engine against a scripted agent and host: order across barriers,
// concurrency between threads, expectations, deadlines that end a scenario
// without hanging the host, and harness errors.
#define BOOST_TEST_MODULE runner_engine
#include "vscsim/runner/engine.h"

#include <boost/test/unit_test.hpp>
#include <google/protobuf/text_format.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "vscsim/runner/expectation.h"

namespace vr = vscsim::runner;
namespace va = vscsim::agent;
namespace vs = vscsim::scenario;
using vscsim::report::StepResult;
using namespace std::chrono_literals;

namespace {

vs::Scenario parse(const std::string& text) {
  vs::Scenario s;
  BOOST_REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &s));
  return s;
}

// Answers each operation after `delay` with what `answer` says; never
// answers an operation for which `answer` returns nullopt.
struct ScriptedGuest : vr::GuestPort {
  using Answer = std::function<std::optional<va::OpResult>(const va::Run&)>;
  explicit ScriptedGuest(Answer a) : answer(std::move(a)) {}

  vscsim::Result<std::uint64_t, std::string> submit(const va::Run& run) override {
    std::lock_guard lock(mu);
    const std::uint64_t id = ++last_id;
    submitted.push_back(run);
    auto r = answer(run);
    if (r) {
      const auto delay = std::chrono::milliseconds(run.op().has_sleep() ? run.op().sleep().ms() : 1);
      pending.push_back({vr::Clock::now() + delay, id, *r});
    }
    return id;
  }
  vscsim::Result<std::optional<std::pair<std::uint64_t, va::OpResult>>, std::string> next(
      vr::Clock::time_point deadline) override {
    if (gone) return vscsim::Err(std::string("connection closed"));
    for (;;) {
      {
        std::lock_guard lock(mu);
        auto best = pending.end();
        for (auto it = pending.begin(); it != pending.end(); ++it) {
          if (best == pending.end() || it->at < best->at) best = it;
        }
        if (best != pending.end() && best->at <= vr::Clock::now()) {
          auto out = std::make_pair(best->id, best->result);
          pending.erase(best);
          return std::optional(out);
        }
      }
      if (vr::Clock::now() >= deadline) return std::optional<std::pair<std::uint64_t, va::OpResult>>{};
      std::this_thread::sleep_for(1ms);
    }
  }

  struct Pending {
    vr::Clock::time_point at;
    std::uint64_t id;
    va::OpResult result;
  };
  Answer answer;
  std::mutex mu;
  std::uint64_t last_id = 0;
  std::vector<va::Run> submitted;
  std::vector<Pending> pending;
  bool gone = false;
};

struct ScriptedHost : vr::HostPort {
  vscsim::Result<void, std::string> run(const vs::HostStep& step, vr::Clock::time_point) override {
    if (step.has_rescind()) rescinded = true;
    if (step.has_reoffer() && refuse_reoffer) return vscsim::Err(std::string("error relid 9 unknown"));
    if (step.has_sleep_ms()) std::this_thread::sleep_for(std::chrono::milliseconds(step.sleep_ms()));
    return {};
  }
  std::atomic<bool> rescinded = false;
  bool refuse_reoffer = false;
};

va::OpResult ok() { return {}; }
va::OpResult failed(int err, const char* name) {
  va::OpResult r;
  r.set_err(err);
  r.set_errno_name(name);
  return r;
}

const StepResult& step(const vr::Outcome& o, const std::string& name) {
  for (const auto& s : o.steps) {
    if (s.name() == name) return s;
  }
  BOOST_FAIL("no step " << name);
  return o.steps.front();
}

const char* const kRescindScenario = R"(
name: "t"
thread { name: "main" process: "main"
  step { name: "open" op { open { path: "/dev/azure_blob" slot: "dev" } } }
  step { name: "b1" barrier: "opened" }
  step { name: "b2" barrier: "rescinded" }
  step { name: "call" op { blob { slot: "dev" } } expect { errno_name: "ENODEV" } }
}
host {
  step { name: "h1" barrier: "opened" }
  step { name: "rescind" rescind { device: "blob0" } }
  step { name: "h2" barrier: "rescinded" }
})";

}  // namespace

BOOST_AUTO_TEST_CASE(barriers_order_the_guest_and_the_host) {
  ScriptedHost host;
  ScriptedGuest guest([&](const va::Run& run) -> std::optional<va::OpResult> {
    if (run.op().has_blob()) return host.rescinded ? failed(19, "ENODEV") : ok();
    va::OpResult opened;
    opened.set_value(7);  // the fd
    return opened;
  });
  const auto o = vr::run_steps(parse(kRescindScenario), guest, host);
  BOOST_TEST(!o.failure.has_value(), (o.failure ? o.failure->message : ""));
  BOOST_TEST(step(o, "call").verdict() == StepResult::MET);
  BOOST_TEST(step(o, "call").errno_name() == "ENODEV");
  BOOST_TEST(step(o, "rescind").verdict() == StepResult::NO_EXPECTATION);
  // The rescind ran after the open answered and before the call was sent.
  BOOST_TEST(step(o, "rescind").start_s() >= step(o, "open").end_s());
  BOOST_TEST(step(o, "call").start_s() >= step(o, "rescind").end_s());
  BOOST_TEST(step(o, "open").kind() == "open");
  BOOST_TEST(step(o, "open").value() == 7);  // the operation's value reaches the report
  BOOST_TEST(step(o, "rescind").kind() == "rescind");
  BOOST_REQUIRE_EQUAL(guest.submitted.size(), 2u);
  BOOST_TEST(guest.submitted[1].thread() == "main");
}

BOOST_AUTO_TEST_CASE(an_unmet_expectation_fails_the_scenario_but_the_rest_runs) {
  ScriptedHost host;
  // This "driver" ignores the rescind: the call succeeds.
  ScriptedGuest guest([](const va::Run&) -> std::optional<va::OpResult> { return ok(); });
  const auto o = vr::run_steps(parse(kRescindScenario), guest, host);
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->checker == "expectation");
  BOOST_TEST(o.failure->message.find("expected ENODEV, got success") != std::string::npos, o.failure->message);
  BOOST_TEST(step(o, "call").verdict() == StepResult::NOT_MET);
  BOOST_TEST(step(o, "h2").verdict() == StepResult::NO_EXPECTATION);  // the host got through its steps
}

BOOST_AUTO_TEST_CASE(a_step_past_its_deadline_ends_the_scenario_without_hanging_the_host) {
  ScriptedHost host;
  ScriptedGuest guest([](const va::Run& run) -> std::optional<va::OpResult> {
    if (run.op().has_blob()) return std::nullopt;  // the host side never answers
    return ok();
  });
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "main" process: "main"
  step { name: "call" op { blob { slot: "dev" } } deadline_ms: 150 }
  step { name: "b" barrier: "after" }
  step { name: "close" op { close { slot: "dev" } } }
}
host { step { name: "h" barrier: "after" } step { name: "later" sleep_ms: 1 } })"),
                               guest, host);
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->checker == "deadline");
  BOOST_TEST(o.failure->message.find("call on main: no answer within 150 ms") != std::string::npos,
             o.failure->message);
  BOOST_TEST(step(o, "call").verdict() == StepResult::NOT_MET);
  BOOST_TEST(step(o, "close").verdict() == StepResult::NOT_RUN);
  BOOST_TEST(step(o, "later").verdict() == StepResult::NOT_RUN);
  BOOST_TEST(o.duration_s < 5.0);
}

BOOST_AUTO_TEST_CASE(threads_run_concurrently) {
  ScriptedHost host;
  ScriptedGuest guest([](const va::Run&) -> std::optional<va::OpResult> { return ok(); });
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "slow" process: "main" step { name: "s" op { sleep { ms: 300 } } } }
thread { name: "fast" process: "main" step { name: "f" op { sleep { ms: 10 } } } })"),
                               guest, host);
  BOOST_TEST(!o.failure.has_value());
  BOOST_TEST(step(o, "f").end_s() < step(o, "s").end_s());
  BOOST_TEST(step(o, "f").start_s() < step(o, "s").end_s());
}

BOOST_AUTO_TEST_CASE(data_of_compares_digests_across_steps) {
  ScriptedHost host;
  std::atomic<int> gets = 0;
  ScriptedGuest guest([&](const va::Run& run) -> std::optional<va::OpResult> {
    va::OpResult r;
    if (run.op().blob().request().has_put()) r.set_digest("D1");
    if (run.op().blob().request().has_get()) r.set_digest(gets++ == 0 ? "D1" : "D2");
    r.mutable_blob()->set_status(vscsim::blob::OK);
    return r;
  });
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "main" process: "main"
  step { name: "put" op { blob { slot: "d" request { put { container: "c" blob: "b" } } } } }
  step { name: "get1" op { blob { slot: "d" request { get { container: "c" blob: "b" } } } } expect { data_of: "put" } }
  step { name: "get2" op { blob { slot: "d" request { get { container: "c" blob: "b" } } } } expect { data_of: "put" } }
})"),
                               guest, host);
  BOOST_TEST(step(o, "get1").verdict() == StepResult::MET);
  BOOST_TEST(step(o, "get2").verdict() == StepResult::NOT_MET);
  BOOST_TEST(step(o, "get2").detail().find("data differs from step put's") != std::string::npos,
             step(o, "get2").detail());
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->checker == "expectation");
}

BOOST_AUTO_TEST_CASE(a_host_action_the_simulator_refuses_is_a_harness_error) {
  ScriptedHost host;
  host.refuse_reoffer = true;
  ScriptedGuest guest([](const va::Run&) -> std::optional<va::OpResult> { return ok(); });
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "main" process: "main" step { name: "b" barrier: "x" } step { name: "w" op { sleep { ms: 1 } } } }
host { step { name: "h" barrier: "x" } step { name: "reoffer" reoffer { device: "blob0" } } })"),
                               guest, host);
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->harness_error);
  BOOST_TEST(o.failure->message.find("error relid 9 unknown") != std::string::npos, o.failure->message);
}

BOOST_AUTO_TEST_CASE(a_vanished_agent_is_a_harness_error) {
  ScriptedHost host;
  ScriptedGuest guest([](const va::Run&) -> std::optional<va::OpResult> { return std::nullopt; });
  guest.gone = true;
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "main" process: "main" step { name: "w" op { sleep { ms: 1 } } } })"),
                               guest, host);
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->harness_error);
  BOOST_TEST(o.failure->message == "agent: connection closed");
}

BOOST_AUTO_TEST_CASE(judging_a_blob_call_without_expectation_requires_full_success) {
  va::Op blob_op;
  blob_op.mutable_blob()->set_slot("d");
  va::OpResult r;
  r.mutable_blob()->set_status(vscsim::blob::NOT_FOUND);
  const vs::Expect none;
  auto v = vr::judge(none, blob_op, r, {});
  BOOST_TEST(!v.met);
  BOOST_TEST(v.detail == "expected blob status OK, got NOT_FOUND");
  r.mutable_blob()->set_status(vscsim::blob::OK);
  r.set_status(2);
  v = vr::judge(none, blob_op, r, {});
  BOOST_TEST(v.detail == "expected wire status 0, got 2");
  vs::Expect timed;
  timed.set_status(2);
  BOOST_TEST(vr::judge(timed, blob_op, r, {}).met);

  va::OpResult slow;
  slow.set_start_ns(0);
  slow.set_end_ns(900'000'000);
  vs::Expect within;
  within.set_within_ms(500);
  BOOST_TEST(vr::judge(within, va::Op{}, slow, {}).detail == "took 900 ms, more than 500 ms");
  vs::Expect any;
  any.add_any_errno("ENODEV");
  any.add_any_errno("ETIMEDOUT");
  BOOST_TEST(vr::judge(any, va::Op{}, failed(110, "ETIMEDOUT"), {}).met);
  BOOST_TEST(!vr::judge(any, va::Op{}, ok(), {}).met);
}

BOOST_AUTO_TEST_CASE(any_outcome_takes_every_result_but_keeps_the_time_bound) {
  va::Op blob_op;
  blob_op.mutable_blob()->set_slot("d");
  vs::Expect free;
  free.set_any_outcome(true);
  BOOST_TEST(vr::judge(free, blob_op, failed(19, "ENODEV"), {}).met);
  BOOST_TEST(vr::judge(free, blob_op, ok(), {}).met);
  va::OpResult refused;
  refused.set_status(2);
  refused.mutable_blob()->set_status(vscsim::blob::NOT_FOUND);
  BOOST_TEST(vr::judge(free, blob_op, refused, {}).met);
  free.set_within_ms(500);
  refused.set_start_ns(0);
  refused.set_end_ns(900'000'000);
  BOOST_TEST(vr::judge(free, blob_op, refused, {}).detail == "took 900 ms, more than 500 ms");
}

BOOST_AUTO_TEST_CASE(generated_puts_without_a_fill_seed_take_it_from_the_scenario_seed) {
  const auto text = R"(
    name: "fill"
    thread { name: "main"
      step { name: "a" op { blob { slot: "d" fill_length: 4096 } } }
      step { name: "b" op { blob { slot: "d" fill_length: 4096 } } }
      step { name: "own" op { blob { slot: "d" fill_length: 4096 fill_seed: 5 } } }
      step { name: "plain" op { open { path: "/dev/azure_blob" slot: "d" } } } })";
  auto seeds_for = [&](std::uint64_t seed) {
    auto s = parse(text);
    s.set_seed(seed);
    ScriptedGuest guest([](const va::Run&) { return std::optional(va::OpResult{}); });
    ScriptedHost host;
    (void)vr::run_steps(s, guest, host);
    BOOST_REQUIRE(guest.submitted.size() == 4u);
    BOOST_TEST(!guest.submitted[3].op().has_blob());  // other operations are left alone
    return std::vector<std::uint64_t>{guest.submitted[0].op().blob().fill_seed(),
                                      guest.submitted[1].op().blob().fill_seed(),
                                      guest.submitted[2].op().blob().fill_seed()};
  };
  const auto one = seeds_for(1);
  BOOST_TEST(one[0] != 0u);
  BOOST_TEST(one[0] != one[1]);  // each step its own bytes
  BOOST_TEST(one[2] == 5u);      // a scenario's own seed wins
  BOOST_TEST((seeds_for(1) == one));
  BOOST_TEST(seeds_for(2)[0] != one[0]);
}

BOOST_AUTO_TEST_CASE(a_repeated_thread_runs_its_steps_round_after_round) {
  ScriptedHost host;
  int calls = 0;
  ScriptedGuest guest([&](const va::Run& run) -> std::optional<va::OpResult> {
    // The second call fails: round 1's.
    if (run.op().has_write_file() && ++calls == 2) return failed(19, "ENODEV");
    return ok();
  });
  const auto o = vr::run_steps(parse(R"(
name: "t"
thread { name: "loop" process: "main" repeat: 3
  step { name: "open" op { open { path: "/dev/azure_blob" slot: "dev" } } }
  step { name: "call" op { write_file { path: "/sys/x" data: "1" } } }
}
thread { name: "once" process: "main" step { name: "nap" op { sleep { ms: 5 } } } })"),
                               guest, host);
  BOOST_REQUIRE_EQUAL(guest.submitted.size(), 7u);
  std::vector<std::string> names;
  for (const auto& s : o.steps) names.push_back(s.name());
  BOOST_TEST(names == (std::vector<std::string>{"open[0]", "call[0]", "open[1]", "call[1]", "open[2]", "call[2]",
                                                "nap"}),
             boost::test_tools::per_element());
  // In order: each round's open before its call, rounds one after another.
  BOOST_TEST(step(o, "call[0]").end_s() <= step(o, "open[1]").start_s());
  BOOST_TEST(step(o, "open[2]").verdict() == StepResult::MET);
  // The failing round is named in the failure; the rounds after it still run.
  BOOST_REQUIRE(o.failure.has_value());
  BOOST_TEST(o.failure->message.find("call[1] on loop") != std::string::npos, o.failure->message);
  BOOST_TEST(step(o, "call[1]").verdict() == StepResult::NOT_MET);
  BOOST_TEST(step(o, "call[2]").verdict() == StepResult::MET);
}
