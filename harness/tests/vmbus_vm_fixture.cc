#include "vmbus_vm_fixture.h"

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

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "vscsim/boot/stock_guest.h"

namespace vscsim::vmtest {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A connected AF_UNIX stream socket, or -1.
int connect_unix(const fs::path& path) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

}  // namespace

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

SimProcess::SimProcess(const fs::path& run_dir, const fs::path& ram_path, const std::vector<std::string>& extra)
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

std::string SimProcess::ask(const std::string& line) const {
  const int s = connect_unix(control_);
  if (s < 0) return "";
  std::string answer;
  const std::string out = line + "\n";
  if (::send(s, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size())) {
    pollfd p{s, POLLIN, 0};
    char c = 0;
    while (::poll(&p, 1, 5000) == 1 && ::recv(s, &c, 1, 0) == 1 && c != '\n') answer += c;
  }
  ::close(s);
  return answer;
}

bool SimProcess::wait_state(const std::vector<std::string>& needles, std::chrono::milliseconds timeout,
                            std::string* last) const {
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

bool SimProcess::exited() {
  if (status_) return true;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
  return status_.has_value();
}

int SimProcess::stop() {
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

int SimProcess::kill_now() {
  if (pid_ > 0 && !exited()) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    status_ = st;
  }
  return status_.value_or(-1);
}

std::string keyboard_script_prelude(int bound_wait) {
  return std::string("K='") + kKeyboardClassId + "'\nW=" + std::to_string(bound_wait) + "\n" + R"SH(
dev() { for d in /sys/bus/vmbus/devices/*; do [ "$(cat "$d/class_id" 2>/dev/null)" = "$K" ] && { echo "$d"; return; }; done; }
waitfor() { n=0; while ! eval "$1"; do n=$((n+1)); [ $n -ge "$2" ] && return 1; sleep 0.1; done; }
bound() { d=$(dev); [ -n "$d" ] && [ -e "$d/driver" ]; }
report() { d=$(dev); echo "$1 dev=${d##*/} class_id=$(cat "$d/class_id" 2>/dev/null) driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"; }
# The agent port: reads return at once (EOF) until the host connects, then
# block until it writes a line.
agent=""
for v in /sys/class/virtio-ports/*; do [ "$(cat "$v/name" 2>/dev/null)" = org.vscsim.agent.0 ] && agent=/dev/${v##*/}; done
wait_go() { n=0; while ! read -r _ <"$agent"; do n=$((n+1)); [ $n -ge 600 ] && return 1; sleep 0.1; done; }
)SH";
}

launcher::LaunchOptions base_options(const std::string& name) { return boot::stock_guest(name, 150s); }

Run boot_with_sim(const std::string& name, const std::string& script, const std::vector<std::string>& sim_commands,
                  const std::vector<std::string>& kernel_args, const std::vector<std::string>& sim_args,
                  const std::vector<std::string>& modules) {
  Run run;
  boot::BootRequest req;
  req.launch = base_options(name);
  req.modules = modules;
  req.launch.kernel_args = kernel_args;
  req.launch.run_script = script;
  req.launch.before_qemu_starts = [&](const launcher::BeforeQemuStarts& at) {
    run.sim = std::make_unique<SimProcess>(at.run_dir, at.ram_path, sim_args);
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

GoLine::GoLine(launcher::QemuGuest& g) : fd_(connect_unix(g.agent_socket())) {
  if (fd_ < 0) throw std::runtime_error("cannot connect to " + g.agent_socket().string());
}

GoLine::~GoLine() {
  if (fd_ >= 0) ::close(fd_);
}

bool GoLine::go() {
  static constexpr char kLine[] = "go\n";
  return ::send(fd_, kLine, sizeof kLine - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kLine - 1);
}

KeepOnFailure::~KeepOnFailure() {
  namespace ut = boost::unit_test;
  if (!ut::results_collector.results(ut::framework::current_test_case().p_id).passed()) {
    guest.keep_run_dir();
    BOOST_TEST_MESSAGE("kept for post-mortem: " << guest.run_dir().string());
  }
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void log_for_the_record(launcher::QemuGuest& g, const SimProcess& sim) {
  std::istringstream lines(g.console());
  for (std::string l; std::getline(lines, l);) {
    if (l.find("vscsim-") != std::string::npos || l.find("insmod-force") != std::string::npos ||
        l.find("vmbus") != std::string::npos || l.find("input:") != std::string::npos) {
      BOOST_TEST_MESSAGE("guest| " << l);
    }
  }
  BOOST_TEST_MESSAGE("vsp-sim log:\n" << sim.log());
}

}  // namespace vscsim::vmtest
