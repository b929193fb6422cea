// The repository's Vagrantfile, as a user runs it: `vagrant validate`, then
// `vagrant up` brings up the box-less debug VM with vsp-sim beside it (the
// blob device's channel opens, the serial console answers with a shell), and
// `vagrant destroy` leaves no domain, no vsp-sim and no state folder. Its own
// .vagrant folder, state folder and domain prefix keep a user's VM apart.
#define BOOST_TEST_MODULE vagrant_vm
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "run_command.h"

using namespace std::chrono_literals;
using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = VSCSIM_SOURCE_DIR;
const fs::path kBuild = VSCSIM_BUILD_DIR;

// What the guest's shell on `pty` prints after `line` runs, until `want` shows (or 20 s pass).
std::string ask_console(const std::string& pty, const std::string& line, const std::string& want) {
  const int fd = ::open(pty.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + pty;
  termios t{};
  ::tcgetattr(fd, &t);
  ::cfmakeraw(&t);
  ::tcsetattr(fd, TCSANOW, &t);
  const std::string command = "\n" + line + "\n";
  [[maybe_unused]] auto n = ::write(fd, command.data(), command.size());
  std::string out;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (!has(out, want) && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[4096];
      const auto got = ::read(fd, buf, sizeof buf);
      if (got > 0) out.append(buf, static_cast<std::size_t>(got));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(vagrant_up_serves_the_driver_and_destroy_leaves_nothing) {
  vscsim::testing::TempDir dir("vagrant-vm");
  const fs::path state = dir.path / "state";
  const std::string prefix = "vscsim-test-" + std::to_string(::getpid()) + "_";
  const std::string domain = prefix + "vscsim";
  const std::string env = "cd " + kSource.string() + " && VAGRANT_DOTFILE_PATH=" + (dir.path / "dot").string() +
                          " VSCSIM_BUILD=" + kBuild.string() + " VSCSIM_VAGRANT_STATE=" + state.string() +
                          " VSCSIM_VAGRANT_PREFIX=" + prefix + " ";
  const auto valid = run_command(env + "vagrant validate");
  BOOST_TEST(valid.exit_code == 0, valid.output);
  BOOST_TEST(has(valid.output, "validated successfully"), valid.output);

  const auto up = run_command(env + "vagrant up --provider libvirt");
  BOOST_TEST_MESSAGE(up.output);
  BOOST_TEST(up.exit_code == 0, "vagrant up exited " << up.exit_code);

  // vsp-sim beside the VM: the guest's transport maps RAM, az_blob opens the channel.
  const std::string ctl = (kBuild / "bin/vsc-ctl").string() + " " + (state / "vsp-sim.ctl").string() + " state";
  std::string st;
  for (int i = 0; i < 240 && !has(st, "relid=1 channel=open ring=open"); ++i) {
    st = run_command(ctl).output;
    if (!has(st, "ring=open")) std::this_thread::sleep_for(500ms);
  }
  BOOST_TEST(has(st, "relid=1 channel=open ring=open"), "the blob channel did not open: " << st);
  BOOST_TEST(has(slurp(state / "vsp-sim.log"), "guest RAM /var/lib/libvirt/qemu/ram/"));

  // The documented way in: the serial console is a shell.
  const auto tty = run_command("virsh -c qemu:///system ttyconsole " + domain);
  std::string pty = tty.output;
  while (!pty.empty() && (pty.back() == '\n' || pty.back() == '\r')) pty.pop_back();
  BOOST_TEST(tty.exit_code == 0, tty.output);
  const std::string answer = ask_console(pty, "echo console-$((6*7)) $(cat /sys/bus/vmbus/drivers/az_blob/*/class_id 2>/dev/null | head -c 8)", "console-42");
  BOOST_TEST(has(answer, "console-42"), "no shell on the console: " << answer);

  std::string sim_pid = slurp(state / "vsp-sim.pid");
  while (!sim_pid.empty() && sim_pid.back() == '\n') sim_pid.pop_back();
  BOOST_TEST(!sim_pid.empty(), "no vsp-sim pid file");
  const auto destroy = run_command(env + "vagrant destroy -f");
  BOOST_TEST_MESSAGE(destroy.output);
  BOOST_TEST(destroy.exit_code == 0, "vagrant destroy exited " << destroy.exit_code);
  BOOST_TEST(!has(run_command("virsh -c qemu:///system list --all --name").output, domain));
  BOOST_TEST(!fs::exists(state), state << " is left behind");
  BOOST_TEST(!fs::exists("/proc/" + sim_pid), "vsp-sim (pid " << sim_pid << ") still runs");
}
