// Debugging by hand (issue 9's interactive mode) as a user does it: vsc-guest
// boots the guest with vsp-sim beside it and az_blob bound to its blob
// device, its control socket linked at a fixed path; from "another terminal"
// vsc-ctl reads the state, sets a fault rule, rescinds the device (the
// driver lets go of it), and bad commands and a dead socket get their exit
// statuses. Ctrl-C (SIGINT) ends the guest and removes the link.
#define BOOST_TEST_MODULE vsc_guest_interactive_vm
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "run_command.h"

using vscsim::testing::has;
using vscsim::testing::run_command;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kGuest = VSC_GUEST_BINARY;
const std::string kCtl = VSC_CTL_BINARY;

// vsc-ctl's answer to `command`, polled until it contains `needle`.
bool wait_answer(const fs::path& ctl, const std::string& command, const std::string& needle,
                 std::chrono::seconds timeout, std::string& last) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    last = run_command(kCtl + " " + ctl.string() + " " + command).output;
    if (has(last, needle)) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(faults_fired_by_hand_reach_the_live_simulator) {
  vscsim::testing::TempDir dir("vsc-guest-interactive");
  const fs::path ctl = dir.path / "vsp.ctl";
  const fs::path log = dir.path / "vsc-guest.log";
  const auto started = run_command(kGuest + " --accel tcg --device blob --load vscsim_vmbus,az_blob --then wait "
                                            "--control " + ctl.string() + " > " + log.string() +
                                   " 2>&1 & echo $!");
  const pid_t pid = std::stoi(started.output);
  struct Stop {
    pid_t pid;
    ~Stop() { ::kill(pid, SIGKILL); }
  } stop_on_failure{pid};

  std::string state;
  BOOST_REQUIRE_MESSAGE(wait_answer(ctl, "state", "channel=open ring=open", 120s, state),
                        "az_blob never opened its channel: " << state << "\n" << vscsim::testing::slurp(log));
  BOOST_TEST(has(state, "kind=blob"));
  BOOST_TEST(has(vscsim::testing::slurp(log), "vsc-ctl " + ctl.string()), "vsc-guest says how to reach it");

  auto r = run_command(kCtl + " " + ctl.string() + " fault delay_ms 1 ms=300");
  BOOST_TEST(r.exit_code == 0, r.output);
  r = run_command(kCtl + " " + ctl.string() + " faults");
  BOOST_TEST(has(r.output, "delay_ms"), r.output);
  BOOST_TEST(run_command(kCtl + " " + ctl.string() + " fault-clear").exit_code == 0);

  r = run_command(kCtl + " " + ctl.string() + " rescind 1");
  BOOST_TEST(r.exit_code == 0, r.output);
  // The driver lets go: the guest closes the channel and releases the relid.
  BOOST_TEST(wait_answer(ctl, "state", "ring=closed", 60s, state), state);

  r = run_command(kCtl + " " + ctl.string() + " no-such-command");
  BOOST_TEST(r.exit_code == 1, r.output);
  BOOST_TEST(run_command(kCtl + " " + (dir.path / "nothing.ctl").string() + " state").exit_code == 2);
  BOOST_TEST(run_command(kCtl).exit_code == 2);

  // Ctrl-C: the guest and the simulator stop, the link goes.
  BOOST_REQUIRE(::kill(pid, SIGINT) == 0);
  for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(100ms);
  BOOST_TEST(::kill(pid, 0) != 0, "vsc-guest still runs 30 s after SIGINT");
  BOOST_TEST(!fs::exists(fs::symlink_status(ctl)), "the control link was left behind");
}
