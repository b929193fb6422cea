// vsp-sim as a child process, and its control socket spoken in protobuf
// (proto/vscsim/control.proto). What vsc-harness and the VM tests use to run
// the simulator beside a guest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vscsim/base/result.h"
#include "vscsim/control.pb.h"

namespace vscsim::simctl {

// A connection to a running simulator's control socket, switched to protobuf
// frames ("proto 1"). Not thread-safe: one caller at a time.
class SimControl {
 public:
  // Connects and switches to frames; fails saying why (no socket, refused,
  // the simulator does not speak protobuf).
  static Result<SimControl, std::string> connect(const std::filesystem::path& control_socket,
                                                 std::chrono::milliseconds timeout);
  SimControl(SimControl&&) noexcept;
  SimControl& operator=(SimControl&&) noexcept;
  ~SimControl();

  // Sends `request` (its id is set here) and returns the answer. An error is
  // a transport failure (closed, timed out, garbled frame); a command the
  // simulator refused is a Response with ok=false.
  Result<control::Response, std::string> call(control::Request request, std::chrono::milliseconds timeout);
  // call() that also turns ok=false into an error "<command>: <why>".
  Result<control::Response, std::string> must(control::Request request, std::chrono::milliseconds timeout);

 private:
  explicit SimControl(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::uint64_t next_id_ = 1;
};

// One text command on a simulator's control socket (`state`, `rescind 1`,
// `fault drop 1 count=1`, ...; vsp_sim/daemon/README.md) and its one-line
// answer, which starts with "ok" or "error". An error here is a transport
// failure (no socket, refused, no answer within `timeout`).
Result<std::string, std::string> ask_text(const std::filesystem::path& control_socket, const std::string& line,
                                          std::chrono::milliseconds timeout);

// vsp-sim as a child: dies with its parent (PR_SET_PDEATHSIG), is stopped by
// pid (SIGTERM, then SIGKILL), logs into `run_dir`/vsp-sim.log, and has its
// sockets in run_dir (vsp-sim.sock for QEMU's ivshmem chardev, vsp-sim.ctl
// for control).
class SimProcess {
 public:
  // Starts `binary` with --socket, --guest-ram (--guest-ram-from-peer when
  // ram_path is empty), --control and then `args` (e.g. {"--device",
  // "blob"}); waits until both sockets answer (10 s).
  // Throws std::runtime_error with the simulator's log if it does not start.
  SimProcess(const std::filesystem::path& binary, const std::filesystem::path& run_dir,
             const std::filesystem::path& ram_path, const std::vector<std::string>& args);
  ~SimProcess() { stop(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // One text control command, one answer line ("" if the socket is gone).
  [[nodiscard]] std::string ask(const std::string& line) const;
  // A protobuf connection to this simulator.
  [[nodiscard]] Result<SimControl, std::string> control(std::chrono::milliseconds timeout) const;
  // Asks `state` until it contains every word in `needles` (or times out).
  bool wait_state(const std::vector<std::string>& needles, std::chrono::milliseconds timeout,
                  std::string* last = nullptr) const;
  bool exited();
  // SIGTERM (clean shutdown), SIGKILL after 5 s; returns the wait status
  // (the one already collected if it has exited).
  int stop();
  // SIGKILL at once (a crash), reaped; returns the wait status.
  int kill_now();
  [[nodiscard]] std::string log() const;
  [[nodiscard]] const std::filesystem::path& socket() const { return socket_; }
  [[nodiscard]] const std::filesystem::path& control_socket() const { return control_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The MSI-X vectors of the ivshmem-doorbell device QEMU connects to
  // socket() with (docs/transport.md: control and channel events).
  static constexpr unsigned kIvshmemVectors = 2;

 private:
  std::filesystem::path socket_, control_, log_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

}  // namespace vscsim::simctl
