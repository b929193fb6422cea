// vsc-guest --gdb as docs/gdb.md tells a user to use it: boot with the blob
// device and az_blob loaded, gdb from the script vsc-guest wrote, a
// breakpoint in az_blob's remove, a rescind fired with vsc-ctl. gdb must stop
// there with az_blob's source line and kernel frames with their source files
// (the Debian -dbg symbols), detach, and the guest must finish the rescind.
// Then the script's vsc-reload-modules rewrites it from the live guest, also
// after az_blob was unloaded and loaded again (through the guest agent). The
// first run downloads the -dbg package (about 280 MB) into the cache.
#define BOOST_TEST_MODULE gdb_vm
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "run_command.h"
#include "vscsim/agent/client.h"

using vscsim::testing::has;
using vscsim::testing::run_command;
using vscsim::testing::slurp;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kGuest = VSC_GUEST_BINARY;
const std::string kCtl = VSC_CTL_BINARY;

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    BOOST_FAIL("no free TCP port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Polls `file` until it contains `needle` (true), or `failure` when given,
// or `pid` ends, or the time is up.
bool wait_for_text(const fs::path& file, const std::string& needle, pid_t pid, std::chrono::seconds timeout,
                   const std::string& failure = "") {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    const std::string text = slurp(file);
    if (has(text, needle)) return true;
    if (!failure.empty() && has(text, failure)) return false;
    if (!alive(pid)) return has(slurp(file), needle);
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

bool wait_exit(pid_t pid, std::chrono::seconds timeout) {
  for (auto until = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < until;) {
    if (!alive(pid)) return true;
    std::this_thread::sleep_for(100ms);
  }
  return !alive(pid);
}

// Starts `command` in the background with its output in `log`; its pid.
// stdin is /dev/null: gdb must not wait on the test's.
pid_t start(const std::string& command, const fs::path& log) {
  const auto r = run_command(command + " < /dev/null > " + log.string() + " 2>&1 & echo $!");
  return static_cast<pid_t>(std::stoi(r.output));
}

struct Killer {
  std::vector<pid_t> pids;
  ~Killer() {
    for (pid_t p : pids) ::kill(p, SIGKILL);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(gdb_stops_in_az_blob_remove_during_a_rescind_with_kernel_and_module_sources) {
  const auto gdb = run_command("command -v gdb");
  BOOST_REQUIRE_MESSAGE(gdb.exit_code == 0, "gdb is not installed: ci/install-deps.sh installs it");

  vscsim::testing::TempDir dir("gdb-vm");
  const fs::path ctl = dir.path / "vsp.ctl";
  const fs::path script = dir.path / "guest.gdb";
  const fs::path guest_log = dir.path / "vsc-guest.log";
  const fs::path gdb_log = dir.path / "gdb.log";
  const std::uint16_t port = free_port();
  Killer killer;

  // --then wait: the user's --then shell, without a terminal.
  const pid_t guest = start(kGuest + " --accel tcg --device blob --load vscsim_vmbus,az_blob --then wait --control " +
                                ctl.string() + " --gdb " + std::to_string(port) + " --gdb-script " + script.string(),
                            guest_log);
  killer.pids.push_back(guest);
  // Boot (about 3 s) plus, the first time, the -dbg package's download and extraction.
  BOOST_REQUIRE_MESSAGE(wait_for_text(guest_log, "from another terminal: gdb -x " + script.string(), guest, 900s,
                                      "vsc-guest: no gdb script:"),
                        "vsc-guest wrote no gdb script:\n" << slurp(guest_log));
  const std::string text = slurp(script);
  BOOST_TEST_MESSAGE("the script:\n" << text);
  BOOST_TEST(has(text, "target remote 127.0.0.1:" + std::to_string(port) + "\n"), text);
  BOOST_TEST(std::regex_search(text, std::regex(R"(\nfile \S+/kernel-dbg/\S+/vmlinux-\S+\n)")), text);
  for (const std::string m : {"vscsim_vmbus", "az_blob"}) {
    BOOST_TEST(std::regex_search(text, std::regex("\nadd-symbol-file \\S+/" + m + R"(\.ko 0xffffffff[0-9a-f]+ .*-s \.data 0x)")),
               m << " is not placed at its sections:\n" << text);
  }
  BOOST_TEST(!has(text, ".init.text"), "a freed section is placed:\n" << text);

  // gdb in batch mode, as the other terminal would be: break, continue, and
  // when it stops, the backtrace; then detach so the guest runs on.
  const pid_t gdb_pid = start("gdb -batch -nx -x " + script.string() +
                                  " -ex 'break az_blob_remove' -ex continue -ex bt -ex 'info source' -ex detach",
                              gdb_log);
  killer.pids.push_back(gdb_pid);
  // Connected (the guest is halted) and the breakpoint set: gdb inserts it
  // before it lets the guest run again, so the rescind cannot slip past it.
  BOOST_REQUIRE_MESSAGE(wait_for_text(gdb_log, "Breakpoint 1 at ", gdb_pid, 120s),
                        "gdb did not connect and set the breakpoint:\n" << slurp(gdb_log));

  const auto rescind = run_command("timeout 60 " + kCtl + " " + ctl.string() + " rescind 1");
  BOOST_TEST(rescind.exit_code == 0, rescind.output);
  BOOST_REQUIRE_MESSAGE(wait_exit(gdb_pid, 180s), "gdb did not stop in az_blob_remove:\n" << slurp(gdb_log));
  const std::string out = slurp(gdb_log);
  BOOST_TEST_MESSAGE("gdb:\n" << out);
  BOOST_TEST(has(out, "Breakpoint 1, az_blob_remove"), out);
  // The module's frame with its source line (vsc/az_blob/main.c, as kbuild built it).
  BOOST_TEST(std::regex_search(out, std::regex(R"(#0 +az_blob_remove \(.*\) at \S*az_blob/main\.c:[0-9]+)")), out);
  // Kernel frames with their source files: the -dbg vmlinux's DWARF.
  BOOST_TEST(std::regex_search(out, std::regex(R"(\n#[0-9]+ +0x[0-9a-f]+ in \w+ \(.*\) at (drivers/base|kernel)/[\w/]+\.c:[0-9]+)")),
             out);
  BOOST_TEST(has(out, "detached"), out);

  // Detached, the guest finishes the rescind: az_blob let go of the channel.
  std::string state;
  for (int i = 0; i < 300 && !has(state, "ring=closed"); ++i) {
    state = run_command(kCtl + " " + ctl.string() + " state").output;
    std::this_thread::sleep_for(200ms);
  }
  BOOST_TEST(has(state, "ring=closed"), state);

  // vsc-reload-modules: detach, rewrite the script from the guest now, source it
  // again (vscsim_vmbus is still loaded where it was; az_blob too, unbound).
  const fs::path reload_log = dir.path / "reload.log";
  const pid_t reload = start("gdb -batch -nx -x " + script.string() +
                                 " -ex vsc-reload-modules -ex 'info line az_blob_remove' -ex detach",
                             reload_log);
  killer.pids.push_back(reload);
  BOOST_REQUIRE_MESSAGE(wait_exit(reload, 180s), "vsc-reload-modules did not finish:\n" << slurp(reload_log));
  const std::string reloaded = slurp(reload_log);
  BOOST_TEST_MESSAGE("vsc-reload-modules:\n" << reloaded);
  BOOST_TEST(has(reloaded, "vsc-gdb-script: " + script.string() + ": 2 module(s)"), reloaded);
  BOOST_TEST(std::regex_search(reloaded, std::regex(R"(Line [0-9]+ of "\S*az_blob/main\.c" starts at address 0x)")),
             reloaded);
  BOOST_TEST(slurp(script) == text, "the same modules at the same addresses give the same script");
  BOOST_TEST(has(run_command(kCtl + " " + ctl.string() + " state").output, "ring=closed"), "the guest still answers");

  // az_blob unloaded, then loaded again: each reload lists what is loaded now.
  const std::string guest_text = slurp(guest_log);
  std::smatch agent_port;
  BOOST_REQUIRE_MESSAGE(std::regex_search(guest_text, agent_port, std::regex(R"(agent port: (\S+)\))")),
                        "vsc-guest did not print the agent port:\n" << slurp(guest_log));
  auto agent_op = [&](vscsim::agent::Op op) {
    auto client = vscsim::agent::AgentClient::connect(agent_port[1].str(), 30s);
    BOOST_REQUIRE_MESSAGE(client.ok(), vscsim::agent::error_text(client));
    vscsim::agent::Run run;
    *run.mutable_op() = std::move(op);
    auto r = client.value()->run(run, 60s);
    BOOST_REQUIRE_MESSAGE(r.ok(), vscsim::agent::error_text(r));
    BOOST_TEST(r->err() == 0, r->errno_name() << " " << r->detail());
  };
  auto reload_modules = [&](const std::string& expect) {
    const pid_t p = start("gdb -batch -nx -x " + script.string() + " -ex vsc-reload-modules -ex detach", reload_log);
    killer.pids.push_back(p);
    BOOST_REQUIRE_MESSAGE(wait_exit(p, 180s), "vsc-reload-modules did not finish:\n" << slurp(reload_log));
    const std::string log = slurp(reload_log);
    BOOST_TEST(has(log, "vsc-gdb-script: " + script.string() + ": " + expect), log);
  };
  vscsim::agent::Op unload;
  unload.mutable_unload_module()->set_name("az_blob");
  agent_op(unload);
  reload_modules("1 module(s)");
  BOOST_TEST(!has(slurp(script), "az_blob.ko"), slurp(script));
  vscsim::agent::Op load;
  load.mutable_load_module()->set_path("/lib/vscsim/az_blob.ko");
  agent_op(load);
  reload_modules("2 module(s)");
  BOOST_TEST(std::regex_search(slurp(script), std::regex(R"(\nadd-symbol-file \S+/az_blob\.ko 0xffffffff[0-9a-f]+ )")),
             slurp(script));

  // Ctrl-C ends the guest; the boot report says the console stayed clean.
  BOOST_REQUIRE(::kill(guest, SIGINT) == 0);
  BOOST_TEST(wait_exit(guest, 60s), "vsc-guest still runs 60 s after SIGINT");
  const std::string guest_out = slurp(guest_log);
  BOOST_TEST(!has(guest_out, "FAILED"), guest_out);
}
