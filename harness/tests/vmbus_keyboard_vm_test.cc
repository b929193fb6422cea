// The whole VMBus path in a real guest: vsp-sim offers the Hyper-V synthetic
// keyboard; the guest loads vscsim_vmbus and force-loads Debian's own
// hyperv-keyboard.ko; the test checks, from the guest's sysfs and evdev and
// from the simulator's control socket, that
//   - the device appears on the vmbus bus with the keyboard's class_id and
//     hyperv_keyboard binds (INITIATE_CONTACT, offers, GPADL, OPENCHANNEL);
//   - the keyboard protocol was negotiated (host state);
//   - a keystroke injected on the host reaches the guest's input layer
//     (KEY_A down and up read from /dev/input/eventN);
//   - a rescind removes the device (the driver's remove unregisters its
//     serio port), RELID_RELEASED reaches the host, and a reoffer brings it
//     back, bound again;
//   - the kernel reported no BUG/WARNING/oops.
// Negative control: the host refuses the open (fail-open fault), the driver's
// probe fails, and the test's "bound" check reports it.
//
// The guest side is a shell script run by images/init (LaunchOptions::run_script); it
// prints "vscsim-run: <word> ..." lines the test waits for. It is the stand-in
// for the guest agent, which does not exist yet.
#define BOOST_TEST_MODULE vmbus_keyboard_vm
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vscsim/boot/boot.h"
#include "vscsim/build_config.h"
#include "vscsim/launcher/kvm_probe.h"

using namespace vscsim;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKeyboardClassId = "{f912ad6d-2b17-48ea-bd65-f927a61c7684}";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// vsp-sim as a child of the test: dies with the test (PR_SET_PDEATHSIG), is
// stopped by pid (SIGTERM, then SIGKILL), and logs into the guest's run folder.
class SimProcess {
 public:
  SimProcess(const fs::path& run_dir, const fs::path& ram_path, const std::vector<std::string>& extra)
      : socket_(run_dir / "vsp-sim.sock"), control_(run_dir / "vsp-sim.ctl"), log_(run_dir / "vsp-sim.log") {
    std::vector<std::string> args{VSP_SIM_BINARY, "--socket", socket_.string(), "--guest-ram",
                                  ram_path.string(), "--control", control_.string(), "--device", "keyboard"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log_.string());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error("fork failed");
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    // Ready when both sockets answer; give up after 10 s.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!(fs::exists(socket_) && fs::exists(control_) && ask("help").rfind("ok", 0) == 0)) {
      if (std::chrono::steady_clock::now() > until || exited()) {
        stop();
        throw std::runtime_error("vsp-sim did not start: " + read_file(log_));
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  ~SimProcess() { stop(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // One control command, one answer line ("" if the socket is gone).
  std::string ask(const std::string& line) const {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, control_.c_str(), sizeof a.sun_path - 1);
    std::string answer;
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const std::string out = line + "\n";
      if (::send(s, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size())) {
        pollfd p{s, POLLIN, 0};
        char c = 0;
        while (::poll(&p, 1, 5000) == 1 && ::recv(s, &c, 1, 0) == 1 && c != '\n') answer += c;
      }
    }
    ::close(s);
    return answer;
  }

  // Asks `state` until it contains every word in `needles` (or times out).
  bool wait_state(const std::vector<std::string>& needles, std::chrono::milliseconds timeout,
                  std::string* last = nullptr) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::string st = ask("state");
      if (last != nullptr) *last = st;
      bool all = true;
      for (const auto& n : needles) all = all && st.find(n) != std::string::npos;
      if (all) return true;
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(20ms);
    }
  }

