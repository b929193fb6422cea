// The simulator's ivshmem-doorbell server (docs/transport.md, "Server
// protocol"). QEMU instances connect to its unix socket; each gets an id, the
// BAR2 memfd and eventfds. The simulator itself is a peer too (the host
// peer): guests ring it through eventfds this server creates, one set per
// guest, so a signal tells which guest rang.
//
// Threading: run()/run_once() must be called from one thread at a time (the
// loop thread); callbacks run there. signal_guest(), peers() and stop() may be
// called from any thread; stop() is also async-signal-safe.
//
// Set-up errors (bad path, socket in use, kernel refusal) throw
// std::system_error or std::invalid_argument from the constructor. A
// misbehaving peer never throws: it is disconnected and logged.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "vscsim/transport/layout.h"
#include "vscsim/transport/log.h"
#include "vscsim/transport/unique_fd.h"

namespace vscsim::transport {

using PeerId = std::uint16_t;

struct ServerOptions {
  std::filesystem::path socket_path;
  int shm_fd = -1;  // borrowed: the BAR2 memfd sent to every peer
  std::uint16_t vectors = layout::kVectorCount;
  PeerId host_peer_id = 0;
  std::size_t max_guests = 1;  // further connections are closed at once
  unsigned socket_mode = 0;    // chmod the socket to this if non-zero (e.g. 0666 for libvirt)
  LogSink log;                 // may be empty
};

struct ServerCallbacks {
  std::function<void(PeerId)> peer_connected;     // after the full handshake was sent
  std::function<void(PeerId)> peer_disconnected;  // after the peer's fds are closed
  std::function<void(PeerId, std::uint16_t vector)> guest_signal;  // guest rang the host
};

class IvshmemServer {
 public:
  // Binds and listens on options.socket_path. A stale socket file (nobody
  // listening) is replaced; a live one or a non-socket file is an error.
  IvshmemServer(ServerOptions options, ServerCallbacks callbacks);
  IvshmemServer(const IvshmemServer&) = delete;
  IvshmemServer& operator=(const IvshmemServer&) = delete;
  // Calls shutdown().
  ~IvshmemServer();

  // Waits up to `timeout` for events and handles all that are ready.
  void run_once(std::chrono::milliseconds timeout);
  // The server's epoll set: readable when run_once() has events to handle.
  // A loop that also serves fds of its own (the daemon's HTTP server) waits
  // on this and its fds together, then calls run_once(0). Loop thread only.
  [[nodiscard]] int wait_fd() const { return epoll_.get(); }
  // Handles events until stop() is called.
  void run();
  // Makes run() return soon. Thread-safe and async-signal-safe.
  void stop() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept { return stop_requested_.load(); }

  // Tells every guest the host peer left (QEMU then drops the host's eventfds
  // and ignores doorbells to it), closes every connection and the listening
  // socket, and removes the socket file. Idempotent. Loop thread only.
  void shutdown();

  // Writes the guest's eventfd for `vector`; QEMU raises MSI-X vector
  // `vector` in that guest. False if no such guest or vector.
  bool signal_guest(PeerId guest, std::uint16_t vector);

  [[nodiscard]] std::vector<PeerId> peers() const;
  // The process at the other end of a peer's socket (SO_PEERCRED at accept),
  // i.e. QEMU; nullopt if no such peer. Thread-safe.
  [[nodiscard]] std::optional<pid_t> peer_pid(PeerId id) const;
  [[nodiscard]] PeerId host_peer_id() const { return options_.host_peer_id; }
  [[nodiscard]] const std::filesystem::path& socket_path() const { return options_.socket_path; }

 private:
  struct Peer {
    PeerId id = 0;
    pid_t pid = 0;  // 0: the kernel did not say
    UniqueFd socket;
    std::vector<UniqueFd> guest_rx;  // the guest is interrupted through these
    std::vector<UniqueFd> host_rx;   // the host is interrupted through these, by this guest
  };

  void log(LogLevel level, std::string_view message) const;
  void accept_peer();
  bool allocate_id(PeerId& id) const;
  bool send_handshake(const Peer& peer);
  void drop_peer(PeerId id, std::string_view why);
  void on_peer_socket(PeerId id);
  void on_host_rx(PeerId id, std::uint16_t vector);
  void watch(int fd, std::uint64_t tag);
  void unwatch(int fd);

  ServerOptions options_;
  ServerCallbacks callbacks_;
  UniqueFd epoll_;
  UniqueFd listener_;
  UniqueFd stop_event_;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  std::atomic<bool> stop_requested_{false};
  PeerId next_id_ = 0;
  bool shut_down_ = false;

  mutable std::mutex mutex_;  // guards peers_ against signal_guest()/peers()
  std::map<PeerId, Peer> peers_;
};

}  // namespace vscsim::transport
