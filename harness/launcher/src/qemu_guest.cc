#include "vscsim/launcher/qemu_guest.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#include "vscsim/launcher/qemu_command.h"
#include "vscsim/launcher/stop_signal.h"

namespace vscsim::launcher {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signo) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw LaunchError(what + ": " + std::strerror(errno));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

QemuGuest::QemuGuest(LaunchOptions options) : options_(std::move(options)) {}

std::unique_ptr<QemuGuest> QemuGuest::launch(const LaunchOptions& options) {
  std::unique_ptr<QemuGuest> guest(new QemuGuest(options));
  guest->start();
  return guest;
}

void QemuGuest::start() {
  if (options_.backend != Backend::Qemu) throw LaunchError("QemuGuest launches the qemu backend only");
  if (!std::filesystem::exists(options_.kernel)) throw LaunchError("guest kernel not found: " + options_.kernel.string());
  if (!options_.initrd.empty() && !std::filesystem::exists(options_.initrd)) {
    throw LaunchError("guest initramfs not found: " + options_.initrd.string());
  }
  run_dir_ = std::make_unique<RunDir>();
  run_dir_path_ = run_dir_->path();
  console_log_ = options_.console_log.empty() ? run_dir_->path() / "console.log" : options_.console_log;
  agent_socket_ = run_dir_->path() / "agent.sock";
  // Truncate now: the console waits read it from the start.
  { std::ofstream truncate(console_log_, std::ios::trunc); }

  ram_fd_ = ::memfd_create("vscsim-guest-ram", MFD_CLOEXEC);
  if (ram_fd_ < 0) throw_errno("memfd_create for guest RAM");
  if (::ftruncate(ram_fd_, static_cast<off_t>(options_.ram_bytes)) != 0) throw_errno("sizing guest RAM");

  if (options_.before_qemu_starts) {
    const auto more = options_.before_qemu_starts({ram_path(), run_dir_->path(), Backend::Qemu});
    options_.ivshmem.insert(options_.ivshmem.end(), more.begin(), more.end());
  }
  std::filesystem::path run_script;
  if (!options_.run_script.empty()) {
    run_script = run_dir_->path() / "run.sh";
    std::ofstream(run_script, std::ios::binary) << options_.run_script;
  }
  command_ = qemu_command(options_, {ram_fd_, console_log_, agent_socket_, run_script});
  std::vector<char*> argv;
  for (auto& a : command_) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string stderr_path = (run_dir_->path() / "qemu.stderr").string();

  // The child reports a failed exec through this pipe (closed by a good exec).
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw_errno("pipe");
  const pid_t parent = ::getpid();
  const bool interactive = options_.console_on_stdio;
  const int ram_fd = ram_fd_;

  started_at_ = std::chrono::steady_clock::now();
  pid_ = ::fork();
  if (pid_ < 0) throw_errno("fork");
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    ::close(exec_pipe[0]);
    if (!interactive) ::setpgid(0, 0);  // Ctrl-C goes to the launcher, which stops QEMU in order
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // parent already gone
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::fcntl(ram_fd, F_SETFD, 0);  // QEMU opens it as /proc/self/fd/N
    const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err >= 0) ::dup2(err, STDERR_FILENO);
    if (!interactive) {
      const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
      }
    }
    ::execvp(argv[0], argv.data());
    const int e = errno;
    [[maybe_unused]] auto n = ::write(exec_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(exec_pipe[1]);
  pidfd_ = pidfd_open(pid_);
  int child_errno = 0;
  const auto n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  ::close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    reap(true);
    throw LaunchError("cannot run " + options_.qemu + ": " + std::strerror(child_errno) +
                      " (install qemu-system-x86: ci/install-deps.sh)");
  }
  if (pidfd_ < 0) {
    ::kill(pid_, SIGKILL);
    reap(true);
    throw_errno("pidfd_open for QEMU");
  }
  watchdog_ = std::thread([this] { watchdog(); });
}

void QemuGuest::watchdog() {
  std::unique_lock lock(mu_);
  const auto deadline = started_at_ + options_.deadline;
  if (!cv_.wait_until(lock, deadline, [this] { return stopping_; })) {
    deadline_hit_ = true;
    // pidfd: safe even if QEMU already exited and its pid was reused.
    pidfd_send_signal(pidfd_, SIGKILL);
  }
}

void QemuGuest::signal_qemu(int signo) {
  if (pidfd_ >= 0) pidfd_send_signal(pidfd_, signo);
}

bool QemuGuest::reap(bool block) {
  if (exit_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  ExitInfo info;
  info.exited = WIFEXITED(status);
  info.code = info.exited ? WEXITSTATUS(status) : 0;
  info.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  {
    std::lock_guard lock(mu_);
    info.killed_at_deadline = deadline_hit_;
  }
  exit_ = info;
  return true;
}

bool QemuGuest::running() { return !reap(false); }

std::string QemuGuest::qemu_stderr() const {
  return run_dir_ ? read_file(run_dir_->path() / "qemu.stderr") : final_stderr_;
}

void QemuGuest::wait_for_exit(std::chrono::milliseconds timeout) {
  pollfd p{pidfd_, POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(timeout.count()));
}

std::string QemuGuest::describe_launch() const {
  std::string line;
  for (const auto& a : command_) line += (line.empty() ? "" : " ") + a;
  return line;
}

std::filesystem::path QemuGuest::ram_path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(ram_fd_);
}

ExitInfo QemuGuest::stop(std::chrono::milliseconds grace) {
  if (pid_ > 0 && !reap(false)) {
    signal_qemu(SIGTERM);
    pollfd p{pidfd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(grace.count()));
    if (!reap(false)) {
      signal_qemu(SIGKILL);
      reap(true);
    }
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  if (ram_fd_ >= 0) ::close(ram_fd_);
  ram_fd_ = -1;
  // Keep the final console and QEMU's stderr readable after the folder is gone
  // (a console_log the user chose lives outside it and stays).
  read_console_file();
  final_stderr_ = qemu_stderr();
  run_dir_.reset();
  return exit_.value_or(ExitInfo{});
}

QemuGuest::~QemuGuest() {
  if (run_dir_) stop();
}

}  // namespace vscsim::launcher
