#include "vmbus_vm_fixture.h"

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

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
    std::vector<std::string> args{"--device", "keyboard"};
    args.insert(args.end(), sim_args.begin(), sim_args.end());
    run.sim = std::make_unique<SimProcess>(VSP_SIM_BINARY, at.run_dir, at.ram_path, args);
    for (const auto& c : sim_commands) {
      const std::string a = run.sim->ask(c);
      if (a.rfind("ok", 0) != 0) throw std::runtime_error("vsp-sim refused '" + c + "': " + a);
    }
    return std::vector<launcher::IvshmemDoorbell>{{run.sim->socket(), SimProcess::kIvshmemVectors}};
  };
  run.boot = boot::boot_until_ready(req);
  return run;
}

std::optional<std::string> run_line(launcher::Guest& g, const std::string& word, std::chrono::seconds timeout) {
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

bool keyboard_bound(launcher::Guest& g, std::chrono::seconds timeout, std::string* why) {
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

GoLine::GoLine(launcher::Guest& g) : fd_(connect_unix(g.agent_socket())) {
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

void log_for_the_record(launcher::Guest& g, const SimProcess& sim) {
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
