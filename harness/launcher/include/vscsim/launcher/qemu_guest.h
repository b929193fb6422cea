// A running QEMU guest, owned by this object: guest RAM in a shared memfd the
// simulator can map, the serial console captured to a file, a virtio-serial
// port for the guest agent, an optional gdbstub, a hard deadline, and teardown
// that leaves nothing behind (no QEMU process, no /dev/shm file, no run folder)
// after a normal end, a failure, the deadline or Ctrl-C. If the owning process
// is SIGKILLed, QEMU dies with it (PR_SET_PDEATHSIG).
//
// Launch from a thread that outlives the guest: the kernel's parent-death
// signal follows the thread that forked QEMU.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "vscsim/launcher/launch_options.h"
#include "vscsim/launcher/run_dir.h"

namespace vscsim::launcher {

class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How QEMU ended.
struct ExitInfo {
  bool exited = false;        // exit() with `code`
  int code = 0;
  int signal = 0;             // killed by this signal
  bool killed_at_deadline = false;
  std::string describe() const;
};

enum class WaitStatus {
  Found,           // the text appeared on the console
  GuestExited,     // QEMU ended first
  TimedOut,        // the wait's own timeout passed
  StopRequested,   // Ctrl-C / SIGTERM (stop_signal.h)
};
std::string_view to_string(WaitStatus status);

struct WaitResult {
  WaitStatus status;
  std::size_t offset = 0;  // console offset just past the match, when Found
};

class QemuGuest {
 public:
  static std::unique_ptr<QemuGuest> launch(const LaunchOptions& options);
  ~QemuGuest();
  QemuGuest(const QemuGuest&) = delete;
  QemuGuest& operator=(const QemuGuest&) = delete;

  pid_t pid() const { return pid_; }
  const LaunchOptions& options() const { return options_; }
  // The guest RAM file as another process can open it (/proc/<pid>/fd/<n>).
  std::filesystem::path ram_path() const;
  int ram_fd() const { return ram_fd_; }
  const std::filesystem::path& console_log() const { return console_log_; }
  const std::filesystem::path& agent_socket() const { return agent_socket_; }
  // The run folder (sockets, logs). It is removed by stop() unless kept.
  const std::filesystem::path& run_dir() const { return run_dir_path_; }
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  const std::vector<std::string>& command() const { return command_; }

  // Waits for `needle` on the console at or after byte `from`.
  WaitResult wait_for_console(std::string_view needle, std::chrono::milliseconds timeout,
                              std::size_t from = 0);
  // Console text captured so far.
  const std::string& console();
  // QEMU's own stderr (errors about its options, devices, ...).
  std::string qemu_stderr() const;

  bool running();
  // How QEMU ended, once it has (running() returned false or stop() ran).
  const std::optional<ExitInfo>& exit_info() const { return exit_; }
  // Ends the guest: SIGTERM, then SIGKILL after `grace`; reaps QEMU, closes
  // the RAM file and removes the run folder (unless keep_run_dir()). Idempotent.
  ExitInfo stop(std::chrono::milliseconds grace = std::chrono::seconds(3));
  // Keep the run folder (console log, QEMU stderr) for a post-mortem.
  void keep_run_dir() {
    if (run_dir_) run_dir_->keep();
  }

 private:
  explicit QemuGuest(LaunchOptions options);
  void start();
  bool reap(bool block);
  void watchdog();
  void signal_qemu(int signo);

  LaunchOptions options_;
  std::unique_ptr<RunDir> run_dir_;
  std::filesystem::path run_dir_path_;
  std::filesystem::path console_log_;
  std::filesystem::path agent_socket_;
  std::vector<std::string> command_;
  std::string console_;
  std::string final_stderr_;
  std::size_t console_read_ = 0;
  int ram_fd_ = -1;
  int pidfd_ = -1;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_at_;
  std::optional<ExitInfo> exit_;

  std::mutex mu_;                 // guards stopping_, deadline_hit_
  std::condition_variable cv_;
  bool stopping_ = false;
  bool deadline_hit_ = false;
  std::thread watchdog_;
};

}  // namespace vscsim::launcher
