// A running guest, whatever started it: QEMU as a child process
// (qemu_guest.h) or a libvirt domain (harness/libvirt). The harness, the boot
// report and the scenarios see only this: the serial console as a file, the
// guest agent's socket, the run folder, and how and when the guest ended.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "vscsim/launcher/launch_options.h"

namespace vscsim::launcher {

class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the guest ended.
struct ExitInfo {
  bool exited = false;        // exit() with `code` (a libvirt domain that shut down: 0)
  int code = 0;
  int signal = 0;             // killed by this signal (a destroyed domain: SIGKILL)
  bool killed_at_deadline = false;
  std::string describe() const;
};

enum class WaitStatus {
  Found,           // the text appeared on the console
  GuestExited,     // the guest ended first
  TimedOut,        // the wait's own timeout passed
  StopRequested,   // Ctrl-C / SIGTERM (stop_signal.h)
};
std::string_view to_string(WaitStatus status);

struct WaitResult {
  WaitStatus status;
  std::size_t offset = 0;  // console offset just past the match, when Found
};

class Guest {
 public:
  virtual ~Guest() = default;
  Guest(const Guest&) = delete;
  Guest& operator=(const Guest&) = delete;

  // The QEMU process running the guest.
  virtual pid_t pid() const = 0;
  virtual const LaunchOptions& options() const = 0;
  virtual const std::filesystem::path& console_log() const = 0;
  virtual const std::filesystem::path& agent_socket() const = 0;
  // The run folder (sockets, logs). It is removed by stop() unless kept.
  virtual const std::filesystem::path& run_dir() const = 0;
  virtual std::chrono::steady_clock::time_point started_at() const = 0;
  // What was started, for a log: QEMU's argv, or the domain XML's path.
  virtual std::string describe_launch() const = 0;

  // Waits for `needle` on the console at or after byte `from`.
  WaitResult wait_for_console(std::string_view needle, std::chrono::milliseconds timeout,
                              std::size_t from = 0);
  // Console text captured so far.
  const std::string& console();
  // QEMU's own stderr (errors about its options, devices, ...).
  virtual std::string qemu_stderr() const = 0;

  virtual bool running() = 0;
  // How the guest ended, once it has (running() returned false or stop() ran).
  virtual const std::optional<ExitInfo>& exit_info() const = 0;
  // Ends the guest (gracefully for up to `grace`, then by force) and removes
  // the run folder unless keep_run_dir(). Idempotent.
  virtual ExitInfo stop(std::chrono::milliseconds grace = std::chrono::seconds(3)) = 0;
  // Keep the run folder (console log, QEMU stderr, ...) for a post-mortem.
  virtual void keep_run_dir() = 0;

 protected:
  Guest() = default;
  // Blocks up to `timeout` or until the guest ends, whichever is first.
  virtual void wait_for_exit(std::chrono::milliseconds timeout) = 0;
  // Reads what the console file gained since the last call.
  void read_console_file();

 private:
  std::string console_;
  std::size_t console_read_ = 0;
};

}  // namespace vscsim::launcher
