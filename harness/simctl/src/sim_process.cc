#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "socket_io.h"
#include "vscsim/simctl/sim_process.h"

#include <fmt/format.h>

namespace vscsim::simctl {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

SimProcess::SimProcess(const fs::path& binary, const fs::path& run_dir, const fs::path& ram_path,
                       const std::vector<std::string>& args)
    : socket_(run_dir / "vsp-sim.sock"), control_(run_dir / "vsp-sim.ctl"), log_(run_dir / "vsp-sim.log") {
  std::vector<std::string> all{binary.string(), "--socket", socket_.string(), "--control", control_.string()};
  if (ram_path.empty()) {
    all.emplace_back("--guest-ram-from-peer");
  } else {
    all.insert(all.end(), {"--guest-ram", ram_path.string()});
  }
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
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
      throw std::runtime_error("vsp-sim did not start: " + log());
    }
    std::this_thread::sleep_for(10ms);
  }
}

Result<std::string, std::string> ask_text(const std::filesystem::path& control_socket, const std::string& line,
                                          std::chrono::milliseconds timeout) {
  // A state line grows with the devices; this bounds it all the same.
  constexpr std::size_t kMaxAnswer = std::size_t{1} << 20;
  const auto deadline = io::Clock::now() + timeout;
  auto fd = io::connect_unix(control_socket, deadline);
  if (!fd.ok()) return Err(fmt::format("{}: {}", control_socket.string(), fd.error()));
  Result<std::string, std::string> answer = Err(std::string("no answer"));
  if (auto sent = io::send_all(*fd, line + "\n", deadline); !sent.ok()) {
    answer = Err(fmt::format("sending to {}: {}", control_socket.string(), sent.error()));
  } else if (auto got = io::recv_line(*fd, kMaxAnswer, deadline); !got.ok()) {
    answer = Err(fmt::format("no answer from {}: {}", control_socket.string(), got.error()));
  } else {
    answer = std::move(got).value();
  }
  ::close(*fd);
  return answer;
}

std::string SimProcess::ask(const std::string& line) const {
  auto answer = ask_text(control_, line, 5s);
  return answer.ok() ? *answer : "";
}

Result<SimControl, std::string> SimProcess::control(std::chrono::milliseconds timeout) const {
  return SimControl::connect(control_, timeout);
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
  if (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
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

std::string SimProcess::log() const { return read_file(log_); }

}  // namespace vscsim::simctl
