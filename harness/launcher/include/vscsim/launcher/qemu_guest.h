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

#include "vscsim/launcher/guest.h"
#include "vscsim/launcher/launch_options.h"
#include "vscsim/launcher/run_dir.h"

namespace vscsim::launcher {

class QemuGuest final : public Guest {
 public:
  static std::unique_ptr<QemuGuest> launch(const LaunchOptions& options);
  ~QemuGuest() override;

  pid_t pid() const override { return pid_; }
  const LaunchOptions& options() const override { return options_; }
  // The guest RAM file as another process can open it (/proc/<pid>/fd/<n>).
  std::filesystem::path ram_path() const;
  int ram_fd() const { return ram_fd_; }
  const std::filesystem::path& console_log() const override { return console_log_; }
  const std::filesystem::path& agent_socket() const override { return agent_socket_; }
  const std::filesystem::path& run_dir() const override { return run_dir_path_; }
  std::chrono::steady_clock::time_point started_at() const override { return started_at_; }
  const std::vector<std::string>& command() const { return command_; }
  std::string describe_launch() const override;

  std::string qemu_stderr() const override;
  bool running() override;
  const std::optional<ExitInfo>& exit_info() const override { return exit_; }
  // SIGTERM, then SIGKILL after `grace`; reaps QEMU, closes the RAM file.
  ExitInfo stop(std::chrono::milliseconds grace = std::chrono::seconds(3)) override;
  void keep_run_dir() override {
    if (run_dir_) run_dir_->keep();
  }

 private:
  explicit QemuGuest(LaunchOptions options);
  void start();
  bool reap(bool block);
  void watchdog();
  void signal_qemu(int signo);
  void wait_for_exit(std::chrono::milliseconds timeout) override;

  LaunchOptions options_;
  std::unique_ptr<RunDir> run_dir_;
  std::filesystem::path run_dir_path_;
  std::filesystem::path console_log_;
  std::filesystem::path agent_socket_;
  std::vector<std::string> command_;
  std::string final_stderr_;
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
