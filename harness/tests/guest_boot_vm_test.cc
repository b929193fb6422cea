// Boots the real guest (Debian kernel, busybox initramfs) under QEMU and
// checks the launcher end to end: the project's module loads and says so on
// the console, the console checker catches a kernel WARNING (negative
// control), and no QEMU process, /dev/shm file or run folder outlives a run,
// whether it ends normally, at its deadline, by Ctrl-C, or by SIGKILL.
#define BOOST_TEST_MODULE guest_boot_vm
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <functional>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "vscsim/boot/boot.h"
#include "vscsim/boot/stock_guest.h"
#include "vscsim/build_config.h"
#include "vscsim/launcher/run_dir.h"

using namespace vscsim;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

launcher::LaunchOptions guest_options(const std::string& name) { return boot::stock_guest(name, 90s); }

// Pids of processes whose command line has "-name <name>" (our QEMUs).
std::vector<pid_t> qemu_pids_named(const std::string& name) {
  std::vector<pid_t> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto pid_text = e.path().filename().string();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    // A leading NUL so that "-name" matches whole arguments only (not "--name").
    const std::string cmdline = std::string(1, '\0') + std::string(std::istreambuf_iterator<char>(in), {});
    if (cmdline.find(std::string(1, '\0') + "-name" + '\0' + name + '\0') != std::string::npos) {
      pids.push_back(std::stoi(pid_text));
    }
  }
  return pids;
}

std::set<std::string> dev_shm() {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator("/dev/shm")) names.insert(e.path().filename().string());
  return names;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

std::string unique_name(const char* what) { return std::string("vscsim-vmtest-") + what + "-" + std::to_string(::getpid()); }