  bool exited() {
    if (status_) return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    return status_.has_value();
  }
  // SIGTERM (clean shutdown), SIGKILL after 5 s; returns the wait status.
  int stop() {
    if (pid_ > 0 && !exited()) {
      ::syscall(SYS_pidfd_send_signal, pidfd_, SIGTERM, nullptr, 0);
      pollfd p{pidfd_, POLLIN, 0};
      ::poll(&p, 1, 5000);
      if (!exited()) {
        ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        status_ = st;
      }
    }
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
    return status_.value_or(-1);
  }
  [[nodiscard]] std::string log() const { return read_file(log_); }
  [[nodiscard]] const fs::path& socket() const { return socket_; }

 private:
  fs::path socket_, control_, log_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

// The guest's half (busy-box sh). BOUND_WAIT tenths of a second for the bind.
std::string guest_script(int bound_wait) {
  return std::string("K='") + kKeyboardClassId + "'\nW=" + std::to_string(bound_wait) + "\n" + R"SH(
dev() { for d in /sys/bus/vmbus/devices/*; do [ "$(cat "$d/class_id" 2>/dev/null)" = "$K" ] && { echo "$d"; return; }; done; }
waitfor() { n=0; while ! eval "$1"; do n=$((n+1)); [ $n -ge "$2" ] && return 1; sleep 0.1; done; }
bound() { d=$(dev); [ -n "$d" ] && [ -e "$d/driver" ]; }
report() { d=$(dev); echo "$1 dev=${d##*/} class_id=$(cat "$d/class_id" 2>/dev/null) driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"; }
if ! waitfor bound "$W"; then report not-bound; exit 1; fi
report bound
d=$(dev)
waitfor 'ls -d "$d"/serio*/input/input*/event* >/dev/null 2>&1' 100 || { echo no-input; exit 1; }
ev=$(basename "$(ls -d "$d"/serio*/input/input*/event* | head -n 1)")
waitfor '[ -c "/dev/input/$ev" ]' 50 || { echo no-node "$ev"; exit 1; }
exec 3<"/dev/input/$ev"
echo "key-wait $ev"
timeout 20 sh -c 'i=0; while [ $i -lt 16 ]; do i=$((i+1)); set -- $(dd bs=24 count=1 2>/dev/null | od -An -v -tu2 -w24); [ $# -ge 11 ] || exit 1; echo "ev type=$9 code=${10} value=${11}"; [ "$9" = 1 ] && [ "${11}" = 0 ] && exit 0; done; exit 1' <&3
echo "key-done rc=$?"
exec 3<&-
s=$(basename "$(ls -d "$d"/serio* | head -n 1)")
waitfor '[ -z "$(dev)" ]' 300 || { echo still-there; exit 1; }
# The bus link goes before the driver's remove runs (device_del order): give
# remove a moment to unregister the serio port.
waitfor '! ls /sys/bus/serio/devices/ | grep -q "^$s\$"' 50
echo "removed serio_left=$(ls /sys/bus/serio/devices/ | grep -c "^$s\$")"
waitfor bound 300 || { report not-rebound; exit 1; }
report rebound
)SH";
}

launcher::LaunchOptions base_options(const std::string& name) {
  launcher::LaunchOptions o;
  o.kernel = build_config::kStockKernel;
  o.initrd = build_config::kStockInitramfs;
  o.name = name;
  o.deadline = 150s;
  launcher::LaunchOptions probe = o;
  probe.kernel_args = {"vscsim.then=poweroff"};
  o.accel = launcher::choose_accel(launcher::Accel::Auto, probe, build_config::kCacheDir).accel;
  return o;
}

struct Run {
  std::unique_ptr<SimProcess> sim;
  boot::BootOutcome boot;
};

