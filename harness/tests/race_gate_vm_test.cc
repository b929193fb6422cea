// The race gate module (vsc/race_gate) in a real guest, driven through the
// guest agent with file operations only: the gate's own self-test point
// (/sys/module/vscsim_race_gate/parameters/selftest) is passed by one agent
// thread while another reads and writes the control files in
// /sys/kernel/debug/vscsim_race_gate/.
//
//   unarmed    passing a point that is not armed costs nothing; it is counted
//   release    the thread is held (state says so, with its pid) and its write
//              has not answered; the host releases it; the answer comes
//   timeout    nobody releases: the point's timeout lets it go, "timed-out"
//   killed     SIGKILL to the held process ends the hold: "killed"
//   disarm     disarm lets a held thread go
//   unload     the module is unloaded while a thread is held: the thread is
//              freed, the unload completes, the module loads again
//   console    no BUG, WARNING, hung task or other finding
#define BOOST_TEST_MODULE race_gate_vm
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "vmbus_vm_fixture.h"
#include "vscsim/agent/client.h"
#include "vscsim/build_config.h"

using namespace vscsim;
using namespace vscsim::vmtest;
using namespace std::chrono_literals;
using agent::AgentClient;
using agent::Op;
using agent::OpResult;

namespace {

constexpr auto kStepTimeout = 60s;
constexpr const char* kModulePath = "/lib/vscsim/vscsim_race_gate.ko";
constexpr const char* kDir = "/sys/kernel/debug/vscsim_race_gate/";
constexpr const char* kSelftest = "/sys/module/vscsim_race_gate/parameters/selftest";

agent::Run on(const std::string& process, const std::string& thread, Op op) {
  agent::Run run;
  run.set_process(process);
  run.set_thread(thread);
  *run.mutable_op() = std::move(op);
  return run;
}

Op write_op(const std::string& path, const std::string& data) {
  Op op;
  op.mutable_write_file()->set_path(path);
  op.mutable_write_file()->set_data(data);
  return op;
}

Op read_op(const std::string& path) {
  Op op;
  op.mutable_read_file()->set_path(path);
  return op;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Agent {
  std::unique_ptr<AgentClient> client;

  OpResult run(const std::string& process, const std::string& thread, Op op) {
    auto r = client->run(on(process, thread, std::move(op)), kStepTimeout);
    BOOST_REQUIRE_MESSAGE(r.ok(), agent::error_text(r));
    return std::move(r).value();
  }
  OpResult run(Op op) { return run("main", "main", std::move(op)); }

  OpResult control(const std::string& file, const std::string& data) {
    return run(write_op(std::string(kDir) + file, data));
  }

  // The state file's line for `point` ("" when it has none).
  std::string state_of(const std::string& point) {
    const OpResult r = run(read_op(std::string(kDir) + "state"));
    BOOST_REQUIRE_MESSAGE(r.err() == 0, r.errno_name() << " " << r.detail());
    std::istringstream lines(r.data());
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(point + " ", 0) == 0) return line;
    return "";
  }

  // Polls the state until the point's line has `part`; returns the line.
  std::string wait_state(const std::string& point, const std::string& part) {
    std::string line;
    for (int i = 0; i < 600; ++i) {
      line = state_of(point);
      if (has(line, part)) return line;
      std::this_thread::sleep_for(50ms);
    }
    BOOST_FAIL("point " << point << " never had '" << part << "': " << line);
    return line;
  }

  // Submits the self-test write on process/thread; returns its id.
  std::uint64_t pass_selftest(const std::string& process, const std::string& thread) {
    auto id = client->submit(on(process, thread, write_op(kSelftest, "selftest")));
    BOOST_REQUIRE_MESSAGE(id.ok(), agent::error_text(id));
    return id.value();
  }

  // The answer has not come within `within`.
  bool still_waiting(std::uint64_t id, std::chrono::milliseconds within) {
    auto r = client->wait(id, std::chrono::steady_clock::now() + within);
    return !r.ok() && r.error().kind == agent::ClientErrorKind::kTimeout;
  }

  OpResult answer(std::uint64_t id) {
    auto r = client->wait(id, std::chrono::steady_clock::now() + kStepTimeout);
    BOOST_REQUIRE_MESSAGE(r.ok(), agent::error_text(r));
    return std::move(r).value();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(race_gate_holds_releases_times_out_and_unloads) {
  Run run = boot_with_sim("race-gate", "", {}, {"vscsim.agent=1"});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());

  auto connected = AgentClient::connect(g.agent_socket(), 10s);
  BOOST_REQUIRE_MESSAGE(connected.ok(), agent::error_text(connected));
  Agent a{std::move(connected).value()};
  const auto hello = a.client->hello(60s);
  BOOST_REQUIRE_MESSAGE(hello.ok(), agent::error_text(hello));
  BOOST_TEST(hello->kernel_release() == build_config::kKernelRelease);

  Op load;
  load.mutable_load_module()->set_path(kModulePath);
  OpResult r = a.run(load);
  BOOST_REQUIRE_MESSAGE(r.err() == 0, r.errno_name() << " " << r.detail());
  BOOST_TEST(a.state_of("selftest").empty());

  // Bad commands are refused with a clear errno.
  BOOST_TEST(a.control("arm", "bad/name").errno_name() == "EINVAL");
  BOOST_TEST(a.control("arm", "selftest 0").errno_name() == "EINVAL");
  BOOST_TEST(a.control("arm", "selftest 10 extra").errno_name() == "EINVAL");
  BOOST_TEST(a.control("release", "never-seen").errno_name() == "ENOENT");

  // Unarmed: the writer passes at once, the point is counted.
  r = a.run(write_op(kSelftest, "selftest"));
  BOOST_TEST(r.err() == 0, r.errno_name() << " " << r.detail());
  BOOST_TEST(has(a.state_of("selftest"), "state=idle"));
  BOOST_TEST(has(a.state_of("selftest"), "hits=1 holds=0"));
  BOOST_TEST(a.control("release", "selftest").errno_name() == "EAGAIN");

  // Release: held until the host says so.
  {
    r = a.control("arm", "selftest 30000");
    BOOST_REQUIRE_MESSAGE(r.err() == 0, r.errno_name());
    BOOST_TEST(has(a.state_of("selftest"), "state=armed timeout_ms=30000"));
    const auto id = a.pass_selftest("main", "held");
    const std::string line = a.wait_state("selftest", "state=held");
    BOOST_TEST(!has(line, "pid=0 "), line);
    BOOST_TEST(has(line, "holds=1"), line);
    BOOST_TEST(a.control("arm", "selftest").errno_name() == "EBUSY");  // already holding
    BOOST_TEST(a.still_waiting(id, 1000ms), "the held write answered before the release");
    const OpResult released = a.control("release", "selftest");
    BOOST_TEST(released.err() == 0, released.errno_name());
    const OpResult held = a.answer(id);
    BOOST_TEST(held.err() == 0, held.errno_name() << " " << held.detail());
    BOOST_TEST(held.end_ns() > released.start_ns());
    BOOST_TEST(held.end_ns() - held.start_ns() >= 1'000'000'000u);
    BOOST_TEST(has(a.state_of("selftest"), "state=released"), a.state_of("selftest"));
    BOOST_TEST(a.control("release", "selftest").errno_name() == "EAGAIN");
    BOOST_TEST_MESSAGE("held for " << (held.end_ns() - held.start_ns()) / 1'000'000 << " ms: " << line);
  }

  // Timeout: nobody releases it.
  {
    BOOST_REQUIRE(a.control("arm", "selftest 1500").err() == 0);
    const auto id = a.pass_selftest("main", "held");
    a.wait_state("selftest", "state=held");
    const OpResult held = a.answer(id);
    BOOST_TEST(held.err() == 0, held.errno_name() << " " << held.detail());
    BOOST_TEST(held.end_ns() - held.start_ns() >= 1'500'000'000u);
    const std::string line = a.state_of("selftest");
    BOOST_TEST(has(line, "state=timed-out"), line);
    BOOST_TEST(has(line, "holds=2"), line);
  }

  // Killed: a held process that gets SIGKILL goes (the wait is killable).
  {
    Op fork;
    fork.mutable_fork()->set_child("kid");
    r = a.run(fork);
    BOOST_REQUIRE_MESSAGE(r.err() == 0, r.detail());
    BOOST_REQUIRE(a.control("arm", "selftest 60000").err() == 0);
    const auto id = a.pass_selftest("kid", "main");
    a.wait_state("selftest", "state=held");
    Op kill;
    kill.mutable_kill()->set_process("kid");
    r = a.run(kill);
    BOOST_TEST(r.err() == 0, r.detail());
    BOOST_TEST(r.value() == 1);  // it ended within the agent's 10 s
    const OpResult held = a.answer(id);
    BOOST_TEST(held.errno_name() == "ESRCH", held.detail());
    BOOST_TEST(has(a.state_of("selftest"), "state=killed"), a.state_of("selftest"));
  }

  // Disarm lets a held thread go.
  {
    BOOST_REQUIRE(a.control("arm", "selftest 60000").err() == 0);
    const auto id = a.pass_selftest("main", "held");
    a.wait_state("selftest", "state=held");
    BOOST_TEST(a.control("disarm", "all").err() == 0);
    const OpResult held = a.answer(id);
    BOOST_TEST(held.err() == 0, held.errno_name());
    BOOST_TEST(has(a.state_of("selftest"), "state=released"));
  }

  // Unload while a thread is held: the thread goes, the unload completes.
  {
    BOOST_REQUIRE(a.control("arm", "selftest 60000").err() == 0);
    const auto id = a.pass_selftest("main", "held");
    a.wait_state("selftest", "state=held");
    Op unload;
    unload.mutable_unload_module()->set_name("vscsim_race_gate");
    const OpResult unloaded = a.run(unload);
    BOOST_TEST(unloaded.err() == 0, unloaded.errno_name() << " " << unloaded.detail());
    BOOST_TEST(unloaded.end_ns() - unloaded.start_ns() < 10'000'000'000u);
    const OpResult held = a.answer(id);
    BOOST_TEST(held.err() == 0, held.errno_name() << " " << held.detail());
    BOOST_TEST(held.end_ns() - held.start_ns() < 30'000'000'000u);
    r = a.run(read_op("/sys/module/vscsim_race_gate/refcnt"));
    BOOST_TEST(r.errno_name() == "ENOENT");
    // It loads and unloads again, with a clean table.
    r = a.run(load);
    BOOST_TEST(r.err() == 0, r.errno_name());
    BOOST_TEST(a.state_of("selftest").empty());
    r = a.run(unload);
    BOOST_TEST(r.err() == 0, r.errno_name());
  }

  const auto down = a.client->shutdown(kStepTimeout);
  BOOST_REQUIRE_MESSAGE(down.ok(), agent::error_text(down));
  BOOST_TEST(a.client->protocol_errors().empty());

  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  log_for_the_record(g, *run.sim);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
}