// Runs build/bin/vsc-guest with args; returns its pid. The child dies with
// this test process (a failed check must not leave a guest running).
pid_t spawn_vsc_guest(const std::vector<std::string>& args, const fs::path& out) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    std::vector<std::string> all = {VSC_GUEST_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Kills and reaps a spawned vsc-guest when a test case ends, whichever way.
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(guest_boots_loads_the_smoke_module_and_leaves_nothing_behind) {
  const auto shm_before = dev_shm();
  boot::BootRequest req;
  req.launch = guest_options(unique_name("boot"));
  // The VMBus transport module loads quietly even with no ivshmem device.
  req.modules = {"vsc_smoke", "vscsim_vmbus"};
  auto out = boot::boot_until_ready(req);
  const fs::path run_dir = out.guest->run_dir();
  const pid_t qemu = out.guest->pid();
  BOOST_TEST_MESSAGE("accel " << out.report.accel() << ": launch to init " << out.report.launch_to_init_s()
                     << " s, launch to ready " << out.report.launch_to_ready_s() << " s, guest uptime at init "
                     << out.report.guest_uptime_at_init_s() << " s");
  BOOST_TEST(out.report.ok(), out.report.error());
  BOOST_TEST(out.report.kernel_release() == build_config::kKernelRelease);
  BOOST_TEST_REQUIRE(out.report.modules_loaded_size() == 2);
  BOOST_TEST(out.report.modules_loaded(0) == "vsc_smoke");
  BOOST_TEST(out.report.modules_loaded(1) == "vscsim_vmbus");
  // The module's own line, printed by the module in the guest kernel.
  BOOST_TEST(out.guest->console().find(std::string("vsc_smoke: loaded on ") + build_config::kKernelRelease) !=
             std::string::npos);
  BOOST_TEST(out.report.console_findings_size() == 0);
  BOOST_TEST(out.report.launch_to_init_s() > 0.0);
  BOOST_TEST(out.report.launch_to_ready_s() >= out.report.launch_to_init_s());

  // Guest RAM is visible to another process through the RAM path: the init
  // marker the guest printed sits somewhere in guest memory.
  {
    std::ifstream ram(dynamic_cast<launcher::QemuGuest&>(*out.guest).ram_path(), std::ios::binary);
    BOOST_TEST_REQUIRE(ram.good());
    std::string mem((std::istreambuf_iterator<char>(ram)), std::istreambuf_iterator<char>());
    BOOST_TEST(mem.size() == req.launch.ram_bytes);
    BOOST_TEST(mem.find("vscsim-init: ready") != std::string::npos);
  }

  const auto exit = out.guest->stop();
  BOOST_TEST_MESSAGE("QEMU " << exit.describe());
  BOOST_TEST(!fs::exists(fs::path("/proc") / std::to_string(qemu)));
  BOOST_TEST(!fs::exists(run_dir));
  BOOST_TEST(qemu_pids_named(req.launch.name).empty());
  BOOST_TEST((dev_shm() == shm_before));
}

BOOST_AUTO_TEST_CASE(console_checker_flags_a_warning_from_a_module) {
  // Negative control: the same boot with the module told to WARN must fail.
  boot::BootRequest req;
  req.launch = guest_options(unique_name("warn"));
  req.modules = {"vsc_smoke"};
  req.module_params = {"vsc_smoke.warn=1"};
  auto out = boot::boot_until_ready(req);
  BOOST_TEST(!out.report.ok());
  BOOST_TEST_REQUIRE(out.report.console_findings_size() >= 1);
  BOOST_TEST(out.report.console_findings(0).kind() == "WARNING");
  BOOST_TEST(out.report.console_findings(0).line().find("vsc_smoke") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_module_that_does_not_load_fails_the_boot) {
  boot::BootRequest req;
  req.launch = guest_options(unique_name("noload"));
  req.modules = {"no_such_module"};
  auto out = boot::boot_until_ready(req);
  BOOST_TEST(!out.report.ok());
  BOOST_TEST(out.report.error().find("no_such_module") != std::string::npos, out.report.error());
}

BOOST_AUTO_TEST_CASE(deadline_kills_a_guest_that_runs_too_long) {
  auto o = guest_options(unique_name("deadline"));
  o.deadline = 4s;
  o.kernel_args = {"vscsim.then=wait"};
  auto guest = launcher::QemuGuest::launch(o);
  const auto r = guest->wait_for_console("never printed", 30s);
  BOOST_TEST((r.status == launcher::WaitStatus::GuestExited));
  const auto exit = guest->stop();
  BOOST_TEST(exit.killed_at_deadline);
  BOOST_TEST(exit.signal == SIGKILL);
  BOOST_TEST(qemu_pids_named(o.name).empty());
}

BOOST_AUTO_TEST_CASE(ctrl_c_stops_the_guest_and_cleans_up) {
  const auto shm_before = dev_shm();
  const std::string name = unique_name("sigint");
  const fs::path log = fs::temp_directory_path() / (name + ".log");
  const pid_t pid = spawn_vsc_guest({"--load", "vsc_smoke", "--then", "wait", "--name", name}, log);
  ChildGuard guard{pid};
  BOOST_TEST_REQUIRE(wait_until([&] { return read_all(log).find("vsc-guest: ready") != std::string::npos; }, 60s),
                     read_all(log));
  const auto qemus = qemu_pids_named(name);
  BOOST_TEST_REQUIRE(qemus.size() == 1u);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  guard.pid = -1;  // reaped
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 128 + SIGINT);
  BOOST_TEST(qemu_pids_named(name).empty());
  BOOST_TEST((dev_shm() == shm_before));
  for (const auto& e : fs::directory_iterator(launcher::RunDir::default_base())) {
    BOOST_TEST(e.path().filename().string().find("vscsim-run." + std::to_string(pid) + ".") != 0);
  }
  fs::remove(log);
}

BOOST_AUTO_TEST_CASE(sigkill_of_the_launcher_takes_qemu_down_and_the_next_run_cleans_its_folder) {
  const auto shm_before = dev_shm();
  const std::string name = unique_name("sigkill");
  const fs::path log = fs::temp_directory_path() / (name + ".log");
  const pid_t pid = spawn_vsc_guest({"--then", "wait", "--name", name}, log);
  ChildGuard guard{pid};
  BOOST_TEST_REQUIRE(wait_until([&] { return read_all(log).find("vsc-guest: ready") != std::string::npos; }, 60s),
                     read_all(log));
  BOOST_TEST_REQUIRE(qemu_pids_named(name).size() == 1u);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  guard.pid = -1;  // reaped
  // PR_SET_PDEATHSIG: QEMU dies with its launcher.
  BOOST_TEST(wait_until([&] { return qemu_pids_named(name).empty(); }, 10s));
  BOOST_TEST((dev_shm() == shm_before));  // guest RAM was a memfd: nothing to leave
  const std::string stale_prefix = "vscsim-run." + std::to_string(pid) + ".";
  auto stale_exists = [&] {
    for (const auto& e : fs::directory_iterator(launcher::RunDir::default_base())) {
      if (e.path().filename().string().rfind(stale_prefix, 0) == 0) return true;
    }
    return false;
  };
  BOOST_TEST(stale_exists());  // SIGKILL gave no chance to clean up...
  launcher::RunDir next;       // ...so the next run does
  BOOST_TEST(!stale_exists());
  fs::remove(log);
}

BOOST_AUTO_TEST_CASE(gdbstub_answers_on_loopback_with_the_cpu_halted) {
  auto o = guest_options(unique_name("gdb"));
  o.gdb_port = static_cast<std::uint16_t>(20000 + ::getpid() % 20000);
  o.gdb_wait = true;
  auto guest = launcher::QemuGuest::launch(o);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*o.gdb_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = wait_until([&] { return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0; }, 10s);
  BOOST_TEST_REQUIRE(connected);
  // gdb remote protocol: "?" asks why the target stopped; a halted CPU answers "S05"/"T05...".
  const std::string query = "$?#3f";
  BOOST_TEST_REQUIRE(::write(fd, query.data(), query.size()) == static_cast<ssize_t>(query.size()));
  std::string reply;
  wait_until([&] {
    char buf[256];
    const auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
    return reply.find('#') != std::string::npos;
  }, 10s);
  ::close(fd);
  BOOST_TEST((reply.find("$S05") != std::string::npos || reply.find("$T05") != std::string::npos), reply);
  // Halted before the first instruction: nothing reached the console.
  BOOST_TEST(guest->console().find("Linux version") == std::string::npos);
  guest->stop();
  BOOST_TEST(qemu_pids_named(o.name).empty());
}

BOOST_AUTO_TEST_CASE(qemu_refusing_its_arguments_is_reported_with_qemus_own_words) {
  boot::BootRequest req;
  req.launch = guest_options(unique_name("badarg"));
  req.launch.extra_args = {"-device", "no-such-device-model"};
  auto out = boot::boot_until_ready(req);
  BOOST_TEST(!out.report.ok());
  BOOST_TEST(out.report.error().find("QEMU exited with code 1") != std::string::npos, out.report.error());
  BOOST_TEST(out.report.error().find("no-such-device-model") != std::string::npos, out.report.error());
  const fs::path run_dir = out.guest->run_dir();
  out.guest->stop();
  BOOST_TEST(!fs::exists(run_dir));
}
