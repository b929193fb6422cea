// The agent's first process: it owns the host's port and the table of worker
// processes, and routes between them. One thread runs a poll loop over the
// port, each worker's socketpair and pidfd; it never runs an operation, so it
// never blocks on one. It answers Hello itself, forwards each Run to the
// named process (the worker queues it on the named thread), forwards the
// answers back, passes fds between processes, and carries out Shutdown.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "slots.h"

namespace vscsim::agent {

// Where the host is, and what an end of file from it means.
class HostPort {
 public:
  enum class OnEof {
    kEnd,        // serving ends (a connected stream: the unit tests)
    kHostAway,   // the host disconnected; it may come back on the same fd (virtio-serial)
    kReconnect,  // close and open() again (a listening socket)
  };
  virtual ~HostPort() = default;
  // The host's side, or an invalid fd if it is not there yet. Non-blocking.
  [[nodiscard]] virtual UniqueFd open() = 0;
  // An fd whose readability means open() will succeed (a listening socket), or -1.
  [[nodiscard]] virtual int open_ready_fd() const { return -1; }
  [[nodiscard]] virtual OnEof on_eof() const = 0;
  // What a read or write error means: the port is gone (reopen it later), or serving ends.
  [[nodiscard]] virtual bool error_ends_serving() const { return false; }
  [[nodiscard]] virtual std::string describe() const = 0;

  // A connected stream socket (a socketpair end in tests); its end of file ends serving.
  static std::unique_ptr<HostPort> stream(UniqueFd fd);
  // The virtio-serial port named `name` (/sys/class/virtio-ports/*/name),
  // opened as /dev/<port>; looked for again whenever it disappears.
  static std::unique_ptr<HostPort> virtio(std::string name, std::filesystem::path sysfs = "/sys/class/virtio-ports",
                                          std::filesystem::path dev = "/dev");
  // A character device or FIFO at `path`, with the virtio port's rules.
  static std::unique_ptr<HostPort> device(std::filesystem::path path);
  // A Unix socket the agent listens on, one host at a time (running it by hand).
  static std::unique_ptr<HostPort> listen(std::filesystem::path path);
};

struct RouterOptions {
  // Reap every child that ends (the agent binary is a child subreaper, so
  // orphans of killed workers come to it). Off in tests, which share the process.
  bool reap_all_children = false;
  // Where the agent's few log lines go; default: stderr, "vscsim-agent: " first.
  std::function<void(std::string_view)> log;
};

class Router {
 public:
  Router(std::unique_ptr<HostPort> port, RouterOptions options = {});
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Serves until the port ends or stop(); then kills every worker process.
  void serve();
  // Makes serve() return within a poll interval; callable from a signal handler.
  void stop() { stop_.store(true, std::memory_order_relaxed); }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

}  // namespace vscsim::agent