// Boots a guest with the simulator started by the launcher hook.
Run boot_with_sim(const std::string& name, int bound_wait, const std::vector<std::string>& sim_commands) {
  Run run;
  boot::BootRequest req;
  req.launch = base_options(name);
  req.modules = {"vscsim_vmbus"};
  req.launch.kernel_args = {"vscsim.kmod=evdev", "vscsim.force_load=hyperv_keyboard"};
  req.launch.run_script = guest_script(bound_wait);
  req.launch.before_qemu_starts = [&](const launcher::BeforeQemuStarts& at) {
    run.sim = std::make_unique<SimProcess>(at.run_dir, at.ram_path, std::vector<std::string>{});
    for (const auto& c : sim_commands) {
      const std::string a = run.sim->ask(c);
      if (a.rfind("ok", 0) != 0) throw std::runtime_error("vsp-sim refused '" + c + "': " + a);
    }
    return std::vector<std::string>{"-chardev", "socket,path=" + run.sim->socket().string() + ",id=vsim",
                                    "-device", "ivshmem-doorbell,chardev=vsim,vectors=2"};
  };
  run.boot = boot::boot_until_ready(req);
  return run;
}

// The guest's "vscsim-run: <word> ..." line, waiting for it.
std::optional<std::string> run_line(launcher::QemuGuest& g, const std::string& word, std::chrono::seconds timeout) {
  const std::string marker = "vscsim-run: " + word;
  const auto r = g.wait_for_console(marker, timeout);
  if (r.status != launcher::WaitStatus::Found) return std::nullopt;
  // The console file may hold half a line: wait for its end.
  if (g.wait_for_console("\n", 5s, r.offset).status != launcher::WaitStatus::Found) return std::nullopt;
  const std::string& c = g.console();
  const auto start = r.offset - marker.size();
  std::string line = c.substr(start, c.find('\n', start) - start);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

// The check a scenario relies on: the keyboard is on the vmbus bus with its
// class_id and hyperv_keyboard bound to it.
bool keyboard_bound(launcher::QemuGuest& g, std::chrono::seconds timeout, std::string* why) {
  // The script's first line is its verdict: "bound ..." or "not-bound ...".
  const auto line = run_line(g, "", timeout);
  if (!line) {
    *why = "the guest script printed nothing";
    return false;
  }
  *why = *line;
  return line->rfind("vscsim-run: bound ", 0) == 0 &&
         line->find(std::string("class_id=") + kKeyboardClassId) != std::string::npos &&
         line->find("driver=hyperv_keyboard") != std::string::npos;
}

// Keeps the guest's run folder (console.log, qemu.stderr, vsp-sim.log) when
// the test case failed, and says where it is.
struct KeepOnFailure {
  launcher::QemuGuest& guest;
  ~KeepOnFailure() {
    namespace ut = boost::unit_test;
    if (!ut::results_collector.results(ut::framework::current_test_case().p_id).passed()) {
      guest.keep_run_dir();
      BOOST_TEST_MESSAGE("kept for post-mortem: " << guest.run_dir().string());
    }
  }
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(hyperv_keyboard_binds_types_and_survives_rescind_and_reoffer) {
  Run run = boot_with_sim("vscsim-vmbus-kbd", 300, {});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  BOOST_TEST_MESSAGE("launch to ready: " << run.boot.report.launch_to_ready_s() << " s");

  // 1. Bound: INITIATE_CONTACT -> offers -> GPADL -> open -> probe.
  std::string why;
  BOOST_REQUIRE_MESSAGE(keyboard_bound(g, 60s, &why), "keyboard not bound: " << why);
  BOOST_TEST_MESSAGE("launch to bound: " << since(g.started_at()) << " s (" << why << ")");
  std::string state;
  BOOST_TEST(run.sim->wait_state({"connection=offersdelivered", "version=5.2", "channel=open ring=open",
                                  "state=negotiated negotiations=1"}, 10s, &state), state);

  // 2. A keystroke from the host reaches evdev in the guest.
  BOOST_REQUIRE_MESSAGE(run_line(g, "key-wait", 30s), "guest never opened its event device");
  const std::string key = run.sim->ask("key 0x1e");
  BOOST_REQUIRE_MESSAGE(key == "ok", key);
  const auto done = run_line(g, "key-done", 30s);
  BOOST_REQUIRE(done);
  BOOST_TEST(*done == "vscsim-run: key-done rc=0");
  const std::string& console = g.console();
  BOOST_TEST(console.find("vscsim-run: ev type=1 code=30 value=1") != std::string::npos);  // KEY_A down
  BOOST_TEST(console.find("vscsim-run: ev type=1 code=30 value=0") != std::string::npos);  // KEY_A up
  BOOST_TEST(run.sim->wait_state({"keys=2"}, 5s, &state), state);

  // 3. Rescind: the device goes, its driver's remove unregisters the serio
  //    port, and the guest releases the relid.
  const auto rescind_at = std::chrono::steady_clock::now();
  BOOST_REQUIRE_EQUAL(run.sim->ask("rescind 1"), "ok");
  const auto removed = run_line(g, "removed", 40s);
  BOOST_REQUIRE_MESSAGE(removed, "device not removed after rescind");
  BOOST_TEST(*removed == "vscsim-run: removed serio_left=0");
  BOOST_TEST(run.sim->wait_state({"released=1", "channel=released", "state=closed"}, 10s, &state), state);
  BOOST_TEST_MESSAGE("rescind to released: " << since(rescind_at) << " s");

  // 4. Reoffer: the same relid comes back and binds again.
  BOOST_REQUIRE_EQUAL(run.sim->ask("reoffer 1"), "ok");
  const auto rebound = run_line(g, "rebound", 40s);
  BOOST_REQUIRE_MESSAGE(rebound, "not rebound after reoffer");
  BOOST_TEST(rebound->find("driver=hyperv_keyboard") != std::string::npos, *rebound);
  // The new probe negotiated again (a second protocol request).
  BOOST_TEST(run.sim->wait_state({"channel=open ring=open", "state=negotiated negotiations=2"}, 10s, &state),
             state);
  BOOST_TEST(run_line(g, "exit=0", 10s).has_value());

  // 5. The kernel said nothing bad, and the simulator stops cleanly.
  boot::check_console(g, run.boot.report);
  BOOST_TEST(run.boot.report.console_findings_size() == 0, run.boot.report.error());
  BOOST_TEST(console.find("insmod-force: /lib/vscsim/kmods/extra/hyperv_keyboard.ko loaded") != std::string::npos);
  const int st = run.sim->stop();
  BOOST_TEST((WIFEXITED(st) && WEXITSTATUS(st) == 0), "vsp-sim status " << st);
  // For the record (ctest -V): the guest's markers and the simulator's log.
  std::istringstream lines(g.console());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("vscsim-") != std::string::npos || l.find("insmod-force") != std::string::npos ||
        l.find("vmbus") != std::string::npos || l.find("input:") != std::string::npos) {
      BOOST_TEST_MESSAGE("guest| " << l);
    }
  }
  BOOST_TEST_MESSAGE("vsp-sim log:\n" << run.sim->log());
  BOOST_TEST(run.sim->log().find("corrupted") == std::string::npos);
}

// Negative control: the host refuses the open, so hyperv_keyboard's probe
// fails; the "bound" check must say so.
BOOST_AUTO_TEST_CASE(refused_open_is_detected_as_an_unbound_keyboard) {
  Run run = boot_with_sim("vscsim-vmbus-kbd-neg", 100, {"fail-open 1"});
  BOOST_REQUIRE_MESSAGE(run.boot.guest, "no guest");
  auto& g = *run.boot.guest;
  KeepOnFailure keep{g};
  BOOST_REQUIRE_MESSAGE(run.boot.report.ok(), run.boot.report.error());
  std::string why;
  BOOST_TEST(!keyboard_bound(g, 60s, &why), "the check missed a refused open: " << why);
  BOOST_TEST(why.find("not-bound") != std::string::npos, why);
  // The device itself was offered (it is on the bus), only the driver failed.
  BOOST_TEST(why.find(std::string("class_id=") + kKeyboardClassId) != std::string::npos, why);
  std::string state;
  BOOST_TEST(run.sim->wait_state({"channel=offered", "state=closed"}, 5s, &state), state);
}
